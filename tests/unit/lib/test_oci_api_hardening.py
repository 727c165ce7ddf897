"""oci_api's defences against the cloud's bad days, without the network."""

import pytest

from pcs_oci.common import reports
from pcs_oci.lib import oci_api
from tests.tools.fake_oci_api import cloud_error


def test_answer_problem_trusts_only_resources_with_an_id() -> None:
    assert oci_api._answer_problem({"id": "ocid1.vnic.x", "subnet_id": "s"}, "object") == ""
    for bad in (None, {}, {"id": None}, {"id": ""}, {"id": 5}, "text", [1]):
        assert "no resource id" in oci_api._answer_problem(bad, "object")
    assert oci_api._answer_problem([], "list") == ""
    assert oci_api._answer_problem([{"id": "a"}, {"id": "b"}], "list") == ""
    assert "expected a list" in oci_api._answer_problem(None, "list")
    assert "a list item" in oci_api._answer_problem([{"id": "a"}, {"x": 1}], "list")
    assert oci_api._answer_problem(None, "") == ""  # writes are read back instead


def test_bad_answer_is_transient_with_the_request_id() -> None:
    error = oci_api._bad_answer("GetVnic", "REQ1", "no resource id\nsecond line")
    assert error.codes == [reports.OCI_BAD_RESPONSE] and error.transient
    assert (error.status, error.request_id) == (200, "REQ1")
    message = error.reports[0].message
    assert message.startswith(
        "OCI GetVnic failed: malformed answer (HTTP 200, opc-request-id REQ1)"
    )
    assert "\n" not in message


@pytest.mark.parametrize(
    "headers, seconds",
    [
        ({"Retry-After": "2"}, 2.0),
        ({"retry-after": " 0.5 "}, 0.5),
        ({"RETRY-AFTER": "Wed, 21 Oct 2015 07:28:00 GMT"}, None),  # date form: not honoured
        ({"Retry-After": "-1"}, None),
        ({"Retry-After": "nan"}, None),
        ({}, None),
        (None, None),
    ],
)
def test_retry_after_seconds(headers: object, seconds: object) -> None:
    assert oci_api.retry_after_seconds(headers) == seconds


def test_retry_after_is_honoured_up_to_the_longest_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    slept = []

    class Strategy:
        def do_sleep(self, attempt: int, exception: object) -> None:
            slept.append(("jitter", attempt))

    class Error:
        headers = {"Retry-After": "30"}

    monkeypatch.setattr(oci_api.time, "sleep", lambda s: slept.append(("sleep", s)))
    strategy = oci_api._honour_retry_after(Strategy(), cap=4.0)
    strategy.do_sleep(1, Error())
    strategy.do_sleep(2, ValueError("no headers"))
    assert slept == [("sleep", 4.0), ("jitter", 2)]


@pytest.mark.parametrize(
    "value, expected",
    [("0.1", 0.1), (" 2 ", 2.0), ("0", 1.0), ("100", 1.0), ("abc", 1.0), ("nan", 1.0), ("", 1.0)],
)
def test_retry_base_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, value: str, expected: float
) -> None:
    monkeypatch.setenv(oci_api.RETRY_BASE_ENV, value)
    assert oci_api.retry_base_seconds() == expected


def test_redact_keeps_ocids_and_drops_key_material() -> None:
    text = (
        "bad answer -----BEGIN RSA PRIVATE KEY-----\nMIIEsecret\n-----END RSA PRIVATE KEY----- "
        "token eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJvY2lkMSJ9.c2lnbmF0dXJlc2lnbmF0dXJl for "
        "ocid1.instance.oc1.iad.aaaaaaaabbbbbbbbccccccccddddddddeeeeeeeeffff"
    )
    out = oci_api.redact(text)
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
