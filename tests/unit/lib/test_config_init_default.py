"""`config init` over the placeholder the RPM ships as /etc/pcs-oci/pcs-oci.json."""

import json
import os
from typing import Any

import pytest

from pcs_oci.lib.commands import config_cmds
from pcs_oci.lib.env import Env
from pcs_oci.lib.errors import PcsOciError

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
SHIPPED_DEFAULT = os.path.join(REPO, "conf", "pcs-oci.default.json")
ARGS = {"nodes": ["node1", "node2"], "vips": ["10.0.0.200/24"]}


def test_the_shipped_default_describes_nothing() -> None:
    assert config_cmds.describes_nothing(SHIPPED_DEFAULT)


def test_init_replaces_the_shipped_default_without_force(tmp_path: Any) -> None:
    target = tmp_path / "pcs-oci.json"
    with open(SHIPPED_DEFAULT, encoding="utf-8") as f:
        target.write_text(f.read())
    config_cmds.init(Env(config_path=str(target)), **ARGS)
    assert [n["hostname"] for n in json.loads(target.read_text())["nodes"]] == ["node1", "node2"]


@pytest.mark.parametrize(
    "text",
    [
        '{"nodes": [], "vips": [], "oci": {"auth": "api_key"}}',  # an edit to keep
        '{"nodes": [{"hostname": "a"}], "vips": []}',
        "{not json",
    ],
)
def test_init_still_refuses_anything_else(tmp_path: Any, text: str) -> None:
    target = tmp_path / "pcs-oci.json"
    target.write_text(text)
    with pytest.raises(PcsOciError):
        config_cmds.init(Env(config_path=str(target)), **ARGS)
    assert target.read_text() == text
