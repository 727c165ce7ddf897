import os

pytest_plugins = ["tests.fakes.fixtures", "tests.tools.reliability"]

# No test may ever reach the real instance metadata service (169.254.169.254):
# code that forgets to take its base URL from a fake gets a dead loopback port.
os.environ.setdefault("OCI_METADATA_BASE_URL", "http://127.0.0.1:9/opc/v2")
