"""The cloud half (imds, lib/oci, vip, discovery) with the REAL SDK against the fake OCI."""

import os
import time
from typing import Any, Callable, Dict, List, Optional

import pytest

from pcs_oci.common import reports
from pcs_oci.lib.discovery import place_vips, resolve_other_nodes
from pcs_oci.lib.errors import CloudError, ConfigError, PcsOciError
from pcs_oci.lib.imds import Imds, read_node_facts, vnic_for_ip
from pcs_oci.lib.oci.api import IPV4, OciApi
from pcs_oci.lib.oci.settings import OciSettings, worst_case_seconds
from pcs_oci.lib.vip import AssignResult, assign_vip, where_is_vip

VIP = "10.0.0.100"
VIP6 = "fd00:10::100"
AUTH_MODES = ["api_key", "instance_principal"]

# Small bounds so retry tests take well under a second per retry.
FAST = {"timeout": 2, "max_attempts": 4, "max_total_seconds": 5, "retry_base_seconds": 0.05}

ApiFactory = Callable[..., OciApi]


@pytest.fixture
def make_api(fake_oci: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> ApiFactory:
    """make_api(auth, node="node1", clock=..., **settings) -> OciApi acting as that node."""

    def make(
        auth: str = "api_key",
        node: str = "node1",
        clock: Callable[[], float] = time.monotonic,
        **overrides: Any,
    ) -> OciApi:
        values: Dict[str, Any] = dict(FAST, auth=auth, endpoint=fake_oci.core_endpoint)
        if auth == "api_key":
            config_file, profile = fake_oci.write_api_key_config(str(tmp_path / "oci"))
            values.update(config_file=config_file, profile=profile)
        else:
            monkeypatch.setenv("OCI_METADATA_BASE_URL", fake_oci.imds_base(node))
            monkeypatch.setenv("PCS_OCI_FEDERATION_ENDPOINT", fake_oci.federation_endpoint)
        values.update(overrides)
        return OciApi(OciSettings(**values), clock=clock)

    return make


def vnic_of(fake_oci: Any, node: str) -> str:
    return str(fake_oci.node(node)["vnic_id"])


def writes(fake_oci: Any) -> List[Dict[str, Any]]:
    """Core API write calls (the federation token POST is not one)."""
    return [
        c
        for c in fake_oci.calls()
        if c["method"] in ("POST", "PUT", "DELETE") and c["op"] != "Federation"
    ]


def on_vnic(fake_oci: Any, ip: str) -> Optional[str]:
    rec = fake_oci.ipv6_by_address(ip) if ":" in ip else fake_oci.private_ip_by_address(ip)
    return None if rec is None else rec.get("vnicId")


# ---------------------------------------------------------------- the move


@pytest.mark.parametrize("auth", AUTH_MODES)
@pytest.mark.fake_world(secondary_ips={VIP: "node1"})
def test_already_here_no_write_call(fake_oci: Any, make_api: ApiFactory, auth: str) -> None:
    local = vnic_of(fake_oci, "node1")
    result = assign_vip(make_api(auth), local, VIP)
    assert result.action == "unchanged" and result.previous_vnic_id == local
    assert writes(fake_oci) == []
    # OCI names a next page even for this one-item answer, and the page is
    # empty (docs/oci-behaviour.md): a lookup that matches at most one
    # address does not follow it (api.at_most_one; issue 12 point 2).
    assert fake_oci.fidelity()["always_next_page"]
    assert [c["op"] for c in fake_oci.calls() if not c["op"].startswith(("Imds", "Fed"))] == [
        "GetVnic",
        "ListPrivateIps",
    ]


@pytest.mark.parametrize("auth", AUTH_MODES)
@pytest.mark.fake_world(secondary_ips={VIP: "node2"})
def test_moved_from_the_other_node(fake_oci: Any, make_api: ApiFactory, auth: str) -> None:
    local, other = vnic_of(fake_oci, "node1"), vnic_of(fake_oci, "node2")
    before = fake_oci.private_ip_by_address(VIP)["id"]
    result = assign_vip(make_api(auth), local, VIP)
    assert result == AssignResult("moved", before, other)
    assert on_vnic(fake_oci, VIP) == local
    (update,) = writes(fake_oci)
    assert update["op"] == "UpdatePrivateIp" and update["body"]["vnicId"] == local


@pytest.mark.parametrize("auth", AUTH_MODES)
def test_created_when_absent(fake_oci: Any, make_api: ApiFactory, auth: str) -> None:
    local = vnic_of(fake_oci, "node1")
    result = assign_vip(make_api(auth), local, VIP)
    assert result.action == "created" and result.previous_vnic_id is None
    assert on_vnic(fake_oci, VIP) == local
    (create,) = writes(fake_oci)
    assert create["op"] == "CreatePrivateIp" and create["body"]["ipAddress"] == VIP


@pytest.mark.fake_world(reserved_ips=[VIP])
def test_reserved_unassigned_ip_is_attached(fake_oci: Any, make_api: ApiFactory) -> None:
    local = vnic_of(fake_oci, "node1")
    result = assign_vip(make_api(), local, VIP)
    assert result.action == "moved" and result.previous_vnic_id is None
    assert on_vnic(fake_oci, VIP) == local


def test_primary_ip_refused(fake_oci: Any, make_api: ApiFactory) -> None:
    other_primary = fake_oci.snapshot()  # noqa: F841 - documents what exists
    node2_ip = vnic_for_ip(read_node_facts(Imds(fake_oci.imds_base("node2"))), VIP).private_ip
    with pytest.raises(PcsOciError) as e:
        assign_vip(make_api(), vnic_of(fake_oci, "node1"), node2_ip)
    assert e.value.codes == [reports.VIP_IS_PRIMARY_IP]
    assert not getattr(e.value, "transient", False)
    assert "a primary IP cannot move" in e.value.reports[0].hint
    assert writes(fake_oci) == []


@pytest.mark.fake_world(secondary_ips={VIP: "node2"})
def test_412_race_is_reread_and_retried(fake_oci: Any, make_api: ApiFactory) -> None:
    fake_oci.faults.add("UpdatePrivateIp", status=412, code="NoEtagMatch")
    local = vnic_of(fake_oci, "node1")
    assert assign_vip(make_api(), local, VIP).action == "moved"
    assert [c["status"] for c in fake_oci.calls("UpdatePrivateIp")] == [412, 200]
    assert on_vnic(fake_oci, VIP) == local


@pytest.mark.fake_world(secondary_ips={VIP: "node2"})
def test_stale_etag_is_a_precondition_failure(fake_oci: Any, make_api: ApiFactory) -> None:
    api = make_api()
    tagged = api.get_ip(IPV4, fake_oci.private_ip_by_address(VIP)["id"])
    assert tagged.etag
    fake_oci.move_private_ip(VIP, "node1")  # someone moves it there and back: new etag
    fake_oci.move_private_ip(VIP, "node2")
    with pytest.raises(CloudError) as e:
        api.move_ip(IPV4, tagged.data["id"], vnic_of(fake_oci, "node1"), tagged.etag)
    assert e.value.status == 412 and e.value.codes == [reports.OCI_PRECONDITION_FAILED]


@pytest.mark.parametrize("auth", AUTH_MODES)
@pytest.mark.fake_world(ipv6_cidr="fd00:10::/64", secondary_ips={VIP6: "node2"})
def test_ipv6_moved_then_created(fake_oci: Any, make_api: ApiFactory, auth: str) -> None:
    local, other = vnic_of(fake_oci, "node1"), vnic_of(fake_oci, "node2")
    api = make_api(auth)
    assert assign_vip(api, local, "FD00:10:0:0::100") == AssignResult(
        "moved", fake_oci.ipv6_by_address(VIP6)["id"], other
    )
    assert on_vnic(fake_oci, VIP6) == local
    assert assign_vip(api, local, VIP6).action == "unchanged"
    assert assign_vip(api, local, "fd00:10::101").action == "created"
    assert on_vnic(fake_oci, "fd00:10::101") == local
    assert not fake_oci.calls("ListPrivateIps")


@pytest.mark.fake_world(ipv6_cidr="fd00:10::/64", secondary_ips={VIP6: "node1"})
def test_ipv6_lookup_by_address_reads_one_page(fake_oci: Any, make_api: ApiFactory) -> None:
    """ListIpv6s pages like ListPrivateIps (always a token): one address in
    its subnet is one page."""
    local = vnic_of(fake_oci, "node1")
    assert assign_vip(make_api(), local, VIP6).action == "unchanged"
    assert len(fake_oci.calls("ListIpv6s")) == 1


@pytest.mark.fake_world(secondary_ips={"10.0.0.{}".format(100 + i): "node1" for i in range(3)})
def test_lists_that_can_match_many_still_page(fake_oci: Any, make_api: ApiFactory) -> None:
    """A VNIC's private IPs can fill many pages: those lists follow opc-next-page
    to the (recorded) empty last page."""
    api = make_api()
    listed = api.list_ips(IPV4, vnic_id=vnic_of(fake_oci, "node1"))
    assert len(listed) == 4  # the primary and three secondaries
    assert len(fake_oci.calls("ListPrivateIps")) == 2  # the items, then the empty page


@pytest.mark.fake_world(secondary_ips={VIP: "node2"})
def test_where_is_vip(fake_oci: Any, make_api: ApiFactory) -> None:
    api = make_api()
    subnet = api.get_vnic(vnic_of(fake_oci, "node1"))["subnet_id"]
    info = where_is_vip(api, VIP, subnet)
    assert info is not None and info.vnic_id == vnic_of(fake_oci, "node2") and not info.is_primary
    assert where_is_vip(api, "10.0.0.200", subnet) is None


# ---------------------------------------------------------------- retries and bounds


@pytest.mark.parametrize("status, code", [(429, "TooManyRequests"), (503, "ServiceUnavailable")])
@pytest.mark.fake_world(secondary_ips={VIP: "node2"})
def test_retries_then_success(fake_oci: Any, make_api: ApiFactory, status: int, code: str) -> None:
    fake_oci.faults.add("ListPrivateIps", status=status, code=code, count=2)
    fake_oci.faults.add("UpdatePrivateIp", status=status, code=code, count=1)
    assert assign_vip(make_api(), vnic_of(fake_oci, "node1"), VIP).action == "moved"
    # One page: the empty next page OCI names is not followed (see
    # test_already_here_no_write_call).
    assert [c["status"] for c in fake_oci.calls("ListPrivateIps")] == [status, status, 200]
    assert [c["status"] for c in fake_oci.calls("UpdatePrivateIp")] == [status, 200]


def test_409_incorrect_state_is_retried(fake_oci: Any, make_api: ApiFactory) -> None:
    fake_oci.faults.add("CreatePrivateIp", status=409, code="IncorrectState")
    assert assign_vip(make_api(), vnic_of(fake_oci, "node1"), VIP).action == "created"
    assert len(fake_oci.calls("CreatePrivateIp")) == 2


@pytest.mark.parametrize("auth", AUTH_MODES)
def test_beyond_the_attempt_bound(fake_oci: Any, make_api: ApiFactory, auth: str) -> None:
    api = make_api(auth, max_attempts=3)
    fake_oci.faults.add("GetVnic", status=503, code="ServiceUnavailable", count=None)
    with pytest.raises(CloudError) as e:
        assign_vip(api, vnic_of(fake_oci, "node1"), VIP)
    calls = fake_oci.calls("GetVnic")
    assert len(calls) == 3
    err = e.value
    assert err.codes == [reports.OCI_SERVICE_ERROR] and err.transient
    assert (err.status, err.oci_code) == (503, "ServiceUnavailable")
    assert err.request_id == calls[-1]["opc-request-id"]
    message = err.reports[0].message
    for part in ("ServiceUnavailable", "HTTP 503", "opc-request-id " + err.request_id, "GetVnic"):
        assert part in message


def test_beyond_the_time_bound(fake_oci: Any, make_api: ApiFactory) -> None:
    api = make_api(max_attempts=1000, max_total_seconds=1.0, retry_base_seconds=0.05)
    fake_oci.faults.add("*", status=429, code="TooManyRequests", count=None)
    start = time.monotonic()
    with pytest.raises(CloudError) as e:
        assign_vip(api, vnic_of(fake_oci, "node1"), VIP)
    elapsed = time.monotonic() - start
    assert e.value.codes == [reports.OCI_THROTTLED] and e.value.transient
    assert elapsed < worst_case_seconds(api.settings)


@pytest.mark.fake_world(secondary_ips={VIP: "node2"})
# The sequence this budget is sized for has one ListPrivateIps, with or
# without OCI's empty next page (not followed: api.at_most_one).
def test_budget_is_shared_by_all_calls_of_one_move(fake_oci: Any, make_api: ApiFactory) -> None:
    """Each call alone is within the budget; together they are not.

    The budget runs on a clock that advances 4 s with every answer the fake
    API sends and stands still otherwise: the SDK's first import, the API
    key's loading and a loaded machine cost nothing, so the outcome does not
    depend on the test order or the load.
    """

    def clock() -> float:
        return 4.0 * len(
            [
                c
                for c in fake_oci.calls()
                if c["op"] in ("GetVnic", "ListPrivateIps", "GetPrivateIp", "UpdatePrivateIp")
            ]
        )

    api = make_api(max_total_seconds=10.0, clock=clock)
    with pytest.raises(CloudError) as e:
        assign_vip(api, vnic_of(fake_oci, "node1"), VIP)
    assert e.value.codes == [reports.OCI_TIMEOUT] and e.value.transient
    assert "gave up before UpdatePrivateIp" in e.value.reports[0].message
    assert [c["op"] for c in fake_oci.calls() if not c["op"].startswith(("Imds", "Fed"))] == [
        "GetVnic",
        "ListPrivateIps",
        "GetPrivateIp",
    ]
    assert writes(fake_oci) == []
    # Outside one budget each call has its own 10 s, however far the clock went.
    fresh = make_api(max_total_seconds=10.0, clock=clock)
    pid = fake_oci.private_ip_by_address(VIP)["id"]
    fresh.move_ip(IPV4, pid, vnic_of(fake_oci, "node1"), fresh.get_ip(IPV4, pid).etag)
    assert on_vnic(fake_oci, VIP) == vnic_of(fake_oci, "node1")


@pytest.mark.fake_world(secondary_ips={VIP: "node2"})
def test_garbled_answer_to_a_read_is_read_again(fake_oci: Any, make_api: ApiFactory) -> None:
    fake_oci.faults.add("GetVnic", status=None, body='{"id": "ocid1.truncated')
    local = vnic_of(fake_oci, "node1")
    assert make_api().get_vnic(local)["id"] == local
    assert [c["status"] for c in fake_oci.calls("GetVnic")] == [200, 200]
    fake_oci.faults.add("GetVnic", status=None, body="not json", count=None)
    with pytest.raises(CloudError) as e:
        make_api(max_attempts=2).get_vnic(local)
    assert e.value.codes == [reports.OCI_BAD_RESPONSE] and e.value.transient


@pytest.mark.fake_world(secondary_ips={VIP: "node2"})
def test_garbled_answer_to_a_move_is_confirmed_by_reading_back(
    fake_oci: Any, make_api: ApiFactory
) -> None:
    fake_oci.faults.add("UpdatePrivateIp", status=None, body='{"id": "ocid1.truncated')
    local = vnic_of(fake_oci, "node1")
    assert assign_vip(make_api(), local, VIP).action == "moved"
    assert len(fake_oci.calls("UpdatePrivateIp")) == 1
    assert on_vnic(fake_oci, VIP) == local


def test_unreachable_endpoint(make_api: ApiFactory, fake_oci: Any) -> None:
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    endpoint = "http://127.0.0.1:{}".format(sock.getsockname()[1])
    sock.close()
    api = make_api(endpoint=endpoint, max_attempts=2)
    with pytest.raises(CloudError) as e:
        api.get_vnic(vnic_of(fake_oci, "node1"))
    assert e.value.codes == [reports.OCI_UNREACHABLE] and e.value.transient
    message = e.value.reports[0].message
    assert endpoint in message and "refused" in message.lower() and "\n" not in message


def test_dropped_answer_is_unreachable_then_retried(fake_oci: Any, make_api: ApiFactory) -> None:
    fake_oci.faults.add("GetVnic", status=None, drop=True)
    assert make_api().get_vnic(vnic_of(fake_oci, "node1"))["id"] == vnic_of(fake_oci, "node1")
    assert len(fake_oci.calls("GetVnic")) == 2


def test_proxy_is_set_on_the_session(fake_oci: Any, make_api: ApiFactory) -> None:
    api = make_api(proxy="http://127.0.0.1:3128")
    client = api._client("network")
    assert client.base_client.session.proxies == {
        "http": "http://127.0.0.1:3128",
        "https": "http://127.0.0.1:3128",
    }
    assert client.base_client.endpoint == fake_oci.core_endpoint + "/20160918"


# ---------------------------------------------------------------- authentication


@pytest.mark.parametrize("auth", AUTH_MODES)
def test_not_authorized_gives_the_policy_hint(
    fake_oci: Any, make_api: ApiFactory, auth: str
) -> None:
    fake_oci.deny("*")
    with pytest.raises(CloudError) as e:
        assign_vip(make_api(auth), vnic_of(fake_oci, "node1"), VIP)
    err = e.value
    assert err.codes == [reports.OCI_NOT_AUTHORIZED] and not err.transient
    assert "not found or not authorized" in err.reports[0].message
    who = "dynamic-group <group>" if auth == "instance_principal" else "group <group>"
    assert "allow {} to use private-ips in compartment".format(who) in err.reports[0].hint
    assert "allow {} to use vnics".format(who) in err.reports[0].hint


@pytest.mark.fake_world(secondary_ips={VIP: "node2"})
def test_not_authorized_on_the_update_names_the_compartment(
    fake_oci: Any, make_api: ApiFactory
) -> None:
    fake_oci.deny("*", ["UpdatePrivateIp"])
    with pytest.raises(CloudError) as e:
        assign_vip(make_api(), vnic_of(fake_oci, "node1"), VIP)
    assert e.value.codes == [reports.OCI_NOT_AUTHORIZED]
    assert fake_oci.world["compartment_id"] in e.value.reports[0].hint


def test_clock_skew(fake_oci: Any, make_api: ApiFactory) -> None:
    fake_oci.set_clock_skew(3600)
    with pytest.raises(CloudError) as e:
        make_api().get_vnic(vnic_of(fake_oci, "node1"))
    assert e.value.codes == [reports.OCI_CLOCK_SKEW]
    assert "NTP" in e.value.reports[0].hint or "chronyd" in e.value.reports[0].hint


def test_api_key_missing_file(tmp_path: Any) -> None:
    missing = str(tmp_path / "nope")
    api = OciApi(OciSettings(auth="api_key", config_file=missing, profile="P"))
    with pytest.raises(ConfigError) as e:
        api.get_vnic("ocid1.vnic.x")
    (report,) = e.value.reports
    assert report.code == reports.OCI_INVALID_CONFIG
    assert missing in report.message and "[P]" in report.message and "not found" in report.message


def test_api_key_missing_profile_and_key(fake_oci: Any, tmp_path: Any) -> None:
    config_file, _ = fake_oci.write_api_key_config(str(tmp_path))
    with pytest.raises(ConfigError) as e:
        OciApi(OciSettings(auth="api_key", config_file=config_file, profile="OTHER")).get_vnic("x")
    assert "profile not found" in e.value.reports[0].message
    os.unlink(os.path.join(str(tmp_path), "oci_api_key.pem"))
    with pytest.raises(ConfigError) as e:
        OciApi(OciSettings(auth="api_key", config_file=config_file)).get_vnic("x")
    message = e.value.reports[0].message
    assert "key_file" in message and "not found" in message
    assert "PRIVATE KEY" not in str(e.value)


def test_api_key_garbage_key(fake_oci: Any, tmp_path: Any) -> None:
    config_file, _ = fake_oci.write_api_key_config(str(tmp_path))
    with open(os.path.join(str(tmp_path), "oci_api_key.pem"), "w") as f:
        f.write("not a key\n")
    with pytest.raises(ConfigError) as e:
        OciApi(OciSettings(auth="api_key", config_file=config_file)).get_vnic("x")
    assert e.value.codes == [reports.OCI_INVALID_CONFIG]


def test_instance_principal_with_imds_down(fake_oci: Any, make_api: ApiFactory) -> None:
    api = make_api("instance_principal", max_total_seconds=1.5)
    fake_oci.imds_down("node1")
    start = time.monotonic()
    with pytest.raises(CloudError) as e:
        api.get_vnic(vnic_of(fake_oci, "node1"))
    assert time.monotonic() - start < 3
    assert e.value.codes == [reports.OCI_AUTH_FAILED] and e.value.transient
    assert "IMDS at " + fake_oci.imds_base("node1") in e.value.reports[0].hint


def test_instance_principal_with_slow_imds_is_bounded(fake_oci: Any, make_api: ApiFactory) -> None:
    # The SDK fixes its IMDS timeouts at (10, 60) s; our bound still holds.
    fake_oci.faults.add("Imds:identity", status=None, delay=5, count=None)
    api = make_api("instance_principal", max_total_seconds=1.0)
    start = time.monotonic()
    with pytest.raises(CloudError) as e:
        api.get_vnic(vnic_of(fake_oci, "node1"))
    assert time.monotonic() - start < 2
    assert e.value.codes == [reports.OCI_AUTH_FAILED] and e.value.transient
    assert "no answer within 1 s" in e.value.reports[0].message


def test_instance_principal_with_federation_failing(fake_oci: Any, make_api: ApiFactory) -> None:
    fake_oci.faults.add("Federation", status=500, code="InternalServerError", count=None)
    with pytest.raises(CloudError) as e:
        make_api("instance_principal", max_attempts=2).get_vnic(vnic_of(fake_oci, "node1"))
    assert e.value.codes == [reports.OCI_AUTH_FAILED] and e.value.transient
    assert e.value.status == 500
    assert "InternalServerError (HTTP 500, opc-request-id " in e.value.reports[0].message
    assert fake_oci.federation_endpoint in e.value.reports[0].hint
    assert len(fake_oci.calls("Federation")) == 2


def test_instance_principal_region_comes_from_imds(fake_oci: Any, make_api: ApiFactory) -> None:
    api = make_api("instance_principal")
    api.get_vnic(vnic_of(fake_oci, "node1"))
    assert api._auth is not None and api._auth[0]["region"] == fake_oci.world["region"]


# ---------------------------------------------------------------- IMDS


def test_imds_down(fake_oci: Any) -> None:
    fake_oci.imds_down("node1")
    start = time.monotonic()
    with pytest.raises(CloudError) as e:
        read_node_facts(Imds(fake_oci.imds_base("node1"), max_total_seconds=1.0))
    assert time.monotonic() - start < 1.6
    assert e.value.codes == [reports.IMDS_UNREACHABLE] and e.value.transient


def test_imds_slow(fake_oci: Any) -> None:
    fake_oci.faults.add("Imds:instance", status=None, delay=1.0, count=None)
    start = time.monotonic()
    with pytest.raises(CloudError) as e:
        Imds(fake_oci.imds_base("node1"), timeout=0.3, max_total_seconds=0.8).instance()
    assert time.monotonic() - start < 1.5
    assert e.value.codes == [reports.IMDS_UNREACHABLE]


def test_imds_brief_404_window_is_retried(fake_oci: Any) -> None:
    fake_oci.faults.add("Imds:vnics", status=404, code="NotFound", count=2)
    facts = read_node_facts(Imds(fake_oci.imds_base("node1")))
    assert facts.vnics[0].vnic_id == vnic_of(fake_oci, "node1")


def test_imds_garbage(fake_oci: Any) -> None:
    # A garbled answer once is fetched again; garbage that stays is an error.
    fake_oci.faults.add("Imds:vnics", status=200, body="<html>oops</html>")
    assert read_node_facts(Imds(fake_oci.imds_base("node1"))).vnics
    fake_oci.faults.add("Imds:vnics", status=200, body="<html>oops</html>", count=None)
    with pytest.raises(CloudError) as e:
        read_node_facts(Imds(fake_oci.imds_base("node1"), max_total_seconds=0.5))
    assert e.value.codes == [reports.IMDS_BAD_RESPONSE] and not e.value.transient


# ---------------------------------------------------------------- discovery


def test_discovery_one_vnic(fake_oci: Any) -> None:
    facts = read_node_facts(Imds(fake_oci.imds_base("node1")))
    assert facts.instance_id == fake_oci.node("node1")["instance_id"]
    assert facts.region == fake_oci.world["region"]
    assert facts.compartment_id == fake_oci.world["compartment_id"]
    (placed,) = place_vips(facts, [VIP])
    assert placed.vnic is not None and placed.vnic.vnic_id == vnic_of(fake_oci, "node1")
    assert placed.vnic.is_primary


@pytest.mark.fake_world(extra_vnics={"node1": ["10.0.1.0/24"], "node2": ["10.0.1.0/24"]})
def test_discovery_several_vnics(fake_oci: Any, make_api: ApiFactory) -> None:
    facts = read_node_facts(Imds(fake_oci.imds_base("node1")))
    assert len(facts.vnics) == 2
    placed = place_vips(facts, [VIP, "10.0.1.100", "192.168.0.1"])
    assert placed[0].vnic is not None and placed[0].vnic.vnic_id == facts.vnics[0].vnic_id
    assert placed[1].vnic is not None and placed[1].vnic.vnic_id == facts.vnics[1].vnic_id
    assert placed[2].problem is not None
    assert placed[2].problem.code == reports.VIP_NOT_IN_LOCAL_SUBNET
    # The move works on the secondary VNIC too.
    assert assign_vip(make_api(), facts.vnics[1].vnic_id, "10.0.1.100").action == "created"


@pytest.mark.parametrize("auth", AUTH_MODES)
@pytest.mark.fake_world(nodes=("node1", "node2", "node3"))
def test_resolve_other_nodes(fake_oci: Any, make_api: ApiFactory, auth: str) -> None:
    facts = read_node_facts(Imds(fake_oci.imds_base("node1")))
    nodes = resolve_other_nodes(make_api(auth), facts, ["node2", "NODE3.example.com"], [VIP])
    assert [n.instance_id for n in nodes] == [
        fake_oci.node("node2")["instance_id"],
        fake_oci.node("node3")["instance_id"],
    ]
    assert [n.vnic_id for n in nodes] == [vnic_of(fake_oci, "node2"), vnic_of(fake_oci, "node3")]
    assert writes(fake_oci) == []


def test_resolve_other_nodes_not_found(fake_oci: Any, make_api: ApiFactory) -> None:
    facts = read_node_facts(Imds(fake_oci.imds_base("node1")))
    with pytest.raises(PcsOciError) as e:
        resolve_other_nodes(make_api(), facts, ["node9"], [VIP])
    assert e.value.codes == [reports.NODE_NOT_FOUND]
