"""Whatever a client sends, it gets an error reply with an error_id; the connection, the server's state and
the other agents are unaffected. Field types are fuzzed with hypothesis against one live server."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from ari_app import protocol as p
from ari_app.calls.events import CallRinging
from ari_app.link import LinkServer
from ari_app.link.connection import CLOSE_TOO_SLOW, WRITE_BUFFER_LIMIT
from ari_app.protocol import ErrorId
from tests.support.clock import T0
from tests.support.link import REFUSED_FRAMES, FakeQueue


async def signed_in_pair(desktop: Any) -> tuple[Any, Any]:
    a, b = await desktop(), await desktop()
    await a.sign_in("1001")
    await b.sign_in("1002")
    await a.request(p.Msg.SET_STATE, state="ready")
    await a.nothing_pending()
    await b.nothing_pending()
    return a, b


async def still_fine(server: LinkServer, a: Any, b: Any, queue_calls: int, queue: FakeQueue) -> None:
    """The connection still answers, the agent's state is as it was, nothing reached the other agent and
    nothing was asked of Asterisk."""
    assert (await a.request(p.Msg.PING))["type"] == p.Msg.PONG
    assert server.state_of("1001") is p.AgentState.READY
    assert len(queue.calls) == queue_calls
    assert await b.nothing_pending() == []


BAD_FRAMES: list[tuple[str | bytes, str]] = [
    *REFUSED_FRAMES,
    ('{"type": "hello", "version": "1.0"}', ""),  # a second hello is harmless
    ('{"type": "sign_in", "agent_id": "1002", "password": "correct horse battery"}', ErrorId.ALREADY_SIGNED_IN),
]
"""What the codec refuses, and what a signed-in desktop sends a second time: a hello (harmless, answered with
its welcome) and a sign-in (refused)."""


async def test_each_bad_frame_gets_its_error_and_nothing_else_changes(
    desktop: Any, server: LinkServer, queue: FakeQueue
) -> None:
    a, b = await signed_in_pair(desktop)
    n = len(queue.calls)
    for frame, error_id in BAD_FRAMES:
        await a.send_raw(frame)
        reply = await a.recv()
        if error_id:
            assert reply["type"] == p.Msg.ERROR, frame
            assert reply["error_id"] == error_id, frame
            assert reply["message"]
        else:
            assert reply["type"] == p.Msg.WELCOME
        await still_fine(server, a, b, n, queue)


async def test_request_id_is_echoed_on_errors(desktop: Any, server: LinkServer) -> None:
    a = await desktop()
    await a.send_raw('{"type": "nope", "id": "req-9"}')
    assert (await a.recv()) == {
        "type": "error",
        "error_id": "unknown_type",
        "message": "unknown message type 'nope'",
        "detail": {"received": "nope"},
        "re": "req-9",
    }


async def test_frame_above_the_hard_limit_closes_only_that_connection(
    desktop: Any, server: LinkServer, queue: FakeQueue
) -> None:
    a, b = await signed_in_pair(desktop)
    n = len(queue.calls)
    await a.send_raw("x" * (p.HARD_MAX_FRAME + 10))
    try:
        await a.recv()
        raise AssertionError("the connection should have been closed")
    except ConnectionClosed as exc:
        assert exc.rcvd is not None and exc.rcvd.code == 1009
    # the agent's state is kept for when the desktop comes back; the other agent is untouched
    assert server.state_of("1001") is p.AgentState.READY
    assert len(queue.calls) == n
    assert (await b.request(p.Msg.PING))["type"] == p.Msg.PONG
    await server.on_call_event(CallRinging("z1", T0, "1002", "PJSIP/1002", "12345", "13800000009", 1.0))
    assert (await b.push(p.Msg.SCREEN_POP))["call"]["call_id"] == "z1"


async def test_a_desktop_that_stops_reading_is_disconnected_as_too_slow_and_nobody_else_waits(
    desktop: Any, server: LinkServer
) -> None:
    """Writes never wait for a desktop: what it leaves unread stays in its own buffer, and past
    WRITE_BUFFER_LIMIT it is closed with 4008, after what was already written."""
    a, b = await signed_in_pair(desktop)  # `a` reads nothing from here on (its client stops at 16 messages)
    (conn,) = server.desktops("1001")
    pad = "x" * 2**16
    for n in range(1, 2000):  # at most 128 MiB: far more than the kernel's socket buffers hold
        conn.send({"type": p.Msg.AGENT_STATE, "n": n, "pad": pad})  # returns at once, whoever reads
        if conn.closing:
            break
    assert conn.closing, "never disconnected"
    assert conn.ws.transport is not None
    assert conn.ws.transport.get_write_buffer_size() > WRITE_BUFFER_LIMIT
    # the other agent is served at once, the stalled one's state is kept for its return
    assert (await b.request(p.Msg.PING))["type"] == p.Msg.PONG
    await server.on_call_event(CallRinging("s1", T0, "1002", "PJSIP/1002", "12345", "13800000009", 1.0))
    assert (await b.push(p.Msg.SCREEN_POP))["call"]["call_id"] == "s1"
    assert server.state_of("1001") is p.AgentState.READY
    # the slow desktop gets everything written before the close, in order, then the close itself
    received = 0
    try:
        while True:
            msg = await a.recv(within=10.0)
            if msg.get("pad"):
                received += 1
                assert msg["n"] == received
    except ConnectionClosed as exc:
        assert exc.rcvd is not None and exc.rcvd.code == CLOSE_TOO_SLOW
    assert received == n


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)


@st.composite
def mangled_requests(draw: st.DrawFn) -> dict[str, Any]:
    """A real request type whose fields have been replaced by values of any JSON type."""
    kind = draw(st.sampled_from([k for k in p.CLIENT_MESSAGES if k not in (p.Msg.SIGN_OUT, p.Msg.HELLO)]))
    fields = p.CLIENT_MESSAGES[kind]
    msg: dict[str, Any] = {"type": kind}
    for name in fields:
        if draw(st.booleans()):
            msg[name] = draw(JSON_VALUES)
    if draw(st.booleans()):
        msg["id"] = draw(JSON_VALUES)
    return msg


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],  # one live server for every example, on purpose
)
@given(msg=mangled_requests())
async def test_fuzzed_field_types_always_get_a_reply_and_never_disturb_anyone(
    desktop: Any, server: LinkServer, queue: FakeQueue, msg: dict[str, Any]
) -> None:
    if not hasattr(server, "_fuzz_pair"):
        server._fuzz_pair = await signed_in_pair(desktop)  # type: ignore[attr-defined]
    a, b = server._fuzz_pair  # type: ignore[attr-defined]
    n = len(queue.calls)
    state = server.state_of("1001")
    await a.send_raw(json.dumps(msg))
    reply = await a.recv()
    assert reply["type"] != p.Msg.ERROR or (reply["error_id"] in set(ErrorId) and reply["message"])
    assert reply["type"] == p.Msg.ERROR or reply.get("re") == msg.get("id")
    if reply["type"] == p.Msg.AGENT_STATE:  # a valid set_state that got through: put things back
        await a.request(p.Msg.SET_STATE, state="ready")
        n = len(queue.calls)
    elif reply["type"] == p.Msg.SIGNED_IN:  # pragma: no cover - no fuzzed password is the right one
        raise AssertionError("fuzzed sign-in succeeded")
    assert server.state_of("1001") in (state, p.AgentState.READY)
    await still_fine(server, a, b, n, queue)


async def test_many_connections_dropping_mid_request_leave_the_server_healthy(desktop: Any, server: LinkServer) -> None:
    async def drop() -> None:
        ws = await connect(server.url)
        await ws.send('{"type":"hello","version":"1.0"}')
        await ws.send('{"type":"sign_in","agent_id":"1001","password":"wrong password"}')
        await ws.close()

    await asyncio.gather(*(drop() for _ in range(20)))
    a = await desktop()
    assert (await a.sign_in("1002"))["type"] == p.Msg.SIGNED_IN


async def test_the_link_declines_frame_compression(server: LinkServer) -> None:
    """A client asking for permessage-deflate (as websockets clients do unless told not to) gets plain frames:
    the handshake's answer names no extension (why: `COMPRESSION` in ari_app/protocol.py)."""
    async with connect(server.url, compression="deflate") as ws:
        assert "permessage-deflate" in (ws.request.headers.get("Sec-WebSocket-Extensions") or "")
        assert ws.response.headers.get("Sec-WebSocket-Extensions") is None
        await ws.send(json.dumps({"type": "hello", "version": p.PROTOCOL_VERSION}))
        assert json.loads(await ws.recv())["type"] == p.Msg.WELCOME
