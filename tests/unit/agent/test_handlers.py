"""The agent's handlers against a scripted heartbeat IPaddr2 and a FakeOciApi.

The real IPaddr2, the real SDK and the real cluster are exercised in
tests/lab; these pin the contract of each action cell by cell.
"""

import json
import os
import stat
import textwrap
from typing import Any, Dict, List, Optional

import pytest

from pcs_oci.agent import handlers, ocf
from pcs_oci.agent.handlers import Context
from pcs_oci.agent.params import AgentError
from pcs_oci.common import reports
from pcs_oci.common.agent_params import ipaddr2_reserve
from pcs_oci.lib.errors import CloudError
from pcs_oci.lib.oci.settings import worst_case_seconds
from tests.tools.fake_oci_api import FakeOciApi, cloud_error, where

FAKE_IPADDR2 = textwrap.dedent(
    """\
    #!/bin/sh
    # A scripted heartbeat IPaddr2: the address is "up" while $FAKE_STATE exists.
    echo "$1" >> "$FAKE_LOG"
    rc_var="FAKE_RC_$(echo "$1" | tr - _)"
    eval rc=\\${$rc_var:-}
    if [ -n "$rc" ]; then
        [ "$rc" = 0 ] || echo "ocf-exit-reason:IPaddr2 $1 scripted failure" >&2
        exit "$rc"
    fi
    case "$1" in
    start) touch "$FAKE_STATE" ;;
    stop) rm -f "$FAKE_STATE" ;;
    monitor) [ -e "$FAKE_STATE" ] || exit 7 ;;
    esac
    exit 0
    """
)

VIP = "10.0.0.200"


class Logger:
    def __init__(self) -> None:
        self.records: List[tuple] = []

    def _log(self, level: str, msg: str, *args: Any) -> None:
        self.records.append((level, msg % args if args else msg))

    def info(self, msg: str, *args: Any) -> None:
        self._log("info", msg, *args)

    def warning(self, msg: str, *args: Any) -> None:
        self._log("warning", msg, *args)

    def error(self, msg: str, *args: Any) -> None:
        self._log("error", msg, *args)

    def exception(self, msg: str, *args: Any) -> None:
        self._log("error", msg, *args)


class Plumbing:
    def __init__(self) -> None:
        self.logger = Logger()
        self.reasons: List[str] = []

    def exit_reason(self, message: str) -> None:
        self.reasons.append(message)


class FakeImds:
    def __init__(self, vnics: List[Dict[str, Any]], fail: Optional[CloudError] = None):
        self._vnics = vnics
        self.fail = fail
        self.calls = 0

    def instance(self) -> Dict[str, Any]:
        self.calls += 1
        if self.fail:
            raise self.fail
        return {
            "id": "ocid1.instance.oc1.iad.node1",
            "hostname": "node1",
            "displayName": "node1",
            "canonicalRegionName": "us-ashburn-1",
            "compartmentId": "ocid1.compartment.oc1..c",
        }

    def vnics(self) -> List[Dict[str, Any]]:
        return self._vnics


class World:
    """One subnet, two nodes with a VNIC each, the fake IPaddr2 and clock."""

    def __init__(self, tmp_path: Any, monkeypatch: Any):
        root = tmp_path / "ocf"
        agent = root / "resource.d" / "heartbeat" / "IPaddr2"
        agent.parent.mkdir(parents=True)
        agent.write_text(FAKE_IPADDR2)
        agent.chmod(0o755)
        self.log_path = tmp_path / "ipaddr2.log"
        self.log_path.write_text("")
        self.env: Dict[str, str] = {
            "OCF_ROOT": str(root),
            "OCF_RESOURCE_INSTANCE": "vip",
            "OCF_RESKEY_ip": VIP,
            "OCF_RESKEY_cidr_netmask": "24",
            "OCF_RESKEY_CRM_meta_on_node": "node1",
            "OCF_RESKEY_CRM_meta_timeout": "90000",
            "FAKE_LOG": str(self.log_path),
            "FAKE_STATE": str(tmp_path / "up"),
            "PCS_OCI_STATE_DIR": str(tmp_path / "state"),
            "PATH": os.environ["PATH"],
        }
        self.api = FakeOciApi()
        self.subnet = self.api.add_subnet("10.0.0.0/24")
        self.vnic1 = self.api.add_vnic(self.subnet, "10.0.0.11")
        self.vnic2 = self.api.add_vnic(self.subnet, "10.0.0.12")
        self.imds = FakeImds(
            [
                {
                    "vnicId": self.vnic1,
                    "privateIp": "10.0.0.11",
                    "subnetCidrBlock": "10.0.0.0/24",
                    "macAddr": "02:00:17:00:00:01",
                    "virtualRouterIp": "10.0.0.1",
                }
            ]
        )
        self.plumbing = Plumbing()
        self.now = 1000.0
        self.settings: List[Any] = []
        # The environments the warm-up after a probe was started with.
        self.warm_ups: List[Dict[str, str]] = []

    def ctx(self, action: str, **env: str) -> Context:
        environ = dict(self.env, **env)

        def api_factory(settings: Any) -> FakeOciApi:
            self.settings.append(settings)
            return self.api

        return Context(
            action,
            environ,
            self.plumbing,
            imds_factory=lambda: self.imds,
            api_factory=api_factory,
            clock=lambda: self.now,
            warm_up=lambda env: self.warm_ups.append(dict(env)),
        )

    def run(self, action: str, **env: str) -> int:
        ctx = self.ctx(action, **env)
        try:
            return handlers.HANDLERS[action](ctx)
        except AgentError as e:
            self.plumbing.exit_reason(e.reason)
            return e.rc

    def ipaddr2_calls(self) -> List[str]:
        return self.log_path.read_text().split()

    def state(self) -> Optional[Dict[str, Any]]:
        path = os.path.join(self.env["PCS_OCI_STATE_DIR"], "vip.json")
        if not os.path.exists(path):
            return None
        with open(path) as f:
            data: Dict[str, Any] = json.load(f)
            return data

    def warnings(self) -> List[str]:
        return [m for level, m in self.plumbing.logger.records if level == "warning"]


@pytest.fixture
def world(tmp_path: Any, monkeypatch: Any) -> World:
    return World(tmp_path, monkeypatch)


# ---------------------------------------------------------------- start


def test_start_moves_vip_then_adds_address_then_confirms(world: World) -> None:
    pid = world.api.add_private_ip(VIP, world.vnic2, world.subnet)
    assert world.run("start") == ocf.OCF_SUCCESS
    assert where(world.api, pid)[0] == world.vnic1
    assert world.ipaddr2_calls() == ["start", "monitor"]
    assert world.plumbing.reasons == []
    state = world.state()
    assert state is not None
    assert (state["vnic_id"], state["private_ip_id"]) == (world.vnic1, pid)


def test_start_uses_vnic_ids_without_asking_imds(world: World) -> None:
    pid = world.api.add_private_ip(VIP, world.vnic1, world.subnet)
    vnic_ids = "node1={},node2={}".format(world.vnic2, world.vnic1)
    assert world.run("start", OCF_RESKEY_vnic_ids=vnic_ids) == ocf.OCF_SUCCESS
    assert where(world.api, pid)[0] == world.vnic2
    assert world.imds.calls == 0


def test_start_is_idempotent_without_write_call(world: World) -> None:
    world.api.add_private_ip(VIP, world.vnic2, world.subnet)
    assert world.run("start") == ocf.OCF_SUCCESS
    writes = len(world.api.writes())
    assert world.run("start") == ocf.OCF_SUCCESS
    assert len(world.api.writes()) == writes


def test_start_creates_missing_private_ip(world: World) -> None:
    assert world.run("start") == ocf.OCF_SUCCESS
    (created,) = [p for p in world.api.private_ips.values() if p["ip_address"] == VIP]
    assert created["vnic_id"] == world.vnic1


def test_start_transient_cloud_error_is_generic_with_code_and_request_id(world: World) -> None:
    world.api.add_private_ip(VIP, world.vnic2, world.subnet)
    world.api.fail(
        "update_private_ip_vnic", cloud_error(503, "ServiceUnavailable", "UpdatePrivateIp")
    )
    assert world.run("start") == ocf.OCF_ERR_GENERIC
    (reason,) = world.plumbing.reasons
    # Pacemaker keeps 128 characters: the code and request id must be in them.
    assert "ServiceUnavailable" in reason[:128] and "req-503-ServiceUnavailable" in reason[:128]
    # The address went up while OCI was asked, and down again when OCI failed:
    # the node does not hold an address that OCI does not route to it.
    assert world.ipaddr2_calls() == ["start", "monitor", "stop"]
    assert not os.path.exists(world.env["FAKE_STATE"])
    assert world.state() is None


def test_start_not_authorized_is_generic_not_configured(world: World) -> None:
    world.api.add_private_ip(VIP, world.vnic2, world.subnet)
    world.api.fail("get_vnic", cloud_error(404, "NotAuthorizedOrNotFound", "GetVnic"))
    assert world.run("start") == ocf.OCF_ERR_GENERIC
    assert "NotAuthorizedOrNotFound" in world.plumbing.reasons[0]
    # The policy to add is in the log, where there is room for it.
    errors = [m for level, m in world.plumbing.logger.records if level == "error"]
    assert "dynamic-group" in errors[0]


def test_start_primary_ip_is_a_configuration_error(world: World) -> None:
    world.env["OCF_RESKEY_ip"] = "10.0.0.12"
    world.run("start", OCF_RESKEY_vnic_ids="node1={}".format(world.vnic1))
    assert (
        world.run("start", OCF_RESKEY_vnic_ids="node1={}".format(world.vnic1))
        == ocf.OCF_ERR_CONFIGURED
    )
    assert "primary" in world.plumbing.reasons[-1]


def test_start_vip_outside_local_subnets_is_node_local(world: World) -> None:
    assert world.run("start", OCF_RESKEY_ip="192.168.5.5") == ocf.OCF_ERR_INSTALLED
    assert "10.0.0.0/24" in world.plumbing.reasons[0]


def test_start_imds_down_is_generic(world: World) -> None:
    world.imds.fail = CloudError(
        reports.item(reports.IMDS_UNREACHABLE, "instance metadata service unreachable"),
        transient=True,
    )
    assert world.run("start") == ocf.OCF_ERR_GENERIC
    assert "unreachable" in world.plumbing.reasons[0]


@pytest.mark.parametrize(
    "env, fragment",
    [
        ({"OCF_RESKEY_ip": ""}, "ip: required"),
        ({"OCF_RESKEY_ip": "10.0.0.300"}, "not an IPv4 or IPv6"),
        ({"OCF_RESKEY_vnic_ids": "node1=ocid1.instance.oc1..x"}, "vnic_ids"),
        ({"OCF_RESKEY_vnic_ids": "node1;rm -rf /"}, "vnic_ids"),
        ({"OCF_RESKEY_auth": "password"}, "auth"),
        ({"OCF_RESKEY_api_timeout": "-3"}, "api_timeout"),
        ({"OCF_RESKEY_monitor_api": "maybe"}, "monitor_api"),
    ],
)
def test_start_bad_parameters_are_configured_errors(
    world: World, env: Dict[str, str], fragment: str
) -> None:
    assert world.run("start", **env) == ocf.OCF_ERR_CONFIGURED
    assert fragment in world.plumbing.reasons[0]
    assert world.api.calls == []


def test_start_api_key_file_missing_is_node_local(world: World, tmp_path: Any) -> None:
    rc = world.run(
        "start", OCF_RESKEY_auth="api_key", OCF_RESKEY_oci_config_file=str(tmp_path / "nope")
    )
    assert rc == ocf.OCF_ERR_INSTALLED


def test_start_ipaddr2_failure_keeps_its_exit_code(world: World) -> None:
    assert world.run("start", FAKE_RC_start="6") == 6


def test_start_budget_fits_the_op_timeout(world: World) -> None:
    assert world.run("start", OCF_RESKEY_CRM_meta_timeout="30000") == ocf.OCF_SUCCESS
    (settings,) = world.settings
    assert worst_case_seconds(settings) <= 30 - ipaddr2_reserve(30)


def test_start_with_heartbeats_default_20s_timeout_still_calls_oci(world: World) -> None:
    assert world.run("start", OCF_RESKEY_CRM_meta_timeout="20000") == ocf.OCF_SUCCESS
    (settings,) = world.settings
    assert settings.max_total_seconds >= 2
    assert worst_case_seconds(settings) <= 15


# ---------------------------------------------------------------- stop


def test_stop_needs_no_cloud_and_ignores_bad_oci_parameters(world: World) -> None:
    world.run("start")
    world.api.fail("get_vnic", cloud_error(503, "ServiceUnavailable"), count=100)
    calls = len(world.api.calls)
    assert world.run("stop", OCF_RESKEY_vnic_ids="garbage", OCF_RESKEY_auth="x") == 0
    assert len(world.api.calls) == calls
    # The node keeps what it knows of the VIP for its next start, but not the
    # monitor_api answer.
    state = world.state()
    assert state is not None and "checked_at" not in state and "private_ip_id" in state
    assert not os.path.exists(os.path.join(world.env["PCS_OCI_STATE_DIR"], "vip.fresh"))
    assert world.ipaddr2_calls()[-1] == "stop"


def test_stop_with_valid_parameters_and_the_api_down_makes_no_cloud_call(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every OCI parameter set and valid, the API and IMDS down: stop neither
    builds an API client (through the context or past it) nor asks IMDS."""
    from pcs_oci.lib import imds
    from pcs_oci.lib.oci import api as oci_api

    world.run("start")
    attempts: List[str] = []

    def refuse(what: str) -> Any:
        def constructor(*args: Any, **kwargs: Any) -> None:
            attempts.append(what)
            raise AssertionError("stop must not build " + what)

        return constructor

    monkeypatch.setattr(oci_api.OciApi, "__init__", refuse("an OciApi"))
    monkeypatch.setattr(imds.Imds, "__init__", refuse("an Imds client"))
    for op in ("get_vnic", "list_private_ips", "get_private_ip", "update_private_ip_vnic"):
        world.api.fail(op, cloud_error(503, "ServiceUnavailable"), count=100)
    world.imds.fail = CloudError(reports.item(reports.IMDS_UNREACHABLE, "down"), transient=True)
    calls, imds_calls, settings = len(world.api.calls), world.imds.calls, len(world.settings)
    valid = dict(
        OCF_RESKEY_vnic_ids="node1={},node2={}".format(world.vnic1, world.vnic2),
        OCF_RESKEY_auth="instance_principal",
        OCF_RESKEY_region="us-ashburn-1",
        OCF_RESKEY_endpoint="https://iaas.us-ashburn-1.oraclecloud.com",
        OCF_RESKEY_api_timeout="5",
        OCF_RESKEY_monitor_api="true",
        OCF_RESKEY_monitor_api_interval="30",
    )
    assert world.run("stop", **valid) == ocf.OCF_SUCCESS
    assert world.ipaddr2_calls()[-1] == "stop"
    assert (len(world.api.calls), world.imds.calls, len(world.settings)) == (
        calls,
        imds_calls,
        settings,
    )
    assert attempts == []
    assert "checked_at" not in (world.state() or {})


def test_stop_failure_of_ipaddr2_is_reported(world: World) -> None:
    assert world.run("stop", FAKE_RC_stop="1") == 1


# ---------------------------------------------------------------- monitor


def test_plain_monitor_makes_no_cloud_call(world: World) -> None:
    world.run("start")
    calls = len(world.api.calls)
    assert world.run("monitor", OCF_RESKEY_CRM_meta_interval="10000") == ocf.OCF_SUCCESS
    assert len(world.api.calls) == calls
    world.run("stop")
    assert world.run("monitor", OCF_RESKEY_CRM_meta_interval="10000") == ocf.OCF_NOT_RUNNING


def monitor_api(world: World, **env: str) -> int:
    return world.run(
        "monitor",
        OCF_RESKEY_CRM_meta_interval="10000",
        OCF_RESKEY_monitor_api="true",
        OCF_RESKEY_monitor_api_interval="60",
        **env,
    )


def test_monitor_api_checks_at_most_once_per_interval(world: World) -> None:
    world.run("start")
    world.api.calls.clear()
    for _ in range(11):
        world.now += 10
        assert monitor_api(world) == ocf.OCF_SUCCESS
    # start at t=1000 counts as a check; t=1060 is the first one due, then 1120 is not reached.
    assert world.api.ops() == ["get_private_ip"]


def test_monitor_api_detects_vip_moved_behind_the_clusters_back(world: World) -> None:
    world.run("start")
    pid = world.state()["private_ip_id"]  # type: ignore[index]
    world.api.move_behind_back(pid, world.vnic2)
    world.now += 61
    assert monitor_api(world) == ocf.OCF_NOT_RUNNING
    assert world.vnic2 in world.plumbing.reasons[0]


def test_monitor_api_transient_errors_warn_once_and_never_fail(world: World) -> None:
    world.run("start")
    world.api.fail("get_private_ip", cloud_error(503, "ServiceUnavailable"), count=3)
    for _ in range(3):
        world.now += 61
        assert monitor_api(world) == ocf.OCF_SUCCESS
    assert len(world.warnings()) == 1
    assert "ServiceUnavailable" in world.warnings()[0]
    world.now += 61
    assert monitor_api(world) == ocf.OCF_SUCCESS
    assert world.state()["warned"] is False  # type: ignore[index]
    # A new outage warns again, once.
    world.api.fail("get_private_ip", cloud_error(429, "TooManyRequests"), count=2)
    for _ in range(2):
        world.now += 61
        assert monitor_api(world) == ocf.OCF_SUCCESS
    assert len(world.warnings()) == 2


def test_monitor_api_imds_down_without_state_only_warns(world: World) -> None:
    world.run("start")
    os.unlink(os.path.join(world.env["PCS_OCI_STATE_DIR"], "vip.json"))
    world.imds.fail = CloudError(
        reports.item(reports.IMDS_UNREACHABLE, "instance metadata service unreachable"),
        transient=True,
    )
    world.now += 61
    assert monitor_api(world) == ocf.OCF_SUCCESS
    assert "unreachable" in world.warnings()[0]


def test_monitor_api_rebuilds_state_through_the_api(world: World) -> None:
    world.run("start")
    os.unlink(os.path.join(world.env["PCS_OCI_STATE_DIR"], "vip.json"))
    world.api.calls.clear()
    assert monitor_api(world) == ocf.OCF_SUCCESS
    assert world.api.ops() == ["get_vnic", "list_private_ips"]
    assert world.state()["vnic_id"] == world.vnic1  # type: ignore[index]


def test_probe_never_calls_the_api(world: World) -> None:
    world.run("start")
    world.api.calls.clear()
    world.now += 1000
    assert (
        world.run("monitor", OCF_RESKEY_CRM_meta_interval="0", OCF_RESKEY_monitor_api="true")
        == ocf.OCF_SUCCESS
    )
    assert world.api.calls == []
    # The node knows the VIP (its start recorded it): no warm-up either.
    assert world.warm_ups == []


def test_state_file_is_private(world: World) -> None:
    world.run("start")
    directory = world.env["PCS_OCI_STATE_DIR"]
    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(os.path.join(directory, "vip.json")).st_mode) == 0o600


# ---------------------------------------------------------------- validate-all


def test_validate_all_checks_the_local_subnet(world: World) -> None:
    assert world.run("validate-all") == ocf.OCF_SUCCESS
    assert world.run("validate-all", OCF_RESKEY_ip="172.16.0.5") == ocf.OCF_ERR_INSTALLED
    assert world.run("validate-all", OCF_RESKEY_endpoint="https://x/20160918") == (
        ocf.OCF_ERR_CONFIGURED
    )
