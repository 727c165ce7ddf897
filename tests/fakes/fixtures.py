"""pytest fixtures for the fake OCI services (registered by tests/conftest.py).

    @pytest.mark.fake_world(ipv6_cidr="fd00:10::/64", nodes=("a", "b", "c"))
    @pytest.mark.fake_fidelity(move_delay=0.4)
    def test_x(fake_oci): ...

fake_world's keyword arguments go to world.make_world(), fake_fidelity's to
fidelity.Fidelity (the recorded OCI behaviours; defaults otherwise).
"""

from typing import Iterator

import pytest

from tests.fakes.fidelity import Fidelity
from tests.fakes.harness import FakeOci, start_fake_oci
from tests.fakes.world import World, make_world


def pytest_configure(config: "pytest.Config") -> None:
    config.addinivalue_line("markers", "fake_world(**kwargs): arguments for make_world()")
    config.addinivalue_line(
        "markers", "fake_fidelity(**kwargs): recorded OCI behaviours of the fake (Fidelity)"
    )


@pytest.fixture
def fake_world(request: "pytest.FixtureRequest") -> World:
    marker = request.node.get_closest_marker("fake_world")
    return make_world(**(marker.kwargs if marker else {}))


@pytest.fixture
def fake_fidelity(request: "pytest.FixtureRequest") -> Fidelity:
    marker = request.node.get_closest_marker("fake_fidelity")
    fidelity = Fidelity()
    if marker:
        fidelity.update(**marker.kwargs)
    return fidelity


@pytest.fixture
def fake_oci(fake_world: World, fake_fidelity: Fidelity) -> Iterator[FakeOci]:
    with start_fake_oci(fake_world, action_delay=0.1, fidelity=fake_fidelity) as fake:
        yield fake
