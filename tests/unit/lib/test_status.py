"""status: Pacemaker, the OS and OCI views and every disagreement."""

import json
from typing import Any, List

import pytest

from pcs_oci.lib.commands.status import status
from pcs_oci.lib.env import Env
from tests.tools.fake_oci_api import FakeOciApi, cloud_error
from tests.tools.fake_runner import Call, FakeRunner, crm_mon_xml

CRM_MON = ["/usr/sbin/crm_mon", "--one-shot", "--inactive", "--output-as=xml"]
IP_ADDR = ["/sbin/ip", "-o", "addr", "show"]


class World:
    def __init__(self, tmp_path: Any):
        self.api = FakeOciApi()
        self.subnet = self.api.add_subnet("10.0.0.0/24")
        self.vnic1 = self.api.add_vnic(self.subnet, "10.0.0.11")
        self.vnic2 = self.api.add_vnic(self.subnet, "10.0.0.12")
        self.pid = self.api.add_private_ip("10.0.0.200", self.vnic1, self.subnet)
        self.path = tmp_path / "c.json"
        self.path.write_text(
            json.dumps(
                {
                    "nodes": [
                        {"hostname": "node1", "vnic_id": self.vnic1},
                        {"hostname": "node2", "vnic_id": self.vnic2},
                    ],
                    "vips": [{"name": "vip", "ip": "10.0.0.200", "cidr_netmask": 24}],
                }
            )
        )

    def env(self, active: Any, local_addrs: List[str]) -> Env:
        addr = "".join(
            "2: eth0    inet {}/24 scope global eth0\\       valid_lft forever\n".format(a)
            for a in local_addrs
        )
        runner = FakeRunner(
            [
                Call(CRM_MON, crm_mon_xml(resources=[("vip", "ocf:oci:IPaddr2", active)])),
                Call(["/usr/sbin/crm_node", "-n"], "node1\n"),
                Call(IP_ADDR, "1: lo    inet 127.0.0.1/8 scope host lo\n" + addr),
            ]
        )
        return Env(config_path=str(self.path), runner=runner, oci_api_factory=lambda c: self.api)


@pytest.fixture
def world(tmp_path: Any) -> World:
    return World(tmp_path)


def test_all_three_agree(world: World) -> None:
    dto = status(world.env("node1", ["10.0.0.11", "10.0.0.200"]))
    (v,) = dto.vips
    assert (v.pacemaker_nodes, v.local_has_address, v.oci_node) == (["node1"], True, "node1")
    assert dto.agree


def test_oci_moved_behind_the_clusters_back(world: World) -> None:
    world.api.move_behind_back(world.pid, world.vnic2)
    (v,) = status(world.env("node1", ["10.0.0.200"])).vips
    assert v.problems == [
        "OCI assigns it to VNIC {} (node2) but Pacemaker runs it on node1".format(world.vnic2)
    ]


def test_running_here_without_address(world: World) -> None:
    (v,) = status(world.env("node1", [])).vips
    assert v.problems == ["Pacemaker runs it here on node1 but the address is missing"]


def test_address_here_but_running_elsewhere(world: World) -> None:
    world.api.move_behind_back(world.pid, world.vnic2)
    (v,) = status(world.env("node2", ["10.0.0.200"])).vips
    assert v.problems == ["this node node1 has the address but Pacemaker does not run it here"]


def test_similar_address_is_not_the_vip(world: World) -> None:
    (v,) = status(world.env("node2", ["10.0.0.20", "10.0.0.2"])).vips
    assert v.local_has_address is False


def test_oci_error_is_reported_not_a_disagreement(world: World) -> None:
    world.api.fail("get_vnic", cloud_error(503, "ServiceUnavailable"))
    dto = status(world.env("node1", ["10.0.0.200"]))
    (v,) = dto.vips
    assert "ServiceUnavailable" in (v.oci_error or "")
    assert dto.agree
