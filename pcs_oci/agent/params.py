"""The OCI parameters ocf:oci:IPaddr2 adds to heartbeat IPaddr2's, and their parsing.

Every heartbeat IPaddr2 parameter is accepted as well and passed through
untouched (IPaddr2 reads them from the same OCF_RESKEY_* environment).
"""

import ipaddress
import re
from typing import Dict, Mapping, NamedTuple, Optional

from pcs_oci import settings
from pcs_oci.agent import ocf

VNIC_OCID = re.compile(r"^ocid1\.vnic\.[a-z0-9-]+\.[a-z0-9-]*\.[A-Za-z0-9._-]+$")
NODE_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]{0,252})$")


class ParamSpec(NamedTuple):
    name: str
    shortdesc: str
    longdesc: str
    content_type: str = "string"
    default: str = ""


OCI_PARAMETERS = [
    ParamSpec(
        "vnic_ids",
        "VNIC OCID of each node",
        "Comma-separated node=VNIC-OCID pairs, e.g. "
        "node1=ocid1.vnic.oc1.iad.aaa,node2=ocid1.vnic.oc1.iad.bbb, naming node by its "
        "Pacemaker node name. On start the VIP's secondary private IP is moved to this "
        "node's VNIC. A node absent from the list finds its VNIC in the instance metadata "
        "service (the VNIC whose subnet contains the VIP).",
    ),
    ParamSpec(
        "auth",
        "OCI authentication",
        "How the agent signs OCI API requests: instance_principal (the instance's own "
        "identity; the instances must be in a dynamic group allowed to use private-ips and "
        "vnics in the compartment) or api_key (a user's API key from oci_config_file).",
        default="instance_principal",
    ),
    ParamSpec(
        "oci_config_file",
        "OCI config file (api_key auth)",
        "Path of the OCI SDK/CLI config file that holds the API key settings, used with "
        "auth=api_key. The file and the key it names must exist on every node. Only the path "
        "is stored in the CIB, never key material.",
        default="/root/.oci/config",
    ),
    ParamSpec(
        "oci_profile",
        "Profile in the OCI config file",
        "Section of oci_config_file to use with auth=api_key.",
        default="DEFAULT",
    ),
    ParamSpec(
        "region",
        "OCI region",
        "Region identifier such as us-ashburn-1. Empty: the instance's own region.",
    ),
    ParamSpec(
        "endpoint",
        "Core API endpoint",
        "Override of the OCI Core (networking) API service endpoint, scheme://host[:port] "
        "without the /20160918 path, for private endpoints or other realms. Empty: the "
        "region's public endpoint.",
    ),
    ParamSpec(
        "proxy",
        "HTTP(S) proxy for the OCI API",
        "Proxy URL for OCI API calls, e.g. http://proxy.example.com:3128. The instance "
        "metadata service is never reached through it.",
    ),
    ParamSpec(
        "api_timeout",
        "Seconds per OCI API call",
        "Timeout of each OCI API request. Retries of throttled (429), failed (5xx) or "
        "timed-out requests happen within the start operation's timeout.",
        content_type="integer",
        default=str(settings.DEFAULT_API_TIMEOUT),
    ),
    ParamSpec(
        "monitor_api",
        "Also check the VIP's assignment in OCI",
        "If true, the recurring monitor also checks, at most every monitor_api_interval, "
        "that OCI assigns the VIP to this node's VNIC, and reports the resource not running "
        "when OCI definitely has it elsewhere (someone moved it), so Pacemaker recovers it. "
        "A transient API, authentication or metadata error only logs one warning: it never "
        "fails the resource.",
        content_type="boolean",
        default="false",
    ),
    ParamSpec(
        "monitor_api_interval",
        "Minimum seconds between OCI checks",
        "With monitor_api=true, the OCI assignment is checked at most this often; monitors "
        "in between use the last answer, cached in a root-only state file.",
        content_type="integer",
        default="60",
    ),
]
OCI_PARAMETER_NAMES = [p.name for p in OCI_PARAMETERS]


class AgentError(Exception):
    """A failed action: the OCF return code and the exit reason to show."""

    def __init__(self, rc: int, reason: str):
        super().__init__(reason)
        self.rc = rc
        self.reason = reason


class OciParams(NamedTuple):
    ip: str
    vnic_ids: Dict[str, str]
    auth: str
    oci_config_file: str
    oci_profile: str
    region: Optional[str]
    endpoint: Optional[str]
    proxy: Optional[str]
    api_timeout: int
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


def parse(values: Mapping[str, str]) -> OciParams:
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
    defaults = {p.name: p.default for p in OCI_PARAMETERS}
    auth = (values.get("auth") or defaults["auth"]).strip()
    if auth not in ("instance_principal", "api_key"):
        raise AgentError(
            ocf.OCF_ERR_CONFIGURED,
            "auth: {!r} is not instance_principal or api_key".format(auth[:40]),
        )
    monitor_api = values.get("monitor_api") or defaults["monitor_api"]
    if not ocf.is_bool(monitor_api):
        raise AgentError(
            ocf.OCF_ERR_CONFIGURED,
            "monitor_api: {!r} is not true or false (write true or false: like "
            "resource-agents' ocf_is_true, the agent takes only its spellings, "
            "case included)".format(monitor_api[:20]),
        )
    return OciParams(
        ip=ip,
        vnic_ids=parse_vnic_ids(values.get("vnic_ids") or ""),
        auth=auth,
        oci_config_file=values.get("oci_config_file") or defaults["oci_config_file"],
        oci_profile=values.get("oci_profile") or defaults["oci_profile"],
        region=values.get("region") or None,
        endpoint=values.get("endpoint") or None,
        proxy=values.get("proxy") or None,
        api_timeout=_positive_int(values, "api_timeout", defaults["api_timeout"]),
        monitor_api=ocf.is_true(monitor_api),
        monitor_api_interval=_positive_int(
            values, "monitor_api_interval", defaults["monitor_api_interval"]
        ),
    )
