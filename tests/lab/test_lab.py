"""Tests of the cluster lab itself (tests/lab/cluster-lab and lab.py).

They run a real 2-node corosync/pacemaker cluster in namespaces, so they need
root and the Debian cluster packages; otherwise they skip.
"""

import os
import secrets
import time
import urllib.request
from pathlib import Path
from typing import Dict, Iterator, List

import pytest

from tests.lab.lab import (
    SWITCH,
    Lab,
    LabError,
    poll,
    process_alive,
    selftest,
    unavailable_reason,
)

_REASON = unavailable_reason()
pytestmark = [
    pytest.mark.cluster,
    pytest.mark.skipif(_REASON is not None, reason=_REASON or ""),
    pytest.mark.timeout(240),
]

TOKEN = secrets.token_hex(4)  # marks this run's processes
SVC_PORT = 8169
API_PORT = 8080
BASE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
NODE_PATH = "/opt/lab-test/bin:" + BASE_PATH
SPACED = "a b  'c'"

# A tiny OCF agent: on start it writes its whole environment to a file in the
# node's private /run, so the test sees what pacemaker-execd gave the agent.
AGENT = """#!/bin/sh
STATE=/run/lab-envdump.state
case $1 in
meta-data) cat <<'XML'
<?xml version="1.0"?>
<!DOCTYPE resource-agent SYSTEM "ra-api-1.dtd">
<resource-agent name="LabEnvDump" version="1.0">
<version>1.0</version>
<longdesc lang="en">cluster-lab test agent: writes its environment to a file</longdesc>
<shortdesc lang="en">environment dump</shortdesc>
<parameters/>
<actions>
<action name="start" timeout="20s"/>
<action name="stop" timeout="20s"/>
<action name="monitor" timeout="20s" interval="10s"/>
<action name="meta-data" timeout="5s"/>
<action name="validate-all" timeout="5s"/>
</actions>
</resource-agent>
XML
    exit 0 ;;
start) env >/run/lab-envdump.env.tmp && mv /run/lab-envdump.env.tmp /run/lab-envdump.env
       touch $STATE; exit 0 ;;
stop) rm -f $STATE /run/lab-envdump.env; exit 0 ;;
monitor) [ -f $STATE ] && exit 0; exit 7 ;;
validate-all) exit 0 ;;
*) exit 3 ;;
esac
"""

# Per-node service: an HTTP server on the node's own 127.0.0.1 that says which
# node it runs in.  argv[0] carries node name and run token so the test can
# find the process from the host.
SERVICE = """#!/bin/bash
mkdir -p /run/lab-svc && printf '%s\\n' "$1" >/run/lab-svc/whoami
echo "service for $1: LAB_NODE=$LAB_NODE LAB_TEST_VAR=$LAB_TEST_VAR"
exec -a "lab-svc-$1-$LAB_TEST_TOKEN" /usr/bin/python3 -m http.server \\
    --bind 127.0.0.1 --directory /run/lab-svc {port}
""".format(port=SVC_PORT)

FETCH = (
    "import sys, urllib.request\n"
    "print(urllib.request.urlopen(sys.argv[1], timeout=3).read().decode().strip())\n"
)


def fetch(lab: Lab, node: str, url: str) -> str:
    """GET url from inside node; '' if it fails."""
    res = lab.exec(node, "/usr/bin/python3", "-c", FETCH, url, check=False, timeout=20)
    return res.stdout.strip() if res.returncode == 0 else ""


def service_pids(node: str) -> List[int]:
    """Host PIDs of this run's per-node service of node."""
    want = "lab-svc-{}-{}".format(node, TOKEN).encode()
    pids = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                argv0 = (d / "cmdline").read_bytes().split(b"\0", 1)[0]
            except OSError:
                continue
            if argv0 == want:
                pids.append(int(d.name))
    return pids


def agent_env(lab: Lab, node: str) -> Dict[str, str]:
    out = lab.exec(node, "cat", "/run/lab-envdump.env").stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def wait_agent_env(lab: Lab, node: str, secs: float = 30) -> Dict[str, str]:
    def ready() -> Dict[str, str]:
        if node not in lab.where("envdump"):
            return {}
        res = lab.exec(node, "cat", "/run/lab-envdump.env", check=False)
        return agent_env(lab, node) if res.returncode == 0 else {}

    return poll(ready, secs, 0.2, "envdump running on " + node)


@pytest.fixture(scope="module")
def host_oci_provider() -> bool:
    return os.path.exists("/usr/lib/ocf/resource.d/oci")


@pytest.fixture(scope="module")
def lab(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    host_oci_provider: bool,
) -> Iterator[Lab]:
    base = tmp_path_factory.mktemp("lab")
    provider = base / "provider"
    provider.mkdir()
    (provider / "LabEnvDump").write_text(AGENT)
    (provider / "LabEnvDump").chmod(0o755)
    service = base / "service"
    service.write_text(SERVICE)
    service.chmod(0o755)
    lab = Lab(
        "t{}".format(os.getpid()),
        nodes=2,
        env_per_node={
            "*": {
                "OCI_METADATA_BASE_URL": "http://127.0.0.1:{}/opc/v2".format(SVC_PORT),
                "LAB_TEST_TOKEN": TOKEN,
                "PATH": NODE_PATH,
                "SPACED": SPACED,
            },
            "node1": {"LAB_TEST_VAR": "hello-node1"},
            "node2": {"LAB_TEST_VAR": "hello-node2"},
        },
        services=service,
        service_ports=[SVC_PORT],
        ocf_provider_dir=provider,
        extra_env={"LAB_LEAK_CANARY": "caller-only", "LEAK_CANARY": "caller-only"},
    )
    failed_before = request.session.testsfailed
    lab.__enter__()
    yield lab
    lab.close(failed=request.session.testsfailed > failed_before)
    # the host's /usr/lib was never written
    assert os.path.exists("/usr/lib/ocf/resource.d/oci") == host_oci_provider


@pytest.fixture(scope="module")
def envdump(lab: Lab) -> str:
    lab.pcs(
        "node1",
        "resource",
        "create",
        "envdump",
        "ocf:oci:LabEnvDump",
        "clone",
        "--wait=60",
        timeout=90,
    )
    return "envdump"


def test_ocf_provider_dir_is_mounted_read_only_in_nodes(lab: Lab) -> None:
    for node in lab.node_names:
        ls = lab.exec(node, "ls", "/usr/lib/ocf/resource.d/oci").stdout.split()
        assert ls == ["LabEnvDump"]
        res = lab.exec(node, "touch", "/usr/lib/ocf/resource.d/oci/x", check=False)
        assert res.returncode != 0 and "Read-only" in res.stderr
        # the stock providers are still there
        assert "IPaddr2" in lab.exec(node, "ls", "/usr/lib/ocf/resource.d/heartbeat").stdout


def test_agent_sees_per_node_env_and_not_the_callers(lab: Lab, envdump: str) -> None:
    assert lab.where(envdump) == ["node1", "node2"]
    for node in lab.node_names:
        env = agent_env(lab, node)
        assert env["LAB_TEST_VAR"] == "hello-" + node
        assert env["OCI_METADATA_BASE_URL"] == "http://127.0.0.1:8169/opc/v2"
        assert env["PATH"] == NODE_PATH
        assert env["SPACED"] == SPACED
        assert env["OCF_RESOURCE_PROVIDER"] == "oci"
        assert env["TMPDIR"] == "/run/tmp"
        # like a systemd service: nothing of the environment that ran the lab
        assert "LEAK_CANARY" not in env and "LAB_LEAK_CANARY" not in env
        assert "HOME" not in env and "PYTEST_CURRENT_TEST" not in env


def test_exec_sees_node_env(lab: Lab) -> None:
    out = lab.exec("node2", "sh", "-c", 'echo "$LAB_TEST_VAR|$PATH|$SPACED"').stdout
    assert out.strip() == "hello-node2|{}|{}".format(NODE_PATH, SPACED)
    assert lab.node_env("node1")["LAB_TEST_VAR"] == "hello-node1"


def test_per_node_service_answers_on_each_nodes_own_loopback(lab: Lab) -> None:
    url = "http://127.0.0.1:{}/whoami".format(SVC_PORT)
    assert fetch(lab, "node1", url) == "node1"
    assert fetch(lab, "node2", url) == "node2"
    assert fetch(lab, SWITCH, url) == ""  # not on the switch's loopback
    assert len(service_pids("node1")) == 1 and len(service_pids("node2")) == 1
    log = (lab.node_dir("node1") / "services.log").read_text()
    assert "service for node1: LAB_NODE=node1 LAB_TEST_VAR=hello-node1" in log


def test_kill_kills_service_and_start_restores_service_and_env(lab: Lab, envdump: str) -> None:
    url = "http://127.0.0.1:{}/whoami".format(SVC_PORT)
    old = service_pids("node1")
    assert len(old) == 1
    lab.kill("node1")
    assert service_pids("node1") == []
    assert not any(process_alive(p) for p in old)
    assert lab.node_states() == {"node1": "down", "node2": "running"}
    with pytest.raises(LabError):
        lab.exec("node1", "true")
    assert fetch(lab, "node2", url) == "node2"  # node2's own service is untouched

    lab.start("node1")
    new = service_pids("node1")
    assert len(new) == 1 and new != old
    assert fetch(lab, "node1", url) == "node1"
    lab.wait(60)
    env = wait_agent_env(lab, "node1")  # the clone restarted on the rebooted node
    assert env["LAB_TEST_VAR"] == "hello-node1"
    assert env["PATH"] == NODE_PATH


def test_env_change_reaches_daemons_restarted_through_systemctl_shim(
    lab: Lab, envdump: str
) -> None:
    lab.set_env("node2", LAB_TEST_VAR="changed-node2", EXTRA_ONE="1")
    assert lab.exec("node2", "printenv", "EXTRA_ONE").stdout.strip() == "1"
    lab.pcs("node2", "cluster", "stop", timeout=120)  # shim: stop pacemaker, corosync
    lab.pcs("node2", "cluster", "start", timeout=120)  # shim: start them, new env
    lab.wait(60)
    env = wait_agent_env(lab, "node2")
    assert env["LAB_TEST_VAR"] == "changed-node2" and env["EXTRA_ONE"] == "1"
    lab.set_env("node2", LAB_TEST_VAR="hello-node2", EXTRA_ONE=None)
    assert "EXTRA_ONE" not in lab.node_env("node2")


def test_served_process_on_switch_is_reachable_from_nodes(lab: Lab, tmp_path: Path) -> None:
    (tmp_path / "marker").write_text("api-" + TOKEN)
    pid = lab.serve(
        "api",
        ["/usr/bin/python3", "-m", "http.server", "--bind", lab.switch_ip, str(API_PORT)],
        port=API_PORT,
        cwd=tmp_path,
    )
    assert process_alive(pid)
    url = "http://{}:{}/marker".format(lab.switch_ip, API_PORT)
    assert fetch(lab, "node2", url) == "api-" + TOKEN
    assert fetch(lab, "node1", url) == "api-" + TOKEN
    assert "api running pid={}".format(pid) in lab.status()
    assert lab.served_log("api").exists()
    with pytest.raises(LabError, match="already running"):
        lab.serve("api", ["/bin/sleep", "60"])
    # the host (this process) is not on the switch; a forwarder gets it there
    host_port = lab.forward("api-fw", API_PORT, lab.switch_ip)
    with urllib.request.urlopen("http://127.0.0.1:{}/marker".format(host_port), timeout=5) as r:
        assert r.read().decode() == "api-" + TOKEN
    lab.unserve("api-fw")
    lab.unserve("api")
    assert not process_alive(pid)
    assert fetch(lab, "node2", url) == ""


def test_isolate_peers_partitions_cluster_but_keeps_switch(lab: Lab, tmp_path: Path) -> None:
    (tmp_path / "marker").write_text("ok")
    lab.serve(
        "api2",
        ["/usr/bin/python3", "-m", "http.server", "--bind", lab.switch_ip, str(API_PORT)],
        port=API_PORT,
        cwd=tmp_path,
    )
    url = "http://{}:{}/marker".format(lab.switch_ip, API_PORT)
    lab.isolate("node2", peers_only=True)
    try:
        assert not lab.ping("node2", lab.node_ip("node1"))
        assert not lab.ping("node1", lab.node_ip("node2"))
        assert lab.ping("node2", lab.switch_ip)
        assert fetch(lab, "node2", url) == "ok"

        def node2_offline_for_node1() -> bool:
            xml = lab.crm_mon_xml("node1")
            return any(
                n.get("name") == "node2" and n.get("online") == "false" for n in xml.iter("node")
            )

        poll(node2_offline_for_node1, 30, 0.2, "node1 sees node2 offline")
    finally:
        lab.heal("node2")
        lab.unserve("api2")
    lab.wait(60)
    assert lab.ping("node2", lab.node_ip("node1"))


def test_node_addrs_and_crm_mon_xml(lab: Lab) -> None:
    assert lab.node_addrs("node1", dev="eth0", family="inet") == [lab.node_ip("node1")]
    assert "127.0.0.1" in lab.node_addrs("node1")
    tree = lab.crm_mon_xml()
    root = tree.getroot()
    assert root is not None and root.tag == "pacemaker-result"
    dc = tree.find("summary/current_dc")
    assert dc is not None and dc.get("present") == "true"
    assert sorted(n.get("name", "") for n in tree.iter("node") if n.get("online") == "true") == [
        "node1",
        "node2",
    ]


def test_down_leaves_nothing_behind(tmp_path: Path) -> None:
    name = "d{}".format(os.getpid())
    lab = Lab(name, nodes=1)
    lab_dir = str(lab.lab_dir)
    with lab:
        pid = lab.serve("sleeper", ["/bin/sleep", "600"])
        node_pid = int(lab.status().split("init-pid=")[1].split()[0])
    for p in (pid, node_pid):
        assert not process_alive(p)
    assert not os.path.exists(lab_dir) and not os.path.exists(lab_dir + ".lock")
    assert lab_dir not in Path("/proc/self/mountinfo").read_text()
    for d in Path("/proc").iterdir():  # no live process is left in the lab's cgroups
        if d.name.isdigit() and process_alive(int(d.name)):
            try:
                cg = (d / "cgroup").read_text()
            except OSError:
                continue
            assert "cluster-lab-" + lab.name not in cg


def test_selftest_ipaddr2_failover() -> None:
    t0 = time.monotonic()
    res = selftest(nodes=2)
    assert res["from"] != res["to"]
    assert 0 < int(res["failover_ms"]) < 20000
    print(
        "selftest: failover {} ms, total {:.1f} s".format(res["failover_ms"], time.monotonic() - t0)
    )


def _mac(lab: Lab, where: str, dev: str) -> str:
    """dev's MAC inside where (a node or SWITCH; its /sys is the host's)."""
    out = lab.exec(where, "ip", "-o", "link", "show", "dev", dev).stdout.split()
    return out[out.index("link/ether") + 1]


def _switch_in_arp(lab: Lab, node: str) -> str:
    """The MAC node's ARP cache has for the switch ('' if none)."""
    out = lab.exec(node, "ip", "-4", "neigh", "show", lab.switch_ip, "dev", "eth0").stdout.split()
    return out[out.index("lladdr") + 1] if "lladdr" in out else ""


def test_a_crash_leaves_the_switchs_mac_and_the_survivors_arp_alone(lab: Lab) -> None:
    # Crash the node whose switch-side veth has the lowest MAC: the one a
    # bridge without its own MAC copies. The switch must keep its MAC, as a
    # VCN's router does; else the survivor's ARP entry for it (fresh after
    # the ping) points at a MAC that is gone, and its API calls vanish for
    # up to ~45 s (a failover's starts timed out on that).
    victim = min(lab.node_names, key=lambda n: _mac(lab, SWITCH, n))
    survivor = next(n for n in lab.node_names if n != victim)
    switch_mac = _mac(lab, SWITCH, "br0")
    assert lab.ping(survivor, lab.switch_ip)
    assert _switch_in_arp(lab, survivor) == switch_mac
    lab.kill(victim)
    try:
        assert _mac(lab, SWITCH, "br0") == switch_mac
        assert _switch_in_arp(lab, survivor) == switch_mac
        assert lab.ping(survivor, lab.switch_ip)
    finally:
        lab.start(victim)
        lab.wait(60)
