"""`pcs-oci configure --fencing`: one fence_oci device per node, and STONITH enabled.

Each node's device fences that node only: its plug is the node's instance
OCID (nodes[].instance_id, which `pcs-oci discover --all --update` writes),
mapped from the node name by pcmk_host_map. The OCI settings are the VIP's
(auth, region, endpoint, proxy, API timeout). In a two-node cluster the
first node's device gets a fixed delay (pcmk_delay_base): after a network
partition both sides try to fence at once, and the side that fences the
first node waits, so the first node always wins and exactly one node stays.
Devices are created, or updated in only what differs, like the VIPs; then
stonith-enabled=true.

`pcs-oci verify` runs a `status` of every device's target through the
installed agent (check_status): the same code path, credentials and policy
the fencer will use.
"""

import os
import re
from typing import Any, Dict, List, NamedTuple, Optional

from pcs_oci import settings
from pcs_oci.common import reports
from pcs_oci.common.reports import ReportItem
from pcs_oci.fence.fence_oci import OCI_OPTIONS
from pcs_oci.lib import pacemaker, stack
from pcs_oci.lib.commands.configure import Step, VipPlan, param_changes
from pcs_oci.lib.config import Config, Node
from pcs_oci.lib.errors import PcsOciError

DEVICE_PREFIX = "fence_"
# The first node's device in a two-node cluster: its fencing waits this long.
DELAY_BASE = "10s"
# A reboot is a STOP and a START, each tens of seconds in OCI; Pacemaker's
# default (stonith-timeout, 60s) is too short for both.
REBOOT_TIMEOUT = "300s"
# Parameters configure owns; anything else an admin set on the device stays.
MANAGED_PARAMS = [
    "plug",
    "pcmk_host_map",
    "auth",
    "oci_config_file",
    "oci_profile",
    "region",
    "endpoint",
    "proxy",
    "api_timeout",
    "pcmk_delay_base",
    "pcmk_reboot_timeout",
]
DEFAULT_AUTH = "instance_principal"
DEFAULT_API_TIMEOUT = str(settings.DEFAULT_API_TIMEOUT)


def device_name(node: Node) -> str:
    return DEVICE_PREFIX + node.hostname


def agent_installed() -> bool:
    return os.path.isfile(settings.FENCE_AGENT) and os.access(settings.FENCE_AGENT, os.X_OK)


def desired_params(config: Config, node: Node) -> Dict[str, str]:
    instance = node.instance_id or ""
    params = {"plug": instance, "pcmk_host_map": "{}:{}".format(node.hostname, instance)}
    oci = config.oci
    if oci.auth != DEFAULT_AUTH:
        params["auth"] = oci.auth
        if oci.config_file:
            params["oci_config_file"] = oci.config_file
        if oci.profile:
            params["oci_profile"] = oci.profile
    for key in ("region", "endpoint", "proxy"):
        value = getattr(oci, key)
        if value:
            params[key] = value
    if str(oci.timeout) != DEFAULT_API_TIMEOUT:
        params["api_timeout"] = str(oci.timeout)
    if len(config.nodes) == 2 and node == config.nodes[0]:
        params["pcmk_delay_base"] = DELAY_BASE
    params["pcmk_reboot_timeout"] = REBOOT_TIMEOUT
    return params


def check(
    config: Config, primitives: Dict[str, pacemaker.Primitive], ids: Dict[str, str]
) -> List[ReportItem]:
    """Every reason the devices cannot be created, before anything changes."""
    problems = []
    if not agent_installed():
        problems.append(
            reports.item(
                reports.AGENT_NOT_INSTALLED,
                "the fence agent {} is not installed on this node".format(settings.FENCE_AGENT),
                "install pcs-oci on every node: yum install pcs-oci",
            )
        )
    missing = [n.hostname for n in config.nodes if not n.instance_id]
    if missing:
        problems.append(
            reports.item(
                reports.NODE_INSTANCE_UNKNOWN,
                "the config has no instance_id for {}: fence_oci needs each node's instance".format(
                    ", ".join(missing)
                ),
                "`pcs-oci discover --all --update` writes them (or set nodes[].instance_id)",
                config.path or "",
            )
        )
    for node in config.nodes:
        name = device_name(node)
        found = primitives.get(name)
        if found is None and name in ids:
            problems.append(
                reports.item(
                    reports.RESOURCE_NOT_OURS,
                    "the id {} is already used by a {} in the CIB".format(name, ids[name]),
                    "rename that {} (`pcs config` shows it)".format(ids[name]),
                )
            )
        elif found is not None and found.agent != settings.FENCE_AGENT_TYPE:
            problems.append(
                reports.item(
                    reports.RESOURCE_NOT_OURS,
                    "resource {} exists as {}, not {}".format(
                        name, found.agent, settings.FENCE_AGENT_TYPE
                    ),
                    "delete it (`pcs stonith delete {}`) and run `pcs-oci configure "
                    "--fencing` again".format(name),
                )
            )
    return problems


def _kv(values: Dict[str, str]) -> List[str]:
    return ["{}={}".format(k, v) for k, v in values.items()]


def plan_device(config: Config, node: Node, existing: Optional[pacemaker.Primitive]) -> VipPlan:
    name = device_name(node)
    params = desired_params(config, node)
    if existing is None:
        argv = [settings.PCS, "stonith", "create", name, settings.FENCE_AGENT_NAME]
        argv += _kv(params)
        step = Step(
            name,
            "create {} (fences {})".format(name, node.hostname),
            argv,
            [[settings.PCS, "stonith", "delete", name]],
        )
        return VipPlan(name, "create", ["new fence device"], [step])
    set_params, old_params, changes = param_changes(existing.params, params, MANAGED_PARAMS)
    if not set_params:
        return VipPlan(name, "unchanged", [], [])
    step = Step(
        name,
        "update {}".format(name),
        [settings.PCS, "stonith", "update", name] + _kv(set_params),
        [[settings.PCS, "stonith", "update", name] + _kv(old_params)],
    )
    return VipPlan(name, "update", changes, [step])


def plan(
    config: Config,
    primitives: Dict[str, pacemaker.Primitive],
    stonith_enabled: bool,
    option: str = stack.STONITH_ENABLED,
) -> List[VipPlan]:
    """The devices, then `option`=true (once there is a device to use).

    option: the cluster option that enables fencing on this Pacemaker
    (stonith-enabled, or fencing-enabled since 3.0.2: ClusterStatus says).
    """
    plans = [plan_device(config, n, primitives.get(device_name(n))) for n in config.nodes]
    if stonith_enabled:
        plans.append(VipPlan(option, "unchanged", [], []))
    else:
        step = Step(
            option,
            "enable fencing ({}=true)".format(option),
            [settings.PCS, "property", "set", option + "=true"],
            [[settings.PCS, "property", "set", option + "=false"]],
        )
        plans.append(VipPlan(option, "set", ["{}: false -> true".format(option)], [step]))
    return plans


# ---------------------------------------------------------------- verify


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
    if not agent_installed():
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
