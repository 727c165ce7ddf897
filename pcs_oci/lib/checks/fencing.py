"""verify's fencing checks: STONITH enabled with a device, and a `status` of every
fence_oci target through the installed agent: the same code path, credentials
and policy the fencer will use.
"""

import re
from typing import Dict, List, NamedTuple, Optional

from pcs_oci import settings
from pcs_oci.common import reports
from pcs_oci.common.agent_params import AUTH_INSTANCE_PRINCIPAL, FENCE_OPTION_NAMES
from pcs_oci.common.checks import FAIL, FENCE_AGENT, FENCING, PASS, WARN, row, skip
from pcs_oci.lib import pacemaker
from pcs_oci.lib.checks import Rows
from pcs_oci.lib.checks.cluster import ClusterFacts
from pcs_oci.lib.errors import PcsOciError
from pcs_oci.lib.oci.errors import instance_policy_hint
from pcs_oci.lib.runner import CommandRunner

# Device parameters that are fence_oci options (passed to the status run).
AGENT_OPTIONS = FENCE_OPTION_NAMES
# The agent's worst case for one status: authentication and one call, each
# within the OCI layer's retry budget (20 s), plus the interpreter.
STATUS_TIMEOUT = 60.0


class Target(NamedTuple):
    device: str
    node: str
    plug: str


class TargetStatus(NamedTuple):
    target: Target
    # The agent's exit status: 0 on, 2 off, anything else failed; None when
    # it could not run at all.
    returncode: Optional[int]
    # Why it failed, from the agent's error lines.
    reason: str
    # The device's auth, for the policy hint.
    auth: str


class FenceFacts(NamedTuple):
    # The fence_oci targets; None when the CIB was not read.
    targets: Optional[List[Target]]
    installed: bool = False
    statuses: List[TargetStatus] = []


# ---------------------------------------------------------------- reading


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


def read_status(
    runner: CommandRunner, primitives: Optional[Dict[str, pacemaker.Primitive]]
) -> FenceFacts:
    """A `status` of every fence_oci target through the installed agent."""
    if primitives is None:
        return FenceFacts(None)
    found = targets(primitives)
    if not found or not pacemaker.fence_agent_installed():
        return FenceFacts(found)
    statuses = []
    for target in found:
        device = primitives[target.device]
        auth = device.params.get("auth") or AUTH_INSTANCE_PRINCIPAL
        try:
            result = runner.run(status_argv(device, target.plug), timeout=STATUS_TIMEOUT)
        except PcsOciError as e:
            statuses.append(TargetStatus(target, None, e.reports[0].message, auth))
            continue
        reason = _reason(result.stderr) if result.returncode not in (0, 2) else ""
        statuses.append(TargetStatus(target, result.returncode, reason, auth))
    return FenceFacts(found, True, statuses)


# ---------------------------------------------------------------- checks


def check_fencing(cluster: ClusterFacts) -> Rows:
    if cluster.status is None:
        return [skip(FENCING, cluster.why_not)]
    devices = [r for r in cluster.status.resources.values() if r.agent.startswith("stonith:")]
    if cluster.status.stonith_enabled and devices:
        return [row(FENCING, PASS, ", ".join(r.id for r in devices))]
    return [
        row(
            FENCING,
            WARN,
            "{}={} with {} device(s): after a network partition both nodes may "
            "start the VIP; OCI gives the private IP to the last mover, so clients may "
            "reach a node the cluster lost".format(
                cluster.status.fencing_option,
                str(cluster.status.stonith_enabled).lower(),
                len(devices),
            ),
            "configure a fence device for every node and `pcs property set {}=true`".format(
                cluster.status.fencing_option
            ),
        )
    ]


def check_fence_agent(fence: FenceFacts, compartment: str = "") -> Rows:
    if fence.targets is None:
        return [skip(FENCE_AGENT, "no cluster configuration to read")]
    if not fence.targets:
        return [
            skip(
                FENCE_AGENT,
                "no {} device (`pcs-oci configure --fencing`)".format(settings.FENCE_AGENT_TYPE),
            )
        ]
    if not fence.installed:
        return [
            row(
                FENCE_AGENT,
                FAIL,
                "{} is not installed on this node".format(settings.FENCE_AGENT),
                "yum install pcs-oci (on every node)",
            )
        ]
    ok, off, failed = [], [], []
    denied_auth = ""
    for status in fence.statuses:
        target = status.target
        if status.returncode is None:
            failed.append("{}: {}".format(target.node, status.reason))
            continue
        what = "{} ({})".format(target.node, target.plug)
        if status.returncode == 0:
            ok.append("{} ON".format(what))
        elif status.returncode == 2:
            off.append("{} OFF".format(what))
        else:
            failed.append("{}: {}".format(what, status.reason))
            if re.search(r"NotAuthorized|HTTP 403|use instances in compartment", status.reason):
                denied_auth = status.auth
    if failed:
        fix = "check the devices' OCI settings (`pcs stonith config`) and the API's reachability"
        if denied_auth:
            fix = instance_policy_hint(denied_auth, compartment)
        return [row(FENCE_AGENT, FAIL, "; ".join(failed + ok + off), fix)]
    if off:
        return [
            row(
                FENCE_AGENT,
                WARN,
                "; ".join(off + ok) + ": powered off in OCI",
                "start the instance (`{} -o on -n PLUG` or the console) and the cluster on "
                "it".format(settings.FENCE_AGENT_NAME),
            )
        ]
    return [row(FENCE_AGENT, PASS, "; ".join(ok))]
