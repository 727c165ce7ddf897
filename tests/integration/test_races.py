"""Races: two nodes start the VIP at the same moment; an agent killed mid-start.

assign_vip's rule (pcs_oci/lib/vip.py): every write is conditional (if-match
etag, or a create that fails with 409 if the address exists). A node whose
write loses looks again: on its own VNIC -> success; still where it saw it ->
try again; on a third VNIC -> another node won: it fails with the transient
VIP_MOVE_CONFLICT instead of taking the VIP back. So exactly one VNIC holds
the VIP after every race, and it is the VNIC of a node whose start succeeded.
"""

import json
import os
import signal
import subprocess
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Dict, List, NamedTuple, Optional, Tuple

import pytest

from pcs_oci.common import reports
from pcs_oci.lib.errors import CloudError
from pcs_oci.lib.oci.api import OciApi
from pcs_oci.lib.oci.settings import OciSettings
from pcs_oci.lib.vip import assign_vip
from tests.fakes.harness import FakeOci
from tests.fakes.netops import V4
from tests.tools.agent_sandbox import VIP, Result, Sandbox
from tests.tools.reliability import Collector

RUNS = 100
AGENT_RUNS = 10
FAST = {"timeout": 2, "max_attempts": 4, "max_total_seconds": 5, "retry_base_seconds": 0.05}
THREE_NODES = {"nodes": ("node1", "node2", "node3")}


class Outcome(NamedTuple):
    node: str
    ok: bool
    action: str  # AssignResult.action, or the report code of the failure
    previous_vnic: Optional[str]  # where a successful start found the VIP


def _api(fake: FakeOci, tmp_path: Path) -> OciApi:
    config_file, profile = fake.write_api_key_config(str(tmp_path / "oci"))
    settings = OciSettings(
        auth="api_key",
        config_file=config_file,
        profile=profile,
        endpoint=fake.core_endpoint,
        **FAST,  # type: ignore[arg-type]
    )
    return OciApi(settings)


def _race(fake: FakeOci, apis: Dict[str, OciApi], ip: str) -> List[Outcome]:
    barrier = threading.Barrier(len(apis))

    def start(node: str) -> Outcome:
        vnic = str(fake.node(node)["vnic_id"])
        barrier.wait()
        try:
            result = assign_vip(apis[node], vnic, ip)
        except CloudError as e:
            assert e.transient, "{}: {}".format(e.codes, e)
            return Outcome(node, False, e.codes[0], None)
        return Outcome(node, True, result.action, result.previous_vnic_id)

    with ThreadPoolExecutor(len(apis)) as pool:
        return list(pool.map(start, sorted(apis)))


def _holders(fake: FakeOci, ip: str) -> List[Optional[str]]:
    """The node of every private IP object with this address (one, or a bug)."""
    by_vnic = {n["vnic_id"]: name for name, n in fake.world["nodes"].items()}
    return [
        by_vnic.get(r.get("vnicId"))
        for r in fake.snapshot()["private_ips"]
        if r.get("ipAddress") == ip
    ]


def _classify(fake: FakeOci, outcomes: List[Outcome], holder: str) -> str:
    winner = next(o for o in outcomes if o.node == holder)
    loser = next(o for o in outcomes if o.node != holder)
    assert winner.ok, "the VIP's holder {} reported {}".format(holder, winner.action)
    if not loser.ok:
        assert loser.action in (
            reports.VIP_MOVE_CONFLICT,
            reports.VIP_MOVE_NOT_CONFIRMED,
        ), loser
        return "the other failed: " + loser.action
    # Both succeeded: only when the winner did not race at all, i.e. it first
    # looked after the other's move was done, found the VIP on the other
    # node's VNIC and moved it from there, like a failover.
    assert winner.action == "moved" and winner.previous_vnic == fake.node(loser.node)["vnic_id"], (
        "both starts succeeded, but the winner did not take it from the other",
        outcomes,
    )
    return "both succeeded: the later start found it on the other node and moved it"


@pytest.mark.fake_world(**THREE_NODES)
def test_two_simultaneous_starts_leave_the_vip_on_exactly_one_vnic(
    fake_oci: FakeOci, tmp_path: Path, reliability: Collector
) -> None:
    apis = {node: _api(fake_oci, tmp_path) for node in ("node1", "node2")}
    kinds: Counter = Counter()
    winners: Counter = Counter()
    start = time.monotonic()
    for run in range(RUNS):
        if run % 2 == 0:
            # The VIP is on a third node: both racers must move it.
            ip = VIP
            if fake_oci.private_ip_by_address(ip) is None:
                fake_oci.add_private_ip(ip, "node3")
            else:
                fake_oci.move_private_ip(ip, "node3")
            scenario = "move"
        else:
            # The VIP does not exist yet: both racers must create it.
            ip = "10.0.0.{}".format(100 + run)
            scenario = "create"
        outcomes = _race(fake_oci, apis, ip)
        holders = _holders(fake_oci, ip)
        assert len(holders) == 1 and holders[0] in ("node1", "node2"), (run, holders, outcomes)
        kinds[(scenario, _classify(fake_oci, outcomes, str(holders[0])))] += 1
        winners[holders[0]] += 1
        if scenario == "create":
            # A VNIC holds at most 31 secondary IPs (the fake enforces OCI's limit).
            fake_oci.cloud.net.delete_ip(V4, fake_oci.private_ip_by_address(ip)["id"])
    elapsed = time.monotonic() - start
    conflicts = sum(n for (_, kind), n in kinds.items() if kind.startswith("the other failed"))
    # The starts really raced: most runs overlapped enough for a write to lose.
    assert conflicts >= RUNS // 4, kinds
    rows = "\n".join(
        "| {} | {} | {} |".format(scenario, kind, n)
        for (scenario, kind), n in sorted(kinds.items())
    )
    reliability.add(
        "races",
        "{runs} races in {s:.1f} s (`{test}`): node1 and node2 call assign_vip at the same "
        "moment (two threads, a barrier, the real SDK, one fake); even runs move a VIP held by "
        "node3, odd runs create a VIP that does not exist yet. After **every** run exactly one "
        "private IP object has the address and it is on the VNIC of a node whose start "
        "succeeded (asserted); the other node either failed with a transient error, or "
        "succeeded before the winner even looked (the winner then found the VIP on it and "
        "moved it, like a failover).\n\n"
        "| scenario | outcome | runs |\n|---|---|---|\n{rows}\n\n"
        "Winners: {winners}. A write that loses (412 NoEtagMatch, or 409 on create) makes the "
        "node look again; when the VIP is now on a third VNIC the node fails with "
        "`VIP_MOVE_CONFLICT` and does not take it back (pcs_oci/lib/vip.py), so the etag "
        "decides and the VIP never ping-pongs between two starting nodes.\n".format(
            runs=RUNS,
            s=elapsed,
            test="test_two_simultaneous_starts_leave_the_vip_on_exactly_one_vnic",
            rows=rows,
            winners=", ".join("{} {}".format(k, v) for k, v in sorted(winners.items())),
        ),
    )


@pytest.mark.fake_world(**THREE_NODES, secondary_ips={VIP: "node3"})
def test_two_agents_starting_at_once(
    fake_oci: FakeOci, tmp_path: Path, reliability: Collector
) -> None:
    """The same through the agent: two processes, instance principals, the scripted IPaddr2."""
    boxes = {}
    for node in ("node1", "node2"):
        (tmp_path / node).mkdir()
        boxes[node] = Sandbox(tmp_path / node, fake_oci, node)
    env = {"PCS_OCI_RETRY_BASE_SECONDS": "0.05", "OCF_RESKEY_api_timeout": "2"}
    kinds: Counter = Counter()
    for _ in range(AGENT_RUNS):
        fake_oci.move_private_ip(VIP, "node3")
        for box in boxes.values():
            if box.up.exists():
                box.up.unlink()
        barrier = threading.Barrier(2)

        def start(node: str, barrier: threading.Barrier = barrier) -> Tuple[str, Result]:
            barrier.wait()
            return node, boxes[node].run("start", 30, **env)

        with ThreadPoolExecutor(2) as pool:
            results = dict(pool.map(start, ["node1", "node2"]))
        (holder,) = _holders(fake_oci, VIP)
        assert holder in boxes
        assert results[holder].rc == 0, results[holder].stderr
        assert boxes[holder].up.exists()
        other = "node2" if holder == "node1" else "node1"
        loser = results[other]
        if loser.rc != 0:
            assert loser.rc == 1 and len(loser.reasons) == 1, loser.stderr
            assert "Traceback" not in loser.stderr
            # The loser did not add the address.
            assert not boxes[other].up.exists()
            kinds["loser: rc 1 " + loser.reason.split(":")[0][:40]] += 1
        else:
            # No race: the holder looked after the other's move and took it over.
            assert (
                "from VNIC {} ".format(fake_oci.node(other)["vnic_id"]) in results[holder].stderr
            ), results[holder].stderr
            kinds["both rc 0 (no overlap: the later start found it on the other and moved it)"] += 1
    reliability.add(
        "races",
        "Through the agent (`test_two_agents_starting_at_once`): {} times two `start`s, one per "
        "node, in two processes with instance principals at the same moment: the VIP's holder "
        "in OCI always had rc 0 and the address up; the other: {}.\n".format(
            AGENT_RUNS, "; ".join("{} x {}".format(n, k) for k, n in sorted(kinds.items()))
        ),
    )


# ---------------------------------------------------------------- SIGKILL mid-start


def _processes_with(token: str) -> List[int]:
    """PIDs of live processes whose environment contains token (our sandbox path)."""
    found = []
    needle = token.encode()
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            with open("/proc/{}/environ".format(pid), "rb") as f:
                if needle in f.read():
                    with open("/proc/{}/stat".format(pid)) as s:
                        if s.read().split(") ")[-1].startswith("Z"):
                            continue  # a zombie waiting for init
                    found.append(int(pid))
        except OSError:
            continue
    return found


@pytest.mark.fake_world(secondary_ips={VIP: "node2"})
def test_agent_killed_after_the_oci_move_converges(
    fake_oci: FakeOci, tmp_path: Path, reliability: Collector
) -> None:
    box = Sandbox(tmp_path, fake_oci)
    env = box.environ(
        "start",
        30,
        FAKE_SLEEP_START="30",
        PCS_OCI_RETRY_BASE_SECONDS="0.05",
        OCF_RESKEY_monitor_api="true",
        OCF_RESKEY_monitor_api_interval="1",
    )
    log: List[str] = []
    proc = subprocess.Popen(
        [str(box.entry), "start"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 20
        # IPaddr2 start has begun (beside the OCI move) and hangs; the OCI move
        # is done and recorded; the address is not added yet.
        while (
            "start" not in (box.log.read_text() if box.log.exists() else "")
            or not box.state_path().exists()
        ):
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "IPaddr2 start or the OCI move never ran"
            time.sleep(0.02)
        assert _holders(fake_oci, VIP) == ["node1"]
        assert not box.up.exists()
        assert box.state_files() == ["vip.fresh", "vip.json"]
        log.append("killed the agent's process group (as pacemaker-execd does on a timeout)")
    finally:
        # Only our own process group: the agent and the IPaddr2 it runs.
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        if proc.stderr:
            proc.stderr.close()
    deadline = time.monotonic() + 5
    while _processes_with(str(box.up)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _processes_with(str(box.up)) == [], "processes left behind"
    log.append("no process left (the agent, IPaddr2 and its sleep all gone)")

    def step(action: str, **extra: str) -> Result:
        result = box.run(action, 30, forked=False, **dict(extra, PCS_OCI_RETRY_BASE_SECONDS="0.05"))
        log.append(
            "{}{} -> rc {} ({:.2f} s); address {}; state files {}".format(
                action,
                " (probe)" if extra.get("OCF_RESKEY_CRM_meta_interval") == "0" else "",
                result.rc,
                result.seconds,
                "up" if box.up.exists() else "down",
                box.state_files(),
            )
        )
        assert "Traceback" not in result.stderr
        return result

    # What Pacemaker does next: a probe, a stop, a new start, monitors.
    assert step("monitor", OCF_RESKEY_CRM_meta_interval="0").rc == 7
    assert step("stop").rc == 0
    # What the node knows of the VIP stays for the next start (not the monitor answer).
    assert box.state_files() == ["vip.json"] and not box.up.exists()
    writes = len(fake_oci.calls("UpdatePrivateIp"))
    started = step("start", OCF_RESKEY_monitor_api="true")
    assert started.rc == 0 and box.up.exists()
    assert len(fake_oci.calls("UpdatePrivateIp")) == writes, "the VIP was already here"
    assert box.state_path().stat().st_mode & 0o777 == 0o600
    assert box.state_dir.stat().st_mode & 0o777 == 0o700
    assert box.state_files() == ["vip.fresh", "vip.json"]
    assert _holders(fake_oci, VIP) == ["node1"]
    time.sleep(1.1)  # past monitor_api_interval: the next monitor asks OCI
    calls = len(fake_oci.calls("GetPrivateIp"))
    monitored = step("monitor", OCF_RESKEY_monitor_api="true", OCF_RESKEY_monitor_api_interval="1")
    assert monitored.rc == 0 and monitored.stderr == ""
    assert len(fake_oci.calls("GetPrivateIp")) == calls + 1
    state = json.loads(box.state_path().read_text())
    assert state["private_ip_id"] == fake_oci.private_ip_by_address(VIP)["id"]

    # And a start straight after the kill, without the stop in between.
    os.unlink(str(box.up))
    assert step("start").rc == 0 and box.up.exists()
    assert sorted(os.listdir(str(box.state_dir))) == ["vip.fresh", "vip.json"]
    reliability.add(
        "kill",
        "`test_agent_killed_after_the_oci_move_converges`: a start whose IPaddr2 start hangs "
        "(scripted: sleeps) beside the OCI move, which completes; the agent's process "
        "group is killed with SIGKILL as pacemaker-execd does on an op timeout. Then, in "
        "order:\n\n"
        + "\n".join("1. " + line for line in log)
        + "\n\nEvery step converged (asserted): OCI kept the VIP on node1 throughout, the new "
        "start found it there (no write call), no process and no temporary state file was "
        "left behind, and the state file is 0600 in a 0700 directory.\n",
    )
