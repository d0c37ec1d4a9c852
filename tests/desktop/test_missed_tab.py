"""The missed-call worklist tab (漏接回拨) driven with qtbot against a real LinkServer and database: two
missed numbers appear without a refresh, the agent claims one, calls it back (the server's Originate
recorded here; the real call is tests/e2e/test_outbound.py), records that the citizen was reached, and the
task leaves the open list; Chinese and English. Screenshots go to var/screenshots/ (17_)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot
from sqlalchemy.orm import Session, sessionmaker

from ari_app.bus import EventBus
from ari_app.link import LinkServer
from ari_app.missed import MissedCalls, MissedSettings
from ari_app.outbound.desk import OutboundDesk
from ari_app.outbound.service import OutboundDialer
from cti_desktop.window import MainWindow
from tests.support.clock import Clock
from tests.support.desks import Open, desks
from tests.support.missed import store_miss
from tests.support.waiting import until


@pytest.fixture
async def open_desk(server: LinkServer, qtbot: QtBot, tmp_path: Path) -> AsyncIterator[Open]:
    async with desks(server.url, qtbot, tmp_path, ready=lambda w: w.agent is not None and w.agent != {}) as open_:
        yield open_


async def test_claim_call_back_and_record_from_the_missed_call_tab(
    open_desk: Open, server: LinkServer, sessions: sessionmaker[Session], clock: Clock, case_bus: EventBus,
    qtbot: QtBot, shot: Any,
) -> None:  # fmt: skip
    settings = MissedSettings()
    dialled: list[dict[str, Any]] = []

    class Asterisk:
        async def originate_async(self, **fields: Any) -> None:
            dialled.append(fields)

    server.add(OutboundDesk(OutboundDialer(Asterisk(), "carrier-telecom")))
    missed = MissedCalls(sessions, settings, case_bus.publish, clock)
    agent: MainWindow = await open_desk("1001")
    tab = agent.missed
    agent.tabs.setCurrentIndex(agent.tabs.indexOf(tab))
    assert agent.tabs.tabText(agent.tabs.indexOf(tab)) == "漏接回拨"
    await missed.on_event(store_miss(sessions, "9.1", "13900000001", clock()))
    await missed.on_event(store_miss(sessions, "9.2", "13900000002", clock()))
    await until(lambda: [t["caller"] for t in tab.model.rows] == ["13900000001", "13900000002"])  # pushed

    tab.table.selectRow(0)
    await until(lambda: tab.task is not None and tab.task["caller"] == "13900000001")
    qtbot.mouseClick(tab.claim_button, Qt.MouseButton.LeftButton)
    await until(lambda: (tab.task or {}).get("claimed_by") == "1001")
    assert tab.model.index(0, tab.model.CLAIMED).data() == "1001"
    # A second agent's claim on the same task is refused in their own language, not in the server's words.
    other: MainWindow = await open_desk("1002")
    other_tab = other.missed
    other.tabs.setCurrentIndex(other.tabs.indexOf(other_tab))
    await until(lambda: [t["caller"] for t in other_tab.model.rows][:1] == ["13900000001"])
    other_tab.table.selectRow(0)
    await until(lambda: other_tab.task is not None and other_tab.task["caller"] == "13900000001")
    qtbot.mouseClick(other_tab.claim_button, Qt.MouseButton.LeftButton)
    await until(lambda: other_tab.error.text() == "该漏接任务已由其他坐席认领")
    shot(other, "17_missed_calls_claimed_by_another")
    qtbot.mouseClick(tab.dial_button, Qt.MouseButton.LeftButton)
    await until(lambda: len(dialled) == 1)
    assert {"OUTBOUND_NUMBER=13900000001", "OUTBOUND_PURPOSE=missed_call", "OUTBOUND_HOTLINE=12345"} <= set(
        dialled[0]["Variable"]
    )
    assert dialled[0]["Channel"] == "PJSIP/1001"
    shot(agent, "17_missed_calls_claimed")
    tab.outcome.setCurrentIndex(tab.outcome.findData("reached"))
    tab.notes.setText("已回拨，市民已自行解决")
    qtbot.mouseClick(tab.save_button, Qt.MouseButton.LeftButton)
    await until(lambda: [t["caller"] for t in tab.model.rows] == ["13900000002"])  # the open list, read again
    assert agent.statusBar().currentMessage() == "13900000001 的回拨结果已记录"
    tab.which.setCurrentIndex(tab.which.findData("all"))
    await until(lambda: len(tab.model.rows) == 2)
    done = next(t for t in tab.model.rows if t["caller"] == "13900000001")
    assert done["status"] == "called_back"
    agent.toggle_language()
    assert agent.tabs.tabText(agent.tabs.indexOf(tab)) == "Missed calls" and tab.dial_button.text() == "Call back"
    row = tab.model.row_of(done["id"])
    assert row is not None and tab.model.index(row, tab.model.STATUS).data() == "Called back"
    shot(agent, "17_missed_calls_all_en")
