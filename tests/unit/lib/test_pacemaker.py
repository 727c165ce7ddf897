"""pacemaker.py: the node name helper every caller of `crm_node -n` uses."""

import os
from pathlib import Path
from typing import Any

from pcs_oci import settings
from pcs_oci.agent.handlers import Context
from pcs_oci.lib import pacemaker
from pcs_oci.lib.runner import CommandRunner
from tests.tools.fake_runner import Call, FakeRunner

CRM_NODE_N = ["/usr/sbin/crm_node", "-n"]


def fake_crm_node(tmp_path: Path, script: str) -> str:
    path = tmp_path / "crm_node"
    path.write_text("#!/bin/sh\n" + script + "\n")
    path.chmod(0o755)
    return str(path)


def test_the_name_crm_node_prints() -> None:
    runner = FakeRunner([Call(CRM_NODE_N, "node1.example\n")])
    assert pacemaker.pacemaker_node_name(runner) == "node1.example"
    runner.assert_all_called()


def test_no_name_when_crm_node_fails_or_prints_nothing() -> None:
    runner = FakeRunner([Call(CRM_NODE_N, "", "error: not connected", 102), Call(CRM_NODE_N)])
    assert pacemaker.pacemaker_node_name(runner) is None
    assert pacemaker.pacemaker_node_name(runner) is None
    runner.assert_all_called()


def test_no_name_when_crm_node_is_not_installed(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setattr(settings, "CRM_NODE", str(tmp_path / "missing" / "crm_node"))
    assert pacemaker.pacemaker_node_name(CommandRunner()) is None
    assert pacemaker.local_node_name(CommandRunner()) == os.uname().nodename


def test_no_name_when_crm_node_hangs(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setattr(settings, "CRM_NODE", fake_crm_node(tmp_path, "exec sleep 30"))
    monkeypatch.setattr(pacemaker, "NODE_NAME_TIMEOUT", 0.2)
    assert pacemaker.pacemaker_node_name(CommandRunner()) is None


def test_local_node_name_prefers_pacemaker_then_uname() -> None:
    runner = FakeRunner([Call(CRM_NODE_N, "pcmk-name\n"), Call(CRM_NODE_N, returncode=1)])
    assert pacemaker.local_node_name(runner) == "pcmk-name"
    assert pacemaker.local_node_name(runner) == os.uname().nodename


def test_agent_asks_crm_node_only_without_on_node(tmp_path: Path, monkeypatch: Any) -> None:
    """Pacemaker passes on_node; a run by hand asks crm_node through the same helper."""
    monkeypatch.setattr(settings, "CRM_NODE", fake_crm_node(tmp_path, "echo from-crm-node"))
    environ = {"OCF_RESKEY_ip": "10.0.0.200"}
    assert Context("monitor", environ, plumbing=None).node_name() == "from-crm-node"
    environ["OCF_RESKEY_CRM_meta_on_node"] = "from-pacemaker"
    assert Context("monitor", environ, plumbing=None).node_name() == "from-pacemaker"
