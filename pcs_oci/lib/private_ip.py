"""What OCI says about one private IP (or IPv6): who holds it, and whether
it is on no VNIC on purpose, on its way somewhere, or on its way out.

Read from a GetPrivateIp/ListPrivateIps (GetIpv6/ListIpv6s) answer as the
OCI layer returns it (snake_case dict), on every SDK version from the floor.
"""

from typing import Any, Dict, NamedTuple, Optional

# Ipv6 lifecycleState, the SDK model's values. No recording shows them, so
# this is our assumption: PROVISIONING is an address being set up on its
# VNIC, not usable yet (start waits for AVAILABLE within its budget);
# TERMINATING one being deleted (start waits until it is gone, then creates
# the address anew); TERMINATED one deleted, which a list may still show:
# it is taken as absent. The same as the fakes do (tests/fakes/fidelity.py).
IPV6_PROVISIONING = "PROVISIONING"
IPV6_TERMINATING = "TERMINATING"
IPV6_TERMINATED = "TERMINATED"
IPV6_GONE = (IPV6_TERMINATING, IPV6_TERMINATED)


class PrivateIpInfo(NamedTuple):
    id: str
    vnic_id: Optional[str]
    is_primary: bool
    # OCI says it is on no VNIC on purpose: ipState AVAILABLE (a reserved IP
    # set aside). Only SDKs from 2.146.0 carry ipState.
    unassigned: bool = False
    # An Ipv6's lifecycleState ("" for a private IP, which has none).
    state: str = ""

    @property
    def gone(self) -> bool:
        """An Ipv6 being deleted or deleted: on no VNIC for good."""
        return self.state in IPV6_GONE

    @property
    def terminating(self) -> bool:
        return self.state == IPV6_TERMINATING

    @property
    def provisioning(self) -> bool:
        return self.state == IPV6_PROVISIONING

    @property
    def holder(self) -> Optional[str]:
        """The VNIC OCI assigns it to: none for an Ipv6 being deleted, whatever
        its vnicId still says."""
        return None if self.gone else self.vnic_id

    @property
    def moving(self) -> bool:
        """On no VNIC without OCI saying so: a move in flight, not an address
        on no VNIC (recorded UpdatePrivateIp answers, and GETs until the move
        lands, carry no vnicId; docs/oci-behaviour.md). On an SDK without
        ipState an unassigned reserved IP looks the same, and is taken for a
        move too: never for one nobody holds."""
        return self.vnic_id is None and not self.unassigned and not self.gone


def unassigned(entry: Dict[str, Any]) -> bool:
    """OCI says the address is on no VNIC on purpose (a reserved IP set aside)."""
    return entry.get("ip_state") == "AVAILABLE"


def info_of(entry: Dict[str, Any]) -> PrivateIpInfo:
    """A PrivateIp's or Ipv6's answer (OciApi's dict) as a PrivateIpInfo."""
    return PrivateIpInfo(
        id=str(entry.get("id") or ""),
        vnic_id=entry.get("vnic_id") or None,
        is_primary=bool(entry.get("is_primary")),
        unassigned=unassigned(entry),
        state=str(entry.get("lifecycle_state") or ""),
    )
