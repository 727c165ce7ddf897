"""fence_oci against the fake OCI services: the real agent, the real SDK, fencing.py.

Each test runs agents/fence_oci as Pacemaker does (a process; options on the
command line or key=value on stdin) with node1's instance metadata, so node1's
instance principal signs every request, and checks both what the agent says
and what the fake Compute API saw and did.
"""

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest

from tests.fakes.harness import FakeOci

REPO = Path(__file__).resolve().parents[2]
AGENT = REPO / "agents" / "fence_oci"
FENCING = Path("/usr/share/fence/fencing.py")

pytestmark = pytest.mark.skipif(
    not FENCING.exists(), reason="fence-agents' fencing.py is not installed (apt fence-agents)"
)


def agent_env(fake: FakeOci, node: str = "node1") -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OCI_", "PCS_OCI_", "PCMK_"))}
    env.update(
        OCI_METADATA_BASE_URL=fake.imds_base(node),
        PCS_OCI_FEDERATION_ENDPOINT=fake.federation_endpoint,
        OCI_SDK_DEFAULT_CIRCUITBREAKER_ENABLED="false",
    )
    return env


def fence(
    fake: FakeOci,
    *args: str,
    stdin: Optional[str] = None,
    node: str = "node1",
    endpoint: bool = True,
    timeout: float = 90,
) -> subprocess.CompletedProcess:
    argv = [sys.executable, str(AGENT)]
    if stdin is None:
        argv += list(args) + (["--endpoint=" + fake.core_endpoint] if endpoint else [])
    return subprocess.run(
        argv,
        input=stdin if stdin is not None else "",
        env=agent_env(fake, node),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def instance(fake: FakeOci, node: str) -> str:
    return str(fake.node(node)["instance_id"])


def actions(fake: FakeOci) -> List[Any]:
    return [
        (c["query"].get("action"), c["status"], c["principal"])
        for c in fake.calls("InstanceAction")
    ]


def test_status_of_a_running_instance_by_ocid_and_by_display_name(fake_oci: FakeOci) -> None:
    for plug in (instance(fake_oci, "node2"), "node2"):
        result = fence(fake_oci, "-o", "status", "-n", plug)
        assert (result.returncode, result.stdout.strip()) == (0, "Status: ON"), result.stderr


def test_off_is_a_hard_stop_and_waits_for_stopped(fake_oci: FakeOci) -> None:
    target = instance(fake_oci, "node2")
    result = fence(fake_oci, "-o", "off", "-n", target)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "Success: Powered OFF"
    assert fake_oci.instance_state("node2") == "STOPPED"
    assert actions(fake_oci) == [("STOP", 200, instance(fake_oci, "node1"))]
    status = fence(fake_oci, "-o", "status", "-n", target)
    assert (status.returncode, status.stdout.strip()) == (2, "Status: OFF")
    # Already off: nothing more to do, no second STOP.
    again = fence(fake_oci, "-o", "off", "-n", target)
    assert (again.returncode, again.stdout.strip()) == (0, "Success: Already OFF")
    assert len(actions(fake_oci)) == 1


def test_on_starts_and_waits_for_running(fake_oci: FakeOci) -> None:
    fake_oci.set_instance_state("node2", "STOPPED")
    result = fence(fake_oci, "-o", "on", "-n", "node2")
    assert (result.returncode, result.stdout.strip()) == (0, "Success: Powered ON"), result.stderr
    assert fake_oci.instance_state("node2") == "RUNNING"
    assert [a[0] for a in actions(fake_oci)] == ["START"]


def test_reboot_onoff_is_stop_then_start(fake_oci: FakeOci) -> None:
    result = fence(fake_oci, "-o", "reboot", "-n", instance(fake_oci, "node2"))
    assert (result.returncode, result.stdout.strip()) == (0, "Success: Rebooted"), result.stderr
    assert [a[0] for a in actions(fake_oci)] == ["STOP", "START"]
    assert fake_oci.instance_state("node2") == "RUNNING"


def test_reboot_cycle_is_one_reset(fake_oci: FakeOci) -> None:
    result = fence(fake_oci, "-o", "reboot", "--method=cycle", "-n", instance(fake_oci, "node2"))
    assert (result.returncode, result.stdout.strip()) == (0, "Success: Rebooted"), result.stderr
    assert [a[0] for a in actions(fake_oci)] == ["RESET"]
    assert fake_oci.instance_state("node2") == "RUNNING"


def test_pacemaker_style_stdin_and_the_delay(fake_oci: FakeOci) -> None:
    target = instance(fake_oci, "node2")
    stdin = "action=off\nplug={}\nendpoint={}\napi_timeout=5\ndelay=2\n".format(
        target, fake_oci.core_endpoint
    )
    start = time.monotonic()
    result = fence(fake_oci, stdin=stdin)
    elapsed = time.monotonic() - start
    assert result.returncode == 0, result.stderr
    assert fake_oci.instance_state("node2") == "STOPPED"
    assert elapsed >= 2.0
    # The stop came after the delay, not before it.
    (call,) = fake_oci.calls("InstanceAction")
    assert call["time"] - (time.time() - elapsed) >= 1.9


def test_list_and_list_status_show_the_compartments_instances(fake_oci: FakeOci) -> None:
    fake_oci.set_instance_state("node2", "STOPPED")
    listed = fence(fake_oci, "-o", "list")
    assert listed.returncode == 0, listed.stderr
    assert sorted(listed.stdout.split()) == sorted(
        "{},{}".format(instance(fake_oci, n), n) for n in ("node1", "node2")
    )
    status = fence(fake_oci, "-o", "list-status")
    assert sorted(status.stdout.split()) == sorted(
        [
            "{},node1,on".format(instance(fake_oci, "node1")),
            "{},node2,off".format(instance(fake_oci, "node2")),
        ]
    )
    monitor = fence(fake_oci, "-o", "monitor")
    assert monitor.returncode == 0, monitor.stderr


def test_power_timeout_fails_the_action(fake_oci: FakeOci) -> None:
    fake_oci.set_action_delay(30)
    result = fence(fake_oci, "-o", "off", "--power-timeout=2", "-n", "node2")
    assert result.returncode == 1
    assert "Timed out waiting to power OFF" in result.stderr
    assert fake_oci.instance_state("node2") == "STOPPING"


def test_api_failure_fails_with_the_reason_and_changes_nothing(fake_oci: FakeOci) -> None:
    fake_oci.faults.add("InstanceAction", status=503, code="ServiceUnavailable", count=None)
    result = fence(fake_oci, "-o", "off", "--api-timeout=2", "-n", "node2", timeout=120)
    assert result.returncode == 1
    assert result.stdout == ""
    assert "Failed: STOP of instance {}".format(instance(fake_oci, "node2")) in result.stderr
    assert "ServiceUnavailable (HTTP 503, opc-request-id" in result.stderr
    assert fake_oci.instance_state("node2") == "RUNNING"
    # Retried, but bounded.
    assert 2 <= len(fake_oci.calls("InstanceAction")) <= 4


def test_not_authorized_gives_the_instance_policy(fake_oci: FakeOci) -> None:
    fake_oci.deny(instance(fake_oci, "node1"), ["InstanceAction"])
    result = fence(fake_oci, "-o", "off", "-n", "node2")
    assert result.returncode == 1
    assert "allow dynamic-group <group> to use instances in compartment" in result.stderr
    assert fake_oci.instance_state("node2") == "RUNNING"


def test_a_node_whose_own_instance_is_stopping_does_not_fence(fake_oci: FakeOci) -> None:
    fake_oci.set_instance_state("node1", "STOPPING")
    result = fence(fake_oci, "-o", "off", "-n", "node2")
    assert result.returncode == 1
    assert "own instance {} is STOPPING".format(instance(fake_oci, "node1")) in result.stderr
    assert actions(fake_oci) == []
    assert fake_oci.instance_state("node2") == "RUNNING"
    # Status is not fencing: it still works.
    assert fence(fake_oci, "-o", "status", "-n", "node2").returncode == 0


def test_unknown_plug_and_missing_plug_are_clear_failures(fake_oci: FakeOci) -> None:
    unknown = fence(fake_oci, "-o", "status", "-n", "node9")
    assert unknown.returncode == 1
    assert "no instance named 'node9' in compartment" in unknown.stderr
    gone = fence(fake_oci, "-o", "status", "-n", "ocid1.instance.oc1.iad.nothere")
    assert gone.returncode == 1
    assert "cannot read the state of instance ocid1.instance.oc1.iad.nothere" in gone.stderr
    missing = fence(fake_oci, "-o", "off")
    assert missing.returncode == 1
    assert "You have to enter plug number" in missing.stderr


def test_api_key_auth(fake_oci: FakeOci, tmp_path: Any) -> None:
    config_file, _ = fake_oci.write_api_key_config(str(tmp_path))
    auth = ["--auth=api_key", "--oci-config-file=" + config_file]
    result = fence(fake_oci, "-o", "status", "-n", "node2", *auth)
    assert (result.returncode, result.stdout.strip()) == (0, "Status: ON"), result.stderr
    (call,) = fake_oci.calls("GetInstance")
    assert call["principal"] != instance(fake_oci, "node1")


def test_validate_all_and_bad_choices(fake_oci: FakeOci) -> None:
    ok = fence(fake_oci, "-o", "validate-all", "-n", "node2")
    assert ok.returncode == 0, ok.stderr
    bad = fence(fake_oci, "-o", "status", "-n", "node2", "--auth=password")
    assert bad.returncode == 1
    assert "valid choice for --auth" in bad.stderr


# ---------------------------------------------------------------- verify's check, for real


def installed_agent(directory: Path) -> str:
    """agents/fence_oci as `make install-fence-agent` installs it, with this Python."""
    text = AGENT.read_text().replace("#!/usr/bin/python3 -I", "#!{} -I".format(sys.executable), 1)
    path = directory / "fence_oci"
    path.write_text(text)
    path.chmod(0o755)
    return str(path)


def test_verify_runs_status_of_every_target_through_the_agent(
    fake_oci: FakeOci, tmp_path: Any, monkeypatch: Any
) -> None:
    from pcs_oci import settings
    from pcs_oci.common.checks import Check
    from pcs_oci.lib.checks import fencing
    from pcs_oci.lib.pacemaker import Primitive
    from pcs_oci.lib.runner import CommandRunner

    monkeypatch.setattr(settings, "FENCE_AGENT", installed_agent(tmp_path))
    for key, value in agent_env(fake_oci).items():
        if key.startswith(("OCI_", "PCS_OCI_")):
            monkeypatch.setenv(key, value)
    devices = {}
    for node in ("node1", "node2"):
        plug = instance(fake_oci, node)
        params = {"plug": plug, "pcmk_host_map": "{}:{}".format(node, plug)}
        params.update(endpoint=fake_oci.core_endpoint, api_timeout="3")
        devices["fence_" + node] = Primitive("fence_" + node, "stonith:fence_oci", params, {}, [])
    compartment = str(fake_oci.cloud.world["compartment_id"])

    def check() -> Check:
        (found,) = fencing.check_fence_agent(
            fencing.read_status(CommandRunner(), devices), compartment
        )
        return found

    found = check()
    assert found.status == "PASS", found
    assert found.detail == "node1 ({}) ON; node2 ({}) ON".format(
        instance(fake_oci, "node1"), instance(fake_oci, "node2")
    )
    assert not fake_oci.calls("InstanceAction")  # status only: nothing is powered

    fake_oci.set_instance_state("node2", "STOPPED")
    found = check()
    assert found.status == "WARN" and "node2 ({}) OFF".format(instance(fake_oci, "node2")) in (
        found.detail
    )

    fake_oci.deny(instance(fake_oci, "node1"), ["GetInstance"])
    found = check()
    assert found.status == "FAIL"
    assert "NotAuthorizedOrNotFound" in found.detail and "ERROR" not in found.detail
    assert found.fix.startswith(
        "check the dynamic group and policy: allow dynamic-group <group> to use instances in "
        "compartment " + compartment
    )


def test_reboot_whose_start_fails_is_still_a_fencing_success(fake_oci: FakeOci) -> None:
    # The STOP goes through, every START fails (OCI: out of host capacity).
    fake_oci.faults.add("InstanceAction", status=500, code="InternalError", count=None, skip=1)
    result = fence(fake_oci, "-o", "reboot", "--api-timeout=2", "-n", "node2", timeout=120)
    assert (result.returncode, result.stdout.strip()) == (0, "Success: Rebooted"), result.stderr
    assert fake_oci.instance_state("node2") == "STOPPED"
    assert (
        "WARNING: START of instance {}: OCI InstanceAction failed: InternalError".format(
            instance(fake_oci, "node2")
        )
        in result.stderr
    )
    # A plain `on` that fails is a failure.
    on = fence(fake_oci, "-o", "on", "--api-timeout=2", "-n", "node2", timeout=120)
    assert on.returncode == 1 and "Failed: START of instance" in on.stderr
