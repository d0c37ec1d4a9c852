"""Password hashes and session tokens (ari_app.auth)."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ari_app.auth import (
    PasswordError,
    TokenExpired,
    TokenInvalid,
    TokenStore,
    check_password_policy,
    hash_password,
    verify_password,
)
from tests.support.clock import Clock


def test_hash_carries_its_parameters_and_a_fresh_salt() -> None:
    a = hash_password("s3cret-pass", n=2**8)
    b = hash_password("s3cret-pass", n=2**8)
    assert a.startswith("scrypt$n=256,r=8,p=1$")
    assert a != b  # per-user salt
    assert verify_password("s3cret-pass", a) and verify_password("s3cret-pass", b)
    assert not verify_password("s3cret-pasS", a)
    assert "s3cret" not in a


def test_default_parameters_are_strong() -> None:
    assert hash_password("a long password").startswith("scrypt$n=16384,r=8,p=1$")


@pytest.mark.parametrize(
    "stored", [None, "", "md5$abc", "scrypt$n=x$a$b", "scrypt$n=2,r=8,p=1$$", "scrypt$n=99999999,r=8,p=1$AA$AA"]
)
def test_malformed_or_missing_hash_never_matches(stored: str | None) -> None:
    assert not verify_password("anything", stored)


def test_password_policy() -> None:
    with pytest.raises(PasswordError):
        check_password_policy("short")
    with pytest.raises(PasswordError):
        check_password_policy("x" * 300)
    check_password_policy("long enough")


def test_tokens_expire_and_revoke() -> None:
    clock = Clock(datetime(2026, 1, 1, tzinfo=UTC))
    store = TokenStore(timedelta(hours=1), clock)
    token, expires = store.issue("1001")
    assert store.check(token).login == "1001"
    assert expires == clock.t + timedelta(hours=1)
    with pytest.raises(TokenInvalid):
        store.check(token + "x")
    clock.t += timedelta(hours=1, seconds=1)
    with pytest.raises(TokenExpired):
        store.check(token)
    token2, _ = store.issue("1001")
    store.revoke(token2)
    with pytest.raises(TokenInvalid):
        store.check(token2)


def test_token_file_keeps_only_hashes_and_survives_a_restart(tmp_path: Path) -> None:
    clock = Clock(datetime(2026, 1, 1, tzinfo=UTC))
    path = tmp_path / "tokens.json"
    store = TokenStore(timedelta(hours=1), clock, path)
    token, _ = store.issue("1001")
    text = path.read_text()
    assert token not in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(json.loads(text)["tokens"]) == 1
    again = TokenStore(timedelta(hours=1), clock, path)
    assert again.check(token).login == "1001"
    again.revoke_login("1001")
    assert len(TokenStore(timedelta(hours=1), clock, path)) == 0


def test_corrupt_token_file_starts_empty(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    path.write_text("{not json")
    assert len(TokenStore(path=path)) == 0
