"""The transfer controls (TransferBar) without a server: usable only on a connected call, the requests they
emit, complete / cancel only while an attended transfer is under way, and the states in both languages."""

from __future__ import annotations

from typing import Any

from pytestqt.qtbot import QtBot

from cti_desktop.i18n import Tr
from cti_desktop.transfer import TransferBar, transfer_note


def test_transfer_bar(qtbot: QtBot, shot: Any) -> None:
    bar = TransferBar(Tr("zh"))
    qtbot.addWidget(bar)
    bar.resize(720, 70)
    bar.set_call_phase("ringing")
    assert not bar.blind.isEnabled() and not bar.target.isEnabled() and not bar.complete.isEnabled()
    bar.set_call_phase("connected")
    assert bar.blind.isEnabled() and bar.attended.isEnabled()
    assert not bar.complete.isEnabled() and not bar.cancel.isEnabled()
    assert bar.kind.currentText() == "转坐席"
    qtbot.keyClicks(bar.target, "1002")
    with qtbot.waitSignal(bar.action_requested, timeout=1000) as sent:
        bar.blind.click()
    assert sent.args == ["blind", "agent", "1002"]

    bar.kind.setCurrentIndex(bar.kind.findData("number"))
    bar.target.setText("09915550123")
    with qtbot.waitSignal(bar.action_requested, timeout=1000) as sent:
        bar.attended.click()
    assert sent.args == ["attended", "number", "09915550123"]
    transfer = {"id": 1, "kind": "attended", "state": "ringing", "from_agent": "1001", "target_number": "09915550123"}
    bar.show_transfer(transfer)
    assert bar.state.text() == "正在呼叫 09915550123…"
    assert not bar.blind.isEnabled() and not bar.complete.isEnabled() and bar.cancel.isEnabled()
    bar.show_transfer({**transfer, "state": "answered"})
    assert bar.complete.isEnabled() and bar.cancel.isEnabled()
    assert bar.state.text() == "09915550123 已接听：可完成或取消转接"
    shot(bar, "09_transfer_bar_attended")
    with qtbot.waitSignal(bar.action_requested, timeout=1000) as sent:
        bar.complete.click()
    assert sent.args == ["complete", "", ""]
    bar.show_transfer({**transfer, "state": "cancelled"})
    assert bar.blind.isEnabled() and not bar.cancel.isEnabled()  # the citizen is back: may try again
    bar.tr_ = Tr("en")
    bar.retranslate()
    assert bar.complete.text() == "Complete" and bar.state.text().startswith("Transfer cancelled")
    bar.set_call_phase("")
    assert bar.state.text() == "" and not bar.blind.isEnabled()


def test_transfer_note_says_from_whom_and_which_cases() -> None:
    call = {"call_id": "1.1", "transfer": {"kind": "blind", "state": "ringing", "from_agent": "1001"}}
    cases = [{"id": 3, "number": "12319-20261129-0001"}]
    assert transfer_note(Tr("zh"), call, cases) == (
        "由坐席 1001 直接转接而来\n本通话已受理案卷：12319-20261129-0001（请继续办理）"
    )
    assert transfer_note(Tr("en"), call, []) == "Blind transfer from agent 1001"
    assert transfer_note(Tr("zh"), {"call_id": "1.1"}, cases) == ""


def test_case_detail_lists_the_calls_transfers_and_conference(qtbot: QtBot, shot: Any) -> None:
    from cti_desktop.work_tab import CaseWorkPanel

    async def no_link(kind: str, **fields: Any) -> dict[str, Any]:
        raise AssertionError(f"the detail pane sent {kind}")

    panel = CaseWorkPanel(Tr("zh"), lambda coro: coro.close(), no_link)
    qtbot.addWidget(panel)
    panel.resize(900, 560)
    case = {
        "id": 1,
        "number": "12319-20261129-0001",
        "status": "received",
        "hotline": "12319",
        "request": "小区停水三天",
        "allowed_actions": [],
        "transfers": [
            {
                "kind": "blind",
                "state": "completed",
                "from_agent": "1001",
                "target_agent": "1002",
                "target_number": None,
                "started_at": "2026-11-29T09:05:00+00:00",
            }
        ],
        "conference": [
            {"role": "citizen", "number": "13800000001", "joined_at": "2026-11-29T09:01:00+00:00", "left_at": None},
            {
                "role": "unit",
                "number": "09915550123",
                "joined_at": "2026-11-29T09:01:10+00:00",
                "left_at": "2026-11-29T09:03:00+00:00",
            },
        ],
    }
    panel.show_case(case)
    text = panel.detail.toPlainText()
    assert "直接转接：坐席 1001 → 坐席 1002 · 已完成" in text
    assert "三方通话：市民 13800000001" in text and "三方通话：协同单位 09915550123" in text
    shot(panel, "12_case_detail_transfer_conference")
    panel.tr_ = Tr("en")
    panel.show_case(case)
    assert "Blind transfer: agent 1001 → Agent 1002 · completed" in panel.detail.toPlainText()
