"""verify's checks of this node: the config file, the node's name and its instance metadata."""

from typing import List, NamedTuple, Optional, Set, Tuple

from pcs_oci.common.checks import (
    CONFIG,
    FAIL,
    IMDS,
    LOCAL_VNIC,
    NODE_IN_CONFIG,
    PASS,
    VIP_SUBNET,
    row,
    skip,
)
from pcs_oci.lib import pacemaker
from pcs_oci.lib.checks import Rows, error_text
from pcs_oci.lib.config import Config
from pcs_oci.lib.env import Env
from pcs_oci.lib.errors import PcsOciError
from pcs_oci.lib.imds import Imds, NodeFacts, read_node_facts, vnic_for_ip
from pcs_oci.lib.runner import CommandRunner

NO_CONFIG = "no valid config"
NO_IMDS = "needs the instance metadata service"


class ConfigFacts(NamedTuple):
    path: str
    config: Optional[Config]
    # Why it is not valid ("" when it is).
    error: str = ""


class NodeName(NamedTuple):
    # This node's name as Pacemaker knows it; None when it cannot be told.
    name: Optional[str]
    error: str = ""


class Metadata(NamedTuple):
    """What the instance metadata service says about this instance."""

    facts: Optional[NodeFacts]
    # Why the service could not be read ("" when it was).
    error: str = ""

    @property
    def compartment(self) -> str:
        return (self.facts.compartment_id if self.facts else "") or ""


# ---------------------------------------------------------------- reading


def read_config(env: Env) -> ConfigFacts:
    try:
        return ConfigFacts(env.config_path, env.load_config())
    except PcsOciError as e:
        return ConfigFacts(env.config_path, None, error_text(e))


def read_node_name(runner: CommandRunner) -> NodeName:
    try:
        return NodeName(pacemaker.node_name(runner))
    except PcsOciError as e:
        # crm_node is missing, fails or hangs: Pacemaker cannot name this node.
        return NodeName(None, error_text(e, 1))


def read_metadata(imds: Imds) -> Metadata:
    try:
        return Metadata(read_node_facts(imds))
    except PcsOciError as e:
        return Metadata(None, error_text(e))


def local_vnic(metadata: Metadata, config: Optional[Config]) -> Optional[str]:
    """This node's VNIC in the VIPs' subnet, when all VIPs share one."""
    if metadata.facts is None or config is None:
        return None
    vnics = _vip_vnics(metadata.facts, config)[0]
    return sorted(vnics)[0] if len(vnics) == 1 else None


def _vip_vnics(facts: NodeFacts, config: Config) -> Tuple[Set[str], List[str]]:
    """(the local VNICs whose subnets hold the VIPs, why the other VIPs have none)."""
    vnics: Set[str] = set()
    bad: List[str] = []
    for vip in config.vips:
        try:
            vnics.add(vnic_for_ip(facts, vip.address).vnic_id)
        except PcsOciError as e:
            bad.append(error_text(e, 1))
    return vnics, bad


# ---------------------------------------------------------------- checks


def check_config(facts: ConfigFacts) -> Rows:
    if facts.config is None:
        fix = "`pcs-oci config validate` lists every problem; fix them in {}".format(facts.path)
        return [row(CONFIG, FAIL, facts.error, fix)]
    detail = "{}: {} nodes, {} VIPs".format(
        facts.path, len(facts.config.nodes), len(facts.config.vips)
    )
    return [row(CONFIG, PASS, detail)]


def check_node_in_config(config: Optional[Config], node: NodeName) -> Rows:
    if config is None:
        return [skip(NODE_IN_CONFIG, NO_CONFIG)]
    if node.name is None:
        return [skip(NODE_IN_CONFIG, "cannot tell this node's name: " + node.error)]
    if config.node(node.name) is None:
        return [
            row(
                NODE_IN_CONFIG,
                FAIL,
                "{} is not one of the config's nodes ({})".format(
                    node.name, ", ".join(n.hostname for n in config.nodes)
                ),
                "add it to nodes[] with its name as `crm_node -n` prints it",
            )
        ]
    return [row(NODE_IN_CONFIG, PASS, node.name)]


def check_imds(metadata: Metadata) -> Rows:
    if metadata.facts is None:
        return [
            row(
                IMDS,
                FAIL,
                metadata.error,
                "check IMDS v2 is enabled for the instance (console: Instance > Edit > "
                "Instance metadata service) and that 169.254.169.254 is not firewalled",
            )
        ]
    facts = metadata.facts
    detail = "{} ({}, {})".format(facts.instance_id, facts.region, facts.availability_domain)
    return [row(IMDS, PASS, detail)]


def check_vip_subnet(config: Optional[Config], metadata: Metadata) -> Rows:
    if metadata.facts is None:
        return [skip(VIP_SUBNET, NO_IMDS)]
    if config is None:
        return [skip(VIP_SUBNET, NO_CONFIG)]
    bad = _vip_vnics(metadata.facts, config)[1]
    if bad:
        return [
            row(
                VIP_SUBNET,
                FAIL,
                "; ".join(bad),
                "choose VIPs in the subnet of the nodes' VNICs, or attach a VNIC in that subnet",
            )
        ]
    return [row(VIP_SUBNET, PASS, ", ".join(v.ip for v in config.vips))]


def check_local_vnic(config: Optional[Config], node: NodeName, metadata: Metadata) -> Rows:
    if metadata.facts is None:
        return [skip(LOCAL_VNIC, NO_IMDS)]
    if config is None:
        return [skip(LOCAL_VNIC, NO_CONFIG)]
    entry = config.node(node.name or "")
    vnic = local_vnic(metadata, config)
    if entry is None or vnic is None:
        return [skip(LOCAL_VNIC, "this node or its VNIC is unknown")]
    if entry.vnic_id is None:
        detail = "not in the config; the agent discovers {} at start".format(vnic)
        return [row(LOCAL_VNIC, PASS, detail)]
    if entry.vnic_id != vnic:
        return [
            row(
                LOCAL_VNIC,
                FAIL,
                "config says {}, but this node's VNIC in the VIP subnet is {}".format(
                    entry.vnic_id, vnic
                ),
                "`pcs-oci discover --update` writes the right one",
            )
        ]
    return [row(LOCAL_VNIC, PASS, vnic)]
