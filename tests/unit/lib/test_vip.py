from typing import Dict, Tuple

import pytest

from pcs_oci.common import reports
from pcs_oci.lib import vip
from pcs_oci.lib.errors import CloudError, PcsOciError
from pcs_oci.lib.oci.api import IpFamily
from pcs_oci.lib.private_ip import PrivateIpInfo
from pcs_oci.lib.vip import AssignResult, assign_vip, where_is_vip
from tests.tools.fake_oci_api import FakeOciApi, cloud_error, where

VIP = "10.0.0.10"
VIP6 = "2001:db8:0:1::10"


def world() -> Tuple[FakeOciApi, str, str, str]:
    """Two nodes' VNICs in one subnet: (api, subnet, local vnic, other vnic)."""
    api = FakeOciApi()
    subnet = api.add_subnet("10.0.0.0/24", "2001:db8:0:1::/64")
    local = api.add_vnic(subnet, "10.0.0.2")
    other = api.add_vnic(subnet, "10.0.0.3")
    return api, subnet, local, other


def test_already_here_makes_no_write_call() -> None:
    api, subnet, local, _ = world()
    pid = api.add_private_ip(VIP, local, subnet)
    assert assign_vip(api, local, VIP) == AssignResult("unchanged", pid, local)
    assert api.ops() == ["get_vnic", "list_private_ips"]
    assert api.calls[1].args == {"ip_address": VIP, "subnet_id": subnet, "vnic_id": None}
    assert api.budgets == [None]


def test_on_another_vnic_is_moved_with_its_etag() -> None:
    api, subnet, local, other = world()
    pid = api.add_private_ip(VIP, other, subnet)
    assert assign_vip(api, local, VIP) == AssignResult("moved", pid, other)
    assert api.ops() == [
        "get_vnic",
        "list_private_ips",
        "get_private_ip",
        "update_private_ip_vnic",
        "get_private_ip",
    ]
    assert api.writes()[0].args == {"id": pid, "vnic_id": local, "if_match": "etag-1"}
    assert where(api, pid)[0] == local


def test_reserved_unassigned_ip_is_moved_from_nowhere() -> None:
    api, subnet, local, _ = world()
    pid = api.add_private_ip(VIP, None, subnet)
    assert assign_vip(api, local, VIP) == AssignResult("moved", pid, None)


def test_absent_is_created_with_a_retry_token() -> None:
    api, _, local, _ = world()
    result = assign_vip(api, local, VIP)
    assert result.action == "created" and result.previous_vnic_id is None
    (create,) = api.writes()
    assert create.op == "create_private_ip"
    assert create.args["vnic_id"] == local and create.args["ip"] == VIP
    assert len(create.args["retry_token"]) >= 16
    assert where(api, result.private_ip_id)[0] == local


def test_address_comparison_is_exact_not_textual() -> None:
    # The service answering a sloppy match (10.0.0.100 for 10.0.0.10) must not count.
    api, subnet, local, other = world()
    api.add_private_ip("10.0.0.100", other, subnet)
    real_list = api.list_ips

    def sloppy(family: IpFamily, **kwargs: object) -> list:
        return real_list(family, subnet_id=kwargs.get("subnet_id"))  # type: ignore[arg-type]

    api.list_ips = sloppy  # type: ignore[method-assign,assignment]
    assert assign_vip(api, local, VIP).action == "created"


def test_primary_ip_of_the_target_vnic_is_refused() -> None:
    api, _, local, _ = world()
    with pytest.raises(PcsOciError) as e:
        assign_vip(api, local, "10.0.0.2")
    assert e.value.codes == [reports.VIP_IS_PRIMARY_IP]
    assert not getattr(e.value, "transient", False)
    assert "a primary IP cannot move" in e.value.reports[0].hint
    assert api.writes() == []


def test_primary_ip_of_another_vnic_is_refused() -> None:
    api, _, local, other = world()
    with pytest.raises(PcsOciError) as e:
        assign_vip(api, local, "10.0.0.3")
    assert e.value.codes == [reports.VIP_IS_PRIMARY_IP]
    assert other in e.value.reports[0].message
    assert api.writes() == []


def test_412_when_a_third_vnic_took_it_fails_without_taking_it_back() -> None:
    api, subnet, local, other = world()
    third = api.add_vnic(subnet, "10.0.0.4")
    pid = api.add_private_ip(VIP, other, subnet)
    # Another node moves it to its VNIC between our GetPrivateIp and our update:
    # it won the race; we must not steal it back.
    api.before("update_private_ip_vnic", lambda: api.move_behind_back(pid, third))
    with pytest.raises(CloudError) as e:
        assign_vip(api, local, VIP)
    assert e.value.codes == [reports.VIP_MOVE_CONFLICT] and e.value.transient
    assert (e.value.status, e.value.request_id) == (412, "req-412-NoEtagMatch")
    message = e.value.reports[0].message
    assert message.startswith("OCI UpdatePrivateIp lost a race: NoEtagMatch (HTTP 412")
    assert third in message
    assert [u.args["if_match"] for u in api.writes()] == ["etag-1"]
    assert where(api, pid)[0] == third


def test_412_when_only_the_etag_changed_is_reread_and_retried() -> None:
    api, subnet, local, other = world()
    pid = api.add_private_ip(VIP, other, subnet)
    # Touched (new etag) but still on the VNIC we saw: not a lost race.
    api.before("update_private_ip_vnic", lambda: api.move_behind_back(pid, other))
    assert assign_vip(api, local, VIP) == AssignResult("moved", pid, other)
    assert [u.args["if_match"] for u in api.writes()] == ["etag-1", "etag-2"]
    assert where(api, pid)[0] == local


def test_412_when_the_other_side_moved_it_to_us_is_unchanged() -> None:
    api, subnet, local, other = world()
    pid = api.add_private_ip(VIP, other, subnet)
    api.before("update_private_ip_vnic", lambda: api.move_behind_back(pid, local))
    assert assign_vip(api, local, VIP) == AssignResult("unchanged", pid, local)


def test_412_forever_is_bounded_and_transient() -> None:
    api, subnet, local, other = world()
    api.add_private_ip(VIP, other, subnet)
    api.fail("update_private_ip_vnic", cloud_error(412, "NoEtagMatch"), count=10)
    with pytest.raises(CloudError) as e:
        assign_vip(api, local, VIP, max_races=3)
    assert e.value.codes == [reports.OCI_PRECONDITION_FAILED]
    assert e.value.transient
    assert len(api.writes()) == 3


def test_create_conflict_means_someone_else_created_it_and_won() -> None:
    api, subnet, local, other = world()
    holder: Dict[str, str] = {}
    api.before(
        "create_private_ip",
        lambda: holder.setdefault("id", api.add_private_ip(VIP, other, subnet)),
    )
    with pytest.raises(CloudError) as e:
        assign_vip(api, local, VIP)
    assert e.value.codes == [reports.VIP_MOVE_CONFLICT] and e.value.transient
    assert "created on VNIC " + other in e.value.reports[0].message
    assert where(api, holder["id"])[0] == other
    assert [c.op for c in api.writes()] == ["create_private_ip"]


def test_create_conflict_when_it_was_created_on_our_vnic_is_unchanged() -> None:
    api, subnet, local, _ = world()
    holder: Dict[str, str] = {}
    api.before(
        "create_private_ip",
        lambda: holder.setdefault("id", api.add_private_ip(VIP, local, subnet)),
    )
    assert assign_vip(api, local, VIP) == AssignResult("unchanged", holder["id"], local)


def test_several_matches_are_ambiguous() -> None:
    api, subnet, local, other = world()
    api.add_private_ip(VIP, other, subnet)
    api.add_private_ip(VIP, None, subnet)
    with pytest.raises(CloudError) as e:
        assign_vip(api, local, VIP)
    assert e.value.codes == [reports.VIP_AMBIGUOUS]
    assert api.writes() == []


def test_move_not_confirmed_by_the_read_back() -> None:
    api, subnet, local, other = world()
    pid = api.add_private_ip(VIP, other, subnet)
    gets = {"n": 0}

    def steal() -> None:
        gets["n"] += 1
        if gets["n"] == 2:  # the read-back
            api.move_behind_back(pid, other)

    api.before("get_private_ip", steal)
    api.before("get_private_ip", steal)
    with pytest.raises(CloudError) as e:
        assign_vip(api, local, VIP)
    assert e.value.codes == [reports.VIP_MOVE_NOT_CONFIRMED]
    assert e.value.transient


def test_errors_pass_through_with_their_codes() -> None:
    api, subnet, local, other = world()
    api.add_private_ip(VIP, other, subnet)
    api.fail("update_private_ip_vnic", cloud_error(404, "NotAuthorizedOrNotFound"))
    with pytest.raises(CloudError) as e:
        assign_vip(api, local, VIP)
    assert e.value.codes == [reports.OCI_NOT_AUTHORIZED]
    assert "allow dynamic-group" in e.value.reports[0].hint


def test_unknown_vnic() -> None:
    api, _, _, _ = world()
    with pytest.raises(CloudError) as e:
        assign_vip(api, "ocid1.vnic.nope", VIP)
    assert e.value.codes == [reports.OCI_NOT_AUTHORIZED]


def test_ipv6_moved_created_unchanged() -> None:
    api, subnet, local, other = world()
    iid = api.add_ipv6(VIP6, other, subnet)
    # Written differently from the stored text: compared as addresses.
    assert assign_vip(api, local, "2001:DB8:0:1:0:0:0:10") == AssignResult("moved", iid, other)
    assert assign_vip(api, local, VIP6) == AssignResult("unchanged", iid, local)
    created = assign_vip(api, local, "2001:db8:0:1::11")
    assert created.action == "created"
    ops = api.ops()
    assert "list_private_ips" not in ops and "update_ipv6_vnic" in ops and "create_ipv6" in ops


def test_ipv6_412_race() -> None:
    api, subnet, local, other = world()
    iid = api.add_ipv6(VIP6, other, subnet)
    api.before("update_ipv6_vnic", lambda: api.move_behind_back(iid, other))
    assert assign_vip(api, local, VIP6).action == "moved"
    assert len(api.writes()) == 2


def test_where_is_vip() -> None:
    api, subnet, _, other = world()
    assert where_is_vip(api, VIP, subnet) is None
    pid = api.add_private_ip(VIP, other, subnet)
    assert where_is_vip(api, VIP, subnet) == PrivateIpInfo(pid, other, False)
    assert where_is_vip(api, "10.0.0.3", subnet).is_primary  # type: ignore[union-attr]
    assert api.writes() == []


def test_create_answered_400_already_is_a_lost_race_too() -> None:
    # Issue 12 point 7: neither 409 nor 400 is documented for an existing address.
    api, subnet, local, other = world()
    api.before("create_private_ip", lambda: api.add_private_ip(VIP, other, subnet))
    api.fail(
        "create_private_ip",
        cloud_error(400, "InvalidParameter", "CreatePrivateIp", "IP address is already assigned"),
    )
    with pytest.raises(CloudError) as e:
        assign_vip(api, local, VIP)
    assert e.value.codes == [reports.VIP_MOVE_CONFLICT] and e.value.transient
    assert "CreatePrivateIp lost a race" in e.value.reports[0].message
    assert "created on VNIC " + other in e.value.reports[0].message


def test_other_400s_on_create_are_errors() -> None:
    api, _, local, _ = world()
    api.fail("create_private_ip", cloud_error(400, "InvalidParameter", "CreatePrivateIp", "bad"))
    with pytest.raises(CloudError) as e:
        assign_vip(api, local, VIP)
    assert e.value.codes == [reports.OCI_REQUEST_ERROR] and not e.value.transient


def test_no_vnic_and_no_ip_state_is_waited_on_then_taken_as_unassigned(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # SDKs before 2.146.0 drop ipState: a reserved, unassigned address looks
    # like a move in flight until the grace is over.
    monkeypatch.setattr(vip, "IN_FLIGHT_GRACE_SECONDS", 0.3)
    api, subnet, local, _ = world()
    pid = api.add_private_ip(VIP, None, subnet)
    del api.private_ips[pid]["ip_state"]
    assert assign_vip(api, local, VIP) == AssignResult("moved", pid, None)
    reads = api.ops().index("update_private_ip_vnic")
    assert api.ops()[:reads].count("get_private_ip") >= 2  # waited, read again
    assert len(api.writes()) == 1


def test_a_move_in_flight_lands_on_us_and_nothing_is_written() -> None:
    api, subnet, local, _ = world()
    pid = api.add_private_ip(VIP, None, subnet)
    api.private_ips[pid]["ip_state"] = "ASSIGNED"  # on no VNIC: in flight
    api.before("get_private_ip", lambda: None)
    api.before("get_private_ip", lambda: api.move_behind_back(pid, local))
    assert assign_vip(api, local, VIP) == AssignResult("unchanged", pid, local)
    assert api.writes() == []
