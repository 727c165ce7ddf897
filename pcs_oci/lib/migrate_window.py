"""The few seconds during which migrate keeps Pacemaker's hands off the converted resources.

Changing a running primitive's agent (provider heartbeat -> oci) makes the
scheduler restart it, and with it every resource that depends on it
(pcmk__rsc_agent_changed; crm_simulate shows "Restart"). No restart happens
when the resource is unmanaged at the moment its agent changes, and then
re-probed with the new agent: the probe finds the address up and Pacemaker
records the resource as running under ocf:oci:IPaddr2.

So the conversion patch also sets is-managed=false on the converted resource
and on everything tied to it (group, constraints: a dependent of a resource
whose state is being re-learnt must not be stopped meanwhile), and, when an
ocivip is removed, stop-orphan-resources=false (a removed resource that still
has history is an orphan, which Pacemaker stops: ocivip's stop would release
the address). The nvpairs it adds have ids starting with MARKER, so a later
run finds and removes them even after an interruption.
"""

import xml.etree.ElementTree as ET  # noqa: S405 - CIB elements built by pcs_oci.lib.cib
from typing import List

from pcs_oci.lib import cib

MARKER = "pcs-oci-migrate-"
ORPHANS_OPTION = "stop-orphan-resources"


def _marker(primitive_id: str) -> str:
    return "{}unmanaged-{}".format(MARKER, primitive_id)


def open_window(root: ET.Element, resource_ids: List[str], orphans: bool) -> List[str]:
    """Unmanage the primitives of `resource_ids` (and keep orphans); the ids unmanaged."""
    unmanaged = []
    for primitive in cib.primitives_under(root, resource_ids):
        current = cib.find_nvpair(primitive, "meta_attributes", "is-managed")
        if current is not None and current.get("value", "").lower() in ("false", "no", "0", "off"):
            continue  # the admin's own: left as it is, before and after
        if current is not None:
            cib.remove_element(root, current)
        cib.set_nvpair(
            root,
            primitive,
            "meta_attributes",
            "is-managed",
            "false",
            nv_id=_marker(primitive.get("id", "")),
        )
        unmanaged.append(primitive.get("id", ""))
    if orphans and (cib.cluster_option(root, ORPHANS_OPTION) or "true").lower() in (
        "true",
        "yes",
        "1",
        "on",
    ):
        for prop_set in cib.section(root, "crm_config").findall("cluster_property_set"):
            for nv in prop_set.findall("nvpair"):
                if nv.get("name") == ORPHANS_OPTION:
                    prop_set.remove(nv)
        cib.set_cluster_option(root, ORPHANS_OPTION, "false", MARKER + ORPHANS_OPTION)
    return unmanaged


def markers(root: ET.Element) -> List[ET.Element]:
    return [e for e in root.iter("nvpair") if e.get("id", "").startswith(MARKER)]


def close_window(root: ET.Element) -> List[str]:
    """Remove every marker nvpair; what is managed again (and the cluster option restored)."""
    restored = []
    defaults_unmanaged = _defaults_unmanaged(root)
    up = cib.parents(root)
    for nv in markers(root):
        attrs = up.get(nv)
        if attrs is None:
            continue
        attrs.remove(nv)
        owner = up.get(attrs)
        if owner is not None and owner.tag == "primitive" and len(attrs) == 0:
            owner.remove(attrs)  # the set open_window had to create
        if nv.get("name") == "is-managed" and owner is not None:
            restored.append(owner.get("id", ""))
            if defaults_unmanaged:
                # It was managed against the default; say so explicitly again.
                cib.set_nvpair(root, owner, "meta_attributes", "is-managed", "true")
        else:
            restored.append(nv.get("name", ""))
    return restored


def _defaults_unmanaged(root: ET.Element) -> bool:
    for defaults in cib.section(root, "rsc_defaults").iter("nvpair"):
        if defaults.get("name") == "is-managed":
            return defaults.get("value", "").lower() in ("false", "no", "0", "off")
    return False
