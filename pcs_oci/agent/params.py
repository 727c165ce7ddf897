"""The parsing of the parameters ocf:oci:IPaddr2 adds to heartbeat IPaddr2's.

The parameters themselves (names, defaults, descriptions) are the contract
in pcs_oci.common.agent_params; the OCI connection ones become an
OciSettings. Every heartbeat IPaddr2 parameter is accepted as well and
passed through untouched (IPaddr2 reads them from the same OCF_RESKEY_*
environment).
"""

import ipaddress
import re
from typing import Dict, Mapping, NamedTuple

from pcs_oci.agent import ocf
from pcs_oci.common.agent_params import OCI_PARAMETERS
from pcs_oci.lib.errors import ConfigError
from pcs_oci.lib.oci.settings import OciSettings

VNIC_OCID = re.compile(r"^ocid1\.vnic\.[a-z0-9-]+\.[a-z0-9-]*\.[A-Za-z0-9._-]+$")
NODE_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]{0,252})$")


class AgentError(Exception):
    """A failed action: the OCF return code and the exit reason to show."""

    def __init__(self, rc: int, reason: str):
        super().__init__(reason)
        self.rc = rc
        self.reason = reason


class AgentParams(NamedTuple):
    ip: str
    vnic_ids: Dict[str, str]
    # How to reach OCI: auth, config file, region, endpoint, proxy, timeout.
    oci: OciSettings
    monitor_api: bool
    monitor_api_interval: int


def parse_vnic_ids(text: str) -> Dict[str, str]:
    """'node1=ocid1.vnic...,node2=ocid1.vnic...' -> {node: vnic}."""
    result: Dict[str, str] = {}
    for entry in re.split(r"[,\s]+", text.strip()):
        if not entry:
            continue
        node, sep, vnic = entry.partition("=")
        if not sep or not NODE_NAME.match(node) or not VNIC_OCID.match(vnic):
            raise AgentError(
                ocf.OCF_ERR_CONFIGURED,
                "vnic_ids: {!r} is not node=VNIC-OCID (expected e.g. "
                "node1=ocid1.vnic.oc1.iad.aaa,node2=ocid1.vnic.oc1.iad.bbb)".format(entry[:80]),
            )
        if node in result:
            raise AgentError(
                ocf.OCF_ERR_CONFIGURED, "vnic_ids: node {!r} appears twice".format(node)
            )
        result[node] = vnic
    return result


def _positive_int(values: Mapping[str, str], name: str, default: str) -> int:
    raw = (values.get(name) or default).strip()
    if not raw.isdigit() or int(raw) < 1:
        raise AgentError(
            ocf.OCF_ERR_CONFIGURED,
            "{}: {!r} is not a positive number of seconds".format(name, raw[:40]),
        )
    return int(raw)


def parse(values: Mapping[str, str]) -> AgentParams:
    """Check and convert the parameters; a mistake is OCF_ERR_CONFIGURED."""
    ip = (values.get("ip") or "").strip()
    if not ip:
        raise AgentError(ocf.OCF_ERR_CONFIGURED, "ip: required parameter not set")
    try:
        ipaddress.ip_address(ip)
    except ValueError:
        raise AgentError(
            ocf.OCF_ERR_CONFIGURED, "ip: {!r} is not an IPv4 or IPv6 address".format(ip[:60])
        ) from None
    try:
        oci = OciSettings.from_params(values)
    except ConfigError as e:
        raise AgentError(ocf.OCF_ERR_CONFIGURED, e.reports[0].message) from None
    defaults = {p.name: p.default for p in OCI_PARAMETERS}
    monitor_api = values.get("monitor_api") or defaults["monitor_api"]
    if not ocf.is_bool(monitor_api):
        raise AgentError(
            ocf.OCF_ERR_CONFIGURED,
            "monitor_api: {!r} is not true or false (write true or false: like "
            "resource-agents' ocf_is_true, the agent takes only its spellings, "
            "case included)".format(monitor_api[:20]),
        )
    return AgentParams(
        ip=ip,
        vnic_ids=parse_vnic_ids(values.get("vnic_ids") or ""),
        oci=oci,
        monitor_api=ocf.is_true(monitor_api),
        monitor_api_interval=_positive_int(
            values, "monitor_api_interval", defaults["monitor_api_interval"]
        ),
    )
