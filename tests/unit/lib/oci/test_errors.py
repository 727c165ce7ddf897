"""The one mapping of OCI failures to report codes, transience and fixes."""

from typing import NamedTuple

import pytest

from pcs_oci.common import reports
from pcs_oci.lib.oci import errors
from pcs_oci.lib.oci.errors import map_service_error
from tests.tools.fake_oci_api import cloud_error


class Err(NamedTuple):
    status: int
    code: str
    message: str = "m"
    request_id: str = "req-1"


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


def test_a_related_resource_in_the_body_gets_the_policy_hint_too() -> None:
    """400 RelatedResourceNotAuthorizedOrNotFound (a VNIC or private IP named
    in the body) is a refusal like 404 NotAuthorizedOrNotFound."""
    text = "Either VNIC with ID ocid1.vnic.x does not exist or you are not authorized to access it."
    e = map_service_error(
        Err(400, "RelatedResourceNotAuthorizedOrNotFound", text, "req-7"),
        "UpdatePrivateIp",
        compartment="ocid1.compartment.x",
    )
    assert e.codes == [reports.OCI_NOT_AUTHORIZED] and not e.transient
    assert (
        e.reports[0].hint
        == map_service_error(
            Err(404, "NotAuthorizedOrNotFound"), "GetVnic", compartment="ocid1.compartment.x"
        )
        .reports[0]
        .hint
    )
    assert "`pcs-oci policy`" in e.reports[0].hint
    assert e.reports[0].message.startswith(
        "OCI UpdatePrivateIp failed: RelatedResourceNotAuthorizedOrNotFound (HTTP 400, "
        "opc-request-id req-7)"
    )
    # Any other 400 is still a rejected request.
    other = map_service_error(Err(400, "InvalidParameter", "m"), "UpdatePrivateIp")
    assert other.codes == [reports.OCI_REQUEST_ERROR]


def test_instance_operations_get_the_instance_policy() -> None:
    e = map_service_error(Err(404, "NotAuthorizedOrNotFound"), "InstanceAction")
    assert e.reports[0].hint == errors.instance_policy_hint("instance_principal")
    assert "use instances in compartment <compartment>" in e.reports[0].hint


def test_http_detail_is_one_format() -> None:
    assert (
        errors.http_detail("NoEtagMatch", 412, "R1") == "NoEtagMatch (HTTP 412, opc-request-id R1)"
    )
    assert errors.http_detail("", 0, "") == "no code (HTTP 0, opc-request-id -)"


@pytest.mark.parametrize(
    "status, message, skew",
    [
        (401, "Date 'Tue, 01 Jan' is outside the allowed clock skew of 300 seconds", True),
        (401, "The date header is malformed.", True),
        (401, "The security token has expired.", False),
        (401, "update denied", False),
        (400, "Date is not within 5 minutes", False),
    ],
)
def test_clock_skew_is_a_401_about_the_date(status: int, message: str, skew: bool) -> None:
    assert errors.is_clock_skew(status, message) is skew


def test_bad_answer_is_transient_with_the_request_id() -> None:
    error = errors.bad_answer("GetVnic", "REQ1", "no resource id\nsecond line")
    assert error.codes == [reports.OCI_BAD_RESPONSE] and error.transient
    assert (error.status, error.request_id) == (200, "REQ1")
    message = error.reports[0].message
    assert message.startswith(
        "OCI GetVnic failed: malformed answer (HTTP 200, opc-request-id REQ1)"
    )
    assert "\n" not in message


def test_redact_keeps_ocids_and_drops_key_material() -> None:
    text = (
        "bad answer -----BEGIN RSA PRIVATE KEY-----\nMIIEsecret\n-----END RSA PRIVATE KEY----- "
        "token eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJvY2lkMSJ9.c2lnbmF0dXJlc2lnbmF0dXJl for "
        "ocid1.instance.oc1.iad.aaaaaaaabbbbbbbbccccccccddddddddeeeeeeeeffff"
    )
    out = errors.redact(text)
    assert "MIIE" not in out and "PRIVATE" not in out and "eyJ" not in out
    assert "ocid1.instance.oc1.iad.aaaaaaaabbbbbbbbccccccccddddddddeeeeeeeeffff" in out


def test_every_service_error_has_a_hint() -> None:
    for status, code in [
        (400, "InvalidParameter"),
        (404, "NotFound"),
        (404, "NotAuthorizedOrNotFound"),
        (409, "IncorrectState"),
        (409, "Conflict"),
        (412, "NoEtagMatch"),
        (429, "TooManyRequests"),
        (500, "InternalServerError"),
        (503, "ServiceUnavailable"),
    ]:
        error = cloud_error(status, code, "GetVnic")
        assert error.reports[0].hint, (status, code)


def test_not_authorized_names_code_and_request_id_first() -> None:
    # Pacemaker keeps 128 characters of an exit reason.
    message = cloud_error(404, "NotAuthorizedOrNotFound", "UpdatePrivateIp").reports[0].message
    assert message.startswith(
        "OCI UpdatePrivateIp failed: NotAuthorizedOrNotFound (HTTP 404, opc-request-id "
        "req-404-NotAuthorizedOrNotFound)"
    )


def test_an_error_of_our_own_is_not_an_api_failure() -> None:
    assert errors.map_error(TypeError("bad argument"), "GetVnic", "https://x") is None
    refused = errors.map_error(ConnectionRefusedError(111, "Connection refused"), "GetVnic", "e")
    assert refused is not None and refused.codes == [reports.OCI_UNREACHABLE]
    assert refused.transient and "Connection refused" in refused.reports[0].message
