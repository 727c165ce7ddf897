"""DirectApi: the VIP's Core API calls without the SDK, signed with a cached session.

A start on a node with a valid cached instance-principal session
(session_cache) needs two or three requests: GetPrivateIp, UpdatePrivateIp
and the reads that confirm the move. Importing the SDK for them costs more
than the requests (about 0.4 s and 70 MB). This client makes the same
requests with http.client and signing.py, and shares everything else with
OciApi: the error mapping (errors.py), what is tried again and the loop
that does it (retry.retried, retry.attempts: 429, 5xx but 501, a busy VNIC,
connection errors and unreadable answers), the time bounds
(retry.Budgeted) and the paging (api.all_pages, api.at_most_one).
It has exactly the calls of vip.VipApi, and no protocol of its own: moves
are vip.assign_vip's (which reads them back until they land); lean.py
decides when it is used.
"""

import http.client
import json
import re
import time
import urllib.parse
from typing import Any, Dict, List, Mapping, NamedTuple, Optional, Tuple

from pcs_oci import __version__
from pcs_oci.common import reports
from pcs_oci.lib.errors import CloudError
from pcs_oci.lib.oci import errors, signing
from pcs_oci.lib.oci.api import IpFamily, Tagged, all_pages, at_most_one
from pcs_oci.lib.oci.retry import (
    Budgeted,
    TryAgain,
    attempts,
    retried,
    retry_after_seconds,
    timeout_error,
)
from pcs_oci.lib.oci.settings import OciSettings, timeouts

BASE_PATH = "/20160918"
# The SDK's paths: /privateIps and (singular) /ipv6.
_COLLECTIONS = {"PrivateIp": "privateIps", "Ipv6": "ipv6"}
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


class ServiceAnswer(NamedTuple):
    """An error answer, with the attributes errors.map_service_error reads."""

    status: int
    code: str
    message: str
    request_id: str
    headers: Mapping[str, str]


def snake_case(data: Dict[str, Any]) -> Dict[str, Any]:
    """The API's camelCase keys as the SDK's attribute names (top level only:
    nested values such as tags are the user's own keys)."""
    return {_CAMEL.sub("_", key).lower(): value for key, value in data.items()}


class DirectApi(Budgeted):
    """GetVnic, List/Get/Create/UpdatePrivateIp (and the IPv6 ones), signed
    with a cached instance-principal session."""

    def __init__(
        self,
        settings: OciSettings,
        endpoint: str,
        key_id: str,
        private_key: Any,
        compartment: str = "",
        clock: Any = time.monotonic,
    ):
        parts = urllib.parse.urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("not an http(s) endpoint: {!r}".format(endpoint))
        self.settings = settings
        self.endpoint = "{}://{}".format(parts.scheme, parts.netloc)
        self.resolved_endpoint: Optional[str] = self.endpoint
        self.compartment = compartment
        self.clock = clock
        self._parts = parts
        self._key_id = key_id
        self._key = private_key
        self._deadline: Optional[float] = None
        self._last_error: Optional[CloudError] = None
        self._conn: Optional[http.client.HTTPConnection] = None

    # -- HTTP

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            connect, _ = timeouts(self.settings)
            host, port = self._parts.hostname or "", self._parts.port
            if self._parts.scheme == "https":
                import ssl  # only for https (the fakes in tests are http)

                self._conn = http.client.HTTPSConnection(
                    host, port, timeout=connect, context=ssl.create_default_context()
                )
            else:
                self._conn = http.client.HTTPConnection(host, port, timeout=connect)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _send(
        self, method: str, target: str, body: Optional[bytes], extra: Dict[str, str]
    ) -> Tuple[int, Dict[str, str], bytes]:
        conn = self._connection()
        headers = signing.signed_headers(
            method, self._parts.netloc, target, self._key_id, self._key, body
        )
        headers.update(extra)
        headers["user-agent"] = "pcs-oci/{}".format(__version__)
        headers["accept"] = "application/json"
        if conn.sock is None:
            conn.connect()
            # Connected within the connect timeout; each answer gets the read timeout.
            if conn.sock is not None:
                conn.sock.settimeout(timeouts(self.settings)[1])
        conn.request(method, target, body=body, headers=headers)
        response = conn.getresponse()
        raw = response.read()
        answer_headers = {k.lower(): v for k, v in response.getheaders()}
        if response.will_close:
            self.close()
        return response.status, answer_headers, raw

    def _request(
        self,
        operation: str,
        method: str,
        path: str,
        query: Optional[Dict[str, str]] = None,
        body: Optional[Dict[str, Any]] = None,
        headers: Optional[Dict[str, str]] = None,
        expect: str = "",
    ) -> Tuple[Any, Dict[str, str]]:
        """(JSON answer, headers) of a 2xx; every failure a CloudError, as OciApi's."""
        s = self.settings
        target = BASE_PATH + path
        if query:
            target += "?" + urllib.parse.urlencode(query)
        payload = json.dumps(body).encode("utf-8") if body is not None else None

        def attempt(_: float) -> Tuple[Any, Dict[str, str]]:
            try:
                status, answer_headers, raw = self._send(method, target, payload, headers or {})
            except (OSError, http.client.HTTPException) as e:
                self.close()
                self._last_error = errors.unreachable(e, operation, self.endpoint)
                raise TryAgain(self._last_error) from None
            request_id = answer_headers.get("opc-request-id", "")
            retry_after: Optional[float] = None
            if 200 <= status < 300:
                data, problem = _read_answer(raw, expect)
                if not problem:
                    return data, answer_headers
                error = errors.bad_answer(operation, request_id, problem)
            else:
                error = errors.map_service_error(
                    _service_answer(status, answer_headers, raw),
                    operation,
                    s.auth,
                    self.compartment,
                )
                self._last_error = error
                if not retried(status, error.oci_code):
                    raise error
                retry_after = retry_after_seconds(answer_headers)
            self._last_error = error
            raise TryAgain(error, retry_after)

        deadline = self._deadline
        if deadline is None:
            deadline = self.clock() + s.max_total_seconds
        return attempts(
            s, self.clock, deadline, attempt, lambda: timeout_error(s, operation, self._last_error)
        )

    # -- the calls of vip.VipApi

    def get_vnic(self, vnic_id: str) -> Dict[str, Any]:
        data, _ = self._request("GetVnic", "GET", "/vnics/" + _quote(vnic_id), expect="object")
        vnic = snake_case(data)
        if not self.compartment and vnic.get("compartment_id"):
            self.compartment = str(vnic["compartment_id"])
        return vnic

    def list_ips(
        self,
        family: IpFamily,
        ip_address: Optional[str] = None,
        subnet_id: Optional[str] = None,
        vnic_id: Optional[str] = None,
    ) -> List[Dict[str, Any]]:
        query = {
            k: v
            for k, v in (("ipAddress", ip_address), ("subnetId", subnet_id), ("vnicId", vnic_id))
            if v is not None
        }

        def page(token: Optional[str]) -> Tuple[List[Dict[str, Any]], Optional[str]]:
            data, headers = self._request(
                family.operation("List"),
                "GET",
                "/" + _COLLECTIONS[family.noun],
                query=dict(query, page=token) if token else query,
                expect="list",
            )
            return [snake_case(item) for item in data], headers.get("opc-next-page")

        # One page when it can hold the only match (api.at_most_one says why).
        return all_pages(page, follow=not at_most_one(ip_address, subnet_id))

    def get_ip(self, family: IpFamily, ip_id: str) -> Tagged:
        data, headers = self._request(
            family.operation("Get"),
            "GET",
            "/{}/{}".format(_COLLECTIONS[family.noun], _quote(ip_id)),
            expect="object",
        )
        return Tagged(snake_case(data), str(headers.get("etag") or ""))

    def create_ip(
        self, family: IpFamily, vnic_id: str, ip: str, retry_token: str
    ) -> Dict[str, Any]:
        # The answer is not checked: assign_vip confirms every create by reading it back.
        data, _ = self._request(
            family.operation("Create"),
            "POST",
            "/" + _COLLECTIONS[family.noun],
            body={"vnicId": vnic_id, "ipAddress": ip},
            headers={"opc-retry-token": retry_token},
        )
        return snake_case(data) if isinstance(data, dict) else {}

    def move_ip(
        self, family: IpFamily, ip_id: str, vnic_id: str, if_match: Optional[str]
    ) -> Dict[str, Any]:
        # The answer is not checked: assign_vip confirms every move by reading it back.
        data, _ = self._request(
            family.operation("Update"),
            "PUT",
            "/{}/{}".format(_COLLECTIONS[family.noun], _quote(ip_id)),
            body={"vnicId": vnic_id},
            headers={"if-match": if_match} if if_match else None,
        )
        return snake_case(data) if isinstance(data, dict) else {}


def _quote(ocid: str) -> str:
    return urllib.parse.quote(ocid, safe="")


def _service_answer(status: int, headers: Dict[str, str], raw: bytes) -> ServiceAnswer:
    try:
        body = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        body = None
    if not isinstance(body, dict):
        body = {}
    return ServiceAnswer(
        status,
        str(body.get("code") or ""),
        str(body.get("message") or ""),
        headers.get("opc-request-id", ""),
        headers,
    )


def _has_id(item: Any) -> bool:
    return isinstance(item, dict) and isinstance(item.get("id"), str) and bool(item["id"].strip())


def _read_answer(raw: bytes, expect: str) -> Tuple[Any, str]:
    """(data, problem): what a 2xx carries, and what is wrong with it ("" if
    nothing). A write's answer is not used (assign_vip reads back), so only
    an expected object or list is checked, as OciApi does."""
    try:
        data = json.loads(raw.decode("utf-8")) if raw else None
    except (ValueError, UnicodeDecodeError) as e:
        if not expect:
            return None, ""
        return None, "unreadable JSON: {}".format(reports.first_line(str(e))[:80])
    if expect == "object" and not _has_id(data):
        return data, "no resource id in the answer (malformed or empty JSON)"
    if expect == "list":
        if not isinstance(data, list):
            return data, "expected a list of resources, got {}".format(type(data).__name__)
        if not all(_has_id(item) for item in data):
            return data, "a list item has no resource id in the answer (malformed or empty JSON)"
    return data, ""
