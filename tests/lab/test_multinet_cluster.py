"""IPv6, a second subnet and a reserved public IP on a real 2-node cluster.

One lab (LAB_NET and an IPv6 /64 on the first subnet, a second /24 on a
second bridge; every node has eth0 in the first and eth1, its secondary
VNIC, in the second) and one dual-stack config, made by `pcs-oci
configure` inside node1 as an admin would:

- vip4: IPv4 in the first subnet, with a reserved public IP bound to its
  private IP;
- vip6: IPv6 in the first subnet (the /ipv6 API path);
- vip2: IPv4 in the second subnet: the agent must pick each node's
  secondary VNIC for it from the instance metadata (the config gives no
  VNIC);
- vip2c: IPv4 in the second subnet with the VNICs from the config's
  per-VIP vnic_ids.

A crash of the node holding them moves every VIP; a client on the switch
reaches each one in its subnet (ICMP echo, ICMPv6 for vip6, and a TCP
connection over IPv6 to vip6), OCI puts each on the survivor's VNIC of the
right subnet, the public IP stays bound, and the crashed node's return moves
nothing back. status and verify show it.

The survivor's starts once timed out authenticating: not the load, nor IPv6
or eth1, but the lab's switch changing its MAC when the crashed node's veth
went (see cluster-lab's start_switch); test_lab checks that it no longer does.
"""

import json
import os
import time
from typing import Any, Dict, Iterator, List

import pytest

from tests.lab.lab import SWITCH, poll, unavailable_reason
from tests.lab.oci_lab import OciLab

pytestmark = [
    pytest.mark.cluster,
    pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason())),
]

ADMIN = "node1"
VIPS = ["vip4", "vip6", "vip2", "vip2c"]


@pytest.fixture(scope="module")
def ol(request: Any) -> Iterator[OciLab]:
    lab = OciLab("multinet", ipv6=True, second_subnet=True)
    lab.up()
    failed_before = request.session.testsfailed
    try:
        yield lab
    finally:
        lab.close(failed=request.session.testsfailed > failed_before)


def addresses(ol: OciLab) -> Dict[str, str]:
    assert ol.vip6 is not None and ol.net2 is not None
    return {"vip4": ol.vip, "vip6": ol.vip6, "vip2": ol.vip2 or "", "vip2c": ol.net2 + ".201"}


def devices() -> Dict[str, str]:
    return {"vip4": "eth0", "vip6": "eth0", "vip2": "eth1", "vip2c": "eth1"}


def secondary_vnic(ol: OciLab, node: str) -> str:
    """node's VNIC in the second subnet."""
    return str(ol.node(node)["vnic_ids"][1])


@pytest.fixture(scope="module")
def config(ol: OciLab) -> str:
    doc = ol.config_doc()
    ips = addresses(ol)
    doc["vips"] = [
        {"name": "vip4", "ip": ips["vip4"], "cidr_netmask": 24, "nic": "eth0"},
        {"name": "vip6", "ip": ips["vip6"], "cidr_netmask": 64, "nic": "eth0"},
        {"name": "vip2", "ip": ips["vip2"], "cidr_netmask": 24, "nic": "eth1"},
        {
            "name": "vip2c",
            "ip": ips["vip2c"],
            "cidr_netmask": 24,
            "nic": "eth1",
            "vnic_ids": {n: secondary_vnic(ol, n) for n in ("node1", "node2")},
        },
    ]
    for vip in doc["vips"]:
        vip["monitor_interval"] = "5s"
    return ol.write_config(doc)


def cli(ol: OciLab, config: str, *args: str, node: str = ADMIN, rc: int = 0) -> Any:
    result = ol.pcs_oci(node, "--config", config, *args, check=False)
    assert result.returncode == rc, "exit {}\n{}{}".format(
        result.returncode, result.stdout, result.stderr
    )
    return result


def holders(ol: OciLab) -> Dict[str, List[str]]:
    return {name: ol.lab.where(name) for name in VIPS}


def all_on(ol: OciLab, node: str, secs: float = 90) -> Dict[str, float]:
    """Until Pacemaker, the OS and OCI put every VIP on node; per VIP, the ms
    from this call until they all agreed on it (a VIP seen after another's
    wait counts as done then: an upper bound)."""
    ips, devs = addresses(ol), devices()
    started = time.monotonic()
    done = {}
    for name in VIPS:
        ol.wait_everywhere(node, ip=ips[name], rsc=name, secs=secs, dev=devs[name])
        done[name] = (time.monotonic() - started) * 1000
    return done


def assert_placed(ol: OciLab, node: str) -> None:
    """OCI has each VIP on node's VNIC of its subnet; the switch reaches each."""
    ips = addresses(ol)
    primary, secondary = ol.node(node)["vnic_id"], secondary_vnic(ol, node)
    assert ol.oci_vnic(ips["vip4"]) == primary
    assert ol.oci_vnic(ips["vip6"]) == primary
    assert ol.oci_vnic(ips["vip2"]) == secondary
    assert ol.oci_vnic(ips["vip2c"]) == secondary
    for name in VIPS:
        # ICMP (ICMPv6 for vip6) from the switch, over br0 or br1 by subnet.
        ip = ips[name]
        assert poll(lambda: ol.lab.ping(SWITCH, ip), timeout=20, what=name + " answers")  # noqa: B023


# A TCP service in a node, on every address (so on a VIP once it is there):
# it answers each connection with the node's hostname, and exits by itself.
LISTENER = """
import socket
s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("::", {port}))
s.listen(8)
s.settimeout(120)
try:
    while True:
        c, _ = s.accept()
        c.sendall(socket.gethostname().encode())
        c.close()
except OSError:
    pass
"""
CONNECT = (
    "import socket, sys\n"
    "c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)\n"
    "print(c.recv(64).decode())\n"
)
TCP_PORT = 7777


def tcp_answer(ol: OciLab, node: str, ip: str) -> str:
    """Who answers a TCP connection from the switch to ip (node runs the listener)."""
    ol.lab.exec(
        node,
        "sh",
        "-c",
        'python3 -c "$1" >/dev/null 2>&1 </dev/null &',
        "sh",
        LISTENER.format(port=TCP_PORT),
    )

    def answer() -> str:
        r = ol.lab.exec(SWITCH, "python3", "-c", CONNECT, ip, str(TCP_PORT), check=False)
        return r.stdout.strip() if r.returncode == 0 else ""

    return str(poll(answer, timeout=30, what="a TCP answer from " + ip))


def failed_ops(ol: OciLab) -> List[str]:
    """The cluster's failed actions, "op status on node: reason" (crm_mon)."""
    xml = ol.lab.crm_mon_xml()
    return [
        "{} {} on {}: {}".format(
            f.get("op_key"), f.get("status"), f.get("node"), f.get("exitreason")
        )
        for f in xml.iter("failure")
    ]


def status(ol: OciLab, config: str, node: str = ADMIN, rc: int = 0) -> Dict[str, Dict[str, Any]]:
    data = json.loads(cli(ol, config, "status", "--json", node=node, rc=rc).stdout)
    return {v["name"]: v for v in data["vips"]}


def public_ip_rows(ol: OciLab, config: str, node: str) -> List[Dict[str, Any]]:
    """verify --json's public_ip rows (verify passes: exit 0)."""
    data = json.loads(cli(ol, config, "verify", "--json", node=node).stdout)
    return [c for c in data["checks"] if c["id"] == "public_ip"]


# ---------------------------------------------------------------- tests


def test_01_configure_the_dual_stack_and_two_subnet_vips(ol: OciLab, config: str) -> None:
    # node2 in standby while they start, so that all start on node1 (Pacemaker
    # would spread them) and one crash moves them all.
    ol.lab.pcs(ADMIN, "node", "standby", "node2")
    out = cli(ol, config, "configure").stdout
    assert out.splitlines() == ["{}: created".format(n) for n in VIPS]
    all_on(ol, "node1")
    ol.lab.pcs(ADMIN, "node", "unstandby", "node2")
    ol.lab.wait(60)
    # configure wrote the config's per-VIP VNICs into vip2c's agent parameters.
    params = ol.lab.exec(ADMIN, "crm_resource", "-r", "vip2c", "-g", "vnic_ids").stdout.strip()
    assert params == ",".join("{}={}".format(n, secondary_vnic(ol, n)) for n in ("node1", "node2"))
    assert holders(ol) == {n: ["node1"] for n in VIPS}
    assert_placed(ol, "node1")
    ol.control.bind_public_ip(ol.vip)


def test_02_status_and_verify_show_every_vip_and_the_public_ip(ol: OciLab, config: str) -> None:
    ips = addresses(ol)
    public = ol.control.public_ip_of(ol.vip)
    assert public is not None
    vips = status(ol, config, "node1")
    for name in VIPS:
        assert vips[name]["ip"] == ips[name]
        assert vips[name]["agree"] is True, vips[name]
        assert vips[name]["oci_node"] == "node1", vips[name]
        assert vips[name]["local_has_address"] is True
    assert vips["vip4"]["public_ip"] == public["ipAddress"]
    assert vips["vip4"]["public_ip_lifetime"] == "RESERVED"
    assert [vips[n]["public_ip"] for n in VIPS[1:]] == [None, None, None]
    # On node2, only the config's VNICs name another node's (vip2c's per-VIP
    # vnic_ids); the VIPs the agents discover show their VNIC and exit 3.
    vips = status(ol, config, "node2", rc=3)
    assert vips["vip2c"]["agree"] is True and vips["vip2c"]["oci_node"] == "node1"
    assert vips["vip2"]["oci_vnic_id"] == secondary_vnic(ol, "node1")
    rows = public_ip_rows(ol, config, "node1")
    assert [r["status"] for r in rows] == ["PASS"], rows
    assert public["ipAddress"] in rows[0]["detail"] and ol.vip in rows[0]["detail"]
    assert rows[0]["detail"].endswith("(now on node1)"), rows
    print("\nverify: " + rows[0]["detail"])


def test_03_a_crash_moves_every_vip_to_the_right_vnic(ol: OciLab, config: str) -> None:
    victim = ol.lab.where("vip4")[0]
    survivor = "node2" if victim == "node1" else "node1"
    ips = addresses(ol)
    load = os.getloadavg()[0]
    started = time.monotonic()
    ol.lab.kill(victim)
    times = all_on(ol, survivor)
    assert_placed(ol, survivor)
    total = (time.monotonic() - started) * 1000
    print(
        "\nfailover after `kill {}` (ms from the kill until Pacemaker, the OS and OCI agree): {}; "
        "all reachable after {:.0f} ms; load average {:.1f} -> {:.1f}".format(
            victim,
            ", ".join("{} {:.0f}".format(n, times[n]) for n in VIPS),
            total,
            load,
            os.getloadavg()[0],
        )
    )
    # A TCP client on the switch reaches vip6 over IPv6, on the survivor.
    assert tcp_answer(ol, survivor, ips["vip6"]) == survivor
    # Every start on the survivor succeeded at once (a failed start there is
    # fatal: Pacemaker would not retry it on the only node left).
    assert failed_ops(ol) == []
    # OCI kept the reserved public IP bound to vip4's private IP.
    public = ol.control.public_ip_of(ol.vip)
    assert public is not None and public["lifetime"] == "RESERVED"
    vips = status(ol, config, survivor)
    assert vips["vip4"]["public_ip"] == public["ipAddress"]
    assert all(vips[n]["oci_node"] == survivor for n in VIPS), vips

    # The crashed node returns: nothing moves back (stickiness).
    ol.lab.start(victim)
    ol.lab.wait(90)
    # status on the holder: every VIP agrees there (the returned node knows
    # only its own VNICs and those in the config, as test_02 shows for node2).
    vips = status(ol, config, survivor)
    assert all(vips[n]["agree"] and vips[n]["oci_node"] == survivor for n in VIPS), vips
    assert holders(ol) == {n: [survivor] for n in VIPS}
    assert_placed(ol, survivor)
    devs = devices()
    assert [ol.os_holders(ips[n], devs[n]) for n in VIPS] == [[survivor]] * len(VIPS)
    # verify passes again (every node online) and finds the public IP still bound.
    rows = public_ip_rows(ol, config, survivor)
    assert [r["status"] for r in rows] == ["PASS"], rows
    assert public["ipAddress"] in rows[0]["detail"]
    assert rows[0]["detail"].endswith("(now on {})".format(survivor)), rows
    print("verify after the failover: " + rows[0]["detail"])


def test_04_unconfigure_removes_them(ol: OciLab, config: str) -> None:
    out = cli(ol, config, "unconfigure", *VIPS).stdout
    assert out.splitlines() == ["{}: deleted".format(n) for n in VIPS]
    assert holders(ol) == {n: [] for n in VIPS}
