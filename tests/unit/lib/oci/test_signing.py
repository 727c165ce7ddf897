"""Our request signature is the SDK's, byte for byte (signing.py against oci.signer)."""

import base64
import hashlib
import json
import locale
from typing import Dict

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from pcs_oci.lib.oci import signing

oci = pytest.importorskip("oci")

DATE = "Tue, 01 Dec 2026 10:00:00 GMT"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJpIn0.c2ln"


def sdk_headers(method: str, url: str, body: bytes = b"") -> Dict[str, str]:
    """What the SDK's security-token signer puts on the same request."""
    from oci._vendor import requests

    request = requests.Request(
        method, url, headers={"date": DATE}, data=body if method != "GET" else None
    ).prepare()
    signer = oci.auth.signers.SecurityTokenSigner(TOKEN, KEY)
    signed = signer(request)
    return {k.lower(): v for k, v in signed.headers.items()}


@pytest.mark.parametrize(
    "method, host, target, body",
    [
        (
            "GET",
            "iaas.us-ashburn-1.oraclecloud.com",
            "/20160918/privateIps/ocid1.privateip.oc1.iad.a",
            b"",
        ),
        (
            "GET",
            "127.0.0.1:8000",
            "/20160918/privateIps?ipAddress=10.0.0.5&subnetId=ocid1.subnet.oc1..b",
            b"",
        ),
        (
            "PUT",
            "iaas.us-ashburn-1.oraclecloud.com",
            "/20160918/privateIps/ocid1.privateip.oc1.iad.a",
            b'{"vnicId": "ocid1.vnic.oc1.iad.x"}',
        ),
        ("POST", "127.0.0.1:8000", "/20160918/ipv6", b'{"vnicId": "v", "ipAddress": "fd00::5"}'),
    ],
)
def test_signature_is_the_sdks(method: str, host: str, target: str, body: bytes) -> None:
    scheme = "http" if host.startswith("127.") else "https"
    theirs = sdk_headers(method, "{}://{}{}".format(scheme, host, target), body)
    ours = signing.signed_headers(method, host, target, "ST$" + TOKEN, KEY, body or None, DATE)
    for name in ("authorization", "date", "host", "x-content-sha256", "content-length"):
        assert ours.get(name) == theirs.get(name), name
    assert ours["content-type"] == "application/json"


def test_signature_verifies_with_the_public_key() -> None:
    body = json.dumps({"vnicId": "v"}).encode()
    headers = signing.signed_headers("PUT", "h", "/p", "ST$t", KEY, body, DATE)
    assert headers["x-content-sha256"] == base64.b64encode(hashlib.sha256(body).digest()).decode()
    auth = headers["authorization"]
    signature = base64.b64decode(auth.split('signature="')[1].split('"')[0])
    signed = "\n".join(
        [
            "date: " + DATE,
            "(request-target): put /p",
            "host: h",
            "content-length: {}".format(len(body)),
            "content-type: application/json",
            "x-content-sha256: " + headers["x-content-sha256"],
        ]
    ).encode()
    KEY.public_key().verify(signature, signed, padding.PKCS1v15(), hashes.SHA256())


def test_http_date_is_english_whatever_the_locale() -> None:
    saved = locale.setlocale(locale.LC_TIME)
    try:
        for name in ("de_DE.UTF-8", "fr_FR.UTF-8"):
            try:
                locale.setlocale(locale.LC_TIME, name)
                break
            except locale.Error:
                continue
        assert signing.http_date(1796119200) == "Tue, 01 Dec 2026 10:00:00 GMT"
    finally:
        locale.setlocale(locale.LC_TIME, saved)


def test_key_round_trip_through_its_numbers() -> None:
    numbers = signing.numbers_of_key(KEY)
    assert set(numbers) == set(signing.KEY_FIELDS)
    assert signing.key_from_numbers(numbers).private_numbers() == KEY.private_numbers()
    for broken in ({}, dict(numbers, p="2"), dict(numbers, n="zz")):
        with pytest.raises(ValueError):
            signing.key_from_numbers(broken)
