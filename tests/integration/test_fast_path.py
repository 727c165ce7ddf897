"""The cached fast path against the fake OCI: the instance-principal session
kept between processes (session_cache), DirectApi signing with it (no SDK),
LeanApi falling back to OciApi on a 401, and every stale or corrupt cache
ending in a correct move."""

import base64
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List

import pytest

from pcs_oci.common import reports
from pcs_oci.lib.errors import CloudError
from pcs_oci.lib.oci import session_cache
from pcs_oci.lib.oci.api import IPV4, OciApi
from pcs_oci.lib.oci.direct import DirectApi
from pcs_oci.lib.oci.lean import LeanApi, vip_api
from pcs_oci.lib.oci.settings import OciSettings
from pcs_oci.lib.vip import KnownVip, assign_vip
from tests.tools.agent_sandbox import VIP as SANDBOX_VIP
from tests.tools.agent_sandbox import Sandbox

VIP = "10.0.0.100"
VIP6 = "fd00:10::100"
FAST = {"timeout": 2, "max_attempts": 4, "max_total_seconds": 5, "retry_base_seconds": 0.05}
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def node1(fake_oci: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> OciSettings:
    """Settings of node1 (instance principal) against the fake, its own cache."""
    monkeypatch.setenv("OCI_METADATA_BASE_URL", fake_oci.imds_base("node1"))
    monkeypatch.setenv("PCS_OCI_FEDERATION_ENDPOINT", fake_oci.federation_endpoint)
    monkeypatch.setenv("PCS_OCI_SESSION_DIR", str(tmp_path / "sessions"))
    return OciSettings(auth="instance_principal", endpoint=fake_oci.core_endpoint, **FAST)


def vnic_of(fake_oci: Any, node: str) -> str:
    return str(fake_oci.node(node)["vnic_id"])


def session_file(tmp_path: Path) -> Path:
    (found,) = (tmp_path / "sessions").iterdir()
    return found


def kinds(fake_oci: Any) -> Dict[str, int]:
    calls = fake_oci.calls()
    return {
        "core": len([c for c in calls if not c["op"].startswith(("Imds", "Federation"))]),
        "federation": len([c for c in calls if c["op"] == "Federation"]),
        "metadata": len([c for c in calls if c["op"].startswith("Imds")]),
    }


def warm(fake_oci: Any, settings: OciSettings) -> None:
    """An earlier action on node1 made (and kept) a session."""
    OciApi(settings).get_vnic(vnic_of(fake_oci, "node1"))
    fake_oci.clear_calls()


# ---------------------------------------------------------------- the session


@pytest.mark.fake_world(secondary_ips={VIP: "node2"})
def test_second_process_signs_with_the_kept_session(
    fake_oci: Any, node1: OciSettings, tmp_path: Path
) -> None:
    OciApi(node1).get_vnic(vnic_of(fake_oci, "node1"))
    assert kinds(fake_oci)["federation"] == 1
    path = session_file(tmp_path)
    assert path.stat().st_mode & 0o777 == 0o600
    fake_oci.clear_calls()
    # A new OciApi is a new action: it takes the session from the file.
    OciApi(node1).get_vnic(vnic_of(fake_oci, "node1"))
    assert kinds(fake_oci) == {"core": 1, "federation": 0, "metadata": 0}
    # Nothing secret in the logs of the fake either: the token is only in the file.
    token = json.loads(path.read_text())["token"]
    assert token and all(token not in json.dumps(c) for c in fake_oci.calls())


@pytest.mark.fake_world(secondary_ips={VIP: "node2"})
def test_revoked_session_is_thrown_away_and_made_again_once(
    fake_oci: Any, node1: OciSettings, tmp_path: Path
) -> None:
    warm(fake_oci, node1)
    before = json.loads(session_file(tmp_path).read_text())["token"]
    fake_oci.expire_tokens()  # the auth service no longer honours it: 401
    api = OciApi(node1)
    api.get_vnic(vnic_of(fake_oci, "node1"))
    statuses = [c["status"] for c in fake_oci.calls("GetVnic")]
    assert statuses == [401, 200] and kinds(fake_oci)["federation"] == 1
    assert json.loads(session_file(tmp_path).read_text())["token"] != before


@pytest.mark.fake_world(secondary_ips={VIP: "node2"})
def test_refused_for_good_is_refreshed_once_then_the_answer(
    fake_oci: Any, node1: OciSettings
) -> None:
    warm(fake_oci, node1)
    fake_oci.faults.add("GetVnic", status=401, code="NotAuthenticated", count=None)
    with pytest.raises(CloudError) as e:
        OciApi(node1).get_vnic(vnic_of(fake_oci, "node1"))
    assert e.value.codes == [reports.OCI_AUTH_FAILED]
    # The cached one was thrown away, one new session, and the SDK's own
    # refresh of that one: bounded, never a loop.
    assert 1 <= kinds(fake_oci)["federation"] <= 2


# ---------------------------------------------------------------- DirectApi


# The move lands at the next read (the recordings), or a while after the
# answer: then the start reads until it shows (vip.py), and writes once.
MOVE_LANDS = [
    pytest.param(0.0, id="lands-at-once"),
    pytest.param(0.4, id="lands-later", marks=pytest.mark.fake_fidelity(move_delay=0.4)),
]


def assert_warm_start(fake_oci: Any, move_delay: float, op: str = "PrivateIp") -> None:
    """Issue 13's accounting of a start on a node that has seen the VIP: one
    read of the private IP (state and etag), the write as the second Core
    call, then only the reads that confirm it landed; no federation and no
    metadata call while the cached session is valid."""
    ops: List[str] = [c["op"] for c in fake_oci.calls()]
    assert ops[:2] == ["Get" + op, "Update" + op], ops
    confirming = ops[2:]
    assert confirming and set(confirming) == {"Get" + op}, ops
    if move_delay:
        # Read until it landed: no vnicId first, the new VNIC last.
        assert len(confirming) >= 2, ops
    assert all(c["status"] == 200 for c in fake_oci.calls()), fake_oci.calls()
    assert kinds(fake_oci) == {"core": len(ops), "federation": 0, "metadata": 0}


@pytest.mark.fake_world(secondary_ips={VIP: "node2"})
@pytest.mark.parametrize("move_delay", MOVE_LANDS)
def test_known_vip_moves_in_two_calls_without_auth_calls(
    fake_oci: Any, node1: OciSettings, move_delay: float
) -> None:
    warm(fake_oci, node1)
    api = vip_api(node1)
    assert isinstance(api, LeanApi) and isinstance(api.current, DirectApi)
    record = fake_oci.private_ip_by_address(VIP)
    known = KnownVip(record["id"], record["subnetId"])
    result = assign_vip(api, vnic_of(fake_oci, "node1"), VIP, known=known)
    assert result.action == "moved" and result.previous_vnic_id == vnic_of(fake_oci, "node2")
    assert_warm_start(fake_oci, move_delay)
    assert fake_oci.private_ip_by_address(VIP)["vnicId"] == vnic_of(fake_oci, "node1")


@pytest.mark.fake_world(secondary_ips={VIP: "node2"})
def test_lookup_by_address_reads_one_page(fake_oci: Any, node1: OciSettings) -> None:
    """OCI names a next page after a one-item answer by ipAddress and subnetId
    (the fake does, as recorded); it is always empty, and neither client
    follows it, while a list that can hold more still pages."""
    warm(fake_oci, node1)
    subnet = fake_oci.private_ip_by_address(VIP)["subnetId"]
    for api in (vip_api(node1), OciApi(node1)):
        fake_oci.clear_calls()
        (found,) = api.list_ips(IPV4, ip_address=VIP, subnet_id=subnet)
        assert found["ip_address"] == VIP
        assert [c["op"] for c in fake_oci.calls()] == ["ListPrivateIps"]
        fake_oci.clear_calls()
        assert VIP in [e["ip_address"] for e in api.list_ips(IPV4, subnet_id=subnet)]
        assert len(fake_oci.calls("ListPrivateIps")) >= 2  # the empty next page too


@pytest.mark.fake_world(secondary_ips={VIP: "node2"})
def test_full_lookup_and_create_through_direct_api(fake_oci: Any, node1: OciSettings) -> None:
    warm(fake_oci, node1)
    api = vip_api(node1)
    local = vnic_of(fake_oci, "node1")
    learnt: Dict[str, str] = {}
    assert assign_vip(api, local, VIP, learnt=learnt).action == "moved"
    assert learnt["subnet_id"] == fake_oci.private_ip_by_address(VIP)["subnetId"]
    assert assign_vip(api, local, "10.0.0.101").action == "created"
    assert fake_oci.private_ip_by_address("10.0.0.101")["vnicId"] == local
    assert kinds(fake_oci)["federation"] == 0


@pytest.mark.fake_world(ipv6_cidr="fd00:10::/64", secondary_ips={VIP6: "node2"})
def test_ipv6_through_direct_api(fake_oci: Any, node1: OciSettings) -> None:
    warm(fake_oci, node1)
    local = vnic_of(fake_oci, "node1")
    assert assign_vip(vip_api(node1), local, VIP6).action == "moved"
    assert fake_oci.ipv6_by_address(VIP6)["vnicId"] == local
    assert assign_vip(vip_api(node1), local, "fd00:10::101").action == "created"


@pytest.mark.fake_world(secondary_ips={VIP: "node2"})
@pytest.mark.parametrize(
    "fault",
    [
        dict(status=429, code="TooManyRequests"),
        dict(status=503, code="ServiceUnavailable"),
        dict(status=409, code="IncorrectState"),
        dict(status=503, drop=True),
        dict(status=None, body='{"id": '),
    ],
)
def test_direct_api_retries_what_the_sdk_retries(
    fake_oci: Any, node1: OciSettings, fault: Dict[str, Any]
) -> None:
    warm(fake_oci, node1)
    pid = fake_oci.private_ip_by_address(VIP)["id"]
    fake_oci.faults.add("GetPrivateIp", **fault)
    tagged = vip_api(node1).get_ip(IPV4, pid)
    assert tagged.data["id"] == pid and tagged.etag
    assert len(fake_oci.calls("GetPrivateIp")) == 2


@pytest.mark.fake_world(secondary_ips={VIP: "node2"})
@pytest.mark.parametrize(
    "status, code, report",
    [
        (404, "NotAuthorizedOrNotFound", reports.OCI_NOT_AUTHORIZED),
        (412, "NoEtagMatch", reports.OCI_PRECONDITION_FAILED),
        (400, "InvalidParameter", reports.OCI_REQUEST_ERROR),
        (409, "Conflict", reports.OCI_CONFLICT),
    ],
)
def test_direct_api_maps_errors_as_oci_api(
    fake_oci: Any, node1: OciSettings, status: int, code: str, report: str
) -> None:
    warm(fake_oci, node1)
    pid = fake_oci.private_ip_by_address(VIP)["id"]
    fake_oci.faults.add("UpdatePrivateIp", status=status, code=code)
    with pytest.raises(CloudError) as e:
        vip_api(node1).move_ip(IPV4, pid, vnic_of(fake_oci, "node1"), None)
    assert e.value.codes == [report] and e.value.status == status
    (call,) = fake_oci.calls("UpdatePrivateIp")
    assert call["opc-request-id"] in e.value.reports[0].message
    assert len(fake_oci.calls("UpdatePrivateIp")) == 1  # a definite answer is not retried


def test_direct_api_unreachable_is_transient(fake_oci: Any, node1: OciSettings) -> None:
    warm(fake_oci, node1)
    dead = node1._replace(endpoint="http://127.0.0.1:9", max_total_seconds=1)
    with pytest.raises(CloudError) as e:
        vip_api(dead).get_vnic(vnic_of(fake_oci, "node1"))
    assert e.value.codes == [reports.OCI_UNREACHABLE] and e.value.transient


@pytest.mark.fake_world(secondary_ips={VIP: "node2"})
def test_revoked_session_on_the_direct_path_goes_on_with_the_sdk(
    fake_oci: Any, node1: OciSettings, tmp_path: Path
) -> None:
    warm(fake_oci, node1)
    fake_oci.expire_tokens()
    api = vip_api(node1)
    record = fake_oci.private_ip_by_address(VIP)
    known = KnownVip(record["id"], record["subnetId"])
    assert assign_vip(api, vnic_of(fake_oci, "node1"), VIP, known=known).action == "moved"
    assert isinstance(api.current, OciApi)
    ops = [(c["op"], c["status"]) for c in fake_oci.calls() if not c["op"].startswith("Imds")]
    assert ops[:3] == [("GetPrivateIp", 401), ("Federation", 200), ("GetPrivateIp", 200)]
    # The new session is kept for the next action.
    assert session_cache.load(session_cache.identity()) is not None


def test_no_fast_path_without_session_endpoint_or_with_a_proxy(
    fake_oci: Any, node1: OciSettings
) -> None:
    assert isinstance(vip_api(node1), OciApi)  # no session yet
    warm(fake_oci, node1)
    assert isinstance(vip_api(node1._replace(proxy="http://127.0.0.1:3128")), OciApi)
    assert isinstance(vip_api(node1._replace(endpoint=None)), OciApi)
    hinted = vip_api(node1._replace(endpoint=None), endpoint_hint=fake_oci.core_endpoint)
    assert isinstance(hinted, LeanApi)
    assert isinstance(vip_api(node1._replace(auth="api_key")), OciApi)


def test_fast_path_does_not_import_the_sdk(fake_oci: Any, node1: OciSettings) -> None:
    warm(fake_oci, node1)
    record = fake_oci.add_private_ip(VIP, "node2")
    code = (
        "import sys\n"
        "from pcs_oci.lib.oci.lean import vip_api\n"
        "from pcs_oci.lib.oci.settings import OciSettings\n"
        "from pcs_oci.lib.vip import KnownVip, assign_vip\n"
        "s = OciSettings(auth='instance_principal', endpoint=sys.argv[1])\n"
        "r = assign_vip(vip_api(s), sys.argv[2], sys.argv[3], known=KnownVip(sys.argv[4], "
        "sys.argv[5]))\n"
        "print(r.action, sorted(m for m in sys.modules if m == 'oci' or m.startswith('oci.')))\n"
    )
    args = [fake_oci.core_endpoint, vnic_of(fake_oci, "node1"), VIP]
    args += [record["id"], record["subnetId"]]
    out = subprocess.run(
        [sys.executable, "-c", code] + args,
        capture_output=True,
        text=True,
        check=True,
        env=dict(os.environ),
        cwd=str(REPO),
    ).stdout
    assert out.strip() == "moved []"


# ---------------------------------------------------------------- the agent


def started_once(fake_oci: Any, tmp_path: Path) -> Sandbox:
    """node1 started the VIP once (node cache, session) and stopped; now the VIP
    is on node2."""
    box = Sandbox(tmp_path / "node1", fake_oci)
    assert box.run("start", 30).rc == 0
    assert box.run("stop", 20).rc == 0
    fake_oci.move_private_ip(SANDBOX_VIP, "node2")
    fake_oci.clear_calls()
    return box


def the_session(box: Sandbox) -> Path:
    (found,) = (box.root / "session").iterdir()
    return found


def assert_moved_here(fake_oci: Any, box: Sandbox, result: Any) -> None:
    assert result.rc == 0, result.stderr
    assert fake_oci.private_ip_by_address(SANDBOX_VIP)["vnicId"] == vnic_of(fake_oci, "node1")
    assert box.up.exists()


@pytest.mark.fake_world(secondary_ips={SANDBOX_VIP: "node2"})
@pytest.mark.parametrize("move_delay", MOVE_LANDS)
def test_agent_start_that_has_seen_the_vip(
    fake_oci: Any, tmp_path: Path, move_delay: float
) -> None:
    box = started_once(fake_oci, tmp_path)
    result = box.run("start", 30)
    assert_moved_here(fake_oci, box, result)
    assert_warm_start(fake_oci, move_delay)


def _wrong_mode(box: Sandbox) -> None:
    os.chmod(str(the_session(box)), 0o644)


def _wrong_owner(box: Sandbox) -> None:
    os.chown(str(the_session(box)), 65534, 65534)


def _truncated(box: Sandbox) -> None:
    path = the_session(box)
    path.write_text(path.read_text()[:100])


def _expired(box: Sandbox) -> None:
    """A token that expires within the margin (its own exp claim decides)."""
    path = the_session(box)
    data = json.loads(path.read_text())
    header, payload, sig = data["token"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["exp"] = claims["iat"] + 30
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    data["token"] = ".".join([header, payload, sig])
    path.write_text(json.dumps(data))


def _revoked(box: Sandbox) -> None:
    box.fake.expire_tokens()


def _deleted_key(box: Sandbox) -> None:
    path = the_session(box)
    data = json.loads(path.read_text())
    data["private_key"] = dict(data["private_key"], p="3")  # not this key's factor
    path.write_text(json.dumps(data))


def _private_ip_moved(box: Sandbox) -> None:
    """Not where this node last saw it (node1) nor where the cluster put it
    (node2): someone moved it to node3's VNIC."""
    box.fake.move_private_ip(SANDBOX_VIP, "node3")


def _subnet_changed(box: Sandbox) -> None:
    data = json.loads(box.state_path().read_text())
    data["subnet_id"] = "ocid1.subnet.oc1.iad.elsewhere"
    box.state_path().write_text(json.dumps(data))


CORRUPT = {
    "wrong mode": (_wrong_mode, "session"),
    "wrong owner": (_wrong_owner, "session"),
    "truncated": (_truncated, "session"),
    "expired token": (_expired, "session"),
    "revoked token (401)": (_revoked, "session"),
    "broken key": (_deleted_key, "session"),
    "private IP moved by someone else": (_private_ip_moved, "none"),
    "subnet changed": (_subnet_changed, "node cache"),
}


@pytest.mark.fake_world(nodes=("node1", "node2", "node3"), secondary_ips={SANDBOX_VIP: "node2"})
# Moves land a while after their answer: every fallback reads until they do.
@pytest.mark.fake_fidelity(move_delay=0.2)
@pytest.mark.parametrize("case", sorted(CORRUPT))
def test_stale_or_corrupt_cache_ends_in_a_correct_move(
    fake_oci: Any, tmp_path: Path, case: str
) -> None:
    if case == "wrong owner" and os.geteuid() != 0:
        pytest.skip("changing a file's owner needs root")
    box = started_once(fake_oci, tmp_path)
    spoil, what = CORRUPT[case]
    spoil(box)
    result = box.run("start", 30)
    assert_moved_here(fake_oci, box, result)
    (move,) = fake_oci.calls("UpdatePrivateIp")
    assert move["body"]["vnicId"] == vnic_of(fake_oci, "node1") and move["status"] == 200
    federation = kinds(fake_oci)["federation"]
    if what == "session":
        # A new session was made (once) and kept, trusted by the next action.
        assert federation == 1, fake_oci.calls()
        assert the_session(box).stat().st_mode & 0o777 == 0o600
        assert session_cache.load(session_cache.identity(box.env), box.env) is not None
    else:
        assert federation == 0
    if what == "node cache":
        ops: List[str] = [c["op"] for c in fake_oci.calls()]
        assert "ListPrivateIps" in ops
        state = json.loads(box.state_path().read_text())
        assert state["subnet_id"] == fake_oci.private_ip_by_address(SANDBOX_VIP)["subnetId"]


def test_the_sdk_says_which_endpoint_it_resolved(fake_oci: Any, node1: OciSettings) -> None:
    """What the node cache keeps as the endpoint hint when the settings give none
    (the SDK resolves iaas.<region>...): the origin of the SDK's own request."""
    api = OciApi(node1)
    assert api.resolved_endpoint is None
    api.get_vnic(vnic_of(fake_oci, "node1"))
    assert api.resolved_endpoint == fake_oci.core_endpoint
