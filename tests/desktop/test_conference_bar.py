"""The three-way call controls (ConferenceBar) without a server: enabled only on a connected call, the
commands they emit, and who is in. The server side is tested against Asterisk in tests/e2e/test_three_way.py."""

from __future__ import annotations

from typing import Any

from pytestqt.qtbot import QtBot

from cti_desktop.i18n import Tr
from cti_desktop.widgets import ConferenceBar


def test_conference_bar(qtbot: QtBot, shot: Any) -> None:
    bar = ConferenceBar(Tr("zh"))
    qtbot.addWidget(bar)
    bar.resize(560, 70)
    bar.set_call_phase("ringing")
    assert not bar.start.isEnabled() and not bar.number.isEnabled()
    bar.set_call_phase("connected")
    assert bar.start.isEnabled() and not bar.leave.isEnabled()  # nothing to leave yet
    bar.number.setText("09915550123")
    with qtbot.waitSignal(bar.action_requested, timeout=1000) as sent:
        bar.start.click()
    assert sent.args == ["start", "09915550123"]
    bar.show_members(
        [
            {"role": "citizen", "number": "13800000001"},
            {"role": "agent", "number": "1001"},
            {"role": "unit", "number": "09915550123"},
        ]
    )
    assert bar.members.text() == "通话中：市民 13800000001、坐席 1001、协同单位 09915550123"
    assert bar.leave.isEnabled() and bar.end.isEnabled()
    with qtbot.waitSignal(bar.action_requested, timeout=1000) as sent:
        bar.leave.click()
    assert sent.args == ["leave", ""]
    shot(bar, "07_three_way_bar")
    bar.tr_ = Tr("en")
    bar.retranslate()
    assert bar.start.text() == "Bring in" and bar.members.text().startswith("In the call: Citizen 13800000001")
    bar.set_call_phase("")
    assert bar.members.text() == "" and not bar.end.isEnabled()
