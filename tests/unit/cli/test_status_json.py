"""`pcs-oci status --json`: the exact keys and types pcs-oci(8) documents, and the exit codes."""

import argparse
import json
import re
from pathlib import Path
from typing import Any, Dict

import pytest

from pcs_oci.cli import cluster_cmd
from pcs_oci.common import exit_codes, reports
from tests.unit.lib.test_status import World

MAN = Path(__file__).resolve().parents[3] / "man" / "pcs-oci.8"
NoneType = type(None)
# Key -> the JSON types it may have, as pcs-oci(8) lists them.
TOP = {"schema_version": (int,), "local_node": (str,), "agree": (bool,), "vips": (list,)}
VIP = {
    "name": (str,),
    "ip": (str,),
    "agree": (bool,),
    "pacemaker_state": (str,),
    "pacemaker_nodes": (list,),
    "local_node": (str,),
    "local_has_address": (bool,),
    "oci_checked": (bool,),
    "oci_vnic_id": (str, NoneType),
    "oci_node": (str, NoneType),
    "oci_error": (str, NoneType),
    "oci_error_code": (str, NoneType),
    "public_ip": (str, NoneType),
    "public_ip_lifetime": (str, NoneType),
    "problems": (list,),
    "problem_codes": (list,),
}


def run(world: World, capsys: Any, active: Any, addrs: Any, no_oci: bool = False) -> Any:
    env = world.env(active, addrs)
    rc = cluster_cmd.status(env, argparse.Namespace(json=True, no_oci=no_oci))
    return rc, json.loads(capsys.readouterr().out)


def assert_shape(data: Dict[str, Any]) -> None:
    assert list(data) == list(TOP)
    for key, types in TOP.items():
        assert type(data[key]) in types, key
    for vip in data["vips"]:
        assert list(vip) == list(VIP)
        for key, types in VIP.items():
            assert type(vip[key]) in types, (key, vip[key])
        assert all(type(x) is str for x in vip["pacemaker_nodes"] + vip["problems"])
        assert all(type(x) is str for x in vip["problem_codes"])


@pytest.fixture
def world(tmp_path: Any) -> World:
    return World(tmp_path)


def test_agreeing_vip_exit_0_and_every_key(world: World, capsys: Any) -> None:
    rc, data = run(world, capsys, "node1", ["10.0.0.200"])
    assert rc == exit_codes.OK == 0
    assert_shape(data)
    assert data["schema_version"] == 1 and data["agree"] is True
    (vip,) = data["vips"]
    assert vip["oci_checked"] is True and vip["oci_node"] == "node1"
    assert (vip["oci_error"], vip["oci_error_code"], vip["problem_codes"]) == (None, None, [])


def test_disagreement_exit_3_with_its_codes(world: World, capsys: Any) -> None:
    world.api.move_behind_back(world.pid, world.vnic2)
    rc, data = run(world, capsys, "node1", [])
    assert rc == exit_codes.PRECONDITION == 3
    assert_shape(data)
    (vip,) = data["vips"]
    assert data["agree"] is False and vip["agree"] is False
    assert vip["problem_codes"] == [reports.VIP_ADDRESS_MISSING, reports.VIP_OCI_ELSEWHERE]
    assert len(vip["problems"]) == 2


def test_without_oci_the_code_says_not_checked(world: World, capsys: Any) -> None:
    rc, data = run(world, capsys, "node1", ["10.0.0.200"], no_oci=True)
    assert rc == 0
    assert_shape(data)
    (vip,) = data["vips"]
    assert vip["oci_checked"] is False
    assert vip["oci_error_code"] == reports.OCI_NOT_CHECKED
    assert (vip["oci_vnic_id"], vip["public_ip"]) == (None, None)


def man_keys(section: str) -> Dict[str, str]:
    """key -> its type as pcs-oci(8) writes it: `.TP`, `.B key`, `(type) meaning`."""
    text = section.replace("\\-", "-")
    return dict(re.findall(r"^\.TP\n\.B (\w+)\n\(([\w ]+)\)", text, re.M))


def test_the_man_page_lists_every_key_with_its_type() -> None:
    text = MAN.read_text()
    section = text[text.index('.SH "STATUS JSON"') :]
    section = section[: section.index("\n.SH ", 1)]
    top, vips = section.split('.SS "Each VIP"')
    names = {int: "integer", str: "string", bool: "boolean", list: "array", NoneType: "null"}
    for documented, keys in ((man_keys(top), TOP), (man_keys(vips), VIP)):
        assert list(documented) == list(keys)
        for key, types in keys.items():
            words = documented[key].split()
            assert words[0] == names[types[0]], key
            assert ("null" in words) is (NoneType in types), key
