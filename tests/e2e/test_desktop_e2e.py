"""The whole path with real parts: a SIPp call to 12319 into the real Asterisk, the real CTI server process,
and real desktops (offscreen Qt windows on the qasync loop) signed in over the link. The rung agent's
desktop pops with the call prefilled, the case saved from it is linked to the call, the other agent's
desktop hears nothing; then the server is killed and restarted under a signed-in desktop."""

from __future__ import annotations

import json
import random
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from ari_app.protocol import Msg
from cti_desktop.drafts import DraftStore
from cti_desktop.i18n import Tr
from cti_desktop.link import LinkClient, Status
from cti_desktop.window import MainWindow
from schema.cases import CooperatingUnit
from schema.db import make_engine, make_sessionmaker
from tests.support.e2e import ROOT, Stack, add_user, calls, hotline, suite_members
from tests.support.link import case_fields
from tests.support.qt import qt_until, type_text
from tests.support.workstation import LinkedWindow

PASSWORD = "e2e-坐席-pass"


SHOTS = ROOT / "var" / "screenshots"


class Desk(LinkedWindow):
    """A desktop window and its link, with every message it received kept for the assertions."""

    def __init__(self, url: str, tmp: Path, name: str) -> None:
        super().__init__(MainWindow(Tr("zh"), DraftStore(tmp / f"draft-{name}.json"), server=url), url)


@pytest.fixture
async def desks(stack: Stack, qtbot: QtBot) -> AsyncIterator[tuple[Desk, Desk]]:
    for login in ("1001", "1002"):
        add_user(stack.config, login, "agent", PASSWORD)
    suite_members(stack.config, present=False)  # only agents signed in on a desktop are in the queue for this test
    port = yaml.safe_load(stack.config.read_text(encoding="utf-8")).get("server", {}).get("port", 8765)
    url = f"ws://127.0.0.1:{port}"
    a, b = Desk(url, stack.tmp, "a"), Desk(url, stack.tmp, "b")
    try:
        yield a, b
    finally:
        await a.close()
        await b.close()
        suite_members(stack.config, present=True)


async def test_call_pops_the_rung_agent_and_the_saved_case_is_linked(
    stack: Stack, desks: tuple[Desk, Desk], qtbot: QtBot
) -> None:
    a, b = desks
    await a.sign_in_as("1001", PASSWORD)
    await b.sign_in_as("1002", PASSWORD)  # signed in, stays paused: the queue never rings 1002
    a.window.ready_button.click()
    await qt_until(lambda: a.window.status_view.state == "ready", 10)
    members = hotline(stack.config, "asterisk", "cli", "queue show hotline").stdout
    assert "1001" in members and "(paused" not in members.split("1001", 1)[1].split("\n", 1)[0]
    # a change made elsewhere (the Asterisk CLI, as an admin or supervisor would) shows on the desktop
    hotline(stack.config, "asterisk", "cli", "queue pause member PJSIP/1001 queue hotline reason meeting")
    await qt_until(lambda: a.window.status_view.state == "paused", 10)
    assert "meeting" in a.window.state_label.text() or "会议" in a.window.state_label.text()
    hotline(stack.config, "asterisk", "cli", "queue unpause member PJSIP/1001 queue hotline")
    await qt_until(lambda: a.window.status_view.state == "ready", 10)

    caller = f"132{random.randrange(10**8):08d}"
    sip = stack.sipp.call("12319", caller, talk_ms=8000, wait=False)
    await qt_until(lambda: a.window.call_tab.pop.call is not None, 20)
    pop = next(m for m in a.received if m["type"] == "screen_pop")
    assert pop["call"]["hotline"] == "12319" and pop["call"]["caller"] == caller
    assert a.window.call_tab.form.hotline.currentData() == "12319"
    assert a.window.call_tab.form.caller.text() == caller
    await qt_until(lambda: a.window.call_tab.pop.phase == "connected", 20)
    window = a.window
    window.call_tab.form.category.setCurrentIndex(window.call_tab.form.category.findData("供水"))
    type_text(window.call_tab.form.request, "小区停水两天，请尽快处理")
    type_text(window.call_tab.form.address, "水磨沟区南湖路 3 号")
    SHOTS.mkdir(parents=True, exist_ok=True)
    window.grab().save(str(SHOTS / "e2e_screen_pop_real_call.png"))
    window.call_tab.form.save.click()
    await qt_until(lambda: window.statusBar().currentMessage().startswith("案卷 12319-"), 10)

    (call,) = [c for c in calls(stack.config) if c["caller"] == caller]
    db = yaml.safe_load(stack.config.read_text(encoding="utf-8"))["database"]["url"].split("///", 1)[1]
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "select hotline, caller, call_id, request from cases where caller = ?", (caller,)
        ).fetchall()
    assert rows == [("12319", caller, call["id"], "小区停水两天，请尽快处理")]
    assert not [m for m in b.received if m["type"] in ("screen_pop", "call_update")], b.received
    assert b.window.call_tab.pop.call is None
    assert "queue_add for" not in stack.cti.log.read_text(errors="replace")  # sign-in reached the queue cleanly
    assert sip.wait(timeout=30) == 0
    await qt_until(lambda: a.window.status_view.state == "ready", 20)  # wrap-up is 0 s in the test config

    # the server dies under a signed-in desktop; a draft typed meanwhile is kept; the desktop comes back
    assert stack.cti.proc is not None
    synced = stack.cti.resyncs()
    stack.cti.proc.kill()
    stack.cti.proc.wait()
    await qt_until(lambda: a.window.link_status != Status.ONLINE, 10)
    assert a.window.offline_banner.isVisible()
    type_text(window.call_tab.form.request, "断线期间记录的诉求")
    stack.cti.start()
    stack.cti.wait_synced(synced + 1)
    await qt_until(lambda: a.window.link_status == Status.ONLINE, 30)
    await qt_until(lambda: a.window.status_view.state == "ready", 15)  # the state Asterisk has, not a guess
    assert not a.window.offline_banner.isVisible()
    assert "断线期间记录的诉求" in window.call_tab.form.request.toPlainText()
    draft = window.drafts.load()
    assert draft is not None and "断线期间记录的诉求" in json.dumps(draft, ensure_ascii=False)


def _two_units(stack: Stack) -> tuple[int, int]:
    """Two cooperating units of 12345, put into the table directly (found again when the stack is reused)."""
    url = yaml.safe_load(stack.config.read_text(encoding="utf-8"))["database"]["url"]
    engine = make_engine(url)
    try:
        with make_sessionmaker(engine).begin() as s:
            found = s.scalars(select(CooperatingUnit).where(CooperatingUnit.name.like("推送测试%"))).all()
            if len(found) < 2:
                found = [CooperatingUnit(name=f"推送测试{tag}局", level=2, hotline="12345") for tag in "甲乙"]
                s.add_all(found)
                s.flush()
            return found[0].id, found[1].id
    finally:
        engine.dispose()


async def test_a_dispatch_shows_on_its_departments_desktop_within_a_second_and_nowhere_else(
    stack: Stack, qtbot: QtBot
) -> None:
    """Live case pushes: a supervisor dispatches a case to unit 甲; the desktop of 甲's department user, signed
    in and never refreshed, lists the case within 1 s and says so; the desktop of 乙's department user
    receives nothing about it."""
    unit_a, unit_b = _two_units(stack)
    add_user(stack.config, "push-sup", "supervisor", PASSWORD)
    add_user(
        stack.config,
        "push-dept-a",
        "department",
        PASSWORD,
        (
            "--unit-id",
            str(unit_a),
        ),
    )
    add_user(
        stack.config,
        "push-dept-b",
        "department",
        PASSWORD,
        (
            "--unit-id",
            str(unit_b),
        ),
    )
    port = yaml.safe_load(stack.config.read_text(encoding="utf-8")).get("server", {}).get("port", 8765)
    url = f"ws://127.0.0.1:{port}"
    a, b = Desk(url, stack.tmp, "dept-a"), Desk(url, stack.tmp, "dept-b")
    sup = LinkClient(url, lambda msg: None, lambda status: None, backoff_base=0.1, backoff_max=0.5)
    sup.start()
    try:
        for desk, login in ((a, "push-dept-a"), (b, "push-dept-b")):
            await desk.link.wait_online(10)
            desk.window.signin.agent_id.setText(login)
            desk.window.signin.password.setText(PASSWORD)
            desk.window.signin.button.click()
            await qt_until(lambda d=desk: d.window.isVisible() and d.window.agent.get("role") == "department", 10)
        await sup.wait_online(10)
        await sup.sign_in("push-sup", PASSWORD)
        created = await sup.request(
            Msg.CREATE_CASE,
            **case_fields("人行道井盖缺失，夜间有行人跌落风险", address="天山区解放北路 12 号", urgency="urgent"),
        )
        case = created["case"]
        await qt_until(lambda: a.link.token is not None and b.link.token is not None)
        a.received.clear()
        b.received.clear()

        started = time.monotonic()
        await sup.request(Msg.DISPATCH_CASE, case_id=case["id"], units=[unit_a], deadline_hours=48)
        await qt_until(lambda: a.window.work.model.row_of(case["id"]) is not None, 1.0)
        shown_after = time.monotonic() - started
        print(f"dispatch to its department's list: {shown_after * 1000:.0f} ms")
        push = next(m for m in a.received if m["type"] == Msg.CASE_EVENT)
        assert push["event"] == "dispatched" and push["case_id"] == case["id"] and push["unit_id"] == unit_a
        assert "request" not in push and "address" not in push  # the text is read (and audited) with get_case
        assert a.window.statusBar().currentMessage().startswith(f"✉ 新派单：案卷 {case['number']}，办理时限 ")
        a.window.tabs.setCurrentIndex(a.window.WORK_TAB)
        SHOTS.mkdir(parents=True, exist_ok=True)
        a.window.grab().save(str(SHOTS / "e2e_case_pushed_to_department.png"))

        # a round trip on 乙's connection after 甲 had its push: anything queued for 乙 with it has arrived
        await b.link.request(Msg.PING)
        assert not [m for m in b.received if m.get("case_id") == case["id"]], b.received
        assert b.window.work.model.row_of(case["id"]) is None
    finally:
        await sup.stop()
        await a.close()
        await b.close()
