"""What one TAB press on `pcs-oci` costs, against the interpreter floor.

    .venv/bin/python bench/bench_completion.py [-n 21] [--python PYTHON] [--write-docs]

Each row is a fresh process, timed from spawn to exit, run the way the bash
completion file runs it (_ARGCOMPLETE=1, completions on fd 8):

  python -c pass                 the interpreter floor
  pcs-oci --version              the launcher, the parser, no completion
  complete `pcs-oci con`         verbs
  complete `pcs-oci status --`   options of a verb
  complete `pcs-oci unconfigure` VIP names read from a config file

The launcher is scripts/pcs-oci (what the RPM installs as /usr/sbin/pcs-oci).
Goal: a completion round trip <= 100 ms. Prints the median of N runs and its
ratio to `python -c pass`, with the machine's load; --write-docs refreshes
this bench's block of docs/benchmarks.md.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Optional

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench import common  # noqa: E402

BEGIN, END = common.markers("bench_completion.py")
LAUNCHER = os.path.join(ROOT, "scripts", "pcs-oci")
GOAL_MS = 100.0


def timed(argv: List[str], env: Dict[str, str], completion: bool) -> float:
    read_end, write_end = os.pipe()
    devnull = os.open(os.devnull, os.O_WRONLY)

    def child_fds() -> None:
        os.dup2(write_end, 8)
        os.dup2(devnull, 9)

    start = time.perf_counter()
    proc = subprocess.Popen(
        argv,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=child_fds if completion else None,
        close_fds=not completion,
    )
    os.close(write_end)
    os.close(devnull)
    with os.fdopen(read_end) as f:
        out = f.read()
    proc.wait()
    elapsed = time.perf_counter() - start
    if proc.returncode != 0 or (completion and not out):
        raise SystemExit("{} failed (exit {}, output {!r})".format(argv, proc.returncode, out))
    return elapsed * 1000


def completion_env(line: str, extra: Dict[str, str]) -> Dict[str, str]:
    return dict(
        os.environ,
        _ARGCOMPLETE="1",
        _ARGCOMPLETE_IFS="\013",
        _ARGCOMPLETE_SHELL="bash",
        COMP_LINE=line,
        COMP_POINT=str(len(line)),
        COMP_TYPE="9",
        **extra,
    )


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=21, help="runs per row (default 21)")
    parser.add_argument("--python", default=sys.executable, help="interpreter (default: this one)")
    parser.add_argument("--write-docs", action="store_true", help="refresh docs/benchmarks.md")
    args = parser.parse_args(argv)
    load = common.load()

    with tempfile.TemporaryDirectory() as tmp:
        config = os.path.join(tmp, "pcs-oci.json")
        with open(config, "w", encoding="utf-8") as f:
            json.dump(
                {
                    "nodes": [{"hostname": "node1"}, {"hostname": "node2"}],
                    "vips": [{"name": "web_vip", "ip": "10.0.0.200"}],
                },
                f,
            )
        env = dict(os.environ, PCS_OCI_CONFIG=config, PYTHONPATH=ROOT)
        program = [args.python, LAUNCHER]
        rows = [
            ("python -c pass", [args.python, "-c", "pass"], env, False),
            ("pcs-oci --version", program + ["--version"], env, False),
        ]
        for line in ("pcs-oci con", "pcs-oci status --", "pcs-oci unconfigure "):
            rows.append(
                ("complete `{}`".format(line.strip()), program, completion_env(line, env), True)
            )

        # One warm-up run each (page cache, byte code), then N timed runs.
        results = []
        for label, cmd, row_env, completion in rows:
            timed(cmd, row_env, completion)
            samples = [timed(cmd, row_env, completion) for _ in range(args.n)]
            results.append((label, statistics.median(samples), min(samples), max(samples)))

    floor = results[0][1]
    version = subprocess.run(
        [args.python, "-c", "import platform; print(platform.python_version())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    worst = max(median for label, median, _, _ in results if label.startswith("complete"))
    lines = [
        "Measured {}; Python {}; {} runs per row after one warm-up; load average (1 min) {} "
        "at the start, {} at the end.".format(
            time.strftime("%Y-%m-%d"), version, args.n, load, common.load()
        ),
        "",
        "| what | median ms | min ms | max ms | x pass |",
        "|---|---:|---:|---:|---:|",
    ]
    for label, median, low, high in results:
        lines.append(
            "| {} | {:.1f} | {:.1f} | {:.1f} | {:.1f} |".format(
                label, median, low, high, median / floor
            )
        )
    lines += [
        "",
        "| goal | measured | |",
        "|---|---|---|",
        "| a completion round trip <= {:.0f} ms | slowest {:.1f} ms | {} |".format(
            GOAL_MS, worst, "met" if worst <= GOAL_MS else "**MISSED**"
        ),
    ]
    report = "\n".join(lines) + "\n"
    print(report)
    if args.write_docs:
        common.write_block(common.DOCS, BEGIN, END, report)
        print("wrote docs/benchmarks.md", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
