"""Key and certificate helpers for the fake OCI world (CA, instance leaf certs, API keys)."""

import base64
import datetime
import hashlib
import threading
import warnings
from typing import Dict, List, Optional, Tuple

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

# RSA generation dominates world creation time, so keys are pooled per process:
# world N reuses the same key objects as world 1 (identities differ, keys may not).
_KEY_POOL: Dict[int, rsa.RSAPrivateKey] = {}
_KEY_LOCK = threading.Lock()


def pooled_key(index: int) -> rsa.RSAPrivateKey:
    with _KEY_LOCK:
        key = _KEY_POOL.get(index)
        if key is None:
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            _KEY_POOL[index] = key
        return key


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def private_pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode("ascii")


def public_pem(key: rsa.RSAPublicKey) -> str:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def load_private(pem: str) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(pem.encode("ascii"), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


def load_public(pem: str) -> rsa.RSAPublicKey:
    key = serialization.load_pem_public_key(pem.encode("ascii"))
    assert isinstance(key, rsa.RSAPublicKey)
    return key


def load_public_der_b64(b64: str) -> rsa.RSAPublicKey:
    """The federation body carries PEM bodies with headers and newlines stripped."""
    key = serialization.load_der_public_key(base64.b64decode(b64))
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("not an RSA public key")
    return key


def load_cert(pem: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem.encode("ascii"))


def load_cert_der_b64(b64: str) -> x509.Certificate:
    return x509.load_der_x509_certificate(base64.b64decode(b64))


def cert_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def api_key_fingerprint(key: rsa.RSAPublicKey) -> str:
    """OCI API-key fingerprint: colon-hex MD5 of the DER SubjectPublicKeyInfo, lower case."""
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    digest = hashlib.md5(der).hexdigest()  # noqa: S324 - this is OCI's format, not security
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def cert_sha1_fingerprint(cert: x509.Certificate) -> str:
    """Fingerprint the SDK puts in the fed-x509 keyId: colon-hex SHA1, upper case."""
    return ":".join("{:02X}".format(b) for b in cert.fingerprint(hashes.SHA1()))


def _name(cn: str, ous: List[str]) -> x509.Name:
    # Real instance certs use the (83-char) instance OCID as CN, beyond X.520's 64.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn, _validate=False)]
        attrs += [
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ou, _validate=False) for ou in ous
        ]
        return x509.Name(attrs)


def make_cert(
    subject_cn: str,
    subject_ous: List[str],
    key: rsa.RSAPrivateKey,
    issuer: Optional[Tuple[x509.Certificate, rsa.RSAPrivateKey]] = None,
    is_ca: bool = False,
    days: int = 365,
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.timezone.utc)
    subject = _name(subject_cn, subject_ous)
    issuer_name, signing_key = (subject, key) if issuer is None else (issuer[0].subject, issuer[1])
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
    )
    return builder.sign(signing_key, hashes.SHA256())


def validity(cert: x509.Certificate) -> Tuple[datetime.datetime, datetime.datetime]:
    """notBefore and notAfter as aware UTC datetimes, on any cryptography.

    cryptography 42 added not_valid_before_utc/not_valid_after_utc and
    deprecated the naive (UTC) not_valid_before/not_valid_after; EL9 ships 36
    and the SDK floor (oci 2.93.1) pins < 39, so both must work.
    """
    before = getattr(cert, "not_valid_before_utc", None)
    after = getattr(cert, "not_valid_after_utc", None)
    if before is None or after is None:
        before = cert.not_valid_before.replace(tzinfo=datetime.timezone.utc)
        after = cert.not_valid_after.replace(tzinfo=datetime.timezone.utc)
    return before, after


def subject_values(cert: x509.Certificate) -> List[str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return [str(attr.value) for attr in cert.subject]


def issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """True if issuer's key signed cert (RSA PKCS#1 v1.5, as make_cert produces)."""
    if cert.issuer != issuer.subject:
        return False
    pub = issuer.public_key()
    if not isinstance(pub, rsa.RSAPublicKey) or cert.signature_hash_algorithm is None:
        return False
    try:
        pub.verify(
            cert.signature,
            cert.tbs_certificate_bytes,
            padding.PKCS1v15(),
            cert.signature_hash_algorithm,
        )
    except Exception:
        return False
    return True
