"""IPv6 VIPs and the Ipv6 lifecycleState, with the real SDK against the fake
(PROVISIONING, AVAILABLE, TERMINATING, TERMINATED: the SDK model's states; no
recording shows them, see pcs_oci/lib/vip.py for what is assumed)."""

from pathlib import Path
from typing import Any

import pytest

from pcs_oci.common import reports
from pcs_oci.lib.errors import CloudError
from pcs_oci.lib.vip import assign_vip, where_is_vip
from tests.fakes.harness import FakeOci, meanwhile
from tests.integration.test_oci_layer import VIP6, ApiFactory, on_vnic, vnic_of
from tests.integration.test_public_ips import status_on

V6_WORLD = {"ipv6_cidr": "fd00:10::/64"}


def _ready(api: Any, vnic_id: str) -> Any:
    """The API with its SDK client built (the SDK import and the key's loading
    can take seconds on a loaded machine; the budgets below are for the move)."""
    api.get_vnic(vnic_id)
    return api


def _creates(fake: FakeOci) -> int:
    return len(fake.calls("CreateIpv6"))


@pytest.mark.fake_world(**V6_WORLD)
@pytest.mark.fake_fidelity(ipv6_provisioning=3600.0)
def test_a_created_ipv6_is_waited_on_until_available(
    fake_oci: FakeOci, make_api: ApiFactory
) -> None:
    local = vnic_of(fake_oci, "node1")
    api = _ready(make_api(), local)
    with pytest.raises(CloudError) as late:
        assign_vip(api, local, VIP6, budget_seconds=1.5)
    assert late.value.codes == [reports.VIP_MOVE_NOT_CONFIRMED] and late.value.transient
    assert "still PROVISIONING" in late.value.reports[0].message
    assert _creates(fake_oci) == 1 and on_vnic(fake_oci, VIP6) == local
    # The next start finds it on this VNIC, waits for AVAILABLE, creates nothing.
    with meanwhile(0.3, fake_oci.land_pending):
        again = assign_vip(make_api(), local, VIP6)
    assert again.action == "unchanged" and _creates(fake_oci) == 1
    assert fake_oci.ipv6_by_address(VIP6)["lifecycleState"] == "AVAILABLE"


@pytest.mark.fake_world(secondary_ips={VIP6: "node2"}, **V6_WORLD)
def test_an_ipv6_being_deleted_is_created_anew_once_gone(
    fake_oci: FakeOci, make_api: ApiFactory
) -> None:
    local = vnic_of(fake_oci, "node1")
    old = fake_oci.ipv6_by_address(VIP6)["id"]
    fake_oci.set_ipv6_state(VIP6, "TERMINATING")
    api = _ready(make_api(), local)
    with pytest.raises(CloudError) as busy:
        assign_vip(api, local, VIP6, budget_seconds=1.5)
    assert busy.value.codes == [reports.VIP_MOVE_NOT_CONFIRMED] and busy.value.transient
    assert "being deleted (TERMINATING)" in busy.value.reports[0].message
    assert not fake_oci.calls("UpdateIpv6") and not fake_oci.calls("CreateIpv6")

    with meanwhile(0.3, fake_oci.set_ipv6_state, VIP6, "TERMINATED"):
        result = assign_vip(make_api(), local, VIP6)
    assert result.action == "created" and result.private_ip_id != old
    assert not fake_oci.calls("UpdateIpv6")


@pytest.mark.fake_world(secondary_ips={VIP6: "node1"}, **V6_WORLD)
def test_a_terminated_ipv6_is_absent_to_lookups(fake_oci: FakeOci, make_api: ApiFactory) -> None:
    api = make_api()
    subnet = api.get_vnic(vnic_of(fake_oci, "node1"))["subnet_id"]
    info: Any = where_is_vip(api, VIP6, subnet)
    assert info is not None and info.state == "AVAILABLE" and not info.gone
    fake_oci.set_ipv6_state(VIP6, "TERMINATING")
    info = where_is_vip(api, VIP6, subnet)
    assert info is not None and info.gone and not info.moving
    fake_oci.set_ipv6_state(VIP6, "TERMINATED")
    assert where_is_vip(api, VIP6, subnet) is None


@pytest.mark.fake_world(secondary_ips={VIP6: "node1"}, **V6_WORLD)
def test_status_shows_an_ipv6_being_deleted_on_no_vnic(
    fake_oci: FakeOci, tmp_path: Path, monkeypatch: Any
) -> None:
    monkeypatch.setenv("PCS_OCI_FEDERATION_ENDPOINT", fake_oci.federation_endpoint)
    monkeypatch.setenv("OCI_METADATA_BASE_URL", fake_oci.imds_base("node1"))
    (vip,) = status_on(fake_oci, tmp_path, "node1", VIP6, 64).vips
    assert vip.problems == [] and vip.oci_node == "node1"
    # TERMINATING keeps its vnicId in the answer, but the address is going
    fake_oci.set_ipv6_state(VIP6, "TERMINATING")
    (vip,) = status_on(fake_oci, tmp_path, "node1", VIP6, 64).vips
    assert vip.oci_vnic_id is None
    assert [p.code for p in vip.problems] == [reports.VIP_NOT_IN_OCI]
