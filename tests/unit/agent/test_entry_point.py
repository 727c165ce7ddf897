"""The installed entry point agents/IPaddr2, run as Pacemaker runs it."""

import os
import shutil
import subprocess
import sys
from typing import Any, Dict

import pytest

from pcs_oci.agent import ocf, params

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
ENTRY = os.path.join(REPO, "agents", "IPaddr2")
GOLDEN = os.path.join(REPO, "tests", "data", "metadata", "IPaddr2.xml")
# heartbeat IPaddr2's own meta-data as `make metadata-update` recorded it: the
# golden file is made from it, so that it does not depend on the installed
# resource-agents (4.16, EL10's, has parameters 4.12 lacks).
HEARTBEAT_RECORDED = os.path.join(REPO, "tests", "data", "metadata", "heartbeat-IPaddr2.xml")
HEARTBEAT = "/usr/lib/ocf/resource.d/heartbeat/IPaddr2"
DTD = "/usr/share/resource-agents/ra-api-1.dtd"

needs_resource_agents = pytest.mark.skipif(
    not os.path.exists(HEARTBEAT), reason="resource-agents is not installed"
)


def install(tmp_path: Any, python: str = sys.executable) -> str:
    """The entry point as `make install-agent` writes it."""
    target = tmp_path / "IPaddr2"
    text = open(ENTRY).read().replace("PCS_OCI_PYTHON=/usr/bin/python3", "PCS_OCI_PYTHON=" + python)
    target.write_text(text)
    target.chmod(0o755)
    return str(target)


def run(agent: str, action: str, env: Dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [agent, action], capture_output=True, text=True, env=env, timeout=60, check=False
    )


def base_env(**extra: str) -> Dict[str, str]:
    env = {"PATH": os.environ["PATH"], "OCF_ROOT": "/usr/lib/ocf"}
    env.update(extra)
    return env


def recorded_heartbeat(tmp_path: Any) -> str:
    """An OCF_ROOT whose heartbeat IPaddr2 prints the recorded meta-data."""
    root = tmp_path / "ocf-recorded"
    agent = root / "resource.d" / "heartbeat" / "IPaddr2"
    agent.parent.mkdir(parents=True)
    agent.write_text('#!/bin/sh\nexec cat "{}"\n'.format(HEARTBEAT_RECORDED))
    agent.chmod(0o755)
    return str(root)


def test_meta_data_matches_golden_file(tmp_path: Any) -> None:
    env = base_env(OCF_ROOT=recorded_heartbeat(tmp_path))
    result = run(install(tmp_path), "meta-data", env)
    assert result.returncode == 0, result.stderr
    with open(GOLDEN) as f:
        assert result.stdout == f.read(), "run `make metadata-update` if the change is intended"


@needs_resource_agents
@pytest.mark.skipif(not shutil.which("xmllint"), reason="xmllint is not installed")
def test_meta_data_is_valid_against_ra_api_dtd() -> None:
    result = subprocess.run(
        ["xmllint", "--noout", "--dtdvalid", DTD, GOLDEN],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


@needs_resource_agents
def test_meta_data_accepts_every_heartbeat_parameter(tmp_path: Any) -> None:
    import xml.etree.ElementTree as ET

    ours = ET.fromstring(run(install(tmp_path), "meta-data", base_env()).stdout)
    theirs = ET.fromstring(run(HEARTBEAT, "meta-data", base_env()).stdout)
    names = [p.get("name") for p in ours.iter("parameter")]
    # the installed IPaddr2's parameters, in its order, then the OCI ones
    golden = ET.parse(GOLDEN).getroot()
    oci = [p.get("name") for p in golden.iter("parameter")]
    oci = oci[len(list(ET.parse(HEARTBEAT_RECORDED).getroot().iter("parameter"))) :]
    assert names == [p.get("name") for p in theirs.iter("parameter")] + oci
    assert {"vnic_ids", "auth", "monitor_api", "monitor_api_interval", "api_timeout"} < set(names)
    assert ours.find("version").text == "1.1"  # type: ignore[union-attr]


def fake_heartbeat(tmp_path: Any) -> str:
    root = tmp_path / "ocf"
    agent = root / "resource.d" / "heartbeat" / "IPaddr2"
    agent.parent.mkdir(parents=True)
    agent.write_text('#!/bin/sh\necho "heartbeat $1 ip=$OCF_RESKEY_ip"\nexit 7\n')
    agent.chmod(0o755)
    return str(root)


# A Python that does not exist proves that a monitor never reaches it: 127
# (command not found) means it went to the handlers.
NO_PYTHON = "/nonexistent/python3"
RECURRING = {"OCF_RESKEY_CRM_meta_interval": "10000"}


def monitor_env(tmp_path: Any, **extra: str) -> Dict[str, str]:
    return base_env(
        OCF_ROOT=fake_heartbeat(tmp_path),
        OCF_RESOURCE_INSTANCE="vip",
        OCF_RESKEY_ip="10.0.0.200",
        PCS_OCI_STATE_DIR=str(tmp_path / "state"),
        **extra,
    )


def uptime() -> int:
    with open("/proc/uptime") as f:
        return int(float(f.read().split()[0]))


def write_fresh(tmp_path: Any, content: str) -> None:
    (tmp_path / "state").mkdir(exist_ok=True)
    (tmp_path / "state" / "vip.fresh").write_text(content)


def test_plain_monitor_execs_heartbeat_without_python(tmp_path: Any) -> None:
    agent = install(tmp_path, python=NO_PYTHON)
    env = monitor_env(tmp_path, **RECURRING)
    for action in ("monitor", "status"):
        result = run(agent, action, env)
        assert result.returncode == 7
        assert result.stdout == "heartbeat {} ip=10.0.0.200\n".format(action)


def test_probe_on_a_node_that_knows_the_vip_execs_heartbeat(tmp_path: Any) -> None:
    agent = install(tmp_path, python=NO_PYTHON)
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "vip.json").write_text("{}")
    result = run(agent, "monitor", monitor_env(tmp_path))
    assert result.returncode == 7 and result.stdout.startswith("heartbeat monitor")


@pytest.mark.parametrize("instance", ["vip", "vip:0", ""])
def test_probe_on_a_node_that_does_not_know_the_vip_goes_to_the_handlers(
    tmp_path: Any, instance: str
) -> None:
    # The handlers start the warm-up for the next start (tests/unit/agent/test_warm.py).
    env = monitor_env(tmp_path, OCF_RESKEY_CRM_meta_interval="0")
    env["OCF_RESOURCE_INSTANCE"] = instance
    assert run(install(tmp_path, python=NO_PYTHON), "monitor", env).returncode == 127


def test_monitor_api_true_goes_through_python(tmp_path: Any) -> None:
    agent = install(tmp_path, python=NO_PYTHON)
    result = run(agent, "monitor", monitor_env(tmp_path, OCF_RESKEY_monitor_api="True"))
    assert result.returncode == 127  # the missing python, i.e. not the fast path


SHELLFUNCS = "/usr/lib/ocf/lib/heartbeat/ocf-shellfuncs"
# ocf_is_true's true spellings, their false mirror, and near misses either
# side could get wrong (case, whitespace, the y/n Pacemaker itself takes).
BOOLEAN_SPELLINGS = sorted(
    set(ocf.TRUE_VALUES + ocf.FALSE_VALUES)
    | {"Yes", "yEs", "On", "oN", "Ja", "JA", "tRUE", "y", "Y", "n", "2", "", " true", "true "}
)


def ocf_is_true(value: str) -> bool:
    """resource-agents' own verdict: its ocf_is_true, sourced from ocf-shellfuncs."""
    result = subprocess.run(
        ["sh", "-c", '. "$1" && ocf_is_true "$2"', "sh", SHELLFUNCS, value],
        env=base_env(),
        capture_output=True,
        timeout=30,
        check=False,
    )
    return result.returncode == 0


@pytest.mark.skipif(not os.path.exists(SHELLFUNCS), reason="resource-agents is not installed")
@pytest.mark.parametrize("value", BOOLEAN_SPELLINGS)
def test_monitor_api_spellings_agree_with_ocf_is_true(tmp_path: Any, value: str) -> None:
    """The entry point hands a monitor to Python exactly when ocf_is_true(monitor_api),
    and Python then runs the cloud check (or, for a value that is neither true nor
    false in ocf_is_true's spellings, refuses the parameter)."""
    log = tmp_path / "python.log"
    python = tmp_path / "python3"
    python.write_text('#!/bin/sh\necho "$@" >> "{}"\n'.format(log))
    python.chmod(0o755)
    root = fake_heartbeat(tmp_path)
    # A recurring monitor with no fresh OCI answer: a probe would go to Python
    # whatever monitor_api says (the handlers learn the VIP after it).
    env = base_env(
        OCF_ROOT=root,
        OCF_RESKEY_ip="10.0.0.200",
        OCF_RESKEY_monitor_api=value,
        OCF_RESOURCE_INSTANCE="vip",
        PCS_OCI_STATE_DIR=str(tmp_path / "state"),
        **RECURRING,
    )
    result = run(install(tmp_path, python=str(python)), "monitor", env)
    through_python = log.exists()
    expected = ocf_is_true(value)
    assert through_python is expected, (value, result.stdout)
    if through_python:
        assert (result.returncode, log.read_text()) == (0, "-I -m pcs_oci.agent monitor\n")
    else:
        assert (result.returncode, result.stdout) == (7, "heartbeat monitor ip=10.0.0.200\n")
    assert ocf.is_true(value) is expected
    try:
        assert params.parse({"ip": "10.0.0.200", "monitor_api": value}).monitor_api is expected
    except params.AgentError as e:
        assert not expected and value and "monitor_api" in e.reason


def test_monitor_api_with_a_fresh_answer_execs_heartbeat(tmp_path: Any) -> None:
    agent = install(tmp_path, python=NO_PYTHON)
    write_fresh(tmp_path, "{} 10.0.0.200\n".format(uptime() - 5))
    env = monitor_env(tmp_path, OCF_RESKEY_monitor_api="true", **RECURRING)
    result = run(agent, "monitor", env)
    assert result.returncode == 7 and result.stdout == "heartbeat monitor ip=10.0.0.200\n"
    # A probe is not a monitor_api check: the handlers decide (they skip OCI).
    probe = dict(env, OCF_RESKEY_CRM_meta_interval="0")
    assert run(agent, "monitor", probe).returncode == 127


@pytest.mark.parametrize(
    "content, extra",
    [
        ("{old} 10.0.0.200\n", {}),  # older than monitor_api_interval (60 s)
        ("{recent} 10.0.0.200\n", {"OCF_RESKEY_monitor_api_interval": "2"}),
        ("{recent} 10.0.0.201\n", {}),  # another VIP's answer
        ("{future} 10.0.0.200\n", {}),  # "checked" after now
        ("{recent}\n", {}),  # truncated
        ("", {}),
        ("$(touch pwned) 10.0.0.200\n", {}),
        ("x[$(touch pwned)] 10.0.0.200\n", {}),
        ("{recent} 10.0.0.200\n", {"OCF_RESKEY_monitor_api_interval": "a[$(touch pwned)]"}),
        ("{recent} 10.0.0.200\n", {"OCF_RESOURCE_INSTANCE": "../vip"}),
    ],
)
def test_monitor_api_without_a_fresh_answer_goes_to_the_handlers(
    tmp_path: Any, content: str, extra: Dict[str, str]
) -> None:
    now = uptime()
    write_fresh(tmp_path, content.format(old=now - 61, recent=now - 5, future=now + 100))
    env = monitor_env(tmp_path, OCF_RESKEY_monitor_api="yes", **RECURRING)
    env.update(extra)
    result = run(install(tmp_path, python=NO_PYTHON), "monitor", env)
    assert result.returncode == 127
    assert not (tmp_path / "pwned").exists() and not os.path.exists("pwned")


def test_unknown_action_is_unimplemented_with_reason(tmp_path: Any) -> None:
    result = run(install(tmp_path), "migrate_to", base_env(OCF_ROOT=fake_heartbeat(tmp_path)))
    assert result.returncode == 3
    assert "ocf-exit-reason:action 'migrate_to' is not implemented" in result.stderr


def test_missing_heartbeat_agent_is_not_installed(tmp_path: Any) -> None:
    result = run(install(tmp_path), "start", base_env(OCF_ROOT=str(tmp_path)))
    assert result.returncode == 5
    assert "install resource-agents" in result.stderr


def test_bad_parameter_exit_reason_reaches_pacemaker(tmp_path: Any) -> None:
    env = base_env(OCF_ROOT=fake_heartbeat(tmp_path), OCF_RESKEY_ip="10.0.0.5; reboot")
    result = run(install(tmp_path), "start", env)
    assert result.returncode == 6
    assert "ocf-exit-reason:ip: '10.0.0.5; reboot' is not an IPv4 or IPv6 address" in result.stderr
    assert "Traceback" not in result.stderr
