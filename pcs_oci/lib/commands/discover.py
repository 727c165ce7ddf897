"""`pcs-oci discover`: this node's facts from IMDS, and filling them into the config."""

import os
from typing import Any, Dict, List, NamedTuple, Optional, Tuple

from pcs_oci.common import exit_codes, reports
from pcs_oci.lib import config as config_lib
from pcs_oci.lib import pacemaker
from pcs_oci.lib.discovery import RemoteNode, VipPlacement, place_vips, resolve_other_nodes
from pcs_oci.lib.env import Env
from pcs_oci.lib.errors import PcsOciError
from pcs_oci.lib.imds import NodeFacts, read_node_facts


class DiscoverResult(NamedTuple):
    facts: NodeFacts
    # Config-dependent parts are empty when there is no config file yet.
    config_path: Optional[str]
    local_node: Optional[str]
    placements: List[Tuple[str, VipPlacement]]  # (vip name, placement)
    remote: List[RemoteNode]
    # Human-readable list of what --update wrote, empty if nothing.
    updated: List[str]

    def to_dict(self) -> Dict[str, Any]:
        f = self.facts
        return {
            "hostname": f.hostname,
            "instance_id": f.instance_id,
            "display_name": f.display_name,
            "region": f.region,
            "availability_domain": f.availability_domain,
            "fault_domain": f.fault_domain,
            "compartment_id": f.compartment_id,
            "vnics": [v._asdict() for v in f.vnics],
            "config": self.config_path,
            "local_node": self.local_node,
            "vips": [
                {
                    "name": name,
                    "ip": p.ip,
                    "vnic_id": p.vnic.vnic_id if p.vnic else None,
                    "subnet_cidr": p.vnic.subnet_cidr if p.vnic else None,
                    "problem": p.problem.render() if p.problem else None,
                }
                for name, p in self.placements
            ],
            "nodes": [
                {"hostname": n.hostname, "instance_id": n.instance_id, "vnic_id": n.vnic_id}
                for n in self.remote
            ],
            "updated": self.updated,
        }


def _local_node_name(env: Env, config: config_lib.Config, facts: NodeFacts) -> Optional[str]:
    """This node's entry in the config: by Pacemaker's name, else by host name."""
    candidates = [
        pacemaker.pacemaker_node_name(env.runner),
        facts.hostname,
        facts.display_name,
        os.uname().nodename,
    ]
    for name in candidates:
        if not name:
            continue
        for short in (name, name.split(".", 1)[0]):
            node = config.node(short)
            if node is not None:
                return node.hostname
    return None


def discover(env: Env, update: bool = False, all_nodes: bool = False) -> DiscoverResult:
    facts = read_node_facts(env.imds)
    path = env.config_path
    if not os.path.exists(path):
        if update or all_nodes:
            config_lib.load(path)  # the clear "cannot read" error with its hint
        return DiscoverResult(facts, None, None, [], [], [])
    config = config_lib.load(path)
    placements = list(
        zip([v.name for v in config.vips], place_vips(facts, [v.address for v in config.vips]))
    )
    local = _local_node_name(env, config, facts)
    problems = [p.problem for _, p in placements if p.problem]
    if problems:
        raise PcsOciError(*problems, exit_code=exit_codes.PRECONDITION)
    remote: List[RemoteNode] = []
    if all_nodes:
        others = [n.hostname for n in config.nodes if n.hostname != local]
        api = env.oci_api(config.oci)
        with api.budget():
            remote = resolve_other_nodes(api, facts, others, [v.address for v in config.vips])
    updated: List[str] = []
    if update or all_nodes:
        if local is None:
            raise PcsOciError(
                reports.item(
                    reports.NODE_NOT_IN_CONFIG,
                    "this node ({}) is not in the config's nodes".format(facts.hostname),
                    "add it: nodes[].hostname as `crm_node -n` prints it",
                    path,
                ),
                exit_code=exit_codes.PRECONDITION,
            )
        updated = _write_update(path, config, local, placements, remote, facts.instance_id)
    return DiscoverResult(facts, path, local, placements, remote, updated)


def _vnic_of(placements: List[Tuple[str, VipPlacement]]) -> Optional[str]:
    ids = {p.vnic.vnic_id for _, p in placements if p.vnic}
    return ids.pop() if len(ids) == 1 else None


def _write_update(
    path: str,
    config: config_lib.Config,
    local: Optional[str],
    placements: List[Tuple[str, VipPlacement]],
    remote: List[RemoteNode],
    local_instance: Optional[str] = None,
) -> List[str]:
    """Fill vnic_id and instance_id (and missing cidr_netmask) into the file, keeping the rest."""
    doc = config_lib.load_document(path)
    updated: List[str] = []
    found = {n.hostname: n.vnic_id for n in remote if n.vnic_id}
    # The instances are fence_oci's plugs (`configure --fencing`).
    instances = {n.hostname: n.instance_id for n in remote if n.instance_id}
    if local is not None:
        vnic = _vnic_of(placements)
        if vnic:
            found[local] = vnic
        if local_instance:
            instances[local] = local_instance
    for entry in doc["nodes"]:
        vnic = found.get(entry["hostname"])
        if vnic and entry.get("vnic_id") != vnic:
            entry["vnic_id"] = vnic
            updated.append("nodes[{}].vnic_id".format(entry["hostname"]))
        instance = instances.get(entry["hostname"])
        if instance and entry.get("instance_id") != instance:
            entry["instance_id"] = instance
            updated.append("nodes[{}].instance_id".format(entry["hostname"]))
    by_name: Dict[str, VipPlacement] = dict(placements)
    for entry in doc["vips"]:
        placement = by_name.get(entry["name"])
        if "cidr_netmask" not in entry and placement and placement.vnic:
            # The VNIC's prefix that holds the VIP (a subnet may have several).
            net = placement.vnic.network_of(placement.address)
            if net is None:
                continue
            entry["cidr_netmask"] = net.prefixlen
            updated.append("vips[{}].cidr_netmask".format(entry["name"]))
    if updated:
        config_lib.check_document(doc, path)
        mode = os.stat(path).st_mode & 0o777
        config_lib.write_atomic(path, config_lib.dumps(doc), mode)
    return updated
