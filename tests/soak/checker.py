"""The invariants, as pure functions over the sampler's ticks and the runner's records.

1. OCI never shows a VIP on more than one VNIC, and never on the VNIC of a
   node that has been fenced or cleanly stopped for longer than the VIP's
   start timeout while the cluster could move it (quorum: two healthy nodes;
   the cloud answering: no API, metadata or auth fault). Without quorum or
   without the cloud nobody can move it, by design.
2. Outside a partition, no VIP address is on two nodes' interfaces at once for
   longer than one monitor interval. A partition lasts from the isolation
   until the healed membership has had time to stop a second copy (heal +
   token + consensus + dc-deadtime + stop timeout).
3. Within T of the final heal every VIP is active on exactly one node (its
   group with it), its address on that node only, OCI assigning it to that
   node's VNIC, a client on the switch reaching it; and it stays so.
4. No failback: a VIP never leaves a holder that stayed healthy (running,
   not cut off, with quorum) for a node that returned (was down, hung, cut
   off or stopped since the holder took it), unless the schedule moved it
   there (until its `pcs resource clear` plus the start timeout: a start
   under way still lands) or it failed on the holder.
5. Nothing leaks: at the end no file in a node's /run/pcs-oci makes it
   believe it runs a VIP it does not hold (a monitor_api answer, in the .fresh
   file or the state file's check keys, only on the holder), nothing there we
   do not know; no private IP in OCI beyond the nodes' and the VIPs', no agent
   or fence agent process older than its timeout at any time, nothing of the
   lab left after the teardown. What issue 13 keeps on purpose on every node
   claims nothing: the node cache (this node's VNIC, the subnet, the VIP's
   OCID: where to write, not who holds it) and the session directory.

Only fresh evidence counts against the cluster: a crm_mon answer older than
samples.CRM_FRESH_S or an unanswered OCI view makes a tick "unknown", never a
violation (the sampler, not the cluster, was slow).
"""

from typing import Any, Dict, List, Mapping, NamedTuple, Optional, Sequence, Set, Tuple

from tests.soak import samples as S
from tests.soak.samples import Tick, Window
from tests.soak.timing import Timing

POWER_OFF_ACTIONS = ("STOP", "SOFTSTOP", "RESET", "SOFTRESET")
# Slack (s) around a holder's last tick when asking whether it was disturbed.
DISTURB_SLACK_S = 5.0
# Beyond its op timeout, an agent process must be gone within this (execd kills it).
PROCESS_GRACE_S = 15.0


class Context(NamedTuple):
    nodes: Sequence[str]
    # VIP -> the resources that must run with it (itself first; its group's members).
    groups: Mapping[str, Sequence[str]]
    # VIP -> the resource `pcs resource move` moves (the group, when it is in one).
    movable: Mapping[str, str]
    instance_node: Mapping[str, str]
    timing: Timing
    t_start: float
    t_healed: Optional[float]
    t_end: float
    expected_private_ips: int
    teardown_leftovers: Sequence[str] = ()


def _v(
    invariant: str,
    kind: str,
    t: float,
    detail: str,
    tick: Optional[Tick],
    vip: Optional[str] = None,
    node: Optional[str] = None,
) -> Dict[str, Any]:
    return {
        "invariant": invariant,
        "kind": kind,
        "t": round(t, 3),
        "vip": vip,
        "node": node,
        "detail": detail,
        "sources": S.evidence(tick, vip),
    }


def _runs(ticks: Sequence[Tick], flags: Sequence[bool]) -> List[Tuple[int, int]]:
    """Maximal runs of consecutive ticks whose flag is set, as (first, last) indexes."""
    out, start = [], None
    for i, flag in enumerate(flags):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            out.append((start, i - 1))
            start = None
    if start is not None:
        out.append((start, len(flags) - 1))
    return out


# ---------------------------------------------------------------- 1


def check_oci_one_vnic(ticks: Sequence[Tick], ctx: Context) -> List[Dict[str, Any]]:
    out = []
    for vip in ctx.groups:
        flags = [len(S.oci_holders(t, vip) or []) > 1 for t in ticks]
        for first, _ in _runs(ticks, flags):
            tick = ticks[first]
            out.append(
                _v(
                    "1",
                    "oci_two_vnics",
                    tick["t"],
                    "OCI shows {} on the VNICs of {}".format(vip, S.oci_holders(tick, vip)),
                    tick,
                    vip,
                )
            )
    return out


def _healthy(tick: Tick, node: str, wins: Sequence[Window]) -> bool:
    if S.state(tick, node) != "running":
        return False
    return not any(w.kind == "isolate" and node in w.nodes and w.covers(tick["t"]) for w in wins)


def _able(tick: Tick, ctx: Context, wins: Sequence[Window]) -> bool:
    """Could the cluster move a VIP now: quorum of healthy nodes, the cloud answering."""
    if sum(1 for n in ctx.nodes if _healthy(tick, n, wins)) < 2:
        return False
    return not any(w.kind in S.CLOUD_KINDS and w.covers(tick["t"]) for w in wins)


def check_oci_dead_node(
    ticks: Sequence[Tick], power: Sequence[Mapping[str, Any]], wins: Sequence[Window], ctx: Context
) -> List[Dict[str, Any]]:
    powered_off: Dict[str, List[float]] = {}
    for call in power:
        node = ctx.instance_node.get(call.get("instance", ""))
        if node and call.get("action") in POWER_OFF_ACTIONS and call.get("status") == 200:
            powered_off.setdefault(node, []).append(call["t"])
    out: List[Dict[str, Any]] = []
    reported: Set[Tuple[str, str, float]] = set()
    down_since: Dict[str, Optional[float]] = {n: None for n in ctx.nodes}
    last_unable = ticks[0]["t"] if ticks else 0.0
    for tick in ticks:
        t = tick["t"]
        for n in ctx.nodes:
            if S.state(tick, n) == "down":
                down_since[n] = down_since[n] if down_since[n] is not None else t
            else:
                down_since[n] = None
        if not _able(tick, ctx, wins):
            last_unable = t
        for vip in ctx.groups:
            holders = S.oci_holders(tick, vip)
            if not holders or len(holders) != 1 or holders[0] not in down_since:
                continue
            node = holders[0]
            since = down_since[node]
            if since is None:
                continue
            fenced = [f for f in powered_off.get(node, []) if since - 10.0 <= f <= t]
            stopped = any(
                w.kind == "stop" and node in w.nodes and w.covers(since, after=5.0) for w in wins
            )
            if not fenced and not stopped:
                continue  # crashed, not (yet) fenced: nobody may take it over yet
            gone = max(fenced[0] if fenced else since, since)
            limit = ctx.timing.vip(vip).start_s
            if t - max(gone, last_unable) > limit and (vip, node, since) not in reported:
                reported.add((vip, node, since))
                out.append(
                    _v(
                        "1",
                        "oci_on_dead_node",
                        t,
                        "OCI still assigns {} to {}'s VNIC {:.1f}s after {} was {} while the "
                        "cluster could move it (start timeout {:.0f}s)".format(
                            vip, node, t - gone, node, "fenced" if fenced else "stopped", limit
                        ),
                        tick,
                        vip,
                        node,
                    )
                )
    return out


# ---------------------------------------------------------------- 2


def partition_windows(wins: Sequence[Window], timing: Timing) -> List[Tuple[float, float]]:
    settle = (
        timing.token_s
        + timing.consensus_s
        + timing.dc_deadtime_s
        + max(v.stop_s for v in timing.vips)
    )
    return [(w.t0, w.t1 + settle) for w in wins if w.kind == "isolate"]


def check_duplicates(
    ticks: Sequence[Tick], wins: Sequence[Window], ctx: Context
) -> List[Dict[str, Any]]:
    parts = partition_windows(wins, ctx.timing)
    out = []
    for vip in ctx.groups:
        allowed = ctx.timing.vip(vip).monitor_interval_s
        flags = [
            len(S.address_holders(t, vip)) > 1 and not any(a <= t["t"] <= b for a, b in parts)
            for t in ticks
        ]
        for first, last in _runs(ticks, flags):
            if ticks[last]["t"] - ticks[first]["t"] <= allowed:
                continue
            t_bad = ticks[first]["t"] + allowed
            tick = S.tick_at(ticks, t_bad)
            out.append(
                _v(
                    "2",
                    "address_on_two_nodes",
                    t_bad,
                    "{} on {} at once for {:.1f}s (allowed: one monitor interval, {:.0f}s)".format(
                        vip,
                        S.address_holders(ticks[first], vip),
                        ticks[last]["t"] - ticks[first]["t"],
                        allowed,
                    ),
                    tick,
                    vip,
                )
            )
    return out


# ---------------------------------------------------------------- 3


def check_convergence(
    ticks: Sequence[Tick], ctx: Context
) -> Tuple[List[Dict[str, Any]], Optional[float]]:
    """(violations, when the state that held until the end converged).

    Converging once is not enough: a fencing still due when the faults healed
    may take a node (and a VIP) down a moment later. What counts is when the
    converged state that then lasts until the end of the run began."""
    if ctx.t_healed is None:
        return [
            _v(
                "3",
                "never_healed",
                ctx.t_end,
                "the run ended before its final heal",
                ticks[-1] if ticks else None,
            )
        ], None
    deadline = ctx.t_healed + ctx.timing.convergence_deadline_s
    since = S.settled_since(ticks, ctx.groups, ctx.t_healed, ctx.t_end)
    if since is not None and since <= deadline:
        return [], since
    after = [t for t in ticks if t["t"] >= ctx.t_healed]
    last = after[-1] if after else (ticks[-1] if ticks else None)
    why = (
        "; ".join(
            "{}: {}".format(vip, S.converged(last, vip, members).why or "converged")
            for vip, members in ctx.groups.items()
        )
        if last
        else "no samples"
    )
    stuck = [
        S.stuck(last, vip, ctx.nodes)
        for vip in ctx.groups
        if last is not None and ctx.timing.vip(vip).failure_timeout_s == 0
    ]
    if last is not None and last["t"] < deadline and not any(stuck):
        return [], None  # cut short before T (interrupted): no verdict
    why += "".join("; " + s for s in stuck if s)
    if since is not None:
        detail = "converged only {:.0f}s after the final heal (T = {:.0f}s)".format(
            since - ctx.t_healed, ctx.timing.convergence_deadline_s
        )
        return [_v("3", "not_converged", deadline, detail, S.tick_at(ticks, deadline))], None
    return [
        _v(
            "3",
            "not_converged",
            min(deadline, last["t"]) if last else deadline,
            "not converged {:.0f}s after the final heal (T = {:.0f}s): {}".format(
                (last["t"] if last else ctx.t_end) - ctx.t_healed,
                ctx.timing.convergence_deadline_s,
                why,
            ),
            last,
        )
    ], None


# ---------------------------------------------------------------- 4


def _node_disturbed(
    ticks: Sequence[Tick], wins: Sequence[Window], node: str, t0: float, t1: float
) -> bool:
    """Was node down, hung, cut off or stopped at some time in [t0, t1]?"""
    if any(w.kind in S.NODE_KINDS and node in w.nodes and w.t0 <= t1 and t0 <= w.t1 for w in wins):
        return True
    return any(t0 <= t["t"] <= t1 and S.state(t, node) != "running" for t in ticks)


def _quorum_lost(ticks: Sequence[Tick], ctx: Context, t0: float, t1: float) -> bool:
    """No quorum at some time in [t0, t1], so the holder stopped its resources:
    fewer than two running nodes, or a fresh crm_mon view without quorum (the
    sampler asks every live node and keeps a view without quorum only when no
    node has it; a node just booted runs but is no member yet)."""
    for t in ticks:
        if not t0 <= t["t"] <= t1:
            continue
        if sum(1 for n in ctx.nodes if S.state(t, n) == "running") < 2:
            return True
        crm = S.crm_view(t)
        if crm is not None and not crm.get("quorum"):
            return True
    return False


def _failed_on(
    ticks: Sequence[Tick], members: Sequence[str], node: str, t0: float, t1: float
) -> bool:
    for tick in ticks:
        if t0 <= tick["t"] <= t1 and tick.get("crm"):
            for rsc, where, *_ in tick["crm"].get("failures", []):
                if rsc in members and where == node:
                    return True
    return False


def check_failback(
    ticks: Sequence[Tick], wins: Sequence[Window], ctx: Context
) -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]]]:
    """(violations, notes): notes are moves between healthy nodes that no event explains."""
    out: List[Dict[str, Any]] = []
    notes: List[Dict[str, Any]] = []
    for vip, members in ctx.groups.items():
        holder: Optional[str] = None
        took = last_seen = 0.0
        for tick in ticks:
            now = S.address_holders(tick, vip)
            if len(now) != 1:
                continue
            new, t = now[0], tick["t"]
            if holder is None:
                holder, took, last_seen = new, t, t
                continue
            if new == holder:
                last_seen = t
                continue
            # After `pcs resource clear`, a start on the target already under
            # way still lands: it may take the start timeout.
            grace = ctx.timing.vip(vip).start_s
            moved = any(
                w.kind == "move"
                and w.rsc == ctx.movable.get(vip)
                and w.to == new
                and w.covers(t, after=grace)
                for w in wins
            )
            since = last_seen - DISTURB_SLACK_S
            explained = (
                moved
                or _node_disturbed(ticks, wins, holder, since, t)
                or _quorum_lost(ticks, ctx, since, t)
                or _failed_on(ticks, members, holder, took, t)
            )
            if not explained:
                returned = _node_disturbed(ticks, wins, new, took, t)
                entry = _v(
                    "4",
                    "failback" if returned else "unexplained_move",
                    t,
                    "{} moved from {} (healthy since it took it at {:.1f}s) to {}{}".format(
                        vip,
                        holder,
                        took - ctx.t_start,
                        new,
                        ", a node that returned" if returned else "",
                    ),
                    tick,
                    vip,
                    new,
                )
                (out if returned else notes).append(entry)
            holder, took, last_seen = new, t, t
    return out, notes


# ---------------------------------------------------------------- 5


def check_leaks(
    ticks: Sequence[Tick], ctx: Context, t_conv: Optional[float]
) -> List[Dict[str, Any]]:
    out = []
    limits = {
        "agent": max(v.start_s for v in ctx.timing.vips) + PROCESS_GRACE_S,
        "fence_oci": ctx.timing.fence_timeout_s + PROCESS_GRACE_S,
    }
    frozen: Dict[str, List[float]] = {n: [] for n in ctx.nodes}
    reported: Set[Tuple[str, int]] = set()
    for tick in ticks:
        for n in ctx.nodes:
            if S.state(tick, n) == "frozen":
                frozen[n].append(tick["t"])
        for node, procs in (tick.get("procs") or {}).items():
            for pid, what, action, first in procs:
                age = tick["t"] - first
                if age <= limits.get(what, limits["agent"]) or (node, pid) in reported:
                    continue
                if any(first <= f <= tick["t"] for f in frozen.get(node, [])):
                    continue  # a hung node's processes do not run, so cannot finish
                reported.add((node, pid))
                out.append(
                    _v(
                        "5",
                        "hung_process",
                        tick["t"],
                        "{} {} (pid {}) on {} still runs after {:.0f}s".format(
                            what, action, pid, node, age
                        ),
                        tick,
                        None,
                        node,
                    )
                )
    if t_conv is not None:
        final = [t for t in ticks if t["t"] >= t_conv and "files" in t]
        if final:
            tick = final[-1]
            for node, files in tick["files"].items():
                for name, seen in sorted(files.items()):
                    vip, why = _stale_file(name, seen, node, tick, ctx)
                    if why:
                        out.append(_v("5", "stale_state_file", tick["t"], why, tick, vip, node))
            count = (tick.get("oci") or {}).get("n_private_ips")
            if count is not None and count > ctx.expected_private_ips:
                out.append(
                    _v(
                        "5",
                        "oci_private_ip_leak",
                        tick["t"],
                        "{} private IPs in OCI, expected {} (the nodes' and the VIPs')".format(
                            count, ctx.expected_private_ips
                        ),
                        tick,
                    )
                )
    for leftover in ctx.teardown_leftovers:
        out.append(_v("5", "left_after_teardown", ctx.t_end, leftover, None))
    return out


# The state file's keys that say what a monitor_api check saw (handlers.py):
# only the holder may have them; a stop keeps only the node cache.
CHECK_KEYS = ("checked_at", "moving_since", "warned")
SESSION_DIR = "session"


def _stale_file(
    name: str, seen: Mapping[str, Any], node: str, tick: Tick, ctx: Context
) -> Tuple[Optional[str], Optional[str]]:
    """(the VIP, why the file is stale), or (vip, None) for a file that may be there."""
    where = "/run/pcs-oci/{} on {}".format(name, node)
    if name == SESSION_DIR and seen.get("kind") == "dir":
        return None, None  # the cached instance-principal session: no VIP in it
    vip, _, ext = name.rpartition(".")
    if vip not in ctx.groups or ext not in ("json", "fresh"):
        return None, "{}: not a file pcs-oci writes ({})".format(where, seen.get("kind"))
    if S.address_holders(tick, vip) == [node]:
        return vip, None
    if ext == "fresh":
        return vip, "{}: a fresh monitor_api answer for {}, which {} does not hold".format(
            where, vip, node
        )
    if seen.get("kind") != "json":
        return vip, "{}: {}".format(where, seen.get("kind"))
    claims = [k for k in seen.get("keys", []) if k in CHECK_KEYS]
    if claims:
        return vip, "{}: monitor_api's answer ({}) for {}, which {} does not hold".format(
            where, ", ".join(claims), vip, node
        )
    return vip, None  # the node cache only, kept for this node's next start


# ---------------------------------------------------------------- all


class Result(NamedTuple):
    violations: List[Dict[str, Any]]
    notes: List[Dict[str, Any]]
    t_converged: Optional[float]


def check_all(
    ticks: Sequence[Tick],
    power: Sequence[Mapping[str, Any]],
    records: Sequence[S.Record],
    ctx: Context,
) -> Result:
    wins = S.windows(records, ctx.t_end)
    found = check_oci_one_vnic(ticks, ctx)
    found += check_oci_dead_node(ticks, power, wins, ctx)
    found += check_duplicates(ticks, wins, ctx)
    conv, t_conv = check_convergence(ticks, ctx)
    found += conv
    failbacks, notes = check_failback(ticks, wins, ctx)
    found += failbacks
    found += check_leaks(ticks, ctx, t_conv)
    for v in found + notes:
        v["t_rel"] = round(v["t"] - ctx.t_start, 2)
        v["event_before"] = S.event_before(records, v["t"])
    found.sort(key=lambda v: v["t"])
    return Result(found, notes, t_conv)
