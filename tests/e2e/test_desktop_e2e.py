"""The whole path with real parts: a SIPp call to 12319 into the real Asterisk, the real CTI server process,
and real desktops (offscreen Qt windows on the qasync loop) signed in over the link. The rung agent's
desktop pops with the call prefilled, the case saved from it is linked to the call, the other agent's
desktop hears nothing; then the server is killed and restarted under a signed-in desktop."""

from __future__ import annotations

import asyncio
import json
import random
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from cti_desktop.drafts import DraftStore
from cti_desktop.i18n import Tr
from cti_desktop.link import LinkClient, Status
from cti_desktop.window import MainWindow
from tests.desktop.conftest import type_text
from tests.e2e.conftest import AGENTS, Stack
from tests.e2e.harness import ROOT, calls, hotline

PASSWORD = "e2e-坐席-pass"


async def until(predicate: Callable[[], Any], within: float = 3.0) -> None:
    """Wait for a condition with a deadline, letting both asyncio (the link) and Qt (timers, repaints) run:
    the windows live on the plain asyncio loop here, with Qt's events processed as the loop turns."""

    async def poll() -> None:
        while not predicate():
            QApplication.processEvents()
            await asyncio.sleep(0.02)

    await asyncio.wait_for(poll(), within)


SHOTS = ROOT / "var" / "screenshots"


def _add_user(stack: Stack, login: str) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "ari_app.cli",
            "-c",
            str(stack.config),
            "users",
            "add",
            login,
            "--role",
            "agent",
            "--password-stdin",
        ],
        input=f"{PASSWORD}\n",
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert proc.returncode == 0 or "exists" in proc.stderr, proc.stderr


class Desk:
    """A desktop window and its link, with every message it received kept for the assertions."""

    def __init__(self, url: str, tmp: Path, name: str) -> None:
        self.window = MainWindow(Tr("zh"), DraftStore(tmp / f"draft-{name}.json"), server=url)
        self.received: list[dict[str, Any]] = []

        def handle(msg: dict[str, Any]) -> None:
            self.received.append(msg)
            self.window.handle_message(msg)

        self.link = LinkClient(url, handle, self.window.set_link_status, backoff_base=0.1, backoff_max=0.5)
        self.window.link = self.link
        self.link.start()

    async def sign_in(self, qtbot: QtBot, agent: str) -> None:
        await self.link.wait_online(10)
        self.window.signin.agent_id.setText(agent)
        self.window.signin.password.setText(PASSWORD)
        self.window.signin.button.click()
        await until(lambda: self.window.isVisible() and self.window.status_view.state == "paused", 10)

    async def close(self) -> None:
        self.window.shutdown()
        await self.link.stop()
        self.window.signin.close()
        self.window.close()


@pytest.fixture
async def desks(stack: Stack, qtbot: QtBot) -> AsyncIterator[tuple[Desk, Desk]]:
    for login in ("1001", "1002"):
        _add_user(stack, login)
    for i in range(AGENTS):  # only agents signed in on a desktop are in the queue for this test
        hotline(stack.config, "asterisk", "cli", f"queue remove member PJSIP/{1001 + i} from hotline")
    port = yaml.safe_load(stack.config.read_text(encoding="utf-8")).get("server", {}).get("port", 8765)
    url = f"ws://127.0.0.1:{port}"
    a, b = Desk(url, stack.tmp, "a"), Desk(url, stack.tmp, "b")
    try:
        yield a, b
    finally:
        await a.close()
        await b.close()
        for i in range(AGENTS):
            hotline(
                stack.config, "asterisk", "cli", f"queue add member PJSIP/{1001 + i} to hotline penalty 0 as {1001 + i}"
            )


async def test_call_pops_the_rung_agent_and_the_saved_case_is_linked(
    stack: Stack, desks: tuple[Desk, Desk], qtbot: QtBot
) -> None:
    a, b = desks
    await a.sign_in(qtbot, "1001")
    await b.sign_in(qtbot, "1002")  # signed in, stays paused: the queue never rings 1002
    a.window.ready_button.click()
    await until(lambda: a.window.status_view.state == "ready", 10)
    members = hotline(stack.config, "asterisk", "cli", "queue show hotline").stdout
    assert "1001" in members and "(paused" not in members.split("1001", 1)[1].split("\n", 1)[0]
    # a change made elsewhere (the Asterisk CLI, as an admin or supervisor would) shows on the desktop
    hotline(stack.config, "asterisk", "cli", "queue pause member PJSIP/1001 queue hotline reason meeting")
    await until(lambda: a.window.status_view.state == "paused", 10)
    assert "meeting" in a.window.state_label.text() or "会议" in a.window.state_label.text()
    hotline(stack.config, "asterisk", "cli", "queue unpause member PJSIP/1001 queue hotline")
    await until(lambda: a.window.status_view.state == "ready", 10)

    caller = f"132{random.randrange(10**8):08d}"
    sip = stack.sipp.call("12319", caller, talk_ms=8000, wait=False)
    await until(lambda: a.window.pop.call is not None, 20)
    pop = next(m for m in a.received if m["type"] == "screen_pop")
    assert pop["call"]["hotline"] == "12319" and pop["call"]["caller"] == caller
    assert a.window.form.hotline.currentData() == "12319"
    assert a.window.form.caller.text() == caller
    await until(lambda: a.window.pop.phase == "connected", 20)
    window = a.window
    window.form.category.setCurrentIndex(window.form.category.findData("供水"))
    type_text(window.form.request, "小区停水两天，请尽快处理")
    type_text(window.form.address, "水磨沟区南湖路 3 号")
    SHOTS.mkdir(parents=True, exist_ok=True)
    window.grab().save(str(SHOTS / "e2e_screen_pop_real_call.png"))
    window.form.save.click()
    await until(lambda: window.statusBar().currentMessage().startswith("案卷 12319-"), 10)

    (call,) = [c for c in calls(stack.config) if c["caller"] == caller]
    db = yaml.safe_load(stack.config.read_text(encoding="utf-8"))["database"]["url"].split("///", 1)[1]
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "select hotline, caller, call_id, request from cases where caller = ?", (caller,)
        ).fetchall()
    assert rows == [("12319", caller, call["id"], "小区停水两天，请尽快处理")]
    assert not [m for m in b.received if m["type"] in ("screen_pop", "call_update")], b.received
    assert b.window.pop.call is None
    assert "queue_add for" not in stack.cti.log.read_text(errors="replace")  # sign-in reached the queue cleanly
    assert sip.wait(timeout=30) == 0
    await until(lambda: a.window.status_view.state == "ready", 20)  # wrap-up is 0 s in the test config

    # the server dies under a signed-in desktop; a draft typed meanwhile is kept; the desktop comes back
    assert stack.cti.proc is not None
    synced = stack.cti.resyncs()
    stack.cti.proc.kill()
    stack.cti.proc.wait()
    await until(lambda: a.window.link_status != Status.ONLINE, 10)
    assert a.window.offline_banner.isVisible()
    type_text(window.form.request, "断线期间记录的诉求")
    stack.cti.start()
    stack.cti.wait_synced(synced + 1)
    await until(lambda: a.window.link_status == Status.ONLINE, 30)
    await until(lambda: a.window.status_view.state == "ready", 15)  # the state Asterisk has, not a guess
    assert not a.window.offline_banner.isVisible()
    assert "断线期间记录的诉求" in window.form.request.toPlainText()
    draft = window.drafts.load()
    assert draft is not None and "断线期间记录的诉求" in json.dumps(draft, ensure_ascii=False)
