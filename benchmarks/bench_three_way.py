"""Three-way call set-up: from the desktop's `conference` start command to the cooperating unit's phone
ringing (the INVITE arriving at the unit's SIPp), through the real stack.

Brings up the real Asterisk with the project's dialplan and the real CTI server, signs agent 1001 in over
the documented websocket protocol (a plain client, as the desktop would), goes ready, and for each of CALLS
citizen calls (SIPp, to 12358) that the agent's SIPp phone answers, sends `conference` start with a unit's
number; the unit is a SIPp phone behind the carrier trunk that logs every message it gets with its time
(`-trace_msg`). Measured per call: command sent -> `conference_state` reply, command sent -> INVITE at the
unit, command sent -> the desktop told that three are in. Baseline from the same run: an AMI Originate of
the same trunk channel sent straight to Asterisk (no server, no moving of the call into the room) ->
INVITE at the unit. Needs root and the test suite's SIP ports (run it under the Asterisk lock).
Usage: .venv/bin/python -m benchmarks.bench_three_way [--calls 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import signal
import statistics
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import websockets
import yaml

from ari_app.config import load_config
from benchmarks.stack import add_members, ami_connected, answering_phone, cti_running, originate_out, real_stack
from tests.support.e2e import Sipp, add_user, make_speech
from tests.support.waiting import until

PASSWORD = "bench-password"
_STAMP = re.compile(r"^-+ (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+)\n(?:UDP|TCP) message received.*?\n\n(\S+) ", re.M)


def invites(trace_dir: Path) -> list[float]:
    """Arrival times (epoch) of the INVITEs the unit's SIPp received, in order."""
    out = []
    for log in trace_dir.glob("citizen_phone_*_messages.log"):
        for stamp, method in _STAMP.findall(log.read_text(errors="replace")):
            if method == "INVITE":
                out.append(datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S.%f").timestamp())
    return sorted(out)


async def until_invites(trace_dir: Path, n: int, timeout: float = 20) -> float:
    """When the unit's phone got INVITE #`n` (SIPp's message trace), waiting for it up to `timeout` s."""

    def nth() -> tuple[float] | None:
        got = invites(trace_dir)
        return (got[n - 1],) if len(got) >= n else None

    (at,) = await until(nth, timeout, f"INVITE #{n} to reach the unit", interval=0.02)
    return float(at)


def unit_phone(tmp: Path) -> subprocess.Popen[bytes]:
    """The unit behind the carrier trunk: answers every call, talks 2 s, hangs up; messages traced."""
    return answering_phone(tmp, "127.0.0.2", 5060, 7060, 2000, "-trace_msg")


async def run(config: Path, port: int, tmp: Path, sipp: Sipp, n: int) -> dict[str, list[float]]:
    cfg = load_config(config)
    out: dict[str, list[float]] = {"reply": [], "invite": [], "three_in": [], "baseline": []}
    seen = 0
    async with websockets.connect(f"ws://127.0.0.1:{port}") as ws:
        pending: list[dict[str, Any]] = []

        async def recv(timeout: float = 30) -> dict[str, Any]:
            return json.loads(await asyncio.wait_for(ws.recv(), timeout))  # type: ignore[no-any-return]

        async def request(msg: dict[str, Any]) -> dict[str, Any]:
            await ws.send(json.dumps(msg))
            while True:
                reply = await recv()
                if reply.get("re") == msg["id"]:
                    return reply
                pending.append(reply)

        async def push(kind: str, caller: str | None = None) -> dict[str, Any]:
            while True:
                for i, m in enumerate(pending):
                    if m.get("type") == kind and (caller is None or m.get("call", {}).get("caller") == caller):
                        return pending.pop(i)
                pending.append(await recv())

        await request({"type": "hello", "id": 1, "version": "1.0", "client": "bench"})
        assert (await request({"type": "sign_in", "id": 2, "agent_id": "1001", "password": PASSWORD}))[
            "type"
        ] == "signed_in"
        for i in range(n):
            assert (await request({"type": "set_state", "id": f"r{i}", "state": "ready"}))["state"] == "ready"
            caller = f"1250000{i:04d}"
            citizen = sipp.call("12358", caller, talk_ms=15000, wait=False)
            call_id = (await push("screen_pop", caller))["call"]["call_id"]
            await push("call_connected")
            pending.clear()
            sent = time.time()
            msg = {"type": "conference", "id": f"c{i}", "action": "start", "call_id": call_id}
            reply = await request({**msg, "number": f"1239900{i:04d}"})
            replied = time.time()
            assert reply["type"] == "conference_state", reply
            seen += 1
            rang = await until_invites(tmp, seen)
            while True:
                state = await push("conference_state")
                if len(state.get("members", [])) == 3:
                    break
            three = time.time()
            out["reply"].append((replied - sent) * 1000)
            out["invite"].append((rang - sent) * 1000)
            out["three_in"].append((three - sent) * 1000)
            await request({"type": "conference", "id": f"e{i}", "action": "end", "call_id": call_id})
            citizen.kill()
            citizen.wait()
            await asyncio.sleep(0.5)  # the ended call's last events, before the next call
    async with ami_connected(cfg) as ami:
        for i in range(n):
            sent = time.time()
            await originate_out(ami, cfg.callback.trunk, f"1239901{i:04d}")  # the INVITE is timed at the unit
            seen += 1
            out["baseline"].append((await until_invites(tmp, seen) - sent) * 1000)
            await asyncio.sleep(3)  # the unit hangs up after 2 s
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=5)
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a timeout still tears the stack down
    with real_stack(agents=1) as (tmp, config):
        sipp = Sipp(tmp, make_speech(tmp))
        unit = unit_phone(tmp)
        try:
            add_members(config, 1)
            add_user(config, "1001", "agent", PASSWORD)
            sipp.agent_phone(5080, ring_ms=200)
            with cti_running(config, tmp / "cti.log"):
                port = yaml.safe_load(config.read_text(encoding="utf-8"))["server"]["port"]
                out = asyncio.run(run(config, port, tmp, sipp, args.calls))
        finally:
            unit.terminate()
            unit.wait(timeout=10)
            sipp.stop()
    print(f"three-way set-up, {args.calls} calls, one agent, SQLite")
    for key, label in (
        ("reply", "command sent -> conference_state reply"),
        ("invite", "command sent -> INVITE at the unit's phone"),
        ("three_in", "command sent -> desktop told three are in"),
        ("baseline", "baseline: AMI Originate -> INVITE at the unit"),
    ):
        v = out[key]
        print(
            f"{label:46}: p50 {statistics.median(v):6.1f} ms  max {max(v):6.1f} ms  mean {statistics.mean(v):6.1f} ms"
        )


if __name__ == "__main__":
    main()
