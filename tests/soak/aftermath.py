"""What the runner gathers at the end: API call counts, the logs, what the teardown left."""

import os
import shutil
import time
from pathlib import Path
from typing import Any, Dict, List, Sequence

from tests.lab.lab import process_alive

NODE_LOGS = ("var/log/pacemaker/pacemaker.log", "var/log/corosync/corosync.log", "services.log")
LAB_LOGS = ("oci.log", "oci-hook.log", "fence.log")


def count_calls(calls: Sequence[Dict[str, Any]], t_start: float) -> Dict[str, Any]:
    """The fake's call log, counted: in all, during the schedule, by operation and status."""
    by_op: Dict[str, int] = {}
    by_status: Dict[str, int] = {}
    for c in calls:
        by_op[c["op"]] = by_op.get(c["op"], 0) + 1
        key = str(c["status"]) if c["status"] is not None else "dropped"
        by_status[key] = by_status.get(key, 0) + 1
    return {
        "total": len(calls),
        "during_schedule": sum(1 for c in calls if c["time"] >= t_start),
        "by_op": dict(sorted(by_op.items())),
        "by_status": dict(sorted(by_status.items())),
    }


def copy_logs(lab_dir: Path, nodes: Sequence[str], extra: Sequence[str], dest: Path) -> None:
    """The nodes' Pacemaker, Corosync and service logs and the lab's own, into dest."""
    for node in nodes:
        for rel in NODE_LOGS:
            src = lab_dir / "nodes" / node / rel
            if src.exists():
                (dest / node).mkdir(parents=True, exist_ok=True)
                shutil.copy(src, dest / node / src.name)
    for name in list(LAB_LOGS) + list(extra):
        if (lab_dir / name).exists():
            dest.mkdir(parents=True, exist_ok=True)
            shutil.copy(lab_dir / name, dest / name)


def find_leftovers(lab_dir: str, tmp: str, name: str, wait_s: float = 10.0) -> List[str]:
    """What of the lab survived its teardown: processes, mounts, files."""
    # With the slash: lab "soak" must not count lab "soakci"'s processes.
    marks = [(p + "/").encode() for p in (lab_dir, tmp, "cluster-lab-" + name)]
    deadline = time.monotonic() + wait_s  # killed processes are reaped late (zombies)
    while True:
        procs = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) == os.getpid():
                continue
            try:
                with open("/proc/{}/cmdline".format(entry), "rb") as f:
                    cmd = f.read()
                with open("/proc/{}/cgroup".format(entry), "rb") as f:
                    cg = f.read()
            except OSError:
                continue
            if any(m in cmd or m in cg for m in marks) and process_alive(int(entry)):
                text = cmd.replace(b"\0", b" ")[:200].decode(errors="replace")
                procs.append("process {}: {}".format(entry, text))
        if not procs or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    found = list(procs)
    with open("/proc/mounts") as f:
        found += ["mount: " + line.strip() for line in f if lab_dir in line]
    for path in (lab_dir, tmp, lab_dir + ".lock"):
        if os.path.exists(path):
            found.append("left on disk: " + path)
    return found
