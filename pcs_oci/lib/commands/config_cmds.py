"""Library commands behind `pcs-oci config ...`."""

import re
from typing import Any, Dict, List, Sequence

from pcs_oci import settings
from pcs_oci.common import reports
from pcs_oci.lib import config as config_lib
from pcs_oci.lib import config_validation
from pcs_oci.lib.env import Env
from pcs_oci.lib.errors import ConfigError, PcsOciError


def validate(env: Env, path: str = "") -> config_lib.Config:
    return config_lib.load(path or env.config_path)


def show(env: Env) -> Dict[str, Any]:
    return env.load_config().to_dict()


def _parse_node(spec: str) -> Dict[str, Any]:
    hostname, sep, vnic = spec.partition("=")
    node: Dict[str, Any] = {"hostname": hostname.strip()}
    if sep:
        node["vnic_id"] = vnic.strip()
    return node


def _parse_vip(spec: str, index: int) -> Dict[str, Any]:
    """[NAME=]IP[/PREFIX] -> a vips[] entry."""
    name, sep, rest = spec.partition("=")
    if not sep:
        name, rest = "", spec
    ip, slash, prefix = rest.partition("/")
    vip: Dict[str, Any] = {
        "name": name.strip()
        or ("Cluster_VIP" if index == 0 else "Cluster_VIP_{}".format(index + 1)),
        "ip": ip.strip(),
    }
    if slash:
        if not re.fullmatch(r"[0-9]{1,3}", prefix):
            raise ConfigError(
                reports.item(
                    reports.USAGE_INVALID_ARGUMENT,
                    "--vip {}: {!r} is not a prefix length".format(spec, prefix),
                    "write --vip [NAME=]IP[/PREFIX], e.g. --vip 10.0.0.200/24",
                )
            )
        vip["cidr_netmask"] = int(prefix)
    vip["monitor_interval"] = settings.DEFAULT_MONITOR_INTERVAL
    return vip


def build_initial(
    nodes: Sequence[str], vips: Sequence[str], cluster_name: str = ""
) -> Dict[str, Any]:
    problems = []
    if len(nodes) < 2:
        problems.append(
            reports.item(
                reports.USAGE_INVALID_ARGUMENT,
                "a cluster needs at least 2 nodes, {} given".format(len(nodes)),
                "give each node with --node HOST[=VNIC_OCID], as `crm_node -l` names it",
            )
        )
    if not vips:
        problems.append(
            reports.item(
                reports.USAGE_INVALID_ARGUMENT,
                "no VIP given",
                "give the virtual IP with --vip [NAME=]IP[/PREFIX], e.g. --vip 10.0.0.200/24",
            )
        )
    if problems:
        raise ConfigError(*problems)
    doc: Dict[str, Any] = {}
    if cluster_name:
        doc["cluster_name"] = cluster_name
    doc["nodes"] = [_parse_node(n) for n in nodes]
    doc["vips"] = [_parse_vip(v, i) for i, v in enumerate(vips)]
    doc["resource_stickiness"] = settings.DEFAULT_STICKINESS
    doc["oci"] = {"auth": "instance_principal"}
    return doc


def init(
    env: Env,
    nodes: Sequence[str],
    vips: Sequence[str],
    cluster_name: str = "",
    force: bool = False,
) -> Dict[str, Any]:
    """Write a starting config; it is validated before anything is written."""
    doc = build_initial(nodes, vips, cluster_name)
    found = config_validation.validate(doc)
    if found:
        raise ConfigError(*found)
    overwrite = force or describes_nothing(env.config_path)
    config_lib.write_atomic(env.config_path, config_lib.dumps(doc), 0o644, overwrite=overwrite)
    return doc


def describes_nothing(path: str) -> bool:
    """True for a file with no nodes, no VIPs and nothing else: the RPM's default.

    The package ships /etc/pcs-oci/pcs-oci.json as a %config(noreplace)
    placeholder (so rpm keeps edits on upgrade and erase); `config init` may
    replace it without --force because there is nothing in it to lose.
    """
    try:
        doc = config_lib.parse(config_lib.read_text(path), path)
    except PcsOciError:
        return False
    return (
        isinstance(doc, dict)
        and set(doc) <= {"$schema", "nodes", "vips"}
        and not doc.get("nodes")
        and not doc.get("vips")
    )


def vip_names(path: str) -> List[str]:
    """VIP names from a config file, best effort, for shell completion."""
    try:
        doc = config_lib.parse(config_lib.read_text(path), path)
    except PcsOciError:
        return []
    vips = doc.get("vips") if isinstance(doc, dict) else None
    return [v["name"] for v in vips or [] if isinstance(v, dict) and isinstance(v.get("name"), str)]


def node_names(path: str) -> List[str]:
    """Node host names from a config file, best effort, for shell completion."""
    try:
        doc = config_lib.parse(config_lib.read_text(path), path)
    except PcsOciError:
        return []
    nodes = doc.get("nodes") if isinstance(doc, dict) else None
    return [
        n["hostname"]
        for n in nodes or []
        if isinstance(n, dict) and isinstance(n.get("hostname"), str)
    ]
