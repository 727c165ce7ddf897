"""verify's checks on their own: a missing tool is a SKIP with its reason, never an abort."""

import json
from typing import Any

import pytest

from pcs_oci import settings
from pcs_oci.common import checks
from pcs_oci.lib import config as config_lib
from pcs_oci.lib.checks import cluster, host, node
from pcs_oci.lib.runner import CommandRunner
from tests.tools.fake_runner import Call, FakeRunner, crm_mon_xml

CRM_MON = ["/usr/sbin/crm_mon", "--one-shot", "--inactive", "--output-as=xml"]
TWO_NODE = ["/usr/sbin/corosync-cmapctl", "-g", "quorum.two_node"]
NOT_INSTALLED = "{} is not installed (install the package that provides it)"


def two_nodes() -> cluster.ClusterFacts:
    return cluster.read_cluster(FakeRunner([Call(CRM_MON, crm_mon_xml(("node1", "node2")))]))


def missing_tool(tmp_path: Any, monkeypatch: Any, name: str) -> str:
    path = str(tmp_path / "not-installed" / name.lower())
    monkeypatch.setattr(settings, name, path)
    return path


def test_every_check_id_has_one_title() -> None:
    ids = {
        value
        for key, value in vars(checks).items()
        if key.isupper() and isinstance(value, str) and value not in checks.STATUSES
    }
    assert ids == set(checks.TITLES)
    assert checks.row(checks.QUORUM, checks.PASS, "x").title == checks.TITLES[checks.QUORUM]


def test_node_name_without_crm_node(tmp_path: Any, monkeypatch: Any) -> None:
    path = missing_tool(tmp_path, monkeypatch, "CRM_NODE")
    name = node.read_node_name(CommandRunner())
    assert name.name is None
    config_path = tmp_path / "pcs-oci.json"
    config_path.write_text(
        json.dumps(
            {
                "nodes": [{"hostname": "node1"}, {"hostname": "node2"}],
                "vips": [{"name": "vip", "ip": "10.0.0.200"}],
            }
        )
    )
    config = config_lib.load(str(config_path))
    assert node.check_node_in_config(config, name) == [
        checks.skip(
            checks.NODE_IN_CONFIG, "cannot tell this node's name: " + NOT_INSTALLED.format(path)
        )
    ]
    assert node.check_node_in_config(None, name) == [
        checks.skip(checks.NODE_IN_CONFIG, "no valid config")
    ]


def test_quorum_without_corosync_cmapctl(tmp_path: Any, monkeypatch: Any) -> None:
    path = missing_tool(tmp_path, monkeypatch, "COROSYNC_CMAPCTL")
    here = two_nodes()
    assert cluster.check_quorum(here, cluster.read_quorum(CommandRunner(), here)) == [
        checks.skip(checks.QUORUM, "cannot read the quorum settings: " + NOT_INSTALLED.format(path))
    ]


def test_quorum_without_crm_attribute(tmp_path: Any, monkeypatch: Any) -> None:
    # corosync answers (no two_node), Pacemaker's crm_attribute is not there.
    monkeypatch.setattr(settings, "COROSYNC_CMAPCTL", "/bin/true")
    path = missing_tool(tmp_path, monkeypatch, "CRM_ATTRIBUTE")
    here = two_nodes()
    quorum = cluster.read_quorum(CommandRunner(), here)
    assert quorum == cluster.QuorumFacts(False, None, NOT_INSTALLED.format(path))
    assert cluster.check_quorum(here, quorum)[0].status == checks.SKIP


def test_quorum_asks_corosync_for_two_nodes_only() -> None:
    here = two_nodes()
    runner = FakeRunner([Call(TWO_NODE, "quorum.two_node (u8) = 1\n")])
    assert cluster.check_quorum(here, cluster.read_quorum(runner, here)) == [
        checks.row(checks.QUORUM, checks.PASS, "two_node: 1")
    ]
    runner.assert_all_called()
    three = cluster.read_cluster(FakeRunner([Call(CRM_MON, crm_mon_xml(("a", "b", "c")))]))
    assert cluster.check_quorum(three, cluster.read_quorum(FakeRunner([]), three)) == [
        checks.row(checks.QUORUM, checks.PASS, "3 nodes")
    ]


@pytest.mark.parametrize(
    "returncode, status, detail",
    [
        (0, checks.PASS, "high-availability service open"),
        (1, checks.FAIL, "firewalld runs without the high-availability service"),
    ],
)
def test_firewall_asks_firewalld_when_it_runs(
    monkeypatch: Any, returncode: int, status: str, detail: str
) -> None:
    monkeypatch.setattr(host, "_process_running", lambda name: name == "firewalld")
    query = [settings.FIREWALL_CMD, "--query-service=high-availability"]
    runner = FakeRunner([Call(query, returncode=returncode)])
    (found,) = host.check_firewall(host.read_firewall(runner))
    runner.assert_all_called()
    assert (found.status, found.detail) == (status, detail)


def test_firewall_without_firewall_cmd(tmp_path: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(host, "_process_running", lambda name: name == "firewalld")
    path = missing_tool(tmp_path, monkeypatch, "FIREWALL_CMD")
    assert host.check_firewall(host.read_firewall(CommandRunner())) == [
        checks.skip(
            checks.FIREWALL,
            "firewalld runs, but cannot be asked: " + NOT_INSTALLED.format(path),
        )
    ]


def test_no_firewalld_runs_nothing(monkeypatch: Any) -> None:
    monkeypatch.setattr(host, "_process_running", lambda name: False)
    runner = FakeRunner([])
    assert host.check_firewall(host.read_firewall(runner))[0].detail == "firewalld is not running"
