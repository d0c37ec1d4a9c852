"""LinkClient: the desktop's side of the desktop link (docs/protocol.md). Plain asyncio, no Qt, so it is
tested against a real server without widgets.

It keeps one connection up: connect, `hello`, and, if it holds a session token, `resume`. When the
connection drops it reports `offline`, fails the requests in flight, and reconnects with exponential backoff
and full jitter. The server is the source of truth: after every (re)connect the `signed_in` reply and the
pushes that follow are handed to `on_message` exactly like live pushes (every `signed_in` goes there, in
order, whether it answers `sign_in` or `resume`), so the window resynchronises from them alone.
The password is never stored; only the session token, in memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import random
import ssl
from collections.abc import Callable
from typing import Any, Protocol

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from ari_app import protocol as p

log = logging.getLogger(__name__)


class LinkError(Exception):
    """The server refused a request (`error_id` from the protocol), or the link is down (`offline`)."""

    def __init__(self, error_id: str, message: str, detail: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.error_id = error_id
        self.message = message
        self.detail = detail or {}


class Link(Protocol):
    """What the window needs of a LinkClient (tests pass a fake)."""

    status: str

    async def request(self, kind: str, **fields: Any) -> dict[str, Any]: ...

    async def sign_in(self, agent_id: str, password: str) -> dict[str, Any]: ...

    async def sign_out(self) -> dict[str, Any]: ...


class Status:
    CONNECTING = "connecting"
    ONLINE = "online"
    OFFLINE = "offline"


class LinkClient:
    def __init__(
        self,
        url: str,
        on_message: Callable[[dict[str, Any]], None] = lambda _m: None,
        on_status: Callable[[str], None] = lambda _s: None,
        *,
        ssl_context: ssl.SSLContext | None = None,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        request_timeout: float = 15.0,
        rng: random.Random | None = None,
    ) -> None:
        self.url = url
        self.on_message = on_message
        self.on_status = on_status
        self.ssl_context = ssl_context
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.request_timeout = request_timeout
        self.rng = rng or random.Random()
        self.token: str | None = None
        self.status = Status.CONNECTING
        self.attempts = 0
        self.connects = 0
        self._ws: ClientConnection | None = None
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._ids = itertools.count(1)
        self._online = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    # --- lifecycle -------------------------------------------------------------------------------------
    def start(self) -> asyncio.Task[None]:
        self._task = asyncio.ensure_future(self._run())
        return self._task

    async def stop(self) -> None:
        self._stopping = True
        if self._ws is not None:
            await self._ws.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def wait_online(self, timeout: float | None = None) -> None:
        await asyncio.wait_for(self._online.wait(), timeout)

    def delay(self) -> float:
        """Full jitter: a random wait up to base·2^attempts, capped."""
        cap = min(self.backoff_max, self.backoff_base * (2 ** min(self.attempts, 16)))
        return self.rng.uniform(0, cap)

    def _set_status(self, status: str) -> None:
        if status != self.status:
            self.status = status
            self.on_status(status)

    async def _run(self) -> None:
        while not self._stopping:
            try:
                async with connect(
                    self.url,
                    ssl=self.ssl_context,
                    max_size=p.HARD_MAX_FRAME,
                    compression=p.COMPRESSION,
                    open_timeout=10,
                ) as ws:
                    self._ws = ws
                    await self._session(ws)
            except (OSError, ConnectionClosed, InvalidHandshake, InvalidURI, TimeoutError) as exc:
                log.info("link to %s down: %s", self.url, exc)
            except LinkError as exc:
                log.warning("link refused: %s %s", exc.error_id, exc.message)
            finally:
                self._ws = None
                self._online.clear()
                for fut in self._pending.values():
                    if not fut.done():
                        fut.set_exception(LinkError("offline", "the connection to the server was lost"))
                self._pending.clear()
            if self._stopping:
                break
            self._set_status(Status.OFFLINE)
            await asyncio.sleep(self.delay())
            self.attempts += 1

    async def _session(self, ws: ClientConnection) -> None:
        reader = asyncio.ensure_future(self._read(ws))
        try:
            await self._call(ws, p.Msg.HELLO, version=p.PROTOCOL_VERSION, client="cti_desktop")
            if self.token is not None:
                try:
                    await self._call(ws, p.Msg.RESUME, token=self.token)
                except LinkError as exc:
                    if exc.error_id not in (p.ErrorId.TOKEN_INVALID, p.ErrorId.TOKEN_EXPIRED):
                        raise
                    self.token = None
                    self.on_message({"type": "session_lost", "error_id": exc.error_id, "message": exc.message})
            self.attempts = 0
            self.connects += 1
            self._online.set()
            self._set_status(Status.ONLINE)
            await reader
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                await reader

    async def _read(self, ws: ClientConnection) -> None:
        async for frame in ws:
            try:
                msg = json.loads(frame)
            except ValueError:
                log.warning("server sent a frame that is not JSON")
                continue
            if not isinstance(msg, dict):
                continue
            if msg.get("type") == p.Msg.SESSION_ENDED:
                # Password changed, disabled, signed out everywhere or expired: the token is dead; do not
                # resume with it, ask the person to sign in again with the server's reason.
                self.token = None
                self.on_message(
                    {"type": "session_lost", "error_id": str(msg.get("reason", "")), "message": msg.get("message", "")}
                )
                continue
            if msg.get("type") == p.Msg.SIGNED_IN:
                self.on_message(msg)  # in order with the pushes that follow it (state, call in progress)
            fut = self._pending.pop(msg["re"], None) if isinstance(msg.get("re"), int) else None
            if fut is not None:
                if not fut.done():
                    fut.set_result(msg)
                continue
            self.on_message(msg)

    async def _call(self, ws: ClientConnection, kind: str, **fields: Any) -> dict[str, Any]:
        req_id = next(self._ids)
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[req_id] = fut
        try:
            await ws.send(p.encode({"type": kind, "id": req_id, **fields}))
            reply = await asyncio.wait_for(fut, self.request_timeout)
        finally:
            self._pending.pop(req_id, None)
        if reply.get("type") == p.Msg.ERROR:
            raise LinkError(str(reply.get("error_id")), str(reply.get("message")), reply.get("detail"))
        return reply

    # --- requests --------------------------------------------------------------------------------------
    async def request(self, kind: str, **fields: Any) -> dict[str, Any]:
        """Send a request and wait for its reply; LinkError for a refusal or when offline."""
        ws = self._ws
        if ws is None or not self._online.is_set():
            raise LinkError("offline", "not connected to the server")
        try:
            return await self._call(ws, kind, **fields)
        except ConnectionClosed:
            raise LinkError("offline", "the connection to the server was lost") from None

    async def sign_in(self, agent_id: str, password: str) -> dict[str, Any]:
        reply = await self.request(p.Msg.SIGN_IN, agent_id=agent_id, password=password)
        self.token = reply["token"]
        return reply

    async def sign_out(self) -> dict[str, Any]:
        reply = await self.request(p.Msg.SIGN_OUT)
        self.token = None
        return reply
