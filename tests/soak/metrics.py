"""Timings measured from the samples: failovers, switchovers, convergence, the sampler itself.

- failover: a node fault (kill, freeze, isolate, stop) hits the node whose
  interface holds a VIP; from the moment it is applied until the VIP has
  converged (samples.converged) on another node. A fault after which the VIP
  converges on the same node again (a short hang, a node back in time) is no
  failover and is counted apart.
- switchover: `pcs resource move` until the VIP has converged on the target.
- convergence: from the end of a heal that leaves no fault active until
  every VIP has converged, for each such quiet period that converged before
  the next event (the final one included).
"""

from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from tests.soak import samples as S
from tests.soak.samples import Tick, Window

# How long after a fault the measurement looks for the VIP to settle.
HORIZON_S = 600.0


def percentiles(values: Sequence[float]) -> Dict[str, Any]:
    """p50/p95/max by nearest rank, n, and the values themselves (rounded)."""
    xs = sorted(values)
    if not xs:
        return {"n": 0, "p50": None, "p95": None, "max": None, "values": []}

    def rank(p: float) -> float:
        k = max(0, min(len(xs) - 1, int(-(-p * len(xs) // 100)) - 1))
        return round(xs[k], 2)

    return {
        "n": len(xs),
        "p50": rank(50),
        "p95": rank(95),
        "max": round(xs[-1], 2),
        "values": [round(x, 2) for x in xs],
    }


def _settled(
    ticks: Sequence[Tick], vip: str, members: Sequence[str], t0: float, t1: float
) -> Optional[Tuple[float, str]]:
    """The first tick in [t0, t1] where vip has converged: (time, holder)."""
    for tick in ticks:
        if tick["t"] < t0:
            continue
        if tick["t"] > t1:
            break
        verdict = S.converged(tick, vip, members)
        if verdict.converged and verdict.holder:
            return tick["t"], verdict.holder
    return None


def _failed_over(
    ticks: Sequence[Tick], vip: str, members: Sequence[str], node: str, w: Window
) -> Optional[Tuple[float, str]]:
    """The first tick after w.t0 where vip has converged on another node than
    node; None if it converged on node again after the fault healed (a hang
    shorter than the token, a node back before anyone took over)."""
    for tick in ticks:
        if tick["t"] < w.t0:
            continue
        if tick["t"] > w.t1 + HORIZON_S:
            break
        verdict = S.converged(tick, vip, members)
        if not verdict.converged or not verdict.holder:
            continue
        if verdict.holder != node:
            return tick["t"], verdict.holder
        if tick["t"] > w.t1:
            return None
    return None


def failovers(
    ticks: Sequence[Tick], wins: Sequence[Window], groups: Mapping[str, Sequence[str]]
) -> Dict[str, Any]:
    """Every failover; `clean`: those with no cloud fault during them, the
    figure to hold against token + consensus."""
    taken: List[Dict[str, Any]] = []
    stayed = 0
    for w in wins:
        if w.kind not in S.NODE_KINDS or len(w.nodes) != 1:
            continue
        before = S.tick_at(ticks, w.t0 - 0.05)  # the last view before the fault
        if before is None:
            continue
        node = w.nodes[0]
        for vip, members in groups.items():
            if S.address_holders(before, vip) != [node]:
                continue
            found = _failed_over(ticks, vip, members, node, w)
            if found is None:
                stayed += 1
                continue
            t, holder = found
            cloud = any(o.kind in S.CLOUD_KINDS and o.t0 <= t and w.t0 <= o.t1 for o in wins)
            taken.append(
                {
                    "event": w.id,
                    "kind": w.kind,
                    "vip": vip,
                    "from": node,
                    "to": holder,
                    "s": round(t - w.t0, 2),
                    "cloud_fault": cloud,
                }
            )
    by_kind: Dict[str, Any] = {}
    for kind in S.NODE_KINDS:
        by_kind[kind] = percentiles([f["s"] for f in taken if f["kind"] == kind])
    summary = percentiles([f["s"] for f in taken])
    summary.update(
        clean=percentiles([f["s"] for f in taken if not f["cloud_fault"]]),
        by_kind=by_kind,
        stayed=stayed,
        each=taken,
    )
    return summary


def switchovers(
    ticks: Sequence[Tick],
    wins: Sequence[Window],
    groups: Mapping[str, Sequence[str]],
    movable: Mapping[str, str],
) -> Dict[str, Any]:
    times = []
    for w in wins:
        if w.kind != "move" or not w.to:
            continue
        for vip, members in groups.items():
            if movable.get(vip) != w.rsc:
                continue
            found = _settled(ticks, vip, members, w.t0, w.t0 + HORIZON_S)
            if found and found[1] == w.to:
                times.append(found[0] - w.t0)
    return percentiles(times)


def quiet_periods(
    wins: Sequence[Window], t_first: float, t_last: float, t_healed: Optional[float]
) -> List[Tuple[float, float, bool]]:
    """(start, end, final) of each stretch with no event active."""
    out = []
    edges = sorted((w.t0, w.t1) for w in wins)
    cursor = None
    for t0, t1 in edges:
        if cursor is not None and t0 > cursor:
            out.append((cursor, t0, False))
        cursor = t1 if cursor is None else max(cursor, t1)
    if t_healed is not None:
        start = max(t_healed, cursor) if cursor is not None else t_healed
        out = [p for p in out if p[0] < start]
        out.append((start, t_last, True))
    return [p for p in out if p[0] >= t_first]


def convergence(
    ticks: Sequence[Tick],
    wins: Sequence[Window],
    groups: Mapping[str, Sequence[str]],
    t_healed: Optional[float],
) -> Dict[str, Any]:
    if not ticks:
        return percentiles([])
    times, unconverged = [], 0
    final: Optional[float] = None
    for start, end, is_final in quiet_periods(wins, ticks[0]["t"], ticks[-1]["t"], t_healed):
        since = S.settled_since(ticks, groups, start, end)
        if since is None:
            unconverged += 1
            continue
        times.append(since - start)
        if is_final:
            final = round(since - start, 2)
    out = percentiles(times)
    out.update(final=final, quiet_periods_not_converged=unconverged)
    return out


def sampler_stats(ticks: Sequence[Tick]) -> Dict[str, Any]:
    gaps = [b["t"] - a["t"] for a, b in zip(ticks, ticks[1:])]
    ages = [t["t"] - t["crm"]["t"] for t in ticks if t.get("crm")]
    loads = [t["load"][0] for t in ticks if t.get("load")]
    return {
        "ticks": len(ticks),
        "interval_s": _no_values(gaps),
        "crm_mon_age_s": _no_values(ages),
        "load1": {
            "mean": round(sum(loads) / len(loads), 2) if loads else None,
            "max": max(loads) if loads else None,
        },
    }


def _no_values(xs: Sequence[float]) -> Dict[str, Any]:
    out = percentiles(xs)
    out.pop("values")
    return out
