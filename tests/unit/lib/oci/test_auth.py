"""The bounded instance-principal signer and the proxy environment it borrows."""

import os
import threading
from typing import Any, Dict, List

import pytest

from pcs_oci.common import reports
from pcs_oci.lib.errors import CloudError
from pcs_oci.lib.oci import auth
from pcs_oci.lib.oci.settings import OciSettings

PROXY = "http://proxy.invalid:3128"
NAMES = ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "no_proxy", "NO_PROXY")


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> Dict[str, str]:
    """The proxy variables as the caller has them: some set, some not."""
    for name in NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "http://callers-own:8080")
    monkeypatch.setenv("no_proxy", "internal.example")
    return {n: os.environ[n] for n in NAMES if n in os.environ}


def proxy_variables() -> Dict[str, str]:
    return {n: os.environ[n] for n in NAMES if n in os.environ}


def test_proxy_is_set_only_inside_and_imds_always_bypassed(environment: Dict[str, str]) -> None:
    proxy = auth.ProxyEnvironment(PROXY)
    with proxy.applied():
        assert os.environ["https_proxy"] == os.environ["HTTPS_PROXY"] == PROXY
        bypass = os.environ["NO_PROXY"].split(",")
        assert "internal.example" in bypass and "169.254.169.254" in bypass
    assert proxy_variables() == environment


def test_a_closed_environment_is_never_applied_again(environment: Dict[str, str]) -> None:
    proxy = auth.ProxyEnvironment(PROXY)
    proxy.close()
    with pytest.raises(auth.Deadline):
        with proxy.applied():
            pass  # pragma: no cover - never entered
    assert proxy_variables() == environment


def test_the_signer_thread_leaves_the_environment_alone_after_the_deadline(
    environment: Dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The caller gives up while the SDK's signer hangs inside the proxy
    environment: the caller's variables are back at once, and the thread,
    which goes on, neither restores stale values later nor sets the proxy
    again for another attempt."""
    oci = pytest.importorskip("oci")
    inside = threading.Event()
    release = threading.Event()
    seen: List[Dict[str, str]] = []

    class HangingSigner:
        def __init__(self, **kwargs: Any) -> None:
            seen.append(proxy_variables())
            inside.set()
            release.wait(30)
            # Retryable (a garbled IMDS answer): the old loop would try again.
            raise ValueError("garbled certificate")

    monkeypatch.setattr(oci.auth.signers, "InstancePrincipalsSecurityTokenSigner", HangingSigner)
    settings = OciSettings(proxy=PROXY, max_total_seconds=0.5, max_attempts=5)
    threads_before = set(threading.enumerate())
    with pytest.raises(CloudError) as e:
        auth.instance_principal_signer(oci, settings)
    assert e.value.codes == [reports.OCI_AUTH_FAILED]
    assert "no answer within 0.5 s" in e.value.reports[0].message
    assert inside.is_set() and seen[0]["HTTPS_PROXY"] == PROXY
    assert proxy_variables() == environment

    (signer_thread,) = [
        t for t in threading.enumerate() if t not in threads_before and t.name == "pcs-oci-auth"
    ]
    release.set()
    signer_thread.join(10)
    assert not signer_thread.is_alive()
    assert proxy_variables() == environment
    assert len(seen) == 1


def test_run_bounded_returns_or_reraises_in_time() -> None:
    assert auth.run_bounded(lambda: 42, 5, give_up=lambda: None) == 42
    with pytest.raises(KeyError):
        auth.run_bounded(lambda: {}["x"], 5, give_up=lambda: None)
    gave_up: List[bool] = []
    release = threading.Event()
    with pytest.raises(auth.Deadline):
        auth.run_bounded(lambda: release.wait(30), 0.05, give_up=lambda: gave_up.append(True))
    release.set()
    assert gave_up == [True]
