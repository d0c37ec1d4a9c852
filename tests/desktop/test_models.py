"""Models, the state view, the draft store and the translations, without any widget."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QModelIndex, Qt

from ari_app.protocol import (
    FOLLOW_UP_CHANNELS,
    HANDLINGS,
    LANGUAGES,
    PAUSE_REASONS,
    RATING_LABELS,
    RATINGS,
    URGENCIES,
    AgentState,
    CaseSummary,
    ErrorId,
)
from cti_desktop.attachments import AttachmentTableModel
from cti_desktop.drafts import DraftStore, default_path
from cti_desktop.follow_ups_tab import FollowUpDueModel
from cti_desktop.i18n import LANGS, TEXT, Tr, size_text
from cti_desktop.models import AgentStatusView, CaseIdRole, CaseRole, CaseTableModel
from cti_desktop.qa_view import CallIdRole, QaCallTableModel


def case(i: int, **kw: object) -> CaseSummary:
    base: dict[str, object] = dict(
        id=i,
        number=f"12319-20261129-{i:04d}",
        hotline="12319",
        status="received",
        created_at="2026-11-29T01:00:00+00:00",
        category="供水",
        request="小区停水" * (20 if i == 2 else 1),
        address="新华北路 1 号",
        urgency="urgent",
        handling="dispatch",
        caller="13800000001",
        citizen_name="王先生",
        contact="13800000001",
        call_id="c1",
        created_by="1001",
    )
    base.update(kw)
    return CaseSummary(**base)  # type: ignore[typeddict-item]


def test_case_model_columns_and_roles(qapp: object) -> None:
    tr = Tr("zh")
    m = CaseTableModel(tr)
    assert m.rowCount() == 0
    m.set_rows([case(1), case(2, category=None, caller=None)])
    assert (m.rowCount(), m.columnCount()) == (2, 7)
    assert m.rowCount(m.index(0, 0)) == 0
    d = lambda r, c, role=Qt.ItemDataRole.DisplayRole: m.data(m.index(r, c), role)  # noqa: E731
    assert d(0, CaseTableModel.NUMBER) == "12319-20261129-0001"
    assert d(0, CaseTableModel.STATUS) == "已受理"
    assert d(0, CaseTableModel.CATEGORY) == "供水"
    assert d(1, CaseTableModel.CATEGORY) == "" and d(1, CaseTableModel.CALLER) == ""
    assert d(1, CaseTableModel.REQUEST).endswith("…") and len(d(1, CaseTableModel.REQUEST)) == 60
    assert d(1, CaseTableModel.REQUEST, Qt.ItemDataRole.ToolTipRole) == "小区停水" * 20
    assert d(0, CaseTableModel.CREATED).startswith("2026-11-29")
    assert d(0, 0, CaseIdRole) == 1 and d(1, 0, CaseRole)["id"] == 2
    assert m.data(QModelIndex()) is None
    assert m.headerData(CaseTableModel.NUMBER, Qt.Orientation.Horizontal) == "案卷号"
    tr.lang = "en"
    assert m.headerData(CaseTableModel.NUMBER, Qt.Orientation.Horizontal) == "Number"
    assert d(0, CaseTableModel.STATUS) == "Received"
    assert d(0, CaseTableModel.STATUS) == "Received"
    assert m.data(m.index(0, CaseTableModel.STATUS), Qt.ItemDataRole.DecorationRole) is None


def test_a_row_model_finds_rows_by_key_and_redraws_only_what_changed(qapp: object) -> None:
    """The base every table shares (cti_desktop.table.RowTableModel), through the QA call list, whose rows
    are keyed by call id: a new score redraws that one cell, not the table."""
    m = QaCallTableModel(Tr("zh"))
    calls = [{"call_id": "1.1", "last_score": None}, {"call_id": "1.2", "last_score": 70}]
    m.set_rows(calls)
    assert (m.rowCount(), m.columnCount()) == (2, len(QaCallTableModel.HEADERS))
    assert m.rowCount(m.index(0, 0)) == 0  # a table: no row has children
    assert m.row_of("1.2") == 1 and m.row_of("9.9") is None
    assert m.index(1, 0).data(CallIdRole) == "1.2" and m.index(1, 0).data(CaseRole) == calls[1]
    changed: list[tuple[int, int, int, int]] = []
    m.dataChanged.connect(lambda a, b, _roles=None: changed.append((a.row(), a.column(), b.row(), b.column())))
    m.set_score("1.2", 95)
    assert changed == [(1, QaCallTableModel.SCORE, 1, QaCallTableModel.SCORE)]
    assert m.index(1, QaCallTableModel.SCORE).data() == "95"
    m.set_score("9.9", 10)  # not listed: nothing to redraw
    assert len(changed) == 1
    assert m.data(m.index(5, 0)) is None


def test_agent_status_view_counts_down_wrapup_on_a_monotonic_clock() -> None:
    now = [100.0]
    v = AgentStatusView(Tr("zh"), monotonic=lambda: now[0])
    assert v.state is AgentState.SIGNED_OUT and v.can_ready
    v.update({"state": "wrapup", "reason": "wrapup", "wrapup_remaining": 10.0})
    assert v.label() == "话后整理 剩余 10 秒"
    now[0] += 4
    assert v.wrapup_remaining() == 6
    now[0] += 60
    assert v.wrapup_remaining() == 0
    v.update({"state": "paused", "reason": "meal", "wrapup_remaining": None})
    assert v.label() == "小休（用餐）" and v.wrapup_remaining() is None
    v.tr.lang = "en"
    assert v.label() == "Paused (Meal)"
    v.update({"state": "on_call"})
    assert not v.can_ready and not v.can_pause
    v.update({"state": "nonsense"})
    assert v.state is AgentState.SIGNED_OUT


def test_every_text_has_both_languages_and_every_value_a_label() -> None:
    assert all(len(pair) == len(LANGS) and all(pair) for pair in TEXT.values())
    for prefix, values in (
        ("urgency", URGENCIES),
        ("handling", HANDLINGS),
        ("lang", LANGUAGES),
        ("reason", PAUSE_REASONS),
        ("state", tuple(AgentState)),
        ("rating", RATINGS),
        ("channel", FOLLOW_UP_CHANNELS),
    ):
        for v in values:
            assert f"{prefix}_{v}" in TEXT
    tr = Tr("xx")
    assert tr.lang == "zh"
    assert tr.error("bad_credentials", "x") == "工号或密码错误"
    assert tr.error("something_new", "boom") == "操作失败：boom"
    assert [tr.maybe("rating", r) for r in RATINGS] == [RATING_LABELS[r] for r in RATINGS]  # the server's words
    en = Tr("en")
    assert [en.maybe("rating", r) for r in RATINGS] == [
        "Very satisfied",
        "Satisfied",
        "Basically satisfied",
        "Unsatisfied",
        "Very unsatisfied",
    ]


def test_every_error_id_the_server_has_is_said_in_both_languages() -> None:
    """A refusal never reaches the person as the server's English message in a Chinese window: every
    `ErrorId` (docs/protocol.md, "Error ids") has its own text, in Chinese and in English."""
    detail = {"field": "address", "mime": "text/html", "size": 2048, "limit": 1024}
    for lang, other in (("zh", "操作失败：the server's words"), ("en", "Failed: the server's words")):
        tr = Tr(lang)
        for error_id in ErrorId:
            said = tr.error(error_id.value, "the server's words", detail)
            assert said != other and said != f"err_{error_id.value}", (lang, error_id)
            assert "{" not in said, (lang, error_id, said)


def test_attachment_refusals_say_what_the_server_found() -> None:
    tr = Tr("zh")
    refused = tr.error("attachment_type_refused", "x", {"mime": "text/html", "allowed": ["image/png"]})
    assert refused == "文件类型不允许：内容实际是 text/html（只接受照片、录音和 PDF，与文件名无关）"
    large = Tr("en").error("attachment_too_large", "x", {"scope": "file", "size": 11 * 1024 * 1024, "limit": 10485760})
    assert large == "File too large: 11.0 MB, the limit is 10.0 MB"
    assert [size_text(n) for n in (0, 1023, 1024, 46080, 5 * 1024 * 1024)] == [
        "0 B",
        "1023 B",
        "1.0 KB",
        "45.0 KB",
        "5.0 MB",
    ]


def test_follow_up_due_rows_and_attachment_rows(qapp: object) -> None:
    """Due times in the centre's zone, overdue ones marked and red; an attachment says whose result it is
    and a removed one is grey with when it went."""
    from zoneinfo import ZoneInfo

    tr = Tr("zh", ZoneInfo("Asia/Shanghai"))
    m = FollowUpDueModel(tr)
    rows = [
        case(1, follow_up_due_at="2026-11-30T09:30:00+00:00", follow_up_overdue=True, follow_up_rating=None),
        case(2, follow_up_due_at="2026-12-03T09:30:00+00:00", follow_up_overdue=False, follow_up_rating="unsatisfied"),
    ]
    m.set_rows(rows)  # type: ignore[arg-type]
    assert m.data(m.index(0, m.DUE)) == "⚠ 超期 2026-11-30 17:30"
    assert m.data(m.index(1, m.DUE)) == "2026-12-03 17:30"
    assert m.data(m.index(0, m.NUMBER), Qt.ItemDataRole.ForegroundRole) == m.OVERDUE_COLOUR
    assert m.data(m.index(1, m.NUMBER), Qt.ItemDataRole.ForegroundRole) is None
    assert [m.data(m.index(r, m.RATING)) for r in (0, 1)] == ["—", "不满意"]
    tr.lang = "en"
    assert m.data(m.index(0, m.DUE)) == "⚠ Overdue 2026-11-30 17:30"

    a = AttachmentTableModel(tr)
    a.units = {7: "市供水公司"}
    base = {"filename": "x.jpg", "mime": "image/jpeg", "size": 2048, "uploaded_by": "water"}
    a.set_rows(
        [
            {**base, "token": "t1", "dispatch_id": 7, "uploaded_at": "2026-11-30T01:00:00+00:00", "removed_at": None},
            {
                **base,
                "token": "t2",
                "dispatch_id": None,
                "uploaded_at": "2026-11-30T01:00:00+00:00",
                "removed_at": "2026-12-01T00:00:00+00:00",
            },
        ]
    )
    assert [a.data(a.index(r, a.ON)) for r in (0, 1)] == ["市供水公司's result", "The case"]
    assert a.data(a.index(0, a.SIZE)) == "2.0 KB" and a.data(a.index(0, a.AT)) == "2026-11-30 09:00"
    assert a.data(a.index(1, a.NAME), Qt.ItemDataRole.ForegroundRole) == Qt.GlobalColor.gray
    assert (
        a.data(a.index(1, a.NAME), Qt.ItemDataRole.ToolTipRole)
        == "The file was removed by retention at 2026-12-01 08:00"
    )


def test_draft_store_round_trip_and_atomic_replace(tmp_path: Path) -> None:
    store = DraftStore(tmp_path / "sub" / "draft.json")
    assert store.load() is None
    store.save({"fields": {"request": "路灯不亮"}})
    assert store.load() == {"fields": {"request": "路灯不亮"}}
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["draft.json"]
    (tmp_path / "sub" / "draft.json").write_text("{half")
    assert store.load() is None
    store.clear()
    store.clear()
    assert store.load() is None


def test_default_draft_path_can_be_overridden(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOTLINE_DESKTOP_DRAFT", str(tmp_path / "d.json"))
    assert default_path() == tmp_path / "d.json"
    monkeypatch.delenv("HOTLINE_DESKTOP_DRAFT")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert default_path() == tmp_path / "hotline-desktop" / "draft.json"


def test_times_show_in_the_centres_zone_not_the_machines(qapp: object, monkeypatch: pytest.MonkeyPatch) -> None:
    """A case taken at 16:30 UTC is 00:30 the next day at an Urumqi centre on Beijing time: its number carries
    that day, and so must every time the agent reads, whatever zone the PC itself is set to."""
    import time
    from zoneinfo import ZoneInfo

    monkeypatch.setenv("TZ", "UTC")  # the machine's own zone, as on the reported PC
    time.tzset()
    try:
        tr = Tr("zh", ZoneInfo("Asia/Shanghai"))
        m = CaseTableModel(tr)
        stamp = "2026-11-29T16:30:00+00:00"
        m.set_rows([case(1, created_at=stamp, deadline_at=stamp)])
        assert m.data(m.index(0, CaseTableModel.CREATED)) == "2026-11-30 00:30"
        assert tr.when(stamp, seconds=True) == "2026-11-30 00:30:00"
        assert Tr("zh").when(stamp) == "2026-11-29 16:30"  # no zone given: the machine's
        assert tr.when(None) == "" and tr.when("soon") == "soon"
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
