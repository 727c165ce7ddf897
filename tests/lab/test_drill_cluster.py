"""`pcs-oci drill` and `pcs-oci policy` on a real 2-node cluster with the fake OCI services.

The real `pcs-oci` runs inside node1, as an admin would type it, against the
real pcs 0.11, Pacemaker and Corosync. The drill must refuse a pinned VIP,
time a real failover there and back (the figure is printed), and never leave
a VIP pinned: not after SIGTERM midway (it clears its constraint before it
exits) and not after SIGKILL (its constraint's lifetime ends the pin, as
Pacemaker's own allocation scores show). The scenarios share one lab, named
and numbered (LAB_NAME day2, 192.168.95.0/24) so it runs beside other labs.
"""

import json
import re
import threading
import time
import xml.etree.ElementTree as ET
from typing import Any, Dict, Iterator, List, Optional

import pytest

from tests.lab.lab import poll, unavailable_reason
from tests.lab.oci_lab import OciLab

pytestmark = [
    pytest.mark.cluster,
    pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason())),
]

LAB_NAME = "day2"
LAB_NET = "192.168.95"
ADMIN = "node1"  # where the admin types
PHASES = ["stop", "start", "address", "oci", "ping"]


@pytest.fixture(scope="module")
def ol(request: Any) -> Iterator[OciLab]:
    lab = OciLab(LAB_NAME, net=LAB_NET)
    lab.up()
    failed_before = request.session.testsfailed
    try:
        yield lab
    finally:
        lab.close(failed=request.session.testsfailed > failed_before)


@pytest.fixture(scope="module")
def config(ol: OciLab) -> str:
    doc = ol.config_doc(vnic_ids=("node1", "node2"))
    for node in doc["nodes"]:
        node["instance_id"] = ol.node(node["hostname"])["instance_id"]
    return ol.write_config(doc)


def other(node: str) -> str:
    return "node2" if node == "node1" else "node1"


def cli(ol: OciLab, config: str, *args: str, rc: int = 0, timeout: float = 300) -> Any:
    result = ol.pcs_oci(ADMIN, "--config", config, *args, check=False, timeout=timeout)
    assert result.returncode == rc, "exit {}\n{}{}".format(
        result.returncode, result.stdout, result.stderr
    )
    return result


def pcs(ol: OciLab, *args: str) -> str:
    return str(ol.lab.exec(ADMIN, "pcs", *args, timeout=120).stdout)


def epoch(ol: OciLab) -> str:
    root = ET.fromstring(ol.lab.exec("node2", "cibadmin", "--query").stdout)
    return "{}.{}".format(root.get("admin_epoch"), root.get("epoch"))


def move_constraints(ol: OciLab) -> List[Dict[str, str]]:
    """The cli-prefer-*/cli-ban-* constraints in the CIB, read from node2."""
    out = ol.lab.exec("node2", "cibadmin", "--query", "--scope", "constraints").stdout
    return [
        dict(c.attrib)
        for c in ET.fromstring(out).iter("rsc_location")
        if c.get("id", "").startswith(("cli-prefer-", "cli-ban-"))
    ]


def settled(ol: OciLab, config: str) -> str:
    """Once Pacemaker, the OS and OCI agree on one holder (pcs-oci status says so), it."""
    holder = poll(lambda: ol.lab.where("vip"), timeout=60, what="vip running")[0]
    ol.wait_everywhere(holder)
    cli(ol, config, "status")
    return str(holder)


def score(ol: OciLab, node: str) -> str:
    """Pacemaker's allocation score of vip on node, from the live CIB, now."""
    out = ol.lab.exec(ADMIN, "crm_simulate", "--live-check", "--show-scores").stdout
    found = re.findall(r"vip allocation score on {}: (\S+)".format(node), out)
    assert found, out
    return str(found[-1])


class Background:
    """`pcs-oci drill` inside ADMIN in a thread, to be signalled while it runs."""

    def __init__(self, ol: OciLab, config: str, *args: str):
        self.ol = ol
        self.argv = ("--config", config, "drill") + args
        self.result: Optional[Any] = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        self.result = self.ol.pcs_oci(ADMIN, *self.argv, check=False, timeout=300)

    def __enter__(self) -> "Background":
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.thread.join(300)

    def pid(self) -> Optional[str]:
        found = self.ol.lab.exec(
            ADMIN, "pgrep", "-f", "pcs-oci --config .* drill", check=False
        ).stdout.split()
        return found[0] if found else None

    def kill(self, signal_name: str) -> None:
        pid = poll(self.pid, timeout=30, what="pcs-oci drill running")
        self.ol.lab.exec(ADMIN, "kill", "-" + signal_name, pid)

    def wait(self) -> Any:
        self.thread.join(300)
        assert self.result is not None
        return self.result


def slow_start(ol: OciLab, seconds: float = 2.5) -> None:
    """The next UpdatePrivateIp answers after `seconds`, so a start lasts that long."""
    ol.control.faults.add("UpdatePrivateIp", status=None, delay=seconds)


# ---------------------------------------------------------------- tests


def test_01_configure_the_vip(ol: OciLab, config: str) -> None:
    assert cli(ol, config, "configure").stdout.splitlines() == ["vip: created"]
    settled(ol, config)


def test_02_a_pinned_vip_is_refused_and_nothing_changes(ol: OciLab, config: str) -> None:
    holder = settled(ol, config)
    pcs(ol, "resource", "ban", "vip", other(holder))
    try:
        before = epoch(ol)
        result = cli(ol, config, "drill", rc=3)
        assert result.stdout == ""
        assert (
            "Error: vip is pinned by cli-ban-vip-on-{} (an earlier move or ban) "
            "(`pcs resource clear vip` if the pin is no longer wanted)".format(other(holder))
            in result.stderr.splitlines()
        )
        assert epoch(ol) == before
    finally:
        pcs(ol, "resource", "clear", "vip")
    assert move_constraints(ol) == []


def test_03_dry_run_prints_the_commands_and_changes_nothing(ol: OciLab, config: str) -> None:
    holder = settled(ol, config)
    before = epoch(ol)
    out = cli(ol, config, "drill", "--dry-run", "--back").stdout
    commands = [line for line in out.splitlines() if not line.startswith("#")]
    assert commands == [
        "/usr/sbin/pcs resource move-with-constraint vip {} lifetime=PT120S".format(other(holder)),
        "/usr/sbin/pcs resource clear vip --wait=60",
        "/usr/sbin/pcs resource move-with-constraint vip {} lifetime=PT120S".format(holder),
        "/usr/sbin/pcs resource clear vip --wait=60",
    ]
    assert epoch(ol) == before


def test_04_drill_times_a_real_failover_and_back(ol: OciLab, config: str) -> None:
    holder = settled(ol, config)
    started = time.monotonic()
    data = json.loads(cli(ol, config, "drill", "--back", "--json").stdout)
    wall_ms = (time.monotonic() - started) * 1000
    assert data["ok"] is True and data["dry_run"] is False and data["skipped"] == []
    assert data["move_command"] == "pcs resource move-with-constraint"
    (vip,) = data["vips"]
    there, back = vip["legs"]
    assert (there["from"], there["to"], back["from"], back["to"]) == (
        holder,
        other(holder),
        other(holder),
        holder,
    )
    for leg in (there, back):
        assert leg["ok"] is True and leg["problem"] is None
        assert list(leg["phases"]) == PHASES
        assert all(leg["phases"][p]["at_ms"] is not None for p in PHASES), leg["phases"]
        # Pacemaker measured the agent's stop and start itself.
        assert leg["phases"]["stop"]["op_ms"] is not None
        assert leg["phases"]["start"]["op_ms"] is not None
        assert leg["failover_ms"] == max(leg["phases"][p]["at_ms"] for p in PHASES)
        assert leg["oci_vnic_id"] == ol.node(leg["to"])["vnic_id"]
        assert leg["constraint_cleared"] is True and leg["running_on_after"] == [leg["to"]]
    # The address seen on this node when it is the new holder, else by the agent's start.
    local = there if there["to"] == ADMIN else back
    assert local["phases"]["address"]["how"] == "ip addr on this node"
    assert move_constraints(ol) == []
    assert settled(ol, config) == holder
    print(
        "\ndrill figures (ms after the constraint was in place): "
        + "; ".join(
            "{}->{}: {}".format(
                leg["from"],
                leg["to"],
                ", ".join("{} {}".format(p, leg["phases"][p]["at_ms"]) for p in PHASES)
                + ", agent start {} ms".format(leg["phases"]["start"]["op_ms"]),
            )
            for leg in (there, back)
        )
        + "; whole drill with pcs-oci's own start-up: {:.0f} ms".format(wall_ms)
    )


def test_05_sigterm_midway_clears_the_constraint(ol: OciLab, config: str) -> None:
    holder = settled(ol, config)
    slow_start(ol)
    with Background(ol, config) as drill:
        poll(lambda: move_constraints(ol), timeout=60, what="the drill's constraint")
        drill.kill("TERM")
        result = drill.wait()
    # Gone when pcs-oci exits, not when it would have expired.
    assert move_constraints(ol) == []
    assert result.returncode == 143, result.stdout + result.stderr
    lines = result.stderr.splitlines()
    assert lines[0] == "Error: interrupted while moving vip from {} to {} by SIGTERM".format(
        holder, other(holder)
    )
    assert lines[1].startswith("Error: the drill's move constraint on vip was removed")
    ol.control.faults.clear()
    settled(ol, config)


def test_06_sigkill_leaves_a_constraint_that_expires_by_itself(ol: OciLab, config: str) -> None:
    holder = settled(ol, config)
    target = other(holder)
    slow_start(ol)
    with Background(ol, config, "--timeout", "30") as drill:
        poll(lambda: move_constraints(ol), timeout=60, what="the drill's constraint")
        drill.kill("KILL")
        result = drill.wait()
    assert result.returncode != 0
    ol.control.faults.clear()
    (pin,) = move_constraints(ol)
    assert pin["id"] == "cli-prefer-vip"
    # Pinned for now: Pacemaker scores the target INFINITY ...
    ol.wait_everywhere(target)
    assert score(ol, target) == "INFINITY"
    # ... and no more once the lifetime is over, with no one clearing it: the
    # VIP stays on its node by stickiness alone, and may move again.
    poll(lambda: score(ol, target) != "INFINITY", timeout=90, what="the pin expired")
    assert score(ol, target) == "100"
    # The expired constraint does not stop the next drill either.
    assert [c["id"] for c in move_constraints(ol)] == ["cli-prefer-vip"]
    cli(ol, config, "drill", "--dry-run")
    pcs(ol, "resource", "clear", "vip", "--expired")
    assert move_constraints(ol) == []
    assert settled(ol, config) == target


def test_07_the_table_of_a_drill_to_a_named_node(ol: OciLab, config: str) -> None:
    holder = settled(ol, config)
    target = other(holder)
    out = cli(ol, config, "drill", "vip", "--to", target).stdout
    print("\n" + out)
    lines = out.splitlines()
    assert lines[0] == "vip ({}): {} -> {}".format(ol.vip, holder, target)
    assert lines[1].split() == ["PHASE", "AT", "(ms)", "AGENT", "(ms)", "SEEN", "BY"]
    titles = [
        "stopped on " + holder,
        "started on " + target,
        "address up on " + target,
        "OCI: on {}'s VNIC".format(target),
        "answers ping from " + ADMIN,
    ]
    for line, title in zip(lines[2:7], titles):
        assert line.startswith("  " + title + " "), line
        assert line[len(title) + 2 :].split()[0].isdigit(), line
    assert lines[7].startswith("  failover: ") and lines[8] == (
        "  move constraint cleared; vip runs on {}".format(target)
    )
    assert move_constraints(ol) == []
    assert settled(ol, config) == target


def test_08_policy_of_the_lab(ol: OciLab, config: str) -> None:
    out = cli(ol, config, "policy").stdout
    blocks = out.split("\n\n")
    instances = [ol.node(n)["instance_id"] for n in ("node1", "node2")]
    assert blocks[0] == "Dynamic group pcs-oci-lab, matching rule:"
    assert blocks[1] == "Any {{instance.id = '{}', instance.id = '{}'}}".format(*instances)
    compartment = ol.world["compartment_id"]
    assert blocks[3].splitlines() == [
        "Allow dynamic-group pcs-oci-lab to {} in compartment id {}".format(what, compartment)
        for what in ("use private-ips", "use vnics", "use subnets")
    ]
