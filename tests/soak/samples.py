"""What the sampler wrote and what the runner did, read back; shared by checker and metrics.

A tick (one JSON line of the sampler) looks like:

    {"k": "tick", "t": 1764669600.125,
     "nodes": {"node1": {"st": "running", "vips": ["vip1"]}, ...},   # state, addresses
     "oci": {"vips": {"vip1": ["node1"]}, "inst": {"node1": "RUNNING"}}  # or {"error": ...}
     "crm": {"t": ..., "node": "node2", "quorum": true, "rsc": {"vip1": {"on": ["node1"],
             "role": "Started", "failed": false}}, "failures": [...], ...} or null,
     "ping": {"vip1": <time of the last echo reply> or null},
     # once a second also "files", "procs" and "load"
    }

The runner's records (events.jsonl) say when each event was applied and
healed: {"phase": "apply"|"heal", "id": "7.0", "kind": "kill", "node": "node2",
"t0": ..., "t1": ..., "ok": true, "skipped": null}, plus {"phase": "final_heal"}.
"""

import json
import os
from typing import Any, Dict, Iterable, List, Mapping, NamedTuple, Optional, Sequence, Tuple

Tick = Dict[str, Any]
Record = Dict[str, Any]

# A Pacemaker view older than this says nothing about "now" (crm_mon answers
# in ~0.1 s when the machine is idle, seconds under load).
CRM_FRESH_S = 3.0
# The switch pings every tick: no answer for this long is an unreachable VIP.
PING_FRESH_S = 1.5
NODE_KINDS = ("kill", "freeze", "isolate", "stop")
CLOUD_KINDS = ("api", "imds", "auth")


def read_jsonl(path: str) -> List[Dict[str, Any]]:
    """Every complete line (a sampler killed mid-line leaves a partial last one)."""
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
    return out


class Tail:
    """Follows a growing JSONL file; `latest` is the newest tick."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.offset = 0
        self.latest: Optional[Tick] = None
        self._partial = ""

    def poll(self) -> List[Tick]:
        if not os.path.exists(self.path):
            return []
        with open(self.path, encoding="utf-8") as f:
            f.seek(self.offset)
            data = f.read()
            self.offset = f.tell()
        lines = (self._partial + data).split("\n")
        self._partial = lines.pop()
        ticks = []
        for line in lines:
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if rec.get("k") == "tick":
                ticks.append(rec)
                self.latest = rec
        return ticks


def split(records: Iterable[Dict[str, Any]]) -> Tuple[List[Tick], List[Dict[str, Any]]]:
    """(ticks in time order, power actions the fake accepted in time order)."""
    ticks, power = [], []
    for rec in records:
        if rec.get("k") == "tick":
            ticks.append(rec)
        elif rec.get("k") == "power":
            power.extend(rec.get("calls", []))
    ticks.sort(key=lambda r: r["t"])
    power.sort(key=lambda c: c["t"])
    return ticks, power


# ---------------------------------------------------------------- one tick


def state(tick: Tick, node: str) -> str:
    return str(tick["nodes"].get(node, {}).get("st", "down"))


def address_holders(tick: Tick, vip: str) -> List[str]:
    """Nodes whose network namespace has the VIP's address (a frozen node's too)."""
    return sorted(
        n for n, v in tick["nodes"].items() if v.get("st") != "down" and vip in v.get("vips", [])
    )


def oci_holders(tick: Tick, vip: str) -> Optional[List[str]]:
    """Nodes whose VNIC OCI assigns the VIP to (None: the fake did not answer)."""
    oci = tick.get("oci") or {}
    if "vips" not in oci:
        return None
    return list(oci["vips"].get(vip, []))


def crm_view(tick: Tick, fresh_s: float = CRM_FRESH_S) -> Optional[Dict[str, Any]]:
    crm = tick.get("crm")
    if not crm or tick["t"] - crm["t"] > fresh_s:
        return None
    return dict(crm)


def crm_on(crm: Mapping[str, Any], rsc: str) -> List[str]:
    return list(crm.get("rsc", {}).get(rsc, {}).get("on", []))


def pinged(tick: Tick, vip: str, fresh_s: float = PING_FRESH_S) -> bool:
    last = (tick.get("ping") or {}).get(vip)
    return last is not None and tick["t"] - last <= fresh_s


class Verdict(NamedTuple):
    """converged: True, False (fresh evidence against) or None (no fresh evidence)."""

    converged: Optional[bool]
    holder: Optional[str]
    why: str


def converged(tick: Tick, vip: str, members: Sequence[str] = ()) -> Verdict:
    """Invariant 3's condition for one VIP at one tick: active on exactly one
    node (with its group's other members), the address on that node only, OCI
    assigning it to that node's VNIC, and a client on the switch reaching it."""
    crm = crm_view(tick)
    if crm is None:
        return Verdict(None, None, "no fresh crm_mon view")
    if not crm.get("quorum"):
        return Verdict(False, None, "no node with quorum answered crm_mon")
    if crm.get("fencing"):
        return Verdict(False, None, "fencing of {} under way".format(",".join(crm["fencing"])))
    on = crm_on(crm, vip)
    if len(on) != 1:
        return Verdict(False, None, "Pacemaker runs it on {}".format(on or "no node"))
    holder = on[0]
    info = crm["rsc"][vip]
    if info.get("failed") or info.get("role") != "Started":
        return Verdict(
            False,
            holder,
            "Pacemaker: role {} failed={}".format(info.get("role"), info.get("failed")),
        )
    for member in members:
        if member != vip and crm_on(crm, member) != [holder]:
            return Verdict(
                False,
                holder,
                "group member {} on {}".format(member, crm_on(crm, member) or "no node"),
            )
    if holder not in crm.get("online", []) or holder in crm.get("unclean", []):
        return Verdict(
            False, holder, "Pacemaker: {} is not online and clean (fencing due)".format(holder)
        )
    if state(tick, holder) != "running":
        return Verdict(False, holder, "{} is {}".format(holder, state(tick, holder)))
    addrs = address_holders(tick, vip)
    if addrs != [holder]:
        return Verdict(False, holder, "address on {}".format(addrs or "no node"))
    oci = oci_holders(tick, vip)
    if oci is None:
        return Verdict(None, holder, "no OCI view")
    if oci != [holder]:
        return Verdict(False, holder, "OCI assigns it to {}".format(oci or "no VNIC"))
    if not pinged(tick, vip):
        return Verdict(False, holder, "no echo reply from the switch")
    return Verdict(True, holder, "")


def stuck(tick: Tick, vip: str, nodes: Sequence[str]) -> Optional[str]:
    """Why the VIP can provably never start again by itself, or None: it runs
    nowhere, its fail count is at its migration-threshold on every node, and
    nothing can clear one (every node online and clean, no fencing under way:
    only a node's reboot clears its fail counts). Call it only for a VIP whose
    failures never expire (no failure-timeout)."""
    crm = crm_view(tick)
    if crm is None or not crm.get("quorum") or crm.get("fencing") or crm_on(crm, vip):
        return None
    if sorted(crm.get("online", [])) != sorted(nodes) or crm.get("unclean"):
        return None
    banned = crm.get("banned", {}).get(vip, [])
    if sorted(banned) != sorted(nodes):
        return None
    return (
        "{} can run nowhere: its fail count is INFINITY on {} and it has no failure-timeout "
        "(only `pcs resource cleanup` brings it back)".format(vip, ", ".join(sorted(banned)))
    )


def all_converged(tick: Tick, groups: Mapping[str, Sequence[str]]) -> Optional[bool]:
    verdicts = [converged(tick, vip, members).converged for vip, members in groups.items()]
    if any(v is False for v in verdicts):
        return False
    if any(v is None for v in verdicts):
        return None
    return True


def settled_since(
    ticks: Sequence[Tick], groups: Mapping[str, Sequence[str]], t0: float, t1: float
) -> Optional[float]:
    """When the converged state that lasts until t1 began (ticks in [t0, t1]):
    the first converged tick after the last tick with evidence against it.
    None if the last evidence in the range is against it, or there is none.
    Ticks without fresh evidence (None) neither start nor end the run."""
    since: Optional[float] = None
    for tick in ticks:
        if tick["t"] < t0:
            continue
        if tick["t"] > t1:
            break
        verdict = all_converged(tick, groups)
        if verdict is False:
            since = None
        elif verdict and since is None:
            since = tick["t"]
    return since


class Settle:
    """settled_since, fed one tick at a time (the runner's wait)."""

    def __init__(self, groups: Mapping[str, Sequence[str]], t0: float) -> None:
        self.groups, self.t0 = groups, t0
        self.since: Optional[float] = None
        self.last_t = t0

    def feed(self, tick: Tick) -> None:
        if tick["t"] < self.t0:
            return
        self.last_t = tick["t"]
        verdict = all_converged(tick, self.groups)
        if verdict is False:
            self.since = None
        elif verdict and self.since is None:
            self.since = tick["t"]

    def held(self) -> float:
        """Seconds the converged state has lasted so far (0 if not converged)."""
        return 0.0 if self.since is None else self.last_t - self.since


# ---------------------------------------------------------------- event windows


class Window(NamedTuple):
    """One applied event (or burst part), from its apply to its heal."""

    id: str
    kind: str
    nodes: Tuple[str, ...]  # the nodes it touched ("all": every node)
    params: Mapping[str, Any]
    t0: float
    t1: float  # the end of its heal (the end of the run if never healed)
    rsc: Optional[str] = None  # move: the resource moved
    to: Optional[str] = None  # move: the node it was moved to

    def covers(self, t: float, before: float = 0.0, after: float = 0.0) -> bool:
        return self.t0 - before <= t <= self.t1 + after


def windows(records: Sequence[Record], t_end: float) -> List[Window]:
    applied: Dict[str, Record] = {}
    healed: Dict[str, Record] = {}
    uncertain = set()
    for rec in records:
        if rec.get("phase") == "apply" and rec.get("ok") and not rec.get("skipped"):
            applied[rec["id"]] = rec
        elif rec.get("phase") == "apply" and rec.get("kind") == "move" and not rec.get("ok"):
            # pcs failed (its node died under it): the constraint may exist all
            # the same, until it is cleared.
            applied[rec["id"]] = rec
            uncertain.add(rec["id"])
        elif rec.get("phase") == "heal":
            healed[rec["id"]] = rec
    final = final_heal(records)
    out = []
    for key, rec in applied.items():
        if key in uncertain:
            # Cleared at once after the failure, or left to the final heal.
            heal = rec if rec.get("cleared") else final
        else:
            heal = healed.get(key)
        out.append(
            Window(
                key,
                rec["kind"],
                tuple(rec.get("nodes") or ()),
                rec.get("params") or {},
                rec["t0"],
                heal["t1"] if heal else t_end,
                rec.get("rsc"),
                rec.get("to"),
            )
        )
    out.sort(key=lambda w: (w.t0, w.id))
    return out


def final_heal(records: Sequence[Record]) -> Optional[Record]:
    found = [r for r in records if r.get("phase") == "final_heal"]
    return found[-1] if found else None


def event_before(records: Sequence[Record], t: float) -> Optional[Record]:
    """The last apply/heal that started at or before t."""
    best = None
    for rec in records:
        if rec.get("phase") in ("apply", "heal", "final_heal") and rec.get("t0", 0) <= t:
            if best is None or rec["t0"] >= best["t0"]:
                best = rec
    if best is None:
        return None
    keys = ("phase", "id", "kind", "target", "node", "nodes", "params", "t0", "t1", "skipped")
    return {k: best.get(k) for k in keys if k in best}


def tick_at(ticks: Sequence[Tick], t: float) -> Optional[Tick]:
    """The last tick at or before t (binary search; ticks are in time order)."""
    lo, hi = 0, len(ticks)
    while lo < hi:
        mid = (lo + hi) // 2
        if ticks[mid]["t"] <= t:
            lo = mid + 1
        else:
            hi = mid
    return ticks[lo - 1] if lo else None


def evidence(tick: Optional[Tick], vip: Optional[str] = None) -> Dict[str, Any]:
    """What each source showed at a tick, for a violation's report."""
    if tick is None:
        return {}
    crm = tick.get("crm") or {}
    out: Dict[str, Any] = {
        "t": tick["t"],
        "nodes": {n: v.get("st") for n, v in tick["nodes"].items()},
        "ip_addr": {n: v.get("vips", []) for n, v in tick["nodes"].items()},
        "oci": tick.get("oci"),
        "crm_mon": {
            "from": crm.get("node"),
            "age_s": round(tick["t"] - crm["t"], 2) if crm else None,
            "quorum": crm.get("quorum"),
            "online": crm.get("online"),
            "rsc": crm.get("rsc") if vip is None else {vip: crm.get("rsc", {}).get(vip)},
            "failures": crm.get("failures"),
        },
        "ping_reply_age_s": {
            v: (round(tick["t"] - last, 2) if last else None)
            for v, last in (tick.get("ping") or {}).items()
        },
    }
    return out
