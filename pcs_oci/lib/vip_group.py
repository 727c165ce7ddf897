"""A VIP that leads a Pacemaker group (config `vips[].group`).

The VIP goes first in the group, so that the application resources after it
start once the address has moved (a group orders and colocates its members
in turn). The group is created if absent. pcs 0.11 and 0.12 both take
`--group G [--before R]` on create and `group add G R --before R2`.
"""

import xml.etree.ElementTree as ET  # noqa: S405 - the CIB comes from our own cluster tools
from typing import Dict, List, Optional, Sequence, Tuple

from pcs_oci import settings
from pcs_oci.common import reports
from pcs_oci.common.reports import ReportItem
from pcs_oci.lib.config import Config, Vip


def groups_in(configuration: ET.Element) -> Dict[str, List[str]]:
    """Group id -> its primitives, in order."""
    return {
        g.get("id", ""): [p.get("id", "") for p in g.findall("primitive")]
        for g in configuration.iter("group")
    }


def position_args(vip: Vip, members: Sequence[str]) -> List[str]:
    """pcs arguments putting the VIP first among `members` (nothing for an empty group)."""
    others = [m for m in members if m != vip.name]
    return ["--before", others[0]] if others else []


def create_args(vip: Vip, groups: Dict[str, List[str]]) -> List[str]:
    if not vip.group:
        return []
    return ["--group", vip.group] + position_args(vip, groups.get(vip.group, []))


def move_step(
    vip: Vip, groups: Dict[str, List[str]]
) -> Optional[Tuple[str, List[str], List[List[str]]]]:
    """(description, argv, undo) putting an existing VIP first in its group; None if it is."""
    if not vip.group:
        return None
    members = groups.get(vip.group, [])
    if members[:1] == [vip.name]:
        return None
    return (
        "put {} first in group {}".format(vip.name, vip.group),
        [settings.PCS, "resource", "group", "add", vip.group, vip.name]
        + position_args(vip, members),
        [[settings.PCS, "resource", "group", "remove", vip.group, vip.name]],
    )


def problems(config: Config, element_ids: Dict[str, str]) -> List[ReportItem]:
    """A group id already taken by something that is not a group."""
    found = []
    for index, vip in enumerate(config.vips):
        kind = element_ids.get(vip.group or "", "group")
        if vip.group and kind != "group":
            found.append(
                reports.item(
                    reports.RESOURCE_NOT_OURS,
                    "the group id {} is already used by a {} in the CIB".format(vip.group, kind),
                    "name another group in vips[{}].group".format(index),
                )
            )
    return found
