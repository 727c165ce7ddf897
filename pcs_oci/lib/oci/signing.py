"""OCI request signatures without the SDK (draft-cavage-http-signatures-08 as OCI uses it).

The cached fast path (direct.py) signs its few Core API requests here, so
that a start does not import the SDK. What is signed is what the SDK's
signer signs: `date`, `(request-target)` and `host` on every request, plus
`content-length`, `content-type` and `x-content-sha256` on a request with a
body; rsa-sha256 (RSASSA-PKCS1-v1_5 with SHA-256, through `cryptography`,
which the SDK requires anyway). tests/unit/lib/oci/test_signing.py checks
that the headers equal the SDK signer's, byte for byte.
"""

import base64
import hashlib
import time
from typing import Any, Dict, Optional

GENERIC_HEADERS = ("date", "(request-target)", "host")
BODY_HEADERS = ("content-length", "content-type", "x-content-sha256")
# Always English, whatever the locale (strftime's %a and %b are not).
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def http_date(epoch: Optional[float] = None) -> str:
    """RFC 7231's IMF-fixdate, e.g. 'Tue, 01 Dec 2026 10:00:00 GMT'
    (email.utils.formatdate would cost this path 20 ms of imports)."""
    t = time.gmtime(time.time() if epoch is None else epoch)
    return "{}, {:02d} {} {:04d} {:02d}:{:02d}:{:02d} GMT".format(
        _DAYS[t.tm_wday], t.tm_mday, _MONTHS[t.tm_mon - 1], t.tm_year, t.tm_hour, t.tm_min, t.tm_sec
    )


# An RSA private key as its numbers (what the session cache keeps): building
# the key from them needs only the rsa module, not `serialization` (~25 ms of
# imports on the fast path).
KEY_FIELDS = ("n", "e", "d", "p", "q", "dmp1", "dmq1", "iqmp")


def key_from_numbers(numbers: Dict[str, str]) -> Any:
    """A cryptography RSA private key from its numbers (hex strings); ValueError
    if they are not a valid key."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    try:
        n = {name: int(str(numbers[name]), 16) for name in KEY_FIELDS}
    except (KeyError, TypeError, ValueError):
        raise ValueError("not the numbers of an RSA private key") from None
    public = rsa.RSAPublicNumbers(n["e"], n["n"])
    return rsa.RSAPrivateNumbers(
        n["p"], n["q"], n["d"], n["dmp1"], n["dmq1"], n["iqmp"], public
    ).private_key()


def numbers_of_key(key: Any) -> Dict[str, str]:
    """A cryptography RSA private key's numbers as hex strings."""
    private = key.private_numbers()
    public = private.public_numbers
    values = {
        "n": public.n,
        "e": public.e,
        "d": private.d,
        "p": private.p,
        "q": private.q,
        "dmp1": private.dmp1,
        "dmq1": private.dmq1,
        "iqmp": private.iqmp,
    }
    return {name: format(values[name], "x") for name in KEY_FIELDS}


def signed_headers(
    method: str,
    host: str,
    target: str,
    key_id: str,
    private_key: Any,
    body: Optional[bytes] = None,
    date: Optional[str] = None,
) -> Dict[str, str]:
    """The headers of a signed request: date, host, content headers, authorization.

    target is the path and query exactly as on the request line; host is the
    Host header (with the port when it is not the scheme's default).
    """
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    headers = {
        "date": date or http_date(),
        "host": host,
        "content-type": "application/json",
    }
    names = list(GENERIC_HEADERS)
    if method.upper() in ("PUT", "POST", "PATCH"):
        payload = body or b""
        headers["content-length"] = str(len(payload))
        headers["x-content-sha256"] = base64.b64encode(hashlib.sha256(payload).digest()).decode(
            "ascii"
        )
        names += BODY_HEADERS
    lines = []
    for name in names:
        if name == "(request-target)":
            lines.append("(request-target): {} {}".format(method.lower(), target))
        else:
            lines.append("{}: {}".format(name, headers[name]))
    signature = private_key.sign(
        "\n".join(lines).encode("utf-8"), padding.PKCS1v15(), hashes.SHA256()
    )
    headers["authorization"] = (
        'Signature algorithm="rsa-sha256",headers="{}",keyId="{}",signature="{}",'
        'version="1"'.format(" ".join(names), key_id, base64.b64encode(signature).decode("ascii"))
    )
    return headers
