"""`pcs-oci configure` and `unconfigure`: make the cluster's VIP resources match the config.

Everything is checked before anything changes (config, pcs, a running
cluster, the agent on this node, no foreign resource under a VIP's name);
then each VIP gets one `pcs resource create`, or the few `pcs resource
update` / `meta` commands that change only what differs. A running VIP is
never deleted and re-created. If a command fails midway, the error says
which step, what was applied and how to finish or roll back.
"""

import math
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

from pcs_oci import settings
from pcs_oci.common import exit_codes, reports
from pcs_oci.common.agent_params import (
    IPADDR2_RESERVE_SECONDS,
    OCI_PARAMETER_NAMES,
    OCI_PARAMETERS,
)
from pcs_oci.lib import cib_file, pacemaker, plan, stack, vip_group
from pcs_oci.lib.commands import fencing as fencing_lib
from pcs_oci.lib.config import Config, Vip
from pcs_oci.lib.env import Env
from pcs_oci.lib.errors import PcsOciError
from pcs_oci.lib.plan import ClusterPlan, ObjectPlan, Step, name_values, param_changes

# Parameters configure owns; any other IPaddr2 parameter an admin set by hand
# (arp_count, iflabel ...) is left alone.
MANAGED_PARAMS = ["ip", "cidr_netmask", "nic"] + OCI_PARAMETER_NAMES
PARAM_DEFAULTS = {p.name: p.default for p in OCI_PARAMETERS}
STOP_TIMEOUT = "20s"
MONITOR_TIMEOUT = "20s"
MONITOR_API_TIMEOUT = "40s"
# failure-timeout in start timeouts (see failure_timeout).
FAILURE_TIMEOUT_STARTS = 2


# ---------------------------------------------------------------- desired state


def _ceil10(seconds: float) -> int:
    return int(math.ceil(seconds / 10.0) * 10)


def _start_seconds(config: Config) -> int:
    from pcs_oci.lib.oci.settings import OciSettings, worst_case_seconds

    worst = worst_case_seconds(OciSettings(auth=config.oci.auth, timeout=config.oci.timeout))
    return _ceil10(worst + IPADDR2_RESERVE_SECONDS + 5)


def start_timeout(config: Config) -> str:
    """Long enough for the agent's worst case at the configured API timeout."""
    return "{}s".format(_start_seconds(config))


def failure_timeout(config: Config) -> str:
    """How long a failure counts against a node: two start timeouts (160s by default).

    A start that fails sets the VIP's fail count on that node to INFINITY
    (start-failure-is-fatal), so a cloud outage that fails its start on every
    node in turn (the agent fails fast on a 401 or a 5xx) would leave it
    stopped for good. With this failure-timeout the failures expire and
    Pacemaker starts it again: at most this long after the last failure.
    Two start timeouts: a VIP that cannot start at all (a wrong policy) is
    tried on each node at most once per that time, so it spends at most half
    of it starting; a cloud outage costs minutes, not a manual cleanup.
    Pacemaker (2.0.3 and later) schedules its recheck at the moment a failure
    expires, so cluster-recheck-interval (15 min) does not delay this.
    """
    return "{}s".format(FAILURE_TIMEOUT_STARTS * _start_seconds(config))


def desired_params(config: Config, vip: Vip) -> Dict[str, str]:
    params = {"ip": vip.ip}
    if vip.cidr_netmask is not None:
        params["cidr_netmask"] = str(vip.cidr_netmask)
    if vip.nic:
        params["nic"] = vip.nic
    vnic_ids = ",".join("{}={}".format(n, v) for n, v in config.vnic_ids(vip).items())
    if vnic_ids:
        params["vnic_ids"] = vnic_ids
    params.update(config.oci.to_params())
    if vip.monitor_api:
        params["monitor_api"] = "true"
        if str(vip.monitor_api_interval) != PARAM_DEFAULTS["monitor_api_interval"]:
            params["monitor_api_interval"] = str(vip.monitor_api_interval)
    return params


def desired_ops(config: Config, vip: Vip) -> Dict[str, Tuple[str, str]]:
    """op name -> (interval, timeout)."""
    monitor_timeout = MONITOR_API_TIMEOUT if vip.monitor_api else MONITOR_TIMEOUT
    return {
        "monitor": (vip.monitor_interval, monitor_timeout),
        "start": ("0s", start_timeout(config)),
        "stop": ("0s", STOP_TIMEOUT),
    }


def desired_meta(config: Config) -> Dict[str, str]:
    """The meta attributes configure owns on each VIP (others are left alone)."""
    return {
        "resource-stickiness": str(config.resource_stickiness),
        "failure-timeout": failure_timeout(config),
    }


def meta_differs(name: str, current: Optional[str], wanted: str) -> bool:
    if current is None:
        return True
    if name == "failure-timeout":
        # "160", "160s" and "160000ms" are the same time to Pacemaker.
        return pacemaker.interval_ms(current) != pacemaker.interval_ms(wanted)
    return current != wanted


def _op_args(ops: Dict[str, Tuple[str, str]], names: Sequence[str]) -> List[str]:
    args: List[str] = []
    for name in names:
        interval, timeout = ops[name]
        args += ["op", name, "interval=" + interval, "timeout=" + timeout]
    return args


def _op_differs(current: Optional[pacemaker.Op], interval: str, timeout: str) -> bool:
    if current is None:
        return True
    if pacemaker.interval_ms(current.interval) != pacemaker.interval_ms(interval):
        return True
    return pacemaker.interval_ms(current.timeout) != pacemaker.interval_ms(timeout)


# ---------------------------------------------------------------- planning


def plan_vip(
    config: Config,
    vip: Vip,
    existing: Optional[pacemaker.Primitive],
    groups: Optional[Dict[str, List[str]]] = None,
) -> ObjectPlan:
    params = desired_params(config, vip)
    groups = groups or {}
    ops = desired_ops(config, vip)
    meta = desired_meta(config)
    if existing is None:
        argv = [settings.PCS, "resource", "create", vip.name, settings.AGENT_TYPE]
        argv += name_values(params)
        argv += _op_args(ops, ["monitor", "start", "stop"])
        argv += ["meta"] + name_values(meta)
        argv += vip_group.create_args(vip, groups)
        step = Step(
            vip.name,
            "create {} ({})".format(vip.name, vip.ip),
            argv,
            [[settings.PCS, "resource", "delete", vip.name]],
        )
        return ObjectPlan(vip.name, plan.CREATE, ["new resource"], [step])

    set_params, old_params, changes = param_changes(existing.params, params, MANAGED_PARAMS)
    changed_ops = [
        name for name in ("monitor", "start", "stop") if _op_differs(existing.op(name), *ops[name])
    ]
    monitors = [op for op in existing.ops if op.name == "monitor"]
    if len(monitors) > 1 and "monitor" not in changed_ops:
        changed_ops.insert(0, "monitor")
    for name in changed_ops:
        current = existing.op(name)
        changes.append(
            "op {}: {} -> interval={} timeout={}".format(
                name,
                "interval={} timeout={}".format(current.interval, current.timeout)
                if current
                else "(none)",
                *ops[name],
            )
        )
    steps: List[Step] = []
    if set_params or changed_ops:
        argv = [settings.PCS, "resource", "update", vip.name] + name_values(set_params)
        argv += _op_args(ops, changed_ops)
        undo_argv = [settings.PCS, "resource", "update", vip.name] + name_values(old_params)
        for name in changed_ops:
            current = existing.op(name)
            if current is not None:
                undo_argv += ["op", name, "interval=" + current.interval]
                if current.timeout:
                    undo_argv.append("timeout=" + current.timeout)
        steps.append(Step(vip.name, "update {}".format(vip.name), argv, [undo_argv]))
    for name, wanted in meta.items():
        old_value = existing.meta.get(name)
        if not meta_differs(name, old_value, wanted):
            continue
        changes.append("meta {}: {} -> {}".format(name, old_value or "(unset)", wanted))
        # An empty value removes the attribute again.
        undo = [settings.PCS, "resource", "meta", vip.name, "{}={}".format(name, old_value or "")]
        steps.append(
            Step(
                vip.name,
                "set {} of {}".format(name, vip.name),
                [settings.PCS, "resource", "meta", vip.name, "{}={}".format(name, wanted)],
                [undo],
            )
        )
    move = vip_group.move_step(vip, groups)
    if move:
        changes.append(move[0])
        steps.append(Step(vip.name, *move))
    return ObjectPlan(vip.name, plan.UPDATE if steps else plan.UNCHANGED, changes, steps)


def _defaults_argv(value: str, pcs_version: Tuple[int, ...]) -> List[str]:
    return stack.resource_defaults_argv(pcs_version, value)


DEFAULTS_NAME = "cluster-wide default resource-stickiness"


def plan_defaults(
    config: Config, pcs_version: Tuple[int, ...], current: Dict[str, str]
) -> ObjectPlan:
    """The cluster-wide stickiness, for --set-defaults."""
    wanted = str(config.resource_stickiness)
    old = current.get("resource-stickiness")
    if old == wanted:
        return ObjectPlan(DEFAULTS_NAME, plan.UNCHANGED, [], [])
    value = "resource-stickiness=" + wanted
    # An empty value removes the default again.
    undo = _defaults_argv("resource-stickiness=" + (old or ""), pcs_version)
    step = Step(
        "", "set the cluster-wide default " + value, _defaults_argv(value, pcs_version), [undo]
    )
    change = "resource-stickiness: {} -> {}".format(old or "(unset)", wanted)
    return ObjectPlan(DEFAULTS_NAME, plan.SET, [change], [step])


class _Cluster(NamedTuple):
    primitives: Dict[str, pacemaker.Primitive]
    pcs_version: Tuple[int, ...]
    resource_defaults: Dict[str, str]
    # For --fencing: every CIB id, and whether STONITH is enabled already.
    element_ids: Dict[str, str] = {}
    stonith_enabled: bool = False
    # Group id -> its members in order (vips[].group).
    groups: Dict[str, List[str]] = {}
    skipped: List[str] = []
    fencing_option: str = stack.STONITH_ENABLED


def _preflight(env: Env, config: Config) -> _Cluster:
    runner = env.runner
    version = pacemaker.pcs_version(runner)
    live = None if env.cib_file else pacemaker.cluster_status(runner)
    cib = pacemaker.configuration(runner)
    status = live or cib_file.status(cib)
    problems = []
    if not pacemaker.agent_installed():
        problems.append(
            reports.item(
                reports.AGENT_NOT_INSTALLED,
                "the agent {} is not installed on this node ({})".format(
                    settings.AGENT_TYPE, pacemaker.agent_path()
                ),
                "install pcs-oci on every node: yum install pcs-oci",
            )
        )
    cluster_nodes = {n.name.lower() for n in status.nodes}
    for node in config.nodes if status.nodes or not env.cib_file else []:
        if node.hostname.lower() not in cluster_nodes:
            problems.append(
                reports.item(
                    reports.NODE_NOT_IN_CONFIG,
                    "node {} of the config is not a cluster node (the cluster has: {})".format(
                        node.hostname, ", ".join(sorted(n.name for n in status.nodes)) or "none"
                    ),
                    "use the names `crm_node -l` prints in the config's nodes[].hostname",
                )
            )
    existing = pacemaker.primitives_in(cib)
    ids = pacemaker.element_ids(cib)
    problems += vip_group.problems(config, ids)
    for vip in config.vips:
        found = existing.get(vip.name)
        if found is None and vip.name in ids:
            # pcs would refuse the create midway: ids are unique CIB-wide.
            problems.append(
                reports.item(
                    reports.RESOURCE_NOT_OURS,
                    "the id {} is already used by a {} in the CIB".format(vip.name, ids[vip.name]),
                    "rename the VIP in the config, or remove that {} (`pcs config` shows "
                    "it)".format(ids[vip.name]),
                )
            )
        if found is not None and found.agent != settings.AGENT_TYPE:
            problems.append(
                reports.item(
                    reports.RESOURCE_NOT_OURS,
                    "resource {} exists as {}, not {}".format(
                        vip.name, found.agent, settings.AGENT_TYPE
                    ),
                    "rename the VIP in the config, or replace the resource: "
                    "`pcs resource delete {}` then `pcs-oci configure`".format(vip.name),
                )
            )
    if problems:
        raise PcsOciError(*problems, exit_code=exit_codes.PRECONDITION)
    skipped = list(cib_file.CONFIGURE_SKIPS) if env.cib_file else []
    return _Cluster(
        existing,
        version,
        pacemaker.resource_defaults(cib),
        ids,
        status.stonith_enabled,
        vip_group.groups_in(cib),
        skipped,
        status.fencing_option,
    )


def configure(
    env: Env, dry_run: bool = False, set_defaults: bool = False, fencing: bool = False
) -> ClusterPlan:
    config = env.load_config()
    cluster = _preflight(env, config)
    fence_plans: List[ObjectPlan] = []
    if fencing:
        problems = fencing_lib.preflight(config, cluster.primitives, cluster.element_ids)
        if problems:
            raise PcsOciError(*problems, exit_code=exit_codes.PRECONDITION)
        fence_plans = fencing_lib.plan_devices(
            config, cluster.primitives, cluster.stonith_enabled, cluster.fencing_option
        )
    plans = [
        plan_vip(config, vip, cluster.primitives.get(vip.name), cluster.groups)
        for vip in config.vips
    ]
    defaults = None
    if set_defaults:
        defaults = plan_defaults(config, cluster.pcs_version, cluster.resource_defaults)
    if env.cib_file:
        plans = cib_file.plans(plans, env.cib_file)
        fence_plans = cib_file.plans(fence_plans, env.cib_file)
        if defaults:
            defaults = cib_file.plans([defaults], env.cib_file)[0]
    result = ClusterPlan(
        plans,
        applied=not dry_run,
        defaults=defaults,
        fencing=fence_plans,
        skipped=cluster.skipped,
    )
    if not dry_run:
        plan.apply(env.runner, result.steps)
    return result


def unconfigure(env: Env, names: Sequence[str], dry_run: bool = False) -> List[Step]:
    """Delete VIP resources that pcs-oci manages (ocf:oci:IPaddr2 only)."""
    if not env.cib_file:
        pacemaker.cluster_status(env.runner)
    existing = pacemaker.primitives(env.runner)
    problems = []
    for name in names:
        found = existing.get(name)
        if found is None:
            problems.append(
                reports.item(
                    reports.RESOURCE_NOT_FOUND,
                    "resource {} does not exist".format(name),
                    "`pcs resource status` lists the resources",
                )
            )
        elif found.agent != settings.AGENT_TYPE:
            problems.append(
                reports.item(
                    reports.RESOURCE_NOT_OURS,
                    "resource {} is {}, not {}: pcs-oci does not delete it".format(
                        name, found.agent, settings.AGENT_TYPE
                    ),
                    "delete it with pcs if you mean to",
                )
            )
    if problems:
        raise PcsOciError(*problems, exit_code=exit_codes.PRECONDITION)
    steps = [
        Step(n, "delete {}".format(n), [settings.PCS, "resource", "delete", n], []) for n in names
    ]
    if env.cib_file:
        steps = [cib_file.step(s, env.cib_file) for s in steps]
    if not dry_run:
        plan.apply(env.runner, steps)
    return steps
