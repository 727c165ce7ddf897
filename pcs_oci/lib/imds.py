"""Instance metadata service (IMDS v2) client and the facts it gives us.

Stdlib only: the resource agent reads IMDS on every start, so this module
must not import `oci` (0.4 s, 70 MB) or anything else heavy.

The base URL is `OCI_METADATA_BASE_URL` when set (the same variable, read the
same way, as the SDK's instance-principal signer), else
settings.IMDS_BASE_URL. Requests carry `Authorization: Bearer Oracle`, never
go through a proxy (IMDS is link-local; a proxy would answer for the wrong
host or add X-Forwarded-For, which IMDS v2 rejects) and are retried briefly:
IMDS has millisecond windows where it answers 404 while it is updated, and it
has been seen answering 429 to bursts.

The request is a plain HTTP/1.0 GET over a socket (`Connection: close`, so
the answer is never chunked and ends at EOF). Nothing reads *_proxy from
the environment, so no proxy is possible by construction, and it keeps
discovery at ~15 ms over a bare interpreter: http.client alone imports the
email package and ssl (~17 ms), urllib.request ~7 ms more. Only an https
base URL (never IMDS itself; maybe a test double) goes through http.client.
"""

import ipaddress
import json
import os
import socket
import time
import urllib.parse
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple, Union

from pcs_oci import settings
from pcs_oci.common import reports
from pcs_oci.lib.errors import CloudError, ConfigError

AUTH_HEADERS = {"Authorization": "Bearer Oracle"}
# Per-try timeout: IMDS is link-local and answers in milliseconds.
DEFAULT_TIMEOUT = 2.0
# Bound on all tries of one request, sleeps included.
DEFAULT_MAX_TOTAL_SECONDS = 5.0
# An instance document is a few KiB; do not read a runaway body.
_MAX_BODY = 1024 * 1024

IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]
IPNetwork = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]


def _retryable(status: int) -> bool:
    return status in (404, 429) or 500 <= status <= 599


def base_url_from_env() -> str:
    # Whitespace-only counts as unset, as in the SDK.
    value = (os.environ.get(settings.IMDS_BASE_URL_ENV) or "").strip()
    return value or settings.IMDS_BASE_URL


class Imds:
    """GET JSON documents from IMDS v2, retrying within a time bound."""

    def __init__(
        self,
        base_url: Optional[str] = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_total_seconds: float = DEFAULT_MAX_TOTAL_SECONDS,
        backoff: float = 0.1,
        sleep: Callable[[float], None] = time.sleep,
    ):
        base = (base_url or base_url_from_env()).rstrip("/")
        parsed = urllib.parse.urlsplit(base)
        try:
            port = parsed.port
        except ValueError:
            port = -1
        if parsed.scheme not in ("http", "https") or not parsed.hostname or port == -1:
            raise ConfigError(
                reports.item(
                    reports.CONFIG_INVALID_VALUE,
                    "instance metadata base URL {!r} is not an http URL".format(base),
                    "set {} to http://HOST[:PORT]/opc/v2 or unset it".format(
                        settings.IMDS_BASE_URL_ENV
                    ),
                )
            )
        self.base_url = base
        self.timeout = timeout
        self.max_total_seconds = max_total_seconds
        self.backoff = backoff
        self._sleep = sleep
        self._https = parsed.scheme == "https"
        self._host = parsed.hostname or ""
        self._port = port
        self._path = parsed.path.rstrip("/")

    def _fetch(self, path: str, timeout: float) -> Tuple[int, Optional[str], bytes]:
        target = "{}/{}".format(self._path, path.lstrip("/"))
        if self._https:
            return _https_get(self._host, self._port, target, timeout)
        return _http_get(self._host, self._port or 80, target, timeout)

    def get(self, path: str) -> bytes:
        """The raw body of GET base/path, or CloudError after the time bound."""
        url = "{}/{}".format(self.base_url, path.lstrip("/"))
        deadline = time.monotonic() + self.max_total_seconds
        attempt = 0
        while True:
            attempt += 1
            wait = self.backoff * (2 ** (attempt - 1))
            remaining = deadline - time.monotonic()
            try:
                status, retry_after, body = self._fetch(
                    path, max(0.05, min(self.timeout, remaining))
                )
            except (OSError, _ProtocolError) as e:
                reason = _reason(e, self.timeout)
            else:
                if 200 <= status <= 299:
                    return body
                if not _retryable(status):
                    raise CloudError(
                        reports.item(
                            reports.IMDS_BAD_RESPONSE,
                            "instance metadata service at {} answered HTTP {}".format(url, status),
                            "IMDS v2 must be enabled on the instance and reached without a proxy",
                        ),
                        status=status,
                    )
                reason = "HTTP {}".format(status)
                wait = max(wait, _seconds(retry_after))
            if time.monotonic() + wait >= deadline:
                raise CloudError(
                    reports.item(
                        reports.IMDS_UNREACHABLE,
                        "instance metadata service unreachable at {}: {}".format(url, reason),
                        "this must run on an OCI instance; {} overrides the address".format(
                            settings.IMDS_BASE_URL_ENV
                        ),
                    ),
                    transient=True,
                )
            self._sleep(wait)

    def get_json(self, path: str) -> Any:
        """The JSON document at path; a garbled (not JSON) answer is fetched
        again within the same time bound, then IMDS_BAD_RESPONSE."""
        deadline = time.monotonic() + self.max_total_seconds
        while True:
            body = self.get(path)
            try:
                return json.loads(body.decode("utf-8"))
            except (UnicodeDecodeError, ValueError, RecursionError):
                if time.monotonic() + self.backoff >= deadline:
                    raise _bad_response(path, "not JSON: {!r}".format(body[:60])) from None
            self._sleep(self.backoff)

    def instance(self) -> Dict[str, Any]:
        doc = self.get_json("instance/")
        if not isinstance(doc, dict):
            raise _bad_response("instance/", "expected a JSON object")
        return doc

    def vnics(self) -> List[Dict[str, Any]]:
        doc = self.get_json("vnics/")
        if not isinstance(doc, list) or not all(isinstance(v, dict) for v in doc):
            raise _bad_response("vnics/", "expected a JSON list of objects")
        return doc


class _ProtocolError(Exception):
    """The answer is not HTTP we understand (retried like a network error)."""


def _http_get(
    host: str, port: int, target: str, timeout: float
) -> Tuple[int, Optional[str], bytes]:
    """(status, Retry-After, body) of one HTTP/1.0 GET; timeout bounds the whole exchange."""
    deadline = time.monotonic() + timeout
    host_header = "[{}]".format(host) if ":" in host else host
    if port != 80:
        host_header += ":{}".format(port)
    request = (
        "GET {} HTTP/1.0\r\nHost: {}\r\nAuthorization: {}\r\nAccept: application/json\r\n"
        "Connection: close\r\n\r\n".format(target, host_header, AUTH_HEADERS["Authorization"])
    ).encode("latin-1")
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(request)
        chunks: List[bytes] = []
        size = 0
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("timed out")
            sock.settimeout(left)
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if size > _MAX_BODY + 65536:
                raise _ProtocolError("answer larger than {} bytes".format(_MAX_BODY))
    raw = b"".join(chunks)
    head, sep, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(None, 2)
    if not sep or len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise _ProtocolError("not an HTTP answer: {!r}".format(raw[:40]))
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = _dechunk(body)
    length = headers.get("content-length", "")
    if length.isdigit():
        if len(body) < int(length):
            raise _ProtocolError("answer cut short")
        body = body[: int(length)]
    return int(parts[1]), headers.get("retry-after"), body


def _dechunk(body: bytes) -> bytes:
    # Only a server ignoring our HTTP/1.0 would send this; decode it anyway.
    out: List[bytes] = []
    while True:
        size_line, sep, rest = body.partition(b"\r\n")
        try:
            size = int(size_line.split(b";")[0].strip() or b"x", 16)
        except ValueError:
            raise _ProtocolError("bad chunked encoding") from None
        if not sep or size == 0:
            return b"".join(out)
        if len(rest) < size:
            raise _ProtocolError("answer cut short")
        out.append(rest[:size])
        body = rest[size + 2 :]


def _https_get(
    host: str, port: Optional[int], target: str, timeout: float
) -> Tuple[int, Optional[str], bytes]:
    import http.client

    conn = http.client.HTTPSConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", target, headers=AUTH_HEADERS)
        resp = conn.getresponse()
        return resp.status, resp.getheader("Retry-After"), resp.read(_MAX_BODY)
    except http.client.HTTPException as e:
        raise _ProtocolError(str(e) or type(e).__name__) from None
    finally:
        conn.close()


def _seconds(retry_after: Optional[str]) -> float:
    # Honour a short Retry-After only; the time bound caps it anyway.
    try:
        return min(max(float(retry_after or 0), 0.0), 1.0)
    except ValueError:
        return 0.0


def _reason(error: BaseException, timeout: float) -> str:
    if isinstance(error, (socket.timeout, TimeoutError)):
        return "no answer within {:g} s".format(timeout)
    return reports.first_line(str(error)) or type(error).__name__


def _bad_response(path: str, what: str) -> CloudError:
    return CloudError(
        reports.item(
            reports.IMDS_BAD_RESPONSE,
            "instance metadata service sent a bad /{} document: {}".format(path, what),
        )
    )


class VnicFacts(NamedTuple):
    vnic_id: str
    # "" on an IPv6-only VNIC (IMDS gives no privateIp, and subnetCidrBlock
    # "<null>"; cloud-init's captured answers).
    private_ip: str
    subnet_cidr: str
    mac: str
    virtual_router_ip: str
    is_primary: bool
    nic_index: Optional[int]
    vlan_tag: Optional[int]
    # The first IPv6 prefix (what ipv6SubnetCidrBlock is in every captured answer).
    ipv6_subnet_cidr: Optional[str]
    ipv6_addresses: List[str]
    # Every IPv6 prefix IMDS gives (a subnet may have several; see _ipv6_prefixes).
    ipv6_subnet_cidrs: List[str] = []

    def networks(self) -> List[IPNetwork]:
        """The subnets this VNIC is in: IPv4 (unless IPv6-only) and every IPv6 prefix."""
        nets: List[IPNetwork] = []
        if self.subnet_cidr:
            nets.append(ipaddress.ip_network(self.subnet_cidr, strict=False))
        for cidr in self.ipv6_subnet_cidrs or (
            [self.ipv6_subnet_cidr] if self.ipv6_subnet_cidr else []
        ):
            nets.append(ipaddress.ip_network(cidr, strict=False))
        return nets

    def network_of(self, address: IPAddress) -> Optional[IPNetwork]:
        """The subnet (prefix) of this VNIC that contains address, if any."""
        return next((net for net in self.networks() if address in net), None)


class NodeFacts(NamedTuple):
    hostname: str
    instance_id: str
    display_name: str
    # Canonical ("us-ashburn-1") when IMDS says so; see canonical_region.
    region: str
    availability_domain: str
    fault_domain: str
    compartment_id: str
    tenancy_id: Optional[str]
    vnics: List[VnicFacts]


def read_node_facts(imds: Imds) -> NodeFacts:
    """This instance and its VNICs, from two IMDS requests."""
    doc = imds.instance()
    vnics = [_vnic_facts(entry, index) for index, entry in enumerate(imds.vnics())]
    if not vnics:
        raise _bad_response("vnics/", "no VNICs listed")
    return NodeFacts(
        hostname=_text(doc, "hostname", "instance/", required=False) or socket.gethostname(),
        instance_id=_text(doc, "id", "instance/"),
        display_name=_text(doc, "displayName", "instance/", required=False),
        region=canonical_region(doc),
        availability_domain=_text(doc, "availabilityDomain", "instance/", required=False),
        fault_domain=_text(doc, "faultDomain", "instance/", required=False),
        compartment_id=_text(doc, "compartmentId", "instance/"),
        tenancy_id=_text(doc, "tenantId", "instance/", required=False) or None,
        vnics=vnics,
    )


def canonical_region(doc: Dict[str, Any]) -> str:
    """The instance document's region, canonical ("us-ashburn-1") when IMDS says."""
    # `region` is the short code ("iad"); mapping it needs the SDK's table,
    # which this module must not import, so prefer the canonical fields.
    info = doc.get("regionInfo")
    for value in (
        doc.get("canonicalRegionName"),
        info.get("regionIdentifier") if isinstance(info, dict) else None,
        doc.get("region"),
    ):
        if isinstance(value, str) and value.strip():
            return value.strip()
    raise _bad_response("instance/", "no region")


def _text(doc: Dict[str, Any], key: str, path: str, required: bool = True) -> str:
    value = doc.get(key)
    if isinstance(value, str) and value:
        return value
    if required or value is not None and not isinstance(value, str):
        raise _bad_response(path, "field {!r} is missing or not a string".format(key))
    return ""


def _int_or_none(value: Any) -> Optional[int]:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


# What IMDS puts in place of an absent IPv4 subnet (IPv6-only VNICs).
_NULL_TEXT = ("", "<null>")


def _ipv6_prefixes(entry: Dict[str, Any]) -> List[str]:
    """Every IPv6 prefix of the VNIC's subnet that IMDS gives.

    Every captured answer has ipv6SubnetCidrBlock as one string (the subnet's
    first prefix); none shows a subnet with several prefixes, so a list there
    (or a plural ipv6SubnetCidrBlocks, as the API's Subnet has) is read too:
    the assumption is that IMDS names all prefixes in one of those shapes.
    """
    found: List[str] = []
    for key in ("ipv6SubnetCidrBlock", "ipv6SubnetCidrBlocks"):
        value = entry.get(key)
        for item in value if isinstance(value, list) else [value]:
            if item is None or (isinstance(item, str) and item.strip() in _NULL_TEXT):
                continue
            text = str(ipaddress.ip_network(str(item).strip(), strict=False))
            if text not in found:
                found.append(text)
    return found


def _vnic_facts(entry: Dict[str, Any], index: int) -> VnicFacts:
    where = "vnics/ entry {}".format(index)
    private_ip = _text(entry, "privateIp", where, required=False)
    cidr = _text(entry, "subnetCidrBlock", where, required=False)
    if cidr.strip() in _NULL_TEXT:
        cidr = ""
    ipv6_addresses = entry.get("ipv6Addresses") or []
    try:
        if private_ip:
            ipaddress.ip_address(private_ip)
        if cidr:
            ipaddress.ip_network(cidr, strict=False)
        ipv6_cidrs = _ipv6_prefixes(entry)
        if not isinstance(ipv6_addresses, list):
            raise ValueError("ipv6Addresses is not a list")
        ipv6_list = [str(ipaddress.ip_address(str(a))) for a in ipv6_addresses]
    except ValueError as e:
        raise _bad_response("vnics/", "{}: {}".format(where, e)) from None
    if not (private_ip and cidr) and not ipv6_cidrs:
        # Neither an IPv4 address in a subnet nor an IPv6 prefix: unusable.
        raise _bad_response(
            "vnics/", "{}: no privateIp and subnetCidrBlock, and no IPv6 prefix".format(where)
        )
    return VnicFacts(
        vnic_id=_text(entry, "vnicId", where),
        private_ip=private_ip if cidr else "",
        subnet_cidr=cidr if private_ip else "",
        mac=_text(entry, "macAddr", where, required=False).lower(),
        virtual_router_ip=_text(entry, "virtualRouterIp", where, required=False),
        # IMDS lists the primary VNIC first (cloud-init relies on it too).
        is_primary=index == 0,
        nic_index=_int_or_none(entry.get("nicIndex")),
        vlan_tag=_int_or_none(entry.get("vlanTag")),
        ipv6_subnet_cidr=ipv6_cidrs[0] if ipv6_cidrs else None,
        ipv6_addresses=ipv6_list,
        ipv6_subnet_cidrs=ipv6_cidrs,
    )


def parse_ip(ip: Union[str, IPAddress], what: str = "VIP") -> IPAddress:
    """The address itself when typed (the config's Vip.address), else parsed
    from text (an agent parameter) with a clear error."""
    if isinstance(ip, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        return ip
    try:
        return ipaddress.ip_address(ip.strip())
    except (ValueError, AttributeError):
        raise ConfigError(
            reports.item(
                reports.CONFIG_INVALID_VALUE,
                "{} {!r} is not an IP address".format(what, ip),
                "write it as 10.0.0.10 or 2001:db8::10, without a prefix length",
            )
        ) from None


def vnics_for_ip(
    facts_or_vnics: Union[NodeFacts, Sequence[VnicFacts]], ip: Union[str, IPAddress]
) -> List[VnicFacts]:
    """Every local VNIC whose subnet contains ip, primary first; may be empty."""
    vnics = facts_or_vnics.vnics if isinstance(facts_or_vnics, NodeFacts) else facts_or_vnics
    address = parse_ip(ip)
    return [v for v in vnics if any(address in net for net in v.networks())]


def vnic_for_ip(
    facts_or_vnics: Union[NodeFacts, Sequence[VnicFacts]], ip: Union[str, IPAddress]
) -> VnicFacts:
    """The local VNIC that would hold the VIP ip (exact subnet containment).

    With several VNICs in the VIP's subnet the first in IMDS order wins (the
    primary VNIC when it is one of them).
    """
    vnics = facts_or_vnics.vnics if isinstance(facts_or_vnics, NodeFacts) else facts_or_vnics
    address = parse_ip(ip)
    for vnic in vnics:
        if vnic.private_ip and ipaddress.ip_address(vnic.private_ip) == address:
            raise ConfigError(
                reports.item(
                    reports.VIP_IS_PRIMARY_IP,
                    "VIP {} is the primary private IP of VNIC {}".format(address, vnic.vnic_id),
                    "the VIP must be a secondary private IP; a primary IP cannot move",
                )
            )
    found = vnics_for_ip(vnics, address)
    if not found:
        local = ", ".join(
            "{} ({})".format(str(net), v.vnic_id) for v in vnics for net in v.networks()
        )
        raise ConfigError(
            reports.item(
                reports.VIP_NOT_IN_LOCAL_SUBNET,
                "VIP {} is in no subnet of this node's VNICs: {}".format(address, local or "none"),
                "pick a VIP in one of those subnets or attach a VNIC in the VIP's subnet",
            )
        )
    return found[0]
