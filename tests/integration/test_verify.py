"""verify: real IMDS client and SDK against the fakes, scripted cluster tools.

Each injected fault must show up in the right check with its fix. The same
checks run against a real cluster in tests/lab.
"""

import json
from typing import Any, Dict, List, Optional

import pytest

from pcs_oci import settings
from pcs_oci.cli.main import main
from pcs_oci.common import checks, exit_codes
from pcs_oci.lib import pacemaker, rpminfo
from pcs_oci.lib.checks import host
from pcs_oci.lib.commands.verify import verify
from pcs_oci.lib.env import Env
from pcs_oci.lib.imds import Imds
from tests.fakes.harness import FakeOci
from tests.tools.fake_runner import (
    Call,
    FakeRunner,
    cib_configuration_xml,
    crm_mon_xml,
    primitive_xml,
)

CRM_MON = ["/usr/sbin/crm_mon", "--one-shot", "--inactive", "--output-as=xml"]
CIB = ["/usr/sbin/cibadmin", "--query", "--scope", "configuration"]
CIB_STATUS = ["/usr/sbin/cibadmin", "--query", "--scope", "status"]
TWO_NODE = ["/usr/sbin/corosync-cmapctl", "-g", "quorum.two_node"]
RPM_VERIFY = ["rpm", "-V", "--nodeps", "--noscripts", "resource-agents"]
DPKG_VERIFY = ["dpkg", "--verify", "resource-agents"]
NOT_INSTALLED = "{} is not installed (install the package that provides it)"
# What the sed recipe adds to heartbeat IPaddr2 (tests/tools/sed_recipe.py
# applies it to the shipped file in tests/unit/lib/test_legacy.py).
RECIPE_CALL = (
    "  /usr/bin/oci network vnic assign-private-ip --unassign-if-already-assigned "
    "--vnic-id $node1vnic --ip-address $vnicip\n"
)


class Setup:
    def __init__(self, tmp_path: Any, fake: FakeOci, monkeypatch: Any):
        self.tmp_path = tmp_path
        self.fake = fake
        self.monkeypatch = monkeypatch
        monkeypatch.setenv("PCS_OCI_FEDERATION_ENDPOINT", fake.federation_endpoint)
        monkeypatch.setattr(pacemaker, "agent_installed", lambda: True)
        # Package queries (rpm/dpkg) are tested in tests/unit/lib/test_rpminfo.py
        # and for real in the lab; here the stack is what a healthy node has.
        self.packages = [
            rpminfo.Package(n, "1.0-1", "rpm")
            for n in ("pacemaker", "pcs", "resource-agents", "python39-oci-sdk", "pcs-oci")
        ]
        self.file_check = rpminfo.FileCheck("pcs-oci", True, [], [])
        monkeypatch.setattr(rpminfo.RpmInfo, "stack", lambda _self: self.packages)
        monkeypatch.setattr(
            rpminfo.RpmInfo, "verify_files", lambda _self, name="pcs-oci": self.file_check
        )
        monkeypatch.setattr(pacemaker, "fence_agent_installed", lambda: True)
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
        self.rsc_defaults: Optional[Dict[str, str]] = None
        self.status_xml = "<status/>"
        # This node's OCF agents: a scratch tree, as resource-agents installs it.
        self.ocf = tmp_path / "ocf"
        self.heartbeat = self.ocf / "resource.d" / "heartbeat"
        self.heartbeat.mkdir(parents=True)
        (self.heartbeat / "IPaddr2").write_text("#!/bin/sh\nip -f inet addr add $ip dev $nic\n")
        (self.heartbeat / "ocivip").write_text(
            '#!/bin/sh\n"${OCICLI}" network vnic assign-private-ip --vnic-id "$vnic"\n'
        )
        monkeypatch.setattr(settings, "OCF_ROOT", str(self.ocf))
        monkeypatch.setattr(settings, "HEARTBEAT_IPADDR2", str(self.heartbeat / "IPaddr2"))
        # The package manager's verify of resource-agents: rpm's, intact.
        self.package_verify = [Call(RPM_VERIFY)]

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
            {
                "resource-stickiness": str(self.doc.get("resource_stickiness", 100)),
                # Two start timeouts, as configure sets it.
                "failure-timeout": "140s",
            },
            [("monitor", "10s", "20s"), ("start", "0s", "70s"), ("stop", "0s", "20s")],
        )
        resources = [("vip", "ocf:oci:IPaddr2", "node1")]
        primitives = [resource]
        fence_status: List[Call] = []
        if self.stonith:
            resources.append(("fence", "stonith:fence_oci", "node2"))
            # The device `configure --fencing` makes; verify runs its status.
            plug = self.fake.node("node2")["instance_id"]
            params = {"plug": plug, "pcmk_host_map": "node2:" + plug}
            params.update(endpoint=self.fake.core_endpoint, api_timeout="3")
            primitives.append(primitive_xml("fence", params, agent=("stonith", "", "fence_oci")))
            argv = ["/usr/sbin/fence_oci", "--action=status", "--plug=" + plug]
            argv += ["--endpoint=" + self.fake.core_endpoint, "--api-timeout=3"]
            fence_status.append(Call(argv, "Status: ON\n"))
        return FakeRunner(
            [
                Call(CRM_MON, crm_mon_xml(self.cluster_nodes, resources, stonith=self.stonith)),
                Call(["/usr/sbin/crm_node", "-n"], self.local + "\n"),
                Call(CIB_STATUS, self.status_xml),
                Call(CIB, cib_configuration_xml(primitives, rsc_defaults=self.rsc_defaults)),
            ]
            + (
                [Call(TWO_NODE, "quorum.two_node (u8) = 1\n")]
                if len(self.cluster_nodes) == 2
                else []
            )
            + fence_status
            + self.package_verify
        )

    def run(self) -> Dict[str, Any]:
        path = self.tmp_path / "pcs-oci.json"
        path.write_text(json.dumps(self.doc))
        self.monkeypatch.setenv("OCI_METADATA_BASE_URL", self.fake.imds_base(self.local))
        runner = self.runner()
        env = Env(config_path=str(path), runner=runner, imds=Imds(max_total_seconds=0.5))
        result = verify(env)
        runner.assert_all_called()
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
    # Instance principals need the metadata service for their certificate:
    # no token retries, no misleading dynamic-group advice.
    assert checks["oci_auth"].status == "SKIP"
    assert "instance metadata service" in checks["oci_auth"].detail
    assert checks["_ok"] is False


def test_auth_denied_names_the_policy(setup: Setup) -> None:
    setup.fake.deny(setup.fake.node("node1")["instance_id"])
    checks = setup.run()
    assert checks["oci_permission"].status == "FAIL"
    assert "allow dynamic-group" in checks["oci_permission"].fix
    assert checks["_ok"] is False


def test_a_private_ip_refused_in_a_body_names_the_policy(setup: Setup) -> None:
    """GetPublicIpByPrivateIpId names the private IP in its body: a denied one
    answers 400 RelatedResourceNotAuthorizedOrNotFound, which gets the same
    policy fix as a 404 NotAuthorizedOrNotFound."""
    vip = setup.fake.add_private_ip("10.0.0.200", "node1")
    setup.fake.deny_resources("node1", [vip["id"]])
    checks = setup.run()
    public = checks["public_ip"]
    assert public.status == "WARN"
    assert "RelatedResourceNotAuthorizedOrNotFound (HTTP 400" in public.detail
    assert "`pcs-oci policy` prints them all" in public.detail
    assert "`pcs-oci policy` prints every statement" in public.fix


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


def _vip_with_meta(setup: Setup, meta: Dict[str, str]) -> str:
    vnic_ids = "node1={},node2={}".format(
        setup.fake.node("node1")["vnic_id"], setup.fake.node("node2")["vnic_id"]
    )
    params = {"ip": "10.0.0.200", "cidr_netmask": "24", "vnic_ids": vnic_ids}
    params.update(endpoint=setup.fake.core_endpoint, api_timeout="3")
    ops = [("monitor", "10s", "20s"), ("start", "0s", "70s"), ("stop", "0s", "20s")]
    return primitive_xml("vip", params, meta, ops)


def test_a_vip_without_failure_timeout_warns_with_the_fix(setup: Setup) -> None:
    setup.resource = _vip_with_meta(setup, {"resource-stickiness": "100", "failure-timeout": "0"})
    checks = setup.run()
    assert checks["failure_timeout"].status == "WARN"
    assert checks["failure_timeout"].detail.startswith("no failure-timeout on vip: ")
    assert checks["failure_timeout"].fix == (
        "`pcs-oci configure` sets failure-timeout=140s on each VIP"
    )
    assert "meta failure-timeout: 0 -> 140s" in checks["resources"].detail


def test_a_failure_timeout_from_the_resource_defaults_counts(setup: Setup) -> None:
    setup.resource = _vip_with_meta(setup, {"resource-stickiness": "100"})
    setup.rsc_defaults = {"failure-timeout": "5min"}
    assert setup.run()["failure_timeout"].status == "PASS"
    setup.rsc_defaults = None
    assert setup.run()["failure_timeout"].status == "WARN"


def test_other_nodes_wrong_vnic_id_fails_before_a_failover_does(setup: Setup) -> None:
    setup.fake.add_private_ip("10.0.0.200", "node1")
    setup.doc["nodes"][1]["vnic_id"] = "ocid1.vnic.oc1.iad.somebodyelse"
    checks = setup.run()
    assert checks["local_vnic"].status == "PASS"
    assert checks["node_vnics"].status == "FAIL"
    assert checks["node_vnics"].detail.startswith("node2: ")
    assert "pcs-oci discover --all --update" in checks["node_vnics"].fix
    assert checks["_ok"] is False


def test_other_nodes_vnics_pass_when_they_exist_in_the_subnet(setup: Setup) -> None:
    setup.fake.add_private_ip("10.0.0.200", "node1")
    checks = setup.run()
    assert (checks["node_vnics"].status, checks["node_vnics"].detail) == ("PASS", "node2")


def test_agent_missing_on_another_node_from_pacemakers_probe(setup: Setup) -> None:
    setup.status_xml = (
        '<status><node_state uname="node2"><lrm><lrm_resources>'
        '<lrm_resource id="vip" class="ocf" provider="oci" type="IPaddr2">'
        '<lrm_rsc_op id="vip_last_0" operation="monitor" rc-code="5" op-status="7" '
        'exit-reason="IPaddr2: No such file or directory"/>'
        "</lrm_resource></lrm_resources></lrm></node_state>"
        '<node_state uname="node1"><lrm><lrm_resources>'
        '<lrm_resource id="vip" class="ocf" provider="oci" type="IPaddr2">'
        '<lrm_rsc_op id="vip_last_0" operation="start" rc-code="0" op-status="0"/>'
        "</lrm_resource></lrm_resources></lrm></node_state></status>"
    )
    checks = setup.run()
    agent = checks["agent"]
    assert agent.status == "FAIL"
    assert "missing on node2" in agent.detail and "No such file or directory" in agent.detail
    assert "node1" not in agent.detail
    assert "pcs resource refresh vip node=node2" in agent.fix


def test_stickiness_zero_on_the_resource_warns_though_the_config_has_100(
    setup: Setup,
) -> None:
    setup.resource = primitive_xml(
        "vip", {"ip": "10.0.0.200"}, {"resource-stickiness": "0"}, [("monitor", "10s", "20s")]
    )
    checks = setup.run()
    assert checks["stickiness"].status == "WARN"
    assert "vip has resource-stickiness=0 (its meta attribute)" in checks["stickiness"].detail
    assert "pcs-oci configure" in checks["stickiness"].fix


def test_stickiness_comes_from_the_cluster_default_without_a_meta_attribute(
    setup: Setup,
) -> None:
    setup.resource = primitive_xml("vip", {"ip": "10.0.0.200"}, {}, [])
    setup.rsc_defaults = {"resource-stickiness": "0"}
    assert "(the cluster default)" in setup.run()["stickiness"].detail
    setup.rsc_defaults = {"resource-stickiness": "INFINITY"}
    assert setup.run()["stickiness"].status == "PASS"
    setup.rsc_defaults = None
    assert "(Pacemaker's default)" in setup.run()["stickiness"].detail


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


def test_missing_package_fails_with_the_install_command(setup: Setup) -> None:
    setup.packages[2] = rpminfo.Package("resource-agents", None)
    checks = setup.run()
    assert checks["packages"].status == "FAIL"
    assert checks["packages"].fix == "yum install resource-agents"


def test_modified_pcs_oci_files_warn(setup: Setup) -> None:
    change = rpminfo.FileChange("/usr/lib/ocf/resource.d/oci/IPaddr2", "S.5....T.")
    setup.file_check = rpminfo.FileCheck("pcs-oci", True, [change], [])
    checks = setup.run()
    assert checks["packages"].status == "WARN"
    assert "/usr/lib/ocf/resource.d/oci/IPaddr2" in checks["packages"].detail
    assert "reinstall" in checks["packages"].fix


def test_rows_come_in_the_documented_order(setup: Setup) -> None:
    setup.fake.add_private_ip("10.0.0.200", "node1")
    ids = [k for k in setup.run() if k != "_ok"]
    assert ids == list(checks.TITLES)


def test_missing_cluster_tools_give_skip_rows_not_an_abort(
    setup: Setup, tmp_path: Any, monkeypatch: Any, capsys: Any
) -> None:
    """No Pacemaker, corosync or firewall-cmd on this node: the real runner
    finds none of them, and verify still lists every check: SKIP rows that
    say why, not an abort with exit 5 (CLUSTER)."""
    missing = tmp_path / "not-installed"
    for name in (
        "PCS",
        "CRM_MON",
        "CRM_NODE",
        "CIBADMIN",
        "CRM_ATTRIBUTE",
        "COROSYNC_CMAPCTL",
        "FIREWALL_CMD",
        "FENCE_AGENT",
    ):
        monkeypatch.setattr(settings, name, str(missing / name.lower()))
    monkeypatch.setattr(host, "_process_running", lambda name: name == "firewalld")
    # Neither rpm nor dpkg on the PATH.
    monkeypatch.setenv("PATH", str(missing))
    path = tmp_path / "pcs-oci.json"
    path.write_text(json.dumps(setup.doc))
    monkeypatch.setenv("OCI_METADATA_BASE_URL", setup.fake.imds_base("node1"))

    rc = main(["-c", str(path), "verify", "--json"])

    out = capsys.readouterr()
    # Nothing FAILs here: the agent and the packages are there (see Setup).
    assert rc == exit_codes.OK, out.err
    rows = {c["id"]: c for c in json.loads(out.out)["checks"]}
    assert list(rows) == list(checks.TITLES)
    crm_node = rows["node_in_config"]
    assert crm_node["status"] == "SKIP"
    assert crm_node["detail"].startswith("cannot tell this node's name: ")
    assert str(missing / "crm_node") + " is not installed" in crm_node["detail"]
    for id in ("cluster_nodes", "nodes_online", "resources", "fencing", "quorum"):
        assert rows[id]["status"] == "SKIP", rows[id]
        assert "crm_mon is not installed" in rows[id]["detail"], rows[id]
    assert rows["fence_agent"]["status"] == "SKIP"
    assert rows["firewall"]["status"] == "SKIP"
    assert "firewall_cmd is not installed" in rows["firewall"]["detail"]
    assert rows["legacy_ipaddr2"] == {
        "id": "legacy_ipaddr2",
        "title": checks.TITLES["legacy_ipaddr2"],
        "status": "SKIP",
        "detail": "cannot verify resource-agents: " + NOT_INSTALLED.format("dpkg"),
        "fix": "",
    }
    assert rows["legacy_ocivip"]["status"] == "SKIP"
    assert "crm_mon is not installed" in rows["legacy_ocivip"]["detail"]
    # The scratch tree's ocivip calls the oci CLI, and nothing can say it is the packaged one.
    assert rows["oci_cli_agents"]["status"] == "SKIP"
    assert rows["oci_cli_agents"]["detail"].endswith(
        "cannot tell whether it is the packaged agent: " + NOT_INSTALLED.format("dpkg")
    )
    # What needs no cluster tool still ran.
    assert rows["imds"]["status"] == "PASS" and rows["oci_auth"]["status"] == "PASS"


def test_verify_shows_the_age_of_the_cached_session_not_its_content(setup: Setup) -> None:
    from pcs_oci.lib.oci import session_cache

    checks = setup.run()  # instance principal: this run makes (and keeps) a session
    assert checks["oci_auth"].status == "PASS"
    detail = checks["oci_auth"].detail
    assert "cached instance-principal session" in detail and "valid for" in detail
    cached = session_cache.load(session_cache.identity())
    assert cached is not None
    text = json.dumps({k: v._asdict() for k, v in checks.items() if k != "_ok"})
    assert cached.token not in text and cached.private_key["d"] not in text
