"""The instance-principal session kept between processes: token and session key.

Pacemaker runs every agent action as a new process. Without this, every
start and every due monitor_api check would read the certificate, key and
intermediate from the metadata service, make a fresh RSA session key and
ask the auth service for a token (the federation call) before its first
API call. With it, they sign with the session of an earlier action for as
long as its token is valid (as resource-agents' powervs-move-ip keeps its
IAM token).

One JSON file per identity (metadata service and federation endpoint) in a
root-only directory on tmpfs (/run: a reboot forgets it), mode 0600,
written atomically. Reading trusts nothing: a file or directory that is
not ours, that others may read or write, that is not a plain file, is
truncated or unreadable, or whose token expires within
EXPIRY_MARGIN_SECONDS is thrown away (and the session made afresh). A 401
from the API throws it away too (see OciApi and direct.py), after which the
session is made afresh once. The token and key are never logged; age()
tells `pcs-oci verify` how old the session is, not what it is.

Environment:
  PCS_OCI_SESSION_DIR  the directory (default /run/pcs-oci/session); tests
                       point it at a temporary directory
"""

import base64
import hashlib
import json
import os
import stat
import time
from typing import Any, Dict, Mapping, NamedTuple, Optional

from pcs_oci import settings as pcs_settings

SESSION_DIR_ENV = "PCS_OCI_SESSION_DIR"
DEFAULT_SESSION_DIR = "/run/pcs-oci/session"
# A token that expires sooner than this is not used: the action that reads
# it must finish its calls before it expires (op timeouts are 20-90 s), and
# the node's clock may be a little off the auth service's.
EXPIRY_MARGIN_SECONDS = 120.0
_VERSION = 1
# A session file is a few KB; anything much larger is not one of ours.
_MAX_BYTES = 64 * 1024


class Session(NamedTuple):
    """What signs requests as the instance: never logged, never shown."""

    token: str
    # The numbers of the RSA session key the token was issued for (hex strings,
    # signing.KEY_FIELDS).
    private_key: Dict[str, str]
    # The region the signer found (IMDS), for the SDK's endpoint.
    region: str
    # Epoch seconds: when the token was issued to us, and when it expires.
    created_at: float
    expires_at: float

    def __repr__(self) -> str:
        # A stray log or assertion message must not carry the secret.
        return "Session(region={!r}, created_at={:.0f}, expires_at={:.0f})".format(
            self.region, self.created_at, self.expires_at
        )

    def __str__(self) -> str:
        return self.__repr__()


def directory(environ: Optional[Mapping[str, str]] = None) -> str:
    env = os.environ if environ is None else environ
    return env.get(SESSION_DIR_ENV) or DEFAULT_SESSION_DIR


def identity(environ: Optional[Mapping[str, str]] = None) -> str:
    """Whose session: the metadata service and federation endpoint in use."""
    from pcs_oci.lib.oci.auth import FEDERATION_ENDPOINT_ENV

    env = os.environ if environ is None else environ
    imds = env.get(pcs_settings.IMDS_BASE_URL_ENV) or pcs_settings.IMDS_BASE_URL
    return "{}|{}".format(imds, env.get(FEDERATION_ENDPOINT_ENV, "").strip())


def path(ident: str, environ: Optional[Mapping[str, str]] = None) -> str:
    name = hashlib.sha256(ident.encode("utf-8")).hexdigest()[:24]
    return os.path.join(directory(environ), "instance-principal-{}.json".format(name))


def token_expiry(token: str) -> Optional[float]:
    """The `exp` claim of a JWT (epoch seconds), read without verifying it:
    the API verifies it; we only need to know when to stop using it."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4))
        exp = json.loads(payload.decode("utf-8")).get("exp")
    except (ValueError, UnicodeDecodeError, AttributeError):
        return None
    if isinstance(exp, bool) or not isinstance(exp, (int, float)):
        return None
    return float(exp)


def _trusted(st: os.stat_result, is_dir: bool) -> bool:
    """Ours (the effective user's) and closed to group and others."""
    kind_ok = stat.S_ISDIR(st.st_mode) if is_dir else stat.S_ISREG(st.st_mode)
    return kind_ok and st.st_uid == os.geteuid() and not st.st_mode & 0o077


def _read(file_path: str) -> Optional[Dict[str, Any]]:
    """The file's JSON if the file and its directory can be trusted, else None."""
    try:
        if not _trusted(os.lstat(os.path.dirname(file_path)), is_dir=True):
            return None
        fd = os.open(file_path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    try:
        if not _trusted(os.fstat(fd), is_dir=False):
            return None
        raw = os.read(fd, _MAX_BYTES + 1)
    except OSError:
        return None
    finally:
        os.close(fd)
    if len(raw) > _MAX_BYTES:
        return None
    try:
        data = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _session(data: Dict[str, Any], ident: str) -> Optional[Session]:
    if data.get("version") != _VERSION or data.get("identity") != ident:
        return None
    token, key = data.get("token"), data.get("private_key")
    region, created = data.get("region"), data.get("created_at")
    if not isinstance(token, str) or not isinstance(key, dict) or not isinstance(region, str):
        return None
    if not all(isinstance(v, str) for v in key.values()) or not isinstance(created, (int, float)):
        return None
    # The expiry is the token's own, not one written next to it.
    expires = token_expiry(token)
    if expires is None:
        return None
    return Session(token, key, region, float(created), expires)


def load(
    ident: str,
    environ: Optional[Mapping[str, str]] = None,
    now: Optional[float] = None,
    margin: float = EXPIRY_MARGIN_SECONDS,
) -> Optional[Session]:
    """The cached session if it can be trusted and is valid for `margin` more
    seconds; None otherwise (an untrusted or broken file is removed)."""
    file_path = path(ident, environ)
    data = _read(file_path)
    session = _session(data, ident) if data is not None else None
    if session is None:
        if os.path.lexists(file_path):
            discard(ident, environ)
        return None
    now = time.time() if now is None else now
    if session.expires_at - margin <= now or session.created_at > now + margin:
        # Expired, or issued "in the future": the clock jumped; make a new one.
        return None
    return session


def save(ident: str, session: Session, environ: Optional[Mapping[str, str]] = None) -> bool:
    """Write the session for later processes; False if it cannot be kept
    (not root, a read-only /run, a directory that is not ours): the caller
    then just goes on without a cache."""
    folder = directory(environ)
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        if not _trusted(os.lstat(folder), is_dir=True):
            return False
        import tempfile  # only to write (8 ms that a start with a cached session saves)

        fd, tmp = tempfile.mkstemp(prefix=".session.", dir=folder)
    except OSError:
        return False
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(
                {
                    "version": _VERSION,
                    "identity": ident,
                    "token": session.token,
                    "private_key": session.private_key,
                    "region": session.region,
                    "created_at": session.created_at,
                },
                f,
            )
        os.replace(tmp, path(ident, environ))
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        return False
    return True


def discard(ident: str, environ: Optional[Mapping[str, str]] = None) -> None:
    """Forget the session (a 401 with it, or a file that cannot be trusted)."""
    try:
        os.unlink(path(ident, environ))
    except OSError:
        pass


class Age(NamedTuple):
    """How old the cached session is, for `pcs-oci verify` (never its content)."""

    # Seconds since the token was issued, and until it expires (negative:
    # expired); None when there is no usable session file.
    age_seconds: Optional[float]
    expires_in_seconds: Optional[float]
    path: str


def age(environ: Optional[Mapping[str, str]] = None, now: Optional[float] = None) -> Age:
    """The age of this node's cached session (the identity of `environ`)."""
    ident = identity(environ)
    file_path = path(ident, environ)
    data = _read(file_path)
    session = _session(data, ident) if data is not None else None
    if session is None:
        return Age(None, None, file_path)
    now = time.time() if now is None else now
    return Age(now - session.created_at, session.expires_at - now, file_path)


def _duration(seconds: float) -> str:
    seconds = abs(seconds)
    return "{:.0f} min".format(seconds / 60.0) if seconds >= 60 else "{:.0f} s".format(seconds)


def describe_age(found: Age) -> str:
    """One line for verify: 'cached session 5 min old, valid for 14 min more'."""
    if found.age_seconds is None or found.expires_in_seconds is None:
        return "no cached instance-principal session (the next action makes one)"
    if found.expires_in_seconds <= 0:
        return (
            "cached instance-principal session expired {} ago (the next action makes a new"
            " one)".format(_duration(found.expires_in_seconds))
        )
    return "cached instance-principal session {} old, valid for {} more".format(
        _duration(found.age_seconds), _duration(found.expires_in_seconds)
    )
