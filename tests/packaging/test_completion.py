"""Bash completion: argcomplete's protocol in a subprocess, then real bash with the shipped file."""

import json
import os
import shlex
import shutil
import sys
from typing import Any, List

import pytest

from tests.packaging.tools import (
    COMPLETION_FILE,
    LAUNCHER,
    REPO,
    check,
    complete,
    leaf_verbs,
    option_strings,
    walk,
)

pytest.importorskip("argcomplete", reason="argcomplete is not installed (make venv)")


@pytest.fixture
def vip_config(tmp_path: Any) -> str:
    path = tmp_path / "pcs-oci.json"
    doc = {
        "nodes": [{"hostname": "node1"}, {"hostname": "node2"}],
        "vips": [{"name": "web_vip", "ip": "10.0.0.200"}, {"name": "db_vip", "ip": "10.0.0.201"}],
    }
    path.write_text(json.dumps(doc))
    return str(path)


def words(completions: List[str]) -> List[str]:
    """The completions that are not options (argcomplete offers both on an empty word)."""
    return [c for c in completions if not c.startswith("-")]


def top_verbs() -> List[str]:
    return sorted(path[0] for path, _ in walk() if len(path) == 1)


def test_verbs_complete_by_prefix() -> None:
    assert complete("pcs-oci con") == ["config", "configure"]
    assert complete("pcs-oci st") == ["status"]
    assert words(complete("pcs-oci ")) == top_verbs()


def test_subcommands_of_config() -> None:
    assert words(complete("pcs-oci config ")) == [
        "init",
        "show",
        "validate",
    ]


@pytest.mark.parametrize(
    "path", [path for path, _ in leaf_verbs()], ids=lambda p: "-".join(p) or "top"
)
def test_every_option_of_every_verb_completes(path: Any) -> None:
    parser = dict(walk())[path]
    expected = sorted({o for o in option_strings(parser) if o.startswith("--")} | {"--help"})
    assert complete("pcs-oci {} --".format(" ".join(path))) == expected


def test_vip_names_from_the_config_in_the_environment(vip_config: str) -> None:
    env = {"PCS_OCI_CONFIG": vip_config}
    assert words(complete("pcs-oci unconfigure ", env=env)) == ["db_vip", "web_vip"]
    assert complete("pcs-oci unconfigure w", env=env) == ["web_vip"]
    # A name already given is still offered (pcs would refuse the duplicate).
    assert "db_vip" in complete("pcs-oci unconfigure web_vip ", env=env)


def test_vip_names_from_the_config_option(vip_config: str) -> None:
    env = {"PCS_OCI_CONFIG": "/nonexistent/pcs-oci.json"}
    line = "pcs-oci -c {} unconfigure d".format(vip_config)
    assert complete(line, env=env) == ["db_vip"]
    assert complete("pcs-oci unconfigure --config {} d".format(vip_config), env=env) == ["db_vip"]


def test_no_config_means_no_names_not_an_error() -> None:
    env = {"PCS_OCI_CONFIG": "/nonexistent.json"}
    assert words(complete("pcs-oci unconfigure ", env=env)) == []


def test_config_option_completes_json_files_and_directories(tmp_path: Any) -> None:
    (tmp_path / "a.json").write_text("{}")
    (tmp_path / "b.txt").write_text("")
    (tmp_path / "sub").mkdir()
    words = complete("pcs-oci -c {}/".format(tmp_path))
    assert words == sorted([str(tmp_path / "a.json"), str(tmp_path / "sub") + "/"])


def test_completion_imports_neither_oci_nor_jsonschema(tmp_path: Any, vip_config: str) -> None:
    """Every TAB runs the program: the SDK (~0.4 s) and jsonschema must stay out.

    A meta path hook in the child records each attempt to import them, at
    the moment it happens (argcomplete leaves with os._exit, so nothing
    could be read at exit).
    """
    record = tmp_path / "imports"
    code = (
        "import sys\n"
        "class Spy:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('oci', 'jsonschema'):\n"
        "            with open({record!r}, 'a') as f:\n"
        "                f.write(name + '\\n')\n"
        "        return None\n"
        "sys.meta_path.insert(0, Spy())\n"
        "sys.argv = [{launcher!r}]\n"
        "exec(compile(open({launcher!r}).read(), {launcher!r}, 'exec'))\n"
    ).format(record=str(record), launcher=LAUNCHER)
    argv = [sys.executable, "-c", code]
    env = {"PCS_OCI_CONFIG": vip_config}
    assert words(complete("pcs-oci unconfigure ", argv=argv, env=env)) == ["db_vip", "web_vip"]
    assert complete("pcs-oci con", argv=argv, env=env) == ["config", "configure"]
    assert complete("pcs-oci discover --", argv=argv, env=env)
    assert not record.exists(), record.read_text()


# ------------------------------------------------------------ real bash


def bash_complete(line: str, tmp_path: Any, env: Any = None) -> List[str]:
    """Source the shipped completion file in bash and run its function."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    program = bin_dir / "pcs-oci"
    program.write_text(
        '#!/bin/sh\nexec {} {} "$@"\n'.format(shlex.quote(sys.executable), shlex.quote(LAUNCHER))
    )
    program.chmod(0o755)
    script = (
        "source {file}\n"
        "complete -p pcs-oci >&2\n"
        "COMP_LINE={line}; COMP_POINT=${{#COMP_LINE}}; COMP_TYPE=9\n"
        'read -r -a COMP_WORDS <<< "$COMP_LINE"\n'
        '[[ "$COMP_LINE" == *" " ]] && COMP_WORDS+=("")\n'
        "COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))\n"
        'cur="${{COMP_WORDS[COMP_CWORD]}}"; prev="${{COMP_WORDS[COMP_CWORD-1]}}"\n'
        "COMP_WORDBREAKS=$' \\t\\n\"\\'><=;|&(:'\n"
        '_python_argcomplete pcs-oci "$cur" "$prev"\n'
        'printf "%s\\n" "${{COMPREPLY[@]}}"\n'
    ).format(file=shlex.quote(COMPLETION_FILE), line=shlex.quote(line))
    full_env = dict(os.environ, PATH="{}:{}".format(bin_dir, os.environ.get("PATH", "")))
    full_env.update(env or {})
    result = check(["bash", "--norc", "--noprofile", "-c", script], env=full_env, cwd=REPO)
    assert "-F _python_argcomplete pcs-oci" in result.stderr
    return sorted(w.strip() for w in result.stdout.splitlines() if w.strip())


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_real_bash_with_the_shipped_file(tmp_path: Any, vip_config: str) -> None:
    assert bash_complete("pcs-oci con", tmp_path) == ["config", "configure"]
    env = {"PCS_OCI_CONFIG": vip_config}
    assert words(bash_complete("pcs-oci unconfigure ", tmp_path, env)) == ["db_vip", "web_vip"]
    assert bash_complete("pcs-oci status --n", tmp_path) == ["--no-oci"]


def test_shipped_file_is_what_argcomplete_generates() -> None:
    """scripts/pcs-oci.bash-completion is `make completion`'s output, unedited."""
    register = os.path.join(os.path.dirname(sys.executable), "register-python-argcomplete")
    if not os.path.exists(register):
        pytest.skip("register-python-argcomplete is not in this Python's bin directory")
    generated = check([register, "pcs-oci"]).stdout
    with open(COMPLETION_FILE, encoding="utf-8") as f:
        assert f.read() == generated, "run `make completion`"
