"""From the sed recipe to pcs-oci on a running cluster, in the lab.

One story, in order, on a real 2-node Pacemaker cluster (LAB_NAME "mig",
LAB_NET 192.168.93, so it runs beside the other labs):

1. The recipe of /work/shared/reference exactly: its `pcs resource create
   Cluster_VIP ocf:heartbeat:IPaddr2 ... op monitor interval=10s`, the VIP
   added as a secondary IP of node1's VNIC (its step 12), and the shipped
   heartbeat IPaddr2 patched on every node with the recipe's own eleven sed
   commands (tests/tools/sed_recipe.py). The patched agent runs the real
   oci CLI from PyPI (`make bench-venv`) against the fake Core API, with an
   API key and --endpoint, never instance principals (the link-local
   metadata address). An application `app` is colocated with the VIP and
   ordered after it. The patched file is bind-mounted over the package's in
   each node's own mounts; the host's file is never touched.
2. Failover with the recipe: the VIP's node is killed; timed.
3. `pcs-oci migrate` while a client on the switch pings the VIP every
   100 ms: every unanswered request is counted (the goal is none), and
   neither the VIP nor `app` may be restarted.
4. Failover with ocf:oci:IPaddr2, first with the patched file still in place
   (the recipe's oci CLI call then runs inside IPaddr2 too), then after the
   package is "reinstalled" (the bind mount removed): timed.

A failover is timed from the kill to: the first answered ping (the OS has
the address), the fake's UpdatePrivateIp (OCI has moved it), "serving"
(the later of the two: on OCI traffic flows only when both hold), and
Pacemaker + OS + OCI agreeing. PCS_OCI_MIGRATE_REPORT=FILE stores the
figures (and the machine's load) as JSON.
"""

import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest

from tests.fakes import world as world_lib
from tests.lab import pinger
from tests.lab.lab import poll, unavailable_reason
from tests.lab.oci_lab import REPO, OciLab
from tests.tools import sed_recipe

NAME = "mig"
NET = "192.168.93"
HEARTBEAT = "/usr/lib/ocf/resource.d/heartbeat/IPaddr2"
OCI_CLI = REPO / ".venv-bench" / "bin" / "oci"
RUNS = int(os.environ.get("PCS_OCI_MIGRATE_RUNS", "2"))


def _skip_reason() -> Optional[str]:
    reason = unavailable_reason()
    if reason:
        return reason
    if not OCI_CLI.exists():
        return "{} is missing: run `make bench-venv` (oci-cli from PyPI)".format(OCI_CLI)
    if not os.path.isfile(HEARTBEAT):
        return "resource-agents is not installed"
    return None


pytestmark = [
    pytest.mark.cluster,
    pytest.mark.slow,
    pytest.mark.skipif(_skip_reason() is not None, reason=str(_skip_reason())),
]


class Story:
    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="pcs-oci-recipe-"))
        self.dir.chmod(0o755)  # read inside the nodes
        self.patched = self.dir / "IPaddr2"
        self.flag = self.dir / "recipe-installed"
        # At every boot of a node, before its cluster starts: the recipe's
        # agent over the package's, while the flag says it is installed.
        setup = "[ -e {flag} ] && mount --bind {patched} {heartbeat}\n".format(
            flag=self.flag, patched=self.patched, heartbeat=HEARTBEAT
        )
        self.ol = OciLab(NAME, net=NET, node_setup=setup, log_stream=sys.stderr)
        self.vip = self.ol.vip
        self.ping_log = self.dir / "ping.log"
        self.api_config = ""
        self.results: Dict[str, Any] = {
            "cpus": os.cpu_count(),
            "load_before": list(os.getloadavg()),
            "oci_cli": OCI_CLI.name,
        }

    # -- the recipe

    def install_recipe(self) -> None:
        config, _ = world_lib.write_api_key_config(self.ol.world, str(self.dir / "oci"))
        self.api_config = config
        shutil.copy(HEARTBEAT, self.patched)
        scripts = sed_recipe.commands(
            self.patched.read_text(),
            self.ol.node("node1")["vnic_id"],
            self.ol.node("node2")["vnic_id"],
            self.vip,
            oci=str(OCI_CLI),
            oci_args=["--endpoint", self.ol.core_endpoint, "--config-file", config],
        )
        sed_recipe.apply(str(self.patched), scripts)
        self.patched.chmod(0o755)
        self.flag.touch()

    def create_recipe_resources(self) -> None:
        lab = self.ol.lab
        self.ol.control.add_private_ip(self.vip, "node1")  # the recipe's step 12
        lab.pcs(
            "node1",
            "resource",
            "create",
            "Cluster_VIP",
            "ocf:heartbeat:IPaddr2",
            "ip=" + self.vip,
            "cidr_netmask=24",
            "op",
            "monitor",
            "interval=10s",
        )
        lab.pcs("node1", "resource", "create", "app", "ocf:heartbeat:Dummy")
        lab.pcs("node1", "constraint", "colocation", "add", "app", "with", "Cluster_VIP")
        lab.pcs("node1", "constraint", "order", "Cluster_VIP", "then", "app")

    def restore_package(self) -> None:
        """`yum reinstall resource-agents`: the shipped IPaddr2 back on every node."""
        self.flag.unlink()
        for node in self.ol.lab.running_nodes():
            # Lazily, as rpm replaces a file: a monitor running the recipe's
            # script right now finishes with it, the next one runs the shipped one.
            self.ol.lab.exec(node, "umount", "--lazy", HEARTBEAT)

    # -- views

    def settled(self) -> str:
        """Wait until Pacemaker has nothing to do and the VIP is up everywhere on one node."""
        node = self.ol.lab.running_nodes()[0]
        self.ol.lab.exec(node, "crm_resource", "--wait", "--timeout=120s", timeout=150)
        holder = poll(lambda: self.ol.lab.where("Cluster_VIP"), 60, what="Cluster_VIP started")[0]
        self.ol.wait_everywhere(holder, rsc="Cluster_VIP", secs=90)
        return str(holder)

    def agent(self) -> str:
        for rsc in self.ol.lab.crm_mon_xml().getroot().iter("resource"):
            if rsc.get("id") == "Cluster_VIP":
                return rsc.get("resource_agent", "")
        return ""

    def history(self, node: str, rsc: str) -> List[Dict[str, str]]:
        """The resource's operation records on node (CIB status section)."""
        import xml.etree.ElementTree as ET

        out = self.ol.lab.exec(node, "cibadmin", "--query", "--scope", "status").stdout
        found = []
        for state in ET.fromstring(out).iter("node_state"):  # noqa: S314 - our cibadmin
            if state.get("uname") != node:
                continue
            for entry in state.iter("lrm_resource"):
                if entry.get("id") == rsc:
                    found += [dict(op.attrib) for op in entry.findall("lrm_rsc_op")]
        return found

    # -- measurements

    def start_pinger(self) -> None:
        self.ol.lab.serve(
            "pinger", ["/usr/bin/python3", str(Path(pinger.__file__)), self.vip, str(self.ping_log)]
        )
        poll(
            lambda: (
                self.ping_log.exists()
                and pinger.summary(str(self.ping_log), 0, time.time()).answered > 5
            ),
            30,
            what="the pinger gets answers",
        )

    def failover(self, label: str) -> Dict[str, Any]:
        """Kill the VIP's node, time the failover, boot the node again."""
        holder = self.settled()
        survivor = "node2" if holder == "node1" else "node1"
        self.ol.control.clear_calls()
        before = time.time()
        self.ol.lab.kill(holder)
        # Times count from here: the node's processes and network are gone.
        killed = time.time()
        everywhere = self.ol.wait_everywhere(survivor, rsc="Cluster_VIP", secs=120) / 1000.0
        poll(
            lambda: (
                pinger.summary(str(self.ping_log), killed, time.time(), since=killed).first_answer
            ),
            30,
            what="an answered ping after the kill",
        )
        ping = pinger.summary(str(self.ping_log), before, time.time(), since=killed)
        moves = [
            c
            for c in self.ol.control.calls("UpdatePrivateIp")
            if c.get("status") == 200 and c["time"] >= killed
        ]
        assert moves, "OCI never moved the VIP"
        starts = [
            op for op in self.history(survivor, "Cluster_VIP") if op.get("operation") == "start"
        ]
        result = {
            "from": holder,
            "to": survivor,
            "ping_s": round((ping.first_answer or 0) - killed, 2),
            # What the client on the switch saw: requests unanswered, or
            # answered late (the switch held them until the address moved).
            "pings_lost_or_late": len(ping.lost) + len(ping.late),
            "oci_s": round(float(moves[0]["time"]) - killed, 2),
            "everywhere_s": round(everywhere, 2),
            "start_op_s": int(starts[-1].get("exec-time", "0")) / 1000.0 if starts else None,
        }
        result["serving_s"] = max(result["ping_s"], result["oci_s"])
        print("[{}] {}: {}".format(NAME, label, result), file=sys.stderr, flush=True)
        self.ol.lab.start(holder)
        self.ol.lab.wait(90)
        return result

    def close(self, failed: bool) -> None:
        try:
            self.ol.close(failed=failed)
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


def _config(story: Story) -> str:
    doc = story.ol.config_doc(
        vnic_ids=["node1", "node2"], name="Cluster_VIP", monitor_interval="10s"
    )
    del doc["vips"][0]["nic"]  # the recipe lets IPaddr2 find the interface
    # The same API key as the recipe's oci CLI here, so that the two failovers
    # differ by the tool only (both would use instance principals on OCI).
    doc["oci"].update(auth="api_key", config_file=story.api_config)
    return story.ol.write_config(doc)


def _legacy_check(story: "Story", config: str, node: str) -> Dict[str, Any]:
    """verify's legacy_ipaddr2 row on a node (verify may fail on other rows)."""
    out = story.ol.pcs_oci(node, "-c", config, "verify", "--json", check=False).stdout
    return {c["id"]: c for c in json.loads(out)["checks"]}["legacy_ipaddr2"]


def test_from_the_sed_recipe_to_pcs_oci_without_losing_a_ping() -> None:
    story = Story()
    passed = False
    try:
        story.install_recipe()
        story.ol.up()
        story.create_recipe_resources()
        holder = story.settled()
        assert story.agent() == "ocf:heartbeat:IPaddr2"
        # The recipe really is what runs: the node's IPaddr2 calls the oci CLI,
        # and the package manager sees the file changed.
        patched = story.ol.lab.exec(holder, "grep", "-c", "oci network vnic", HEARTBEAT).stdout
        assert patched.strip() == "2"
        detect = story.ol.lab.exec(
            holder,
            sys.executable,
            "-c",
            "from pcs_oci.lib import legacy, runner; "
            "print(legacy.heartbeat_ipaddr2(runner.CommandRunner()).patched)",
        )
        assert detect.stdout.strip() == "True"
        story.start_pinger()

        # 2. The old recipe fails over.
        story.results["recipe"] = [story.failover("recipe failover") for _ in range(RUNS)]

        # 3. Migrate the running cluster.
        config = _config(story)
        holder = story.settled()
        app_before = [op for op in story.history(holder, "app") if op.get("operation") == "start"]
        assert app_before, "app has no start record on {}".format(holder)
        dry = story.ol.pcs_oci(holder, "-c", config, "migrate", "--dry-run")
        assert "Cluster_VIP runs on {}: it will not be restarted".format(holder) in dry.stdout
        assert "Dry run: nothing was changed." in dry.stdout
        assert story.agent() == "ocf:heartbeat:IPaddr2"
        story.ol.control.clear_calls()
        begin = time.time()
        done = story.ol.pcs_oci(holder, "-c", config, "migrate")
        end = time.time()
        time.sleep(3)  # answers to the last requests, and any late reaction of Pacemaker
        print(done.stdout, file=sys.stderr)
        window = pinger.summary(str(story.ping_log), begin - 1, end + 2)
        story.results["migrate"] = {
            "seconds": round(end - begin, 2),
            "pings_sent": window.sent,
            "pings_lost": len(window.lost),
            "pings_late": len(window.late),
            "output": done.stdout.splitlines(),
        }
        print("[{}] migrate: {}".format(NAME, story.results["migrate"]), file=sys.stderr)
        assert "Migrated." in done.stdout
        assert story.agent() == "ocf:oci:IPaddr2"
        assert story.ol.lab.where("Cluster_VIP") == [holder]
        assert story.ol.os_holders() == [holder] and story.ol.oci_holder() == holder
        assert window.lost == [], "lost answers during migrate at {}".format(window.lost)
        assert window.late == [], "late answers during migrate at {}".format(window.late)
        # Nothing was stopped or started: no OCI move, app's start record unchanged.
        assert story.ol.control.calls("UpdatePrivateIp") == []
        app_after = [op for op in story.history(holder, "app") if op.get("operation") == "start"]
        assert [op.get("call-id") for op in app_after] == [op.get("call-id") for op in app_before]
        again = story.ol.pcs_oci(holder, "-c", config, "migrate")
        assert "Nothing to migrate." in again.stdout

        # verify flags the recipe's file until the package is restored; the VIP
        # already runs on ours, so the fix is the reinstall alone.
        legacy = _legacy_check(story, config, holder)
        assert legacy["status"] == "FAIL", legacy
        assert "reinstall" in legacy["fix"] and "migrate" not in legacy["fix"], legacy

        # 4. Failover after: the recipe's file still in place, then restored.
        story.results["ours_patched_file"] = [story.failover("ocf:oci:IPaddr2, recipe file")]
        story.restore_package()
        holder = story.settled()
        legacy = _legacy_check(story, config, holder)
        assert legacy["status"] == "PASS", legacy
        story.results["ours"] = [story.failover("ocf:oci:IPaddr2") for _ in range(RUNS)]
        story.results["load_after"] = list(os.getloadavg())
        report = os.environ.get("PCS_OCI_MIGRATE_REPORT")
        if report:
            Path(report).write_text(json.dumps(story.results, indent=1) + "\n")
        passed = True
    finally:
        story.close(failed=not passed)
