"""The fake's latency profile and its call counts by kind (tests/fakes/latency.py)."""

import time
from typing import Any, Dict, List

import pytest

from tests.fakes.harness import FakeOci
from tests.fakes.latency import DEFAULT_PROFILE_MS, Counts, Latency, count, kind, parse_profile
from tests.fakes.test_fakes import http_get, vnet


def test_kinds_of_calls() -> None:
    assert [kind(op) for op in ("Imds:identity", "Federation", "GetPrivateIp")] == [
        "metadata",
        "federation",
        "core",
    ]


def test_profile_text() -> None:
    assert (
        parse_profile("default")
        == DEFAULT_PROFILE_MS
        == {
            "core": 50.0,
            "federation": 300.0,
            "metadata": 2.0,
        }
    )
    assert parse_profile("core=20") == {"core": 20.0, "federation": 0.0, "metadata": 0.0}
    for bad in ("cpu=1", "core", "core=-1", "core=x"):
        with pytest.raises(ValueError):
            parse_profile(bad)
    with pytest.raises(ValueError):
        Latency().set({"disk": 1.0})


def test_each_kind_waits_its_own_time(fake_oci: FakeOci) -> None:
    fake_oci.set_latency(core=200, metadata=0, federation=0)
    client = vnet(fake_oci)
    vnic = fake_oci.node("node1")["vnic_id"]
    start = time.monotonic()
    client.get_vnic(vnic)
    core = time.monotonic() - start
    start = time.monotonic()
    status, _ = http_get(fake_oci.imds_base("node1") + "/instance/")
    metadata = time.monotonic() - start
    assert status == 200
    # Lower bounds only (a loaded machine is slower, never faster).
    assert core >= 0.2 and metadata < core
    assert fake_oci.set_latency() == {"core": 200.0, "federation": 0.0, "metadata": 0.0}


def _calls(*ops: str) -> List[Dict[str, Any]]:
    return [{"op": op} for op in ops]


def test_counts_of_a_cold_and_a_warm_start() -> None:
    cold = count(
        _calls(
            "Imds:instance",
            "Imds:identity",
            "Federation",
            "GetVnic",
            "ListPrivateIps",
            "GetPrivateIp",
            "UpdatePrivateIp",
            "GetPrivateIp",
        )
    )
    assert cold == Counts(3, 1, 1, 1, 2)
    assert cold.core == 5
    warm = count(_calls("GetPrivateIp", "UpdatePrivateIp", "GetPrivateIp", "GetPrivateIp"))
    assert warm == Counts(1, 1, 2, 0, 0)
    assert warm.text() == "1 + write + 2 confirming; federation 0, metadata 0"
    assert count(_calls("GetPrivateIp")).text() == "1 Core (no write); federation 0, metadata 0"
