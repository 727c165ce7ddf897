"""The config contract: every class of invalid config, with its path and code."""

import copy
import os
import stat
from typing import Any, Dict, List

import pytest

from pcs_oci.common import reports
from pcs_oci.lib import config, config_validation
from pcs_oci.lib.errors import ConfigError, PcsOciError

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

VALID: Dict[str, Any] = {
    "cluster_name": "vip-failover-test",
    "nodes": [
        {"hostname": "node1", "vnic_id": "ocid1.vnic.oc1.iad.abyhqljraaaa"},
        {"hostname": "node2", "vnic_id": "ocid1.vnic.oc1.iad.abyhqljsbbbb"},
    ],
    "vips": [
        {"name": "Cluster_VIP", "ip": "10.0.0.200", "cidr_netmask": 24, "monitor_interval": "10s"}
    ],
    "resource_stickiness": 100,
    "oci": {"auth": "instance_principal"},
}


VNIC_B = "ocid1.vnic.oc1.iad.abyhqljsecond"


def test_vip_vnic_ids_override_the_nodes_vnic_id() -> None:
    """A VIP in a secondary VNIC's subnet: its own VNICs, the nodes' for the rest."""
    second = {"name": "vip2", "ip": "10.0.1.5", "vnic_ids": {"NODE2": VNIC_B}}
    loaded = config.from_document(doc(vips=VALID["vips"] + [second]))
    assert problems(doc(vips=VALID["vips"] + [second])) == []
    first, other = loaded.vips
    assert loaded.vnic_ids(first) == {
        "node1": "ocid1.vnic.oc1.iad.abyhqljraaaa",
        "node2": "ocid1.vnic.oc1.iad.abyhqljsbbbb",
    }
    assert loaded.vnic_ids(other) == {"node1": "ocid1.vnic.oc1.iad.abyhqljraaaa", "node2": VNIC_B}
    assert loaded.to_dict()["vips"][1]["vnic_ids"] == {"NODE2": VNIC_B}


def doc(**changes: Any) -> Dict[str, Any]:
    result = copy.deepcopy(VALID)
    result.update(changes)
    return result


def problems(document: Any) -> List[tuple]:
    return [(r.code, r.where) for r in config_validation.validate(document)]


def test_example_config_is_valid() -> None:
    loaded = config.load(os.path.join(REPO, "conf", "pcs-oci.json"))
    assert [n.hostname for n in loaded.nodes] == ["node1", "node2"]
    assert loaded.vips[0].ip == "10.0.0.200"
    assert loaded.resource_stickiness == 100


def test_minimal_config_gets_defaults() -> None:
    loaded = config.from_document(
        {"nodes": [{"hostname": "a"}, {"hostname": "b"}], "vips": [{"name": "v", "ip": "fd00::5"}]}
    )
    assert loaded.resource_stickiness == 100
    assert loaded.vips[0].monitor_interval == "10s"
    assert loaded.vips[0].cidr_netmask is None
    assert loaded.oci.auth == "instance_principal"
    assert loaded.oci.timeout == 10
    assert loaded.to_dict()["oci"] == {"auth": "instance_principal", "timeout": 10}


def test_api_key_defaults_config_file_and_profile() -> None:
    loaded = config.from_document(doc(oci={"auth": "api_key"}))
    assert (loaded.oci.config_file, loaded.oci.profile) == ("/root/.oci/config", "DEFAULT")


def test_valid_document_has_no_problems() -> None:
    assert problems(VALID) == []


@pytest.mark.parametrize(
    "document, expected",
    [
        (doc(nodes=[{"hostname": "node1"}]), (reports.CONFIG_SCHEMA, "nodes")),
        (
            doc(nodes=[{"hostname": "n{}".format(i)} for i in range(33)]),
            (reports.CONFIG_SCHEMA, "nodes"),
        ),
        (doc(vips=[]), (reports.CONFIG_SCHEMA, "vips")),
        (doc(typo=1), (reports.CONFIG_SCHEMA, "(top level)")),
        (
            doc(nodes=[{"hostname": "node1", "vnic": "x"}, {"hostname": "node2"}]),
            (reports.CONFIG_SCHEMA, "nodes[0]"),
        ),
        (
            doc(nodes=[{"hostname": "node1"}, {"hostname": "node 2"}]),
            (reports.CONFIG_SCHEMA, "nodes[1].hostname"),
        ),
        (
            doc(nodes=[{"hostname": "node1"}, {"hostname": "node2;rm"}]),
            (reports.CONFIG_SCHEMA, "nodes[1].hostname"),
        ),
        (
            doc(
                nodes=[
                    {"hostname": "node1"},
                    {"hostname": "node2", "vnic_id": "ocid1.instance.oc1..x"},
                ]
            ),
            (reports.CONFIG_SCHEMA, "nodes[1].vnic_id"),
        ),
        (doc(vips=[{"name": "1bad", "ip": "10.0.0.5"}]), (reports.CONFIG_SCHEMA, "vips[0].name")),
        (doc(vips=[{"ip": "10.0.0.5"}]), (reports.CONFIG_SCHEMA, "vips[0]")),
        (
            doc(vips=[{"name": "v", "ip": "10.0.0.5", "monitor_interval": "often"}]),
            (reports.CONFIG_SCHEMA, "vips[0].monitor_interval"),
        ),
        (doc(resource_stickiness=-5), (reports.CONFIG_SCHEMA, "resource_stickiness")),
        (doc(resource_stickiness="100"), (reports.CONFIG_SCHEMA, "resource_stickiness")),
        (doc(oci={"auth": "password"}), (reports.CONFIG_SCHEMA, "oci.auth")),
        (
            doc(oci={"endpoint": "https://iaas.x.com/20160918"}),
            (reports.CONFIG_SCHEMA, "oci.endpoint"),
        ),
        (doc(oci={"timeout": 0}), (reports.CONFIG_SCHEMA, "oci.timeout")),
        (
            doc(oci={"config_file": "/root/.oci/config"}),
            (reports.CONFIG_INVALID_VALUE, "oci.config_file"),
        ),
        (
            doc(vips=[{"name": "v", "ip": "10.0.0.300"}]),
            (reports.CONFIG_INVALID_VALUE, "vips[0].ip"),
        ),
        (
            doc(vips=[{"name": "v", "ip": "10.0.0.0/24"}]),
            (reports.CONFIG_INVALID_VALUE, "vips[0].ip"),
        ),
        (
            doc(vips=[{"name": "v", "ip": "10.0.0.0", "cidr_netmask": 24}]),
            (reports.CONFIG_INVALID_VALUE, "vips[0].ip"),
        ),
        (
            doc(vips=[{"name": "v", "ip": "10.0.0.255", "cidr_netmask": 24}]),
            (reports.CONFIG_INVALID_VALUE, "vips[0].ip"),
        ),
        (
            doc(vips=[{"name": "v", "ip": "10.0.0.5", "cidr_netmask": 33}]),
            (reports.CONFIG_INVALID_VALUE, "vips[0].cidr_netmask"),
        ),
        (
            doc(vips=[{"name": "v", "ip": "127.0.0.5"}]),
            (reports.CONFIG_INVALID_VALUE, "vips[0].ip"),
        ),
        (
            doc(vips=[{"name": "v", "ip": "10.0.0.5", "monitor_interval": "0s"}]),
            (reports.CONFIG_INVALID_VALUE, "vips[0].monitor_interval"),
        ),
        (
            doc(nodes=[{"hostname": "node1"}, {"hostname": "NODE1"}]),
            (reports.CONFIG_DUPLICATE, "nodes[1].hostname"),
        ),
        (
            doc(
                nodes=[
                    {"hostname": "a", "vnic_id": "ocid1.vnic.oc1.iad.x"},
                    {"hostname": "b", "vnic_id": "ocid1.vnic.oc1.iad.x"},
                ]
            ),
            (reports.CONFIG_DUPLICATE, "nodes[1].vnic_id"),
        ),
        (
            doc(vips=[{"name": "v", "ip": "10.0.0.5"}, {"name": "v", "ip": "10.0.0.6"}]),
            (reports.CONFIG_DUPLICATE, "vips[1].name"),
        ),
        (
            doc(vips=[{"name": "a", "ip": "fd00::5"}, {"name": "b", "ip": "fd00:0::05"}]),
            (reports.CONFIG_DUPLICATE, "vips[1].ip"),
        ),
        (
            doc(vips=[{"name": "v", "ip": "10.0.0.5", "group": "1web"}]),
            (reports.CONFIG_SCHEMA, "vips[0].group"),
        ),
        (
            doc(
                vips=[
                    {"name": "a", "ip": "10.0.0.5"},
                    {"name": "b", "ip": "10.0.0.6", "group": "a"},
                ]
            ),
            (reports.CONFIG_INVALID_VALUE, "vips[1].group"),
        ),
        (
            doc(vips=[{"name": "v", "ip": "10.0.1.5", "vnic_ids": {"node3": VNIC_B}}]),
            (reports.CONFIG_INVALID_VALUE, "vips[0].vnic_ids"),
        ),
        (
            doc(vips=[{"name": "v", "ip": "10.0.1.5", "vnic_ids": {"node1": "vnic-1"}}]),
            (reports.CONFIG_SCHEMA, "vips[0].vnic_ids.node1"),
        ),
    ],
)
def test_invalid_config_reports_code_and_path(document: Any, expected: tuple) -> None:
    assert expected in problems(document)


def test_ipv6_prefix_range_and_subnet_router_anycast() -> None:
    assert problems(doc(vips=[{"name": "v", "ip": "fd00::5", "cidr_netmask": 64}])) == []
    assert (reports.CONFIG_INVALID_VALUE, "vips[0].ip") in problems(
        doc(vips=[{"name": "v", "ip": "fd00::", "cidr_netmask": 64}])
    )


def test_every_problem_is_reported_at_once() -> None:
    bad = doc(
        nodes=[{"hostname": "node1", "vnic_id": "nope"}, {"hostname": "node1"}],
        vips=[{"name": "v", "ip": "10.0.0.300"}],
        oci={"auth": "x"},
        extra=True,
    )
    found = problems(bad)
    assert len(found) == 5
    assert {w for _, w in found} == {
        "nodes[0].vnic_id",
        "nodes[1].hostname",
        "vips[0].ip",
        "oci.auth",
        "(top level)",
    }


def test_error_message_names_the_value_and_the_fix() -> None:
    bad = doc(
        nodes=[{"hostname": "node1"}, {"hostname": "node2", "vnic_id": "ocid1.instance.oc1..x"}]
    )
    (report,) = config_validation.validate(bad)
    assert report.render() == (
        "nodes[1].vnic_id: 'ocid1.instance.oc1..x' is not a VNIC OCID "
        "(expected ocid1.vnic.<realm>.<region>.<id>; `pcs-oci discover` prints this node's VNICs)"
    )


def test_unknown_key_lists_allowed_keys() -> None:
    (report,) = config_validation.validate(doc(oci={"auth": "api_key", "profle": "X"}))
    assert report.where == "oci"
    assert "'profle'" in report.message
    assert "profile" in report.hint


def write(tmp_path: Any, text: Any, name: str = "c.json") -> str:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return str(path)


def load_codes(path: str) -> List[str]:
    with pytest.raises(ConfigError) as e:
        config.load(path)
    return e.value.codes


def test_json_syntax_error_has_line_and_column(tmp_path: Any) -> None:
    path = write(tmp_path, '{\n  "nodes": [\n    {"hostname": "a"},,\n')
    with pytest.raises(ConfigError) as e:
        config.load(path)
    (report,) = e.value.reports
    assert report.code == reports.CONFIG_JSON_SYNTAX
    assert "line 3 column 23" in report.message


def test_duplicate_json_key_is_an_error(tmp_path: Any) -> None:
    path = write(tmp_path, '{"nodes": [], "nodes": []}')
    assert load_codes(path) == [reports.CONFIG_JSON_SYNTAX]


@pytest.mark.parametrize(
    "content",
    [b"\xff\xfe{}", b'{"nodes": "\x00"}', b"[" * 100000 + b"]" * 100000, b" " * (2 * 1024 * 1024)],
    ids=["not-utf8", "nul", "deep", "huge"],
)
def test_broken_files_are_clear_errors(tmp_path: Any, content: bytes) -> None:
    codes = load_codes(write(tmp_path, content))
    assert codes[0] in (reports.CONFIG_FILE_UNREADABLE, reports.CONFIG_JSON_SYNTAX)


def test_unreadable_file_reports_os_reason(tmp_path: Any) -> None:
    with pytest.raises(ConfigError) as e:
        config.load(str(tmp_path / "missing.json"))
    (report,) = e.value.reports
    assert report.code == reports.CONFIG_FILE_UNREADABLE
    assert "No such file or directory" in report.message
    assert "config init" in report.hint


def test_non_object_top_level(tmp_path: Any) -> None:
    assert load_codes(write(tmp_path, "[1, 2]")) == [reports.CONFIG_SCHEMA]


def test_env_variable_selects_default_path(monkeypatch: Any) -> None:
    monkeypatch.setenv("PCS_OCI_CONFIG", "/srv/x.json")
    assert config.resolve_path(None) == "/srv/x.json"
    assert config.resolve_path("/y.json") == "/y.json"
    monkeypatch.delenv("PCS_OCI_CONFIG")
    assert config.resolve_path(None) == "/etc/pcs-oci/pcs-oci.json"


def test_write_atomic_mode_and_symlink_replaced(tmp_path: Any) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("keep")
    link = tmp_path / "cfg.json"
    link.symlink_to(outside)
    config.write_atomic(str(link), "{}\n", 0o644)
    assert outside.read_text() == "keep"
    assert not link.is_symlink()
    assert link.read_text() == "{}\n"
    assert stat.S_IMODE(os.stat(link).st_mode) == 0o644
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".pcs-oci.")] == []


def test_write_atomic_refuses_overwrite(tmp_path: Any) -> None:
    path = write(tmp_path, "old")
    with pytest.raises(PcsOciError) as e:
        config.write_atomic(path, "new", overwrite=False)
    assert e.value.codes == [reports.CONFIG_FILE_EXISTS]
    assert open(path).read() == "old"


def test_write_atomic_into_missing_unwritable_place(tmp_path: Any) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(PcsOciError) as e:
        config.write_atomic(str(blocker / "sub" / "c.json"), "{}")
    assert e.value.codes == [reports.CONFIG_FILE_WRITE_FAILED]


def test_schema_is_draft07_for_el9_jsonschema() -> None:
    assert config_validation.schema()["$schema"] == "http://json-schema.org/draft-07/schema#"


def test_group_is_read_and_shown() -> None:
    loaded = config.from_document(
        {
            "nodes": [{"hostname": "a"}, {"hostname": "b"}],
            "vips": [{"name": "v", "ip": "10.0.0.5", "group": "web"}],
        }
    )
    assert loaded.vips[0].group == "web"
    assert loaded.to_dict()["vips"][0]["group"] == "web"
