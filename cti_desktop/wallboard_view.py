"""The supervisor's wallboard (班长监控): what the server pushes as `wallboard` messages, shown live.

Tiles per hotline and for the whole queue (waiting, longest wait, service level coloured against the
target, answered / abandoned, average wait and talk), the agents with their state, reason and for how long,
a health banner when Asterisk is degraded or down, the latest alarms (the recordings disk low or full, a
call whose recording failed: `alarm` pushes and the snapshot's `alarms`), and a chart of calls per 15
minutes by hotline for today. The view never asks the server for anything: `set_board` takes each pushed
snapshot, and a local one-second timer lets waits and durations count on between pushes. Actions on the
selected agent (pause with a reason, resume, listen, whisper, barge) are `supervise_agent` requests; the
tab subscribes (`wallboard_subscribe`) on every sign-in, a resume included, as the server forgot the old
socket.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

from PySide6.QtCore import QRectF, Qt, QTimer
from PySide6.QtGui import QColor, QFont, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ari_app.protocol import PAUSE_REASONS, SUPERVISOR_ROLES, AgentState, Msg
from cti_desktop.i18n import Tr
from cti_desktop.link import LinkError
from cti_desktop.models import STATE_COLOURS
from cti_desktop.qtutil import hbox, named, pane, refill
from cti_desktop.tab import Request, Spawn, Tab
from cti_desktop.table import Row, RowTableModel, table_view

HOTLINE_COLOURS = ("#1565c0", "#2e7d32", "#ef6c00", "#6a1b9a", "#00838f", "#c62828", "#5d4037", "#546e7a")
ALARM_COLOURS = {"critical": "#b00020", "warning": "#e65100", "info": "#2e7d32"}
ALARMS_SHOWN = 4
"""The newest alarms the banner shows."""


def size_text(n: Any) -> str:
    """Bytes as `1.5 GiB` (binary units); "?" when unknown."""
    if not isinstance(n, (int, float)):
        return "?"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


HEALTH_STYLE = {
    "degraded": "background: #f9a825; color: #212121;",
    "down": "background: #b00020; color: white;",
    "unknown": "background: #757575; color: white;",
}


def clock_text(seconds: float | None) -> str:
    """`m:ss`, or `h:mm:ss` from an hour on."""
    if seconds is None:
        return "-"
    s = max(0, int(seconds))
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def level_colour(level: float | None, target: float) -> str:
    """Green at or above the target, amber within 10 points under it, red below that; grey with no calls."""
    if level is None:
        return "#757575"
    if level >= target:
        return "#2e7d32"
    return "#f9a825" if level >= target - 10 else "#c62828"


class HotlineTile(QFrame):
    """One hotline's (or the whole queue's) figures."""

    def __init__(self, tr: Tr, number: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tr_ = tr
        self.number = number
        self.setObjectName(f"tile_{number}")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setStyleSheet("HotlineTile { background: #fafafa; border: 1px solid #cfd8dc; border-radius: 6px; }")
        self.title = QLabel()
        self.title.setStyleSheet("font-weight: bold; font-size: 14px;")
        self.title.setWordWrap(True)
        self.title.setMinimumWidth(1)
        self.waiting = named(QLabel(), "waiting")
        self.waiting.setStyleSheet("font-size: 30px; font-weight: bold;")
        self.waiting_caption = QLabel()
        self.level = named(QLabel(), "level")
        self.level.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.level.setMinimumWidth(84)
        self.lines = named(QLabel(), "lines")
        self.lines.setStyleSheet("color: #37474f;")
        grid = QGridLayout(self)
        grid.setContentsMargins(10, 6, 10, 6)
        grid.addWidget(self.title, 0, 0, 1, 2)
        grid.addWidget(self.waiting, 1, 0)
        grid.addWidget(self.level, 1, 1)
        grid.addWidget(self.waiting_caption, 2, 0, 1, 2)
        grid.addWidget(self.lines, 3, 0, 1, 2)
        self.figures: dict[str, Any] = {}
        self.target = 80.0
        self.threshold = 15

    def show_figures(self, figures: dict[str, Any], name: str, target: float, threshold: int, extra: float) -> None:
        self.figures, self.target, self.threshold = figures, target, threshold
        self.title.setText(name)
        self.refresh(extra)

    def refresh(self, extra: float = 0.0) -> None:
        """Show the figures again. `extra`: seconds since the snapshot, so the longest wait counts on between
        pushes. (Not named `render`: that is QWidget's own method, which paints the widget into a device.)"""
        f, t = self.figures, self.tr_
        if not f:
            return
        waiting = int(f.get("waiting") or 0)
        longest = (f.get("longest_wait_seconds") or 0) + (extra if waiting else 0)
        self.waiting.setText(str(waiting))
        self.waiting.setStyleSheet(
            f"font-size: 30px; font-weight: bold; color: {'#c62828' if longest > self.threshold else '#263238'};"
        )
        self.waiting_caption.setText(t("wb_waiting_longest", longest=clock_text(longest if waiting else None)))
        level = f.get("service_level")
        self.level.setText(f"{t('wb_service_level')}\n{'-' if level is None else f'{level:.1f}%'}")
        self.level.setStyleSheet(
            f"background: {level_colour(level, self.target)}; color: white; font-weight: bold; "
            "border-radius: 4px; padding: 4px;"
        )
        self.level.setToolTip(t("wb_level_tip", seconds=self.threshold, target=f"{self.target:g}"))
        self.lines.setText(
            t(
                "wb_tile_lines",
                answered=f.get("answered", 0),
                abandoned=f.get("abandoned", 0),
                talking=f.get("talking", 0),
                wait=clock_text(f.get("average_wait")),
                talk=clock_text(f.get("average_talk")),
            )
        )


class AgentBoardModel(RowTableModel):
    """The agents of a snapshot as rows. `extra` seconds are added to each state's duration when shown."""

    ID, NAME, STATE, REASON, DURATION, CALL, ANSWERED, AVG_TALK = range(8)
    HEADERS: tuple[str, ...] = ("wb_col_id", "wb_col_name", "wb_col_state", "wb_col_reason", "wb_col_for")
    HEADERS += ("wb_col_call", "wb_col_answered", "wb_col_avg_talk")
    FIELDS: ClassVar[dict[int, str]] = {ID: "id", NAME: "name"}

    def __init__(self, tr: Tr, parent: Any = None) -> None:
        super().__init__(tr, parent)
        self.extra = 0.0

    @property
    def agents(self) -> list[Row]:
        return self.rows

    def set_rows(self, rows: list[Row]) -> None:
        self.extra = 0.0
        super().set_rows(rows)

    def tick(self, extra: float) -> None:
        self.extra = extra
        self.column_changed(self.DURATION)

    def cell(self, a: Row, col: int, role: int) -> Any:
        if role == Qt.ItemDataRole.DisplayRole:
            if col == self.STATE:
                return self.tr_.maybe("state", a.get("state"))
            if col == self.REASON:
                if a.get("pause_after") is not None:  # a pause waiting for the end of the call
                    return self.tr_("pause_after_call", reason=self.tr_.maybe("reason", a["pause_after"]))
                return self.tr_.maybe("reason", a.get("reason")) if a.get("state") == "paused" else ""
            if col == self.DURATION:
                return clock_text((a.get("state_seconds") or 0) + self.extra)
            if col == self.CALL:
                call = a.get("call")
                return f"{call.get('hotline') or ''}  {call.get('caller') or ''}".strip() if call else ""
            if col == self.ANSWERED:
                return a.get("answered", 0)
            if col == self.AVG_TALK:
                return clock_text(a.get("average_talk"))
        if role == Qt.ItemDataRole.BackgroundRole and col == self.STATE:
            return QColor(STATE_COLOURS.get(a.get("state", ""), "#9e9e9e"))
        if role == Qt.ItemDataRole.ForegroundRole and col == self.STATE:
            return QColor("white")
        if role == Qt.ItemDataRole.TextAlignmentRole and col in (self.DURATION, self.ANSWERED, self.AVG_TALK):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


class CallsChart(QWidget):
    """Calls per 15 minutes today, stacked by hotline (QPainter: PySide6-Essentials has no QtCharts)."""

    def __init__(self, tr: Tr, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tr_ = tr
        self.setObjectName("callsChart")
        self.setMinimumHeight(200)
        self.intervals: dict[str, list[int]] = {}
        self.order: list[str] = []
        self.now_slot: int | None = None

    def set_data(self, intervals: dict[str, list[int]], order: list[str], now_slot: int | None) -> None:
        self.intervals = {h: list(v) for h, v in intervals.items()}
        self.order = [h for h in order if h in self.intervals] + [h for h in self.intervals if h not in order]
        self.now_slot = now_slot
        self.update()

    def colour(self, hotline: str) -> QColor:
        known = self.order or sorted(self.intervals)
        i = known.index(hotline) if hotline in known else len(known)
        return QColor(HOTLINE_COLOURS[i % len(HOTLINE_COLOURS)])

    def paintEvent(self, _event: QPaintEvent) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        p.fillRect(self.rect(), QColor("white"))
        left, right, top, bottom = 44, 12, 28, 24
        w, h = self.width() - left - right, self.height() - top - bottom
        if w <= 0 or h <= 0:
            return
        totals = [sum(v[i] for v in self.intervals.values() if i < len(v)) for i in range(96)]
        peak = max([*totals, 1])
        step = max(1, _nice_step(peak))
        top_value = ((peak + step - 1) // step) * step
        font = QFont(p.font())
        font.setPointSize(8)
        p.setFont(font)
        p.setPen(QPen(QColor("#cfd8dc")))
        for v in range(0, top_value + 1, step):
            y = top + h - h * v / top_value
            p.drawLine(left, int(y), left + w, int(y))
            p.setPen(QColor("#546e7a"))
            p.drawText(
                QRectF(0, y - 8, left - 6, 16), int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter), str(v)
            )
            p.setPen(QPen(QColor("#cfd8dc")))
        slot_w = w / 96
        for i in range(96):
            base = 0
            for hotline in self.order:
                n = self.intervals[hotline][i] if i < len(self.intervals[hotline]) else 0
                if not n:
                    continue
                y0 = top + h - h * base / top_value
                y1 = top + h - h * (base + n) / top_value
                p.fillRect(QRectF(left + i * slot_w + 0.5, y1, max(1.0, slot_w - 1.0), y0 - y1), self.colour(hotline))
                base += n
        if self.now_slot is not None:
            x = left + (self.now_slot + 1) * slot_w
            p.setPen(QPen(QColor("#c62828"), 1, Qt.PenStyle.DashLine))
            p.drawLine(int(x), top, int(x), top + h)
        p.setPen(QColor("#546e7a"))
        for hour in range(0, 25, 2):
            x = left + hour * 4 * slot_w
            p.drawLine(int(x), top + h, int(x), top + h + 3)
            box = QRectF(min(x - 20, self.width() - 41), top + h + 4, 40, 16)  # 24:00 kept inside the widget
            p.drawText(box, int(Qt.AlignmentFlag.AlignCenter), f"{hour:02d}:00")
        title = QFont(font)
        title.setBold(True)
        title.setPointSize(9)
        p.setFont(title)
        p.setPen(QColor("#263238"))
        p.drawText(
            QRectF(left, 4, w / 2, 20),
            int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter),
            self.tr_("wb_chart_title"),
        )
        p.setFont(font)
        x = left + w
        for hotline in reversed(self.order):
            label = f"{hotline}  {sum(self.intervals[hotline])}"
            tw = p.fontMetrics().horizontalAdvance(label)
            x -= tw + 22
            p.fillRect(QRectF(x, 9, 10, 10), self.colour(hotline))
            p.setPen(QColor("#263238"))
            p.drawText(
                QRectF(x + 14, 4, tw + 4, 20), int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter), label
            )
        p.end()


def _nice_step(peak: int) -> int:
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000):
        if peak / step <= 6:
            return step
    return max(1, peak // 5)


class WallboardView(Tab):
    """The supervisor's wallboard. `set_board(snapshot)` for every pushed `wallboard` message."""

    MESSAGES: ClassVar[frozenset[str]] = frozenset({Msg.WALLBOARD, Msg.ALARM})
    TITLE = "tab_wallboard"

    def __init__(self, tr: Tr, spawn: Spawn, request: Request) -> None:
        super().__init__(tr, spawn, request)
        self.setObjectName("wallboard")
        self.board: dict[str, Any] = {}
        self.received = time.monotonic()
        self.health = named(QLabel(), "healthBanner")
        self.health.setWordWrap(True)
        self.health.setVisible(False)
        self.alarms: list[dict[str, Any]] = []
        self.alarm_banner = named(QLabel(), "alarmBanner")
        self.alarm_banner.setWordWrap(True)
        self.alarm_banner.setTextFormat(Qt.TextFormat.RichText)
        self.alarm_banner.setStyleSheet("background: #fff8e1; border: 1px solid #ffb300; padding: 6px;")
        self.alarm_banner.setVisible(False)
        self.updated = named(QLabel(), "wallboardUpdated")
        self.updated.setStyleSheet("color: #546e7a;")
        self.tiles_row = QHBoxLayout()
        self.tiles: dict[str, HotlineTile] = {}
        self.states = named(QLabel(), "agentStates")
        self.model = AgentBoardModel(tr)
        self.table = table_view(self.model, "agentsTable", AgentBoardModel.CALL)
        self.table.verticalHeader().setDefaultSectionSize(24)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._enable_actions())
        self.chart = CallsChart(tr)
        self.reason = named(QComboBox(), "wbReason")
        texts = self.texts
        self.pause = texts.named(QPushButton(), "wbPause", "wb_pause")
        self.resume = texts.named(QPushButton(), "wbResume", "wb_resume")
        self.phone = texts.named(QLineEdit(), "wbPhone", "wb_phone_hint")
        self.phone.setMaximumWidth(150)
        self.listen = texts.named(QPushButton(), "wbListen", "wb_listen")
        self.whisper = texts.named(QPushButton(), "wbWhisper", "wb_whisper")
        self.barge = texts.named(QPushButton(), "wbBarge", "wb_barge")
        self.selected_label = named(QLabel(), "wbSelected")
        self.selected_label.setStyleSheet("font-weight: bold;")
        self.pause.clicked.connect(lambda: self._act("pause"))
        self.resume.clicked.connect(lambda: self._act("resume"))
        for button, mode in ((self.listen, "listen"), (self.whisper, "whisper"), (self.barge, "barge")):
            button.clicked.connect(lambda _=False, m=mode: self._act(m))
        top = hbox((self.states, 1), self.updated)
        actions = hbox(self.selected_label, self.reason, self.pause, self.resume)
        actions.addSpacing(24)
        actions.addWidget(self.phone)
        actions.addWidget(self.listen)
        actions.addWidget(self.whisper)
        actions.addWidget(self.barge)
        actions.addStretch(1)
        agents, agents_layout = pane()
        agents_layout.addLayout(top)
        agents_layout.addWidget(self.table, 1)
        agents_layout.addLayout(actions)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(agents)
        split.addWidget(self.chart)
        split.setSizes([420, 230])
        layout = QVBoxLayout(self)
        layout.addWidget(self.health)
        layout.addWidget(self.alarm_banner)
        layout.addLayout(self.tiles_row)
        layout.addWidget(split, 1)
        self.timer = QTimer(self)
        self.timer.setInterval(1000)
        self.timer.timeout.connect(self._tick)
        self.timer.start()
        self.retranslate()
        self._enable_actions()

    # --- the window's side ----------------------------------------------------------------------------
    @staticmethod
    def shown_to(agent: dict[str, Any]) -> bool:
        return agent.get("role") in SUPERVISOR_ROLES

    def signed_in(self, agent: dict[str, Any], hotlines: list[dict[str, Any]]) -> None:
        if self.shown_to(agent):
            self.spawn(self._subscribe())

    async def _subscribe(self) -> None:
        self.set_board(await self.request(Msg.WALLBOARD_SUBSCRIBE))

    def handle(self, msg: dict[str, Any]) -> None:
        if msg.get("type") == Msg.WALLBOARD:
            self.set_board(msg)
        else:
            self.add_alarm(msg)

    # --- language --------------------------------------------------------------------------------------
    def retranslate(self) -> None:
        t = self.tr_
        refill(self.reason, ((t(f"reason_{r}"), r) for r in PAUSE_REASONS))
        self.texts.say(t)
        self.model.retranslate()
        self._show_alarms()
        if self.board:
            self.set_board(self.board, keep_time=True)
        else:
            self.states.setText(t("wb_waiting_for_data"))
        self._enable_actions()
        self.chart.update()

    # --- data ------------------------------------------------------------------------------------------
    def set_board(self, board: dict[str, Any], keep_time: bool = False) -> None:
        t = self.tr_
        selected = self.selected_agent()
        self.board = board
        if not keep_time:
            self.received = time.monotonic()
        target = float(board.get("service_level_target") or 80)
        threshold = int(board.get("threshold_seconds") or 15)
        rows = [*board.get("hotlines", []), {**board.get("total", {}), "hotline": "all"}]
        wanted = [r["hotline"] for r in rows]
        if list(self.tiles) != wanted:
            for tile in self.tiles.values():
                self.tiles_row.removeWidget(tile)
                tile.deleteLater()
            self.tiles = {}
            for number in wanted:
                self.tiles[number] = HotlineTile(self.tr_, number)
                self.tiles_row.addWidget(self.tiles[number], 1)
        for r in rows:
            if r["hotline"] == "all":
                name = t("wb_all", queue=board.get("queue", ""))
            else:
                name = f"{r['hotline']} {r.get('name_zh' if t.lang == 'zh' else 'name_en', '')}"
            self.tiles[r["hotline"]].show_figures(r, name, target, threshold, self._extra())
        self.model.set_rows(board.get("agents", []))
        if selected:
            self.select_agent(selected)
        counts = board.get("agent_states", {})
        self.states.setText(
            "   ".join(
                f"<span style='color:{STATE_COLOURS[s]}; font-weight:bold'>■</span> "
                f"{t(f'state_{s}')} <b>{counts.get(s, 0)}</b>"
                for s in ("ready", "on_call", "wrapup", "paused", "signed_out")
            )
        )
        self._show_health(board.get("health") or {})
        for alarm in board.get("alarms") or []:
            self.add_alarm(alarm)
        self.chart.set_data(
            board.get("calls_per_15_minutes", {}), [h["hotline"] for h in board.get("hotlines", [])], self._now_slot()
        )
        self._tick()
        self._enable_actions()

    def _now_slot(self) -> int | None:
        from datetime import datetime

        try:
            at = datetime.fromisoformat(self.board["at"])
            start = datetime.fromisoformat(self.board["day_start"])
        except (KeyError, ValueError):
            return None
        return min(95, max(0, int((at - start).total_seconds() // 900)))

    def _show_health(self, health: dict[str, Any]) -> None:
        state = health.get("state") or "unknown"
        if state == "up":
            self.health.setVisible(False)
            return
        problems = "; ".join(health.get("problems") or [])
        self.health.setText(self.tr_(f"wb_health_{state}") + (f" — {problems}" if problems else ""))
        self.health.setStyleSheet(
            f"{HEALTH_STYLE.get(state, HEALTH_STYLE['unknown'])} padding: 6px; font-weight: bold;"
        )
        self.health.setVisible(True)

    # --- alarms ----------------------------------------------------------------------------------------
    def add_alarm(self, alarm: dict[str, Any]) -> None:
        """An `alarm` push (or one of a snapshot's `alarms`); the same alarm twice is shown once."""
        key = (alarm.get("at"), alarm.get("kind"), alarm.get("message"))
        if any((a.get("at"), a.get("kind"), a.get("message")) == key for a in self.alarms):
            return
        self.alarms.append(alarm)
        self.alarms.sort(key=lambda a: str(a.get("at") or ""))
        del self.alarms[: -ALARMS_SHOWN * 5]
        self._show_alarms()

    def alarm_text(self, alarm: dict[str, Any]) -> str:
        """One alarm in the desktop's language, from its `kind` and `detail` (the server's English `message`
        for a kind this desktop does not know)."""
        kind, detail = str(alarm.get("kind") or ""), alarm.get("detail") or {}
        key = f"alarm_{kind}"
        if self.tr_(key) == key:
            return str(alarm.get("message") or kind)
        percent = detail.get("percent_free")
        return self.tr_(
            key,
            path=detail.get("path", ""),
            free=size_text(detail.get("free_bytes")),
            percent="?" if percent is None else f"{percent:.1f}",
            call_id=detail.get("call_id", ""),
            hotline=detail.get("hotline") or "",
            reason=detail.get("reason", ""),
            count=detail.get("count", ""),
            seconds=detail.get("window_seconds", ""),
            hotlines=", ".join(str(h) for h in detail.get("hotlines") or []),
        )

    def _show_alarms(self) -> None:
        from html import escape

        if not self.alarms:
            self.alarm_banner.setVisible(False)
            return
        lines = []
        for alarm in reversed(self.alarms[-ALARMS_SHOWN:]):
            severity = str(alarm.get("severity") or "warning")
            colour = ALARM_COLOURS.get(severity, ALARM_COLOURS["warning"])
            when = self.tr_.when(alarm.get("at"), seconds=True)
            lines.append(
                f"<span style='color:{colour}; font-weight:bold'>● "
                f"{escape(when)}</span>&nbsp;&nbsp;{escape(self.alarm_text(alarm))}"
            )
        self.alarm_banner.setText("<br>".join(lines))
        self.alarm_banner.setVisible(True)

    def _extra(self) -> float:
        return max(0.0, time.monotonic() - self.received)

    def _tick(self) -> None:
        extra = self._extra()
        self.model.tick(extra)
        for tile in self.tiles.values():
            tile.refresh(extra)
        if self.board.get("at"):
            self.updated.setText(self.tr_("wb_updated", seconds=int(extra)))

    # --- selection and actions -------------------------------------------------------------------------
    def selected_agent(self) -> dict[str, Any] | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return None
        return self.model.agents[rows[0].row()] if rows[0].row() < len(self.model.agents) else None

    def select_agent(self, agent: dict[str, Any] | str) -> None:
        login = agent if isinstance(agent, str) else agent["id"]
        for i, a in enumerate(self.model.agents):
            if a["id"] == login:
                self.table.selectRow(i)
                return

    def _enable_actions(self) -> None:
        a = self.selected_agent()
        state = a.get("state") if a else None
        self.selected_label.setText(f"{a['id']} {a.get('name', '')}" if a else self.tr_("wb_pick_agent"))
        pending = bool(a and a.get("pause_after") is not None)
        # on a call, a pause waits for the call's end (and a resume cancels such a pause)
        self.pause.setEnabled(state in (AgentState.READY, AgentState.PAUSED, AgentState.WRAPUP, AgentState.ON_CALL))
        self.resume.setEnabled(state in (AgentState.PAUSED, AgentState.WRAPUP) or pending)
        on_call = bool(a and a.get("call") and a["call"].get("phase") == "connected")
        for b in (self.listen, self.whisper, self.barge):
            b.setEnabled(on_call)

    def _act(self, action: str) -> None:
        a = self.selected_agent()
        if a is None:
            return
        fields: dict[str, Any] = {}
        if action == "pause":
            fields["reason"] = self.reason.currentData() or "other"
        elif action in ("listen", "whisper", "barge") and self.phone.text().strip():
            fields["phone"] = self.phone.text().strip()
        self.spawn(self._supervise(a["id"], action, fields))

    async def _supervise(self, agent_id: str, action: str, fields: dict[str, Any]) -> None:
        """A supervisor's action on an agent; the wallboard's next push shows its effect."""
        try:
            reply = await self.request(Msg.SUPERVISE_AGENT, agent_id=agent_id, action=action, **fields)
        except LinkError as exc:
            self.report_refusal(exc)
            return
        state = reply.get("state") or {}
        if action == "pause" and state.get("pause_after") is not None:  # on a call: paused once it ends
            self.reported.emit(self.tr_("wb_done_pause_after", agent=agent_id))
        elif action == "resume" and state.get("state") == "on_call":
            self.reported.emit(self.tr_("wb_done_pause_cancelled", agent=agent_id))
        else:
            self.reported.emit(self.tr_(f"wb_done_{action}", agent=agent_id))
