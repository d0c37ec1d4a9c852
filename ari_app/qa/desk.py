"""The QA desk on the link: the QA view's five requests (docs/protocol.md, "Quality assurance").

Each runs its blocking query (ari_app.qa.service) in a worker thread. A playback belongs to the connection
that opened it (at most MAX_PLAYBACKS each, the oldest dropped), so every byte a desktop receives is
covered by the one audit entry of its opening. A refusal is audited in its own transaction, then raised for
the link to answer.
"""

from __future__ import annotations

import asyncio
import base64
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING
from weakref import WeakKeyDictionary
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from ari_app.cases.audit import refusals_audited
from ari_app.config import Config
from ari_app.protocol import RECORDING_CHUNK, ErrorId, Msg, ProtocolError
from ari_app.qa.service import (
    MAX_PLAYBACKS,
    Playback,
    get_call,
    open_recording,
    read_chunk,
    score_call,
    search,
    sha256_of,
)

if TYPE_CHECKING:
    from ari_app.link.routes import Request
    from ari_app.link.server import LinkServer

Clock = Callable[[], datetime]


class QaDesk:
    """One per link, holding each connection's open playbacks."""

    def __init__(self, cfg: Config, sessions: sessionmaker[Session], clock: Clock) -> None:
        self.cfg = cfg
        self.sessions = sessions
        self.clock = clock
        self.tz = ZoneInfo(cfg.timezone)
        self._playbacks: WeakKeyDictionary[object, OrderedDict[str, Playback]] = WeakKeyDictionary()

    def register(self, link: LinkServer) -> None:
        for kind, handler in (
            (Msg.QA_SEARCH_CALLS, self.search_calls),
            (Msg.QA_GET_CALL, self.get_call),
            (Msg.QA_OPEN_RECORDING, self.open_recording),
            (Msg.QA_READ_RECORDING, self.read_recording),
            (Msg.QA_SCORE_CALL, self.score_call),
        ):
            link.routes.add(kind, self._audited(handler))

    def _audited(self, handler: Callable[[Request], Awaitable[None]]) -> Callable[[Request], Awaitable[None]]:
        """`handler`, with its refusals audited (the request, the error id, the call or playback asked for
        and the client's address), in a transaction of their own."""

        async def run(req: Request) -> None:
            asked = {k: req.msg[k] for k in ("call_id", "playback_id") if req.msg.get(k) is not None}
            async with refusals_audited(
                self.sessions, req.session.actor, req.msg["type"], source=req.conn.source, **asked
            ):
                await handler(req)

        return run

    async def search_calls(self, req: Request) -> None:
        filters = {k: req.msg.get(k) or None for k in ("hotline", "date_from", "date_to", "agent", "words")}
        limit = req.msg.get("limit") or 50
        now = self.clock()
        rows = await asyncio.to_thread(search, self.sessions, req.actor, self.tz, now, limit=limit, **filters)
        req.reply(Msg.QA_CALLS, **filters, calls=rows)

    async def get_call(self, req: Request) -> None:
        detail = await asyncio.to_thread(get_call, self.sessions, req.actor, self.cfg, self.clock(), req.msg["call_id"])
        req.reply(Msg.QA_CALL, call=detail)

    async def open_recording(self, req: Request) -> None:
        side = req.msg.get("side") or "mix"
        now = self.clock()
        playback = await asyncio.to_thread(open_recording, self.sessions, req.actor, now, req.msg["call_id"], side)
        digest = await asyncio.to_thread(sha256_of, playback)
        mine = self._playbacks.setdefault(req.conn, OrderedDict())
        mine[playback.playback_id] = playback
        while len(mine) > MAX_PLAYBACKS:
            mine.popitem(last=False)
        req.reply(
            Msg.QA_RECORDING,
            playback_id=playback.playback_id,
            call_id=playback.call_id,
            side=playback.side,
            content_type="audio/wav",
            size=playback.size,
            sha256=digest,
            chunk_size=RECORDING_CHUNK,
        )

    async def read_recording(self, req: Request) -> None:
        found = self._playbacks.get(req.conn, {}).get(req.msg["playback_id"])
        if found is None:
            raise ProtocolError(
                ErrorId.PLAYBACK_NOT_FOUND, "open the recording first (qa_open_recording)", field="playback_id"
            )
        offset = req.msg["offset"]
        data = await asyncio.to_thread(read_chunk, found, offset)
        req.reply(
            Msg.QA_RECORDING_DATA,
            playback_id=found.playback_id,
            offset=offset,
            data=base64.b64encode(data).decode("ascii"),
            eof=offset + len(data) >= found.size,
        )

    async def score_call(self, req: Request) -> None:
        call_id = req.msg["call_id"]
        given, every = await asyncio.to_thread(
            score_call, self.sessions, req.actor, self.clock(), call_id, req.msg["score"], req.msg.get("comment")
        )
        req.reply(Msg.QA_SCORED, call_id=call_id, score=given, scores=every)
