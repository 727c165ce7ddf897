"""Where the cluster stack generations pcs-oci drives differ, decided by the tools.

pcs-oci runs on EL9's stack (pcs 0.11, Pacemaker 2.1; Debian 12 has the
same) and EL10's (pcs 0.12, Pacemaker 3.0; Debian 13's). Most of what it
uses is the same in both: `make check-el10` runs the real-cluster tests on
EL10's generation, and tests/data/stack/ keeps what the tools printed on each.
The differences are here, each decided once from what the installed tools
report (pcs's version, the attributes crm_mon prints), never from the OS.

Found the same on both (so nothing here handles them): the pcs commands
configure runs (resource create/update/meta/delete, stonith create/update/
delete, property set) and the CIB they write, the crm_mon attributes status
and verify read, crm_node, crm_attribute, corosync-cmapctl, and fence_oci's
meta-data from fence-agents' fencing.py. Different, but read by nothing in
pcs-oci: Pacemaker 3's crm_mon has no <pacemakerd> element (its state is an
attribute of <stack>), capitalises rc_text and exitstatus and says "Done"
for a failure's status; its node_state in_ccm/crmd are timestamps; pcs
0.12's progress messages. resource-agents 4.16's IPaddr2 has parameters
4.12's lacks: the agent's meta-data passes the installed one's through.
"""

from typing import List, Mapping, Tuple

from pcs_oci import settings

# `pcs resource defaults update NAME=VALUE` since pcs 0.11; before (EL8's
# 0.10) `pcs resource defaults NAME=VALUE`, which pcs 0.12 refuses.
DEFAULTS_UPDATE_SINCE = (0, 11)


def resource_defaults_argv(pcs_version: Tuple[int, ...], assignment: str) -> List[str]:
    """The pcs command setting one resource default ("NAME=VALUE"; "NAME=" unsets)."""
    argv = [settings.PCS, "resource", "defaults"]
    if pcs_version >= DEFAULTS_UPDATE_SINCE:
        return argv + ["update", assignment]
    return argv + [assignment]


# Pacemaker 3.0.2 renamed the cluster option stonith-enabled to
# fencing-enabled. It still reads the old name, warns that it is deprecated,
# and lets the new one win when both are set: setting stonith-enabled there
# may change nothing. Its crm_mon shows both attributes, the old one marked
# deprecated; Pacemaker before 3.0.2 knows and shows only stonith-enabled.
FENCING_ENABLED = "fencing-enabled"
STONITH_ENABLED = "stonith-enabled"


def fencing_option(cluster_options: Mapping[str, str]) -> str:
    """The name of the option that enables fencing, from crm_mon's cluster_options."""
    return FENCING_ENABLED if FENCING_ENABLED in cluster_options else STONITH_ENABLED


def fencing_enabled(cluster_options: Mapping[str, str]) -> bool:
    return cluster_options.get(fencing_option(cluster_options)) == "true"
