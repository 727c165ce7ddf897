"""The pcs-oci command as a user runs it: a subprocess, its output and exit status."""

import json
import os
import stat
import subprocess
import sys
from typing import Any, List

import pytest

from pcs_oci import __version__

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
EXAMPLE = os.path.join(REPO, "conf", "pcs-oci.json")


def run(args: List[str], env: Any = None, **kwargs: Any) -> subprocess.CompletedProcess:
    full_env = dict(os.environ, **(env or {}))
    full_env.pop("PCS_OCI_CONFIG", None) if env is None or "PCS_OCI_CONFIG" not in env else None
    return subprocess.run(
        [sys.executable, "-m", "pcs_oci", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=60,
        **kwargs,
    )


def test_version() -> None:
    result = run(["--version"])
    assert result.returncode == 0
    assert result.stdout.strip() == "pcs-oci " + __version__


def test_help_lists_verbs_and_exits_0() -> None:
    result = run(["--help"])
    assert result.returncode == 0
    assert "config" in result.stdout
    assert result.stderr == ""


def test_no_verb_is_usage_error() -> None:
    result = run([])
    assert result.returncode == 2
    assert "usage: pcs-oci" in result.stderr


def test_unknown_option_is_usage_error() -> None:
    result = run(["config", "validate", "--frobnicate"])
    assert result.returncode == 2
    assert "unrecognized arguments: --frobnicate" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("argv", [["--help"], ["config", "--help"], ["config", "init", "--help"]])
def test_help_imports_neither_oci_nor_jsonschema(argv: List[str]) -> None:
    code = (
        "import sys\n"
        "from pcs_oci.cli.main import main\n"
        "try:\n"
        "    main({!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('oci', 'jsonschema'))\n"
        "sys.stderr.write(repr(heavy))\n"
    ).format(argv)
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.stderr == "[]"


def test_validate_example_config() -> None:
    result = run(["config", "validate", EXAMPLE])
    assert result.returncode == 0, result.stderr
    assert result.stdout == "{}: valid (2 nodes, 1 VIP)\n".format(EXAMPLE)


def test_validate_broken_config_prints_every_error_and_exits_1(tmp_path: Any) -> None:
    path = tmp_path / "bad.json"
    path.write_text(
        json.dumps(
            {
                "nodes": [
                    {"hostname": "node1", "vnic_id": "ocid1.instance.oc1..x"},
                    {"hostname": "node1"},
                ],
                "vips": [{"name": "v", "ip": "10.0.0.300"}],
                "colour": "blue",
            }
        )
    )
    result = run(["config", "validate", str(path)])
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert lines == [
        "Error: (top level): unknown key 'colour' (allowed keys: $schema, cluster_name, nodes, "
        "oci, resource_stickiness, vips)",
        "Error: nodes[0].vnic_id: 'ocid1.instance.oc1..x' is not a VNIC OCID (expected "
        "ocid1.vnic.<realm>.<region>.<id>; `pcs-oci discover` prints this node's VNICs)",
        "Error: nodes[1].hostname: duplicate host name 'node1' (also in nodes[0]) "
        "(each host name must be unique)",
        "Error: vips[0].ip: '10.0.0.300' is not an IPv4 or IPv6 address (write the VIP as "
        "10.0.0.200 or fd00::200, without a prefix length (the prefix goes in cidr_netmask))",
    ]
    assert result.stdout == ""


def test_syntax_error_is_one_line_with_position(tmp_path: Any) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"nodes": [\n')
    result = run(["config", "validate", str(path)])
    assert result.returncode == 1
    assert len(result.stderr.splitlines()) == 1
    assert "invalid JSON at line 2 column 1" in result.stderr


def test_missing_default_config_names_path_and_fix(tmp_path: Any) -> None:
    target = str(tmp_path / "none.json")
    result = run(["config", "show"], env={"PCS_OCI_CONFIG": target})
    assert result.returncode == 1
    assert result.stderr == (
        "Error: {}: cannot read the config file: No such file or directory "
        "(create it with `pcs-oci config init`, or give another file with --config)\n".format(
            target
        )
    )


@pytest.mark.parametrize("position", ["top", "verb"])
def test_config_option_before_or_after_verb(position: str) -> None:
    args = ["-c", EXAMPLE, "config", "show", "--json"]
    if position == "verb":
        args = ["config", "show", "--json", "-c", EXAMPLE]
    result = run(args)
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["vips"][0] == {
        "name": "Cluster_VIP",
        "ip": "10.0.0.200",
        "cidr_netmask": 24,
        "monitor_interval": "10s",
        "monitor_api": False,
        "monitor_api_interval": 60,
    }
    assert shown["oci"] == {"auth": "instance_principal", "timeout": 10}


def test_show_text_lists_nodes_and_vips() -> None:
    result = run(["config", "show", "-c", EXAMPLE])
    assert result.returncode == 0
    assert "Cluster_VIP  10.0.0.200  24" in result.stdout
    assert "node2     ocid1.vnic.oc1.iad.abyhqljsexamplenode2vnic" in result.stdout


def test_init_writes_valid_config_and_refuses_overwrite(tmp_path: Any) -> None:
    target = tmp_path / "etc" / "pcs-oci.json"
    args = ["config", "init", "-c", str(target), "--node", "node1=ocid1.vnic.oc1.iad.aaa"]
    args += ["--node", "node2", "--vip", "10.0.0.200/24", "--vip", "web=fd00::10"]
    result = run(args)
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    written = json.loads(target.read_text())
    assert written["nodes"] == [
        {"hostname": "node1", "vnic_id": "ocid1.vnic.oc1.iad.aaa"},
        {"hostname": "node2"},
    ]
    assert written["vips"] == [
        {"name": "Cluster_VIP", "ip": "10.0.0.200", "cidr_netmask": 24, "monitor_interval": "10s"},
        {"name": "web", "ip": "fd00::10", "monitor_interval": "10s"},
    ]
    assert run(["config", "validate", str(target)]).returncode == 0

    again = run(args)
    assert again.returncode == 1
    assert "already exists" in again.stderr and "--force" in again.stderr
    assert json.loads(target.read_text()) == written
    assert run(args + ["--force"]).returncode == 0


def test_init_refuses_to_write_an_invalid_config(tmp_path: Any) -> None:
    target = tmp_path / "c.json"
    result = run(
        ["config", "init", "-c", str(target), "--node", "a", "--node", "b b", "--vip", "1.2.3.4/99"]
    )
    assert result.returncode == 1
    assert "nodes[1].hostname" in result.stderr
    assert "vips[0].cidr_netmask" in result.stderr
    assert not target.exists()


def test_init_needs_two_nodes_and_a_vip(tmp_path: Any) -> None:
    result = run(["config", "init", "-c", str(tmp_path / "c.json"), "--node", "a"])
    assert result.returncode == 1
    assert "at least 2 nodes" in result.stderr
    assert "no VIP given" in result.stderr


def test_internal_error_has_no_traceback_unless_debug(tmp_path: Any) -> None:
    # A config path that is a directory inside which we cannot even stat
    # would be an OS error; simulate a bug instead through an unknown handler.
    code = (
        "import sys\n"
        "from pcs_oci.cli import main as m\n"
        "orig = m.build_parser\n"
        "def bp():\n"
        "    p = orig(); p.set_defaults(handler='pcs_oci.cli.main:does_not_exist'); return p\n"
        "m.build_parser = bp\n"
        "sys.exit(m.main(sys.argv[1:]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 70
    assert result.stderr.startswith("Error: internal error: AttributeError")
    assert "Traceback" not in result.stderr
    debug = subprocess.run(
        [sys.executable, "-c", code, "--debug"], capture_output=True, text=True, timeout=60
    )
    assert "Traceback" in debug.stderr


@pytest.mark.parametrize(
    "argv",
    [
        ["-f", "cib.xml", "migrate", "--dry-run"],
        ["migrate", "-f", "cib.xml", "--dry-run"],
        ["-f", "cib.xml", "configure"],
        ["unconfigure", "-f", "cib.xml", "vip"],
    ],
)
def test_f_is_taken_before_and_after_the_verb(argv: List[str]) -> None:
    from pcs_oci.cli.parser import build_parser

    args = build_parser().parse_args(argv)
    assert args.cib_file == "cib.xml"
    assert args.cib_file_ok


@pytest.mark.parametrize("verb", [["status"], ["verify"], ["discover"], ["config", "show"]])
def test_f_with_a_verb_that_needs_the_live_cluster_is_a_usage_error(verb: List[str]) -> None:
    result = run(["-f", "cib.xml"] + verb)
    assert result.returncode == 2
    assert (
        result.stderr == "Error: -f CIB_FILE works with configure, unconfigure and migrate only\n"
    )


def test_config_show_names_the_group_a_vip_leads(tmp_path: Any) -> None:
    path = tmp_path / "c.json"
    path.write_text(
        json.dumps(
            {
                "nodes": [{"hostname": "node1"}, {"hostname": "node2"}],
                "vips": [{"name": "vip", "ip": "10.0.0.200", "group": "web"}],
            }
        )
    )
    result = run(["-c", str(path), "config", "show"])
    assert result.returncode == 0, result.stderr
    assert "FIRST IN GROUP" in result.stdout
    assert result.stdout.splitlines()[-5].split()[-1] == "web"


def test_reports_print_in_one_place_with_their_severity(monkeypatch: Any, capsys: Any) -> None:
    """What a command hands to env.report() is printed when it ends, and also,
    first, when it then fails; each line says its severity."""
    from pcs_oci.cli import main as cli_main
    from pcs_oci.common import reports
    from pcs_oci.lib.errors import ClusterError

    def succeeds(env: Any, args: Any) -> int:
        env.report(reports.warning("W_CODE", "a warning", "its fix"))
        env.report(reports.info("I_CODE", "worth knowing"))
        print("the output")
        return 0

    def fails(env: Any, args: Any) -> int:
        env.report(reports.warning("W_CODE", "a warning"))
        raise ClusterError(reports.item("E_CODE", "it failed", "the fix"))

    monkeypatch.setattr(cli_main, "_handler", lambda name: succeeds)
    assert cli_main.main(["status"]) == 0
    out, err = capsys.readouterr()
    assert out == "the output\n"
    assert err == "Warning: a warning (its fix)\nInfo: worth knowing\n"

    monkeypatch.setattr(cli_main, "_handler", lambda name: fails)
    assert cli_main.main(["status"]) == 5
    out, err = capsys.readouterr()
    assert (out, err) == ("", "Warning: a warning\nError: it failed (the fix)\n")
