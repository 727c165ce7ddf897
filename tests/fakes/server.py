"""Standalone fake OCI server process (for the cluster lab).

  python -m tests.fakes.server --world W.json --listen 10.99.0.1:0 --role core,federation \
      --port-file /run/lab/core.port
  python -m tests.fakes.server --world W.json --listen 127.0.0.1:8169 --role imds --node node1

Control (faults, call log, state) is JSON-RPC-ish at POST /_fake/rpc/<method>; see
tests.fakes.remote.RemoteControl. SIGTERM/SIGINT shut down cleanly (exit 0).
"""

import argparse
import os
import shlex
import signal
import subprocess
import sys
import threading
from typing import List, Optional, Sequence, Tuple

from tests.fakes.app import LOOPBACK, ROLES, FakeApp
from tests.fakes.compute import Listener
from tests.fakes.control import FakeCloud
from tests.fakes.fidelity import Fidelity, parse_setting
from tests.fakes.latency import parse_profile
from tests.fakes.transport import ServerThread
from tests.fakes.world import load


def parse_listen(value: str) -> Tuple[str, int]:
    """HOST:PORT, [V6]:PORT or V6 literal with port after the last colon."""
    if value.startswith("["):
        host, _, port = value[1:].partition("]:")
    else:
        host, _, port = value.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError("expected HOST:PORT, got {!r}".format(value))
    return host, int(port)


def _roles(value: str) -> List[str]:
    roles = [r.strip() for r in value.split(",") if r.strip()]
    bad = [r for r in roles if r not in ROLES]
    if bad or not roles:
        raise argparse.ArgumentTypeError("roles are a comma list of " + ",".join(ROLES))
    return roles


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="python -m tests.fakes.server",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--world", required=True, help="world JSON written by world.save()")
    ap.add_argument(
        "--listen",
        type=parse_listen,
        default=("127.0.0.1", 0),
        help="HOST:PORT (port 0 = pick one; see --port-file)",
    )
    ap.add_argument(
        "--role",
        type=_roles,
        default=["core", "federation"],
        help="comma list of core,federation,imds (default core,federation)",
    )
    ap.add_argument(
        "--node",
        help="serve IMDS for this node at plain /opc/v2 "
        "(without it, IMDS is served under /<node>/opc/v2)",
    )
    ap.add_argument("--port-file", help="write the bound port here once listening")
    ap.add_argument(
        "--control-from",
        default=",".join(LOOPBACK),
        help="comma list of CIDRs allowed to use /_fake/ (default loopback)",
    )
    ap.add_argument("--token-lifetime", type=float, default=1200.0)
    ap.add_argument(
        "--action-delay",
        type=float,
        default=0.3,
        help="seconds per lifecycle step of instance actions",
    )
    ap.add_argument(
        "--hook",
        help="command run as: HOOK <node> <instance-id> <state> <action> "
        "on every instance lifecycle change",
    )
    ap.add_argument(
        "--fidelity",
        action="append",
        type=_fidelity_setting,
        default=[],
        metavar="NAME=VALUE",
        help="switch a recorded OCI behaviour (tests/fakes/fidelity.py), e.g. move_delay=0.4;"
        " repeatable",
    )
    ap.add_argument(
        "--latency",
        type=parse_profile,
        default=None,
        help="milliseconds per call: core=50,federation=300,metadata=2 (or 'default'; "
        "see tests/fakes/latency.py); none by default",
    )
    ap.add_argument("--verbose", action="store_true", help="log requests to stderr")
    return ap


def _fidelity_setting(value: str) -> dict:
    try:
        return parse_setting(value)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _hook_listener(command: str, verbose: bool) -> Listener:
    argv = shlex.split(command)

    def run(node: Optional[str], instance_id: str, state: str, action: str) -> None:
        try:
            subprocess.run(
                argv + [node or "", instance_id, state, action],
                timeout=60,
                check=False,
                stdout=None if verbose else subprocess.DEVNULL,
            )
        except (OSError, subprocess.TimeoutExpired) as err:
            sys.stderr.write("fake-oci: hook failed: {}\n".format(err))

    return run


def _write_port_file(path: str, port: int) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w") as fh:
        fh.write("{}\n".format(port))
    os.replace(tmp, path)  # atomic: readers never see a half-written file


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    world = load(args.world)
    if args.node and args.node not in world["nodes"]:
        sys.stderr.write("fake-oci: unknown node {!r}\n".format(args.node))
        return 2
    fidelity = Fidelity()
    try:
        for setting in args.fidelity:
            fidelity.update(**setting)
    except ValueError as err:
        sys.stderr.write("fake-oci: --fidelity: {}\n".format(err))
        return 2
    cloud = FakeCloud(
        world,
        args.role,
        action_delay=args.action_delay,
        token_lifetime=args.token_lifetime,
        fidelity=fidelity,
    )
    if args.hook:
        cloud.on_instance_state(_hook_listener(args.hook, args.verbose))
    if args.latency:
        cloud.latency.set(args.latency)
    app = FakeApp(
        cloud,
        args.role,
        node=args.node,
        control_from=[c for c in args.control_from.split(",") if c],
    )
    host, port = args.listen
    server = ServerThread(host, port, app, verbose=args.verbose).start()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    if args.port_file:
        _write_port_file(args.port_file, server.port)
    if args.verbose:
        sys.stderr.write(
            "fake-oci: {} serving {} at {}\n".format(
                os.getpid(), ",".join(args.role), server.base_url
            )
        )
    while not stop.wait(0.5):
        pass
    server.stop()
    cloud.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
