"""The one place that imports the OCI Python SDK, lazily.

Importing pcs_oci.lib.oci (or any module of it) leaves `oci` out of
sys.modules: only code paths that really call the API pay the SDK's ~0.4 s
and ~70 MB, so `pcs-oci --help`, a completion keypress or an agent's stop
never do.
"""

import sys
from typing import Any, Dict, NamedTuple, Tuple

from pcs_oci.common import exit_codes, reports
from pcs_oci.lib.errors import PcsOciError


def load() -> Any:
    """The `oci` module with the clients pcs-oci uses; OCI_SDK_MISSING if absent."""
    try:
        import oci
        import oci.core  # noqa: F401 - the clients we use
    except ImportError as e:
        raise PcsOciError(
            reports.item(
                reports.OCI_SDK_MISSING,
                "the OCI Python SDK cannot be imported: {}".format(e),
                "install it: dnf install python39-oci-sdk (EL9) or pip install oci",
            ),
            exit_code=exit_codes.PRECONDITION,
        ) from None
    return oci


class Failures(NamedTuple):
    """The SDK's exception types that mean "the API call failed"."""

    # An answer with an error status (status, code, message, request_id).
    service: Tuple[type, ...]
    # No usable answer: connection, TLS, timeout, an open circuit breaker.
    transport: Tuple[type, ...]


def failure_types() -> Failures:
    """The SDK's failure types; none if nothing has imported the SDK yet (then
    no exception can be one of them, and this must not import it)."""
    if "oci" not in sys.modules:
        return Failures((), ())
    oci = sys.modules["oci"]
    from oci._vendor.requests.exceptions import RequestException

    transport: Tuple[type, ...] = (RequestException,)
    try:
        # The SDK's circuit breakers raise it (OciApi turns them off).
        from circuitbreaker import CircuitBreakerError

        transport += (CircuitBreakerError,)
    except ImportError:
        pass
    return Failures((oci.exceptions.ServiceError,), transport)


def to_dict(model: Any) -> Dict[str, Any]:
    """An SDK model as a plain dict with snake_case keys."""
    import oci.util

    data = oci.util.to_dict(model)
    return data if isinstance(data, dict) else {"value": data}
