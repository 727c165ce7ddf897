"""What this node has learnt about its VIP, kept in the resource's state file.

Nothing here changes between actions on a node unless someone reconfigures
OCI: this node's VNIC for the VIP's subnet (vnic_id), that subnet
(subnet_id), the VIP's private IP (private_ip_id, which keeps its OCID when
it moves) and the Core API endpoint an SDK call resolved (endpoint, for the
settings in endpoint_for). Recorded by start, by a due monitor_api check
and by the warm-up after a probe (warm.py); read by start, so that the
write (UpdatePrivateIp) is its second Core API call. What is read is never
trusted blindly: vip.assign_vip checks it against OCI's answer and falls
back to the full lookup when it is stale.

The peers' VNICs are not kept: vnic_ids in the CIB names them, and nothing
on the start path needs the ones that it does not name.
"""

import re
from typing import Any, Dict, Mapping, Optional

from pcs_oci.lib.oci.settings import OciSettings
from pcs_oci.lib.vip import KnownVip

_OCID = re.compile(r"^ocid1\.[a-z0-9]+\.[a-z0-9-]+\.[a-z0-9-]*\.[A-Za-z0-9._-]+$")
# The keys of the node cache in the state file (the rest is monitor_api's).
KEYS = ("ip", "vnic_id", "subnet_id", "private_ip_id", "endpoint", "endpoint_for")


def _ocid(value: Any, kind: str) -> Optional[str]:
    if isinstance(value, str) and _OCID.match(value) and value.split(".")[1] == kind:
        return value
    return None


def known_vip(saved: Mapping[str, Any], ip: str, vnic_id: str) -> Optional[KnownVip]:
    """The VIP's private IP and subnet as this node last saw them for ip on vnic_id."""
    if saved.get("ip") != ip or saved.get("vnic_id") != vnic_id:
        return None
    private_ip_id = known_private_ip(saved, ip)
    subnet_id = _ocid(saved.get("subnet_id"), "subnet")
    if private_ip_id is None or subnet_id is None:
        return None
    return KnownVip(private_ip_id, subnet_id)


def known_private_ip(saved: Mapping[str, Any], ip: str) -> Optional[str]:
    """The VIP's private IP (or IPv6) OCID as found before, whatever else is known."""
    if saved.get("ip") != ip:
        return None
    value = saved.get("private_ip_id")
    return _ocid(value, "privateip") or _ocid(value, "ipv6")


def known_vnic(saved: Mapping[str, Any], ip: str) -> Optional[str]:
    """This node's VNIC for ip as found before (instead of asking the metadata service)."""
    if saved.get("ip") != ip:
        return None
    return _ocid(saved.get("vnic_id"), "vnic")


def _endpoint_key(settings: OciSettings) -> str:
    # The resolved endpoint depends on the region (given or the instance's).
    return "region={}".format(settings.region or "")


def endpoint_hint(saved: Mapping[str, Any], settings: OciSettings) -> Optional[str]:
    """The endpoint an SDK call resolved for these settings on this node."""
    endpoint = saved.get("endpoint")
    if not isinstance(endpoint, str) or saved.get("endpoint_for") != _endpoint_key(settings):
        return None
    return endpoint if re.match(r"^https?://[A-Za-z0-9.:\[\]-]+$", endpoint) else None


def learnt(
    ip: str,
    vnic_id: str,
    subnet_id: Optional[str],
    private_ip_id: Optional[str],
    api: Any,
    settings: OciSettings,
) -> Dict[str, Any]:
    """The node cache's fields after an action that saw the VIP in OCI."""
    data: Dict[str, Any] = {"ip": ip, "vnic_id": vnic_id}
    if subnet_id and private_ip_id:
        data.update(subnet_id=subnet_id, private_ip_id=private_ip_id)
    endpoint = getattr(api, "resolved_endpoint", None)
    if isinstance(endpoint, str) and not settings.endpoint:
        data.update(endpoint=endpoint, endpoint_for=_endpoint_key(settings))
    return data


def kept(saved: Mapping[str, Any]) -> Dict[str, Any]:
    """Only the node cache of a state file (what a stop keeps)."""
    return {k: saved[k] for k in KEYS if k in saved}
