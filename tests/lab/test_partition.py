"""A network partition on a real 2-node cluster without fencing: what happens.

The cluster interconnect between the VIP's node and its peer is cut
(`isolate --peers`): both halves keep quorum (two_node) and still reach the
fake OCI API on the switch. We sample, from each side, Pacemaker's view
(crm_mon on that node), the OS (the address on eth0) and OCI (which VNIC the
private IP is on), then heal and wait until all three agree again.

Asserted: both halves run the VIP at the same time (split brain, as without
fencing they must); OCI assigns the private IP to exactly one VNIC at every
sample; monitor_api on the half that does not hold it in OCI detects that
(a monitor failure with that exit reason); after the heal Pacemaker, the OS
and OCI converge on one node. The timeline goes into docs/reliability.md.
"""

import time
from typing import Any, Dict, List, Optional, Tuple

import pytest

from tests.lab.lab import unavailable_reason
from tests.lab.oci_lab import CORE_ENDPOINT, VIP, OciLab
from tests.tools.reliability import Collector, md_escape

pytestmark = [
    pytest.mark.cluster,
    pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason())),
]

PARTITION_SECONDS = 16
MONITOR_INTERVAL = "2s"
API_INTERVAL = "2"


def _view(ol: OciLab, node: str) -> Tuple[List[str], List[Tuple[str, str]]]:
    """(nodes where node's Pacemaker runs the VIP, its failed ops (task, reason))."""
    try:
        root = ol.lab.crm_mon_xml(node).getroot()
    except Exception:  # noqa: BLE001 - a node busy recovering may not answer this once
        return ["?"], []
    active = sorted(
        n.get("name", "")
        for r in root.iter("resource")
        if r.get("id") == "vip" and r.get("active") == "true"
        for n in r.iter("node")
    )
    failures = [
        (f.get("task", ""), f.get("exitreason", ""))
        for f in root.iter("failure")
        if "vip" in f.get("op_key", "")
    ]
    return active, failures


def _oci_objects(ol: OciLab) -> List[Optional[str]]:
    snapshot = ol.control.snapshot()
    by_vnic = {n["vnic_id"]: name for name, n in ol.world["nodes"].items()}
    return [
        by_vnic.get(r.get("vnicId")) for r in snapshot["private_ips"] if r.get("ipAddress") == VIP
    ]


def test_partition_without_fencing(reliability: Collector, request: Any) -> None:
    failed_before = request.session.testsfailed
    ol = OciLab("part")
    ol.up()
    try:
        _run(ol, reliability)
    finally:
        ol.close(failed=request.session.testsfailed > failed_before)


def _run(ol: OciLab, reliability: Collector) -> None:
    ol.lab.exec(
        "node1",
        "pcs",
        "resource",
        "create",
        "vip",
        "ocf:oci:IPaddr2",
        "ip=" + VIP,
        "cidr_netmask=24",
        "nic=eth0",
        "endpoint=" + CORE_ENDPOINT,
        "api_timeout=3",
        "monitor_api=true",
        "monitor_api_interval=" + API_INTERVAL,
        "op",
        "monitor",
        "interval=" + MONITOR_INTERVAL,
        "timeout=40s",
        "op",
        "start",
        "timeout=40s",
        "meta",
        "resource-stickiness=100",
        "--wait=60",
        timeout=120,
    )
    (holder,) = ol.lab.where("vip")
    other = "node2" if holder == "node1" else "node1"
    ol.wait_everywhere(holder)
    assert (
        ol.lab.crm_mon_xml().getroot().find(".//cluster_options").get("stonith-enabled") == "false"
    )
    ol.control.clear_calls()

    timeline: List[str] = []
    last: Optional[Tuple[Any, ...]] = None
    both_ran = False
    oci_holders = set()
    detected: Dict[str, str] = {}
    start = time.monotonic()
    ol.lab.isolate(holder, peers_only=True)
    timeline.append(
        "0.0 s: interconnect cut between {} (holds the VIP) and {}".format(holder, other)
    )
    while time.monotonic() - start < PARTITION_SECONDS:
        views = {n: _view(ol, n) for n in (holder, other)}
        objects = _oci_objects(ol)
        # OCI never has the VIP on two VNICs: one private IP object, one VNIC.
        assert len(objects) == 1 and objects[0] in (holder, other), objects
        os_holders = ol.os_holders()
        oci_holders.add(objects[0])
        if len(os_holders) == 2:
            both_ran = True
        for node, (_, failures) in views.items():
            for _task, reason in failures:
                if "OCI assigns" in reason:
                    detected.setdefault(node, reason)
        state = (
            tuple((n, tuple(views[n][0])) for n in (holder, other)),
            tuple(os_holders),
            objects[0],
        )
        if state != last:
            timeline.append(
                "{:.1f} s: Pacemaker on {h} runs it on {hv}, on {o} on {ov}; address up on {os}; "
                "OCI: {oci}".format(
                    time.monotonic() - start,
                    h=holder,
                    hv=",".join(views[holder][0]) or "nothing",
                    o=other,
                    ov=",".join(views[other][0]) or "nothing",
                    os=", ".join(os_holders) or "no node",
                    oci=objects[0],
                )
            )
            last = state
        time.sleep(0.5)
    moves = [c for c in ol.control.calls("UpdatePrivateIp") if c["status"] == 200]
    partition_seconds = time.monotonic() - start

    ol.lab.heal(holder)
    heal_start = time.monotonic()
    timeline.append("{:.1f} s: healed".format(heal_start - start))
    ol.lab.wait(60)
    deadline = time.monotonic() + 90
    final: Optional[str] = None
    while time.monotonic() < deadline:
        where = ol.lab.where("vip")
        if len(where) == 1 and ol.os_holders() == where and ol.oci_holder() == where[0]:
            final = where[0]
            break
        time.sleep(0.5)
    converged = time.monotonic() - heal_start
    assert final is not None, (ol.lab.where("vip"), ol.os_holders(), ol.oci_holder())
    time.sleep(2 * 2)  # two more monitor_api intervals: it stays put
    assert ol.lab.where("vip") == [final] and ol.oci_holder() == final
    timeline.append(
        "{:.1f} s: converged {:.1f} s after the heal: Pacemaker, the OS and OCI all put it on "
        "{}".format(time.monotonic() - start, converged, final)
    )

    # Without fencing both halves ran it; OCI held it on one VNIC at a time and
    # monitor_api on the other half saw that.
    assert both_ran, timeline
    assert oci_holders == {holder, other}, timeline
    assert detected, timeline

    reliability.add(
        "partition",
        "`test_partition_without_fencing`: a real 2-node cluster (corosync two_node, "
        "stonith-enabled=false), the VIP with monitor_api=true, monitor every {mi}, "
        "monitor_api_interval {ai} s. The interconnect between the VIP's node and its peer "
        "is cut for {ps:.0f} s (`isolate --peers`: both still reach the OCI API). Sampled "
        "twice a second, each half's own crm_mon, the address on each node and the VNIC OCI "
        "assigns the private IP to:\n\n{tl}\n\n"
        "What happens, asserted above:\n\n"
        "- Both halves keep quorum (two_node) and both run the VIP: the peer starts it, the "
        "old node never stopped it. The address was up on both nodes at once.\n"
        "- OCI holds the private IP on exactly one VNIC at every sample: OCI cannot "
        "split-brain, so the cloud network delivers the VIP's traffic to one node only.\n"
        "- monitor_api detects the loser: the half whose VNIC does not hold the VIP reports "
        "it not running (exit reason `{reason}`), and its Pacemaker recovers it by a stop "
        "and a start, which moves the private IP back. The halves then take it from each "
        "other in turn: OCI moved it {moves} times in {ps:.0f} s, so clients see the VIP "
        "flap between the nodes for as long as the partition lasts. (Not run here: without "
        "monitor_api nothing would take it back, so OCI would stay with the last node that "
        "started it while the other keeps an address that gets no traffic and a wrong view.)\n"
        "- After the heal the membership reforms, Pacemaker keeps one copy, and Pacemaker, "
        "the OS and OCI converge on one node {conv:.1f} s after the heal, then stay there "
        "for two more monitor_api intervals.\n\n"
        "Only fencing prevents this: with a fence device (fence_oci) the partition ends "
        "with the other half powered off before the VIP starts there. `pcs-oci verify` "
        "warns about exactly this when stonith is disabled.\n".format(
            mi=MONITOR_INTERVAL,
            ai=API_INTERVAL,
            ps=partition_seconds,
            tl="\n".join("- " + md_escape(line) for line in timeline),
            reason=md_escape(next(iter(detected.values()))[:200]),
            moves=len(moves),
            conv=converged,
        ),
    )
