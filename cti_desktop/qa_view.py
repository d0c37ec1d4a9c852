"""The QA view (录音质检): find recorded calls, listen to one with its transcript beside the player, and score
it. Shown to the QA role, supervisors, admins and hotline units (who listen but do not score).

The recording never touches the workstation's disk: the server sends it in chunks over the link
(`qa_open_recording`, then `qa_read_recording` until `eof`), the view checks its SHA-256 and plays it from
memory with QMediaPlayer. The transcript follows the player: the sentence being spoken is highlighted, and a
click on a sentence seeks there. Sentence times are seconds from the start of the recording, the same for
the mix and each side (MixMonitor starts them together).
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any, ClassVar

from PySide6.QtCore import (
    QBuffer,
    QByteArray,
    QDate,
    QIODevice,
    QModelIndex,
    Qt,
    QUrl,
    Signal,
)
from PySide6.QtGui import QBrush, QColor
from PySide6.QtMultimedia import QAudioOutput, QMediaPlayer
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDateEdit,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSlider,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from ari_app.protocol import RECORDING_SIDES, Msg
from cti_desktop.i18n import Tr
from cti_desktop.qtutil import STRETCH, error_label, hbox, named, refill
from cti_desktop.tab import Request, Spawn, Tab
from cti_desktop.table import KeyRole, Row, RowTableModel, table_view
from cti_desktop.widgets import NoteLabel

SCORE_ROLES = frozenset({"qa", "supervisor", "admin"})
VIEW_ROLES = SCORE_ROLES | {"hotline_unit"}
"""Who sees the QA view (the server checks again; a hotline unit only gets its own hotline's calls)."""
SPEAKER_COLOURS = {"caller": "#1565c0", "agent": "#2e7d32", "mixed": "#555555"}
CURRENT_BACKGROUND = QColor("#fff3c4")
CallIdRole = KeyRole


def clock(ms: int) -> str:
    seconds = max(0, ms) // 1000
    return f"{seconds // 60:02d}:{seconds % 60:02d}"


class QaCallTableModel(RowTableModel):
    """The calls a QA search found (`qa_calls` rows)."""

    TIME, HOTLINE, CALLER, AGENT, TALK, SCORE, SAID = range(7)
    HEADERS = ("qa_col_time", "col_hotline", "col_caller", "qa_col_agent", "qa_col_talk", "qa_col_score", "qa_col_said")
    FIELDS: ClassVar[dict[int, str]] = {HOTLINE: "hotline", CALLER: "caller", AGENT: "agent"}
    KEY = "call_id"

    @property
    def calls(self) -> list[Row]:
        return self.rows

    def set_score(self, call_id: str, score: int) -> None:
        row = self.row_of(call_id)
        if row is not None:
            self.rows[row]["last_score"] = score
            self.column_changed(self.SCORE, row, row)

    def cell(self, call: Row, col: int, role: int) -> Any:
        if role == Qt.ItemDataRole.ToolTipRole and col == self.SAID:
            return call.get("snippet") or None
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if col == self.TIME:
            return self.tr_.when(call.get("arrived_at"))
        if col == self.TALK:
            talk = call.get("talk_seconds")
            return clock(int(talk * 1000)) if talk is not None else ""
        if col == self.SCORE:
            score = call.get("last_score")
            return "" if score is None else str(score)
        if call.get("recording_status") == "failed":
            return f"✖ {self.tr_('qa_failed_mark')} " + (call.get("snippet") or "")
        if not call.get("recording_available"):
            return "⊘ " + (call.get("snippet") or "")
        return call.get("snippet") or ""


class RecordingPlayer(QWidget):
    """Play / pause, a position slider and the time, over QMediaPlayer playing a WAV held in memory."""

    position_changed = Signal(int)
    """Milliseconds from the start, as the player moves (also after a seek)."""

    def __init__(self, tr: Tr, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tr_ = tr
        self.player = QMediaPlayer(self)
        self.audio = QAudioOutput(self)
        self.player.setAudioOutput(self.audio)
        self._bytes = QByteArray()
        self._buffer: QBuffer | None = None
        self._start_at = 0
        self.play_button = named(QPushButton(), "qaPlay")
        self.play_button.setEnabled(False)
        self.slider = named(QSlider(Qt.Orientation.Horizontal), "qaPosition")
        self.slider.setEnabled(False)
        self.time_label = named(QLabel("00:00 / 00:00"), "qaTime")
        self.side = named(QComboBox(), "qaSide")
        self.side.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.status = NoteLabel(tr, "qaPlayerStatus")
        self.status.setStyleSheet("color: #666;")
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.play_button)
        row.addWidget(self.slider, 1)
        row.addWidget(self.time_label)
        row.addWidget(self.side)
        row.addWidget(self.status)
        self.play_button.clicked.connect(self.toggle)
        self.slider.sliderMoved.connect(self.seek)
        self.player.durationChanged.connect(self._duration)
        self.player.positionChanged.connect(self._position)
        self.player.mediaStatusChanged.connect(self._status)
        self.player.playbackStateChanged.connect(lambda _s: self.retranslate())

    def retranslate(self) -> None:
        playing = self.player.playbackState() == QMediaPlayer.PlaybackState.PlayingState
        self.play_button.setText(("⏸ " + self.tr_("qa_pause")) if playing else ("▶ " + self.tr_("qa_play")))
        refill(self.side, ((self.tr_(f"qa_side_{side}"), side) for side in RECORDING_SIDES), quiet=True)
        self.status.retranslate()

    def set_sides(self, sides: list[str]) -> None:
        """Enable only the sides the server says exist."""
        model = self.side.model()
        for i in range(self.side.count()):
            item = model.item(i)  # type: ignore[attr-defined]
            item.setEnabled(self.side.itemData(i) in sides)

    def unload(self, key: str = "", **fields: object) -> None:
        """Empty the player; the status line says `key` (with `fields`), or nothing."""
        self._clear()
        self.play_button.setEnabled(False)
        self.slider.setEnabled(False)
        self.slider.setValue(0)
        self.time_label.setText("00:00 / 00:00")
        self.status.say(key, **fields)

    def load(self, wav: bytes, name: str, start_ms: int = 0) -> None:
        """Play `wav` (a whole WAV file) from memory, positioned at `start_ms` once it is loaded."""
        self._clear()
        self._start_at = start_ms
        self._bytes = QByteArray(wav)
        buffer = QBuffer(self)
        buffer.setData(self._bytes)
        buffer.open(QIODevice.OpenModeFlag.ReadOnly)
        self._buffer = buffer
        self.player.setSourceDevice(buffer, QUrl(name))
        self.play_button.setEnabled(True)
        self.slider.setEnabled(True)
        self.status.say()

    def _clear(self) -> None:
        """Stop and drop the source. Through an empty URL: with Qt 6.12's FFmpeg backend, replacing or
        clearing a device source with setSourceDevice() once it has played never returns."""
        self.player.stop()
        self.player.setSource(QUrl())
        self._buffer = None

    def toggle(self) -> None:
        if self.player.playbackState() == QMediaPlayer.PlaybackState.PlayingState:
            self.player.pause()
        else:
            self.player.play()

    def seek(self, ms: int) -> None:
        self.player.setPosition(max(0, ms))
        self.position_changed.emit(max(0, ms))

    def _duration(self, ms: int) -> None:
        self.slider.setRange(0, max(0, ms))
        self._show_time(self.player.position())

    def _status(self, status: QMediaPlayer.MediaStatus) -> None:
        if status == QMediaPlayer.MediaStatus.LoadedMedia and self._start_at:
            self.seek(min(self._start_at, self.player.duration()))
            self._start_at = 0

    def _position(self, ms: int) -> None:
        if not self.slider.isSliderDown():
            self.slider.setValue(ms)
        self._show_time(ms)
        self.position_changed.emit(ms)

    def _show_time(self, ms: int) -> None:
        self.time_label.setText(f"{clock(ms)} / {clock(self.player.duration())}")


class QaView(Tab):
    """Search form and results on the left; the call, its player, its transcript and the score form on the
    right."""

    TITLE = "tab_qa"

    def __init__(self, tr: Tr, spawn: Spawn, request: Request) -> None:
        super().__init__(tr, spawn, request)
        self.setObjectName("qaView")
        self.call: dict[str, Any] | None = None
        self.opening: str | None = None
        """The call whose details are being fetched (a row picked again meanwhile does not open it twice)."""
        self.sentences: list[dict[str, Any]] = []
        self.current_sentence: int | None = None
        self.can_score = True
        self.hotlines: list[dict[str, Any]] = []
        self.score_note: tuple[str, dict[str, Any], bool] | None = None
        """The message under the score form: text key, its values, whether it is an error."""
        self.loaded: tuple[str, str] | None = None
        """(call id, side) of the recording in the player."""
        self._build()
        self.retranslate()

    # --- layout ----------------------------------------------------------------------------------------
    def _build(self) -> None:
        self.hotline = named(QComboBox(), "qaHotline")
        self.hotline.setMinimumWidth(150)
        self.hotline.setMaximumWidth(240)
        texts = self.texts
        self.use_dates = texts.named(QCheckBox(), "qaUseDates", "qa_dates")
        today = QDate.currentDate()
        self.date_from = named(QDateEdit(today.addDays(-7)), "qaDateFrom")
        self.date_to = named(QDateEdit(today), "qaDateTo")
        self.to_label = texts.add(QLabel(), "qa_date_to")
        for d in (self.date_from, self.date_to):
            d.setCalendarPopup(True)
            d.setDisplayFormat("yyyy-MM-dd")
            d.setEnabled(False)
        self.use_dates.toggled.connect(self.date_from.setEnabled)
        self.use_dates.toggled.connect(self.date_to.setEnabled)
        self.agent = texts.named(QLineEdit(), "qaAgent", "qa_agent_hint")
        self.agent.setMaximumWidth(110)
        self.words = texts.named(QLineEdit(), "qaWords", "qa_words_hint")
        self.words.setMinimumWidth(160)
        self.search_button = texts.named(QPushButton(), "qaSearch", "search")
        self.search_button.clicked.connect(self.search)
        self.words.returnPressed.connect(self.search)
        self.agent.returnPressed.connect(self.search)
        row1 = hbox(self.hotline, self.agent, (self.words, 1))
        row2 = hbox(self.use_dates, self.date_from, self.to_label, self.date_to, STRETCH, self.search_button)
        self.found = named(QLabel(), "qaFound")
        self.found.setStyleSheet("color: #666;")
        self.model = QaCallTableModel(self.tr_)
        self.table = table_view(self.model, "qaCalls", QaCallTableModel.SAID)
        self.table.selectionModel().currentRowChanged.connect(self._row_changed)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.addLayout(row1)
        left_layout.addLayout(row2)
        left_layout.addWidget(self.found)
        left_layout.addWidget(self.table, 1)

        self.title = named(QLabel(), "qaTitle")
        self.title.setStyleSheet("font-weight: bold;")
        self.title.setWordWrap(True)
        self.cases = named(QLabel(), "qaCases")
        self.player = RecordingPlayer(self.tr_)
        self.player.position_changed.connect(self.follow)
        self.player.side.currentIndexChanged.connect(lambda _i: self._side_changed())
        self.transcript = named(QTableWidget(0, 3), "qaTranscript")
        self.transcript.verticalHeader().setVisible(False)
        self.transcript.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.transcript.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.transcript.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.transcript.setWordWrap(True)
        th = self.transcript.horizontalHeader()
        th.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        th.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        th.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.transcript.cellClicked.connect(lambda row, _col: self.seek_to_sentence(row))
        self.transcript_note = named(QLabel(), "qaTranscriptNote")
        self.transcript_note.setStyleSheet("color: #666;")

        self.score_box = named(QGroupBox(), "qaScoreBox")
        self.score = named(QSpinBox(), "qaScore")
        self.score.setRange(0, 100)
        self.score.setValue(80)
        self.comment = texts.named(QPlainTextEdit(), "qaComment", "qa_comment_hint")
        self.comment.setMaximumHeight(56)
        self.save_score = texts.named(QPushButton(), "qaSaveScore", "qa_save_score")
        self.save_score.clicked.connect(self._save_score)
        self.score_error = error_label("qaScoreError")
        self.score_label = texts.add(QLabel(), "qa_score")
        self.scores = named(QTextBrowser(), "qaScores")
        self.scores.setMaximumHeight(70)
        score_row = hbox(self.score_label, self.score, (self.comment, 1), self.save_score)
        box_layout = QVBoxLayout(self.score_box)
        box_layout.addLayout(score_row)
        box_layout.addWidget(self.score_error)
        box_layout.addWidget(self.scores)

        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.addWidget(self.title)
        right_layout.addWidget(self.cases)
        right_layout.addWidget(self.player)
        right_layout.addWidget(self.transcript_note)
        right_layout.addWidget(self.transcript, 1)
        right_layout.addWidget(self.score_box)
        split = QSplitter()
        split.addWidget(left)
        split.addWidget(right)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 1)
        split.setSizes([560, 680])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(split)
        self._show_call()

    def retranslate(self) -> None:
        t = self.tr_
        self.set_hotlines(self.hotlines)
        self.texts.say(t)
        self.transcript.setHorizontalHeaderLabels([t("qa_col_at"), t("qa_col_who"), t("qa_col_text")])
        self.score_box.setTitle(t("qa_scores_title"))
        self.model.retranslate()
        self.player.retranslate()
        self.found.setText(t("qa_found", count=self.model.rowCount()) if self.found.text() else "")
        self._show_call()
        self._show_score_note()
        if self.loaded is not None:
            self.follow(self.player.player.position())

    @staticmethod
    def shown_to(agent: dict[str, Any]) -> bool:
        return str(agent.get("role") or "") in VIEW_ROLES

    def signed_in(self, agent: dict[str, Any], hotlines: list[dict[str, Any]]) -> None:
        """The hotlines to choose from; the scoring form for those who score; the QA role's search at once."""
        self.set_hotlines(hotlines)
        self.set_can_score(str(agent.get("role") or "") in SCORE_ROLES)
        if agent.get("role") == "qa":
            self.search()

    def set_hotlines(self, hotlines: list[dict[str, Any]]) -> None:
        """The hotline choices (from `signed_in`), named in the current language; the choice is kept."""
        self.hotlines = list(hotlines)
        lang = self.tr_.lang
        names = ((f"{h['number']} {h.get(f'name_{lang}') or ''}".strip(), h["number"]) for h in self.hotlines)
        refill(self.hotline, [(self.tr_("qa_hotline_all"), ""), *names])

    def set_can_score(self, allowed: bool) -> None:
        self.can_score = allowed
        for w in (self.score, self.comment, self.save_score):
            w.setEnabled(allowed)
        self.score_note = None if allowed else ("qa_cannot_score", {}, True)
        self._show_score_note()

    def _show_score_note(self) -> None:
        if self.score_note is None:
            self.score_error.setText("")
            return
        key, values, is_error = self.score_note
        text = self.tr_.error(values["error_id"], values["message"]) if key == "error" else self.tr_(key, **values)
        self.score_error.setText(text)
        self.score_error.setStyleSheet("color: #b00020;" if is_error else "color: #2e7d32;")

    # --- search ----------------------------------------------------------------------------------------
    def filters(self) -> dict[str, Any]:
        out: dict[str, Any] = {"limit": 200}
        if self.hotline.currentData():
            out["hotline"] = self.hotline.currentData()
        if self.use_dates.isChecked():
            out["date_from"] = self.date_from.date().toString("yyyy-MM-dd")
            out["date_to"] = self.date_to.date().toString("yyyy-MM-dd")
        if self.agent.text().strip():
            out["agent"] = self.agent.text().strip()
        if self.words.text().strip():
            out["words"] = self.words.text().strip()
        return out

    def search(self) -> None:
        self.spawn(self.run_search())

    async def run_search(self) -> None:
        self.search_button.setEnabled(False)
        try:
            reply = await self.request(Msg.QA_SEARCH_CALLS, **self.filters())
        finally:
            self.search_button.setEnabled(True)
        calls = list(reply.get("calls") or [])
        self.model.set_rows(calls)
        self.found.setText(self.tr_("qa_found", count=len(calls)))

    # --- one call --------------------------------------------------------------------------------------
    def _row_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        call_id = self.model.data(current, CallIdRole) if current.isValid() else None
        shown = self.call["call_id"] if self.call is not None else None
        if call_id and call_id not in (shown, self.opening):  # a row picked again while it opens: once
            self.opening = str(call_id)
            self.spawn(self.open_call(str(call_id)))

    async def open_call(self, call_id: str) -> None:
        """Show the call and its transcript, then fetch and load its recording (the whole call first)."""
        try:
            reply = await self.request(Msg.QA_GET_CALL, call_id=call_id)
        finally:
            if self.opening == call_id:
                self.opening = None
        self.call = reply["call"]
        self.loaded = None
        self._show_call()
        sides = list(self.call.get("recording_sides") or [])
        self.player.set_sides(sides)
        if not sides:
            if self.call.get("recording_status") == "failed":
                reason = str(self.call.get("recording_error") or "")
                self.player.unload("qa_recording_failed", reason=reason)
            else:
                self.player.unload("qa_no_recording")
            return
        side = self.player.side.currentData() if self.player.side.currentData() in sides else sides[0]
        self.player.side.blockSignals(True)
        self.player.side.setCurrentIndex(self.player.side.findData(side))
        self.player.side.blockSignals(False)
        await self.load_recording(call_id, side)

    def _side_changed(self) -> None:
        """Another side of the same call: load it at the moment the reviewer was listening to."""
        side = self.player.side.currentData()
        if self.call is not None and side in (self.call.get("recording_sides") or []):
            at = self.player.player.position() if self.loaded is not None else 0
            self.spawn(self.load_recording(self.call["call_id"], side, at))

    async def load_recording(self, call_id: str, side: str, start_ms: int = 0) -> None:
        """Fetch one side's file over the link, chunk by chunk, check it and hand it to the player."""
        self.player.unload("qa_loading", percent=0)
        opened = await self.request(Msg.QA_OPEN_RECORDING, call_id=call_id, side=side)
        size = int(opened["size"])
        parts: list[bytes] = []
        got = 0
        while True:
            chunk = await self.request(Msg.QA_READ_RECORDING, playback_id=opened["playback_id"], offset=got)
            data = base64.b64decode(chunk["data"])
            parts.append(data)
            got += len(data)
            if self.call is None or self.call["call_id"] != call_id:
                return  # another call was picked meanwhile
            self.player.status.say("qa_loading", percent=100 * got // max(1, size))
            if chunk["eof"] or not data:
                break
        wav = b"".join(parts)
        if hashlib.sha256(wav).hexdigest() != opened.get("sha256", hashlib.sha256(wav).hexdigest()):
            self.player.unload("err_recording_unavailable")
            return
        self.player.load(wav, f"{call_id}-{side}.wav", start_ms)
        self.loaded = (call_id, side)

    def _show_call(self) -> None:
        t, call = self.tr_, self.call
        self.current_sentence = None
        if call is None:
            self.title.setText(t("qa_pick"))
            self.cases.setText("")
            self.transcript_note.setText("")
            self.transcript.setRowCount(0)
            self.scores.clear()
            self.score_box.setEnabled(False)
            return
        self.score_box.setEnabled(True)
        hotline_name = call.get("hotline_name_zh") if t.lang == "zh" else call.get("hotline_name_en")
        self.title.setText(
            t(
                "qa_call_title",
                hotline=f"{call.get('hotline') or ''} {hotline_name or ''}".strip(),
                caller=call.get("caller") or "—",
                agent=call.get("agent") or "—",
                time=self.tr_.when(call.get("arrived_at")),
            )
        )
        numbers = [c["number"] for c in call.get("cases") or []]
        self.cases.setText(t("qa_cases", numbers="、".join(numbers)) if numbers else t("qa_no_cases"))
        self.sentences = sorted(call.get("sentences") or [], key=lambda x: (x["start"], x["end"]))
        status = call.get("transcription_status")
        self.transcript_note.setText(
            ""
            if self.sentences
            else t("qa_no_transcript", status=t.maybe("job", status) if status else t("qa_transcript_none"))
        )
        self.transcript.setRowCount(len(self.sentences))
        for row, s in enumerate(self.sentences):
            at = QTableWidgetItem(clock(int(s["start"] * 1000)))
            who = QTableWidgetItem(t.maybe("speaker", s["speaker"]))
            who.setForeground(QBrush(QColor(SPEAKER_COLOURS.get(s["speaker"], "#555555"))))
            font = who.font()
            font.setBold(True)
            who.setFont(font)
            text = QTableWidgetItem(s["text"])
            if s.get("confidence") is not None:
                text.setToolTip(f"{s['confidence']:.2f}")
            for col, item in enumerate((at, who, text)):
                self.transcript.setItem(row, col, item)
        self.transcript.resizeRowsToContents()
        self._show_scores()

    def _show_scores(self) -> None:
        call = self.call or {}
        lines = [
            self.tr_(
                "qa_score_line", at=self.tr_.when(x["at"]), by=x["by"], score=x["score"], comment=x.get("comment") or ""
            )
            for x in call.get("scores") or []
        ]
        self.scores.setPlainText("\n".join(lines))

    # --- following the player --------------------------------------------------------------------------
    def sentence_at(self, ms: int) -> int | None:
        """The sentence being spoken at `ms`: the last one begun by then, while it lasts."""
        t = ms / 1000
        found = None
        for i, s in enumerate(self.sentences):
            if s["start"] <= t + 0.05:
                found = i if t <= s["end"] + 0.05 else found
            else:
                break
        return found

    def follow(self, ms: int) -> None:
        row = self.sentence_at(ms)
        if row == self.current_sentence:
            return
        for r in (self.current_sentence, row):
            if r is None or r >= self.transcript.rowCount():
                continue
            for col in range(3):
                item = self.transcript.item(r, col)
                if item is not None:
                    item.setBackground(QBrush(CURRENT_BACKGROUND) if r == row else QBrush())
        self.current_sentence = row
        item = self.transcript.item(row, 0) if row is not None else None
        if item is not None:
            self.transcript.scrollToItem(item)

    def seek_to_sentence(self, row: int) -> None:
        if 0 <= row < len(self.sentences) and self.loaded is not None:
            self.player.seek(int(self.sentences[row]["start"] * 1000))

    # --- scoring ---------------------------------------------------------------------------------------
    def _save_score(self) -> None:
        if self.call is not None:
            self.spawn(self.save(self.call["call_id"], self.score.value(), self.comment.toPlainText().strip()))

    async def save(self, call_id: str, score: int, comment: str) -> None:
        fields: dict[str, Any] = {"call_id": call_id, "score": score}
        if comment:
            fields["comment"] = comment
        self.save_score.setEnabled(False)
        try:
            reply = await self.request(Msg.QA_SCORE_CALL, **fields)
        except Exception as exc:
            self.score_note = ("error", {"error_id": str(getattr(exc, "error_id", "")), "message": str(exc)}, True)
            self._show_score_note()
            return
        finally:
            self.save_score.setEnabled(self.can_score)
        self.score_note = ("qa_scored", {"score": score}, False)
        self._show_score_note()
        self.comment.clear()
        if self.call is not None and self.call["call_id"] == call_id:
            self.call["scores"] = reply.get("scores") or []
            self._show_scores()
        self.model.set_score(call_id, score)
