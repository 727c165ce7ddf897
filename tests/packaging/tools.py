"""Helpers of the packaging tests: the repository, the parser's tree, completion."""

import argparse
import os
import shutil
import subprocess
import sys
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import pytest

from pcs_oci.cli.parser import build_parser

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LAUNCHER = os.path.join(REPO, "scripts", "pcs-oci")
COMPLETION_FILE = os.path.join(REPO, "scripts", "pcs-oci.bash-completion")
# What each EL major's build requires (rpm/pcs-oci.spec says where each name
# comes from), with that EL's platform Python; "" is the build for this
# machine's Python, which takes EL9's names.
COMMON_REQUIRES = {
    "pacemaker",
    "pcs",
    "resource-agents",
    "python3-jsonschema",
    "fence-agents-common",
    "iputils",
}
EL_REQUIRES = {
    "": COMMON_REQUIRES | {"python39-oci-sdk >= 2.93.1"},
    "9": COMMON_REQUIRES | {"python39-oci-sdk >= 2.93.1"},
    "10": COMMON_REQUIRES | {"(python3-oci-sdk >= 2.93.1 or python3.12dist(oci) >= 2.93.1)"},
}
EL_PYTHON = {"9": "3.9", "10": "3.12"}
ELS = sorted(EL_PYTHON, key=int)
# make, run from inside `make check`, must not inherit its jobserver.
MAKE_ENV_DROP = ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")


def need(*tools: str) -> None:
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        pytest.skip("{} not installed (make deps installs it)".format(", ".join(missing)))


def run(
    args: Sequence[str], env: Optional[Dict[str, str]] = None, timeout: float = 120, **kw: Any
) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if k not in MAKE_ENV_DROP}
    full_env.update(env or {})
    return subprocess.run(
        list(args), capture_output=True, text=True, env=full_env, timeout=timeout, **kw
    )


def check(args: Sequence[str], **kw: Any) -> subprocess.CompletedProcess:
    result = run(args, **kw)
    assert result.returncode == 0, "{} exited {}:\n{}\n{}".format(
        " ".join(args), result.returncode, result.stdout[-3000:], result.stderr[-3000:]
    )
    return result


# ------------------------------------------------------------ the parser's tree


def _subparsers(parser: argparse.ArgumentParser) -> Dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def walk(
    parser: Optional[argparse.ArgumentParser] = None, path: Tuple[str, ...] = ()
) -> Iterator[Tuple[Tuple[str, ...], argparse.ArgumentParser]]:
    """(verb path, parser) for the top level and every verb, depth first."""
    parser = parser or build_parser()
    yield path, parser
    for name, sub in _subparsers(parser).items():
        yield from walk(sub, path + (name,))


def leaf_verbs() -> List[Tuple[Tuple[str, ...], argparse.ArgumentParser]]:
    return [(path, p) for path, p in walk() if path and not _subparsers(p)]


def option_strings(parser: argparse.ArgumentParser) -> List[str]:
    """Every option string but -h/--help (documented once for all)."""
    return [
        o for action in parser._actions for o in action.option_strings if o not in ("-h", "--help")
    ]


def positional_metavars(parser: argparse.ArgumentParser) -> List[str]:
    return [
        str(action.metavar or action.dest)
        for action in parser._actions
        if not action.option_strings and not isinstance(action, argparse._SubParsersAction)
    ]


# ------------------------------------------------------------ completion

IFS = "\013"


def complete(
    line: str,
    argv: Optional[Sequence[str]] = None,
    env: Optional[Dict[str, str]] = None,
    timeout: float = 30,
) -> List[str]:
    """Complete `line` the way the shell half of argcomplete does.

    The program runs in a subprocess with _ARGCOMPLETE set, gets the
    completions on fd 8 (and debug output on fd 9), exactly as the
    completion file's `"$@" 8>&1 9>&2` gives them.
    """
    full_env = dict(
        os.environ,
        _ARGCOMPLETE="1",
        _ARGCOMPLETE_IFS=IFS,
        _ARGCOMPLETE_SHELL="bash",
        COMP_LINE=line,
        COMP_POINT=str(len(line)),
        COMP_TYPE="9",
        **(env or {}),
    )
    read_end, write_end = os.pipe()
    devnull = os.open(os.devnull, os.O_WRONLY)

    def child_fds() -> None:
        os.dup2(write_end, 8)
        os.dup2(devnull, 9)

    # close_fds=False: with pass_fds/close_fds, subprocess would close fds 8
    # and 9 again after preexec_fn.
    proc = subprocess.Popen(
        list(argv or [sys.executable, LAUNCHER]),
        env=full_env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        preexec_fn=child_fds,
        close_fds=False,
    )
    os.close(write_end)
    os.close(devnull)
    with os.fdopen(read_end) as f:
        out = f.read()
    _, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, "completion of {!r} exited {}: {}".format(
        line, proc.returncode, err.decode(errors="replace")[-2000:]
    )
    return sorted(c.strip() for c in out.split(IFS) if c.strip())
