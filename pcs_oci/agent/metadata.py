"""The agent's meta-data: heartbeat IPaddr2's parameters plus the OCI ones.

IPaddr2's parameters are read from the installed heartbeat agent, so every
parameter of the IPaddr2 that runs underneath is accepted (pcs validates
`pcs resource create` options against this list): a drop-in whatever the
resource-agents version. The result is valid against ra-api-1.dtd.
"""

import os
import subprocess
import xml.etree.ElementTree as ET  # noqa: S405 - parses the local heartbeat agent's output
from typing import List

from pcs_oci import __version__
from pcs_oci.common.agent_params import OCI_PARAMETERS

SHORTDESC = "Virtual IP on Oracle Cloud: IPaddr2 plus the OCI private IP move"
LONGDESC = """\
Manages a virtual IPv4 or IPv6 address on Oracle Cloud Infrastructure (OCI).

On OCI a virtual IP is a secondary private IP that the cloud assigns to one
VNIC; traffic reaches a node only while OCI assigns the address to that node's
VNIC. On start this agent moves the private IP to this node's VNIC through
the OCI API (UpdatePrivateIp, guarded by the resource's etag; it creates the
private IP if it does not exist yet) while ocf:heartbeat:IPaddr2 start adds
the address and announces it; the start succeeds only when both are done and
confirmed (OCI read back, IPaddr2's monitor), and removes the address again
when OCI fails. Stop runs IPaddr2 stop only and never needs OCI, so it
succeeds even when the API is unreachable; the next start elsewhere moves
the private IP.

Each node keeps what it learnt about the VIP (its OCIDs) and its
instance-principal session in root-only files under /run/pcs-oci: a start
on a node that has seen the VIP (in a start, a monitor_api check, or the
background look-up after a probe) reads the private IP once and moves it,
without the instance metadata service or the auth service while the
session is valid. What is kept is checked against OCI's answers, never
trusted blindly.

The agent is a drop-in for ocf:heartbeat:IPaddr2: it accepts every IPaddr2
parameter and passes it through, and keeps IPaddr2's exit codes and exit
reasons. A plain monitor is IPaddr2's monitor; with monitor_api=true it also
checks OCI's assignment at most every monitor_api_interval seconds.

The VIP must be a secondary private IP (never a node's primary IP) in a subnet
of the nodes' VNICs. With instance principals, the nodes need a dynamic group
and a policy such as:
  allow dynamic-group <group> to use private-ips in compartment <compartment>
  allow dynamic-group <group> to use vnics in compartment <compartment>

Use pcs-oci(8) to create, check and watch the resource."""

# Start moves the IP in OCI (retries bounded by the API timeout) before
# IPaddr2 starts: the default leaves room for the worst case at defaults.
ACTIONS = [
    ("start", {"timeout": "90s"}),
    ("stop", {"timeout": "20s"}),
    ("status", {"depth": "0", "timeout": "20s", "interval": "10s"}),
    ("monitor", {"depth": "0", "timeout": "40s", "interval": "10s"}),
    ("meta-data", {"timeout": "5s"}),
    ("validate-all", {"timeout": "30s"}),
]


def heartbeat_parameters(ipaddr2_path: str) -> List[ET.Element]:
    """The <parameter> elements of the installed heartbeat IPaddr2."""
    proc = subprocess.run(
        [ipaddr2_path, "meta-data"],
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
        env=dict(os.environ, OCF_ROOT=os.environ.get("OCF_ROOT", "/usr/lib/ocf")),
    )
    if proc.returncode != 0:
        raise RuntimeError(
            "{} meta-data failed (exit {}): {}".format(
                ipaddr2_path, proc.returncode, proc.stderr.strip()[:200]
            )
        )
    root = ET.fromstring(proc.stdout)  # noqa: S314 - trusted local agent output
    params = root.find("parameters")
    return list(params) if params is not None else []


def _text(parent: ET.Element, tag: str, text: str, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attrs)
    element.text = text
    return element


def build(ipaddr2_path: str) -> str:
    root = ET.Element("resource-agent", {"name": "IPaddr2", "version": __version__})
    _text(root, "version", "1.1")
    _text(root, "longdesc", "\n" + LONGDESC + "\n", lang="en")
    _text(root, "shortdesc", SHORTDESC, lang="en")
    params = ET.SubElement(root, "parameters")
    for element in heartbeat_parameters(ipaddr2_path):
        params.append(element)
    for spec in OCI_PARAMETERS:
        p = ET.SubElement(params, "parameter", {"name": spec.name, "unique": "0", "required": "0"})
        _text(p, "longdesc", spec.longdesc, lang="en")
        _text(p, "shortdesc", spec.shortdesc, lang="en")
        content = {"type": spec.content_type}
        if spec.default:
            content["default"] = spec.default
        ET.SubElement(p, "content", content)
    actions = ET.SubElement(root, "actions")
    for name, attrs in ACTIONS:
        ET.SubElement(actions, "action", dict(name=name, **attrs))
    ET.indent(root)
    return (
        '<?xml version="1.0"?>\n<!DOCTYPE resource-agent SYSTEM "ra-api-1.dtd">\n'
        + ET.tostring(root, encoding="unicode")
        + "\n"
    )
