"""`pcs-oci status`: each VIP as Pacemaker, this node's OS and OCI see it.

The three must agree: Pacemaker runs the resource on node N, N has the
address (checked on this node only: the OS view of other nodes is
Pacemaker's monitor), and OCI assigns the private IP to N's VNIC.
"""

import ipaddress
from typing import TYPE_CHECKING, Any, Dict, List, NamedTuple, Optional

from pcs_oci import settings
from pcs_oci.common import reports
from pcs_oci.common.reports import ReportItem
from pcs_oci.lib import pacemaker
from pcs_oci.lib.config import Config, Vip
from pcs_oci.lib.env import Env
from pcs_oci.lib.errors import PcsOciError
from pcs_oci.lib.imds import IPAddress, VnicFacts, vnics_for_ip

if TYPE_CHECKING:
    from pcs_oci.lib.oci.api import OciApi


# Raised only if a key of `status --json` ever has to change meaning or go;
# new keys keep it.
STATUS_JSON_VERSION = 1


class VipStatus(NamedTuple):
    name: str
    ip: str
    # Pacemaker: where the resource is active, and its state.
    pacemaker_nodes: List[str]
    pacemaker_state: str
    # The OS of this node.
    local_node: str
    local_has_address: bool
    # OCI: the VNIC holding the private IP and the node it belongs to.
    oci_vnic_id: Optional[str]
    oci_node: Optional[str]
    # Why OCI's view is unknown (an error, or information: not checked).
    oci_error: Optional[ReportItem]
    # Each disagreement between the three views.
    problems: List[ReportItem]
    # The public IP bound to the VIP's private IP (it follows the VIP), and
    # its lifetime (RESERVED, EPHEMERAL); None when it has none or OCI was not asked.
    public_ip: Optional[str] = None
    public_ip_lifetime: Optional[str] = None

    @property
    def agree(self) -> bool:
        return not self.problems

    def to_dict(self) -> Dict[str, Any]:
        """The VIP in `status --json`: every key is documented in pcs-oci(8), STATUS JSON.

        Written out key by key (not _asdict) so that renaming a field here
        cannot rename a key monitoring systems read; keys are only ever added.
        """
        return {
            "name": self.name,
            "ip": self.ip,
            "agree": self.agree,
            "pacemaker_state": self.pacemaker_state,
            "pacemaker_nodes": list(self.pacemaker_nodes),
            "local_node": self.local_node,
            "local_has_address": self.local_has_address,
            "oci_checked": self.oci_error is None,
            "oci_vnic_id": self.oci_vnic_id,
            "oci_node": self.oci_node,
            "oci_error": self.oci_error.render() if self.oci_error else None,
            "oci_error_code": self.oci_error.code if self.oci_error else None,
            "public_ip": self.public_ip,
            "public_ip_lifetime": self.public_ip_lifetime,
            "problems": [p.render() for p in self.problems],
            "problem_codes": [p.code for p in self.problems],
        }


class StatusDto(NamedTuple):
    local_node: str
    vips: List[VipStatus]

    @property
    def agree(self) -> bool:
        return all(v.agree for v in self.vips)

    def to_dict(self) -> Dict[str, Any]:
        return {
            "schema_version": STATUS_JSON_VERSION,
            "local_node": self.local_node,
            "agree": self.agree,
            "vips": [v.to_dict() for v in self.vips],
        }


def local_addresses(env: Env) -> List[IPAddress]:
    result = env.runner.run([settings.IP, "-o", "addr", "show"], timeout=10)
    found = []
    for line in result.stdout.splitlines():
        parts = line.split()
        for i, word in enumerate(parts[:-1]):
            if word in ("inet", "inet6"):
                try:
                    found.append(ipaddress.ip_interface(parts[i + 1]).ip)
                except ValueError:
                    pass
    return found


def _vnic_owner(
    config: Config, vip: Vip, vnic_id: Optional[str], node: str, local: List[VnicFacts]
) -> Optional[str]:
    if not vnic_id:
        return None
    for hostname, known in config.vnic_ids(vip).items():
        if known == vnic_id:
            return hostname
    for entry in config.nodes:
        if entry.vnic_id == vnic_id:
            return entry.hostname
    return node if any(v.vnic_id == vnic_id for v in local) else None


def _vip_vnics(config: Config, vip: Vip, local: List[VnicFacts]) -> List[str]:
    """VNICs in the VIP's subnet: the config's for this VIP, then this node's there.

    With several subnets (a VIP on secondary VNICs) the nodes' primary VNICs
    are in another subnet than the VIP's private IP."""
    return list(config.vnic_ids(vip).values()) + [
        v.vnic_id for v in vnics_for_ip(local, vip.address)
    ]


class OciView(NamedTuple):
    vnic_id: Optional[str] = None
    public_ip: Optional[Dict[str, Any]] = None
    # Why OCI could not say.
    error: Optional[ReportItem] = None
    # The private IP exists and shows no VNIC without OCI saying it is on
    # none: a move in flight (pcs_oci.lib.private_ip.PrivateIpInfo.moving).
    moving: bool = False


def _oci_view(
    env: Env, config: Config, vip: Vip, api: "OciApi", local_vnics: List[VnicFacts]
) -> OciView:
    """The VNIC OCI assigns the VIP to and the public IP bound to it, or why OCI could not say."""
    from pcs_oci.lib.vip import where_is_vip

    vnic_ids = _vip_vnics(config, vip, local_vnics)
    if not vnic_ids:
        return OciView(
            error=reports.item(
                reports.VNIC_NOT_FOUND,
                "no VNIC known",
                "fill nodes[].vnic_id: pcs-oci discover --update",
            )
        )
    try:
        with api.budget():
            subnet_id = api.get_vnic(vnic_ids[0])["subnet_id"]
            info = where_is_vip(api, vip.address, subnet_id)
    except PcsOciError as e:
        return OciView(error=e.reports[0])
    if info is None:
        return OciView()
    if info.moving:
        return OciView(moving=True)
    if vip.address.version != 4:
        return OciView(info.holder)  # public IPs are IPv4 only
    try:
        with api.budget():
            public = api.public_ip_of(info.id)
    except PcsOciError as e:
        env.report(
            reports.warning(
                e.reports[0].code,
                "{}: cannot read its public IP: {}".format(vip.name, e.reports[0].message),
            )
        )
        public = None
    return OciView(info.holder, public)


def _local_vnics(env: Env, config: Config) -> List[VnicFacts]:
    """This node's VNICs from IMDS when the config does not name them."""
    if all(n.vnic_id for n in config.nodes):
        return []
    try:
        from pcs_oci.lib.imds import read_node_facts

        facts = read_node_facts(env.imds)
    except PcsOciError as e:
        env.report(
            reports.warning(
                e.reports[0].code,
                "cannot read this node's VNICs from the instance metadata: {}".format(
                    e.reports[0].message
                ),
                "fill nodes[].vnic_id (pcs-oci discover --update) so that status needs "
                "only the config",
            )
        )
        return []
    return list(facts.vnics)


def _problems(
    vip: Vip,
    node: str,
    running: List[str],
    has: bool,
    oci_checked: bool,
    vnic_id: Optional[str],
    owner: Optional[str],
    moving: bool = False,
) -> List[ReportItem]:
    """Every disagreement between Pacemaker, this node's OS and OCI."""
    problems = []
    if len(running) > 1:
        problems.append(
            reports.item(
                reports.VIP_ACTIVE_ON_SEVERAL_NODES,
                "Pacemaker runs it on several nodes: {}".format(", ".join(running)),
            )
        )
    if node in running and not has:
        problems.append(
            reports.item(
                reports.VIP_ADDRESS_MISSING,
                "Pacemaker runs it here on {} but the address is missing".format(node),
            )
        )
    if node not in running and has:
        problems.append(
            reports.item(
                reports.VIP_ADDRESS_UNEXPECTED,
                "this node {} has the address but Pacemaker does not run it here".format(node),
            )
        )
    if len(running) == 1 and oci_checked:
        if moving:
            problems.append(
                reports.item(
                    reports.VIP_OCI_MOVING,
                    "OCI is moving it: its private IP shows no VNIC until the move lands",
                    "run status again in a few seconds",
                )
            )
        elif vnic_id is None:
            problems.append(
                reports.item(
                    reports.VIP_NOT_IN_OCI,
                    "OCI has no private IP {} in the subnet, or it is on no VNIC".format(vip.ip),
                )
            )
        elif owner != running[0]:
            problems.append(
                reports.item(
                    reports.VIP_OCI_ELSEWHERE,
                    "OCI assigns it to VNIC {} ({}) but Pacemaker runs it on {}".format(
                        vnic_id, owner or "not a configured node", running[0]
                    ),
                )
            )
    return problems


def status(env: Env, with_oci: bool = True) -> StatusDto:
    config = env.load_config()
    cluster = pacemaker.cluster_status(env.runner)
    node = pacemaker.local_node_name(env.runner)
    addresses = local_addresses(env)
    local_vnics = _local_vnics(env, config) if with_oci else []
    api = env.oci_api(config.oci) if with_oci else None
    result = []
    for vip in config.vips:
        rsc = cluster.resources.get(vip.name)
        running = rsc.active_on if rsc else []
        state = (
            "not configured"
            if rsc is None
            else ("FAILED" if rsc.failed else (rsc.role or ("Started" if running else "Stopped")))
        )
        has = vip.address in addresses
        view = OciView(error=reports.info(reports.OCI_NOT_CHECKED, "not checked"))
        if api is not None:
            view = _oci_view(env, config, vip, api, local_vnics)
        vnic_id, oci_error, public = view.vnic_id, view.error, view.public_ip or {}
        owner = _vnic_owner(config, vip, vnic_id, node, local_vnics)
        oci_checked = api is not None and oci_error is None
        problems = _problems(vip, node, running, has, oci_checked, vnic_id, owner, view.moving)
        result.append(
            VipStatus(
                vip.name,
                vip.ip,
                running,
                state,
                node,
                has,
                vnic_id,
                owner,
                oci_error,
                problems,
                public.get("ip_address"),
                public.get("lifetime"),
            )
        )
    return StatusDto(node, result)
