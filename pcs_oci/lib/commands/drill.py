"""`pcs-oci drill`: rehearse a failover of each VIP on the live cluster, and time it.

A drill is refused unless the cluster is healthy: every node online, quorum,
no failed actions, no earlier move or ban constraint on the VIP, and the VIP
running on one node with Pacemaker, this node's OS and OCI agreeing (what
`pcs-oci status` checks). Then each VIP is moved to another node with a
location constraint that expires by itself (see pcs_oci.lib.moves), every
phase of the failover is timed (pcs_oci.lib.failover_watch), and the
constraint is cleared; with `back`, the VIP is moved back the same way.

Whatever stops a drill midway, the constraint is cleared before the error
goes up: an exception, Ctrl-C, or SIGTERM (which the CLI turns into
KeyboardInterrupt). Only SIGKILL or a crash of the node skips that, and then
the constraint's lifetime ends the pin.
"""

import shlex
import time
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence

from pcs_oci.common import exit_codes, reports
from pcs_oci.common.reports import ReportItem
from pcs_oci.lib import moves, pacemaker
from pcs_oci.lib.config import Config, Vip
from pcs_oci.lib.env import Env
from pcs_oci.lib.errors import PcsOciError
from pcs_oci.lib.failover_watch import FailoverWatch, Move, Phase, with_op_times

DEFAULT_TIMEOUT = 120
# How long `pcs resource clear --wait` may wait for the cluster to settle.
SETTLE_SECONDS = 60


class Leg(NamedTuple):
    """One move of one VIP, planned (dry run) or done."""

    vip: str
    ip: str
    source: str
    target: str
    # The commands that move it and clear the constraint, as a shell takes them.
    commands: List[str]
    ok: bool = True
    problem: Optional[str] = None
    # How long pcs took to place the constraint, and from then until the VIP
    # was seen everywhere on the new node (ping included when it answered).
    request_ms: Optional[int] = None
    failover_ms: Optional[int] = None
    phases: Optional[List[Phase]] = None
    cleared: Optional[bool] = None
    # Where the VIP runs once the constraint is gone and the cluster settled.
    stayed_on: Optional[List[str]] = None
    # The VNIC OCI assigned the private IP to (None: not seen).
    vnic_id: Optional[str] = None

    def to_dict(self) -> Dict[str, Any]:
        return {
            "from": self.source,
            "to": self.target,
            "ok": self.ok,
            "problem": self.problem,
            "request_ms": self.request_ms,
            "failover_ms": self.failover_ms,
            "phases": None
            if self.phases is None
            else {
                p.name: {"title": p.title, "at_ms": p.at_ms, "op_ms": p.op_ms, "how": p.how}
                for p in self.phases
            },
            "oci_vnic_id": self.vnic_id,
            "constraint_cleared": self.cleared,
            "running_on_after": self.stayed_on,
            "commands": self.commands,
        }


class DrillResult(NamedTuple):
    dry_run: bool
    local_node: str
    # "pcs resource move-with-constraint" (pcs 0.11, 0.12) or "pcs resource move" (0.10)
    move_command: str
    lifetime_seconds: int
    legs: List[Leg]
    # VIPs whose back leg was not run, with why.
    skipped: List[str]

    @property
    def ok(self) -> bool:
        return all(leg.ok for leg in self.legs)

    def to_dict(self) -> Dict[str, Any]:
        vips: List[Dict[str, Any]] = []
        for leg in self.legs:
            if not vips or vips[-1]["name"] != leg.vip:
                vips.append({"name": leg.vip, "ip": leg.ip, "legs": []})
            vips[-1]["legs"].append(leg.to_dict())
        return {
            "ok": self.ok,
            "dry_run": self.dry_run,
            "local_node": self.local_node,
            "move_command": self.move_command,
            "lifetime_seconds": self.lifetime_seconds,
            "vips": vips,
            "skipped": self.skipped,
        }


class PlannedVip(NamedTuple):
    vip: Vip
    holder: str
    target: str
    # The VNIC OCI assigns the VIP to now (status checked it is the holder's).
    holder_vnic: str


class DrillPlan(NamedTuple):
    config: Config
    local_node: str
    verb: str
    timeout: int
    back: bool
    vips: List[PlannedVip]


# ---------------------------------------------------------------- refusing


def _refusal(message: str, fix: str) -> ReportItem:
    return reports.item(reports.DRILL_NOT_SAFE, message, fix)


def _usage(message: str, fix: str) -> PcsOciError:
    return PcsOciError(
        reports.item(reports.USAGE_INVALID_ARGUMENT, message, fix), exit_code=exit_codes.USAGE
    )


def _select(config: Config, names: Sequence[str], path: str) -> List[Vip]:
    known = [v.name for v in config.vips]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise _usage(
            "no VIP named {} in {}".format(", ".join(unknown), path),
            "name one of: {}".format(", ".join(known)),
        )
    return [v for v in config.vips if not names or v.name in names]


def _cluster_problems(cluster: pacemaker.ClusterStatus) -> List[ReportItem]:
    problems = []
    offline = [n.name for n in cluster.nodes if not n.online]
    if offline:
        problems.append(
            _refusal(
                "node {} is offline".format(", ".join(offline)),
                "start the cluster there (`pcs cluster start {}`) and wait until "
                "`pcs status` shows every node online".format(offline[0]),
            )
        )
    if not cluster.have_quorum:
        problems.append(
            _refusal("the cluster has no quorum", "bring the missing nodes back (pcs status)")
        )
    if cluster.failures:
        failed = sorted(
            {"{} on {}".format(f.get("op_key", "?"), f.get("node", "?")) for f in cluster.failures}
        )
        problems.append(
            _refusal(
                "failed actions: {}".format(", ".join(failed)),
                "fix their cause, then `pcs resource cleanup`",
            )
        )
    return problems


def _vip_problems(vip: Vip, state: Any, pinned: List[str]) -> List[ReportItem]:
    name = vip.name
    if state is None or state.pacemaker_state == "not configured":
        return [_refusal("{} is not a cluster resource".format(name), "run `pcs-oci configure`")]
    problems = []
    if len(state.pacemaker_nodes) != 1 or state.pacemaker_state != "Started":
        problems.append(
            _refusal(
                "{} is {} on {} node(s)".format(
                    name, state.pacemaker_state, len(state.pacemaker_nodes)
                ),
                "a drill needs it Started on one node: `pcs resource cleanup {}`, "
                "`pcs-oci status`".format(name),
            )
        )
    for problem in state.problems:
        problems.append(
            _refusal(
                "{}: {}".format(name, problem.message), "`pcs-oci status` and `pcs-oci verify`"
            )
        )
    if state.oci_error:
        problems.append(
            _refusal(
                "{}: OCI's view is unknown: {}".format(name, state.oci_error.message),
                "`pcs-oci verify` names the fix",
            )
        )
    if pinned:
        problems.append(
            _refusal(
                "{} is pinned by {} (an earlier move or ban)".format(name, ", ".join(pinned)),
                "`pcs resource clear {}` if the pin is no longer wanted".format(name),
            )
        )
    return problems


def _target(
    config: Config,
    cluster: pacemaker.ClusterStatus,
    vip: str,
    holder: str,
    to: Optional[str],
) -> Any:
    """(target, problem): where the VIP goes, or why it cannot go anywhere."""
    nodes = {n.name: n for n in cluster.nodes}
    if to is not None:
        state = nodes.get(to)
        if to == holder:
            return None, _refusal(
                "{} already runs on {}".format(vip, to), "name another node with --to"
            )
        if state is None:
            return None, _refusal(
                "{} is not a cluster node (crm_mon knows {})".format(to, ", ".join(nodes)),
                "use the node name `crm_node -l` prints",
            )
        if state.standby:
            return None, _refusal(
                "{} is in standby".format(to), "`pcs node unstandby {}`".format(to)
            )
        return to, None
    for node in config.nodes:
        state = nodes.get(node.hostname)
        if node.hostname != holder and state is not None and state.online and not state.standby:
            return node.hostname, None
    return None, _refusal(
        "no other node can take {}: every other node of the config is offline, in standby "
        "or not in the cluster".format(vip),
        "`pcs status` shows the nodes",
    )


def prepare(
    env: Env,
    names: Sequence[str] = (),
    to: Optional[str] = None,
    back: bool = False,
    timeout: int = DEFAULT_TIMEOUT,
) -> DrillPlan:
    """Every check before a drill; PcsOciError (exit 3) with every reason to refuse."""
    from pcs_oci.lib.commands.status import status

    config = env.load_config()
    selected = _select(config, names, env.config_path)
    if to is not None:
        node = config.node(to)
        if node is None:
            raise _usage(
                "--to {}: not a node of {}".format(to, env.config_path),
                "name one of: {}".format(", ".join(n.hostname for n in config.nodes)),
            )
        to = node.hostname
    seen = status(env)
    states = {v.name: v for v in seen.vips}
    cluster = pacemaker.cluster_status(env.runner)
    pinned = moves.move_constraints(env.runner)
    problems = _cluster_problems(cluster)
    planned = []
    for vip in selected:
        state = states.get(vip.name)
        found = _vip_problems(vip, state, pinned.get(vip.name, []))
        if not found and state is not None and state.oci_vnic_id:
            target, problem = _target(config, cluster, vip.name, state.pacemaker_nodes[0], to)
            if problem is not None:
                found.append(problem)
            else:
                planned.append(PlannedVip(vip, state.pacemaker_nodes[0], target, state.oci_vnic_id))
        problems += found
    if problems:
        raise PcsOciError(*problems, exit_code=exit_codes.PRECONDITION)
    verb = moves.installed_move_verb(env.runner)
    return DrillPlan(config, seen.local_node, verb, int(timeout), back, planned)


# ---------------------------------------------------------------- drilling


def _shell(argv: Sequence[str]) -> str:
    return " ".join(shlex.quote(a) for a in argv)


def _commands(plan: DrillPlan, rsc: str, target: str) -> List[str]:
    return [
        _shell(moves.move_argv(plan.verb, rsc, target, plan.timeout)),
        _shell(moves.clear_argv(rsc, SETTLE_SECONDS)),
    ]


def _expiry(started_epoch: float, seconds: int) -> str:
    return time.strftime("%H:%M:%S UTC", time.gmtime(started_epoch + seconds))


def _cleanup(env: Env, rsc: str, started_epoch: float, seconds: int) -> ReportItem:
    """Clear the drill's constraint after a failure; what became of it, as a report."""
    try:
        moves.clear(env.runner, rsc)
        return reports.item(
            reports.DRILL_INTERRUPTED,
            "the drill's move constraint on {} was removed".format(rsc),
            "`pcs-oci status` shows where it runs now",
        )
    except PcsOciError as e:
        return reports.item(
            reports.DRILL_INTERRUPTED,
            "the drill's move constraint on {} could not be removed ({}); it expires by "
            "itself at {}".format(rsc, e.reports[0].render(), _expiry(started_epoch, seconds)),
            "`pcs resource clear {}` removes it now".format(rsc),
        )


class _Clocks(NamedTuple):
    monotonic: Callable[[], float]
    sleep: Callable[[float], None]
    wall: Callable[[], float]


def _leg(
    env: Env,
    plan: DrillPlan,
    move: Move,
    api: Any,
    subnet_id: str,
    clocks: _Clocks,
) -> Leg:
    """One move, timed; its constraint is gone when this returns or raises."""
    started_epoch = clocks.wall()
    try:
        return _timed_move(env, plan, move, api, subnet_id, clocks, started_epoch)
    except KeyboardInterrupt:
        outcome = _cleanup(env, move.rsc, started_epoch, plan.timeout)
        raise PcsOciError(
            reports.item(
                reports.DRILL_INTERRUPTED,
                "interrupted while moving {} from {} to {}".format(
                    move.rsc, move.source, move.target
                ),
            ),
            outcome,
            exit_code=exit_codes.INTERRUPTED,
        ) from None
    except PcsOciError as e:
        outcome = _cleanup(env, move.rsc, started_epoch, plan.timeout)
        raise PcsOciError(*e.reports, outcome, exit_code=e.exit_code) from None
    except BaseException:
        _cleanup(env, move.rsc, started_epoch, plan.timeout)
        raise


def _timed_move(
    env: Env,
    plan: DrillPlan,
    move: Move,
    api: Any,
    subnet_id: str,
    clocks: _Clocks,
    started_epoch: float,
) -> Leg:
    from pcs_oci.lib.commands.status import local_addresses

    rsc = move.rsc
    t0 = clocks.monotonic()
    moves.move(env.runner, plan.verb, rsc, move.target, plan.timeout)
    request_ms = int(round((clocks.monotonic() - t0) * 1000))
    watched = FailoverWatch(
        env.runner,
        lambda: local_addresses(env),
        move,
        api,
        subnet_id,
        plan.timeout,
        clocks.monotonic,
        clocks.sleep,
    ).watch()
    # The normal end: clear, and let the cluster settle, which shows whether
    # the VIP stays on its new node without the constraint.
    try:
        moves.clear(env.runner, rsc, wait=SETTLE_SECONDS)
        cleared = True
    except PcsOciError:
        cleared = rsc not in moves.move_constraints(env.runner)
    running = pacemaker.cluster_status(env.runner).resources.get(rsc)
    phases = with_op_times(watched.phases, env.runner, move, started_epoch)
    seen = [p.at_ms for p in phases if p.at_ms is not None]
    return Leg(
        vip=rsc,
        ip=move.ip,
        source=move.source,
        target=move.target,
        commands=_commands(plan, rsc, move.target),
        ok=watched.problem is None,
        problem=watched.problem,
        request_ms=request_ms,
        failover_ms=max(seen) if watched.problem is None and seen else None,
        phases=phases,
        cleared=cleared,
        stayed_on=running.active_on if running is not None else [],
        vnic_id=watched.vnic_id,
    )


def drill(
    env: Env,
    plan: DrillPlan,
    dry_run: bool = False,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    wall: Callable[[], float] = time.time,
) -> DrillResult:
    try:
        return _drill(env, plan, dry_run, _Clocks(clock, sleep, wall))
    except KeyboardInterrupt:
        # Not inside a move (those clear their constraint and say so).
        raise PcsOciError(
            reports.item(
                reports.DRILL_INTERRUPTED,
                "interrupted outside a move",
                "no constraint of the drill is in place; `pcs-oci status` shows the VIPs",
            ),
            exit_code=exit_codes.INTERRUPTED,
        ) from None


def _drill(env: Env, plan: DrillPlan, dry_run: bool, clocks: _Clocks) -> DrillResult:
    legs: List[Leg] = []
    skipped: List[str] = []
    api = None
    for p in plan.vips:
        route = [(p.holder, p.target)] + ([(p.target, p.holder)] if plan.back else [])
        if dry_run:
            for source, target in route:
                legs.append(
                    Leg(p.vip.name, p.vip.ip, source, target, _commands(plan, p.vip.name, target))
                )
            continue
        if api is None:
            api = env.oci_api(plan.config.oci)
        with api.budget():
            subnet_id = str(api.get_vnic(p.holder_vnic)["subnet_id"])
        vnics: Dict[str, Optional[str]] = {n.hostname: n.vnic_id for n in plan.config.nodes}
        vnics[p.holder] = p.holder_vnic
        for source, target in route:
            if legs and legs[-1].vip == p.vip.name and legs[-1].stayed_on != [source]:
                skipped.append(
                    "{}: not moved back: it runs on {} after the drill, not on {}".format(
                        p.vip.name, ", ".join(legs[-1].stayed_on or []) or "no node", source
                    )
                )
                break
            move = Move(
                p.vip.name,
                p.vip.ip,
                source,
                target,
                plan.local_node,
                vnics.get(source),
                vnics.get(target),
            )
            leg = _leg(env, plan, move, api, subnet_id, clocks)
            legs.append(leg)
            if not leg.ok:
                return DrillResult(
                    False, plan.local_node, "pcs resource " + plan.verb, plan.timeout, legs, skipped
                )
            vnics[target] = leg.vnic_id or vnics.get(target)
    return DrillResult(
        dry_run, plan.local_node, "pcs resource " + plan.verb, plan.timeout, legs, skipped
    )
