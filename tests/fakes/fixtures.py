"""pytest fixtures for the fake OCI services (registered by tests/conftest.py).

    @pytest.mark.fake_world(ipv6_cidr="fd00:10::/64", nodes=("a", "b", "c"))
    def test_x(fake_oci): ...

The marker's keyword arguments go to world.make_world().
"""

from typing import Iterator

import pytest

from tests.fakes.harness import FakeOci, start_fake_oci
from tests.fakes.world import World, make_world


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "fake_world(**kwargs): arguments for make_world()")


@pytest.fixture
def fake_world(request: pytest.FixtureRequest) -> World:
    marker = request.node.get_closest_marker("fake_world")
    return make_world(**(marker.kwargs if marker else {}))


@pytest.fixture
def fake_oci(fake_world: World) -> Iterator[FakeOci]:
    with start_fake_oci(fake_world, action_delay=0.1) as fake:
        yield fake
