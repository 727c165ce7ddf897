"""The fakes are only useful if the real SDK cannot tell them from OCI: prove it."""

import json
import os
import signal
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import Any, Dict, List, Optional, Tuple

import oci
import pytest
from oci.auth import auth_utils
from oci.core.models import (
    CreateIpv6Details,
    CreatePrivateIpDetails,
    UpdateIpv6Details,
    UpdatePrivateIpDetails,
)
from oci.exceptions import RequestException, ServiceError

from tests.fakes import pki
from tests.fakes import world as worldmod
from tests.fakes.harness import FakeOci
from tests.fakes.remote import RemoteControl

NO_CB = oci.circuit_breaker.NoCircuitBreakerStrategy()
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VIP = "10.0.0.100"


def vnet(
    fake: FakeOci, config: Optional[Dict[str, Any]] = None, **kw: Any
) -> oci.core.VirtualNetworkClient:
    return oci.core.VirtualNetworkClient(
        config or fake.sdk_config(),
        service_endpoint=fake.core_endpoint,
        circuit_breaker_strategy=NO_CB,
        **kw,
    )


def compute(fake: FakeOci, **kw: Any) -> oci.core.ComputeClient:
    return oci.core.ComputeClient(
        fake.sdk_config(), service_endpoint=fake.core_endpoint, circuit_breaker_strategy=NO_CB, **kw
    )


def http_get(url: str, headers: Optional[Dict[str, str]] = None) -> Tuple[int, bytes]:
    req = urllib.request.Request(
        url, headers=headers if headers is not None else {"Authorization": "Bearer Oracle"}
    )
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def vnic_ipv6_addresses(client: oci.core.VirtualNetworkClient, vnic_id: str) -> List[str]:
    """Vnic.ipv6Addresses as OCI sent it (SDKs before it had the field drop it)."""
    response = client.base_client.call_api(
        resource_path="/vnics/{vnicId}",
        method="GET",
        path_params={"vnicId": vnic_id},
        header_params={"accept": "application/json"},
        response_type="object",
    )
    return list(response.data.get("ipv6Addresses") or [])


def ip_rec(fake: Any, ip: str) -> Dict[str, Any]:
    rec = fake.private_ip_by_address(ip)
    assert rec is not None, ip
    return rec


def use_imds(monkeypatch: pytest.MonkeyPatch, base: str) -> None:
    """Point the SDK's instance-principal signer at base on any SDK version:
    OCI_METADATA_BASE_URL for SDKs that read it when the signer is built; the
    class's URLs for those that hard-code them (before 2.141.0) or read the
    variable only when imported (2.141.0-2.173.x), see docs/oci-behaviour.md."""
    monkeypatch.setenv("OCI_METADATA_BASE_URL", base)
    cls = oci.auth.signers.InstancePrincipalsSecurityTokenSigner
    if hasattr(cls, "_get_env_override_metadata_base_url"):
        return
    monkeypatch.setattr(cls, "METADATA_URL_BASE", base)
    monkeypatch.setattr(cls, "GET_REGION_URL", base + "/instance/region")
    monkeypatch.setattr(cls, "LEAF_CERTIFICATE_URL", base + "/identity/cert.pem")
    monkeypatch.setattr(cls, "LEAF_CERTIFICATE_PRIVATE_KEY_URL", base + "/identity/key.pem")
    monkeypatch.setattr(cls, "INTERMEDIATE_CERTIFICATE_URL", base + "/identity/intermediate.pem")


def instance_principal(
    fake: FakeOci, monkeypatch: pytest.MonkeyPatch, node: str = "node1"
) -> oci.auth.signers.InstancePrincipalsSecurityTokenSigner:
    use_imds(monkeypatch, fake.imds_base(node))
    return oci.auth.signers.InstancePrincipalsSecurityTokenSigner(
        federation_endpoint=fake.federation_endpoint,
        federation_client_retry_strategy=oci.retry.NoneRetryStrategy(),
        federation_client_circuit_breaker_strategy=NO_CB,
    )


# -- world ----------------------------------------------------------------------------------


def test_world_is_json_and_sdk_compatible(tmp_path: Any) -> None:
    w = worldmod.make_world(
        nodes=("a", "b", "c"),
        ipv6_cidr="fd00:10::/64",
        extra_vnics={"a": ["10.0.1.0/24"]},
        reserved_ips=["10.0.0.200"],
        secondary_ips={VIP: "b"},
    )
    path = str(tmp_path / "world.json")
    worldmod.save(w, path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert worldmod.load(path) == json.loads(json.dumps(w))
    assert (
        worldmod.make_world()["nodes"]["node1"]["instance_id"]
        == worldmod.make_world()["nodes"]["node1"]["instance_id"]
    )  # deterministic
    a = w["nodes"]["a"]
    assert a["private_ip"] == "10.0.0.11" and w["nodes"]["c"]["private_ip"] == "10.0.0.13"
    assert a["ipv6"] == "fd00:10::11" and len(a["vnic_ids"]) == 2
    assert a["instance_id"].startswith("ocid1.instance.oc1.iad.")
    inst = w["instances"][a["instance_id"]]
    assert inst["displayName"] == "a" and inst["lifecycleState"] == "RUNNING"
    leaf = pki.load_cert(a["leaf_cert"])
    assert auth_utils.get_tenancy_id_from_certificate(leaf) == w["tenancy_id"]
    assert "opc-instance:" + a["instance_id"] in pki.subject_values(leaf)
    reserved = [p for p in w["private_ips"].values() if p["ipAddress"] == "10.0.0.200"]
    assert reserved[0]["lifetime"] == "RESERVED" and reserved[0]["vnicId"] is None

    cfg_path, profile = worldmod.write_api_key_config(w, str(tmp_path / "oci"))
    cfg = oci.config.from_file(cfg_path, profile)
    oci.config.validate_config(cfg)
    assert cfg["fingerprint"] == w["api_user"]["fingerprint"]
    assert stat.S_IMODE(os.stat(cfg["key_file"]).st_mode) == 0o600


# -- API-key signed Core calls --------------------------------------------------------------


@pytest.mark.fake_world(secondary_ips={VIP: "node1"})
def test_api_key_private_ip_lifecycle(fake_oci: FakeOci, tmp_path: Any) -> None:
    cfg_path, profile = fake_oci.write_api_key_config(str(tmp_path))
    client = vnet(fake_oci, oci.config.from_file(cfg_path, profile))
    n1, n2 = fake_oci.node("node1"), fake_oci.node("node2")

    vnic = client.get_vnic(n1["vnic_id"])
    assert vnic.data.private_ip == "10.0.0.11" and vnic.data.is_primary
    assert vnic.headers["etag"] and vnic.headers["opc-request-id"]
    found = client.list_private_ips(ip_address=VIP, subnet_id=vnic.data.subnet_id).data
    assert [p.vnic_id for p in found] == [n1["vnic_id"]]
    got = client.get_private_ip(found[0].id)
    assert got.data.time_created.year == 2025 and not got.data.is_primary

    moved = client.update_private_ip(
        found[0].id, UpdatePrivateIpDetails(vnic_id=n2["vnic_id"]), if_match=got.headers["etag"]
    )
    # As recorded: the move's answer has no vnicId, the next GET the new VNIC
    # and another ETag (test_fidelity.py has the details).
    assert moved.data.vnic_id is None and moved.headers["etag"] != got.headers["etag"]
    assert client.get_private_ip(found[0].id).data.vnic_id == n2["vnic_id"]
    assert ip_rec(fake_oci, VIP)["vnicId"] == n2["vnic_id"]
    assert fake_oci.calls("UpdatePrivateIp")[0]["body"] == {"vnicId": n2["vnic_id"]}
    assert (
        fake_oci.calls("UpdatePrivateIp")[0]["principal"] == fake_oci.world["api_user"]["user_id"]
    )

    created = client.create_private_ip(
        CreatePrivateIpDetails(vnic_id=n1["vnic_id"], ip_address="10.0.0.50"),
        opc_retry_token="tok-1",
    )
    again = client.create_private_ip(
        CreatePrivateIpDetails(vnic_id=n1["vnic_id"], ip_address="10.0.0.50"),
        opc_retry_token="tok-1",
    )
    assert created.data.id == again.data.id  # idempotent retry
    auto = client.create_private_ip(CreatePrivateIpDetails(vnic_id=n1["vnic_id"])).data
    assert auto.ip_address == "10.0.0.2"
    with pytest.raises(ServiceError) as used:
        client.create_private_ip(
            CreatePrivateIpDetails(vnic_id=n2["vnic_id"], ip_address="10.0.0.50")
        )
    assert (used.value.status, used.value.code) == (409, "Conflict")
    with pytest.raises(ServiceError) as outside:
        client.create_private_ip(
            CreatePrivateIpDetails(vnic_id=n2["vnic_id"], ip_address="10.9.9.9")
        )
    assert (outside.value.status, outside.value.code) == (400, "InvalidParameter")

    assert client.delete_private_ip(created.data.id).status == 204
    with pytest.raises(ServiceError) as gone:
        client.get_private_ip(created.data.id)
    assert (gone.value.status, gone.value.code) == (404, "NotAuthorizedOrNotFound")
    with pytest.raises(ServiceError) as need_filter:
        client.list_private_ips(ip_address=VIP)
    assert need_filter.value.status == 400


@pytest.mark.fake_world(secondary_ips={VIP: "node1"}, extra_vnics={"node2": ["10.0.1.0/24"]})
def test_moves_that_oci_refuses(fake_oci: FakeOci) -> None:
    client = vnet(fake_oci)
    n1, n2 = fake_oci.node("node1"), fake_oci.node("node2")
    with pytest.raises(ServiceError) as primary:
        client.update_private_ip(n1["private_ip_id"], UpdatePrivateIpDetails(vnic_id=n2["vnic_id"]))
    assert (primary.value.status, primary.value.code) == (400, "InvalidParameter")
    assert primary.value.message == "Cannot reassign primary private IP addresses"

    vip = ip_rec(fake_oci, VIP)
    with pytest.raises(ServiceError) as subnet:
        client.update_private_ip(vip["id"], UpdatePrivateIpDetails(vnic_id=n2["vnic_ids"][1]))
    assert subnet.value.status == 400 and "same subnet" in subnet.value.message

    etag = client.get_private_ip(vip["id"]).headers["etag"]
    fake_oci.move_private_ip(VIP, "node2")  # someone else moves it meanwhile
    with pytest.raises(ServiceError) as stale:
        client.update_private_ip(
            vip["id"], UpdatePrivateIpDetails(vnic_id=n1["vnic_id"]), if_match=etag
        )
    assert (stale.value.status, stale.value.code) == (412, "NoEtagMatch")


def test_pagination(fake_oci: FakeOci) -> None:
    n1 = fake_oci.node("node1")
    for host in range(100, 107):
        fake_oci.add_private_ip("10.0.0.{}".format(host), "node1")
    client = vnet(fake_oci)
    first = client.list_private_ips(subnet_id=n1["subnet_id"], limit=3)
    assert len(first.data) == 3 and first.has_next_page and first.next_page
    everything = oci.pagination.list_call_get_all_results(
        client.list_private_ips, subnet_id=n1["subnet_id"], limit=3
    ).data
    assert [p.ip_address for p in everything][:3] == ["10.0.0.11", "10.0.0.12", "10.0.0.100"]
    assert len(everything) == 9
    # Three full pages, each naming a next one, and the empty fourth (as OCI pages).
    assert len(fake_oci.calls("ListPrivateIps")) == 1 + 4


@pytest.mark.fake_world(ipv6_cidr="fd00:10::/64", secondary_ips={"fd00:10::100": "node1"})
def test_ipv6_list_create_move(fake_oci: FakeOci) -> None:
    client = vnet(fake_oci)
    n1, n2 = fake_oci.node("node1"), fake_oci.node("node2")
    sub = client.get_subnet(n1["subnet_id"]).data
    assert sub.ipv6_cidr_block == "fd00:10::/64" and sub.availability_domain is None
    found = client.list_ipv6s(subnet_id=n1["subnet_id"], ip_address="fd00:10::100").data
    assert len(found) == 1 and found[0].vnic_id == n1["vnic_id"]
    moved = client.update_ipv6(found[0].id, UpdateIpv6Details(vnic_id=n2["vnic_id"])).data
    assert moved.vnic_id is None  # the move lands after the answer, as UpdatePrivateIp's
    assert client.get_ipv6(found[0].id).data.vnic_id == n2["vnic_id"]
    assert "fd00:10::100" in vnic_ipv6_addresses(client, n2["vnic_id"])
    new = client.create_ipv6(
        CreateIpv6Details(vnic_id=n1["vnic_id"], ip_address="fd00:10::200")
    ).data
    assert client.get_ipv6(new.id).data.ip_address == "fd00:10::200"
    assert [c["op"] for c in fake_oci.calls("*Ipv6*")] == [
        "ListIpv6s",
        "UpdateIpv6",
        "GetIpv6",
        "CreateIpv6",
        "GetIpv6",
    ]


def test_compute_actions_and_lookups(fake_oci: FakeOci) -> None:
    seen: List[Tuple[Optional[str], str]] = []
    fake_oci.on_instance_state(lambda node, iid, state, action: seen.append((node, state)))
    cc = compute(fake_oci)
    n1 = fake_oci.node("node1")
    cid = fake_oci.world["compartment_id"]
    assert [i.display_name for i in cc.list_instances(cid).data] == ["node1", "node2"]
    assert (
        cc.list_instances(cid, display_name="node2").data[0].id
        == fake_oci.node("node2")["instance_id"]
    )
    att = cc.list_vnic_attachments(cid, instance_id=n1["instance_id"]).data
    assert [a.vnic_id for a in att] == [n1["vnic_id"]]
    assert cc.instance_action(n1["instance_id"], "STOP").data.lifecycle_state == "STOPPING"
    deadline = time.time() + 5
    while fake_oci.instance_state("node1") != "STOPPED" and time.time() < deadline:
        time.sleep(0.02)
    assert seen == [("node1", "STOPPING"), ("node1", "STOPPED")]
    with pytest.raises(ServiceError) as wrong:
        cc.instance_action(n1["instance_id"], "RESET")
    assert (wrong.value.status, wrong.value.code) == (409, "IncorrectState")
    assert cc.instance_action(n1["instance_id"], "START").data.lifecycle_state == "STARTING"


# -- authentication -------------------------------------------------------------------------


def test_instance_principal_flow(fake_oci: FakeOci, monkeypatch: pytest.MonkeyPatch) -> None:
    signer = instance_principal(fake_oci, monkeypatch, "node2")
    assert signer.region == "us-ashburn-1" and signer.tenancy_id == fake_oci.world["tenancy_id"]
    client = oci.core.VirtualNetworkClient(
        {"region": signer.region},
        signer=signer,
        service_endpoint=fake_oci.core_endpoint,
        circuit_breaker_strategy=NO_CB,
    )
    n2 = fake_oci.node("node2")
    assert client.get_vnic(n2["vnic_id"]).data.private_ip == "10.0.0.12"
    call = fake_oci.calls("GetVnic")[-1]
    assert call["principal"] == n2["instance_id"]
    assert fake_oci.calls("Federation")[0]["principal"] == n2["instance_id"]

    # A revoked/expired token: the SDK gets 401, re-federates once and retries.
    fake_oci.clear_calls()
    fake_oci.expire_tokens()
    assert client.get_vnic(n2["vnic_id"]).status == 200
    assert [(c["op"], c["status"]) for c in fake_oci.calls() if not c["op"].startswith("Imds")] == [
        ("GetVnic", 401),
        ("Federation", 200),
        ("GetVnic", 200),
    ]

    # An old token presented directly is refused as expired.
    fake_oci.set_token_lifetime(0.3)
    token = signer.federation_client.refresh_security_token()
    time.sleep(0.4)
    stale = oci.auth.signers.SecurityTokenSigner(
        token, signer.federation_client.session_key_supplier.get_key_pair()["private"]
    )
    old = oci.core.VirtualNetworkClient(
        {"region": "us-ashburn-1"},
        signer=stale,
        service_endpoint=fake_oci.core_endpoint,
        circuit_breaker_strategy=NO_CB,
    )
    with pytest.raises(ServiceError) as expired:
        old.get_vnic(n2["vnic_id"])
    assert expired.value.status == 401 and "expired" in expired.value.message


def test_unsigned_and_tampered_requests_are_401(fake_oci: FakeOci) -> None:
    url = "{}/20160918/vnics/{}".format(fake_oci.core_endpoint, fake_oci.node("node1")["vnic_id"])
    status, body = http_get(url, headers={})
    assert status == 401 and json.loads(body)["code"] == "NotAuthenticated"

    # Sign a GET for node1's VNIC, then replay the signature against node2's VNIC.
    signer = oci.signer.Signer.from_config(fake_oci.sdk_config())
    prepared = oci._vendor.requests.Request("GET", url).prepare()
    signer(prepared)
    forged = url.replace(fake_oci.node("node1")["vnic_id"], fake_oci.node("node2")["vnic_id"])
    status, body = http_get(forged, headers=dict(prepared.headers))
    assert status == 401
    status, _ = http_get(url, headers=dict(prepared.headers))
    assert status == 200  # the untampered request is fine


def test_body_hash_is_checked(fake_oci: FakeOci) -> None:
    vip = fake_oci.add_private_ip(VIP, "node1")
    url = "{}/20160918/privateIps/{}".format(fake_oci.core_endpoint, vip["id"])
    signer = oci.signer.Signer.from_config(fake_oci.sdk_config())
    body = json.dumps({"vnicId": fake_oci.node("node2")["vnic_id"]})
    prepared = oci._vendor.requests.Request("PUT", url, data=body).prepare()
    signer(prepared)
    headers = dict(prepared.headers)
    evil = body.replace("ocid1.vnic", "ocid1.vnix").encode()
    assert len(evil) == len(body)
    req = urllib.request.Request(url, data=evil, headers=headers, method="PUT")
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req, timeout=5)
    assert err.value.code == 401
    assert ip_rec(fake_oci, VIP)["vnicId"] == fake_oci.node("node1")["vnic_id"]


def test_wrong_key_clock_skew_and_deny(fake_oci: FakeOci) -> None:
    n1 = fake_oci.node("node1")
    wrong = dict(fake_oci.sdk_config(), key_content=pki.private_pem(pki.new_key()))
    with pytest.raises(ServiceError) as bad_key:
        vnet(fake_oci, wrong).get_vnic(n1["vnic_id"])
    assert (bad_key.value.status, bad_key.value.code) == (401, "NotAuthenticated")

    client = vnet(fake_oci)
    fake_oci.set_clock_skew(600)
    with pytest.raises(ServiceError) as skew:
        client.get_vnic(n1["vnic_id"])
    assert skew.value.status == 401 and "clock skew" in skew.value.message
    fake_oci.set_clock_skew(-200)
    assert client.get_vnic(n1["vnic_id"]).status == 200  # within 5 minutes
    fake_oci.set_clock_skew(0)

    user = fake_oci.world["api_user"]["user_id"]
    fake_oci.deny(user, ["UpdatePrivateIp"])
    assert client.get_vnic(n1["vnic_id"]).status == 200
    fake_oci.deny("*")
    with pytest.raises(ServiceError) as denied:
        client.get_vnic(n1["vnic_id"])
    assert (denied.value.status, denied.value.code) == (404, "NotAuthorizedOrNotFound")
    fake_oci.allow()
    assert client.get_vnic(n1["vnic_id"]).status == 200


# -- faults ---------------------------------------------------------------------------------


def test_fault_statuses(fake_oci: FakeOci) -> None:
    client = vnet(fake_oci)
    vnic_id = fake_oci.node("node1")["vnic_id"]
    fake_oci.faults.add("GetVnic", status=429, code="TooManyRequests", retry_after=2, count=2)
    for _ in range(2):
        with pytest.raises(ServiceError) as throttled:
            client.get_vnic(vnic_id)
        assert (throttled.value.status, throttled.value.code) == (429, "TooManyRequests")
        assert throttled.value.headers["retry-after"] == "2"
    assert client.get_vnic(vnic_id).status == 200  # count exhausted

    fake_oci.faults.add("*", skip=1)  # default: one 503 ServiceUnavailable
    assert client.get_vnic(vnic_id).status == 200
    with pytest.raises(ServiceError) as unavailable:
        client.get_vnic(vnic_id)
    assert (unavailable.value.status, unavailable.value.code) == (503, "ServiceUnavailable")

    retrying = vnet(
        fake_oci,
        retry_strategy=oci.retry.RetryStrategyBuilder(
            max_attempts=3,
            retry_base_sleep_time_seconds=0.01,
            retry_exponential_growth_factor=1,
            retry_max_wait_between_calls_seconds=0.02,
            backoff_type=oci.retry.BACKOFF_FULL_JITTER_VALUE,
        ).get_retry_strategy(),
    )
    fake_oci.faults.add("GetVnic", status=500, code="InternalServerError", count=2)
    assert retrying.get_vnic(vnic_id).status == 200
    assert [c["status"] for c in fake_oci.calls("GetVnic")][-3:] == [500, 500, 200]


def test_fault_transport_failures(fake_oci: FakeOci) -> None:
    client = vnet(fake_oci, timeout=(2, 0.3))
    n1, n2 = fake_oci.node("node1"), fake_oci.node("node2")
    fake_oci.faults.add("GetVnic", drop=True)
    with pytest.raises(RequestException):
        client.get_vnic(n1["vnic_id"])
    fake_oci.faults.add("GetVnic", reset_mid_body=True)
    with pytest.raises(RequestException):
        client.get_vnic(n1["vnic_id"])
    fake_oci.faults.add("GetVnic", status=None, delay=0.6)
    with pytest.raises(RequestException):
        client.get_vnic(n1["vnic_id"])  # read timeout
    # The SDK does not wrap bad 200 bodies: truncated JSON -> TypeError from the model
    # deserialiser; a non-JSON body -> a Vnic whose fields are all None.
    fake_oci.faults.add("GetVnic", status=200, body='{"id": "ocid1.vnic.trunc')
    with pytest.raises(TypeError):
        client.get_vnic(n1["vnic_id"])
    fake_oci.faults.add("GetVnic", status=200, body="<html>oops</html>")
    assert client.get_vnic(n1["vnic_id"]).data.id is None

    # status=None + reset: the move is applied but the answer is lost.
    vip = fake_oci.add_private_ip(VIP, "node1")
    fake_oci.faults.add("UpdatePrivateIp", status=None, reset_mid_body=True)
    with pytest.raises(RequestException):
        client.update_private_ip(vip["id"], UpdatePrivateIpDetails(vnic_id=n2["vnic_id"]))
    assert ip_rec(fake_oci, VIP)["vnicId"] == n2["vnic_id"]
    deadline = time.time() + 3
    while len(fake_oci.calls("GetVnic")) < 5 and time.time() < deadline:
        time.sleep(0.05)  # the delayed call is logged when its handler finishes
    assert sorted(c["outcome"] for c in fake_oci.calls("GetVnic")) == [
        "drop",
        "reset",
        "send",
        "send",
        "send",
    ]
    assert fake_oci.faults.list() == []


# -- IMDS -----------------------------------------------------------------------------------


@pytest.mark.fake_world(ipv6_cidr="fd00:10::/64")
def test_imds(fake_oci: FakeOci) -> None:
    base = fake_oci.imds_base("node2")
    n2 = fake_oci.node("node2")
    status, body = http_get(base + "/instance/")
    doc = json.loads(body)
    assert status == 200 and doc["id"] == n2["instance_id"] and doc["hostname"] == "node2"
    assert (doc["region"], doc["canonicalRegionName"]) == ("iad", "us-ashburn-1")
    assert doc["state"] == "Running" and isinstance(doc["timeCreated"], int)
    assert doc["regionInfo"]["realmKey"] == "oc1"
    assert http_get(base + "/instance/region") == (200, b"iad")
    assert http_get(base + "/instance/id") == (200, n2["instance_id"].encode())
    status, body = http_get(base + "/vnics/")
    vnics = json.loads(body)
    assert vnics[0]["vnicId"] == n2["vnic_id"] and vnics[0]["privateIp"] == "10.0.0.12"
    assert vnics[0]["macAddr"] == n2["mac"] and vnics[0]["subnetCidrBlock"] == "10.0.0.0/24"
    assert vnics[0]["virtualRouterIp"] == "10.0.0.1" and vnics[0]["nicIndex"] == 0
    assert vnics[0]["ipv6Addresses"] == [n2["ipv6"]]
    assert http_get(base + "/identity/cert.pem")[1].decode() == n2["leaf_cert"]

    assert http_get(base + "/instance/", headers={})[0] == 401
    assert (
        http_get(
            base + "/instance/",
            headers={"Authorization": "Bearer Oracle", "X-Forwarded-For": "10.0.0.5"},
        )[0]
        == 403
    )
    assert http_get(base.replace("/opc/v2", "/opc/v1") + "/instance/")[0] == 404

    fake_oci.imds_down("node2")
    with pytest.raises((urllib.error.URLError, ConnectionError)):
        http_get(base + "/instance/")
    assert http_get(fake_oci.imds_base("node1") + "/instance/region")[0] == 200
    fake_oci.imds_down("node2", False)
    fake_oci.faults.add("Imds:identity", status=500, node="node2")
    assert http_get(base + "/identity/key.pem")[0] == 500


def test_imds_fault_reaches_instance_principal(
    fake_oci: FakeOci, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_oci.faults.add("Federation", status=503, count=None)
    with pytest.raises(ServiceError) as fed:
        instance_principal(fake_oci, monkeypatch)
    assert fed.value.status == 503
    fake_oci.faults.clear()
    fake_oci.imds_down("node1")
    use_imds(monkeypatch, fake_oci.imds_base("node1"))
    with pytest.raises(oci._vendor.requests.exceptions.ConnectionError):
        oci.auth.signers.InstancePrincipalsSecurityTokenSigner(
            federation_endpoint=fake_oci.federation_endpoint,
            retry_strategy=oci.retry.NoneRetryStrategy(),
        )


# -- standalone process ----------------------------------------------------------------------


def _spawn(tmp_path: Any, name: str, *args: str) -> Tuple[subprocess.Popen, int]:
    port_file = tmp_path / (name + ".port")
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.server", "--port-file", str(port_file)] + list(args),
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.time() + 15
    while not port_file.exists():
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            raise AssertionError(proc.communicate()[1].decode())
        time.sleep(0.05)
    return proc, int(port_file.read_text())


def test_standalone_processes(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    w = worldmod.make_world(secondary_ips={VIP: "node1"})
    world_path = str(tmp_path / "world.json")
    worldmod.save(w, world_path)
    core, core_port = _spawn(
        tmp_path,
        "core",
        "--world",
        world_path,
        "--listen",
        "127.0.0.1:0",
        "--role",
        "core,federation",
    )
    imds, imds_port = _spawn(
        tmp_path,
        "imds",
        "--world",
        world_path,
        "--listen",
        "127.0.0.1:0",
        "--role",
        "imds",
        "--node",
        "node2",
    )
    try:
        endpoint = "http://127.0.0.1:{}".format(core_port)
        ctl = RemoteControl(endpoint)
        assert ctl.health()["roles"] == ["core", "federation"]
        imds_url = "http://127.0.0.1:{}".format(imds_port)
        use_imds(monkeypatch, imds_url + "/opc/v2")
        signer = oci.auth.signers.InstancePrincipalsSecurityTokenSigner(
            federation_endpoint=endpoint + "/v1/x509"
        )
        client = oci.core.VirtualNetworkClient(
            {"region": signer.region},
            signer=signer,
            service_endpoint=endpoint,
            circuit_breaker_strategy=NO_CB,
        )
        vip = ip_rec(ctl, VIP)
        client.update_private_ip(
            vip["id"], UpdatePrivateIpDetails(vnic_id=w["nodes"]["node2"]["vnic_id"])
        )
        assert ip_rec(ctl, VIP)["vnicId"] == w["nodes"]["node2"]["vnic_id"]
        assert ctl.calls("UpdatePrivateIp")[0]["principal"] == w["nodes"]["node2"]["instance_id"]
        ctl.faults.add("GetPrivateIp", status=503)
        with pytest.raises(ServiceError):
            client.get_private_ip(vip["id"])

        imds_ctl = RemoteControl(imds_url)
        assert http_get(imds_url + "/opc/v2/instance/hostname") == (200, b"node2")
        imds_ctl.imds_down("node2")
        with pytest.raises((urllib.error.URLError, ConnectionError)):
            http_get(imds_url + "/opc/v2/instance/")
    finally:
        for proc in (core, imds):
            proc.send_signal(signal.SIGTERM)
        for proc in (core, imds):
            out, err = proc.communicate(timeout=10)
            assert proc.returncode == 0, err.decode()
            assert out == b"" and err == b""  # quiet unless --verbose
