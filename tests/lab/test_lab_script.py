"""Checks of tests/lab/cluster-lab that need neither root nor a cluster."""

import shutil
import subprocess

import pytest

from tests.lab.lab import SCRIPT


def test_help_lists_the_pcs_oci_options() -> None:
    out = subprocess.run(
        ["/bin/bash", str(SCRIPT), "help"], capture_output=True, text=True, check=True
    ).stdout
    for word in (
        "serve [--port P] NAME CMD...",
        "unserve NAME",
        "forward NAME HOSTPORT",
        "isolate NODE --peers",
        "LAB_NODE_ENV_CMD",
        "LAB_NODE_SERVICES",
        "LAB_OCF_PROVIDER_DIR",
    ):
        assert word in out


def test_bash_syntax() -> None:
    subprocess.run(["/bin/bash", "-n", str(SCRIPT)], check=True)


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck not installed")
def test_shellcheck_clean() -> None:
    res = subprocess.run(["shellcheck", str(SCRIPT)], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout
