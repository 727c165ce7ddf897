"""What pcs-oci reads from and runs on the cluster: one small function per tool call.

Each takes the CommandRunner, uses absolute paths from settings, and raises a
ClusterError carrying the tool's stderr on failure.
"""

import os
import re
import xml.etree.ElementTree as ET  # noqa: S405 - parses our own cluster tools' output
from typing import Dict, List, NamedTuple, Optional, Tuple

from pcs_oci import settings
from pcs_oci.common import exit_codes, reports
from pcs_oci.lib import stack
from pcs_oci.lib.errors import ClusterError
from pcs_oci.lib.runner import CommandRunner


class Op(NamedTuple):
    name: str
    interval: str
    timeout: Optional[str]


class Primitive(NamedTuple):
    id: str
    agent: str  # "ocf:oci:IPaddr2"
    params: Dict[str, str]
    meta: Dict[str, str]
    ops: List[Op]

    def op(self, name: str) -> Optional[Op]:
        for op in self.ops:
            if op.name == name:
                return op
        return None


class ResourceState(NamedTuple):
    id: str
    agent: str
    active_on: List[str]
    failed: bool
    role: str


class NodeState(NamedTuple):
    name: str
    online: bool
    standby: bool


class ClusterStatus(NamedTuple):
    nodes: List[NodeState]
    resources: Dict[str, ResourceState]
    stonith_enabled: bool
    have_quorum: bool
    # crm_mon's failed actions (each <failure>'s attributes).
    failures: List[Dict[str, str]]
    # the cluster option that enables fencing on this Pacemaker (stack.py)
    fencing_option: str = stack.STONITH_ENABLED


def parse_xml(text: str, what: str) -> ET.Element:
    try:
        return ET.fromstring(text)  # noqa: S314 - local, trusted tool output
    except ET.ParseError as e:
        raise ClusterError(
            reports.item(reports.COMMAND_FAILED, "cannot parse {} output: {}".format(what, e))
        ) from None


def pcs_version(runner: CommandRunner) -> Tuple[int, ...]:
    result = runner.check([settings.PCS, "--version"], timeout=30)
    match = re.match(r"(\d+)\.(\d+)(?:\.(\d+))?", result.stdout.strip())
    if not match:
        raise ClusterError(
            reports.item(
                reports.COMMAND_FAILED,
                "cannot read the pcs version from {!r}".format(result.stdout.strip()[:40]),
            )
        )
    return tuple(int(g or 0) for g in match.groups())


def cluster_status(runner: CommandRunner) -> ClusterStatus:
    """crm_mon's view; CLUSTER_NOT_RUNNING when this node's cluster is down."""
    result = runner.run(
        [settings.CRM_MON, "--one-shot", "--inactive", "--output-as=xml"], timeout=30
    )
    if not result.ok:
        raise ClusterError(
            reports.item(
                reports.CLUSTER_NOT_RUNNING,
                "the cluster is not running on this node: {}".format(
                    reports.first_line(result.stderr) or "crm_mon exit {}".format(result.returncode)
                ),
                "start it with `pcs cluster start`",
            ),
            exit_code=exit_codes.PRECONDITION,
        )
    root = parse_xml(result.stdout, "crm_mon")
    nodes_element = root.find("nodes")
    nodes = [
        NodeState(n.get("name", ""), n.get("online") == "true", n.get("standby") == "true")
        for n in (list(nodes_element) if nodes_element is not None else [])
    ]
    resources: Dict[str, ResourceState] = {}
    for rsc in root.iter("resource"):
        rid = rsc.get("id", "")
        active_on = [n.get("name", "") for n in rsc.findall("node")]
        resources[rid] = ResourceState(
            rid,
            rsc.get("resource_agent", ""),
            active_on if rsc.get("active") == "true" else [],
            rsc.get("failed") == "true",
            rsc.get("role", ""),
        )
    summary = root.find("summary")
    quorum = summary.find("current_dc") if summary is not None else None
    found = summary.find("cluster_options") if summary is not None else None
    options = dict(found.attrib) if found is not None else {}
    failures = [dict(f.attrib) for f in root.iter("failure")]
    return ClusterStatus(
        nodes=nodes,
        resources=resources,
        stonith_enabled=stack.fencing_enabled(options),
        have_quorum=quorum is not None and quorum.get("with_quorum") == "true",
        failures=failures,
        fencing_option=stack.fencing_option(options),
    )


def primitives(runner: CommandRunner) -> Dict[str, Primitive]:
    """Every primitive in the CIB, by id."""
    result = runner.check([settings.CIBADMIN, "--query", "--scope", "resources"], timeout=30)
    return primitives_in(parse_xml(result.stdout, "cibadmin"))


def configuration(runner: CommandRunner) -> ET.Element:
    """The CIB's configuration section: resources, constraints, defaults, in one read."""
    result = runner.check([settings.CIBADMIN, "--query", "--scope", "configuration"], timeout=30)
    return parse_xml(result.stdout, "cibadmin")


def element_ids(root: ET.Element) -> Dict[str, str]:
    """Every XML id in `root` -> its element's tag (ids are unique CIB-wide)."""
    return {e.get("id", ""): e.tag for e in root.iter() if e.get("id")}


def resource_defaults(root: ET.Element) -> Dict[str, str]:
    """The rsc_defaults meta attributes of a configuration section (rules ignored)."""
    values: Dict[str, str] = {}
    for defaults in root.iter("rsc_defaults"):
        values.update(_nvpairs(defaults, "meta_attributes"))
    return values


# OCF_ERR_INSTALLED: the agent (or something it needs) is missing on that node.
OCF_ERR_INSTALLED = "5"


def agent_missing_on(runner: CommandRunner, resource_ids: List[str]) -> Dict[str, Dict[str, str]]:
    """node -> {resource: exit reason} whose last operation there said "not installed".

    Pacemaker probes every resource on every node; a node without the agent
    answers OCF_ERR_INSTALLED and is then never chosen to run it. crm_mon
    does not show a failed probe, the CIB's status section keeps it.
    """
    result = runner.check([settings.CIBADMIN, "--query", "--scope", "status"], timeout=30)
    root = parse_xml(result.stdout, "cibadmin")
    wanted = set(resource_ids)
    found: Dict[str, Dict[str, str]] = {}
    for node in root.iter("node_state"):
        for rsc in node.iter("lrm_resource"):
            rid = rsc.get("id", "")
            if rid not in wanted:
                continue
            last = [op for op in rsc.findall("lrm_rsc_op") if op.get("id") == rid + "_last_0"]
            if last and last[0].get("rc-code") == OCF_ERR_INSTALLED:
                reason = last[0].get("exit-reason") or "not installed"
                found.setdefault(node.get("uname", ""), {})[rid] = reason
    return found


def primitives_in(root: ET.Element) -> Dict[str, Primitive]:
    """Every primitive under `root` (a resources or configuration section), by id."""
    found: Dict[str, Primitive] = {}
    for prim in root.iter("primitive"):
        agent = ":".join(
            x for x in (prim.get("class"), prim.get("provider"), prim.get("type")) if x
        )
        found[prim.get("id", "")] = Primitive(
            id=prim.get("id", ""),
            agent=agent,
            params=_nvpairs(prim, "instance_attributes"),
            meta=_nvpairs(prim, "meta_attributes"),
            ops=[
                Op(op.get("name", ""), op.get("interval", "0"), op.get("timeout"))
                for op in prim.iter("op")
            ],
        )
    return found


def _nvpairs(element: ET.Element, tag: str) -> Dict[str, str]:
    values: Dict[str, str] = {}
    for attrs in element.findall(tag):
        for nv in attrs.findall("nvpair"):
            values[nv.get("name", "")] = nv.get("value", "")
    return values


# crm_node -n answers at once from the local cluster stack; the agent calls it
# inside an operation's timeout, so it must not wait long.
NODE_NAME_TIMEOUT = 10.0


def node_name(runner: CommandRunner) -> str:
    """This node's name as Pacemaker knows it (`crm_node -n`); a ClusterError
    saying why when the tool is missing, fails or hangs."""
    result = runner.run([settings.CRM_NODE, "-n"], timeout=NODE_NAME_TIMEOUT)
    name = result.stdout.strip()
    if not (result.ok and name):
        raise ClusterError(
            reports.item(
                reports.COMMAND_FAILED,
                "crm_node -n failed: {}".format(
                    reports.first_line(result.stderr) or "exit {}".format(result.returncode)
                ),
            )
        )
    return name


def pacemaker_node_name(runner: CommandRunner) -> Optional[str]:
    """node_name(), or None where it cannot be told (discover runs before the
    cluster exists)."""
    try:
        return node_name(runner)
    except ClusterError:
        return None


def local_node_name(runner: CommandRunner) -> str:
    """This node's Pacemaker name, else its host name."""
    return pacemaker_node_name(runner) or os.uname().nodename


def agent_path() -> str:
    return os.path.join(
        settings.OCF_ROOT, "resource.d", settings.AGENT_PROVIDER, settings.AGENT_NAME
    )


def agent_installed() -> bool:
    path = agent_path()
    return os.path.isfile(path) and os.access(path, os.X_OK)


def fence_agent_installed() -> bool:
    path = settings.FENCE_AGENT
    return os.path.isfile(path) and os.access(path, os.X_OK)


def cluster_property(runner: CommandRunner, name: str) -> Optional[str]:
    result = runner.run(
        [settings.CRM_ATTRIBUTE, "--type", "crm_config", "--name", name, "--query", "--quiet"],
        timeout=30,
    )
    if not result.ok:
        return None
    return result.stdout.strip() or None


# Pacemaker's time units (crm_get_msec): a bare number is seconds.
_UNITS = {
    "": 1000,
    "s": 1000,
    "sec": 1000,
    "ms": 1,
    "msec": 1,
    "us": 0.001,
    "usec": 0.001,
    "m": 60000,
    "min": 60000,
    "h": 3600000,
    "hr": 3600000,
}


def interval_ms(text: Optional[str]) -> Optional[float]:
    """A Pacemaker interval or timeout ("10s", "2min", "500ms", "30") in ms; None if invalid."""
    match = re.fullmatch(r"\s*(\d+)\s*([a-z]*)\s*", text or "")
    if not match or match.group(2) not in _UNITS:
        return None
    return int(match.group(1)) * _UNITS[match.group(2)]
