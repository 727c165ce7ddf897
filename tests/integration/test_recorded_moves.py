"""assign_vip against a fake that moves like recorded OCI: the answer comes first,
without vnicId, and the move lands later (docs/oci-behaviour.md, issue 12 point 1)."""

import threading
from typing import Any

import pytest

from pcs_oci.common import reports
from pcs_oci.lib.errors import CloudError
from pcs_oci.lib.oci.api import IPV4
from pcs_oci.lib.vip import assign_vip
from tests.fakes.harness import meanwhile
from tests.integration.test_oci_layer import (
    AUTH_MODES,
    VIP,
    ApiFactory,
    on_vnic,
    vnic_of,
    writes,
)


def _updates(fake_oci: Any) -> int:
    return len(fake_oci.calls("UpdatePrivateIp"))


@pytest.mark.parametrize("auth", AUTH_MODES)
@pytest.mark.fake_world(secondary_ips={VIP: "node2"})
@pytest.mark.fake_fidelity(move_delay=0.4)
def test_start_reads_back_until_the_move_has_landed(
    fake_oci: Any, make_api: ApiFactory, auth: str
) -> None:
    local = vnic_of(fake_oci, "node1")
    result = assign_vip(make_api(auth), local, VIP)
    assert (result.action, result.previous_vnic_id) == ("moved", vnic_of(fake_oci, "node2"))
    assert on_vnic(fake_oci, VIP) == local and _updates(fake_oci) == 1
    update = fake_oci.calls("UpdatePrivateIp")[0]
    read_backs = [c for c in fake_oci.calls("GetPrivateIp") if c["time"] > update["time"]]
    assert read_backs and all(c["status"] == 200 for c in read_backs)


@pytest.mark.fake_world(secondary_ips={VIP: "node2"})
@pytest.mark.fake_fidelity(move_delay=3600.0)
def test_a_move_that_has_not_landed_in_time_is_never_written_twice(
    fake_oci: Any, make_api: ApiFactory
) -> None:
    local = vnic_of(fake_oci, "node1")
    with pytest.raises(CloudError) as late:
        assign_vip(make_api(), local, VIP, budget_seconds=1.5)
    assert late.value.codes == [reports.VIP_MOVE_NOT_CONFIRMED] and late.value.transient
    message = late.value.reports[0].message
    assert "accepted the move" in message and "still shows no VNIC" in message
    assert _updates(fake_oci) == 1
    # The next start finds it in flight to this node, waits, and writes nothing.
    with meanwhile(0.3, fake_oci.land_pending):
        again = assign_vip(make_api(), local, VIP)
    assert again.action == "unchanged" and _updates(fake_oci) == 1


@pytest.mark.fake_world(nodes=("node1", "node2", "node3"), secondary_ips={VIP: "node1"})
@pytest.mark.fake_fidelity(move_delay=3600.0)
def test_someone_elses_move_in_flight_is_not_overtaken(fake_oci: Any, make_api: ApiFactory) -> None:
    """An address on no VNIC while a move lands is not an unassigned one: start
    lets the move land, then moves it from where it landed (with its ETag)."""
    local, other = vnic_of(fake_oci, "node2"), vnic_of(fake_oci, "node3")
    vip_id = fake_oci.private_ip_by_address(VIP)["id"]
    make_api().move_ip(IPV4, vip_id, other, None)  # in flight to node3
    assert fake_oci.moving(VIP) == other
    fake_oci.clear_calls()

    done = threading.Event()

    def land_once_start_has_looked() -> None:
        # Land moves only after start has read the address on no VNIC; then
        # start's own move too.
        while not done.wait(0.025):
            if fake_oci.calls("GetPrivateIp"):
                fake_oci.land_pending()

    watcher = threading.Thread(target=land_once_start_has_looked)
    watcher.start()
    try:
        result = assign_vip(make_api(), local, VIP)
    finally:
        done.set()
        watcher.join()
    assert (result.action, result.previous_vnic_id) == ("moved", other)
    assert on_vnic(fake_oci, VIP) == local
    (update,) = fake_oci.calls("UpdatePrivateIp")
    assert update["body"] == {"vnicId": local}


@pytest.mark.fake_world(reserved_ips=[VIP])
@pytest.mark.fake_fidelity(move_delay=0.2)
def test_an_unassigned_reserved_ip_is_not_waited_on(fake_oci: Any, make_api: ApiFactory) -> None:
    """ipState AVAILABLE says "on no VNIC on purpose" (SDKs from 2.146.0 show it;
    older ones drop it, and start waits vip.IN_FLIGHT_GRACE_SECONDS first: the
    budget leaves room for that)."""
    local = vnic_of(fake_oci, "node1")
    result = assign_vip(make_api(max_total_seconds=15), local, VIP)
    assert (result.action, result.previous_vnic_id) == ("moved", None)
    assert on_vnic(fake_oci, VIP) == local
    assert [w["op"] for w in writes(fake_oci)] == ["UpdatePrivateIp"]
