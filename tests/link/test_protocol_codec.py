"""The message codec shared by server and desktop (ari_app.protocol), without a socket."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ari_app import protocol as p
from ari_app.protocol import ErrorId, ProtocolError
from tests.support.link import REFUSED_FRAMES


def err(frame: str | bytes) -> str:
    with pytest.raises(ProtocolError) as info:
        p.decode(frame)
    return info.value.error_id


def test_every_client_message_type_has_a_spec_and_round_trips() -> None:
    samples = {
        p.Msg.HELLO: {"version": "1.0"},
        p.Msg.SIGN_IN: {"agent_id": "1001", "password": "pw"},
        p.Msg.RESUME: {"token": "t"},
        p.Msg.SIGN_OUT: {},
        p.Msg.SET_STATE: {"state": "paused", "reason": "meal"},
        p.Msg.CREATE_CASE: {
            "hotline": "12319",
            "request": "停水",
            "urgency": "normal",
            "language": "zh",
            "handling": "dispatch",
        },
        p.Msg.CALLER_HISTORY: {"caller": "13800000001"},
        p.Msg.SEARCH_CASES: {"text": "水", "mine": True, "limit": 10},
        p.Msg.GET_CASE: {"case_id": 1},
        p.Msg.SUGGEST_DISPATCH: {"case_id": 1},
        p.Msg.LIST_CLASSIFICATIONS: {},
        p.Msg.LIST_CASES: {"status": "dispatched", "open": True, "overdue": False, "limit": 10},
        p.Msg.DISPATCH_CASE: {"case_id": 1, "units": [2, 3], "deadline_hours": 48, "instructions": "尽快"},
        p.Msg.ACCEPT_CASE: {"case_id": 1},
        p.Msg.RETURN_CASE: {"case_id": 1, "reason": "非本单位职责", "reason_code": "not_our_duty"},
        p.Msg.REVIEW_RETURN: {"case_id": 1, "approved": False, "note": "属本单位职责"},
        p.Msg.REQUEST_EXTENSION: {"case_id": 1, "reason": "需检测", "deadline_at": "2026-10-16T17:30:00+08:00"},
        p.Msg.DECIDE_EXTENSION: {"case_id": 1, "approved": True},
        p.Msg.HANDLE_CASE: {"case_id": 1, "result": "已修复"},
        p.Msg.REPORT_PROGRESS: {"case_id": 1, "text": "已到现场，等待配件"},
        p.Msg.FOLLOW_UP_CASE: {
            "case_id": 1,
            "reached": True,
            "solved": True,
            "satisfaction": "satisfied",
            "rating": "very_satisfied",
            "channel": "sms",
        },
        p.Msg.REVIEW_CASE: {"case_id": 1, "approved": False, "reason": "未解决"},
        p.Msg.SUPERVISE_CASE: {"case_id": 1, "instructions": "今日办结"},
        p.Msg.ESCALATE_TO_LEADER: {"case_id": 1, "instructions": "请分管领导协调"},
        p.Msg.MERGE_CANDIDATES: {"case_id": 2, "limit": 5},
        p.Msg.MERGE_CASES: {"case_id": 2, "master_id": 1},
        p.Msg.UNMERGE_CASE: {"case_id": 2, "reason": "不是同一件事"},
        p.Msg.FOLLOW_UPS_DUE: {"limit": 50, "offset": 100, "overdue": True},
        p.Msg.LIST_MISSED_CALLS: {"filter": "overdue", "limit": 20, "offset": 40},
        p.Msg.CLAIM_MISSED_CALL: {"task_id": 7},
        p.Msg.MISSED_CALL_ATTEMPT: {"task_id": 7, "outcome": "not_reached", "notes": "无人接听"},
        p.Msg.DIAL_CITIZEN: {"case_id": 42, "purpose": "follow_up"},
        p.Msg.ADD_ATTACHMENT: {"case_id": 1, "filename": "路灯.jpg", "data": "/9j/4AAQ", "dispatch_id": 3},
        p.Msg.LIST_ATTACHMENTS: {"case_id": 1},
        p.Msg.GET_ATTACHMENT: {"token": "3sbswDVRp2zeiygpWi_FzszZrqFRGmTLZu6gqOJSVpg", "offset": 36864},
        p.Msg.RESOLVE_DIRECTLY: {"case_id": 1, "resolution": "已答复"},
        p.Msg.FORWARD_CASE: {"case_id": 1, "address": "某路 8 号"},
        p.Msg.SET_CONFIDENTIAL: {"case_id": 1, "confidential": False, "reason": "市民同意公开"},
        p.Msg.REVEAL_CONTACT: {"case_id": 1},
        p.Msg.CONFERENCE: {"action": "start", "call_id": "1795930000.1", "number": "12399000001"},
        p.Msg.WALLBOARD_SUBSCRIBE: {},
        p.Msg.WALLBOARD_UNSUBSCRIBE: {},
        p.Msg.SUPERVISE_AGENT: {"agent_id": "1001", "action": "pause", "reason": "training"},
        p.Msg.QA_SEARCH_CALLS: {"hotline": "12345", "date_from": "2026-11-01", "words": "停水", "limit": 20},
        p.Msg.QA_GET_CALL: {"call_id": "1795930000.1"},
        p.Msg.QA_OPEN_RECORDING: {"call_id": "1795930000.1", "side": "caller"},
        p.Msg.QA_READ_RECORDING: {"playback_id": "p1", "offset": 36864},
        p.Msg.QA_SCORE_CALL: {"call_id": "1795930000.1", "score": 90, "comment": "规范"},
        p.Msg.TRANSFER: {"action": "blind", "call_id": "1795930000.1", "agent_id": "1002"},
        p.Msg.END_SESSIONS: {"login": "1001"},
        p.Msg.PING: {},
    }
    assert set(samples) == set(p.CLIENT_MESSAGES)
    for kind, fields in samples.items():
        msg = p.decode(p.encode({"type": kind, "id": 7, **fields}))
        assert msg["type"] == kind and msg["id"] == 7


@pytest.mark.parametrize(("frame", "error_id"), REFUSED_FRAMES)
def test_refusals_have_stable_ids(frame: str | bytes, error_id: str) -> None:
    assert err(frame) == error_id


def test_frame_limit_counts_bytes_not_characters() -> None:
    text = "水" * (p.MAX_FRAME // 3 + 10)  # fewer characters than the limit, more bytes
    assert err(json.dumps({"type": "ping", "pad": text}, ensure_ascii=False)) == ErrorId.FRAME_TOO_LARGE


def test_the_largest_attachment_fits_one_frame_and_a_byte_more_does_not() -> None:
    """`add_attachment` carries ATTACHMENT_LINK_BYTES of file with a 255-character Chinese name written as
    `\\uXXXX` escapes (json.dumps' default) and the largest ids, under MAX_FRAME; one more byte of file is
    refused by the field's length, before any decoding of the file."""
    data = base64.b64encode(b"\xff" * p.ATTACHMENT_LINK_BYTES).decode()
    assert len(data) == p.ATTACHMENT_LINK_BASE64
    msg = {"type": "add_attachment", "id": "x" * p.MAX_ID_LENGTH, "case_id": 2**53, "dispatch_id": 2**53}
    frame = json.dumps(msg | {"filename": "照" * 255, "data": data})
    assert len(frame.encode()) <= p.MAX_FRAME
    assert p.decode(frame)["data"] == data
    over = base64.b64encode(b"\xff" * (p.ATTACHMENT_LINK_BYTES + 1)).decode()
    assert err(json.dumps(msg | {"filename": "a.jpg", "data": over})) == ErrorId.INVALID_FIELD


def test_unknown_fields_are_ignored_for_forward_compatibility() -> None:
    assert p.decode('{"type":"ping","future":1}')["future"] == 1


def test_error_message_shape() -> None:
    e = p.error(ErrorId.BAD_CREDENTIALS, "nope", re=3, field="x")
    assert e == {"type": "error", "error_id": "bad_credentials", "message": "nope", "re": 3, "detail": {"field": "x"}}


@pytest.mark.parametrize(
    "frame, field",
    [
        ('{"type":"sign_in","agent_id":"a\\udfffb","password":"pw"}', "agent_id"),
        ('{"type":"sign_in","agent_id":"1001","password":"\\ud800"}', "password"),
        ('{"type":"dispatch_case","case_id":1,"units":[1],"instructions":"\\udc00"}', "instructions"),
        ('{"type":"ping","extra":{"deep":["\\ud83d"]}}', "extra"),
        ('{"type":"ping","\\udfff":1}', "?"),
        ('{"type":"ping\\udfff"}', "type"),
        ('{"type":"ping","id":"x\\udfff"}', "id"),
    ],
)
def test_text_that_is_not_valid_unicode_is_an_invalid_field_anywhere(frame: str, field: str) -> None:
    with pytest.raises(p.ProtocolError) as info:
        p.decode(frame)
    assert info.value.error_id == p.ErrorId.INVALID_FIELD
    assert info.value.detail["field"] == field
    assert info.value.re is None  # nothing that cannot be encoded is echoed back
    p.encode(p.error(info.value.error_id, info.value.message, **info.value.detail))  # the reply encodes


def test_a_surrogate_pair_is_one_valid_character() -> None:
    msg = p.decode('{"type":"search_cases","text":"\\ud83d\\ude00"}')
    assert msg["text"] == "\U0001f600"


def _stdlib(message: Any) -> str:
    """The frame text the link wrote before its encoder was orjson."""
    return json.dumps(message, ensure_ascii=False, separators=(",", ":"), default=str)


@dataclass
class _Shown:
    x: int


def test_a_frame_s_text_is_the_standard_library_s() -> None:
    """Every kind of value a message may hold is written as json.dumps wrote it: times and objects JSON has no
    type for as their str(), enums as their value, non-ASCII and JavaScript's line separators as they are."""
    message = {
        "type": p.Msg.SCREEN_POP,
        "at": datetime(2026, 11, 29, 2, 0, tzinfo=UTC),
        "state": p.AgentState.READY,
        7: "an int key",
        "object": _Shown(3),
        "set": {1},
        "float": 0.1 + 0.2,
        "text": '路灯不亮\u2028"引号"\\',
        "none": None,
        "tuple": (1, 2.5, True),
        "nested": [{"call_id": "1764378000.1", "history": []}],
    }
    assert p.encode(message) == _stdlib(message)
    huge = {"type": p.Msg.ERROR, "re": 2**70}  # a client's request id echoed back, past what orjson writes
    assert p.encode(huge) == _stdlib(huge) == '{"type":"error","re":1180591620717411303424}'
    # the one difference: a number JSON cannot write is null, where json.dumps wrote NaN / Infinity, which no
    # JSON parser but Python's reads
    assert p.encode({"nan": float("nan"), "inf": float("inf")}) == '{"nan":null,"inf":null}'


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@given(st.dictionaries(st.text(max_size=8), JSON_VALUES, max_size=6))
def test_any_message_reads_back_as_the_standard_library_s(message: dict[str, Any]) -> None:
    assert json.loads(p.encode(message)) == json.loads(_stdlib(message))
