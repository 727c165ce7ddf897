"""Python API over ``tests/lab/cluster-lab``.

``cluster-lab`` runs a real corosync/pacemaker(/pcsd) cluster of namespaced
"nodes" on this machine (root only, see README.md next to this file).  This
module drives it from tests and demos.  Standard library only; every command
is run with a list of arguments, never through a shell.

    from tests.lab.lab import Lab

    with Lab("demo", nodes=2, env_per_node={"*": {"OCI_METADATA_BASE_URL": url}},
             ocf_provider_dir="/path/to/agents") as lab:
        lab.exec("node1", "pcs", "resource", "create", "vip", "ocf:oci:IPaddr2", ...)
        holder = lab.where("vip")[0]
        lab.kill(holder)
        print(lab.wait_rsc("vip", "node2", 30), "ms")

Leaving the ``with`` block runs ``down``.  If the block raised, the tails of
the logs are written to stderr first and ``down --keep`` keeps them on disk
(``$LAB_DIR``, by default ``/var/tmp/cluster-lab-NAME``).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Callable, Dict, List, Mapping, Optional, Sequence, TextIO, TypeVar, Union

SCRIPT = Path(__file__).resolve().with_name("cluster-lab")
# Labs of one run share these, read once from the environment: LAB_NET (the
# script's own variable: the /24 every lab of this run uses) and
# LAB_NAME_PREFIX (prepended to every lab name).  A run that may meet other
# labs on this machine gives them distinct values: labs that differ only in
# their subnet still share the cgroup tree, where their names must differ
# (make check-el10 runs with LAB_NAME_PREFIX=el10 LAB_NET=192.168.91).
DEFAULT_NET = os.environ.get("LAB_NET") or "192.168.77"
NAME_PREFIX = os.environ.get("LAB_NAME_PREFIX", "")
#: ``exec`` target for the switch network namespace (address NET.1)
SWITCH = "client"

PathLike = Union[str, "os.PathLike[str]"]
#: {"node1": {...}, "*": {...}} ("*" = every node, merged under the node's own),
#: or a function node -> {...}
EnvSpec = Union[Mapping[str, Mapping[str, str]], Callable[[str], Mapping[str, str]]]
T = TypeVar("T")

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,30}$")
_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def unavailable_reason() -> Optional[str]:
    """Why a lab cannot run here (for ``pytest.skip``), or None if it can."""
    if os.geteuid() != 0:
        return "cluster lab needs root (namespaces, cgroups, mounts)"
    for path in ("/usr/sbin/pacemakerd", "/usr/sbin/corosync", "/usr/sbin/pcs"):
        if not os.path.exists(path):
            return "{} missing: apt-get install pacemaker corosync pcs resource-agents".format(path)
    if not SCRIPT.is_file():
        return "{} missing".format(SCRIPT)
    return None


def lab_name(name: str) -> str:
    """The LAB_NAME a Lab called `name` runs with (NAME_PREFIX added once)."""
    return name if name.startswith(NAME_PREFIX) else NAME_PREFIX + name


class LabError(subprocess.CalledProcessError):
    """A lab command failed; str() includes the tail of its output."""

    def __str__(self) -> str:
        text = super().__str__()
        for label, data in (("stdout", self.stdout), ("stderr", self.stderr)):
            if data:
                tail = "\n".join(str(data).rstrip().splitlines()[-25:])
                text += "\n--- {} (tail):\n{}".format(label, tail)
        return text


def _run(
    argv: Sequence[str],
    env: Mapping[str, str],
    timeout: Optional[float],
    check: bool,
    input: Optional[str] = None,
    cwd: Optional[PathLike] = None,
) -> subprocess.CompletedProcess[str]:
    """Run argv in its own process group; on timeout kill that group (only)."""
    proc = subprocess.Popen(
        list(argv),
        env=dict(env),
        cwd=cwd,
        text=True,
        start_new_session=True,
        stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        out, err = proc.communicate(input, timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # the group we created
        except ProcessLookupError:
            pass
        try:
            out, err = proc.communicate(timeout=5)
        except subprocess.TimeoutExpired:  # something detached holds the pipes
            proc.kill()
            proc.wait()
            for pipe in (proc.stdin, proc.stdout, proc.stderr):
                if pipe is not None:
                    pipe.close()
            out, err = "", ""
        raise subprocess.TimeoutExpired(list(argv), timeout or 0, out, err) from None
    if check and proc.returncode != 0:
        raise LabError(proc.returncode, list(argv), out, err)
    return subprocess.CompletedProcess(list(argv), proc.returncode, out, err)


def poll(
    fn: Callable[[], Optional[T]], timeout: float, interval: float = 0.1, what: str = "condition"
) -> T:
    """Call fn until it returns something truthy; return it (TimeoutError if never)."""
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError("{} not met within {:.1f}s".format(what, timeout))
        time.sleep(interval)


def process_alive(pid: int) -> bool:
    """True if host PID pid exists and is not a zombie.  (Killed lab processes
    are orphans; a PID 1 that reaps late leaves them as zombies for a while.)"""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _env_line(key: str, value: str) -> str:
    if not _KEY_RE.match(key):
        raise ValueError("bad environment variable name {!r}".format(key))
    value = str(value)
    if "\n" in value or "\r" in value:
        raise ValueError("environment value of {} contains a newline".format(key))
    # the lab strips one pair of surrounding quotes (like systemd's EnvironmentFile=)
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        value = '"{}"'.format(value)
    return "{}={}\n".format(key, value)


class Lab:
    """One lab (``cluster-lab`` with ``LAB_NAME=name``); a context manager.

    name: lab name (default ``pt<pid>``, so parallel pytest runs do not clash).
    nodes: 1..9.  fencing/pcsd/bare: the ``up`` flags of the same names.
    env_per_node: extra environment of the cluster daemons (so of the resource
        agents) and of ``exec`` in each node; see ``EnvSpec``.
    services: executable run as ``services nodeK`` inside each node before the
        cluster starts (and again by ``start``); ``service_ports``: TCP ports
        to wait for inside each node.
    ocf_provider_dir: bind-mounted read-only at
        /usr/lib/ocf/resource.d/<ocf_provider> inside the nodes.
    token_ms: corosync token (default 1000).  timeout: default seconds per
        command (``up`` gets ``up_timeout``).  extra_env: more variables for
        every cluster-lab call (e.g. LAB_TIMEOUT).
    """

    def __init__(
        self,
        name: Optional[str] = None,
        nodes: int = 2,
        *,
        fencing: bool = False,
        pcsd: bool = False,
        bare: bool = False,
        env_per_node: Optional[EnvSpec] = None,
        services: Optional[PathLike] = None,
        service_ports: Sequence[int] = (),
        ocf_provider_dir: Optional[PathLike] = None,
        ocf_provider: str = "oci",
        token_ms: Optional[int] = None,
        net: Optional[str] = None,
        timeout: float = 60.0,
        up_timeout: float = 180.0,
        extra_env: Optional[Mapping[str, str]] = None,
        log_stream: Optional[TextIO] = None,
        script: PathLike = SCRIPT,
    ) -> None:
        self.name = lab_name(name or f"pt{os.getpid()}")
        if not _NAME_RE.match(self.name):
            raise ValueError("bad lab name {!r}".format(self.name))
        if not 1 <= nodes <= 9:
            raise ValueError("nodes must be 1..9")
        self.count = nodes
        self.node_names: List[str] = [f"node{i}" for i in range(1, nodes + 1)]
        self.fencing, self.pcsd, self.bare = fencing, pcsd, bare
        self.net = net or DEFAULT_NET
        self.switch_ip = self.net + ".1"
        self.timeout = timeout
        self.up_timeout = up_timeout
        self.script = Path(script)
        self.lab_dir = Path("/var/tmp/cluster-lab-{}".format(self.name))
        self.log_stream = log_stream
        self.history: List[str] = []  # every command run, with rc and duration
        self._env_spec = env_per_node
        self._tmp: Optional[str] = None
        self._is_up = False
        env = {k: v for k, v in os.environ.items() if not k.startswith("LAB_")}
        env.update(LAB_NAME=self.name, LAB_DIR=str(self.lab_dir), LAB_NET=self.net)
        if token_ms is not None:
            env["LAB_TOKEN"] = str(int(token_ms))
        if services is not None:
            env["LAB_NODE_SERVICES"] = os.path.abspath(services)
            env["LAB_NODE_SERVICES_PORTS"] = " ".join(str(int(p)) for p in service_ports)
        if ocf_provider_dir is not None:
            env["LAB_OCF_PROVIDER_DIR"] = os.path.abspath(ocf_provider_dir)
            env["LAB_OCF_PROVIDER"] = ocf_provider
        env.update(extra_env or {})
        self._env = env

    # ------------------------------------------------------------ plumbing
    def run(
        self,
        *args: str,
        check: bool = True,
        timeout: Optional[float] = None,
        input: Optional[str] = None,
        cwd: Optional[PathLike] = None,
        env: Optional[Mapping[str, str]] = None,
    ) -> subprocess.CompletedProcess[str]:
        """``cluster-lab ARGS...`` for this lab; returns the CompletedProcess (text)."""
        full_env = dict(self._env)
        full_env.update(env or {})
        argv = ["/bin/bash", str(self.script)] + [str(a) for a in args]
        t0 = time.monotonic()
        rc: object = "timeout"
        try:
            res = _run(
                argv,
                full_env,
                self.timeout if timeout is None else timeout,
                check=False,
                input=input,
                cwd=cwd,
            )
            rc = res.returncode
        finally:
            self._note("{} -> {} ({:.2f}s)".format(shlex.join(argv[2:]), rc, time.monotonic() - t0))
        if check and res.returncode != 0:
            raise LabError(res.returncode, argv, res.stdout, res.stderr)
        return res

    def _note(self, line: str) -> None:
        self.history.append(line)
        if self.log_stream is not None:
            print("[lab {}] {}".format(self.name, line), file=self.log_stream, flush=True)

    def _write_env_hook(self) -> Optional[str]:
        spec = self._env_spec
        if spec is None:
            return None
        self._tmp = tempfile.mkdtemp(prefix="cluster-lab-{}-".format(self.name))
        for node in self.node_names:
            if callable(spec):
                values: Dict[str, str] = dict(spec(node))
            else:
                values = dict(spec.get("*", {}))
                values.update(spec.get(node, {}))
            with open(os.path.join(self._tmp, node + ".env"), "w") as f:
                f.write("".join(_env_line(k, v) for k, v in values.items()))
        hook = os.path.join(self._tmp, "env-hook")
        with open(hook, "w") as f:
            f.write(
                '#!/bin/sh\nf={}/"$1".env\n[ ! -f "$f" ] || cat -- "$f"\n'.format(
                    shlex.quote(self._tmp)
                )
            )
        os.chmod(hook, 0o700)
        return hook

    # ------------------------------------------------------------ lifecycle
    def up(self) -> Lab:
        """Build the lab (tearing down an old one of the same name first)."""
        args = ["up", str(self.count)]
        args += ["--fencing"] * self.fencing + ["--pcsd"] * self.pcsd + ["--bare"] * self.bare
        hook = self._write_env_hook()
        env = {"LAB_NODE_ENV_CMD": hook} if hook else {}
        try:
            self.run(*args, timeout=self.up_timeout, env=env)
        except BaseException:
            self._cleanup_tmp()  # the script already did "down --keep"
            raise
        self._is_up = True
        return self

    def down(self, keep: bool = False) -> None:
        """Kill everything; remove netns/cgroups/mounts (and $LAB_DIR unless keep)."""
        try:
            self.run("down", *(["--keep"] if keep else []), timeout=120)
        finally:
            self._is_up = False
            self._cleanup_tmp()

    def close(self, failed: bool = False, stream: Optional[TextIO] = None) -> None:
        """down; if failed, first write the log tails to stream (stderr) and keep them."""
        if failed:
            try:
                print(self.dump_logs(), file=stream or sys.stderr, flush=True)
            except Exception as e:  # never hide the real failure
                print("[lab {}] could not dump logs: {}".format(self.name, e), file=sys.stderr)
        self.down(keep=failed)

    def _cleanup_tmp(self) -> None:
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __enter__(self) -> Lab:
        try:
            return self.up()
        except BaseException:
            try:
                print(self.dump_logs(), file=sys.stderr, flush=True)
            except Exception as e:  # never hide the real failure
                print(f"[lab {self.name}] could not dump logs: {e}", file=sys.stderr)
            raise

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self.close(failed=exc_type is not None)

    # ------------------------------------------------------------ nodes
    def node_ip(self, node: str) -> str:
        self._check_node(node)
        return f"{self.net}.{10 + int(node[4:])}"

    def node_dir(self, node: str) -> Path:
        self._check_node(node)
        return self.lab_dir / "nodes" / node

    def _check_node(self, node: str) -> None:
        if node not in self.node_names:
            raise ValueError(
                "no node {!r} in lab {} (nodes: {})".format(
                    node, self.name, ", ".join(self.node_names)
                )
            )

    def exec(
        self,
        node: str,
        *args: str,
        check: bool = True,
        timeout: Optional[float] = None,
        input: Optional[str] = None,
        env: Optional[Mapping[str, str]] = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run args inside node (or ``SWITCH``), with the node's environment."""
        if not args:
            raise ValueError("exec needs a command")
        return self.run("exec", node, *args, check=check, timeout=timeout, input=input, env=env)

    def pcs(
        self, node: str, *args: str, check: bool = True, timeout: Optional[float] = None
    ) -> subprocess.CompletedProcess[str]:
        """``pcs ARGS`` inside node."""
        return self.exec(node, "pcs", *args, check=check, timeout=timeout)

    def kill(self, node: str) -> None:
        """Crash node: SIGKILL all of its processes at once (services included)."""
        self.run("kill", node)

    def start(self, node: str) -> None:
        """Boot node again: services, then the cluster if enabled."""
        self.run("start", node, timeout=self.up_timeout)

    def stop(self, node: str) -> None:
        """Graceful stop: pacemaker (resources move away), corosync, pcsd; then kill."""
        self.run("stop", node, timeout=max(self.timeout, 150))

    def freeze(self, node: str) -> None:
        self.run("freeze", node)

    def thaw(self, node: str) -> None:
        self.run("thaw", node)

    def isolate(self, node: str, peers_only: bool = False) -> None:
        """Unplug node from the switch; peers_only: cut only node<->node traffic."""
        self.run("isolate", node, *(["--peers"] if peers_only else []))

    def heal(self, node: str) -> None:
        self.run("heal", node)

    def node_states(self) -> Dict[str, str]:
        """{"node1": "running" | "frozen" | "down", ...}"""
        out = self.run("nodes").stdout
        return dict(line.split(None, 1) for line in out.splitlines() if line.strip())

    def running_nodes(self) -> List[str]:
        return [n for n, st in self.node_states().items() if st == "running"]

    # ------------------------------------------------------------ cluster view
    def wait(self, secs: Optional[float] = None) -> None:
        """Until every node running pacemaker sees all of them online and a DC."""
        args = ["wait"] + ([str(int(secs))] if secs is not None else [])
        self.run(*args, timeout=(secs or 90) + 30)

    def where(self, rsc: str) -> List[str]:
        """Nodes where rsc is active (pending starts excluded), sorted."""
        return self.run("where", rsc).stdout.split()

    def wait_rsc(self, rsc: str, node: str, secs: float = 60) -> float:
        """Until rsc is active on node only; returns the milliseconds waited."""
        out = self.run("wait-rsc", rsc, node, str(int(secs)), timeout=secs + 30).stdout
        return float(out.split()[-1])

    def crm_mon_xml(self, node: Optional[str] = None) -> ET.ElementTree:
        """``crm_mon -1 --output-as=xml`` from node (default: first running node)."""
        if node is None:
            running = self.running_nodes()
            if not running:
                raise RuntimeError("no running node in lab {}".format(self.name))
            node = running[0]
        out = self.exec(node, "crm_mon", "-1", "--output-as=xml").stdout
        return ET.ElementTree(ET.fromstring(out))  # noqa: S314 (our own crm_mon)

    def node_addrs(
        self, node: str, dev: Optional[str] = None, family: Optional[str] = None
    ) -> List[str]:
        """Addresses (without /prefix) from ``ip -o addr`` inside node.

        dev: e.g. "eth0"; family: "inet" or "inet6" (default both)."""
        args = ["ip", "-o", "addr", "show"] + (["dev", dev] if dev else [])
        addrs = []
        for line in self.exec(node, *args).stdout.splitlines():
            f = line.split()
            if len(f) >= 4 and f[2] in ("inet", "inet6") and (family is None or f[2] == family):
                addrs.append(f[3].split("/")[0])
        return addrs

    def has_addr(self, node: str, addr: str, dev: Optional[str] = "eth0") -> bool:
        return addr in self.node_addrs(node, dev=dev)

    def ping(self, where: str, addr: str) -> bool:
        """ICMP echo from inside a node (or ``SWITCH``); True if answered."""
        return self.run("ping", where, addr, check=False).returncode == 0

    def status(self) -> str:
        return self.run("status", check=False).stdout

    # ------------------------------------------------------------ environment
    def node_env(self, node: str) -> Dict[str, str]:
        """The node's env file ($LAB_DIR/nodes/NODE/env) as a dict (raw values)."""
        out = self.run("env", node).stdout
        env = {}
        for line in out.splitlines():
            line = line.strip()
            if line and not line.startswith(("#", ";")) and "=" in line:
                k, v = line.split("=", 1)
                env[k.strip()] = v
        return env

    def set_env(self, node: str, **values: Optional[str]) -> None:
        """Change the node's env file (None removes a key).  exec sees it at once,
        the daemons after the next ``start(node)``."""
        args: List[str] = []
        for k, v in values.items():
            if v is None:
                args += ["-u", k]
            else:
                args.append(_env_line(k, v).rstrip("\n"))
        if args:
            self.run("env", node, *args)

    # ------------------------------------------------------------ switch services
    def serve(
        self,
        name: str,
        argv: Sequence[str],
        port: Optional[int] = None,
        cwd: Optional[PathLike] = None,
        env: Optional[Mapping[str, str]] = None,
    ) -> int:
        """Run argv detached in the switch netns (reachable at switch_ip from every
        node); killed by unserve/down.  port: wait until it listens.  Returns its PID."""
        args = ["serve"] + (["--port", str(int(port))] if port else []) + [name] + list(argv)
        self.run(*args, cwd=cwd, env=env)
        pid = self.served_pid(name)
        if pid is None:
            raise RuntimeError("serve {}: no pid recorded".format(name))
        return pid

    def forward(self, name: str, port: int, addr: str = "127.0.0.1", host_port: int = 0) -> int:
        """TCP forwarder from the host's 127.0.0.1:host_port (0 = any free port) to
        addr:port in the switch netns, so this process can talk to a served fake
        (which sees the connection come from 127.0.0.1).  Returns the host port;
        ``unserve(name)`` stops it."""
        out = self.run("forward", name, str(int(host_port)), f"{addr}:{int(port)}").stdout
        return int(out.split()[-1])

    def unserve(self, name: str) -> None:
        self.run("unserve", name)

    def served_pid(self, name: str) -> Optional[int]:
        try:
            return int((self.lab_dir / "serve" / (name + ".pid")).read_text().strip())
        except (OSError, ValueError):
            return None

    def served_log(self, name: str) -> Path:
        return self.lab_dir / (name + ".log")

    # ------------------------------------------------------------ logs
    def logs(self, node: str) -> List[Path]:
        """Log files of node: corosync.log, pacemaker.log, then other non-empty ones."""
        if not self.lab_dir.is_dir():
            return []
        return [Path(p) for p in self.run("logs", node).stdout.split()]

    def dump_logs(self, lines: int = 60) -> str:
        """Command history, status and the tail of every log, as one string."""
        parts = ["===== lab {} ({}): command history".format(self.name, self.lab_dir)]
        parts += self.history[-40:]
        if (self.lab_dir / "nodes.list").exists():
            try:
                parts += ["===== status", self.status()]
            except Exception as e:
                parts.append("(status failed: {})".format(e))
        files: List[Path] = []
        for node in self.node_names:
            d = self.lab_dir / "nodes" / node
            files += [
                d / "var/log/corosync/corosync.log",
                d / "var/log/pacemaker/pacemaker.log",
                d / "services.log",
                d / "boot.log",
                d / "var/log/pacemaker/stdout.log",
                d / "var/log/pcsd/pcsd.log",
            ]
        files += sorted(self.lab_dir.glob("*.log")) if self.lab_dir.is_dir() else []
        for f in files:
            try:
                text = f.read_text(errors="replace")
            except OSError:
                continue
            if text.strip():
                tail = "\n".join(text.rstrip().splitlines()[-lines:])
                parts += [f"===== {f} (last {lines} lines)", tail]
        return "\n".join(parts)


def selftest(
    nodes: int = 2,
    fencing: bool = False,
    name: Optional[str] = None,
    timeout: float = 240,
    token_ms: Optional[int] = None,
) -> Dict[str, str]:
    """``cluster-lab selftest``: up, IPaddr2 VIP, kill its node, time the failover,
    down.  Returns {"failover_ms": ..., "from": ..., "to": ...}."""
    lab = Lab(name or f"st{os.getpid()}", nodes, token_ms=token_ms)
    args = ["selftest", str(nodes)] + (["--fencing"] if fencing else [])
    try:
        res = lab.run(*args, timeout=timeout)
    except subprocess.TimeoutExpired:
        lab.down(keep=True)  # the killed script could not clean up
        raise
    last = res.stdout.strip().splitlines()[-1]
    return dict(kv.split("=", 1) for kv in last.split())
