"""`pcs-oci verify`: every precondition of a working VIP, each with its fix.

Each check gives one row (PASS, WARN, FAIL or SKIP) with one line of detail
and, for anything but PASS, the command or console step that fixes it. A
check that cannot run (no cluster yet, no config, a tool or service
missing) says SKIP and why, so the list reads the same on a half-built
cluster as on a finished one. The checks live in pcs_oci.lib.checks; this
reads their facts in the order a failover needs them and lists the rows.
"""

from typing import Any, Dict, List, NamedTuple, Optional

from pcs_oci import settings
from pcs_oci.common.checks import FAIL, STATUSES, Check
from pcs_oci.lib.checks import cloud, cluster, fencing, host, legacy, node, public_ip
from pcs_oci.lib.commands.configure import failure_timeout, plan_vip
from pcs_oci.lib.config import Config
from pcs_oci.lib.env import Env
from pcs_oci.lib.plan import ObjectPlan


class VerifyResult(NamedTuple):
    checks: List[Check]

    @property
    def ok(self) -> bool:
        return all(c.status != FAIL for c in self.checks)

    def counts(self) -> Dict[str, int]:
        result = {s: 0 for s in STATUSES}
        for check in self.checks:
            result[check.status] += 1
        return result

    def to_dict(self) -> Dict[str, Any]:
        return {
            "ok": self.ok,
            "counts": self.counts(),
            "checks": [c._asdict() for c in self.checks],
        }


def verify(env: Env) -> VerifyResult:
    runner = env.runner
    config_file = node.read_config(env)
    config = config_file.config
    state = cluster.read_cluster(runner)
    name = node.read_node_name(runner)
    metadata = node.read_metadata(env.imds)
    local_vnic = node.local_vnic(metadata, config)
    oci = cloud.read_cloud(env, config, metadata, local_vnic, name.name)
    agent = cluster.read_agent(runner, state, config)
    cib = cluster.read_cib(runner, state, config)
    quorum = cluster.read_quorum(runner, state)
    fence = fencing.read_status(runner, cib.primitives)
    old_ways = legacy.read_legacy(runner)
    return VerifyResult(
        node.check_config(config_file)
        + node.check_node_in_config(config, name)
        + cluster.check_cluster_nodes(config, state)
        + node.check_imds(metadata)
        + node.check_vip_subnet(config, metadata)
        + node.check_local_vnic(config, name, metadata)
        + cloud.check_oci_auth(config, oci)
        + cloud.check_oci_permission(oci)
        + cloud.check_node_vnics(oci)
        + cloud.check_vip_private_ip(config, oci)
        + public_ip.check_public_ip(config, oci.public_ips, cloud.why_not_looked_up(oci))
        + cloud.check_network(config, oci)
        + cluster.check_agent(state, agent)
        + cluster.check_stickiness(config, cib)
        + cluster.check_failure_timeout(
            config, state, cib, failure_timeout(config) if config else ""
        )
        + cluster.check_nodes_online(state)
        + cluster.check_resources(config, state, cib, _vip_plans(config, cib))
        + fencing.check_fencing(state)
        + cluster.check_quorum(state, quorum)
        + fencing.check_fence_agent(fence, metadata.compartment)
        + host.check_packages(host.read_packages(runner))
        + host.check_conflicts(host.read_conflicts(config))
        + legacy.check_legacy_ipaddr2(old_ways, cib)
        + legacy.check_legacy_ocivip(state, cib)
        + legacy.check_oci_cli_agents(old_ways)
        + host.check_firewall(host.read_firewall(runner))
    )


def _vip_plans(config: Optional[Config], cib: cluster.CibFacts) -> Dict[str, ObjectPlan]:
    """What `configure` would change on each existing VIP resource of ours."""
    if config is None or cib.primitives is None:
        return {}
    plans = {}
    for vip in config.vips:
        found = cib.primitives.get(vip.name)
        if found is not None and found.agent == settings.AGENT_TYPE:
            plans[vip.name] = plan_vip(config, vip, found)
    return plans
