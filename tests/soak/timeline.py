"""A soak's story, one line per change, for reading a violation:

    python -m tests.soak.timeline build/soak [--from SECONDS] [--to SECONDS]

Interleaves the runner's actions, the fake's power actions (fencing) and every
change the sampler saw: node states, where each VIP's address is, where OCI
assigns it, where Pacemaker runs it (and from which node's view), quorum,
and whether the switch reaches it. Times are seconds from the schedule start.
"""

import argparse
import sys
from typing import Any, Dict, List, Optional, Sequence, Tuple

from tests.soak import samples as S


def summarize(tick: S.Tick, vips: Sequence[str]) -> str:
    nodes = " ".join(
        "{}:{}".format(n[-1] if n[-1].isdigit() else n, v.get("st", "?")[0])
        for n, v in sorted(tick["nodes"].items())
    )
    crm = S.crm_view(tick)
    parts = [nodes]
    for vip in vips:
        addr = ",".join(S.address_holders(tick, vip)) or "-"
        oci = S.oci_holders(tick, vip)
        pcmk = ",".join(S.crm_on(crm, vip)) or "-" if crm else "?"
        info = (crm or {}).get("rsc", {}).get(vip, {})
        if info.get("pending") or (info.get("role") not in (None, "Started", "Stopped")):
            pcmk += "({})".format(info.get("pending") or info.get("role"))
        parts.append(
            "{} ip={} oci={} pcmk={}{}".format(
                vip,
                addr,
                ",".join(oci) if oci else ("?" if oci is None else "-"),
                pcmk,
                "" if S.pinged(tick, vip) else " noping",
            )
        )
    if crm:
        parts.append("q={} via {}".format("y" if crm.get("quorum") else "n", crm.get("node")))
        failures = sorted({"{}@{}:{}".format(f[0], f[1], f[2]) for f in crm.get("failures", [])})
        if failures:
            parts.append("fail=" + ",".join(failures))
    return " | ".join(parts)


def lines(
    records: List[Dict[str, Any]],
    ticks: List[S.Tick],
    power: List[Dict[str, Any]],
    vips: Sequence[str],
    t_from: float,
    t_to: float,
) -> List[Tuple[float, str]]:
    start = next((r["t0"] for r in records if r.get("phase") == "start"), ticks[0]["t"])
    out: List[Tuple[float, str]] = []
    for r in records:
        if r.get("phase") in ("apply", "heal", "final_heal"):
            what = "{} {} {} {}".format(r["phase"], r.get("id"), r.get("kind"), r.get("target"))
            where = r.get("node") or ",".join(r.get("nodes") or [])
            status = (
                "skipped: " + r["skipped"]
                if r.get("skipped")
                else ("FAILED: " + str(r.get("error")) if not r.get("ok") else "done")
            )
            out.append(
                (
                    r["t0"] - start,
                    "EVENT {} -> {} ({}; {:.1f}s) {}".format(
                        what,
                        where or "-",
                        status,
                        r["t1"] - r["t0"],
                        "; ".join(r.get("detail") or []),
                    ),
                )
            )
    for c in power:
        out.append(
            (
                c["t"] - start,
                "OCI   {} {} -> {}".format(
                    c.get("action"), c.get("instance", "")[-8:], c.get("status")
                ),
            )
        )
    last: Optional[str] = None
    for tick in ticks:
        text = summarize(tick, vips)
        if text != last:
            out.append((tick["t"] - start, "seen  " + text))
            last = text
    out.sort(key=lambda x: x[0])
    return [x for x in out if t_from <= x[0] <= t_to]


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.soak.timeline", description=__doc__)
    ap.add_argument("dir", help="the soak's output directory (build/soak)")
    ap.add_argument("--from", dest="t_from", type=float, default=-1e9)
    ap.add_argument("--to", dest="t_to", type=float, default=1e9)
    args = ap.parse_args(argv)
    records = S.read_jsonl(args.dir + "/events.jsonl")
    raw = S.read_jsonl(args.dir + "/samples.jsonl")
    ticks, power = S.split(raw)
    vips = next((sorted(r["vips"]) for r in raw if r.get("k") == "start"), ["vip1", "vip2"])
    for t, text in lines(records, ticks, power, vips, args.t_from, args.t_to):
        print("{:8.1f} {}".format(t, text))
    return 0


if __name__ == "__main__":
    sys.exit(main())
