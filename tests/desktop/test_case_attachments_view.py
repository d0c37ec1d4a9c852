"""Attachments and follow-ups (回访) in the desktop, driven with qtbot against a real LinkServer and database:
the supervisor adds a real PNG to a case through Add… and sees it listed; the water company's department adds
a photo to its own result; an HTML file named `.jpg` is refused by the server with its words shown, and a
file over the link's limit is refused before anything is sent; the photo is opened back in the preview and
saved, byte for byte. The follow-ups due list shows a handled case with its due time in the centre's zone;
the follow-up form saves an unsatisfied rating and the approve button is then disabled with the reason, the
server's own refusal of approve shown too; a case handled meanwhile reaches the list without a refresh.
Chinese and English. Screenshots go to var/screenshots/ (08_, 09_, 10_).

Runs on the standard asyncio loop (see test_unit_view.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog
from pytestqt.qtbot import QtBot
from sqlalchemy.orm import Session, sessionmaker

from ari_app.cases import CaseSettings, configure
from ari_app.cases.actor import Actor
from ari_app.cases.workflow import accept, dispatch, handle
from ari_app.config import Config
from ari_app.link import LinkServer
from ari_app.outbound.desk import OutboundDesk
from ari_app.outbound.service import OutboundDialer
from ari_app.protocol import ATTACHMENT_LINK_BYTES
from cti_desktop.attachments import AttachmentTableModel
from cti_desktop.follow_ups_tab import PAGE, FollowUpDueModel
from cti_desktop.window import MainWindow
from schema.calls import CallDirection, CallRecord, OutboundPurpose
from schema.cases import CooperatingUnit, FollowUp
from schema.users import Role, User
from tests.support.attachments import HTML, jpeg, png, with_attachments
from tests.support.desks import Open, citizen_case
from tests.support.qt import type_text
from tests.support.users import user
from tests.support.waiting import until


@pytest.fixture
def cases(sessions: sessionmaker[Session], cfg: Config, tmp_path: Path) -> dict[str, int]:
    """Attachments kept under tmp_path; the water company and its department user `water`; three cases
    dispatched to it by agent 1001: `open` (signed for, not handled), `handled` (handled: due for its
    follow-up) and `later` (signed for; handled during a test)."""
    configure(sessions, with_attachments(CaseSettings.from_config(cfg), tmp_path / "attachments"))
    with sessions() as s, s.begin():
        water = CooperatingUnit(name="市供水公司", level=2)
        s.add(water)
        s.flush()
        s.add(user("water", Role.DEPARTMENT, unit_id=water.id, display_name="供水公司 李工"))
        s.flush()
        agent_id = s.query(User.id).filter(User.login == "1001").scalar()
        water_id = s.query(User.id).filter(User.login == "water").scalar()
        agent = Actor(user_id=agent_id, login="1001", role=Role.AGENT)
        dept = Actor(user_id=water_id, login="water", role=Role.DEPARTMENT, unit_id=water.id)
        out: dict[str, int] = {}
        for key, request in (
            ("open", "小区主管道爆裂，整栋楼停水"),
            ("handled", "水表井盖破损，有行人跌倒风险"),
            ("later", "高层住户水压不足"),
        ):
            case = citizen_case(s, agent, request, "13800000009", "王女士", address="天山区解放北路 88 号")
            dispatch(s, agent, case.id, units=[water.id], deadline_hours=48)
            accept(s, dept, case.id)
            if key == "handled":
                handle(s, dept, case.id, result="已更换井盖并设置警示")
            out[key] = case.id
        return out


async def pick(window: MainWindow, case_id: int) -> None:
    row = window.work.model.row_of(case_id)
    assert row is not None, case_id
    window.work.table.selectRow(row)
    await until(lambda: window.work.case is not None and window.work.case["id"] == case_id)


def listed(window: MainWindow) -> list[list[str]]:
    model = window.work.attachments.model
    return [[str(model.index(r, c).data()) for c in range(model.columnCount())] for r in range(model.rowCount())]


async def test_attachments_added_refused_opened_and_saved(
    work_desks: Open, cases: dict[str, int], qtbot: QtBot, shot: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    photo = tmp_path / "现场照片.png"
    photo.write_bytes(png(seed=77, size=(40, 30)))
    sup = await work_desks("sup")
    sup.tabs.setCurrentIndex(MainWindow.WORK_TAB)
    await pick(sup, cases["open"])
    panel = sup.work.attachments
    assert panel.model.rowCount() == 0 and panel.add_button.isEnabled() and not panel.open_button.isEnabled()

    # Add… through the file dialog
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(photo), ""))
    qtbot.mouseClick(panel.add_button, Qt.MouseButton.LeftButton)
    await until(lambda: panel.model.rowCount() == 1)
    name, kind, size, by, _at, on = listed(sup)[0]
    assert (name, kind, by, on) == ("现场照片.png", "image/png", "sup", "工单")
    assert size.endswith(" B") or size.endswith(" KB")
    assert panel.message.text() == "已添加 “现场照片.png”（image/png）"

    # the department adds to its own result; the centre sees whose result it is, live (case_event)
    dept = await work_desks("water")
    await pick(dept, cases["open"])
    site = tmp_path / "维修后.jpg"
    site.write_bytes(jpeg(seed=3))
    added = await dept.work.attachments.add_file(site)
    assert added is not None and added["dispatch_id"] is not None and added["mime"] == "image/jpeg"
    assert [row[5] for row in listed(dept)] == ["工单", "市供水公司 的办理结果"]
    await sup.work.open_case(cases["open"])  # the supervisor reads the case again
    await until(lambda: panel.model.rowCount() == 2)
    assert [row[5] for row in listed(sup)] == ["工单", "市供水公司 的办理结果"]

    # an HTML page named .jpg: the server's refusal, in the person's language; nothing listed
    fake = tmp_path / "photo.jpg"
    fake.write_bytes(HTML)
    assert await panel.add_file(fake) is None
    assert panel.message.text().startswith("文件类型不允许：内容实际是 text/html")
    assert panel.model.rowCount() == 2
    # a file over the link's limit: said before anything is sent
    big = tmp_path / "big.jpg"
    big.write_bytes(jpeg(seed=1, size=(600, 400), noisy=True))
    assert big.stat().st_size > ATTACHMENT_LINK_BYTES
    assert await panel.add_file(big) is None
    assert panel.message.text().startswith("“big.jpg” 有 ")
    assert panel.message.text().endswith(" KB，超过工作台连接每个文件 45.0 KB 的上限，未发送")
    shot(sup, "08_case_attachments")

    # Open: the photo from memory in the preview, the same pixels; Save as…: the same bytes
    panel.table.selectRow(0)
    assert panel.open_button.isEnabled()
    dialog = await panel.open_attachment(panel.model.rows[0])
    assert dialog is not None and dialog.isVisible() and dialog.windowTitle() == "现场照片.png"
    assert dialog.image.pixmap().size().width() == 40 and dialog.image.pixmap().size().height() == 30
    assert await panel.fetch(panel.model.rows[0]) == photo.read_bytes()
    shot(dialog, "08_case_attachments_preview")
    dialog.close()
    target = tmp_path / "saved" / "copy.png"
    target.parent.mkdir()
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), ""))
    qtbot.mouseClick(panel.save_button, Qt.MouseButton.LeftButton)
    await until(lambda: target.exists() and panel.message.text().startswith("已保存到"))
    assert target.read_bytes() == photo.read_bytes()

    # English
    sup.toggle_language()
    assert panel.add_button.text() == "Add…" and panel.title.text() == "Attachments"
    headers = [panel.model.headerData(c, Qt.Orientation.Horizontal) for c in range(len(AttachmentTableModel.HEADERS))]
    assert headers == ["Name", "Type", "Size", "Added by", "Added", "On"]
    assert [row[5] for row in listed(sup)] == ["The case", "市供水公司's result"]
    assert await panel.add_file(fake) is None
    assert panel.message.text().startswith("File type refused: its content is text/html")
    shot(sup, "08_case_attachments_en")

    # the agent who took the case opens it from my cases: the same attachments in its detail
    agent = await work_desks("1001")
    await until(lambda: agent.cases.model.row_of(cases["open"]) is not None)
    row = agent.cases.model.row_of(cases["open"])
    assert row is not None
    agent.cases.view.doubleClicked.emit(agent.cases.model.index(row, 0))
    await until(lambda: agent.work.case is not None and agent.work.case["id"] == cases["open"])
    assert agent.tabs.currentIndex() == MainWindow.WORK_TAB
    assert [r[0] for r in listed(agent)] == ["现场照片.png", "维修后.jpg"]


async def test_follow_up_due_rated_unsatisfied_blocks_approve(
    work_desks: Open, cases: dict[str, int], qtbot: QtBot, shot: Any
) -> None:
    sup = await work_desks("sup")
    tab = sup.follow_ups
    index = sup.tabs.indexOf(tab)
    assert sup.tabs.isTabVisible(index) and sup.tabs.tabText(index) == "回访"
    sup.tabs.setCurrentIndex(index)
    await until(lambda: tab.model.row_of(cases["handled"]) is not None)
    assert [c["id"] for c in tab.model.cases] == [cases["handled"]]
    row = tab.model.cases[0]
    assert row["follow_up_due_at"] and row["status"] == "handled"
    due = tab.model.index(0, FollowUpDueModel.DUE).data()
    assert due.endswith(sup.tr_.when(row["follow_up_due_at"])) and due.startswith("⚠ 超期") == row["follow_up_overdue"]
    assert tab.page_label.text() == "第 1–1 条" and not tab.next_button.isEnabled()

    # a case handled meanwhile reaches the list without a refresh, after the earlier due one
    dept = await work_desks("water")
    assert dept.link is not None
    assert not dept.tabs.isTabVisible(dept.tabs.indexOf(dept.follow_ups))  # not a department's work
    await dept.link.request("handle_case", case_id=cases["later"], result="已加装增压泵")
    await until(lambda: [c["id"] for c in tab.model.cases] == [cases["handled"], cases["later"]])

    tab.table.selectRow(0)
    await until(lambda: tab.case is not None and tab.case.get("dispatches"))
    assert "已更换井盖并设置警示" in tab.detail.toPlainText()
    ratings = [tab.form.rating.itemText(i) for i in range(tab.form.rating.count())]
    assert ratings == ["非常满意", "满意", "基本满意", "不满意", "非常不满意"]
    tab.form.choose_rating("very_unsatisfied")
    tab.form.channel.setCurrentIndex(tab.form.channel.findData("sms"))
    type_text(tab.notes, "市民表示井盖仍松动")
    shot(sup, "09_follow_ups_due")
    shot(tab, "10_follow_up_form")

    sup.toggle_language()
    assert sup.tabs.tabText(index) == "Follow-ups" and tab.form.rating.currentText() == "Very unsatisfied"
    assert tab.model.headerData(1, Qt.Orientation.Horizontal) == "Follow-up due"
    shot(sup, "09_follow_ups_due_en")
    shot(tab, "10_follow_up_form_en")
    qtbot.mouseClick(tab.save_button, Qt.MouseButton.LeftButton)
    await until(lambda: [c["id"] for c in tab.model.cases] == [cases["later"]])  # reached: no longer due
    assert sup.statusBar().currentMessage().endswith("followed up: Very unsatisfied")

    # the reviewer: approve shown but disabled, the reason said; send back offered
    sup.tabs.setCurrentIndex(MainWindow.WORK_TAB)
    await until(lambda: sup.work.model.row_of(cases["handled"]) is not None)
    await pick(sup, cases["handled"])
    work = sup.work
    assert work.case is not None and work.case["send_back_required"] is True
    approve, send_back = work.buttons["approve"], work.buttons["send_back"]
    assert approve.isVisibleTo(work) and not approve.isEnabled()
    assert send_back.isVisibleTo(work) and send_back.isEnabled()
    reason = "The citizen rated it “Very unsatisfied”: it cannot be approved; give a reason and send it back"
    assert work.review_note.isVisibleTo(work) and work.review_note.text() == reason and approve.toolTip() == reason
    assert "Follow up" in work.detail.toPlainText() and "By SMS" in work.detail.toPlainText()
    await pick(sup, cases["later"])  # handled meanwhile: the form in the detail too
    assert work.follow_box.isVisibleTo(work) and work.follow_box.rating.currentText() == "Satisfied"
    shot(sup, "10_follow_up_form_detail_en")
    await pick(sup, cases["handled"])
    sup.toggle_language()
    assert work.review_note.text() == "回访评价为“非常不满意”：不能审核通过，请填写原因后发回重办"
    # were approve sent anyway (another desktop's stale view), the server's refusal is shown
    await work._case_action("approve", {"case_id": cases["handled"], "approved": True})
    assert work.error.text() == "回访不满意的工单不能审核通过，请发回重办"
    assert not approve.isEnabled()
    shot(sup, "11_follow_up_review_blocked")


async def test_follow_ups_due_paged(
    work_desks: Open, cases: dict[str, int], qtbot: QtBot, sessions: sessionmaker[Session]
) -> None:
    """More citizens waiting than a page holds: the first page, then the rest; overdue only narrows it."""
    with sessions() as s, s.begin():
        agent_id = s.query(User.id).filter(User.login == "1001").scalar()
        water_id, unit_id = s.query(User.id, User.unit_id).filter(User.login == "water").one()
        agent = Actor(user_id=agent_id, login="1001", role=Role.AGENT)
        dept = Actor(user_id=water_id, login="water", role=Role.DEPARTMENT, unit_id=unit_id)
        for i in range(PAGE):
            case = citizen_case(s, agent, f"路灯不亮 {i}", "13800000011", "赵先生")
            dispatch(s, agent, case.id, units=[unit_id], deadline_hours=48)
            accept(s, dept, case.id)
            handle(s, dept, case.id, result="已修复")
    sup = await work_desks("sup")
    tab = sup.follow_ups
    sup.tabs.setCurrentIndex(sup.tabs.indexOf(tab))
    await until(lambda: tab.model.rowCount() == PAGE)
    first = [c["id"] for c in tab.model.cases]
    assert first[0] == cases["handled"]  # the earliest due first
    assert tab.next_button.isEnabled() and not tab.prev_button.isEnabled()
    assert tab.page_label.text() == f"第 1–{PAGE} 条"
    qtbot.mouseClick(tab.next_button, Qt.MouseButton.LeftButton)
    await until(lambda: tab.offset == PAGE and tab.model.rowCount() == 1)
    assert tab.model.cases[0]["id"] not in first
    assert tab.prev_button.isEnabled() and not tab.next_button.isEnabled()
    assert tab.page_label.text() == f"第 {PAGE + 1}–{PAGE + 1} 条"
    tab.overdue_only.setChecked(True)  # nothing is overdue on the test's clock yet
    await until(lambda: tab.offset == 0 and tab.model.rowCount() == 0)
    assert tab.page_label.text() == "没有待回访的工单" and not tab.save_button.isEnabled()


async def test_the_follow_up_is_dialled_from_its_case_and_names_the_call(
    work_desks: Open,
    cases: dict[str, int],
    server: LinkServer,
    qtbot: QtBot,
    sessions: sessionmaker[Session],
    shot: Any,
) -> None:
    """Click-to-dial from the follow-ups tab (protocol 1.9): the agent's button asks the server to call the
    case's citizen (the number is the server's to find; Asterisk's Originate is recorded here, the real one is
    tests/e2e/test_outbound.py); the call's `call_connected`, which names the case, is taken as the call the
    follow-up then saved was made on."""
    dialled: list[dict[str, Any]] = []

    class Asterisk:
        async def originate_async(self, **fields: Any) -> None:
            dialled.append(fields)

    server.add(OutboundDesk(OutboundDialer(Asterisk(), "carrier-telecom")))
    agent = await work_desks("1001")
    tab = agent.follow_ups
    agent.tabs.setCurrentIndex(agent.tabs.indexOf(tab))
    await until(lambda: tab.model.row_of(cases["handled"]) is not None)
    tab.table.selectRow(tab.model.row_of(cases["handled"]))
    await until(lambda: tab.case is not None and tab.case["id"] == cases["handled"])
    assert tab.dial_button.isVisibleTo(tab) and tab.dial_button.text() == "拨打回访电话"
    qtbot.mouseClick(tab.dial_button, Qt.MouseButton.LeftButton)
    await until(lambda: len(dialled) == 1 and tab.call_label.text() != "")
    (fields,) = dialled
    assert (fields["Channel"], fields["Context"]) == ("PJSIP/1001", "hotline-outbound")
    assert {"OUTBOUND_NUMBER=13800000009", "OUTBOUND_HOTLINE=12345", "OUTBOUND_PURPOSE=follow_up"} <= set(
        fields["Variable"]
    )
    assert tab.call_label.text() == "正在呼叫 13800000009：请先接听您的话机"
    with sessions() as s, s.begin():  # what the tracker stores when Asterisk tells of the call
        s.add(
            CallRecord(
                linkedid="77.1", state="connected", arrived_at=datetime.now(UTC), hotline="12345",
                direction=CallDirection.OUTBOUND, case_id=cases["handled"], purpose=OutboundPurpose.FOLLOW_UP,
            )
        )  # fmt: skip
    agent.handle_message({"type": "call_connected", "call_id": "77.0", "wait_seconds": 3.0})  # a queue call
    assert tab.call_id is None
    agent.handle_message({"type": "call_connected", "call_id": "77.1", "wait_seconds": 0, "case_id": cases["handled"]})
    assert tab.call_id == "77.1" and tab.call_label.text() == "回访电话已接通，保存时将关联本次通话"
    tab.form.choose_rating("very_satisfied")
    shot(agent, "16_follow_up_dialled")
    qtbot.mouseClick(tab.save_button, Qt.MouseButton.LeftButton)
    await until(lambda: tab.call_id is None)
    with sessions() as s:
        (made,) = s.query(FollowUp).filter(FollowUp.case_id == cases["handled"]).all()
        assert (made.call_id, made.rating, made.channel) == ("77.1", "very_satisfied", "phone")
