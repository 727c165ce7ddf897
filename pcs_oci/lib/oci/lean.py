"""vip_api(): the API the agent's start and due monitor check talk to.

DirectApi (no SDK import) when this node has a valid cached
instance-principal session and the settings need nothing that only the SDK
does: a proxy (the SDK's transport knows it), an API key (the SDK reads the
config file). The endpoint is the configured one, else the one an earlier
SDK call on this node resolved for the same region (endpoint_hint, from
the agent's node cache); without either, OciApi.

A 401 on the direct path throws the cached session away and goes on with
OciApi, which makes a new session (metadata service, federation) and keeps
it: the session is refreshed once, never in a loop.
"""

from contextlib import contextmanager
from typing import Any, Callable, Dict, Iterator, List, Optional

from pcs_oci.common import agent_params as params
from pcs_oci.lib.errors import CloudError
from pcs_oci.lib.oci import session_cache
from pcs_oci.lib.oci.api import IpFamily, Tagged
from pcs_oci.lib.oci.settings import OciSettings


def vip_api(
    settings: OciSettings,
    endpoint_hint: Optional[str] = None,
    full: Optional[Callable[[], Any]] = None,
) -> Any:
    """A vip.VipApi for settings: LeanApi when the fast path applies, else OciApi.

    full makes the OciApi (tests pass their own); endpoint_hint is the
    scheme://host[:port] an earlier call resolved for these settings.
    """
    if full is None:

        def full() -> Any:
            from pcs_oci.lib.oci.api import OciApi

            return OciApi(settings)

    endpoint = settings.endpoint or endpoint_hint
    if settings.auth != params.AUTH_INSTANCE_PRINCIPAL or settings.proxy or not endpoint:
        return full()
    ident = session_cache.identity()
    session = session_cache.load(ident)
    if session is None:
        return full()
    from pcs_oci.lib.oci import signing
    from pcs_oci.lib.oci.direct import DirectApi

    try:
        key = signing.key_from_numbers(session.private_key)
        direct = DirectApi(settings, endpoint, "ST$" + session.token, key)
    except (ValueError, TypeError):
        # A key that does not load: the file was damaged; make a new session.
        session_cache.discard(ident)
        return full()
    return LeanApi(direct, full, ident)


class LeanApi:
    """DirectApi until it meets a 401, then OciApi (a new session), once."""

    def __init__(self, direct: Any, full: Callable[[], Any], ident: str):
        self._direct = direct
        self._full = full
        self._ident = ident
        self.current = direct
        self._budgets: List[Optional[float]] = []

    @property
    def compartment(self) -> str:
        return str(getattr(self.current, "compartment", "") or "")

    @property
    def resolved_endpoint(self) -> Optional[str]:
        return getattr(self.current, "resolved_endpoint", None)

    @property
    def settings(self) -> OciSettings:
        settings: OciSettings = self.current.settings
        return settings

    @contextmanager
    def budget(self, seconds: Optional[float] = None) -> Iterator[None]:
        # The deadline lives in the API that makes the calls; an OciApi taken
        # on after a 401 gets the time that is left (see _run).
        with self.current.budget(seconds):
            self._budgets.append(self._deadline())
            try:
                yield
            finally:
                self._budgets.pop()

    def _deadline(self) -> Optional[float]:
        return getattr(self.current, "_deadline", None)

    def _run(self, name: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return getattr(self.current, name)(*args, **kwargs)
        except CloudError as e:
            if e.status != 401 or self.current is not self._direct:
                raise
        # The cached token was refused: forget it and go on with the SDK,
        # which makes (and keeps) a new session.
        session_cache.discard(self._ident)
        self._direct.close()
        deadline = self._budgets[-1] if self._budgets else None
        self.current = self._full()
        if deadline is None:
            return getattr(self.current, name)(*args, **kwargs)
        remaining = max(deadline - self.current.clock(), 0.001)
        with self.current.budget(remaining):
            return getattr(self.current, name)(*args, **kwargs)

    def get_vnic(self, vnic_id: str) -> Dict[str, Any]:
        result: Dict[str, Any] = self._run("get_vnic", vnic_id)
        return result

    def list_ips(
        self,
        family: IpFamily,
        ip_address: Optional[str] = None,
        subnet_id: Optional[str] = None,
        vnic_id: Optional[str] = None,
    ) -> List[Dict[str, Any]]:
        result: List[Dict[str, Any]] = self._run(
            "list_ips", family, ip_address=ip_address, subnet_id=subnet_id, vnic_id=vnic_id
        )
        return result

    def get_ip(self, family: IpFamily, ip_id: str) -> Tagged:
        result: Tagged = self._run("get_ip", family, ip_id)
        return result

    def create_ip(
        self, family: IpFamily, vnic_id: str, ip: str, retry_token: str
    ) -> Dict[str, Any]:
        result: Dict[str, Any] = self._run("create_ip", family, vnic_id, ip, retry_token)
        return result

    def move_ip(
        self, family: IpFamily, ip_id: str, vnic_id: str, if_match: Optional[str]
    ) -> Dict[str, Any]:
        result: Dict[str, Any] = self._run("move_ip", family, ip_id, vnic_id, if_match)
        return result
