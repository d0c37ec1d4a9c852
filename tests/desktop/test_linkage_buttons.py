"""The one-key linkage buttons (联动): a desktop against a real LinkServer with the real call tracker, transfer
and conference services (AMI faked). The buttons come from the partners the server lists at sign-in, are
usable only on a connected call, and send only the partner's key: 三方110 calls the partner into a three-way
call and 转110 transfers the citizen to it, the number dialled being the server's. The case detail shows
the handoffs. Screenshots (Chinese) in var/screenshots/."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from ari_app.link import LinkServer
from cti_desktop.i18n import Tr
from cti_desktop.transfer import LinkageBar, call_history_lines
from cti_desktop.window import MainWindow
from tests.support.desks import dispose, open_desk, press_ready, sign_in, take_case
from tests.support.transfers import CALL, CITIZEN, Rig
from tests.support.waiting import until


@pytest.fixture
async def desk(server: LinkServer, tmp_path: Path) -> AsyncIterator[MainWindow]:
    window = await open_desk(server.url, tmp_path / "draft.json", seed=1)
    yield window
    await dispose(window)


async def _on_call(desk: MainWindow, qtbot: QtBot, rig: Rig) -> dict[str, Any]:
    """The agent signed in, the partners' buttons checked, on a connected call with a case saved on it."""
    await sign_in(desk, qtbot, "1001")
    bar = desk.call_tab.linkage
    assert bar.isVisibleTo(desk) and sorted(bar.buttons) == [
        (kind, key) for kind in ("three_way", "transfer") for key in ("110", "119", "120")
    ]
    police = bar.buttons[("transfer", "110")]
    assert police.text() == "转110" and bar.buttons[("three_way", "110")].text() == "三方110"
    assert "公安" in police.toolTip()
    assert not police.isEnabled()  # no call
    desk.resize(1100, 760)
    await press_ready(qtbot, desk)
    await rig.connected_call()
    await until(lambda: desk.call_tab.pop.phase == "connected")
    assert all(b.isEnabled() for b in bar.buttons.values())
    return await take_case(desk, call_id=CALL, hotline="12319", caller="13800000001", request="有人持刀威胁")


async def _history(desk: MainWindow, case_id: int) -> list[str]:
    assert desk.link is not None
    detail = await desk.link.request("get_case", case_id=case_id)
    lines = call_history_lines(Tr("zh"), detail["case"], lambda at: (at or "")[11:16])
    return [line for line in lines if "联动" in line]


async def test_zhuan_110_transfers_the_citizen_to_the_partner_by_its_key(
    desk: MainWindow, qtbot: QtBot, rig: Rig, shot: Any
) -> None:
    created = await _on_call(desk, qtbot, rig)
    shot(desk, "30_linkage_buttons_zh")
    police = desk.call_tab.linkage.buttons[("transfer", "110")]
    qtbot.mouseClick(police, Qt.MouseButton.LeftButton)
    await until(lambda: [x for x in rig.ami.named("Setvar") if x["Variable"] == "TRANSFER_DIAL"])
    dial = next(x for x in rig.ami.named("Setvar") if x["Variable"] == "TRANSFER_DIAL")
    assert dial["Channel"] == CITIZEN and dial["Value"] == "PJSIP/110@carrier-telecom"
    await until(lambda: desk.call_tab.pop.phase == "ended")  # a blind transfer: the call left this agent
    assert not police.isEnabled()
    (line,) = await _history(desk, created["id"])
    assert "联动一键转接：坐席 1001 → 110 公安" in line


async def test_san_fang_110_calls_the_partner_into_a_three_way_call(
    desk: MainWindow, qtbot: QtBot, rig: Rig, shot: Any
) -> None:
    created = await _on_call(desk, qtbot, rig)
    qtbot.mouseClick(desk.call_tab.linkage.buttons[("three_way", "110")], Qt.MouseButton.LeftButton)
    await until(lambda: rig.ami.named("Originate"))
    (originate,) = rig.ami.named("Originate")
    assert originate["Channel"] == "PJSIP/110@carrier-telecom" and "CONF_NUMBER=110" in originate["Variable"]
    await until(lambda: desk.call_tab.linkage.buttons[("three_way", "110")].isEnabled())  # the request is over
    (line,) = await _history(desk, created["id"])
    assert "联动三方通话：坐席 1001 → 110 公安" in line
    shot(desk, "32_linkage_three_way_zh")


def test_the_bar_in_english_and_without_partners(qtbot: QtBot, shot: Any) -> None:
    bar = LinkageBar(Tr("zh"))
    qtbot.addWidget(bar)
    bar.set_partners([{"key": "110", "name_zh": "公安", "name_en": "Police", "work_order": True}])
    bar.set_call_phase("connected")
    bar.resize(420, 40)
    bar.show()
    shot(bar, "31_linkage_bar_zh")
    with qtbot.waitSignal(bar.requested, timeout=1000) as sent:
        bar.buttons[("three_way", "110")].click()
    assert sent.args == ["three_way", "110"]
    bar.set_busy(True)
    assert not bar.buttons[("transfer", "110")].isEnabled()
    bar.tr_ = Tr("en")
    bar.retranslate()
    assert (
        bar.buttons[("transfer", "110")].text() == "To 110" and "Police" in bar.buttons[("transfer", "110")].toolTip()
    )
    bar.set_partners([])
    assert bar.buttons == {} and not bar.isVisible()
