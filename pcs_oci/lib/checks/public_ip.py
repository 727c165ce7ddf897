"""verify's check of public IPs: a reserved public IP reaches the VIP only bound to its private IP.

OCI binds a public IP to a private IP's OCID. The VIP's private IP keeps its
OCID when it moves between VNICs, so a public IP bound to it follows the VIP
from node to node. One bound to a node's primary private IP stays with that
node: after a failover it points at a node that no longer has the VIP.
"""

from typing import Any, Dict, List, NamedTuple, Optional, Tuple

from pcs_oci.common import reports
from pcs_oci.common.checks import PASS, PUBLIC_IP, WARN, row, skip
from pcs_oci.lib.checks import Rows, error_text
from pcs_oci.lib.checks.node import NO_CONFIG
from pcs_oci.lib.config import Config
from pcs_oci.lib.errors import PcsOciError
from pcs_oci.lib.oci.api import IPV4
from pcs_oci.lib.private_ip import PrivateIpInfo

RESERVED = "RESERVED"


class BoundPublicIp(NamedTuple):
    # The private IP's address: a VIP's, or a node's primary.
    private_ip: str
    private_ip_id: str
    public_ip: str
    lifetime: str
    # The node whose VNIC has the private IP now ("" when no configured node's).
    node: str


class PublicIpFacts(NamedTuple):
    # The public IP bound to each VIP's private IP.
    vips: List[BoundPublicIp] = []
    # Reserved public IPs bound to a configured node's primary private IP.
    primaries: List[BoundPublicIp] = []
    # The VIPs' private IPs (address -> OCID), for the fix.
    vip_ids: Dict[str, str] = {}
    # Why they could not be read ("" when they were).
    error: str = ""
    # OCI refused (403, 404 or 400 RelatedResourceNotAuthorizedOrNotFound).
    refused: bool = False


def read_public_ips(
    api: Any,
    config: Config,
    vips: List[Tuple[str, Optional[PrivateIpInfo]]],
    owners: Dict[str, str],
) -> PublicIpFacts:
    """The public IPs of the VIPs' private IPs and of the nodes' primary
    private IPs; owners: VNIC OCID -> node, to say where each VIP is now."""
    # Fresh lists: the NamedTuple's defaults are shared.
    found = PublicIpFacts([], [], {ip: info.id for ip, info in vips if info is not None})
    try:
        with api.budget():
            for ip, info in vips:
                if info is None or info.is_primary or ":" in ip:
                    continue  # public IPs are IPv4 only
                public = api.public_ip_of(info.id)
                if public:
                    found.vips.append(
                        _bound(ip, info.id, public, owners.get(info.vnic_id or "", ""))
                    )
            for node in config.nodes:
                if not node.vnic_id:
                    continue
                for private in api.list_ips(IPV4, vnic_id=node.vnic_id):
                    if not private.get("is_primary"):
                        continue
                    public = api.public_ip_of(str(private["id"]))
                    if public and public.get("lifetime") == RESERVED:
                        found.primaries.append(
                            _bound(
                                str(private.get("ip_address")),
                                str(private["id"]),
                                public,
                                node.hostname,
                            )
                        )
    except PcsOciError as e:
        return PublicIpFacts(error=error_text(e, 1), refused=reports.OCI_NOT_AUTHORIZED in e.codes)
    return found


def _bound(ip: str, ip_id: str, public: Dict[str, Any], node: str) -> BoundPublicIp:
    return BoundPublicIp(
        ip, ip_id, str(public.get("ip_address")), str(public.get("lifetime") or "?"), node
    )


def check_public_ip(config: Optional[Config], facts: Optional[PublicIpFacts], why: str) -> Rows:
    """`why`: why the VIPs' private IPs are unknown (then facts is None)."""
    if config is None:
        return [skip(PUBLIC_IP, NO_CONFIG)]
    if facts is None:
        return [skip(PUBLIC_IP, why or "not read")]
    if facts.error:
        return [
            row(
                PUBLIC_IP,
                WARN,
                "cannot read the public IPs: " + facts.error,
                "allow the dynamic group to `read public-ips` in the compartment so verify "
                "can check them"
                + (
                    ", and to use the VIPs' private IPs (`pcs-oci policy` prints every statement)"
                    if facts.refused
                    else ""
                ),
            )
        ]
    bound = [
        "{} has public IP {} ({}), bound to its private IP: it follows the VIP (now on {})".format(
            b.private_ip, b.public_ip, b.lifetime.lower(), b.node or "an unknown VNIC"
        )
        for b in facts.vips
    ]
    if facts.primaries:
        target = (
            " ({})".format(next(iter(facts.vip_ids.values()))) if len(facts.vip_ids) == 1 else ""
        )
        return [
            row(
                PUBLIC_IP,
                WARN,
                "; ".join(
                    "reserved public IP {} is bound to {}'s primary private IP {}: it stays "
                    "with {} when the VIP moves".format(b.public_ip, b.node, b.private_ip, b.node)
                    for b in facts.primaries
                )
                + "".join("; " + text for text in bound),
                "reserved public IPs must be bound to the VIP's private IP{} to follow it: "
                "console: Networking > Reserved public IPs > the IP > Edit, or `oci network "
                "public-ip update --public-ip-id ID --private-ip-id PRIVATE_IP_OCID`; only if "
                "it should reach the node itself, leave it".format(target),
            )
        ]
    if bound:
        return [row(PUBLIC_IP, PASS, "; ".join(bound))]
    return [
        row(
            PUBLIC_IP,
            PASS,
            "no public IP bound to the VIPs, no reserved one to the nodes' primary IPs "
            "(as far as `read public-ips` lets verify see)",
        )
    ]
