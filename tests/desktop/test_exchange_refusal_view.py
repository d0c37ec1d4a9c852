"""An exchange-mode case the hotline's own system refused, as the centre's supervisor sees it on the work
list (待办案卷) of a real desktop against a real LinkServer and database: the refusal comes from a real
GeoReport v2 receiver on 127.0.0.1 through the outbox; the row is marked and listed first, the detail gives
the receiver's words, and the supervisor forwards it again with the address corrected, in Chinese and in
English. Intake refused for a missing location names the field. Screenshots go to var/screenshots/."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ari_app.cases.actor import Actor
from ari_app.cases.events import ExchangeRefused
from ari_app.cases.exchange import STALL_ATTEMPTS, deliver_due
from ari_app.cases.runner import CaseRunner
from ari_app.link import LinkServer
from ari_app.protocol import Msg
from cti_desktop.i18n import Tr
from cti_desktop.link import LinkError
from cti_desktop.models import WorkTableModel
from schema.cases import Case, ExchangeMessage, OutboxStatus
from schema.users import Role, User
from tests.support.cases import LOCATION_REQUIRED, GeoReportReceiver
from tests.support.desks import Open, citizen_case
from tests.support.qt import type_text
from tests.support.waiting import until


@pytest.fixture
def geo() -> Iterator[GeoReportReceiver]:
    with GeoReportReceiver() as r:
        yield r


def _create(s: Session, agent: Actor, hotline: str, request: str, address: str | None) -> int:
    return citizen_case(s, agent, request, "13800000009", "王女士", hotline=hotline, address=address).id


@pytest.fixture
def refused(sessions: sessionmaker[Session], geo: GeoReportReceiver) -> dict[str, int]:
    """A collaborative case, and a 12358 (exchange) case the receiver refused with 400 location required."""
    with sessions() as s, s.begin():
        agent_id = s.scalar(select(User.id).where(User.login == "1001"))
        agent = Actor(user_id=agent_id, login="1001", role=Role.AGENT)
        price = _create(s, agent, "12358", "超市标价与结算价不一致，多收 12 元", "某超市")
        other = _create(s, agent, "12345", "路灯不亮", "天山区解放北路 88 号")  # newer, but listed after it
    geo.plan = [LOCATION_REQUIRED]
    report = deliver_due(sessions, {"12358": geo.url}, timeout=5)
    assert report.refused == 1
    return {"other": other, "price": price}


async def test_supervisor_sees_the_refusal_and_forwards_the_case_again(
    work_desks: Open,
    refused: dict[str, int],
    geo: GeoReportReceiver,
    qtbot: QtBot,
    shot: Any,
    sessions: sessionmaker[Session],
) -> None:
    sup = await work_desks("sup")
    model = sup.work.model
    # the refused case is listed first, marked, in red, with the receiver's words on its status
    assert model.cases[0]["id"] == refused["price"]
    assert model.cases[0]["status"] == "returned"
    assert model.cases[0]["exchange_refusal"] == "HTTP 400: 400 location required"
    status = model.index(0, WorkTableModel.STATUS)
    assert status.data() == "⚠ 对方系统拒收 · 已退回"
    assert "location required" in status.data(Qt.ItemDataRole.ToolTipRole)
    assert status.data(Qt.ItemDataRole.ForegroundRole) == WorkTableModel.OVERDUE_COLOUR
    other_row = model.row_of(refused["other"])
    assert other_row is not None and "拒收" not in model.index(other_row, WorkTableModel.STATUS).data()

    sup.work.table.selectRow(0)
    await until(lambda: sup.work.case is not None and sup.work.case["id"] == refused["price"])
    text = sup.work.detail.toPlainText()
    assert "对方系统拒收，案卷已退回中心：HTTP 400: 400 location required" in text
    assert "重新转交" in text
    shown = {a for a, b in sup.work.buttons.items() if b.isVisibleTo(sup.work)}
    assert shown == {"forward", "resolve_directly"}
    assert sup.work.buttons["forward"].text() == "重新转交"
    shot(sup, "40_exchange_refused_zh")

    sup.toggle_language()
    assert model.index(0, WorkTableModel.STATUS).data() == "⚠ Refused by receiver · Returned"
    assert "Refused by the hotline's own system" in sup.work.detail.toPlainText()
    assert sup.work.buttons["forward"].text() == "Forward again"
    shot(sup, "41_exchange_refused_en")

    # the supervisor gives the full address and forwards it again: a new request, accepted this time
    sup.work.note.setFocus()
    type_text(sup.work.note, "某区某路 8 号 某超市")
    before = sup.work.case
    qtbot.mouseClick(sup.work.buttons["forward"], Qt.MouseButton.LeftButton)
    await until(lambda: sup.work.case is not before and sup.work.case["status"] == "exchanged")
    assert sup.work.case["exchange_refusal"] is None and sup.work.case["address"] == "某区某路 8 号 某超市"

    def listed() -> dict[str, Any]:
        row = model.row_of(refused["price"])
        assert row is not None
        return dict(model.cases[row])

    await until(lambda: listed()["status"] == "exchanged")  # the list is refreshed after the reply
    assert "Refused" not in model.index(model.row_of(refused["price"]) or 0, WorkTableModel.STATUS).data()
    assert deliver_due(sessions, {"12358": geo.url}, timeout=5).delivered == 1
    with sessions() as s:
        case = s.get(Case, refused["price"])
        assert case is not None and case.status == "exchanged" and case.external_id == "SR-2"
        statuses = s.scalars(select(ExchangeMessage.status).order_by(ExchangeMessage.id)).all()
        assert statuses == [OutboxStatus.REFUSED, OutboxStatus.DELIVERED]
    assert geo.posts[1]["address_string"] == "某区某路 8 号 某超市"


async def test_supervisors_are_told_when_the_runner_meets_a_refusal(
    work_desks: Open,
    refused: dict[str, int],
    geo: GeoReportReceiver,
    server: LinkServer,
    sessions: sessionmaker[Session],
) -> None:
    sup = await work_desks("sup")
    agent = await work_desks("1001")
    with sessions() as s, s.begin():
        agent_id = s.scalar(select(User.id).where(User.login == "1001"))
        late = _create(s, Actor(user_id=agent_id, login="1001", role=Role.AGENT), "12358", "加油站多收费", "某加油站")
    geo.plan = [(403, [{"code": 403, "description": "api_key invalid"}], {})]
    runner = CaseRunner(sessions, {"12358": geo.url})
    report = await runner.run_pass()  # as the server's periodic pass does
    assert report.refused == 1
    await until(lambda: "被对方系统拒收" in sup.statusBar().currentMessage())
    with sessions() as s:
        number = s.scalar(select(Case.number).where(Case.id == late))
    assert sup.statusBar().currentMessage() == (
        f"⚠ 案卷 {number} 被对方系统拒收（403 api_key invalid），已退回中心待办"
    )
    await until(lambda: sup.work.model.row_of(late) is not None)  # the list was refreshed on the alert
    assert sup.work.model.cases[0]["exchange_refusal"] is not None
    # the audience is the supervisors: the agent's desktop gets nothing
    (told,) = [e for e in report.events if isinstance(e, ExchangeRefused)]
    assert server.cases.on_case_event(told) == 1
    assert "拒收" not in agent.statusBar().currentMessage()


async def test_supervisors_are_told_when_a_case_keeps_failing_to_get_through(
    work_desks: Open,
    refused: dict[str, int],
    geo: GeoReportReceiver,
    server: LinkServer,
    sessions: sessionmaker[Session],
    shot: Any,
) -> None:
    sup = await work_desks("sup")
    agent = await work_desks("1001")
    runner = CaseRunner(sessions, {"12358": geo.url})

    async def stall(request: str) -> str:
        with sessions() as s, s.begin():
            agent_id = s.scalar(select(User.id).where(User.login == "1001"))
            case_id = _create(s, Actor(user_id=agent_id, login="1001", role=Role.AGENT), "12358", request, "某加油站")
            # it has failed all but once already (the receiver down for a while)
            msg = s.scalars(select(ExchangeMessage).where(ExchangeMessage.case_id == case_id)).one()
            msg.attempts = STALL_ATTEMPTS - 1
            number = s.scalar(select(Case.number).where(Case.id == case_id))
        geo.plan = [(503, b"maintenance", {})]
        assert (await runner.run_pass()).failed == 1
        assert number is not None
        return number

    number = await stall("加油站多收费")
    await until(lambda: "未能送达" in sup.statusBar().currentMessage())
    assert sup.statusBar().currentMessage() == (
        f"⚠ 案卷 {number} 已连续 {STALL_ATTEMPTS} 次未能送达对方系统（HTTP 503: 503 maintenance），仍在重试"
    )
    assert "未能送达" not in agent.statusBar().currentMessage()  # the audience is the supervisors
    # the work list is reloaded on the alert: the case is marked in red, the last error on its status and in
    # its detail, as long as it does not get through
    model = sup.work.model

    def row_of(case_number: str) -> int | None:
        return next((i for i, c in enumerate(model.cases) if c["number"] == case_number), None)

    await until(lambda: (row := row_of(number)) is not None and model.cases[row].get("exchange_stalled") is not None)
    row = row_of(number)
    assert row is not None and model.cases[row]["exchange_stalled"] == "HTTP 503: 503 maintenance"
    status = model.index(row, WorkTableModel.STATUS)
    assert status.data() == "⚠ 未送达对方系统 · 已转外部系统"
    assert "仍在自动重试：HTTP 503: 503 maintenance" in status.data(Qt.ItemDataRole.ToolTipRole)
    assert status.data(Qt.ItemDataRole.ForegroundRole) == WorkTableModel.OVERDUE_COLOUR
    sup.work.table.selectRow(row)
    await until(lambda: sup.work.case is not None and sup.work.case["number"] == number)
    assert "案卷多次未能送达对方系统，仍在自动重试：HTTP 503: 503 maintenance" in sup.work.detail.toPlainText()
    shot(sup, "44_exchange_stalled_zh")
    sup.toggle_language()
    assert model.index(row, WorkTableModel.STATUS).data() == "⚠ Not reaching receiver · Exchanged"
    assert "keeps failing to reach the hotline's own system" in sup.work.detail.toPlainText()
    number = await stall("加油站又多收费")
    await until(lambda: number in sup.statusBar().currentMessage())
    assert sup.statusBar().currentMessage() == (
        f"⚠ Case {number} has not reached the hotline's own system in {STALL_ATTEMPTS} tries"
        " (HTTP 503: 503 maintenance); still retrying"
    )
    shot(sup, "45_exchange_stalled_en")
    # delivered at last: the mark is gone (the list is reloaded after the alert's status bar message)
    await until(lambda: row_of(number) is not None)
    first = row_of(number)
    geo.plan = []
    with sessions() as s, s.begin():
        for msg in s.scalars(select(ExchangeMessage).where(ExchangeMessage.status == OutboxStatus.PENDING)):
            msg.next_attempt_at = msg.created_at
    assert (await runner.run_pass()).delivered == 2
    await sup.work.refresh_work()
    assert first is not None and all(c.get("exchange_stalled") is None for c in model.cases)


async def test_intake_refused_for_a_missing_location_names_the_field(
    work_desks: Open, refused: dict[str, int], sessions: sessionmaker[Session], qtbot: QtBot, shot: Any
) -> None:
    agent = await work_desks("1001")
    agent.tabs.setCurrentIndex(0)
    form = agent.call_tab.form
    form.hotline.setCurrentIndex(form.hotline.findData("12358"))
    type_text(form.request, "超市多收费")
    assert form.values()["address"] is None
    qtbot.mouseClick(form.save, Qt.MouseButton.LeftButton)
    await until(lambda: form.error.text() == "对方系统要求填写：地址")
    assert form.request.toPlainText() == "超市多收费"  # the agent's text is kept for the correction
    shot(agent, "42_exchange_intake_refused_zh")
    agent.toggle_language()
    qtbot.mouseClick(form.save, Qt.MouseButton.LeftButton)
    await until(lambda: form.error.text() == "The hotline's own system requires: Address")
    shot(agent, "43_exchange_intake_refused_en")
    assert agent.link is not None
    with pytest.raises(LinkError) as err:
        await agent.link.request(
            Msg.CREATE_CASE, hotline="12358", request="多收费", urgency="normal", language="zh", handling="dispatch"
        )
    assert err.value.error_id == "case_exchange_requires" and err.value.detail["field"] == "address"
    assert Tr("zh").error(err.value.error_id, err.value.message, err.value.detail) == "对方系统要求填写：地址"
    assert (
        Tr("en").error(err.value.error_id, err.value.message, err.value.detail)
        == "The hotline's own system requires: Address"
    )
    attribute = {"field": "attribute:district", "requirement": "所在区"}
    assert Tr("zh").error("case_exchange_requires", "", attribute) == "对方系统要求填写：district（所在区）"
    with sessions() as s:
        assert s.scalar(select(Case.id).where(Case.request.in_(["多收费", "超市多收费"]))) is None
