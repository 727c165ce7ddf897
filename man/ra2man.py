#!/usr/bin/env python3
"""Render an OCF resource agent's meta-data XML as a man(7) page.

    python3 man/ra2man.py --provider oci --package pcs-oci --version 0.1.0 \\
        metadata.xml > ocf_oci_IPaddr2.7

Build time only (the RPM's %build, `make man`), standard library only, so the
page is generated from the agent's own meta-data and cannot drift from it.
Output is plain man(7) that `mandoc -T lint` and `groff -man -ww` accept.
"""

import argparse
import datetime
import os
import sys
import textwrap
import xml.etree.ElementTree as ET  # noqa: S405 - our own agent's meta-data, at build time
from typing import Callable, List, Optional, Sequence, Tuple

# Input lines stay within mandoc's 80 bytes, "\\&" included.
WIDTH = 78


def escape(text: str) -> str:
    """Text for troff: backslashes, minus signs, non-ASCII characters."""
    out = text.replace("\\", "\\e").replace("-", "\\-")
    return "".join(c if ord(c) < 128 else "\\[u{:04X}]".format(ord(c)) for c in out)


def guard(line: str) -> str:
    """A text line must not start like a request."""
    return "\\&" + line if line[:1] in (".", "'") else line


def filled(line: str) -> List[str]:
    """Filled text as input lines of at most 80 bytes (mandoc's style limit)."""
    return [
        guard(piece)
        for piece in textwrap.wrap(
            escape(line), width=WIDTH, break_long_words=False, break_on_hyphens=False
        )
    ]


def paragraphs(text: Optional[str]) -> List[str]:
    """A longdesc as man(7) lines.

    Blank lines separate paragraphs; troff fills the lines of a paragraph.
    Lines indented relative to their paragraph (commands, policy statements)
    are kept as they are, in an indented no-fill block.
    """
    lines = textwrap.dedent((text or "").strip("\n")).splitlines()
    out: List[str] = []
    literal = False
    for raw in lines:
        line = raw.rstrip()
        if not line:
            if literal:
                out += [".fi", ".RE"]
                literal = False
            if out and out[-1] != ".PP":
                out.append(".PP")
            continue
        if line[0].isspace() and not literal:
            out += [".RS 4", ".nf"]
            literal = True
        elif not line[0].isspace() and literal:
            out += [".fi", ".RE"]
            literal = False
        if literal:
            out.append(guard(escape(line.strip())))
        else:
            out += filled(line.strip())
    if literal:
        out += [".fi", ".RE"]
    while out and out[-1] == ".PP":
        out.pop()
    return out


def _desc(element: ET.Element, tag: str) -> str:
    found = element.find(tag)
    return (found.text or "").strip() if found is not None else ""


def render(xml_text: str, provider: str, package: str, version: str, date: str) -> str:
    root = ET.fromstring(xml_text)  # noqa: S314 - our own agent's meta-data
    agent = root.get("name", "")
    page = "ocf_{}_{}".format(provider, agent)
    resource_type = "ocf:{}:{}".format(provider, agent)
    params = root.findall("parameters/parameter")
    actions = root.findall("actions/action")

    out = [
        '.TH {} 7 "{}" "{} {}" "OCF resource agents"'.format(
            escape(page.upper()), date, escape(package), escape(version)
        ),
        ".SH NAME",
        *filled("{} - {}".format(page, _desc(root, "shortdesc"))),
        ".SH SYNOPSIS",
    ]
    for p in params:
        content = p.find("content")
        kind = content.get("type", "string") if content is not None else "string"
        optional = p.get("required") != "1"
        out.append(
            "{}\\fBOCF_RESKEY_{}\\fR=\\fI{}\\fR{}".format(
                "[" if optional else "",
                escape(p.get("name", "")),
                escape(kind),
                "]" if optional else "",
            )
        )
        out.append(".br")
    out.append(
        "\\fB{}\\fR [{}]".format(
            escape(agent), " | ".join(escape(a.get("name", "")) for a in actions)
        )
    )
    out += [".SH DESCRIPTION"] + paragraphs(_desc(root, "longdesc"))

    out.append(".SH SUPPORTED PARAMETERS")
    for p in params:
        name = p.get("name", "")
        content = p.find("content")
        facts = [content.get("type", "string") if content is not None else "string"]
        if content is not None and content.get("default"):
            facts.append("default: " + content.get("default", ""))
        if p.get("required") == "1":
            facts.append("required")
        if p.get("unique") == "1":
            facts.append("unique")
        out += [".TP", "\\fB{}\\fR".format(escape(name))]
        shortdesc = _desc(p, "shortdesc")
        if shortdesc:
            out += filled("{} ({})".format(shortdesc.rstrip("."), ", ".join(facts)))
        else:
            out += filled("({})".format(", ".join(facts)))
        longdesc = paragraphs(_desc(p, "longdesc"))
        if longdesc:
            out += [".IP"] + [".IP" if line == ".PP" else line for line in longdesc]

    out.append(".SH SUPPORTED ACTIONS")
    for a in actions:
        attrs = ", ".join(
            "{} {}".format(k, a.get(k)) for k in ("timeout", "interval", "depth") if a.get(k)
        )
        out += [".TP", "\\fB{}\\fR".format(escape(a.get("name", "")))]
        out += filled(attrs or "no defaults")

    required = " ".join(
        "{}=\\fI{}\\fR".format(escape(p.get("name", "")), escape(p.get("name", "")).upper())
        for p in params
        if p.get("required") == "1"
    )
    monitor = next((a for a in actions if a.get("name") == "monitor"), None)
    op = ""
    if monitor is not None:
        op = " \\e\n    op monitor " + " ".join(
            "{}={}".format(k, monitor.get(k)) for k in ("interval", "timeout") if monitor.get(k)
        )
    out += [
        ".SH EXAMPLE",
        "Create the resource with",
        ".BR pcs (8),",
        "or let",
        ".BR pcs\\-oci (8)",
        "create it from its configuration file:",
        ".PP",
        ".RS 4",
        ".nf",
        "pcs resource create \\fINAME\\fR {} {}{}".format(escape(resource_type), required, op),
        ".fi",
        ".RE",
        ".SH SEE ALSO",
        ".BR pcs\\-oci (8),",
        ".BR pcs (8),",
        ".BR crm_mon (8),",
        ".BR ocf_heartbeat_{} (7)".format(escape(agent)),
    ]
    return "\n".join(out) + "\n"


def build_date() -> str:
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    when = (
        datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc)
        if epoch
        else datetime.datetime.now(datetime.timezone.utc)
    )
    return when.strftime("%Y-%m-%d")


def render_command(
    argv: Optional[List[str]],
    description: str,
    render_page: Callable[[str, argparse.Namespace, str], str],
    options: Sequence[Tuple[str, str]] = (),
) -> int:
    """The command line of both renderers: METADATA --package --version [--date],
    plus `options` (name, help), each required; prints render_page(xml, args, date)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("metadata", help="the agent's meta-data XML file, or - for stdin")
    for name, help_text in options:
        parser.add_argument("--" + name, required=True, help=help_text)
    parser.add_argument("--package", required=True, help="the package shipping the agent")
    parser.add_argument("--version", required=True, help="the package version")
    parser.add_argument(
        "--date", default=None, help="YYYY-MM-DD (default: $SOURCE_DATE_EPOCH or today)"
    )
    args = parser.parse_args(argv)
    if args.metadata == "-":
        xml_text = sys.stdin.read()
    else:
        with open(args.metadata, encoding="utf-8") as f:
            xml_text = f.read()
    sys.stdout.write(render_page(xml_text, args, args.date or build_date()))
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    return render_command(
        argv,
        "Render OCF meta-data XML as a man(7) page.",
        lambda xml_text, args, date: render(
            xml_text, args.provider, args.package, args.version, date
        ),
        [("provider", "the OCF provider, e.g. oci")],
    )


if __name__ == "__main__":
    sys.exit(main())
