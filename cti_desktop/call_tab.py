"""The call intake tab (来电受理): the screen-pop with its three-way call and transfer controls and the case
form on the left, the caller's earlier cases on the right. It follows the agent's call from the pushes
(`screen_pop`, `call_connected`, `call_ended`, `call_missed`, `conference_state`, `transfer_state`), keeps
the form's draft in the local file as it is typed, and saves the case."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from ari_app.protocol import Msg
from cti_desktop.drafts import DraftStore
from cti_desktop.i18n import Tr
from cti_desktop.link import LinkError
from cti_desktop.models import CaseTableModel
from cti_desktop.qtutil import named, scrolled
from cti_desktop.tab import Request, Spawn, Tab
from cti_desktop.table import table_view
from cti_desktop.transfer import LinkageBar, TransferBar, transfer_note
from cti_desktop.widgets import CaseForm, ConferenceBar, NoteLabel, ScreenPopPanel, is_withheld


class CallTab(Tab):
    """`call_offered` when a call pops (the window brings itself forward); `case_saved` after a case is
    saved (the person's case list is read again)."""

    MESSAGES: ClassVar[frozenset[str]] = frozenset(
        {
            Msg.SCREEN_POP,
            Msg.CALL_CONNECTED,
            Msg.CALL_ENDED,
            Msg.CALL_MISSED,
            Msg.CONFERENCE_STATE,
            Msg.TRANSFER_STATE,
        }
    )
    TITLE = "tab_intake"
    call_offered = Signal()
    case_saved = Signal()

    def __init__(self, tr: Tr, spawn: Spawn, request: Request, drafts: DraftStore) -> None:
        super().__init__(tr, spawn, request)
        self.drafts = drafts
        self.agent_id: Any = None
        self.call: dict[str, Any] | None = None
        self.waiting_call: dict[str, Any] | None = None
        self.pop = ScreenPopPanel(tr)
        self.conference = ConferenceBar(tr)
        self.conference.action_requested.connect(lambda action, number: self.spawn(self._conference(action, number)))
        self.transfer = TransferBar(tr)
        self.transfer.action_requested.connect(lambda *args: self.spawn(self._transfer(*args)))
        self.linkage = LinkageBar(tr)
        self.linkage.requested.connect(lambda kind, key: self.spawn(self._linkage(kind, key)))
        self.form = CaseForm(tr)
        self.form.changed.connect(self._save_draft)
        self.form.save_requested.connect(lambda: self.spawn(self._save_case()))
        self.notice = NoteLabel(self.tr_, "notice")
        self.notice.setStyleSheet("color: #8a6d00;")
        self.notice.setWordWrap(True)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        for widget in (self.pop, self.linkage, self.conference, self.transfer, self.notice):
            left_layout.addWidget(widget)
        left_layout.addWidget(self.form, 1)
        self.history_model = CaseTableModel(tr)
        self.history_view = table_view(self.history_model, "historyView", CaseTableModel.REQUEST, single=False)
        self.history_title = named(QLabel(), "historyTitle")
        self.history_title.setStyleSheet("font-weight: bold;")
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.addWidget(self.history_title)
        right_layout.addWidget(self.history_view)
        self.lay_out_side_by_side(scrolled(left, "intakeScroll"), right, [560, 600], margins=False)

    @staticmethod
    def shown_to(agent: dict[str, Any]) -> bool:
        return bool(agent.get("extension"))  # queue agents only

    def retranslate(self) -> None:
        self.history_title.setText(self.tr_("history_title"))
        for widget in (
            self.pop,
            self.linkage,
            self.conference,
            self.transfer,
            self.form,
            self.history_model,
            self.notice,
        ):
            widget.retranslate()

    def set_online(self, online: bool) -> None:
        self.form.save.setEnabled(online)

    def signed_in(self, agent: dict[str, Any], hotlines: list[dict[str, Any]]) -> None:
        self.agent_id = agent.get("id")
        self.form.set_hotlines(hotlines)
        self.spawn(self._load_classifications())
        draft = self.drafts.load()
        if draft and draft.get("fields"):
            self.form.set_values(draft["fields"])

    # --- pushes ----------------------------------------------------------------------------------------
    def handle(self, msg: dict[str, Any]) -> None:
        kind = msg.get("type")
        if kind == Msg.SCREEN_POP:
            self._screen_pop(msg)
            return
        if not self.call or self.call.get("call_id") != msg.get("call_id"):
            return  # about another call than the one on show
        if kind in (Msg.CALL_CONNECTED, Msg.CALL_ENDED):
            connected = kind == Msg.CALL_CONNECTED
            self.call["phase"] = "connected" if connected else "ended"
            self.pop.set_phase(self.call["phase"])
            self._bars_follow("connected" if connected else "")  # an ended call leaves the bars no call
        elif kind == Msg.CALL_MISSED:
            self.pop.set_phase("missed")
            if not self.form.has_content():
                self.call = None
                self.form.clear()
        elif kind == Msg.CONFERENCE_STATE:
            self.conference.show_members(list(msg.get("members") or []))
        elif kind == Msg.TRANSFER_STATE and (msg.get("transfer") or {}).get("from_agent") == self.agent_id:
            self.transfer.show_transfer(msg.get("transfer"))
            self.linkage.set_busy((msg.get("transfer") or {}).get("state") in ("ringing", "answered"))

    def _bars_follow(self, phase: str) -> None:
        """The three-way call, transfer and linkage controls follow the call's `phase` ("" for no call)."""
        for bar in (self.conference, self.transfer, self.linkage):
            bar.set_call_phase(phase)

    def _screen_pop(self, msg: dict[str, Any]) -> None:
        call = dict(msg.get("call") or {})
        same_call = self.form.call_id == call.get("call_id")
        self.call = call
        self.pop.show_call(call)
        self.conference.show_members([])
        self._bars_follow(str(call.get("phase") or ""))
        if msg.get("history") or not msg.get("resumed"):
            on_call = list(msg.get("cases") or [])  # a transferred call: the cases already taken on it first
            known = {c.get("id") for c in on_call}
            self.history_model.set_rows(on_call + [c for c in msg.get("history") or [] if c.get("id") not in known])
        if same_call:
            pass  # the draft already belongs to this call (a resumed pop): keep what was typed
        elif self.form.has_content():
            self.waiting_call = call
            self.notice.say("new_call_waiting")
        else:
            self.form.prefill(call)
            self.notice.say()
        if call.get("transfer"):
            cases = list(msg.get("cases") or [])
            self.notice.say_with(lambda t: transfer_note(t, call, cases))
        if msg.get("resumed") and not is_withheld(call.get("caller")) and not msg.get("history"):
            self.spawn(self.refresh_history(call["caller"]))
        self.call_offered.emit()

    # --- drafts ----------------------------------------------------------------------------------------
    def _save_draft(self) -> None:
        fields = self.form.values()
        if not self.form.has_content() and not fields.get("call_id"):
            self.drafts.clear()
            return
        self.drafts.save({"call": self.call, "fields": fields, "saved_at": datetime.now(UTC).isoformat()})

    def restore_draft(self) -> None:
        """The form as it was when the desktop last stopped, if it stopped with a draft."""
        draft = self.drafts.load()
        if not draft or not isinstance(draft.get("fields"), dict):
            return
        self.call = draft.get("call")
        if self.call:
            self.pop.show_call(self.call)
        self.form.set_values(draft["fields"])
        self.notice.say("draft_restored")

    # --- requests --------------------------------------------------------------------------------------
    async def _call_request(self, kind: str, **fields: Any) -> dict[str, Any] | None:
        """A request about the call on show (none: nothing is sent); a refusal is reported, then None."""
        if not self.call:
            return None
        try:
            return await self.request(kind, call_id=self.call["call_id"], **fields)
        except LinkError as exc:
            self.report_refusal(exc)
            return None

    async def _conference(self, action: str, number: str) -> None:
        """Bring a unit into the call, step out, or end the three-way call (the server does it in Asterisk)."""
        reply = await self._call_request(Msg.CONFERENCE, action=action, **({"number": number} if number else {}))
        if reply is not None:
            self.conference.show_members(list(reply.get("members") or []))

    async def _transfer(self, action: str, target_kind: str, target: str) -> None:
        """Transfer the call (blind / attended to an agent or a unit's number), or complete / cancel."""
        fields: dict[str, Any] = {"action": action}
        if action in ("blind", "attended"):
            fields["agent_id" if target_kind == "agent" else "number"] = target
        reply = await self._call_request(Msg.TRANSFER, **fields)
        if reply is not None:
            self.transfer.show_transfer(reply.get("transfer"))

    async def _linkage(self, kind: str, key: str) -> None:
        """转110: a blind transfer of the citizen to the partner; 三方110: the partner into a three-way call. The
        request names the partner's key only (docs/protocol.md, "Linkage")."""
        self.linkage.set_busy(True)
        if kind == "three_way":
            reply = await self._call_request(Msg.CONFERENCE, action="start", partner=key)
            self.linkage.set_busy(False)
            if reply is not None:
                self.conference.show_members(list(reply.get("members") or []))
            return
        reply = await self._call_request(Msg.TRANSFER, action="blind", partner=key)
        if reply is None:
            self.linkage.set_busy(False)
            return
        self.transfer.show_transfer(reply.get("transfer"))
        self.linkage.set_busy((reply.get("transfer") or {}).get("state") in ("ringing", "answered"))

    def set_partners(self, partners: list[dict[str, Any]]) -> None:
        """`signed_in.partners`: the one-key linkage buttons."""
        self.linkage.set_partners(partners)

    async def _save_case(self) -> None:
        v = self.form.values()
        fields = {k: v[k] for k in v if k != "call_time" and v[k] is not None}
        self.form.save.setEnabled(False)
        try:
            reply = await self.request(Msg.CREATE_CASE, **fields)
        except LinkError as exc:
            self.form.error.setText(self.tr_.error(exc.error_id, exc.message, exc.detail))
            return
        finally:
            self.form.save.setEnabled(True)
        case = reply["case"]
        self.reported.emit(self.tr_("case_saved", number=case["number"]))
        self.drafts.clear()
        caller = v.get("caller")
        self.form.clear(emit=False)
        self.notice.say()
        if self.waiting_call is not None:
            self.form.prefill(self.waiting_call)
            self.waiting_call = None
        if caller is not None and not is_withheld(caller):
            self.spawn(self.refresh_history(caller))
        self.case_saved.emit()

    async def _load_classifications(self) -> None:
        """The catalogue for the form's classification list (a server without one leaves the list empty)."""
        try:
            reply = await self.request(Msg.LIST_CLASSIFICATIONS)
        except LinkError:
            return
        self.form.set_classifications(list(reply.get("classifications") or []))
        draft = self.drafts.load()
        if draft and isinstance(draft.get("fields"), dict) and draft["fields"].get("classification"):
            self.form.set_values(draft["fields"])  # the draft's classification, now that it is offered

    async def refresh_history(self, caller: str) -> None:
        reply = await self.request(Msg.CALLER_HISTORY, caller=caller, limit=10)
        self.history_model.set_rows(reply.get("cases") or [])
