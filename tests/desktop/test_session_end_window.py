"""The desktop when the server ends its session (password changed elsewhere, account disabled, signed out
everywhere): the window goes, the sign-in dialog comes back with the server's reason in the desktop's language,
and the old token is not tried again. Screenshots in Chinese and English.

It runs on the standard asyncio loop, like test_link_client: with the server in the same qasync loop, the
loop's close after a session was ended waited for ever on a task it could not cancel (seen only with both
ends in one loop; the server runs on its own asyncio loop)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pytestqt.qtbot import QtBot
from sqlalchemy.orm import Session, sessionmaker

from ari_app import accounts
from ari_app.auth import hash_password
from ari_app.cases.actor import SYSTEM
from ari_app.link import LinkServer
from cti_desktop.window import MainWindow
from tests.support.desks import sign_in
from tests.support.waiting import until


@pytest.mark.parametrize(
    "lang, change, expected",
    [
        ("zh", "password", "密码已更改，请用新密码重新登录"),
        ("en", "disable", "Your account was disabled; ask an administrator"),
        ("zh", "signout", "已在所有位置退出登录，请重新登录"),
    ],
)
async def test_an_ended_session_brings_back_the_sign_in_with_the_reason(
    lang: str,
    change: str,
    expected: str,
    desk: MainWindow,
    qtbot: QtBot,
    server: LinkServer,
    sessions: sessionmaker[Session],
    shot: Any,
    tmp_path: Path,
) -> None:
    window = desk
    await sign_in(window, qtbot)
    if lang == "en":
        window.lang_button.click()
    with sessions() as s, s.begin():
        now = datetime.now(UTC)
        if change == "password":
            accounts.set_password(s, "1001", hash_password("another passphrase", n=2**8), SYSTEM, now)
        elif change == "disable":
            accounts.set_active(s, "1001", False, SYSTEM, now)
        else:
            accounts.end_sessions(s, "1001", SYSTEM, now)
    await until(lambda: window.signin.isVisible() and window.signin.error.text(), within=5)
    assert not window.isVisible()
    assert window.signin.error.text() == expected
    assert window.link is not None and window.link.token is None  # not resumed again with the dead token
    window.signin.resize(420, 230)
    shot(window.signin, f"24_session_ended_{change}_{lang}")
