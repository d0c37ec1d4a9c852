"""The desktop link protocol: the one module of message types shared by the CTI server and its clients.

Everything a client needs to speak the protocol is here and in docs/protocol.md; nothing else of the server
may be imported by a client. Standard library only, so a client drags in nothing.

Framing: one JSON object per websocket text frame, UTF-8, at most `MAX_FRAME` bytes. Every object has a
`type`. A client request may carry an `id` (string or integer, echoed as `re` in the reply, so replies can be
matched to requests); pushes from the server carry no `re`.

Versioning: the first message on a connection is `hello` with the client's `version`; the server answers
`welcome` if it speaks that version (same major number), else `error` with `version_unsupported` and
closes the connection. Adding a field or a message type is a minor change; clients ignore fields and push
types they do not know. Removing or changing the meaning of a field is a major change.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Final, Generic, NotRequired, TypedDict, TypeVar

import orjson

PROTOCOL_VERSION: Final = "1.11"
PROTOCOL_MAJOR: Final = 1
MAX_FRAME: Final = 64 * 1024
"""Largest frame the server accepts and answers (bytes). Larger frames get `frame_too_large`."""
HARD_MAX_FRAME: Final = 1024 * 1024
"""Above this the websocket layer closes the connection (code 1009) without reading the frame."""
MAX_ID_LENGTH: Final = 64
COMPRESSION: Final = None
"""The websocket compression both sides ask for: none (no permessage-deflate, RFC 7692). Frames are a few
KiB on a local network, so deflating them saves nothing worth its cost: with it, writing 50 screen-pops at
once took the server's one event loop 10-16 ms, without it 2-5 ms (benchmarks/bench_screenpop.py); it keeps
zlib state per connection; and it would let a client that gets its own text into frames beside a session
token probe the token through the compressed sizes (as CRIME and BREACH did with TLS and HTTP compression)."""


class ErrorId(StrEnum):
    """Stable error identifiers. Clients act on these; the `message` beside them is for people."""

    MALFORMED_JSON = "malformed_json"
    FRAME_TOO_LARGE = "frame_too_large"
    BINARY_FRAME = "binary_frame"
    UNKNOWN_TYPE = "unknown_type"
    INVALID_FIELD = "invalid_field"
    HELLO_REQUIRED = "hello_required"
    VERSION_UNSUPPORTED = "version_unsupported"
    ALREADY_SIGNED_IN = "already_signed_in"
    NOT_SIGNED_IN = "not_signed_in"
    BAD_CREDENTIALS = "bad_credentials"
    TOO_MANY_ATTEMPTS = "too_many_attempts"
    TOKEN_INVALID = "token_invalid"
    TOKEN_EXPIRED = "token_expired"
    NOT_AN_AGENT = "not_an_agent"
    STATE_FORBIDDEN = "state_forbidden"
    QUEUE_UNAVAILABLE = "queue_unavailable"
    CALL_NOT_YOURS = "call_not_yours"
    CALL_NOT_CONNECTED = "call_not_connected"
    INVALID_NUMBER = "invalid_number"
    NOT_IN_CONFERENCE = "not_in_conference"
    TRANSFER_TARGET_INVALID = "transfer_target_invalid"
    AGENT_NOT_READY = "agent_not_ready"
    TRANSFER_IN_PROGRESS = "transfer_in_progress"
    NO_TRANSFER = "no_transfer"
    TRANSFER_NOT_ANSWERED = "transfer_not_answered"
    TRANSFER_NOT_RINGING = "transfer_not_ringing"
    CALL_IN_CONFERENCE = "call_in_conference"
    TRANSFER_FAILED = "transfer_failed"
    INTERNAL_ERROR = "internal_error"
    UNKNOWN_USER = "unknown_user"
    NOT_PERMITTED = "not_permitted"
    CSRF_FAILED = "csrf_failed"
    TOTP_NOT_FOR_ROLE = "totp_not_for_role"
    # Refusals of the case workflow are passed through with its own ids (ari_app.cases.errors):
    CASE_NOT_FOUND = "case_not_found"
    CASE_PERMISSION_DENIED = "case_permission_denied"
    CASE_INVALID_INPUT = "case_invalid_input"
    CASE_EXCHANGE_REQUIRES = "case_exchange_requires"
    CASE_UNKNOWN_HOTLINE = "case_unknown_hotline"
    CASE_TRANSITION_FORBIDDEN = "case_transition_forbidden"
    CASE_CONTACT_CONFIDENTIAL = "case_contact_confidential"
    CASES_NOT_CONFIGURED = "cases_not_configured"
    CASE_ERROR = "case_error"
    CALENDAR_UNKNOWN_YEAR = "calendar_unknown_year"
    CLASSIFICATION_NOT_SELECTABLE = "classification_not_selectable"
    CATALOGUE_INVALID = "catalogue_invalid"
    CASE_MERGE_OPEN_DISPATCHES = "case_merge_open_dispatches"
    CASE_MERGE_SELF = "case_merge_self"
    CASE_MERGE_CLOSED_MASTER = "case_merge_closed_master"
    CASE_MERGE_MERGED_MASTER = "case_merge_merged_master"
    CASE_MERGE_CYCLE = "case_merge_cycle"
    CASE_FOLLOW_UP_UNSATISFIED = "case_follow_up_unsatisfied"
    CASE_PROGRESS_NOT_SIGNED_FOR = "case_progress_not_signed_for"
    CASE_PROGRESS_TEXT_INVALID = "case_progress_text_invalid"
    ATTACHMENT_NOT_FOUND = "attachment_not_found"
    ATTACHMENT_REMOVED = "attachment_removed"
    ATTACHMENT_TOO_LARGE = "attachment_too_large"
    ATTACHMENT_TYPE_REFUSED = "attachment_type_refused"
    # The supervisor's wallboard and actions:
    NOT_A_SUPERVISOR = "not_a_supervisor"
    UNKNOWN_AGENT = "unknown_agent"
    AGENT_SIGNED_OUT = "agent_signed_out"
    AGENT_NOT_ON_CALL = "agent_not_on_call"
    SPY_UNAVAILABLE = "spy_unavailable"
    # Quality assurance (QA view): calls, recordings and scores
    QA_PERMISSION_DENIED = "qa_permission_denied"
    CALL_NOT_FOUND = "call_not_found"
    RECORDING_UNAVAILABLE = "recording_unavailable"
    PLAYBACK_NOT_FOUND = "playback_not_found"
    # Click-to-dial (dial_citizen)
    DIAL_FAILED = "dial_failed"
    CALL_OUTBOUND = "call_outbound"
    OUTSIDE_CALLING_HOURS = "outside_calling_hours"
    # Linkage (联动 110/119/120)
    PARTNER_UNKNOWN = "partner_unknown"
    # Refusals inside the server, which a request can meet only through them:
    PASSWORD_REJECTED = "password_rejected"
    CALL_STATE_FORBIDDEN = "call_state_forbidden"
    AMI_ACTION_FAILED = "ami_action_failed"
    CALLBACK_NOT_PENDING = "callback_not_pending"
    # The missed-call worklist (漏接回拨):
    MISSED_CALL_NOT_FOUND = "missed_call_not_found"
    MISSED_CALL_CLAIMED = "missed_call_claimed"
    MISSED_CALL_CLOSED = "missed_call_closed"
    MISSED_CALL_PERMISSION_DENIED = "missed_call_permission_denied"


def iso(value: datetime | None) -> str | None:
    """A time as messages carry it: ISO 8601 with its UTC offset (`2026-12-01T08:30:00+00:00`); None stays None."""
    return value.isoformat() if value is not None else None


LINK_REFUSALS = frozenset({ErrorId.NOT_SIGNED_IN, ErrorId.CALL_NOT_YOURS, ErrorId.NOT_AN_AGENT, ErrorId.NOT_PERMITTED})
"""Refusals of the link's own rules (sign in first; a call or an action that is not this person's): the
server's link writes their audit rows, whichever desk raised them; each desk audits its feature's others."""


class AgentState(StrEnum):
    """An agent's state as the queue sees it. The server holds it; desktops show it.

    signed_out: not a member of the queue. ready: a member, not paused, offered calls. paused: a member,
    paused with a reason. on_call: talking to a caller. wrapup: the call ended; paused for the configured
    wrap-up time, then ready again by itself.
    """

    SIGNED_OUT = "signed_out"
    READY = "ready"
    PAUSED = "paused"
    ON_CALL = "on_call"
    WRAPUP = "wrapup"


class CallPhase(StrEnum):
    RINGING = "ringing"
    CONNECTED = "connected"
    ENDED = "ended"


URGENCIES: Final = ("normal", "urgent", "critical")
HANDLINGS: Final = ("direct", "dispatch", "coordinated")
REQUEST_TYPES: Final = ("consultation", "help", "complaint", "report", "suggestion", "praise")
"""The six national request types (咨询 求助 投诉 举报 建议 表扬), as schema.cases.RequestType stores them."""
LANGUAGES: Final = ("zh", "ug", "en")
PAUSE_REASONS: Final = ("break", "meal", "training", "meeting", "other")
"""Suggested pause reasons; any short text is accepted."""
CASE_STATUSES: Final = (
    "received",
    "exchanged",
    "dispatched",
    "returned",
    "in_progress",
    "handled",
    "followed_up",
    "merged",
    "closed",
)
"""The case workflow's states (ari_app.cases.machine.CaseState), for filtering `list_cases`."""
SATISFACTIONS: Final = ("satisfied", "basic", "unsatisfied")
RATINGS: Final = ("very_satisfied", "satisfied", "basically_satisfied", "unsatisfied", "very_unsatisfied")
"""The five-level rating (五级满意度评价; since 1.7): 非常满意, 满意, 基本满意, 不满意, 非常不满意 (`RATING_LABELS`)."""
RATING_LABELS: Final[Mapping[str, str]] = dict(
    zip(RATINGS, ("非常满意", "满意", "基本满意", "不满意", "非常不满意"), strict=True)
)
FOLLOW_UP_CHANNELS: Final = ("phone", "sms")
MISSED_FILTERS: Final = ("open", "overdue", "all")
"""`list_missed_calls` filters: the open tasks, the open ones past their due time, or every task."""
MISSED_OUTCOMES: Final = ("reached", "not_reached", "wrong_number")
"""A callback attempt's outcome (`missed_call_attempt`): `reached` and `wrong_number` close the task."""
OUTBOUND_PURPOSES: Final = ("follow_up", "case")
"""What a `dial_citizen` from a case serves (schema.calls.OutboundPurpose): 回访, or any other call about it;
a call from a missed-call task (`task_id`) serves that task."""
MAX_PAGE_OFFSET: Final = 100_000
TRANSFER_ACTIONS: Final = ("blind", "attended", "complete", "cancel")
"""`transfer` actions: start a blind or an attended transfer; complete or cancel an attended one."""
MAX_NOTE: Final = 4000
MAX_UNITS: Final = 20
SUPERVISOR_ACTIONS: Final = ("pause", "resume", "listen", "whisper", "barge")
"""What `supervise_agent` does: pause / resume the agent in the queue, or bring the supervisor's phone into
the agent's call to listen (the call does not hear the supervisor), whisper (only the agent hears the
supervisor) or barge in (both hear the supervisor)."""
SUPERVISOR_ROLES: Final = ("supervisor", "admin")
"""Roles that may subscribe to the wallboard and supervise agents."""
WITHHELD: Final = "withheld"
"""The caller number of a call (screen-pop `call.caller`, call records, cases) whose caller withheld it:
every form a carrier or Asterisk gives (`anonymous`, `<unknown>`, empty, ...) arrives as this one value
(ari_app.calls.numbers). It identifies no one: no history is looked up by it and it is never a contact."""
RECORDING_SIDES: Final = ("mix", "caller", "agent")
"""A call's recording files: the whole call, what the citizen said, what the citizen heard (the agent)."""
RECORDING_CHUNK: Final = 36 * 1024
"""Audio bytes in one `qa_recording_data` reply: base64 makes them 48 KiB, so the frame stays under MAX_FRAME."""
ATTACHMENT_LINK_BYTES: Final = 45 * 1024
"""The largest file `add_attachment` carries (bytes): base64 makes it 61 440 characters, which with the
other fields (a 255-character name escaped as `\\uXXXX` is 1 530 bytes) stays under MAX_FRAME. Larger
files reach the same service (ari_app.cases.attachments) by another way (docs/cases.md, "Attachments")."""
ATTACHMENT_LINK_BASE64: Final = 4 * ((ATTACHMENT_LINK_BYTES + 2) // 3)
ATTACHMENT_CHUNK: Final = RECORDING_CHUNK
"""File bytes in one `attachment_data` reply (36 KiB, 48 KiB in base64, as `qa_recording_data`)."""


class Msg(StrEnum):
    """Every message type. Client requests first, then server replies and pushes."""

    # client -> server
    HELLO = "hello"
    SIGN_IN = "sign_in"
    RESUME = "resume"
    SIGN_OUT = "sign_out"
    SET_STATE = "set_state"
    CREATE_CASE = "create_case"
    CALLER_HISTORY = "caller_history"
    SEARCH_CASES = "search_cases"
    GET_CASE = "get_case"
    SUGGEST_DISPATCH = "suggest_dispatch"
    LIST_CLASSIFICATIONS = "list_classifications"
    LIST_CASES = "list_cases"
    DISPATCH_CASE = "dispatch_case"
    ACCEPT_CASE = "accept_case"
    RETURN_CASE = "return_case"
    HANDLE_CASE = "handle_case"
    FOLLOW_UP_CASE = "follow_up_case"
    REVIEW_CASE = "review_case"
    SUPERVISE_CASE = "supervise_case"
    ESCALATE_TO_LEADER = "escalate_to_leader"
    RESOLVE_DIRECTLY = "resolve_directly"
    FORWARD_CASE = "forward_case"
    SET_CONFIDENTIAL = "set_confidential"
    REVEAL_CONTACT = "reveal_contact"
    MERGE_CANDIDATES = "merge_candidates"
    MERGE_CASES = "merge_cases"
    UNMERGE_CASE = "unmerge_case"
    REVIEW_RETURN = "review_return"
    REQUEST_EXTENSION = "request_extension"
    DECIDE_EXTENSION = "decide_extension"
    REPORT_PROGRESS = "report_progress"
    FOLLOW_UPS_DUE = "follow_ups_due"
    ADD_ATTACHMENT = "add_attachment"
    LIST_ATTACHMENTS = "list_attachments"
    GET_ATTACHMENT = "get_attachment"
    CONFERENCE = "conference"
    LIST_MISSED_CALLS = "list_missed_calls"
    CLAIM_MISSED_CALL = "claim_missed_call"
    MISSED_CALL_ATTEMPT = "missed_call_attempt"
    DIAL_CITIZEN = "dial_citizen"
    WALLBOARD_SUBSCRIBE = "wallboard_subscribe"
    WALLBOARD_UNSUBSCRIBE = "wallboard_unsubscribe"
    SUPERVISE_AGENT = "supervise_agent"
    QA_SEARCH_CALLS = "qa_search_calls"
    QA_GET_CALL = "qa_get_call"
    QA_OPEN_RECORDING = "qa_open_recording"
    QA_READ_RECORDING = "qa_read_recording"
    QA_SCORE_CALL = "qa_score_call"
    TRANSFER = "transfer"
    END_SESSIONS = "end_sessions"
    PING = "ping"
    # server -> client
    WELCOME = "welcome"
    SIGNED_IN = "signed_in"
    SIGNED_OUT = "signed_out"
    AGENT_STATE = "agent_state"
    SCREEN_POP = "screen_pop"
    CALL_CONNECTED = "call_connected"
    CALL_ENDED = "call_ended"
    CALL_MISSED = "call_missed"
    CASE_CREATED = "case_created"
    HISTORY = "history"
    CASES = "cases"
    CASE = "case"
    DISPATCH_SUGGESTION = "dispatch_suggestion"
    CLASSIFICATIONS = "classifications"
    CASE_UPDATED = "case_updated"
    CONTACT_REVEALED = "contact_revealed"
    CASE_ALERT = "case_alert"
    CASE_EVENT = "case_event"
    CANDIDATES = "candidates"
    ATTACHMENT_ADDED = "attachment_added"
    ATTACHMENTS = "attachments"
    ATTACHMENT_DATA = "attachment_data"
    CONFERENCE_STATE = "conference_state"
    MISSED_CALLS = "missed_calls"
    MISSED_CALL = "missed_call"
    DIALING = "dialing"
    WALLBOARD = "wallboard"
    WALLBOARD_UNSUBSCRIBED = "wallboard_unsubscribed"
    AGENT_SUPERVISED = "agent_supervised"
    QA_CALLS = "qa_calls"
    QA_CALL = "qa_call"
    QA_RECORDING = "qa_recording"
    QA_RECORDING_DATA = "qa_recording_data"
    QA_SCORED = "qa_scored"
    TRANSFER_STATE = "transfer_state"
    SESSIONS_ENDED = "sessions_ended"
    SESSION_ENDED = "session_ended"
    ALARM = "alarm"
    PONG = "pong"
    ERROR = "error"


@dataclass(frozen=True)
class Field:
    """One field of a client message: its JSON type, whether it must be present, and its largest length."""

    kind: type
    required: bool = True
    max_len: int = 256
    choices: tuple[str, ...] = ()
    low: int | None = None
    high: int | None = None
    item: type | None = None
    """For a list: the JSON type of its items (`max_len` is then the largest number of items)."""


CASE_ID: Final = Field(int, low=1, high=2**53)
RETURN_REASONS: Final = ("not_our_duty", "wrong_area", "insufficient_info", "duplicate", "other")
"""退单理由 (schema.cases.ReturnReason): 非本单位职责, 属地错误, 信息不全, 重复工单, 其他."""

CLIENT_MESSAGES: Final[Mapping[str, Mapping[str, Field]]] = {
    Msg.HELLO: {"version": Field(str, max_len=16), "client": Field(str, required=False, max_len=64)},
    Msg.SIGN_IN: {"agent_id": Field(str, max_len=64), "password": Field(str, max_len=256)},
    Msg.RESUME: {"token": Field(str, max_len=128)},
    Msg.SIGN_OUT: {},
    Msg.SET_STATE: {
        "state": Field(str, choices=(AgentState.READY, AgentState.PAUSED)),
        "reason": Field(str, required=False, max_len=64),
    },
    Msg.CREATE_CASE: {
        "call_id": Field(str, required=False, max_len=64),
        "hotline": Field(str, max_len=20),
        "caller": Field(str, required=False, max_len=40),
        "category": Field(str, required=False, max_len=64),
        "request": Field(str, max_len=20_000),
        "address": Field(str, required=False, max_len=256),
        "urgency": Field(str, choices=URGENCIES),
        "citizen_name": Field(str, required=False, max_len=128),
        "contact": Field(str, required=False, max_len=40),
        "language": Field(str, max_len=16),
        "handling": Field(str, choices=HANDLINGS),
        "request_type": Field(str, required=False, choices=REQUEST_TYPES),
        "classification": Field(str, required=False, max_len=6),
        "district": Field(str, required=False, max_len=64),
        "street": Field(str, required=False, max_len=64),
        "grid_cell": Field(str, required=False, max_len=64),
        "latitude": Field(float, required=False),
        "longitude": Field(float, required=False),
        "confidential": Field(bool, required=False),
    },
    Msg.CALLER_HISTORY: {"caller": Field(str, max_len=40), "limit": Field(int, required=False, low=1, high=50)},
    Msg.SEARCH_CASES: {
        "text": Field(str, required=False, max_len=128),
        "mine": Field(bool, required=False),
        "limit": Field(int, required=False, low=1, high=200),
    },
    Msg.GET_CASE: {"case_id": CASE_ID},
    Msg.SUGGEST_DISPATCH: {"case_id": CASE_ID},
    Msg.LIST_CLASSIFICATIONS: {},
    Msg.LIST_CASES: {
        "status": Field(str, required=False, choices=CASE_STATUSES),
        "open": Field(bool, required=False),
        "overdue": Field(bool, required=False),
        "text": Field(str, required=False, max_len=128),
        "limit": Field(int, required=False, low=1, high=200),
    },
    Msg.DISPATCH_CASE: {
        "case_id": CASE_ID,
        "units": Field(list, required=False, max_len=MAX_UNITS, item=int),
        "deadline_hours": Field(int, required=False, low=1, high=24 * 365),
        "instructions": Field(str, required=False, max_len=MAX_NOTE),
    },
    Msg.ACCEPT_CASE: {"case_id": CASE_ID},
    Msg.RETURN_CASE: {
        "case_id": CASE_ID,
        "reason": Field(str, max_len=MAX_NOTE),
        "reason_code": Field(str, required=False, choices=RETURN_REASONS),
    },
    Msg.REVIEW_RETURN: {
        "case_id": CASE_ID,
        "approved": Field(bool),
        "note": Field(str, required=False, max_len=MAX_NOTE),
    },
    Msg.REQUEST_EXTENSION: {
        "case_id": CASE_ID,
        "reason": Field(str, max_len=MAX_NOTE),
        "deadline_at": Field(str, max_len=40),
    },
    Msg.DECIDE_EXTENSION: {
        "case_id": CASE_ID,
        "approved": Field(bool),
        "note": Field(str, required=False, max_len=MAX_NOTE),
    },
    Msg.HANDLE_CASE: {"case_id": CASE_ID, "result": Field(str, max_len=20_000)},
    Msg.REPORT_PROGRESS: {"case_id": CASE_ID, "text": Field(str, max_len=MAX_NOTE)},
    Msg.FOLLOW_UP_CASE: {
        "case_id": CASE_ID,
        "reached": Field(bool),
        "solved": Field(bool, required=False),
        "satisfaction": Field(str, required=False, choices=SATISFACTIONS),
        "rating": Field(str, required=False, choices=RATINGS),
        "channel": Field(str, required=False, choices=FOLLOW_UP_CHANNELS),
        "notes": Field(str, required=False, max_len=MAX_NOTE),
        "call_id": Field(str, required=False, max_len=64),
    },
    Msg.REVIEW_CASE: {
        "case_id": CASE_ID,
        "approved": Field(bool),
        "reason": Field(str, required=False, max_len=MAX_NOTE),
        "deadline_hours": Field(int, required=False, low=1, high=24 * 365),
    },
    Msg.SUPERVISE_CASE: {"case_id": CASE_ID, "instructions": Field(str, max_len=MAX_NOTE)},
    Msg.ESCALATE_TO_LEADER: {"case_id": CASE_ID, "instructions": Field(str, max_len=MAX_NOTE)},
    Msg.RESOLVE_DIRECTLY: {"case_id": CASE_ID, "resolution": Field(str, max_len=20_000)},
    Msg.FORWARD_CASE: {"case_id": CASE_ID, "address": Field(str, required=False, max_len=256)},
    Msg.SET_CONFIDENTIAL: {
        "case_id": CASE_ID,
        "confidential": Field(bool),
        "reason": Field(str, required=False, max_len=MAX_NOTE),
    },
    Msg.REVEAL_CONTACT: {"case_id": CASE_ID},
    Msg.MERGE_CANDIDATES: {"case_id": CASE_ID, "limit": Field(int, required=False, low=1, high=50)},
    Msg.MERGE_CASES: {"case_id": CASE_ID, "master_id": CASE_ID},
    Msg.UNMERGE_CASE: {"case_id": CASE_ID, "reason": Field(str, max_len=MAX_NOTE)},
    Msg.FOLLOW_UPS_DUE: {
        "limit": Field(int, required=False, low=1, high=200),
        "offset": Field(int, required=False, low=0, high=MAX_PAGE_OFFSET),
        "overdue": Field(bool, required=False),
    },
    Msg.ADD_ATTACHMENT: {
        "case_id": CASE_ID,
        "dispatch_id": Field(int, required=False, low=1, high=2**53),
        "filename": Field(str, max_len=255),
        "data": Field(str, max_len=ATTACHMENT_LINK_BASE64),
    },
    Msg.LIST_ATTACHMENTS: {"case_id": CASE_ID},
    Msg.GET_ATTACHMENT: {"token": Field(str, max_len=64), "offset": Field(int, required=False, low=0, high=2**40)},
    Msg.CONFERENCE: {
        "action": Field(str, choices=("start", "leave", "end")),
        "call_id": Field(str, max_len=64),
        "number": Field(str, required=False, max_len=40),
        "partner": Field(str, required=False, max_len=8),
    },
    Msg.LIST_MISSED_CALLS: {
        "filter": Field(str, required=False, choices=MISSED_FILTERS),
        "limit": Field(int, required=False, low=1, high=200),
        "offset": Field(int, required=False, low=0, high=MAX_PAGE_OFFSET),
    },
    Msg.CLAIM_MISSED_CALL: {"task_id": Field(int, low=1, high=2**53)},
    Msg.MISSED_CALL_ATTEMPT: {
        "task_id": Field(int, low=1, high=2**53),
        "outcome": Field(str, choices=MISSED_OUTCOMES),
        "notes": Field(str, required=False, max_len=MAX_NOTE),
    },
    Msg.DIAL_CITIZEN: {
        "case_id": Field(int, required=False, low=1, high=2**53),
        "task_id": Field(int, required=False, low=1, high=2**53),
        "purpose": Field(str, required=False, choices=OUTBOUND_PURPOSES),
    },
    Msg.WALLBOARD_SUBSCRIBE: {},
    Msg.WALLBOARD_UNSUBSCRIBE: {},
    Msg.SUPERVISE_AGENT: {
        "agent_id": Field(str, max_len=64),
        "action": Field(str, choices=SUPERVISOR_ACTIONS),
        "reason": Field(str, required=False, max_len=64),
        "phone": Field(str, required=False, max_len=40),
    },
    Msg.QA_SEARCH_CALLS: {
        "hotline": Field(str, required=False, max_len=20),
        "date_from": Field(str, required=False, max_len=10),
        "date_to": Field(str, required=False, max_len=10),
        "agent": Field(str, required=False, max_len=64),
        "words": Field(str, required=False, max_len=128),
        "limit": Field(int, required=False, low=1, high=200),
    },
    Msg.QA_GET_CALL: {"call_id": Field(str, max_len=64)},
    Msg.QA_OPEN_RECORDING: {
        "call_id": Field(str, max_len=64),
        "side": Field(str, required=False, choices=RECORDING_SIDES),
    },
    Msg.QA_READ_RECORDING: {"playback_id": Field(str, max_len=64), "offset": Field(int, low=0, high=2**40)},
    Msg.QA_SCORE_CALL: {
        "call_id": Field(str, max_len=64),
        "score": Field(int, low=0, high=100),
        "comment": Field(str, required=False, max_len=MAX_NOTE),
    },
    Msg.TRANSFER: {
        "action": Field(str, choices=TRANSFER_ACTIONS),
        "call_id": Field(str, max_len=64),
        "agent_id": Field(str, required=False, max_len=64),
        "number": Field(str, required=False, max_len=40),
        "partner": Field(str, required=False, max_len=8),
    },
    Msg.END_SESSIONS: {"login": Field(str, max_len=64)},
    Msg.PING: {},
}
"""The fields of every client request (besides `type` and the optional `id`). Unknown fields are ignored."""

ACTION_REQUESTS: Final[Mapping[str, str]] = {
    "dispatch": Msg.DISPATCH_CASE,
    "accept": Msg.ACCEPT_CASE,
    "return": Msg.RETURN_CASE,
    "handle": Msg.HANDLE_CASE,
    "follow_up": Msg.FOLLOW_UP_CASE,
    "approve": Msg.REVIEW_CASE,
    "send_back": Msg.REVIEW_CASE,
    "supervise": Msg.SUPERVISE_CASE,
    "escalate_to_leader": Msg.ESCALATE_TO_LEADER,
    "resolve_directly": Msg.RESOLVE_DIRECTLY,
    "forward": Msg.FORWARD_CASE,
}
"""The request that makes each workflow action named in a case's `allowed_actions` (`approve` and `send_back`
are `review_case` with `approved` true or false; `forward` is an exchange-mode case the hotline's own system
refused, sent again). Actions not listed here (`escalate`, `exchange_update`, `exchange_refused`,
`master_closed`) are made by the platform itself, not from a desktop; `merge` and `unmerge` are made with
`merge_cases` and `unmerge_case`, from the candidates a desktop asks for (`merge_candidates`), not offered as
a case's buttons."""
RULE_REQUESTS: Final[Mapping[str, str]] = {
    "accept_return": Msg.REVIEW_RETURN,
    "reject_return": Msg.REVIEW_RETURN,
    "request_extension": Msg.REQUEST_EXTENSION,
    "approve_extension": Msg.DECIDE_EXTENSION,
    "refuse_extension": Msg.DECIDE_EXTENSION,
    "report_progress": Msg.REPORT_PROGRESS,
}
"""The work-order rules' actions (since 1.7) named in `allowed_actions` and the request that makes each
(`accept_return` and `reject_return` are `review_return` with `approved` true or false; likewise the
extension's decision; `report_progress`, a unit's 阶段性回复, since 1.11). Apart from ACTION_REQUESTS: a
desktop offers buttons for those it knows."""


class DomainError(Exception):
    """Base of every refusal the platform's features make. `error_id` is an `ErrorId` member, stable, for
    programs (the class's own, or the one given); `message` is English, for people; `detail` holds JSON-able
    facts about it (`field`, `current`, ...). The link sends any of them to the desktop as an `error` message
    unchanged (`error()`); docs/protocol.md lists every id."""

    error_id: ErrorId = ErrorId.INTERNAL_ERROR

    def __init__(self, message: str, *, error_id: ErrorId | None = None, **detail: Any) -> None:
        super().__init__(message)
        if error_id is not None:
            self.error_id = ErrorId(error_id)
        self.message = message
        self.detail = detail


_State = TypeVar("_State", bound=StrEnum)


class MoveError(DomainError, Generic[_State]):
    """A move a state machine does not allow: the `subject` (of the subclass) `name` cannot go from
    `current` to `target`; `detail` has `current` and `target`."""

    subject = "state machine"

    def __init__(self, name: str, current: _State, target: _State) -> None:
        super().__init__(f"{self.subject} {name}: cannot go from {current} to {target}", current=current, target=target)
        self.current = current
        self.target = target


class ProtocolError(DomainError):
    """A request the link refuses (malformed, out of turn, not allowed); becomes an `error` message."""

    def __init__(self, error_id: ErrorId, message: str, **detail: Any) -> None:
        super().__init__(message, error_id=error_id, **detail)
        self.re: Any = None
        """The request's `id`, when the frame got far enough to have one."""


def decode(frame: str | bytes) -> dict[str, Any]:
    """Parse and validate one client frame. Raises ProtocolError with the reason; never anything else."""
    if isinstance(frame, bytes):
        raise ProtocolError(ErrorId.BINARY_FRAME, "binary frames are not part of the protocol; send JSON text")
    if len(frame) > MAX_FRAME or len(frame.encode("utf-8", "surrogatepass")) > MAX_FRAME:
        raise ProtocolError(ErrorId.FRAME_TOO_LARGE, f"a frame may be at most {MAX_FRAME} bytes", limit=MAX_FRAME)
    try:
        data = json.loads(frame)
    except (ValueError, RecursionError):
        raise ProtocolError(ErrorId.MALFORMED_JSON, "the frame is not valid JSON") from None
    if not isinstance(data, dict):
        raise ProtocolError(ErrorId.MALFORMED_JSON, "a message is a JSON object")
    bad = _not_unicode(data)
    if bad is not None:
        # JSON's \uXXXX escapes can spell a lone surrogate, which no UTF-8 text (and no reply) can carry.
        raise ProtocolError(ErrorId.INVALID_FIELD, f"{bad} is not valid Unicode text", field=bad)
    req_id = data.get("id")
    if req_id is not None and (
        isinstance(req_id, bool)
        or not isinstance(req_id, (str, int))
        or (isinstance(req_id, str) and len(req_id) > MAX_ID_LENGTH)
    ):
        data.pop("id", None)
        raise ProtocolError(ErrorId.INVALID_FIELD, "id must be a short string or an integer", field="id")
    try:
        kind = data.get("type")
        if not isinstance(kind, str):
            raise ProtocolError(ErrorId.INVALID_FIELD, "type must be a string naming the message", field="type")
        spec = CLIENT_MESSAGES.get(kind)
        if spec is None:
            raise ProtocolError(ErrorId.UNKNOWN_TYPE, f"unknown message type {kind[:40]!r}", received=kind[:40])
        for name, field in spec.items():
            check_field(data, name, field)
    except ProtocolError as exc:
        exc.re = req_id
        raise
    return data


def _not_unicode(data: dict[str, Any]) -> str | None:
    """The first top-level field (or "type"/"id") whose name or any text inside is not valid Unicode."""

    def bad(value: Any) -> bool:
        if isinstance(value, str):
            if value.isascii():
                return False
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return True
            return False
        if isinstance(value, list):
            return any(bad(v) for v in value)
        if isinstance(value, dict):
            return any(bad(k) or bad(v) for k, v in value.items())
        return False

    for name, value in data.items():
        if bad(name):
            return name.encode("utf-8", "replace").decode("utf-8")
        if bad(value):
            return name
    return None


def check_field(data: Mapping[str, Any], name: str, field: Field) -> None:
    value = data.get(name)
    if value is None:
        if field.required:
            raise ProtocolError(ErrorId.INVALID_FIELD, f"{name} is required", field=name)
        return
    kind: type | tuple[type, ...] = (int, float) if field.kind is float else field.kind  # JSON: 43 is a number too
    ok = isinstance(value, kind) and not (field.kind in (int, float) and isinstance(value, bool))
    if not ok:
        raise ProtocolError(ErrorId.INVALID_FIELD, f"{name} must be a {field.kind.__name__}", field=name)
    if isinstance(value, str):
        if len(value) > field.max_len:
            raise ProtocolError(ErrorId.INVALID_FIELD, f"{name} is longer than {field.max_len}", field=name)
        if "\x00" in value:
            raise ProtocolError(ErrorId.INVALID_FIELD, f"{name} contains a NUL character", field=name)
        if field.choices and value not in field.choices:
            allowed = ", ".join(field.choices)
            raise ProtocolError(ErrorId.INVALID_FIELD, f"{name} must be one of: {allowed}", field=name)
    if isinstance(value, list):
        if len(value) > field.max_len:
            raise ProtocolError(ErrorId.INVALID_FIELD, f"{name} has more than {field.max_len} items", field=name)
        if field.item is not None and not all(
            isinstance(v, field.item) and not (field.item is int and isinstance(v, bool)) for v in value
        ):
            raise ProtocolError(
                ErrorId.INVALID_FIELD, f"every item of {name} must be a {field.item.__name__}", field=name
            )
    if isinstance(value, int) and not isinstance(value, bool):
        if (field.low is not None and value < field.low) or (field.high is not None and value > field.high):
            raise ProtocolError(ErrorId.INVALID_FIELD, f"{name} must be in {field.low}..{field.high}", field=name)


_ENCODE_OPTIONS: Final = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def encode(message: Mapping[str, Any]) -> str:
    """One message as the text of a frame: compact JSON, non-ASCII as is, a value JSON has no type for as its
    `str()`, NaN and the infinities as null. Otherwise the same text the standard library's
    `json.dumps(message, ensure_ascii=False, separators=(",", ":"), default=str)` writes, made by orjson: a
    screen-pop with five cases takes about 35 us that way and 6 us this one, on the one event loop that
    writes every pop (benchmarks/bench_screenpop.py). What orjson cannot write (an integer past 64 bits, a
    client's request id echoed back) is written by the standard library."""
    return encode_utf8(message).decode()


def encode_utf8(message: Mapping[str, Any]) -> bytes:
    """`encode(message)` as UTF-8 bytes, as a text frame carries it (the server writes these)."""
    try:
        return orjson.dumps(message, default=str, option=_ENCODE_OPTIONS)
    except TypeError:  # orjson.JSONEncodeError
        return json.dumps(message, ensure_ascii=False, separators=(",", ":"), default=str).encode()


# --- shapes of the server's messages (for clients and type checking) -------------------------------------


class HotlineInfo(TypedDict):
    number: str
    name_zh: str
    name_en: str
    categories: list[str]


class PartnerInfo(TypedDict):
    """`signed_in`'s `partners` (since 1.10): an emergency or police partner a call can be handed to (联动)."""

    key: str
    """What `transfer` and `conference` name it by (`partner`): "110"."""
    name_zh: str
    name_en: str
    work_order: bool
    """Whether the case's work order is pushed to the partner's system when a call is handed to it."""


class AgentInfo(TypedDict):
    id: str
    name: str
    role: str
    extension: str | None
    languages: list[str]


class PhoneAccount(TypedDict):
    """`signed_in`'s `phone` (since 1.7): the SIP account the desktop's softphone registers with, for an agent
    whose phone registers (config: no fixed `contact`). Keep it in memory only."""

    aor: str
    """`sip:<extension>@<Asterisk's SIP host>:<port>`."""
    password: str
    register_seconds: int


class AgentStateInfo(TypedDict):
    state: str
    reason: str
    wrapup_remaining: float | None
    """Seconds of wrap-up left when the message was sent (None outside wrap-up)."""
    since: str
    pause_after: str | None
    """A supervisor's pause waiting for the current call to end: its reason (None if there is none)."""


class CitizenFields(TypedDict):
    """Who the citizen is, as the person (or system) a case is shown to may see it (since 1.6,
    `confidential`). For a confidential work order (保密工单) the three texts are masked (`*******5678`,
    `张**`) for the centre's roles and null for everyone else; `reveal_contact` gives them in clear."""

    caller: str | None
    citizen_name: str | None
    contact: str | None
    confidential: bool


class CaseSummary(CitizenFields):
    id: int
    number: str
    hotline: str
    status: str
    created_at: str
    category: str | None
    request: str
    address: str | None
    urgency: str
    handling: str
    call_id: str | None
    created_by: str
    request_type: str
    """One of REQUEST_TYPES (since 1.6)."""
    classification: str | None
    """The classification node's code (since 1.6)."""
    classification_name: str | None
    """The node's names when the case was taken, from the top: `城乡建设 / 市政设施 / 路灯` (since 1.6)."""
    district: str | None
    street: str | None
    grid_cell: str | None
    latitude: float | None
    longitude: float | None


class RevealedContact(TypedDict):
    """`contact_revealed`'s `contact`: a case's citizen in clear, canonical and as given (since 1.6)."""

    case_id: int
    number: str
    confidential: bool
    citizen_name: str | None
    contact: str | None
    contact_raw: str | None
    caller: str | None
    caller_raw: str | None


class CaseListItem(CaseSummary):
    """A row of the unit / supervisor view (`list_cases`): a summary with its deadline."""

    deadline_at: str | None
    """The earliest deadline of the units still working on it (None when no unit is)."""
    overdue: bool
    supervision_level: int
    exchange_refusal: str | None
    """Exchange mode: the hotline's own system refused the case (status `returned`): its GeoReport v2 error
    codes and descriptions, e.g. `HTTP 400: 400 location required`; None otherwise."""
    exchange_stalled: str | None
    """Exchange mode, since 1.4: the case's request has not reached the hotline's own system in
    `exchange.STALL_ATTEMPTS` (8) or more tries in a row and is still retried; the last error (e.g.
    `HTTP 503: 503 maintenance`). None when it got through or is not failing that long."""
    follow_up_due_at: str | None
    """Since 1.7: when the follow-up call (回访) is due, while the citizen waits for it; None otherwise."""
    follow_up_overdue: bool
    """Since 1.7: `follow_up_due_at` has passed."""
    follow_up_rating: str | None
    """Since 1.7: the citizen's five-level rating of the case at its latest follow-up (一事一评, `RATINGS`)."""
    send_back_required: bool
    """Since 1.7: the follow-up found the citizen unsatisfied; the reviewer sends the case back (发回重办)."""


class DispatchInfo(TypedDict):
    id: int
    unit_id: int
    unit_name: str
    lead: bool
    status: str
    """pending, accepted, returned, handled, withdrawn"""
    dispatched_at: str
    deadline_at: str
    overdue: bool
    instructions: str | None
    accepted_at: str | None
    returned_at: str | None
    return_reason: str | None
    handled_at: str | None
    result: str | None
    sign_for_deadline_at: NotRequired[str | None]
    """签收时限 (since 1.7); None without configured limits."""
    signed_on_time: NotRequired[bool | None]
    """Whether the unit signed for it by then; None while unsigned or without a deadline."""
    feedback_deadline_at: NotRequired[str | None]


class ProgressReportInfo(TypedDict):
    """A unit's progress report (阶段性回复, since 1.11) on its signed-for share, in a case detail."""

    id: int
    dispatch_id: int
    unit_id: int
    unit_name: str
    lead: bool
    """Whether the share it was written on is the lead's (主办) or a co-unit's (协办)."""
    text: str
    """1-2000 characters."""
    reported_at: str


class UnitRequestInfo(TypedDict):
    """What a unit's request on its share (a return, an extension) and the centre's decision of it carry."""

    id: int
    unit_id: int
    reason: str
    requested_at: str
    status: str
    """pending, approved, refused"""
    decided_at: str | None
    decision_note: str | None


class ReturnInfo(UnitRequestInfo):
    """A unit's return (退单) of its share and the centre's review (since 1.7)."""

    reason_code: str
    """One of RETURN_REASONS."""


class ExtensionInfo(UnitRequestInfo):
    """A unit's request for a later deadline (延期) and the centre's decision (since 1.7)."""

    deadline_before: str
    deadline_asked: str


class FollowUpInfo(TypedDict):
    at: str
    reached: bool
    solved: bool | None
    satisfaction: str | None
    rating: str | None
    """Since 1.7: the five-level rating (`RATINGS`); a keypad survey answer's is the call's (一次一评)."""
    channel: str | None
    """Since 1.7: `phone` or `sms`; None for the keypad survey and for older follow-ups."""
    notes: str | None
    call_id: str | None
    """Since 1.9: the outbound call (`dial_citizen`) the follow-up was made on."""


class ReviewInfo(TypedDict):
    at: str
    approved: bool
    reason: str | None


class SupervisionInfo(TypedDict):
    at: str
    level: int
    overdue: bool
    leader: bool
    instructions: str | None


class ClassificationInfo(TypedDict):
    """A node of the classification catalogue a new case may name (`classifications`, since 1.6)."""

    code: str
    """Six digits, two per level (GB/T 39666 style): `010000`, `010100`, `010101`."""
    name_zh: str
    name_en: str | None
    level: int
    """1, 2 or 3; a node follows its parent in code order."""


class DispatchSuggestion(TypedDict):
    """The dispatch catalogue's rule for a case (`dispatch_suggestion`): None fields when there is none."""

    case_id: int
    rule_id: int | None
    automatic: bool
    units: list[UnitInfo]
    """Lead first, then the co-units; empty when no rule fits (the centre dispatches by hand)."""


class UnitInfo(TypedDict):
    id: int
    name: str
    level: int
    parent_id: int | None


class TransferInfo(TypedDict):
    """One transfer of a call (`transfer_state`, the pop of a transferred call, the case detail)."""

    id: int
    kind: str
    """blind or attended"""
    state: str
    """ringing, answered, completed, cancelled, failed"""
    from_agent: str
    target_agent: str | None
    target_number: str | None
    started_at: str
    answered_at: str | None
    ended_at: str | None


class ParticipantInfo(TypedDict):
    role: str
    """citizen, agent or unit"""
    number: str | None
    channel: str
    joined_at: str | None
    left_at: str | None


class CaseDetail(CaseListItem):
    """One case as `get_case` and the workflow actions answer it, for the person who asked."""

    language: str
    channel: str
    updated_at: str
    handled_at: str | None
    closed_at: str | None
    resolution: str | None
    leader_escalated: bool
    dispatches: list[DispatchInfo]
    follow_ups: list[FollowUpInfo]
    reviews: list[ReviewInfo]
    supervisions: list[SupervisionInfo]
    allowed_actions: list[str]
    """What the signed-in person may do now (names of ACTION_REQUESTS and RULE_REQUESTS); the server still
    checks."""
    dispatch_units: list[UnitInfo]
    """The units the case may be dispatched to; empty unless `dispatch` is allowed."""
    transfers: NotRequired[list[TransferInfo]]
    """Transfers of the call the case was taken on (empty for a case without a call)."""
    conference: NotRequired[list[ParticipantInfo]]
    """Who took part in the call's three-way conference, and when."""
    master: NotRequired[CaseRef | None]
    """并单: the master case a merged case follows (its status is the progress shown), else None."""
    duplicates: NotRequired[list[CaseRef]]
    """并单: the cases merged into this one."""
    attachments: NotRequired[list[AttachmentInfo]]
    """Since 1.7: the case's attachments and its units' results', oldest first."""
    dispatch_deadline_at: NotRequired[str | None]
    """派单时限 (since 1.7): when the case must be dispatched by; None without configured limits."""
    redispatch_count: NotRequired[int]
    send_back_count: NotRequired[int]
    problem_at: NotRequired[str | None]
    """问题工单: when a counter reached the centre's threshold (supervision raised a level)."""
    returns: NotRequired[list[ReturnInfo]]
    extensions: NotRequired[list[ExtensionInfo]]
    linkage: NotRequired[list[LinkageInfo]]
    """联动 (since 1.10): the call's handoffs to emergency and police partners and their work orders."""
    progress_reports: NotRequired[list[ProgressReportInfo]]
    """阶段性回复 (since 1.11): every unit's progress reports on the case, oldest first."""


class LinkageInfo(TypedDict):
    """A call handed to a partner (110/119/120) and the work order pushed to it (a case detail's `linkage`)."""

    partner: str
    name_zh: str
    name_en: str
    kind: str
    """blind, attended (transfers) or three_way"""
    agent: str
    at: str
    work_order: str | None
    """The delivery of the case's work order to this partner (one per case and partner, so every handoff to the
    same partner shows the same one): pending, awaiting_id, delivered, refused; None when the partner has no
    receiver."""
    attempts: int
    service_request_id: str | None
    """The partner's receipt (GeoReport v2 `service_request_id`)."""
    token: str | None
    delivered_at: str | None
    error: str | None
    """The last failed attempt's error, or the partner's refusal."""
    result_status: str | None
    """The partner's last status of its request: open or closed (None until it reports)."""
    result_notes: str | None


class AttachmentInfo(TypedDict):
    """A photo, audio file or document on a case or on a unit's result (`attachments`, since 1.7)."""

    id: int
    token: str
    """The attachment's random name: `get_attachment` reads it by this (the server still checks who asks)."""
    case_id: int
    dispatch_id: int | None
    """Set for a unit's result: the unit's share of the case it was added to."""
    filename: str
    """The name it came with, cleaned; for display only."""
    mime: str
    """What the bytes are, sniffed (libmagic), never from the name."""
    size: int
    sha256: str
    uploaded_by: str
    uploaded_at: str
    removed_at: str | None
    """When retention removed the file (it can no longer be read), else None."""


class CaseRef(TypedDict):
    """Another case named from a case detail: a merged case's master, a master's duplicates."""

    id: int
    number: str
    status: str
    handled_at: str | None


class MergeSignals(TypedDict):
    """The signals of a merge candidate, each in [0, 1] (docs/cases.md, "Merging duplicates")."""

    text: float
    address: float
    category: float
    number: float


class MergeCandidate(TypedDict):
    """A likely duplicate: the case, its score (the signals' weighted sum, ≥ the threshold) and whether the
    case asked about may be merged into it now."""

    case: CaseSummary
    score: float
    signals: MergeSignals
    mergeable: bool


class CallInfo(TypedDict):
    call_id: str
    phase: str
    hotline: str | None
    hotline_name_zh: str | None
    hotline_name_en: str | None
    caller: str | None
    waited_seconds: float
    rung_at: str
    connected_at: NotRequired[str | None]
    callback_of: NotRequired[str | None]
    transfer: NotRequired[TransferInfo | None]
    """Set when the call comes to this agent by a transfer: who transferred it, how, and where it stands."""


class MissedCallInfo(TypedDict):
    """One task of the missed-call worklist (漏接回拨, since 1.8): `missed_calls` rows, `missed_call` `task`."""

    id: int
    call_id: str
    last_call_id: str
    hotline: str
    caller: str
    caller_raw: str | None
    missed_at: str
    last_missed_at: str
    misses: int
    reason: str
    due_at: str
    overdue: bool
    status: str
    claimed_by: str | None
    claim_until: str | None
    attempts: int
    last_attempt_at: str | None
    last_outcome: str | None
    last_attempt_by: str | None
    notes: str | None
    closed_at: str | None
    closed_by_call: str | None


class ScreenPop(TypedDict):
    type: str
    call: CallInfo
    history: list[CaseSummary]
    resumed: bool


class QaCallRow(TypedDict):
    """A call found by `qa_search_calls`."""

    call_id: str
    hotline: str | None
    caller: str | None
    agent: str | None
    arrived_at: str
    talk_seconds: float | None
    transcribed: bool
    snippet: str
    """The start of the transcript ("" when there is none)."""
    recording_available: bool
    last_score: int | None
    recording_status: NotRequired[str | None]
    """`ok` (the files were checked when the call ended), `failed` (see `recording_error`; never available),
    None (not checked: not recorded, or recorded before the check existed). Since 1.3."""
    recording_error: NotRequired[str | None]
    """Why the recording failed (missing, 0 bytes, header only, truncated: which file); None otherwise."""


class QaSentence(TypedDict):
    speaker: str
    """caller (the citizen), agent, or mixed (a one-channel recording: who spoke is unknown)"""
    start: float
    end: float
    text: str
    confidence: float | None
    """The mean of the recogniser's word confidences (0..1); None without words."""


class QaScoreInfo(TypedDict):
    score: int
    comment: str | None
    by: str
    role: str
    at: str


class QaCallDetail(TypedDict):
    """One call as `qa_get_call` answers it."""

    call_id: str
    hotline: str | None
    hotline_name_zh: str | None
    hotline_name_en: str | None
    caller: str | None
    agent: str | None
    state: str
    arrived_at: str
    answered_at: str | None
    ended_at: str | None
    wait_seconds: float | None
    talk_seconds: float | None
    end_reason: str | None
    recording_sides: list[str]
    """The sides whose file exists now (`mix`, `caller`, `agent`); empty when none was recorded or retention
    removed them."""
    transcription_status: str | None
    """The transcription job: pending, running, done, failed; None when there is none."""
    recording_status: NotRequired[str | None]
    """As in QaCallRow; a `failed` recording has no `recording_sides`. Since 1.3."""
    recording_error: NotRequired[str | None]
    transcript_model: str | None
    duration_seconds: float | None
    sentences: list[QaSentence]
    cases: list[dict[str, Any]]
    """`id`, `number`, `status` of each case taken on the call."""
    scores: list[QaScoreInfo]
    """Newest first."""


ALARM_KINDS: Final = (
    "recordings_disk_low",
    "recordings_disk_full",
    "recordings_disk_unavailable",
    "recordings_disk_ok",
    "recording_failed",
)
"""The `kind` of an `alarm` push (docs/protocol.md, "Alarms")."""
ALARM_SEVERITIES: Final = ("info", "warning", "critical")


def error(error_id: ErrorId | str, message: str, re: Any = None, **detail: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"type": Msg.ERROR, "error_id": str(error_id), "message": message}
    if detail:
        out["detail"] = detail
    if re is not None:
        out["re"] = re
    return out
