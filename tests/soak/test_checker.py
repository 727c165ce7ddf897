"""Every invariant must catch its violation in a synthetic sample stream, and pass a clean one."""

from typing import Any, Dict, List

from tests.soak import checker
from tests.soak import samples as S
from tests.soak.synthetic import NODES, T0, context, event, final, rec, state, stream


def kinds(result: checker.Result) -> List[str]:
    return [v["kind"] for v in result.violations]


def run(
    ticks: List[Dict[str, Any]], records: List[Dict[str, Any]], power: Any = (), **ctx: Any
) -> checker.Result:
    records = [rec("start", "", "", 0, 0)] + records
    healed = S.final_heal(records)
    if healed is not None and "healed" not in ctx:
        ctx["healed"] = healed["t1"] - T0
    return checker.check_all(ticks, list(power), records, context(**ctx))


def fence(node: str, t: float) -> Dict[str, Any]:
    return {
        "t": T0 + t,
        "instance": "ocid1.instance.oc1..n" + node[-1],
        "action": "STOP",
        "status": 200,
    }


# ---------------------------------------------------------------- clean


def test_a_quiet_converged_cluster_passes() -> None:
    result = run(stream(60), [final(1.0)])
    assert result.violations == [] and result.notes == []
    assert result.t_converged == T0 + 1.0


def test_a_clean_failover_passes() -> None:
    # node1 (vip1) is killed at 10 s and fenced at 14 s; vip1 runs on node3 from 17 s.
    def at(t: float) -> Dict[str, Any]:
        if t < 10:
            return {}
        down = {"nodes": {"node1": "down"}, "online": ["node2", "node3"]}
        if t < 17:
            return dict(
                down,
                where={"vip1": None},
                oci={"vip1": ["node1"]},
                pcmk={"vip1": ["node1"]},
                unclean=["node1"],
            )
        return dict(down, where={"vip1": "node3"})

    records = event("0", "kill", 10, 30, node="node1", nodes=["node1"]) + [final(31)]
    result = run(stream(70, at), records, power=[fence("node1", 14)])
    assert result.violations == []


def test_evidence_carries_every_source_and_the_event_before() -> None:
    ticks = stream(30, lambda t: {"oci": {"vip1": ["node1", "node2"]}} if t >= 20 else {})
    records = event("0", "api", 5, 8, params={"mode": "500"}) + [final(10)]
    result = run(ticks, records)
    assert kinds(result) == ["oci_two_vnics"]
    v = result.violations[0]
    assert v["event_before"]["phase"] == "final_heal"
    assert v["t_rel"] == 20.0
    src = v["sources"]
    assert set(src) >= {"nodes", "ip_addr", "oci", "crm_mon", "ping_reply_age_s"}
    assert src["oci"]["vips"]["vip1"] == ["node1", "node2"]
    assert src["crm_mon"]["from"] == "node3" and src["crm_mon"]["rsc"]["vip1"]["on"] == ["node1"]


# ---------------------------------------------------------------- 1


def test_1_oci_on_two_vnics() -> None:
    # Half a second on two VNICs (then right again: invariant 3 is happy).
    ticks = stream(30, lambda t: {"oci": {"vip2": ["node2", "node3"]}} if 12 <= t < 12.5 else {})
    result = run(ticks, [final(1)])
    assert kinds(result) == ["oci_two_vnics"]
    assert result.violations[0]["invariant"] == "1" and result.violations[0]["vip"] == "vip2"


def _dead_holder(t: float) -> Dict[str, Any]:
    # node2 (vip2) dies at 5 s; nobody ever takes vip2 over; OCI keeps it on node2.
    if t < 5:
        return {}
    return {
        "nodes": {"node2": "down"},
        "where": {"vip2": None},
        "oci": {"vip2": ["node2"]},
        "online": ["node1", "node3"],
    }


def test_1_oci_on_a_fenced_node_beyond_the_start_timeout() -> None:
    result = run(stream(40, _dead_holder), [final(1)], power=[fence("node2", 6)])
    found = [v for v in result.violations if v["kind"] == "oci_on_dead_node"]
    assert len(found) == 1
    assert found[0]["node"] == "node2" and found[0]["vip"] == "vip2"
    # fenced at 6 s + start timeout 20 s
    assert 26.0 < found[0]["t_rel"] < 26.5


def test_1_oci_on_a_cleanly_stopped_node_beyond_the_start_timeout() -> None:
    records = event("0", "stop", 4.5, 35, node="node2", nodes=["node2"]) + [final(1)]
    result = run(stream(40, _dead_holder), records)
    assert "oci_on_dead_node" in kinds(result)


def test_1_crashed_but_not_fenced_is_no_violation() -> None:
    # Nobody may take a VIP from a node that is not fenced: safety first.
    result = run(stream(40, _dead_holder), [final(1)])
    assert "oci_on_dead_node" not in kinds(result)


def test_1_no_violation_while_the_cloud_fails_or_quorum_is_lost() -> None:
    cloud = event("0", "api", 3, 39, params={"mode": "503"}, nodes=list(NODES))
    result = run(stream(40, _dead_holder), cloud + [final(1)], power=[fence("node2", 6)])
    assert "oci_on_dead_node" not in kinds(result)

    def no_quorum(t: float) -> Dict[str, Any]:
        out = _dead_holder(t)
        if t >= 5:
            out["nodes"] = {"node2": "down", "node3": "down"}
        return out

    result = run(stream(40, no_quorum), [final(1)], power=[fence("node2", 6)])
    assert "oci_on_dead_node" not in kinds(result)


def test_1_the_clock_starts_when_the_cloud_answers_again() -> None:
    # The API fails until 20 s: the 20 s of start timeout run from there.
    cloud = event("0", "api", 3, 20, params={"mode": "503"}, nodes=list(NODES))
    result = run(stream(60, _dead_holder), cloud + [final(1)], power=[fence("node2", 6)])
    (v,) = [v for v in result.violations if v["kind"] == "oci_on_dead_node"]
    assert 40.0 < v["t_rel"] < 40.6


# ---------------------------------------------------------------- 2


def _both(start: float, end: float) -> Any:
    return lambda t: {"addrs": {"vip1": ["node1", "node2"]}} if start <= t < end else {}


def test_2_address_on_two_nodes_longer_than_a_monitor_interval() -> None:
    result = run(stream(30, _both(10, 16.5)), [final(1)])
    (v,) = result.violations
    assert v["kind"] == "address_on_two_nodes" and v["invariant"] == "2"
    assert v["t_rel"] == 15.0  # the moment it exceeded one interval (5 s)


def test_2_shorter_than_a_monitor_interval_is_allowed() -> None:
    assert run(stream(30, _both(10, 14.5)), [final(1)]).violations == []


def test_2_inside_a_partition_it_is_allowed() -> None:
    part = event("0", "isolate", 9, 14, node="node2", nodes=["node2"])
    # isolate window + token + consensus + dc-deadtime + stop timeout = until 39.3 s
    result = run(stream(50, _both(10, 30)), part + [final(45)])
    assert "address_on_two_nodes" not in kinds(result)
    result = run(stream(50, _both(10, 46)), part + [final(45)])
    assert "address_on_two_nodes" in kinds(result)


# ---------------------------------------------------------------- 3


def test_3_not_converged_within_t() -> None:
    # vip2 never comes back after the final heal (stopped everywhere, as after
    # start failures on every node).
    ticks = stream(120, lambda t: {"where": {"vip2": None}, "oci": {"vip2": ["node2"]}})
    result = run(ticks, [final(5)], end=120)
    (v,) = result.violations
    assert v["kind"] == "not_converged" and v["invariant"] == "3"
    assert "vip2: Pacemaker runs it on no node" in v["detail"]


def test_3_a_vip_banned_everywhere_is_named_as_such() -> None:
    everywhere = {"vip2": list(NODES)}
    ticks = stream(100, lambda t: {"where": {"vip2": None}, "banned": everywhere})
    (v,) = run(ticks, [final(5)], end=100).violations
    assert v["kind"] == "not_converged"
    assert "vip2 can run nowhere: its fail count is INFINITY on node1, node2, node3" in v["detail"]
    tick = ticks[-1]
    assert S.stuck(tick, "vip2", NODES) and S.stuck(tick, "vip1", NODES) is None
    # Not provably stuck: a node not online (its reboot would clear its fail count),
    # a fencing under way, banned on two nodes only.
    for other in (
        {"nodes": {"node3": "down"}},
        {"fencing": ["node3"]},
        {"banned": {"vip2": ["node1", "node2"]}},
    ):
        args = dict({"where": {"vip2": None}, "banned": everywhere}, **other)
        assert S.stuck(state(50, **args), "vip2", NODES) is None, other


def test_3_a_run_cut_short_before_t_has_no_verdict_unless_provably_stuck() -> None:
    # Interrupted 40 s after the final heal (T = 89.2 s), vip2 not back yet: unknown.
    ticks = stream(45, lambda t: {"where": {"vip2": None}})
    assert run(ticks, [final(5)], end=45).violations == []
    # ... unless it can provably never come back: that is a violation already.
    banned = {"vip2": list(NODES)}
    ticks = stream(45, lambda t: {"where": {"vip2": None}, "banned": banned})
    assert kinds(run(ticks, [final(5)], end=45)) == ["not_converged"]


def test_3_each_condition_counts() -> None:
    broken: List[Dict[str, Any]] = [
        {"addrs": {"vip1": ["node1", "node3"]}},  # address on another node too
        {"oci": {"vip1": ["node3"]}},  # OCI elsewhere
        {"ping": {"vip1": False}},  # the switch gets no answer
        {"quorum": False},  # no quorum
        {"unclean": ["node1"]},  # fencing of the holder still due
        {"fencing": ["node3"]},  # a fencing under way: not settled
        {"pcmk": {"vip1": ["node1", "node2"]}},  # active twice
    ]
    for bad in broken:

        def at(t: float, b: Dict[str, Any] = bad) -> Dict[str, Any]:
            return b

        result = run(stream(100, at), [final(5)], end=100)
        assert "not_converged" in kinds(result), bad


def test_3_converging_late_is_a_violation() -> None:
    # T = 89.2 s: it settles 95 s after the final heal.
    ticks = stream(130, lambda t: {"where": {"vip2": None}} if t < 100 else {})
    result = run(ticks, [final(5)], end=130)
    (v,) = result.violations
    assert v["kind"] == "not_converged" and "converged only 95s" in v["detail"]


def test_3_what_counts_is_the_state_that_lasts() -> None:
    # Converged at the heal, then a due fencing takes vip2 down for a while,
    # then it settles again well within T: fine, convergence = the last settling.
    ticks = stream(80, lambda t: {"where": {"vip2": None}} if 10 <= t < 20 else {})
    result = run(ticks, [final(5)], end=80)
    assert result.violations == []
    assert result.t_converged == T0 + 20.0


def test_3_stale_views_are_unknown_not_violations() -> None:
    # crm_mon too slow to answer (older than samples.CRM_FRESH_S) from 30 s on.
    ticks = stream(80, lambda t: {"crm_age": 10.0, "where": {"vip1": None}} if t >= 30 else {})
    assert run(ticks, [final(5)], end=80).violations == []
    ticks = stream(80, lambda t: {"oci_error": True} if t >= 30 else {})
    assert run(ticks, [final(5)], end=80).violations == []


def test_3_no_final_heal() -> None:
    assert kinds(run(stream(30), [], healed=None)) == ["never_healed"]


# ---------------------------------------------------------------- 4


def _back_to(node: str, at: float) -> Any:
    return lambda t: {"where": {"vip1": node}} if t >= at else {}


def test_4_failback_to_a_returning_node() -> None:
    # vip1 on node1 (healthy throughout); node2 is killed and returns; at 40 s
    # vip1 moves to node2 for no reason.
    records = event("0", "kill", 10, 20, node="node2", nodes=["node2"]) + [final(50)]

    def at(t: float) -> Dict[str, Any]:
        out = _back_to("node2", 40)(t)
        if 10 <= t < 22:
            out.update(nodes={"node2": "down"}, where={"vip2": "node3"})
        elif t >= 22:
            out.setdefault("where", {})["vip2"] = "node3"
        return out

    result = run(stream(80, at), records, end=80)
    assert "failback" in kinds(result)
    (v,) = [v for v in result.violations if v["kind"] == "failback"]
    assert v["node"] == "node2" and v["vip"] == "vip1" and v["invariant"] == "4"


def test_4_a_scheduled_move_is_no_failback() -> None:
    kill = event("0", "kill", 10, 20, node="node2", nodes=["node2"])
    move = event("1", "move", 38, 45, node="node2", nodes=["node2"], rsc="vip1", to="node2")

    def at(t: float) -> Dict[str, Any]:
        out = _back_to("node2", 40)(t)
        out.setdefault("where", {})["vip2"] = "node3"
        if 10 <= t < 22:
            out["nodes"] = {"node2": "down"}
        return out

    result = run(stream(80, at), kill + move + [final(50)], end=80)
    assert "failback" not in kinds(result)


def test_4_leaving_a_disturbed_holder_is_a_failover() -> None:
    # node1 hangs at 39 s: vip1 leaving it for node2 (which had returned) is right.
    kill = event("0", "kill", 10, 20, node="node2", nodes=["node2"])
    hang = event("1", "freeze", 39, 41, node="node1", nodes=["node1"])

    def at(t: float) -> Dict[str, Any]:
        out = _back_to("node2", 40)(t)
        out.setdefault("where", {})["vip2"] = "node3"
        if 10 <= t < 22:
            out["nodes"] = {"node2": "down"}
        return out

    result = run(stream(80, at), kill + hang + [final(50)], end=80)
    assert "failback" not in kinds(result)


def test_4_after_a_quorum_loss_it_may_start_anywhere() -> None:
    # node2 returns; at 38 s the cluster loses quorum for a moment (a node
    # stopping while another still boots: all run, yet no node has quorum),
    # node1 stops vip1, which then starts on node2. No failback.
    kill = event("0", "kill", 10, 20, node="node2", nodes=["node2"])

    def at(t: float) -> Dict[str, Any]:
        out = _back_to("node2", 40)(t)
        out.setdefault("where", {})["vip2"] = "node3"
        if 10 <= t < 22:
            out["nodes"] = {"node2": "down"}
        if 38 <= t < 39:
            out.update(quorum=False, where={"vip1": None, "vip2": "node3"})
        return out

    result = run(stream(80, at), kill + [final(50)], end=80)
    assert "failback" not in kinds(result)


def test_4_a_move_between_healthy_nodes_is_a_note() -> None:
    result = run(stream(80, _back_to("node3", 40)), [final(50)], end=80)
    assert result.violations == []
    assert [n["kind"] for n in result.notes] == ["unexplained_move"]


# ---------------------------------------------------------------- 5


def cache(ip: str = "192.168.97.200") -> Dict[str, Any]:
    """A node cache as a stop keeps it (what the sampler records of it)."""
    return {"kind": "json", "ip": ip, "keys": ["ip", "private_ip_id", "subnet_id", "vnic_id"]}


def checked(ip: str = "192.168.97.200") -> Dict[str, Any]:
    """A holder's state file after a monitor_api check."""
    return dict(cache(ip), keys=cache(ip)["keys"] + ["checked_at", "warned"])


SESSION = {"kind": "dir"}


def test_5_the_caches_issue_13_keeps_on_every_node_are_no_leak() -> None:
    # node1 holds vip1 (monitor_api's answer and .fresh are its), node2 vip2;
    # the node caches of the VIPs they do not hold and the session stay.
    files = {
        "node1": {
            "vip1.json": checked(),
            "vip1.fresh": {"kind": "fresh", "ip": "192.168.97.200"},
            "vip2.json": cache("192.168.97.201"),
            "session": SESSION,
        },
        "node2": {"vip2.json": checked("192.168.97.201"), "vip1.json": cache(), "session": SESSION},
        "node3": {"vip1.json": cache(), "vip2.json": cache("192.168.97.201")},
    }
    ticks = stream(30, lambda t: {"files": files} if t >= 20 else {})
    assert run(ticks, [final(5)]).violations == []


def test_5_a_monitor_api_answer_on_a_node_that_does_not_hold_the_vip() -> None:
    files = {"node1": {"vip1.json": checked()}, "node2": {"vip1.json": checked()}, "node3": {}}
    ticks = stream(30, lambda t: {"files": files} if t >= 20 else {})
    (v,) = run(ticks, [final(5)]).violations
    assert v["kind"] == "stale_state_file" and v["node"] == "node2" and v["vip"] == "vip1"
    assert "checked_at, warned" in v["detail"]
    # the .fresh the shell trusts, and a move in flight recorded by monitor_api
    files = {
        "node1": {},
        "node2": {"vip1.fresh": {"kind": "fresh", "ip": "192.168.97.200"}},
        "node3": {"vip1.json": dict(cache(), keys=["ip", "moving_since"])},
    }
    ticks = stream(30, lambda t: {"files": files} if t >= 20 else {})
    found = run(ticks, [final(5)]).violations
    assert [(v["node"], v["vip"]) for v in found] == [("node2", "vip1"), ("node3", "vip1")]


def test_5_unknown_or_unreadable_state_file() -> None:
    files = {
        "node1": {"vip1.json": checked(), ".state.77.1": {"kind": "other"}},
        "node2": {"vip1.json": {"kind": "unreadable"}, "vip3.json": cache()},
        "node3": {"session": {"kind": "other"}},
    }
    ticks = stream(30, lambda t: {"files": files} if t >= 20 else {})
    found = run(ticks, [final(5)]).violations
    assert kinds(run(ticks, [final(5)])) == ["stale_state_file"] * 4
    assert sorted((v["node"], v["vip"] or "-") for v in found) == [
        ("node1", "-"),
        ("node2", "-"),
        ("node2", "vip1"),
        ("node3", "-"),
    ]


def test_5_hung_agent_process() -> None:
    # start timeout 20 s + 15 s grace: an agent seen since 1 s is hung at 36 s.
    procs = {"node1": [[4242, "agent", "monitor", T0 + 1.0]], "node2": [], "node3": []}
    ticks = stream(50, lambda t: {"procs": procs})
    (v,) = run(ticks, [final(5)]).violations
    assert v["kind"] == "hung_process" and v["node"] == "node1" and 36.0 <= v["t_rel"] <= 36.2
    # fence_oci's limit is the fence timeout (10 s) + 15 s
    procs = {"node3": [[77, "fence_oci", "", T0 + 1.0]], "node1": [], "node2": []}
    (v,) = run(stream(50, lambda t: {"procs": procs}), [final(5)]).violations
    assert v["kind"] == "hung_process" and 26.0 <= v["t_rel"] <= 26.2


def test_5_a_hung_nodes_processes_are_not_counted() -> None:
    procs = {"node1": [[4242, "agent", "monitor", T0 + 1.0]], "node2": [], "node3": []}

    def at(t: float) -> Dict[str, Any]:
        return {"procs": procs, "nodes": {"node1": "frozen"} if 5 <= t < 8 else {}}

    assert run(stream(50, at), [final(5)]).violations == []


def test_5_oci_private_ip_leak_and_teardown_leftovers() -> None:
    ticks = stream(30, lambda t: {"files": {n: {} for n in NODES}, "n_private_ips": 6})
    ticks[-1]["files"] = {"node1": {"vip1.json": checked()}, "node2": {}, "node3": {}}
    assert kinds(run(ticks, [final(5)])) == ["oci_private_ip_leak"]
    result = run(stream(30), [final(5)], leftovers=["process 123: corosync"])
    assert kinds(result) == ["left_after_teardown"]


# ---------------------------------------------------------------- helpers


def test_windows_pair_apply_and_heal_and_skip_what_did_not_apply() -> None:
    records = (
        event("0", "kill", 1, 5, node="node1", nodes=["node1"])
        + [rec("apply", "1", "freeze", 2, 2, skipped="busy")]
        + [rec("apply", "2", "api", 3, 3)]
    )
    wins = S.windows(records, T0 + 99)
    assert [(w.id, w.kind, w.nodes, round(w.t1 - T0, 3)) for w in wins] == [
        ("0", "kill", ("node1",), 5.1),
        ("2", "api", (), 99.0),
    ]


def test_a_failed_move_may_still_have_moved_it_until_the_final_heal() -> None:
    # pcs died with its node: the constraint may exist, so a move to its target
    # until the final heal is explained.
    failed = rec("apply", "1", "move", 38, 39, ok=False, error="Killed", rsc="vip1", to="node2")
    skipped_heal = rec("heal", "1", "move", 45, 45, skipped="was not applied")
    wins = S.windows([failed, skipped_heal, final(70)], T0 + 99)
    assert [(w.id, w.rsc, w.to, round(w.t1 - T0, 1)) for w in wins] == [
        ("1", "vip1", "node2", 70.0)
    ]


def test_4_a_move_long_after_its_clear_is_a_failback() -> None:
    # Moved to node2 at 12 s and cleared at 14 s (node2 down then), it lands on
    # node2 at 60 s: later than the clear + the start timeout (20 s).
    kill = event("0", "kill", 10, 20, node="node2", nodes=["node2"])
    move = event("1", "move", 12, 14, node="node2", nodes=["node2"], rsc="vip1", to="node2")

    def at(t: float) -> Dict[str, Any]:
        out = _back_to("node2", 60)(t)
        out.setdefault("where", {})["vip2"] = "node3"
        if 10 <= t < 22:
            out["nodes"] = {"node2": "down"}
        return out

    assert "failback" in kinds(run(stream(90, at), kill + move + [final(65)], end=90))
