"""A JSON-serialisable description of a small OCI tenancy: the fakes' initial state.

The dict uses the Core API's camelCase JSON for resources (so the server can return
them nearly verbatim) and snake_case for the fake's own bookkeeping (nodes, pki, ...).
"""

import ipaddress
import json
import os
import random
import secrets
import string
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from tests.fakes import pki

World = Dict[str, Any]

WORLD_VERSION = 1
TIME_CREATED = "2025-01-06T09:30:00.000Z"
TIME_CREATED_MS = 1736155800000

# Short codes for common regions, and for regions that old SDKs' tables do not
# know (mx-monterrey-1: not in oci 2.93.1; eu-madrid-3: not in 2.160.3), so
# the fake's IMDS says the same whatever SDK is installed. Others fall back to
# the installed SDK's table (slow import).
_REGION_KEYS = {
    "mx-monterrey-1": "mty",
    "eu-madrid-3": "orf",
    "us-ashburn-1": "iad",
    "us-phoenix-1": "phx",
    "us-sanjose-1": "sjc",
    "us-chicago-1": "ord",
    "eu-frankfurt-1": "fra",
    "eu-amsterdam-1": "ams",
    "uk-london-1": "lhr",
    "ap-tokyo-1": "nrt",
    "ap-sydney-1": "syd",
}

ExtraVnics = Mapping[str, Union[int, Sequence[str]]]
Ipv6Cidrs = Union[None, str, Sequence[str]]
ReservedIps = Union[Sequence[str], Mapping[str, Optional[str]]]


def region_key(region: str) -> str:
    if region in _REGION_KEYS:
        return _REGION_KEYS[region]
    try:
        from oci.regions import REGIONS_SHORT_NAMES

        for short, full in REGIONS_SHORT_NAMES.items():
            if full == region:
                return short
    except ImportError:
        pass
    return region.split("-")[1][:3]


class _Ids:
    """Deterministic OCID factory (same seed -> same OCIDs)."""

    def __init__(self, seed: int, region_key: str) -> None:
        self._rng = random.Random(seed)
        self._region_key = region_key

    def _tail(self, n: int) -> str:
        return "".join(self._rng.choice(string.ascii_lowercase + "234567") for _ in range(n))

    def global_(self, kind: str) -> str:
        return "ocid1.{}.oc1..aaaaaaaa{}".format(kind, self._tail(52))

    def regional(self, kind: str, prefix: str = "aaaaaaaa") -> str:
        return "ocid1.{}.oc1.{}.{}{}".format(kind, self._region_key, prefix, self._tail(52))

    def mac(self) -> str:
        return "02:00:17:" + ":".join("{:02X}".format(self._rng.randrange(256)) for _ in range(3))

    def ad_prefix(self) -> str:
        return "".join(self._rng.choice(string.ascii_letters) for _ in range(4))


def ipv6_prefixes(value: Ipv6Cidrs) -> List[str]:
    """make_world's ipv6_cidr as a list: one prefix, several, or none."""
    if value is None:
        return []
    raw = [value] if isinstance(value, str) else list(value)
    return [str(ipaddress.ip_network(p)) for p in raw]


def subnet_ipv6_prefixes(subnet: Mapping[str, Any]) -> List[str]:
    """Every IPv6 prefix of a subnet record; ipv6CidrBlock is only the first."""
    return list(
        subnet.get("ipv6CidrBlocks")
        or ([subnet["ipv6CidrBlock"]] if subnet.get("ipv6CidrBlock") else [])
    )


def _subnet_record(ids: _Ids, world: World, cidr: str, ipv6_cidrs: List[str]) -> Dict[str, Any]:
    net = ipaddress.ip_network(cidr)
    index = len(world["subnets"])
    # A subnet can have several IPv6 prefixes; ipv6CidrBlock is the first.
    v6net = ipaddress.ip_network(ipv6_cidrs[0]) if ipv6_cidrs else None
    return {
        "id": ids.regional("subnet"),
        "availabilityDomain": None,
        "cidrBlock": str(net),
        "ipv4CidrBlocks": [str(net)],
        "compartmentId": world["compartment_id"],
        "definedTags": {},
        "dhcpOptionsId": world["vcn"]["defaultDhcpOptionsId"],
        "displayName": "subnet-{}".format(index),
        "dnsLabel": "sub{}".format(index),
        "freeformTags": {},
        "ipv6CidrBlock": str(v6net) if v6net else None,
        "ipv6CidrBlocks": list(ipv6_cidrs) if ipv6_cidrs else None,
        "ipv6VirtualRouterIp": str(v6net.network_address + 1) if v6net else None,
        "lifecycleState": "AVAILABLE",
        "prohibitInternetIngress": True,
        "prohibitPublicIpOnVnic": True,
        "routeTableId": world["vcn"]["defaultRouteTableId"],
        "securityListIds": [world["vcn"]["defaultSecurityListId"]],
        "subnetDomainName": "sub{}.vcn1.oraclevcn.com".format(index),
        "systemTags": {},
        "timeCreated": TIME_CREATED,
        "vcnId": world["vcn"]["id"],
        "virtualRouterIp": str(net.network_address + 1),
        "virtualRouterMac": "00:00:17:B6:4D:DD",
    }


def _security_list(world: World, vcn_cidr: str) -> Dict[str, Any]:
    def rule(src: str, proto: str, port: Optional[int]) -> Dict[str, Any]:
        tcp = {"destinationPortRange": {"min": port, "max": port}} if port else None
        return {
            "source": src,
            "sourceType": "CIDR_BLOCK",
            "protocol": proto,
            "isStateless": False,
            "tcpOptions": tcp,
            "udpOptions": None,
            "icmpOptions": None,
            "description": None,
        }

    return {
        "id": world["vcn"]["defaultSecurityListId"],
        "compartmentId": world["compartment_id"],
        "displayName": "Default Security List",
        "vcnId": world["vcn"]["id"],
        "lifecycleState": "AVAILABLE",
        "timeCreated": TIME_CREATED,
        "egressSecurityRules": [
            {
                "destination": "0.0.0.0/0",
                "destinationType": "CIDR_BLOCK",
                "protocol": "all",
                "isStateless": False,
                "tcpOptions": None,
                "udpOptions": None,
                "icmpOptions": None,
                "description": None,
            }
        ],
        "ingressSecurityRules": [rule("0.0.0.0/0", "6", 22), rule(vcn_cidr, "all", None)],
        "definedTags": {},
        "freeformTags": {},
        "systemTags": {},
    }


class _Builder:
    def __init__(self, world: World, ids: _Ids) -> None:
        self.w = world
        self.ids = ids
        self.used: Dict[str, set] = {}  # subnet id -> used addresses

    def subnet_for(self, cidr: str, ipv6_cidrs: Optional[List[str]] = None) -> Dict[str, Any]:
        for sub in self.w["subnets"].values():
            if sub["cidrBlock"] == str(ipaddress.ip_network(cidr)):
                return sub
        sub = _subnet_record(self.ids, self.w, cidr, ipv6_cidrs or [])
        self.w["subnets"][sub["id"]] = sub
        self.used[sub["id"]] = set()
        return sub

    def subnet_containing(self, ip: str) -> Dict[str, Any]:
        addr = ipaddress.ip_address(ip)
        for sub in self.w["subnets"].values():
            cidrs = [sub["cidrBlock"]] if addr.version == 4 else subnet_ipv6_prefixes(sub)
            if any(addr in ipaddress.ip_network(c) for c in cidrs):
                return sub
        raise ValueError("{} is in no subnet of the world".format(ip))

    def take(self, sub: Dict[str, Any], ip: Optional[str], first_host: int) -> str:
        used = self.used.setdefault(sub["id"], set())
        if ip is None:
            net = ipaddress.ip_network(sub["cidrBlock"])
            host = first_host
            while str(net.network_address + host) in used:
                host += 1
            ip = str(net.network_address + host)
        if ip in used:
            raise ValueError("address {} used twice in the world".format(ip))
        used.add(ip)
        return ip

    def private_ip(
        self,
        sub: Dict[str, Any],
        ip: str,
        vnic: Optional[Dict[str, Any]],
        primary: bool,
        lifetime: str = "EPHEMERAL",
        hostname: Optional[str] = None,
    ) -> Dict[str, Any]:
        rec = {
            "id": self.ids.regional("privateip", "abuwcljt"),
            "availabilityDomain": vnic["availabilityDomain"] if vnic else None,
            "compartmentId": self.w["compartment_id"],
            "definedTags": {},
            "displayName": ip,
            "freeformTags": {},
            "hostnameLabel": hostname,
            "ipAddress": ip,
            "cidrPrefixLength": None,
            "isPrimary": primary,
            "vlanId": None,
            "subnetId": sub["id"],
            "timeCreated": TIME_CREATED,
            "vnicId": vnic["id"] if vnic else None,
            "ipState": "ASSIGNED" if vnic else "AVAILABLE",
            "lifetime": lifetime,
            "routeTableId": None,
            "ipv4SubnetCidrAtCreation": sub["cidrBlock"],
        }
        self.w["private_ips"][rec["id"]] = rec
        return rec

    def ipv6(
        self,
        sub: Dict[str, Any],
        ip: str,
        vnic: Optional[Dict[str, Any]],
        lifetime: str = "EPHEMERAL",
    ) -> Dict[str, Any]:
        used = self.used.setdefault(sub["id"], set())
        if ip in used:
            raise ValueError("address {} used twice in the world".format(ip))
        used.add(ip)
        rec = {
            "id": self.ids.regional("ipv6", "abuwcljt"),
            "compartmentId": self.w["compartment_id"],
            "definedTags": {},
            "displayName": ip,
            "freeformTags": {},
            "hostname": None,
            "ipAddress": ip,
            "cidrPrefixLength": 64,
            "lifecycleState": "AVAILABLE",
            "subnetId": sub["id"],
            "systemTags": {},
            "timeCreated": TIME_CREATED,
            "vnicId": vnic["id"] if vnic else None,
            "ipState": "ASSIGNED" if vnic else "AVAILABLE",
            "lifetime": lifetime,
            "routeTableId": None,
        }
        self.w["ipv6s"][rec["id"]] = rec
        return rec

    def vnic(
        self,
        node: Dict[str, Any],
        inst: Dict[str, Any],
        sub: Dict[str, Any],
        ip: Optional[str],
        first_host: int,
    ) -> Dict[str, Any]:
        nic_index = len(node["vnic_ids"])
        primary = nic_index == 0
        vnic = {
            "id": self.ids.regional("vnic", "abuwcljt"),
            "availabilityDomain": inst["availabilityDomain"],
            "compartmentId": self.w["compartment_id"],
            "definedTags": {},
            "displayName": "{}-vnic{}".format(node["name"], nic_index),
            "freeformTags": {},
            "hostnameLabel": node["name"] if primary else None,
            "isPrimary": primary,
            "lifecycleState": "AVAILABLE",
            "macAddress": self.ids.mac(),
            "nsgIds": list(self.w["nsgs"]),
            "vlanId": None,
            "privateIp": None,
            "publicIp": None,
            "skipSourceDestCheck": False,
            "subnetId": sub["id"],
            "systemTags": {},
            "timeCreated": TIME_CREATED,
            "ipv6Addresses": [],
            "routeTableId": None,
            "securityAttributes": {},
        }
        addr = self.take(sub, ip, first_host)
        vnic["privateIp"] = addr
        self.w["vnics"][vnic["id"]] = vnic
        pip = self.private_ip(
            sub, addr, vnic, primary=True, hostname=node["name"] if primary else None
        )
        att = {
            "id": self.ids.regional("vnicattachment", "anuwcljt"),
            "availabilityDomain": inst["availabilityDomain"],
            "compartmentId": self.w["compartment_id"],
            "displayName": "{}-vnicattachment{}".format(node["name"], nic_index),
            "instanceId": inst["id"],
            "lifecycleState": "ATTACHED",
            "nicIndex": 0,
            "subnetId": sub["id"],
            "vlanId": None,
            "timeCreated": TIME_CREATED,
            "vlanTag": 1000 + 2 * len(self.w["vnic_attachments"]) + 1,
            "vnicId": vnic["id"],
        }
        self.w["vnic_attachments"][att["id"]] = att
        node["vnic_ids"].append(vnic["id"])
        if primary:
            node.update(
                vnic_id=vnic["id"],
                vnic_attachment_id=att["id"],
                mac=vnic["macAddress"],
                private_ip=addr,
                private_ip_id=pip["id"],
                subnet_id=sub["id"],
                vlan_tag=att["vlanTag"],
            )
        return vnic


def _instance(world: World, ids: _Ids, name: str, ad: str, fd: str) -> Dict[str, Any]:
    image = "ocid1.image.oc1.{}.aaaaaaaafakeimage".format(world["region_key"])
    return {
        "id": ids.regional("instance", "anuwcljt"),
        "availabilityDomain": ad,
        "compartmentId": world["compartment_id"],
        "displayName": name,
        "faultDomain": fd,
        "imageId": image,
        "lifecycleState": "RUNNING",
        "launchMode": "PARAVIRTUALIZED",
        "metadata": {"ssh_authorized_keys": "ssh-ed25519 AAAAfake fake@lab"},
        "extendedMetadata": {},
        "region": world["region_key"] if world["region_key"] in ("iad", "phx") else world["region"],
        "shape": "VM.Standard.E4.Flex",
        "shapeConfig": {
            "ocpus": 1.0,
            "memoryInGBs": 16.0,
            "networkingBandwidthInGbps": 1.0,
            "maxVnicAttachments": 2,
            "vcpus": 2,
        },
        "sourceDetails": {"sourceType": "image", "imageId": image},
        "instanceOptions": {"areLegacyImdsEndpointsDisabled": True},
        "availabilityConfig": {
            "recoveryAction": "RESTORE_INSTANCE",
            "isLiveMigrationPreferred": None,
        },
        "agentConfig": {
            "isMonitoringDisabled": False,
            "isManagementDisabled": False,
            "areAllPluginsDisabled": False,
        },
        "timeCreated": TIME_CREATED,
        "definedTags": {},
        "freeformTags": {},
        "systemTags": {},
    }


def make_world(
    nodes: Sequence[str] = ("node1", "node2"),
    subnet_cidr: str = "10.0.0.0/24",
    ipv6_cidr: Ipv6Cidrs = None,
    region: str = "us-ashburn-1",
    extra_vnics: Optional[ExtraVnics] = None,
    reserved_ips: Optional[ReservedIps] = None,
    secondary_ips: Optional[Mapping[str, str]] = None,
    seed: int = 0,
) -> World:
    """Build a world.

    nodes: instance names (hostname == displayName); node i (1-based) gets 10.0.0.(10+i).
    ipv6_cidr: the node subnet's IPv6 prefix, or a list of prefixes (the first is
      ipv6CidrBlock; nodes get their IPv6 from it).
    extra_vnics: node -> N (more VNICs in the node subnet) or a list of subnet CIDRs
      (node i's VNIC in another subnet gets host 10+i there, if free).
    reserved_ips: RESERVED private IPs / IPv6s, unassigned, or ip -> node to attach them.
    secondary_ips: ip -> node, EPHEMERAL secondary IPs on the node's primary VNIC.
    """
    rkey = region_key(region)
    ids = _Ids(seed, rkey)
    tenancy = ids.global_("tenancy")
    ad_prefix = ids.ad_prefix()
    region_word = region.split("-")[1].upper() if "-" in region else region.upper()
    ads = [
        "{}:{}-{}-AD-{}".format(ad_prefix, region.split("-")[0].upper(), region_word, n)
        for n in (1, 2, 3)
    ]
    world: World = {
        "version": WORLD_VERSION,
        "realm": "oc1",
        "region": region,
        "region_key": rkey,
        "region_info": {
            "realmKey": "oc1",
            "realmDomainComponent": "oraclecloud.com",
            "regionKey": rkey.upper(),
            "regionIdentifier": region,
        },
        "tenancy_id": tenancy,
        "compartment_id": ids.global_("compartment"),
        "availability_domains": ads,
        "subnets": {},
        "security_lists": {},
        "nsgs": {},
        "instances": {},
        "vnics": {},
        "vnic_attachments": {},
        "private_ips": {},
        "ipv6s": {},
        "nodes": {},
        # Shared HS256 secret so separate fake processes accept each other's tokens.
        "token_secret": secrets.token_hex(32),
    }
    vcn_cidr = str(ipaddress.ip_network(subnet_cidr).supernet(new_prefix=16))
    world["vcn"] = {
        "id": ids.regional("vcn", "amaaaaaa"),
        "cidrBlock": vcn_cidr,
        "cidrBlocks": [vcn_cidr],
        "compartmentId": world["compartment_id"],
        "displayName": "vcn1",
        "dnsLabel": "vcn1",
        "lifecycleState": "AVAILABLE",
        "defaultDhcpOptionsId": ids.regional("dhcpoptions"),
        "defaultRouteTableId": ids.regional("routetable"),
        "defaultSecurityListId": ids.regional("securitylist"),
        "timeCreated": TIME_CREATED,
    }
    sl = _security_list(world, vcn_cidr)
    world["security_lists"][sl["id"]] = sl
    nsg_id = ids.regional("networksecuritygroup")
    world["nsgs"][nsg_id] = {
        "id": nsg_id,
        "displayName": "cluster-nsg",
        "rules": [
            {
                "id": "04ABEC",
                "direction": "INGRESS",
                "protocol": "all",
                "source": vcn_cidr,
                "sourceType": "CIDR_BLOCK",
                "isStateless": False,
                "isValid": True,
                "description": "cluster traffic",
                "timeCreated": TIME_CREATED,
            }
        ],
    }

    builder = _Builder(world, ids)
    main_subnet = builder.subnet_for(subnet_cidr, ipv6_prefixes(ipv6_cidr))

    ca_key, int_key = pki.pooled_key(0), pki.pooled_key(1)
    ca = pki.make_cert("PKISVC Fake Root CA", ["opc-fake-ca"], ca_key, is_ca=True, days=3650)
    inter = pki.make_cert(
        "PKISVC Identity Intermediate {}".format(rkey),
        ["opc-fake-ca"],
        int_key,
        issuer=(ca, ca_key),
        is_ca=True,
        days=3650,
    )
    world["pki"] = {
        "ca_cert": pki.cert_pem(ca),
        "ca_key": pki.private_pem(ca_key),
        "intermediate_cert": pki.cert_pem(inter),
        "intermediate_key": pki.private_pem(int_key),
    }
    user_key = pki.pooled_key(2)
    world["api_user"] = {
        "user_id": ids.global_("user"),
        "fingerprint": pki.api_key_fingerprint(user_key.public_key()),
        "private_key": pki.private_pem(user_key),
        "public_key": pki.public_pem(user_key.public_key()),
    }

    first_extra = 10 + len(nodes) + 1
    for i, name in enumerate(nodes, start=1):
        ad = ads[0]
        fd = "FAULT-DOMAIN-{}".format((i - 1) % 3 + 1)
        inst = _instance(world, ids, name, ad, fd)
        world["instances"][inst["id"]] = inst
        node: Dict[str, Any] = {
            "name": name,
            "index": i,
            "instance_id": inst["id"],
            "hostname": name,
            "availability_domain": ad,
            "fault_domain": fd,
            "vnic_ids": [],
            "ipv6": None,
            "ipv6_id": None,
        }
        world["nodes"][name] = node
        net = ipaddress.ip_network(subnet_cidr)
        vnic = builder.vnic(node, inst, main_subnet, str(net.network_address + 10 + i), 0)
        if main_subnet["ipv6CidrBlock"]:
            v6 = ipaddress.ip_network(main_subnet["ipv6CidrBlock"])
            rec = builder.ipv6(main_subnet, str(v6.network_address + 0x10 + i), vnic)
            node.update(ipv6=rec["ipAddress"], ipv6_id=rec["id"])
        leaf_key = pki.pooled_key(2 + i)
        leaf = pki.make_cert(
            inst["id"],
            [
                "opc-certtype:instance",
                "opc-compartment:" + world["compartment_id"],
                "opc-instance:" + inst["id"],
                "opc-tenant:" + tenancy,
            ],
            leaf_key,
            issuer=(inter, int_key),
        )
        node["leaf_cert"] = pki.cert_pem(leaf)
        node["leaf_key"] = pki.private_pem(leaf_key)

    for name, spec in (extra_vnics or {}).items():
        node = world["nodes"][name]
        inst = world["instances"][node["instance_id"]]
        cidrs: List[str] = [subnet_cidr] * spec if isinstance(spec, int) else list(spec)
        for cidr in cidrs:
            # In a subnet of its own, node i's VNIC gets host 10+i there too (as
            # in the main subnet), so a lab can number its second interface alike.
            other = ipaddress.ip_network(cidr) != ipaddress.ip_network(subnet_cidr)
            first = 10 + node["index"] if other else first_extra
            builder.vnic(node, inst, builder.subnet_for(cidr), None, first)

    _add_extra_ips(world, builder, secondary_ips or {}, "EPHEMERAL")
    if reserved_ips is not None:
        mapping = (
            dict(reserved_ips)
            if isinstance(reserved_ips, Mapping)
            else {ip: None for ip in reserved_ips}
        )
        _add_extra_ips(world, builder, mapping, "RESERVED")
    return world


def _add_extra_ips(
    world: World, builder: _Builder, ips: Mapping[str, Optional[str]], lifetime: str
) -> None:
    for ip, node_name in ips.items():
        vnic = world["vnics"][world["nodes"][node_name]["vnic_id"]] if node_name else None
        sub = builder.subnet_containing(ip)
        if ":" in ip:
            builder.ipv6(sub, ip, vnic, lifetime)
        else:
            builder.take(sub, ip, 0)
            builder.private_ip(sub, ip, vnic, primary=False, lifetime=lifetime)


def node(world: World, name: str) -> Dict[str, Any]:
    return world["nodes"][name]


def node_by_instance(world: World, instance_id: str) -> Optional[Dict[str, Any]]:
    for rec in world["nodes"].values():
        if rec["instance_id"] == instance_id:
            return rec
    return None


def sdk_config(world: World) -> Dict[str, Optional[str]]:
    """An in-memory SDK config dict (key_content, no files) for the API-key user.

    key_file is present but None because oci.signer.Signer.from_config indexes it.
    """
    user = world["api_user"]
    return {
        "user": user["user_id"],
        "tenancy": world["tenancy_id"],
        "fingerprint": user["fingerprint"],
        "key_content": user["private_key"],
        "key_file": None,
        "region": world["region"],
    }


def write_api_key_config(world: World, directory: str, profile: str = "DEFAULT") -> Tuple[str, str]:
    """Write an OCI CLI/SDK config file and its key file (0600); return (path, profile)."""
    os.makedirs(directory, exist_ok=True)
    user = world["api_user"]
    key_path = os.path.join(directory, "oci_api_key.pem")
    _write_private(key_path, user["private_key"])
    cfg_path = os.path.join(directory, "config")
    text = "[{}]\nuser={}\nfingerprint={}\ntenancy={}\nregion={}\nkey_file={}\n".format(
        profile,
        user["user_id"],
        user["fingerprint"],
        world["tenancy_id"],
        world["region"],
        key_path,
    )
    _write_private(cfg_path, text)
    return cfg_path, profile


def _write_private(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.chmod(path, 0o600)


def save(world: World, path: str) -> None:
    """Write the world as JSON, 0600: it holds private keys."""
    _write_private(path, json.dumps(world, indent=1, sort_keys=True))


def load(path: str) -> World:
    with open(path) as fh:
        world = json.load(fh)
    if world.get("version") != WORLD_VERSION:
        raise ValueError("{}: unsupported world version {!r}".format(path, world.get("version")))
    return world
