"""A cluster lab wired to fake OCI services: where the agent's cluster tests and `make demo` run.

- one fake Core API + federation endpoint on the lab switch (NET.1:8000),
  shared by every node, holding the private IPs' state;
- per node a fake instance metadata service on the node's own 127.0.0.1:8169,
  started inside the node, so it dies with the node like the real one would
  become unreachable;
- the project's agent installed (entry point with this venv's Python) into a
  temporary provider directory that the lab bind-mounts at
  /usr/lib/ocf/resource.d/oci inside the nodes only;
- the cluster daemons' environment points the agent and the SDK at the fakes;
- with fence_oci=True, the fence agent in the nodes' /usr/sbin (the lab's
  LAB_SBIN_DIR overlay), and the fake Compute API's lifecycle hook turning a
  STOP (or RESET) of a node's instance into `cluster-lab kill nodeK` and its
  START into `cluster-lab start nodeK`: fencing through OCI really powers
  the node off, as on OCI.

The fake's control API is reached from the host through the lab's loopback
forwarder.
"""

import os
import shutil
import stat
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from tests.fakes import world as world_lib
from tests.fakes.latency import parse_profile
from tests.fakes.remote import RemoteControl
from tests.lab.lab import DEFAULT_NET, Lab, poll

REPO = Path(__file__).resolve().parents[2]
NET = DEFAULT_NET  # 192.168.77 unless LAB_NET says otherwise
SUBNET = NET + ".0/24"
VIP = NET + ".200"
API_PORT = 8000
IMDS_PORT = 8169
CORE_ENDPOINT = "http://{}.1:{}".format(NET, API_PORT)
FEDERATION_ENDPOINT = CORE_ENDPOINT + "/v1/x509"
IMDS_BASE = "http://127.0.0.1:{}/opc/v2".format(IMDS_PORT)
PYTHON = sys.executable
# The agent's Python must be usable by the hacluster user (Pacemaker runs
# meta-data as hacluster): `make agent-venv` builds it from /usr/bin/python3.
# PCS_OCI_AGENT_PYTHON names another (make check-el10: a venv in its root).
AGENT_PYTHON = os.environ.get("PCS_OCI_AGENT_PYTHON") or str(
    REPO / ".venv-agent" / "bin" / "python"
)


def install_fence_agent(directory: Path, python: str = AGENT_PYTHON) -> Path:
    """agents/fence_oci as `make install-fence-agent` installs it, pointing at `python`."""
    directory.mkdir(parents=True, exist_ok=True)
    lines = (REPO / "agents" / "fence_oci").read_text().splitlines(keepends=True)
    target = directory / "fence_oci"
    target.write_text("#!{} -I\n".format(python) + "".join(lines[1:]))
    target.chmod(0o755)
    return target


# Run by the fake Core API (in the switch netns, with the lab's LAB_NAME and
# LAB_DIR) as HOOK <node> <instance-id> <state> <action> on every lifecycle
# change. A stop takes the node down when OCI starts stopping it (STOPPING),
# so it is gone before anyone can see STOPPED. RUNNING boots it, in the
# background after BOOT_SECONDS: an instance is RUNNING in OCI well before
# its OS and cluster are up, and the fencing that started it is over by then.
INSTANCE_HOOK = """#!/bin/sh
node=$1 instance=$2 state=$3 action=$4
[ -n "$node" ] || exit 0
log="$LAB_DIR/oci-hook.log"
note() { echo "$(date '+%F %T.%3N') $*" >>"$log"; }
case "$action:$state" in
    STOP:STOPPING|SOFTSTOP:STOPPING|RESET:STOPPING|SOFTRESET:STOPPING)
        note "$action $instance: $state -> cluster-lab kill $node"
        bash @SCRIPT@ kill "$node" >>"$log" 2>&1
        note "cluster-lab kill $node exited $?" ;;
    START:RUNNING|RESET:RUNNING|SOFTRESET:RUNNING)
        note "$action $instance: $state -> cluster-lab start $node in @BOOT@ s"
        (sleep @BOOT@; bash @SCRIPT@ start "$node" >>"$log" 2>&1
         note "cluster-lab start $node exited $?") </dev/null >/dev/null 2>&1 & ;;
esac
exit 0
"""
BOOT_SECONDS = 5


def net6_of(net: str) -> str:
    """The lab's IPv6 /64 for LAB_NET a.b.c: fd00:c (fd00:c::/64, a ULA)."""
    return "fd00:{}".format(net.rsplit(".", 1)[1])


def net2_of(net: str) -> str:
    """A second /24 in the same /16 (so in the fake VCN's CIDR) for LAB_NET a.b.c."""
    a_b, c = net.rsplit(".", 1)
    return "{}.{}".format(a_b, (int(c) + 100) % 256)


def install_agent(directory: Path, python: str = AGENT_PYTHON) -> Path:
    """The entry point as the RPM installs it, pointing at `python`."""
    directory.mkdir(parents=True, exist_ok=True)
    text = (REPO / "agents" / "IPaddr2").read_text()
    text = text.replace("PCS_OCI_PYTHON=/usr/bin/python3", "PCS_OCI_PYTHON=" + python)
    target = directory / "IPaddr2"
    target.write_text(text)
    target.chmod(0o755)
    return target


class OciLab:
    """Lab + fakes; a context manager like Lab itself."""

    def __init__(
        self,
        name: Optional[str] = None,
        nodes: int = 2,
        fencing: bool = False,
        token_ms: Optional[int] = None,
        log_stream: Any = None,
        fence_oci: bool = False,
        net: str = NET,
        node_setup: str = "",
        ipv6: bool = False,
        second_subnet: bool = False,
        latency: Optional[str] = None,
    ):
        if not os.access(AGENT_PYTHON, os.X_OK):
            raise RuntimeError("{} is missing: run `make agent-venv`".format(AGENT_PYTHON))
        # Another LAB_NET (with its own LAB_NAME) lets this lab run beside others.
        self.net = net
        self.subnet = net + ".0/24"
        self.vip = net + ".200"
        self.core_endpoint = "http://{}.1:{}".format(net, API_PORT)
        self.tmp = Path(tempfile.mkdtemp(prefix="pcs-oci-lab-"))
        # Readable by the daemons inside the nodes (/tmp is shared with them).
        self.tmp.chmod(0o755)
        # ipv6: the subnet gets an IPv6 /64 (OCI's IMDS then gives each VNIC's
        # IPv6 data), the lab's bridge and eth0s addresses in it. second_subnet:
        # every node gets a secondary VNIC in another subnet of the VCN, the lab
        # a second bridge and an eth1 in each node.
        self.net6 = net6_of(net) if ipv6 else None
        self.vip6 = self.net6 + "::200" if self.net6 else None
        self.net2 = net2_of(net) if second_subnet else None
        self.subnet2 = self.net2 + ".0/24" if self.net2 else None
        self.vip2 = self.net2 + ".200" if self.net2 else None
        names = ["node{}".format(i) for i in range(1, nodes + 1)]
        self.world = world_lib.make_world(
            nodes=names,
            subnet_cidr=self.subnet,
            ipv6_cidr=self.net6 + "::/64" if self.net6 else None,
            extra_vnics={n: [self.subnet2] for n in names} if self.subnet2 else None,
        )
        self.world_path = self.tmp / "world.json"
        world_lib.save(self.world, str(self.world_path))
        self.agent_dir = self.tmp / "ocf-oci"
        install_agent(self.agent_dir)
        # The fakes' latency profile (tests/fakes/latency.py), e.g. "default".
        self.latency = latency
        if latency:
            parse_profile(latency)  # a bad profile fails here, not in a node's shell
        latency_args = " --latency {}".format(latency) if latency else ""
        services = self.tmp / "node-services"
        services.write_text(
            "#!/bin/sh\n"
            "{setup}"
            "# Inside node $1: its own instance metadata service on 127.0.0.1.\n"
            "cd {repo} && exec {py} -m tests.fakes.server --world {world} "
            '--listen 127.0.0.1:{port} --role imds --node "$1"{latency}\n'.format(
                # node_setup: shell lines run in the node at every boot first.
                setup=node_setup.rstrip("\n") + "\n" if node_setup else "",
                repo=REPO,
                py=PYTHON,
                world=self.world_path,
                port=IMDS_PORT,
                latency=latency_args,
            )
        )
        services.chmod(services.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        env = {
            "*": {
                "OCI_METADATA_BASE_URL": IMDS_BASE,
                "PCS_OCI_FEDERATION_ENDPOINT": self.core_endpoint + "/v1/x509",
                "OCI_SDK_DEFAULT_CIRCUITBREAKER_ENABLED": "false",
            }
        }
        extra_env: Dict[str, str] = {}
        if self.net6:
            extra_env["LAB_NET6"] = self.net6
        if self.net2:
            extra_env["LAB_NET2"] = self.net2
        self.hook: Optional[Path] = None
        if fence_oci:
            install_fence_agent(self.tmp / "sbin")
            extra_env["LAB_SBIN_DIR"] = str(self.tmp / "sbin")
            self.hook = self.tmp / "instance-hook"
            hook = INSTANCE_HOOK.replace("@SCRIPT@", str(REPO / "tests/lab/cluster-lab"))
            self.hook.write_text(hook.replace("@BOOT@", str(BOOT_SECONDS)))
            self.hook.chmod(0o755)
        self.lab = Lab(
            name,
            nodes,
            fencing=fencing,
            extra_env=extra_env,
            env_per_node=env,
            services=str(services),
            service_ports=[IMDS_PORT],
            ocf_provider_dir=str(self.agent_dir),
            token_ms=token_ms,
            log_stream=log_stream,
            net=net,
        )
        self.ctl: Optional[RemoteControl] = None

    # -- lifecycle

    def up(self) -> "OciLab":
        self.lab.up()
        self.lab.serve(
            "oci",
            [
                PYTHON,
                "-m",
                "tests.fakes.server",
                "--world",
                str(self.world_path),
                "--listen",
                "{}.1:{}".format(self.net, API_PORT),
                "--role",
                "core,federation",
                # Only the switch itself (our loopback forwarder), never a node.
                "--control-from",
                self.net + ".1/32",
            ]
            + (["--hook", str(self.hook)] if self.hook else [])
            + (["--latency", self.latency] if self.latency else []),
            port=API_PORT,
            cwd=str(REPO),
        )
        port = self.lab.forward("oci-control", API_PORT, addr=self.net + ".1")
        self.ctl = RemoteControl("http://127.0.0.1:{}".format(port))
        return self

    def close(self, failed: bool = False) -> None:
        try:
            self.lab.close(failed=failed)
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self) -> "OciLab":
        try:
            return self.up()
        except BaseException:
            self.close(failed=True)
            raise

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self.close(failed=exc_type is not None)

    # -- views

    @property
    def control(self) -> RemoteControl:
        if self.ctl is None:
            raise RuntimeError("lab is not up")
        return self.ctl

    def node(self, name: str) -> Dict[str, Any]:
        found: Dict[str, Any] = self.world["nodes"][name]
        return found

    def vnic_node(self, vnic_id: Optional[str]) -> Optional[str]:
        """The node with this VNIC (its primary or a secondary one)."""
        for name, node in self.world["nodes"].items():
            if vnic_id in node["vnic_ids"]:
                return str(name)
        return None

    def oci_vnic(self, ip: Optional[str] = None) -> Optional[str]:
        """The VNIC OCI assigns `ip` (IPv4 or IPv6) to (None: nobody / no such IP)."""
        address = ip or self.vip
        if ":" in address:
            found = self.control.ipv6_by_address(address)
        else:
            found = self.control.private_ip_by_address(address)
        return found.get("vnicId") if found else None

    def oci_holder(self, ip: Optional[str] = None) -> Optional[str]:
        """The node whose VNIC OCI assigns `ip` to (None: nobody / no such IP)."""
        return self.vnic_node(self.oci_vnic(ip))

    def os_holders(self, ip: Optional[str] = None, dev: str = "eth0") -> List[str]:
        return [
            n for n in self.lab.running_nodes() if self.lab.has_addr(n, ip or self.vip, dev=dev)
        ]

    def wait_everywhere(
        self,
        node: str,
        ip: Optional[str] = None,
        rsc: str = "vip",
        secs: float = 60,
        dev: str = "eth0",
    ) -> float:
        """Until Pacemaker, the OS and OCI all put the VIP on `node`; elapsed ms."""
        start = time.monotonic()
        self.lab.wait_rsc(rsc, node, secs)
        poll(
            lambda: self.oci_holder(ip) == node and self.os_holders(ip, dev) == [node],
            timeout=max(5.0, secs - (time.monotonic() - start)),
            what="{} on {} in OCI and the OS".format(ip or self.vip, node),
        )
        return (time.monotonic() - start) * 1000.0

    def pcs_oci(self, node: str, *args: str, check: bool = True, timeout: float = 120) -> Any:
        return self.lab.exec(
            node,
            os.path.join(os.path.dirname(PYTHON), "pcs-oci"),
            *args,
            check=check,
            timeout=timeout,
        )

    def write_config(self, doc: Dict[str, Any], name: str = "pcs-oci.json") -> str:
        path = self.tmp / name
        import json

        path.write_text(json.dumps(doc, indent=2))
        path.chmod(0o644)
        return str(path)

    def config_doc(self, vnic_ids: Sequence[str] = (), **vip: Any) -> Dict[str, Any]:
        """A pcs-oci config for this lab; nodes in vnic_ids get their vnic_id."""
        nodes = []
        for name in self.lab.node_names:
            entry: Dict[str, Any] = {"hostname": name}
            if name in vnic_ids:
                entry["vnic_id"] = self.node(name)["vnic_id"]
            nodes.append(entry)
        vip_entry = {
            "name": "vip",
            "ip": self.vip,
            "cidr_netmask": 24,
            "nic": "eth0",
            "monitor_interval": "5s",
        }
        vip_entry.update(vip)
        return {
            "cluster_name": "lab",
            "nodes": nodes,
            "vips": [vip_entry],
            "resource_stickiness": 100,
            "oci": {"auth": "instance_principal", "endpoint": self.core_endpoint, "timeout": 3},
        }
