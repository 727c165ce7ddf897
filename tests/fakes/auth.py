"""Authenticate Core API requests: API-key and security-token (ST$) signatures."""

from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fakes import httpsig, pki, tokens
from tests.fakes.control import FakeCloud
from tests.fakes.errors import not_authenticated
from tests.fakes.transport import Request


def authenticate(cloud: FakeCloud, req: Request) -> str:
    """Return the principal (user or instance OCID) or raise 401 NotAuthenticated."""
    header = req.headers.get("authorization")
    if not header:
        raise not_authenticated("The request is not signed (no Authorization header).")
    params = httpsig.parse_authorization(header)
    now = cloud.now()
    key: rsa.RSAPublicKey
    if params.key_id.startswith("ST$"):
        claims, key = tokens.verify(cloud.world["token_secret"], params.key_id[3:], now)
        # expire_tokens() revokes everything issued before it (sub-second precision).
        if float(claims.get("fake-issued", claims.get("iat", 0))) < cloud.tokens_not_before:
            raise not_authenticated("The security token has expired.")
        principal = str(claims["sub"])
    else:
        parts = params.key_id.split("/")
        user = cloud.world["api_user"]
        if len(parts) != 3 or parts != [
            cloud.world["tenancy_id"],
            user["user_id"],
            user["fingerprint"],
        ]:
            raise not_authenticated("Unknown keyId {!r}.".format(params.key_id))
        key = pki.load_public(user["public_key"])
        principal = user["user_id"]
    httpsig.verify(req.method, req.target, req.headers, req.body, params, key, now)
    return principal
