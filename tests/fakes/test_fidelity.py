"""The fakes behave like recorded OCI traffic (tests/fakes/fidelity.py, docs/oci-behaviour.md).

CASSETTE Lnnn: oracle/oci-cli services/core/tests/cassettes/secondary_ip_operations.yml
at commit 4691236f, the line of that exchange's `- request:`.
"""

import datetime
import json
from typing import Any, Dict, List

import oci
import pytest
from oci.core.models import (
    CreateIpv6Details,
    CreatePrivateIpDetails,
    UpdatePrivateIpDetails,
)
from oci.exceptions import ServiceError

from tests.fakes import pki
from tests.fakes.errors import ApiError
from tests.fakes.fidelity import Fidelity, parse_setting
from tests.fakes.harness import FakeOci
from tests.fakes.server import build_parser
from tests.fakes.test_fakes import http_get, ip_rec, vnet

VIP = "10.0.0.100"
VIP6 = "fd00:20::100"
TWO_PREFIXES = ["fd00:10::/64", "fd00:20::/64"]


# -- UpdatePrivateIp that moves: the answer comes before the move ------------------------


@pytest.mark.fake_world(secondary_ips={VIP: "node1"})
def test_move_answer_has_no_vnic_and_an_etag_the_next_get_no_longer_has(
    fake_oci: FakeOci,
) -> None:
    client = vnet(fake_oci)
    n2 = fake_oci.node("node2")
    vip = ip_rec(fake_oci, VIP)
    before = client.get_private_ip(vip["id"]).headers["etag"]
    moved = client.update_private_ip(vip["id"], UpdatePrivateIpDetails(vnic_id=n2["vnic_id"]))
    # CASSETTE L1599: 200, no vnicId in the body, ETag 5028a73b.
    assert moved.status == 200 and moved.data.vnic_id is None
    assert moved.data.ip_address == VIP and moved.data.id == vip["id"]
    assert moved.headers["etag"] != before
    # CASSETTE L1636: the next GET has the new VNIC and another ETag (be85cd60).
    after = client.get_private_ip(vip["id"])
    assert after.data.vnic_id == n2["vnic_id"]
    assert after.headers["etag"] not in (before, moved.headers["etag"])


@pytest.mark.fake_world(secondary_ips={VIP: "node1"})
@pytest.mark.fake_fidelity(move_delay=3600.0)
def test_until_the_move_lands_the_address_is_on_no_vnic(fake_oci: FakeOci) -> None:
    client = vnet(fake_oci)
    n1, n2 = fake_oci.node("node1"), fake_oci.node("node2")
    vip = ip_rec(fake_oci, VIP)
    moved = client.update_private_ip(vip["id"], UpdatePrivateIpDetails(vnic_id=n2["vnic_id"]))
    assert fake_oci.moving(VIP) == n2["vnic_id"]

    # Meanwhile OCI shows what the answer showed: no vnicId, the answer's ETag.
    meanwhile = client.get_private_ip(vip["id"])
    assert meanwhile.data.vnic_id is None
    assert meanwhile.headers["etag"] == moved.headers["etag"]
    by_address = client.list_private_ips(ip_address=VIP, subnet_id=n1["subnet_id"]).data
    assert [p.vnic_id for p in by_address] == [None]
    for node in (n1, n2):
        on_vnic = client.list_private_ips(vnic_id=node["vnic_id"]).data
        assert VIP not in [p.ip_address for p in on_vnic]

    fake_oci.land_pending()
    landed = client.get_private_ip(vip["id"])
    assert landed.data.vnic_id == n2["vnic_id"] and fake_oci.moving(VIP) is None
    assert landed.headers["etag"] != moved.headers["etag"]


@pytest.mark.fake_world(secondary_ips={VIP: "node1"})
@pytest.mark.fake_fidelity(move_delay=3600.0)
def test_writes_while_a_move_lands(fake_oci: FakeOci) -> None:
    client = vnet(fake_oci)
    n1, n2 = fake_oci.node("node1"), fake_oci.node("node2")
    vip = ip_rec(fake_oci, VIP)
    moved = client.update_private_ip(vip["id"], UpdatePrivateIpDetails(vnic_id=n2["vnic_id"]))
    # The answer's ETag is current until the move lands: a conditional write passes.
    renamed = client.update_private_ip(
        vip["id"], UpdatePrivateIpDetails(display_name="vip"), if_match=moved.headers["etag"]
    )
    assert renamed.data.vnic_id is None and fake_oci.moving(VIP) == n2["vnic_id"]
    # Moving it again supersedes the landing (unrecorded; last writer wins).
    client.update_private_ip(vip["id"], UpdatePrivateIpDetails(vnic_id=n1["vnic_id"]))
    fake_oci.land_pending()
    assert client.get_private_ip(vip["id"]).data.vnic_id == n1["vnic_id"]
    assert client.get_private_ip(vip["id"]).data.display_name == "vip"

    client.update_private_ip(vip["id"], UpdatePrivateIpDetails(vnic_id=n2["vnic_id"]))
    assert client.delete_private_ip(vip["id"]).status == 204
    fake_oci.land_pending()  # a deleted address lands nowhere
    assert fake_oci.private_ip_by_address(VIP) is None


@pytest.mark.fake_world(secondary_ips={VIP: "node1"})
@pytest.mark.fake_fidelity(async_moves=False)
def test_synchronous_moves_when_switched_off(fake_oci: FakeOci) -> None:
    client = vnet(fake_oci)
    n2 = fake_oci.node("node2")
    moved = client.update_private_ip(
        ip_rec(fake_oci, VIP)["id"], UpdatePrivateIpDetails(vnic_id=n2["vnic_id"])
    ).data
    assert moved.vnic_id == n2["vnic_id"]


@pytest.mark.fake_world(secondary_ips={VIP: "node1"})
@pytest.mark.fake_fidelity(move_delay=3600.0)
def test_control_plane_moves_land_at_once(fake_oci: FakeOci) -> None:
    """fake.move_private_ip is "someone else, a while ago": no window to wait out."""
    assert fake_oci.move_private_ip(VIP, "node2")["vnicId"] == fake_oci.node("node2")["vnic_id"]
    assert fake_oci.moving(VIP) is None


@pytest.mark.fake_world(secondary_ips={VIP: "node1"})
def test_a_rename_keeps_the_etag_of_its_answer(fake_oci: FakeOci) -> None:
    client = vnet(fake_oci)
    vip = ip_rec(fake_oci, VIP)
    before = client.get_private_ip(vip["id"]).headers["etag"]
    renamed = client.update_private_ip(
        vip["id"], UpdatePrivateIpDetails(display_name="batman display name")
    )
    # CASSETTE L1816 answer and L1854 GET: both ETag 82f8833b, vnicId unchanged.
    assert renamed.data.vnic_id == fake_oci.node("node1")["vnic_id"]
    assert renamed.headers["etag"] != before
    assert client.get_private_ip(vip["id"]).headers["etag"] == renamed.headers["etag"]


# -- lists always page --------------------------------------------------------------------


@pytest.mark.fake_world(secondary_ips={VIP: "node1"})
def test_a_one_item_list_names_a_next_page_which_is_empty(fake_oci: FakeOci) -> None:
    client = vnet(fake_oci)
    subnet = fake_oci.node("node1")["subnet_id"]
    first = client.list_private_ips(ip_address=VIP, subnet_id=subnet)
    # CASSETTE L1225: one item and an opc-next-page.
    assert len(first.data) == 1 and first.next_page
    second = client.list_private_ips(ip_address=VIP, subnet_id=subnet, page=first.next_page)
    # CASSETTE L1960: the page it names is [] and names none.
    assert second.data == [] and not second.next_page
    # CASSETTE L1038: an empty answer names no next page.
    none = client.list_private_ips(ip_address="10.0.0.99", subnet_id=subnet)
    assert none.data == [] and not none.next_page
    everything = oci.pagination.list_call_get_all_results(
        client.list_private_ips, ip_address=VIP, subnet_id=subnet
    ).data
    assert [p.ip_address for p in everything] == [VIP]


@pytest.mark.fake_world(secondary_ips={VIP: "node1"}, ipv6_cidr="fd00:10::/64")
@pytest.mark.fake_fidelity(always_next_page=False)
def test_paging_only_when_needed_when_switched_off(fake_oci: FakeOci) -> None:
    client = vnet(fake_oci)
    subnet = fake_oci.node("node1")["subnet_id"]
    assert not client.list_private_ips(ip_address=VIP, subnet_id=subnet).next_page
    assert not client.list_ipv6s(subnet_id=subnet).next_page


@pytest.mark.fake_world(ipv6_cidr="fd00:10::/64")
def test_ipv6_lists_page_like_private_ip_lists(fake_oci: FakeOci) -> None:
    client = vnet(fake_oci)
    first = client.list_ipv6s(subnet_id=fake_oci.node("node1")["subnet_id"])
    assert len(first.data) == 2 and first.next_page


# -- denials per VNIC and per compartment ------------------------------------------------


def _status(call: Any) -> Any:
    with pytest.raises(ServiceError) as err:
        call()
    return err.value.status, err.value.code


@pytest.mark.fake_world(secondary_ips={VIP: "node1"})
def test_a_denied_vnic_in_the_body_is_400_related_resource(fake_oci: FakeOci) -> None:
    client = vnet(fake_oci)
    n1, n2 = fake_oci.node("node1"), fake_oci.node("node2")
    user = fake_oci.world["api_user"]["user_id"]
    fake_oci.deny_resources(user, ["node2"])  # node2's VNIC
    vip = ip_rec(fake_oci, VIP)
    related = (400, "RelatedResourceNotAuthorizedOrNotFound")
    assert (
        _status(
            lambda: client.update_private_ip(
                vip["id"], UpdatePrivateIpDetails(vnic_id=n2["vnic_id"])
            )
        )
        == related
    )
    assert (
        _status(
            lambda: client.create_private_ip(
                CreatePrivateIpDetails(vnic_id=n2["vnic_id"], ip_address="10.0.0.50")
            )
        )
        == related
    )
    # Named in the URI: 404, the recorded text for a query (CASSETTE L1889).
    assert _status(lambda: client.get_vnic(n2["vnic_id"])) == (404, "NotAuthorizedOrNotFound")
    with pytest.raises(ServiceError) as listed:
        client.list_private_ips(vnic_id=n2["vnic_id"])
    assert listed.value.status == 404
    assert "does not exist or you are not authorized to access it" in listed.value.message
    # Everything else still works; an unknown VNIC in the body answers the same 400.
    assert client.get_vnic(n1["vnic_id"]).status == 200
    ghost = n2["vnic_id"][:-4] + "zzzz"
    assert (
        _status(lambda: client.update_private_ip(vip["id"], UpdatePrivateIpDetails(vnic_id=ghost)))
        == related
    )
    fake_oci.allow()
    assert client.get_vnic(n2["vnic_id"]).status == 200


@pytest.mark.fake_world(secondary_ips={VIP: "node1"})
def test_a_denied_compartment(fake_oci: FakeOci, monkeypatch: pytest.MonkeyPatch) -> None:
    client = vnet(fake_oci)
    n1 = fake_oci.node("node1")
    fake_oci.deny_resources("*", [fake_oci.world["compartment_id"]])
    assert _status(lambda: client.get_vnic(n1["vnic_id"]))[0] == 404
    assert _status(lambda: client.get_subnet(n1["subnet_id"]))[0] == 404
    assert (
        _status(lambda: client.list_private_ips(ip_address=VIP, subnet_id=n1["subnet_id"]))[0]
        == 404
    )
    assert _status(lambda: client.get_private_ip(ip_rec(fake_oci, VIP)["id"]))[0] == 404


# -- creating an address that exists ------------------------------------------------------


@pytest.mark.parametrize("answer", ["409", "400"])
def test_creating_an_existing_address(answer: str, fake_oci: FakeOci) -> None:
    fake_oci.set_fidelity(existing_address=answer)
    client = vnet(fake_oci)
    details = CreatePrivateIpDetails(vnic_id=fake_oci.node("node2")["vnic_id"], ip_address=VIP)
    fake_oci.add_private_ip(VIP, "node1")
    with pytest.raises(ServiceError) as err:
        client.create_private_ip(details)
    if answer == "409":
        assert (err.value.status, err.value.code) == (409, "Conflict")
    else:
        assert (err.value.status, err.value.code) == (400, "InvalidParameter")
    assert "already" in err.value.message


# -- IPv6: lifecycleState, several prefixes per subnet -----------------------------------


@pytest.mark.fake_world(ipv6_cidr="fd00:10::/64")
@pytest.mark.fake_fidelity(ipv6_provisioning=3600.0)
def test_ipv6_lifecycle_state(fake_oci: FakeOci) -> None:
    client = vnet(fake_oci)
    n1 = fake_oci.node("node1")
    new = client.create_ipv6(CreateIpv6Details(vnic_id=n1["vnic_id"], ip_address="fd00:10::200"))
    assert new.data.lifecycle_state == "PROVISIONING"
    assert client.get_ipv6(new.data.id).data.lifecycle_state == "PROVISIONING"
    fake_oci.land_pending()
    assert client.get_ipv6(new.data.id).data.lifecycle_state == "AVAILABLE"
    fake_oci.set_ipv6_state("fd00:10::200", "TERMINATING")
    listed = client.list_ipv6s(subnet_id=n1["subnet_id"], ip_address="fd00:10::200").data
    assert [i.lifecycle_state for i in listed] == ["TERMINATING"]
    with pytest.raises(ApiError):
        fake_oci.set_ipv6_state("fd00:10::200", "GONE")


@pytest.mark.fake_world(ipv6_cidr=TWO_PREFIXES, secondary_ips={VIP6: "node1"})
def test_a_subnet_with_two_ipv6_prefixes(fake_oci: FakeOci) -> None:
    client = vnet(fake_oci)
    n1 = fake_oci.node("node1")
    subnet = client.get_subnet(n1["subnet_id"]).data
    assert subnet.ipv6_cidr_block == TWO_PREFIXES[0]
    assert subnet.ipv6_cidr_blocks == TWO_PREFIXES
    assert n1["ipv6"].startswith("fd00:10::")

    vnics: List[Dict[str, Any]] = json.loads(http_get(fake_oci.imds_base("node1") + "/vnics/")[1])
    # Captured IMDS answers carry one prefix, as a string; the addresses are all there.
    assert vnics[0]["ipv6SubnetCidrBlock"] == TWO_PREFIXES[0]
    assert vnics[0]["ipv6Addresses"] == [n1["ipv6"], VIP6]
    fake_oci.set_fidelity(imds_ipv6_cidr="list")
    vnics = json.loads(http_get(fake_oci.imds_base("node1") + "/vnics/")[1])
    assert vnics[0]["ipv6SubnetCidrBlock"] == TWO_PREFIXES

    # With two prefixes OCI cannot pick one for you (CreateIpv6Details.ipv6SubnetCidr).
    with pytest.raises(ServiceError) as which:
        client.create_ipv6(CreateIpv6Details(vnic_id=n1["vnic_id"]))
    assert which.value.status == 400 and "ipv6SubnetCidr" in which.value.message
    second = client.create_ipv6(
        CreateIpv6Details(vnic_id=n1["vnic_id"], ip_address="fd00:20::200")
    ).data
    assert second.ip_address == "fd00:20::200"
    assert fake_oci.ipv6_by_address("fd00:20::200") is not None


# -- the knobs themselves ------------------------------------------------------------------


def test_fidelity_knobs_are_checked() -> None:
    f = Fidelity()
    with pytest.raises(ValueError):
        f.update(existing_address="418")
    with pytest.raises(ValueError):
        f.update(move_delay=-1)
    with pytest.raises(ValueError):
        f.update(no_such_knob=True)
    assert f == Fidelity()  # a refused change changes nothing
    assert parse_setting("move_delay=0.4") == {"move_delay": 0.4}
    assert parse_setting("async_moves=false") == {"async_moves": False}
    with pytest.raises(ValueError):
        parse_setting("async_moves=maybe")
    args = build_parser().parse_args(
        ["--world", "w.json", "--fidelity", "move_delay=2", "--fidelity", "existing_address=400"]
    )
    assert args.fidelity == [{"move_delay": 2.0}, {"existing_address": "400"}]


def test_certificate_validity_on_any_cryptography() -> None:
    key = pki.pooled_key(0)
    cert = pki.make_cert("x", ["opc-fake"], key, days=2)
    not_before, not_after = pki.validity(cert)
    now = datetime.datetime.now(datetime.timezone.utc)
    assert not_before.tzinfo is not None and not_before < now < not_after
    assert (not_after - not_before).days == 3  # one day back, two ahead


@pytest.mark.fake_world(region="mx-monterrey-1")
def test_imds_region_of_a_region_old_sdks_do_not_know(fake_oci: FakeOci) -> None:
    """oci 2.93.1's table lacks mty: its signer then calls the region "mty"
    (issue 12 point 4); canonicalRegionName is right whatever the SDK."""
    base = fake_oci.imds_base("node1")
    assert http_get(base + "/instance/region") == (200, b"mty")
    doc = json.loads(http_get(base + "/instance/")[1])
    assert doc["canonicalRegionName"] == "mx-monterrey-1"
