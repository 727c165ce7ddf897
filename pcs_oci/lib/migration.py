"""What `pcs-oci migrate` changes in the CIB: find each VIP's resource, convert it in place.

Pure functions over CIB XML (pcs_oci.lib.cib); no tool is run here. For each
VIP of the config the resource that holds it today is one of:

- ocf:heartbeat:IPaddr2 with that `ip` (the sed recipe patches the agent, not
  the resource, so patched or not looks the same here): converted in place;
- ocf:heartbeat:ocivip with that `secondary_private_ip`, and its companion
  IPaddr2 in the same group or colocated with it: the two become the
  IPaddr2, converted; constraints naming the ocivip are moved to it;
- ocivip alone: converted in place (it adds the address itself);
- ocf:oci:IPaddr2 already: nothing to do.

"In place" means the same id, the same position in its group, every other
constraint untouched, IPaddr2's own parameters and meta attributes kept; the
OCI parameters, op timeouts, stickiness and failure-timeout are what
`pcs-oci configure` would set (its functions are used). Whatever cannot be
converted safely is refused with the reason and the fix.
"""

import ipaddress
import xml.etree.ElementTree as ET  # noqa: S405 - CIB elements built by pcs_oci.lib.cib
from typing import Dict, List, NamedTuple, Optional, Tuple

from pcs_oci import settings
from pcs_oci.common import reports
from pcs_oci.common.reports import ReportItem
from pcs_oci.lib import cib
from pcs_oci.lib.commands.configure import (
    MANAGED_PARAMS,
    desired_meta,
    desired_ops,
    desired_params,
    meta_differs,
    param_changes,
)
from pcs_oci.lib.config import Config, Vip
from pcs_oci.lib.pacemaker import interval_ms

HEARTBEAT_IPADDR2 = "ocf:heartbeat:IPaddr2"
OCIVIP = "ocf:heartbeat:ocivip"
# ocivip's own parameters, which mean nothing to IPaddr2.
OCIVIP_ONLY_PARAMS = ("secondary_private_ip", "ocicli", "interface_alias", "api_delay")

CONVERT = "convert"  # IPaddr2 (or a lone ocivip) becomes ocf:oci:IPaddr2
MERGE = "merge"  # ocivip + IPaddr2 become the IPaddr2, converted
UNCHANGED = "unchanged"  # already ocf:oci:IPaddr2
ABSENT = "absent"  # no resource holds the IP: `pcs-oci configure` creates it
REFUSED = "refused"


class Conversion(NamedTuple):
    vip: str
    ip: str
    action: str
    # The resource that is (or becomes) the ocf:oci:IPaddr2, and its agent before.
    resource: str = ""
    agent_before: str = ""
    # ocivip resources folded into it.
    removed: List[str] = []
    changes: List[str] = []
    problems: List[ReportItem] = []
    notes: List[str] = []


# ---------------------------------------------------------------- finding the holder


def _same_ip(value: Optional[str], ip: str) -> bool:
    if not value:
        return False
    try:
        return ipaddress.ip_address(value.strip()) == ipaddress.ip_address(ip)
    except ValueError:
        return value.strip() == ip


def holders(root: ET.Element, ip: str) -> Dict[str, List[ET.Element]]:
    """Agent -> the primitives holding `ip` with it (IPaddr2s, ocivips, ours)."""
    found: Dict[str, List[ET.Element]] = {}
    for primitive in cib.section(root, "resources").iter("primitive"):
        agent = cib.agent(primitive)
        params = cib.nvpairs(primitive, "instance_attributes")
        key = "secondary_private_ip" if agent == OCIVIP else "ip"
        if agent in (HEARTBEAT_IPADDR2, OCIVIP, settings.AGENT_TYPE) and _same_ip(
            params.get(key), ip
        ):
            found.setdefault(agent, []).append(primitive)
    return found


def _tied(root: ET.Element, one: ET.Element, other: ET.Element) -> bool:
    """In one group, or a colocation constraint names both."""
    up = cib.parents(root)
    parent = up.get(one)
    if parent is not None and parent.tag == "group" and up.get(other) is parent:
        return True
    pair = {one.get("id"), other.get("id")}
    for constraint in cib.section(root, "constraints").findall("rsc_colocation"):
        if pair <= set(cib.constraint_refs(constraint)):
            return True
    return False


def _problem(vip: Vip, message: str, hint: str) -> ReportItem:
    return reports.item(
        reports.MIGRATE_REFUSED, "{} ({}): {}".format(vip.name, vip.ip, message), hint
    )


def _check_holder(
    config: Config, vip: Vip, root: ET.Element, primitive: ET.Element, keeps_id: bool = True
) -> List[ReportItem]:
    """Why `primitive` cannot become the VIP's ocf:oci:IPaddr2 in place (empty: it can)."""
    rid = primitive.get("id", "")
    index = config.vips.index(vip)
    problems = []
    containers = [c for c in cib.enclosing(root, primitive) if c.tag != "group"]
    if containers:
        problems.append(
            _problem(
                vip,
                "{} is inside {} {}, which pcs-oci does not convert: a VIP is a primitive "
                "(alone or in a group) that runs on one node at a time".format(
                    rid, containers[0].tag, containers[0].get("id")
                ),
                "take it out of the {} first".format(containers[0].tag),
            )
        )
    if keeps_id and rid != vip.name:
        problems.append(
            _problem(
                vip,
                "the resource holding it is {}, the config names it {}".format(rid, vip.name),
                'set vips[{}].name to "{}" in {}: migrate keeps the resource id'.format(
                    index, rid, config.path or "the config"
                ),
            )
        )
    for tag in ("instance_attributes", "meta_attributes"):
        if cib.has_rules(primitive, tag):
            problems.append(
                _problem(
                    vip,
                    "{} has several {} sets or rules; pcs-oci would not know which to "
                    "change".format(rid, tag),
                    "merge them into one set without rules (pcs resource update), then run "
                    "migrate again",
                )
            )
    if cib.agent(primitive) == OCIVIP:
        return problems
    params = cib.nvpairs(primitive, "instance_attributes")
    for key, wanted in (
        ("cidr_netmask", None if vip.cidr_netmask is None else str(vip.cidr_netmask)),
        ("nic", vip.nic),
    ):
        if params.get(key) != wanted:
            problems.append(
                _problem(
                    vip,
                    "{} has {}={}, the config {}".format(
                        rid,
                        key,
                        params.get(key, "(unset)"),
                        "has {}".format(wanted) if wanted else "leaves it unset",
                    ),
                    "make the config describe the resource: "
                    + (
                        "set vips[{}].{} to {}".format(
                            index,
                            key,
                            params[key] if key == "cidr_netmask" else '"{}"'.format(params[key]),
                        )
                        if key in params
                        else "remove vips[{}].{}".format(index, key)
                    ),
                )
            )
    monitors = cib.ops(primitive, "monitor")
    if len(monitors) > 1:
        problems.append(
            _problem(
                vip,
                "{} has {} monitor operations".format(rid, len(monitors)),
                "keep one (pcs resource op remove), then run migrate again",
            )
        )
    elif monitors and interval_ms(monitors[0].get("interval")) != interval_ms(vip.monitor_interval):
        problems.append(
            _problem(
                vip,
                "{} is monitored every {}, the config says {}".format(
                    rid, monitors[0].get("interval"), vip.monitor_interval
                ),
                'set vips[{}].monitor_interval to "{}"'.format(index, monitors[0].get("interval")),
            )
        )
    return problems


# ---------------------------------------------------------------- converting


def _set_params(
    root: ET.Element, primitive: ET.Element, config: Config, vip: Vip, changes: List[str]
) -> None:
    current = cib.nvpairs(primitive, "instance_attributes")
    set_params, _, described = param_changes(current, desired_params(config, vip), MANAGED_PARAMS)
    changes += ["param " + d for d in described]
    for name, value in set_params.items():
        if value:
            cib.set_nvpair(root, primitive, "instance_attributes", name, value)
        else:
            found = cib.find_nvpair(primitive, "instance_attributes", name)
            if found is not None:
                cib.remove_element(root, found)


def _raise_timeouts(
    root: ET.Element, primitive: ET.Element, config: Config, vip: Vip, changes: List[str]
) -> None:
    for name, (interval, needed) in desired_ops(config, vip).items():
        found = cib.ops(primitive, name)
        if not found:
            cib.add_op(root, primitive, name, interval, needed)
            changes.append("op {}: (none) -> interval={} timeout={}".format(name, interval, needed))
            continue
        for op in found:
            current = op.get("timeout")
            if current is None or (interval_ms(current) or 0) < (interval_ms(needed) or 0):
                op.set("timeout", needed)
                changes.append(
                    "op {} timeout: {} -> {}".format(name, current or "(default)", needed)
                )


def _set_meta(root: ET.Element, primitive: ET.Element, config: Config, changes: List[str]) -> None:
    """Stickiness and failure-timeout as configure sets them; other meta attributes kept."""
    current = cib.nvpairs(primitive, "meta_attributes")
    for name, wanted in desired_meta(config).items():
        old = current.get(name)
        if meta_differs(name, old, wanted):
            cib.set_nvpair(root, primitive, "meta_attributes", name, wanted)
            changes.append("meta {}: {} -> {}".format(name, old or "(unset)", wanted))


def _from_ocivip(root: ET.Element, primitive: ET.Element, vip: Vip, changes: List[str]) -> None:
    """A lone ocivip's parameters as IPaddr2's: the address in `ip`, the rest dropped."""
    for name in OCIVIP_ONLY_PARAMS:
        nv = cib.find_nvpair(primitive, "instance_attributes", name)
        if nv is not None:
            cib.remove_element(root, nv)
            changes.append("param {}: {} -> (unset)".format(name, nv.get("value")))
    primitive.set("type", settings.AGENT_NAME)


def convert(root: ET.Element, config: Config, vip: Vip, primitive: ET.Element) -> List[str]:
    """Make `primitive` the VIP's ocf:oci:IPaddr2 in place; the changes, described."""
    changes = ["agent: {} -> {}".format(cib.agent(primitive), settings.AGENT_TYPE)]
    if cib.agent(primitive) == OCIVIP:
        _from_ocivip(root, primitive, vip, changes)
    primitive.set("class", "ocf")
    primitive.set("provider", settings.AGENT_PROVIDER)
    _set_params(root, primitive, config, vip, changes)
    _raise_timeouts(root, primitive, config, vip, changes)
    _set_meta(root, primitive, config, changes)
    return changes


def fold(root: ET.Element, ocivip: ET.Element, keep: ET.Element) -> List[str]:
    """Remove `ocivip`; constraints naming it name `keep` (those tying the two go)."""
    old, new = ocivip.get("id", ""), keep.get("id", "")
    changes = []
    for constraint in cib.constraints_naming(root, [old]):
        cib.rename_refs(constraint, old, new)
        cib.drop_duplicate_refs(root, constraint)
        refs = cib.constraint_refs(constraint)
        if constraint.tag in ("rsc_colocation", "rsc_order") and set(refs) == {new}:
            cib.remove_element(root, constraint)
            changes.append(
                "constraint {} removed (it tied {} to {})".format(constraint.get("id"), old, new)
            )
        else:
            changes.append("constraint {}: {} -> {}".format(constraint.get("id"), old, new))
    cib.remove_element(root, ocivip)
    changes.insert(0, "resource {} ({}) removed: {} does its work".format(old, OCIVIP, new))
    return changes


# ---------------------------------------------------------------- the plan


def _lone_in_group(root: ET.Element, element: ET.Element) -> Optional[str]:
    parent = cib.parents(root).get(element)
    if parent is not None and parent.tag == "group" and len(parent.findall("primitive")) == 1:
        return parent.get("id")
    return None


def _decide(
    config: Config, vip: Vip, root: ET.Element
) -> Tuple[str, Optional[ET.Element], Optional[ET.Element], List[ReportItem]]:
    """(action, the resource to keep, an ocivip to fold into it, problems)."""
    found = holders(root, vip.ip)
    order = {id(e): i for i, e in enumerate(root.iter())}
    addressed = sorted(
        found.get(settings.AGENT_TYPE, []) + found.get(HEARTBEAT_IPADDR2, []),
        key=lambda e: order[id(e)],
    )
    ocivips = found.get(OCIVIP, [])
    problems = []
    if len(addressed) > 1:
        problems.append(
            _problem(
                vip,
                "the address is in {} resources: {}".format(
                    len(addressed), ", ".join(p.get("id", "") for p in addressed)
                ),
                "delete all but one (pcs resource delete), then run migrate again",
            )
        )
    if len(ocivips) > 1:
        problems.append(
            _problem(
                vip,
                "{} ocivip resources hold it: {}".format(
                    len(ocivips), ", ".join(p.get("id", "") for p in ocivips)
                ),
                "delete all but one, then run migrate again",
            )
        )
    if problems:
        return REFUSED, None, None, problems
    keep = addressed[0] if addressed else (ocivips[0] if ocivips else None)
    drop = ocivips[0] if addressed and ocivips else None
    if keep is None:
        return ABSENT, None, None, []
    problems = _check_holder(config, vip, root, keep)
    if drop is not None:
        if not _tied(root, drop, keep):
            problems.append(
                _problem(
                    vip,
                    "ocivip {} and {} both hold it but are neither in one group nor "
                    "colocated".format(drop.get("id"), keep.get("id")),
                    "put them in one group or colocate them, or delete the one that is not in use",
                )
            )
        lone = _lone_in_group(root, drop)
        if lone and cib.parents(root).get(keep) is not cib.parents(root).get(drop):
            problems.append(
                _problem(
                    vip,
                    "ocivip {} is alone in group {}, which would be left empty".format(
                        drop.get("id"), lone
                    ),
                    "move {} into group {} (pcs resource group add), then run migrate again".format(
                        keep.get("id"), lone
                    ),
                )
            )
        problems += _check_holder(config, vip, root, drop, keeps_id=False)
    if problems:
        return REFUSED, keep, drop, problems
    if drop is not None:
        return MERGE, keep, drop, []
    if cib.agent(keep) == settings.AGENT_TYPE:
        return UNCHANGED, keep, None, []
    return CONVERT, keep, None, []


def _group_note(root: ET.Element, vip: Vip, primitive: ET.Element) -> List[str]:
    if not vip.group:
        return []
    parent = cib.parents(root).get(primitive)
    current = parent.get("id") if parent is not None and parent.tag == "group" else None
    if current == vip.group:
        if parent is not None and parent.find("primitive") is not primitive:
            return [
                "{} is not first in group {}: `pcs-oci configure` moves it to the front".format(
                    primitive.get("id"), vip.group
                )
            ]
        return []
    return [
        "the config puts {} first in group {}, it is {}: migrate keeps it where it is, "
        "`pcs-oci configure` moves it".format(
            primitive.get("id"), vip.group, "in group " + current if current else "in no group"
        )
    ]


def plan(config: Config, root: ET.Element) -> Tuple[ET.Element, List[Conversion]]:
    """The converted copy of the CIB `root` (not bumped) and what was done to each VIP.

    When any VIP is refused, the copy is returned unchanged: migrate is all
    or nothing.
    """
    new = cib.clone(root)
    conversions = []
    for vip in config.vips:
        action, keep, drop, problems = _decide(config, vip, root)
        if keep is None or action in (REFUSED, UNCHANGED):
            conversions.append(
                Conversion(
                    vip.name,
                    vip.ip,
                    action,
                    keep.get("id", "") if keep is not None else "",
                    cib.agent(keep) if keep is not None else "",
                    problems=problems,
                    notes=_group_note(root, vip, keep) if keep is not None else [],
                )
            )
            continue
        new_keep = cib.twin(new, keep)
        changes = convert(new, config, vip, new_keep)
        removed = []
        if drop is not None:
            changes = fold(new, cib.twin(new, drop), new_keep) + changes
            removed.append(drop.get("id", ""))
        conversions.append(
            Conversion(
                vip.name,
                vip.ip,
                action,
                keep.get("id", ""),
                cib.agent(keep),
                removed,
                changes,
                notes=_group_note(root, vip, keep),
            )
        )
    if any(c.action == REFUSED for c in conversions):
        return cib.clone(root), conversions
    return new, conversions


def refusals(conversions: List[Conversion]) -> List[ReportItem]:
    return [p for c in conversions for p in c.problems]
