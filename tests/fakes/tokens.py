"""Security tokens issued by the fake federation service.

HS256 JWTs under the world's shared secret. Like real OCI tokens, the session public key
travels inside the token as a `jwk` claim, so any fake process holding the secret can
verify `ST$<jwt>` signatures without a shared token table.
"""

import base64
import json
import uuid
from typing import Any, Dict, Tuple

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fakes.errors import not_authenticated


def _b64url_int(n: int) -> str:
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _int_b64url(s: str) -> int:
    return int.from_bytes(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)), "big")


def mint(
    secret: str,
    now: float,
    lifetime: float,
    instance_id: str,
    tenancy_id: str,
    compartment_id: str,
    session_key: rsa.RSAPublicKey,
) -> str:
    nums = session_key.public_numbers()
    jwk = {
        "kid": "asw",
        "kty": "RSA",
        "alg": "RS256",
        "use": "sig",
        "n": _b64url_int(nums.n),
        "e": _b64url_int(nums.e),
    }
    claims = {
        "sub": instance_id,
        "opc-instance": instance_id,
        "opc-tenant": tenancy_id,
        "tenant": tenancy_id,
        "opc-compartment": compartment_id,
        "opc-certtype": "instance",
        "ptype": "instance",
        "iss": "authService.oracle.com",
        "aud": "oci",
        "iat": int(now),
        # Float lifetimes are allowed so tests can make tokens expire sub-second.
        "exp": int(now + lifetime) if lifetime >= 1 else now + lifetime,
        "jti": str(uuid.uuid4()),
        "fake-issued": now,
        "jwk": json.dumps(jwk),
    }
    return jwt.encode(claims, secret, algorithm="HS256")


def verify(secret: str, token: str, now: float) -> Tuple[Dict[str, Any], rsa.RSAPublicKey]:
    """Return (claims, session public key); 401 if forged or expired at `now`."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            audience="oci",
            options={"verify_exp": False, "verify_iat": False},
        )
    except jwt.PyJWTError:
        raise not_authenticated("The security token is invalid.") from None
    if float(claims.get("exp", 0)) <= now:
        raise not_authenticated("The security token has expired.")
    try:
        jwk = json.loads(claims["jwk"])
        key = rsa.RSAPublicNumbers(_int_b64url(jwk["e"]), _int_b64url(jwk["n"])).public_key()
    except (KeyError, ValueError):
        raise not_authenticated("The security token carries no usable session key.") from None
    return claims, key
