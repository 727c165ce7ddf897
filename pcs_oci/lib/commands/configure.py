"""`pcs-oci configure` and `unconfigure`: make the cluster's VIP resources match the config.

Everything is checked before anything changes (config, pcs, a running
cluster, the agent on this node, no foreign resource under a VIP's name);
then each VIP gets one `pcs resource create`, or the few `pcs resource
update` / `meta` commands that change only what differs. A running VIP is
never deleted and re-created. If a command fails midway, the error says
which step, what was applied and how to finish or roll back.
"""

import math
import re
import shlex
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

from pcs_oci import settings
from pcs_oci.agent.handlers import IPADDR2_RESERVE_SECONDS
from pcs_oci.agent.params import OCI_PARAMETER_NAMES, OCI_PARAMETERS
from pcs_oci.common import exit_codes, reports
from pcs_oci.lib import pacemaker, stack
from pcs_oci.lib.config import Config, Vip
from pcs_oci.lib.env import Env
from pcs_oci.lib.errors import ClusterError, PcsOciError
from pcs_oci.lib.runner import Result

# Parameters configure owns; any other IPaddr2 parameter an admin set by hand
# (arp_count, iflabel ...) is left alone.
MANAGED_PARAMS = ["ip", "cidr_netmask", "nic"] + OCI_PARAMETER_NAMES
PARAM_DEFAULTS = {p.name: p.default for p in OCI_PARAMETERS}
STOP_TIMEOUT = "20s"
MONITOR_TIMEOUT = "20s"
MONITOR_API_TIMEOUT = "40s"


class Step(NamedTuple):
    vip: str
    description: str
    argv: List[str]
    # Commands that undo this step, for the rollback advice.
    undo: List[List[str]]

    @property
    def command(self) -> str:
        return " ".join(shlex.quote(a) for a in self.argv)


class VipPlan(NamedTuple):
    name: str
    action: str  # "create", "update" or "unchanged"
    changes: List[str]
    steps: List[Step]


class ConfigureResult(NamedTuple):
    vips: List[VipPlan]
    extra_steps: List[Step]
    applied: bool
    # --set-defaults: "set", "unchanged", or "" when not asked for.
    defaults_action: str = ""
    # --fencing: the fence_oci devices, then stonith-enabled (stonith.py).
    fencing: List["VipPlan"] = []

    @property
    def steps(self) -> List[Step]:
        fence_steps = [s for f in self.fencing for s in f.steps]
        return [s for v in self.vips for s in v.steps] + self.extra_steps + fence_steps


# ---------------------------------------------------------------- desired state


def _ceil10(seconds: float) -> int:
    return int(math.ceil(seconds / 10.0) * 10)


def start_timeout(config: Config) -> str:
    """Long enough for the agent's worst case at the configured API timeout."""
    from pcs_oci.lib.oci_api import OciSettings, worst_case_seconds

    worst = worst_case_seconds(OciSettings(auth=config.oci.auth, timeout=config.oci.timeout))
    return "{}s".format(_ceil10(worst + IPADDR2_RESERVE_SECONDS + 5))


def desired_params(config: Config, vip: Vip) -> Dict[str, str]:
    params = {"ip": vip.ip}
    if vip.cidr_netmask is not None:
        params["cidr_netmask"] = str(vip.cidr_netmask)
    if vip.nic:
        params["nic"] = vip.nic
    vnic_ids = ",".join("{}={}".format(n.hostname, n.vnic_id) for n in config.nodes if n.vnic_id)
    if vnic_ids:
        params["vnic_ids"] = vnic_ids
    oci = config.oci
    if oci.auth != PARAM_DEFAULTS["auth"]:
        params["auth"] = oci.auth
        params["oci_config_file"] = oci.config_file or PARAM_DEFAULTS["oci_config_file"]
        params["oci_profile"] = oci.profile or PARAM_DEFAULTS["oci_profile"]
    for key in ("region", "endpoint", "proxy"):
        value = getattr(oci, key)
        if value:
            params[key] = value
    if str(oci.timeout) != PARAM_DEFAULTS["api_timeout"]:
        params["api_timeout"] = str(oci.timeout)
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


_UNITS = {
    "": 1000,
    "s": 1000,
    "sec": 1000,
    "ms": 1,
    "msec": 1,
    "us": 0.001,
    "usec": 0.001,
    "m": 60000,
    "min": 60000,
    "h": 3600000,
    "hr": 3600000,
}


def interval_ms(text: Optional[str]) -> Optional[float]:
    match = re.fullmatch(r"\s*(\d+)\s*([a-z]*)\s*", text or "")
    if not match or match.group(2) not in _UNITS:
        return None
    return int(match.group(1)) * _UNITS[match.group(2)]


def _op_args(ops: Dict[str, Tuple[str, str]], names: Sequence[str]) -> List[str]:
    args: List[str] = []
    for name in names:
        interval, timeout = ops[name]
        args += ["op", name, "interval=" + interval, "timeout=" + timeout]
    return args


def _kv(values: Dict[str, str]) -> List[str]:
    return ["{}={}".format(k, v) for k, v in values.items()]


def _op_differs(current: Optional[pacemaker.Op], interval: str, timeout: str) -> bool:
    if current is None:
        return True
    if interval_ms(current.interval) != interval_ms(interval):
        return True
    return interval_ms(current.timeout) != interval_ms(timeout)


# ---------------------------------------------------------------- planning


def param_changes(
    current: Dict[str, str], wanted: Dict[str, str], managed: Sequence[str]
) -> Tuple[Dict[str, str], Dict[str, str], List[str]]:
    """(values to set, their old values for the rollback, human-readable changes).

    A managed parameter that is no longer wanted is unset (set to ""); one
    that configure does not manage is left as the admin set it.
    """
    set_params: Dict[str, str] = {}
    old_params: Dict[str, str] = {}
    changes: List[str] = []
    for key, value in wanted.items():
        if current.get(key) != value:
            set_params[key] = value
            old_params[key] = current.get(key, "")
            changes.append("{}: {} -> {}".format(key, current.get(key, "(unset)"), value))
    for key in managed:
        if key in current and key not in wanted:
            set_params[key] = ""
            old_params[key] = current[key]
            changes.append("{}: {} -> (unset)".format(key, current[key]))
    return set_params, old_params, changes


def plan_vip(config: Config, vip: Vip, existing: Optional[pacemaker.Primitive]) -> VipPlan:
    params = desired_params(config, vip)
    ops = desired_ops(config, vip)
    stickiness = str(config.resource_stickiness)
    if existing is None:
        argv = [settings.PCS, "resource", "create", vip.name, settings.AGENT_TYPE]
        argv += _kv(params)
        argv += _op_args(ops, ["monitor", "start", "stop"])
        argv += ["meta", "resource-stickiness=" + stickiness]
        step = Step(
            vip.name,
            "create {} ({})".format(vip.name, vip.ip),
            argv,
            [[settings.PCS, "resource", "delete", vip.name]],
        )
        return VipPlan(vip.name, "create", ["new resource"], [step])

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
        argv = [settings.PCS, "resource", "update", vip.name] + _kv(set_params)
        argv += _op_args(ops, changed_ops)
        undo_argv = [settings.PCS, "resource", "update", vip.name] + _kv(old_params)
        for name in changed_ops:
            current = existing.op(name)
            if current is not None:
                undo_argv += ["op", name, "interval=" + current.interval]
                if current.timeout:
                    undo_argv.append("timeout=" + current.timeout)
        steps.append(Step(vip.name, "update {}".format(vip.name), argv, [undo_argv]))
    if existing.meta.get("resource-stickiness") != stickiness:
        old = existing.meta.get("resource-stickiness", "")
        changes.append("meta resource-stickiness: {} -> {}".format(old or "(unset)", stickiness))
        steps.append(
            Step(
                vip.name,
                "set resource-stickiness of {}".format(vip.name),
                [settings.PCS, "resource", "meta", vip.name, "resource-stickiness=" + stickiness],
                [[settings.PCS, "resource", "meta", vip.name, "resource-stickiness=" + old]],
            )
        )
    return VipPlan(vip.name, "update" if steps else "unchanged", changes, steps)


def _defaults_argv(value: str, pcs_version: Tuple[int, ...]) -> List[str]:
    return stack.resource_defaults_argv(pcs_version, value)


def _defaults_step(
    config: Config, pcs_version: Tuple[int, ...], current: Dict[str, str]
) -> Optional[Step]:
    """The step setting the cluster-wide stickiness, None when it already has that value."""
    wanted = str(config.resource_stickiness)
    old = current.get("resource-stickiness")
    if old == wanted:
        return None
    value = "resource-stickiness=" + wanted
    # An empty value removes the default again.
    undo = _defaults_argv("resource-stickiness=" + (old or ""), pcs_version)
    return Step(
        "", "set the cluster-wide default " + value, _defaults_argv(value, pcs_version), [undo]
    )


class _Cluster(NamedTuple):
    primitives: Dict[str, pacemaker.Primitive]
    pcs_version: Tuple[int, ...]
    resource_defaults: Dict[str, str]
    # For --fencing: every CIB id, and whether STONITH is enabled already.
    element_ids: Dict[str, str] = {}
    stonith_enabled: bool = False
    fencing_option: str = stack.STONITH_ENABLED


def _preflight(env: Env, config: Config) -> _Cluster:
    runner = env.runner
    version = pacemaker.pcs_version(runner)
    status = pacemaker.cluster_status(runner)
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
    for node in config.nodes:
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
    cib = pacemaker.configuration(runner)
    existing = pacemaker.primitives_in(cib)
    ids = pacemaker.element_ids(cib)
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
    return _Cluster(
        existing,
        version,
        pacemaker.resource_defaults(cib),
        ids,
        status.stonith_enabled,
        status.fencing_option,
    )


def configure(
    env: Env, dry_run: bool = False, set_defaults: bool = False, fencing: bool = False
) -> ConfigureResult:
    config = env.load_config()
    cluster = _preflight(env, config)
    fence_plans: List[VipPlan] = []
    if fencing:
        from pcs_oci.lib.commands import stonith

        problems = stonith.check(config, cluster.primitives, cluster.element_ids)
        if problems:
            raise PcsOciError(*problems, exit_code=exit_codes.PRECONDITION)
        fence_plans = stonith.plan(
            config, cluster.primitives, cluster.stonith_enabled, cluster.fencing_option
        )
    plans = [plan_vip(config, vip, cluster.primitives.get(vip.name)) for vip in config.vips]
    extra: List[Step] = []
    defaults_action = ""
    if set_defaults:
        step = _defaults_step(config, cluster.pcs_version, cluster.resource_defaults)
        extra = [step] if step else []
        defaults_action = "set" if step else "unchanged"
    result = ConfigureResult(
        plans, extra, applied=not dry_run, defaults_action=defaults_action, fencing=fence_plans
    )
    if not dry_run:
        _apply(env, result.steps)
    return result


def _apply(env: Env, steps: List[Step]) -> None:
    done: List[Step] = []
    for index, step in enumerate(steps, 1):
        outcome = env.runner.run(step.argv, timeout=120)
        if not outcome.ok:
            applied = "; ".join(s.description for s in done) or "nothing"
            undo = [" ".join(shlex.quote(a) for a in u) for s in reversed(done) for u in s.undo]
            hint = "fix the cause and run `pcs-oci configure` again: it does only what is left"
            if undo:
                hint += "; or roll back with: " + " && ".join(undo)
            raise ClusterError(
                reports.item(
                    reports.CONFIGURE_STEP_FAILED,
                    "step {}/{} ({}) failed: {}; already applied: {}".format(
                        index, len(steps), step.description, pcs_error(outcome), applied
                    ),
                    hint,
                )
            )
        done.append(step)


def pcs_error(outcome: Result) -> str:
    """The line of a failed pcs run that says why (pcs prints warnings first)."""
    lines = [line.strip() for line in outcome.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("Error:") and line != _PCS_TRAILER]
    return (
        (errors or lines or [""])[0]
        or reports.first_line(outcome.stdout)
        or "exit {}".format(outcome.returncode)
    )


_PCS_TRAILER = "Error: Errors have occurred, therefore pcs is unable to continue"


def unconfigure(env: Env, names: Sequence[str], dry_run: bool = False) -> List[Step]:
    """Delete VIP resources that pcs-oci manages (ocf:oci:IPaddr2 only)."""
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
    if not dry_run:
        _apply(env, steps)
    return steps
