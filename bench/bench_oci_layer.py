"""What the cloud half of a start costs, per process, against the fake OCI with latency.

    .venv/bin/python bench/bench_oci_layer.py [-n 15] [--latency default] [--write-docs]

No root and no cluster: the agent's entry point (agents/IPaddr2, as installed)
runs its start in a sandbox (tests/tools/agent_sandbox.py) whose heartbeat
IPaddr2 is a scripted stand-in that takes no time, so each row is the
agent's own cost: interpreter, imports, authentication and OCI round trips.
The fake answers with a latency profile per kind of call
(tests/fakes/latency.py; by default 50 ms per Core API call, 300 ms per
federation call, 2 ms per metadata call: assumptions). Rows, interleaved
(round r runs each once), each a fresh process:

  p  python -I -c pass                               the interpreter floor
  s  python -I -c "import oci.core"                  the SDK floor
  w  start, VIP on node2, node cache and session     the fast path (no SDK)
  u  start, VIP already here, node cache and session one read
  c  start, VIP on node2, every cache lost           the full path (SDK, IMDS, federation)

Per row its calls by kind (counted by the fake), and for w and c the imports
of the start (python -X importtime, top-level modules, cumulative). Checks:
the write is w's second Core API call, w makes no federation or metadata
call and does not import the SDK; c makes no more calls than a start did
before issue 13. --write-docs refreshes this bench's block of docs/benchmarks.md.
"""

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, NamedTuple, Optional, Tuple

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import common  # noqa: E402
from tests.fakes import latency as latency_lib  # noqa: E402
from tests.fakes.harness import start_fake_oci  # noqa: E402
from tests.fakes.world import make_world  # noqa: E402
from tests.tools.agent_sandbox import VIP, Sandbox, run_entry_point  # noqa: E402

BEGIN, END = common.markers("bench_oci_layer.py")
START_TIMEOUT = 70.0
# A start that moved the VIP before issue 13 (see bench_agent.py).
BEFORE_ISSUE_13 = latency_lib.Counts(3, 1, 1, 1, 7)
_IMPORT = re.compile(r"^import time:\s+\d+ \|\s+(\d+) \|( *)(\S+)$")


class Row(NamedTuple):
    key: str
    label: str


ROWS = [
    Row("p", "python -I -c pass (the interpreter floor)"),
    Row("s", "python -I -c 'import oci.core' (the SDK floor)"),
    Row("w", "start, VIP on node2, node cache + cached session"),
    Row("u", "start, VIP already here, node cache + cached session"),
    Row("c", "start, VIP on node2, every cache lost"),
]


class Imports(NamedTuple):
    total_ms: float
    sdk_ms: float
    top: List[Tuple[str, float]]


def imports(stderr: str) -> Imports:
    """Top-level imports of a `python -X importtime` run (cumulative, ms)."""
    top: Dict[str, float] = {}
    for line in stderr.splitlines():
        match = _IMPORT.match(line)
        if match and len(match.group(2)) == 1:
            top[match.group(3)] = top.get(match.group(3), 0.0) + int(match.group(1)) / 1000.0
    ranked = sorted(top.items(), key=lambda kv: -kv[1])
    sdk = sum(ms for name, ms in top.items() if name == "oci" or name.startswith("oci."))
    return Imports(sum(top.values()), sdk, ranked[:5])


class Bench:
    def __init__(self, fake: Any, tmp: Path) -> None:
        self.fake = fake
        self.box = Sandbox(tmp / "node1", fake)
        # vnic_ids as `pcs-oci configure` sets them: no metadata lookup of the VNIC.
        vnic_ids = ",".join(
            "{}={}".format(node, fake.node(node)["vnic_id"]) for node in ("node1", "node2")
        )
        self.env = self.box.environ("start", START_TIMEOUT, OCF_RESKEY_vnic_ids=vnic_ids)
        self.session = Path(self.env["PCS_OCI_SESSION_DIR"])
        # The node has started the VIP once: node cache and session.
        self.start("c")

    def prepare(self, key: str) -> None:
        if key in ("w", "c"):
            self.fake.move_private_ip(VIP, "node2")
        self.box.up.unlink(missing_ok=True)
        if key == "c":
            for path in [self.box.state_path(), self.box.state_path().with_suffix(".fresh")]:
                path.unlink(missing_ok=True)
            for path in self.session.glob("*"):
                path.unlink()

    def start(self, key: str) -> Tuple[float, latency_lib.Counts]:
        self.prepare(key)
        self.fake.clear_calls()
        result = run_entry_point(self.box.entry, "start", self.env, START_TIMEOUT + 30)
        if result.rc != 0:
            raise SystemExit("{}: start failed (rc {}): {}".format(key, result.rc, result.stderr))
        if self.fake.private_ip_by_address(VIP)["vnicId"] != self.fake.node("node1")["vnic_id"]:
            raise SystemExit("{}: the VIP is not on node1's VNIC".format(key))
        return result.seconds, latency_lib.count(self.fake.calls())

    def floor(self, code: str) -> float:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-I", "-c", code], check=True)
        return time.perf_counter() - start

    def run(self, key: str) -> Tuple[float, Optional[latency_lib.Counts]]:
        if key == "p":
            return self.floor("pass"), None
        if key == "s":
            return self.floor("import oci.core"), None
        return self.start(key)

    def import_times(self, key: str) -> Imports:
        """The start's imports, through the handlers as the entry point runs them."""
        self.prepare(key)
        proc = subprocess.run(
            [sys.executable, "-X", "importtime", "-I", "-m", "pcs_oci.agent", "start"],
            env=self.env,
            capture_output=True,
            text=True,
            cwd=str(ROOT),
            check=False,
        )
        if proc.returncode != 0:
            raise SystemExit("{}: start under -X importtime failed: {}".format(key, proc.stderr))
        return imports(proc.stderr)


def render(
    times: Dict[str, List[float]],
    counts: Dict[str, latency_lib.Counts],
    import_times: Dict[str, Imports],
    meta: Dict[str, str],
) -> str:
    lines = [
        "Measured {date}; {n} interleaved runs per row, each a fresh process; Python {py}; "
        "fake OCI latency per call (assumptions): {latency}; load average (1 min) {load} "
        "at the start, {load_end} at the end.".format(**meta),
        "",
        "| row | what | median ms | min ms | Core before the write | write | confirming "
        "| federation | metadata |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in ROWS:
        c = counts.get(row.key)
        calls = (
            "{} | {} | {} | {} | {}".format(
                c.before_write, c.writes, c.confirming, c.federation, c.metadata
            )
            if c
            else " | ".join([""] * 5).strip()
        )
        lines.append(
            "| {} | {} | {:.1f} | {:.1f} | {} |".format(
                row.key,
                row.label,
                1000 * statistics.median(times[row.key]),
                1000 * min(times[row.key]),
                calls,
            )
        )
    lines += ["", "| imports of a start (`-X importtime`) | ms | of which the SDK | largest |"]
    lines.append("|---|---:|---:|---|")
    for key in ("w", "c"):
        imp = import_times[key]
        lines.append(
            "| {} | {:.1f} | {:.1f} | {} |".format(
                key,
                imp.total_ms,
                imp.sdk_ms,
                ", ".join("{} {:.0f}".format(name, ms) for name, ms in imp.top),
            )
        )
    w, c = counts["w"], counts["c"]
    goals = [
        (
            "w: the write is the 2nd Core call, then only confirming reads",
            w.text(),
            w.before_write == 1 and w.writes == 1,
        ),
        (
            "w: 0 federation and 0 metadata calls (valid cached session)",
            "federation {}, metadata {}".format(w.federation, w.metadata),
            w.federation == 0 and w.metadata == 0,
        ),
        (
            "w: the SDK is not imported",
            "{:.1f} ms of SDK imports".format(import_times["w"].sdk_ms),
            import_times["w"].sdk_ms == 0,
        ),
        (
            "c: no more calls than before issue 13 ({} Core, {} federation, {} metadata)".format(
                BEFORE_ISSUE_13.core, BEFORE_ISSUE_13.federation, BEFORE_ISSUE_13.metadata
            ),
            "{} Core, {} federation, {} metadata".format(c.core, c.federation, c.metadata),
            c.core <= BEFORE_ISSUE_13.core
            and c.federation <= BEFORE_ISSUE_13.federation
            and c.metadata <= BEFORE_ISSUE_13.metadata,
        ),
    ]
    lines += ["", "| goal | measured | |", "|---|---|---|"]
    for goal, measured, ok in goals:
        lines.append("| {} | {} | {} |".format(goal, measured, "met" if ok else "**MISSED**"))
    return "\n".join(lines) + "\n"


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=15, help="runs per row (default 15)")
    parser.add_argument(
        "--latency",
        default="default",
        help="the fake's latency per call, e.g. core=50,federation=300,metadata=2",
    )
    parser.add_argument("--write-docs", action="store_true", help="refresh docs/benchmarks.md")
    args = parser.parse_args(argv)
    profile = latency_lib.parse_profile(args.latency)
    meta = {
        "date": time.strftime("%Y-%m-%d"),
        "n": str(args.n),
        "py": sys.version.split()[0],
        "latency": ", ".join("{} {:g} ms".format(k, v) for k, v in profile.items()),
        "load": common.load(),
    }
    world = make_world(nodes=("node1", "node2"), secondary_ips={VIP: "node2"})
    times: Dict[str, List[float]] = {row.key: [] for row in ROWS}
    counts: Dict[str, latency_lib.Counts] = {}
    with start_fake_oci(world) as fake, tempfile.TemporaryDirectory() as tmp:
        fake.set_latency(**profile)
        bench = Bench(fake, Path(tmp))
        for r in range(args.n):
            # Every other round backwards; c before w and u (it makes their caches).
            order = ["p", "s", "c", "w", "u"]
            for key in order if r % 2 == 0 else ["u", "w", "s", "p", "c"]:
                seconds, found = bench.run(key)
                times[key].append(seconds)
                if found is not None:
                    counts[key] = found
            print("  round {}/{}".format(r + 1, args.n), file=sys.stderr, flush=True)
        import_times = {key: bench.import_times(key) for key in ("c", "w")}
    meta["load_end"] = common.load()
    report = render(times, counts, import_times, meta)
    print(report)
    if args.write_docs:
        common.write_block(common.DOCS, BEGIN, END, report)
        print("wrote docs/benchmarks.md", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
