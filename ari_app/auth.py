"""Passwords and session tokens.

Passwords are stored only as a scrypt hash with a per-user random salt; the parameters travel inside the hash
string (`scrypt$n=16384,r=8,p=1$<salt>$<key>`, base64 without padding), so they can be raised later without
invalidating existing hashes. Verification compares in constant time, and an unknown user costs the same
scrypt work as a known one, so timing does not tell which logins exist.

Session tokens: 32 random bytes (URL-safe text) handed to the desktop once at sign-in. The server keeps only
the SHA-256 of each token with its owner and expiry, never the token. The store lives in memory and, when
given a file, is written there too (hashes only, mode 0600), so a restarted server still knows the sessions
of desktops that reconnect; a stolen copy of the file does not let anyone sign in. Sign-out revokes; so does
a change of the user's session epoch (ari_app.accounts), checked by the link.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ari_app.protocol import DomainError, ErrorId

SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
KEY_BYTES = 32
MIN_PASSWORD = 8
MAX_PASSWORD = 256


class PasswordError(DomainError, ValueError):
    """A password that cannot be set (too short, too long)."""

    error_id = ErrorId.PASSWORD_REJECTED


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=KEY_BYTES, maxmem=128 * r * (n + p + 2) + 1024
    )


def check_password_policy(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise PasswordError(f"a password needs at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise PasswordError(f"a password may have at most {MAX_PASSWORD} characters")


def hash_password(password: str, *, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> str:
    """The string to store for `password` (a fresh salt each time)."""
    salt = secrets.token_bytes(SALT_BYTES)
    key = _scrypt(password, salt, n, r, p)
    return f"scrypt$n={n},r={r},p={p}${_b64(salt)}${_b64(key)}"


_DUMMY_SALT = b"\x00" * SALT_BYTES


def verify_password(password: str, stored: str | None) -> bool:
    """True if `password` matches the stored hash. A missing or malformed hash never matches, but still costs
    the scrypt work, so a caller cannot tell an unknown user from a wrong password by the time it takes."""
    try:
        if stored is None:
            raise ValueError("no hash")
        scheme, params, salt_text, key_text = stored.split("$")
        if scheme != "scrypt":
            raise ValueError(scheme)
        values = dict(item.split("=", 1) for item in params.split(","))
        n, r, p = int(values["n"]), int(values["r"]), int(values["p"])
        if not (2 <= n <= 2**20 and 1 <= r <= 32 and 1 <= p <= 16):
            raise ValueError("parameters out of range")
        salt, key = _unb64(salt_text), _unb64(key_text)
    except (ValueError, KeyError):
        _scrypt(password[:MAX_PASSWORD], _DUMMY_SALT, SCRYPT_N, SCRYPT_R, SCRYPT_P)
        return False
    candidate = _scrypt(password[:MAX_PASSWORD], salt, n, r, p)
    return hmac.compare_digest(candidate, key)


# --- session tokens --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TokenRecord:
    login: str
    issued_at: str
    expires_at: str
    epoch: int = 0
    """The user's `session_epoch` when the token was issued: the token dies when the user's moves on
    (password changed, user disabled, signed out everywhere; see ari_app.accounts)."""

    @property
    def expires(self) -> datetime:
        return datetime.fromisoformat(self.expires_at)


class TokenExpired(DomainError):
    """A session token whose time is over."""

    error_id = ErrorId.TOKEN_EXPIRED


class TokenInvalid(DomainError):
    """A session token that is unknown, revoked or malformed."""

    error_id = ErrorId.TOKEN_INVALID


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


class TokenStore:
    """Session tokens by their SHA-256. `path` (optional) keeps them across server restarts."""

    def __init__(
        self,
        ttl: timedelta = timedelta(hours=12),
        clock: Callable[[], datetime] | None = None,
        path: Path | None = None,
    ) -> None:
        self.ttl = ttl
        self.clock = clock or (lambda: datetime.now(UTC))
        self.path = path
        self._records: dict[str, TokenRecord] = {}
        if path is not None and path.exists():
            self._load(path)

    def _load(self, path: Path) -> None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            now = self.clock()
            for digest, rec in data.get("tokens", {}).items():
                record = TokenRecord(**rec)
                if record.expires > now:
                    self._records[digest] = record
        except (OSError, ValueError, TypeError):
            self._records = {}

    def _save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        payload = json.dumps({"tokens": {d: asdict(r) for d, r in self._records.items()}})
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".tokens-")
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(payload)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def issue(self, login: str, epoch: int = 0) -> tuple[str, datetime]:
        now = self.clock()
        self._prune(now)
        token = secrets.token_urlsafe(32)
        expires = now + self.ttl
        self._records[_digest(token)] = TokenRecord(login, now.isoformat(), expires.isoformat(), epoch)
        self._save()
        return token, expires

    def check(self, token: str) -> TokenRecord:
        """The owner of a live token; TokenExpired or TokenInvalid otherwise."""
        record = self._records.get(_digest(token))
        if record is None:
            raise TokenInvalid("unknown or revoked session token")
        if record.expires <= self.clock():
            self._records.pop(_digest(token), None)
            self._save()
            raise TokenExpired("the session token has expired; sign in again")
        return record

    def revoke(self, token: str) -> None:
        if self._records.pop(_digest(token), None) is not None:
            self._save()

    def revoke_login(self, login: str, below_epoch: int | None = None) -> None:
        """Revoke every token of `login`, or only those issued before epoch `below_epoch`."""
        before = len(self._records)
        self._records = {
            d: r
            for d, r in self._records.items()
            if r.login != login or (below_epoch is not None and r.epoch >= below_epoch)
        }
        if len(self._records) != before:
            self._save()

    def _prune(self, now: datetime) -> None:
        self._records = {d: r for d, r in self._records.items() if r.expires > now}

    def __len__(self) -> int:
        return len(self._records)
