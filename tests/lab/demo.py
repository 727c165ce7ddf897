"""`make demo`: pcs-oci's main job, narrated, on a real 2-node cluster with fake OCI.

    .venv/bin/python -m tests.lab.demo [--name demo] [--quiet]

As root on a machine with pacemaker, corosync, pcs and resource-agents (`make
demo` installs them): brings up a 2-node Pacemaker/Corosync cluster in network
namespaces (tests/lab/oci_lab.py: a fake instance metadata service per node, one
fake OCI Core API shared by both), then, inside node1, does what an operator does
on OCI:

    pcs-oci discover --all --update   # fills in both nodes' VNIC OCIDs
    pcs-oci verify                    # every precondition
    pcs-oci configure                 # creates the ocf:oci:IPaddr2 resource
    pcs-oci status

then hard-kills the node that holds the VIP (every process at once, as a
power-off) and narrates, with timestamps, the failover (Pacemaker, the
survivor's eth0 and OCI's private IP assignment), the killed node's return and
the absence of failback. Everything is torn down at the end, also on Ctrl-C,
SIGTERM or failure. Exit status 0 on success, 1 when a step fails (with what
failed and the lab's log tails on stderr), 2 when the lab cannot run here.

Failover is timed from the kill until all three agree on the survivor:
Pacemaker reports the VIP started there, OCI assigns the private IP to its VNIC
and the address is on its eth0 (each polled every ~0.1 s, so the figure is at
most one poll late).
"""

import argparse
import json
import signal
import subprocess
import sys
import time
from types import FrameType
from typing import Any, Callable, Dict, List, Optional, Sequence

from tests.lab.lab import SWITCH, unavailable_reason
from tests.lab.oci_lab import CORE_ENDPOINT, VIP, OciLab

#: corosync's token timeout the lab runs with (ms); consensus is 1.2 x token.
TOKEN_MS = 1000
RSC = "vip"
#: how long the returned node is watched for a failback (two monitor periods)
NO_FAILBACK_SECS = 10.0


class DemoFailed(Exception):
    """A step of the demo did not do what it should."""


class Terminated(BaseException):
    """SIGTERM: unwinds like Ctrl-C so that the lab is torn down."""


class Narrator:
    def __init__(self, quiet: bool = False, stream: Any = None) -> None:
        self.t0 = time.monotonic()
        self.quiet = quiet
        self.stream = stream or sys.stdout

    def elapsed(self) -> float:
        return time.monotonic() - self.t0

    def say(self, text: str) -> None:
        print("[{:5.1f}s] {}".format(self.elapsed(), text), file=self.stream, flush=True)

    def show(self, command: str, output: str) -> None:
        """A command run inside a node and its output, indented."""
        if self.quiet:
            return
        lines = ["         $ " + command]
        lines += ["           " + line for line in output.rstrip().splitlines()]
        print("\n".join(lines), file=self.stream, flush=True)


def short_ocid(ocid: Optional[str]) -> str:
    if not ocid:
        return "(none)"
    return ocid if len(ocid) <= 40 else ocid[:28] + "..." + ocid[-8:]


class Demo:
    def __init__(self, ol: OciLab, narrator: Narrator) -> None:
        self.ol = ol
        self.n = narrator
        self.config = ""

    # -- helpers

    def pcs_oci(self, node: str, *args: str, ok: Sequence[int] = (0,)) -> str:
        result = self.ol.pcs_oci(node, "-c", self.config, *args, check=False)
        output = (result.stdout + result.stderr).rstrip()
        self.n.show("pcs-oci " + " ".join(args), output)
        if result.returncode not in ok:
            raise DemoFailed(
                "`pcs-oci {}` on {} exited {}:\n{}".format(
                    " ".join(args), node, result.returncode, output
                )
            )
        return output

    def vnic(self, node: str) -> str:
        return str(self.ol.node(node)["vnic_id"])

    def views(self, node: str) -> Dict[str, bool]:
        """Does each of Pacemaker, OCI and node's eth0 put the VIP on node?"""
        running = self.ol.lab.running_nodes()
        return {
            "pacemaker": self.ol.lab.where(RSC) == [node],
            "oci": self.ol.oci_holder(VIP) == node,
            "eth0": node in running and self.ol.lab.has_addr(node, VIP),
        }

    def wait_all_agree(self, node: str, since: float, timeout: float) -> Dict[str, float]:
        """Poll the three views until all put the VIP on node; the seconds from
        `since` at which each was first seen true, and "all"."""
        first: Dict[str, float] = {}
        deadline = time.monotonic() + timeout
        while True:
            now = time.monotonic()
            seen = self.views(node)
            for view, ok in seen.items():
                if ok and view not in first:
                    first[view] = now - since
            if all(seen.values()):
                first["all"] = now - since
                return first
            if now > deadline:
                missing = ", ".join(v for v, ok in seen.items() if not ok)
                raise DemoFailed(
                    "the VIP did not come up on {} within {:.0f}s (not there: {})".format(
                        node, timeout, missing
                    )
                )
            time.sleep(0.05)

    # -- the story

    def run(self) -> None:
        ol, say = self.ol, self.n.say
        nodes = ol.lab.node_names
        say(
            "cluster up: {} (Pacemaker + Corosync in network namespaces; corosync token "
            "{} ms); fake OCI Core API on {}, a fake metadata service "
            "in each node".format(" ".join(nodes), TOKEN_MS, CORE_ENDPOINT.split("//")[1])
        )
        doc = ol.config_doc()
        self.config = ol.write_config(doc)
        say("config {} (no VNIC OCIDs yet):".format(self.config))
        self.n.show("cat " + self.config, json.dumps(doc, indent=2))

        first = nodes[0]
        say("on {}: pcs-oci discover --all --update".format(first))
        self.pcs_oci(first, "discover", "--all", "--update")
        filled = json.loads(open(self.config).read())
        for entry in filled["nodes"]:
            if entry.get("vnic_id") != self.vnic(entry["hostname"]):
                raise DemoFailed(
                    "discover did not write {}'s VNIC: {}".format(entry["hostname"], entry)
                )
        say(
            "VNICs filled in: "
            + ", ".join(
                "{}={}".format(e["hostname"], short_ocid(e["vnic_id"])) for e in filled["nodes"]
            )
        )

        say("on {}: pcs-oci verify".format(first))
        self.pcs_oci(first, "verify")
        say("on {}: pcs-oci configure".format(first))
        self.pcs_oci(first, "configure")

        start = time.monotonic()
        holders: List[str] = []

        def placed() -> bool:
            holders[:] = ol.lab.where(RSC)
            return len(holders) == 1

        poll_until(placed, 60, "the VIP resource started somewhere")
        holder = holders[0]
        self.wait_all_agree(holder, start, 60)
        say(
            "VIP {} up on {}; OCI: the private IP is on the VNIC of {} ({})".format(
                VIP, holder, holder, short_ocid(self.vnic(holder))
            )
        )
        if not ol.lab.ping(SWITCH, VIP):
            raise DemoFailed("a client on the switch cannot ping {}".format(VIP))
        say("a client on the switch ({}) pings {}: answered".format(ol.lab.switch_ip, VIP))
        self.pcs_oci(holder, "status")

        survivor = [n for n in nodes if n != holder][0]
        say("killing {} (all its processes at once, as a power-off)".format(holder))
        killed_at = time.monotonic()
        ol.lab.kill(holder)
        seen = self.wait_all_agree(survivor, killed_at, 60)
        pinged = ol.lab.ping(SWITCH, VIP)
        say(
            "VIP moved to {} in {:.1f} s (Pacemaker started it at +{:.1f} s, address on "
            "eth0 at +{:.1f} s, OCI at +{:.1f} s); corosync token + consensus = {:.1f} s".format(
                survivor,
                seen["all"],
                seen["pacemaker"],
                seen["eth0"],
                seen["oci"],
                TOKEN_MS * 2.2 / 1000,
            )
        )
        say(
            "OCI shows the private IP on the VNIC of {} ({}); a client ping {}".format(
                survivor,
                short_ocid(self.vnic(survivor)),
                "reaches it" if pinged else "does NOT reach it",
            )
        )
        if not pinged:
            raise DemoFailed("a client on the switch cannot ping {} on {}".format(VIP, survivor))
        moves = ol.control.calls("UpdatePrivateIp")
        if moves:
            say(
                "OCI audit: UpdatePrivateIp by the instance of {} -> HTTP {}".format(
                    instance_node(ol, moves[-1].get("principal")), moves[-1].get("status")
                )
            )

        say("{} returns (boots, rejoins the cluster)".format(holder))
        ol.lab.start(holder)
        ol.lab.wait(60)
        say(
            "{} is back online; watching for {:.0f} s for a failback".format(
                holder, NO_FAILBACK_SECS
            )
        )
        deadline = time.monotonic() + NO_FAILBACK_SECS
        while time.monotonic() < deadline:
            views = self.views(survivor)
            if not all(views.values()):
                raise DemoFailed(
                    "the VIP left {} after {} returned: {}".format(survivor, holder, views)
                )
            time.sleep(0.5)
        if ol.os_holders(VIP) != [survivor]:
            raise DemoFailed("address on {} (expected only {})".format(ol.os_holders(), survivor))
        say(
            "no failback: VIP stays on {} (stickiness {}); OCI still on the VNIC of {}".format(
                survivor, doc["resource_stickiness"], survivor
            )
        )
        self.pcs_oci(survivor, "status")


def instance_node(ol: OciLab, instance_id: Optional[str]) -> str:
    for name, node in ol.world["nodes"].items():
        if node["instance_id"] == instance_id:
            return str(name)
    return str(instance_id)


def poll_until(fn: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not fn():
        if time.monotonic() > deadline:
            raise DemoFailed("{}: not within {:.0f}s".format(what, timeout))
        time.sleep(0.1)


def _terminate(signum: int, frame: Optional[FrameType]) -> None:
    raise Terminated()


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", default="demo", help="lab name (default demo)")
    parser.add_argument("--quiet", action="store_true", help="narration only, no command output")
    args = parser.parse_args(argv)
    reason = unavailable_reason()
    if reason:
        print("demo: cannot run here: " + reason, file=sys.stderr)
        return 2
    narrator = Narrator(quiet=args.quiet)
    signal.signal(signal.SIGTERM, _terminate)
    narrator.say("bringing up a 2-node cluster with fake OCI services (lab {})".format(args.name))
    status = 1  # 0 done, 1 a step failed, 130 interrupted
    ol: Optional[OciLab] = None
    try:
        ol = OciLab(args.name, nodes=2, token_ms=TOKEN_MS)
        ol.up()
        Demo(ol, narrator).run()
        status = 0
    except DemoFailed as e:
        print("\ndemo FAILED: {}".format(e), file=sys.stderr)
    except (KeyboardInterrupt, Terminated):
        print("\ndemo interrupted", file=sys.stderr)
        status = 130
    except (subprocess.SubprocessError, TimeoutError, OSError, RuntimeError) as e:
        print("\ndemo FAILED: {}: {}".format(type(e).__name__, e), file=sys.stderr)
    finally:
        if ol is not None:
            failed = status == 1
            narrator.say(
                "tearing down"
                + (" (the lab's log tails are on stderr and its logs kept)" if failed else "")
            )
            # A second Ctrl-C must not leave namespaces and mounts behind.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            try:
                ol.close(failed=failed)
            finally:
                signal.signal(signal.SIGINT, signal.default_int_handler)
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if status != 0:
        return status
    assert ol is not None
    if ol.lab.lab_dir.exists():
        print("demo: {} was not removed".format(ol.lab.lab_dir), file=sys.stderr)
        return 1
    narrator.say("done: the cluster, its namespaces, mounts and fakes are gone")
    return 0


if __name__ == "__main__":
    sys.exit(main())
