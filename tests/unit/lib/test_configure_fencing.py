"""configure --fencing against a scripted runner: the pcs command lines, exactly."""

import argparse
import json
import xml.etree.ElementTree as ET
from typing import Any, Dict, List, Optional

import pytest

from pcs_oci.cli import cluster_cmd
from pcs_oci.common import exit_codes, reports
from pcs_oci.lib import config as config_lib
from pcs_oci.lib import pacemaker
from pcs_oci.lib.checks import fencing as fencing_checks
from pcs_oci.lib.commands import configure
from pcs_oci.lib.env import Env
from pcs_oci.lib.errors import PcsOciError
from tests.tools.fake_runner import (
    Call,
    FakeRunner,
    cib_configuration_xml,
    crm_mon_xml,
    primitive_xml,
)

PCS = "/usr/sbin/pcs"
VNIC1 = "ocid1.vnic.oc1.iad.aaaa"
VNIC2 = "ocid1.vnic.oc1.iad.bbbb"
I1 = "ocid1.instance.oc1.iad.node1aaaa"
I2 = "ocid1.instance.oc1.iad.node2bbbb"
I3 = "ocid1.instance.oc1.iad.node3cccc"
CONFIG: Dict[str, Any] = {
    "nodes": [
        {"hostname": "node1", "vnic_id": VNIC1, "instance_id": I1},
        {"hostname": "node2", "vnic_id": VNIC2, "instance_id": I2},
    ],
    "vips": [{"name": "vip", "ip": "10.0.0.200", "cidr_netmask": 24}],
}
# The VIP as configure would create it: unchanged, so only fencing shows.
VIP = primitive_xml(
    "vip",
    {
        "ip": "10.0.0.200",
        "cidr_netmask": "24",
        "vnic_ids": "node1={},node2={}".format(VNIC1, VNIC2),
    },
    {"resource-stickiness": "100", "failure-timeout": "160s"},
    [("monitor", "10s", "20s"), ("start", "0s", "80s"), ("stop", "0s", "20s")],
)
STONITH = ("stonith", "", "fence_oci")
CREATE_1 = [
    PCS,
    "stonith",
    "create",
    "fence_node1",
    "fence_oci",
    "plug=" + I1,
    "pcmk_host_map=node1:" + I1,
    "pcmk_delay_base=10s",
    "pcmk_reboot_timeout=300s",
]
CREATE_2 = [
    PCS,
    "stonith",
    "create",
    "fence_node2",
    "fence_oci",
    "plug=" + I2,
    "pcmk_host_map=node2:" + I2,
    "pcmk_reboot_timeout=300s",
]
ENABLE = [PCS, "property", "set", "stonith-enabled=true"]


def params(create: List[str]) -> Dict[str, str]:
    return dict(kv.split("=", 1) for kv in create[5:])


def device(name: str, params: Dict[str, str], agent: Any = STONITH) -> str:
    return primitive_xml(name, params, {}, [("monitor", "60s", "20s")], agent=agent)


def preflight(
    primitives: Optional[List[str]] = None,
    stonith_enabled: bool = False,
    nodes: Any = ("node1", "node2"),
) -> List[Call]:
    return [
        Call([PCS, "--version"], "0.11.5\n"),
        Call(
            ["/usr/sbin/crm_mon", "--one-shot", "--inactive", "--output-as=xml"],
            crm_mon_xml(nodes, stonith=stonith_enabled),
        ),
        Call(
            ["/usr/sbin/cibadmin", "--query", "--scope", "configuration"],
            cib_configuration_xml([VIP] + (primitives or [])),
        ),
    ]


@pytest.fixture
def env_for(tmp_path: Any, monkeypatch: Any) -> Any:
    monkeypatch.setattr(pacemaker, "agent_installed", lambda: True)
    monkeypatch.setattr(pacemaker, "fence_agent_installed", lambda: True)

    def make(calls: List[Call], **changes: Any) -> Env:
        doc = dict(CONFIG, **changes)
        path = tmp_path / "pcs-oci.json"
        path.write_text(json.dumps(doc))
        return Env(config_path=str(path), runner=FakeRunner(calls))

    return make


def test_fencing_creates_a_device_per_node_then_enables_stonith(env_for: Any) -> None:
    env = env_for(preflight() + [Call(CREATE_1), Call(CREATE_2), Call(ENABLE)])
    result = configure.configure(env, fencing=True)
    env.runner.assert_all_called()
    assert [(p.name, p.action) for p in result.vips] == [("vip", "unchanged")]
    assert [(p.name, p.action) for p in result.fencing] == [
        ("fence_node1", "create"),
        ("fence_node2", "create"),
        ("stonith-enabled", "set"),
    ]


def test_without_fencing_nothing_about_stonith(env_for: Any) -> None:
    env = env_for(preflight())
    result = configure.configure(env)
    env.runner.assert_all_called()
    assert result.fencing == [] and result.steps == []


def test_oci_settings_go_to_the_devices(env_for: Any) -> None:
    oci = {
        "auth": "api_key",
        "config_file": "/etc/oci/config",
        "profile": "HA",
        "region": "eu-frankfurt-1",
        "endpoint": "https://iaas.example.com",
        "proxy": "http://proxy:3128",
        "timeout": 5,
    }
    env = env_for(preflight(stonith_enabled=True), oci=oci)
    result = configure.configure(env, dry_run=True, fencing=True)
    env.runner.assert_all_called()
    (create_1,) = result.fencing[0].steps
    assert create_1.argv == CREATE_1[:7] + [
        "auth=api_key",
        "oci_config_file=/etc/oci/config",
        "oci_profile=HA",
        "region=eu-frankfurt-1",
        "endpoint=https://iaas.example.com",
        "proxy=http://proxy:3128",
        "api_timeout=5",
        "pcmk_delay_base=10s",
        "pcmk_reboot_timeout=300s",
    ]
    # STONITH already enabled: no property step (the VIP's update comes first).
    fence_steps = [s.argv[:5] for p in result.fencing for s in p.steps]
    assert fence_steps == [CREATE_1[:5], CREATE_2[:5]]
    assert result.steps[-2:] == [s for p in result.fencing for s in p.steps]
    assert result.fencing[-1].action == "unchanged"


def test_configure_fencing_again_changes_nothing(env_for: Any) -> None:
    devices = [
        device("fence_node1", params(CREATE_1)),
        device("fence_node2", params(CREATE_2)),
    ]
    env = env_for(preflight(devices, stonith_enabled=True))
    result = configure.configure(env, fencing=True)
    env.runner.assert_all_called()
    assert [p.action for p in result.fencing] == ["unchanged"] * 3
    assert result.steps == []


def test_a_changed_setting_updates_only_what_differs(env_for: Any) -> None:
    params_1 = params(CREATE_1)
    params_1["endpoint"] = "https://old.example.com"
    params_1["pcmk_delay_max"] = "5s"  # not ours: left alone
    devices = [
        device("fence_node1", params_1),
        device("fence_node2", dict(params(CREATE_2), api_timeout="3")),
    ]
    update_1 = [PCS, "stonith", "update", "fence_node1", "endpoint=https://new.example.com"]
    update_2 = [PCS, "stonith", "update", "fence_node2", "endpoint=https://new.example.com"]
    update_2.append("api_timeout=")
    env = env_for(
        preflight(devices, stonith_enabled=True), oci={"endpoint": "https://new.example.com"}
    )
    result = configure.configure(env, dry_run=True, fencing=True)
    env.runner.assert_all_called()
    plan_1, plan_2, enabled = result.fencing
    assert [s.argv for p in result.fencing for s in p.steps] == [update_1, update_2]
    assert plan_1.changes == ["endpoint: https://old.example.com -> https://new.example.com"]
    assert plan_2.changes == [
        "endpoint: (unset) -> https://new.example.com",
        "api_timeout: 3 -> (unset)",
    ]
    assert plan_1.steps[0].undo == [
        [PCS, "stonith", "update", "fence_node1", "endpoint=https://old.example.com"]
    ]
    assert enabled.action == "unchanged"


def test_three_nodes_get_no_delay(env_for: Any) -> None:
    nodes = CONFIG["nodes"] + [{"hostname": "node3", "instance_id": I3}]
    env = env_for(preflight(nodes=("node1", "node2", "node3")), nodes=nodes)
    result = configure.configure(env, dry_run=True, fencing=True)
    creates = [s.argv for s in result.steps if s.argv[1:3] == ["stonith", "create"]]
    assert len(creates) == 3
    assert not [a for argv in creates for a in argv if a.startswith("pcmk_delay")]
    assert "pcmk_host_map=node3:" + I3 in creates[2]


def test_missing_instance_ids_stop_before_any_change(env_for: Any) -> None:
    nodes = [{"hostname": "node1", "instance_id": I1}, {"hostname": "node2"}]
    env = env_for(preflight(), nodes=nodes)
    with pytest.raises(PcsOciError) as e:
        configure.configure(env, fencing=True)
    env.runner.assert_all_called()  # only the reads
    assert e.value.exit_code == exit_codes.PRECONDITION
    (report,) = e.value.reports
    assert report.code == reports.NODE_INSTANCE_UNKNOWN
    assert "node2" in report.message and "discover --all --update" in report.hint


def test_fence_agent_missing_and_foreign_device_stop_before_any_change(
    env_for: Any, monkeypatch: Any
) -> None:
    monkeypatch.setattr(pacemaker, "fence_agent_installed", lambda: False)
    foreign = device("fence_node1", {"pcmk_host_list": "node1"}, agent=("stonith", "", "fence_lab"))
    env = env_for(preflight([foreign]))
    with pytest.raises(PcsOciError) as e:
        configure.configure(env, fencing=True)
    env.runner.assert_all_called()
    assert e.value.codes == [reports.AGENT_NOT_INSTALLED, reports.RESOURCE_NOT_OURS]
    assert "/usr/sbin/fence_oci" in e.value.reports[0].message
    assert "fence_node1 exists as stonith:fence_lab" in e.value.reports[1].message


def test_a_failed_step_says_what_was_applied_and_how_to_roll_back(env_for: Any) -> None:
    env = env_for(
        preflight() + [Call(CREATE_1), Call(CREATE_2, stderr="Error: boom\n", returncode=1)]
    )
    with pytest.raises(PcsOciError) as e:
        configure.configure(env, fencing=True)
    env.runner.assert_all_called()
    (report,) = e.value.reports
    assert "step 2/3 (create fence_node2 (fences node2)) failed: Error: boom" in report.message
    assert "already applied: create fence_node1" in report.message
    assert "pcs stonith delete fence_node1" in report.hint


def test_cli_prints_each_device(env_for: Any, capsys: Any) -> None:
    env = env_for(preflight() + [Call(CREATE_1), Call(CREATE_2), Call(ENABLE)])
    args = argparse.Namespace(dry_run=False, set_defaults=False, fencing=True)
    assert cluster_cmd.configure(env, args) == exit_codes.OK
    out = capsys.readouterr().out.splitlines()
    assert out[-3:] == ["fence_node1: created", "fence_node2: created", "stonith-enabled: set"]


def test_instance_id_in_the_config(tmp_path: Any) -> None:
    path = tmp_path / "c.json"
    path.write_text(json.dumps(CONFIG))
    loaded = config_lib.load(str(path))
    assert [n.instance_id for n in loaded.nodes] == [I1, I2]
    bad = dict(CONFIG, nodes=[{"hostname": "a", "instance_id": I1}, {"hostname": "b"}])
    bad["nodes"][1]["instance_id"] = "ocid1.vnic.oc1.iad.x"
    path.write_text(json.dumps(bad))
    with pytest.raises(PcsOciError) as e:
        config_lib.load(str(path))
    assert "is not an instance OCID" in e.value.reports[0].message
    twice = dict(CONFIG)
    twice["nodes"] = [{"hostname": "a", "instance_id": I1}, {"hostname": "b", "instance_id": I1}]
    path.write_text(json.dumps(twice))
    with pytest.raises(PcsOciError) as e:
        config_lib.load(str(path))
    assert e.value.codes == [reports.CONFIG_DUPLICATE]


def test_verify_targets_and_the_status_command_line() -> None:
    devices = pacemaker.primitives_in(
        ET.fromstring(
            cib_configuration_xml(
                [
                    VIP,
                    device("fence_node1", params(CREATE_1)),
                    # Set by hand: no plug, two nodes in the map, other options.
                    device(
                        "fence_both",
                        {"pcmk_host_map": "node1:{};node2={}".format(I1, I2), "region": "r-1"},
                    ),
                    device("fence_lab", {"pcmk_host_list": "node1"}, ("stonith", "", "fence_lab")),
                ]
            )
        )
    )
    assert fencing_checks.targets(devices) == [
        fencing_checks.Target("fence_both", "node1", I1),
        fencing_checks.Target("fence_both", "node2", I2),
        fencing_checks.Target("fence_node1", "node1", I1),
    ]
    assert fencing_checks.status_argv(devices["fence_both"], I2) == [
        "/usr/sbin/fence_oci",
        "--action=status",
        "--plug=" + I2,
        "--region=r-1",
    ]


def test_verify_reason_is_the_agents_error_lines_without_time_stamps() -> None:
    stderr = (
        "2026-11-25 17:39:01,123 ERROR: Failed: cannot read the state of instance X: "
        "OCI GetInstance failed: NotAuthorizedOrNotFound (HTTP 404, opc-request-id A)\n"
        "2026-11-25 17:39:01,124 ERROR: Please use '-h' for usage\n"
    )
    assert fencing_checks._reason(stderr) == (
        "Failed: cannot read the state of instance X: OCI GetInstance failed: "
        "NotAuthorizedOrNotFound (HTTP 404, opc-request-id A)"
    )
    assert fencing_checks._reason("python: not found\n") == "python: not found"
