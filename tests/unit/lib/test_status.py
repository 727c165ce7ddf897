"""status: Pacemaker, the OS and OCI views and every disagreement."""

import json
from typing import Any, List

import pytest

from pcs_oci.common import reports
from pcs_oci.lib.commands.status import status
from pcs_oci.lib.env import Env
from pcs_oci.lib.imds import Imds
from tests.tools.fake_oci_api import FakeOciApi, cloud_error
from tests.tools.fake_runner import Call, FakeRunner, crm_mon_xml

CRM_MON = ["/usr/sbin/crm_mon", "--one-shot", "--inactive", "--output-as=xml"]
IP_ADDR = ["/sbin/ip", "-o", "addr", "show"]


class World:
    def __init__(self, tmp_path: Any, node2_vnic: bool = True):
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
                        {"hostname": "node2", "vnic_id": self.vnic2}
                        if node2_vnic
                        else {"hostname": "node2"},
                    ],
                    "vips": [{"name": "vip", "ip": "10.0.0.200", "cidr_netmask": 24}],
                }
            )
        )

    def env(self, active: Any, local_addrs: List[str], imds: Any = None) -> Env:
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
        self.runner = runner
        return Env(
            config_path=str(self.path),
            runner=runner,
            imds=imds,
            oci_api_factory=lambda c: self.api,
        )


@pytest.fixture
def world(tmp_path: Any) -> World:
    return World(tmp_path)


def test_all_three_agree(world: World) -> None:
    dto = status(world.env("node1", ["10.0.0.11", "10.0.0.200"]))
    (v,) = dto.vips
    assert (v.pacemaker_nodes, v.local_has_address, v.oci_node) == (["node1"], True, "node1")
    assert dto.agree and v.oci_error is None
    world.runner.assert_all_called()


def test_oci_moved_behind_the_clusters_back(world: World) -> None:
    world.api.move_behind_back(world.pid, world.vnic2)
    (v,) = status(world.env("node1", ["10.0.0.200"])).vips
    assert [(p.code, p.message) for p in v.problems] == [
        (
            reports.VIP_OCI_ELSEWHERE,
            "OCI assigns it to VNIC {} (node2) but Pacemaker runs it on node1".format(world.vnic2),
        )
    ]
    data = status(world.env("node1", ["10.0.0.200"])).to_dict()
    assert data["agree"] is False
    assert data["vips"][0]["problems"] == [v.problems[0].message]
    assert data["vips"][0]["problem_codes"] == [reports.VIP_OCI_ELSEWHERE]


def test_running_here_without_address(world: World) -> None:
    (v,) = status(world.env("node1", [])).vips
    assert [(p.code, p.message) for p in v.problems] == [
        (reports.VIP_ADDRESS_MISSING, "Pacemaker runs it here on node1 but the address is missing")
    ]


def test_address_here_but_running_elsewhere(world: World) -> None:
    world.api.move_behind_back(world.pid, world.vnic2)
    (v,) = status(world.env("node2", ["10.0.0.200"])).vips
    assert [(p.code, p.message) for p in v.problems] == [
        (
            reports.VIP_ADDRESS_UNEXPECTED,
            "this node node1 has the address but Pacemaker does not run it here",
        )
    ]


def test_similar_address_is_not_the_vip(world: World) -> None:
    (v,) = status(world.env("node2", ["10.0.0.20", "10.0.0.2"])).vips
    assert v.local_has_address is False


def test_oci_error_is_reported_not_a_disagreement(world: World) -> None:
    world.api.fail("get_vnic", cloud_error(503, "ServiceUnavailable"))
    dto = status(world.env("node1", ["10.0.0.200"]))
    (v,) = dto.vips
    assert v.oci_error is not None and v.oci_error.code == reports.OCI_SERVICE_ERROR
    assert "ServiceUnavailable" in dto.to_dict()["vips"][0]["oci_error"]
    assert dto.agree


def test_vip_missing_in_oci_is_a_disagreement(world: World) -> None:
    del world.api.private_ips[world.pid]
    (v,) = status(world.env("node1", ["10.0.0.200"])).vips
    assert [p.code for p in v.problems] == [reports.VIP_NOT_IN_OCI]


def test_without_oci_only_pacemaker_and_the_os_are_compared(world: World) -> None:
    world.api.move_behind_back(world.pid, world.vnic2)
    dto = status(world.env("node1", ["10.0.0.200"]), with_oci=False)
    (v,) = dto.vips
    assert v.oci_error is not None and v.oci_error.severity == reports.INFO
    assert dto.to_dict()["vips"][0]["oci_error"] == "not checked"
    assert dto.agree and world.api.calls == []


def test_unreadable_metadata_is_a_warning_not_a_failure(tmp_path: Any) -> None:
    """node2 has no vnic_id, so status asks IMDS for this node's VNICs; IMDS is down."""
    world = World(tmp_path, node2_vnic=False)
    env = world.env("node1", ["10.0.0.200"], imds=Imds(max_total_seconds=0.5))
    (v,) = status(env).vips
    (warning,) = env.reports
    assert (warning.code, warning.severity) == (reports.IMDS_UNREACHABLE, reports.WARNING)
    assert "discover --update" in warning.hint
    assert v.agree and v.oci_node == "node1"


def test_cli_prints_table_then_each_disagreement(world: World, capsys: Any) -> None:
    """The CLI's rendering of the same result (text and --json), exit 3 on disagreement."""
    import argparse

    from pcs_oci.cli.cluster_cmd import status as status_cmd

    world.api.move_behind_back(world.pid, world.vnic2)
    args = argparse.Namespace(no_oci=False, json=False)
    assert status_cmd(world.env("node1", ["10.0.0.200"]), args) == 3
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == [
        "VIP",
        "IP",
        "PACEMAKER",
        "ADDRESS",
        "ON",
        "node1",
        "OCI",
        "PUBLIC",
        "IP",
        "AGREE",
    ]
    assert lines[1].split()[-2:] == ["-", "NO"]
    assert lines[
        2
    ] == "vip: OCI assigns it to VNIC {} (node2) but Pacemaker runs it on node1".format(world.vnic2)
    args = argparse.Namespace(no_oci=True, json=True)
    assert status_cmd(world.env("node1", ["10.0.0.200"]), args) == 0
    (vip,) = json.loads(capsys.readouterr().out)["vips"]
    assert (vip["oci_error"], vip["problems"], vip["agree"]) == ("not checked", [], True)


def test_the_public_ip_of_the_vips_private_ip_is_shown(world: World, capsys: Any) -> None:
    import argparse

    from pcs_oci.cli.cluster_cmd import status as status_cmd

    world.api.public_ips[world.pid] = {"ip_address": "203.0.113.10", "lifetime": "RESERVED"}
    args = argparse.Namespace(no_oci=False, json=False)
    assert status_cmd(world.env("node1", ["10.0.0.200"]), args) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split()[-3:] == ["203.0.113.10", "(reserved)", "yes"]
    assert ("public_ip_of", {"private_ip_id": world.pid}) in world.api.calls


def test_a_failed_public_ip_read_is_a_warning_not_a_disagreement(world: World) -> None:
    world.api.fail("public_ip_of", cloud_error(500, "InternalError"))
    env = world.env("node1", ["10.0.0.200"])
    dto = status(env)
    (v,) = dto.vips
    assert dto.agree and v.public_ip is None and v.oci_error is None
    (warning,) = env.reports
    assert warning.message.startswith("vip: cannot read its public IP: ")
