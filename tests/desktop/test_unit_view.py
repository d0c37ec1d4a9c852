"""The unit / supervisor view (待办案卷) driven with qtbot against a real LinkServer and database: a
department user accepts and reports a dispatched case, the centre follows it up and a supervisor approves
it, each only with the buttons the server allows. Screenshots go to var/screenshots/.

It runs on the standard asyncio loop, not qasync's (tests/desktop/conftest.py gives qasync only to
test_window.py): every widget signal used here is a direct call and screenshots render on demand, while
on a qasync loop this many requests through one process's server and clients now and then lost a wake-up
and hung the test at teardown."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from PySide6.QtCore import QDate, QDateTime, Qt, QTime
from pytestqt.qtbot import QtBot
from sqlalchemy.orm import Session, sessionmaker

from ari_app.auth import hash_password
from ari_app.cases.actor import Actor
from ari_app.cases.workflow import dispatch
from cti_desktop.window import MainWindow
from schema.cases import Case, CooperatingUnit, Dispatch
from schema.users import Role, User
from tests.support.clock import Clock
from tests.support.desks import Open, citizen_case
from tests.support.qt import type_text
from tests.support.users import FAST_HASH, PASSWORD
from tests.support.waiting import until


@pytest.fixture
def cases(sessions: sessionmaker[Session], clock: Clock) -> dict[str, int]:
    """A water company and its department user; three cases dispatched to it (one long overdue) and one to
    another unit, by agent 1001."""
    with sessions() as s, s.begin():
        water = CooperatingUnit(name="市供水公司", level=2)
        roads = CooperatingUnit(name="市政工程处", level=2)
        s.add_all([water, roads])
        s.flush()
        s.add(
            User(
                login="water",
                display_name="供水公司 李工",
                role=Role.DEPARTMENT,
                unit_id=water.id,
                password_hash=hash_password(PASSWORD, **FAST_HASH),
            )
        )
        agent_id = s.query(User.id).filter(User.login == "1001").scalar()
        agent = Actor(user_id=agent_id, login="1001", role=Role.AGENT)
        out: dict[str, int] = {}
        long_ago = clock() - timedelta(hours=100)  # the case settings' clock
        for key, request, address, unit, when in (
            ("burst", "小区主管道爆裂，整栋楼停水", "天山区解放北路 88 号", water, None),
            ("late", "水表井盖破损，有行人跌倒风险", "沙依巴克区西虹路 12 号", water, long_ago),
            ("pressure", "高层住户水压不足", "新市区北京路 301 号", water, None),
            ("manhole", "路口井盖缺失", "水磨沟区南湖路", roads, None),
        ):
            urgency = "urgent" if key == "burst" else "normal"
            case = citizen_case(s, agent, request, "13800000009", "王女士", address=address, urgency=urgency)
            dispatch(s, agent, case.id, units=[unit.id], deadline_hours=48, now=when)
            out[key] = case.id
        return out


def numbers(window: MainWindow) -> list[str]:
    return [str(c["number"]) for c in window.work.model.cases]


def shown_buttons(window: MainWindow) -> set[str]:
    return {a for a, b in window.work.buttons.items() if b.isVisibleTo(window.work)}


async def pick(window: MainWindow, qtbot: QtBot, case_id: int) -> None:
    row = window.work.model.row_of(case_id)
    assert row is not None, (case_id, numbers(window))
    window.work.table.selectRow(row)
    await until(lambda: window.work.case is not None and window.work.case["id"] == case_id)


async def click(window: MainWindow, qtbot: QtBot, action: str, status: str) -> None:
    before = window.work.case
    qtbot.mouseClick(window.work.buttons[action], Qt.MouseButton.LeftButton)
    await until(lambda: window.work.case is not before and window.work.case["status"] == status)
    case_id = window.work.case["id"]

    def listed_status() -> str | None:
        row = window.work.model.row_of(case_id)
        return None if row is None else str(window.work.model.cases[row]["status"])

    await until(lambda: listed_status() in (status, None))  # the list is refreshed after the reply


async def act(window: MainWindow, qtbot: QtBot, action: str, done: Callable[[dict[str, Any]], bool]) -> None:
    """Click `action` on the case on show and wait until the case shown is that case as `done` says it is
    after the action (for the actions that leave the case's status as it was)."""
    case_id = window.work.case["id"]
    qtbot.mouseClick(window.work.buttons[action], Qt.MouseButton.LeftButton)
    await until(lambda: window.work.case is not None and window.work.case["id"] == case_id and done(window.work.case))


async def test_department_accepts_and_handles_then_supervisor_approves(
    work_desks: Open, cases: dict[str, int], qtbot: QtBot, shot: Any, sessions: sessionmaker[Session]
) -> None:
    dept = await work_desks("water")
    # a department user: no queue controls, straight to its cases; only its unit's cases, overdue first
    assert dept.tabs.currentIndex() == MainWindow.WORK_TAB and dept.tabs.tabText(MainWindow.WORK_TAB) == "待办案卷"
    assert not dept.ready_button.isVisibleTo(dept) and not dept.tabs.isTabVisible(0)
    listed = {c["id"]: c for c in dept.work.model.cases}
    assert set(listed) == {cases["burst"], cases["late"], cases["pressure"]}
    assert dept.work.model.cases[0]["id"] == cases["late"] and listed[cases["late"]]["overdue"] is True
    deadline = dept.work.model.index(0, dept.work.model.DEADLINE).data()
    assert deadline.startswith("⚠ 超期")

    await pick(dept, qtbot, cases["burst"])
    assert shown_buttons(dept) == {"accept", "return", "request_extension"}
    assert dept.work.buttons["accept"].text() == "签收"
    await click(dept, qtbot, "accept", "in_progress")
    assert shown_buttons(dept) == {"return", "handle", "request_extension", "report_progress"}
    # 阶段性回复: the note box is its text, required; the report shows under the unit's share
    assert dept.work.buttons["report_progress"].text() == "阶段性回复"
    qtbot.mouseClick(dept.work.buttons["report_progress"], Qt.MouseButton.LeftButton)
    assert dept.work.error.text() == "请先填写意见再阶段性回复"
    type_text(dept.work.note, "已关闭阀门，正在开挖")
    await act(dept, qtbot, "report_progress", lambda c: bool(c.get("progress_reports")))
    assert [p["text"] for p in dept.work.case["progress_reports"]] == ["已关闭阀门，正在开挖"]
    assert "阶段性回复" in dept.work.detail.toPlainText() and "已关闭阀门，正在开挖" in dept.work.detail.toPlainText()
    assert "(主办)" in dept.work.detail.toPlainText()
    assert dept.work.note.toPlainText() == ""
    shot(dept, "16_unit_view_progress_report")
    # a report needs its text before anything is sent
    qtbot.mouseClick(dept.work.buttons["handle"], Qt.MouseButton.LeftButton)
    assert dept.work.error.text() == "请先填写意见再办理完毕"
    dept.work.note.setFocus()
    type_text(dept.work.note, "已抢修主管道，当日 18 时恢复供水")
    assert dept.work.error.text() == ""
    shot(dept, "10_unit_view_department")
    await click(dept, qtbot, "handle", "handled")
    assert shown_buttons(dept) == set()
    assert "已抢修主管道" in dept.work.detail.toPlainText()
    assert dept.statusBar().currentMessage().endswith("办理完毕完成")

    # the supervisor sees every case; follows the handled one up, then approves it
    sup = await work_desks("sup")
    assert sup.tabs.currentIndex() == MainWindow.WORK_TAB
    assert len(sup.work.model.cases) == 4
    await pick(sup, qtbot, cases["burst"])
    assert shown_buttons(sup) == {"follow_up"}
    assert sup.work.follow_box.isVisibleTo(sup.work)
    sup.work.follow_box.choose_rating("satisfied")
    await click(sup, qtbot, "follow_up", "followed_up")
    assert shown_buttons(sup) == {"approve", "send_back"}
    shot(sup, "11_unit_view_supervisor_review")
    await click(sup, qtbot, "approve", "closed")
    assert shown_buttons(sup) == {"follow_up"}  # a closed case may still be followed up, nothing else
    text = sup.work.detail.toPlainText()
    assert "已办结" in text and "审核通过" in text and "满意" in text
    with sessions() as s:
        case = s.get(Case, cases["burst"])
        assert case is not None and case.status == "closed" and case.closed_at is not None

    # a supervisor may supervise the overdue case, in English too
    sup.toggle_language()
    assert sup.tabs.tabText(MainWindow.WORK_TAB) == "Cases to handle"
    sup.work.overdue_only.setChecked(True)
    await until(lambda: [c["id"] for c in sup.work.model.cases] == [cases["late"]])
    await pick(sup, qtbot, cases["late"])
    assert shown_buttons(sup) == {"dispatch", "supervise"}  # a co-unit; not escalate: not coordinated
    assert sup.work.buttons["supervise"].text() == "Supervise"
    type_text(sup.work.note, "今日内到场处置")
    await click(sup, qtbot, "supervise", "dispatched")
    assert "Supervision level 1" in sup.work.detail.toPlainText()
    shot(sup, "12_unit_view_supervisor_overdue_en")


async def test_a_dispatch_reaches_the_units_open_list_without_a_refresh(
    work_desks: Open, cases: dict[str, int], qtbot: QtBot, shot: Any, sessions: sessionmaker[Session]
) -> None:
    """Live case pushes (protocol 1.5): the supervisor dispatches a new case to the water company; the water
    company's desktop, open on its list, shows it and says so, in Chinese and in English, without Refresh;
    a supervision of it arrives the same way. The other unit's cases stay out of its list."""
    with sessions() as s, s.begin():
        agent_id = s.query(User.id).filter(User.login == "1001").scalar()
        agent = Actor(user_id=agent_id, login="1001", role=Role.AGENT)
        fresh = [
            citizen_case(s, agent, request, "13800000010", "赵先生", address="天山区光明路 5 号").id
            for request in ("消防栓漏水", "停水通知未张贴")
        ]
        water = s.query(CooperatingUnit.id).filter(CooperatingUnit.name == "市供水公司").scalar()
    dept = await work_desks("water")
    sup = await work_desks("sup")
    assert dept.link is not None and sup.link is not None
    before = {c["id"] for c in dept.work.model.cases}
    assert fresh[0] not in before
    reply = await sup.link.request("dispatch_case", case_id=fresh[0], units=[water], deadline_hours=24)
    await until(lambda: dept.work.model.row_of(fresh[0]) is not None)
    number = reply["case"]["number"]
    assert dept.statusBar().currentMessage().startswith(f"✉ 新派单：案卷 {number}，办理时限 ")
    assert {c["id"] for c in dept.work.model.cases} == before | {fresh[0]}  # nothing of the other unit
    shot(dept, "46_case_pushed_dispatch_zh")

    dept.toggle_language()
    await sup.link.request("dispatch_case", case_id=fresh[1], units=[water], deadline_hours=24)
    await until(lambda: dept.work.model.row_of(fresh[1]) is not None)
    assert dept.statusBar().currentMessage().startswith("✉ New dispatch: case ")
    await sup.link.request("supervise_case", case_id=fresh[1], instructions="今日内处置")
    await until(lambda: dept.statusBar().currentMessage().startswith("⚠ Supervision: case "))
    assert "(level 1)" in dept.statusBar().currentMessage()
    shot(dept, "47_case_pushed_supervision_en")


async def test_returns_and_extensions_through_their_buttons(
    work_desks: Open, cases: dict[str, int], qtbot: QtBot, shot: Any, sessions: sessionmaker[Session]
) -> None:
    """The work-order rules from the desktop (protocol 1.7): the department returns a case with a reason
    from the list (退单), the supervisor rejects one return (the unit keeps it) and accepts another (the case
    comes back and its re-dispatch is counted, 改派); the department asks for an extension (延期) before its
    deadline and the supervisor approves it, which moves the share's deadline to the one asked."""
    dept = await work_desks("water")
    await pick(dept, qtbot, cases["pressure"])
    assert dept.work.return_box.isVisibleTo(dept.work)
    dept.work.return_code.setCurrentIndex(dept.work.return_code.findData("wrong_area"))
    assert dept.work.return_code.currentText() == "属地错误"
    type_text(dept.work.note, "该地址属新市区供水所")
    await act(dept, qtbot, "return", lambda c: [r["status"] for r in c["returns"]] == ["pending"])  # status stays
    shares = dept.work.case["dispatches"]
    assert [d["status"] for d in shares] == ["return_requested"]
    assert "退单" in dept.work.detail.toPlainText() and "属地错误" in dept.work.detail.toPlainText()
    assert "待审核" in dept.work.detail.toPlainText()
    await pick(dept, qtbot, cases["late"])
    dept.work.return_code.setCurrentIndex(dept.work.return_code.findData("not_our_duty"))
    type_text(dept.work.note, "井盖属市政工程处")
    await act(dept, qtbot, "return", lambda c: [r["status"] for r in c["returns"]] == ["pending"])

    sup = await work_desks("sup")
    await pick(sup, qtbot, cases["pressure"])
    assert {"accept_return", "reject_return"} <= shown_buttons(sup)
    qtbot.mouseClick(sup.work.buttons["reject_return"], Qt.MouseButton.LeftButton)
    assert sup.work.error.text() == "请先填写意见再驳回退单"  # a rejection says why
    type_text(sup.work.note, "该小区由市供水公司直供")
    await act(sup, qtbot, "reject_return", lambda c: [r["status"] for r in c["returns"]] == ["refused"])
    assert [d["status"] for d in sup.work.case["dispatches"]] == ["pending"]  # the unit keeps it
    assert "已驳回" in sup.work.detail.toPlainText()

    await pick(sup, qtbot, cases["late"])
    await click(sup, qtbot, "accept_return", "returned")
    sup.work.unit.setCurrentIndex(sup.work.unit.findText("市政工程处"))
    await click(sup, qtbot, "dispatch", "dispatched")
    assert sup.work.case["redispatch_count"] == 1
    assert "改派 1 次 · 发回重办 0 次" in sup.work.detail.toPlainText()
    shot(sup, "13_unit_view_return_redispatched")

    # the extension: asked by the unit before its deadline, approved by the supervisor
    await pick(dept, qtbot, cases["burst"])
    assert dept.work.extension_box.isVisibleTo(dept.work)
    with sessions() as s:
        share = s.query(Dispatch).filter(Dispatch.case_id == cases["burst"]).one()
        before = share.deadline_at
    asked = before + timedelta(days=3)
    wall = asked.astimezone(dept.tr_.zone)
    dept.work.extension_to.setDateTime(QDateTime(QDate(wall.year, wall.month, wall.day), QTime(wall.hour, wall.minute)))
    qtbot.mouseClick(dept.work.buttons["request_extension"], Qt.MouseButton.LeftButton)
    assert dept.work.error.text() == "请先填写意见再申请延期"
    type_text(dept.work.note, "需更换主管道，材料三日内到货")
    await act(dept, qtbot, "request_extension", lambda c: [x["status"] for x in c["extensions"]] == ["pending"])
    assert "延期申请" in dept.work.detail.toPlainText() and "待审核" in dept.work.detail.toPlainText()
    assert "request_extension" not in shown_buttons(dept) and not dept.work.extension_box.isVisibleTo(dept.work)
    shot(dept, "14_unit_view_extension_asked")
    await pick(sup, qtbot, cases["burst"])
    assert {"approve_extension", "refuse_extension"} <= shown_buttons(sup)
    await act(sup, qtbot, "approve_extension", lambda c: [x["status"] for x in c["extensions"]] == ["approved"])
    with sessions() as s:
        share = s.query(Dispatch).filter(Dispatch.case_id == cases["burst"]).one()
        assert share.deadline_at == asked.replace(second=0, microsecond=0)
    sup.toggle_language()
    assert sup.work.buttons["accept_return"].text() == "Accept return"
    assert "approved" in sup.work.detail.toPlainText()
    shot(sup, "15_unit_view_extension_approved_en")
