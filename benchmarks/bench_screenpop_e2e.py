"""Screen-pop latency end to end: from the SIP INVITE to the pop on the agent's desktop socket.

Brings up the real stack (Asterisk with the project's dialplan, `hotline serve`), signs agent 1001 in over
the documented websocket protocol (a plain client, as a desktop would), goes ready, and places CALLS
sequential SIPp calls to 12319 that ring 1001's SIPp phone. For each call it records when the INVITE left
(just before SIPp started; SIPp's own start-up is included), when Asterisk created the caller's channel
(`arrived_at` in the call record), and when the `screen_pop` reached the client; prints p50/p99 of
INVITE -> pop and of Asterisk -> pop. Needs root and the test suite's SIP ports (run it alone).
Usage: .venv/bin/python -m benchmarks.bench_screenpop_e2e [--calls 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from datetime import datetime
from pathlib import Path

import websockets
import yaml

from benchmarks.measure import pct
from benchmarks.stack import cti_running, real_stack
from tests.support.e2e import Sipp, add_user, calls, hotline, make_speech

PASSWORD = "bench-password"


async def run(config: Path, port: int, sipp: Sipp, n: int) -> tuple[list[float], list[float]]:
    async with websockets.connect(f"ws://127.0.0.1:{port}") as ws:

        async def request(msg: dict[str, object]) -> dict[str, object]:
            await ws.send(json.dumps(msg))
            while True:
                reply = json.loads(await ws.recv())
                if reply.get("re") == msg["id"]:
                    return reply

        await request({"type": "hello", "id": 1, "version": "1.0", "client": "bench"})
        assert (await request({"type": "sign_in", "id": 2, "agent_id": "1001", "password": PASSWORD}))[
            "type"
        ] == "signed_in"
        assert (await request({"type": "set_state", "id": 3, "state": "ready"}))["state"] == "ready"
        invite_to_pop, asterisk_to_pop = [], []
        for i in range(n):
            caller = f"1310000{i:04d}"
            sent = time.time()
            proc = sipp.call("12319", caller, talk_ms=1500, wait=False)
            while True:
                msg = json.loads(await asyncio.wait_for(ws.recv(), 30))
                if msg.get("type") == "screen_pop" and msg["call"]["caller"] == caller:
                    popped = time.time()
                    break
            await asyncio.to_thread(proc.wait, 30)
            record = next(c for c in calls(config) if c["caller"] == caller)
            arrived = datetime.fromisoformat(record["arrived_at"]).timestamp()
            invite_to_pop.append((popped - sent) * 1000)
            asterisk_to_pop.append((popped - arrived) * 1000)
            # wait for the agent to be ready again before the next call
            state = None
            while state != "ready":
                try:
                    msg = json.loads(await asyncio.wait_for(ws.recv(), 3))
                except TimeoutError:
                    msg = await request({"type": "set_state", "id": f"r{i}", "state": "ready"})
                if msg.get("type") == "agent_state":
                    state = msg.get("state")
        return invite_to_pop, asterisk_to_pop


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=20)
    args = ap.parse_args()
    with real_stack(agents=2) as (tmp, config):
        hotline(config, "asterisk", "cli", "queue remove member PJSIP/1001 from hotline")
        hotline(config, "asterisk", "cli", "queue remove member PJSIP/1002 from hotline")
        add_user(config, "1001", "agent", PASSWORD)
        sipp = Sipp(tmp, make_speech(tmp))
        sipp.agent_phone(5080, ring_ms=1500)
        try:
            with cti_running(config, tmp / "cti.log"):
                port = yaml.safe_load(config.read_text(encoding="utf-8"))["server"]["port"]
                invite, asterisk = asyncio.run(run(config, port, sipp, args.calls))
        finally:
            sipp.stop()
    print(f"{args.calls} calls, one agent, SQLite")
    for label, values in (
        ("INVITE sent -> screen_pop at the desktop socket", invite),
        ("Asterisk channel created -> screen_pop", asterisk),
    ):
        print(
            f"{label:48}: p50 {pct(values, 0.5):5.0f} ms   p99 {pct(values, 0.99):5.0f} ms   "
            f"mean {statistics.mean(values):5.0f} ms"
        )


if __name__ == "__main__":
    main()
