from typing import List, Tuple

import pytest

from pcs_oci.common import reports
from pcs_oci.lib.discovery import RemoteNode, VipVnic, place_vips, resolve_other_nodes
from pcs_oci.lib.errors import PcsOciError
from pcs_oci.lib.imds import NodeFacts, VnicFacts
from tests.tools.fake_oci_api import FakeOciApi


def vnic(vnic_id: str, ip: str, cidr: str, primary: bool = True) -> VnicFacts:
    return VnicFacts(vnic_id, ip, cidr, "02:00:17:00:00:01", "", primary, None, None, None, [])


def facts(vnics: List[VnicFacts]) -> NodeFacts:
    return NodeFacts(
        "node1",
        "ocid1.instance.1",
        "node1",
        "us-ashburn-1",
        "AD-1",
        "FD-1",
        "ocid1.compartment",
        None,
        vnics,
    )


def test_place_vips_one_vnic() -> None:
    here = facts([vnic("v1", "10.0.0.2", "10.0.0.0/24")])
    (placed,) = place_vips(here, ["10.0.0.10"])
    assert placed.vnic is not None and placed.vnic.vnic_id == "v1"
    assert placed.candidates == ["v1"] and placed.problem is None


def test_place_vips_several_vnics_reports_every_vip() -> None:
    here = facts(
        [
            vnic("v1", "10.0.0.2", "10.0.0.0/24"),
            vnic("v2", "10.0.1.2", "10.0.1.0/24", primary=False),
            vnic("v3", "10.0.1.3", "10.0.1.0/24", primary=False),
        ]
    )
    placed = place_vips(here, ["10.0.0.10", "10.0.1.10", "192.168.1.1", "10.0.0.2"])
    assert [p.vnic.vnic_id if p.vnic else None for p in placed] == ["v1", "v2", None, None]
    assert placed[1].candidates == ["v2", "v3"]
    assert [p.problem.code if p.problem else None for p in placed] == [
        None,
        None,
        reports.VIP_NOT_IN_LOCAL_SUBNET,
        reports.VIP_IS_PRIMARY_IP,
    ]


def cluster() -> Tuple[FakeOciApi, NodeFacts, str, str]:
    """node1 (local), node2 and node3 in subnet A; a stranger in subnet B."""
    api = FakeOciApi()
    sub_a = api.add_subnet("10.0.0.0/24")
    sub_b = api.add_subnet("10.0.1.0/24")
    n1 = api.add_instance("node1")
    v1 = api.add_vnic(sub_a, "10.0.0.2", n1, "node1")
    n2 = api.add_instance("node2-vm")  # found by hostname label
    api.add_vnic(sub_a, "10.0.0.3", n2, "node2")
    n3 = api.add_instance("node3")  # found by display name
    api.add_vnic(sub_a, "10.0.0.4", n3, "n3")
    api.add_vnic(sub_b, "10.0.1.4", n3, "n3b", is_primary=False)
    stranger = api.add_instance("stranger")
    api.add_vnic(sub_b, "10.0.1.9", stranger, "stranger")
    here = facts([vnic(v1, "10.0.0.2", "10.0.0.0/24")])
    return api, here, sub_a, n2


def test_resolve_other_nodes_by_label_and_display_name() -> None:
    api, here, sub_a, n2 = cluster()
    nodes = resolve_other_nodes(api, here, ["node2.example.com", "NODE3"], ["10.0.0.10"])
    assert [n.hostname for n in nodes] == ["node2.example.com", "NODE3"]
    node2 = nodes[0]
    assert node2.instance_id == n2 and node2.display_name == "node2-vm"
    assert node2.vnics == [VipVnic("10.0.0.10", node2.vnic_id or "", sub_a, "10.0.0.3")]
    assert nodes[1].vnics[0].private_ip == "10.0.0.4"
    assert api.writes() == []


def test_terminated_instances_are_ignored() -> None:
    api, here, sub_a, _ = cluster()
    old = api.add_instance("node2", state="TERMINATED")
    api.add_vnic(sub_a, "10.0.0.20", old, "old")
    (node,) = resolve_other_nodes(api, here, ["node2"], ["10.0.0.10"])
    assert node.display_name == "node2-vm"


def test_not_found_and_ambiguous_are_reported_together() -> None:
    api, here, sub_a, _ = cluster()
    twin = api.add_instance("node2")  # display name node2 vs node2-vm's label node2
    api.add_vnic(sub_a, "10.0.0.30", twin, "twin")
    with pytest.raises(PcsOciError) as e:
        resolve_other_nodes(api, here, ["ghost", "node2", "node3"], ["10.0.0.10"])
    assert e.value.codes == [reports.NODE_NOT_FOUND, reports.NODE_AMBIGUOUS]
    assert [r.where for r in e.value.reports] == ["ghost", "node2"]


def test_node_without_a_vnic_in_the_vip_subnet() -> None:
    api, here, _, _ = cluster()
    # "stranger" has a VNIC only in subnet B; its label/display name match but not the subnet.
    with pytest.raises(PcsOciError) as e:
        resolve_other_nodes(api, here, ["stranger"], ["10.0.0.10"])
    assert e.value.codes == [reports.VNIC_NOT_FOUND]


def test_several_vnics_in_the_subnet_prefers_the_primary() -> None:
    api, here, sub_a, n2 = cluster()
    api.add_vnic(sub_a, "10.0.0.40", n2, "node2b", is_primary=False)
    (node,) = resolve_other_nodes(api, here, ["node2"], ["10.0.0.10"])
    assert node.vnics[0].private_ip == "10.0.0.3"
    assert isinstance(node, RemoteNode) and node.vnic_id == node.vnics[0].vnic_id


def test_several_secondary_vnics_in_the_subnet_are_ambiguous() -> None:
    api, here, sub_a, _ = cluster()
    n4 = api.add_instance("node4")
    api.add_vnic(sub_a, "10.0.0.50", n4, "n4a", is_primary=False)
    api.add_vnic(sub_a, "10.0.0.51", n4, "n4b", is_primary=False)
    with pytest.raises(PcsOciError) as e:
        resolve_other_nodes(api, here, ["node4"], ["10.0.0.10"])
    assert e.value.codes == [reports.VNIC_AMBIGUOUS]


def test_vip_outside_local_subnets_fails_early() -> None:
    api, here, _, _ = cluster()
    with pytest.raises(PcsOciError) as e:
        resolve_other_nodes(api, here, ["node2"], ["172.16.0.1"])
    assert e.value.codes == [reports.VIP_NOT_IN_LOCAL_SUBNET]
    assert api.calls == []
