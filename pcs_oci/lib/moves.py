"""Moving a resource with a constraint that expires by itself, and what Pacemaker recorded.

`pcs-oci drill` moves a VIP with a location constraint that has a lifetime,
so that a drill interrupted in any way (Ctrl-C, SIGTERM, a crash, a lost
SSH session) can never pin the VIP to a node: the constraint expires and
Pacemaker (2.0.3 and later) re-evaluates the placement at its end time.
With resource-stickiness the VIP then simply stays where it is.

pcs 0.11 changed `pcs resource move` into a move that removes its own
constraint once the resource has moved, kept alive by the pcs process:
killed midway, that constraint stays forever. The command that keeps the
constraint, with `lifetime=`, is `pcs resource move-with-constraint` in
pcs 0.11 and 0.12, and `pcs resource move` in pcs 0.10.
"""

import calendar
import re
import time
import xml.etree.ElementTree as ET  # noqa: S405 - parses our own cluster tools' output
from typing import Dict, List, NamedTuple, Optional, Tuple

from pcs_oci import settings
from pcs_oci.lib.pacemaker import parse_xml, pcs_version
from pcs_oci.lib.runner import CommandRunner

# What `pcs resource move*` and `crm_resource --move/--ban` name their
# constraints: cli-prefer-RSC and cli-ban-RSC-on-NODE.
MOVE_CONSTRAINT_PREFIXES = ("cli-prefer-", "cli-ban-")


def move_verb(version: Tuple[int, ...]) -> str:
    """The pcs resource subcommand that moves with a constraint and takes lifetime=."""
    return "move-with-constraint" if version[:2] >= (0, 11) else "move"


def installed_move_verb(runner: CommandRunner) -> str:
    """move_verb() of the installed pcs (asks `pcs --version` once)."""
    return move_verb(pcs_version(runner))


def lifetime(seconds: int) -> str:
    """An ISO 8601 duration, the form pcs and crm_resource take: PT120S."""
    return "PT{}S".format(int(seconds))


def move_argv(verb: str, rsc: str, node: str, seconds: int) -> List[str]:
    return [settings.PCS, "resource", verb, rsc, node, "lifetime=" + lifetime(seconds)]


def clear_argv(rsc: str, wait: Optional[int] = None) -> List[str]:
    argv = [settings.PCS, "resource", "clear", rsc]
    return argv + (["--wait={}".format(int(wait))] if wait else [])


def move(runner: CommandRunner, verb: str, rsc: str, node: str, seconds: int) -> None:
    runner.check(move_argv(verb, rsc, node, seconds), timeout=60)


def clear(runner: CommandRunner, rsc: str, wait: Optional[int] = None) -> None:
    """Remove the move/ban constraints of rsc; with wait, until the cluster settled."""
    runner.check(clear_argv(rsc, wait), timeout=60 + (wait or 0))


def move_constraints(runner: CommandRunner, now: Optional[float] = None) -> Dict[str, List[str]]:
    """resource -> ids of the move or ban constraints (cli-prefer-*, cli-ban-*) that pin it.

    A constraint whose lifetime is over pins nothing and is left out (`pcs
    resource clear --expired` would remove it; the next move replaces it).
    """
    result = runner.check([settings.CIBADMIN, "--query", "--scope", "constraints"], timeout=30)
    moment = time.time() if now is None else now
    found: Dict[str, List[str]] = {}
    for c in parse_xml(result.stdout, "cibadmin").iter("rsc_location"):
        if c.get("id", "").startswith(MOVE_CONSTRAINT_PREFIXES) and not _expired(c, moment):
            found.setdefault(c.get("rsc", ""), []).append(c.get("id", ""))
    return found


# "2026-12-02 09:23:25Z", "2026-12-02 09:23:25 +00:00": how crm_resource writes
# a lifetime's end. Anything else counts as not expired (the safe side).
_END_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?"
    r"\s*(Z|[+-]\d{2}:?\d{2})$"
)


def _end_epoch(text: str) -> Optional[float]:
    match = _END_RE.match(text.strip())
    if not match:
        return None
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    zone = match.group(7)
    offset = 0
    if zone != "Z":
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        offset = sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60)
    try:
        moment = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))
    except (ValueError, OverflowError):
        return None
    return float(moment - offset)


def _expired(constraint: ET.Element, now: float) -> bool:
    """Every rule of the constraint ends (date_expression lt END) before now."""
    rules = constraint.findall("rule")
    if not rules:
        return False
    for rule in rules:
        ends = [
            _end_epoch(d.get("end", ""))
            for d in rule.findall("date_expression")
            if d.get("operation") == "lt"
        ]
        if not ends or any(e is None or e > now for e in ends):
            return False
    return True


class OpRecord(NamedTuple):
    """Pacemaker's record of the last non-recurring operation of a resource on a node."""

    operation: str  # "start", "stop", "monitor" (a probe)
    rc: int
    # How long the agent ran, measured by Pacemaker (ms), and when it ended (epoch s).
    exec_ms: Optional[int]
    changed: Optional[int]


def last_operations(runner: CommandRunner, rsc: str) -> Dict[str, OpRecord]:
    """node -> the last start/stop/probe of rsc there (the CIB status section)."""
    result = runner.check([settings.CIBADMIN, "--query", "--scope", "status"], timeout=30)
    root = parse_xml(result.stdout, "cibadmin")
    found: Dict[str, OpRecord] = {}
    for node in root.iter("node_state"):
        for lrm in node.iter("lrm_resource"):
            if lrm.get("id") != rsc:
                continue
            for op in lrm.findall("lrm_rsc_op"):
                if op.get("id") == rsc + "_last_0":
                    found[node.get("uname", "")] = OpRecord(
                        op.get("operation", ""),
                        _int(op.get("rc-code")) or 0,
                        _int(op.get("exec-time")),
                        _int(op.get("last-rc-change")),
                    )
    return found


def _int(value: Optional[str]) -> Optional[int]:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
