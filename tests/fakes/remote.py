"""Client for a standalone fake's /_fake/ control API (same method names as FakeOci)."""

import json
import urllib.error
import urllib.request
from typing import Any, Dict, List, Optional, Sequence


class RemoteError(RuntimeError):
    pass


class RemoteFaults:
    def __init__(self, ctl: "RemoteControl") -> None:
        self._ctl = ctl

    def add(self, op: str, **kwargs: Any) -> int:
        return int(self._ctl.rpc("add_fault", op, **kwargs))

    def remove(self, fault_id: int) -> None:
        self._ctl.rpc("remove_fault", fault_id)

    def clear(self) -> None:
        self._ctl.rpc("clear_faults")

    def list(self) -> List[Dict[str, Any]]:
        return list(self._ctl.rpc("list_faults"))


class RemoteControl:
    def __init__(self, base_url: str, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.faults = RemoteFaults(self)

    def rpc(self, name: str, *args: Any, **kwargs: Any) -> Any:
        data = json.dumps({"args": list(args), "kwargs": kwargs}).encode("utf-8")
        req = urllib.request.Request(
            "{}/_fake/rpc/{}".format(self.base_url, name),
            data=data,
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return json.loads(resp.read().decode("utf-8"))["result"]
        except urllib.error.HTTPError as err:
            raise RemoteError("{} {}: {}".format(name, err.code, err.read().decode())) from None

    def health(self) -> Dict[str, Any]:
        return dict(self.rpc("health"))

    def calls(self, op: Optional[str] = None, **match: Any) -> List[Dict[str, Any]]:
        return list(self.rpc("calls", op, **match))

    def clear_calls(self) -> None:
        self.rpc("clear_calls")

    def private_ip_by_address(self, ip: str) -> Optional[Dict[str, Any]]:
        return self.rpc("private_ip_by_address", ip)

    def ipv6_by_address(self, ip: str) -> Optional[Dict[str, Any]]:
        return self.rpc("ipv6_by_address", ip)

    def move_private_ip(self, ip: str, vnic_or_node: Optional[str]) -> Dict[str, Any]:
        return dict(self.rpc("move_private_ip", ip, vnic_or_node))

    def add_private_ip(
        self, ip: str, vnic_or_node: Optional[str] = None, lifetime: str = "EPHEMERAL"
    ) -> Dict[str, Any]:
        return dict(self.rpc("add_private_ip", ip, vnic_or_node, lifetime))

    def bind_public_ip(self, ip: str, lifetime: str = "RESERVED") -> Dict[str, Any]:
        return dict(self.rpc("bind_public_ip", ip, lifetime))

    def public_ip_of(self, ip: str) -> Optional[Dict[str, Any]]:
        found = self.rpc("public_ip_of", ip)
        return dict(found) if found else None

    def snapshot(self) -> Dict[str, Any]:
        return dict(self.rpc("snapshot"))

    def imds_down(self, node: str, down: bool = True) -> None:
        self.rpc("imds_down", node, down)

    def set_token_lifetime(self, seconds: float) -> None:
        self.rpc("set_token_lifetime", seconds)

    def set_clock_skew(self, seconds: float) -> None:
        self.rpc("set_clock_skew", seconds)

    def expire_tokens(self) -> None:
        self.rpc("expire_tokens")

    def deny(self, principal: str, ops: Optional[Sequence[str]] = None) -> None:
        self.rpc("deny", principal, list(ops) if ops else None)

    def deny_resources(self, principal: str, ocids: Sequence[str]) -> None:
        self.rpc("deny_resources", principal, list(ocids))

    def allow(self, principal: Optional[str] = None) -> None:
        self.rpc("allow", principal)

    def fidelity(self) -> Dict[str, Any]:
        return dict(self.rpc("fidelity"))

    def set_fidelity(self, **changes: Any) -> Dict[str, Any]:
        return dict(self.rpc("set_fidelity", **changes))

    def moving(self, ip: str) -> Optional[str]:
        return self.rpc("moving", ip)

    def land_pending(self) -> None:
        self.rpc("land_pending")

    def set_ipv6_state(self, ip: str, state: str) -> Dict[str, Any]:
        return dict(self.rpc("set_ipv6_state", ip, state))

    def set_instance_state(self, node_or_id: str, state: str) -> None:
        self.rpc("set_instance_state", node_or_id, state)

    def instance_state(self, node_or_id: str) -> str:
        return str(self.rpc("instance_state", node_or_id))

    def set_action_delay(self, seconds: float) -> None:
        self.rpc("set_action_delay", seconds)

    def set_latency(self, **profile_ms: float) -> Dict[str, float]:
        return dict(self.rpc("set_latency", **profile_ms))

    def reset(self) -> None:
        self.rpc("reset")
