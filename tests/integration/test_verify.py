"""verify: real IMDS client and SDK against the fakes, scripted cluster tools.

Each injected fault must show up in the right check with its fix. The same
checks run against a real cluster in tests/lab.
"""

import json
from typing import Any, Dict, List, Optional

import pytest

from pcs_oci.lib import pacemaker
from pcs_oci.lib.commands.verify import verify
from pcs_oci.lib.env import Env
from pcs_oci.lib.imds import Imds
from tests.fakes.harness import FakeOci
from tests.tools.fake_runner import Call, FakeRunner, cib_resources_xml, crm_mon_xml, primitive_xml

CRM_MON = ["/usr/sbin/crm_mon", "--one-shot", "--inactive", "--output-as=xml"]
CIB = ["/usr/sbin/cibadmin", "--query", "--scope", "resources"]
TWO_NODE = ["/usr/sbin/corosync-cmapctl", "-g", "quorum.two_node"]


class Setup:
    def __init__(self, tmp_path: Any, fake: FakeOci, monkeypatch: Any):
        self.tmp_path = tmp_path
        self.fake = fake
        self.monkeypatch = monkeypatch
        monkeypatch.setenv("PCS_OCI_FEDERATION_ENDPOINT", fake.federation_endpoint)
        monkeypatch.setattr(pacemaker, "agent_installed", lambda: True)
        self.doc: Dict[str, Any] = {
            "nodes": [
                {"hostname": "node1", "vnic_id": fake.node("node1")["vnic_id"]},
                {"hostname": "node2", "vnic_id": fake.node("node2")["vnic_id"]},
            ],
            "vips": [{"name": "vip", "ip": "10.0.0.200", "cidr_netmask": 24}],
            "oci": {"endpoint": fake.core_endpoint, "timeout": 3},
        }
        self.local = "node1"
        self.cluster_nodes = ("node1", "node2")
        self.stonith = True
        self.resource: Optional[str] = None

    def runner(self) -> FakeRunner:
        vnic_ids = "node1={},node2={}".format(
            self.fake.node("node1")["vnic_id"], self.fake.node("node2")["vnic_id"]
        )
        resource = self.resource or primitive_xml(
            "vip",
            {
                "ip": "10.0.0.200",
                "cidr_netmask": "24",
                "vnic_ids": vnic_ids,
                "endpoint": self.fake.core_endpoint,
                "api_timeout": "3",
            },
            {"resource-stickiness": str(self.doc.get("resource_stickiness", 100))},
            [("monitor", "10s", "20s"), ("start", "0s", "70s"), ("stop", "0s", "20s")],
        )
        resources = [("vip", "ocf:oci:IPaddr2", "node1")]
        if self.stonith:
            resources.append(("fence", "stonith:fence_oci", "node2"))
        return FakeRunner(
            [
                Call(CRM_MON, crm_mon_xml(self.cluster_nodes, resources, stonith=self.stonith)),
                Call(["/usr/sbin/crm_node", "-n"], self.local + "\n"),
                Call(CIB, cib_resources_xml([resource])),
            ]
            + (
                [Call(TWO_NODE, "quorum.two_node (u8) = 1\n")]
                if len(self.cluster_nodes) == 2
                else []
            )
        )

    def run(self) -> Dict[str, Any]:
        path = self.tmp_path / "pcs-oci.json"
        path.write_text(json.dumps(self.doc))
        self.monkeypatch.setenv("OCI_METADATA_BASE_URL", self.fake.imds_base(self.local))
        env = Env(config_path=str(path), runner=self.runner(), imds=Imds(max_total_seconds=0.5))
        result = verify(env)
        checks: Dict[str, Any] = {c.id: c for c in result.checks}
        checks["_ok"] = result.ok
        return checks


@pytest.fixture
def setup(tmp_path: Any, fake_oci: FakeOci, monkeypatch: Any) -> Setup:
    return Setup(tmp_path, fake_oci, monkeypatch)


def statuses(checks: Dict[str, Any]) -> Dict[str, str]:
    return {k: v.status for k, v in checks.items() if k != "_ok"}


def test_healthy_setup_passes_everything(setup: Setup) -> None:
    setup.fake.add_private_ip("10.0.0.200", "node1")
    checks = setup.run()
    failing = {
        k: (v.status, v.detail) for k, v in checks.items() if k != "_ok" and v.status != "PASS"
    }
    assert failing == {}
    assert checks["_ok"] is True


def test_wrong_vnic_id_names_discover_update(setup: Setup) -> None:
    setup.doc["nodes"][0]["vnic_id"] = "ocid1.vnic.oc1.iad.somebodyelse"
    checks = setup.run()
    assert checks["local_vnic"].status == "FAIL"
    assert "pcs-oci discover --update" in checks["local_vnic"].fix


def test_imds_down(setup: Setup) -> None:
    setup.fake.imds_down("node1")
    checks = setup.run()
    assert checks["imds"].status == "FAIL"
    assert "unreachable" in checks["imds"].detail
    assert checks["local_vnic"].status == "SKIP"
    # Instance principals need the metadata service for their certificate.
    assert checks["oci_auth"].status == "FAIL"


def test_auth_denied_names_the_policy(setup: Setup) -> None:
    setup.fake.deny(setup.fake.node("node1")["instance_id"])
    checks = setup.run()
    assert checks["oci_permission"].status == "FAIL"
    assert "allow dynamic-group" in checks["oci_permission"].fix
    assert checks["_ok"] is False


def test_federation_failure_is_an_auth_failure(setup: Setup) -> None:
    setup.fake.faults.add("Federation", status=401, code="NotAuthenticated", count=None)
    checks = setup.run()
    assert checks["oci_auth"].status == "FAIL"
    assert "dynamic group" in checks["oci_auth"].fix


def test_missing_agent(setup: Setup) -> None:
    setup.monkeypatch.setattr(pacemaker, "agent_installed", lambda: False)
    checks = setup.run()
    assert checks["agent"].status == "FAIL"
    assert "yum install pcs-oci" in checks["agent"].fix


def test_stickiness_zero_warns_about_failback(setup: Setup) -> None:
    setup.doc["resource_stickiness"] = 0
    checks = setup.run()
    assert checks["stickiness"].status == "WARN"
    assert "resource_stickiness" in checks["stickiness"].fix


def test_node_not_in_config(setup: Setup) -> None:
    setup.cluster_nodes = ("node1", "node2", "node3")
    checks = setup.run()
    assert checks["cluster_nodes"].status == "WARN"
    assert "node3" in checks["cluster_nodes"].detail


def test_vip_is_a_primary_ip(setup: Setup) -> None:
    setup.doc["vips"] = [{"name": "vip", "ip": setup.fake.node("node2")["private_ip"]}]
    checks = setup.run()
    assert checks["vip_private_ip"].status == "FAIL"
    assert "primary" in checks["vip_private_ip"].detail


def test_missing_private_ip_warns_it_will_be_created(setup: Setup) -> None:
    checks = setup.run()
    assert checks["vip_private_ip"].status == "WARN"
    assert "first start creates it" in checks["vip_private_ip"].detail


def test_no_fencing_warns_about_split_brain(setup: Setup) -> None:
    setup.stonith = False
    checks = setup.run()
    assert checks["fencing"].status == "WARN"
    assert "stonith-enabled=true" in checks["fencing"].fix


def test_resource_drift_points_at_configure(setup: Setup) -> None:
    setup.resource = primitive_xml("vip", {"ip": "10.0.0.200"}, {}, [])
    checks = setup.run()
    assert checks["resources"].status == "WARN"
    assert "pcs-oci configure" in checks["resources"].fix


def test_foreign_resource_fails(setup: Setup) -> None:
    setup.resource = primitive_xml(
        "vip", {"ip": "10.0.0.200"}, agent=("ocf", "heartbeat", "IPaddr2")
    )
    checks = setup.run()
    assert checks["resources"].status == "FAIL"


def test_verify_json_has_no_secrets(setup: Setup, tmp_path: Any) -> None:
    config_path, profile = setup.fake.write_api_key_config(str(tmp_path))
    setup.doc["oci"] = {
        "auth": "api_key",
        "config_file": config_path,
        "profile": profile,
        "endpoint": setup.fake.core_endpoint,
        "region": "us-ashburn-1",
    }
    checks = setup.run()
    assert checks["oci_auth"].status == "PASS"
    text = json.dumps({k: v._asdict() for k, v in checks.items() if k != "_ok"})
    key_text = open(config_path).read()
    assert "PRIVATE KEY" not in text
    assert "fingerprint" not in text and key_text not in text


def lines(checks: Dict[str, Any]) -> List[str]:
    return [k for k, v in checks.items() if k != "_ok" and v.status == "FAIL"]
