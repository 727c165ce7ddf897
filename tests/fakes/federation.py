"""Fake Auth Service federation endpoint: POST /v1/x509 -> {"token": <JWT>}.

Checks what the real service must: the request is signed by the leaf certificate's key
(keyId "<tenancy>/fed-x509/<SHA1 fingerprint>"), the leaf chains to the world CA via the
intermediate, and the subject names a tenancy and instance that exist.
"""

import datetime
from typing import Any, Dict, Optional, Tuple

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fakes import httpsig, pki, tokens
from tests.fakes.control import FakeCloud
from tests.fakes.errors import ApiError, not_authenticated
from tests.fakes.transport import Request, Response

PATH = "/v1/x509"


def route(cloud: FakeCloud, req: Request) -> Optional[Tuple[str, Any]]:
    if req.path.rstrip("/") != PATH:
        return None
    return "Federation", lambda r: _federate(cloud, r)


def _federate(cloud: FakeCloud, req: Request) -> Response:
    if req.method != "POST":
        raise ApiError(405, "MethodNotAllowed", "Use POST.")
    body = req.json()
    if not isinstance(body, dict) or "certificate" not in body or "publicKey" not in body:
        raise ApiError(400, "InvalidParameter", "certificate and publicKey are required.")
    try:
        leaf = pki.load_cert_der_b64(body["certificate"])
        session_key = pki.load_public_der_b64(body["publicKey"])
    except ValueError:
        raise ApiError(400, "InvalidParameter", "certificate or publicKey is malformed.") from None

    params = httpsig.parse_authorization(req.headers.get("authorization", ""))
    tenancy, kind, fingerprint = (params.key_id.split("/") + ["", "", ""])[:3]
    if kind != "fed-x509" or fingerprint.upper() != pki.cert_sha1_fingerprint(leaf):
        raise not_authenticated("keyId does not match the certificate in the request.")
    leaf_key = leaf.public_key()
    if not isinstance(leaf_key, rsa.RSAPublicKey):
        raise not_authenticated("The certificate key is not RSA.")
    httpsig.verify(
        req.method,
        req.target,
        req.headers,
        req.body,
        params,
        leaf_key,
        cloud.now(),
        include_host=False,
    )

    _check_chain(cloud, leaf, body.get("intermediateCertificates") or [])
    subject = _subject(leaf)
    world = cloud.world
    if subject.get("opc-tenant") != world["tenancy_id"] or tenancy != world["tenancy_id"]:
        raise not_authenticated("The certificate is not for this tenancy.")
    instance_id = subject.get("opc-instance", "")
    if instance_id not in world["instances"]:
        raise not_authenticated("The certificate names an unknown instance.")
    req.principal = instance_id
    if cloud.policy.is_denied(instance_id, "Federation", explicit_only=True):
        raise not_authenticated()
    token = tokens.mint(
        world["token_secret"],
        cloud.now(),
        cloud.token_lifetime,
        instance_id,
        world["tenancy_id"],
        subject.get("opc-compartment", ""),
        session_key,
    )
    return Response.json(200, {"token": token})


def _check_chain(cloud: FakeCloud, leaf: x509.Certificate, sent: Any) -> None:
    ca = pki.load_cert(cloud.world["pki"]["ca_cert"])
    inter = pki.load_cert(cloud.world["pki"]["intermediate_cert"])
    for b64 in sent:
        try:
            if pki.load_cert_der_b64(b64) != inter:
                raise not_authenticated("Unknown intermediate certificate.")
        except ValueError:
            raise not_authenticated("Malformed intermediate certificate.") from None
    if not (pki.issued_by(leaf, inter) and pki.issued_by(inter, ca)):
        raise not_authenticated("The certificate does not chain to the instance CA.")
    now = datetime.datetime.now(datetime.timezone.utc)
    not_before, not_after = pki.validity(leaf)
    if not not_before <= now <= not_after:
        raise not_authenticated("The certificate is not currently valid.")


def _subject(cert: x509.Certificate) -> Dict[str, str]:
    out: Dict[str, str] = {}
    for value in pki.subject_values(cert):
        key, sep, rest = value.partition(":")
        if sep and key.startswith("opc-"):
            out[key] = rest
    return out
