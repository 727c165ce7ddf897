"""Completion of `pcs-oci drill`: VIP names and, after --to, node names from the config."""

import json
from typing import Any

import pytest

from tests.packaging.tools import complete

pytest.importorskip("argcomplete", reason="argcomplete is not installed (make venv)")


def test_drill_completes_vips_and_nodes_of_the_config(tmp_path: Any) -> None:
    path = tmp_path / "pcs-oci.json"
    doc = {
        "nodes": [{"hostname": "alpha"}, {"hostname": "beta"}],
        "vips": [{"name": "web_vip", "ip": "10.0.0.200"}, {"name": "db_vip", "ip": "10.0.0.201"}],
    }
    path.write_text(json.dumps(doc))
    env = {"PCS_OCI_CONFIG": str(path)}
    assert complete("pcs-oci drill --to ", env=env) == ["alpha", "beta"]
    assert complete("pcs-oci drill --to b", env=env) == ["beta"]
    assert complete("pcs-oci drill w", env=env) == ["web_vip"]
    assert complete("pcs-oci drill --back d", env=env) == ["db_vip"]
