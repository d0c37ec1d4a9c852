"""The FastAGI listener over a real socket, with Asterisk's side of the conversation replayed: the AGI
headers, then one reply line per command. A connection that closes or stalls before the end of the headers
is dropped without disturbing the server; an unknown script is refused; the survey runs end to end."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from agi_scripts import server as agi_server
from agi_scripts.server import FastAgiServer
from schema.db import make_engine, make_sessionmaker, upgrade
from schema.surveys import SurveyResponse

HEADERS = (
    "agi_network: yes\n"
    "agi_network_script: {script}\n"
    "agi_request: agi://127.0.0.1:4573/{script}\n"
    "agi_channel: PJSIP/carrier-00000001\n"
    "agi_uniqueid: 1795930000.1\n"
    "\n"
)
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
    server = FastAgiServer(make_sessionmaker(engine), "127.0.0.1", 0)
    await server.start()
    assert server._server is not None
    port = server._server.sockets[0].getsockname()[1]
    yield server, port
    await server.stop()
    engine.dispose()


async def _asterisk(port: int, script: str) -> list[str]:
    """Play Asterisk: send the headers, answer every command from REPLIES; the commands received."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(HEADERS.format(script=script).encode())
    await writer.drain()
    received = []
    while line := await asyncio.wait_for(reader.readline(), 5):
        command = line.decode().strip()
        received.append(command)
        reply = next(r for prefix, r in REPLIES.items() if command.startswith(prefix))
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
    _, port = listening
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
    assert caplog.text.count("gave no complete AGI headers") == 2


async def test_unknown_script_is_refused(
    listening: tuple[FastAgiServer, int], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    _, port = listening
    assert await asyncio.wait_for(_asterisk(port, "nonesuch"), 5) == []
    assert "FastAGI: no script 'nonesuch' (channel PJSIP/carrier-00000001)" in caplog.text


async def test_probe_reports_when_its_first_command_arrived(listening: tuple[FastAgiServer, int]) -> None:
    _, port = listening
    assert await asyncio.wait_for(_asterisk(port, "probe"), 5) == [
        "GET FULL VARIABLE ${STRFTIME(,,%s.%6q)}",
        "GET VARIABLE CHANNEL(linkedid)",
        "GET VARIABLE HOTLINE_SOUNDS",
        "GET VARIABLE PROMPT_LANG",
        "SET VARIABLE PROBE_FIRST 1795930000.123456",
    ]
