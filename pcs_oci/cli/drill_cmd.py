"""`pcs-oci drill`: the signals, the table and the JSON."""

import argparse
import signal
import sys
from typing import Any, List, Optional

from pcs_oci.cli import output
from pcs_oci.common import exit_codes, reports
from pcs_oci.lib.commands import drill as drill_lib
from pcs_oci.lib.env import Env
from pcs_oci.lib.errors import PcsOciError


class StopOnSignal:
    """SIGINT and SIGTERM raise KeyboardInterrupt once, so the drill clears its
    constraint on the way out; a second signal during that cleanup is ignored
    (it takes seconds, and the constraint would expire by itself anyway)."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.received: Optional[int] = None
        self._saved: List[Any] = []

    def _handle(self, signum: int, frame: Any) -> None:
        if self.received is None:
            self.received = signum
            raise KeyboardInterrupt

    def __enter__(self) -> "StopOnSignal":
        self._saved = [(s, signal.signal(s, self._handle)) for s in self.SIGNALS]
        return self

    def __exit__(self, *exc: Any) -> None:
        for signum, handler in self._saved:
            signal.signal(signum, handler)

    def exit_code(self) -> int:
        return 128 + (self.received or signal.SIGINT)

    def name(self) -> str:
        return signal.Signals(self.received or signal.SIGINT).name


def drill(env: Env, args: argparse.Namespace) -> int:
    signals = StopOnSignal()
    try:
        with signals:
            plan = drill_lib.prepare(
                env, args.names, to=args.to, back=args.back, timeout=args.timeout
            )
            result = drill_lib.drill(env, plan, dry_run=args.dry_run)
    except KeyboardInterrupt:
        # Before anything moved (the checks only read).
        print("Error: interrupted by {}; nothing was moved".format(signals.name()), file=sys.stderr)
        return signals.exit_code()
    except PcsOciError as e:
        if reports.DRILL_INTERRUPTED not in e.codes or signals.received is None:
            raise
        first, rest = e.reports[0], e.reports[1:]
        hint = " ({})".format(first.hint) if first.hint else ""
        print("Error: {} by {}{}".format(first.message, signals.name(), hint), file=sys.stderr)
        output.print_reports(rest)
        return signals.exit_code()
    if args.json:
        output.print_json(result.to_dict())
    elif result.dry_run:
        print_plan(result)
    else:
        print_result(result)
    failed = [leg for leg in result.legs if not leg.ok]
    for leg in failed:
        print(
            "Error: {}: the failover from {} to {} did not complete: {} (`pcs-oci status`, "
            "`pcs status --full`)".format(leg.vip, leg.source, leg.target, leg.problem),
            file=sys.stderr,
        )
    return exit_codes.CLUSTER if failed else exit_codes.OK


def print_plan(result: drill_lib.DrillResult) -> None:
    print(
        "# the cluster is healthy; a drill runs these (each constraint expires by itself "
        "after {} s):".format(result.lifetime_seconds)
    )
    for leg in result.legs:
        print("# {} ({}): {} -> {}".format(leg.vip, leg.ip, leg.source, leg.target))
        print(leg.commands[0])
        print(
            "# ... until it runs on {}, OCI assigns it there and it answers a ping "
            "(at most {} s), then:".format(leg.target, result.lifetime_seconds)
        )
        print(leg.commands[1])


def _ms(value: Optional[int]) -> str:
    return "-" if value is None else str(value)


def print_result(result: drill_lib.DrillResult) -> None:
    for index, leg in enumerate(result.legs):
        if index:
            print()
        print("{} ({}): {} -> {}".format(leg.vip, leg.ip, leg.source, leg.target))
        rows = [[p.title, _ms(p.at_ms), _ms(p.op_ms), p.how] for p in leg.phases or []]
        table = output.table(rows, ["PHASE", "AT (ms)", "AGENT (ms)", "SEEN BY"])
        print("\n".join("  " + line for line in table.splitlines()))
        if leg.ok:
            print(
                "  failover: {} ms after the move constraint was in place "
                "(pcs took {} ms to place it)".format(leg.failover_ms, leg.request_ms)
            )
        else:
            print("  FAILED: {}".format(leg.problem))
        where = ", ".join(leg.stayed_on or []) or "no node"
        print(
            "  move constraint {}; {} runs on {}".format(
                "cleared" if leg.cleared else "NOT cleared (pcs resource clear {})".format(leg.vip),
                leg.vip,
                where,
            )
        )
        if leg.ok and leg.stayed_on != [leg.target]:
            print(
                "  warning: {} did not stay on {} once the constraint was gone: is its "
                "resource-stickiness 0? (pcs-oci verify)".format(leg.vip, leg.target)
            )
    for line in result.skipped:
        print("skipped: " + line)
