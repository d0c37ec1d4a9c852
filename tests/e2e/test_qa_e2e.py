"""From a real call to the QA view: a SIPp citizen says Korean words (espeak-ng) into the real Asterisk, a
SIPp agent answers, MixMonitor records, the transcription worker (`hotline transcribe --once`, the real Vosk
Korean model) transcribes; then a QA reviewer's desktop, signed in to the real CTI server process, finds
the call by a word the citizen said, loads its recording over the link into the player, seeks by a click on
the citizen's sentence, and scores the call; the playback and the score are in the audit log."""

from __future__ import annotations

import asyncio
import json
import random
import sqlite3
import wave
from pathlib import Path

import yaml
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from cti_desktop.drafts import DraftStore
from cti_desktop.i18n import Tr
from cti_desktop.link import LinkClient
from cti_desktop.window import MainWindow
from recordings.jobs import enqueue_for_call
from schema.base import utcnow
from schema.db import make_engine, make_sessionmaker
from tests.support.e2e import ROOT, Stack, add_user, hotline, one_call
from tests.support.qt import qt_until
from tests.support.speech import GRAMMAR, SAID, korean_ulaw, model_dir

PASSWORD = "e2e-质检-pass"
SHOTS = ROOT / "var" / "screenshots"


async def test_a_real_call_is_found_heard_and_scored_in_the_qa_view(stack: Stack, tmp_path: Path, qtbot: QtBot) -> None:
    caller = f"137{random.randrange(10**8):08d}"
    audio = korean_ulaw(tmp_path, SAID)
    call = await asyncio.to_thread(one_call, stack, tmp_path, audio, "12358", caller, 7000)
    assert call["recording"], call
    cfg_data = yaml.safe_load(stack.config.read_text(encoding="utf-8"))
    url = cfg_data["database"]["url"]
    engine = make_engine(url)
    try:
        with make_sessionmaker(engine)() as s:  # what the server's CallEnded subscriber does (idempotent)
            assert enqueue_for_call(s, call["id"], utcnow()) is not None
    finally:
        engine.dispose()
    cfg_data["speech"] = {"model": str(model_dir()), "grammar": list(GRAMMAR)}
    worker_config = tmp_path / "config.yaml"
    worker_config.write_text(yaml.safe_dump(cfg_data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    run = await asyncio.to_thread(hotline, worker_config, "transcribe", "--once", timeout=180)
    assert run.returncode == 0 and "done" in run.stdout, run.stdout + run.stderr
    with wave.open(call["recording"]) as w:  # the test runs as root, like Asterisk; the desktop never reads it
        seconds = w.getnframes() / w.getframerate()

    add_user(stack.config, "qa-e2e", "qa", PASSWORD)
    port = cfg_data["server"]["port"]
    window = MainWindow(Tr("zh"), DraftStore(tmp_path / "draft-qa.json"), server=f"ws://127.0.0.1:{port}")
    link = LinkClient(f"ws://127.0.0.1:{port}", window.handle_message, window.set_link_status, backoff_base=0.1)
    window.link = link
    link.start()
    try:
        await link.wait_online(10)
        window.signin.agent_id.setText("qa-e2e")
        window.signin.password.setText(PASSWORD)
        window.signin.button.click()
        await qt_until(lambda: window.isVisible() and window.tabs.currentIndex() == window.qa_tab, 10)
        window.resize(1280, 760)
        qa = window.qa
        qa.words.setText("가격")
        qa.hotline.setCurrentIndex(qa.hotline.findData("12358"))
        qtbot.mouseClick(qa.search_button, Qt.MouseButton.LeftButton)
        await qt_until(lambda: call["id"] in [c["call_id"] for c in qa.model.calls], 10)
        row = qa.model.row_of(call["id"])
        assert row is not None and qa.model.calls[row]["transcribed"]
        qa.table.selectRow(row)
        await qt_until(lambda: qa.loaded == (call["id"], "mix") and qa.player.player.duration() > 0, 20)
        assert abs(qa.player.player.duration() / 1000 - seconds) < 0.3, (qa.player.player.duration(), seconds)
        spoken = [i for i, s in enumerate(qa.sentences) if s["speaker"] == "caller" and "가격" in s["text"]]
        assert spoken, qa.sentences
        target = qa.sentences[spoken[0]]
        rect = qa.transcript.visualRect(qa.transcript.model().index(spoken[0], 2))
        qtbot.mouseClick(qa.transcript.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
        await qt_until(lambda: abs(qa.player.player.position() - target["start"] * 1000) < 80, 10)
        await qt_until(lambda: qa.current_sentence == spoken[0], 5)
        assert qa.transcript.item(spoken[0], 1).text() == "市民"
        qa.score.setValue(88)
        SHOTS.mkdir(parents=True, exist_ok=True)
        window.grab().save(str(SHOTS / "e2e_qa_view_real_call.png"))
        qtbot.mouseClick(qa.save_score, Qt.MouseButton.LeftButton)
        await qt_until(lambda: "88" in qa.scores.toPlainText(), 10)
    finally:
        qa_player = window.qa.player
        qa_player.unload()
        window.shutdown()
        await link.stop()
        window.signin.close()
        window.close()

    with sqlite3.connect(url.split("///", 1)[1]) as conn:
        audit = conn.execute(
            "select login, action, detail from audit_log where action in ('qa_playback', 'qa_score')"
        ).fetchall()
        scores = conn.execute("select login, score from qa_scores where call_id = ?", (call["id"],)).fetchall()
    mine = [(login, action, json.loads(detail)) for login, action, detail in audit if call["id"] in detail]
    assert ("qa-e2e", "qa_playback") in [(m[0], m[1]) for m in mine]
    assert any(m[1] == "qa_playback" and m[2]["side"] == "mix" for m in mine)
    assert any(m[1] == "qa_score" and m[2]["score"] == 88 for m in mine)
    assert scores == [("qa-e2e", 88)]
