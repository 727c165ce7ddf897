"""Checks of tests/lab/cluster-lab that need neither root nor a cluster."""

import re
import shutil
import subprocess
from pathlib import Path

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


EL10_ROOT = SCRIPT.with_name("el10-root")


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck not installed")
@pytest.mark.parametrize("script", [SCRIPT, EL10_ROOT], ids=lambda p: p.name)
def test_shellcheck_clean(script: Path) -> None:
    res = subprocess.run(["shellcheck", str(script)], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck not installed")
def test_generated_scripts_are_shellcheck_clean(tmp_path: Path) -> None:
    """The systemctl shim pcs drives inside the nodes, and fence_lab."""
    subprocess.run(
        ["/bin/bash", str(SCRIPT), "__helpers"],
        env={"PATH": "/usr/bin:/bin", "LAB_DIR": str(tmp_path)},
        check=True,
    )
    for script in (tmp_path / "bin" / "systemctl", tmp_path / "sbin" / "fence_lab"):
        res = subprocess.run(["shellcheck", str(script)], capture_output=True, text=True)
        assert res.returncode == 0, res.stdout


def test_el10_root_help_and_path() -> None:
    out = subprocess.run(
        ["/bin/bash", str(EL10_ROOT), "help"], capture_output=True, text=True, check=True
    ).stdout
    for word in ("check [PYTEST_ARGS...]", "build", "run CMD...", "EL10_CACHE", "LAB_NET"):
        assert word in out
    # the root's name is a hash of what goes into it
    path = subprocess.run(
        ["/bin/bash", str(EL10_ROOT), "path"],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin", "EL10_CACHE": "/var/tmp/x"},
    ).stdout.strip()
    assert re.fullmatch(r"/var/tmp/x/pcs-oci-el10-[0-9a-f]{12}", path), path
    bad = subprocess.run(
        ["/bin/bash", str(EL10_ROOT), "bogus"], capture_output=True, text=True, check=False
    )
    assert bad.returncode == 1 and "unknown command 'bogus'" in bad.stderr
