"""Everything `pcs-oci` prints goes through here."""

import json
import sys
from typing import Any, Iterable, List, Sequence

from pcs_oci.common import reports
from pcs_oci.common.reports import ReportItem

_PREFIXES = {reports.ERROR: "Error", reports.WARNING: "Warning", reports.INFO: "Info"}


def print_reports(items: Iterable[ReportItem]) -> None:
    """Errors, warnings and information on stderr, each led by its severity."""
    for item in items:
        print("{}: {}".format(_PREFIXES[item.severity], item.render()), file=sys.stderr)


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, sort_keys=False))


def table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> str:
    """A plain text table, columns padded to their widest cell."""
    cells: List[Sequence[str]] = [header] + list(rows)
    widths = [max(len(str(r[i])) for r in cells) for i in range(len(header))]
    lines = []
    for row in cells:
        lines.append("  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip())
    return "\n".join(lines)
