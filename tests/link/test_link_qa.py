"""The QA requests through the desktop link against a real server and database: search by words, hotline,
agent and days in the centre's time zone; one call with its transcript, cases and scores; a recording
delivered in chunks that add up to the file; scores stored; every playback and score in the audit log; the
roles that may not are refused with `qa_permission_denied`, a hotline unit sees only its own hotline; and
malformed requests get an error while the connection goes on."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ari_app import protocol as p
from ari_app.link import LinkServer
from ari_app.protocol import ErrorId, Msg
from schema.cases import AuditEntry
from schema.qa import QaScore
from schema.users import Role
from tests.support.link import Desktop
from tests.support.qa_calls import seed
from tests.support.users import user

Open = Callable[[str], Awaitable[Desktop]]


@pytest.fixture
def calls(sessions: sessionmaker[Session], tmp_path: Path) -> dict[str, Any]:
    with sessions() as s, s.begin():
        for login, role, hotline in (
            ("hu12350", Role.HOTLINE_UNIT, "12350"),
            ("boss", Role.ADMIN, None),
            ("hu-none", Role.HOTLINE_UNIT, None),  # a hotline unit user whose hotline was never set
        ):
            s.add(user(login, role, display_name=login, hotline=hotline))
    return seed(sessions, tmp_path / "recordings")


@pytest.fixture
async def as_user(desktop: Any, calls: dict[str, Any]) -> Open:
    async def open_(login: str) -> Desktop:
        d: Desktop = await desktop()
        reply = await d.sign_in(login)
        assert reply["type"] == Msg.SIGNED_IN, reply
        return d

    return open_


def ids(reply: dict[str, Any]) -> list[str]:
    assert reply["type"] == Msg.QA_CALLS, reply
    return [c["call_id"] for c in reply["calls"]]


def audit(sessions: sessionmaker[Session], action: str) -> list[tuple[str, str, dict[str, Any]]]:
    with sessions() as s:
        rows = s.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id))
        return [(r.login, r.role, json.loads(r.detail or "{}")) for r in rows]


async def test_search_by_words_hotline_agent_and_days(as_user: Open) -> None:
    qa = await as_user("qa")
    assert ids(await qa.request(Msg.QA_SEARCH_CALLS)) == ["qa-water", "qa-safety", "qa-old"]  # recorded, newest first
    assert ids(await qa.request(Msg.QA_SEARCH_CALLS, words="停水")) == ["qa-water"]
    assert ids(await qa.request(Msg.QA_SEARCH_CALLS, words="停水 解放北路")) == ["qa-water"]  # every word
    assert ids(await qa.request(Msg.QA_SEARCH_CALLS, words="停水 脚手架")) == []
    assert ids(await qa.request(Msg.QA_SEARCH_CALLS, words='" OR * NEAR(')) == []  # words, never query syntax
    assert ids(await qa.request(Msg.QA_SEARCH_CALLS, hotline="12345")) == ["qa-water", "qa-old"]
    assert ids(await qa.request(Msg.QA_SEARCH_CALLS, agent="1002")) == ["qa-safety", "qa-old"]
    # 2026-11-28 20:00 UTC is the 29th in the centre's time zone (Asia/Shanghai)
    day = await qa.request(Msg.QA_SEARCH_CALLS, date_from="2026-11-29", date_to="2026-11-29")
    assert ids(day) == ["qa-water", "qa-safety"]
    assert ids(await qa.request(Msg.QA_SEARCH_CALLS, date_to="2026-11-28")) == ["qa-old"]
    row = (await qa.request(Msg.QA_SEARCH_CALLS, words="停水"))["calls"][0]
    assert row["transcribed"] and row["recording_available"] and row["snippet"].startswith("您好")
    assert row["hotline"] == "12345" and row["agent"] == "1001" and row["last_score"] is None
    old = (await qa.request(Msg.QA_SEARCH_CALLS, agent="1002", hotline="12345"))["calls"][0]
    assert old["call_id"] == "qa-old" and not old["transcribed"] and old["snippet"] == ""


async def test_get_call_with_transcript_cases_and_recording_sides(as_user: Open) -> None:
    sup = await as_user("sup")
    reply = await sup.request(Msg.QA_GET_CALL, call_id="qa-water")
    assert reply["type"] == Msg.QA_CALL, reply
    call = reply["call"]
    assert call["hotline"] == "12345" and call["hotline_name_zh"] and call["agent"] == "1001"
    assert call["recording_sides"] == ["mix", "caller", "agent"]
    assert call["transcription_status"] == "done" and call["transcript_model"] == "vosk-model-test"
    assert [(x["speaker"], x["start"], x["text"]) for x in call["sentences"]][:2] == [
        ("agent", 0.2, "您好 市民热线"),
        ("caller", 1.6, "小区 停水 三天 了"),
    ]
    assert all(x["confidence"] == 0.9 and x["end"] > x["start"] for x in call["sentences"])
    assert [c["number"] for c in call["cases"]] == ["12345-20261129-0001"] and call["scores"] == []
    old = (await sup.request(Msg.QA_GET_CALL, call_id="qa-old"))["call"]
    assert old["sentences"] == [] and old["transcription_status"] is None and old["recording_sides"]
    gone = (await sup.request(Msg.QA_GET_CALL, call_id="qa-unrecorded"))["call"]
    assert gone["recording_sides"] == []


async def test_recording_arrives_in_chunks_and_each_playback_is_audited(
    as_user: Open, calls: dict[str, Any], sessions: sessionmaker[Session]
) -> None:
    qa = await as_user("qa")
    for side in ("mix", "caller", "agent"):
        opened = await qa.request(Msg.QA_OPEN_RECORDING, call_id="qa-water", side=side)
        assert opened["type"] == Msg.QA_RECORDING and opened["side"] == side, opened
        path = Path(calls["qa-water"].recording)
        if side != "mix":
            path = path.with_name(f"qa-water-{side}.wav")
        want = path.read_bytes()
        assert opened["size"] == len(want) and opened["sha256"] == hashlib.sha256(want).hexdigest()
        got, frames = b"", 0
        while True:
            raw = await qa.request(Msg.QA_READ_RECORDING, playback_id=opened["playback_id"], offset=len(got))
            assert raw["type"] == Msg.QA_RECORDING_DATA and raw["offset"] == len(got), raw
            assert len(p.encode(raw).encode()) < p.MAX_FRAME
            got += base64.b64decode(raw["data"])
            frames += 1
            if raw["eof"]:
                break
        assert got == want and frames == -(-len(want) // p.RECORDING_CHUNK) and frames > 1
    rows = audit(sessions, "qa_playback")
    assert [(login, role, d["call_id"], d["side"]) for login, role, d in rows] == [
        ("qa", "qa", "qa-water", "mix"),
        ("qa", "qa", "qa-water", "caller"),
        ("qa", "qa", "qa-water", "agent"),
    ]
    # a playback belongs to its connection; another desktop of the same person must open its own
    other = await as_user("qa")
    refused = await other.request(Msg.QA_READ_RECORDING, playback_id=opened["playback_id"], offset=0)
    assert refused["error_id"] == ErrorId.PLAYBACK_NOT_FOUND
    past = await qa.request(Msg.QA_READ_RECORDING, playback_id=opened["playback_id"], offset=10**9)
    assert past["error_id"] == ErrorId.INVALID_FIELD and past["detail"]["field"] == "offset"
    none = await qa.request(Msg.QA_OPEN_RECORDING, call_id="qa-unrecorded")
    assert none["error_id"] == ErrorId.RECORDING_UNAVAILABLE
    # retention removed the file after the playback was opened
    fresh = await qa.request(Msg.QA_OPEN_RECORDING, call_id="qa-old")
    await asyncio.to_thread(Path(calls["qa-old"].recording).unlink)
    removed = await qa.request(Msg.QA_READ_RECORDING, playback_id=fresh["playback_id"], offset=0)
    assert removed["error_id"] == ErrorId.RECORDING_UNAVAILABLE
    assert (await qa.request(Msg.QA_GET_CALL, call_id="qa-old"))["call"]["recording_sides"] == ["caller", "agent"]


async def test_scores_are_stored_listed_and_audited(as_user: Open, sessions: sessionmaker[Session]) -> None:
    qa, boss = await as_user("qa"), await as_user("boss")
    first = await qa.request(Msg.QA_SCORE_CALL, call_id="qa-water", score=85, comment="  用语规范，记录地址完整 ")
    assert first["type"] == Msg.QA_SCORED, first
    assert first["score"]["score"] == 85 and first["score"]["comment"] == "用语规范，记录地址完整"
    assert first["score"]["by"] == "qa"
    second = await boss.request(Msg.QA_SCORE_CALL, call_id="qa-water", score=70)
    assert [(x["by"], x["score"]) for x in second["scores"]] == [("boss", 70), ("qa", 85)]  # newest first
    detail = (await qa.request(Msg.QA_GET_CALL, call_id="qa-water"))["call"]
    assert sorted(x["score"] for x in detail["scores"]) == [70, 85]
    row = (await qa.request(Msg.QA_SEARCH_CALLS, words="停水"))["calls"][0]
    assert row["last_score"] == 70
    with sessions() as s:
        assert sorted(s.scalars(select(QaScore.score))) == [70, 85]
    assert [(login, d["call_id"], d["score"]) for login, _r, d in audit(sessions, "qa_score")] == [
        ("qa", "qa-water", 85),
        ("boss", "qa-water", 70),
    ]
    for bad in (-1, 101, "90", 85.5, True):
        reply = await qa.request(Msg.QA_SCORE_CALL, call_id="qa-water", score=bad)
        assert reply["error_id"] == ErrorId.INVALID_FIELD and reply["detail"]["field"] == "score", bad
    unknown = await qa.request(Msg.QA_SCORE_CALL, call_id="nope", score=50)
    assert unknown["error_id"] == ErrorId.CALL_NOT_FOUND
    assert len(audit(sessions, "qa_score")) == 2


@pytest.mark.parametrize("login", ["1001", "dept"])
async def test_agents_and_departments_are_refused(
    as_user: Open, login: str, sessions: sessionmaker[Session], server: LinkServer
) -> None:
    d = await as_user(login)
    for kind, fields in (
        (Msg.QA_SEARCH_CALLS, {}),
        (Msg.QA_GET_CALL, {"call_id": "qa-water"}),
        (Msg.QA_OPEN_RECORDING, {"call_id": "qa-water"}),
        (Msg.QA_SCORE_CALL, {"call_id": "qa-water", "score": 100}),
    ):
        reply = await d.request(kind, **fields)
        assert reply["error_id"] == ErrorId.QA_PERMISSION_DENIED, (kind, reply)
    assert (await d.request(Msg.PING))["type"] == Msg.PONG
    assert audit(sessions, "qa_playback") == [] and audit(sessions, "qa_score") == []
    await server.audit.flush()
    refused = [(who, d["request"], d["error_id"], d.get("call_id")) for who, _role, d in audit(sessions, "refused")]
    assert refused == [
        (login, Msg.QA_SEARCH_CALLS, ErrorId.QA_PERMISSION_DENIED, None),
        (login, Msg.QA_GET_CALL, ErrorId.QA_PERMISSION_DENIED, "qa-water"),
        (login, Msg.QA_OPEN_RECORDING, ErrorId.QA_PERMISSION_DENIED, "qa-water"),
        (login, Msg.QA_SCORE_CALL, ErrorId.QA_PERMISSION_DENIED, "qa-water"),
    ]


async def test_calls_out_of_scope_and_unknown_playbacks_are_audited_as_refused(
    as_user: Open, sessions: sessionmaker[Session], server: LinkServer
) -> None:
    hu = await as_user("hu12350")
    assert (await hu.request(Msg.QA_GET_CALL, call_id="qa-water"))["error_id"] == ErrorId.CALL_NOT_FOUND
    assert (await hu.request(Msg.QA_OPEN_RECORDING, call_id="qa-water"))["error_id"] == ErrorId.CALL_NOT_FOUND
    stray = await hu.request(Msg.QA_READ_RECORDING, playback_id="someone-elses", offset=0)
    assert stray["error_id"] == ErrorId.PLAYBACK_NOT_FOUND
    assert (await hu.request(Msg.QA_GET_CALL, call_id="qa-safety"))["type"] == Msg.QA_CALL
    await server.audit.flush()
    refused = [(who, role, d) for who, role, d in audit(sessions, "refused")]
    assert {d["source"] for _w, _r, d in refused} == {"127.0.0.1"}
    assert [(w, r, d["request"], d["error_id"], d.get("call_id"), d.get("playback_id")) for w, r, d in refused] == [
        ("hu12350", "hotline_unit", Msg.QA_GET_CALL, ErrorId.CALL_NOT_FOUND, "qa-water", None),
        ("hu12350", "hotline_unit", Msg.QA_OPEN_RECORDING, ErrorId.CALL_NOT_FOUND, "qa-water", None),
        ("hu12350", "hotline_unit", Msg.QA_READ_RECORDING, ErrorId.PLAYBACK_NOT_FOUND, None, "someone-elses"),
    ]
    assert [d["call_id"] for _w, _r, d in audit(sessions, "qa_view")] == ["qa-safety"]


async def test_hotline_unit_sees_and_hears_only_its_hotline_and_may_not_score(as_user: Open) -> None:
    hu = await as_user("hu12350")
    assert ids(await hu.request(Msg.QA_SEARCH_CALLS)) == ["qa-safety"]
    assert ids(await hu.request(Msg.QA_SEARCH_CALLS, hotline="12345")) == []
    assert ids(await hu.request(Msg.QA_SEARCH_CALLS, words="停水")) == []
    assert (await hu.request(Msg.QA_GET_CALL, call_id="qa-water"))["error_id"] == ErrorId.CALL_NOT_FOUND
    assert (await hu.request(Msg.QA_OPEN_RECORDING, call_id="qa-water"))["error_id"] == ErrorId.CALL_NOT_FOUND
    assert (await hu.request(Msg.QA_GET_CALL, call_id="qa-safety"))["call"]["hotline"] == "12350"
    assert (await hu.request(Msg.QA_OPEN_RECORDING, call_id="qa-safety"))["type"] == Msg.QA_RECORDING
    refused = await hu.request(Msg.QA_SCORE_CALL, call_id="qa-safety", score=90)
    assert refused["error_id"] == ErrorId.QA_PERMISSION_DENIED and refused["detail"]["role"] == "hotline_unit"
    nowhere = await as_user("hu-none")
    assert ids(await nowhere.request(Msg.QA_SEARCH_CALLS)) == []
    assert (await nowhere.request(Msg.QA_GET_CALL, call_id="qa-safety"))["error_id"] == ErrorId.CALL_NOT_FOUND


async def test_malformed_requests_are_answered_and_the_connection_survives(
    as_user: Open, desktop: Any, server: LinkServer
) -> None:
    qa = await as_user("qa")
    for kind, fields, field in (
        (Msg.QA_SEARCH_CALLS, {"date_from": "29/11/2026"}, "date_from"),
        (Msg.QA_SEARCH_CALLS, {"date_to": "2026-02-30"}, "date_to"),
        (Msg.QA_SEARCH_CALLS, {"date_from": "2026-11-30", "date_to": "2026-11-29"}, "date_from"),
        (Msg.QA_SEARCH_CALLS, {"words": "x" * 129}, "words"),
        (Msg.QA_SEARCH_CALLS, {"limit": 0}, "limit"),
        (Msg.QA_SEARCH_CALLS, {"hotline": 12345}, "hotline"),
        (Msg.QA_GET_CALL, {}, "call_id"),
        (Msg.QA_GET_CALL, {"call_id": "a\x00b"}, "call_id"),
        (Msg.QA_OPEN_RECORDING, {"call_id": "qa-water", "side": "both"}, "side"),
        (Msg.QA_READ_RECORDING, {"playback_id": "x"}, "offset"),
        (Msg.QA_READ_RECORDING, {"playback_id": "x", "offset": -1}, "offset"),
        (Msg.QA_SCORE_CALL, {"call_id": "qa-water", "score": 50, "comment": "x" * 4001}, "comment"),
    ):
        reply = await qa.request(kind, **fields)
        assert reply["error_id"] == ErrorId.INVALID_FIELD and reply["detail"]["field"] == field, (fields, reply)
    assert (await qa.request(Msg.QA_GET_CALL, call_id="nope"))["error_id"] == ErrorId.CALL_NOT_FOUND
    unknown = await qa.request(Msg.QA_READ_RECORDING, playback_id="never-opened", offset=0)
    assert unknown["error_id"] == ErrorId.PLAYBACK_NOT_FOUND
    assert ids(await qa.request(Msg.QA_SEARCH_CALLS, words="停水")) == ["qa-water"]
    anonymous = await desktop()
    assert (await anonymous.request(Msg.QA_SEARCH_CALLS))["error_id"] == ErrorId.NOT_SIGNED_IN
    assert server.connection_count == 2
