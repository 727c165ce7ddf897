"""Monitor loops for tests/integration/test_load.py, run in a process of their own.

A small interpreter forks the 10,000 children much faster than the pytest
process (which hosts the fake cloud and has the SDK loaded), and its own
open files and memory are what we measure.

    python -m tests.tools.monitor_loop entry AGENT N        # the real entry point
    python -m tests.tools.monitor_loop handler N EVERY      # handlers.monitor in-process

The agent's environment is this process's environment. Prints one JSON object.
"""

import array
import gc
import json
import logging
import os
import subprocess
import sys
import time
from typing import Any, Dict, List


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _rss_kib() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def _state_files() -> List[str]:
    directory = os.environ["PCS_OCI_STATE_DIR"]
    return sorted(os.listdir(directory)) if os.path.isdir(directory) else []


# Where the handler loop measures itself: 1441 and 2159 lie between two OCI
# checks (every 720 monitors at +10 s per monitor and a 7200 s interval).
SAMPLE_AT = (1000, 1441, 2159, 4000)


def entry(agent: str, n: int) -> Dict[str, Any]:
    """agent monitor n times; each child's rc, time and peak RSS."""
    # Preallocated C arrays: this process must not grow while it forks, or the
    # children's peak RSS (which counts the image they were forked from) would.
    times = array.array("d", bytes(8 * n))
    rss = array.array("q", bytes(8 * n))
    failed = 0
    argv = [agent, "monitor"]
    for i in range(n):
        start = time.monotonic()
        proc = subprocess.Popen(argv)
        _, status, usage = os.wait4(proc.pid, 0)
        times[i] = time.monotonic() - start
        rss[i] = usage.ru_maxrss
        failed += os.waitstatus_to_exitcode(status) != 0
    return {"times": list(times), "rss": list(rss), "failed": failed, "state": _state_files()}


def _spawn_run(action: str, environ: Any) -> int:
    """ipaddr2.run with posix_spawn (vfork) instead of fork: after the first
    OCI check this process holds the SDK (~70 MB), and 10,000 forks of it
    would measure the kernel copying page tables, not the agent."""
    from pcs_oci.agent import ipaddr2

    env = ipaddr2.environment(environ)
    env["__OCF_ACTION"] = action
    path = ipaddr2.path(environ)
    pid = os.posix_spawn(path, [path, action], env)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def handler(n: int, every: float) -> Dict[str, Any]:
    """handlers.monitor n times with a clock that advances `every` s per monitor."""
    from pcs_oci.agent import handlers, ipaddr2, ocf, state

    ipaddr2.run = _spawn_run

    clock = {"now": time.time()}
    plumbing = ocf.Plumbing()
    samples: Dict[int, Any] = {}
    times = array.array("d", bytes(8 * n))
    checks_at: List[int] = []
    last_check = (state.load(os.environ) or {}).get("checked_at")
    failed = 0
    for i in range(n):
        if i in SAMPLE_AT or i == n - 1:
            # Twice: a tuple of atomic values is untracked by a collection, and
            # a tuple of such tuples by the next one; so an earlier sample is
            # not counted by a later one.
            gc.collect()
            gc.collect()
            samples[i] = (
                _fds(),
                _rss_kib(),
                len(gc.get_objects()),
                tuple(_state_files()),
                len(logging.Logger.manager.loggerDict),
            )
        start = time.monotonic()
        ctx = handlers.Context("monitor", os.environ, plumbing, clock=lambda: clock["now"])
        failed += handlers.monitor(ctx) != ocf.OCF_SUCCESS
        times[i] = time.monotonic() - start
        # The agent stamps the state file when it asked OCI.
        checked = (state.load(os.environ) or {}).get("checked_at")
        if checked != last_check:
            checks_at.append(i)
            last_check = checked
        clock["now"] += every
    return {"times": list(times), "samples": samples, "failed": failed, "checks_at": checks_at}


def main(argv: List[str]) -> int:
    if argv[1] == "entry":
        result = entry(argv[2], int(argv[3]))
    elif argv[1] == "handler":
        result = handler(int(argv[2]), float(argv[3]))
    else:
        raise SystemExit(__doc__)
    sys.stdout.write(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
