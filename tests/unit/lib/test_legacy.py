"""legacy: the sed recipe's patched IPaddr2, leftover ocivips, agents calling the oci CLI."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from pcs_oci.lib import cib, legacy
from tests.tools import sed_recipe
from tests.tools.fake_runner import Call, FakeRunner

HEARTBEAT = "/usr/lib/ocf/resource.d/heartbeat/IPaddr2"
DATA = Path(__file__).resolve().parents[2] / "data" / "cib"


@pytest.fixture
def patched(tmp_path: Path) -> Path:
    if not os.path.isfile(HEARTBEAT):
        pytest.skip("resource-agents is not installed")
    target = tmp_path / "IPaddr2"
    shutil.copy(HEARTBEAT, target)
    scripts = sed_recipe.commands(
        target.read_text(), "ocid1.vnic.oc1.iad.aaaa", "ocid1.vnic.oc1.iad.bbbb", "10.0.0.200"
    )
    sed_recipe.apply(str(target), scripts)
    return target


def test_the_recipe_applied_to_the_shipped_agent_is_found(patched: Path):
    calls = legacy.oci_cli_calls(patched.read_text())

    assert [line for _, line in calls] == [
        "/usr/bin/oci network vnic assign-private-ip --unassign-if-already-assigned "
        "--vnic-id $node1vnic  --ip-address $vnicip",
        "/usr/bin/oci network vnic assign-private-ip --unassign-if-already-assigned "
        "--vnic-id $node2vnic  --ip-address $vnicip",
    ]
    lines = patched.read_text().splitlines()
    # The blocks sit where the recipe puts them: variables before the header's
    # rule, the call just before add_interface's IPv6 test (so before `ip addr add`).
    assert lines[63] == "##### OCI vNIC variables"
    first_call = calls[0][0]
    assert lines[first_call + 2].strip() == "fi"
    assert lines[first_call + 3] == sed_recipe.SECOND_ANCHOR
    assert subprocess.run(["bash", "-n", str(patched)]).returncode == 0


def test_the_shipped_agent_has_no_oci_call():
    if not os.path.isfile(HEARTBEAT):
        pytest.skip("resource-agents is not installed")
    assert legacy.oci_cli_calls(Path(HEARTBEAT).read_text()) == []


def test_prose_and_comments_are_not_calls():
    text = "# oci network vnic assign-private-ip\necho 'manages IPs with oci cli'\nsocket x\n"
    assert legacy.oci_cli_calls(text) == []
    assert legacy.oci_cli_calls('x=$(oci --version)\n  "$OCICLI" network vnic list') == [
        (1, "x=$(oci --version)"),
        (2, '"$OCICLI" network vnic list'),
    ]


def test_verify_output_of_rpm_and_dpkg():
    rpm = (
        "S.5....T.    /usr/lib/ocf/resource.d/heartbeat/IPaddr2\n"
        ".......T.    /usr/lib/ocf/resource.d/heartbeat/Dummy\n"
        "missing     /usr/lib/ocf/resource.d/heartbeat/gone\n"
        "S.5....T.  c /etc/sysconfig/x\n"
    )
    assert legacy.modified_files(rpm) == [
        "/usr/lib/ocf/resource.d/heartbeat/IPaddr2",
        "/usr/lib/ocf/resource.d/heartbeat/gone",
        "/etc/sysconfig/x",
    ]
    assert legacy.modified_files("??5??????   /usr/lib/ocf/resource.d/heartbeat/IPaddr2\n") == [
        "/usr/lib/ocf/resource.d/heartbeat/IPaddr2"
    ]


def test_rpm_first_then_dpkg():
    dpkg_out = "??5??????   " + HEARTBEAT + "\n"
    runner = FakeRunner(
        [
            Call(
                ["rpm", "-V", "--nodeps", "--noscripts", "resource-agents"],
                stdout="package resource-agents is not installed\n",
                returncode=1,
            ),
            Call(["dpkg", "--verify", "resource-agents"], stdout=dpkg_out, returncode=1),
        ]
    )

    found = legacy.heartbeat_ipaddr2(runner, read=lambda path: "/usr/bin/oci network vnic x\n")

    runner.assert_all_called()
    assert found.modified and found.patched
    assert found.oci_calls == [(1, "/usr/bin/oci network vnic x")]


def test_an_intact_package_is_not_patched_even_if_it_mentions_oci():
    runner = FakeRunner([Call(["rpm", "-V", "--nodeps", "--noscripts", "resource-agents"])])
    found = legacy.heartbeat_ipaddr2(runner, read=lambda path: "oci network vnic x\n")
    assert not found.modified and not found.patched


def test_agents_calling_oci_skip_our_own_provider(tmp_path: Path):
    for provider, name, text in (
        ("heartbeat", "ocivip", '$OCICLI network vnic assign-private-ip --vnic-id "$V"\n'),
        ("heartbeat", "Dummy", "echo dummy\n"),
        ("oci", "IPaddr2", "oci network never-mind\n"),
        ("custom", "movevip", "  /opt/oci/bin/oci network vnic assign-private-ip\n"),
    ):
        (tmp_path / provider).mkdir(exist_ok=True)
        (tmp_path / provider / name).write_text(text)

    found = legacy.agents_calling_oci(str(tmp_path))

    assert sorted(found) == [
        str(tmp_path / "custom" / "movevip"),
        str(tmp_path / "heartbeat" / "ocivip"),
    ]


def test_leftover_ocivips_in_a_cib():
    root = cib.parse((DATA / "ocivip-group.xml").read_text())
    assert legacy.leftover_ocivips(root) == ["vip_oci"]
    assert legacy.leftover_ocivips(cib.parse((DATA / "recipe.xml").read_text())) == []
