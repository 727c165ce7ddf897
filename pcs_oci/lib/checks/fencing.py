"""verify's fencing checks: a `status` of every fence_oci target through the installed agent.

The same code path, credentials and policy the fencer will use.
"""

import re
from typing import Any, Dict, List, NamedTuple

from pcs_oci import settings
from pcs_oci.common import reports
from pcs_oci.fence.fence_oci import OCI_OPTIONS
from pcs_oci.lib import pacemaker
from pcs_oci.lib.commands.fencing import DEFAULT_AUTH
from pcs_oci.lib.errors import PcsOciError


class Target(NamedTuple):
    device: str
    node: str
    plug: str


class StatusCheck(NamedTuple):
    status: str  # PASS, WARN, FAIL or SKIP, as verify shows them
    detail: str
    fix: str = ""


# Device parameters that are fence_oci options (passed to the status run).
AGENT_OPTIONS = OCI_OPTIONS
# The agent's worst case for one status: authentication and one call, each
# within the OCI layer's retry budget (20 s), plus the interpreter.
STATUS_TIMEOUT = 60.0


def targets(primitives: Dict[str, pacemaker.Primitive]) -> List[Target]:
    """Every (device, node, plug) of the fence_oci devices, from pcmk_host_map or plug."""
    found: List[Target] = []
    for name in sorted(primitives):
        device = primitives[name]
        if device.agent != settings.FENCE_AGENT_TYPE:
            continue
        mapped = _host_map(device.params.get("pcmk_host_map", ""))
        plug = device.params.get("plug") or device.params.get("port")
        if plug:
            nodes = [n for n, p in mapped.items() if p == plug] or ["?"]
            found += [Target(name, n, plug) for n in nodes]
        else:
            found += [Target(name, n, p) for n, p in mapped.items()]
    return found


def _host_map(text: str) -> Dict[str, str]:
    # Pacemaker's format: node:plug pairs separated by ';', ',' or blanks
    # (also node=plug).
    pairs: Dict[str, str] = {}
    for entry in re.split(r"[;,\s]+", text.strip()):
        node, sep, plug = entry.partition(":")
        if not sep:
            node, sep, plug = entry.partition("=")
        if sep and node and plug:
            pairs[node] = plug
    return pairs


def status_argv(device: pacemaker.Primitive, plug: str) -> List[str]:
    argv = [settings.FENCE_AGENT, "--action=status", "--plug=" + plug]
    for key in AGENT_OPTIONS:
        value = device.params.get(key)
        if value:
            argv.append("--{}={}".format(key.replace("_", "-"), value))
    return argv


def _reason(stderr: str) -> str:
    """fencing.py's error lines ("<time> ERROR: Failed: ...") without the time stamps."""
    lines = []
    for line in stderr.splitlines():
        match = re.search(r"\b(?:ERROR|CRITICAL): (.*)", line)
        if match and match.group(1).strip() and "use '-h' for usage" not in line:
            lines.append(match.group(1).strip())
    return "; ".join(lines[:2]) or reports.first_line(stderr) or "no reason given"


def check_status(
    runner: Any, primitives: Dict[str, pacemaker.Primitive], compartment: str = ""
) -> StatusCheck:
    """A `status` of every fence_oci target through the installed agent."""
    found = targets(primitives)
    if not found:
        return StatusCheck(
            "SKIP", "no {} device (`pcs-oci configure --fencing`)".format(settings.FENCE_AGENT_TYPE)
        )
    if not pacemaker.fence_agent_installed():
        return StatusCheck(
            "FAIL",
            "{} is not installed on this node".format(settings.FENCE_AGENT),
            "yum install pcs-oci (on every node)",
        )
    ok, off, failed = [], [], []
    denied_auth = ""
    for target in found:
        device = primitives[target.device]
        try:
            result = runner.run(status_argv(device, target.plug), timeout=STATUS_TIMEOUT)
        except PcsOciError as e:
            failed.append("{}: {}".format(target.node, e.reports[0].message))
            continue
        what = "{} ({})".format(target.node, target.plug)
        if result.returncode == 0:
            ok.append("{} ON".format(what))
        elif result.returncode == 2:
            off.append("{} OFF".format(what))
        else:
            reason = _reason(result.stderr)
            failed.append("{}: {}".format(what, reason))
            if re.search(r"NotAuthorized|HTTP 403|use instances in compartment", reason):
                denied_auth = device.params.get("auth") or DEFAULT_AUTH
    if failed:
        fix = "check the devices' OCI settings (`pcs stonith config`) and the API's reachability"
        if denied_auth:
            from pcs_oci.lib.oci_api import instance_policy_hint

            fix = instance_policy_hint(denied_auth, compartment)
        return StatusCheck("FAIL", "; ".join(failed + ok + off), fix)
    if off:
        return StatusCheck(
            "WARN",
            "; ".join(off + ok) + ": powered off in OCI",
            "start the instance (`{} -o on -n PLUG` or the console) and the cluster on it".format(
                settings.FENCE_AGENT_NAME
            ),
        )
    return StatusCheck("PASS", "; ".join(ok))
