"""`make soak` / `make soak-ci`: the chaos soak (as root, on a machine that runs the lab).

    python -m tests.soak.run [--events N] [--seed S | --seed-from-commit] [--scale X]

Exit status 0: no invariant broke. 1: a violation (the command that replays
it is printed) or the soak could not finish. 2: the lab cannot run here.
"""

import argparse
import os
import random
import shlex
import sys
from typing import List, Optional, Sequence

from tests.lab.lab import unavailable_reason
from tests.soak import runner
from tests.soak import schedule as sch

# The soak's own /24 unless LAB_NET names another: it runs beside the other labs.
DEFAULT_NET = "192.168.97"


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="python -m tests.soak.run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--events", type=int, default=200, help="how many events (default 200)")
    seed = ap.add_mutually_exclusive_group()
    seed.add_argument("--seed", type=int, help="the schedule's seed (default: random, printed)")
    seed.add_argument(
        "--seed-from-commit",
        action="store_true",
        help="the seed from `git rev-parse HEAD` (CI: a failure replays)",
    )
    ap.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="stretch (>1) or shrink (<1) every gap and fault duration",
    )
    ap.add_argument("--name", default="soak", help="LAB_NAME (default soak)")
    ap.add_argument(
        "--net",
        default=os.environ.get("LAB_NET") or DEFAULT_NET,
        help="the lab's /24 (default: $LAB_NET, else {})".format(DEFAULT_NET),
    )
    ap.add_argument("--out", default="build/soak", help="report directory (default build/soak)")
    return ap


def replay_command(events: int, seed: int, scale: float) -> str:
    words = ["make", "soak", "EVENTS={}".format(events), "SEED={}".format(seed)]
    if scale != 1.0:
        words.append("SCALE={:g}".format(scale))
    return " ".join(words)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    if args.events < 1:
        print("error: --events must be at least 1", file=sys.stderr)
        return 2
    if args.scale <= 0:
        print("error: --scale must be > 0", file=sys.stderr)
        return 2
    reason = unavailable_reason()
    if reason:
        print("error: the soak needs the cluster lab: {}".format(reason), file=sys.stderr)
        return 2
    commit = runner.git_commit()
    if args.seed_from_commit:
        seed = sch.seed_from_commit(commit)
    elif args.seed is not None:
        seed = args.seed
    else:
        seed = random.SystemRandom().randrange(2**32)
    command: List[str] = ["python", "-m", "tests.soak.run"] + list(
        argv if argv is not None else sys.argv[1:]
    )
    opts = runner.Options(
        events=args.events,
        seed=seed,
        scale=args.scale,
        name=args.name,
        net=args.net,
        out=args.out,
        replay=replay_command(args.events, seed, args.scale),
        command=shlex.join(command),
        commit=commit,
    )
    runner.install_sigterm()
    return runner.Soak(opts).run()


if __name__ == "__main__":
    sys.exit(main())
