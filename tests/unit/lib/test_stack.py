"""Both stack generations through the scripted runner: EL9's (pcs 0.11, Pacemaker
2.1) and EL10's (pcs 0.12, Pacemaker 3.0).

tests/data/stack/<generation>/ holds what the real tools printed in a lab of
each generation (tests/lab/capture_outputs.py: a VIP and two fence_oci
devices configured by pcs-oci, then one failed monitor). The same
expectations hold for both; where the generations differ, lib/stack.py
decides from the tools' own output.
"""

import json
from pathlib import Path
from typing import Any, Dict, List

import pytest

from pcs_oci.lib import pacemaker, stack
from pcs_oci.lib import plan as plan_lib
from pcs_oci.lib.commands import configure
from pcs_oci.lib.env import Env
from tests.tools.fake_runner import Call, FakeRunner, cib_configuration_xml, crm_mon_xml

DATA = Path(__file__).resolve().parents[2] / "data" / "stack"
GENERATIONS = ["el9", "el10"]
PCS = "/usr/sbin/pcs"
CRM_MON = ["/usr/sbin/crm_mon", "--one-shot", "--inactive", "--output-as=xml"]
CIB_CONFIGURATION = ["/usr/sbin/cibadmin", "--query", "--scope", "configuration"]
NET = "192.168.91"  # the recordings' lab subnet


def recorded(generation: str, name: str) -> str:
    return (DATA / generation / name).read_text()


def runner(*calls: Call) -> FakeRunner:
    return FakeRunner(list(calls))


@pytest.mark.parametrize("generation", GENERATIONS)
def test_recordings_name_their_stack(generation: str) -> None:
    versions = dict(line.split(" ", 1) for line in recorded(generation, "VERSIONS").splitlines())
    pacemaker_major = {"el9": "2.", "el10": "3."}[generation]
    assert versions["pacemaker"].startswith(pacemaker_major)
    pcs_minor = {"el9": "0.11.", "el10": "0.12."}[generation]
    assert versions["pcs"].startswith(pcs_minor)


@pytest.mark.parametrize("generation, version", [("el9", (0, 11, 5)), ("el10", (0, 12, 0))])
def test_pcs_version(generation: str, version: tuple) -> None:
    r = runner(Call([PCS, "--version"], recorded(generation, "pcs-version.txt")))
    assert pacemaker.pcs_version(r) == version


@pytest.mark.parametrize("generation", GENERATIONS)
def test_crm_mon_reads_the_same_on_both(generation: str) -> None:
    r = runner(Call(CRM_MON, recorded(generation, "crm_mon.xml")))
    status = pacemaker.cluster_status(r)
    r.assert_all_called()
    assert [(n.name, n.online, n.standby) for n in status.nodes] == [
        ("node1", True, False),
        ("node2", True, False),
    ]
    assert sorted(status.resources) == ["fence_node1", "fence_node2", "vip"]
    vip = status.resources["vip"]
    # the monitor failed on node1, where the VIP still runs (being recovered)
    assert (vip.agent, vip.active_on, vip.failed) == ("ocf:oci:IPaddr2", ["node1"], True)
    for name in ("fence_node1", "fence_node2"):
        fence = status.resources[name]
        assert (fence.agent, fence.failed, fence.role) == ("stonith:fence_oci", False, "Started")
        assert len(fence.active_on) == 1
    assert (status.stonith_enabled, status.fencing_option) == (True, "stonith-enabled")
    assert status.have_quorum
    (failure,) = status.failures
    assert (failure["op_key"], failure["node"], failure["exitcode"]) == (
        "vip_monitor_5000",
        "node1",
        "7",
    )


@pytest.mark.parametrize("generation", GENERATIONS)
def test_cib_configuration_reads_the_same_on_both(generation: str) -> None:
    r = runner(Call(CIB_CONFIGURATION, recorded(generation, "cib-configuration.xml")))
    cib = pacemaker.configuration(r)
    found = pacemaker.primitives_in(cib)
    assert sorted(found) == ["fence_node1", "fence_node2", "vip"]
    vip = found["vip"]
    assert vip.agent == "ocf:oci:IPaddr2"
    assert {k: vip.params[k] for k in ("ip", "cidr_netmask", "nic")} == {
        "ip": NET + ".200",
        "cidr_netmask": "24",
        "nic": "eth0",
    }
    assert vip.params["vnic_ids"].startswith("node1=ocid1.vnic.")
    assert vip.meta == {"resource-stickiness": "100"}
    assert [(o.name, o.interval) for o in vip.ops] == [
        ("monitor", "5s"),
        ("start", "0s"),
        ("stop", "0s"),
    ]
    fence = found["fence_node1"]
    assert fence.agent == "stonith:fence_oci"
    assert fence.params["pcmk_host_map"] == "node1:" + fence.params["plug"]
    assert pacemaker.resource_defaults(cib) == {}


@pytest.mark.parametrize("generation", GENERATIONS)
def test_cib_status_reads_the_same_on_both(generation: str) -> None:
    cib_status = ["/usr/sbin/cibadmin", "--query", "--scope", "status"]
    r = runner(Call(cib_status, recorded(generation, "cib-status.xml")))
    assert pacemaker.agent_missing_on(r, ["vip", "fence_node1"]) == {}
    r.assert_all_called()


# -- Pacemaker 3.0.2 renamed stonith-enabled to fencing-enabled


def crm_mon_3_0_2(fencing: str) -> str:
    """EL10's recording as Pacemaker 3.0.2 prints it (crm_mon schema 2.42):
    fencing-enabled, and the deprecated stonith-enabled with the same value."""
    text = recorded("el10", "crm_mon.xml")
    old = '<cluster_options stonith-enabled="true"'
    assert old in text
    return text.replace(
        old,
        '<cluster_options fencing-enabled="{0}" fencing-timeout-ms="60000" '
        'stonith-enabled="{0}"'.format(fencing),
    )


@pytest.mark.parametrize(
    "options, name, enabled",
    [
        ({"stonith-enabled": "true"}, "stonith-enabled", True),
        ({"stonith-enabled": "false"}, "stonith-enabled", False),
        ({"fencing-enabled": "true", "stonith-enabled": "true"}, "fencing-enabled", True),
        ({"fencing-enabled": "false", "stonith-enabled": "false"}, "fencing-enabled", False),
        # the new name is what counts once Pacemaker shows it
        ({"fencing-enabled": "false", "stonith-enabled": "true"}, "fencing-enabled", False),
        ({}, "stonith-enabled", False),
    ],
)
def test_fencing_option_follows_crm_mon(options: Dict[str, str], name: str, enabled: bool) -> None:
    assert (stack.fencing_option(options), stack.fencing_enabled(options)) == (name, enabled)


@pytest.mark.parametrize("fencing", ["true", "false"])
def test_crm_mon_of_pacemaker_3_0_2(fencing: str) -> None:
    status = pacemaker.cluster_status(runner(Call(CRM_MON, crm_mon_3_0_2(fencing))))
    assert (status.fencing_option, status.stonith_enabled) == ("fencing-enabled", fencing == "true")


@pytest.mark.parametrize(
    "version, argv",
    [
        ((0, 10, 18), [PCS, "resource", "defaults", "resource-stickiness=100"]),
        ((0, 11, 5), [PCS, "resource", "defaults", "update", "resource-stickiness=100"]),
        ((0, 12, 0), [PCS, "resource", "defaults", "update", "resource-stickiness=100"]),
    ],
)
def test_resource_defaults_per_pcs_generation(version: tuple, argv: List[str]) -> None:
    assert stack.resource_defaults_argv(version, "resource-stickiness=100") == argv


# configure --fencing on each generation: the option it sets is the one that
# Pacemaker reads (on 3.0.2 the old name would be overridden by the new).

I1 = "ocid1.instance.oc1.iad.node1aaaa"
I2 = "ocid1.instance.oc1.iad.node2bbbb"
CONFIG: Dict[str, Any] = {
    "nodes": [
        {"hostname": "node1", "vnic_id": "ocid1.vnic.oc1.iad.aaaa", "instance_id": I1},
        {"hostname": "node2", "vnic_id": "ocid1.vnic.oc1.iad.bbbb", "instance_id": I2},
    ],
    "vips": [{"name": "vip", "ip": "10.0.0.200", "cidr_netmask": 24}],
}


@pytest.fixture
def env_for(tmp_path: Any, monkeypatch: Any) -> Any:
    monkeypatch.setattr(pacemaker, "agent_installed", lambda: True)
    monkeypatch.setattr(pacemaker, "fence_agent_installed", lambda: True)

    def make(calls: List[Call]) -> Env:
        path = tmp_path / "pcs-oci.json"
        path.write_text(json.dumps(CONFIG))
        return Env(config_path=str(path), runner=FakeRunner(calls))

    return make


def fencing_plan(env_for: Any, pcs_version: str, crm_mon: str) -> plan_lib.ClusterPlan:
    env = env_for(
        [
            Call([PCS, "--version"], pcs_version + "\n"),
            Call(CRM_MON, crm_mon),
            Call(CIB_CONFIGURATION, cib_configuration_xml()),
        ]
    )
    result = configure.configure(env, dry_run=True, fencing=True)
    env.runner.assert_all_called()
    return result


@pytest.mark.parametrize(
    "pcs_version, crm_mon, option",
    [
        ("0.11.5", crm_mon_xml(stonith=False), "stonith-enabled"),
        ("0.12.0.2", crm_mon_xml(stonith=False), "stonith-enabled"),
        ("0.12.3", crm_mon_3_0_2("false"), "fencing-enabled"),
    ],
)
def test_configure_fencing_sets_the_option_pacemaker_reads(
    env_for: Any, pcs_version: str, crm_mon: str, option: str
) -> None:
    plan = fencing_plan(env_for, pcs_version, crm_mon).fencing[-1]
    assert (plan.name, plan.action) == (option, "set")
    (step,) = plan.steps
    assert step.argv == [PCS, "property", "set", option + "=true"]
    assert step.undo == [[PCS, "property", "set", option + "=false"]]


def test_configure_fencing_on_3_0_2_with_fencing_enabled_changes_nothing(env_for: Any) -> None:
    plan = fencing_plan(env_for, "0.12.3", crm_mon_3_0_2("true")).fencing[-1]
    assert (plan.name, plan.action, plan.steps) == ("fencing-enabled", "unchanged", [])
