"""In-process fake OCI for pytest: one loopback server with every role.

with start_fake_oci(make_world()) as fake:
    client = oci.core.VirtualNetworkClient(fake.sdk_config(),
                                           service_endpoint=fake.core_endpoint)
"""

import contextlib
import threading
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

from tests.fakes.app import FakeApp
from tests.fakes.compute import Listener
from tests.fakes.control import FakeCloud, Faults
from tests.fakes.federation import PATH as FEDERATION_PATH
from tests.fakes.fidelity import Fidelity
from tests.fakes.store import Resource
from tests.fakes.transport import ServerThread
from tests.fakes.world import World, sdk_config, write_api_key_config


class FakeOci:
    def __init__(
        self,
        world: World,
        host: str = "127.0.0.1",
        action_delay: float = 0.3,
        verbose: bool = False,
        fidelity: Optional[Fidelity] = None,
    ) -> None:
        self.world = world
        self.cloud = FakeCloud(
            world, ["core", "federation", "imds"], action_delay=action_delay, fidelity=fidelity
        )
        self._server = ServerThread(host, 0, FakeApp(self.cloud), verbose)

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> "FakeOci":
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()
        self.cloud.close()

    # -- endpoints ------------------------------------------------------------------------
    @property
    def port(self) -> int:
        return self._server.port

    @property
    def base_url(self) -> str:
        return self._server.base_url

    @property
    def core_endpoint(self) -> str:
        """Value for service_endpoint= (the SDK appends /20160918 itself)."""
        return self.base_url

    @property
    def federation_endpoint(self) -> str:
        return self.base_url + FEDERATION_PATH

    @property
    def control_url(self) -> str:
        return self.base_url + "/_fake"

    def imds_base(self, node: str) -> str:
        """Value for OCI_METADATA_BASE_URL as seen from `node`."""
        if node not in self.world["nodes"]:
            raise KeyError(node)
        return "{}/{}/opc/v2".format(self.base_url, node)

    # -- world shortcuts ------------------------------------------------------------------
    def node(self, name: str) -> Dict[str, Any]:
        return self.world["nodes"][name]

    def sdk_config(self) -> Dict[str, Optional[str]]:
        return sdk_config(self.world)

    def write_api_key_config(self, directory: str) -> Tuple[str, str]:
        return write_api_key_config(self.world, directory)

    # -- control ------------------------------------------------------------------------
    @property
    def faults(self) -> Faults:
        return self.cloud.faults

    def calls(self, op: Optional[str] = None, **match: Any) -> List[Dict[str, Any]]:
        return self.cloud.calls(op, **match)

    def clear_calls(self) -> None:
        self.cloud.clear_calls()

    def private_ip_by_address(self, ip: str) -> Optional[Resource]:
        return self.cloud.private_ip_by_address(ip)

    def ipv6_by_address(self, ip: str) -> Optional[Resource]:
        return self.cloud.ipv6_by_address(ip)

    def move_private_ip(self, ip: str, vnic_or_node: Optional[str]) -> Resource:
        return self.cloud.move_private_ip(ip, vnic_or_node)

    def add_private_ip(
        self, ip: str, vnic_or_node: Optional[str] = None, lifetime: str = "EPHEMERAL"
    ) -> Resource:
        return self.cloud.add_private_ip(ip, vnic_or_node, lifetime)

    def bind_public_ip(self, ip: str, lifetime: str = "RESERVED") -> Resource:
        return self.cloud.bind_public_ip(ip, lifetime)

    def public_ip_of(self, ip: str) -> Optional[Resource]:
        return self.cloud.public_ip_of(ip)

    def snapshot(self) -> Dict[str, List[Resource]]:
        return self.cloud.snapshot()

    def imds_down(self, node: str, down: bool = True) -> None:
        self.cloud.imds_down(node, down)

    def set_token_lifetime(self, seconds: float) -> None:
        self.cloud.set_token_lifetime(seconds)

    def set_clock_skew(self, seconds: float) -> None:
        self.cloud.set_clock_skew(seconds)

    def expire_tokens(self) -> None:
        self.cloud.expire_tokens()

    def deny(self, principal: str, ops: Optional[Sequence[str]] = None) -> None:
        self.cloud.deny(principal, ops)

    def deny_resources(self, principal: str, ocids: Sequence[str]) -> None:
        self.cloud.deny_resources(principal, ocids)

    def allow(self, principal: Optional[str] = None) -> None:
        self.cloud.allow(principal)

    def fidelity(self) -> Dict[str, Any]:
        return self.cloud.fidelity()

    def set_fidelity(self, **changes: Any) -> Dict[str, Any]:
        return self.cloud.set_fidelity(**changes)

    def moving(self, ip: str) -> Optional[str]:
        return self.cloud.moving(ip)

    def land_pending(self) -> None:
        self.cloud.land_pending()

    def set_ipv6_state(self, ip: str, state: str) -> Resource:
        return self.cloud.set_ipv6_state(ip, state)

    def set_instance_state(self, node_or_id: str, state: str) -> None:
        self.cloud.set_instance_state(node_or_id, state)

    def instance_state(self, node_or_id: str) -> str:
        return self.cloud.instance_state(node_or_id)

    def set_action_delay(self, seconds: float) -> None:
        self.cloud.set_action_delay(seconds)

    def set_latency(self, **profile_ms: float) -> Dict[str, float]:
        return self.cloud.set_latency(**profile_ms)

    def on_instance_state(self, listener: Listener) -> None:
        self.cloud.on_instance_state(listener)

    def reset(self) -> None:
        self.cloud.reset()


@contextlib.contextmanager
def meanwhile(seconds: float, change: Callable[..., Any], *args: Any) -> Iterator[None]:
    """Run change(*args) after seconds, while the block runs (a move that
    lands, an address deleted, as OCI does it behind a call in progress)."""
    timer = threading.Timer(seconds, change, args)
    timer.start()
    try:
        yield
    finally:
        timer.join()


@contextlib.contextmanager
def start_fake_oci(world: World, **kwargs: Any) -> Iterator[FakeOci]:
    fake = FakeOci(world, **kwargs).start()
    try:
        yield fake
    finally:
        fake.stop()
