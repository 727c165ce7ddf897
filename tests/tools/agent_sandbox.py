"""Run ocf:oci:IPaddr2 outside a cluster, as Pacemaker would, against the fake OCI.

- `Sandbox` is one node's view: a temporary OCF_ROOT whose heartbeat IPaddr2
  is a scripted stand-in (the address is "up" while a marker file exists), a
  state directory, and the OCF environment pointing the agent and the SDK at
  a FakeOci (instance principal through its IMDS and federation endpoints).
- `run_entry_point()` runs the installed entry point (agents/IPaddr2, exactly
  as `make install-agent` writes it) as a fresh process.
- `run_forked()` runs pcs_oci.agent.main / pcs_oci.cli.main in a child of a
  fork server that has the OCI SDK imported already: the same code and real
  SDK in a separate process with its own environment, without paying the
  SDK's 0.3 s import per run (the fault matrix makes hundreds of runs).

Nothing here contacts 169.254.169.254: every environment built here sets
OCI_METADATA_BASE_URL to a fake (or to a dead loopback port).
"""

import multiprocessing
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Mapping, NamedTuple, Sequence

REPO = Path(__file__).resolve().parents[2]
ENTRY = REPO / "agents" / "IPaddr2"
VIP = "10.0.0.200"
DEAD_IMDS = "http://127.0.0.1:9/opc/v2"

# A scripted heartbeat IPaddr2. It never evaluates its environment: the
# hostile-input tests pass values such as $(touch x) through it.
SCRIPTED_IPADDR2 = textwrap.dedent(
    """\
    #!/bin/sh
    # Scripted heartbeat IPaddr2: the address is "up" while $FAKE_STATE exists.
    [ -n "$FAKE_LOG" ] && printf '%s\\n' "$1" >> "$FAKE_LOG"
    case "$1" in
    start)
        [ -n "$FAKE_SLEEP_START" ] && sleep "$FAKE_SLEEP_START"
        [ -n "$FAKE_RC_START" ] && exit "$FAKE_RC_START"
        : > "$FAKE_STATE" ;;
    stop) rm -f "$FAKE_STATE" ;;
    monitor|status) [ -e "$FAKE_STATE" ] || exit 7 ;;
    meta-data) printf '<?xml version="1.0"?><resource-agent name="IPaddr2"><parameters/>'
        printf '<actions/></resource-agent>\\n' ;;
    esac
    exit 0
    """
)


def free_port() -> int:
    """A loopback TCP port nobody listens on (connection refused)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# Sandboxes are built and run from parallel threads. A script being written
# while another thread forks stays open for writing in that child until it
# execs, and running the script meanwhile fails with ETXTBSY ("Text file
# busy"). Writing scripts and spawning under one lock closes that window:
# Popen returns only once its child has exec'd (closing our O_CLOEXEC fds).
_SPAWN_LOCK = threading.Lock()


def write_script(target: Path, text: str) -> Path:
    with _SPAWN_LOCK:
        target.write_text(text)
        target.chmod(0o755)
    return target


def install_entry_point(directory: Path, python: str = sys.executable) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    text = ENTRY.read_text().replace("PCS_OCI_PYTHON=/usr/bin/python3", "PCS_OCI_PYTHON=" + python)
    return write_script(directory / "IPaddr2", text)


class Result(NamedTuple):
    rc: int
    seconds: float
    stdout: str
    stderr: str
    # Peak RSS of the process in KiB (entry point runs only; 0 otherwise).
    maxrss_kib: int = 0

    @property
    def reasons(self) -> List[str]:
        return [
            line[len("ocf-exit-reason:") :]
            for line in self.stderr.splitlines()
            if line.startswith("ocf-exit-reason:")
        ]

    @property
    def reason(self) -> str:
        return self.reasons[-1] if self.reasons else ""

    def lines(self, prefix: str) -> List[str]:
        return [line for line in self.stderr.splitlines() if line.startswith(prefix)]


class Sandbox:
    """One node's agent environment in `root` (a fresh temporary directory)."""

    def __init__(self, root: Path, fake: Any = None, node: str = "node1", resource: str = "vip"):
        self.root = root
        self.fake = fake
        self.node = node
        ocf = root / "ocf"
        script = ocf / "resource.d" / "heartbeat" / "IPaddr2"
        script.parent.mkdir(parents=True, exist_ok=True)
        write_script(script, SCRIPTED_IPADDR2)
        self.ocf_root = ocf
        self.log = root / "ipaddr2.log"
        self.up = root / "address-up"
        self.state_dir = root / "state"
        self.entry = install_entry_point(root / "agent")
        self.env: Dict[str, str] = {
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
            "LC_ALL": "C",
            "OCF_ROOT": str(ocf),
            "OCF_RESOURCE_INSTANCE": resource,
            "OCF_RESKEY_ip": VIP,
            "OCF_RESKEY_cidr_netmask": "24",
            "OCF_RESKEY_CRM_meta_on_node": node,
            "PCS_OCI_STATE_DIR": str(self.state_dir),
            "PCS_OCI_SESSION_DIR": str(root / "session"),
            "FAKE_LOG": str(self.log),
            "FAKE_STATE": str(self.up),
            "OCI_METADATA_BASE_URL": DEAD_IMDS,
        }
        if fake is not None:
            self.env.update(
                OCI_METADATA_BASE_URL=fake.imds_base(node),
                PCS_OCI_FEDERATION_ENDPOINT=fake.federation_endpoint,
                OCF_RESKEY_endpoint=fake.core_endpoint,
            )

    def environ(self, action: str, timeout_s: float, **extra: str) -> Dict[str, str]:
        env = dict(self.env)
        env["OCF_RESKEY_CRM_meta_timeout"] = str(int(timeout_s * 1000))
        if action == "monitor":
            env.setdefault("OCF_RESKEY_CRM_meta_interval", "10000")
        env.update(extra)
        return {k: v for k, v in env.items() if v is not None}

    def state_path(self) -> Path:
        return self.state_dir / (self.env["OCF_RESOURCE_INSTANCE"] + ".json")

    def state_files(self) -> List[str]:
        if not self.state_dir.exists():
            return []
        return sorted(p.name for p in self.state_dir.iterdir())

    def started(self, with_oci_ids: bool = True) -> None:
        """The node as a successful start leaves it, without running one: the
        VIP on this node's VNIC in the fake, the address up, the agent's
        state file (written by the agent's own code) with a stale check."""
        from pcs_oci.agent import state

        assert self.fake is not None
        if self.fake.private_ip_by_address(VIP) is None:
            record = self.fake.add_private_ip(VIP, self.node)
        else:
            record = self.fake.move_private_ip(VIP, self.node)
        self.up.touch()
        data: Dict[str, Any] = {"ip": VIP, "checked_at": 0, "warned": False}
        if with_oci_ids:
            data.update(
                vnic_id=self.fake.node(self.node)["vnic_id"],
                subnet_id=record["subnetId"],
                private_ip_id=record["id"],
            )
        state.save(self.env, data)
        self.fake.clear_calls()

    def age_state(self) -> None:
        """Make the next monitor_api monitor check OCI (the cache is stale)."""
        import json

        path = self.state_path()
        data = json.loads(path.read_text())
        data["checked_at"] = 0
        path.write_text(json.dumps(data))
        # The entry point's own view of freshness goes with it.
        path.with_suffix(".fresh").unlink(missing_ok=True)

    def run(
        self, action: str, timeout_s: float = 30.0, forked: bool = True, **extra: str
    ) -> Result:
        env = self.environ(action, timeout_s, **extra)
        if forked:
            return run_forked("agent", ["IPaddr2", action], env, timeout_s + 30)
        return run_entry_point(self.entry, action, env, timeout_s + 30)


def run_entry_point(
    entry: Path, action: str, env: Mapping[str, str], timeout_s: float = 60.0
) -> Result:
    """The entry point as a fresh process; its peak RSS from wait4()."""
    start = time.monotonic()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        with _SPAWN_LOCK:
            proc = subprocess.Popen(
                [str(entry), action], stdout=out, stderr=err, env=dict(env), start_new_session=True
            )
        rusage = None
        deadline = start + timeout_s
        while True:
            pid, status, rusage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                os.killpg(proc.pid, signal.SIGKILL)
                pid, status, rusage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.002)
        proc.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.monotonic() - start
        out.seek(0)
        err.seek(0)
        return Result(
            proc.returncode,
            seconds,
            out.read().decode("utf-8", "replace"),
            err.read().decode("utf-8", "replace"),
            int(rusage.ru_maxrss) if rusage is not None else 0,
        )


# ---------------------------------------------------------------- fork server

_PRELOAD = [
    "oci",
    "oci.core",
    "oci.auth.signers",
    "pcs_oci.agent.main",
    "pcs_oci.agent.handlers",
    "pcs_oci.cli.main",
    "pcs_oci.lib.oci.api",
    "pcs_oci.lib.vip",
    "pcs_oci.lib.commands.verify",
    "pcs_oci.lib.commands.discover",
    "tests.tools.agent_sandbox",
]
_start_lock = threading.Lock()
_context: Any = None


def _fork_context() -> Any:
    global _context
    with _start_lock:
        if _context is None:
            # The fork server itself must never be able to reach real IMDS.
            os.environ.setdefault("OCI_METADATA_BASE_URL", DEAD_IMDS)
            ctx = multiprocessing.get_context("forkserver")
            ctx.set_forkserver_preload(_PRELOAD)
            _context = ctx
        return _context


def _child(kind: str, argv: List[str], env: Dict[str, str], out: str, err: str) -> None:
    """In the forked child: this environment and these files, then the real main()."""
    os.environ.clear()
    os.environ.update(env)
    os.chdir(env.get("PCS_OCI_TEST_CWD", "/"))
    for fd, path in ((1, out), (2, err)):
        target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(target, fd)
        os.close(target)
    if kind == "agent":
        from pcs_oci.agent.main import main as agent_main

        rc = agent_main(argv, os.environ)
    elif kind == "cli":
        from pcs_oci.cli.main import main as cli_main

        rc = cli_main(argv)
    elif kind == "verify":
        _scripted_cluster(env)
        from pcs_oci.cli.main import main as cli_main

        rc = cli_main(argv)
    else:
        raise ValueError(kind)
    sys.stdout.flush()
    sys.stderr.flush()
    # The fork server reports a child's exit status over a socket and says
    # 255 when that read fails (seen under load): the child's own record wins.
    with open(out + ".rc", "w") as f:
        f.write(str(int(rc or 0)))
    sys.exit(rc)


# What rpm answers on the scripted node: an EL9 node with the stack installed.
SCRIPTED_PACKAGES = {
    "pacemaker": "2.1.7-5.el9",
    "pcs": "0.11.7-2.el9",
    "resource-agents": "4.10.0-55.el9",
    "python39-oci-sdk": "2.126.1-1.el9",
    "pcs-oci": "0.1.0-1.el9",
}


def scripted_cluster(vnic_ids: str, endpoint: str, with_vip: bool = True) -> Any:
    """A CommandRunner answering the cluster tools from a script: a healthy
    2-node cluster (two_node, fencing), running the VIP on node1 if with_vip,
    on an EL9 node with the stack installed. Commands are answered by what
    they are, in any order; any other command fails the test (as FakeRunner
    does): a new tool call must be scripted here, never answered by accident."""
    from pcs_oci.lib import rpminfo
    from pcs_oci.lib.runner import CommandRunner
    from pcs_oci.lib.runner import Result as RunResult
    from tests.tools.fake_runner import cib_resources_xml, crm_mon_xml, primitive_xml

    primitives = []
    if with_vip:
        primitives.append(
            primitive_xml(
                "vip",
                {
                    "ip": VIP,
                    "cidr_netmask": "24",
                    "vnic_ids": vnic_ids,
                    "endpoint": endpoint,
                    "api_timeout": "2",
                },
                {"resource-stickiness": "100"},
                [("monitor", "10s", "20s"), ("start", "0s", "70s"), ("stop", "0s", "20s")],
            )
        )
    resources = cib_resources_xml(primitives)
    cib = {
        "resources": resources,
        "configuration": "<configuration><crm_config/><nodes/>{}<constraints/>"
        "</configuration>".format(resources),
        "status": "<status/>",
    }
    mon = crm_mon_xml(
        ("node1", "node2"),
        ([("vip", "ocf:oci:IPaddr2", "node1")] if with_vip else [])
        + [("fence", "stonith:fence_oci", "node2")],
        stonith=True,
    )

    def rpm_query(names: List[str]) -> RunResult:
        lines = [
            "{}\t{}".format(n, SCRIPTED_PACKAGES[n])
            if n in SCRIPTED_PACKAGES
            else "package {} is not installed".format(n)
            for n in names
        ]
        missing = any(n not in SCRIPTED_PACKAGES for n in names)
        return RunResult([], 1 if missing else 0, "".join(x + "\n" for x in lines), "")

    def answer(argv: List[str]) -> Any:
        name, args = os.path.basename(argv[0]), argv[1:]
        if name == "pcs" and args == ["--version"]:
            return RunResult(argv, 0, "0.11.7\n", "")
        if name == "crm_mon":
            return RunResult(argv, 0, mon, "")
        if name == "crm_node" and args == ["-n"]:
            return RunResult(argv, 0, "node1\n", "")
        if name == "cibadmin" and args[:1] == ["--query"] and "--scope" in args:
            scope = args[args.index("--scope") + 1]
            if scope in cib:
                return RunResult(argv, 0, cib[scope], "")
        if name == "corosync-cmapctl" and args == ["-g", "quorum.two_node"]:
            return RunResult(argv, 0, "quorum.two_node (u8) = 1\n", "")
        # Asked only when the test machine itself runs firewalld.
        if name == "firewall-cmd" and args == ["--query-service=high-availability"]:
            return RunResult(argv, 0, "yes\n", "")
        if name == "rpm" and args[:3] == ["-q", "--qf", rpminfo.QUERY_FORMAT]:
            return rpm_query(args[3:])._replace(args=argv)
        # pcs-oci's own files, and resource-agents (no sed recipe): intact.
        if name == "rpm" and args in (
            ["-V", "--nodeps", "--noscripts", "pcs-oci"],
            ["-V", "--nodeps", "--noscripts", "resource-agents"],
        ):
            return RunResult(argv, 0, "", "")
        raise AssertionError("scripted cluster: unexpected command {}".format(argv))

    class ScriptedCluster(CommandRunner):
        def run(
            self, args: Any, stdin: Any = None, timeout: float = 60.0, env_extend: Any = None
        ) -> Any:
            argv = [str(a) for a in args]
            self.commands.append(argv)
            return answer(argv)

    runner = ScriptedCluster()
    runner.commands = []  # type: ignore[attr-defined]
    return runner


def _scripted_cluster(env: Mapping[str, str]) -> None:
    """In a forked child: verify's cluster tools scripted, the agent 'installed'."""
    from pcs_oci.lib import env as env_lib
    from pcs_oci.lib import pacemaker

    runner = scripted_cluster(env["PCS_OCI_TEST_VNIC_IDS"], env["PCS_OCI_TEST_ENDPOINT"])
    env_lib.Env.runner = property(lambda self: runner)  # type: ignore[method-assign,assignment]
    pacemaker.agent_installed = lambda: True  # type: ignore[assignment]


def run_forked(
    kind: str, argv: Sequence[str], env: Mapping[str, str], timeout_s: float = 60.0
) -> Result:
    """main(argv) of the agent ("agent") or the CLI ("cli", "verify") in a
    child of the fork server, with exactly `env` as its environment."""
    ctx = _fork_context()
    with tempfile.TemporaryDirectory() as tmp:
        out, err = os.path.join(tmp, "out"), os.path.join(tmp, "err")
        proc = ctx.Process(target=_child, args=(kind, list(argv), dict(env), out, err))
        start = time.monotonic()
        with _start_lock:
            proc.start()
        proc.join(timeout_s)
        if proc.is_alive():
            proc.kill()
            proc.join()
        seconds = time.monotonic() - start
        rc = proc.exitcode if proc.exitcode is not None else -1
        # close() sets _popen to None before it leaves multiprocessing's
        # _children; another thread's start() that walks _children in between
        # dies on None.poll(), so close under the lock that start takes.
        with _start_lock:
            proc.close()
        try:
            with open(out + ".rc") as f:
                rc = int(f.read())
        except (OSError, ValueError):
            pass  # the child died before it could say: keep what the server said

        def read(path: str) -> str:
            try:
                with open(path, encoding="utf-8", errors="replace") as f:
                    return f.read()
            except OSError:
                return ""

        return Result(rc, seconds, read(out), read(err))
