"""A scripted 2-node cluster for `pcs-oci drill` tests: commands, canned outputs, a fake clock.

The cluster is a FakeRunner (every command in order, with canned output),
OCI a FakeOciApi, and time a fake clock that each command and each sleep
moves on, so the timings are exact and nothing sleeps.
"""

import json
from typing import Any, Callable, Dict, List, Optional, Sequence

from pcs_oci.lib.commands import drill
from pcs_oci.lib.env import Env
from pcs_oci.lib.runner import Result
from tests.tools.fake_oci_api import FakeOciApi
from tests.tools.fake_runner import Call, FakeRunner

CRM_MON = ["/usr/sbin/crm_mon", "--one-shot", "--inactive", "--output-as=xml"]
CRM_NODE = ["/usr/sbin/crm_node", "-n"]
IP_ADDR = ["/sbin/ip", "-o", "addr", "show"]
CONSTRAINTS = ["/usr/sbin/cibadmin", "--query", "--scope", "constraints"]
STATUS_SECTION = ["/usr/sbin/cibadmin", "--query", "--scope", "status"]
PCS_VERSION = ["/usr/sbin/pcs", "--version"]
VIP = "10.0.0.200"
PING = ["/usr/bin/ping", "-n", "-q", "-c", "1", "-W", "1", VIP]
EPOCH = 1_800_000_000.0


def move(node: str, seconds: int = 120, verb: str = "move-with-constraint") -> List[str]:
    return ["/usr/sbin/pcs", "resource", verb, "vip", node, "lifetime=PT{}S".format(seconds)]


def clear(wait: bool = True) -> List[str]:
    return ["/usr/sbin/pcs", "resource", "clear", "vip"] + (["--wait=60"] if wait else [])


def crm_mon(
    on: Optional[str] = "node1",
    role: str = "Started",
    offline: Sequence[str] = (),
    standby: Sequence[str] = (),
    quorum: bool = True,
    failures: Sequence[Dict[str, str]] = (),
    vip: bool = True,
) -> str:
    nodes = "".join(
        '<node name="{}" id="{}" online="{}" standby="{}" type="member"/>'.format(
            n, i, "false" if n in offline else "true", "true" if n in standby else "false"
        )
        for i, n in enumerate(("node1", "node2"), 1)
    )
    resource = ""
    if vip:
        resource = (
            '<resource id="vip" resource_agent="ocf:oci:IPaddr2" role="{}" active="{}" '
            'failed="false">{}</resource>'.format(
                role if on else "Stopped",
                "true" if on else "false",
                '<node name="{}" id="1" cached="true"/>'.format(on) if on else "",
            )
        )
    failed = "".join(
        "<failure {}/>".format(" ".join('{}="{}"'.format(k, v) for k, v in f.items()))
        for f in failures
    )
    return (
        '<pacemaker-result api-version="2.3" request="crm_mon">'
        '<summary><current_dc present="true" with_quorum="{}"/>'
        '<cluster_options stonith-enabled="false"/></summary>'
        "<nodes>{}</nodes><resources>{}</resources>"
        "<failures>{}</failures>"
        '<status code="0" message="OK"/></pacemaker-result>'.format(
            "true" if quorum else "false", nodes, resource, failed
        )
    )


def ip_addr(*addresses: str) -> str:
    return "1: lo    inet 127.0.0.1/8 scope host lo\n" + "".join(
        "2: eth0    inet {}/24 scope global eth0\\       valid_lft forever\n".format(a)
        for a in addresses
    )


def op_records(stop_ms: int = 40, start_ms: int = 1200, changed: float = EPOCH + 1) -> str:
    def op(node: str, operation: str, ms: int) -> str:
        return (
            '<node_state uname="{}"><lrm><lrm_resources><lrm_resource id="vip">'
            '<lrm_rsc_op id="vip_last_0" operation="{}" rc-code="0" exec-time="{}" '
            'last-rc-change="{}"/></lrm_resource></lrm_resources></lrm></node_state>'.format(
                node, operation, ms, int(changed)
            )
        )

    return "<status>{}{}</status>".format(
        op("node1", "stop", stop_ms), op("node2", "start", start_ms)
    )


class Clock:
    """Monotonic time that only moves when a command runs (`step`) or the drill sleeps.

    Tests that count polls up to a deadline use dyadic steps (1/16 s commands,
    1/4 s polls): their sums are exact in binary, so the count is too.
    """

    def __init__(self) -> None:
        self.now = 1000.0
        self.step = 0.05
        self.sleeps: List[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def wall(self) -> float:
        return EPOCH + (self.now - 1000.0)


class TimedRunner(FakeRunner):
    """FakeRunner where each command takes 50 ms of the fake clock, and may do
    something first (`effects[index]`: move the VIP in OCI, raise, send a signal)."""

    def __init__(self, calls: Sequence[Call], clock: Clock):
        super().__init__(calls)
        self.clock = clock
        self.effects: Dict[int, Callable[[], None]] = {}

    def at(self, argv: List[str], fn: Callable[[], None], occurrence: int = 1) -> None:
        """Run fn when the occurrence-th command equal to argv runs."""
        seen = 0
        for index, call in enumerate(self.expected):
            if call.argv == argv:
                seen += 1
                if seen == occurrence:
                    self.effects[index] = fn
                    return
        raise AssertionError("no command #{} {}".format(occurrence, argv))

    def run(
        self, args: Sequence[str], stdin: Any = None, timeout: float = 60.0, env_extend: Any = None
    ) -> Result:
        index = len(self.done)
        result = super().run(args, stdin, timeout, env_extend)
        self.clock.now += self.clock.step
        if index in self.effects:
            self.effects[index]()
        return result


class World:
    def __init__(self, tmp_path: Any, vips: Optional[List[Dict[str, Any]]] = None):
        self.api = FakeOciApi()
        self.subnet = self.api.add_subnet("10.0.0.0/24")
        self.vnic1 = self.api.add_vnic(self.subnet, "10.0.0.11")
        self.vnic2 = self.api.add_vnic(self.subnet, "10.0.0.12")
        self.pid = self.api.add_private_ip(VIP, self.vnic1, self.subnet)
        self.path = tmp_path / "c.json"
        self.path.write_text(
            json.dumps(
                {
                    "nodes": [
                        {"hostname": "node1", "vnic_id": self.vnic1},
                        {"hostname": "node2", "vnic_id": self.vnic2},
                    ],
                    "vips": vips or [{"name": "vip", "ip": VIP, "cidr_netmask": 24}],
                }
            )
        )
        self.clock = Clock()
        self.runner: Optional[TimedRunner] = None

    def env(self, calls: Sequence[Call]) -> Env:
        self.runner = TimedRunner(calls, self.clock)
        return Env(
            config_path=str(self.path), runner=self.runner, oci_api_factory=lambda c: self.api
        )

    def to_node2(self) -> None:
        self.api.move_behind_back(self.pid, self.vnic2)

    def to_node1(self) -> None:
        self.api.move_behind_back(self.pid, self.vnic1)

    def run(self, env: Env, plan: drill.DrillPlan, dry_run: bool = False) -> drill.DrillResult:
        return drill.drill(
            env,
            plan,
            dry_run=dry_run,
            clock=self.clock.monotonic,
            sleep=self.clock.sleep,
            wall=self.clock.wall,
        )


def healthy(here: str = "node1", on: str = "node1", pcs: str = "0.11.5\n") -> List[Call]:
    """What prepare() runs on a healthy cluster: status, crm_mon, the constraints, pcs."""
    return [
        Call(CRM_MON, crm_mon(on)),
        Call(CRM_NODE, here + "\n"),
        Call(IP_ADDR, ip_addr(VIP) if here == on else ip_addr()),
        Call(CRM_MON, crm_mon(on)),
        Call(CONSTRAINTS, "<constraints/>"),
        Call(PCS_VERSION, pcs),
    ]


def leg_to_node2(clear_wait: bool = True) -> List[Call]:
    """node1 -> node2 seen from node1: stopped, then started, pinged, cleared."""
    return [
        Call(move("node2")),
        Call(CRM_MON, crm_mon(None)),
        Call(CRM_MON, crm_mon("node2")),
        Call(PING),
        Call(clear(clear_wait)),
        Call(CRM_MON, crm_mon("node2")),
        Call(STATUS_SECTION, op_records()),
    ]
