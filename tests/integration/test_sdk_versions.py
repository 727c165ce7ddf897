"""The instance-principal signer on every supported SDK (2.93.1 to the latest):
our IMDS, our retries and time bound, no v1, no process-wide federation
breaker, and the region from IMDS (docs/oci-behaviour.md, issue 12 points 3-4).

These run with whatever SDK the virtualenv has: `make test` (latest),
`make test-sdk-floor` (2.93.1). On the floor the signer hard-codes
169.254.169.254, which tests/tools/imds_guard.py refuses: a signer not
pointed at the fake fails there.
"""

import time
from pathlib import Path
from typing import Any

import pytest

from pcs_oci.common import reports
from pcs_oci.lib.errors import CloudError
from pcs_oci.lib.oci import auth, sdk_compat
from pcs_oci.lib.vip import assign_vip
from tests.fakes.harness import FakeOci
from tests.integration.test_oci_layer import VIP, ApiFactory, vnic_of

oci = pytest.importorskip("oci")
SIGNER = oci.auth.signers.InstancePrincipalsSecurityTokenSigner


# The signer makes an RSA key per construction: seconds on a loaded machine.
# These tests are about where it goes and how it retries, not how fast.
ROOMY = {"max_total_seconds": 30}


def _imds_reads(fake: FakeOci) -> Any:
    return [c for c in fake.calls() if c["op"].startswith("Imds:")]


@pytest.mark.fake_world(secondary_ips={VIP: "node2"})
def test_the_signer_reads_our_imds_on_any_sdk(
    fake_oci: FakeOci, make_api: ApiFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """OCI_METADATA_BASE_URL set after the SDK was imported: 2.93.1-2.140
    ignore it, 2.141-2.173 read it only at import, 2.174+ at each signer."""
    api = make_api("instance_principal", **ROOMY)  # sets OCI_METADATA_BASE_URL now
    assert "oci" in __import__("sys").modules
    assert assign_vip(api, vnic_of(fake_oci, "node1"), VIP).action == "moved"
    identity = [c for c in _imds_reads(fake_oci) if c["op"] == "Imds:identity"]
    assert identity and all(c["node"] == "node1" and c["status"] == 200 for c in identity)
    # Never the v1 paths, and the class (where it has the URLs) is still on v2.
    assert not [c for c in fake_oci.calls() if c["op"] == "Imds:legacy"]
    if not sdk_compat.reads_base_url_per_construction(oci):
        assert SIGNER.METADATA_URL_BASE == fake_oci.imds_base("node1")


@pytest.mark.fake_world(secondary_ips={VIP: "node2"})
def test_imds_errors_get_our_retries_not_the_sdks(fake_oci: FakeOci, make_api: ApiFactory) -> None:
    """SDKs before 2.103.0 retry IMDS with their own 8 attempts over 600 s,
    whatever retry_strategy says: with ours (4 attempts, 0.05 s backoff) a
    lasting 500 fails with its own reason, not at the deadline."""
    fake_oci.faults.add("Imds:identity", status=500, code="InternalServerError", count=None)
    api = make_api("instance_principal", max_total_seconds=30)
    started = time.monotonic()
    with pytest.raises(CloudError) as failed:
        api.get_vnic(vnic_of(fake_oci, "node1"))
    assert failed.value.codes == [reports.OCI_AUTH_FAILED] and failed.value.transient
    message = failed.value.reports[0].message
    assert "HTTP 500" in message and "no answer within" not in message, message
    assert len([c for c in fake_oci.calls() if c["op"] == "Imds:identity"]) == 4
    assert time.monotonic() - started < 30


@pytest.mark.fake_world(secondary_ips={VIP: "node2"})
def test_federation_failures_never_open_a_process_wide_breaker(
    fake_oci: FakeOci, make_api: ApiFactory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """2.15x-2.181: the federation client takes the process-wide breaker (3
    failures, then CircuitBreakerError for 30-49 s) and the signer cannot
    pass another. Given either thing those versions may have there (their
    default, or the NoCircuitBreakerStrategy that
    OCI_SDK_AUTH_CLIENT_CIRCUIT_BREAKER_ENABLED=false sets, which they then
    reject with TypeError), five failing starts leave the sixth working."""
    breakers = oci.circuit_breaker
    if not hasattr(breakers, "GLOBAL_FEDERATION_CLIENT_CIRCUIT_BREAKER_STRATEGY"):
        pytest.skip("this SDK has no federation breaker (before 2.15x)")
    for given in (
        breakers.CircuitBreakerStrategy(failure_threshold=3),
        breakers.NoCircuitBreakerStrategy(),
    ):
        monkeypatch.setattr(breakers, "GLOBAL_FEDERATION_CLIENT_CIRCUIT_BREAKER_STRATEGY", given)
        # Each round federates: not the session the round before kept.
        monkeypatch.setenv("PCS_OCI_SESSION_DIR", str(tmp_path / type(given).__name__))
        fake_oci.faults.add("Federation", status=503, code="ServiceUnavailable", count=5)
        for _ in range(5):
            with pytest.raises(CloudError) as failed:
                make_api("instance_principal", max_attempts=1, **ROOMY).get_vnic(
                    vnic_of(fake_oci, "node1")
                )
            assert "CircuitBreaker" not in failed.value.reports[0].message
            assert "TypeError" not in failed.value.reports[0].message
        assert make_api("instance_principal", **ROOMY).get_vnic(vnic_of(fake_oci, "node1"))["id"]
        fake_oci.clear_calls()


@pytest.mark.fake_world(region="mx-monterrey-1", secondary_ips={VIP: "node2"})
def test_the_region_comes_from_imds_not_the_sdks_table(
    fake_oci: FakeOci, make_api: ApiFactory
) -> None:
    """IMDS says `mty`; 2.93.1's table does not know it and its signer keeps
    "mty". pcs-oci takes canonicalRegionName when the config gives none."""
    api = make_api("instance_principal", **ROOMY)
    api.get_vnic(vnic_of(fake_oci, "node1"))
    assert api.region == "mx-monterrey-1"
    # The signer is given it: IMDS's instance document is read once, by us,
    # not again by the signer for /instance/region.
    reads = [c for c in fake_oci.calls() if c["op"] == "Imds:instance"]
    assert len(reads) == 1, reads
    # The config's region wins.
    configured = make_api("instance_principal", region="us-ashburn-1", **ROOMY)
    configured.get_vnic(vnic_of(fake_oci, "node1"))
    assert configured.region == "us-ashburn-1"


def test_the_token_endpoint_of_a_region_the_sdk_does_not_know() -> None:
    """The signer builds its token endpoint from its own region table: for a
    region it does not know, pcs-oci gives it the one IMDS's names make."""
    unknown = auth.InstanceRegion("xx-newregion-1", "oraclecloud.example")
    assert auth.federation_endpoint(oci, unknown) == (
        "https://auth.xx-newregion-1.oraclecloud.example/v1/x509"
    )
    assert (
        auth.federation_endpoint(oci, auth.InstanceRegion("us-ashburn-1", "oraclecloud.com")) == ""
    )
    assert auth.federation_endpoint(oci, None) == ""
    assert auth.federation_endpoint(oci, auth.InstanceRegion("xx-newregion-1", "")) == ""


def test_the_token_endpoint_override_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(auth.FEDERATION_ENDPOINT_ENV, "http://127.0.0.1:9/v1/x509")
    unknown = auth.InstanceRegion("xx-newregion-1", "oraclecloud.example")
    assert auth.federation_endpoint(oci, unknown) == "http://127.0.0.1:9/v1/x509"
