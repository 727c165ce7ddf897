"""The schedule is a pure function of (seed, events, params)."""

import json
import subprocess
import sys
from collections import Counter
from typing import List

import pytest

from tests.soak import schedule as sch
from tests.soak.schedule import Event, Params


def flat(events: List[Event]) -> List[Event]:
    return [p for e in events for p in (e.parts or (e,))]


def test_same_seed_same_schedule() -> None:
    a = sch.make_schedule(1234, 60)
    b = sch.make_schedule(1234, 60)
    assert a == b
    assert sch.to_json(a) == sch.to_json(b)


def test_same_schedule_in_a_fresh_interpreter() -> None:
    # Nothing but the seed may influence it: not hash randomisation, not the process.
    code = "from tests.soak import schedule as s; print(s.to_json(s.make_schedule(99, 40)))"
    runs = [
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": str(h), "PATH": "/usr/bin:/bin"},
            cwd=str(__import__("pathlib").Path(__file__).resolve().parents[2]),
        ).stdout
        for h in (1, 2)
    ]
    assert runs[0] == runs[1] == sch.to_json(sch.make_schedule(99, 40)) + "\n"


def test_other_seed_other_schedule() -> None:
    assert sch.to_json(sch.make_schedule(1, 30)) != sch.to_json(sch.make_schedule(2, 30))


def test_prefix_is_stable() -> None:
    # A longer run starts with the shorter one: EVENTS=200 replays EVENTS=15's start.
    short, long = sch.make_schedule(7, 15), sch.make_schedule(7, 200)
    assert long[:15] == short


def test_event_count_order_and_fields() -> None:
    events = sch.make_schedule(5, 300)
    assert len(events) == 300
    assert [e.index for e in events] == list(range(300))
    assert all(a.at < b.at for a, b in zip(events, events[1:]))
    for e in flat(events):
        assert e.kind in sch.KINDS and e.kind != "burst"
        assert e.duration > 0
        if e.kind in sch.NODE_KINDS:
            assert e.target in ("node1", "node2", "node3", "holder:vip1", "holder:vip2")
        if e.kind == "move":
            assert e.target in ("vip1", "vip2") and 0 <= e.params["to"] <= 99
        if e.kind == "api":
            assert e.params["mode"] in sch.API_MODES
        if e.kind == "auth":
            assert e.params["mode"] in sch.AUTH_MODES
    for e in events:
        if e.kind == "burst":
            assert 2 <= len(e.parts) <= 3
            assert all(p.at == e.at and p.kind != "move" for p in e.parts)
            assert e.duration == max(p.duration for p in e.parts)


def test_every_kind_and_mode_is_drawn() -> None:
    events = sch.make_schedule(11, 400)
    kinds = Counter(e.kind for e in events)
    assert set(kinds) == set(sch.KINDS), kinds
    modes = {e.params["mode"] for e in flat(events) if e.kind == "api"}
    assert modes == set(sch.API_MODES)
    assert {e.params["mode"] for e in flat(events) if e.kind == "auth"} == set(sch.AUTH_MODES)
    targets = {e.target for e in flat(events) if e.kind in sch.NODE_KINDS}
    assert {"holder:vip1", "holder:vip2", "node1", "node2", "node3"} <= targets


def test_some_gaps_are_shorter_than_a_failover() -> None:
    events = sch.make_schedule(3, 200)
    gaps = [b.at - a.at for a, b in zip(events, events[1:])]
    assert sum(1 for g in gaps if g < 3.0) > 20
    assert sum(1 for g in gaps if g > 10.0) > 20
    # Short and long freezes (under the token / fenced).
    freezes = [e.duration for e in flat(events) if e.kind == "freeze"]
    assert min(freezes) < 1.5 and max(freezes) > 3.0


def test_node_faults_never_exceed_the_cap() -> None:
    p = Params()
    events = sch.make_schedule(17, 300, p)
    windows = [
        (e.at, e.at + e.duration + sch.NODE_RECOVERY_S)
        for e in flat(events)
        if e.kind in sch.NODE_KINDS
    ]
    assert windows
    for a, _ in windows:
        assert sum(1 for x, y in windows if x <= a < y) <= p.max_node_faults


def test_scale_stretches_times() -> None:
    one = sch.make_schedule(8, 20)
    half = sch.make_schedule(8, 20, Params(scale=0.5))
    assert [e.kind for e in one] == [e.kind for e in half]
    assert half[-1].at == pytest.approx(one[-1].at / 2, abs=0.2)


def test_actions_apply_before_heal_and_in_time_order() -> None:
    events = sch.make_schedule(21, 50)
    acts = sch.actions(events)
    assert len(acts) == 2 * len(flat(events))
    assert all(a.at <= b.at for a, b in zip(acts, acts[1:]))
    seen = set()
    for a in acts:
        if a.phase == "apply":
            assert a.key not in seen
            seen.add(a.key)
        else:
            assert a.key in seen
    assert {a.key for a in acts if "." in a.key} == {
        "{}.{}".format(e.index, j) for e in events for j in range(len(e.parts))
    }
    assert sch.span(events) == max(a.at for a in acts)


def test_json_round_trip() -> None:
    events = sch.make_schedule(4, 40)
    again = [Event.from_dict(d) for d in json.loads(sch.to_json(events))]
    assert again == events


def test_seed_from_commit() -> None:
    assert sch.seed_from_commit("5740fe7a" + "0" * 32) == 0x5740FE7A
    assert sch.seed_from_commit("5740FE7A\n") == 0x5740FE7A
    with pytest.raises(ValueError):
        sch.seed_from_commit("main")


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        sch.make_schedule(1, -1)
    with pytest.raises(ValueError):
        sch.make_schedule(1, 5, Params(scale=0))
    assert sch.make_schedule(1, 0) == [] and sch.span([]) == 0.0
