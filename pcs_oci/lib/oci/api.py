"""OciApi: the OCI calls pcs-oci makes, through the SDK, and nothing else.

OciApi is deliberately narrow and returns plain dicts with snake_case keys
(or small NamedTuples), never SDK models, so tests can use a FakeOciApi.
Importing this module does not import the SDK (see sdk.py).

Every call has an explicit (connect, read) timeout, a bounded retry strategy
(retry.py) and no circuit breaker: the SDK's default breaker is shared
process-wide and would turn ten throttled calls into 30 s of instant
failures. Inside `OciApi.budget()` all calls share one deadline, which is
what settings.worst_case_seconds() is derived from.
"""

import ipaddress
import time
import urllib.parse
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Tuple

from pcs_oci.common import agent_params as params
from pcs_oci.common import reports
from pcs_oci.lib.errors import CloudError, ConfigError
from pcs_oci.lib.oci import auth, errors, sdk, session_cache, signing
from pcs_oci.lib.oci.retry import Budgeted, TryAgain, attempts, retry_strategy, timeout_error
from pcs_oci.lib.oci.settings import OciSettings, check_settings, timeouts

# Pagination guard: no list of ours has 1000 pages.
_MAX_PAGES = 1000


class Tagged(NamedTuple):
    """A resource and the etag to pass as if_match when updating it."""

    data: Dict[str, Any]
    etag: str


class IpFamily(NamedTuple):
    """IPv4 private IPs or IPv6 addresses: the same four calls under two names."""

    # The SDK's names: ListPrivateIps and list_private_ips, CreateIpv6Details ...
    noun: str
    method: str
    # For messages.
    label: str

    def operation(self, verb: str) -> str:
        """The API operation, e.g. UpdatePrivateIp, ListIpv6s."""
        return "{}{}{}".format(verb, self.noun, "s" if verb == "List" else "")

    def sdk_method(self, verb: str) -> str:
        """The client's method, e.g. update_private_ip, list_ipv6s."""
        return "{}_{}{}".format(verb.lower(), self.method, "s" if verb == "List" else "")


IPV4 = IpFamily("PrivateIp", "private_ip", "private IP")
IPV6 = IpFamily("Ipv6", "ipv6", "IPv6")


def ip_family(address: Any) -> IpFamily:
    """The family of an address (an ipaddress object or its text)."""
    return IPV6 if ipaddress.ip_address(str(address)).version == 6 else IPV4


class OciApi(Budgeted):
    """The OCI calls pcs-oci makes, with one error mapping and bounded retries."""

    def __init__(
        self,
        settings: OciSettings,
        compartment: str = "",
        clock: Callable[[], float] = time.monotonic,
    ):
        problems = check_settings(settings)
        if problems:
            raise ConfigError(*problems)
        self.settings = settings
        # Only for the policy hint of a NotAuthorized error.
        self.compartment = compartment
        # What budget() and the retry loop measure deadlines with.
        self.clock = clock
        self._deadline: Optional[float] = None
        self._last_error: Optional[CloudError] = None
        self._clients: Dict[str, Any] = {}
        self._auth: Optional[Tuple[Dict[str, Any], Any]] = None
        # The instance-principal session came from the cache (session_cache)
        # and has not been refreshed after a 401 yet.
        self._cached_session = False
        # scheme://host[:port] the last successful Core call went to (the SDK
        # resolves the region's endpoint), for the agent's node cache.
        self.resolved_endpoint: Optional[str] = None

    # -- plumbing

    @property
    def endpoint(self) -> str:
        """The Core API endpoint, for messages."""
        if self.settings.endpoint:
            return self.settings.endpoint.rstrip("/")
        region = self._auth[0].get("region") if self._auth else self.settings.region
        return "https://iaas.{}.oraclecloud.com".format(region or "<region>")

    @property
    def region(self) -> Optional[str]:
        """The region the calls are signed for; None before the first call."""
        return str(self._auth[0].get("region") or "") or None if self._auth else None

    def _authenticate(self, oci: Any) -> Tuple[Dict[str, Any], Any]:
        if self._auth is None:
            if self.settings.auth == params.AUTH_API_KEY:
                self._auth = (auth.api_key_config(oci, self.settings), None)
            else:
                self._auth = self._instance_principal(oci)
        return self._auth

    def _instance_principal(self, oci: Any) -> Tuple[Dict[str, Any], Any]:
        """The cached session while it is valid; else a new one (metadata
        service, session key, federation), kept for the next process."""
        ident = session_cache.identity()
        cached = session_cache.load(ident)
        if cached is not None:
            try:
                key = signing.key_from_numbers(cached.private_key)
            except (ValueError, TypeError):
                session_cache.discard(ident)
            else:
                signer = oci.auth.signers.SecurityTokenSigner(cached.token, key)
                self._cached_session = True
                return {"region": self.settings.region or cached.region}, signer
        signer = auth.instance_principal_signer(oci, self.settings)
        fresh = auth.session_of(signer)
        if fresh is not None:
            session_cache.save(ident, fresh)
        return {"region": self.settings.region or signer.region}, signer

    def _forget_session(self) -> bool:
        """After a 401 with a cached session: drop it so that the next call
        makes a new one; False if there is nothing to drop (refresh once)."""
        if not self._cached_session:
            return False
        session_cache.discard(session_cache.identity())
        self._cached_session = False
        self._auth = None
        self._clients = {}
        return True

    def _client(self, kind: str) -> Any:
        client = self._clients.get(kind)
        if client is not None:
            return client
        oci = sdk.load()
        config, signer = self._authenticate(oci)
        s = self.settings
        kwargs: Dict[str, Any] = {
            "timeout": timeouts(s),
            # Per call we pass a strategy sized to the remaining budget.
            "retry_strategy": oci.retry.NoneRetryStrategy(),
            "circuit_breaker_strategy": oci.circuit_breaker.NoCircuitBreakerStrategy(),
        }
        if s.endpoint:
            kwargs["service_endpoint"] = s.endpoint.rstrip("/")
        if signer is not None:
            kwargs["signer"] = signer
        cls = oci.core.VirtualNetworkClient if kind == "network" else oci.core.ComputeClient
        try:
            client = cls(config, **kwargs)
        except (ValueError, oci.exceptions.ClientError) as e:
            # E.g. an unreadable or encrypted key_file; messages carry no key material.
            raise errors.api_key_config_error(
                s.config_file, s.profile, reports.first_line(str(e))[:160]
            ) from None
        if s.proxy:
            client.base_client.session.proxies = {"http": s.proxy, "https": s.proxy}
        guard_deserializer(client)
        self._clients[kind] = client
        return client

    def _call(
        self, operation: str, kind: str, method: str, *args: Any, expect: str = "", **kwargs: Any
    ) -> Any:
        """The SDK call with its retries; every failure mapped to a CloudError.

        expect ("object" or "list"): what a 200 answer must carry, resources
        with an `id`. A 200 that does not (malformed or truncated JSON, which
        the SDK turns into an all-None model or an error while reading it) is
        a transient OCI_BAD_RESPONSE, tried again like a 5xx within the same
        attempt and time bounds: a 200 is not trusted blindly.
        """
        oci = sdk.load()
        s = self.settings
        # The SDK's import and the authentication before the clock starts,
        # as ever; after a 401 the attempt makes a new client (_forget_session).
        self._client(kind)

        def attempt(seconds_left: float) -> Any:
            try:
                client = self._client(kind)
                response = getattr(client, method)(
                    *args, retry_strategy=retry_strategy(oci, s, seconds_left), **kwargs
                )
            except UnreadableAnswer as e:
                if not expect:
                    # A 2xx whose body the SDK cannot read, of a call whose
                    # answer we do not use (a write, read back by assign_vip).
                    return _Unreadable()
                cause = e.__cause__ or e
                bad = errors.bad_answer(operation, "", "{}: {}".format(type(cause).__name__, cause))
            except Exception as e:  # mapped or re-raised below
                mapped = errors.map_error(e, operation, self.endpoint, s.auth, self.compartment)
                if mapped is None:
                    raise
                self._last_error = mapped
                if mapped.status == 401 and self._forget_session():
                    # The cached token was revoked or the auth service was
                    # reset: one new session, then the same call again.
                    raise TryAgain(mapped, at_once=True) from None
                # The SDK's strategy has retried what is worth it already.
                raise mapped from None
            else:
                problem = _answer_problem(response.data, expect)
                if not problem:
                    self.resolved_endpoint = _origin(response) or self.resolved_endpoint
                    return response
                bad = errors.bad_answer(operation, getattr(response, "request_id", None), problem)
            self._last_error = bad
            raise TryAgain(bad)

        deadline = self._deadline
        if deadline is None:
            deadline = self.clock() + s.max_total_seconds
        return attempts(
            s,
            self.clock,
            deadline,
            attempt,
            lambda: timeout_error(s, operation, self._last_error),
        )

    def _get(self, operation: str, kind: str, method: str, *args: Any) -> Dict[str, Any]:
        response = self._call(operation, kind, method, *args, expect="object")
        return sdk.to_dict(response.data)

    def _list(
        self,
        operation: str,
        kind: str,
        method: str,
        *args: Any,
        **kwargs: Any,
    ) -> List[Dict[str, Any]]:
        def page(token: Optional[str]) -> Tuple[List[Dict[str, Any]], Optional[str]]:
            extra = {"page": token} if token else {}
            response = self._call(operation, kind, method, *args, expect="list", **kwargs, **extra)
            return [sdk.to_dict(item) for item in response.data], response.next_page

        # One page when it can hold the only match (at_most_one says why).
        return all_pages(page, not at_most_one(kwargs.get("ip_address"), kwargs.get("subnet_id")))

    # -- VNICs and subnets

    def get_vnic(self, vnic_id: str) -> Dict[str, Any]:
        vnic = self._get("GetVnic", "network", "get_vnic", vnic_id)
        if not self.compartment and vnic.get("compartment_id"):
            self.compartment = str(vnic["compartment_id"])
        return vnic

    def get_subnet(self, subnet_id: str) -> Dict[str, Any]:
        return self._get("GetSubnet", "network", "get_subnet", subnet_id)

    def get_security_list(self, security_list_id: str) -> Dict[str, Any]:
        return self._get("GetSecurityList", "network", "get_security_list", security_list_id)

    def list_nsg_rules(self, nsg_id: str) -> List[Dict[str, Any]]:
        return self._list(
            "ListNetworkSecurityGroupSecurityRules",
            "network",
            "list_network_security_group_security_rules",
            nsg_id,
        )

    # -- private IPs (IPv4) and IPv6 addresses, one family at a time

    def list_ips(
        self,
        family: IpFamily,
        ip_address: Optional[str] = None,
        subnet_id: Optional[str] = None,
        vnic_id: Optional[str] = None,
    ) -> List[Dict[str, Any]]:
        """The private IPs (IPv6s) matching the filters (one page for a
        lookup by address and subnet: at_most_one)."""
        return self._list(
            family.operation("List"),
            "network",
            family.sdk_method("List"),
            **_given(ip_address=ip_address, subnet_id=subnet_id, vnic_id=vnic_id),
        )

    def get_ip(self, family: IpFamily, ip_id: str) -> Tagged:
        response = self._call(
            family.operation("Get"), "network", family.sdk_method("Get"), ip_id, expect="object"
        )
        return Tagged(sdk.to_dict(response.data), str(response.headers.get("etag") or ""))

    def create_ip(
        self, family: IpFamily, vnic_id: str, ip: str, retry_token: str
    ) -> Dict[str, Any]:
        details = _details(family, "Create", vnic_id=vnic_id, ip_address=ip)
        # The answer is not checked: assign_vip confirms every create by reading it back.
        response = self._call(
            family.operation("Create"),
            "network",
            family.sdk_method("Create"),
            details,
            opc_retry_token=retry_token,
        )
        return sdk.to_dict(response.data)

    def move_ip(
        self, family: IpFamily, ip_id: str, vnic_id: str, if_match: Optional[str]
    ) -> Dict[str, Any]:
        """Assign the private IP (or IPv6) to vnic_id, if it still has etag if_match."""
        details = _details(family, "Update", vnic_id=vnic_id)
        # The answer is not checked: assign_vip confirms every move by reading it back.
        response = self._call(
            family.operation("Update"),
            "network",
            family.sdk_method("Update"),
            ip_id,
            details,
            **_given(if_match=if_match),
        )
        return sdk.to_dict(response.data)

    # -- public IPs

    def public_ip_of(self, private_ip_id: str) -> Optional[Dict[str, Any]]:
        """The public IP bound to the private IP (GetPublicIpByPrivateIpId); None when none is.

        OCI answers 404 both when there is none and when the caller may not
        read it: verify and status cannot tell those apart either.
        """
        oci = sdk.load()
        details = oci.core.models.GetPublicIpByPrivateIpIdDetails(private_ip_id=private_ip_id)
        try:
            return self._get(
                "GetPublicIpByPrivateIpId", "network", "get_public_ip_by_private_ip_id", details
            )
        except CloudError as e:
            if e.status == 404:
                return None
            raise

    # -- compute

    def list_instances(self, compartment_id: str) -> List[Dict[str, Any]]:
        return self._list("ListInstances", "compute", "list_instances", compartment_id)

    def list_vnic_attachments(
        self, compartment_id: str, instance_id: Optional[str] = None
    ) -> List[Dict[str, Any]]:
        return self._list(
            "ListVnicAttachments",
            "compute",
            "list_vnic_attachments",
            compartment_id,
            **_given(instance_id=instance_id),
        )

    def get_instance(self, instance_id: str) -> Dict[str, Any]:
        return self._get("GetInstance", "compute", "get_instance", instance_id)

    def instance_action(self, instance_id: str, action: str) -> Dict[str, Any]:
        """A power action (STOP, START, RESET, ...); the instance as the API answers.

        One retry token for all attempts: a STOP retried after a lost answer
        is still one STOP.
        """
        response = self._call(
            "InstanceAction",
            "compute",
            "instance_action",
            instance_id,
            action,
            opc_retry_token=new_retry_token(),
        )
        return sdk.to_dict(response.data)


def _origin(response: Any) -> Optional[str]:
    """scheme://host[:port] of the URL a response came from, if the SDK says."""
    url = getattr(getattr(response, "request", None), "url", None)
    if not isinstance(url, str):
        return None
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return "{}://{}".format(parts.scheme, parts.netloc)


def all_pages(
    page: Callable[[Optional[str]], Tuple[List[Dict[str, Any]], Optional[str]]],
    follow: bool = True,
) -> List[Dict[str, Any]]:
    """The items of a list operation: page(token) gives a page's items and the
    opc-next-page token; followed (unless follow is False) while there is one."""
    items: List[Dict[str, Any]] = []
    token: Optional[str] = None
    for _ in range(_MAX_PAGES):
        found, token = page(token)
        items.extend(found)
        if not follow or not token:
            break
    return items


def at_most_one(ip_address: Optional[str], subnet_id: Optional[str]) -> bool:
    """A ListPrivateIps/ListIpv6s by address and subnet, which can match at
    most one object: an address is unique within its subnet. OCI names a next
    page after every non-empty page all the same, and that page is always
    empty (docs/oci-behaviour.md, ListPrivateIps): following it would add a
    round trip to every VIP lookup, a failover's included, for nothing."""
    return bool(ip_address) and bool(subnet_id)


def new_retry_token() -> str:
    """An opc-retry-token: the same create retried is then done once."""
    import uuid  # 3 ms (platform, subprocess); only a create needs it

    return uuid.uuid4().hex


def _given(**kwargs: Optional[str]) -> Dict[str, Any]:
    return {k: v for k, v in kwargs.items() if v is not None}


def _details(family: IpFamily, verb: str, **fields: str) -> Any:
    """The SDK's Create/Update{PrivateIp,Ipv6}Details model with fields."""
    oci = sdk.load()
    return getattr(oci.core.models, "{}{}Details".format(verb, family.noun))(**fields)


# ---------------------------------------------------------------- answers


class UnreadableAnswer(Exception):
    """The SDK failed to read an answer's body; the cause is the SDK's error."""


def guard_deserializer(client: Any) -> None:
    """Make the client raise UnreadableAnswer when it cannot read an answer.

    The SDK reads every body in one method of its base client; an error
    there (a truncated or malformed body) is then told apart by its type from
    any other error of the call, our own mistakes included.
    """
    base = client.base_client
    read = base.deserialize_response_data

    def guarded(*args: Any, **kwargs: Any) -> Any:
        try:
            return read(*args, **kwargs)
        except Exception as e:
            raise UnreadableAnswer(str(e)) from e

    base.deserialize_response_data = guarded


class _Unreadable:
    """Stands in for an SDK response whose 2xx body could not be read."""

    data: Any = None
    headers: Dict[str, str] = {}
    request_id = ""
    next_page = None


def _resource_problem(model: Any) -> str:
    resource_id = sdk.to_dict(model).get("id")
    if isinstance(resource_id, str) and resource_id.strip():
        return ""
    return "no resource id in the answer (malformed or empty JSON)"


def _answer_problem(data: Any, expect: str) -> str:
    """What is wrong with a 200 answer's data, or "" if it has what we expect."""
    if expect == "object":
        return _resource_problem(data)
    if expect == "list":
        if not isinstance(data, list):
            return "expected a list of resources, got {}".format(type(data).__name__)
        for item in data:
            problem = _resource_problem(item)
            if problem:
                return "a list item has " + problem
    return ""
