"""The desktop link at unit level: a fake QueueControl that records what would be asked of Asterisk, the
settings a test server runs with, the fields of a new case, and a protocol client as a test drives it
(tests/link, the end-to-end tests that speak the protocol)."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection

from ari_app import protocol as p
from ari_app.calls.events import QueueMembership
from ari_app.link import LinkSettings
from ari_app.protocol import ErrorId
from tests.support.users import PASSWORD


@dataclass
class FakeQueue:
    """Records QueueControl calls and keeps the members they make (`members`, by lower-case interface, as
    QueueStatus reports them; a test may change it as someone else would in Asterisk); `fail` makes the next
    calls raise as an unreachable Asterisk would."""

    calls: list[tuple[Any, ...]] = field(default_factory=list)
    fail: bool = False
    members: dict[str, QueueMembership] = field(default_factory=dict)

    async def queue_add(self, queue: str, interface: str, member_name: str, paused: bool = False) -> None:
        self._record("add", queue, interface, member_name, paused)
        self.members[interface.lower()] = QueueMembership(interface, paused, "")

    async def queue_remove(self, queue: str, interface: str) -> None:
        self._record("remove", queue, interface)
        self.members.pop(interface.lower(), None)

    async def queue_pause(self, queue: str, interface: str, paused: bool, reason: str = "") -> None:
        self._record("pause", queue, interface, paused, reason)
        if interface.lower() in self.members:
            self.members[interface.lower()] = QueueMembership(interface, paused, reason if paused else "")

    async def queue_members(self, queue: str) -> dict[str, QueueMembership]:
        if self.fail:
            raise ConnectionError("AMI is down")
        return dict(self.members)

    def _record(self, *call: Any) -> None:
        if self.fail:
            raise ConnectionError("AMI is down")
        self.calls.append(call)


REFUSED_FRAMES: list[tuple[str | bytes, str]] = [
    ("{", ErrorId.MALFORMED_JSON),
    ("[1,2]", ErrorId.MALFORMED_JSON),
    ('"x"', ErrorId.MALFORMED_JSON),
    ("not json", ErrorId.MALFORMED_JSON),
    ('{"type": "ping"', ErrorId.MALFORMED_JSON),
    ("null", ErrorId.MALFORMED_JSON),
    (b'{"type":"ping"}', ErrorId.BINARY_FRAME),
    (b"\x00\x01binary", ErrorId.BINARY_FRAME),
    ('{"type":"launch_missiles"}', ErrorId.UNKNOWN_TYPE),
    ('{"type": "reboot_asterisk"}', ErrorId.UNKNOWN_TYPE),
    ('{"type":5}', ErrorId.INVALID_FIELD),
    ("{}", ErrorId.INVALID_FIELD),
    ('{"kind": "ping"}', ErrorId.INVALID_FIELD),
    ('{"type":"ping","id":[1]}', ErrorId.INVALID_FIELD),
    ('{"type":"ping","id":true}', ErrorId.INVALID_FIELD),
    ('{"type":"sign_in","agent_id":1001,"password":"x"}', ErrorId.INVALID_FIELD),
    ('{"type":"sign_in","agent_id":"1001"}', ErrorId.INVALID_FIELD),
    ('{"type":"set_state","state":"on_call"}', ErrorId.INVALID_FIELD),
    ('{"type": "set_state", "state": "ready", "reason": 5}', ErrorId.INVALID_FIELD),
    ('{"type": "create_case", "hotline": 12319}', ErrorId.INVALID_FIELD),
    ('{"type":"search_cases","limit":true}', ErrorId.INVALID_FIELD),
    ('{"type":"search_cases","limit":100000}', ErrorId.INVALID_FIELD),
    ('{"type":"search_cases","mine":"yes"}', ErrorId.INVALID_FIELD),
    ('{"type":"caller_history","caller":"a\\u0000b"}', ErrorId.INVALID_FIELD),
    ("[" * 100_000 + "]" * 100_000, ErrorId.FRAME_TOO_LARGE),
    (json.dumps({"type": "ping", "pad": "x" * (p.MAX_FRAME + 1)}), ErrorId.FRAME_TOO_LARGE),
    ("[" * 30_000 + "]" * 30_000, ErrorId.MALFORMED_JSON),
]
"""Frames the codec refuses whoever sends them and whenever, each with the error id it is refused with:
decoded alone (test_protocol_codec) and sent to a live server (test_link_robustness)."""


def link_settings(**kw: Any) -> LinkSettings:
    # Every test desktop comes from 127.0.0.1: the per-address connection caps are raised here and tested
    # at their defaults in test_link_guard.py.
    base: dict[str, Any] = dict(
        host="127.0.0.1",
        port=0,
        queue="hotline",
        wrapup_seconds=0.2,
        token_file=None,
        offline_pause_seconds=0,
        max_connections_per_address=1000,
        max_unauthenticated_per_address=1000,
        session_check_seconds=0.05,
        refusal_hold_seconds=0,  # the flood test keeps the shipped hold; the others make attempts in a row
    )
    base.update(kw)
    return LinkSettings(**base)


def case_fields(request: str, **fields: Any) -> dict[str, Any]:
    """The fields of a `create_case` request: a 12345 case in Chinese asking `request`, of normal urgency,
    for dispatch, with `fields` over them."""
    return {
        "hotline": "12345",
        "request": request,
        "urgency": "normal",
        "language": "zh",
        "handling": "dispatch",
    } | fields


class Desktop:
    """A protocol client as a test drives it: requests wait for their reply; pushes are kept in order."""

    _ids = itertools.count(1)

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.pushes: list[dict[str, Any]] = []
        self.replies: dict[Any, dict[str, Any]] = {}
        self.unmatched: list[dict[str, Any]] = []

    async def recv(self, within: float = 3.0) -> dict[str, Any]:
        raw = await asyncio.wait_for(self.ws.recv(), within)
        msg: dict[str, Any] = json.loads(raw)
        return msg

    async def send_raw(self, frame: str | bytes) -> None:
        await self.ws.send(frame)

    async def request(self, kind: str, **fields: Any) -> dict[str, Any]:
        req_id = next(self._ids)
        await self.ws.send(json.dumps({"type": kind, "id": req_id, **fields}))
        return await self.reply_to(req_id)

    async def reply_to(self, req_id: Any, within: float = 3.0) -> dict[str, Any]:
        async def wait() -> dict[str, Any]:
            while req_id not in self.replies:
                msg = await self.recv(within)
                if "re" in msg:
                    self.replies[msg["re"]] = msg
                elif msg.get("type") == p.Msg.ERROR:
                    self.unmatched.append(msg)
                else:
                    self.pushes.append(msg)
            return self.replies.pop(req_id)

        return await asyncio.wait_for(wait(), within)

    async def push(self, kind: str, within: float = 3.0) -> dict[str, Any]:
        """The next push of this type (earlier pushes of other types stay in `pushes`)."""

        async def wait() -> dict[str, Any]:
            while True:
                for i, msg in enumerate(self.pushes):
                    if msg["type"] == kind:
                        return self.pushes.pop(i)
                msg = await self.recv(within)
                if "re" in msg:
                    self.replies[msg["re"]] = msg
                else:
                    self.pushes.append(msg)

        return await asyncio.wait_for(wait(), within)

    async def nothing_pending(self) -> list[dict[str, Any]]:
        """Everything delivered so far, after a ping round-trip proves the server has caught up."""
        await self.request(p.Msg.PING)
        out, self.pushes = self.pushes, []
        return out + self.unmatched

    async def sign_in(self, agent_id: str = "1001", password: str = PASSWORD) -> dict[str, Any]:
        return await self.request(p.Msg.SIGN_IN, agent_id=agent_id, password=password)

    async def until_ready(self, within: float) -> None:
        """Wait for the agent-state push that says ready (the end-to-end tests, after sign-in)."""

        async def wait() -> None:
            while (await self.push(p.Msg.AGENT_STATE, within=within))["state"] != "ready":
                pass

        await asyncio.wait_for(wait(), within)


def signed_in_once(desktop: Callable[[], Awaitable[Desktop]]) -> Callable[[str], Awaitable[Desktop]]:
    """A factory of signed-in desktops over `desktop` (the link fixtures' factory of greeted ones): the
    first call for a login opens a desktop and signs it in (asserting it was), later calls give the same one."""
    signed: dict[str, Desktop] = {}

    async def open_(login: str) -> Desktop:
        if login not in signed:
            d = await desktop()
            r = await d.sign_in(login)
            assert r["type"] == p.Msg.SIGNED_IN, r
            signed[login] = d
        return signed[login]

    return open_
