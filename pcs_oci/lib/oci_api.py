"""The one module that talks to the OCI API through the Python SDK.

`oci` is imported lazily, inside functions: importing this module costs
nothing, and only code paths that really call the API pay the SDK's ~0.4 s
and ~70 MB (`import pcs_oci.lib.oci_api` leaves `oci` out of sys.modules).

OciApi is deliberately narrow and returns plain dicts with snake_case keys
(or small NamedTuples), never SDK models, so tests can use a FakeOciApi.

Every call has an explicit (connect, read) timeout, a bounded retry strategy
(429, 5xx, connection errors and timeouts, 409 IncorrectState/LockConflict)
and no circuit breaker: the SDK's default breaker is shared process-wide and
would turn ten throttled calls into 30 s of instant failures. Inside
`OciApi.budget()` all calls share one deadline, which is what
worst_case_seconds() is derived from.

Environment:
  OCI_METADATA_BASE_URL        IMDS base URL for the instance-principal signer
                               (read by the SDK itself), e.g.
                               http://127.0.0.1:PORT/opc/v2
  PCS_OCI_FEDERATION_ENDPOINT  our own override of the instance-principal
                               federation (token) endpoint, full URL, e.g.
                               http://127.0.0.1:PORT/v1/x509; for tests
  PCS_OCI_RETRY_BASE_SECONDS   the retry backoff base (default 1 s, accepted
                               0.01-10); tests compress the backoff with it
"""

import os
import re
import threading
import time
import urllib.parse
from contextlib import contextmanager
from typing import Any, Callable, Dict, Iterator, List, NamedTuple, Optional, Tuple

from pcs_oci import settings as pcs_settings
from pcs_oci.common import exit_codes, reports
from pcs_oci.common.reports import ReportItem
from pcs_oci.lib.errors import CloudError, ConfigError, PcsOciError

FEDERATION_ENDPOINT_ENV = "PCS_OCI_FEDERATION_ENDPOINT"
RETRY_BASE_ENV = "PCS_OCI_RETRY_BASE_SECONDS"

AUTH_INSTANCE_PRINCIPAL = "instance_principal"
AUTH_API_KEY = "api_key"
AUTH_MODES = (AUTH_INSTANCE_PRINCIPAL, AUTH_API_KEY)

DEFAULT_CONFIG_FILE = "~/.oci/config"
DEFAULT_PROFILE = "DEFAULT"
DEFAULT_MAX_ATTEMPTS = 4
DEFAULT_MAX_TOTAL_SECONDS = 20.0
DEFAULT_RETRY_BASE_SECONDS = 1.0
# A TCP connect to the API needs far less than the read timeout.
MAX_CONNECT_TIMEOUT = 3.0
# Sleep before retry n: base * 2**(n-1) + jitter(0..base), capped at this * base.
_MAX_BACKOFF_FACTOR = 4.0
# Process start, SDK import and local work around the API calls.
_LOCAL_OVERHEAD_SECONDS = 2.0
# Pagination guard: a list of private IPs for one address is one page.
_MAX_PAGES = 1000


class OciSettings(NamedTuple):
    auth: str = AUTH_INSTANCE_PRINCIPAL
    config_file: Optional[str] = None
    profile: Optional[str] = None
    region: Optional[str] = None
    # Core API service endpoint, scheme://host[:port]; the SDK adds /20160918.
    endpoint: Optional[str] = None
    proxy: Optional[str] = None
    # Seconds per attempt: the read timeout; connect gets min(3, timeout).
    timeout: float = pcs_settings.DEFAULT_API_TIMEOUT
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    # Retry budget: of one call, or of all calls inside OciApi.budget().
    max_total_seconds: float = DEFAULT_MAX_TOTAL_SECONDS
    retry_base_seconds: float = DEFAULT_RETRY_BASE_SECONDS


class Tagged(NamedTuple):
    """A resource and the etag to pass as if_match when updating it."""

    data: Dict[str, Any]
    etag: str


def settings_from_config(oci_config: Any) -> OciSettings:
    """OciSettings from the config file's `oci` section (any object with those attributes)."""
    values = {f: getattr(oci_config, f) for f in OciSettings._fields if hasattr(oci_config, f)}
    values.setdefault("retry_base_seconds", retry_base_seconds())
    return OciSettings(**{k: v for k, v in values.items() if v is not None})


def retry_base_seconds() -> float:
    """DEFAULT_RETRY_BASE_SECONDS, or PCS_OCI_RETRY_BASE_SECONDS when it is a
    number in 0.01..10 (anything else is ignored)."""
    raw = os.environ.get(RETRY_BASE_ENV, "").strip()
    try:
        value = float(raw)
    except ValueError:
        return DEFAULT_RETRY_BASE_SECONDS
    return value if 0.01 <= value <= 10 else DEFAULT_RETRY_BASE_SECONDS


# ---------------------------------------------------------------- settings


def check_settings(s: OciSettings) -> List[ReportItem]:
    """Every problem with the settings, without importing the SDK."""
    found: List[ReportItem] = []

    def bad(field: str, message: str, hint: str) -> None:
        found.append(reports.item(reports.OCI_INVALID_CONFIG, message, hint, "oci." + field))

    if s.auth not in AUTH_MODES:
        bad("auth", "unknown auth {!r}".format(s.auth), "use one of: " + ", ".join(AUTH_MODES))
    if s.endpoint is not None:
        problem = _url_problem(s.endpoint, allow_path=False)
        if problem:
            bad(
                "endpoint",
                "endpoint {!r} {}".format(s.endpoint, problem),
                "give scheme://host[:port] only, e.g. https://iaas.us-ashburn-1.oraclecloud.com;"
                " the SDK adds /20160918",
            )
    if s.proxy is not None:
        problem = _url_problem(s.proxy, allow_path=True)
        if problem:
            bad("proxy", "proxy {!r} {}".format(s.proxy, problem), "e.g. http://proxy:3128")
    if not _positive(s.timeout):
        bad("timeout", "timeout must be a positive number of seconds", "")
    if (
        not isinstance(s.max_attempts, int)
        or isinstance(s.max_attempts, bool)
        or s.max_attempts < 1
    ):
        bad("max_attempts", "max_attempts must be an integer >= 1", "")
    if not _positive(s.max_total_seconds):
        bad("max_total_seconds", "max_total_seconds must be a positive number", "")
    if not _positive(s.retry_base_seconds):
        bad("retry_base_seconds", "retry_base_seconds must be a positive number", "")
    return found


def _positive(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0


def _url_problem(url: str, allow_path: bool) -> str:
    try:
        parsed = urllib.parse.urlsplit(url)
        _ = parsed.port  # raises ValueError on a bad port
    except ValueError as e:
        return "is not a valid URL ({})".format(e)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        return "is not an http(s) URL with a host"
    if not allow_path and parsed.path not in ("", "/"):
        return "has a path ({})".format(parsed.path)
    if parsed.query or parsed.fragment:
        return "has a query or fragment"
    return ""


def timeouts(s: OciSettings) -> Tuple[float, float]:
    """The (connect, read) timeout of each attempt."""
    return (min(MAX_CONNECT_TIMEOUT, float(s.timeout)), float(s.timeout))


def max_backoff_seconds(s: OciSettings) -> float:
    return _MAX_BACKOFF_FACTOR * s.retry_base_seconds


def worst_case_seconds(s: OciSettings) -> float:
    """The longest one assign_vip (in a fresh process) can take, failures included.

    Inside OciApi.budget() no call starts after max_total_seconds; the call
    in flight then may still sleep one backoff and make one attempt. The
    instance-principal signer (IMDS + token) runs before that with its own
    bound of max_total_seconds.
    """
    connect, read = timeouts(s)
    api = s.max_total_seconds + max_backoff_seconds(s) + connect + read
    auth = s.max_total_seconds if s.auth == AUTH_INSTANCE_PRINCIPAL else 0.0
    return float(api + auth + _LOCAL_OVERHEAD_SECONDS)


# ---------------------------------------------------------------- SDK glue


def _import_oci() -> Any:
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


def _retry_strategy(oci: Any, s: OciSettings, total_seconds: float) -> Any:
    base = s.retry_base_seconds
    strategy = oci.retry.RetryStrategyBuilder(
        max_attempts_check=True,
        max_attempts=s.max_attempts,
        total_elapsed_time_check=True,
        # 0 would mean "no time check" to the SDK.
        total_elapsed_time_seconds=max(total_seconds, 0.001),
        service_error_check=True,
        # A fresh dict: the builder's default is a shared module-level one.
        service_error_retry_config={-1: [], 409: ["IncorrectState", "LockConflict"], 429: []},
        service_error_retry_on_any_5xx=True,
        retry_base_sleep_time_seconds=base,
        retry_exponential_growth_factor=2,
        retry_max_wait_between_calls_seconds=max_backoff_seconds(s),
        decorrelated_jitter=base,
        backoff_type=oci.retry.BACKOFF_DECORRELATED_JITTER_VALUE,
    ).get_retry_strategy()
    return _honour_retry_after(strategy, max_backoff_seconds(s))


def _honour_retry_after(strategy: Any, cap: float) -> Any:
    """The SDK ignores Retry-After; wait what the service asks (up to the
    longest backoff, so worst_case_seconds() still holds) instead of
    retrying into the same throttle on the jitter schedule."""
    jitter_sleep = strategy.do_sleep

    def do_sleep(attempt: int, exception: Any) -> None:
        wait = retry_after_seconds(getattr(exception, "headers", None))
        if wait is None:
            jitter_sleep(attempt, exception)
        else:
            time.sleep(min(wait, cap))

    strategy.do_sleep = do_sleep
    return strategy


def retry_after_seconds(headers: Any) -> Optional[float]:
    """Retry-After in seconds (delta-seconds form only), or None."""
    try:
        raw = next((v for k, v in dict(headers or {}).items() if k.lower() == "retry-after"), "")
        value = float(str(raw).strip())
    except (ValueError, AttributeError, TypeError):
        return None
    return value if 0 <= value < 86400 else None


class _Deadline(Exception):
    """_run_bounded gave up waiting."""


def _run_bounded(fn: Callable[[], Any], seconds: float) -> Any:
    """fn() in a daemon thread; _Deadline if it has not returned after seconds.

    The SDK's signer fixes its own IMDS and token timeouts at (10, 60) s;
    this is the only way to keep the agent's start within its bound.
    """
    box: Dict[str, Any] = {}

    def target() -> None:
        try:
            box["result"] = fn()
        except BaseException as e:  # re-raised in the caller
            box["error"] = e

    thread = threading.Thread(target=target, name="pcs-oci-auth", daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise _Deadline("no answer within {:g} s".format(seconds))
    if "error" in box:
        raise box["error"]
    return box.get("result")


def _signer_retryable(error: BaseException) -> bool:
    """Worth building the instance-principal signer again: IMDS's brief 404
    window while it updates, or a garbled certificate or token answer (the
    SDK has retried 429, 5xx and connection errors already). A definite
    answer (401, 400 from the auth service) is not."""
    status = int(getattr(error, "status", 0) or 0)
    if status:
        return status == 404
    return not isinstance(error, _Deadline)


# requests' timeout classes and the socket's; urllib3's NewConnectionError
# derives from ConnectTimeoutError, so match names, not the hierarchy.
_TIMEOUT_NAMES = ("Timeout", "ConnectTimeout", "ReadTimeout", "timeout", "TimeoutError")


def _reason(error: BaseException) -> str:
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


# Compute operations (fence_oci) need the instance family, not the network.
INSTANCE_OPERATIONS = ("GetInstance", "ListInstances", "InstanceAction")


_SECRET_LOOKING = re.compile(
    r"-----BEGIN[^-]*-----.*?(-----END[^-]*-----|$)|[A-Za-z0-9+/=_.-]{40,}", re.DOTALL
)


def redact(text: str) -> str:
    """text without PEM blocks or long base64/JWT-like runs (keys, certificates,
    tokens) that an SDK message may quote from an answer; OCIDs are kept."""

    def replace(match: "re.Match[str]") -> str:
        value = match.group(0)
        return value if value.startswith("ocid1.") else "[redacted]"

    return _SECRET_LOOKING.sub(replace, text)


def _policy_hint(auth: str, compartment: str, operation: str = "") -> str:
    if operation in INSTANCE_OPERATIONS:
        return instance_policy_hint(auth, compartment)
    who = "dynamic-group <group>" if auth == AUTH_INSTANCE_PRINCIPAL else "group <group>"
    where = compartment or "<compartment>"
    kind = "dynamic group" if auth == AUTH_INSTANCE_PRINCIPAL else "group"
    return (
        "check the {kind} and policy: allow {who} to use private-ips in compartment {c};"
        " allow {who} to use vnics in compartment {c}; `pcs-oci policy` prints them all"
    ).format(kind=kind, who=who, c=where)


def instance_policy_hint(auth: str, compartment: str = "") -> str:
    """What fence_oci's principal needs: read and power actions on the instances."""
    who = "dynamic-group <group>" if auth == AUTH_INSTANCE_PRINCIPAL else "group <group>"
    return (
        "check the {kind} and policy: allow {who} to use instances in compartment {c}"
        " (or: allow {who} to manage instance-family in compartment {c});"
        " `pcs-oci policy --fencing` prints them all"
    ).format(
        kind="dynamic group" if auth == AUTH_INSTANCE_PRINCIPAL else "group",
        who=who,
        c=compartment or "<compartment>",
    )


def map_error(
    error: BaseException,
    operation: str,
    endpoint: str,
    auth: str = AUTH_INSTANCE_PRINCIPAL,
    compartment: str = "",
) -> Optional[CloudError]:
    """The CloudError for an SDK/transport exception, or None if it is not one.

    The one place that decides report codes and transience for API failures.
    """
    if isinstance(error, CloudError):
        return error
    oci_exceptions = _sdk_exceptions()
    service_error = oci_exceptions[0] if oci_exceptions else None
    if service_error is not None and isinstance(error, service_error):
        return map_service_error(error, operation, auth, compartment)
    transport: Tuple[type, ...] = oci_exceptions[1:] + (OSError,)
    if isinstance(error, transport) or type(error).__name__ == "CircuitBreakerError":
        return CloudError(
            reports.item(
                reports.OCI_UNREACHABLE,
                "OCI API unreachable at {} ({}): {}".format(endpoint, operation, _reason(error)),
                "check the network path to the endpoint (route, DNS, proxy, NAT/service gateway)",
            ),
            transient=True,
        )
    return None


def _sdk_exceptions() -> Tuple[type, ...]:
    # Only consult the SDK if something already imported it.
    import sys

    if "oci" not in sys.modules:
        return ()
    oci = sys.modules["oci"]
    from oci._vendor.requests.exceptions import RequestException as VendoredRequestException

    return (oci.exceptions.ServiceError, VendoredRequestException)


def map_service_error(
    e: Any, operation: str, auth: str = AUTH_INSTANCE_PRINCIPAL, compartment: str = ""
) -> CloudError:
    """CloudError for anything with ServiceError's status, code, message and request_id."""
    status = int(getattr(e, "status", 0) or 0)
    code = str(getattr(e, "code", "") or "")
    request_id = str(getattr(e, "request_id", "") or "")
    text = reports.first_line(str(getattr(e, "message", "") or ""))[:200]
    detail = "{} (HTTP {}, opc-request-id {})".format(code or "no code", status, request_id or "-")
    message = "OCI {} failed: {}{}".format(operation, detail, ": " + text if text else "")
    transient = False
    hint = ""
    if status == 401:
        if re.search(r"date|clock|skew", text, re.IGNORECASE):
            report_code = reports.OCI_CLOCK_SKEW
            hint = "the node's clock is off by more than 5 minutes; check chronyd/NTP"
        else:
            report_code = reports.OCI_AUTH_FAILED
            hint = (
                "the instance principal token was rejected; is the instance in a dynamic group?"
                if auth == AUTH_INSTANCE_PRINCIPAL
                else "check the user, fingerprint and key in the OCI config file"
            )
    elif status == 403 or (status == 404 and code.startswith("NotAuthorized")):
        report_code = reports.OCI_NOT_AUTHORIZED
        if status == 404:
            # The code and the opc-request-id first: an exit reason keeps 128 characters.
            message = "OCI {} failed: {}: not found or not authorized".format(operation, detail)
        hint = _policy_hint(auth, compartment, operation)
    elif status == 404:
        report_code = reports.OCI_NOT_FOUND
        hint = "the resource does not exist (any more): check the OCID"
    elif status == 409:
        report_code = reports.OCI_CONFLICT
        transient = code in ("IncorrectState", "LockConflict")
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


def _config_error(s: OciSettings, config_file: str, profile: str, why: str) -> ConfigError:
    return ConfigError(
        reports.item(
            reports.OCI_INVALID_CONFIG,
            "OCI config file {} profile [{}]: {}".format(config_file, profile, why),
            "run 'oci setup config' or fix the file; needs user, fingerprint, tenancy,"
            " region and key_file",
            "oci.config_file",
        )
    )


def _api_key_config(oci: Any, s: OciSettings) -> Dict[str, Any]:
    config_file = s.config_file or DEFAULT_CONFIG_FILE
    profile = s.profile or DEFAULT_PROFILE
    try:
        config: Dict[str, Any] = oci.config.from_file(config_file, profile)
    except oci.exceptions.ConfigFileNotFound:
        raise _config_error(s, config_file, profile, "file not found") from None
    except oci.exceptions.ProfileNotFound:
        raise _config_error(s, config_file, profile, "profile not found") from None
    except oci.exceptions.InvalidKeyFilePath as e:
        path = re.search(r"key_file's value '([^']*)'", str(e))
        why = "key_file {} not found".format(path.group(1) if path else "")
        raise _config_error(s, config_file, profile, why) from None
    except (ValueError, OSError, oci.exceptions.ClientError) as e:
        # Messages here name keys, never values.
        raise _config_error(s, config_file, profile, reports.first_line(str(e))[:160]) from None
    if s.region:
        config["region"] = s.region
    try:
        oci.config.validate_config(config)
    except oci.exceptions.InvalidConfig as e:
        errors = getattr(e, "errors", {}) or {}
        what = ", ".join("{} {}".format(k, v) for k, v in sorted(errors.items())) or "invalid"
        raise _config_error(s, config_file, profile, what) from None
    key_file = os.path.expanduser(str(config.get("key_file") or ""))
    if not config.get("key_content") and not os.path.isfile(key_file):
        raise _config_error(s, config_file, profile, "key_file {} not found".format(key_file))
    return config


# ---------------------------------------------------------------- the API


class OciApi:
    """The OCI calls pcs-oci makes, with one error mapping and bounded retries."""

    def __init__(self, settings: OciSettings, compartment: str = ""):
        problems = check_settings(settings)
        if problems:
            raise ConfigError(*problems)
        self.settings = settings
        # Only for the policy hint of a NotAuthorized error.
        self.compartment = compartment
        self._deadline: Optional[float] = None
        self._last_error: Optional[CloudError] = None
        self._clients: Dict[str, Any] = {}
        self._auth: Optional[Tuple[Dict[str, Any], Any]] = None

    # -- plumbing

    @property
    def endpoint(self) -> str:
        """The Core API endpoint, for messages."""
        if self.settings.endpoint:
            return self.settings.endpoint.rstrip("/")
        region = self._auth[0].get("region") if self._auth else self.settings.region
        return "https://iaas.{}.oraclecloud.com".format(region or "<region>")

    @contextmanager
    def budget(self, seconds: Optional[float] = None) -> Iterator[None]:
        """All calls inside share one retry deadline (max_total_seconds by default)."""
        limit = time.monotonic() + (self.settings.max_total_seconds if seconds is None else seconds)
        outer = self._deadline
        self._deadline = limit if outer is None else min(outer, limit)
        try:
            yield
        finally:
            self._deadline = outer

    def _authenticate(self, oci: Any) -> Tuple[Dict[str, Any], Any]:
        if self._auth is None:
            if self.settings.auth == AUTH_API_KEY:
                self._auth = (_api_key_config(oci, self.settings), None)
            else:
                signer = self._instance_principal_signer(oci)
                region = self.settings.region or signer.region
                self._auth = ({"region": region}, signer)
        return self._auth

    def _instance_principal_signer(self, oci: Any) -> Any:
        s = self.settings
        federation = os.environ.get(FEDERATION_ENDPOINT_ENV, "").strip()
        kwargs: Dict[str, Any] = {
            "retry_strategy": _retry_strategy(oci, s, s.max_total_seconds),
            "federation_client_retry_strategy": _retry_strategy(oci, s, s.max_total_seconds),
            "federation_client_circuit_breaker_strategy": (
                oci.circuit_breaker.NoCircuitBreakerStrategy()
            ),
        }
        if federation:
            kwargs["federation_endpoint"] = federation

        deadline = time.monotonic() + s.max_total_seconds

        def build() -> Any:
            attempt = 0
            while True:
                attempt += 1
                try:
                    # The constructor reads IMDS and fetches the token; the SDK gives
                    # no proxy knob for either, so steer both through the environment.
                    with _signer_environment(s.proxy):
                        return oci.auth.signers.InstancePrincipalsSecurityTokenSigner(**kwargs)
                except Exception as e:  # retried below or re-raised
                    wait = min(max_backoff_seconds(s), s.retry_base_seconds * 2 ** (attempt - 1))
                    if (
                        not _signer_retryable(e)
                        or attempt >= s.max_attempts
                        or time.monotonic() + wait >= deadline
                    ):
                        raise
                time.sleep(wait)

        try:
            return _run_bounded(build, s.max_total_seconds)
        except PcsOciError:
            raise
        except Exception as e:  # any signer failure is an auth failure
            imds = os.environ.get(pcs_settings.IMDS_BASE_URL_ENV) or pcs_settings.IMDS_BASE_URL
            status = int(getattr(e, "status", 0) or 0)
            if status:
                # A ServiceError from the token endpoint (or IMDS, as the SDK maps it).
                reason = "{} (HTTP {}, opc-request-id {}): {}".format(
                    getattr(e, "code", "") or "no code",
                    status,
                    getattr(e, "request_id", "") or "-",
                    reports.first_line(str(getattr(e, "message", "") or ""))[:200],
                )
            elif isinstance(e, _Deadline):
                reason = str(e)
            elif type(e).__name__ == "InvalidCertificateFromInstanceMetadataError":
                # Its text carries the raw download, the private key included.
                reason = "the instance metadata service sent an invalid {} (not PEM)".format(
                    str(getattr(e, "certificate_type", "") or "certificate").replace("_", " ")
                )
            else:
                reason = redact(_reason(e))
            report_code = reports.OCI_AUTH_FAILED
            hint = (
                "IMDS at {} and the auth service{} must be reachable, and the instance"
                " must be in a dynamic group".format(
                    imds, " at " + federation if federation else ""
                )
            )
            if status == 401 and re.search(r"\bdate\b|clock|skew", reason, re.IGNORECASE):
                # The auth service is the first to see a wrong clock.
                report_code = reports.OCI_CLOCK_SKEW
                hint = "the node's clock is off by more than 5 minutes; check chronyd/NTP"
            raise CloudError(
                reports.item(
                    report_code, "instance principal authentication failed: {}".format(reason), hint
                ),
                transient=True,
                status=status,
                oci_code=str(getattr(e, "code", "") or "") if status else "",
                request_id=str(getattr(e, "request_id", "") or "") if status else "",
            ) from None

    def _client(self, kind: str) -> Any:
        client = self._clients.get(kind)
        if client is not None:
            return client
        oci = _import_oci()
        config, signer = self._authenticate(oci)
        s = self.settings
        kwargs: Dict[str, Any] = {
            "timeout": timeouts(s),
            # Per call we pass a strategy sized to the remaining budget.
            "retry_strategy": oci.retry.NoneRetryStrategy(),
            "circuit_breaker_strategy": oci.circuit_breaker.NoCircuitBreakerStrategy(),
        }
        if s.endpoint:
            kwargs["service_endpoint"] = s.endpoint.rstrip("/")
        if signer is not None:
            kwargs["signer"] = signer
        cls = oci.core.VirtualNetworkClient if kind == "network" else oci.core.ComputeClient
        try:
            client = cls(config, **kwargs)
        except (ValueError, oci.exceptions.ClientError) as e:
            # E.g. an unreadable or encrypted key_file; messages carry no key material.
            raise _config_error(
                s,
                s.config_file or DEFAULT_CONFIG_FILE,
                s.profile or DEFAULT_PROFILE,
                reports.first_line(str(e))[:160],
            ) from None
        if s.proxy:
            client.base_client.session.proxies = _proxies(s.proxy)
        self._clients[kind] = client
        return client

    def _call(
        self, operation: str, kind: str, method: str, *args: Any, expect: str = "", **kwargs: Any
    ) -> Any:
        """The SDK call with its retries; every failure mapped to a CloudError.

        expect ("object" or "list"): what a 200 answer must carry, resources
        with an `id`. A 200 that does not (malformed or truncated JSON, which
        the SDK turns into an all-None model or a bare TypeError) is a
        transient OCI_BAD_RESPONSE, tried again like a 5xx within the same
        attempt and time bounds: a 200 is not trusted blindly.
        """
        client = self._client(kind)
        oci = _import_oci()
        s = self.settings
        deadline = self._deadline
        if deadline is None:
            deadline = time.monotonic() + s.max_total_seconds
        attempt = 0
        while True:
            attempt += 1
            total = min(s.max_total_seconds, deadline - time.monotonic())
            if total <= 0:
                raise self._timeout_error(operation)
            try:
                response = getattr(client, method)(
                    *args, retry_strategy=_retry_strategy(oci, s, total), **kwargs
                )
            except Exception as e:  # mapped or re-raised below
                mapped = map_error(e, operation, self.endpoint, s.auth, self.compartment)
                if mapped is not None:
                    self._last_error = mapped
                    raise mapped from None
                if not _from_deserializer(e):
                    raise
                if not expect:
                    # A 2xx whose body the SDK cannot read, of a call whose
                    # answer we do not use (a write, read back by assign_vip).
                    return _Unreadable()
                mapped = _bad_answer(operation, "", "{}: {}".format(type(e).__name__, e))
            else:
                problem = _answer_problem(response.data, expect)
                if not problem:
                    return response
                mapped = _bad_answer(operation, getattr(response, "request_id", None), problem)
            self._last_error = mapped
            wait = min(max_backoff_seconds(s), s.retry_base_seconds * 2 ** (attempt - 1))
            if attempt >= s.max_attempts or time.monotonic() + wait >= deadline:
                raise mapped
            time.sleep(wait)

    def _timeout_error(self, operation: str) -> CloudError:
        last = self._last_error
        message = "OCI API calls did not finish within {:g} s; gave up before {}".format(
            self.settings.max_total_seconds, operation
        )
        if last is not None:
            message += "; last error: " + last.reports[0].message
        return CloudError(
            reports.item(reports.OCI_TIMEOUT, message, "retry later; the API is slow or throttled"),
            transient=True,
            status=last.status if last else 0,
            oci_code=last.oci_code if last else "",
            request_id=last.request_id if last else "",
        )

    def _get(self, operation: str, kind: str, method: str, *args: Any) -> Dict[str, Any]:
        response = self._call(operation, kind, method, *args, expect="object")
        return _to_dict(response.data)

    def _get_tagged(self, operation: str, method: str, resource_id: str) -> Tagged:
        response = self._call(operation, "network", method, resource_id, expect="object")
        return Tagged(_to_dict(response.data), str(response.headers.get("etag") or ""))

    def _list(
        self, operation: str, kind: str, method: str, *args: Any, **kwargs: Any
    ) -> List[Dict[str, Any]]:
        items: List[Dict[str, Any]] = []
        page: Optional[str] = None
        for _ in range(_MAX_PAGES):
            if page:
                kwargs["page"] = page
            response = self._call(operation, kind, method, *args, expect="list", **kwargs)
            items.extend(_to_dict(item) for item in response.data)
            page = response.next_page
            if not page:
                break
        return items

    # -- VNICs and subnets

    def get_vnic(self, vnic_id: str) -> Dict[str, Any]:
        vnic = self._get("GetVnic", "network", "get_vnic", vnic_id)
        if not self.compartment and vnic.get("compartment_id"):
            self.compartment = str(vnic["compartment_id"])
        return vnic

    def get_subnet(self, subnet_id: str) -> Dict[str, Any]:
        return self._get("GetSubnet", "network", "get_subnet", subnet_id)

    def get_security_list(self, security_list_id: str) -> Dict[str, Any]:
        return self._get("GetSecurityList", "network", "get_security_list", security_list_id)

    def list_nsg_rules(self, nsg_id: str) -> List[Dict[str, Any]]:
        return self._list(
            "ListNetworkSecurityGroupSecurityRules",
            "network",
            "list_network_security_group_security_rules",
            nsg_id,
        )

    # -- IPv4 private IPs

    def list_private_ips(
        self,
        ip_address: Optional[str] = None,
        subnet_id: Optional[str] = None,
        vnic_id: Optional[str] = None,
    ) -> List[Dict[str, Any]]:
        return self._list(
            "ListPrivateIps",
            "network",
            "list_private_ips",
            **_given(ip_address=ip_address, subnet_id=subnet_id, vnic_id=vnic_id),
        )

    def get_private_ip(self, private_ip_id: str) -> Tagged:
        return self._get_tagged("GetPrivateIp", "get_private_ip", private_ip_id)

    def create_private_ip(self, vnic_id: str, ip: str, retry_token: str) -> Dict[str, Any]:
        oci = _import_oci()
        details = oci.core.models.CreatePrivateIpDetails(vnic_id=vnic_id, ip_address=ip)
        # The answer is not checked: assign_vip confirms every create by reading it back.
        response = self._call(
            "CreatePrivateIp", "network", "create_private_ip", details, opc_retry_token=retry_token
        )
        return _to_dict(response.data)

    def update_private_ip_vnic(
        self, private_ip_id: str, vnic_id: str, if_match: Optional[str]
    ) -> Dict[str, Any]:
        oci = _import_oci()
        details = oci.core.models.UpdatePrivateIpDetails(vnic_id=vnic_id)
        # The answer is not checked: assign_vip confirms every move by reading it back.
        response = self._call(
            "UpdatePrivateIp",
            "network",
            "update_private_ip",
            private_ip_id,
            details,
            **_given(if_match=if_match),
        )
        return _to_dict(response.data)

    # -- IPv6

    def list_ipv6s(
        self,
        ip_address: Optional[str] = None,
        subnet_id: Optional[str] = None,
        vnic_id: Optional[str] = None,
    ) -> List[Dict[str, Any]]:
        return self._list(
            "ListIpv6s",
            "network",
            "list_ipv6s",
            **_given(ip_address=ip_address, subnet_id=subnet_id, vnic_id=vnic_id),
        )

    def get_ipv6(self, ipv6_id: str) -> Tagged:
        return self._get_tagged("GetIpv6", "get_ipv6", ipv6_id)

    def create_ipv6(self, vnic_id: str, ip: str, retry_token: str) -> Dict[str, Any]:
        oci = _import_oci()
        details = oci.core.models.CreateIpv6Details(vnic_id=vnic_id, ip_address=ip)
        response = self._call(
            "CreateIpv6", "network", "create_ipv6", details, opc_retry_token=retry_token
        )
        return _to_dict(response.data)

    def update_ipv6_vnic(
        self, ipv6_id: str, vnic_id: str, if_match: Optional[str]
    ) -> Dict[str, Any]:
        oci = _import_oci()
        details = oci.core.models.UpdateIpv6Details(vnic_id=vnic_id)
        response = self._call(
            "UpdateIpv6", "network", "update_ipv6", ipv6_id, details, **_given(if_match=if_match)
        )
        return _to_dict(response.data)

    # -- compute

    def list_instances(self, compartment_id: str) -> List[Dict[str, Any]]:
        return self._list("ListInstances", "compute", "list_instances", compartment_id)

    def list_vnic_attachments(
        self, compartment_id: str, instance_id: Optional[str] = None
    ) -> List[Dict[str, Any]]:
        return self._list(
            "ListVnicAttachments",
            "compute",
            "list_vnic_attachments",
            compartment_id,
            **_given(instance_id=instance_id),
        )

    def get_instance(self, instance_id: str) -> Dict[str, Any]:
        return self._get("GetInstance", "compute", "get_instance", instance_id)

    def instance_action(self, instance_id: str, action: str) -> Dict[str, Any]:
        """A power action (STOP, START, RESET, ...); the instance as the API answers.

        One retry token for all attempts: a STOP retried after a lost answer
        is still one STOP.
        """
        response = self._call(
            "InstanceAction",
            "compute",
            "instance_action",
            instance_id,
            action,
            opc_retry_token=new_retry_token(),
        )
        return _to_dict(response.data)


def new_retry_token() -> str:
    """An opc-retry-token: the same create retried is then done once."""
    import uuid  # 3 ms (platform, subprocess); only a create needs it

    return uuid.uuid4().hex


def _given(**kwargs: Optional[str]) -> Dict[str, str]:
    return {k: v for k, v in kwargs.items() if v is not None}


@contextmanager
def _signer_environment(proxy: Optional[str]) -> Iterator[None]:
    """Proxy env for the token request; never a proxy for IMDS, whatever the env says.

    Safe because the caller waits for the signer thread: nothing else runs.
    """
    names = ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "no_proxy", "NO_PROXY")
    saved = {n: os.environ.get(n) for n in names}
    imds_host = urllib.parse.urlsplit(
        os.environ.get(pcs_settings.IMDS_BASE_URL_ENV) or pcs_settings.IMDS_BASE_URL
    ).hostname
    bypass = [h for h in (saved["no_proxy"] or saved["NO_PROXY"] or "").split(",") if h.strip()]
    bypass += [h for h in (imds_host, "169.254.169.254", "fd00:c1::a9fe:a9fe") if h]
    try:
        if proxy:
            for n in names[:4]:
                os.environ[n] = proxy
        os.environ["no_proxy"] = os.environ["NO_PROXY"] = ",".join(bypass)
        yield
    finally:
        for n, value in saved.items():
            if value is None:
                os.environ.pop(n, None)
            else:
                os.environ[n] = value


def _proxies(proxy: str) -> Dict[str, str]:
    return {"http": proxy, "https": proxy}


class _Unreadable:
    """Stands in for an SDK response whose 2xx body could not be read."""

    data: Any = None
    headers: Dict[str, str] = {}
    request_id = ""
    next_page = None


def _from_deserializer(error: BaseException) -> bool:
    """Whether the SDK raised this while turning an answer body into a model."""
    tb = error.__traceback__
    while tb is not None:
        if "deserializ" in tb.tb_frame.f_code.co_name:
            return True
        tb = tb.tb_next
    return False


def _resource_problem(model: Any) -> str:
    resource_id = _to_dict(model).get("id")
    if isinstance(resource_id, str) and resource_id.strip():
        return ""
    return "no resource id in the answer (malformed or empty JSON)"


def _answer_problem(data: Any, expect: str) -> str:
    """What is wrong with a 200 answer's data, or "" if it has what we expect."""
    if expect == "object":
        return _resource_problem(data)
    if expect == "list":
        if not isinstance(data, list):
            return "expected a list of resources, got {}".format(type(data).__name__)
        for item in data:
            problem = _resource_problem(item)
            if problem:
                return "a list item has " + problem
    return ""


def _bad_answer(operation: str, request_id: Optional[str], problem: str) -> CloudError:
    request_id = str(request_id or "")
    return CloudError(
        reports.item(
            reports.OCI_BAD_RESPONSE,
            "OCI {} failed: malformed answer (HTTP 200, opc-request-id {}): {}".format(
                operation, request_id or "-", reports.first_line(problem)[:160]
            ),
            "the API (or a proxy on the way) sent a broken answer; tried again within the"
            " configured bound",
        ),
        transient=True,
        status=200,
        request_id=request_id,
    )


def _to_dict(model: Any) -> Dict[str, Any]:
    import oci.util

    data = oci.util.to_dict(model)
    return data if isinstance(data, dict) else {"value": data}
