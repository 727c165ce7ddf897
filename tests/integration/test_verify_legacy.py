"""verify knows the old ways: the sed recipe, ocivip left over, agents calling the oci CLI.

The same Setup as test_verify (real SDK and IMDS client against the fakes,
scripted cluster tools), with this node's OCF agents in a scratch tree and
the package manager's verify scripted.
"""

from typing import Any

import pytest

from pcs_oci.common import checks
from tests.fakes.harness import FakeOci
from tests.integration.test_verify import (
    DPKG_VERIFY,
    RECIPE_CALL,
    RPM_VERIFY,
    Setup,
)
from tests.tools.fake_runner import Call, primitive_xml


@pytest.fixture
def setup(tmp_path: Any, fake_oci: FakeOci, monkeypatch: Any) -> Setup:
    found = Setup(tmp_path, fake_oci, monkeypatch)
    found.fake.add_private_ip("10.0.0.200", "node1")
    return found


def patch_ipaddr2(setup: Setup) -> str:
    """The sed recipe applied: the file calls the oci CLI on line 3."""
    path = setup.heartbeat / "IPaddr2"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:1]) + "node1vnic=ocid1.vnic.oc1..a\n" + RECIPE_CALL + lines[1])
    return str(path)


def test_healthy_node_passes_and_names_the_packaged_ocivip(setup: Setup) -> None:
    found = setup.run()
    assert found["legacy_ipaddr2"].status == "PASS"
    assert found["legacy_ipaddr2"].detail == "{} is the packaged file (rpm)".format(
        setup.heartbeat / "IPaddr2"
    )
    assert found["legacy_ocivip"].detail == "no ocf:heartbeat:ocivip resource"
    assert found["oci_cli_agents"].status == "PASS"
    assert found["oci_cli_agents"].detail == "only the packaged {} calls the oci CLI".format(
        setup.heartbeat / "ocivip"
    )


def test_the_sed_recipe_fails_with_reinstall_once_every_vip_runs_on_ours(setup: Setup) -> None:
    path = patch_ipaddr2(setup)
    setup.package_verify = [Call(RPM_VERIFY, "S.5....T.    {}\n".format(path), returncode=1)]

    found = setup.run()

    row = found["legacy_ipaddr2"]
    assert (row.status, row.detail) == (
        "FAIL",
        "{} is the sed recipe's: rpm says it changed, and it calls the oci CLI on line 3".format(
            path
        ),
    )
    # The VIP already runs on ocf:oci:IPaddr2: restoring the file is safe now.
    assert row.fix == (
        "every VIP runs on ocf:oci:IPaddr2: restore the packaged agent on every node: "
        "yum reinstall resource-agents"
    )
    assert found["_ok"] is False
    # The recipe's call is named with the other oci CLI callers.
    agents = found["oci_cli_agents"]
    assert agents.status == "WARN"
    assert agents.detail == "the oci CLI is called by {} line 3".format(path)
    assert "pcs-oci migrate" in agents.fix


def test_the_sed_recipe_on_debian_is_found_by_dpkg_and_migrate_comes_first(
    setup: Setup,
) -> None:
    """The VIP still runs on the patched heartbeat IPaddr2: migrate first, then reinstall."""
    path = patch_ipaddr2(setup)
    setup.package_verify = [
        Call(RPM_VERIFY, "package resource-agents is not installed\n", returncode=1),
        Call(DPKG_VERIFY, "??5??????   {}\n".format(path), returncode=1),
    ]
    setup.resource = primitive_xml(
        "vip", {"ip": "10.0.0.200"}, agent=("ocf", "heartbeat", "IPaddr2")
    )

    row = setup.run()["legacy_ipaddr2"]

    assert row.status == "FAIL"
    assert "dpkg says it changed" in row.detail
    assert row.fix == (
        "`pcs-oci migrate` first (vip still runs on ocf:heartbeat:IPaddr2), then restore the "
        "packaged agent on every node: apt-get install --reinstall resource-agents; in that "
        "order, so that no node ever runs a VIP without the OCI move"
    )


def test_a_changed_ipaddr2_without_oci_calls_is_not_the_recipe(setup: Setup) -> None:
    path = str(setup.heartbeat / "IPaddr2")
    setup.package_verify = [Call(RPM_VERIFY, "S.5....T.    {}\n".format(path), returncode=1)]
    found = setup.run()
    assert found["legacy_ipaddr2"].status == "PASS"
    assert "calls no oci CLI" in found["legacy_ipaddr2"].detail
    assert found["oci_cli_agents"].status == "PASS"


def test_an_intact_package_is_not_the_recipe_even_if_the_file_calls_oci(setup: Setup) -> None:
    """A distribution that ships such a file: the package manager has the last word."""
    patch_ipaddr2(setup)
    assert setup.run()["legacy_ipaddr2"].status == "PASS"


def test_an_ocivip_left_over_warns_with_its_ip(setup: Setup) -> None:
    ocivip = primitive_xml(
        "vip_oci",
        {"secondary_private_ip": "10.0.0.201"},
        agent=("ocf", "heartbeat", "ocivip"),
    )
    original = setup.runner

    def runner() -> Any:
        found = original()
        for call in found.expected:
            if call.argv[:2] == ["/usr/sbin/cibadmin", "--query"] and "configuration" in call.argv:
                index = found.expected.index(call)
                stdout = call.stdout.replace("</resources>", ocivip + "</resources>")
                found.expected[index] = call._replace(stdout=stdout)
        return found

    setup.runner = runner  # type: ignore[method-assign]
    row = setup.run()["legacy_ocivip"]
    assert (row.status, row.detail) == (
        "WARN",
        "ocf:heartbeat:ocivip left over: vip_oci (10.0.0.201)",
    )
    assert row.fix.startswith("`pcs-oci migrate` turns each ocivip and its IPaddr2 into one")


def test_a_custom_agent_and_a_changed_ocivip_are_named(setup: Setup) -> None:
    custom = setup.ocf / "resource.d" / "acme"
    custom.mkdir()
    (custom / "movevip").write_text("#!/bin/sh\n# moves the VIP\noci network vnic x\n")
    ocivip = str(setup.heartbeat / "ocivip")
    setup.package_verify = [Call(RPM_VERIFY, "S.5....T.    {}\n".format(ocivip), returncode=1)]

    row = setup.run()["oci_cli_agents"]

    assert row.status == "WARN"
    assert row.detail == "the oci CLI is called by {} line 3; {} line 2".format(
        custom / "movevip", ocivip
    )


def test_our_own_provider_is_not_an_oci_cli_caller(setup: Setup) -> None:
    ours = setup.ocf / "resource.d" / "oci"
    ours.mkdir()
    (ours / "IPaddr2").write_text("#!/bin/sh\noci network vnic x\n")
    (setup.heartbeat / "ocivip").unlink()
    row = setup.run()["oci_cli_agents"]
    assert (row.status, row.detail) == ("PASS", "no OCF agent calls the oci CLI")


def test_the_rows_follow_conflicts_in_the_documented_order() -> None:
    ids = list(checks.TITLES)
    at = ids.index("conflicts")
    assert ids[at + 1 : at + 4] == ["legacy_ipaddr2", "legacy_ocivip", "oci_cli_agents"]
