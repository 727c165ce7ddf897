"""drill: every refusal, the dry run, a timed failover and back, failures and interruptions.

The cluster is scripted (tests/tools/drill_cluster.py): every command in
order with its canned output, OCI a FakeOciApi, time a fake clock.
"""

import json
from typing import Any, List, Sequence

import pytest

from pcs_oci.common import exit_codes, reports
from pcs_oci.lib.commands import drill
from pcs_oci.lib.errors import PcsOciError
from tests.tools.drill_cluster import (
    CONSTRAINTS,
    CRM_MON,
    CRM_NODE,
    IP_ADDR,
    PING,
    STATUS_SECTION,
    VIP,
    World,
    clear,
    crm_mon,
    healthy,
    ip_addr,
    leg_to_node2,
    move,
    op_records,
)
from tests.tools.fake_oci_api import cloud_error
from tests.tools.fake_runner import Call


@pytest.fixture
def world(tmp_path: Any) -> World:
    return World(tmp_path)


@pytest.fixture
def dyadic(world: World, monkeypatch: Any) -> World:
    from pcs_oci.lib import failover_watch

    monkeypatch.setattr(failover_watch, "POLL_SECONDS", 0.25)
    world.clock.step = 0.0625
    return world


def refused(world: World, calls: Sequence[Call], **kwargs: Any) -> PcsOciError:
    env = world.env(calls)
    with pytest.raises(PcsOciError) as caught:
        drill.prepare(env, **kwargs)
    assert world.runner is not None
    world.runner.assert_all_called()
    return caught.value


# ---------------------------------------------------------------- refusals


def test_offline_node_is_refused_before_anything_moves(world: World) -> None:
    calls = healthy()[:3] + [
        Call(CRM_MON, crm_mon(offline=["node2"])),
        Call(CONSTRAINTS, "<constraints/>"),
    ]
    error = refused(world, calls)
    assert error.exit_code == exit_codes.PRECONDITION
    assert error.codes == [reports.DRILL_NOT_SAFE, reports.DRILL_NOT_SAFE]
    offline, no_target = [r.render() for r in error.reports]
    assert offline == (
        "node node2 is offline (start the cluster there (`pcs cluster start node2`) and wait "
        "until `pcs status` shows every node online)"
    )
    assert no_target.startswith("no other node can take vip")
    assert world.api.writes() == []


def test_every_reason_to_refuse_is_reported_at_once(world: World) -> None:
    failures = [{"op_key": "web_monitor_10000", "node": "node2", "exitreason": "boom"}]
    pinned = (
        '<constraints><rsc_location id="cli-prefer-vip" rsc="vip" node="node1" '
        'score="INFINITY"/></constraints>'
    )
    calls = healthy()[:3] + [
        Call(CRM_MON, crm_mon(quorum=False, failures=failures)),
        Call(CONSTRAINTS, pinned),
    ]
    messages = [r.message for r in refused(world, calls).reports]
    assert messages == [
        "the cluster has no quorum",
        "failed actions: web_monitor_10000 on node2",
        "vip is pinned by cli-prefer-vip (an earlier move or ban)",
    ]


def test_status_disagreement_is_refused_with_its_explanation(world: World) -> None:
    world.to_node2()  # OCI has it on node2, Pacemaker on node1
    calls = healthy()[:5]
    (problem,) = refused(world, calls).reports
    assert problem.message == (
        "vip: OCI assigns it to VNIC {} (node2) but Pacemaker runs it on node1".format(world.vnic2)
    )
    assert problem.hint == "`pcs-oci status` and `pcs-oci verify`"


def test_unknown_oci_view_is_refused(world: World) -> None:
    world.api.fail("get_vnic", cloud_error(404, "NotAuthorizedOrNotFound", "GetVnic"))
    (problem,) = refused(world, healthy()[:5]).reports
    assert problem.message.startswith("vip: OCI's view is unknown: OCI GetVnic failed")
    assert problem.hint == "`pcs-oci verify` names the fix"


def test_stopped_and_unconfigured_vips_are_refused(world: World) -> None:
    calls = [Call(CRM_MON, crm_mon(None)), Call(CRM_NODE, "node1\n"), Call(IP_ADDR, ip_addr())]
    calls += [Call(CRM_MON, crm_mon(None)), Call(CONSTRAINTS, "<constraints/>")]
    (problem,) = refused(world, calls).reports
    assert problem.message == "vip is Stopped on 0 node(s)"
    calls = [Call(CRM_MON, crm_mon(vip=False)), Call(CRM_NODE, "node1\n"), Call(IP_ADDR, ip_addr())]
    calls += [Call(CRM_MON, crm_mon(vip=False)), Call(CONSTRAINTS, "<constraints/>")]
    (problem,) = refused(world, calls).reports
    assert problem.render() == "vip is not a cluster resource (run `pcs-oci configure`)"


def test_to_the_node_it_runs_on_or_a_standby_node_is_refused(world: World) -> None:
    (problem,) = refused(world, healthy()[:5], to="node1").reports
    assert problem.render() == "vip already runs on node1 (name another node with --to)"
    calls = healthy()[:3] + [
        Call(CRM_MON, crm_mon(standby=["node2"])),
        Call(CONSTRAINTS, "<constraints/>"),
    ]
    (problem,) = refused(world, calls, to="node2").reports
    assert problem.render() == "node2 is in standby (`pcs node unstandby node2`)"


def test_bad_names_are_usage_errors_before_any_command(world: World) -> None:
    error = refused(world, [], names=["vip", "nope"])
    assert (error.exit_code, error.codes) == (exit_codes.USAGE, [reports.USAGE_INVALID_ARGUMENT])
    assert error.reports[0].render() == "no VIP named nope in {} (name one of: vip)".format(
        world.path
    )
    error = refused(world, [], to="node3")
    assert error.reports[
        0
    ].render() == "--to node3: not a node of {} (name one of: node1, node2)".format(world.path)


# ---------------------------------------------------------------- dry run


def test_dry_run_checks_and_prints_the_commands_and_moves_nothing(world: World) -> None:
    env = world.env(healthy())
    plan = drill.prepare(env, back=True, to="NODE2")
    result = world.run(env, plan, dry_run=True)
    world.runner.assert_all_called()  # type: ignore[union-attr]
    assert world.api.writes() == [] and result.ok and result.dry_run
    assert [(leg.source, leg.target) for leg in result.legs] == [
        ("node1", "node2"),
        ("node2", "node1"),
    ]
    assert result.legs[0].commands == [
        "/usr/sbin/pcs resource move-with-constraint vip node2 lifetime=PT120S",
        "/usr/sbin/pcs resource clear vip --wait=60",
    ]
    data = result.to_dict()
    assert data["move_command"] == "pcs resource move-with-constraint"
    (vip,) = data["vips"]
    assert vip["legs"][1]["phases"] is None and vip["legs"][1]["commands"][0].endswith(
        "move-with-constraint vip node1 lifetime=PT120S"
    )


def test_pcs_0_10_moves_with_resource_move(world: World) -> None:
    env = world.env(healthy(pcs="0.10.18\n"))
    plan = drill.prepare(env, timeout=30)
    assert plan.verb == "move"
    (leg,) = world.run(env, plan, dry_run=True).legs
    assert leg.commands[0] == "/usr/sbin/pcs resource move vip node2 lifetime=PT30S"


# ---------------------------------------------------------------- drilling


def test_a_timed_failover_and_back(world: World) -> None:
    back = [
        Call(move("node1")),
        Call(CRM_MON, crm_mon("node2", role="Stopping")),
        Call(IP_ADDR, ip_addr()),
        Call(CRM_MON, crm_mon(None)),
        Call(IP_ADDR, ip_addr()),
        Call(CRM_MON, crm_mon("node1", role="Starting")),
        Call(IP_ADDR, ip_addr(VIP)),
        Call(CRM_MON, crm_mon("node1")),
        Call(PING),
        Call(clear()),
        Call(CRM_MON, crm_mon("node1")),
        Call(STATUS_SECTION, "<status/>"),
    ]
    env = world.env(healthy() + leg_to_node2() + back)
    plan = drill.prepare(env, back=True)
    runner = world.runner
    assert runner is not None
    # The agent on node2 moves the IP in OCI just before the first poll of leg 1.
    runner.at(move("node2"), world.to_node2)
    runner.at(move("node1"), lambda: None)
    runner.at(IP_ADDR, world.to_node1, occurrence=3)
    result = world.run(env, plan)
    runner.assert_all_called()
    there, home = result.legs
    assert result.ok and there.ok and home.ok
    phases = {p.name: p for p in there.phases or []}
    # 50 ms per command after the move returned; one 200 ms poll between the two looks.
    assert [(n, phases[n].at_ms) for n in drill_phase_names()] == [
        ("stop", 50),
        ("start", 300),
        ("address", 300),
        ("oci", 50),
        ("ping", 350),
    ]
    assert (phases["stop"].op_ms, phases["start"].op_ms) == (40, 1200)
    assert phases["address"].how == "the agent's start, which confirms the address"
    assert phases["oci"].how == "OCI API: VNIC {}".format(world.vnic2)
    assert (there.failover_ms, there.request_ms, there.cleared, there.stayed_on) == (
        350,
        50,
        True,
        ["node2"],
    )
    assert there.vnic_id == world.vnic2
    # Back to node1, which is this node: the address is seen on this node.
    phases = {p.name: p for p in home.phases or []}
    assert phases["address"].how == "ip addr on this node"
    # OCI is asked at most every 0.5 s: at 100 ms (still node2's), then at 700.
    assert [(n, phases[n].at_ms) for n in drill_phase_names()] == [
        ("stop", 350),
        ("start", 950),
        ("address", 700),
        ("oci", 700),
        ("ping", 1000),
    ]
    assert phases["stop"].op_ms is None  # Pacemaker's records were gone: shown as unknown
    assert home.failover_ms == 1000 and home.stayed_on == ["node1"]
    assert world.api.writes() == []  # the drill never writes to OCI itself


def drill_phase_names() -> List[str]:
    return ["stop", "start", "address", "oci", "ping"]


def test_json_field_names_are_stable(world: World) -> None:
    env = world.env(healthy() + leg_to_node2())
    plan = drill.prepare(env)
    world.runner.at(move("node2"), world.to_node2)  # type: ignore[union-attr]
    data = json.loads(json.dumps(world.run(env, plan).to_dict()))
    assert list(data) == [
        "ok",
        "dry_run",
        "local_node",
        "move_command",
        "lifetime_seconds",
        "vips",
        "skipped",
    ]
    (vip,) = data["vips"]
    assert list(vip) == ["name", "ip", "legs"]
    (leg,) = vip["legs"]
    assert list(leg) == [
        "from",
        "to",
        "ok",
        "problem",
        "request_ms",
        "failover_ms",
        "phases",
        "oci_vnic_id",
        "constraint_cleared",
        "running_on_after",
        "commands",
    ]
    assert list(leg["phases"]) == drill_phase_names()
    assert leg["phases"]["start"] == {
        "title": "started on node2",
        "at_ms": 300,
        "op_ms": 1200,
        "how": "crm_mon",
    }


def test_a_vip_that_never_answers_ping_is_reported_not_failed(dyadic: World) -> None:
    world = dyadic
    silent = Call(PING, returncode=1)
    calls = healthy() + [Call(move("node2")), Call(CRM_MON, crm_mon("node2"))]
    # Everything else is seen at once; then a failed ping of 1/16 s every
    # 1/4 s until PING_GRACE_SECONDS (10 s) have passed: 33 of them.
    calls += [silent] * 33
    calls += [Call(clear()), Call(CRM_MON, crm_mon("node2")), Call(STATUS_SECTION, op_records())]
    env = world.env(calls)
    plan = drill.prepare(env)
    world.runner.at(move("node2"), world.to_node2)  # type: ignore[union-attr]
    (leg,) = world.run(env, plan).legs
    world.runner.assert_all_called()  # type: ignore[union-attr]
    ping = (leg.phases or [])[-1]
    assert leg.ok and ping.at_ms is None
    assert ping.how == "no answer: does a security list or NSG drop ICMP echo from this node?"
    assert leg.failover_ms == 62  # when crm_mon showed it started (1/16 s)


def test_a_failover_that_does_not_complete_in_time_fails_and_clears(dyadic: World) -> None:
    world = dyadic
    calls = healthy(pcs="0.11.5\n") + [Call(move("node2", 10))]
    # Stuck: stopped, never started, OCI never moves: a look every 5/16 s
    # until the 10 s are over: 33 of them.
    calls += [Call(CRM_MON, crm_mon(None))] * 33
    calls += [Call(clear()), Call(CRM_MON, crm_mon(None)), Call(STATUS_SECTION, "<status/>")]
    env = world.env(calls)
    plan = drill.prepare(env, timeout=10)
    result = world.run(env, plan)
    world.runner.assert_all_called()  # type: ignore[union-attr]
    (leg,) = result.legs
    assert not result.ok and not leg.ok and leg.failover_ms is None
    assert leg.problem == (
        "not seen within 10 s: started on node2, address up on node2, OCI: on node2's VNIC"
    )
    oci = [p for p in leg.phases or [] if p.name == "oci"][0]
    assert oci.how == "OCI API: still on VNIC {}".format(world.vnic1)
    assert leg.cleared and leg.stayed_on == []


def test_a_failed_start_ends_the_drill_early(world: World) -> None:
    failure = {"op_key": "vip_start_0", "node": "node2", "exitreason": "UpdatePrivateIp denied"}
    calls = healthy() + [
        Call(move("node2")),
        Call(CRM_MON, crm_mon("node1", failures=[failure])),
        Call(clear()),
        Call(CRM_MON, crm_mon("node1")),
        Call(STATUS_SECTION, "<status/>"),
    ]
    env = world.env(calls)
    plan = drill.prepare(env, back=True)
    result = world.run(env, plan)
    world.runner.assert_all_called()  # type: ignore[union-attr]
    (leg,) = result.legs  # no way back after a failure
    assert leg.problem == "vip_start_0 failed on node2: UpdatePrivateIp denied"
    assert leg.cleared and leg.stayed_on == ["node1"]


def test_no_way_back_when_the_vip_did_not_stay(world: World) -> None:
    calls = (
        healthy()
        + leg_to_node2()[:-2]
        + [
            Call(CRM_MON, crm_mon("node1")),
            Call(STATUS_SECTION, op_records()),
        ]
    )
    env = world.env(calls)
    plan = drill.prepare(env, back=True)
    world.runner.at(move("node2"), world.to_node2)  # type: ignore[union-attr]
    result = world.run(env, plan)
    (leg,) = result.legs
    assert leg.ok and leg.stayed_on == ["node1"]
    assert result.skipped == ["vip: not moved back: it runs on node1 after the drill, not on node2"]


# ---------------------------------------------------------------- interrupted


def interrupt() -> None:
    raise KeyboardInterrupt


def test_ctrl_c_midway_clears_the_constraint(world: World) -> None:
    calls = healthy() + [Call(move("node2")), Call(CRM_MON, crm_mon(None)), Call(clear(wait=False))]
    env = world.env(calls)
    plan = drill.prepare(env)
    world.runner.at(CRM_MON, interrupt, occurrence=3)  # type: ignore[union-attr]
    with pytest.raises(PcsOciError) as caught:
        world.run(env, plan)
    world.runner.assert_all_called()  # type: ignore[union-attr]
    error = caught.value
    assert error.exit_code == exit_codes.INTERRUPTED
    assert [r.render() for r in error.reports] == [
        "interrupted while moving vip from node1 to node2",
        "the drill's move constraint on vip was removed (`pcs-oci status` shows where it runs now)",
    ]


def test_an_error_midway_clears_the_constraint_and_says_so(world: World) -> None:
    calls = healthy() + [
        Call(move("node2")),
        Call(CRM_MON, "", "crm_mon: Connection to cluster failed", 102),
        Call(clear(wait=False), "", "Error: unable to get cib", 1),
    ]
    env = world.env(calls)
    plan = drill.prepare(env)
    with pytest.raises(PcsOciError) as caught:
        world.run(env, plan)
    world.runner.assert_all_called()  # type: ignore[union-attr]
    first, outcome = caught.value.reports
    assert first.code == reports.CLUSTER_NOT_RUNNING
    # The move started at EPOCH + 0.35 s (seven commands); 120 s later it ends.
    assert outcome.render() == (
        "the drill's move constraint on vip could not be removed (`/usr/sbin/pcs resource "
        "clear vip` failed (exit 1): Error: unable to get cib); it expires by itself at "
        "08:02:00 UTC (`pcs resource clear vip` removes it now)"
    )


def test_ctrl_c_while_clearing_at_the_end_clears_again(world: World) -> None:
    calls = healthy() + leg_to_node2()[:4] + [Call(clear()), Call(clear(wait=False))]
    env = world.env(calls)
    plan = drill.prepare(env)
    world.runner.at(move("node2"), world.to_node2)  # type: ignore[union-attr]
    world.runner.at(clear(), interrupt)  # type: ignore[union-attr]
    with pytest.raises(PcsOciError) as caught:
        world.run(env, plan)
    world.runner.assert_all_called()  # type: ignore[union-attr]
    assert caught.value.codes == [reports.DRILL_INTERRUPTED] * 2
    assert caught.value.reports[1].message == "the drill's move constraint on vip was removed"


def test_ctrl_c_outside_a_move_says_no_constraint_is_left(world: World) -> None:
    env = world.env(healthy())
    plan = drill.prepare(env)
    world.api.before("get_vnic", interrupt)
    with pytest.raises(PcsOciError) as caught:
        world.run(env, plan)
    world.runner.assert_all_called()  # type: ignore[union-attr]
    assert caught.value.exit_code == exit_codes.INTERRUPTED
    assert caught.value.reports[0].render() == (
        "interrupted outside a move (no constraint of the drill is in place; `pcs-oci status` "
        "shows the VIPs)"
    )
