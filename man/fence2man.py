#!/usr/bin/env python3
"""Render a fence agent's meta-data XML (fence-agents' format) as a man(8) page.

    python3 agents/fence_oci -o metadata > fence_oci.xml
    python3 man/fence2man.py --package pcs-oci --version 0.1.0 fence_oci.xml > fence_oci.8

The sections are those of fence-agents' own fence2man.xsl (NAME, DESCRIPTION,
PARAMETERS with the command-line form, ACTIONS, STDIN PARAMETERS with the
names Pacemaker passes), plus an EXAMPLE, as plain man(7) that
`mandoc -T lint` and `groff -man -ww` accept. Build time only, standard
library only; the text helpers and the command line are ra2man.py's.
"""

import os
import sys
import xml.etree.ElementTree as ET  # noqa: S405 - our own agent's meta-data, at build time
from typing import List, Optional

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ra2man import escape, filled, paragraphs, render_command  # noqa: E402

# fence2man.xsl's words for the standard actions.
ACTIONS = {
    "on": "Power on the instance.",
    "off": "Power off the instance.",
    "reboot": "Reboot the instance.",
    "status": "The power status of the instance.",
    "list": "List the instances that can be fenced, with their display names.",
    "list-status": "List the instances with their display names and power status.",
    "monitor": "Check the health of the fence device (the OCI API can be used).",
    "metadata": "Display the XML metadata describing this agent.",
    "manpage": "The same as metadata.",
    "validate-all": "Validate if all required parameters are entered.",
}


def _text(element: ET.Element, tag: str) -> str:
    found = element.find(tag)
    return " ".join((found.text or "").split()) if found is not None else ""


def _describe(param: ET.Element, stdin: bool) -> List[str]:
    content = param.find("content")
    text = _text(param, "shortdesc").rstrip(".")
    options = [o.get("value", "") for o in content.iter("option")] if content is not None else []
    if len(options) > 1:
        text += " ({})".format("|".join(options))
    default = content.get("default") if content is not None else None
    text += "."
    if default:
        text += " Default: {}.".format(default)
    elif param.get("required") == "1":
        text += " Always required."
    if stdin and param.get("obsoletes"):
        text += " Obsoletes: {}.".format(param.get("obsoletes"))
    return filled(text)


def render(xml_text: str, package: str, version: str, date: str) -> str:
    root = ET.fromstring(xml_text)  # noqa: S314 - our own agent's meta-data
    agent = root.get("name", "")
    params = [p for p in root.findall("parameters/parameter") if p.get("deprecated") != "1"]
    actions = [a.get("name", "") for a in root.findall("actions/action")]
    out = [
        '.TH {} 8 "{}" "{} {}" "Fence agents"'.format(
            escape(agent.upper()), date, escape(package), escape(version)
        ),
        ".SH NAME",
        *filled("{} - {}".format(agent, root.get("shortdesc", ""))),
        ".SH SYNOPSIS",
        ".B {}".format(escape(agent)),
        "[\\fIOPTION\\fR]...",
        ".br",
        "{}".format(escape(agent)),
        "< \\fIKEY=VALUE lines\\fR",
        ".SH DESCRIPTION",
    ]
    longdesc = root.find("longdesc")
    out += paragraphs(longdesc.text if longdesc is not None else "")
    out += [".PP"] + filled(
        "{} accepts options on the command line as well as from stdin, one key=value "
        "per line, which is how Pacemaker's fencer runs it. Run by hand with command "
        "line options, it tests the device.".format(agent)
    )
    vendor = _text(root, "vendor-url")
    if vendor:
        out += [".PP"] + filled("Vendor URL: {}".format(vendor))

    out.append(".SH PARAMETERS")
    for p in params:
        getopt = p.find("getopt")
        mixed = getopt.get("mixed", "") if getopt is not None else ""
        out += [".TP", "\\fB{}\\fR".format(escape(mixed))]
        out += _describe(p, stdin=False)

    out.append(".SH ACTIONS")
    for name in actions:
        out += [".TP", "\\fB{}\\fR".format(escape(name))]
        out += filled(ACTIONS.get(name, "The operational behavior of this is not known."))

    out.append(".SH STDIN PARAMETERS")
    for p in params:
        out += [".TP", "\\fB{}\\fR".format(escape(p.get("name", "")))]
        out += _describe(p, stdin=True)

    out += [
        ".SH EXAMPLE",
        "One device per node; let",
        ".BR pcs\\-oci (8)",
        "create them from its configuration file",
        "(\\fBpcs\\-oci configure \\-\\-fencing\\fR), or:",
        ".PP",
        ".RS 4",
        ".nf",
        "pcs stonith create fence_node1 {} \\e".format(escape(agent)),
        "    plug=\\fIINSTANCE_OCID\\fR pcmk_host_map=node1:\\fIINSTANCE_OCID\\fR \\e",
        "    pcmk_delay_base=10s",
        "{} \\-o status \\-n \\fIINSTANCE_OCID\\fR".format(escape(agent)),
        ".fi",
        ".RE",
        ".SH SEE ALSO",
        ".BR pcs\\-oci (8),",
        ".BR pcs (8),",
        ".BR stonith_admin (8),",
        ".BR ocf_oci_IPaddr2 (7)",
    ]
    return "\n".join(out) + "\n"


def main(argv: Optional[List[str]] = None) -> int:
    return render_command(
        argv,
        "Render fence agent meta-data as a man(8) page.",
        lambda xml_text, args, date: render(xml_text, args.package, args.version, date),
    )


if __name__ == "__main__":
    sys.exit(main())
