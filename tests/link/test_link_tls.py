"""The link over TLS (wss://) when config gives a certificate: a desktop that trusts the certificate signs
in; a plain ws:// client and one that does not trust the certificate get no session."""

from __future__ import annotations

import json
import ssl
import subprocess
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker
from websockets.asyncio.client import connect

from ari_app import protocol as p
from ari_app.config import Config
from ari_app.link import LinkServer
from tests.support.clock import Clock
from tests.support.link import FakeQueue, link_settings
from tests.support.users import PASSWORD


def _self_signed(tmp: Path) -> tuple[Path, Path]:
    cert, key = tmp / "link.crt", tmp / "link.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


async def test_wss_sign_in_and_refusals(
    cfg: Config, sessions: sessionmaker[Session], queue: FakeQueue, clock: Clock, tmp_path: Path
) -> None:
    cert, key = _self_signed(tmp_path)
    link = LinkServer(cfg, sessions, queue, clock=clock, settings=link_settings(tls_cert=cert, tls_key=key))
    await link.start()
    try:
        assert link.url.startswith("wss://")
        trusted = ssl.create_default_context(cafile=str(cert))
        async with connect(link.url, ssl=trusted) as ws:
            await ws.send(json.dumps({"type": p.Msg.HELLO, "id": 1, "version": p.PROTOCOL_VERSION, "client": "t"}))
            assert json.loads(await ws.recv())["type"] == "welcome"
            await ws.send(json.dumps({"type": p.Msg.SIGN_IN, "id": 2, "agent_id": "1001", "password": PASSWORD}))
            assert json.loads(await ws.recv())["type"] == "signed_in"
        with pytest.raises(ssl.SSLCertVerificationError):
            async with connect(link.url, ssl=ssl.create_default_context()):
                pass
        with pytest.raises(Exception):  # noqa: B017 - plain ws to a TLS listener: the handshake cannot succeed
            async with connect(link.url.replace("wss://", "ws://"), open_timeout=3):
                pass
    finally:
        await link.stop()
