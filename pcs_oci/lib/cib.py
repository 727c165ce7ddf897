"""Reading and editing CIB XML in memory: no tool calls, no pcs-oci policy.

Edits are made on an ElementTree copy of the whole CIB; Pacemaker's own
crm_diff turns old and new into the patch that is applied (cib_push.py).
Comments are kept (the parser inserts them), so a patch never drops one.
Ids follow pcs's naming (`<rsc>-instance_attributes-<name>`), made unique
CIB-wide.
"""

import copy
import xml.etree.ElementTree as ET  # noqa: S405 - the CIB comes from our own cluster tools
from typing import Dict, Iterable, Iterator, List, Optional, Set

from pcs_oci.common import reports
from pcs_oci.lib.errors import ClusterError

# Elements that hold resources, and the attributes of constraints that name one.
CONTAINERS = ("group", "clone", "master", "bundle")
RESOURCE_TAGS = ("primitive",) + CONTAINERS
CONSTRAINT_REFS = ("rsc", "with-rsc", "first", "then")


def parse(text: str, what: str = "the CIB") -> ET.Element:
    builder = ET.TreeBuilder(insert_comments=True)
    parser = ET.XMLParser(target=builder)  # noqa: S314 - local, trusted tool output
    try:
        return ET.fromstring(text, parser=parser)  # noqa: S314 - local, trusted tool output
    except ET.ParseError as e:
        raise ClusterError(
            reports.item(reports.COMMAND_FAILED, "cannot parse {}: {}".format(what, e))
        ) from None


def to_text(root: ET.Element) -> str:
    return ET.tostring(root, encoding="unicode")


def clone(root: ET.Element) -> ET.Element:
    return copy.deepcopy(root)


def section(root: ET.Element, name: str, create: bool = False) -> ET.Element:
    """configuration/<name> (resources, constraints, crm_config, nodes ...).

    Absent, it is created with `create`, else an empty element outside the
    tree stands in (reading never changes the CIB).
    """
    configuration = root if root.tag == "configuration" else root.find("configuration")
    if configuration is None:
        if not create:
            return ET.Element(name)
        configuration = ET.SubElement(root, "configuration")
    found = configuration.find(name)
    if found is None:
        if not create:
            return ET.Element(name)
        found = ET.SubElement(configuration, name)
    return found


def parents(root: ET.Element) -> Dict[ET.Element, ET.Element]:
    return {child: parent for parent in root.iter() for child in parent}


def agent(primitive: ET.Element) -> str:
    """ "ocf:heartbeat:IPaddr2", as pcs and crm_mon write it."""
    return ":".join(
        x for x in (primitive.get("class"), primitive.get("provider"), primitive.get("type")) if x
    )


def resources(root: ET.Element) -> Iterator[ET.Element]:
    """Every resource element (primitive, group, clone, master, bundle) under resources."""
    for element in section(root, "resources").iter():
        if element.tag in RESOURCE_TAGS:
            yield element


def by_id(root: ET.Element, element_id: str) -> Optional[ET.Element]:
    for element in root.iter():
        if element.get("id") == element_id:
            return element
    return None


def twin(root: ET.Element, element: ET.Element) -> ET.Element:
    """The element with `element`'s id in `root` (a copy of the tree it came from)."""
    found = by_id(root, element.get("id", ""))
    if found is None:
        raise LookupError("no element with id {!r} in the copy".format(element.get("id")))
    return found


def ids(root: ET.Element) -> Set[str]:
    return {e.get("id", "") for e in root.iter() if e.get("id")}


def unique_id(root: ET.Element, wanted: str, taken: Optional[Set[str]] = None) -> str:
    """`wanted`, or wanted-1, wanted-2 ... if the id is used (ids are unique CIB-wide)."""
    used = taken if taken is not None else ids(root)
    candidate = wanted
    index = 0
    while candidate in used:
        index += 1
        candidate = "{}-{}".format(wanted, index)
    used.add(candidate)
    return candidate


def enclosing(root: ET.Element, element: ET.Element) -> List[ET.Element]:
    """The resource containers around `element`, innermost first."""
    up = parents(root)
    found = []
    node = up.get(element)
    while node is not None and node.tag != "resources":
        if node.tag in CONTAINERS:
            found.append(node)
        node = up.get(node)
    return found


# ---------------------------------------------------------------- attribute sets


def nvpairs(element: ET.Element, tag: str) -> Dict[str, str]:
    """Name -> value of the nvpairs in `element`'s <tag> sets (first set wins)."""
    values: Dict[str, str] = {}
    for attrs in element.findall(tag):
        for nv in attrs.findall("nvpair"):
            values.setdefault(nv.get("name", ""), nv.get("value", ""))
    return values


def has_rules(element: ET.Element, tag: str) -> bool:
    """True when `element` has more than one <tag> set or one with a rule or score."""
    sets = element.findall(tag)
    return len(sets) > 1 or any(s.find("rule") is not None or s.get("score") for s in sets)


def find_nvpair(element: ET.Element, tag: str, name: str) -> Optional[ET.Element]:
    for attrs in element.findall(tag):
        for nv in attrs.findall("nvpair"):
            if nv.get("name") == name:
                return nv
    return None


def _attribute_set(root: ET.Element, element: ET.Element, tag: str) -> ET.Element:
    found = element.find(tag)
    if found is not None:
        return found
    new = ET.Element(tag, {"id": unique_id(root, "{}-{}".format(element.get("id"), tag))})
    # Pacemaker's (and pcs's) order: instance, then meta attributes, then operations.
    children = list(element)
    position = len(children)
    later = {
        "instance_attributes": ("meta_attributes", "operations", "utilization"),
        "meta_attributes": ("operations", "utilization"),
    }.get(tag, ())
    for index, child in enumerate(children):
        if child.tag in later:
            position = index
            break
    element.insert(position, new)
    return new


def set_nvpair(
    root: ET.Element, element: ET.Element, tag: str, name: str, value: str, nv_id: str = ""
) -> bool:
    """Set `name` in `element`'s first <tag> set; False when it had that value already."""
    existing = find_nvpair(element, tag, name)
    if existing is not None:
        if existing.get("value") == value:
            return False
        existing.set("value", value)
        return True
    attrs = _attribute_set(root, element, tag)
    ET.SubElement(
        attrs,
        "nvpair",
        {
            "id": nv_id or unique_id(root, "{}-{}".format(attrs.get("id"), name)),
            "name": name,
            "value": value,
        },
    )
    return True


def remove_element(root: ET.Element, element: ET.Element) -> None:
    parent = parents(root).get(element)
    if parent is not None:
        parent.remove(element)


# ---------------------------------------------------------------- operations


def ops(primitive: ET.Element, name: str) -> List[ET.Element]:
    operations = primitive.find("operations")
    if operations is None:
        return []
    return [op for op in operations.findall("op") if op.get("name") == name]


def add_op(
    root: ET.Element, primitive: ET.Element, name: str, interval: str, timeout: str
) -> ET.Element:
    operations = primitive.find("operations")
    if operations is None:
        operations = ET.SubElement(primitive, "operations")
    return ET.SubElement(
        operations,
        "op",
        {
            "name": name,
            "interval": interval,
            "timeout": timeout,
            "id": unique_id(root, "{}-{}-interval-{}".format(primitive.get("id"), name, interval)),
        },
    )


# ---------------------------------------------------------------- constraints


def constraint_refs(constraint: ET.Element) -> List[str]:
    """Every resource (or tag) id a constraint names, sets included."""
    named = [constraint.get(a, "") for a in CONSTRAINT_REFS if constraint.get(a)]
    named += [ref.get("id", "") for ref in constraint.iter("resource_ref")]
    return named


def constraints_naming(root: ET.Element, names: Iterable[str]) -> List[ET.Element]:
    wanted = set(names)
    return [c for c in section(root, "constraints") if wanted.intersection(constraint_refs(c))]


def rename_refs(constraint: ET.Element, old: str, new: str) -> None:
    for attr in CONSTRAINT_REFS:
        if constraint.get(attr) == old:
            constraint.set(attr, new)
    for ref in constraint.iter("resource_ref"):
        if ref.get("id") == old:
            ref.set("id", new)


def drop_duplicate_refs(root: ET.Element, constraint: ET.Element) -> None:
    """A resource set naming one resource twice (after a rename) keeps the first."""
    for resource_set in constraint.iter("resource_set"):
        seen: Set[str] = set()
        for ref in list(resource_set.findall("resource_ref")):
            if ref.get("id") in seen:
                resource_set.remove(ref)
            seen.add(ref.get("id", ""))


def related(root: ET.Element, start: Iterable[str]) -> List[str]:
    """Every resource tied to `start` by a group, a clone or a constraint, transitively.

    The ids of top-level and member resources alike; used to find what must
    not be started or stopped while a resource is re-probed.
    """
    up = parents(root)
    by_ident = {r.get("id", ""): r for r in resources(root)}
    pending = [i for i in start if i in by_ident]
    seen: Set[str] = set()
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        element = by_ident[current]
        # Its containers and everything in them.
        top = element
        while up.get(top) is not None and up[top].tag in CONTAINERS:
            top = up[top]
        for inner in top.iter():
            if inner.tag in RESOURCE_TAGS and inner.get("id") not in seen:
                pending.append(inner.get("id", ""))
        names = [current] + [c.get("id", "") for c in enclosing(root, element)]
        for constraint in constraints_naming(root, names):
            if constraint.tag in ("rsc_location", "rsc_ticket"):
                continue
            pending += [r for r in constraint_refs(constraint) if r in by_ident]
    return sorted(seen)


def primitives_under(root: ET.Element, resource_ids: Iterable[str]) -> List[ET.Element]:
    found: List[ET.Element] = []
    for rid in resource_ids:
        element = by_id(root, rid)
        if element is None:
            continue
        for primitive in element.iter("primitive"):
            if primitive not in found:
                found.append(primitive)
    return found


# ---------------------------------------------------------------- the rest of the CIB


def version(root: ET.Element) -> str:
    return "{}.{}.{}".format(
        root.get("admin_epoch", "0"), root.get("epoch", "0"), root.get("num_updates", "0")
    )


def bump_epoch(root: ET.Element) -> None:
    """A configuration change: epoch + 1, num_updates 0 (what the CIB manager expects)."""
    root.set("epoch", str(int(root.get("epoch", "0") or 0) + 1))
    root.set("num_updates", "0")


def node_names(root: ET.Element) -> List[str]:
    return [n.get("uname", "") for n in section(root, "nodes").findall("node") if n.get("uname")]


def cluster_option(root: ET.Element, name: str) -> Optional[str]:
    for prop_set in section(root, "crm_config").findall("cluster_property_set"):
        for nv in prop_set.findall("nvpair"):
            if nv.get("name") == name:
                return nv.get("value")
    return None


def set_cluster_option(root: ET.Element, name: str, value: str, nv_id: str) -> None:
    crm_config = section(root, "crm_config", create=True)
    prop_set = crm_config.find("cluster_property_set")
    if prop_set is None:
        prop_set = ET.SubElement(
            crm_config, "cluster_property_set", {"id": "cib-bootstrap-options"}
        )
    for nv in prop_set.findall("nvpair"):
        if nv.get("name") == name:
            nv.set("value", value)
            return
    ET.SubElement(prop_set, "nvpair", {"id": nv_id, "name": name, "value": value})


def configuration_text(root: ET.Element) -> str:
    configuration = root.find("configuration")
    return to_text(configuration) if configuration is not None else ""
