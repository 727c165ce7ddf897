"""build/soak/report.json: what was run, on what, and what came out of it."""

import os
import platform
import subprocess
import time
from typing import Any, Dict, List, Optional, Sequence

from tests.soak import schedule as sch


def machine() -> Dict[str, Any]:
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            model = next(
                (line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), ""
            )
    except OSError:
        pass
    with open("/proc/loadavg") as f:
        load = [float(x) for x in f.read().split()[:3]]
    versions = {}
    for name, argv in (
        ("pacemaker", ["pacemakerd", "--version"]),
        ("corosync", ["corosync", "-v"]),
        ("pcs", ["pcs", "--version"]),
    ):
        try:
            out = subprocess.run(argv, capture_output=True, text=True, timeout=30).stdout
            versions[name] = out.strip().splitlines()[0] if out.strip() else ""
        except (OSError, subprocess.TimeoutExpired):
            versions[name] = ""
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "os": _os_release(),
        "load_avg_at_end": load,
        "versions": versions,
    }


def _os_release() -> str:
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return platform.platform()


def event_counts(records: Sequence[Dict[str, Any]]) -> Dict[str, Dict[str, int]]:
    out: Dict[str, Dict[str, int]] = {}
    for rec in records:
        if rec.get("phase") != "apply":
            continue
        kind = rec["kind"] + ("/" + str(rec["params"]["mode"]) if rec["params"].get("mode") else "")
        slot = out.setdefault(kind, {"applied": 0, "skipped": 0, "failed": 0})
        if rec.get("skipped"):
            slot["skipped"] += 1
        elif not rec.get("ok"):
            slot["failed"] += 1
        else:
            slot["applied"] += 1
    return dict(sorted(out.items()))


def build(
    *,
    seed: int,
    events: Sequence[sch.Event],
    scale: float,
    replay: str,
    command: str,
    commit: str,
    records: Sequence[Dict[str, Any]],
    timing: Optional[Dict[str, Any]],
    violations: Optional[List[Dict[str, Any]]],
    notes: Sequence[Dict[str, Any]],
    data: Dict[str, Any],
    api_calls: Dict[str, Any],
    cluster: Dict[str, Any],
    started: float,
    setup_s: float,
    duration_s: float,
    error: Optional[str],
) -> Dict[str, Any]:
    failed_actions = [
        {k: r.get(k) for k in ("phase", "id", "kind", "target", "node", "error", "t0")}
        for r in records
        if r.get("phase") in ("apply", "heal", "final_heal") and not r.get("ok")
    ]
    return {
        "seed": seed,
        "events": len(events),
        "scale": scale,
        "replay": replay,
        "command": command,
        "commit": commit,
        "started": time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(started)),
        "duration_s": round(duration_s, 1),
        "setup_s": round(setup_s, 1),
        "schedule_span_s": sch.span(events),
        "machine": machine(),
        "cluster": cluster,
        "timing": timing,
        "error": error,
        "passed": error is None and violations is not None and not violations,
        "violation_count": None if violations is None else len(violations),
        "violations": violations,
        "notes": list(notes),
        "failover_s": data.get("failover_s"),
        "switchover_s": data.get("switchover_s"),
        "convergence_s": data.get("convergence_s"),
        "sampler": data.get("sampler"),
        "api_calls": api_calls,
        "events_by_kind": event_counts(records),
        "failed_actions": failed_actions,
    }


def _dist(d: Optional[Dict[str, Any]]) -> str:
    if not d or not d.get("n"):
        return "none measured"
    return "p50 {p50}s, p95 {p95}s, max {max}s (n={n})".format(**d)


def summary(doc: Dict[str, Any]) -> List[str]:
    lines = ["seed {} / {} events / {:.0f}s".format(doc["seed"], doc["events"], doc["duration_s"])]
    if doc.get("error"):
        lines.append("ERROR: " + str(doc["error"]))
    timing = doc.get("timing") or {}
    if timing:
        lines.append(
            "T = {}s; token + consensus = {:.1f}s".format(
                timing["T_s"], timing["token_s"] + timing["consensus_s"]
            )
        )
    lines.append("failover: " + _dist(doc.get("failover_s")))
    lines.append("switchover: " + _dist(doc.get("switchover_s")))
    lines.append("convergence: " + _dist(doc.get("convergence_s")))
    api = doc.get("api_calls") or {}
    if api:
        lines.append(
            "API calls: {} ({} during the schedule); statuses {}".format(
                api.get("total"), api.get("during_schedule"), api.get("by_status")
            )
        )
    sampler = doc.get("sampler") or {}
    if sampler:
        lines.append(
            "sampler: {} ticks, interval p50 {}s max {}s; load1 mean {} max {}".format(
                sampler["ticks"],
                sampler["interval_s"]["p50"],
                sampler["interval_s"]["max"],
                sampler["load1"]["mean"],
                sampler["load1"]["max"],
            )
        )
    violations = doc.get("violations")
    if violations is None:
        lines.append("violations: not checked")
    else:
        lines.append("violations: {}".format(len(violations)))
        for v in violations:
            before = v.get("event_before") or {}
            lines.append(
                "  [{}] {} at +{}s: {} (after {} {} {})".format(
                    v["invariant"],
                    v["kind"],
                    v.get("t_rel"),
                    v["detail"],
                    before.get("phase", "-"),
                    before.get("id", ""),
                    before.get("kind", ""),
                )
            )
    for n in doc.get("notes") or []:
        lines.append("  note: {} at +{}s: {}".format(n["kind"], n.get("t_rel"), n["detail"]))
    return lines
