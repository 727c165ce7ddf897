"""`pcs-oci drill` as the CLI runs it: SIGTERM and Ctrl-C, the table, the JSON, exit statuses.

The signals are real: the scripted cluster sends them to this very process
in the middle of a drill, and the handler the CLI installs must clear the
move constraint before it exits 128 + the signal.
"""

import argparse
import json
import os
import signal
from typing import Any, List

import pytest

from pcs_oci.cli import drill_cmd
from pcs_oci.common import exit_codes
from tests.tools.drill_cluster import (
    CRM_MON,
    World,
    clear,
    crm_mon,
    healthy,
    leg_to_node2,
    move,
)
from tests.tools.fake_runner import Call


def args(**given: Any) -> argparse.Namespace:
    values = dict(names=[], to=None, back=False, dry_run=False, json=False, timeout=120)
    values.update(given)
    return argparse.Namespace(**values)


@pytest.fixture
def world(tmp_path: Any) -> World:
    return World(tmp_path)


def send(signum: int) -> Any:
    return lambda: os.kill(os.getpid(), signum)


@pytest.mark.parametrize(
    "signum, code, name",
    [(signal.SIGTERM, 143, "SIGTERM"), (signal.SIGINT, exit_codes.INTERRUPTED, "SIGINT")],
)
def test_a_signal_midway_clears_the_constraint_and_exits_128_plus_it(
    world: World, capsys: Any, signum: int, code: int, name: str
) -> None:
    before = [signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)]
    calls = healthy() + [Call(move("node2")), Call(CRM_MON, crm_mon(None)), Call(clear(False))]
    env = world.env(calls)
    assert world.runner is not None
    world.runner.at(CRM_MON, send(signum), occurrence=3)  # the first look after the move
    assert drill_cmd.drill(env, args()) == code
    world.runner.assert_all_called()
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [
        "Error: interrupted while moving vip from node1 to node2 by {}".format(name),
        "Error: the drill's move constraint on vip was removed (`pcs-oci status` shows where "
        "it runs now)",
    ]
    assert [signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)] == before


def test_a_second_signal_does_not_stop_the_cleanup(world: World, capsys: Any) -> None:
    calls = healthy() + [Call(move("node2")), Call(CRM_MON, crm_mon(None)), Call(clear(False))]
    env = world.env(calls)
    assert world.runner is not None
    world.runner.at(CRM_MON, send(signal.SIGTERM), occurrence=3)
    world.runner.at(clear(False), send(signal.SIGINT))  # while clearing
    assert drill_cmd.drill(env, args()) == 143
    world.runner.assert_all_called()
    assert "move constraint on vip was removed" in capsys.readouterr().err


def test_a_signal_during_the_checks_moves_nothing(world: World, capsys: Any) -> None:
    env = world.env(healthy()[:1])
    assert world.runner is not None
    world.runner.at(CRM_MON, send(signal.SIGTERM))
    assert drill_cmd.drill(env, args()) == 143
    world.runner.assert_all_called()
    assert capsys.readouterr().err == "Error: interrupted by SIGTERM; nothing was moved\n"


def test_the_table_of_a_drill(world: World, capsys: Any) -> None:
    env = world.env(healthy() + leg_to_node2())
    assert world.runner is not None
    world.runner.at(move("node2"), world.to_node2)
    assert drill_cmd.drill(env, args()) == exit_codes.OK
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "vip (10.0.0.200): node1 -> node2"
    assert out[1].split() == ["PHASE", "AT", "(ms)", "AGENT", "(ms)", "SEEN", "BY"]
    assert [line.split()[:2] for line in out[2:7]] == [
        ["stopped", "on"],
        ["started", "on"],
        ["address", "up"],
        ["OCI:", "on"],
        ["answers", "ping"],
    ]
    assert out[3].split()[-2:] == ["1200", "crm_mon"]  # Pacemaker's run time of the start
    assert (
        out[7].startswith("  failover: ") and "ms after the move constraint was in place" in out[7]
    )
    assert out[8] == "  move constraint cleared; vip runs on node2"
    assert len(out) == 9


def test_json_of_a_drill(world: World, capsys: Any) -> None:
    env = world.env(healthy() + leg_to_node2())
    assert world.runner is not None
    world.runner.at(move("node2"), world.to_node2)
    assert drill_cmd.drill(env, args(json=True)) == exit_codes.OK
    data = json.loads(capsys.readouterr().out)
    (leg,) = data["vips"][0]["legs"]
    assert data["ok"] is True and leg["ok"] is True
    assert leg["phases"]["ping"]["how"] == "ping from this node"


def test_dry_run_prints_commands_to_paste(world: World, capsys: Any) -> None:
    env = world.env(healthy())
    assert drill_cmd.drill(env, args(dry_run=True, back=True, timeout=60)) == exit_codes.OK
    lines = capsys.readouterr().out.splitlines()
    commands = [line for line in lines if not line.startswith("#")]
    assert commands == [
        "/usr/sbin/pcs resource move-with-constraint vip node2 lifetime=PT60S",
        "/usr/sbin/pcs resource clear vip --wait=60",
        "/usr/sbin/pcs resource move-with-constraint vip node1 lifetime=PT60S",
        "/usr/sbin/pcs resource clear vip --wait=60",
    ]


def test_a_failed_failover_exits_5_with_the_reason(world: World, capsys: Any) -> None:
    failure = {"op_key": "vip_start_0", "node": "node2", "exitreason": "denied"}
    calls: List[Call] = healthy() + [
        Call(move("node2")),
        Call(CRM_MON, crm_mon("node1", failures=[failure])),
        Call(clear()),
        Call(CRM_MON, crm_mon("node1")),
        Call(["/usr/sbin/cibadmin", "--query", "--scope", "status"], "<status/>"),
    ]
    env = world.env(calls)
    assert drill_cmd.drill(env, args()) == exit_codes.CLUSTER
    out, err = capsys.readouterr()
    assert "  FAILED: vip_start_0 failed on node2: denied" in out.splitlines()
    assert err == (
        "Error: vip: the failover from node1 to node2 did not complete: vip_start_0 failed on "
        "node2: denied (`pcs-oci status`, `pcs status --full`)\n"
    )


def test_a_refusal_is_an_error_with_exit_3(world: World) -> None:
    from pcs_oci.lib.errors import PcsOciError

    calls = healthy()[:3] + [
        Call(CRM_MON, crm_mon(quorum=False)),
        Call(["/usr/sbin/cibadmin", "--query", "--scope", "constraints"], "<constraints/>"),
    ]
    env = world.env(calls)
    with pytest.raises(PcsOciError) as caught:
        drill_cmd.drill(env, args())
    assert caught.value.exit_code == exit_codes.PRECONDITION
