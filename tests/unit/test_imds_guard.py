"""The matrix venvs' guard: no test process can reach the real IMDS address."""

import errno
import socket

import pytest

from tests.tools import imds_guard


def test_the_real_imds_addresses_are_refused_and_loopback_is_not() -> None:
    imds_guard.install()
    imds_guard.install()  # once per process, however often it is called
    for family, address in (
        (socket.AF_INET, ("169.254.169.254", 80)),
        (socket.AF_INET6, ("fd00:c1::a9fe:a9fe", 80, 0, 0)),
    ):
        with socket.socket(family, socket.SOCK_STREAM) as s:
            assert s.connect_ex(address) == errno.ENETUNREACH
            with pytest.raises(OSError) as refused:
                s.connect(address)
            assert refused.value.errno == errno.ENETUNREACH
            assert "imds_guard" in str(refused.value)
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        with socket.create_connection(server.getsockname(), timeout=5):
            pass
