"""A real call transcribed: a SIPp citizen streams espeak-ng Korean speech into the real Asterisk, a SIPp
agent answers; after hangup the transcription worker (`hotline transcribe --once`, the real Vosk Korean
model) transcribes MixMonitor's recording, and the case taken on the call carries what the caller said,
attributed to the caller's side."""

from __future__ import annotations

import random
from pathlib import Path

import yaml
from sqlalchemy import select

from ari_app.config import load_config
from recordings.jobs import enqueue_for_call
from recordings.search import search_calls, transcript_for_case
from schema.base import utcnow
from schema.cases import Case
from schema.db import make_engine, make_sessionmaker
from tests.support.e2e import Stack, hotline, one_call
from tests.support.speech import GRAMMAR, SAID, korean_ulaw, model_dir


def test_call_recording_is_transcribed_into_the_case_with_the_callers_words(stack: Stack, tmp_path: Path) -> None:
    model = model_dir()
    caller = "138" + "".join(random.choice("0123456789") for _ in range(8))
    call = one_call(stack, tmp_path, korean_ulaw(tmp_path, SAID), "12358", caller, 7000)
    assert call["recording"] and call["agent"], call
    cfg = load_config(stack.config)
    engine = make_engine(cfg.database_url)
    sessions = make_sessionmaker(engine)
    try:
        with sessions() as s, s.begin():  # the agent took a case on the call (what intake stores)
            s.add(
                Case(number=f"12358-e2e-{caller}", channel="phone", hotline="12358", call_id=call["id"],
                     caller=caller, request="价格咨询", urgency="normal", language="ko", handling="direct",
                     status="intake", created_by_login="agent")
            )  # fmt: skip
        with sessions() as s:  # what the CTI server's CallEnded subscriber does
            job = enqueue_for_call(s, call["id"], utcnow())
            assert job is not None and job.recording == call["recording"]

        data = yaml.safe_load(stack.config.read_text(encoding="utf-8"))
        data["speech"] = {"model": str(model), "grammar": list(GRAMMAR)}
        worker_config = tmp_path / "config.yaml"
        worker_config.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
        run = hotline(worker_config, "transcribe", "--once", timeout=180)
        assert run.returncode == 0, run.stderr
        assert "done" in run.stdout, run.stdout + run.stderr

        with sessions() as s:
            case_id = s.scalars(select(Case.id).where(Case.call_id == call["id"])).one()
            t = transcript_for_case(s, case_id)
            assert t is not None and t.call_id == call["id"] and t.hotline == "12358"
            caller_words = [w.word for x in t.sentences if x.speaker == "caller" for w in x.words]
            agent_words = [w.word for x in t.sentences if x.speaker == "agent" for w in x.words]
            assert "안녕하세요" in caller_words and "가격" in caller_words, t.sentences
            assert "가격" not in agent_words, t.sentences  # the agent phone sent no speech
            assert call["id"] in [h.call_id for h in search_calls(s, "가격", hotline="12358")]
    finally:
        engine.dispose()
    mix = Path(call["recording"])
    # Asterisk's files, read by the CTI server through the recordings folder's group; nobody else's
    for path in (mix, mix.with_name(f"{call['id']}-caller.wav"), mix.with_name(f"{call['id']}-agent.wav")):
        assert path.stat().st_mode & 0o777 == 0o640, path
        assert path.stat().st_gid == cfg.recordings_path.stat().st_gid, path
    assert mix.parent.stat().st_mode & 0o7777 == 0o2750
