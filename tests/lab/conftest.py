"""pytest setup for the cluster lab tests (tests/lab)."""


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "cluster: needs root and real pacemaker (tests/lab/cluster-lab)"
    )
