"""OciSettings: how to reach and sign for the OCI API, and how long to try.

One type for the config file's `oci` section, the agent's parameters and
fence_oci's options, with one set of defaults (pcs_oci.common.agent_params),
and one function that writes it back as CIB parameters (to_params), used
for the VIP resource and the fence devices alike. Importing this module
imports neither the SDK nor anything of the agents.

Environment:
  PCS_OCI_RETRY_BASE_SECONDS   the retry backoff base (default 1 s, accepted
                               0.01-10) of settings built from the config,
                               parameters or options; tests compress the
                               backoff with it
"""

import os
import re
import urllib.parse
from typing import Any, Dict, List, Mapping, NamedTuple, Optional, Tuple

from pcs_oci.common import agent_params as params
from pcs_oci.common import reports
from pcs_oci.common.reports import ReportItem
from pcs_oci.lib.errors import ConfigError

RETRY_BASE_ENV = "PCS_OCI_RETRY_BASE_SECONDS"

DEFAULT_MAX_ATTEMPTS = 4
DEFAULT_MAX_TOTAL_SECONDS = 20.0
DEFAULT_RETRY_BASE_SECONDS = 1.0
# A TCP connect to the API needs far less than the read timeout.
MAX_CONNECT_TIMEOUT = 3.0
# The longest sleep between two attempts, in units of the backoff base.
_MAX_BACKOFF_FACTOR = 4.0
# Process start, SDK import and local work around the API calls.
_LOCAL_OVERHEAD_SECONDS = 2.0
_SECONDS = re.compile(r"^[0-9]+(\.[0-9]+)?$")


class OciSettings(NamedTuple):
    auth: str = params.DEFAULT_AUTH
    # The API key's config file and profile; only auth=api_key reads them.
    config_file: str = params.DEFAULT_CONFIG_FILE
    profile: str = params.DEFAULT_PROFILE
    region: Optional[str] = None
    # Core API service endpoint, scheme://host[:port]; the SDK adds /20160918.
    endpoint: Optional[str] = None
    proxy: Optional[str] = None
    # Seconds per attempt: the read timeout; connect gets min(3, timeout).
    timeout: float = params.DEFAULT_API_TIMEOUT
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    # Retry budget: of one call, or of all calls inside OciApi.budget().
    max_total_seconds: float = DEFAULT_MAX_TOTAL_SECONDS
    retry_base_seconds: float = DEFAULT_RETRY_BASE_SECONDS

    @classmethod
    def from_config(cls, section: Mapping[str, Any]) -> "OciSettings":
        """From the config file's `oci` object (which the schema has checked)."""
        return cls(
            auth=section.get("auth", params.DEFAULT_AUTH),
            config_file=section.get("config_file", params.DEFAULT_CONFIG_FILE),
            profile=section.get("profile", params.DEFAULT_PROFILE),
            region=section.get("region"),
            endpoint=section.get("endpoint"),
            proxy=section.get("proxy"),
            timeout=section.get("timeout", params.DEFAULT_API_TIMEOUT),
            retry_base_seconds=retry_base_seconds(),
        )

    @classmethod
    def from_params(cls, values: Mapping[str, Optional[str]]) -> "OciSettings":
        """From CIB parameters by name (an empty or absent one is its default).

        A value no agent could use is a ConfigError naming the parameter.
        """
        auth = (values.get(params.PARAM_AUTH) or params.DEFAULT_AUTH).strip()
        if auth not in params.AUTH_MODES:
            raise _bad_param(
                params.PARAM_AUTH,
                "{!r} is not {}".format(auth[:40], " or ".join(params.AUTH_MODES)),
            )
        timeout = (values.get(params.PARAM_API_TIMEOUT) or str(params.DEFAULT_API_TIMEOUT)).strip()
        if not _SECONDS.match(timeout) or float(timeout) <= 0:
            raise _bad_param(
                params.PARAM_API_TIMEOUT,
                "{!r} is not a positive number of seconds".format(timeout[:40]),
            )
        return cls(
            auth=auth,
            config_file=values.get(params.PARAM_CONFIG_FILE) or params.DEFAULT_CONFIG_FILE,
            profile=values.get(params.PARAM_PROFILE) or params.DEFAULT_PROFILE,
            region=values.get(params.PARAM_REGION) or None,
            endpoint=values.get(params.PARAM_ENDPOINT) or None,
            proxy=values.get(params.PARAM_PROXY) or None,
            timeout=int(timeout) if timeout.isdigit() else float(timeout),
            retry_base_seconds=retry_base_seconds(),
        )

    @classmethod
    def from_fence_options(cls, options: Mapping[str, Any]) -> "OciSettings":
        """From fencing.py's options ("--oci-config-file": ...), as from_params."""
        values = {
            name: options.get("--" + name.replace("_", "-"))
            for name in params.CONNECTION_PARAMETERS
        }
        if values[params.PARAM_AUTH]:
            # fencing.py upper-cases the value of an option with choices.
            values[params.PARAM_AUTH] = str(values[params.PARAM_AUTH]).lower()
        return cls.from_params({k: None if v is None else str(v) for k, v in values.items()})

    def to_params(self) -> Dict[str, str]:
        """The CIB parameters that give an agent these settings.

        Defaults are left out (the agents apply the same ones), except that
        api_key always names its config file and profile: the CIB then says
        which file every node must have.
        """
        values: Dict[str, str] = {}
        if self.auth != params.DEFAULT_AUTH:
            values[params.PARAM_AUTH] = self.auth
        if self.auth == params.AUTH_API_KEY:
            values[params.PARAM_CONFIG_FILE] = self.config_file
            values[params.PARAM_PROFILE] = self.profile
        for name, value in (
            (params.PARAM_REGION, self.region),
            (params.PARAM_ENDPOINT, self.endpoint),
            (params.PARAM_PROXY, self.proxy),
        ):
            if value:
                values[name] = value
        if self.timeout != params.DEFAULT_API_TIMEOUT:
            values[params.PARAM_API_TIMEOUT] = _seconds_text(self.timeout)
        return values

    def to_document(self) -> Dict[str, Any]:
        """The config file's `oci` object, defaults filled in, unused keys left out."""
        doc: Dict[str, Any] = {"auth": self.auth}
        if self.auth == params.AUTH_API_KEY:
            doc.update(config_file=self.config_file, profile=self.profile)
        for key in ("region", "endpoint", "proxy"):
            if getattr(self, key) is not None:
                doc[key] = getattr(self, key)
        doc["timeout"] = self.timeout
        return doc


def _bad_param(name: str, problem: str) -> ConfigError:
    return ConfigError(
        reports.item(reports.OCI_INVALID_CONFIG, "{}: {}".format(name, problem), "", name)
    )


def _seconds_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def retry_base_seconds() -> float:
    """DEFAULT_RETRY_BASE_SECONDS, or PCS_OCI_RETRY_BASE_SECONDS when it is a
    number in 0.01..10 (anything else is ignored)."""
    raw = os.environ.get(RETRY_BASE_ENV, "").strip()
    try:
        value = float(raw)
    except ValueError:
        return DEFAULT_RETRY_BASE_SECONDS
    return value if 0.01 <= value <= 10 else DEFAULT_RETRY_BASE_SECONDS


# ---------------------------------------------------------------- checks


def check_settings(s: OciSettings) -> List[ReportItem]:
    """Every problem with the settings, without importing the SDK."""
    found: List[ReportItem] = []

    def bad(field: str, message: str, hint: str) -> None:
        found.append(reports.item(reports.OCI_INVALID_CONFIG, message, hint, "oci." + field))

    if s.auth not in params.AUTH_MODES:
        bad(
            "auth",
            "unknown auth {!r}".format(s.auth),
            "use one of: " + ", ".join(params.AUTH_MODES),
        )
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


# ---------------------------------------------------------------- time bounds


def timeouts(s: OciSettings) -> Tuple[float, float]:
    """The (connect, read) timeout of each attempt."""
    return (min(MAX_CONNECT_TIMEOUT, float(s.timeout)), float(s.timeout))


def max_backoff_seconds(s: OciSettings) -> float:
    return _MAX_BACKOFF_FACTOR * s.retry_base_seconds


def backoff_seconds(s: OciSettings, attempt: int) -> float:
    """The sleep after failed attempt n (1, 2, ...): base * 2**(n-1), capped.

    The one backoff formula: our own retries use it as it is, and the SDK's
    retry strategy gets the same base, growth and cap (plus its jitter).
    """
    return min(max_backoff_seconds(s), s.retry_base_seconds * 2 ** (attempt - 1))


def worst_case_seconds(s: OciSettings) -> float:
    """The longest one assign_vip (in a fresh process) can take, failures included.

    Inside OciApi.budget() no call starts after max_total_seconds; the call
    in flight then may still sleep one backoff and make one attempt. The
    instance-principal signer (IMDS + token) runs before that with its own
    bound of max_total_seconds.
    """
    connect, read = timeouts(s)
    api = s.max_total_seconds + max_backoff_seconds(s) + connect + read
    auth = s.max_total_seconds if s.auth == params.AUTH_INSTANCE_PRINCIPAL else 0.0
    return float(api + auth + _LOCAL_OVERHEAD_SECONDS)


def fit_budget(s: OciSettings, seconds: float) -> OciSettings:
    """s, shrunk until its worst case fits in `seconds` (an agent must answer
    inside its op timeout). Backoff and per-call timeout go first, so a short
    op timeout still leaves a few seconds of retries."""
    steps: List[Tuple[str, float, float]] = [
        ("retry_base_seconds", 0.25, 0.25),
        ("timeout", 3, 1),
        ("max_total_seconds", 1.0, 1.0),
        ("timeout", 2, 1),
    ]
    for field, floor, step in steps:
        while worst_case_seconds(s) > seconds and getattr(s, field) > floor:
            value = max(floor, getattr(s, field) - step)
            s = s._replace(**{field: value})
    return s
