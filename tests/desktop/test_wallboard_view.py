"""The supervisor's wallboard tab driven with qtbot against a real LinkServer and database, under load: many
calls waiting on every hotline, a day of calls in the chart, fourteen agents in every state. The view is
filled only by pushed snapshots; pause / resume reach the agent through the (fake) queue, listen goes to the
spy. Screenshots go to var/screenshots/."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot
from sqlalchemy import insert
from sqlalchemy.orm import Session, sessionmaker

from ari_app.agents import LiveCall
from ari_app.bus import EventBus
from ari_app.calls.events import CallArrived
from ari_app.config import Agent, Config
from ari_app.health import Health, HealthReport
from ari_app.link import LinkServer
from ari_app.protocol import AgentState, CallPhase
from ari_app.supervision.wallboard import day_start
from cti_desktop.drafts import DraftStore
from cti_desktop.i18n import Tr
from cti_desktop.link import LinkClient
from cti_desktop.wallboard_view import AgentBoardModel, clock_text, level_colour
from cti_desktop.window import MainWindow
from schema.calls import CallRecord
from tests.support.clock import T0, Clock
from tests.support.desks import dispose, open_supervisor
from tests.support.link import FakeQueue, link_settings
from tests.support.link_fixtures import add_missed_desk
from tests.support.users import PASSWORD
from tests.support.waiting import until

NAMES = ["张敏", "艾力·买买提", "王芳", "李强", "古丽娜尔", "刘洋", "陈静", "阿不都", "赵磊", "孙悦", "周婷", "吴昊"]
NAMES += ["郑爽", "马军"]
STATES = [AgentState.READY] * 3 + [AgentState.ON_CALL] * 4 + [AgentState.WRAPUP] * 2 + [AgentState.PAUSED] * 4
STATES += [AgentState.SIGNED_OUT]
REASONS = ["meal", "training", "break", "meeting"]
WAITS = {  # the hotlines' waits differ, so their service levels land on both sides of the target
    "12345": [2, 3, 4, 5, 6, 8, 9, 10, 12, 14, 16, 40],
    "12319": [3, 5, 8, 10, 12, 14, 16, 22, 30],
    "12358": [4, 6, 9, 12, 14, 15, 18, 25, 40, 70],
    "12350": [2, 3, 5, 7, 9, 11, 13, 14, 15, 20],
}


@pytest.fixture
async def busy_server(
    cfg: Config, sessions: sessionmaker[Session], queue: FakeQueue, clock: Clock
) -> AsyncIterator[LinkServer]:
    agents = tuple(
        Agent(str(1001 + i), NAMES[i], str(1001 + i), ("zh",), contact=f"sip:{1001 + i}@127.0.0.1:5080")
        for i in range(len(NAMES))
    )
    link = LinkServer(replace(cfg, agents=agents), sessions, queue, clock=clock, settings=link_settings())
    add_missed_desk(link, EventBus())
    link.supervisor.settings = replace(link.supervisor.settings, min_interval=0.05, tick_seconds=30)
    rng = random.Random(12345)
    start = day_start(T0, cfg.timezone)
    rows: list[dict[str, Any]] = []
    hotlines = ["12345", "12319", "12358", "12350"]
    weight = [8, 4, 2, 1]
    n = 0
    for slot in range(int((T0 - start).total_seconds() // 900)):  # a day so far: busy mornings, quiet nights
        hour = slot / 4
        busy = 0.3 if hour < 7 else 3.0 if 9 <= hour < 12 or 14 <= hour < 17 else 1.5
        for h, w in zip(hotlines, weight, strict=True):
            for _ in range(rng.randint(0, max(1, int(busy * w)))):
                n += 1
                arrived = start + timedelta(seconds=slot * 900 + rng.randrange(900))
                wait = rng.choice(WAITS[h])
                if rng.random() < 0.08:
                    rows.append(_row(n, h, arrived, "abandoned", end_reason="abandoned"))
                    continue
                agent = str(1001 + rng.randrange(len(NAMES) - 1))
                answered = arrived + timedelta(seconds=wait)
                talk = rng.randint(60, 300)
                rows.append(
                    _row(
                        n, h, arrived, "ended", agent=agent, answered_at=answered, wait_seconds=wait, talk_seconds=talk
                    )
                )
    for i, h in enumerate(["12345"] * 9 + ["12319"] * 5 + ["12358"] * 2 + ["12350"] * 1):  # waiting now
        n += 1
        rows.append(_row(n, h, T0 - timedelta(seconds=5 + 11 * i), "queued"))
    with sessions.begin() as s:
        s.execute(insert(CallRecord), rows)
    for i, (_login, session) in enumerate(sorted(link.agents.sessions.items())):
        state = STATES[i]
        session.since = T0 - timedelta(seconds=30 + 47 * i)
        if state is AgentState.SIGNED_OUT:
            continue
        session.state = state
        session.reason = (
            REASONS[i % 4] if state is AgentState.PAUSED else "wrapup" if state is AgentState.WRAPUP else ""
        )
        if state is AgentState.ON_CALL:
            n += 1
            connected = {"agent": session.login, "answered_at": T0 - timedelta(seconds=40 * i), "wait_seconds": 6}
            with sessions.begin() as s:
                s.execute(
                    insert(CallRecord),
                    [_row(n, hotlines[i % 4], T0 - timedelta(seconds=40 * i + 6), "connected", **connected)],
                )
            session.call = LiveCall(
                f"live.{i}", hotlines[i % 4], None, None, f"1390000{i:04d}", 9.0, T0, CallPhase.CONNECTED, T0
            )
    await link.start()
    yield link
    await link.stop()


def _row(n: int, hotline: str, arrived: Any, state: str, **kw: Any) -> dict[str, Any]:
    return {"linkedid": f"load.{n}", "hotline": hotline, "dialed": hotline, "caller": "139", "state": state,
            "arrived_at": arrived, **kw}  # fmt: skip


def test_colours_and_clock_text() -> None:
    assert [level_colour(v, 80) for v in (None, 95.0, 80.0, 75.0, 40.0)] == [
        "#757575",
        "#2e7d32",
        "#2e7d32",
        "#f9a825",
        "#c62828",
    ]
    assert [clock_text(s) for s in (None, 0, 59.9, 61, 3725)] == ["-", "0:00", "0:59", "1:01", "1:02:05"]


async def test_wallboard_under_load_with_actions(
    busy_server: LinkServer, qtbot: QtBot, tmp_path: Path, shot: Any, queue: FakeQueue
) -> None:
    window = await open_supervisor(busy_server.url, qtbot, tmp_path)
    try:
        view = window.wallboard
        assert window.tabs.isTabVisible(MainWindow.WALLBOARD_TAB)
        window.tabs.setCurrentIndex(MainWindow.WALLBOARD_TAB)
        assert window.tabs.tabText(MainWindow.WALLBOARD_TAB) == "班长监控"
        assert list(view.tiles) == ["12345", "12319", "12358", "12350", "all"]
        assert view.tiles["12345"].waiting.text() == "9" and view.tiles["all"].waiting.text() == "17"
        assert view.tiles["12345"].title.text() == "12345 市长热线"
        assert "服务水平" in view.tiles["12345"].level.text()
        assert view.model.rowCount() == len(NAMES)
        states = [view.model.agents[r]["state"] for r in range(view.model.rowCount())]
        assert states == [str(s) for s in STATES]
        paused_row = states.index("paused")
        assert view.model.index(paused_row, AgentBoardModel.STATE).data() == "小休"
        assert view.model.index(paused_row, AgentBoardModel.REASON).data() in ("用餐", "培训", "休息", "会议")
        assert not view.health.isVisible() or "未知" in view.health.text()
        assert sum(sum(v) for v in view.chart.intervals.values()) > 500
        # a health change is pushed and shown at once
        busy_server.supervisor.on_health(HealthReport(Health.DEGRADED, T0, 620.0, 4.0, 210, 120, ("AMI slow: 620 ms",)))
        await until(lambda: view.health.isVisible() and "性能下降" in view.health.text())
        # more callers arrive: pushed, not polled
        with busy_server.sessions.begin() as s:
            s.execute(insert(CallRecord), [_row(90000 + i, "12350", T0, "queued") for i in range(3)])
        await busy_server.on_call_event(CallArrived("load.90000", T0, "12350", "139", "12350"))
        await until(lambda: view.tiles["12350"].waiting.text() == "4")
        shot(window, "20_wallboard_under_load_zh")

        # pause a ready agent with a reason; the push shows the agent paused
        ready_id = view.model.agents[states.index("ready")]["id"]
        view.select_agent(ready_id)
        assert view.pause.isEnabled() and not view.resume.isEnabled() and not view.listen.isEnabled()
        view.reason.setCurrentIndex(view.reason.findData("training"))
        qtbot.mouseClick(view.pause, Qt.MouseButton.LeftButton)
        await until(lambda: any(a["id"] == ready_id and a["state"] == "paused" for a in view.model.agents))
        assert queue.calls[-1] == ("pause", "hotline", f"PJSIP/{ready_id}", True, "training")
        await until(lambda: window.statusBar().currentMessage() == f"坐席 {ready_id} 已置为小休")
        assert view.selected_agent() is not None and view.selected_agent()["id"] == ready_id  # kept across pushes
        qtbot.mouseClick(view.resume, Qt.MouseButton.LeftButton)
        await until(lambda: any(a["id"] == ready_id and a["state"] == "ready" for a in view.model.agents))

        # listen to an agent on a call: no spy on this server, so the refusal is shown
        on_call_id = view.model.agents[states.index("on_call")]["id"]
        view.select_agent(on_call_id)
        assert view.listen.isEnabled() and view.barge.isEnabled() and not view.resume.isEnabled()
        # a pause on a call waits for its end: the table says so, and resume can cancel it
        view.reason.setCurrentIndex(view.reason.findData("meal"))
        qtbot.mouseClick(view.pause, Qt.MouseButton.LeftButton)
        await until(lambda: window.statusBar().currentMessage() == f"坐席 {on_call_id} 将在本次通话结束后小休")
        await until(lambda: any(a["id"] == on_call_id and a.get("pause_after") == "meal" for a in view.model.agents))
        row = [a["id"] for a in view.model.agents].index(on_call_id)
        assert view.model.index(row, view.model.REASON).data() == "通话结束后小休（用餐）"
        assert view.resume.isEnabled()
        shot(window, "22_wallboard_pause_after_call_zh")
        qtbot.mouseClick(view.resume, Qt.MouseButton.LeftButton)
        await until(lambda: any(a["id"] == on_call_id and a.get("pause_after") is None for a in view.model.agents))
        assert not view.resume.isEnabled()
        view.phone.setText("1014")
        qtbot.mouseClick(view.listen, Qt.MouseButton.LeftButton)
        await until(lambda: window.statusBar().currentMessage() == "暂时无法监听")

        window.toggle_language()
        assert window.tabs.tabText(MainWindow.WALLBOARD_TAB) == "Wallboard"
        assert view.tiles["12345"].title.text() == "12345 Mayor's Hotline"
        assert view.listen.text() == "Listen"
        shot(window, "21_wallboard_under_load_en")
    finally:
        await until(lambda: not window.tasks)
        await dispose(window)


async def test_agents_are_not_offered_the_wallboard(server: LinkServer, qtbot: QtBot, tmp_path: Path) -> None:
    window = MainWindow(Tr("zh"), DraftStore(tmp_path / "draft-1001.json"), server=server.url)
    link = LinkClient(server.url, window.handle_message, window.set_link_status, backoff_base=0.02)
    window.link = link
    link.start()
    try:
        await link.wait_online(3)
        qtbot.keyClicks(window.signin.agent_id, "1001")
        qtbot.keyClicks(window.signin.password, PASSWORD)
        qtbot.mouseClick(window.signin.button, Qt.MouseButton.LeftButton)
        await until(lambda: window.isVisible())
        assert not window.tabs.isTabVisible(MainWindow.WALLBOARD_TAB)
        assert not server.supervisor.subscribers
    finally:
        await until(lambda: not window.tasks)
        await dispose(window)
