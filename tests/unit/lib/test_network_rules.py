"""Which ingress rules let corosync (UDP 5405) and pcsd (TCP 2224) through."""

from typing import Any, Dict, Optional

from pcs_oci.lib import network_rules
from pcs_oci.lib.network_rules import Need

PEERS = ["10.0.0.11", "10.0.0.12"]


def rule(
    source: str = "10.0.0.0/24",
    protocol: str = "all",
    port: Optional[tuple] = None,
    kind: str = "udp",
    source_type: str = "CIDR_BLOCK",
    direction: Optional[str] = None,
) -> Dict[str, Any]:
    r: Dict[str, Any] = {"source": source, "source_type": source_type, "protocol": protocol}
    if port:
        r["{}_options".format(kind)] = {"destination_port_range": {"min": port[0], "max": port[1]}}
    if direction:
        r["direction"] = direction
    return r


def sl(*rules: Dict[str, Any]) -> Dict[str, Any]:
    return {"ingress_security_rules": list(rules)}


def test_all_protocols_from_the_subnet_allow_everything() -> None:
    assert network_rules.missing([sl(rule())], [], PEERS) == []


def test_only_ssh_allows_nothing_the_cluster_needs() -> None:
    ssh = rule("0.0.0.0/0", "6", (22, 22), "tcp")
    assert network_rules.missing([sl(ssh)], [], PEERS) == network_rules.CLUSTER_PORTS


def test_port_ranges_and_protocols_are_matched_exactly() -> None:
    corosync = rule(protocol="17", port=(5404, 5406), kind="udp")
    pcsd_wrong_proto = rule(protocol="17", port=(2224, 2224), kind="udp")
    assert network_rules.missing([sl(corosync, pcsd_wrong_proto)], [], PEERS) == [
        Need("pcsd", "tcp", 2224)
    ]
    pcsd = rule(protocol="6", port=(2224, 2224), kind="tcp")
    assert network_rules.missing([sl(corosync)], [pcsd], PEERS) == []


def test_source_must_cover_every_peer() -> None:
    narrow = rule(source="10.0.0.11/32")
    assert network_rules.missing([sl(narrow)], [], PEERS) == network_rules.CLUSTER_PORTS


def test_nsg_source_and_egress_rules() -> None:
    from_nsg = rule(
        source="ocid1.networksecuritygroup.oc1..a", source_type="NETWORK_SECURITY_GROUP"
    )
    assert network_rules.missing([], [from_nsg], PEERS, ["ocid1.networksecuritygroup.oc1..a"]) == []
    assert network_rules.missing([], [from_nsg], PEERS, ["ocid1.networksecuritygroup.oc1..b"])
    egress = rule(direction="EGRESS")
    assert network_rules.missing([], [egress], PEERS) == network_rules.CLUSTER_PORTS
