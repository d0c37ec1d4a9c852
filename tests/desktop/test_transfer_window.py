"""Two desktops against a real LinkServer with the real call tracker and transfer service (AMI faked): the
first agent transfers the call from the transfer bar; the second agent's desktop pops it as a transferred
call with the case already taken on it, and the first one wraps up. Screenshots in var/screenshots/."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from ari_app.link import LinkServer
from cti_desktop.window import MainWindow
from tests.support.desks import dispose, open_desk, press_ready, sign_in, take_case
from tests.support.transfers import CALL, CITIZEN, Rig
from tests.support.waiting import until


@pytest.fixture
async def desks(server: LinkServer, tmp_path: Path) -> AsyncIterator[list[MainWindow]]:
    windows = [await open_desk(server.url, tmp_path / f"draft{n}.json", seed=n) for n in (1, 2)]
    yield windows
    for window in windows:
        await dispose(window)


async def test_blind_transfer_from_the_bar_pops_the_second_desktop_with_the_case(
    desks: list[MainWindow],
    qtbot: QtBot,
    rig: Rig,
    shot: Any,
) -> None:
    first, second = desks
    await sign_in(first, qtbot, "1001")
    await sign_in(second, qtbot, "1002")
    for window in desks:
        window.resize(1100, 760)
    await press_ready(qtbot, first, second)
    await rig.connected_call()
    await until(lambda: first.call_tab.pop.phase == "connected")
    assert first.call_tab.transfer.blind.isEnabled()
    created = await take_case(
        first, call_id=CALL, hotline="12319", caller="13800000001", request="小区停水三天，物业不处理", urgency="urgent"
    )
    number = created["number"]
    qtbot.keyClicks(first.call_tab.transfer.target, "1002")
    shot(first, "10_transfer_first_desktop_before")
    qtbot.mouseClick(first.call_tab.transfer.blind, Qt.MouseButton.LeftButton)

    await until(lambda: second.call_tab.pop.call is not None and second.call_tab.pop.call.get("transfer"))
    assert second.call_tab.pop.title.text() == "转接来电 · 振铃中"
    assert second.call_tab.pop.values["call_id"].text() == CALL
    assert "由坐席 1001 直接转接而来" in second.call_tab.notice.text() and number in second.call_tab.notice.text()
    assert second.call_tab.history_model.rowCount() >= 1
    await until(lambda: first.status_view.state == "wrapup" and first.call_tab.pop.phase == "ended")
    assert not first.call_tab.transfer.blind.isEnabled()

    await rig.feed(
        {"Event": "DialBegin", "Channel": CITIZEN, "DestChannel": "PJSIP/1002-00000003"},
        {"Event": "DialEnd", "Channel": CITIZEN, "DestChannel": "PJSIP/1002-00000003", "DialStatus": "ANSWER"},
    )
    await until(lambda: second.call_tab.pop.phase == "connected" and second.status_view.state == "on_call")
    assert second.call_tab.transfer.blind.isEnabled()  # the second agent may transfer it on
    assert second.call_tab.transfer.state.text() == ""  # the first agent's transfer is not theirs to follow
    shot(second, "11_transfer_second_desktop_pop")
