"""A private IP without vnicId is a move in flight, never an address on no VNIC:
the agent's monitor, verify and status against a fake that moves like recorded
OCI (the answer first, the landing later; docs/oci-behaviour.md).

Each test holds a move in flight with a long move_delay and ends it with
FakeOci.land_pending(), never by sleeping.
"""

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from pcs_oci.common import reports
from pcs_oci.lib.oci.api import IPV4, OciApi
from pcs_oci.lib.oci.settings import OciSettings
from tests.fakes.harness import FakeOci
from tests.integration.test_public_ips import status_on
from tests.integration.test_verify import Setup
from tests.tools.agent_sandbox import VIP, Sandbox

oci = pytest.importorskip("oci")
FAST = {"timeout": 2, "max_attempts": 4, "max_total_seconds": 5, "retry_base_seconds": 0.05}


def _start_moving(fake: FakeOci, tmp_path: Path, ip: str, to_node: str) -> None:
    """Someone (an admin, another tool) moves ip to to_node's VNIC: OCI has
    answered, the move has not landed."""
    config_file, profile = fake.write_api_key_config(str(tmp_path / "admin-oci"))
    admin = OciApi(
        OciSettings(
            auth="api_key",
            config_file=config_file,
            profile=profile,
            endpoint=fake.core_endpoint,
            **FAST,  # type: ignore[arg-type]
        )
    )
    rec = fake.private_ip_by_address(ip)
    assert rec is not None
    admin.move_ip(IPV4, rec["id"], str(fake.node(to_node)["vnic_id"]), None)
    assert fake.moving(ip) == fake.node(to_node)["vnic_id"]
    got = fake.private_ip_by_address(ip)
    assert got is not None and not got.get("vnicId"), "the fake shows the move in flight"


@pytest.mark.fake_world(secondary_ips={VIP: "node1"})
@pytest.mark.fake_fidelity(move_delay=3600.0)
def test_monitor_api_takes_no_vnic_for_a_move_in_flight(fake_oci: FakeOci, tmp_path: Path) -> None:
    box = Sandbox(tmp_path / "node1", fake_oci)
    api_monitor = {"OCF_RESKEY_monitor_api": "true", "OCF_RESKEY_monitor_api_interval": "60"}
    assert box.run("start", 30, **api_monitor).rc == 0

    def monitor_now() -> Any:
        # Make the last check old: this monitor asks OCI.
        state = json.loads(box.state_path().read_text())
        box.state_path().write_text(json.dumps(dict(state, checked_at=0)))
        return box.run("monitor", 30, **api_monitor)

    _start_moving(fake_oci, tmp_path, VIP, "node2")
    gets = len(fake_oci.calls("GetPrivateIp"))
    moving = monitor_now()
    assert (moving.rc, moving.reasons) == (0, []), moving.stderr
    assert len(fake_oci.calls("GetPrivateIp")) == gets + 1
    state = json.loads(box.state_path().read_text())
    # Not a check: the next monitor asks again, whatever monitor_api_interval says.
    assert state["checked_at"] == 0 and "moving_since" in state
    again = box.run("monitor", 30, **api_monitor)
    assert again.rc == 0 and len(fake_oci.calls("GetPrivateIp")) == gets + 2

    fake_oci.land_pending()
    landed = monitor_now()
    assert landed.rc == 7
    assert "to VNIC {}".format(fake_oci.node("node2")["vnic_id"]) in landed.reason
    assert "moved outside the cluster" in landed.reason
    assert "moving_since" not in json.loads(box.state_path().read_text())


@pytest.mark.fake_world(reserved_ips={VIP: "node1"})
@pytest.mark.parametrize("client", ["sdk-free", "sdk"])
def test_monitor_api_fails_for_an_address_oci_says_is_on_no_vnic(
    fake_oci: FakeOci, tmp_path: Path, client: str
) -> None:
    """ipState AVAILABLE (a reserved IP set aside): OCI says it is on no VNIC.
    The SDK-free client (a cached session) reads it from the answer on every
    SDK version. Through the SDK, versions before 2.146.0 drop ipState: there
    it looks like a move in flight, and monitor does not fail the resource
    for it (docs/oci-behaviour.md)."""
    sees_ip_state = client == "sdk-free" or hasattr(oci.core.models.PrivateIp, "ip_state")
    box = Sandbox(tmp_path / "node1", fake_oci)
    api_monitor = {"OCF_RESKEY_monitor_api": "true", "OCF_RESKEY_monitor_api_interval": "60"}
    assert box.run("start", 30, **api_monitor).rc == 0
    if client == "sdk":
        # No cached session: the check goes through the SDK (lean.vip_api).
        shutil.rmtree(str(tmp_path / "node1" / "session"), ignore_errors=True)
    fake_oci.move_private_ip(VIP, None)  # unassigns it (it must be RESERVED for that)
    state = json.loads(box.state_path().read_text())
    box.state_path().write_text(json.dumps(dict(state, checked_at=0)))
    result = box.run("monitor", 30, **api_monitor)
    if sees_ip_state:
        assert result.rc == 7 and "no VNIC (ipState AVAILABLE)" in result.reason
    else:
        assert (result.rc, result.reasons) == (0, [])
        assert "OCI is moving" in result.stderr


@pytest.mark.fake_world(secondary_ips={VIP: "node1"})
@pytest.mark.fake_fidelity(move_delay=3600.0)
def test_verify_shows_a_move_in_flight_not_an_address_on_no_vnic(
    tmp_path: Path, fake_oci: FakeOci, monkeypatch: Any
) -> None:
    setup = Setup(tmp_path, fake_oci, monkeypatch)
    _start_moving(fake_oci, tmp_path, VIP, "node2")
    row = setup.run()["vip_private_ip"]
    assert row.status == "WARN"
    assert "{} is being moved".format(VIP) in row.detail
    assert "none" not in row.detail and "verify again" in row.fix
    fake_oci.land_pending()
    row = setup.run()["vip_private_ip"]
    assert (
        row.status == "PASS"
        and "on VNIC {} (node2)".format(fake_oci.node("node2")["vnic_id"]) in row.detail
    )


@pytest.mark.fake_world(secondary_ips={VIP: "node1"})
@pytest.mark.fake_fidelity(move_delay=3600.0)
def test_status_shows_a_move_in_flight(tmp_path: Path, fake_oci: FakeOci, monkeypatch: Any) -> None:
    monkeypatch.setenv("PCS_OCI_FEDERATION_ENDPOINT", fake_oci.federation_endpoint)
    monkeypatch.setenv("OCI_METADATA_BASE_URL", fake_oci.imds_base("node1"))
    _start_moving(fake_oci, tmp_path, VIP, "node2")
    (vip,) = status_on(fake_oci, tmp_path, "node2").vips
    assert [p.code for p in vip.problems] == [reports.VIP_OCI_MOVING]
    assert vip.oci_vnic_id is None
    fake_oci.land_pending()
    (vip,) = status_on(fake_oci, tmp_path, "node2").vips
    assert vip.problems == [] and vip.oci_node == "node2"
