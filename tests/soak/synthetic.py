"""Synthetic sample streams for the checker's tests: a healthy cluster, then one thing wrong.

A stream is built tick by tick (every 0.1 s) from a function of time that
says what each source shows; the defaults are a converged cluster: vip1 on
node1, vip2 on node2, everything agreeing, the switch reaching both.
"""

from typing import Any, Callable, Dict, List, Optional, Sequence

from tests.soak.checker import Context
from tests.soak.timing import Timing, VipTiming

NODES = ("node1", "node2", "node3")
T0 = 1_000_000.0  # the schedule starts here
TIMING = Timing(
    token_s=1.0,
    consensus_s=1.2,
    dc_deadtime_s=2.0,
    fence_delay_s=0.0,
    fence_timeout_s=10.0,
    vips=[VipTiming("vip1", 20.0, 20.0, 5.0, 10.0), VipTiming("vip2", 20.0, 20.0, 5.0, 0.0)],
)
HOME = {"vip1": "node1", "vip2": "node2"}


def state(
    t: float,
    *,
    where: Optional[Dict[str, Optional[str]]] = None,
    addrs: Optional[Dict[str, Sequence[str]]] = None,
    oci: Optional[Dict[str, Sequence[str]]] = None,
    pcmk: Optional[Dict[str, Sequence[str]]] = None,
    nodes: Optional[Dict[str, str]] = None,
    quorum: bool = True,
    crm_age: float = 0.2,
    online: Optional[Sequence[str]] = None,
    unclean: Sequence[str] = (),
    fencing: Sequence[str] = (),
    banned: Optional[Dict[str, List[str]]] = None,
    ping: Optional[Dict[str, bool]] = None,
    failures: Sequence[Sequence[str]] = (),
    files: Optional[Dict[str, Dict[str, Any]]] = None,
    procs: Optional[Dict[str, List[List[Any]]]] = None,
    n_private_ips: int = 5,
    oci_error: bool = False,
) -> Dict[str, Any]:
    """One tick. `where` moves a VIP everywhere at once (None: nowhere); addrs,
    oci and pcmk override one source (vip -> nodes)."""
    home: Dict[str, Optional[str]] = dict(HOME)
    home.update(where or {})
    states = {n: "running" for n in NODES}
    states.update(nodes or {})

    def placed(override: Optional[Dict[str, Sequence[str]]], vip: str) -> List[str]:
        if override and vip in override:
            return list(override[vip])
        holder = home[vip]
        return [holder] if holder else []

    tick: Dict[str, Any] = {"k": "tick", "t": round(T0 + t, 3)}
    tick["nodes"] = {
        n: {
            "st": states[n],
            "vips": sorted(v for v in home if n in placed(addrs, v)) if states[n] != "down" else [],
        }
        for n in NODES
    }
    tick["oci"] = (
        {"error": "timed out"}
        if oci_error
        else {
            "vips": {v: placed(oci, v) for v in home},
            "inst": {n: "RUNNING" for n in NODES},
            "n_private_ips": n_private_ips,
        }
    )
    tick["crm"] = {
        "t": round(T0 + t - crm_age, 3),
        "node": "node3",
        "quorum": quorum,
        "online": list(online)
        if online is not None
        else [n for n in NODES if states[n] == "running"],
        "unclean": list(unclean),
        "fencing": list(fencing),
        "banned": dict(banned or {}),
        "rsc": {v: {"on": placed(pcmk, v), "role": "Started", "failed": False} for v in home},
        "failures": [list(f) for f in failures],
    }
    reach = {v: bool(home[v]) for v in home}
    reach.update(ping or {})
    tick["ping"] = {v: (T0 + t if ok else None) for v, ok in reach.items()}
    if files is not None:
        tick["files"] = files
    if procs is not None:
        tick["procs"] = procs
    return tick


def stream(
    end: float, at: Callable[[float], Dict[str, Any]] = lambda t: {}, start: float = 0.0
) -> List[Dict[str, Any]]:
    """Ticks from start to end (s after T0), each state(t, **at(t))."""
    out = []
    n = int(round((end - start) * 10))
    for i in range(n + 1):
        t = round(start + i / 10.0, 1)
        out.append(state(t, **at(t)))
    return out


def rec(phase: str, key: str, kind: str, t0: float, t1: float, **extra: Any) -> Dict[str, Any]:
    """A runner record (times in s after T0)."""
    base: Dict[str, Any] = {
        "phase": phase,
        "id": key,
        "kind": kind,
        "target": extra.pop("target", ""),
        "params": extra.pop("params", {}),
        "node": None,
        "nodes": [],
        "ok": True,
        "skipped": None,
        "error": None,
        "detail": [],
        "t0": T0 + t0,
        "t1": T0 + t1,
    }
    base.update(extra)
    return base


def event(key: str, kind: str, t_apply: float, t_heal: float, **extra: Any) -> List[Dict[str, Any]]:
    """An applied event's apply and heal records."""
    return [
        rec("apply", key, kind, t_apply, t_apply + 0.1, **dict(extra)),
        rec("heal", key, kind, t_heal, t_heal + 0.1, **dict(extra)),
    ]


def context(
    healed: Optional[float] = 1.0,
    end: float = 60.0,
    leftovers: Sequence[str] = (),
    timing: Timing = TIMING,
) -> Context:
    return Context(
        nodes=NODES,
        groups={"vip1": ["vip1"], "vip2": ["vip2"]},
        movable={"vip1": "vip1", "vip2": "vip2"},
        instance_node={"ocid1.instance.oc1..n{}".format(i + 1): n for i, n in enumerate(NODES)},
        timing=timing,
        t_start=T0,
        t_healed=None if healed is None else T0 + healed,
        t_end=T0 + end,
        expected_private_ips=5,
        teardown_leftovers=list(leftovers),
    )


def final(t: float) -> Dict[str, Any]:
    return rec("final_heal", "final", "final_heal", t - 0.5, t)
