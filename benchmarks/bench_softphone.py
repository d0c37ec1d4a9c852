"""The softphone workstation's reaction times, through the real stack and the desktop's own buttons.

Brings up the real Asterisk with the project's dialplan and the real CTI server; the desktop window of agent
1090 (offscreen Qt, tests.support.workstation) signs in, its phone panel runs the real baresip with the
account from sign-in, registered with Asterisk.

(a) Answer: CALLS citizen calls (SIPp, to 12319) ring the panel; the test clicks the panel's Answer button.
    Measured: the click -> the softphone's 200 OK to the INVITE leaving for Asterisk, timed on the wire (a
    raw packet socket on loopback, the kernel's receive time of the packet from the phone's SIP port).
(b) Click-to-dial: the desktop's link sends `dial_citizen` for a case (as the follow-up tab's button does);
    Asterisk rings the agent's phone, which auto-answers (the panel's auto-answer box ticked), then dials the
    citizen through the carrier trunk; the citizen is a SIPp phone on 127.0.0.2:5060 that logs every message
    with its time (`-trace_msg`). Measured: request sent -> INVITE at the citizen's SIPp, CALLS calls.
    Baseline in the same run: a bare AMI Originate of the same trunk channel -> INVITE at the same SIPp.

Needs root (the raw socket, Asterisk's chroot) and the test suite's SIP ports (run it when no e2e runs).
Usage: flock /tmp/hotline-e2e-stack.lock .venv/bin/python -m benchmarks.bench_softphone [--calls 20]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import statistics
import struct
import subprocess
import sys
import time
from pathlib import Path

import yaml
from PySide6.QtWidgets import QApplication

from ari_app.config import load_config
from ari_app.protocol import Msg
from benchmarks.bench_three_way import until_invites
from benchmarks.stack import ami_connected, answering_phone, cti_running, originate_out, real_stack
from cti_desktop.softphone import CallState
from tests.support.e2e import PASSWORD, SOFTPHONE_AGENT, Sipp, add_user, channels, make_speech
from tests.support.phones import write_tone
from tests.support.qt import qt_until
from tests.support.rtp import LoopbackTap
from tests.support.workstation import Workstation


class AnswersSent(LoopbackTap):
    """The times (epoch, the kernel's) of the `200 OK`s to INVITEs sent from UDP port `port` on loopback,
    collected by a thread into `times` until `close`."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.times: list[float] = []
        super().__init__()

    def take(self, ip: bytes) -> None:
        if len(ip) < 28 or ip[9] != socket.IPPROTO_UDP:
            return
        udp = ip[(ip[0] & 0x0F) * 4 :]
        if struct.unpack("!H", udp[0:2])[0] != self.port:
            return
        sip = udp[8:]
        if sip.startswith(b"SIP/2.0 200") and b" INVITE\r\n" in sip:
            self.times.append(self.kernel_time())


def citizen_phone(tmp: Path) -> subprocess.Popen[bytes]:
    """The citizen behind the carrier trunk: answers every call, talks 1 s, hangs up; messages traced."""
    return answering_phone(tmp, "127.0.0.2", 5060, 7060, 1000, "-trace_msg")


async def answer_clicks(ws: Workstation, sipp: Sipp, n: int) -> list[float]:
    """(a): ms from each Answer click to the softphone's 200 OK on the wire."""
    panel = ws.panel
    assert panel.phone is not None
    sent = AnswersSent(panel.phone.sip_port)
    out = []
    try:
        ws.window.ready_button.click()
        await qt_until(lambda: ws.window.status_view.state == "ready", 10, "ready")
        for i in range(n):
            citizen = sipp.call("12319", f"1399091{i:04d}", talk_ms=30000, wait=False)
            await qt_until(lambda: ws.call_state() is CallState.INCOMING, 20, "the panel ringing")
            before = len(sent.times)
            clicked = time.time()
            panel.answer_button.click()
            await qt_until(lambda b=before: len(sent.times) > b, 10, "the 200 OK on the wire")  # type: ignore[misc]
            out.append((sent.times[before] - clicked) * 1000)
            await qt_until(lambda: ws.call_state() is CallState.ESTABLISHED, 10, "answered")
            await qt_until(lambda: ws.window.status_view.state == "on_call", 10, "the desktop told on_call")
            panel.hangup_button.click()
            await qt_until(lambda: ws.call_state() is None, 10, "hung up")
            citizen.kill()
            citizen.wait()
            await qt_until(lambda: ws.window.status_view.state == "ready", 20, "ready again")
    finally:
        sent.close()
    return out


async def dials(ws: Workstation, tmp: Path, n: int) -> list[float]:
    """(b): ms from each `dial_citizen` sent by the desktop's link to the INVITE at the citizen's SIPp."""
    link = ws.link
    ws.panel.auto_answer.setChecked(True)
    reply = await link.request(Msg.SET_STATE, state="paused", reason="meeting")
    assert reply["state"] == "paused", reply
    out = []
    for i in range(n):
        made = await link.request(
            Msg.CREATE_CASE, hotline="12345", request=f"外呼计时 {i}", urgency="normal", language="zh",
            handling="direct", contact=f"1399092{i:04d}", citizen_name="计时",
        )  # fmt: skip
        case_id = made["case"]["id"]
        await link.request(Msg.RESOLVE_DIRECTLY, case_id=case_id, resolution="已答复")
        sent = time.time()
        dialing = await link.request(Msg.DIAL_CITIZEN, case_id=case_id, purpose="follow_up")
        assert dialing["type"] == "dialing", dialing
        out.append((await until_invites(tmp, i + 1) - sent) * 1000)
        await qt_until(lambda: ws.call_state() is not None, 10, "the agent's phone on the call")
        await qt_until(lambda: ws.window.status_view.state == "on_call", 10, "the desktop told on_call")
        await qt_until(lambda: ws.call_state() is None, 30, "the citizen hung up")
        await qt_until(lambda: ws.window.status_view.state == "paused", 20, "back in the pause")
    ws.panel.auto_answer.setChecked(False)
    return out


async def originates(config: Path, tmp: Path, first: int, n: int) -> list[float]:
    """Baseline: ms from a bare AMI Originate of the trunk channel to the INVITE at the citizen's SIPp."""
    cfg = load_config(config)
    out = []
    async with ami_connected(cfg) as ami:
        for i in range(n):
            sent = time.time()
            await originate_out(ami, cfg.callback.trunk, f"1399093{i:04d}")
            out.append((await until_invites(tmp, first + i + 1) - sent) * 1000)
            await asyncio.to_thread(lambda: wait_idle(config))
    return out


def wait_idle(config: Path) -> None:
    deadline = time.monotonic() + 15
    while channels(config) != 0 and time.monotonic() < deadline:
        time.sleep(0.2)


async def run(config: Path, url: str, tmp: Path, sipp: Sipp, n: int) -> dict[str, list[float]]:
    ws = Workstation(url, tmp, write_tone(tmp / "tone.wav", seconds=120))
    try:
        await ws.sign_in()
        answer = await answer_clicks(ws, sipp, n)
        show("(a) Answer click -> softphone's 200 OK (wire)", answer)
        dial = await dials(ws, tmp, n)
        show("(b) dial_citizen sent -> INVITE at the citizen", dial)
    finally:
        await ws.close()
    baseline = await originates(config, tmp, n, n)
    show("baseline: AMI Originate -> INVITE at the citizen", baseline)
    return {"answer": answer, "dial": dial, "baseline": baseline}


def show(label: str, v: list[float]) -> None:
    """One line of figures, printed as soon as they are measured."""
    p99 = statistics.quantiles(v, n=100, method="inclusive")[98]
    print(f"{label:50}: p50 {statistics.median(v):6.1f} ms  p99 {p99:6.1f} ms  max {max(v):6.1f} ms", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=20)
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a timeout still tears the stack down
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    app = QApplication.instance() or QApplication([])
    with real_stack(agents=1) as (tmp, config):
        sipp = Sipp(tmp, make_speech(tmp))
        citizen = citizen_phone(tmp)
        try:
            add_user(config, SOFTPHONE_AGENT, "agent", PASSWORD)
            print(f"softphone workstation, {args.calls} calls each, one agent (1090, baresip), SQLite", flush=True)
            with cti_running(config, tmp / "cti.log"):
                port = yaml.safe_load(config.read_text(encoding="utf-8"))["server"]["port"]
                asyncio.run(run(config, f"ws://127.0.0.1:{port}", tmp, sipp, args.calls))
        finally:
            citizen.terminate()
            citizen.wait(timeout=10)
            sipp.stop()
    del app
    sys.stdout.flush()
    os._exit(0)  # Qt's objects are not torn down by the interpreter's finaliser (it aborted in one run)


if __name__ == "__main__":
    main()
