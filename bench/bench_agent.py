"""ocf:oci:IPaddr2 against its baselines, side by side in one lab: monitor, start, failover.

    .venv/bin/python bench/bench_agent.py [-n 30] [--failovers 5] [--write-docs]

As root (it runs a real 2-node cluster, tests/lab/oci_lab.py), after `make
agent-venv bench-venv`. Everything runs inside node1 of the lab, on the same
fake OCI Core API (192.168.77.1:8000, no added latency) and the same VIP; each
row is a fresh process as Pacemaker runs it, and the rows are interleaved
(round r runs every row once) so that drift hits them all alike:

  monitor  a  heartbeat IPaddr2 monitor                      (baseline)
           b  ocf:oci:IPaddr2 monitor                        (the shell fast path)
           c  ... monitor_api=true, answer cached             (within monitor_api_interval)
           d  ... monitor_api=true, OCI check due             (instance principal)
           d' ... monitor_api=true, OCI check due             (API key, as e)
           e  `oci network private-ip list --subnet-id S --ip-address VIP` (oci-cli
              from PyPI, API key): what upstream ocf:heartbeat:ocivip runs every monitor
  start    f  heartbeat IPaddr2 start                        (baseline)
           g  ocf:oci:IPaddr2 start, VIP already on this VNIC in OCI
           h  ocf:oci:IPaddr2 start, VIP on node2's VNIC in OCI (a real move)
           s  the agent's Python importing oci.core         (for scale: the SDK floor)

Wall time: the runner (a small Python program inside the node) posix_spawns the
action and waits for it with wait4, perf_counter around both. Peak RSS: the
same action again under GNU time (`/usr/bin/time -f %M`), whose own few MB are
the floor (a Python runner's RSS would leak into the child's ru_maxrss through
fork/exec); it is the largest single process of the action's process tree.

Failover: a resource of each kind (ocf:oci:IPaddr2 `vip` and, colocated with it,
ocf:heartbeat:IPaddr2 `vip_hb` on another address), the node holding them
killed (every process at once, as a power-off), timed until Pacemaker reports
the resource started on the survivor, the address is on its eth0 and, for
`vip`, OCI assigns the private IP to its VNIC; then the node returns. Compared
with corosync's token + consensus (1000 + 1200 ms).

Goals (issue 4): monitor b <= 1.5 x a wall and <= a + 15 MB RSS; start g, h <=
f + 0.8 s; failover <= token + consensus + 2 s. --write-docs refreshes the
generated part of docs/benchmarks.md.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Dict, List, NamedTuple, Optional, Sequence, Tuple

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fakes import world as world_lib  # noqa: E402
from tests.lab.lab import unavailable_reason  # noqa: E402
from tests.lab.oci_lab import AGENT_PYTHON, CORE_ENDPOINT, SUBNET, VIP, OciLab  # noqa: E402

BENCH_VENV = ROOT / ".venv-bench"
OCI_CLI = BENCH_VENV / "bin" / "oci"
GNU_TIME = "/usr/bin/time"
DOCS = ROOT / "docs" / "benchmarks.md"
BEGIN = "<!-- bench_agent.py --write-docs: begin (generated, do not edit) -->"
END = "<!-- bench_agent.py --write-docs: end -->"

NODE = "node1"
OTHER = "node2"
VIP_HB = VIP.rsplit(".", 1)[0] + ".201"
TOKEN_MS = 1000
CONSENSUS_MS = 1200  # corosync's default: 1.2 x token
HB = "/usr/lib/ocf/resource.d/heartbeat/IPaddr2"
OURS = "/usr/lib/ocf/resource.d/oci/IPaddr2"
STATE_DIR = "/run/pcs-oci-bench"  # the node's own /run

# Inside the node: run the cases of a spec, print {name: {"wall": [ms], "rss": [kB],
# "rc": [..]}}. Standard library only; executed by /usr/bin/python3.
RUNNER = r"""
import json, os, sys, tempfile, time

ERR = tempfile.TemporaryFile()

def spawn(argv, env):
    # (wall ms, exit status); stdout to /dev/null, stderr kept in ERR
    devnull = os.open(os.devnull, os.O_RDWR)
    ERR.seek(0)
    ERR.truncate()
    try:
        t = time.perf_counter()
        pid = os.posix_spawn(argv[0], argv, env, file_actions=[
            (os.POSIX_SPAWN_DUP2, devnull, 0),
            (os.POSIX_SPAWN_DUP2, devnull, 1),
            (os.POSIX_SPAWN_DUP2, ERR.fileno(), 2)])
        _, status, _ = os.wait4(pid, 0)
        wall = (time.perf_counter() - t) * 1000.0
    finally:
        os.close(devnull)
    return wall, os.waitstatus_to_exitcode(status)

def stderr_text():
    ERR.seek(0)
    return ERR.read()[-3000:].decode(errors="replace")

def setup(case, env):
    for argv in case.get("setup", []):
        _, rc = spawn(argv, env)
        if rc != 0:
            sys.exit("setup of {} failed ({}): {}\n{}".format(
                case["name"], rc, argv, stderr_text()))

def check(case, rc, res):
    res["rc"].append(rc)
    if rc not in case.get("expect", [0]):
        res.setdefault("errors", []).append(stderr_text())

spec = json.load(open(sys.argv[1]))
out = {c["name"]: {"wall": [], "rss": [], "rc": []} for c in spec["cases"]}
fd, rss_file = tempfile.mkstemp(prefix="bench-rss-", dir="/run")
os.close(fd)
for _ in range(spec["rounds"]):
    for case in spec["cases"]:
        env = dict(os.environ, **case.get("env", {}))
        res = out[case["name"]]
        if case.get("wall", True):
            setup(case, env)
            wall, rc = spawn(case["argv"], env)
            res["wall"].append(wall)
            check(case, rc, res)
        if case.get("rss", True):
            setup(case, env)
            _, rc = spawn([spec["time"], "-f", "%M", "-o", rss_file] + case["argv"], env)
            check(case, rc, res)
            res["rss"].append(int(open(rss_file).read().split()[-1]))
os.unlink(rss_file)
print(json.dumps(out))
"""


def start_timeout_s(auth: str) -> int:
    """The start timeout `pcs-oci configure` gives (with api_timeout 3)."""
    from pcs_oci.lib.commands.configure import start_timeout

    config = SimpleNamespace(oci=SimpleNamespace(auth=auth, timeout=3))
    return int(start_timeout(config).rstrip("s"))  # type: ignore[arg-type]


def op_meta(action: str, env: Dict[str, str]) -> Dict[str, str]:
    """The op's meta attributes as Pacemaker passes them, with the timeouts
    `pcs-oci configure` sets: a recurring 10 s monitor (not a probe)."""
    monitor_api = env.get("OCF_RESKEY_monitor_api") == "true"
    if action == "monitor":
        interval, timeout = 10, 40 if monitor_api else 20
    elif action == "start":
        interval, timeout = 0, start_timeout_s(env.get("OCF_RESKEY_auth", "instance_principal"))
    else:
        interval, timeout = 0, 20
    return {
        "OCF_RESKEY_CRM_meta_interval": str(interval * 1000),
        "OCF_RESKEY_CRM_meta_timeout": str(timeout * 1000),
    }


class Stats(NamedTuple):
    median_ms: float
    min_ms: float
    rss_mb: float  # median peak RSS
    n: int


def stats(result: Dict[str, List[Any]]) -> Stats:
    wall = result["wall"]
    rss = result["rss"] or [0]
    return Stats(statistics.median(wall), min(wall), statistics.median(rss) / 1024.0, len(wall))


def paired_ratio(row: Dict[str, List[Any]], base: Dict[str, List[Any]]) -> float:
    """Median over the rounds of row / baseline in the same round: a burst of
    load from elsewhere hits both, so it cancels out better than in a ratio
    of medians."""
    return statistics.median(r / b for r, b in zip(row["wall"], base["wall"]))


class Bench:
    def __init__(self, ol: OciLab, rounds: int) -> None:
        self.ol = ol
        self.rounds = rounds
        self.tmp = ol.tmp / "bench"
        self.tmp.mkdir()
        self.tmp.chmod(0o755)
        self.runner = self.tmp / "runner.py"
        self.runner.write_text(RUNNER)
        self.api_config, _ = world_lib.write_api_key_config(ol.world, str(self.tmp / "oci"))
        self.subnet_id = next(
            s["id"] for s in ol.world["subnets"].values() if s["cidrBlock"] == SUBNET
        )
        vnic_ids = ",".join("{}={}".format(n, ol.node(n)["vnic_id"]) for n in ol.lab.node_names)
        # What Pacemaker gives every action, with the parameters that `pcs-oci
        # configure` would set for this lab (case() adds the op's meta data).
        self.hb_env = {
            "OCF_ROOT": "/usr/lib/ocf",
            "OCF_RESOURCE_INSTANCE": "vip",
            "OCF_RESKEY_ip": VIP,
            "OCF_RESKEY_cidr_netmask": "24",
            "OCF_RESKEY_nic": "eth0",
            "OCF_RESKEY_CRM_meta_on_node": NODE,
            "PCS_OCI_STATE_DIR": STATE_DIR,
        }
        self.our_env = dict(
            self.hb_env,
            OCF_RESKEY_vnic_ids=vnic_ids,
            OCF_RESKEY_endpoint=CORE_ENDPOINT,
            OCF_RESKEY_api_timeout="3",
        )

    # -- running things inside the node

    def run_cases(self, cases: List[Dict[str, Any]], rounds: int = 1) -> Dict[str, Any]:
        spec = self.tmp / "spec.json"
        spec.write_text(json.dumps({"cases": cases, "rounds": rounds, "time": GNU_TIME}))
        out = self.ol.lab.exec(
            NODE, "/usr/bin/python3", str(self.runner), str(spec), timeout=600
        ).stdout
        result: Dict[str, Any] = json.loads(out)
        for case in cases:
            rcs = result[case["name"]]["rc"]
            bad = [rc for rc in rcs if rc not in case.get("expect", [0])]
            if bad:
                raise SystemExit(
                    "{}: exit statuses {}; stderr of the failures:\n{}".format(
                        case["name"], rcs, "\n---\n".join(result[case["name"]].get("errors", []))
                    )
                )
        return result

    def case(
        self,
        name: str,
        argv: Sequence[str],
        env: Dict[str, str],
        setup: Sequence[Sequence[str]] = (),
    ) -> Dict[str, Any]:
        action = argv[-1] if argv[0] in (HB, OURS) else ""
        if action:
            env = dict(env, **op_meta(action, env))
        return {"name": name, "argv": list(argv), "env": env, "setup": [list(s) for s in setup]}

    def our(self, instance: str, **params: str) -> Dict[str, str]:
        env = dict(self.our_env, OCF_RESOURCE_INSTANCE=instance)
        env.update({"OCF_RESKEY_" + k: v for k, v in params.items()})
        return env

    def age_state(self, instance: str) -> List[str]:
        """Make the cached OCI answer of instance stale: the next monitor checks."""
        code = (
            "import json,sys; p=sys.argv[1]; d=json.load(open(p)); d['checked_at']=0; "
            "json.dump(d, open(p, 'w'))"
        )
        return ["/usr/bin/python3", "-c", code, "{}/{}.json".format(STATE_DIR, instance)]

    # -- the rows

    def micro(self) -> Dict[str, Any]:
        hb_stop = [HB, "stop"]
        api_key = {"auth": "api_key", "oci_config_file": self.api_config}
        envs = {
            "c": self.our("vip_c", monitor_api="true", monitor_api_interval="3600"),
            "d": self.our("vip_d", monitor_api="true"),
            "dk": self.our("vip_dk", monitor_api="true", **api_key),
        }
        # Prime: OCI has the VIP on node1's VNIC, the address is up, and each
        # monitor_api row has the state file its start wrote.
        for key in ("c", "d", "dk"):
            self.run_cases([self.case("prime " + key, [OURS, "start"], envs[key])])
        cli_env = {
            "OCI_CLI_SUPPRESS_FILE_PERMISSIONS_WARNING": "True",
            "SUPPRESS_LABEL_WARNING": "True",
            "HOME": str(self.tmp),
        }
        cli = [
            str(OCI_CLI),
            "network",
            "private-ip",
            "list",
            "--subnet-id",
            self.subnet_id,
            "--ip-address",
            VIP,
            "--endpoint",
            CORE_ENDPOINT,
            "--config-file",
            self.api_config,
        ]
        group_a = [
            self.case("a", [HB, "monitor"], self.hb_env),
            self.case("b", [OURS, "monitor"], self.our("vip")),
            self.case("c", [OURS, "monitor"], envs["c"]),
            self.case("d", [OURS, "monitor"], envs["d"], setup=[self.age_state("vip_d")]),
            self.case("dk", [OURS, "monitor"], envs["dk"], setup=[self.age_state("vip_dk")]),
            self.case("e", cli, cli_env),
            self.case("f", [HB, "start"], self.hb_env, setup=[[HB, "stop"]]),
            self.case("g", [OURS, "start"], self.our("vip"), setup=[hb_stop]),
            self.case("s", [AGENT_PYTHON, "-I", "-c", "import oci.core"], {}),
        ]
        # h needs the VIP on node2's VNIC before each run, which only the fake's
        # control API (from this host) can do: one runner call per run.
        h = self.case("h", [OURS, "start"], self.our("vip"), setup=[hb_stop])
        h_runs = [dict(h, rss=False), dict(h, wall=False)]
        merged: Dict[str, Any] = {}
        moves_before = len(self.ol.control.calls("UpdatePrivateIp"))
        for r in range(self.rounds):
            # Every other round backwards: no row always runs first (cold caches)
            # or right after the same neighbour.
            results = self.run_cases(group_a if r % 2 == 0 else group_a[::-1])
            if self.ol.oci_holder() != NODE:
                raise SystemExit("round {}: OCI does not have the VIP on {}".format(r, NODE))
            for h_run in h_runs:
                # h: the VIP is on node2's VNIC in OCI (node2 does not have the address).
                self.ol.control.move_private_ip(VIP, OTHER)
                h_result = self.run_cases([h_run])["h"]
                if self.ol.oci_holder() != NODE:
                    raise SystemExit("round {}: h did not move the VIP to {}".format(r, NODE))
                into = results.setdefault("h", {"wall": [], "rss": [], "rc": []})
                for key in into:
                    into[key] += h_result[key]
            for name, res in results.items():
                into = merged.setdefault(name, {"wall": [], "rss": [], "rc": []})
                for key in into:
                    into[key] += res[key]
            print("  round {}/{}".format(r + 1, self.rounds), file=sys.stderr, flush=True)
        moves = len(self.ol.control.calls("UpdatePrivateIp")) - moves_before
        if moves != 2 * self.rounds:  # h: timed, then under GNU time, per round
            raise SystemExit("expected {} moves in OCI, saw {}".format(2 * self.rounds, moves))
        self.run_cases([self.case("stop", [HB, "stop"], self.hb_env)])
        return merged

    # -- failover

    def failovers(self, runs: int) -> List[Dict[str, float]]:
        ol = self.ol
        vnic_ids = self.our_env["OCF_RESKEY_vnic_ids"]
        pcs = ["pcs", "resource", "create"]
        ol.lab.exec(
            NODE,
            *pcs,
            "vip",
            "ocf:oci:IPaddr2",
            "ip=" + VIP,
            "cidr_netmask=24",
            "nic=eth0",
            "vnic_ids=" + vnic_ids,
            "endpoint=" + CORE_ENDPOINT,
            "api_timeout=3",
            "op",
            "monitor",
            "interval=10s",
            "op",
            "start",
            "timeout={}s".format(start_timeout_s("instance_principal")),
            "meta",
            "resource-stickiness=100",
            "--wait=60",
            timeout=120,
        )
        ol.lab.exec(
            NODE,
            *pcs,
            "vip_hb",
            "ocf:heartbeat:IPaddr2",
            "ip=" + VIP_HB,
            "cidr_netmask=24",
            "nic=eth0",
            "op",
            "monitor",
            "interval=10s",
            "meta",
            "resource-stickiness=100",
            timeout=120,
        )
        ol.lab.exec(
            NODE, "pcs", "constraint", "colocation", "add", "vip_hb", "with", "vip", "INFINITY"
        )
        results = []
        for i in range(runs):
            holder = self.settled()
            survivor = OTHER if holder == NODE else NODE
            ol.control.clear_calls()
            wall_kill = time.time()
            killed = time.monotonic()
            ol.lab.kill(holder)
            seen = self.watch(survivor, killed, 60)
            moves = ol.control.calls("UpdatePrivateIp")
            if len(moves) != 1:
                raise SystemExit("failover {}: {} UpdatePrivateIp calls".format(i, len(moves)))
            seen["oci_exact"] = float(moves[0]["time"]) - wall_kill
            seen.update(self.start_exec_times(survivor))
            results.append(seen)
            print(
                "  failover {}/{}: {} -> {}: ours {:.2f} s, heartbeat IPaddr2 {:.2f} s".format(
                    i + 1, runs, holder, survivor, seen["ours"], seen["hb"]
                ),
                file=sys.stderr,
                flush=True,
            )
            ol.lab.start(holder)
            ol.lab.wait(60)
        return results

    def start_exec_times(self, node: str) -> Dict[str, float]:
        """How long the start of each resource ran on node (s), as the CIB records it."""
        out = self.ol.lab.exec(node, "cibadmin", "-Q", "-o", "status", timeout=30).stdout
        times: Dict[str, float] = {}
        root = ET.fromstring(out)  # noqa: S314 (our own cibadmin)
        for state in root.iter("node_state"):
            if state.get("uname") != node:
                continue
            for rsc in state.iter("lrm_resource"):
                for op in rsc.iter("lrm_rsc_op"):
                    if op.get("operation") == "start" and op.get("exec-time"):
                        times["start_" + rsc.get("id", "")] = int(op.get("exec-time", 0)) / 1000
        if "start_vip" not in times or "start_vip_hb" not in times:
            raise SystemExit("no start records for vip, vip_hb on {}: {}".format(node, times))
        return times

    def settled(self) -> str:
        deadline = time.monotonic() + 60
        while True:
            for node in self.ol.lab.running_nodes():
                view = self.view(node)
                if view["vip"] and view["vip_hb"] and view["oci"] and view["eth0"]:
                    return node
            if time.monotonic() > deadline:
                raise SystemExit("the resources did not settle on one node")
            time.sleep(0.5)

    def view(self, node: str) -> Dict[str, bool]:
        """One look from node: crm_mon and its eth0 in one exec, OCI over HTTP."""
        out = self.ol.lab.exec(
            node,
            "sh",
            "-c",
            "crm_mon -1 --output-as=xml; echo '<!--split-->'; ip -o addr show dev eth0",
            check=False,
            timeout=20,
        ).stdout
        xml, _, addrs = out.partition("<!--split-->")
        started: Dict[str, List[str]] = {}
        try:
            for r in ET.fromstring(xml).iter("resource"):  # noqa: S314 (our own crm_mon)
                if r.get("active") == "true" and r.get("role") == "Started":
                    started[r.get("id", "")] = [n.get("name", "") for n in r.findall("node")]
        except ET.ParseError:
            pass
        return {
            "vip": started.get("vip") == [node],
            "vip_hb": started.get("vip_hb") == [node],
            "eth0": " {}/".format(VIP) in addrs,
            "eth0_hb": " {}/".format(VIP_HB) in addrs,
            "oci": self.ol.oci_holder() == node,
        }

    def watch(self, node: str, since: float, timeout: float) -> Dict[str, float]:
        """Seconds from since until each view (and "ours", "hb") holds on node."""
        first: Dict[str, float] = {}
        polls = []
        while "ours" not in first or "hb" not in first:
            t = time.monotonic()
            view = self.view(node)
            polls.append(time.monotonic() - t)
            now = time.monotonic() - since
            for key, ok in view.items():
                if ok:
                    first.setdefault(key, now)
            if view["vip"] and view["eth0"] and view["oci"]:
                first.setdefault("ours", now)
            if view["vip_hb"] and view["eth0_hb"]:
                first.setdefault("hb", now)
            if now > timeout:
                raise SystemExit(
                    "no failover to {} within {:.0f} s: {}".format(node, timeout, view)
                )
        first["poll"] = statistics.median(polls)
        return first


# ---------------------------------------------------------------- report


MICRO_ROWS = [
    ("a", "monitor", "heartbeat IPaddr2 monitor (baseline)"),
    ("b", "monitor", "ocf:oci:IPaddr2 monitor (default: shell fast path)"),
    ("c", "monitor", "ocf:oci:IPaddr2 monitor, monitor_api=true, cached"),
    ("d", "monitor", "ocf:oci:IPaddr2 monitor, monitor_api=true, check due"),
    ("dk", "monitor", "  the same with auth=api_key"),
    ("e", "monitor", "ocivip's per-monitor `oci network private-ip list`"),
    ("f", "start", "heartbeat IPaddr2 start (baseline)"),
    ("g", "start", "ocf:oci:IPaddr2 start, VIP already on this VNIC"),
    ("h", "start", "ocf:oci:IPaddr2 start, VIP moved from node2's VNIC"),
    ("s", "start", "  for scale: the agent's Python importing oci.core"),
]


def row3(label: str, failovers: List[Dict[str, float]], key: str) -> str:
    values = [f[key] for f in failovers]
    return "| {} | {:.2f} | {:.2f} | {:.2f} |".format(
        label, statistics.median(values), min(values), max(values)
    )


def render(micro: Dict[str, Any], failovers: List[Dict[str, float]], meta: Dict[str, str]) -> str:
    s = {key: stats(micro[key]) for key, _, _ in MICRO_ROWS}
    lines = [
        "Measured {date} on {host} ({cpus} CPUs), {kernel}; "
        "{n} interleaved runs per row, failover {runs} runs; agent Python {py}, "
        "oci-cli {cli}.".format(**meta),
        "",
        "| row | what | median ms | min ms | x baseline | x baseline (min) | peak RSS MB "
        "| RSS - baseline MB |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for key, kind, label in MICRO_ROWS:
        base_key = "a" if kind == "monitor" else "f"
        base = s[base_key]
        st = s[key]
        lines.append(
            "| {} | {} | {:.1f} | {:.1f} | {:.2f} | {:.2f} | {:.1f} | {:+.1f} |".format(
                key if key != "dk" else "d'",
                label,
                st.median_ms,
                st.min_ms,
                paired_ratio(micro[key], micro[base_key]),
                st.min_ms / base.min_ms,
                st.rss_mb,
                st.rss_mb - base.rss_mb,
            )
        )
    lines += [
        "",
        "x baseline: the median over the rounds of this row's time / the baseline's time in "
        "the same round; (min): ratio of the minima. Load average {} at the start, {} at "
        "the end of the rows.".format(meta["load"], meta["load_end"]),
    ]
    bound_s = (TOKEN_MS + CONSENSUS_MS) / 1000.0
    ours = [f["ours"] for f in failovers]
    hb = [f["hb"] for f in failovers]
    lines += [
        "",
        "| failover (kill -> up on the survivor) | median s | min s | max s |",
        "|---|---:|---:|---:|",
        "| corosync token + consensus | {0:.2f} | {0:.2f} | {0:.2f} |".format(bound_s),
        "| heartbeat IPaddr2 (`vip_hb`, Pacemaker + eth0) | {:.2f} | {:.2f} | {:.2f} |".format(
            statistics.median(hb), min(hb), max(hb)
        ),
        "| ocf:oci:IPaddr2 (`vip`, Pacemaker + eth0 + OCI) | {:.2f} | {:.2f} | {:.2f} |".format(
            statistics.median(ours), min(ours), max(ours)
        ),
        "| &nbsp;&nbsp;of which: OCI's UpdatePrivateIp answered (fake's clock) | {:.2f} | "
        "{:.2f} | {:.2f} |".format(
            statistics.median([f["oci_exact"] for f in failovers]),
            min(f["oci_exact"] for f in failovers),
            max(f["oci_exact"] for f in failovers),
        ),
        "| ocf:oci:IPaddr2 - heartbeat IPaddr2, same failover | {:.2f} | {:.2f} | {:.2f} |".format(
            statistics.median([o - h for o, h in zip(ours, hb)]),
            min(o - h for o, h in zip(ours, hb)),
            max(o - h for o, h in zip(ours, hb)),
        ),
        row3("start op on the survivor, ocf:oci:IPaddr2 (CIB exec-time)", failovers, "start_vip"),
        row3("start op on the survivor, heartbeat IPaddr2", failovers, "start_vip_hb"),
        "",
        "Failover times are polled (one look from the survivor every {:.0f} ms, median): "
        "each can be up to one look late.".format(
            1000 * statistics.median([f["poll"] for f in failovers])
        ),
        "",
        "| goal | measured | |",
        "|---|---|---|",
    ]
    goals: List[Tuple[str, str, bool]] = []
    ratio = paired_ratio(micro["b"], micro["a"])
    goals.append(("monitor wall <= 1.5 x IPaddr2's", "{:.2f} x".format(ratio), ratio <= 1.5))
    extra = s["b"].rss_mb - s["a"].rss_mb
    goals.append(("monitor RSS <= IPaddr2's + 15 MB", "{:+.1f} MB".format(extra), extra <= 15))
    for key, label in (("g", "VIP already here"), ("h", "real move")):
        over = statistics.median(g - f for g, f in zip(micro[key]["wall"], micro["f"]["wall"]))
        over /= 1000.0
        goals.append(
            (
                "start ({}) <= IPaddr2 start + 0.8 s".format(label),
                "+{:.2f} s".format(over),
                over <= 0.8,
            )
        )
    limit = bound_s + 2
    over = sum(1 for o in ours if o > limit)
    share = [o - h for o, h in zip(ours, hb)]
    goals.append(
        (
            "failover <= token + consensus + 2 s = {:.1f} s".format(limit),
            "median {:.2f} s, max {:.2f} s: {} of {} runs over".format(
                statistics.median(ours), max(ours), over, len(ours)
            ),
            over == 0,
        )
    )
    goals.append(
        (
            "&nbsp;&nbsp;the agent's share (vs heartbeat IPaddr2, same failover) <= 2 s",
            "median {:.2f} s, max {:.2f} s".format(statistics.median(share), max(share)),
            max(share) <= 2,
        )
    )
    for goal, measured, ok in goals:
        lines.append("| {} | {} | {} |".format(goal, measured, "met" if ok else "**MISSED**"))
    return "\n".join(lines) + "\n"


def write_docs(report: str) -> None:
    block = "{}\n{}{}\n".format(BEGIN, report, END)
    if DOCS.exists():
        text = DOCS.read_text()
        if BEGIN in text and END in text:
            head, rest = text.split(BEGIN, 1)
            tail = rest.split(END, 1)[1].lstrip("\n")
            DOCS.write_text(head + block + ("\n" + tail if tail else ""))
            return
        DOCS.write_text(text.rstrip("\n") + "\n\n" + block)
        return
    DOCS.parent.mkdir(parents=True, exist_ok=True)
    DOCS.write_text("# Benchmarks\n\n" + block)


def preflight() -> Optional[str]:
    reason = unavailable_reason()
    if reason:
        return reason
    for path, fix in (
        (AGENT_PYTHON, "make agent-venv"),
        (str(OCI_CLI), "make bench-venv"),
        (GNU_TIME, "apt-get install time"),
    ):
        if not os.access(path, os.X_OK):
            return "{} missing: run `{}`".format(path, fix)
    return None


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def version(argv: List[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    except OSError:
        return "?"
    return (out.stdout or out.stderr).strip().split()[-1] if (out.stdout or out.stderr) else "?"


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=30, help="runs per row (default 30)")
    parser.add_argument("--failovers", type=int, default=5, help="failover runs (default 5)")
    parser.add_argument("--write-docs", action="store_true", help="refresh docs/benchmarks.md")
    parser.add_argument("--name", default="bench", help="lab name (default bench)")
    args = parser.parse_args(argv)
    reason = preflight()
    if reason:
        print("bench_agent: " + reason, file=sys.stderr)
        return 2
    meta = {
        "date": time.strftime("%Y-%m-%d"),
        "host": cpu_model(),
        "cpus": str(os.cpu_count()),
        "load": "{:.2f}".format(os.getloadavg()[0]),
        "kernel": "Linux " + platform.release(),
        "n": str(args.n),
        "runs": str(args.failovers),
        "py": version([AGENT_PYTHON, "--version"]),
        "cli": version([str(OCI_CLI), "--version"]),
    }
    with OciLab(args.name, nodes=2, token_ms=TOKEN_MS) as ol:
        bench = Bench(ol, args.n)
        print("microbenchmarks inside {} ({} rounds)".format(NODE, args.n), file=sys.stderr)
        micro = bench.micro()
        meta["load_end"] = "{:.2f}".format(os.getloadavg()[0])
        print("failovers ({})".format(args.failovers), file=sys.stderr)
        failovers = bench.failovers(args.failovers)
    report = render(micro, failovers, meta)
    print(report)
    if args.write_docs:
        write_docs(report)
        print("wrote {}".format(DOCS.relative_to(ROOT)), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
