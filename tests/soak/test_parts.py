"""The soak's pure parts: T from the CIB, the sampler's parsers, the timings, the report."""

from pathlib import Path
from typing import Any, Dict, List

import pytest

from tests.soak import aftermath, docs, metrics, report, timing
from tests.soak import samples as S
from tests.soak.sampler import parse_crm_mon, parse_fib_local, state_file_claim
from tests.soak.synthetic import T0, event, stream

DATA = Path(__file__).with_name("data")

FIB = """Main:
  +-- 0.0.0.0/0 3 0 5
     |-- 0.0.0.0
        /0 universe UNICAST
Local:
  +-- 0.0.0.0/0 2 0 2
     +-- 127.0.0.0/8 2 0 2
        +-- 127.0.0.0/31 1 0 0
           |-- 127.0.0.0
              /8 host LOCAL
           |-- 127.0.0.1
              /32 host LOCAL
     +-- 192.168.97.0/24 2 0 2
           |-- 192.168.97.11
              /32 host LOCAL
           |-- 192.168.97.200
              /32 host LOCAL
        |-- 192.168.97.255
           /32 link BROADCAST
"""


def test_fib_local_addresses() -> None:
    assert parse_fib_local(FIB) == {"127.0.0.1", "192.168.97.11", "192.168.97.200"}
    assert parse_fib_local(FIB.replace("Local:", "Other:")) == set()


def test_what_a_state_file_claims() -> None:
    text = '{"ip": "192.168.97.200", "vnic_id": "ocid1.vnic.oc1..a", "checked_at": 5.0}'
    assert state_file_claim("vip1.json", text) == {
        "kind": "json",
        "ip": "192.168.97.200",
        "keys": ["checked_at", "ip", "vnic_id"],
    }
    assert state_file_claim("vip1.json", '{"ip": "192.168.9') == {"kind": "unreadable"}
    assert state_file_claim("vip1.json", "[]") == {"kind": "unreadable"}
    assert state_file_claim("vip1.fresh", "812 192.168.97.200\n") == {
        "kind": "fresh",
        "ip": "192.168.97.200",
    }
    assert state_file_claim("session", None) == {"kind": "dir"}
    assert state_file_claim(".state.4242.1", "") == {"kind": "other"}


def test_crm_mon_view() -> None:
    view = parse_crm_mon((DATA / "crm_mon.xml").read_text())
    assert view["quorum"] is True and view["dc"] == "node1" and view["fencing"] == []
    assert view["online"] == ["node1", "node2", "node3"] and view["unclean"] == []
    assert view["rsc"]["vip1"] == {
        "on": ["node1"],
        "role": "Started",
        "failed": False,
        "pending": None,
    }
    assert view["rsc"]["fence_node3"]["pending"] == "Monitoring"
    assert view["failures"] == [] and view["banned"] == {}


def test_crm_mon_failures_and_unclean_nodes() -> None:
    text = (DATA / "crm_mon.xml").read_text()
    text = text.replace('name="node2" id="2" online="true"', 'name="node2" id="2" online="false"')
    text = text.replace(
        'unclean="false" health="green" feature_set="3.16.1" shutdown="false" '
        'expected_up="true" is_dc="false" resources_running="2"',
        'unclean="true" health="green" feature_set="3.16.1" shutdown="false" '
        'expected_up="true" is_dc="false" resources_running="2"',
    )
    text = text.replace(
        '<resource_history id="vip1" orphan="false" migration-threshold="1000000">',
        '<resource_history id="vip2" orphan="false" migration-threshold="1000000" '
        'fail-count="1000000" last-failure="Wed Dec  2 10:25:32 2026">',
    )
    text = text.replace(
        "  <node_history>",
        '  <failures><failure op_key="vip2_start_0" node="node3" exitstatus="error" '
        'exitreason="NotAuthenticated (HTTP 401)" exitcode="1" call="9" status="complete" '
        'last-rc-change="2026-12-02 10:00:00Z" queued="0" exec="2000" interval="0" task="start"/>'
        '</failures>\n  <fence_history><fence_event action="reboot" target="node2" '
        'client="pacemaker-controld.134" origin="node1" status="pending"/>'
        '<fence_event action="reboot" target="node3" status="success"/></fence_history>\n'
        "  <node_history>",
    )
    view = parse_crm_mon(text)
    assert view["online"] == ["node1", "node3"] and view["unclean"] == ["node2"]
    assert view["fencing"] == ["node2"]
    assert view["banned"] == {"vip2": ["node1"]}
    assert view["failures"] == [
        ["vip2", "node3", "start", "error", "NotAuthenticated (HTTP 401)", "2026-12-02 10:00:00Z"]
    ]


def test_t_from_the_cib() -> None:
    t = timing.from_cib((DATA / "cib.xml").read_text(), ["vip1", "vip2"], 1.65, 1.98)
    assert t.dc_deadtime_s == 2.0
    assert t.fence_delay_s == 10.0 and t.fence_timeout_s == 300.0
    assert t.vip("vip1") == timing.VipTiming("vip1", 70.0, 20.0, 5.0, 10.0, 120.0)
    assert t.vip("vip2") == timing.VipTiming("vip2", 70.0, 20.0, 5.0, 0.0, 0.0)
    assert t.group_extra_s == 40.0  # the Dummy's default start and stop timeouts
    parts = t.components()
    assert parts["membership (token + consensus)"] == pytest.approx(3.63)
    assert parts["recovery (stop + 2 x start + failure-timeout)"] == 20 + 140 + 80 + 120
    assert parts["fencing (delay + 1.2 x action timeout)"] == 10 + 360
    assert t.convergence_deadline_s == pytest.approx(3.63 + 2 + 370 + 360 + 15, abs=0.1)
    assert t.failover_floor_s == pytest.approx(3.63)


def test_durations_and_cmap() -> None:
    assert timing.seconds("5000ms") == 5.0 and timing.seconds("1m") == 60.0
    assert timing.seconds("90") == 90.0 and timing.seconds(None, 7.0) == 7.0
    with pytest.raises(ValueError):
        timing.seconds("soon")
    cmap = timing.parse_cmap(
        "runtime.config.totem.token (u32) = 1650\nruntime.config.totem.consensus (u32) = 1980\n"
    )
    assert cmap == {"runtime.config.totem.token": "1650", "runtime.config.totem.consensus": "1980"}


def test_percentiles() -> None:
    p = metrics.percentiles([5.0, 1.0, 3.0, 2.0, 4.0])
    assert (p["n"], p["p50"], p["p95"], p["max"]) == (5, 3.0, 5.0, 5.0)
    assert metrics.percentiles([])["p50"] is None


def _killed_holder(t: float) -> Dict[str, Any]:
    if t < 10:
        return {}
    down = {"nodes": {"node1": "down"}, "online": ["node2", "node3"]}
    if t < 14.5:
        return dict(down, where={"vip1": None}, oci={"vip1": ["node1"]}, unclean=["node1"])
    return dict(down, where={"vip1": "node3"})


def test_failover_is_measured_until_every_source_agrees() -> None:
    ticks = stream(40, _killed_holder)
    wins = S.windows(event("0", "kill", 10, 30, node="node1", nodes=["node1"]), T0 + 40)
    f = metrics.failovers(ticks, wins, {"vip1": ["vip1"], "vip2": ["vip2"]})
    assert f["n"] == 1 and f["p50"] == 4.5 and f["clean"]["n"] == 1
    assert f["each"][0]["from"] == "node1" and f["each"][0]["to"] == "node3"
    assert f["by_kind"]["kill"]["n"] == 1
    # a cloud fault at the same time: still a failover, not a clean one
    recs = event("0", "kill", 10, 30, node="node1", nodes=["node1"]) + event(
        "1", "api", 12, 13, params={"mode": "503"}
    )
    f = metrics.failovers(ticks, S.windows(recs, T0 + 40), {"vip1": ["vip1"]})
    assert f["n"] == 1 and f["clean"]["n"] == 0


def test_a_short_hang_is_no_failover() -> None:
    ticks = stream(40, lambda t: {"nodes": {"node1": "frozen"}} if 10 <= t < 11 else {})
    wins = S.windows(event("0", "freeze", 10, 11, node="node1", nodes=["node1"]), T0 + 40)
    f = metrics.failovers(ticks, wins, {"vip1": ["vip1"]})
    assert f["n"] == 0 and f["stayed"] == 1


def test_convergence_per_quiet_period() -> None:
    ticks = stream(60, _killed_holder)
    recs = event("0", "kill", 10, 12, node="node1", nodes=["node1"])
    out = metrics.convergence(ticks, S.windows(recs, T0 + 60), {"vip1": ["vip1"]}, T0 + 12.2)
    # the final quiet period starts with the final heal (12.2 s); settled at 14.5 s
    assert out["n"] == 1 and out["final"] == pytest.approx(2.3, abs=0.05)


def _doc() -> Dict[str, Any]:
    return report.build(
        seed=42,
        events=[],
        scale=1.0,
        replay="make soak EVENTS=1 SEED=42",
        command="python -m tests.soak.run --events 1 --seed 42",
        commit="abc",
        records=[],
        timing=timing.from_cib((DATA / "cib.xml").read_text(), ["vip1"], 1, 1.2).to_dict(),
        violations=[
            {
                "invariant": "3",
                "kind": "not_converged",
                "t": 1.0,
                "t_rel": 1.0,
                "detail": "vip1: no node",
                "event_before": {"phase": "final_heal", "id": "final", "kind": "final_heal"},
                "sources": {},
            }
        ],
        notes=[],
        data={"failover_s": metrics.percentiles([1.0, 2.0])},
        api_calls={"total": 3},
        cluster={"nodes": 3},
        started=T0,
        setup_s=1.0,
        duration_s=2.0,
        error=None,
    )


def test_report_has_the_fields_the_issue_asks_for() -> None:
    doc = _doc()
    for key in ("seed", "events", "violations", "failover_s", "convergence_s", "api_calls"):
        assert key in doc
    assert doc["passed"] is False and doc["violation_count"] == 1
    assert {"p50", "p95", "max"} <= set(doc["failover_s"])
    assert any("not_converged" in line for line in report.summary(doc))


def test_docs_render_the_report() -> None:
    text = docs.render(_doc(), notes="Nothing broke.")
    assert text.startswith("# ")
    assert "make soak EVENTS=1 SEED=42" in text and "seed 42" in text.lower()
    assert "not_converged" in text and "Nothing broke." in text
    assert "generated" in text.lower()


def test_api_calls_are_counted_by_operation_and_status() -> None:
    calls: List[Dict[str, Any]] = [
        {"op": "UpdatePrivateIp", "status": 200, "time": 5.0},
        {"op": "Federation", "status": 401, "time": 6.0},
        {"op": "GetPrivateIp", "status": None, "time": 1.0},
    ]
    assert aftermath.count_calls(calls, 2.0) == {
        "total": 3,
        "during_schedule": 2,
        "by_op": {"Federation": 1, "GetPrivateIp": 1, "UpdatePrivateIp": 1},
        "by_status": {"200": 1, "401": 1, "dropped": 1},
    }
