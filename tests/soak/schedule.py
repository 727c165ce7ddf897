"""The fault schedule: N events drawn from a seed. Pure and deterministic.

The same (seed, events, scale) gives the same schedule on any machine and any
Python from 3.9 on: only `random.Random(seed).random()` is used (its sequence
is fixed by the language), through the small helpers below rather than
`choice`/`uniform`, whose implementations could change.

Every event starts at `at` seconds from the start of the schedule and is
healed `duration` seconds later. Targets are symbolic where the right node is
only known at run time: "holder:vip1" is whichever node holds vip1 when the
event fires, "node2" is that node, "all" is every node. The gaps between
events are random, about a third of them shorter than a failover, so faults
land on a cluster that is still recovering from the previous one.
"""

import json
import random
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Sequence, Tuple

# What happens to a node (power, hang, network, clean shutdown).
NODE_KINDS = ("kill", "freeze", "isolate", "stop")
# What happens to the cloud around the cluster.
CLOUD_KINDS = ("api", "imds", "auth")
KINDS = NODE_KINDS + ("move",) + CLOUD_KINDS + ("burst",)
WEIGHTS = {
    "kill": 3,
    "freeze": 2,
    "isolate": 2,
    "stop": 2,
    "move": 2,
    "api": 3,
    "imds": 1,
    "auth": 1,
    "burst": 1,
}
# 429 bursts, server errors, answers slower than the call timeout, nothing listening.
API_MODES = ("429", "500", "503", "slow", "refused")
# Federation refused for the instance(s); a wrong clock on the auth side (every signature fails).
AUTH_MODES = ("deny", "skew")
# Seconds a node needs after its fault heals (fence reboot, boot, rejoin): a
# node fault "occupies" its node this much longer when capping overlaps.
NODE_RECOVERY_S = 10.0


@dataclass(frozen=True)
class Params:
    """The shape of a schedule; `scale` stretches (or shrinks) every gap and duration."""

    nodes: Tuple[str, ...] = ("node1", "node2", "node3")
    vips: Tuple[str, ...] = ("vip1", "vip2")
    short_gap: Tuple[float, float] = (0.2, 3.0)
    gap: Tuple[float, float] = (3.0, 20.0)
    short_gap_p: float = 0.3
    # At most this many node faults planned at once (3 nodes: quorum needs 2).
    max_node_faults: int = 2
    scale: float = 1.0


@dataclass(frozen=True)
class Event:
    index: int
    at: float
    kind: str
    target: str
    duration: float
    params: Mapping[str, Any] = field(default_factory=dict)
    parts: Tuple["Event", ...] = ()

    @property
    def end(self) -> float:
        return round(self.at + self.duration, 1)

    def to_dict(self) -> Dict[str, Any]:
        out: Dict[str, Any] = {
            "index": self.index,
            "at": self.at,
            "kind": self.kind,
            "target": self.target,
            "duration": self.duration,
            "params": dict(self.params),
        }
        if self.parts:
            out["parts"] = [p.to_dict() for p in self.parts]
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Event":
        return cls(
            index=int(d["index"]),
            at=float(d["at"]),
            kind=str(d["kind"]),
            target=str(d["target"]),
            duration=float(d["duration"]),
            params=dict(d.get("params") or {}),
            parts=tuple(cls.from_dict(p) for p in d.get("parts") or ()),
        )

    def describe(self) -> str:
        if self.kind == "burst":
            return "burst[{}]".format(", ".join(p.describe() for p in self.parts))
        extra = ",".join("{}={}".format(k, v) for k, v in sorted(self.params.items()))
        return "{} {}{} for {:.1f}s".format(
            self.kind, self.target, " (" + extra + ")" if extra else "", self.duration
        )


@dataclass(frozen=True)
class Action:
    """One step of the run: apply or heal one (part of an) event at `at`."""

    at: float
    phase: str  # "apply" or "heal"
    event: Event
    key: str  # "7" for event 7, "7.1" for the second part of burst 7


class _Draw:
    """The only randomness: uniform floats and choices from Random.random()."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)

    def real(self) -> float:
        return self._rng.random()

    def uniform(self, low: float, high: float) -> float:
        return low + (high - low) * self.real()

    def chance(self, p: float) -> bool:
        return self.real() < p

    def pick(self, items: Sequence[Any]) -> Any:
        return items[min(len(items) - 1, int(self.real() * len(items)))]

    def weighted(self, kinds: Sequence[str]) -> str:
        total = sum(WEIGHTS[k] for k in kinds)
        x = self.real() * total
        for kind in kinds:
            x -= WEIGHTS[kind]
            if x < 0:
                return kind
        return kinds[-1]

    def integer(self, low: int, high: int) -> int:
        return low + min(high - low, int(self.real() * (high - low + 1)))


def _r(x: float) -> float:
    return round(x, 1)


def _node_target(d: _Draw, p: Params) -> str:
    # Half the node faults hit whoever holds a VIP: those are the failovers.
    if d.chance(0.5):
        return "holder:" + d.pick(p.vips)
    return str(d.pick(p.nodes))


def _draw_one(d: _Draw, p: Params, kind: str, index: int, at: float) -> Event:
    s = p.scale
    params: Dict[str, Any] = {}
    if kind == "kill":
        target, duration = _node_target(d, p), d.uniform(2, 25)
    elif kind == "freeze":
        target = _node_target(d, p)
        # Short hangs stay under the token (nothing may happen), long ones get fenced.
        duration = d.uniform(0.2, 1.5) if d.chance(0.4) else d.uniform(3, 12)
    elif kind == "isolate":
        target, duration = _node_target(d, p), d.uniform(3, 20)
        params["peers_only"] = d.chance(0.5)
    elif kind == "stop":
        target, duration = _node_target(d, p), d.uniform(3, 20)
    elif kind == "move":
        target, duration = str(d.pick(p.vips)), d.uniform(2, 15)
        # Which of the nodes not holding it, counted at run time.
        params["to"] = d.integer(0, 99)
    elif kind == "api":
        mode = str(d.pick(API_MODES))
        params["mode"] = mode
        if mode == "429":
            params["count"] = d.integer(3, 20)
        target = "all" if d.chance(0.7) else _node_target(d, p)
        duration = d.uniform(2, 30)
    elif kind == "imds":
        target = "all" if d.chance(0.3) else _node_target(d, p)
        duration = d.uniform(2, 30)
    elif kind == "auth":
        mode = str(d.pick(AUTH_MODES))
        params["mode"] = mode
        target = "all" if mode == "skew" or d.chance(0.6) else _node_target(d, p)
        duration = d.uniform(3, 30)
    else:
        raise ValueError("no such event kind: {}".format(kind))
    return Event(index, _r(at), kind, target, _r(max(0.1, duration * s)), params)


def _busy(planned: List[Tuple[float, float]], start: float, end: float) -> int:
    return sum(1 for a, b in planned if a < end and start < b)


def make_schedule(seed: int, events: int, params: Params = Params()) -> List[Event]:
    """`events` events from `seed`, in time order."""
    if events < 0:
        raise ValueError("events must be >= 0")
    if params.scale <= 0:
        raise ValueError("scale must be > 0")
    d = _Draw(seed)
    out: List[Event] = []
    node_faults: List[Tuple[float, float]] = []
    at = 0.0
    single = [k for k in KINDS if k != "burst"]
    in_burst = [k for k in single if k != "move"]
    for index in range(events):
        gap = (
            d.uniform(*params.short_gap) if d.chance(params.short_gap_p) else d.uniform(*params.gap)
        )
        at += gap * params.scale
        kind = d.weighted(KINDS)
        if kind == "burst":
            parts = []
            for _ in range(d.integer(2, 3)):
                part = _draw_one(d, params, d.weighted(in_burst), index, at)
                parts.append(_cap(d, params, part, node_faults, in_burst))
            duration = max(p.duration for p in parts)
            out.append(Event(index, _r(at), "burst", "", duration, {}, tuple(parts)))
        else:
            out.append(_cap(d, params, _draw_one(d, params, kind, index, at), node_faults, single))
    return out


def _cap(
    d: _Draw,
    p: Params,
    event: Event,
    node_faults: List[Tuple[float, float]],
    kinds: Sequence[str],
) -> Event:
    """Keep at most max_node_faults planned at once: a node fault over the cap
    becomes a cloud fault at the same time (quorum needs 2 of 3 nodes)."""
    if event.kind not in NODE_KINDS:
        return event
    window = (event.at, event.at + event.duration + NODE_RECOVERY_S * p.scale)
    if _busy(node_faults, *window) < p.max_node_faults:
        node_faults.append(window)
        return event
    other = [k for k in kinds if k in CLOUD_KINDS]
    return _draw_one(d, p, d.weighted(other), event.index, event.at)


def actions(schedule: Sequence[Event]) -> List[Action]:
    """Every apply and heal in time order (a burst's parts one by one)."""
    out: List[Action] = []
    for event in schedule:
        if event.parts:
            keyed = [("{}.{}".format(event.index, j), p) for j, p in enumerate(event.parts)]
        else:
            keyed = [(str(event.index), event)]
        for key, part in keyed:
            out.append(Action(part.at, "apply", part, key))
            out.append(Action(part.end, "heal", part, key))
    # At equal times heal before apply, then by event index: deterministic.
    order = {"heal": 0, "apply": 1}
    out.sort(key=lambda a: (a.at, order[a.phase], a.event.index, a.key))
    return out


def span(schedule: Sequence[Event]) -> float:
    """Seconds from the start to the last heal."""
    return max((p.end for e in schedule for p in (e.parts or (e,))), default=0.0)


def seed_from_commit(commit: str) -> int:
    """A fixed seed per commit (its first 8 hex digits), so a CI failure replays."""
    text = commit.strip().lower()
    if len(text) < 8 or any(c not in "0123456789abcdef" for c in text[:8]):
        raise ValueError("not a commit id: {!r}".format(commit))
    return int(text[:8], 16)


def to_json(schedule: Sequence[Event]) -> str:
    return json.dumps([e.to_dict() for e in schedule], sort_keys=True)
