import subprocess
import sys
from typing import Any, NamedTuple

import pytest

from pcs_oci.common import reports
from pcs_oci.lib import oci_api
from pcs_oci.lib.errors import ConfigError
from pcs_oci.lib.oci_api import OciSettings, check_settings, map_service_error, worst_case_seconds


class Err(NamedTuple):
    status: int
    code: str
    message: str = "m"
    request_id: str = "req-1"


def test_importing_the_library_does_not_import_the_sdk() -> None:
    code = (
        "import sys, pcs_oci.lib.imds, pcs_oci.lib.oci_api, pcs_oci.lib.vip, "
        "pcs_oci.lib.discovery; "
        "print(sorted(m for m in sys.modules if m == 'oci' or m.startswith('oci.')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize(
    "field, value",
    [
        ("endpoint", "http://127.0.0.1:8080/20160918"),
        ("endpoint", "iaas.us-ashburn-1.oraclecloud.com"),
        ("endpoint", "http://host:notaport"),
        ("proxy", "proxy:3128"),
        ("auth", "password"),
        ("timeout", 0),
        ("max_attempts", 0),
        ("max_total_seconds", -1),
    ],
)
def test_bad_settings_are_one_line_errors(field: str, value: Any) -> None:
    s = OciSettings()._replace(**{field: value})
    problems = check_settings(s)
    assert [p.code for p in problems] == [reports.OCI_INVALID_CONFIG]
    assert problems[0].where == "oci." + field
    assert "\n" not in problems[0].render()
    with pytest.raises(ConfigError):
        oci_api.OciApi(s)


def test_endpoint_with_path_names_the_path() -> None:
    (problem,) = check_settings(OciSettings(endpoint="http://127.0.0.1:1/20160918"))
    assert "has a path (/20160918)" in problem.message
    assert "scheme://host[:port]" in problem.hint


@pytest.mark.parametrize("endpoint", ["http://127.0.0.1:8080", "https://iaas.x.oraclecloud.com/"])
def test_good_endpoints(endpoint: str) -> None:
    assert check_settings(OciSettings(endpoint=endpoint)) == []


def test_worst_case_seconds() -> None:
    api_key = OciSettings(auth="api_key", timeout=10, max_total_seconds=20, retry_base_seconds=1)
    # 20 s budget + 4 s last backoff + (3 + 10) s last attempt + 2 s local
    assert worst_case_seconds(api_key) == 39.0
    assert worst_case_seconds(api_key._replace(auth="instance_principal")) == 59.0
    assert worst_case_seconds(api_key._replace(timeout=2)) == 30.0


def test_settings_from_config_ignores_none_and_extra() -> None:
    class Cfg(NamedTuple):
        auth: str = "api_key"
        config_file: Any = "/x"
        profile: Any = None
        region: Any = None
        endpoint: Any = None
        proxy: Any = None
        timeout: int = 7
        other: int = 1

    s = oci_api.settings_from_config(Cfg())
    assert s.auth == "api_key" and s.config_file == "/x" and s.timeout == 7
    assert s.profile is None and s.max_attempts == oci_api.DEFAULT_MAX_ATTEMPTS


@pytest.mark.parametrize(
    "status, code, message, report, transient",
    [
        (
            401,
            "NotAuthenticated",
            "The required information to complete authentication was not provided",
            reports.OCI_AUTH_FAILED,
            False,
        ),
        (
            401,
            "NotAuthenticated",
            "Date 'Tue, 01 Jan' is not within 5 minutes of the server clock",
            reports.OCI_CLOCK_SKEW,
            False,
        ),
        (403, "NotAuthorized", "m", reports.OCI_NOT_AUTHORIZED, False),
        (404, "NotAuthorizedOrNotFound", "m", reports.OCI_NOT_AUTHORIZED, False),
        (404, "NotFound", "m", reports.OCI_NOT_FOUND, False),
        (409, "IncorrectState", "m", reports.OCI_CONFLICT, True),
        (409, "LockConflict", "m", reports.OCI_CONFLICT, True),
        (409, "Conflict", "m", reports.OCI_CONFLICT, False),
        (412, "NoEtagMatch", "m", reports.OCI_PRECONDITION_FAILED, True),
        (429, "TooManyRequests", "m", reports.OCI_THROTTLED, True),
        (500, "InternalServerError", "m", reports.OCI_SERVICE_ERROR, True),
        (503, "ServiceUnavailable", "m", reports.OCI_SERVICE_ERROR, True),
        (501, "NotImplemented", "m", reports.OCI_SERVICE_ERROR, False),
        (400, "InvalidParameter", "m", reports.OCI_REQUEST_ERROR, False),
    ],
)
def test_service_error_mapping(
    status: int, code: str, message: str, report: str, transient: bool
) -> None:
    e = map_service_error(Err(status, code, message, "req-42"), "UpdatePrivateIp")
    assert e.codes == [report]
    assert e.transient is transient
    assert (e.status, e.oci_code, e.request_id) == (status, code, "req-42")
    text = e.reports[0].message
    assert code in text and "HTTP {}".format(status) in text and "opc-request-id req-42" in text
    assert "UpdatePrivateIp" in text and "\n" not in text


def test_not_authorized_hint_names_the_policy() -> None:
    e = map_service_error(
        Err(404, "NotAuthorizedOrNotFound"), "GetVnic", compartment="ocid1.compartment.x"
    )
    assert "not found or not authorized" in e.reports[0].message
    assert e.reports[0].hint == (
        "check the dynamic group and policy: allow dynamic-group <group> to use private-ips in "
        "compartment ocid1.compartment.x; allow dynamic-group <group> to use vnics in "
        "compartment ocid1.compartment.x; `pcs-oci policy` prints them all"
    )
    api_key = map_service_error(Err(403, "NotAuthorized"), "GetVnic", auth="api_key")
    assert "allow group <group> to use private-ips in compartment <compartment>" in (
        api_key.reports[0].hint
    )
