"""The man pages: pcs-oci.8 (by hand) keeps up with the parser, ocf_oci_IPaddr2.7
and fence_oci.8 (rendered from the agents' meta-data) with the agents; all lint
clean."""

import os
import re
import sys
import xml.etree.ElementTree as ET
from typing import Any, Dict, List

import pytest

from pcs_oci.common import exit_codes
from tests.packaging.tools import REPO, check, leaf_verbs, need, option_strings, positional_metavars
from tests.packaging.tools import run as run_tool

PCS_OCI_8 = os.path.join(REPO, "man", "pcs-oci.8")
RENDERER = os.path.join(REPO, "man", "ra2man.py")
FENCE_RENDERER = os.path.join(REPO, "man", "fence2man.py")
FENCE_METADATA = os.path.join(REPO, "tests", "data", "metadata", "fence_oci.xml")


def plain(troff: str) -> str:
    """Troff source as the words it shows: no font escapes, \\- as -."""
    text = re.sub(r"\\f(\[[A-Z]*\]|[A-Z])", "", troff)
    return text.replace("\\-", "-").replace("\\&", "").replace("\\e", "\\")


def sections(troff: str, macro: str) -> Dict[str, str]:
    """Title of each .SH or .SS -> its body, both plain."""
    found: Dict[str, str] = {}
    title = ""
    for line in troff.splitlines():
        if line.startswith(macro + " "):
            title = plain(line[len(macro) + 1 :]).strip().strip('"')
            found[title] = ""
        elif title and (line.startswith(".SH ") or line.startswith(".SS ")):
            title = ""
        elif title:
            found[title] += plain(line) + "\n"
    return found


@pytest.fixture(scope="module")
def page() -> str:
    with open(PCS_OCI_8, encoding="utf-8") as f:
        return f.read()


@pytest.fixture(scope="module")
def metadata() -> str:
    result = check([sys.executable, "-m", "pcs_oci.agent", "meta-data"], cwd=REPO)
    return result.stdout


@pytest.fixture(scope="module")
def ocf_page(metadata: str, tmp_path_factory: Any) -> str:
    directory = tmp_path_factory.mktemp("man")
    xml = directory / "IPaddr2.xml"
    xml.write_text(metadata)
    args = [sys.executable, RENDERER, "--provider", "oci", "--package", "pcs-oci"]
    args += ["--version", "0.1.0", "--date", "2026-11-25", str(xml)]
    path = directory / "ocf_oci_IPaddr2.7"
    path.write_text(check(args).stdout)
    return str(path)


@pytest.fixture(scope="module")
def fence_page(tmp_path_factory: Any) -> str:
    # From the golden meta-data, which tests/integration checks against the agent.
    args = [sys.executable, FENCE_RENDERER, "--package", "pcs-oci", "--version", "0.1.0"]
    args += ["--date", "2026-11-25", FENCE_METADATA]
    path = tmp_path_factory.mktemp("man") / "fence_oci.8"
    path.write_text(check(args).stdout)
    return str(path)


@pytest.fixture(scope="module")
def pages(ocf_page: str, fence_page: str) -> List[str]:
    return [PCS_OCI_8, ocf_page, fence_page]


# ------------------------------------------------------------ lint


def test_mandoc_lint_is_clean(pages: List[str]) -> None:
    need("mandoc")
    for path in pages:
        result = run_tool(["mandoc", "-T", "lint", path])
        assert (result.returncode, result.stdout + result.stderr) == (0, ""), path


def test_groff_has_no_warnings(pages: List[str]) -> None:
    need("groff")
    for path in pages:
        result = run_tool(["groff", "-man", "-ww", "-z", path])
        assert (result.returncode, result.stderr) == (0, ""), path


def test_man_renders_and_whatis_parses(pages: List[str]) -> None:
    need("man", "lexgrog")
    for path, name in zip(pages, ["pcs-oci", "ocf_oci_IPaddr2", "fence_oci"]):
        result = check(
            ["man", "--warnings", "-l", path], env={"MANWIDTH": "80", "MAN_KEEP_FORMATTING": ""}
        )
        assert result.stderr == "", path
        assert "SEE ALSO" in result.stdout
        assert '"{} - '.format(name) in check(["lexgrog", path]).stdout


# ------------------------------------------------------------ pcs-oci.8 and the parser


@pytest.mark.parametrize("path", [p for p, _ in leaf_verbs()], ids=lambda p: "-".join(p))
def test_every_verb_has_a_section_with_its_options(page: str, path: Any) -> None:
    """Each verb has `.SS "pcs-oci VERB ..."` naming every option and argument.

    Options may also be documented once under OPTIONS (-c/--config, which
    every verb accepts).
    """
    parser = dict(leaf_verbs())[path]
    subsections = sections(page, ".SS")
    global_options = sections(page, ".SH")["OPTIONS"]
    prefix = "pcs-oci " + " ".join(path)
    titles = [t for t in subsections if t == prefix or t.startswith(prefix + " ")]
    assert titles, "no .SS section for `{}` in man/pcs-oci.8".format(prefix)
    text = titles[0] + "\n" + subsections[titles[0]]
    for option in option_strings(parser):
        assert re.search(
            r"(?<![\w-]){}(?![\w-])".format(re.escape(option)), text + global_options
        ), "{} of `{}` is not in man/pcs-oci.8".format(option, prefix)
    for metavar in positional_metavars(parser):
        assert metavar in text, "{} of `{}` is not in man/pcs-oci.8".format(metavar, prefix)


def test_global_options_are_documented(page: str) -> None:
    from tests.packaging.tools import walk

    top = dict(walk())[()]
    options = sections(page, ".SH")["OPTIONS"]
    for option in option_strings(top) + ["--help"]:
        assert option in options


def test_exit_codes_are_documented(page: str) -> None:
    codes = {v for k, v in vars(exit_codes).items() if k.isupper() and isinstance(v, int)}
    documented = {
        int(n)
        for n in re.findall(r"^\.B (\d+)$", page.split(".SH EXIT STATUS")[1].split(".SH")[0], re.M)
    }
    assert documented == codes


def test_environment_files_and_policy(page: str) -> None:
    shown = sections(page, ".SH")
    for variable in ("PCS_OCI_CONFIG", "OCI_METADATA_BASE_URL", "PCS_OCI_FEDERATION_ENDPOINT"):
        assert variable in shown["ENVIRONMENT"]
    for path in ("/etc/pcs-oci/pcs-oci.json", "/usr/lib/ocf/resource.d/oci/IPaddr2"):
        assert path in shown["FILES"]
    policy = " ".join(shown["OCI PERMISSIONS"].split())
    for what in ("private-ips", "vnics", "instances"):
        assert "allow dynamic-group <group> to use {} in compartment".format(what) in policy
    for reference in ("pcs (8)", "ocf_oci_IPaddr2 (7)", "crm_mon (8)"):
        assert reference in shown["SEE ALSO"]


def test_worked_example_goes_from_init_to_failover(page: str) -> None:
    example = sections(page, ".SH")["EXAMPLES"]
    steps = [
        "pcs-oci config init",
        "pcs-oci discover --all --update",
        "pcs-oci verify",
        "pcs-oci configure",
        "pcs node standby",
        "pcs-oci status",
    ]
    position = 0
    for step in steps:
        found = example.find(step, position)
        assert found >= 0, "`{}` missing (in this order) from EXAMPLES".format(step)
        position = found + len(step)


def test_example_config_is_the_shipped_example(page: str) -> None:
    import json

    shown = sections(page, ".SH")["CONFIGURATION"]
    with open(os.path.join(REPO, "conf", "pcs-oci.json"), encoding="utf-8") as f:
        example = json.load(f)
    # The first JSON object of the section is the whole example (later ones
    # show a single key, such as a two-subnet "vips").
    documented, _ = json.JSONDecoder().raw_decode(shown[shown.index("{") :].replace("...", ""))
    assert set(documented) == set(example)
    assert documented["vips"] == example["vips"]


# ------------------------------------------------------------ ocf_oci_IPaddr2.7


def test_agent_page_mentions_every_parameter_and_action(metadata: str, ocf_page: str) -> None:
    with open(ocf_page, encoding="utf-8") as f:
        troff = f.read()
    shown = sections(troff, ".SH")
    root = ET.fromstring(metadata)
    params = [p.get("name") for p in root.findall("parameters/parameter")]
    assert len(params) > 20  # heartbeat IPaddr2's and the OCI ones
    for name in params:
        assert re.search(r"^{}$".format(re.escape(name)), shown["SUPPORTED PARAMETERS"], re.M), name
        assert "OCF_RESKEY_{}=".format(name) in shown["SYNOPSIS"]
    for action in root.findall("actions/action"):
        assert re.search(
            r"^{}$".format(re.escape(action.get("name", ""))), shown["SUPPORTED ACTIONS"], re.M
        )
    assert "ocf_oci_IPaddr2 - " in shown["NAME"]
    assert "pcs resource create NAME ocf:oci:IPaddr2 ip=IP" in shown["EXAMPLE"]


def test_renderer_escapes_troff() -> None:
    sys.path.insert(0, os.path.dirname(RENDERER))
    try:
        import ra2man
    finally:
        sys.path.pop(0)
    assert ra2man.filled(".starts like a request") == ["\\&.starts like a request"]
    assert ra2man.filled("a\\b -x \u2013") == ["a\\eb \\-x \\[u2013]"]
    lines = ra2man.filled("word " * 100)
    assert len(lines) > 5 and all(len(line) <= 80 for line in lines)
    assert ra2man.paragraphs("one\n\n  indented\n  block\nafter") == [
        "one",
        ".PP",
        ".RS 4",
        ".nf",
        "indented",
        "block",
        ".fi",
        ".RE",
        "after",
    ]


# ------------------------------------------------------------ fence_oci.8


def test_fence_page_mentions_every_parameter_and_action(fence_page: str) -> None:
    with open(fence_page, encoding="utf-8") as f:
        troff = f.read()
    shown = sections(troff, ".SH")
    with open(FENCE_METADATA, encoding="utf-8") as f:
        root = ET.fromstring(f.read())
    params = [p for p in root.findall("parameters/parameter") if p.get("deprecated") != "1"]
    for p in params:
        name = p.get("name", "")
        mixed = p.find("getopt").get("mixed", "")  # type: ignore[union-attr]
        assert re.search(r"^{}$".format(re.escape(name)), shown["STDIN PARAMETERS"], re.M), name
        assert re.search(r"^{}$".format(re.escape(mixed)), shown["PARAMETERS"], re.M), mixed
    for action in root.findall("actions/action"):
        assert re.search(r"^{}$".format(re.escape(action.get("name", ""))), shown["ACTIONS"], re.M)
    assert "fence_oci - Fence agent for OCI" in shown["NAME"]
    description = " ".join(shown["DESCRIPTION"].split())
    assert "allow dynamic-group <group> to use instances in compartment <compartment>" in (
        description
    )
    assert "pcs stonith create fence_node1 fence_oci" in shown["EXAMPLE"]
    assert "pcs-oci (8)" in shown["SEE ALSO"]
