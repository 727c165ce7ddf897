import http.server
import ipaddress
import json
import socket
import threading
import time
from typing import Any, Dict, Iterator, List, Optional, Tuple

import pytest

from pcs_oci.common import reports
from pcs_oci.lib.errors import CloudError, ConfigError, PcsOciError
from pcs_oci.lib.imds import (
    Imds,
    NodeFacts,
    VnicFacts,
    base_url_from_env,
    read_node_facts,
    vnic_for_ip,
    vnics_for_ip,
)

INSTANCE = {
    "id": "ocid1.instance.oc1.iad.node1",
    "displayName": "node1-vm",
    "hostname": "node1",
    "compartmentId": "ocid1.compartment.oc1..c",
    "availabilityDomain": "EMIr:US-ASHBURN-AD-1",
    "faultDomain": "FAULT-DOMAIN-2",
    "region": "iad",
    "canonicalRegionName": "us-ashburn-1",
    "tenantId": "ocid1.tenancy.oc1..t",
}
VNICS = [
    {
        "vnicId": "ocid1.vnic.primary",
        "privateIp": "10.0.0.2",
        "vlanTag": 0,
        "macAddr": "02:00:17:AA:BB:CC",
        "virtualRouterIp": "10.0.0.1",
        "subnetCidrBlock": "10.0.0.0/24",
        "nicIndex": 0,
        "ipv6SubnetCidrBlock": "2001:db8:0:1::/64",
        "ipv6Addresses": ["2001:db8:0:1::5"],
    },
    {
        "vnicId": "ocid1.vnic.second",
        "privateIp": "10.0.1.2",
        "vlanTag": 1,
        "macAddr": "02:00:17:AA:BB:DD",
        "virtualRouterIp": "10.0.1.1",
        "subnetCidrBlock": "10.0.1.0/24",
    },
]


class Stub:
    """A scripted IMDS on 127.0.0.1: path -> list of (status, body, delay) answers."""

    def __init__(self) -> None:
        self.script: Dict[str, List[Tuple[int, bytes, float]]] = {}
        self.default: Dict[str, Tuple[int, bytes, float]] = {}
        self.requests: List[Dict[str, Any]] = []
        stub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                stub.requests.append({"path": self.path, "headers": dict(self.headers)})
                queue = stub.script.get(self.path)
                status, body, delay = (
                    queue.pop(0) if queue else stub.default.get(self.path, (404, b"{}", 0.0))
                )
                if delay:
                    time.sleep(delay)
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()
        self.base = "http://127.0.0.1:{}/opc/v2".format(self.server.server_address[1])

    def serve(self, path: str, doc: Any, status: int = 200, delay: float = 0.0) -> None:
        body = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
        self.default["/opc/v2/" + path] = (status, body, delay)

    def then(self, path: str, status: int, body: bytes = b"{}", delay: float = 0.0) -> None:
        self.script.setdefault("/opc/v2/" + path, []).append((status, body, delay))

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stub() -> Iterator[Stub]:
    s = Stub()
    s.serve("instance/", INSTANCE)
    s.serve("vnics/", VNICS)
    yield s
    s.close()


def fast(stub: Stub, **kwargs: Any) -> Imds:
    args: Dict[str, Any] = {"timeout": 0.5, "max_total_seconds": 1.5, "backoff": 0.01}
    args.update(kwargs)
    return Imds(stub.base, **args)


def test_reads_instance_and_vnics_with_bearer_header(stub: Stub) -> None:
    imds = fast(stub)
    assert imds.instance()["id"] == INSTANCE["id"]
    assert [v["vnicId"] for v in imds.vnics()] == ["ocid1.vnic.primary", "ocid1.vnic.second"]
    assert all(r["headers"].get("Authorization") == "Bearer Oracle" for r in stub.requests)
    assert not any(
        "Forwarded" in k or "X-Forwarded" in k for r in stub.requests for k in r["headers"]
    )


def test_base_url_from_env(monkeypatch: pytest.MonkeyPatch, stub: Stub) -> None:
    monkeypatch.setenv("OCI_METADATA_BASE_URL", stub.base + "/")
    assert Imds().base_url == stub.base
    monkeypatch.setenv("OCI_METADATA_BASE_URL", "   ")
    assert base_url_from_env() == "http://169.254.169.254/opc/v2"


def test_never_uses_a_proxy(monkeypatch: pytest.MonkeyPatch, stub: Stub) -> None:
    # A proxy that does not exist: going through it would fail.
    for var in ("http_proxy", "HTTP_PROXY", "all_proxy"):
        monkeypatch.setenv(var, "http://127.0.0.1:9")
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    assert fast(stub).instance()["hostname"] == "node1"


@pytest.mark.parametrize("status", [404, 429, 500, 503])
def test_retries_transient_statuses(stub: Stub, status: int) -> None:
    stub.then("instance/", status)
    stub.then("instance/", status)
    assert fast(stub).instance()["id"] == INSTANCE["id"]
    assert len([r for r in stub.requests if r["path"] == "/opc/v2/instance/"]) == 3


def test_persistent_5xx_is_unreachable_and_transient(stub: Stub) -> None:
    stub.serve("instance/", {}, status=503)
    start = time.monotonic()
    with pytest.raises(CloudError) as e:
        fast(stub).instance()
    assert time.monotonic() - start < 2.5
    assert e.value.codes == [reports.IMDS_UNREACHABLE]
    assert e.value.transient
    message = e.value.reports[0].message
    assert message.startswith(
        "instance metadata service unreachable at {}/instance/".format(stub.base)
    )
    assert "HTTP 503" in message


def test_forbidden_is_a_bad_response_not_retried(stub: Stub) -> None:
    stub.serve("instance/", {}, status=401)
    with pytest.raises(CloudError) as e:
        fast(stub).instance()
    assert e.value.codes == [reports.IMDS_BAD_RESPONSE]
    assert not e.value.transient
    assert len(stub.requests) == 1


def test_connection_refused_is_unreachable() -> None:
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    with pytest.raises(CloudError) as e:
        Imds("http://127.0.0.1:{}/opc/v2".format(port), max_total_seconds=0.5).vnics()
    assert e.value.codes == [reports.IMDS_UNREACHABLE]
    assert e.value.transient
    assert "refused" in e.value.reports[0].message.lower()


def test_slow_imds_is_bounded(stub: Stub) -> None:
    stub.serve("instance/", INSTANCE, delay=1.0)
    start = time.monotonic()
    with pytest.raises(CloudError) as e:
        fast(stub, timeout=0.2, max_total_seconds=0.6).instance()
    assert time.monotonic() - start < 1.2
    assert e.value.codes == [reports.IMDS_UNREACHABLE]
    assert "no answer within 0.2 s" in e.value.reports[0].message


@pytest.mark.parametrize(
    "path, body",
    [
        ("instance/", b"<html>hello</html>"),
        ("instance/", b"[1, 2]"),
        ("vnics/", b'{"not": "a list"}'),
        ("vnics/", b"\xff\xfe"),
    ],
)
def test_garbage_is_a_bad_response(stub: Stub, path: str, body: bytes) -> None:
    stub.serve(path, body)
    with pytest.raises(CloudError) as e:
        read_node_facts(fast(stub))
    assert e.value.codes == [reports.IMDS_BAD_RESPONSE]
    assert "\n" not in str(e.value)


def test_bad_vnic_entry_is_a_bad_response(stub: Stub) -> None:
    stub.serve("vnics/", [{"vnicId": "x", "privateIp": "10.0.0.300", "subnetCidrBlock": "10/8"}])
    with pytest.raises(CloudError) as e:
        read_node_facts(fast(stub))
    assert e.value.codes == [reports.IMDS_BAD_RESPONSE]


@pytest.mark.parametrize("url", ["file:///etc/passwd", "169.254.169.254", "http://h:port/opc/v2"])
def test_bad_base_url_is_a_config_error(url: str) -> None:
    with pytest.raises(ConfigError) as e:
        Imds(url)
    assert e.value.codes == [reports.CONFIG_INVALID_VALUE]


def test_read_node_facts(stub: Stub) -> None:
    facts = read_node_facts(fast(stub))
    assert facts.hostname == "node1"
    assert facts.instance_id == INSTANCE["id"]
    assert facts.region == "us-ashburn-1"
    assert facts.compartment_id == INSTANCE["compartmentId"]
    assert facts.tenancy_id == INSTANCE["tenantId"]
    assert facts.fault_domain == "FAULT-DOMAIN-2"
    first, second = facts.vnics
    assert first == VnicFacts(
        vnic_id="ocid1.vnic.primary",
        private_ip="10.0.0.2",
        subnet_cidr="10.0.0.0/24",
        mac="02:00:17:aa:bb:cc",
        virtual_router_ip="10.0.0.1",
        is_primary=True,
        nic_index=0,
        vlan_tag=0,
        ipv6_subnet_cidr="2001:db8:0:1::/64",
        ipv6_addresses=["2001:db8:0:1::5"],
        ipv6_subnet_cidrs=["2001:db8:0:1::/64"],
    )
    assert not second.is_primary and second.nic_index is None and second.ipv6_subnet_cidr is None


@pytest.mark.parametrize(
    "shape",
    [
        {"ipv6SubnetCidrBlock": ["2001:db8:0:1::/64", "2001:db8:0:2::/64"]},
        {
            "ipv6SubnetCidrBlock": "2001:db8:0:1::/64",
            "ipv6SubnetCidrBlocks": ["2001:db8:0:1::/64", "2001:db8:0:2::/64"],
        },
    ],
)
def test_every_ipv6_prefix_counts(stub: Stub, shape: Dict[str, Any]) -> None:
    """A subnet may have several IPv6 prefixes: a VIP in the second one is in
    this VNIC's subnet too, with that prefix's length."""
    entry = dict(
        vnicId="ocid1.vnic.v6",
        privateIp="10.0.0.2",
        subnetCidrBlock="10.0.0.0/24",
        ipv6Addresses=["2001:db8:0:1::5", "2001:db8:0:2::5"],
        **shape,
    )
    stub.serve("vnics/", [entry])
    (vnic,) = read_node_facts(fast(stub)).vnics
    assert vnic.ipv6_subnet_cidrs == ["2001:db8:0:1::/64", "2001:db8:0:2::/64"]
    assert vnic.ipv6_subnet_cidr == "2001:db8:0:1::/64"
    assert vnic_for_ip([vnic], "2001:db8:0:2::100") == vnic
    assert str(vnic.network_of(ipaddress.ip_address("2001:db8:0:2::100"))) == "2001:db8:0:2::/64"


def test_an_ipv6_only_vnic(stub: Stub) -> None:
    """As cloud-init's captured answers show it: no privateIp, and the IPv4
    subnet "<null>"."""
    stub.serve(
        "vnics/",
        [
            {
                "vnicId": "ocid1.vnic.v6only",
                "subnetCidrBlock": "<null>",
                "macAddr": "02:00:17:00:00:01",
                "ipv6SubnetCidrBlock": "2001:db8:0:3::/64",
                "ipv6Addresses": ["2001:db8:0:3::5"],
            }
        ],
    )
    (vnic,) = read_node_facts(fast(stub)).vnics
    assert (vnic.private_ip, vnic.subnet_cidr) == ("", "")
    assert [str(n) for n in vnic.networks()] == ["2001:db8:0:3::/64"]
    assert vnic_for_ip([vnic], "2001:db8:0:3::100") == vnic
    with pytest.raises(ConfigError) as e:
        vnic_for_ip([vnic], "10.0.0.100")
    assert e.value.codes == [reports.VIP_NOT_IN_LOCAL_SUBNET]


def test_a_vnic_with_no_address_at_all_is_a_bad_response(stub: Stub) -> None:
    stub.serve("vnics/", [{"vnicId": "x", "subnetCidrBlock": "<null>"}])
    with pytest.raises(CloudError) as e:
        read_node_facts(fast(stub))
    assert e.value.codes == [reports.IMDS_BAD_RESPONSE]


def test_region_falls_back_to_region_info_then_short_code(stub: Stub) -> None:
    doc: Dict[str, Any] = dict(INSTANCE)
    del doc["canonicalRegionName"]
    doc["regionInfo"] = {"regionIdentifier": "us-phoenix-1"}
    stub.serve("instance/", doc)
    assert read_node_facts(fast(stub)).region == "us-phoenix-1"
    del doc["regionInfo"]
    stub.serve("instance/", doc)
    assert read_node_facts(fast(stub)).region == "iad"


def _vnic(vnic_id: str, ip: str, cidr: str, v6: Optional[str] = None) -> VnicFacts:
    return VnicFacts(vnic_id, ip, cidr, "", "", False, None, None, v6, [])


LOCAL = [
    _vnic("v1", "10.0.0.2", "10.0.0.0/24", "2001:db8:0:1::/64"),
    _vnic("v2", "10.0.1.2", "10.0.1.0/24"),
    _vnic("v3", "10.0.1.3", "10.0.1.0/24"),
]


@pytest.mark.parametrize(
    "ip, vnic_id",
    [
        ("10.0.0.10", "v1"),
        ("10.0.1.200", "v2"),  # two VNICs in the subnet: the first wins
        ("2001:db8:0:1::10", "v1"),
        ("2001:DB8:0:1:0:0:0:10", "v1"),
    ],
)
def test_vnic_for_ip(ip: str, vnic_id: str) -> None:
    assert vnic_for_ip(LOCAL, ip).vnic_id == vnic_id


def test_vnics_for_ip_lists_all_candidates() -> None:
    assert [v.vnic_id for v in vnics_for_ip(LOCAL, "10.0.1.9")] == ["v2", "v3"]


def test_vnic_for_ip_accepts_node_facts() -> None:
    facts = NodeFacts("h", "i", "d", "r", "ad", "fd", "c", None, LOCAL)
    assert vnic_for_ip(facts, "10.0.0.9").vnic_id == "v1"


@pytest.mark.parametrize("ip", ["10.0.2.10", "10.0.10.1", "100.0.0.10", "2001:db8:0:2::1"])
def test_vip_in_no_local_subnet(ip: str) -> None:
    # "10.0.10.1" contains "10.0.1" as a substring: containment must be exact.
    with pytest.raises(PcsOciError) as e:
        vnic_for_ip(LOCAL, ip)
    assert e.value.codes == [reports.VIP_NOT_IN_LOCAL_SUBNET]
    message = e.value.reports[0].message
    assert "10.0.0.0/24 (v1)" in message and "10.0.1.0/24 (v2)" in message
    assert e.value.reports[0].hint


def test_vip_equal_to_a_primary_ip() -> None:
    with pytest.raises(PcsOciError) as e:
        vnic_for_ip(LOCAL, "10.0.1.3")
    assert e.value.codes == [reports.VIP_IS_PRIMARY_IP]
    assert "cannot move" in e.value.reports[0].hint


@pytest.mark.parametrize("ip", ["10.0.0.10/24", "not-an-ip", ""])
def test_bad_vip_text_is_a_config_error(ip: str) -> None:
    with pytest.raises(ConfigError) as e:
        vnic_for_ip(LOCAL, ip)
    assert e.value.codes == [reports.CONFIG_INVALID_VALUE]


class RawServer:
    """Answers each connection with the next scripted raw bytes, then closes."""

    def __init__(self, answers: List[bytes], family: int = socket.AF_INET) -> None:
        self.answers = list(answers)
        self.requests: List[bytes] = []
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.bind(("::1" if family == socket.AF_INET6 else "127.0.0.1", 0))
        self.sock.listen(5)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                self.requests.append(data)
                answer = self.answers.pop(0) if self.answers else b""
                conn.sendall(answer)

    def close(self) -> None:
        self.sock.close()


def ok(body: bytes, headers: str = "") -> bytes:
    return "HTTP/1.1 200 OK\r\n{}\r\n".format(headers).encode() + body


def raw_imds(server: RawServer, host: str = "127.0.0.1") -> Imds:
    return Imds(
        "http://{}:{}/opc/v2".format(host, server.port),
        timeout=0.5,
        max_total_seconds=1.0,
        backoff=0.01,
    )


def test_raw_request_is_a_plain_get_with_the_bearer_header() -> None:
    server = RawServer([ok(b"[]", "Content-Length: 2\r\n")])
    try:
        assert raw_imds(server).vnics() == []
        request = server.requests[0].decode()
        assert request.startswith("GET /opc/v2/vnics/ HTTP/1.0\r\n")
        assert "\r\nAuthorization: Bearer Oracle\r\n" in request
        assert "Host: 127.0.0.1:{}\r\n".format(server.port) in request
    finally:
        server.close()


def test_body_without_length_ends_at_eof() -> None:
    server = RawServer([ok(b'{"id": "x"}')])
    try:
        assert raw_imds(server).instance() == {"id": "x"}
    finally:
        server.close()


def test_chunked_body_is_decoded() -> None:
    body = b'5\r\n{"id"\r\n6\r\n: "x"}\r\n0\r\n\r\n'
    server = RawServer([ok(body, "Transfer-Encoding: chunked\r\n")])
    try:
        assert raw_imds(server).instance() == {"id": "x"}
    finally:
        server.close()


def test_cut_short_or_garbage_is_retried_then_unreachable() -> None:
    cut = ok(b'{"id"', "Content-Length: 11\r\n")
    server = RawServer([cut, b"SSH-2.0-OpenSSH\r\n", b"", ok(b'{"id": "x"}')])
    try:
        assert raw_imds(server).instance() == {"id": "x"}
        assert len(server.requests) == 4
    finally:
        server.close()
    server = RawServer([b"garbage\r\n\r\n"] * 50)
    try:
        with pytest.raises(CloudError) as e:
            raw_imds(server).instance()
        assert e.value.codes == [reports.IMDS_UNREACHABLE]
        assert "not an HTTP answer" in e.value.reports[0].message
    finally:
        server.close()


def test_retry_after_is_honoured_briefly() -> None:
    throttled = b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 0.3\r\n\r\n"
    server = RawServer([throttled, ok(b"[]")])
    try:
        start = time.monotonic()
        assert raw_imds(server).vnics() == []
        assert 0.3 <= time.monotonic() - start < 1.0
    finally:
        server.close()


def test_ipv6_base_url() -> None:
    try:
        server = RawServer([ok(b"[]")], socket.AF_INET6)
    except OSError:
        pytest.skip("no IPv6 loopback")
    try:
        assert raw_imds(server, "[::1]").vnics() == []
        assert "Host: [::1]:{}\r\n".format(server.port) in server.requests[0].decode()
    finally:
        server.close()
