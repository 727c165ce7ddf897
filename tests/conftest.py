import atexit
import os
import shutil
import tempfile
from typing import Any

import pytest

pytest_plugins = ["tests.fakes.fixtures", "tests.tools.reliability"]

# No test may ever reach the real instance metadata service (169.254.169.254):
# code that forgets to take its base URL from a fake gets a dead loopback port.
os.environ.setdefault("OCI_METADATA_BASE_URL", "http://127.0.0.1:9/opc/v2")

# Nor write the instance-principal session cache into the machine's /run: every
# test process gets a directory of its own (tests that look at the cache set
# their own with monkeypatch).
if "PCS_OCI_SESSION_DIR" not in os.environ:
    _SESSIONS = tempfile.mkdtemp(prefix="pcs-oci-session-")
    os.environ["PCS_OCI_SESSION_DIR"] = _SESSIONS
    atexit.register(shutil.rmtree, _SESSIONS, True)


@pytest.fixture(autouse=True)
def _session_cache_per_test(tmp_path_factory: pytest.TempPathFactory, monkeypatch: Any) -> None:
    """A session cached by one test is never another test's (fakes reuse ports)."""
    monkeypatch.setenv("PCS_OCI_SESSION_DIR", str(tmp_path_factory.mktemp("sessions")))
