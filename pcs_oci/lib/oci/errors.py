"""What an OCI failure means: the one mapping to CloudErrors, with the fix.

Every SDK or transport exception of an API call becomes a CloudError here:
its report code, whether it is transient (worth retrying later), and a
hint, which for a refusal is the IAM policy statement to add. The messages
put the OCI error code, HTTP status and opc-request-id first (http_detail):
Pacemaker keeps only 128 characters of an agent's exit reason.
"""

import re
from typing import Any, List, Optional

from pcs_oci.common import agent_params as params
from pcs_oci.common import reports
from pcs_oci.lib.errors import CloudError, ConfigError
from pcs_oci.lib.oci import sdk
from pcs_oci.lib.oci.retry import BUSY_CODES

# Compute operations (fence_oci) need the instance family, not the network.
INSTANCE_OPERATIONS = ("GetInstance", "ListInstances", "InstanceAction")

# 400: a resource named in the request body (a VNIC to move to, a private IP
# to look up) is not found or not authorized (OCI API errors page). To the
# principal that is the refusal a 404 NotAuthorizedOrNotFound is for a
# resource in the URI, and wants the same policy fix.
RELATED_NOT_AUTHORIZED = "RelatedResourceNotAuthorizedOrNotFound"

CLOCK_SKEW_HINT = "the node's clock is off by more than 5 minutes; check chronyd/NTP"

_SECRET_LOOKING = re.compile(
    r"-----BEGIN[^-]*-----.*?(-----END[^-]*-----|$)|[A-Za-z0-9+/=_.-]{40,}", re.DOTALL
)
_CLOCK_SKEW = re.compile(r"\bdate\b|clock|skew", re.IGNORECASE)
# requests' timeout classes and the socket's; urllib3's NewConnectionError
# derives from ConnectTimeoutError, so match names, not the hierarchy.
_TIMEOUT_NAMES = ("Timeout", "ConnectTimeout", "ReadTimeout", "timeout", "TimeoutError")


def http_detail(code: str, status: int, request_id: str) -> str:
    """'NotAuthorizedOrNotFound (HTTP 404, opc-request-id ABC)': what OCI's
    support needs to find the request, in the same words everywhere."""
    return "{} (HTTP {}, opc-request-id {})".format(code or "no code", status, request_id or "-")


def is_clock_skew(status: int, message: str) -> bool:
    """A 401 because the request's Date is too far from the service's clock
    (the API and the auth service both say so in the message)."""
    return status == 401 and bool(_CLOCK_SKEW.search(message))


def redact(text: str) -> str:
    """text without PEM blocks or long base64/JWT-like runs (keys, certificates,
    tokens) that an SDK message may quote from an answer; OCIDs are kept."""

    def replace(match: "re.Match[str]") -> str:
        value = match.group(0)
        return value if value.startswith("ocid1.") else "[redacted]"

    return _SECRET_LOOKING.sub(replace, text)


# ---------------------------------------------------------------- policy hints


def _principal(auth: str) -> str:
    return "dynamic-group <group>" if auth == params.AUTH_INSTANCE_PRINCIPAL else "group <group>"


def _kind(auth: str) -> str:
    return "dynamic group" if auth == params.AUTH_INSTANCE_PRINCIPAL else "group"


def policy_hint(auth: str, compartment: str = "", operation: str = "") -> str:
    """The IAM policy the principal needs for an operation (the VIP's by default)."""
    if operation in INSTANCE_OPERATIONS:
        return instance_policy_hint(auth, compartment)
    return "check the {} and policy: {}; `pcs-oci policy` prints them all".format(
        _kind(auth), vip_policy(auth, compartment)
    )


def vip_policy(auth: str = params.AUTH_INSTANCE_PRINCIPAL, compartment: str = "") -> str:
    """The policy statements the VIP's principal needs: use its private IPs and VNICs."""
    return (
        "allow {who} to use private-ips in compartment {c};"
        " allow {who} to use vnics in compartment {c}"
    ).format(who=_principal(auth), c=compartment or "<compartment>")


def instance_policy_hint(auth: str, compartment: str = "") -> str:
    """What fence_oci's principal needs: read and power actions on the instances."""
    return (
        "check the {kind} and policy: allow {who} to use instances in compartment {c}"
        " (or: allow {who} to manage instance-family in compartment {c});"
        " `pcs-oci policy --fencing` prints them all"
    ).format(kind=_kind(auth), who=_principal(auth), c=compartment or "<compartment>")


# ---------------------------------------------------------------- the mapping


def map_error(
    error: BaseException,
    operation: str,
    endpoint: str,
    auth: str = params.AUTH_INSTANCE_PRINCIPAL,
    compartment: str = "",
) -> Optional[CloudError]:
    """The CloudError for an SDK/transport exception, or None if it is not one.

    The one place that decides report codes and transience for API failures.
    """
    if isinstance(error, CloudError):
        return error
    failures = sdk.failure_types()
    if isinstance(error, failures.service):
        return map_service_error(error, operation, auth, compartment)
    if isinstance(error, failures.transport + (OSError,)):
        return unreachable(error, operation, endpoint)
    return None


def unreachable(error: BaseException, operation: str, endpoint: str) -> CloudError:
    """A connection-level failure (no answer at all): transient."""
    return CloudError(
        reports.item(
            reports.OCI_UNREACHABLE,
            "OCI API unreachable at {} ({}): {}".format(
                endpoint, operation, transport_reason(error)
            ),
            "check the network path to the endpoint (route, DNS, proxy, NAT/service gateway)",
        ),
        transient=True,
    )


def map_service_error(
    e: Any, operation: str, auth: str = params.AUTH_INSTANCE_PRINCIPAL, compartment: str = ""
) -> CloudError:
    """CloudError for anything with ServiceError's status, code, message and request_id."""
    status = int(getattr(e, "status", 0) or 0)
    code = str(getattr(e, "code", "") or "")
    request_id = str(getattr(e, "request_id", "") or "")
    text = reports.first_line(str(getattr(e, "message", "") or ""))[:200]
    detail = http_detail(code, status, request_id)
    message = "OCI {} failed: {}{}".format(operation, detail, ": " + text if text else "")
    transient = False
    hint = ""
    if is_clock_skew(status, text):
        report_code = reports.OCI_CLOCK_SKEW
        hint = CLOCK_SKEW_HINT
    elif status == 401:
        report_code = reports.OCI_AUTH_FAILED
        hint = (
            "the instance principal token was rejected; is the instance in a dynamic group?"
            if auth == params.AUTH_INSTANCE_PRINCIPAL
            else "check the user, fingerprint and key in the OCI config file"
        )
    elif (
        status == 403
        or (status == 404 and code.startswith("NotAuthorized"))
        or (status == 400 and code == RELATED_NOT_AUTHORIZED)
    ):
        report_code = reports.OCI_NOT_AUTHORIZED
        if status == 404:
            # The code and the opc-request-id first: an exit reason keeps 128 characters.
            message = "OCI {} failed: {}: not found or not authorized".format(operation, detail)
        hint = policy_hint(auth, compartment, operation)
    elif status == 404:
        report_code = reports.OCI_NOT_FOUND
        hint = "the resource does not exist (any more): check the OCID"
    elif status == 409:
        report_code = reports.OCI_CONFLICT
        transient = code in BUSY_CODES
        hint = (
            "the resource is busy with another change; retried within the configured bound"
            if transient
            else "the change conflicts with the resource's current state"
        )
    elif status == 412:
        report_code = reports.OCI_PRECONDITION_FAILED
        transient = True
        hint = "the resource changed since it was read (another node?); try again"
    elif status == 429:
        report_code = reports.OCI_THROTTLED
        transient = True
        hint = "the API throttled this tenancy; retried within the configured bound"
    elif status >= 500:
        report_code = reports.OCI_SERVICE_ERROR
        transient = status != 501
        hint = (
            "an error of the OCI service, retried within the configured bound; try again"
            " later (https://ocistatus.oraclecloud.com)"
        )
    else:
        report_code = reports.OCI_REQUEST_ERROR
        hint = "the API rejected the request; the message says why"
    return CloudError(
        reports.item(report_code, message, hint),
        transient=transient,
        status=status,
        oci_code=code,
        request_id=request_id,
    )


def bad_answer(operation: str, request_id: Optional[str], problem: str) -> CloudError:
    """A 200 whose body does not carry what the operation must answer."""
    request_id = str(request_id or "")
    return CloudError(
        reports.item(
            reports.OCI_BAD_RESPONSE,
            "OCI {} failed: {}: {}".format(
                operation,
                http_detail("malformed answer", 200, request_id),
                reports.first_line(problem)[:160],
            ),
            "the API (or a proxy on the way) sent a broken answer; tried again within the"
            " configured bound",
        ),
        transient=True,
        status=200,
        request_id=request_id,
    )


def api_key_config_error(config_file: str, profile: str, why: str) -> ConfigError:
    return ConfigError(
        reports.item(
            reports.OCI_INVALID_CONFIG,
            "OCI config file {} profile [{}]: {}".format(config_file, profile, why),
            "run 'oci setup config' or fix the file; needs user, fingerprint, tenancy,"
            " region and key_file",
            "oci.config_file",
        )
    )


def transport_reason(error: BaseException) -> str:
    """A one-line reason for a connection-level failure, without the SDK's noise."""
    # requests/urllib3 nest the socket error a few levels deep.
    queue: List[Any] = [error]
    for _ in range(30):
        if not queue:
            break
        current = queue.pop(0)
        if not isinstance(current, BaseException):
            continue
        name = type(current).__name__
        if name in _TIMEOUT_NAMES:
            return "timed out ({})".format(name)
        if isinstance(current, OSError) and current.strerror:
            return str(current.strerror)
        queue.extend(current.args)
        queue.extend(
            e
            for e in (getattr(current, "reason", None), current.__cause__, current.__context__)
            if e is not None
        )
    text = str(error)
    errno = re.search(r"\[Errno -?\d+\] ([^'\")\]]+)", text)
    if errno:
        return errno.group(1).strip()
    return reports.first_line(text)[:200] or type(error).__name__
