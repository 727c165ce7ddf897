"""`pcs-oci status`: each VIP as Pacemaker, this node's OS and OCI see it.

The three must agree: Pacemaker runs the resource on node N, N has the
address (checked on this node only: the OS view of other nodes is
Pacemaker's monitor), and OCI assigns the private IP to N's VNIC.
"""

import ipaddress
from typing import Any, Dict, List, NamedTuple, Optional

from pcs_oci import settings
from pcs_oci.lib import pacemaker
from pcs_oci.lib.config import Config, Vip
from pcs_oci.lib.env import Env
from pcs_oci.lib.errors import PcsOciError


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
    oci_error: Optional[str]
    problems: List[str]

    @property
    def agree(self) -> bool:
        return not self.problems


class StatusDto(NamedTuple):
    local_node: str
    vips: List[VipStatus]

    @property
    def agree(self) -> bool:
        return all(v.agree for v in self.vips)

    def to_dict(self) -> Dict[str, Any]:
        return {
            "local_node": self.local_node,
            "agree": self.agree,
            "vips": [dict(v._asdict(), agree=v.agree) for v in self.vips],
        }


def local_addresses(env: Env) -> List[Any]:
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


def _vnic_owner(config: Config, vnic_id: Optional[str], local: Dict[str, str]) -> Optional[str]:
    if not vnic_id:
        return None
    for node in config.nodes:
        if node.vnic_id == vnic_id:
            return node.hostname
    return local.get(vnic_id)


def _oci_view(env: Env, config: Config, vip: Vip, api: Any, local_vnics: Dict[str, str]) -> Any:
    """(vnic_id, error) of where OCI has the VIP."""
    from pcs_oci.lib.vip import where_is_vip

    vnic_ids = [n.vnic_id for n in config.nodes if n.vnic_id] + list(local_vnics)
    if not vnic_ids:
        return None, "no VNIC known: fill nodes[].vnic_id (pcs-oci discover --update)"
    try:
        with api.budget():
            subnet_id = api.get_vnic(vnic_ids[0])["subnet_id"]
            info = where_is_vip(api, vip.address, subnet_id)
    except PcsOciError as e:
        return None, "; ".join(r.render() for r in e.reports)
    if info is None:
        return None, None
    return info.vnic_id, None


def _local_vnics(env: Env, config: Config, node: str) -> Dict[str, str]:
    """This node's VNICs from IMDS when the config does not name them."""
    if all(n.vnic_id for n in config.nodes):
        return {}
    try:
        from pcs_oci.lib.imds import read_node_facts

        facts = read_node_facts(env.imds)
    except PcsOciError:
        return {}
    return {v.vnic_id: node for v in facts.vnics}


def status(env: Env, with_oci: bool = True) -> StatusDto:
    config = env.load_config()
    cluster = pacemaker.cluster_status(env.runner)
    node = pacemaker.local_node_name(env.runner)
    addresses = local_addresses(env)
    local_vnics = _local_vnics(env, config, node) if with_oci else {}
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
        vnic_id, error = (
            (None, "not checked") if api is None else _oci_view(env, config, vip, api, local_vnics)
        )
        owner = _vnic_owner(config, vnic_id, local_vnics)
        problems = []
        if len(running) > 1:
            problems.append("Pacemaker runs it on several nodes: {}".format(", ".join(running)))
        if node in running and not has:
            problems.append("Pacemaker runs it here on {} but the address is missing".format(node))
        if node not in running and has:
            problems.append(
                "this node {} has the address but Pacemaker does not run it here".format(node)
            )
        if len(running) == 1 and api is not None and error is None:
            if vnic_id is None:
                problems.append("OCI has no private IP {} in the subnet".format(vip.ip))
            elif owner != running[0]:
                problems.append(
                    "OCI assigns it to VNIC {} ({}) but Pacemaker runs it on {}".format(
                        vnic_id, owner or "not a configured node", running[0]
                    )
                )
        result.append(
            VipStatus(vip.name, vip.ip, running, state, node, has, vnic_id, owner, error, problems)
        )
    return StatusDto(node, result)
