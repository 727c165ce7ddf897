"""verify's checks through the OCI API: authentication, permission, the nodes' VNICs,
the VIP's private IP and the network between the nodes.

The API is read in the order a failover uses it, each step only when the
one before worked: this node's VNIC (authentication), the VIPs' private IPs
(permission), the other nodes' VNICs, then the subnet and its rules.
"""

from typing import Any, Dict, List, NamedTuple, Optional, Tuple

from pcs_oci.common import reports
from pcs_oci.common.agent_params import AUTH_INSTANCE_PRINCIPAL
from pcs_oci.common.checks import (
    FAIL,
    NETWORK,
    NODE_VNICS,
    OCI_AUTH,
    OCI_PERMISSION,
    PASS,
    VIP_PRIVATE_IP,
    WARN,
    row,
    skip,
)
from pcs_oci.lib import network_rules
from pcs_oci.lib.checks import Rows, error_text
from pcs_oci.lib.checks.node import NO_CONFIG, Metadata
from pcs_oci.lib.checks.public_ip import PublicIpFacts, read_public_ips
from pcs_oci.lib.config import Config, Vip
from pcs_oci.lib.env import Env
from pcs_oci.lib.errors import PcsOciError
from pcs_oci.lib.imds import vnic_for_ip
from pcs_oci.lib.oci.errors import vip_policy
from pcs_oci.lib.private_ip import PrivateIpInfo
from pcs_oci.lib.vip import where_is_vip

NO_API = "no API access"
NO_PRIVATE_IPS = "cannot list private IPs"
# verify names the statements for a dynamic group whatever the auth: the
# fix it gives is the setup the docs recommend.
POLICY = vip_policy(AUTH_INSTANCE_PRINCIPAL) + (
    " (`pcs-oci policy` prints every statement for this cluster)"
)


class OtherVnic(NamedTuple):
    hostname: str
    vnic_id: str
    vnic: Dict[str, Any]
    # Why it could not be read ("" when it was).
    error: str = ""


class NetworkFacts(NamedTuple):
    vnics: List[Dict[str, Any]]
    subnet: Dict[str, Any]
    security_lists: List[Dict[str, Any]]
    nsg_ids: List[str]
    nsg_rules: List[Dict[str, Any]]


class CloudFacts(NamedTuple):
    # Why the API was not tried: (for authentication and permission, for the
    # checks after them); None when it was.
    not_tried: Optional[Tuple[str, str]] = None
    # The first call failed: authentication, or the permission to read VNICs.
    access_error: Optional[PcsOciError] = None
    subnet_id: str = ""
    # Each VIP and its private IP (None: not created yet).
    vips: List[Tuple[str, Optional[PrivateIpInfo]]] = []
    vips_error: Optional[PcsOciError] = None
    # The other nodes' configured VNICs, read once the VIPs' lookup worked.
    others: List[OtherVnic] = []
    network: Optional[NetworkFacts] = None
    # Why the network could not be read.
    network_error: str = ""
    # The public IPs of the VIPs and the nodes, read once the VIPs' lookup worked.
    public_ips: Optional[PublicIpFacts] = None
    # VNIC OCID -> the node it belongs to, for every VNIC verify knows.
    owners: Dict[str, str] = {}

    @property
    def api_ok(self) -> bool:
        return self.not_tried is None and self.access_error is None


# ---------------------------------------------------------------- reading


def read_cloud(
    env: Env,
    config: Optional[Config],
    metadata: Metadata,
    local_vnic: Optional[str],
    node: Optional[str],
) -> CloudFacts:
    if config is None:
        return CloudFacts((NO_CONFIG, NO_CONFIG))
    if config.oci.auth == AUTH_INSTANCE_PRINCIPAL and metadata.facts is None:
        # Its certificate comes from the metadata service: retrying the
        # token would only take time and point at the wrong fix.
        why = "instance principals need the instance metadata service (see its check)"
        return CloudFacts((why, why))
    per_vip = {v.name: _vip_vnic(config, v, metadata) for v in config.vips}
    vnic_id = (
        local_vnic
        or next((n.vnic_id for n in config.nodes if n.vnic_id), None)
        or next((v for v in per_vip.values() if v), None)
    )
    if vnic_id is None:
        return CloudFacts(("no VNIC known to read", "no VNIC known"))
    try:
        api = env.oci_api(config.oci)
        with api.budget():
            vnic = api.get_vnic(vnic_id)
    except PcsOciError as e:
        return CloudFacts(access_error=e)
    subnet_id = vnic["subnet_id"]
    owners = vnic_owners(config, metadata, node)
    facts = CloudFacts(subnet_id=subnet_id, owners=owners)
    subnets = {vnic_id: subnet_id}
    try:
        with api.budget():
            vips = []
            for v in config.vips:
                # Each VIP in its own subnet: VIPs on secondary VNICs are in another.
                own = per_vip[v.name] or vnic_id
                if own not in subnets:
                    subnets[own] = api.get_vnic(own)["subnet_id"]
                vips.append((v.ip, where_is_vip(api, v.address, subnets[own])))
    except PcsOciError as e:
        facts = facts._replace(vips_error=e)
    else:
        facts = facts._replace(vips=vips, others=_read_other_vnics(api, config, node))
        facts = facts._replace(public_ips=read_public_ips(api, config, vips, owners))
    try:
        # Without a shared local VNIC, the network of the one read first.
        facts = facts._replace(network=_read_network(api, config, local_vnic or vnic_id))
    except PcsOciError as e:
        facts = facts._replace(network_error=error_text(e, 1))
    return facts


def vnic_owners(config: Config, metadata: Metadata, node: Optional[str]) -> Dict[str, str]:
    """VNIC OCID -> hostname: the config's VNICs (the nodes' and each VIP's
    vnic_ids) and this node's own from IMDS, so that a VIP on a VNIC the
    config leaves out (found by the agent in the metadata) still has a node."""
    owners = {n.vnic_id: n.hostname for n in config.nodes if n.vnic_id}
    for vip in config.vips:
        owners.update((vnic_id, hostname) for hostname, vnic_id in config.vnic_ids(vip).items())
    if node and metadata.facts is not None:
        for vnic in metadata.facts.vnics:
            owners.setdefault(vnic.vnic_id, node)
    return owners


def _vip_vnic(config: Config, vip: Vip, metadata: Metadata) -> Optional[str]:
    """A VNIC in the VIP's subnet: this node's there (IMDS), else the config's for the VIP."""
    if metadata.facts is not None:
        try:
            return vnic_for_ip(metadata.facts, vip.address).vnic_id
        except PcsOciError:
            pass  # vip_subnet's check says why
    return next(iter(config.vnic_ids(vip).values()), None)


def _read_other_vnics(api: Any, config: Config, node: Optional[str]) -> List[OtherVnic]:
    """The other nodes' configured VNICs: a wrong one fails only at failover."""
    found = []
    for other in config.nodes:
        if not other.vnic_id or other.hostname == node:
            continue
        try:
            with api.budget():
                vnic = api.get_vnic(other.vnic_id)
        except PcsOciError as e:
            found.append(OtherVnic(other.hostname, other.vnic_id, {}, error_text(e, 1)))
        else:
            found.append(OtherVnic(other.hostname, other.vnic_id, vnic))
    return found


def _read_network(api: Any, config: Config, local_vnic: Optional[str]) -> NetworkFacts:
    """The nodes' VNICs, their subnet, its security lists and the VNICs' NSG rules."""
    vnic_ids: List[str] = []
    for vnic_id in [local_vnic] + [n.vnic_id for n in config.nodes]:
        if vnic_id and vnic_id not in vnic_ids:
            vnic_ids.append(vnic_id)
    with api.budget():
        vnics = [api.get_vnic(v) for v in vnic_ids]
        subnet = api.get_subnet(vnics[0]["subnet_id"])
        lists = [api.get_security_list(i) for i in subnet.get("security_list_ids") or []]
        nsg_ids = sorted({n for v in vnics for n in v.get("nsg_ids") or []})
        nsg_rules = [r for n in nsg_ids for r in api.list_nsg_rules(n)]
    return NetworkFacts(vnics, subnet, lists, nsg_ids, nsg_rules)


# ---------------------------------------------------------------- checks


def check_oci_auth(config: Optional[Config], cloud: CloudFacts) -> Rows:
    if config is None:
        return [skip(OCI_AUTH, NO_CONFIG)]
    if cloud.not_tried:
        return [skip(OCI_AUTH, cloud.not_tried[0])]
    error = cloud.access_error
    if error is None:
        detail = "{} works ({})".format(
            config.oci.auth, config.oci.region or "region of the instance"
        )
        if config.oci.auth == AUTH_INSTANCE_PRINCIPAL:
            # Its age, never its content (the agents' starts sign with it).
            from pcs_oci.lib.oci import session_cache

            detail += "; " + session_cache.describe_age(session_cache.age())
        return [row(OCI_AUTH, PASS, detail)]
    if reports.OCI_NOT_AUTHORIZED in error.codes:
        return [row(OCI_AUTH, PASS, "signed requests are accepted")]
    if reports.OCI_CLOCK_SKEW in error.codes:
        fix = "set the clock: `chronyc tracking`, `systemctl enable --now chronyd`"
    elif config.oci.auth == AUTH_INSTANCE_PRINCIPAL:
        fix = (
            "put the instances in a dynamic group (e.g. matching instance.compartment.id)"
            " and allow it: " + POLICY
        )
    else:
        fix = (
            "check {} and profile {}: `oci setup repair-file-permissions` and the "
            "key's fingerprint in the console".format(config.oci.config_file, config.oci.profile)
        )
    return [row(OCI_AUTH, FAIL, error_text(error, 1), fix)]


def check_oci_permission(cloud: CloudFacts) -> Rows:
    if cloud.not_tried:
        return [skip(OCI_PERMISSION, cloud.not_tried[0])]
    error = cloud.access_error
    if error is not None and reports.OCI_NOT_AUTHORIZED not in error.codes:
        return [skip(OCI_PERMISSION, "authentication failed")]
    error = error or cloud.vips_error
    if error is not None:
        fix = "add the policy statements: " + POLICY
        return [row(OCI_PERMISSION, FAIL, error_text(error, 1), fix)]
    return [row(OCI_PERMISSION, PASS, "GetVnic and ListPrivateIps allowed")]


def why_not_looked_up(cloud: CloudFacts) -> str:
    """Why the VIPs' private IPs are unknown; "" when they are known."""
    if cloud.not_tried:
        return cloud.not_tried[1]
    if cloud.access_error is not None:
        return NO_API
    if cloud.vips_error is not None:
        return NO_PRIVATE_IPS
    return ""


def check_node_vnics(cloud: CloudFacts) -> Rows:
    why = why_not_looked_up(cloud)
    if why:
        return [skip(NODE_VNICS, why)]
    if not cloud.others:
        return [
            row(
                NODE_VNICS,
                PASS,
                "no other node has a vnic_id in the config: each agent discovers its own",
            )
        ]
    problems, found = [], []
    for other in cloud.others:
        if other.error:
            problems.append("{}: {}".format(other.hostname, other.error))
        elif other.vnic.get("subnet_id") != cloud.subnet_id:
            problems.append(
                "{}: VNIC {} is in subnet {}, not in the VIP's subnet {}: the VIP cannot "
                "move there".format(
                    other.hostname, other.vnic_id, other.vnic.get("subnet_id"), cloud.subnet_id
                )
            )
        else:
            found.append(other.hostname)
    if problems:
        return [
            row(
                NODE_VNICS,
                FAIL,
                "; ".join(problems),
                "`pcs-oci discover --all --update` writes every node's VNIC in the VIP's subnet "
                "(or `pcs-oci discover --update` on that node), then `pcs-oci configure`",
            )
        ]
    return [row(NODE_VNICS, PASS, ", ".join(found))]


def check_vip_private_ip(config: Optional[Config], cloud: CloudFacts) -> Rows:
    if config is None:
        return [skip(VIP_PRIVATE_IP, NO_CONFIG)]
    why = why_not_looked_up(cloud)
    if why:
        return [skip(VIP_PRIVATE_IP, why)]
    owners = cloud.owners
    details, problems, warnings, fixes = [], [], [], []
    for ip, info in cloud.vips:
        if info is None:
            warnings.append("{} does not exist yet: the first start creates it".format(ip))
        elif info.is_primary:
            problems.append(
                "{} is the primary IP of VNIC {}: it cannot move".format(ip, info.vnic_id)
            )
        elif info.gone:
            warnings.append(
                "{} is being deleted (IPv6 {}): the next start creates it again".format(
                    ip, info.state
                )
            )
        elif info.moving:
            # No vnicId while a move lands (docs/oci-behaviour.md): not an
            # address on no VNIC.
            warnings.append(
                "{} is being moved: OCI shows no VNIC for it until the move lands".format(ip)
            )
            fixes.append("run verify again in a few seconds")
        elif info.vnic_id is None:
            warnings.append(
                "{} is a reserved private IP on no VNIC (ipState AVAILABLE): the next start "
                "attaches it".format(ip)
            )
        else:
            details.append(
                "{} on VNIC {} ({})".format(ip, info.vnic_id, owners.get(str(info.vnic_id), "?"))
            )
    if problems:
        return [
            row(
                VIP_PRIVATE_IP,
                FAIL,
                "; ".join(problems),
                "choose another address for the VIP: a primary IP belongs to its instance",
            )
        ]
    if warnings:
        if any(info is None for _, info in cloud.vips):
            fixes.append(
                "optional: create it now in the console (VNIC > IPv4 Addresses > Assign "
                "Secondary Private IP)"
            )
        return [
            row(
                VIP_PRIVATE_IP,
                WARN,
                "; ".join(warnings + details),
                "; ".join(fixes),
            )
        ]
    return [row(VIP_PRIVATE_IP, PASS, "; ".join(details))]


def check_network(config: Optional[Config], cloud: CloudFacts) -> Rows:
    """Subnet scope and security rules."""
    if config is None or not cloud.api_ok:
        return [skip(NETWORK, NO_CONFIG if config is None else NO_API)]
    if cloud.network is None:
        return [
            row(
                NETWORK,
                WARN,
                "cannot read the subnet and its security rules: " + cloud.network_error,
                "allow the dynamic group to `read virtual-network-family` in the compartment so "
                "verify can check them",
            )
        ]
    net = cloud.network
    subnet = net.subnet
    ads = sorted({str(v["availability_domain"]) for v in net.vnics if v.get("availability_domain")})
    if len(ads) > 1 and subnet.get("availability_domain"):
        return [
            row(
                NETWORK,
                FAIL,
                "the nodes are in {} but subnet {} belongs to {} only: the VIP cannot move "
                "across availability domains".format(
                    " and ".join(ads), subnet.get("cidr_block"), subnet["availability_domain"]
                ),
                "put every node's VNIC in one regional subnet (subnets are regional unless "
                "created for one availability domain)",
            )
        ]
    peers = [str(v["private_ip"]) for v in net.vnics if v.get("private_ip")]
    gaps = network_rules.missing(net.security_lists, net.nsg_rules, peers, net.nsg_ids)
    if gaps:
        return [
            row(
                NETWORK,
                WARN,
                "no ingress rule of subnet {}'s security lists or the VNICs' NSGs allows {} "
                "between the nodes ({})".format(
                    subnet.get("cidr_block"),
                    " and ".join(
                        "{} {}/{}".format(g.what, g.protocol.upper(), g.port) for g in gaps
                    ),
                    ", ".join(peers),
                ),
                "add stateful ingress rules from {} for {} to the subnet's security list or the "
                "nodes' NSG".format(
                    subnet.get("cidr_block"),
                    " and ".join("{} {}".format(g.protocol.upper(), g.port) for g in gaps),
                ),
            )
        ]
    return [
        row(
            NETWORK,
            PASS,
            "{} subnet {}; UDP 5405 and TCP 2224 allowed between {} known node VNIC(s)".format(
                "regional" if not subnet.get("availability_domain") else "AD-specific",
                subnet.get("cidr_block"),
                len(net.vnics),
            ),
        )
    ]
