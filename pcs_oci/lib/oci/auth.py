"""Who signs the API requests: an API key from the OCI config file, or the
instance itself (instance principal), within pcs-oci's time bound.

Environment:
  OCI_METADATA_BASE_URL        IMDS base URL for the instance-principal signer
                               (given to every SDK version: sdk_compat.py), e.g.
                               http://127.0.0.1:PORT/opc/v2
  PCS_OCI_FEDERATION_ENDPOINT  our own override of the instance-principal
                               federation (token) endpoint, full URL, e.g.
                               http://127.0.0.1:PORT/v1/x509; for tests
"""

import os
import re
import threading
import time
import urllib.parse
from contextlib import contextmanager
from typing import Any, Callable, Dict, Iterator, List, NamedTuple, Optional

from pcs_oci import settings as pcs_settings
from pcs_oci.common import reports
from pcs_oci.lib.errors import CloudError, PcsOciError
from pcs_oci.lib.oci import errors, sdk_compat
from pcs_oci.lib.oci.retry import retry_strategy
from pcs_oci.lib.oci.settings import OciSettings, backoff_seconds

FEDERATION_ENDPOINT_ENV = "PCS_OCI_FEDERATION_ENDPOINT"
# The proxy variables requests reads, and its bypass list.
_PROXY_NAMES = ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY")
_BYPASS_NAMES = ("no_proxy", "NO_PROXY")
_IMDS_HOSTS = ("169.254.169.254", "fd00:c1::a9fe:a9fe")


# ---------------------------------------------------------------- API key


def api_key_config(oci: Any, s: OciSettings) -> Dict[str, Any]:
    """The SDK config of s's API key profile, checked before any request."""
    config_file, profile = s.config_file, s.profile

    def error(why: str) -> PcsOciError:
        return errors.api_key_config_error(config_file, profile, why)

    try:
        config: Dict[str, Any] = oci.config.from_file(config_file, profile)
    except oci.exceptions.ConfigFileNotFound:
        raise error("file not found") from None
    except oci.exceptions.ProfileNotFound:
        raise error("profile not found") from None
    except oci.exceptions.InvalidKeyFilePath as e:
        path = re.search(r"key_file's value '([^']*)'", str(e))
        raise error("key_file {} not found".format(path.group(1) if path else "")) from None
    except (ValueError, OSError, oci.exceptions.ClientError) as e:
        # Messages here name keys, never values.
        raise error(reports.first_line(str(e))[:160]) from None
    if s.region:
        config["region"] = s.region
    try:
        oci.config.validate_config(config)
    except oci.exceptions.InvalidConfig as e:
        problems = getattr(e, "errors", {}) or {}
        raise error(
            ", ".join("{} {}".format(k, v) for k, v in sorted(problems.items())) or "invalid"
        ) from None
    key_file = os.path.expanduser(str(config.get("key_file") or ""))
    if not config.get("key_content") and not os.path.isfile(key_file):
        raise error("key_file {} not found".format(key_file))
    return config


# ---------------------------------------------------------------- instance principal


class Deadline(Exception):
    """run_bounded gave up waiting."""


def run_bounded(fn: Callable[[], Any], seconds: float, give_up: Callable[[], None]) -> Any:
    """fn() in a daemon thread; Deadline if it has not returned after seconds.

    The SDK's signer fixes its own IMDS and token timeouts at (10, 60) s;
    this is the only way to keep the agent's start within its bound. At the
    deadline give_up() runs, in the caller, before Deadline is raised: the
    thread may run on inside the SDK, and must not touch what the caller
    owns from then on.
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
        give_up()
        raise Deadline("no answer within {:g} s".format(seconds))
    if "error" in box:
        raise box["error"]
    return box.get("result")


class ProxyEnvironment:
    """The proxy for the signer's requests, in os.environ while its caller waits.

    The SDK's signer has no proxy setting for its IMDS and token requests,
    and requests reads the proxy from the environment; so each attempt sets
    the variables for the length of one signer construction (and never a
    proxy for IMDS, whatever the environment says). When the caller gives up
    at the deadline it closes this: the variables are put back at once, and
    the signer thread, which may run on inside the SDK, cannot set them again.
    """

    def __init__(self, proxy: Optional[str]):
        self.proxy = proxy
        self._lock = threading.Lock()
        self._saved: Optional[Dict[str, Optional[str]]] = None
        self._closed = False

    @contextmanager
    def applied(self) -> Iterator[None]:
        """The variables set for the block; Deadline if the caller gave up already."""
        with self._lock:
            if self._closed:
                raise Deadline("the caller gave up")
            saved = {n: os.environ.get(n) for n in _PROXY_NAMES + _BYPASS_NAMES}
            self._saved = saved
            if self.proxy:
                for name in _PROXY_NAMES:
                    os.environ[name] = self.proxy
            bypass = ",".join(_bypass(saved["no_proxy"] or saved["NO_PROXY"] or ""))
            os.environ["no_proxy"] = os.environ["NO_PROXY"] = bypass
        try:
            yield
        finally:
            with self._lock:
                self._put_back()

    def close(self) -> None:
        """Put the variables back now; no later applied() sets them."""
        with self._lock:
            self._put_back()
            self._closed = True

    def _put_back(self) -> None:
        # The lock is held.
        if self._saved is None:
            return
        for name, value in self._saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved = None


def _bypass(given: str) -> List[str]:
    """The hosts no proxy is used for: the given ones and every IMDS address."""
    imds = urllib.parse.urlsplit(
        os.environ.get(pcs_settings.IMDS_BASE_URL_ENV) or pcs_settings.IMDS_BASE_URL
    ).hostname
    hosts = [h for h in given.split(",") if h.strip()]
    return hosts + [h for h in (imds,) + _IMDS_HOSTS if h]


def _signer_retryable(error: BaseException) -> bool:
    """Worth building the instance-principal signer again: IMDS's brief 404
    window while it updates, or a garbled certificate or token answer (the
    SDK has retried 429, 5xx and connection errors already). A definite
    answer (401, 400 from the auth service) is not."""
    status = int(getattr(error, "status", 0) or 0)
    if status:
        return status == 404
    return not isinstance(error, Deadline)


def federation_endpoint(oci: Any, region: Optional["InstanceRegion"]) -> str:
    """Where the signer gets its token: our override (tests), else "" (the
    SDK's own choice) unless the SDK does not know the instance's region.

    The signer builds https://auth.<region>.<domain>/v1/x509 from the short
    region code IMDS gives and its own region table; an older SDK's table
    lacks newer regions (2.93.1 lacks 34 of 2.189.0's 85) and would ask a
    host that does not exist. IMDS's canonical name and realm domain build
    the same URL without the table.
    """
    override = os.environ.get(FEDERATION_ENDPOINT_ENV, "").strip()
    if override or region is None or not region.realm_domain:
        return override
    if region.name in getattr(oci.regions, "REGIONS", ()):
        return ""
    return "https://auth.{}.{}/v1/x509".format(region.name, region.realm_domain)


class InstanceRegion(NamedTuple):
    # Canonical, e.g. us-ashburn-1 (IMDS canonicalRegionName).
    name: str
    # e.g. oraclecloud.com (IMDS regionInfo.realmDomainComponent); "" if absent.
    realm_domain: str


def instance_region(seconds: float) -> Optional[InstanceRegion]:
    """This instance's region from IMDS (canonicalRegionName), or None when
    IMDS cannot say within seconds: the signer then reads it itself, and
    fails with the reason if IMDS is really down."""
    from pcs_oci.lib.imds import Imds, canonical_region

    try:
        doc = Imds(max_total_seconds=max(0.1, min(seconds, 5.0))).instance()
        info = doc.get("regionInfo")
        domain = info.get("realmDomainComponent") if isinstance(info, dict) else None
        return InstanceRegion(
            canonical_region(doc), domain.strip() if isinstance(domain, str) else ""
        )
    except PcsOciError:
        return None


def instance_principal_signer(oci: Any, s: OciSettings) -> Any:
    """The SDK's instance-principal signer (IMDS certificate, then a token),
    within s.max_total_seconds; any failure is OCI_AUTH_FAILED (or
    OCI_CLOCK_SKEW), transient. Its region is IMDS's canonicalRegionName
    when IMDS gave one (sdk_compat.signer_class), not an older SDK's guess
    from the short code (docs/oci-behaviour.md)."""
    from pcs_oci.lib.imds import base_url_from_env

    imds_base = base_url_from_env()
    environment = ProxyEnvironment(s.proxy)
    deadline = time.monotonic() + s.max_total_seconds
    # The token endpoint the thread chose, for the failure's reason.
    found: Dict[str, Any] = {"federation": os.environ.get(FEDERATION_ENDPOINT_ENV, "").strip()}

    def build() -> Any:
        # Inside the bound: the region read is part of authenticating.
        region = instance_region(deadline - time.monotonic())
        federation = federation_endpoint(oci, region)
        found.update(federation=federation)
        kwargs: Dict[str, Any] = {
            "retry_strategy": retry_strategy(oci, s, s.max_total_seconds),
            "federation_client_retry_strategy": retry_strategy(oci, s, s.max_total_seconds),
            "federation_client_circuit_breaker_strategy": (
                oci.circuit_breaker.NoCircuitBreakerStrategy()
            ),
        }
        if federation:
            kwargs["federation_endpoint"] = federation
        attempt = 0
        while True:
            attempt += 1
            try:
                # The constructor reads IMDS and fetches the token.
                with environment.applied():
                    sdk_compat.prepare_signer(
                        oci, imds_base, retry_strategy(oci, s, s.max_total_seconds)
                    )
                    signer = sdk_compat.signer_class(oci, region.name if region else None)
                    return signer(**kwargs)
            except Exception as e:  # retried below or re-raised
                wait = backoff_seconds(s, attempt)
                if (
                    not _signer_retryable(e)
                    or attempt >= s.max_attempts
                    or time.monotonic() + wait >= deadline
                ):
                    raise
            time.sleep(wait)

    try:
        return run_bounded(build, s.max_total_seconds, give_up=environment.close)
    except PcsOciError:
        raise
    except Exception as e:  # any signer failure is an auth failure
        raise _signer_failure(oci, e, str(found["federation"])) from None


def _signer_failure(oci: Any, e: Exception, federation: str) -> CloudError:
    imds = os.environ.get(pcs_settings.IMDS_BASE_URL_ENV) or pcs_settings.IMDS_BASE_URL
    status = int(getattr(e, "status", 0) or 0)
    code = str(getattr(e, "code", "") or "") if status else ""
    request_id = str(getattr(e, "request_id", "") or "") if status else ""
    invalid_certificate = getattr(
        oci.auth.certificate_retriever, "InvalidCertificateFromInstanceMetadataError", ()
    )
    if status:
        # A ServiceError from the token endpoint (or IMDS, as the SDK maps it).
        text = reports.first_line(str(getattr(e, "message", "") or ""))[:200]
        reason = "{}: {}".format(errors.http_detail(code, status, request_id), text)
    elif isinstance(e, Deadline):
        reason = str(e)
    elif isinstance(e, invalid_certificate):
        # Its text carries the raw download, the private key included.
        reason = "the instance metadata service sent an invalid {} (not PEM)".format(
            str(getattr(e, "certificate_type", "") or "certificate").replace("_", " ")
        )
    else:
        reason = errors.redact(errors.transport_reason(e))
    report_code = reports.OCI_AUTH_FAILED
    hint = (
        "IMDS at {} and the auth service{} must be reachable, and the instance"
        " must be in a dynamic group".format(imds, " at " + federation if federation else "")
    )
    if errors.is_clock_skew(status, reason):
        # The auth service is the first to see a wrong clock.
        report_code = reports.OCI_CLOCK_SKEW
        hint = errors.CLOCK_SKEW_HINT
    return CloudError(
        reports.item(
            report_code, "instance principal authentication failed: {}".format(reason), hint
        ),
        transient=True,
        status=status,
        oci_code=code,
        request_id=request_id,
    )


def session_of(signer: Any) -> Optional[Any]:
    """The signer's token and session key as a session_cache.Session (kept
    with the signer's region, where the calls go), or None if this SDK's
    signer does not show them as every version so far does (api_key
    "ST$<token>", private_key): then nothing is cached."""
    from pcs_oci.lib.oci import session_cache, signing

    api_key = getattr(signer, "api_key", None)
    key = getattr(signer, "private_key", None)
    region = getattr(signer, "region", None)
    if not isinstance(api_key, str) or not api_key.startswith("ST$") or key is None:
        return None
    token = api_key[len("ST$") :]
    expires = session_cache.token_expiry(token)
    if expires is None or not isinstance(region, str):
        return None
    try:
        numbers = signing.numbers_of_key(key)
    except (AttributeError, TypeError, ValueError):
        return None
    return session_cache.Session(token, numbers, region, time.time(), expires)
