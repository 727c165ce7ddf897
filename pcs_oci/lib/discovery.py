"""What `pcs-oci discover` finds: which VNIC would hold each VIP, here and on the other nodes.

place_vips() needs only the IMDS facts of this node. resolve_other_nodes()
asks the OCI API (read-only calls) for the other nodes' instances and their
VNICs in each VIP's subnet. Both return data; the CLI renders it.
"""

from typing import Any, Dict, List, NamedTuple, Optional, Sequence, Set, Union

from pcs_oci.common import exit_codes, reports
from pcs_oci.common.reports import ReportItem
from pcs_oci.lib.errors import PcsOciError
from pcs_oci.lib.imds import (
    IPAddress,
    NodeFacts,
    VnicFacts,
    parse_ip,
    vnic_for_ip,
    vnics_for_ip,
)

# Instances in these states cannot hold a VIP and are not candidates.
_GONE_STATES = ("TERMINATING", "TERMINATED")
_ATTACHED_STATES = ("ATTACHED", "ATTACHING")


class VipPlacement(NamedTuple):
    address: IPAddress
    # The local VNIC that would hold the VIP; None when there is a problem.
    vnic: Optional[VnicFacts]
    # Every local VNIC in the VIP's subnet; with several, `vnic` is the first.
    candidates: List[str]
    problem: Optional[ReportItem]

    @property
    def ip(self) -> str:
        return str(self.address)


def place_vips(facts: NodeFacts, vips: Sequence[Union[str, IPAddress]]) -> List[VipPlacement]:
    """For each VIP, the local VNIC that would hold it, or the problem (all VIPs reported)."""
    placements = []
    for vip in vips:
        address = parse_ip(vip)
        try:
            vnic = vnic_for_ip(facts, address)
        except PcsOciError as e:
            placements.append(VipPlacement(address, None, [], e.reports[0]))
            continue
        candidates = [v.vnic_id for v in vnics_for_ip(facts, address)]
        placements.append(VipPlacement(address, vnic, candidates, None))
    return placements


class VipVnic(NamedTuple):
    ip: str
    vnic_id: str
    subnet_id: str
    private_ip: str


class RemoteNode(NamedTuple):
    hostname: str
    instance_id: str
    display_name: str
    # One entry per VIP, in the order of the VIPs asked for.
    vnics: List[VipVnic]

    @property
    def vnic_id(self) -> Optional[str]:
        """The node's VNIC when all VIPs use the same one (the common case)."""
        ids = {v.vnic_id for v in self.vnics}
        return ids.pop() if len(ids) == 1 else None


def _short(name: str) -> str:
    return name.split(".", 1)[0].lower()


def resolve_other_nodes(
    api: Any, facts: NodeFacts, hostnames: Sequence[str], vips: Sequence[Union[str, IPAddress]]
) -> List[RemoteNode]:
    """Find each hostname's instance in this node's compartment and its VNIC per VIP.

    An instance matches when its display name or its VNIC hostname label
    (in a VIP subnet) equals the hostname or its first label, case-insensitively.
    Raises one PcsOciError listing every node not found or ambiguous.
    """
    vnic_cache: Dict[str, Dict[str, Any]] = {}

    def vnic(vnic_id: str) -> Dict[str, Any]:
        if vnic_id not in vnic_cache:
            vnic_cache[vnic_id] = api.get_vnic(vnic_id)
        return vnic_cache[vnic_id]

    # The VIP subnets, from this node's VNICs: every node must have a VNIC in
    # the VIP's subnet, since a private IP moves only within its subnet.
    addresses = [parse_ip(vip) for vip in vips]
    vip_subnets: List[str] = []
    for address in addresses:
        local = vnic_for_ip(facts, address)
        vip_subnets.append(str(vnic(local.vnic_id)["subnet_id"]))
    wanted_subnets: Set[str] = set(vip_subnets)

    instances = {
        i["id"]: i
        for i in api.list_instances(facts.compartment_id)
        if i.get("lifecycle_state") not in _GONE_STATES
    }
    attachments = [
        a
        for a in api.list_vnic_attachments(facts.compartment_id)
        if a.get("subnet_id") in wanted_subnets
        and a.get("instance_id") in instances
        and a.get("lifecycle_state", "ATTACHED") in _ATTACHED_STATES
    ]

    problems: List[ReportItem] = []
    nodes: List[RemoteNode] = []
    for hostname in hostnames:
        matches = _matching_instances(hostname, instances, attachments, vnic)
        if not matches:
            problems.append(
                reports.item(
                    reports.NODE_NOT_FOUND,
                    "no instance in compartment {} has display name or hostname {!r}".format(
                        facts.compartment_id, hostname
                    ),
                    "the node must be an instance in this node's compartment with a VNIC"
                    " in the VIP subnet; or give its vnic_id in the config",
                    hostname,
                )
            )
            continue
        if len(matches) > 1:
            problems.append(
                reports.item(
                    reports.NODE_AMBIGUOUS,
                    "{} instances match {!r}: {}".format(
                        len(matches),
                        hostname,
                        ", ".join(
                            "{} ({})".format(instances[m].get("display_name"), m) for m in matches
                        ),
                    ),
                    "give the node's vnic_id in the config",
                    hostname,
                )
            )
            continue
        instance = instances[matches[0]]
        vip_vnics: List[VipVnic] = []
        for address, subnet_id in zip(addresses, vip_subnets):
            chosen = _vnic_in_subnet(hostname, instance, subnet_id, attachments, vnic, problems)
            if chosen is not None:
                vip_vnics.append(
                    VipVnic(
                        str(address),
                        str(chosen["id"]),
                        subnet_id,
                        str(chosen.get("private_ip") or ""),
                    )
                )
        if len(vip_vnics) == len(addresses):
            nodes.append(
                RemoteNode(
                    hostname,
                    str(instance["id"]),
                    str(instance.get("display_name") or ""),
                    vip_vnics,
                )
            )
    if problems:
        raise PcsOciError(*problems, exit_code=exit_codes.PRECONDITION)
    return nodes


def _matching_instances(
    hostname: str,
    instances: Dict[str, Dict[str, Any]],
    attachments: List[Dict[str, Any]],
    vnic: Any,
) -> List[str]:
    names = {hostname.lower(), _short(hostname)}
    found = [
        i for i, inst in instances.items() if str(inst.get("display_name", "")).lower() in names
    ]
    for a in attachments:
        if a["instance_id"] in found:
            continue
        label = vnic(a["vnic_id"]).get("hostname_label")
        if label and str(label).lower() in names:
            found.append(a["instance_id"])
    return sorted(set(found))


def _vnic_in_subnet(
    hostname: str,
    instance: Dict[str, Any],
    subnet_id: str,
    attachments: List[Dict[str, Any]],
    vnic: Any,
    problems: List[ReportItem],
) -> Optional[Dict[str, Any]]:
    ids = sorted(
        {
            str(a["vnic_id"])
            for a in attachments
            if a["instance_id"] == instance["id"] and a["subnet_id"] == subnet_id
        }
    )
    if not ids:
        problems.append(
            reports.item(
                reports.VNIC_NOT_FOUND,
                "instance {} ({}) has no VNIC in subnet {}".format(
                    instance.get("display_name"), instance["id"], subnet_id
                ),
                "attach a VNIC in the VIP's subnet to that instance",
                hostname,
            )
        )
        return None
    details = [vnic(i) for i in ids]
    if len(details) > 1:
        primary = [d for d in details if d.get("is_primary")]
        if len(primary) == 1:
            return primary[0]
        problems.append(
            reports.item(
                reports.VNIC_AMBIGUOUS,
                "instance {} has {} VNICs in subnet {}: {}".format(
                    instance.get("display_name"), len(ids), subnet_id, ", ".join(ids)
                ),
                "give the node's vnic_id in the config",
                hostname,
            )
        )
        return None
    return details[0]
