"""verify's checks of the cluster: nodes, agent, VIP resources, stickiness, failure-timeout,
quorum."""

from typing import Dict, NamedTuple, Optional

from pcs_oci import settings
from pcs_oci.common.checks import (
    AGENT,
    CLUSTER_NODES,
    FAIL,
    FAILURE_TIMEOUT,
    NODES_ONLINE,
    PASS,
    QUORUM,
    RESOURCES,
    STICKINESS,
    WARN,
    row,
    skip,
)
from pcs_oci.lib import pacemaker, plan
from pcs_oci.lib.checks import Rows, error_text
from pcs_oci.lib.config import Config
from pcs_oci.lib.errors import PcsOciError
from pcs_oci.lib.plan import ObjectPlan
from pcs_oci.lib.runner import CommandRunner

NO_CONFIG = "no valid config"


class ClusterFacts(NamedTuple):
    status: Optional[pacemaker.ClusterStatus]
    error: str = ""

    @property
    def why_not(self) -> str:
        return "no cluster running here: " + self.error


class AgentFacts(NamedTuple):
    installed: bool
    # node -> {resource: why Pacemaker's probe there failed}
    missing: Dict[str, Dict[str, str]]
    error: str = ""


class CibFacts(NamedTuple):
    # The CIB's primitives; None when the CIB was not (or could not be) read.
    primitives: Optional[Dict[str, pacemaker.Primitive]]
    defaults: Dict[str, str]
    error: str = ""


class QuorumFacts(NamedTuple):
    two_node: bool
    no_quorum_policy: Optional[str]
    error: str = ""


# ---------------------------------------------------------------- reading


def read_cluster(runner: CommandRunner) -> ClusterFacts:
    try:
        return ClusterFacts(pacemaker.cluster_status(runner))
    except PcsOciError as e:
        return ClusterFacts(None, error_text(e))


def read_agent(
    runner: CommandRunner, cluster: ClusterFacts, config: Optional[Config]
) -> AgentFacts:
    """Whether the agent is here, and where Pacemaker's probes found it missing."""
    installed = pacemaker.agent_installed()
    if cluster.status is None or config is None or not config.vips:
        return AgentFacts(installed, {})
    try:
        return AgentFacts(
            installed, pacemaker.agent_missing_on(runner, [v.name for v in config.vips])
        )
    except PcsOciError as e:
        return AgentFacts(installed, {}, error_text(e, 1))


def read_cib(runner: CommandRunner, cluster: ClusterFacts, config: Optional[Config]) -> CibFacts:
    if cluster.status is None or config is None:
        return CibFacts(None, {})
    try:
        cib = pacemaker.configuration(runner)
        return CibFacts(pacemaker.primitives_in(cib), pacemaker.resource_defaults(cib))
    except PcsOciError as e:
        return CibFacts(None, {}, error_text(e))


def read_quorum(runner: CommandRunner, cluster: ClusterFacts) -> QuorumFacts:
    """two_node, and no-quorum-policy without it; read for two nodes only."""
    if cluster.status is None or len(cluster.status.nodes) != 2:
        return QuorumFacts(False, None)
    try:
        result = runner.run([settings.COROSYNC_CMAPCTL, "-g", "quorum.two_node"], timeout=10)
        if result.ok and result.stdout.strip().endswith("= 1"):
            return QuorumFacts(True, None)
        return QuorumFacts(False, pacemaker.cluster_property(runner, "no-quorum-policy"))
    except PcsOciError as e:
        return QuorumFacts(False, None, error_text(e, 1))


# ---------------------------------------------------------------- checks


def check_cluster_nodes(config: Optional[Config], cluster: ClusterFacts) -> Rows:
    if config is None:
        return [skip(CLUSTER_NODES, NO_CONFIG)]
    if cluster.status is None:
        return [skip(CLUSTER_NODES, cluster.why_not)]
    names = {n.name.lower(): n.name for n in cluster.status.nodes}
    wanted = {n.hostname.lower(): n.hostname for n in config.nodes}
    missing = [wanted[k] for k in wanted if k not in names]
    extra = [names[k] for k in names if k not in wanted]
    if missing:
        return [
            row(
                CLUSTER_NODES,
                FAIL,
                "not cluster nodes: {} (the cluster has {})".format(
                    ", ".join(missing), ", ".join(sorted(names.values()))
                ),
                "use the names `crm_node -l` prints in nodes[].hostname",
            )
        ]
    if extra:
        return [
            row(
                CLUSTER_NODES,
                WARN,
                "cluster nodes not in the config: {} (they discover their VNIC at start)".format(
                    ", ".join(extra)
                ),
                "add them to nodes[] and run `pcs-oci discover --all --update`",
            )
        ]
    return [row(CLUSTER_NODES, PASS, ", ".join(sorted(names.values())))]


def check_agent(cluster: ClusterFacts, agent: AgentFacts) -> Rows:
    problems = []
    if not agent.installed:
        problems.append("{} is missing on this node".format(pacemaker.agent_path()))
    if agent.error:
        problems.append("cannot read the cluster's operation history: " + agent.error)
    for node, reasons in sorted(agent.missing.items()):
        problems.append(
            "missing on {}: Pacemaker's probe of {} there said not installed ({}): no "
            "failover to that node".format(
                node, ", ".join(reasons), "; ".join(sorted(set(reasons.values())))
            )
        )
    if not problems:
        where = "this node" if cluster.status is None else "this node, and no node's probe failed"
        return [row(AGENT, PASS, "{} ({})".format(pacemaker.agent_path(), where))]
    fix = "yum install pcs-oci (on every node)"
    for node, reasons in sorted(agent.missing.items()):
        fix += "; then " + ", ".join(
            "`pcs resource refresh {} node={}`".format(n, node) for n in reasons
        )
    return [row(AGENT, FAIL, "; ".join(problems), fix)]


def check_stickiness(config: Optional[Config], cib: CibFacts) -> Rows:
    """The config's value, and what each existing VIP resource really runs with."""
    if config is None:
        return []
    if config.resource_stickiness <= 0:
        return [
            row(
                STICKINESS,
                WARN,
                "stickiness {} in the config: the VIP moves back when a failed node returns, "
                "a second outage".format(config.resource_stickiness),
                'set "resource_stickiness": 100 and run `pcs-oci configure`',
            )
        ]
    low = []
    existing = cib.primitives or {}
    for vip in config.vips:
        found = existing.get(vip.name)
        if found is None or found.agent != settings.AGENT_TYPE:
            continue
        value, source = found.meta.get("resource-stickiness"), "its meta attribute"
        if value is None:
            value, source = cib.defaults.get("resource-stickiness"), "the cluster default"
        if value is None:
            value, source = "0", "Pacemaker's default"
        if not _positive_score(value):
            low.append("{} has resource-stickiness={} ({})".format(vip.name, value, source))
    if low:
        return [
            row(
                STICKINESS,
                WARN,
                "; ".join(low) + ": it moves back when a failed node returns, a second outage",
                "`pcs-oci configure` sets resource-stickiness={} on each VIP".format(
                    config.resource_stickiness
                ),
            )
        ]
    return [row(STICKINESS, PASS, "resource-stickiness={}".format(config.resource_stickiness))]


def check_failure_timeout(
    config: Optional[Config], cluster: ClusterFacts, cib: CibFacts, wanted: str
) -> Rows:
    """Each existing VIP's failure-timeout (its own or the resource default).

    Without one, a start that failed on every node (a cloud outage: the
    agent fails fast) leaves the fail counts at INFINITY and the VIP stopped
    until someone cleans it up. wanted: what configure sets.
    """
    if config is None:
        return []
    if cluster.status is None:
        return [skip(FAILURE_TIMEOUT, cluster.why_not)]
    if cib.primitives is None:
        return [skip(FAILURE_TIMEOUT, "cannot read the CIB: " + cib.error)]
    none, found_any = [], False
    for vip in config.vips:
        found = cib.primitives.get(vip.name)
        if found is None or found.agent != settings.AGENT_TYPE:
            continue
        found_any = True
        value = found.meta.get("failure-timeout", cib.defaults.get("failure-timeout"))
        if not pacemaker.interval_ms(value):  # unset, 0 or not a time: failures never expire
            none.append(vip.name)
    if none:
        return [
            row(
                FAILURE_TIMEOUT,
                WARN,
                "no failure-timeout on {}: after a cloud outage that failed its start on "
                "every node it stays stopped until `pcs resource cleanup`".format(", ".join(none)),
                "`pcs-oci configure` sets failure-timeout={} on each VIP".format(wanted),
            )
        ]
    if not found_any:
        return [skip(FAILURE_TIMEOUT, "no VIP resource yet (`pcs-oci configure` creates them)")]
    return [row(FAILURE_TIMEOUT, PASS, "failures expire (configure sets {})".format(wanted))]


def _positive_score(value: str) -> bool:
    """A Pacemaker score above 0 (INFINITY and +INFINITY included)."""
    text = value.strip().upper()
    if text in ("INFINITY", "+INFINITY"):
        return True
    try:
        return int(text) > 0
    except ValueError:
        return False


def check_nodes_online(cluster: ClusterFacts) -> Rows:
    if cluster.status is None:
        return [skip(NODES_ONLINE, cluster.why_not)]
    nodes = cluster.status.nodes
    offline = [n.name for n in nodes if not n.online]
    standby = [n.name for n in nodes if n.standby]
    if offline:
        return [
            row(
                NODES_ONLINE,
                FAIL,
                "offline: " + ", ".join(offline),
                "start the cluster there: `pcs cluster start <node>`",
            )
        ]
    if standby:
        return [
            row(
                NODES_ONLINE,
                WARN,
                "in standby: " + ", ".join(standby),
                "`pcs node unstandby <node>` when maintenance is over",
            )
        ]
    return [row(NODES_ONLINE, PASS, ", ".join(n.name for n in nodes))]


def check_resources(
    config: Optional[Config],
    cluster: ClusterFacts,
    cib: CibFacts,
    plans: Dict[str, ObjectPlan],
) -> Rows:
    """plans: what `configure` would do to each existing VIP resource of ours."""
    if cluster.status is None:
        return [skip(RESOURCES, cluster.why_not)]
    if config is None:
        return [skip(RESOURCES, NO_CONFIG)]
    if cib.primitives is None:
        return [row(RESOURCES, FAIL, cib.error, "check `pcs status`")]
    missing, differ, foreign = [], [], []
    for vip in config.vips:
        found = cib.primitives.get(vip.name)
        if found is None:
            missing.append(vip.name)
        elif found.agent != settings.AGENT_TYPE:
            foreign.append("{} is {}".format(vip.name, found.agent))
        elif plans[vip.name].action != plan.UNCHANGED:
            differ.append("{} ({})".format(vip.name, "; ".join(plans[vip.name].changes)))
    if foreign:
        return [
            row(
                RESOURCES,
                FAIL,
                "; ".join(foreign),
                "replace them: `pcs resource delete <name>` then `pcs-oci configure`",
            )
        ]
    if missing or differ:
        detail = "; ".join(
            (["not created: " + ", ".join(missing)] if missing else [])
            + (["differ: " + ", ".join(differ)] if differ else [])
        )
        return [
            row(
                RESOURCES,
                WARN,
                detail,
                "`pcs-oci configure` (see `pcs-oci configure --dry-run` first)",
            )
        ]
    return [row(RESOURCES, PASS, ", ".join(v.name for v in config.vips))]


def check_quorum(cluster: ClusterFacts, quorum: QuorumFacts) -> Rows:
    if cluster.status is None:
        return [skip(QUORUM, cluster.why_not)]
    if len(cluster.status.nodes) != 2:
        return [row(QUORUM, PASS, "{} nodes".format(len(cluster.status.nodes)))]
    if quorum.error:
        return [skip(QUORUM, "cannot read the quorum settings: " + quorum.error)]
    if quorum.two_node:
        return [row(QUORUM, PASS, "two_node: 1")]
    if quorum.no_quorum_policy == "ignore":
        return [
            row(
                QUORUM,
                WARN,
                "no-quorum-policy=ignore without two_node",
                "set `two_node: 1` in corosync.conf's quorum section and remove "
                "no-quorum-policy=ignore",
            )
        ]
    return [
        row(
            QUORUM,
            FAIL,
            "2 nodes without two_node: losing one node stops the VIP",
            "`pcs quorum update two_node=1` (with the cluster stopped) or add a node",
        )
    ]
