"""fence_oci's meta-data: fence-agents' format, the golden file, what Pacemaker and pcs read.

The golden file is what the agent prints with the fencing.py that `make deps`
installs (Debian's fence-agents); regenerate it with `make metadata-update`.
"""

import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Dict

import pytest

REPO = Path(__file__).resolve().parents[2]
AGENT = REPO / "agents" / "fence_oci"
GOLDEN = REPO / "tests" / "data" / "metadata" / "fence_oci.xml"
FENCING = Path("/usr/share/fence/fencing.py")
# fence-agents' RELAX NG schema of agent meta-data (Debian's fence-agents
# ships it; the fence-agents source has it as lib/metadata.rng).
RNG = Path("/usr/share/cluster/relaxng/metadata.rng")

pytestmark = pytest.mark.skipif(
    not FENCING.exists(), reason="fence-agents' fencing.py is not installed (apt fence-agents)"
)


def metadata(*args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OCI_", "PCMK_"))}
    # Never used for meta-data; set so that nothing could reach the real IMDS.
    env["OCI_METADATA_BASE_URL"] = "http://127.0.0.1:9/opc/v2"
    result = subprocess.run(
        [sys.executable, str(AGENT), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_meta_data_matches_the_golden_file() -> None:
    assert metadata("-o", "metadata") == GOLDEN.read_text(), (
        "fence_oci meta-data changed: review and `make metadata-update`"
    )


def test_stdin_metadata_action_is_the_same() -> None:
    # Pacemaker asks with action=metadata on stdin.
    result = subprocess.run(
        [sys.executable, str(AGENT)],
        input="action=metadata\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.stdout == GOLDEN.read_text()


def test_golden_file_is_valid_against_fence_agents_schema() -> None:
    if not RNG.exists() or shutil.which("xmllint") is None:
        pytest.skip("fence-agents' metadata.rng or xmllint is not installed")
    check = subprocess.run(
        ["xmllint", "--noout", "--relaxng", str(RNG), str(GOLDEN)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stderr


def test_the_oci_parameters_and_actions() -> None:
    root = ET.fromstring(GOLDEN.read_text())
    assert root.get("name") == "fence_oci"
    params: Dict[str, ET.Element] = {p.get("name", ""): p for p in root.iter("parameter")}
    content = {name: p.find("content") for name, p in params.items()}
    assert params["plug"].get("required") == "1"
    auth = content["auth"]
    assert auth is not None and auth.get("default") == "instance_principal"
    assert [o.get("value") for o in auth.iter("option")] == ["instance_principal", "api_key"]
    method = content["method"]
    assert method is not None and method.get("default") == "onoff"
    assert [o.get("value") for o in method.iter("option")] == ["onoff", "cycle"]
    for name in ("oci_config_file", "oci_profile", "region", "endpoint", "proxy", "compartment"):
        found = content[name]
        assert found is not None and found.get("type") == "string", name
    timeout = content["api_timeout"]
    assert timeout is not None and (timeout.get("type"), timeout.get("default")) == ("second", "10")
    assert "delay" in params and "power_timeout" in params
    actions = [a.get("name") for a in root.iter("action")]
    for action in ("on", "off", "reboot", "status", "list", "monitor", "metadata", "validate-all"):
        assert action in actions
    longdesc = root.findtext("longdesc") or ""
    assert "allow dynamic-group <group> to use instances in compartment <compartment>" in longdesc
