"""configure/unconfigure against a scripted runner, both pcs generations."""

import json
from typing import Any, Dict, List

import pytest

from pcs_oci.common import exit_codes, reports
from pcs_oci.lib import pacemaker
from pcs_oci.lib.commands import configure
from pcs_oci.lib.env import Env
from pcs_oci.lib.errors import PcsOciError
from tests.tools.fake_runner import (
    Call,
    FakeRunner,
    cib_configuration_xml,
    cib_resources_xml,
    crm_mon_xml,
    primitive_xml,
)

PCS = "/usr/sbin/pcs"
VNIC1 = "ocid1.vnic.oc1.iad.aaaa"
VNIC2 = "ocid1.vnic.oc1.iad.bbbb"
CONFIG: Dict[str, Any] = {
    "nodes": [{"hostname": "node1", "vnic_id": VNIC1}, {"hostname": "node2", "vnic_id": VNIC2}],
    "vips": [{"name": "vip", "ip": "10.0.0.200", "cidr_netmask": 24}],
}
VNIC_IDS = "node1={},node2={}".format(VNIC1, VNIC2)
CREATE = [
    PCS,
    "resource",
    "create",
    "vip",
    "ocf:oci:IPaddr2",
    "ip=10.0.0.200",
    "cidr_netmask=24",
    "vnic_ids=" + VNIC_IDS,
    "op",
    "monitor",
    "interval=10s",
    "timeout=20s",
    "op",
    "start",
    "interval=0s",
    "timeout=80s",
    "op",
    "stop",
    "interval=0s",
    "timeout=20s",
    "meta",
    "resource-stickiness=100",
    "failure-timeout=160s",
]
# Two start timeouts (80s with instance principal and the default API timeout).
META = {"resource-stickiness": "100", "failure-timeout": "160s"}
CURRENT_OPS = [("monitor", "10s", "20s"), ("start", "0s", "80s"), ("stop", "0s", "20s")]
CURRENT = primitive_xml(
    "vip",
    {"ip": "10.0.0.200", "cidr_netmask": "24", "vnic_ids": VNIC_IDS},
    META,
    CURRENT_OPS,
)


def preflight(
    version: str = "0.11.5",
    primitives: str = "",
    nodes: Any = ("node1", "node2"),
    constraints: str = "",
    rsc_defaults: Any = None,
) -> List[Call]:
    return [
        Call([PCS, "--version"], version + "\n"),
        Call(
            ["/usr/sbin/crm_mon", "--one-shot", "--inactive", "--output-as=xml"], crm_mon_xml(nodes)
        ),
        Call(
            ["/usr/sbin/cibadmin", "--query", "--scope", "configuration"],
            cib_configuration_xml(
                [primitives] if primitives else [], constraints, rsc_defaults=rsc_defaults
            ),
        ),
    ]


@pytest.fixture
def env_for(tmp_path: Any, monkeypatch: Any) -> Any:
    monkeypatch.setattr(pacemaker, "agent_installed", lambda: True)

    def make(calls: List[Call], **changes: Any) -> Env:
        doc = dict(CONFIG, **changes)
        path = tmp_path / "pcs-oci.json"
        path.write_text(json.dumps(doc))
        return Env(config_path=str(path), runner=FakeRunner(calls))

    return make


def test_configure_creates_resource_with_stickiness(env_for: Any) -> None:
    env = env_for(preflight() + [Call(CREATE)])
    result = configure.configure(env)
    env.runner.assert_all_called()
    assert [(p.name, p.action) for p in result.vips] == [("vip", "create")]


def test_dry_run_prints_exactly_what_the_real_run_does(env_for: Any) -> None:
    env = env_for(preflight())
    result = configure.configure(env, dry_run=True)
    env.runner.assert_all_called()
    (step,) = result.steps
    assert step.argv == CREATE
    assert step.command.startswith(
        "/usr/sbin/pcs resource create vip ocf:oci:IPaddr2 ip=10.0.0.200"
    )


def test_a_vips_own_vnic_ids_become_its_parameter(env_for: Any) -> None:
    other = "ocid1.vnic.oc1.iad.cccc"
    vip = dict(CONFIG["vips"][0], vnic_ids={"node1": other})
    env = env_for(preflight(), vips=[vip])
    (step,) = configure.configure(env, dry_run=True).steps
    assert "vnic_ids=node1={},node2={}".format(other, VNIC2) in step.argv


def test_configure_again_changes_nothing(env_for: Any) -> None:
    env = env_for(preflight(primitives=CURRENT))
    result = configure.configure(env)
    env.runner.assert_all_called()
    assert [(p.name, p.action, p.steps) for p in result.vips] == [("vip", "unchanged", [])]


def test_equivalent_interval_spellings_are_unchanged(env_for: Any) -> None:
    current = primitive_xml(
        "vip",
        {"ip": "10.0.0.200", "cidr_netmask": "24", "vnic_ids": VNIC_IDS},
        META,
        [("monitor", "10000ms", "20"), ("start", "0", "80s"), ("stop", "0s", "20000ms")],
    )
    env = env_for(preflight(primitives=current))
    assert configure.configure(env).vips[0].action == "unchanged"


def test_changed_monitor_interval_updates_only_that_op(env_for: Any) -> None:
    vips = [{"name": "vip", "ip": "10.0.0.200", "cidr_netmask": 24, "monitor_interval": "30s"}]
    update = [PCS, "resource", "update", "vip", "op", "monitor", "interval=30s", "timeout=20s"]
    env = env_for(preflight(primitives=CURRENT) + [Call(update)], vips=vips)
    result = configure.configure(env)
    env.runner.assert_all_called()
    assert result.vips[0].changes == [
        "op monitor: interval=10s timeout=20s -> interval=30s timeout=20s"
    ]


def test_changed_params_and_stickiness(env_for: Any) -> None:
    env = env_for(
        preflight(primitives=CURRENT)
        + [
            Call([PCS, "resource", "update", "vip", "cidr_netmask=25"]),
            Call([PCS, "resource", "meta", "vip", "resource-stickiness=200"]),
        ],
        vips=[{"name": "vip", "ip": "10.0.0.200", "cidr_netmask": 25}],
        resource_stickiness=200,
    )
    configure.configure(env)
    env.runner.assert_all_called()


def test_a_vip_without_failure_timeout_gets_one_and_its_undo_removes_it(env_for: Any) -> None:
    # Created before configure set it: a start failed on every node would stay failed.
    current = primitive_xml(
        "vip",
        {"ip": "10.0.0.200", "cidr_netmask": "24", "vnic_ids": VNIC_IDS},
        {"resource-stickiness": "100"},
        CURRENT_OPS,
    )
    meta = [PCS, "resource", "meta", "vip", "failure-timeout=160s"]
    env = env_for(preflight(primitives=current) + [Call(meta)])
    result = configure.configure(env)
    env.runner.assert_all_called()
    (vip,) = result.vips
    assert vip.changes == ["meta failure-timeout: (unset) -> 160s"]
    (step,) = vip.steps
    assert step.undo == [[PCS, "resource", "meta", "vip", "failure-timeout="]]


def test_an_equivalent_failure_timeout_spelling_is_unchanged(env_for: Any) -> None:
    current = primitive_xml(
        "vip",
        {"ip": "10.0.0.200", "cidr_netmask": "24", "vnic_ids": VNIC_IDS},
        {"resource-stickiness": "100", "failure-timeout": "160000ms"},
        CURRENT_OPS,
    )
    env = env_for(preflight(primitives=current))
    assert configure.configure(env).vips[0].action == "unchanged"


def test_failure_timeout_is_two_start_timeouts(env_for: Any) -> None:
    env = env_for(
        preflight(),
        oci={"auth": "api_key", "config_file": "/etc/oci/config", "timeout": 5},
    )
    (step,) = configure.configure(env, dry_run=True).steps
    assert "timeout=50s" in step.argv  # start
    assert step.argv[-3:] == ["meta", "resource-stickiness=100", "failure-timeout=100s"]


def test_removed_vnic_ids_are_unset_and_admin_params_kept(env_for: Any) -> None:
    current = primitive_xml(
        "vip",
        {"ip": "10.0.0.200", "cidr_netmask": "24", "vnic_ids": VNIC_IDS, "arp_count": "9"},
        META,
        CURRENT_OPS,
    )
    env = env_for(
        preflight(primitives=current) + [Call([PCS, "resource", "update", "vip", "vnic_ids="])],
        nodes=[{"hostname": "node1"}, {"hostname": "node2"}],
    )
    configure.configure(env)
    env.runner.assert_all_called()


def test_api_key_auth_and_monitor_api_become_parameters(env_for: Any) -> None:
    env = env_for(
        preflight(),
        vips=[{"name": "vip", "ip": "10.0.0.200", "monitor_api": True, "monitor_api_interval": 30}],
        oci={"auth": "api_key", "config_file": "/etc/oci/config", "profile": "HA", "timeout": 5},
    )
    (step,) = configure.configure(env, dry_run=True).steps
    assert step.argv[5:13] == [
        "ip=10.0.0.200",
        "vnic_ids=" + VNIC_IDS,
        "auth=api_key",
        "oci_config_file=/etc/oci/config",
        "oci_profile=HA",
        "api_timeout=5",
        "monitor_api=true",
        "monitor_api_interval=30",
    ]
    assert "timeout=40s" in step.argv  # the monitor that may call the API


@pytest.mark.parametrize(
    "version, argv",
    [
        ("0.12.0.2", [PCS, "resource", "defaults", "update", "resource-stickiness=100"]),
        ("0.11.5", [PCS, "resource", "defaults", "update", "resource-stickiness=100"]),
        ("0.10.18", [PCS, "resource", "defaults", "resource-stickiness=100"]),
    ],
)
def test_set_defaults_per_pcs_generation(env_for: Any, version: str, argv: List[str]) -> None:
    env = env_for(preflight(version=version, primitives=CURRENT) + [Call(argv)])
    configure.configure(env, set_defaults=True)
    env.runner.assert_all_called()


@pytest.mark.parametrize("version", ["0.11.5", "0.10.18"])
def test_set_defaults_already_at_the_value_runs_nothing(env_for: Any, version: str) -> None:
    env = env_for(
        preflight(version=version, primitives=CURRENT, rsc_defaults={"resource-stickiness": "100"})
    )
    result = configure.configure(env, set_defaults=True)
    env.runner.assert_all_called()
    assert result.defaults is not None
    assert (result.steps, result.defaults.action) == ([], "unchanged")


@pytest.mark.parametrize(
    "version, update",
    [("0.11.5", ["defaults", "update"]), ("0.10.18", ["defaults"])],
)
def test_set_defaults_undo_restores_the_old_default(
    env_for: Any, version: str, update: List[str]
) -> None:
    env = env_for(
        preflight(version=version, primitives=CURRENT, rsc_defaults={"resource-stickiness": "7"}),
    )
    result = configure.configure(env, dry_run=True, set_defaults=True)
    (step,) = result.steps
    assert step.argv == [PCS, "resource"] + update + ["resource-stickiness=100"]
    assert step.undo == [[PCS, "resource"] + update + ["resource-stickiness=7"]]
    assert result.defaults is not None
    assert (result.defaults.action, result.defaults.changes) == (
        "set",
        ["resource-stickiness: 7 -> 100"],
    )
    # No default before: the undo removes it again (an empty value).
    env = env_for(preflight(version=version, primitives=CURRENT))
    (step,) = configure.configure(env, dry_run=True, set_defaults=True).steps
    assert step.undo == [[PCS, "resource"] + update + ["resource-stickiness="]]


def test_vip_name_used_by_another_cib_element_is_refused_before_any_change(
    env_for: Any,
) -> None:
    # A constraint (or group, clone ...) with the VIP's id: pcs would fail the create.
    constraint = '<rsc_location id="vip" rsc="web" node="node1" score="50"/>'
    env = env_for(preflight(constraints=constraint))
    with pytest.raises(PcsOciError) as e:
        configure.configure(env)
    assert e.value.codes == [reports.RESOURCE_NOT_OURS]
    assert "rsc_location" in e.value.reports[0].message
    assert e.value.exit_code == exit_codes.PRECONDITION
    env.runner.assert_all_called()


def test_failed_step_reports_pcs_error_line_not_its_warnings(env_for: Any) -> None:
    defaults = [PCS, "resource", "defaults", "update", "resource-stickiness=100"]
    stderr = (
        "Warning: Defaults do not apply to resources which override them with their own "
        "defined values\n"
        "Error: Several options sets exist, please use the 'pcs resource defaults set update' "
        "command and specify an option set ID\n"
        "Error: Errors have occurred, therefore pcs is unable to continue\n"
    )
    env = env_for(preflight() + [Call(CREATE), Call(defaults, stderr=stderr, returncode=1)])
    with pytest.raises(PcsOciError) as e:
        configure.configure(env, set_defaults=True)
    (report,) = e.value.reports
    assert "failed: Error: Several options sets exist" in report.message
    assert "Warning" not in report.message
    assert report.hint.endswith("roll back with: /usr/sbin/pcs resource delete vip")


def codes_of(env: Env, **kwargs: Any) -> List[str]:
    with pytest.raises(PcsOciError) as e:
        configure.configure(env, **kwargs)
    return e.value.codes


def test_cluster_not_running_changes_nothing(env_for: Any) -> None:
    env = env_for(
        [
            Call([PCS, "--version"], "0.11.5\n"),
            Call(
                ["/usr/sbin/crm_mon", "--one-shot", "--inactive", "--output-as=xml"],
                stderr="crm_mon: Error: cluster is not available on this node\n",
                returncode=102,
            ),
        ]
    )
    with pytest.raises(PcsOciError) as e:
        configure.configure(env)
    assert e.value.codes == [reports.CLUSTER_NOT_RUNNING]
    assert e.value.exit_code == exit_codes.PRECONDITION
    env.runner.assert_all_called()


def test_missing_agent_unknown_node_and_foreign_resource_all_reported(
    env_for: Any, monkeypatch: Any
) -> None:
    monkeypatch.setattr(pacemaker, "agent_installed", lambda: False)
    foreign = primitive_xml("vip", {"ip": "10.0.0.200"}, agent=("ocf", "heartbeat", "IPaddr2"))
    env = env_for(preflight(primitives=foreign, nodes=("node1", "node3")))
    assert codes_of(env) == [
        reports.AGENT_NOT_INSTALLED,
        reports.NODE_NOT_IN_CONFIG,
        reports.RESOURCE_NOT_OURS,
    ]
    env.runner.assert_all_called()


def test_failure_midway_reports_step_applied_and_rollback(env_for: Any) -> None:
    vips = [
        {"name": "vip", "ip": "10.0.0.200", "cidr_netmask": 24},
        {"name": "vip2", "ip": "10.0.0.201", "cidr_netmask": 24},
    ]
    create2 = [a.replace("vip", "vip2").replace("10.0.0.200", "10.0.0.201") for a in CREATE]
    env = env_for(
        preflight()
        + [
            Call(CREATE),
            Call(create2, stderr="Error: Unable to create resource 'vip2'\n", returncode=1),
        ],
        vips=vips,
    )
    with pytest.raises(PcsOciError) as e:
        configure.configure(env)
    (report,) = e.value.reports
    assert report.code == reports.CONFIGURE_STEP_FAILED
    assert (
        "step 2/2 (create vip2 (10.0.0.201)) failed: Error: Unable to create resource 'vip2'"
        in report.message
    )
    assert "already applied: create vip (10.0.0.200)" in report.message
    assert "/usr/sbin/pcs resource delete vip" in report.hint


def test_unconfigure_deletes_only_our_resources(env_for: Any) -> None:
    foreign = primitive_xml("web", {"ip": "10.0.0.9"}, agent=("ocf", "heartbeat", "IPaddr2"))
    status = Call(
        ["/usr/sbin/crm_mon", "--one-shot", "--inactive", "--output-as=xml"], crm_mon_xml()
    )
    cib = Call(
        ["/usr/sbin/cibadmin", "--query", "--scope", "resources"],
        cib_resources_xml([CURRENT, foreign]),
    )
    env = env_for([status, cib, Call([PCS, "resource", "delete", "vip"])])
    configure.unconfigure(env, ["vip"])
    env.runner.assert_all_called()

    env = env_for([status, cib])
    with pytest.raises(PcsOciError) as e:
        configure.unconfigure(env, ["web", "nope"])
    assert e.value.codes == [reports.RESOURCE_NOT_OURS, reports.RESOURCE_NOT_FOUND]


def _grouped(members: str) -> str:
    return '<group id="web">{}</group>'.format(members)


def test_a_new_vip_is_created_first_in_its_existing_group(env_for: Any) -> None:
    app = '<primitive id="app" class="ocf" provider="heartbeat" type="Dummy"/>'
    env = env_for(
        preflight(primitives=_grouped(app))
        + [Call(CREATE + ["--group", "web", "--before", "app"])],
        vips=[dict(CONFIG["vips"][0], group="web")],
    )
    configure.configure(env)
    env.runner.assert_all_called()


def test_a_new_vip_creates_its_group(env_for: Any) -> None:
    env = env_for(
        preflight() + [Call(CREATE + ["--group", "web"])],
        vips=[dict(CONFIG["vips"][0], group="web")],
    )
    configure.configure(env)
    env.runner.assert_all_called()


def test_an_existing_vip_is_moved_to_the_front_of_its_group(env_for: Any) -> None:
    app = '<primitive id="app" class="ocf" provider="heartbeat" type="Dummy"/>'
    move = [PCS, "resource", "group", "add", "web", "vip", "--before", "app"]
    env = env_for(
        preflight(primitives=_grouped(app + CURRENT)) + [Call(move)],
        vips=[dict(CONFIG["vips"][0], group="web")],
    )
    result = configure.configure(env)
    env.runner.assert_all_called()
    assert result.vips[0].changes == ["put vip first in group web"]


def test_a_vip_first_in_its_group_is_unchanged(env_for: Any) -> None:
    app = '<primitive id="app" class="ocf" provider="heartbeat" type="Dummy"/>'
    env = env_for(
        preflight(primitives=_grouped(CURRENT + app)), vips=[dict(CONFIG["vips"][0], group="web")]
    )
    assert configure.configure(env).vips[0].action == "unchanged"


def test_a_group_id_taken_by_another_element_is_refused(env_for: Any) -> None:
    env = env_for(
        preflight(primitives=primitive_xml("web", {})),
        vips=[dict(CONFIG["vips"][0], group="web")],
    )
    with pytest.raises(PcsOciError) as caught:
        configure.configure(env)
    assert "the group id web is already used by a primitive in the CIB" in str(caught.value)
