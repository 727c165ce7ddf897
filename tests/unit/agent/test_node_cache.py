"""The node cache: what start, monitor_api and the warm-up after a probe learn
about the VIP, how start uses it (the write is the second Core API call),
and every stale or corrupt case ending in a correct move."""

import json
import os
import time
from typing import Any, Dict, List

import pytest

from pcs_oci.agent import node_cache, ocf, state, warm
from pcs_oci.lib.oci.settings import OciSettings
from tests.tools.fake_oci_api import cloud_error, where
from tests.unit.agent.test_handlers import VIP, World

# The Core calls of a start on a node that knows the VIP, the VIP elsewhere.
FAST_MOVE = ["get_private_ip", "update_private_ip_vnic", "get_private_ip"]
# ... and without the node cache (today's full lookup).
FULL_MOVE = ["get_vnic", "list_private_ips", "get_private_ip", "update_private_ip_vnic"]
FULL_MOVE += ["get_private_ip"]


@pytest.fixture
def world(tmp_path: Any, monkeypatch: Any) -> World:
    return World(tmp_path, monkeypatch)


def seen_before(world: World, vnic: str) -> str:
    """The VIP on vnic; node1 started it once and stopped it (the cache stays)."""
    pid = world.api.add_private_ip(VIP, world.vnic1, world.subnet)
    assert world.run("start") == ocf.OCF_SUCCESS
    assert world.run("stop") == ocf.OCF_SUCCESS
    world.api.move_behind_back(pid, vnic)
    world.api.calls.clear()
    return pid


def edit_state(world: World, **changes: Any) -> None:
    data = world.state() or {}
    data.update(changes)
    state.save(world.env, data)


def test_first_start_records_the_node_cache(world: World) -> None:
    pid = world.api.add_private_ip(VIP, world.vnic2, world.subnet)
    assert world.run("start") == ocf.OCF_SUCCESS
    assert world.api.ops() == FULL_MOVE
    saved = world.state() or {}
    assert (saved["ip"], saved["vnic_id"], saved["subnet_id"], saved["private_ip_id"]) == (
        VIP,
        world.vnic1,
        world.subnet,
        pid,
    )


def test_a_node_that_saw_the_vip_writes_with_its_second_core_call(world: World) -> None:
    pid = seen_before(world, world.vnic2)
    assert world.run("start") == ocf.OCF_SUCCESS
    assert world.api.ops() == FAST_MOVE
    assert where(world.api, pid)[0] == world.vnic1
    # The address needed no metadata service either (it was found before).
    assert world.imds.calls == 1  # the first start's


def test_vip_already_here_is_one_read(world: World) -> None:
    seen_before(world, world.vnic1)
    assert world.run("start") == ocf.OCF_SUCCESS
    assert world.api.ops() == ["get_private_ip"]
    assert world.api.writes() == []


def test_private_ip_deleted_since_falls_back_to_the_full_lookup(world: World) -> None:
    old = seen_before(world, world.vnic2)
    del world.api.private_ips[old]
    new = world.api.add_private_ip(VIP, world.vnic2, world.subnet)
    assert world.run("start") == ocf.OCF_SUCCESS
    assert world.api.ops() == ["get_private_ip"] + FULL_MOVE
    assert where(world.api, new)[0] == world.vnic1
    assert (world.state() or {})["private_ip_id"] == new


def test_subnet_changed_falls_back_to_the_full_lookup(world: World) -> None:
    """The cache names another subnet than the one OCI has the private IP in:
    the configuration changed under it; OCI's own answer decides."""
    pid = seen_before(world, world.vnic2)
    other = world.api.add_subnet("10.1.0.0/24")
    edit_state(world, subnet_id=other)
    assert world.run("start") == ocf.OCF_SUCCESS
    assert world.api.ops() == ["get_private_ip"] + FULL_MOVE
    assert where(world.api, pid)[0] == world.vnic1
    assert (world.state() or {})["subnet_id"] == world.subnet


def test_cached_ocid_of_another_address_falls_back(world: World) -> None:
    pid = seen_before(world, world.vnic2)
    stranger = world.api.add_private_ip("10.0.0.99", world.vnic2, world.subnet)
    edit_state(world, private_ip_id=stranger)
    assert world.run("start") == ocf.OCF_SUCCESS
    assert where(world.api, pid)[0] == world.vnic1
    assert where(world.api, stranger)[0] == world.vnic2  # never a wrong move


def test_private_ip_moved_by_someone_else_since_it_was_recorded(world: World) -> None:
    """Recorded on vnic1; someone put it on a third VNIC meanwhile: the read
    shows where it is now, and the move takes it from there."""
    vnic3 = world.api.add_vnic(world.subnet, "10.0.0.13")
    pid = seen_before(world, vnic3)
    assert world.run("start") == ocf.OCF_SUCCESS
    assert world.api.ops() == FAST_MOVE
    assert where(world.api, pid)[0] == world.vnic1
    moved = [m for _, m in world.plumbing.logger.records if "moved" in m]
    assert vnic3 in moved[0]


def test_someone_elses_move_in_flight_on_the_fast_path_lands_first(world: World) -> None:
    """The read by the known OCID shows the VIP on no VNIC (ASSIGNED: a move
    in flight, issue 12): the start lets it land (on a third VNIC), then
    moves it here with one write, from where it landed."""
    vnic3 = world.api.add_vnic(world.subnet, "10.0.0.13")
    pid = seen_before(world, world.vnic2)
    world.api.move_behind_back(pid, None)
    world.api.private_ips[pid]["ip_state"] = "ASSIGNED"
    world.api.calls.clear()
    world.api.before("get_private_ip", lambda: None)
    world.api.before("get_private_ip", lambda: world.api.move_behind_back(pid, vnic3))
    assert world.run("start") == ocf.OCF_SUCCESS
    ops = world.api.ops()
    assert ops[:2] == ["get_private_ip", "get_private_ip"] and "get_vnic" not in ops
    (write,) = world.api.writes()
    assert write.args["vnic_id"] == world.vnic1
    assert where(world.api, pid)[0] == world.vnic1


def test_lost_write_on_the_fast_path_keeps_the_race_rules(world: World) -> None:
    """Moved to a third VNIC between our read and our write (412): we look
    again and do not take it back from the winner."""
    vnic3 = world.api.add_vnic(world.subnet, "10.0.0.13")
    pid = seen_before(world, world.vnic2)
    world.api.before("update_private_ip_vnic", lambda: world.api.move_behind_back(pid, vnic3))
    assert world.run("start") == ocf.OCF_ERR_GENERIC
    assert "lost a race" in world.plumbing.reasons[0]
    assert where(world.api, pid)[0] == vnic3
    # What the node knew is forgotten with the failed start.
    assert world.state() is None


def test_only_the_etag_changed_on_the_fast_path_is_moved_after_a_full_look(world: World) -> None:
    pid = seen_before(world, world.vnic2)
    world.api.before("update_private_ip_vnic", lambda: world.api.move_behind_back(pid, world.vnic2))
    assert world.run("start") == ocf.OCF_SUCCESS
    # The subnet is known (and checked): the full lookup needs no GetVnic.
    assert world.api.ops() == ["get_private_ip", "update_private_ip_vnic"] + FULL_MOVE[1:]
    assert where(world.api, pid)[0] == world.vnic1


@pytest.mark.parametrize(
    "content",
    [
        "{",  # truncated
        "",
        "[]",
        json.dumps({"ip": VIP, "vnic_id": "v", "subnet_id": 1, "private_ip_id": None}),
        json.dumps({"ip": VIP, "vnic_id": "ocid1.vnic..x", "private_ip_id": "x; rm -rf /"}),
    ],
)
def test_corrupt_state_file_means_the_full_lookup(world: World, content: str) -> None:
    pid = seen_before(world, world.vnic2)
    with open(os.path.join(world.env["PCS_OCI_STATE_DIR"], "vip.json"), "w") as f:
        f.write(content)
    assert world.run("start") == ocf.OCF_SUCCESS
    assert world.api.ops() == FULL_MOVE
    assert where(world.api, pid)[0] == world.vnic1


def test_cache_of_another_vnic_is_not_used(world: World) -> None:
    """vnic_ids changed (the node got another VNIC): the cache keyed by the
    old VNIC does not apply."""
    pid = seen_before(world, world.vnic2)
    vnic3 = world.api.add_vnic(world.subnet, "10.0.0.13")
    assert world.run("start", OCF_RESKEY_vnic_ids="node1={}".format(vnic3)) == ocf.OCF_SUCCESS
    assert world.api.ops()[:2] == ["get_vnic", "list_private_ips"]
    assert where(world.api, pid)[0] == vnic3


def test_the_address_goes_up_while_oci_moves_the_vip(world: World) -> None:
    """IPaddr2 start runs while UpdatePrivateIp is in flight, not after it."""
    seen_before(world, world.vnic2)
    up = world.env["FAKE_STATE"]
    seen: List[bool] = []

    def wait_for_the_address() -> None:
        deadline = time.monotonic() + 30
        while not os.path.exists(up) and time.monotonic() < deadline:
            time.sleep(0.01)
        seen.append(os.path.exists(up))

    world.api.before("update_private_ip_vnic", wait_for_the_address)
    assert world.run("start") == ocf.OCF_SUCCESS
    assert seen == [True]
    assert world.ipaddr2_calls()[-2:] == ["start", "monitor"]


def test_start_waits_for_both_halves_and_reports_the_address_failure(world: World) -> None:
    pid = seen_before(world, world.vnic2)
    assert world.run("start", FAKE_RC_start="1") == 1
    # OCI was moved (the halves run side by side); Pacemaker stops it here.
    assert where(world.api, pid)[0] == world.vnic1


# ---------------------------------------------------------------- monitor_api


def monitor_api(world: World) -> int:
    return world.run("monitor", OCF_RESKEY_monitor_api="true", OCF_RESKEY_CRM_meta_interval="10000")


def test_due_check_records_the_subnet_and_reads_by_ocid(world: World) -> None:
    pid = world.api.add_private_ip(VIP, world.vnic1, world.subnet)
    state.save(world.env, {"ip": VIP, "checked_at": 0})
    open(world.env["FAKE_STATE"], "w").close()  # the address is up
    assert monitor_api(world) == ocf.OCF_SUCCESS
    assert world.api.ops() == ["get_vnic", "list_private_ips"]
    world.api.calls.clear()
    world.now += 3600
    assert monitor_api(world) == ocf.OCF_SUCCESS
    assert world.api.ops() == ["get_private_ip"]
    assert (world.state() or {})["private_ip_id"] == pid


def test_due_check_with_a_deleted_ocid_looks_up_instead_of_warning(world: World) -> None:
    old = seen_before(world, world.vnic1)
    del world.api.private_ips[old]
    new = world.api.add_private_ip(VIP, world.vnic1, world.subnet)
    world.now += 3600
    assert world.run("start") == ocf.OCF_SUCCESS
    world.api.calls.clear()
    edit_state(world, private_ip_id=old, checked_at=0)
    assert monitor_api(world) == ocf.OCF_SUCCESS
    assert world.api.ops() == ["get_private_ip", "get_vnic", "list_private_ips"]
    assert world.warnings() == []
    assert (world.state() or {})["private_ip_id"] == new


# ---------------------------------------------------------------- probe and warm-up


def probe(world: World) -> int:
    return world.run("monitor", OCF_RESKEY_CRM_meta_interval="0")


def test_probe_on_a_node_that_does_not_know_the_vip_starts_the_warm_up(world: World) -> None:
    assert probe(world) == ocf.OCF_NOT_RUNNING
    assert world.api.calls == []  # the probe itself never calls OCI
    (env,) = world.warm_ups
    assert env["OCF_RESKEY_ip"] == VIP


def test_warm_up_learns_the_vip_for_the_next_start(world: World) -> None:
    pid = world.api.add_private_ip(VIP, world.vnic2, world.subnet)
    learnt = warm.warm_up(world.ctx("warm-up"))
    assert learnt is not None and learnt["private_ip_id"] == pid
    assert world.api.ops() == ["get_vnic", "list_private_ips"]
    assert probe(world) == ocf.OCF_NOT_RUNNING and world.warm_ups == []
    world.api.calls.clear()
    assert world.run("start") == ocf.OCF_SUCCESS
    assert world.api.ops() == FAST_MOVE
    assert where(world.api, pid)[0] == world.vnic1


def test_warm_up_keeps_what_a_start_wrote_meanwhile(world: World) -> None:
    world.api.add_private_ip(VIP, world.vnic2, world.subnet)

    def start_meanwhile() -> None:
        assert world.run("start") == ocf.OCF_SUCCESS

    world.api.before("list_private_ips", start_meanwhile)
    assert warm.warm_up(world.ctx("warm-up")) is None
    assert (world.state() or {})["checked_at"] == world.now


def test_warm_up_failure_changes_nothing(world: World) -> None:
    world.api.add_private_ip(VIP, world.vnic2, world.subnet)
    world.api.fail("get_vnic", cloud_error(503, "ServiceUnavailable"))
    # A failure is a line in the log at info and exit 1, no traceback.
    assert warm.main(ctx=world.ctx("warm-up")) == 1
    ((level, message),) = world.plumbing.logger.records
    assert level == "info" and "ServiceUnavailable" in message
    assert world.state() is None
    assert warm.main(ctx=world.ctx("warm-up", OCF_RESKEY_ip="")) == 1


# ---------------------------------------------------------------- node_cache


def test_endpoint_hint_only_for_the_region_it_was_resolved_for() -> None:
    settings = OciSettings()
    learnt = node_cache.learnt(VIP, "v", None, None, _Resolved(), settings)
    assert node_cache.endpoint_hint(learnt, settings) == "https://iaas.example.com"
    assert node_cache.endpoint_hint(learnt, settings._replace(region="eu-frankfurt-1")) is None
    assert node_cache.endpoint_hint(dict(learnt, endpoint="https://x/evil?q"), settings) is None
    # A configured endpoint is the settings' own: nothing to learn.
    configured = settings._replace(endpoint="http://127.0.0.1:1")
    assert "endpoint" not in node_cache.learnt(VIP, "v", None, None, _Resolved(), configured)


class _Resolved:
    resolved_endpoint = "https://iaas.example.com"


def test_kept_is_only_the_node_cache() -> None:
    saved: Dict[str, Any] = {"ip": VIP, "private_ip_id": "p", "checked_at": 5, "warned": True}
    assert node_cache.kept(saved) == {"ip": VIP, "private_ip_id": "p"}
