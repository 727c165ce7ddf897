"""Refuse every connection to the real instance metadata service from a test process.

OCI SDKs before 2.141.0 hard-code http://169.254.169.254/opc/v2 in the
instance-principal signer and ignore OCI_METADATA_BASE_URL, so on the SDK
floor a test whose code under test forgets to point the signer at the fake
would reach for the real address. The matrix virtualenvs (Makefile:
test-sdk-floor, test-el9-libs) load this module at interpreter start through
a .pth file, so no test, in-process or in a subprocess, can: the connection
fails at once with ENETUNREACH and a message naming this guard.
"""

import errno
import ipaddress
import socket
from typing import Any

BLOCKED = frozenset(ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:c1::a9fe:a9fe"))
_MARK = "_pcs_oci_imds_guard"


def _refuse(address: Any) -> None:
    try:
        host = address[0] if isinstance(address, tuple) else None
        ip = ipaddress.ip_address(str(host).split("%")[0]) if host is not None else None
    except ValueError:
        return
    if ip in BLOCKED:
        raise OSError(
            errno.ENETUNREACH,
            "connection to the real IMDS address {} refused by tests/tools/imds_guard.py"
            " (the code under test did not use the fake's URL)".format(ip),
        )


def install() -> None:
    """Wrap socket.socket.connect and connect_ex once per process."""
    if getattr(socket.socket, _MARK, False):
        return
    connect = socket.socket.connect
    connect_ex = socket.socket.connect_ex

    def guarded_connect(self: socket.socket, address: Any) -> None:
        _refuse(address)
        connect(self, address)

    def guarded_connect_ex(self: socket.socket, address: Any) -> int:
        try:
            _refuse(address)
        except OSError as e:
            return int(e.errno or errno.ENETUNREACH)
        return connect_ex(self, address)

    socket.socket.connect = guarded_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = guarded_connect_ex  # type: ignore[method-assign]
    setattr(socket.socket, _MARK, True)
