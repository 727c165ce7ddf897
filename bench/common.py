"""What the benchmarks share: the machine's load, and their blocks in docs/benchmarks.md.

Each bench writes its own generated block (between its markers) with
--write-docs; the prose around the blocks is written by hand and quotes no
figure: the figures are only in the blocks, which a stored run wrote.
"""

import os
from pathlib import Path
from typing import Tuple

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "benchmarks.md"


def load() -> str:
    """The 1-minute load average and the CPUs it is shared by, e.g. '0.42 / 2 CPUs'."""
    return "{:.2f} / {} CPUs".format(os.getloadavg()[0], os.cpu_count())


def markers(name: str) -> Tuple[str, str]:
    return (
        "<!-- {} --write-docs: begin (generated, do not edit) -->".format(name),
        "<!-- {} --write-docs: end -->".format(name),
    )


def write_block(docs: Path, begin: str, end: str, report: str) -> None:
    """Put report between begin and end in docs (appended if the markers are not there)."""
    block = "{}\n{}{}\n".format(begin, report, end)
    if not docs.exists():
        docs.parent.mkdir(parents=True, exist_ok=True)
        docs.write_text("# Benchmarks\n\n" + block)
        return
    text = docs.read_text()
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        tail = rest.split(end, 1)[1].lstrip("\n")
        docs.write_text(head + block + ("\n" + tail if tail else ""))
        return
    docs.write_text(text.rstrip("\n") + "\n\n" + block)
