"""The FastAGI listener over a real socket, with Asterisk's side of the conversation replayed: the AGI
headers, then one reply line per command. A connection that closes or stalls before the end of the headers
is dropped without disturbing the server; a request without the shared secret, or with another, runs no
script and stores nothing (and the refusals are logged, rate-limited, without the secret); an unknown script
is refused; the survey runs end to end, and stores an answer only for a call at its survey."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from agi_scripts import server as agi_server
from agi_scripts.server import FastAgiServer
from schema.calls import CallRecord
from schema.db import make_engine, make_sessionmaker, upgrade
from schema.surveys import SurveyResponse

SECRET = "s3cret-for-the-fastagi-test"
HEADERS = (
    "agi_network: yes\n"
    "agi_network_script: {script}\n"
    "agi_request: agi://127.0.0.1:4573/{script}\n"
    "agi_channel: PJSIP/carrier-00000001\n"
    "agi_uniqueid: 1795930000.1\n"
    "\n"
)
WITH_SECRET = "{}?secret=" + SECRET
REPLIES = {
    "GET FULL VARIABLE": "200 result=1 (1795930000.123456)",
    "GET VARIABLE CHANNEL(linkedid)": "200 result=1 (1795930000.1)",
    "GET VARIABLE HOTLINE_SOUNDS": "200 result=1 (/var/lib/hotline/sounds)",
    "GET VARIABLE PROMPT_LANG": "200 result=1 (en)",
    "GET DATA": "200 result=3",
    "STREAM FILE": "200 result=0 endpos=12000",
    "SET VARIABLE": "200 result=1",
}


@pytest.fixture
async def listening(tmp_path: Path) -> AsyncIterator[tuple[FastAgiServer, int]]:
    engine = make_engine(f"sqlite:///{tmp_path / 'agi.db'}")
    upgrade(engine)
    sessions = make_sessionmaker(engine)
    now = datetime.now(UTC)
    with sessions.begin() as s:  # the call whose citizen is at the survey: the agent hung up first, just now
        s.add(
            CallRecord(
                linkedid="1795930000.1", hotline="12345", agent="1001", state="ended", end_reason="agent_hangup",
                arrived_at=now - timedelta(minutes=2), answered_at=now - timedelta(minutes=1), ended_at=now,
            )
        )  # fmt: skip
    server = FastAgiServer(sessions, "127.0.0.1", 0, SECRET)
    await server.start()
    assert server._server is not None
    port = server._server.sockets[0].getsockname()[1]
    yield server, port
    await server.stop()
    engine.dispose()


async def _asterisk(port: int, script: str, replies: dict[str, str] = REPLIES, *, secret: bool = True) -> list[str]:
    """Play Asterisk: send the headers (the script with the secret unless `secret` is false), answer every
    command from `replies`; the commands received."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(HEADERS.format(script=WITH_SECRET.format(script) if secret else script).encode())
    await writer.drain()
    received = []
    while line := await asyncio.wait_for(reader.readline(), 5):
        command = line.decode().strip()
        received.append(command)
        reply = next(r for prefix, r in replies.items() if command.startswith(prefix))
        writer.write(f"{reply}\n".encode())
        await writer.drain()
    writer.close()
    return received


async def test_survey_over_the_socket(listening: tuple[FastAgiServer, int]) -> None:
    server, port = listening
    commands = await _asterisk(port, "survey")
    assert commands[-3:] == [
        "GET DATA /var/lib/hotline/sounds/en/survey-question 6000 1",
        'STREAM FILE /var/lib/hotline/sounds/en/survey-thanks ""',
        "SET VARIABLE SURVEY_THANKED 1",
    ]
    survey = server.routes["survey"]
    with survey.sessions() as s:  # type: ignore[attr-defined]
        assert s.scalars(select(SurveyResponse.rating)).all() == ["unsatisfied"]


async def test_truncated_and_stalled_connections_do_not_stop_the_server(
    listening: tuple[FastAgiServer, int], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    server, port = listening
    monkeypatch.setattr(agi_server, "HEADER_TIMEOUT", 0.3)
    _, closing = await asyncio.open_connection("127.0.0.1", port)
    closing.write(b"agi_network: yes\nagi_network_script: sur")  # then gone before the blank line
    await closing.drain()
    closing.close()
    stall_reader, stalling = await asyncio.open_connection("127.0.0.1", port)
    stalling.write(b"agi_network: yes\n")
    await stalling.drain()
    assert await asyncio.wait_for(stall_reader.read(), 3) == b""  # dropped after the header deadline
    stalling.close()
    commands = await asyncio.wait_for(_asterisk(port, "survey"), 10)  # the server still serves
    assert commands[-1] == "SET VARIABLE SURVEY_THANKED 1"
    assert server.refusals.count == 2  # both refused, one log line for the burst
    assert caplog.text.count("gave no complete AGI headers") == 1


async def test_unknown_script_is_refused(
    listening: tuple[FastAgiServer, int], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    _, port = listening
    assert await asyncio.wait_for(_asterisk(port, "nonesuch"), 5) == []
    assert "FastAGI: no script 'nonesuch' (channel PJSIP/carrier-00000001)" in caplog.text


def _ratings(server: FastAgiServer) -> list[tuple[str, str]]:
    with server.routes["survey"].sessions() as s:  # type: ignore[attr-defined]
        return [(c, r) for c, r in s.execute(select(SurveyResponse.call_id, SurveyResponse.rating))]


async def test_without_the_secret_no_script_runs_and_nothing_is_stored(
    listening: tuple[FastAgiServer, int], caplog: pytest.LogCaptureFixture
) -> None:
    """Posing as Asterisk without the secret, with another one, or with the secret of a request for
    another script: the connection is closed before the first command; one log line for the burst."""
    server, port = listening
    forged = ("survey", "survey?secret=guess", "survey?secret=", f"survey?token={SECRET}", "probe?secret=x" + SECRET)
    for script in forged:
        assert await asyncio.wait_for(_asterisk(port, script, secret=False), 5) == []
    assert _ratings(server) == []
    assert server.refusals.count == len(forged)
    assert caplog.text.count("FastAGI: refused a request") == 1
    assert "refused a request for 'survey' from ('127.0.0.1'," in caplog.text and "no secret" in caplog.text
    assert SECRET not in caplog.text
    assert await asyncio.wait_for(_asterisk(port, "survey"), 5)  # Asterisk itself is still served
    assert _ratings(server) == [("1795930000.1", "unsatisfied")]


async def test_secret_in_the_request_url_is_accepted(listening: tuple[FastAgiServer, int]) -> None:
    """Asterisk sends the URL in `agi_request` too; the secret is read from there when the script name
    does not carry it."""
    _, port = listening
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    headers = HEADERS.format(script="probe").replace("/probe\n", f"/probe?secret={SECRET}\n")
    writer.write(headers.encode())
    await writer.drain()
    line = await asyncio.wait_for(reader.readline(), 5)
    assert line.decode().startswith("GET FULL VARIABLE")
    writer.close()


async def test_with_the_secret_an_unknown_call_is_not_rated(
    listening: tuple[FastAgiServer, int], caplog: pytest.LogCaptureFixture
) -> None:
    server, port = listening
    replies = {**REPLIES, "GET VARIABLE CHANNEL(linkedid)": "200 result=1 (1795939999.9)"}
    commands = await asyncio.wait_for(_asterisk(port, "survey", replies), 10)
    assert commands[-1] == "SET VARIABLE SURVEY_THANKED 1"  # the caller is still thanked
    assert _ratings(server) == []
    assert "survey for call 1795939999.9: answer unsatisfied not stored: no such call" in caplog.text


def test_refusal_log_is_rate_limited(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [0.0]
    refusals = agi_server.RefusalLog(interval=60, clock=lambda: now[0])
    logged: list[str] = []
    monkeypatch.setattr(agi_server.log, "warning", lambda *args: logged.append(args[0] % args[1:]))
    for t in (0, 1, 2, 30, 61, 62):
        now[0] = t
        refusals.refused("peer", "survey", "no secret")
    assert refusals.count == 6 and len(logged) == 2
    assert logged[1].endswith("no secret (3 more refused since the last report)")


def test_a_short_secret_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="16 characters"):
        FastAgiServer(None, "127.0.0.1", 0, "short")  # type: ignore[arg-type]


async def test_probe_reports_when_its_first_command_arrived(listening: tuple[FastAgiServer, int]) -> None:
    _, port = listening
    assert await asyncio.wait_for(_asterisk(port, "probe"), 5) == [
        "GET FULL VARIABLE ${STRFTIME(,,%s.%6q)}",
        "GET VARIABLE CHANNEL(linkedid)",
        "GET VARIABLE HOTLINE_SOUNDS",
        "GET VARIABLE PROMPT_LANG",
        "SET VARIABLE PROBE_FIRST 1795930000.123456",
    ]
