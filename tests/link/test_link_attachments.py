"""Attachments through the desktop link (a real websocket client of a real link server): the centre adds a
photo and a recording to a case, the unit it was dispatched to lists them and reads them back in pieces,
byte for byte; an HTML file named `.jpg` is refused by what it is; another unit asking by the token gets
`attachment_not_found`, the same answer as a token that names nothing, and its try is in the case's trail;
a file over the link's frame is refused by the field's length."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from websockets.asyncio.client import connect

from ari_app import protocol as p
from ari_app.cases import CaseSettings, configure
from ari_app.config import Config
from ari_app.link import LinkServer
from ari_app.protocol import ErrorId, Msg
from schema.cases import AuditEntry, CooperatingUnit
from schema.users import Role
from tests.support.attachments import HTML, jpeg, wav, with_attachments
from tests.support.link import Desktop, case_fields
from tests.support.users import user

Open = Callable[[str], Awaitable[Desktop]]


@pytest.fixture
def units(sessions: sessionmaker[Session], cfg: Config, tmp_path: Path) -> dict[str, int]:
    """Two departments (`water`, `gas`), each with a user of that login; attachments kept under tmp_path."""
    configure(sessions, with_attachments(CaseSettings.from_config(cfg), tmp_path / "attachments"))
    found: dict[str, int] = {}
    with sessions() as s, s.begin():
        for login, name in (("water", "市供水公司"), ("gas", "市燃气公司")):
            unit = CooperatingUnit(name=name, level=2)
            s.add(unit)
            s.flush()
            s.add(user(login, Role.DEPARTMENT, unit_id=unit.id))
            found[login] = unit.id
    return found


@pytest.fixture
async def as_user(server: LinkServer, units: dict[str, int]) -> AsyncIterator[Open]:
    opened: list[Desktop] = []

    async def open_(login: str) -> Desktop:
        d = Desktop(await connect(server.url, max_size=p.HARD_MAX_FRAME * 2))
        opened.append(d)
        assert (await d.request(Msg.HELLO, version=p.PROTOCOL_VERSION))["type"] == Msg.WELCOME
        assert (await d.sign_in(login))["type"] == Msg.SIGNED_IN
        return d

    yield open_
    for d in opened:
        await d.ws.close()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


async def read_all(d: Desktop, token: str) -> tuple[bytes, int]:
    """The attachment's bytes, asked for piece by piece until `eof`; and how many pieces it took."""
    data, pieces = b"", 0
    while True:
        got = await d.request(Msg.GET_ATTACHMENT, token=token, offset=len(data))
        assert got["type"] == Msg.ATTACHMENT_DATA, got
        assert got["offset"] == len(data)
        data += base64.b64decode(got["data"])
        pieces += 1
        if got["eof"]:
            return data, pieces


async def test_a_photo_and_a_recording_reach_the_unit_and_no_other(
    as_user: Open, units: dict[str, int], sessions: sessionmaker[Session]
) -> None:
    agent, water, gas = await as_user("1001"), await as_user("water"), await as_user("gas")
    created = await agent.request(Msg.CREATE_CASE, **case_fields("水管爆裂", urgency="urgent"))
    cid = created["case"]["id"]
    assert (await agent.request(Msg.DISPATCH_CASE, case_id=cid, units=[units["water"]]))["type"] == Msg.CASE_UPDATED

    photo, recording = jpeg(seed=4), wav(seconds=2.7)
    assert p.ATTACHMENT_CHUNK < len(recording) <= p.ATTACHMENT_LINK_BYTES
    added = await agent.request(Msg.ADD_ATTACHMENT, case_id=cid, filename="现场.jpg", data=b64(photo))
    assert added["type"] == Msg.ATTACHMENT_ADDED, added
    shown = added["attachment"]
    assert (shown["mime"], shown["size"], shown["filename"], shown["dispatch_id"]) == (
        "image/jpeg",
        len(photo),
        "现场.jpg",
        None,
    )
    heard = await agent.request(Msg.ADD_ATTACHMENT, case_id=cid, filename="来电录音.wav", data=b64(recording))
    assert heard["attachment"]["mime"] == "audio/x-wav"

    refused = await agent.request(Msg.ADD_ATTACHMENT, case_id=cid, filename="照片.jpg", data=b64(HTML))
    assert refused["type"] == Msg.ERROR and refused["error_id"] == ErrorId.ATTACHMENT_TYPE_REFUSED
    assert refused["detail"]["mime"] == "text/html"
    too_big = await agent.request(
        Msg.ADD_ATTACHMENT, case_id=cid, filename="大.jpg", data=b64(b"\xff" * (p.ATTACHMENT_LINK_BYTES + 1))
    )
    assert too_big["type"] == Msg.ERROR and too_big["error_id"] == ErrorId.INVALID_FIELD
    assert too_big["detail"]["field"] == "data"

    listed = await water.request(Msg.LIST_ATTACHMENTS, case_id=cid)
    assert listed["type"] == Msg.ATTACHMENTS and listed["case_id"] == cid
    assert [a["filename"] for a in listed["attachments"]] == ["现场.jpg", "来电录音.wav"]
    assert await read_all(water, shown["token"]) == (photo, 1)
    assert await read_all(water, heard["attachment"]["token"]) == (recording, 2)
    detail = await water.request(Msg.GET_CASE, case_id=cid)
    assert [a["token"] for a in detail["case"]["attachments"]] == [a["token"] for a in listed["attachments"]]
    mine = await water.request(Msg.ADD_ATTACHMENT, case_id=cid, filename="修复后.jpg", data=b64(jpeg(seed=8)))
    assert mine["attachment"]["dispatch_id"] is not None  # the unit's goes on its result

    for token in (shown["token"], "A" * 43):
        other = await gas.request(Msg.GET_ATTACHMENT, token=token)
        assert (other["type"], other["error_id"], other.get("detail") or {}) == (
            Msg.ERROR,
            ErrorId.ATTACHMENT_NOT_FOUND,
            {},
        )
    assert (await gas.request(Msg.LIST_ATTACHMENTS, case_id=cid))["error_id"] == ErrorId.CASE_NOT_FOUND

    with sessions() as s:
        rows = s.scalars(select(AuditEntry).where(AuditEntry.action == "refused").order_by(AuditEntry.id)).all()
        reads = s.scalars(select(AuditEntry).where(AuditEntry.action == "attachment_read")).all()
    trail = [(r.login, r.case_id, json.loads(r.detail or "{}")["error_id"]) for r in rows]
    assert trail == [
        ("1001", cid, "attachment_type_refused"),
        ("gas", cid, "attachment_not_found"),
        ("gas", None, "attachment_not_found"),
        ("gas", cid, "case_not_found"),
    ]
    assert [(r.login, r.case_id) for r in reads] == [("water", cid), ("water", cid)]  # once per file read
