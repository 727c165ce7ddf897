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

`pcs-oci verify` checks the devices (pcs_oci.lib.checks.fencing).
"""

from typing import Dict, List, Optional

from pcs_oci import settings
from pcs_oci.common import reports
from pcs_oci.common.agent_params import CONNECTION_PARAMETERS
from pcs_oci.common.reports import ReportItem
from pcs_oci.lib import pacemaker, plan, stack
from pcs_oci.lib.config import Config, Node
from pcs_oci.lib.plan import ObjectPlan, Step, name_values, param_changes

DEVICE_PREFIX = "fence_"
# The first node's device in a two-node cluster: its fencing waits this long.
DELAY_BASE = "10s"
# A reboot is a STOP and a START, each tens of seconds in OCI; Pacemaker's
# default (stonith-timeout, 60s) is too short for both.
REBOOT_TIMEOUT = "300s"
# Parameters configure owns; anything else an admin set on the device stays.
MANAGED_PARAMS = (
    ["plug", "pcmk_host_map"] + CONNECTION_PARAMETERS + ["pcmk_delay_base", "pcmk_reboot_timeout"]
)


def device_name(node: Node) -> str:
    return DEVICE_PREFIX + node.hostname


def desired_params(config: Config, node: Node) -> Dict[str, str]:
    instance = node.instance_id or ""
    params = {"plug": instance, "pcmk_host_map": "{}:{}".format(node.hostname, instance)}
    params.update(config.oci.to_params())
    if len(config.nodes) == 2 and node == config.nodes[0]:
        params["pcmk_delay_base"] = DELAY_BASE
    params["pcmk_reboot_timeout"] = REBOOT_TIMEOUT
    return params


def preflight(
    config: Config, primitives: Dict[str, pacemaker.Primitive], ids: Dict[str, str]
) -> List[ReportItem]:
    """Every reason the devices cannot be created, before anything changes."""
    problems: List[ReportItem] = []
    if not pacemaker.fence_agent_installed():
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


def plan_device(config: Config, node: Node, existing: Optional[pacemaker.Primitive]) -> ObjectPlan:
    name = device_name(node)
    params = desired_params(config, node)
    if existing is None:
        argv = [settings.PCS, "stonith", "create", name, settings.FENCE_AGENT_NAME]
        argv += name_values(params)
        step = Step(
            name,
            "create {} (fences {})".format(name, node.hostname),
            argv,
            [[settings.PCS, "stonith", "delete", name]],
        )
        return ObjectPlan(name, plan.CREATE, ["new fence device"], [step])
    set_params, old_params, changes = param_changes(existing.params, params, MANAGED_PARAMS)
    if not set_params:
        return ObjectPlan(name, plan.UNCHANGED, [], [])
    step = Step(
        name,
        "update {}".format(name),
        [settings.PCS, "stonith", "update", name] + name_values(set_params),
        [[settings.PCS, "stonith", "update", name] + name_values(old_params)],
    )
    return ObjectPlan(name, plan.UPDATE, changes, [step])


def plan_devices(
    config: Config,
    primitives: Dict[str, pacemaker.Primitive],
    stonith_enabled: bool,
    option: str = stack.STONITH_ENABLED,
) -> List[ObjectPlan]:
    """The devices, then `option`=true (once there is a device to use).

    option: the cluster option that enables fencing on this Pacemaker
    (stonith-enabled, or fencing-enabled since 3.0.2: ClusterStatus says).
    """
    plans = [plan_device(config, n, primitives.get(device_name(n))) for n in config.nodes]
    if stonith_enabled:
        plans.append(ObjectPlan(option, plan.UNCHANGED, [], []))
    else:
        step = Step(
            option,
            "enable fencing ({}=true)".format(option),
            [settings.PCS, "property", "set", option + "=true"],
            [[settings.PCS, "property", "set", option + "=false"]],
        )
        plans.append(ObjectPlan(option, plan.SET, ["{}: false -> true".format(option)], [step]))
    return plans
