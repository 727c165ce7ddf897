"""The instance-principal session file: what is trusted, what is thrown away."""

import base64
import json
import os
import stat
import time
from pathlib import Path
from typing import Any

import pytest

from pcs_oci.lib.oci import session_cache
from pcs_oci.lib.oci.session_cache import Session

IDENT = "http://127.0.0.1:9/opc/v2|http://127.0.0.1:9/v1/x509"
KEY = {name: "ab" for name in ("n", "e", "d", "p", "q", "dmp1", "dmq1", "iqmp")}


def token(exp: float) -> str:
    def part(obj: Any) -> str:
        raw = json.dumps(obj).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    return "{}.{}.sig".format(part({"alg": "HS256"}), part({"exp": exp, "sub": "i"}))


def session(lifetime: float = 1200, created: float = 0) -> Session:
    now = time.time()
    return Session(token(now + lifetime), KEY, "us-ashburn-1", created or now, now + lifetime)


@pytest.fixture
def env(tmp_path: Path) -> dict:
    return {"PCS_OCI_SESSION_DIR": str(tmp_path / "sessions")}


def the_file(env: dict) -> Path:
    return Path(session_cache.path(IDENT, env))


def test_saved_session_is_loaded_from_a_0600_file_in_a_0700_directory(env: dict) -> None:
    saved = session()
    assert session_cache.save(IDENT, saved, env)
    path = the_file(env)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    loaded = session_cache.load(IDENT, env)
    assert loaded is not None and loaded.token == saved.token
    assert loaded.expires_at == pytest.approx(saved.expires_at, abs=1)
    assert loaded.region == "us-ashburn-1" and loaded.private_key == KEY
    # No temporary file left behind.
    assert os.listdir(str(path.parent)) == [path.name]


def test_session_never_shows_its_secret() -> None:
    s = session()
    assert s.token not in repr(s) and "'ab'" not in str(s) and "dmp1" not in str(s)


def test_other_identity_is_another_file(env: dict) -> None:
    session_cache.save(IDENT, session(), env)
    assert session_cache.load("http://other/opc/v2|", env) is None


@pytest.mark.parametrize("lifetime", [-10, 0, 60, session_cache.EXPIRY_MARGIN_SECONDS - 1])
def test_expired_or_expiring_token_is_not_used(env: dict, lifetime: float) -> None:
    session_cache.save(IDENT, session(lifetime), env)
    assert session_cache.load(IDENT, env) is None


def test_expiry_is_the_tokens_own(env: dict) -> None:
    """A file that claims a later expiry than its token's is not believed."""
    session_cache.save(IDENT, session(30), env)
    path = the_file(env)
    data = json.loads(path.read_text())
    data["expires_at"] = time.time() + 10**6
    path.write_text(json.dumps(data))
    assert session_cache.load(IDENT, env) is None


def test_token_issued_in_the_future_is_not_used(env: dict) -> None:
    session_cache.save(IDENT, session(created=time.time() + 3600), env)
    assert session_cache.load(IDENT, env) is None


@pytest.mark.parametrize(
    "content",
    [
        "",
        "{",
        "[]",
        "null",
        json.dumps({"version": 1, "identity": IDENT}),
        json.dumps({"version": 2, "identity": IDENT, "token": "x"}),
        "\x00\xff" * 100,
    ],
)
def test_truncated_or_garbled_file_is_thrown_away(env: dict, content: str) -> None:
    session_cache.save(IDENT, session(), env)
    the_file(env).write_text(content)
    assert session_cache.load(IDENT, env) is None
    assert not the_file(env).exists()


def test_truncated_json_of_a_good_file_is_thrown_away(env: dict) -> None:
    session_cache.save(IDENT, session(), env)
    text = the_file(env).read_text()
    the_file(env).write_text(text[: len(text) // 2])
    assert session_cache.load(IDENT, env) is None


def test_token_that_is_not_a_jwt_is_thrown_away(env: dict) -> None:
    session_cache.save(IDENT, session(), env)
    data = json.loads(the_file(env).read_text())
    data["token"] = "not-a-jwt"
    the_file(env).write_text(json.dumps(data))
    assert session_cache.load(IDENT, env) is None


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o666, 0o620])
def test_file_open_to_others_is_thrown_away(env: dict, mode: int) -> None:
    session_cache.save(IDENT, session(), env)
    os.chmod(str(the_file(env)), mode)
    assert session_cache.load(IDENT, env) is None
    assert not the_file(env).exists()


def test_directory_open_to_others_is_not_trusted(env: dict) -> None:
    session_cache.save(IDENT, session(), env)
    os.chmod(str(the_file(env).parent), 0o755)  # noqa: S103 - the mode it must refuse
    assert session_cache.load(IDENT, env) is None
    # And nothing is written into it.
    assert not session_cache.save(IDENT, session(), env)


@pytest.mark.skipif(os.geteuid() != 0, reason="changing a file's owner needs root")
def test_file_of_another_owner_is_thrown_away(env: dict) -> None:
    session_cache.save(IDENT, session(), env)
    os.chown(str(the_file(env)), 65534, 65534)
    assert session_cache.load(IDENT, env) is None
    assert not the_file(env).exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="changing a directory's owner needs root")
def test_directory_of_another_owner_is_not_trusted(env: dict) -> None:
    session_cache.save(IDENT, session(), env)
    os.chown(str(the_file(env).parent), 65534, 65534)
    assert session_cache.load(IDENT, env) is None
    assert not session_cache.save(IDENT, session(), env)


def test_symlink_is_not_followed(env: dict, tmp_path: Path) -> None:
    session_cache.save(IDENT, session(), env)
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_text(the_file(env).read_text())
    os.chmod(str(elsewhere), 0o600)
    the_file(env).unlink()
    the_file(env).symlink_to(elsewhere)
    assert session_cache.load(IDENT, env) is None
    assert elsewhere.exists()  # the link is removed, not what it points at


def test_oversized_file_is_not_read(env: dict) -> None:
    session_cache.save(IDENT, session(), env)
    the_file(env).write_text(" " * (session_cache._MAX_BYTES + 10))
    assert session_cache.load(IDENT, env) is None


def test_unwritable_directory_means_no_cache_not_an_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    env = {"PCS_OCI_SESSION_DIR": str(blocker / "sessions")}
    assert not session_cache.save(IDENT, session(), env)
    assert session_cache.load(IDENT, env) is None


def test_discard_forgets_it(env: dict) -> None:
    session_cache.save(IDENT, session(), env)
    session_cache.discard(IDENT, env)
    assert session_cache.load(IDENT, env) is None
    session_cache.discard(IDENT, env)  # twice is fine


def test_age_for_verify_without_the_content(env: dict) -> None:
    env = dict(env, OCI_METADATA_BASE_URL="http://127.0.0.1:9/opc/v2")
    ident = session_cache.identity(env)
    assert session_cache.age(env).age_seconds is None
    assert "no cached" in session_cache.describe_age(session_cache.age(env))
    now = time.time()
    session_cache.save(ident, session(1200, created=now - 300), env)
    found = session_cache.age(env, now=now)
    assert found.age_seconds == pytest.approx(300, abs=2)
    assert found.expires_in_seconds == pytest.approx(1200, abs=2)
    text = session_cache.describe_age(found)
    assert text == "cached instance-principal session 5 min old, valid for 20 min more"
    expired = session_cache.age(env, now=now + 1300)
    assert "expired 2 min ago" in session_cache.describe_age(expired)


def test_token_expiry_reads_the_exp_claim() -> None:
    assert session_cache.token_expiry(token(1234.5)) == 1234.5
    for bad in ("", "a.b", "a.!!!.c", "a.{}.c".format(base64.urlsafe_b64encode(b"[1]").decode())):
        assert session_cache.token_expiry(bad) is None
