"""`-f CIB_FILE`: configure and unconfigure on a CIB file, offline, as `pcs -f` does.

pcs gets `-f FILE` on its command line; Pacemaker's tools that pcs-oci runs
itself get CIB_file in their environment (Env.runner). What needs the live
cluster is skipped, and the output says which checks were.
"""

import xml.etree.ElementTree as ET  # noqa: S405 - the CIB comes from our own cluster tools
from typing import List, Sequence

from pcs_oci import settings
from pcs_oci.common import reports
from pcs_oci.lib import cib, pacemaker
from pcs_oci.lib.errors import ConfigError
from pcs_oci.lib.plan import ObjectPlan, Step

CONFIGURE_SKIPS = [
    "the cluster is running on this node (crm_mon)",
    "the config's nodes are the cluster's online nodes (checked against the file's "
    "nodes section instead)",
]
UNCONFIGURE_SKIPS = ["the cluster is running on this node (crm_mon)"]


def pcs_argv(argv: Sequence[str], cib_file: str) -> List[str]:
    """`pcs ARGS` -> `pcs -f FILE ARGS`; other commands unchanged."""
    args = list(argv)
    if args and args[0] == settings.PCS:
        return [args[0], "-f", cib_file] + args[1:]
    return args


def step(step: Step, cib_file: str) -> Step:
    """A plan's Step with `-f FILE` in its pcs commands."""
    return step._replace(
        argv=pcs_argv(step.argv, cib_file), undo=[pcs_argv(u, cib_file) for u in step.undo]
    )


def plans(plans: List[ObjectPlan], cib_file: str) -> List[ObjectPlan]:
    """Object plans with `-f FILE` in their pcs commands."""
    return [p._replace(steps=[step(s, cib_file) for s in p.steps]) for p in plans]


def stonith_enabled(configuration: ET.Element) -> bool:
    """The stonith-enabled cluster property of a CIB file (Pacemaker's default: true)."""
    value = cib.cluster_option(configuration, "stonith-enabled")
    return (value or "true").lower() in ("true", "yes", "y", "on", "1")


def status(configuration: ET.Element) -> pacemaker.ClusterStatus:
    """Offline, the file's nodes stand in for the running cluster's."""
    return pacemaker.ClusterStatus(
        [pacemaker.NodeState(n, True, False) for n in cib.node_names(configuration)],
        {},
        stonith_enabled(configuration),
        have_quorum=True,
        failures=[],
    )


def check(path: str) -> None:
    """A readable CIB (<cib> with a <configuration>), or a ConfigError saying how to get one.

    Pacemaker's tools read a missing or broken file as an empty CIB, so this
    is checked first.
    """
    hint = "save the cluster's CIB with `pcs cluster cib {}`".format(path)
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise ConfigError(
            reports.item(
                reports.CIB_FILE_UNSUPPORTED,
                "cannot read the CIB file: {}".format(e.strerror or e),
                hint,
                path,
            )
        ) from None
    try:
        root = ET.fromstring(text)  # noqa: S314 - a file the admin names, parsed for its shape
    except ET.ParseError as e:
        root = ET.Element("invalid", {"why": str(e)})
    if root.tag != "cib" or root.find("configuration") is None:
        raise ConfigError(
            reports.item(
                reports.CIB_FILE_UNSUPPORTED,
                "not a CIB ({})".format(root.get("why") or "no <cib> with a <configuration>"),
                hint,
                path,
            )
        )
