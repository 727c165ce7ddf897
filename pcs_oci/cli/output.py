"""Everything `pcs-oci` prints goes through here."""

import json
import sys
from typing import Any, Iterable, List, Sequence

from pcs_oci.common.reports import ReportItem


def print_errors(items: Iterable[ReportItem]) -> None:
    for item in items:
        print("Error: {}".format(item.render()), file=sys.stderr)


def print_warnings(items: Iterable[ReportItem]) -> None:
    for item in items:
        print("Warning: {}".format(item.render()), file=sys.stderr)


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
