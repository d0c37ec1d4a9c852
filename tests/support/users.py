"""Users as the suites make them: rows with a cheap password hash, in the link's and the desktop's tests."""

from __future__ import annotations

from typing import Any

from ari_app.auth import hash_password
from schema.users import Role, User

PASSWORD = "correct horse battery"
FAST_HASH = {"n": 2**8, "r": 8, "p": 1}  # the real parameters cost ~50 ms a verify; tests need speed


def user(login: str, role: Role = Role.AGENT, password: str = PASSWORD, **kw: Any) -> User:
    """A user row (not added to a session) whose password is `password`, hashed with the fast parameters."""
    kw.setdefault("display_name", f"user {login}")
    return User(login=login, role=role, password_hash=hash_password(password, **FAST_HASH), **kw)
