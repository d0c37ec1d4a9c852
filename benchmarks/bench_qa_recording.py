"""QA playback delivery: how long the desktop waits for a call's recording over the link, chunk by chunk
(`qa_open_recording`, then `qa_read_recording` until `eof`), for calls of a few lengths.

    .venv/bin/python benchmarks/bench_qa_recording.py [--minutes 1 5 15] [--rounds 3]

A temporary SQLite database holds a QA user and one recorded call per length (8 kHz 16-bit mono WAV, what
MixMonitor writes: 960 kB a minute); the server and one client share a process and loopback, so this is the
link's own cost (base64, JSON, websocket, a file read and an audit row per playback), not a network's.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import statistics
import sys
import tempfile
import time
import wave
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from websockets.asyncio.client import ClientConnection, connect  # noqa: E402

from ari_app import protocol as p  # noqa: E402
from ari_app.auth import hash_password  # noqa: E402
from ari_app.cases import CaseSettings, configure  # noqa: E402
from ari_app.config import load_config  # noqa: E402
from ari_app.link import LinkServer, LinkSettings  # noqa: E402
from schema.calls import CallRecord  # noqa: E402
from schema.db import make_engine, make_sessionmaker, upgrade  # noqa: E402
from schema.users import Role, User  # noqa: E402
from tests.support.link import FakeQueue  # noqa: E402

PASSWORD = "benchmark password"


async def ask(ws: ClientConnection, n: int, kind: str, **fields: Any) -> dict[str, Any]:
    await ws.send(json.dumps({"type": kind, "id": n, **fields}))
    while True:
        msg: dict[str, Any] = json.loads(await ws.recv())
        if msg.get("re") == n:
            if msg["type"] == p.Msg.ERROR:
                raise RuntimeError(msg)
            return msg


async def main(minutes: list[float], rounds: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-qa-"))
    cfg = load_config(ROOT / "config.yaml")
    engine = make_engine(f"sqlite:///{tmp / 'bench.db'}")
    upgrade(engine)
    sessions = make_sessionmaker(engine)
    configure(sessions, CaseSettings.from_config(cfg))
    with sessions() as s, s.begin():
        s.add(User(login="qa", display_name="qa", role=Role.QA, password_hash=hash_password(PASSWORD)))
        for m in minutes:
            path = tmp / f"call-{m}.wav"
            with wave.open(str(path), "wb") as w:
                w.setnchannels(1)
                w.setsampwidth(2)
                w.setframerate(8000)
                w.writeframes(bytes(int(m * 60 * 8000 * 2)))
            s.add(CallRecord(linkedid=f"call-{m}", hotline="12345", state="ended", recording=str(path),
                             arrived_at=datetime.now(UTC)))  # fmt: skip
    settings = LinkSettings(host="127.0.0.1", port=0, queue="hotline", wrapup_seconds=0, token_file=None)
    link = LinkServer(cfg, sessions, FakeQueue(), settings=settings)
    await link.start()
    try:
        async with connect(link.url, max_size=p.HARD_MAX_FRAME) as ws:
            await ask(ws, 1, p.Msg.HELLO, version=p.PROTOCOL_VERSION)
            await ask(ws, 2, p.Msg.SIGN_IN, agent_id="qa", password=PASSWORD)
            n = 3
            print(f"{'call':>8} {'bytes':>10} {'chunks':>7} {'median s':>9} {'MB/s':>6}")
            for m in minutes:
                times: list[float] = []
                for _ in range(rounds):
                    t0 = time.perf_counter()
                    opened = await ask(ws, n, p.Msg.QA_OPEN_RECORDING, call_id=f"call-{m}")
                    n += 1
                    got, chunks = 0, 0
                    while True:
                        data = await ask(ws, n, p.Msg.QA_READ_RECORDING, playback_id=opened["playback_id"], offset=got)
                        n += 1
                        got += len(base64.b64decode(data["data"]))
                        chunks += 1
                        if data["eof"]:
                            break
                    times.append(time.perf_counter() - t0)
                    assert got == opened["size"]
                med = statistics.median(times)
                print(f"{m:>6} min {got:>10} {chunks:>7} {med:>9.3f} {got / med / 1e6:>6.1f}")
    finally:
        await link.stop()
        engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, nargs="+", default=[1, 5, 15])
    parser.add_argument("--rounds", type=int, default=3)
    a = parser.parse_args()
    asyncio.run(main(a.minutes, a.rounds))
