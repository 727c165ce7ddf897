"""Server-side verification of OCI request signatures (draft-cavage-http-signatures-08).

Only what OCI uses: algorithm rsa-sha256, version 1, signing string of `name: value`
lines in the order of the `headers` parameter, (request-target) = lowercase method +
raw path and query, body covered by x-content-sha256 for PUT/POST/PATCH.
"""

import base64
import email.utils
import hashlib
import re
from typing import Dict, List, Mapping, Sequence

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.fakes.errors import not_authenticated

MAX_SKEW_SECONDS = 300
GENERIC_HEADERS = ("date", "(request-target)", "host")
BODY_HEADERS = ("content-length", "content-type", "x-content-sha256")
BODY_METHODS = ("PUT", "POST", "PATCH")

_PARAM = re.compile(r'(\w+)="([^"]*)"')


class SignatureParams:
    def __init__(self, key_id: str, headers: List[str], signature: bytes) -> None:
        self.key_id = key_id
        self.headers = headers
        self.signature = signature


def parse_authorization(value: str) -> SignatureParams:
    if not value.startswith("Signature "):
        raise not_authenticated("The Authorization header is not an OCI request signature.")
    params = dict(_PARAM.findall(value[len("Signature ") :]))
    if params.get("algorithm", "rsa-sha256") != "rsa-sha256":
        raise not_authenticated("Unsupported signature algorithm.")
    if params.get("version", "1") != "1":
        raise not_authenticated("Unsupported signature version.")
    if "keyId" not in params or "signature" not in params:
        raise not_authenticated("The signature is missing keyId or signature.")
    try:
        sig = base64.b64decode(params["signature"], validate=True)
    except ValueError:
        raise not_authenticated("The signature is not valid base64.") from None
    headers = params.get("headers", "date").lower().split()
    return SignatureParams(params["keyId"], headers, sig)


def required_headers(method: str, include_host: bool = True) -> Sequence[str]:
    generic = GENERIC_HEADERS if include_host else ("date", "(request-target)")
    return tuple(generic) + (BODY_HEADERS if method in BODY_METHODS else ())


def signing_string(
    method: str, target: str, headers: Mapping[str, str], names: Sequence[str]
) -> bytes:
    lines = []
    for name in names:
        if name == "(request-target)":
            lines.append("(request-target): {} {}".format(method.lower(), target))
        else:
            if name not in headers:
                raise not_authenticated("Signed header {!r} is missing.".format(name))
            lines.append("{}: {}".format(name, headers[name]))
    return "\n".join(lines).encode("utf-8")


def check_date(headers: Mapping[str, str], server_now: float) -> None:
    raw = headers.get("x-date") or headers.get("date")
    if not raw:
        raise not_authenticated("The date header is missing.")
    try:
        client = email.utils.parsedate_to_datetime(raw).timestamp()
    except (TypeError, ValueError):
        raise not_authenticated("The date header is malformed.") from None
    if abs(client - server_now) > MAX_SKEW_SECONDS:
        raise not_authenticated(
            "Date {!r} is outside the allowed clock skew of {} seconds; check the client "
            "clock (NTP).".format(raw, MAX_SKEW_SECONDS)
        )


def check_body(headers: Mapping[str, str], body: bytes) -> None:
    if headers.get("content-length", "") != str(len(body)):
        raise not_authenticated("content-length does not match the body.")
    want = base64.b64encode(hashlib.sha256(body).digest()).decode("ascii")
    if headers.get("x-content-sha256") != want:
        raise not_authenticated("x-content-sha256 does not match the body.")


def verify(
    method: str,
    target: str,
    headers: Mapping[str, str],
    body: bytes,
    params: SignatureParams,
    public_key: rsa.RSAPublicKey,
    server_now: float,
    include_host: bool = True,
) -> None:
    """Raise ApiError(401) unless the request is fully and correctly signed.

    headers must have lower-case names; target is the raw request-line path and query.
    """
    for name in required_headers(method, include_host):
        if name not in params.headers and not (name == "date" and "x-date" in params.headers):
            raise not_authenticated("Header {!r} must be signed for {}.".format(name, method))
    check_date(headers, server_now)
    if method in BODY_METHODS:
        check_body(headers, body)
    data = signing_string(method, target, headers, params.headers)
    try:
        public_key.verify(params.signature, data, padding.PKCS1v15(), hashes.SHA256())
    except Exception:
        raise not_authenticated() from None


def lower_headers(items: Sequence) -> Dict[str, str]:
    # Repeated headers are joined as RFC 7230 allows; signing uses the joined value.
    out: Dict[str, str] = {}
    for name, value in items:
        key = name.lower()
        out[key] = value if key not in out else out[key] + ", " + value
    return out
