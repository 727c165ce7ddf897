"""The fake cloud: state plus the knobs tests turn (faults, call log, auth policy, clock).

`FakeCloud` is shared by every server role in a process. Its public methods listed in
RPC_METHODS are also reachable over HTTP at /_fake/rpc/<name> for standalone servers.
"""

import fnmatch
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Set

from tests.fakes.compute import ComputeOps, Listener
from tests.fakes.fidelity import Fidelity
from tests.fakes.latency import Latency
from tests.fakes.netops import NetworkOps
from tests.fakes.publicips import PublicIpOps
from tests.fakes.store import Resource, Store
from tests.fakes.world import World

OPS = (
    "GetVnic",
    "ListPrivateIps",
    "GetPrivateIp",
    "CreatePrivateIp",
    "UpdatePrivateIp",
    "DeletePrivateIp",
    "ListVnicAttachments",
    "GetVnicAttachment",
    "ListInstances",
    "GetInstance",
    "InstanceAction",
    "GetSubnet",
    "GetSecurityList",
    "ListNetworkSecurityGroupSecurityRules",
    "ListIpv6s",
    "GetIpv6",
    "CreateIpv6",
    "UpdateIpv6",
    "DeleteIpv6",
    "GetPublicIpByPrivateIpId",
    "Federation",
    "Imds:instance",
    "Imds:vnics",
    "Imds:identity",
    "Imds:legacy",
    "Imds:other",
)


@dataclass
class Fault:
    """One injected failure. status=None means: run the real handler (then drop/reset)."""

    op: str
    status: Optional[int] = 503
    code: str = "ServiceUnavailable"
    message: Optional[str] = None
    count: Optional[int] = 1  # None = forever
    skip: int = 0  # let this many matching calls through first
    retry_after: Optional[float] = None
    delay: float = 0.0
    drop: bool = False
    reset_mid_body: bool = False
    body: Optional[str] = None
    node: Optional[str] = None
    id: int = 0
    fired: int = 0


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: List[Fault] = []
        self._next = 1

    def add(
        self,
        op: str,
        status: Optional[int] = 503,
        code: str = "ServiceUnavailable",
        count: Optional[int] = 1,
        retry_after: Optional[float] = None,
        delay: float = 0.0,
        drop: bool = False,
        reset_mid_body: bool = False,
        body: Optional[str] = None,
        message: Optional[str] = None,
        node: Optional[str] = None,
        skip: int = 0,
    ) -> int:
        """Inject a fault on `op` (an OCI operation name, "Imds:*" style glob, or "*")."""
        with self._lock:
            fault = Fault(
                op=op,
                status=status,
                code=code,
                message=message,
                count=count,
                skip=skip,
                retry_after=retry_after,
                delay=delay,
                drop=drop,
                reset_mid_body=reset_mid_body,
                body=body,
                node=node,
                id=self._next,
            )
            self._next += 1
            self._faults.append(fault)
            return fault.id

    def remove(self, fault_id: int) -> None:
        with self._lock:
            self._faults = [f for f in self._faults if f.id != fault_id]

    def clear(self) -> None:
        with self._lock:
            self._faults = []

    def list(self) -> List[Dict[str, Any]]:
        with self._lock:
            return [asdict(f) for f in self._faults]

    def take(self, op: str, node: Optional[str] = None) -> Optional[Fault]:
        """Consume and return the first fault that matches this call, if any."""
        with self._lock:
            for fault in self._faults:
                if not fnmatch.fnmatchcase(op, fault.op):
                    continue
                if fault.node is not None and fault.node != node:
                    continue
                if fault.skip > 0:
                    fault.skip -= 1
                    continue
                fault.fired += 1
                if fault.count is not None:
                    fault.count -= 1
                    if fault.count <= 0:
                        self._faults.remove(fault)
                return fault
        return None


class CallLog:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: List[Dict[str, Any]] = []

    def append(self, entry: Dict[str, Any]) -> None:
        with self._lock:
            self._calls.append(entry)

    def calls(self, op: Optional[str] = None, **match: Any) -> List[Dict[str, Any]]:
        with self._lock:
            return [
                dict(c)
                for c in self._calls
                if (op is None or fnmatch.fnmatchcase(c["op"], op))
                and all(c.get(k) == v for k, v in match.items())
            ]

    def clear(self) -> None:
        with self._lock:
            self._calls = []


@dataclass
class AuthPolicy:
    """Who gets 404 NotAuthorizedOrNotFound. Everyone may do everything by default.

    Per operation (deny), or per resource (deny_resources: VNIC, private IP or
    compartment OCIDs): a denied resource named in the URI answers 404
    NotAuthorizedOrNotFound, one named in the request body 400
    RelatedResourceNotAuthorizedOrNotFound (see access.py).
    """

    denied: Dict[str, Optional[Set[str]]] = field(default_factory=dict)
    denied_resources: Dict[str, Set[str]] = field(default_factory=dict)

    def deny(self, principal: str, ops: Optional[Sequence[str]] = None) -> None:
        self.denied[principal] = set(ops) if ops else None

    def deny_resources(self, principal: str, ocids: Sequence[str]) -> None:
        self.denied_resources.setdefault(principal, set()).update(ocids)

    def allow(self, principal: Optional[str] = None) -> None:
        if principal is None:
            self.denied.clear()
            self.denied_resources.clear()
        else:
            self.denied.pop(principal, None)
            self.denied_resources.pop(principal, None)

    def is_denied(self, principal: Optional[str], op: str, explicit_only: bool = False) -> bool:
        for who in (principal, "*"):
            if who is None or who not in self.denied:
                continue
            ops = self.denied[who]
            if ops is None and not explicit_only:
                return True
            if ops is not None and op in ops:
                return True
        return False

    def resource_denied(self, principal: Optional[str], *ocids: Optional[str]) -> bool:
        wanted = {o for o in ocids if o}
        for who in (principal, "*"):
            if who is not None and wanted & self.denied_resources.get(who, set()):
                return True
        return False


RPC_METHODS = (
    "calls",
    "clear_calls",
    "add_fault",
    "remove_fault",
    "clear_faults",
    "list_faults",
    "private_ip_by_address",
    "ipv6_by_address",
    "move_private_ip",
    "add_private_ip",
    "bind_public_ip",
    "public_ip_of",
    "snapshot",
    "imds_down",
    "set_token_lifetime",
    "set_clock_skew",
    "expire_tokens",
    "deny",
    "deny_resources",
    "allow",
    "fidelity",
    "set_fidelity",
    "moving",
    "land_pending",
    "set_ipv6_state",
    "set_instance_state",
    "instance_state",
    "set_action_delay",
    "set_latency",
    "reset",
    "health",
)


class FakeCloud:
    def __init__(
        self,
        world: World,
        roles: Sequence[str] = (),
        action_delay: float = 0.3,
        token_lifetime: float = 1200.0,
        fidelity: Optional[Fidelity] = None,
    ) -> None:
        self.world = world
        self.roles = list(roles)
        self.store = Store(world)
        self.behaviour = fidelity if fidelity is not None else Fidelity()
        self.behaviour.check()
        self.net = NetworkOps(self.store, self.behaviour)
        self.public_ips = PublicIpOps(self.store)
        self.net.on_delete = self.public_ips.private_ip_deleted
        self.compute = ComputeOps(self.store, action_delay)
        self.faults = Faults()
        self.log = CallLog()
        self.policy = AuthPolicy()
        self.token_lifetime = token_lifetime
        self.clock_skew = 0.0
        self.tokens_not_before = 0.0
        self._imds_down: Set[str] = set()
        self.latency = Latency()

    def now(self) -> float:
        """The server's idea of the time (skewed to fake a wrong client clock)."""
        return time.time() + self.clock_skew

    def vnic_id(self, vnic_or_node: Optional[str]) -> Optional[str]:
        if vnic_or_node and vnic_or_node in self.world["nodes"]:
            return self.world["nodes"][vnic_or_node]["vnic_id"]
        return vnic_or_node

    def instance_id(self, node_or_id: str) -> str:
        if node_or_id in self.world["nodes"]:
            return self.world["nodes"][node_or_id]["instance_id"]
        return node_or_id

    # -- control API (also RPC) ---------------------------------------------------------
    def health(self) -> Dict[str, Any]:
        return {"ok": True, "roles": self.roles}

    def calls(self, op: Optional[str] = None, **match: Any) -> List[Dict[str, Any]]:
        return self.log.calls(op, **match)

    def clear_calls(self) -> None:
        self.log.clear()

    def add_fault(self, op: str, **kwargs: Any) -> int:
        return self.faults.add(op, **kwargs)

    def remove_fault(self, fault_id: int) -> None:
        self.faults.remove(fault_id)

    def clear_faults(self) -> None:
        self.faults.clear()

    def list_faults(self) -> List[Dict[str, Any]]:
        return self.faults.list()

    def private_ip_by_address(self, ip: str, subnet_id: Optional[str] = None) -> Optional[Resource]:
        return self.net.find_by_address(ip, subnet_id)

    def ipv6_by_address(self, ip: str, subnet_id: Optional[str] = None) -> Optional[Resource]:
        return self.net.find_by_address(ip, subnet_id)

    def move_private_ip(self, ip: str, vnic_or_node: Optional[str]) -> Resource:
        """Move an IPv4/IPv6 address behind the cluster's back (None/"" unassigns RESERVED)."""
        return self.net.move_by_address(ip, self.vnic_id(vnic_or_node))

    def add_private_ip(
        self, ip: str, vnic_or_node: Optional[str] = None, lifetime: str = "EPHEMERAL"
    ) -> Resource:
        return self.net.add_by_address(ip, self.vnic_id(vnic_or_node), lifetime)

    def bind_public_ip(self, ip: str, lifetime: str = "RESERVED") -> Resource:
        """Bind a new public IP to the private IP with address ip (a VIP or a node's primary)."""
        private = self.net.find_by_address(ip)
        if private is None:
            raise KeyError("no private IP {}".format(ip))
        return self.public_ips.bind(private["id"], lifetime)

    def public_ip_of(self, ip: str) -> Optional[Resource]:
        """The public IP bound to the private IP with address ip, if any."""
        private = self.net.find_by_address(ip)
        return self.public_ips.find(private["id"] if private else None)

    def snapshot(self) -> Dict[str, List[Resource]]:
        return self.store.snapshot()

    def imds_down(self, node: str, down: bool = True) -> None:
        if down:
            self._imds_down.add(node)
        else:
            self._imds_down.discard(node)

    def is_imds_down(self, node: Optional[str]) -> bool:
        return node is not None and node in self._imds_down

    def set_token_lifetime(self, seconds: float) -> None:
        self.token_lifetime = float(seconds)

    def set_clock_skew(self, seconds: float) -> None:
        self.clock_skew = float(seconds)

    def expire_tokens(self) -> None:
        """Every token issued so far is rejected from now on (401, as if expired)."""
        self.tokens_not_before = self.now()

    def deny(self, principal: str, ops: Optional[Sequence[str]] = None) -> None:
        self.policy.deny(principal, ops)

    def deny_resources(self, principal: str, ocids: Sequence[str]) -> None:
        """Deny principal (an OCID, a node name for its instance, or "*") the VNICs,
        private IPs or compartments ocids (node names stand for their primary VNIC)."""
        who = self.instance_id(principal) if principal in self.world["nodes"] else principal
        self.policy.deny_resources(who, [self.vnic_id(o) or o for o in ocids])

    def allow(self, principal: Optional[str] = None) -> None:
        self.policy.allow(principal)

    def fidelity(self) -> Dict[str, Any]:
        return self.behaviour.as_dict()

    def set_fidelity(self, **changes: Any) -> Dict[str, Any]:
        """Switch recorded behaviours on or off (see fidelity.Fidelity); kept by reset()."""
        with self.store.lock:
            # Whatever was pending lands first: a knob never strands a move.
            self.store.settle(everything=True)
            self.behaviour.update(**changes)
        return self.behaviour.as_dict()

    def moving(self, ip: str) -> Optional[str]:
        """The VNIC a move of the address ip is landing on, None when none is under way."""
        rec = self.net.find_by_address(ip)
        return self.net.moving(rec["id"]) if rec is not None else None

    def land_pending(self) -> None:
        """Land every move (and finish every IPv6 provisioning) now, whatever its delay:
        tests look at the window with a long delay and end it here, never by sleeping."""
        self.store.settle(everything=True)

    def set_ipv6_state(self, ip: str, state: str) -> Resource:
        """Put an Ipv6 into PROVISIONING, AVAILABLE, TERMINATING or TERMINATED."""
        return self.net.set_ipv6_state(ip, state)

    def set_instance_state(self, node_or_id: str, state: str) -> None:
        self.compute.set_state(self.instance_id(node_or_id), state)

    def instance_state(self, node_or_id: str) -> str:
        return self.compute.get_instance(self.instance_id(node_or_id))[0]["lifecycleState"]

    def set_action_delay(self, seconds: float) -> None:
        self.compute.action_delay = float(seconds)

    def set_latency(self, **profile_ms: float) -> Dict[str, float]:
        """Milliseconds per call of a kind: core=, federation=, metadata= (latency.py)."""
        return self.latency.set(profile_ms)

    def on_instance_state(self, listener: Listener) -> None:
        self.compute.add_listener(listener)

    def reset(self) -> None:
        """Clear faults, calls, denials, skew and IMDS outages (state is kept)."""
        self.faults.clear()
        self.log.clear()
        self.policy.allow()
        self.clock_skew = 0.0
        self._imds_down.clear()

    def rpc(self, name: str, args: Sequence[Any], kwargs: Dict[str, Any]) -> Any:
        if name not in RPC_METHODS:
            raise KeyError(name)
        method: Callable[..., Any] = getattr(self, name)
        return method(*args, **kwargs)

    def close(self) -> None:
        self.compute.stop_timers()
