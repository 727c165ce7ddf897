"""Watching one planned failover of a VIP from this node: when each phase is first seen.

The clock starts when the move constraint is in place (pcs returned). Then,
every POLL_SECONDS, whatever is still unseen is looked at:

- stop:    crm_mon no longer shows the VIP on the old node;
- start:   crm_mon shows it Started on the new node, and only there;
- address: the address is on this node's interface, when this node is the
           new one; on another node the agent's start is the proof (it
           confirms the address with IPaddr2's monitor before it returns);
- oci:     the OCI API assigns the private IP to the new node's VNIC (the
           agent moves it before it adds the address);
- ping:    the VIP answers an ICMP echo from this node, tried once the start
           is seen (before it, the old node may still answer); when this
           node is the new holder, that only shows the address is up.

A phase's time is when this node first saw it, so it is late by up to one
poll; Pacemaker's own run time of the stop and the start (exec-time in the
CIB) is added afterwards. Ping is a measurement, not a condition: OCI's
default security lists drop ICMP echo, so a VIP that never answers is
reported after PING_GRACE_SECONDS without failing the drill.
"""

import ipaddress
import time
from typing import Any, Callable, Dict, List, NamedTuple, Optional

from pcs_oci import settings
from pcs_oci.lib import moves, pacemaker
from pcs_oci.lib.errors import PcsOciError

POLL_SECONDS = 0.2
# At most one OCI API call per this many seconds: the API is rate limited.
OCI_POLL_SECONDS = 0.5
# How long to keep pinging once everything else is seen.
PING_GRACE_SECONDS = 10.0
PHASES = ("stop", "start", "address", "oci", "ping")


class Phase(NamedTuple):
    name: str  # one of PHASES
    title: str
    # Milliseconds after the move constraint was in place; None: never seen.
    at_ms: Optional[int]
    # How it was seen, or why it was not.
    how: str
    # The agent's own run time of this operation as Pacemaker measured it.
    op_ms: Optional[int] = None


class Move(NamedTuple):
    """One leg of a drill: the VIP resource, from where to where, seen from which node."""

    rsc: str
    ip: str
    source: str
    target: str
    local_node: str
    source_vnic: Optional[str]
    # None when neither the config nor this node knows the new node's VNIC:
    # then "OCI moved it off the old VNIC" is what is watched for.
    target_vnic: Optional[str]


class WatchResult(NamedTuple):
    phases: List[Phase]
    # Why the failover did not complete; None when it did.
    problem: Optional[str]
    # The VNIC OCI assigned the VIP to at the end (None: not seen).
    vnic_id: Optional[str]


class FailoverWatch:
    def __init__(
        self,
        runner: Any,
        local_addresses: Callable[[], List[Any]],
        move: Move,
        api: Any,
        subnet_id: str,
        timeout: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.runner = runner
        self.local_addresses = local_addresses
        self.move = move
        self.api = api
        self.subnet_id = subnet_id
        self.timeout = timeout
        self.clock = clock
        self.sleep = sleep
        self.seen: Dict[str, int] = {}
        self.how: Dict[str, str] = {}
        self.failure: Optional[str] = None
        self.vnic_id: Optional[str] = None
        self._t0 = 0.0
        self._next_oci = 0.0
        self._oci_error = ""
        self._ping_missing = False

    # -- the loop

    def watch(self) -> WatchResult:
        self._t0 = self.clock()
        deadline = self._t0 + self.timeout
        ping_deadline: Optional[float] = None
        while True:
            self._look()
            if self.failure or (self._complete() and ("ping" in self.seen or self._ping_missing)):
                break
            now = self.clock()
            if self._complete() and ping_deadline is None:
                ping_deadline = min(deadline, now + PING_GRACE_SECONDS)
            if now >= (ping_deadline if ping_deadline is not None else deadline):
                break
            self.sleep(POLL_SECONDS)
        return WatchResult(self._phases(), self._problem(), self.vnic_id)

    def _complete(self) -> bool:
        return all(p in self.seen for p in ("stop", "start", "address", "oci"))

    def _elapsed_ms(self) -> int:
        return max(0, int(round((self.clock() - self._t0) * 1000)))

    def _mark(self, phase: str, how: str, at_ms: Optional[int] = None) -> None:
        if phase not in self.seen:
            self.seen[phase] = self._elapsed_ms() if at_ms is None else at_ms
            self.how[phase] = how

    def _look(self) -> None:
        if "stop" not in self.seen or "start" not in self.seen:
            self._pacemaker()
        if "address" not in self.seen:
            self._address()
        if "oci" not in self.seen and self.clock() >= self._next_oci:
            self._oci()
        if "start" in self.seen and "ping" not in self.seen and not self._ping_missing:
            self._ping()

    # -- the observers

    def _pacemaker(self) -> None:
        m = self.move
        cluster = pacemaker.cluster_status(self.runner)
        rsc = cluster.resources.get(m.rsc)
        active = rsc.active_on if rsc else []
        if m.source not in active:
            self._mark("stop", "crm_mon")
        if active == [m.target] and rsc is not None and rsc.role == "Started":
            self._mark("stop", "crm_mon")
            self._mark("start", "crm_mon")
        for failure in cluster.failures:
            if failure.get("op_key", "").startswith(m.rsc + "_"):
                self.failure = "{} failed on {}: {}".format(
                    failure.get("op_key"),
                    failure.get("node", "?"),
                    failure.get("exitreason") or failure.get("exitstatus") or "no reason given",
                )

    def _address(self) -> None:
        m = self.move
        if m.target == m.local_node:
            if ipaddress.ip_address(m.ip) in self.local_addresses():
                self._mark("address", "ip addr on this node")
        elif "start" in self.seen:
            self._mark(
                "address",
                "the agent's start, which confirms the address",
                at_ms=self.seen["start"],
            )

    def _oci(self) -> None:
        from pcs_oci.lib.vip import where_is_vip

        m = self.move
        self._next_oci = self.clock() + OCI_POLL_SECONDS
        try:
            with self.api.budget(max(1.0, min(10.0, self._remaining()))):
                info = where_is_vip(self.api, m.ip, self.subnet_id)
        except PcsOciError as e:
            # Transient or not, the next poll tries again; the last one is reported.
            self._oci_error = "; ".join(r.render() for r in e.reports)
            return
        vnic = info.vnic_id if info is not None else None
        if m.target_vnic is not None and vnic == m.target_vnic:
            self.vnic_id = vnic
            self._mark("oci", "OCI API: VNIC {}".format(vnic))
        elif m.target_vnic is None and vnic is not None and vnic != m.source_vnic:
            self.vnic_id = vnic
            self._mark(
                "oci", "OCI API: VNIC {} ({}'s VNIC is not in the config)".format(vnic, m.target)
            )

    def _ping(self) -> None:
        argv = [settings.PING, "-n", "-q", "-c", "1", "-W", "1", self.move.ip]
        try:
            result = self.runner.run(argv, timeout=10)
        except PcsOciError:
            self._ping_missing = True
            return
        if result.ok:
            self._mark("ping", "ping from this node")

    def _remaining(self) -> float:
        return self.timeout - (self.clock() - self._t0)

    # -- the result

    def _problem(self) -> Optional[str]:
        if self.failure:
            return self.failure
        missing = [p.title for p in self._phases()[:4] if p.at_ms is None]
        if not missing:
            return None
        return "not seen within {:.0f} s: {}".format(self.timeout, ", ".join(missing))

    def _phases(self) -> List[Phase]:
        m = self.move
        titles = {
            "stop": "stopped on {}".format(m.source),
            "start": "started on {}".format(m.target),
            "address": "address up on {}".format(m.target),
            "oci": "OCI: on {}'s VNIC".format(m.target),
            "ping": "answers ping from {}".format(m.local_node),
        }
        unseen = {
            "oci": "OCI API: " + (self._oci_error or "still on VNIC {}".format(m.source_vnic)),
            "ping": "ping is not installed ({})".format(settings.PING)
            if self._ping_missing
            else "no answer: does a security list or NSG drop ICMP echo from this node?",
        }
        return [
            Phase(
                name, titles[name], self.seen.get(name), self.how.get(name) or unseen.get(name, "")
            )
            for name in PHASES
        ]


def with_op_times(phases: List[Phase], runner: Any, move: Move, since_epoch: float) -> List[Phase]:
    """phases with Pacemaker's run times of the stop and the start added (when recorded)."""
    try:
        ops = moves.last_operations(runner, move.rsc)
    except PcsOciError:
        return phases
    wanted = {"stop": (move.source, "stop"), "start": (move.target, "start")}
    found = []
    for phase in phases:
        node, operation = wanted.get(phase.name, ("", ""))
        record = ops.get(node)
        if (
            record is not None
            and record.operation == operation
            and record.changed is not None
            and record.changed >= int(since_epoch) - 1
        ):
            phase = phase._replace(op_ms=record.exec_ms)
        found.append(phase)
    return found
