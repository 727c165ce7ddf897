"""Do a subnet's security lists and the VNICs' NSGs let the cluster talk?

Corosync (knet) uses UDP 5405 and pcsd TCP 2224 between the nodes. OCI
drops what no ingress rule allows, so a missing rule shows up only as a
cluster that never forms or splits: verify reads the rules through the API
and names what is missing.
"""

import ipaddress
from typing import Any, Dict, Iterable, List, NamedTuple, Sequence

PROTOCOLS = {"tcp": "6", "udp": "17"}


class Need(NamedTuple):
    what: str
    protocol: str  # "tcp" or "udp"
    port: int


CLUSTER_PORTS = [Need("corosync", "udp", 5405), Need("pcsd", "tcp", 2224)]


def _port_ok(rule: Dict[str, Any], protocol: str, port: int) -> bool:
    options = rule.get("{}_options".format(protocol)) or {}
    ports = options.get("destination_port_range") if isinstance(options, dict) else None
    if not ports:
        return True  # no port range: every port of the protocol
    return int(ports.get("min", 0)) <= port <= int(ports.get("max", 65535))


def _source_ok(rule: Dict[str, Any], peers: Sequence[str], peer_nsgs: Sequence[str]) -> bool:
    source = str(rule.get("source") or "")
    if rule.get("source_type") == "NETWORK_SECURITY_GROUP":
        return source in peer_nsgs
    try:
        network = ipaddress.ip_network(source, strict=False)
    except ValueError:
        return False
    return all(ipaddress.ip_address(p) in network for p in peers)


def allows(
    rules: Iterable[Dict[str, Any]],
    need: Need,
    peers: Sequence[str],
    peer_nsgs: Sequence[str] = (),
) -> bool:
    """True if one ingress rule lets `need` in from every peer address."""
    for rule in rules:
        if rule.get("direction", "INGRESS") != "INGRESS":
            continue
        if str(rule.get("protocol")) not in ("all", PROTOCOLS[need.protocol]):
            continue
        if _port_ok(rule, need.protocol, need.port) and _source_ok(rule, peers, peer_nsgs):
            return True
    return False


def missing(
    security_lists: Sequence[Dict[str, Any]],
    nsg_rules: Sequence[Dict[str, Any]],
    peers: Sequence[str],
    peer_nsgs: Sequence[str] = (),
) -> List[Need]:
    """The cluster ports that neither the security lists nor the NSGs allow."""
    rules: List[Dict[str, Any]] = []
    for security_list in security_lists:
        rules += list(security_list.get("ingress_security_rules") or [])
    rules += list(nsg_rules)
    return [n for n in CLUSTER_PORTS if not allows(rules, n, peers, peer_nsgs)]
