"""verify's check rows: the stable id and the title of every check, and the row itself.

The ids are the keys of `pcs-oci verify --json` (scripts and the lab read
them): never rename one that shipped. Each title is written once, here.
"""

from typing import Dict, NamedTuple

from pcs_oci import settings

PASS = "PASS"  # noqa: S105 - a check status, not a password
WARN = "WARN"
FAIL = "FAIL"
SKIP = "SKIP"
STATUSES = (PASS, WARN, FAIL, SKIP)

# In the order verify shows them.
CONFIG = "config"
NODE_IN_CONFIG = "node_in_config"
CLUSTER_NODES = "cluster_nodes"
IMDS = "imds"
VIP_SUBNET = "vip_subnet"
LOCAL_VNIC = "local_vnic"
OCI_AUTH = "oci_auth"
OCI_PERMISSION = "oci_permission"
NODE_VNICS = "node_vnics"
VIP_PRIVATE_IP = "vip_private_ip"
PUBLIC_IP = "public_ip"
NETWORK = "network"
AGENT = "agent"
STICKINESS = "stickiness"
FAILURE_TIMEOUT = "failure_timeout"
NODES_ONLINE = "nodes_online"
RESOURCES = "resources"
FENCING = "fencing"
QUORUM = "quorum"
FENCE_AGENT = "fence_agent"
PACKAGES = "packages"
CONFLICTS = "conflicts"
LEGACY_IPADDR2 = "legacy_ipaddr2"
LEGACY_OCIVIP = "legacy_ocivip"
OCI_CLI_AGENTS = "oci_cli_agents"
FIREWALL = "firewall"

TITLES: Dict[str, str] = {
    CONFIG: "configuration valid",
    NODE_IN_CONFIG: "this node is in the config",
    CLUSTER_NODES: "config hostnames are the cluster's node names",
    IMDS: "instance metadata service reachable",
    VIP_SUBNET: "each VIP is inside a local subnet",
    LOCAL_VNIC: "this node's VNIC matches the config",
    OCI_AUTH: "OCI authentication",
    OCI_PERMISSION: "API permission to read VNICs and private IPs",
    NODE_VNICS: "the other nodes' VNICs exist in the VIP's subnet",
    VIP_PRIVATE_IP: "the VIP is a secondary private IP",
    PUBLIC_IP: "public IPs are bound to the VIP's private IP, so they follow it",
    NETWORK: "the OCI network lets the cluster fail over",
    AGENT: "agent {} installed on every node".format(settings.AGENT_TYPE),
    STICKINESS: "resource stickiness prevents failback",
    FAILURE_TIMEOUT: "a VIP whose start failed everywhere is retried (failure-timeout)",
    NODES_ONLINE: "every node online",
    RESOURCES: "VIP resources match the config",
    FENCING: "fencing (STONITH) enabled with a device",
    QUORUM: "quorum policy sensible for the cluster size",
    FENCE_AGENT: "fence_oci reaches every node's instance",
    PACKAGES: "packages installed and intact",
    CONFLICTS: "no other software manages the VIP",
    LEGACY_IPADDR2: "heartbeat IPaddr2 is the packaged agent (no sed recipe)",
    LEGACY_OCIVIP: "no ocf:heartbeat:ocivip resource left over",
    OCI_CLI_AGENTS: "no changed or custom OCF agent calls the oci CLI",
    FIREWALL: "firewall allows the cluster",
}


class Check(NamedTuple):
    """One row of verify: PASS, WARN, FAIL or SKIP, one line of detail, and the fix."""

    id: str
    title: str
    status: str
    detail: str
    # The command or console step that fixes it; empty for PASS.
    fix: str = ""


def row(id: str, status: str, detail: str, fix: str = "") -> Check:
    """The row of check `id` (its title comes from TITLES)."""
    return Check(id, TITLES[id], status, detail, fix)


def skip(id: str, why: str) -> Check:
    return row(id, SKIP, why)
