"""The worker with the real model and a real database: transcripts land on the call (and its case), are
found by words, hotline, agent and date; bad audio fails with a reason; a worker killed with SIGKILL in
the middle of a job leaves it to the next worker, and the transcript is stored exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml
from sqlalchemy import func, make_url, select, text

from recordings.search import get_transcript, search_calls, transcript_for_case
from recordings.speech import SpeechModel
from recordings.worker import Worker, WorkerSettings, run_workers
from schema.cases import Case
from schema.transcripts import JobStatus, Transcript, TranscriptionJob, TranscriptSentence
from tests.support.db import Database as Db
from tests.support.speech import GRAMMAR, T0, AddCall
from tests.support.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
FAST = WorkerSettings(lease_seconds=30, max_attempts=2, poll_seconds=0.05)


def _worker(db: Db, model: SpeechModel, tmp_path: Path, name: str = "w1") -> Worker:
    return Worker(db.sessions, model, FAST, tmp_path / "recordings", name=name)


def test_worker_transcribes_each_side_and_search_finds_the_call(
    db: Db, add_call: AddCall, speech_model: SpeechModel, tmp_path: Path
) -> None:
    add_call(db, "c1", hotline="12358", agent="1001", caller_words="안녕하세요 가격 문의", agent_words="화재 신고")
    add_call(db, "c2", hotline="12345", agent="1002", caller_words="화재 신고", arrived_at=T0 + timedelta(days=2))
    with db.sessions() as s, s.begin():
        s.add(
            Case(number="12358-20261129-0001", channel="phone", hotline="12358", call_id="c1", request="价格",
                 urgency="normal", language="ko", handling="direct", status="intake", created_by_login="agent")
        )  # fmt: skip
    outcomes = run_workers(
        2, lambda i: _worker(db, speech_model, tmp_path, f"w{i}"), __import__("threading").Event(), once=True
    )
    assert sorted((o.call_id, o.status) for o in outcomes) == [("c1", "done"), ("c2", "done")]
    with db.sessions() as s:
        t = get_transcript(s, "c1")
        assert t is not None and t.hotline == "12358" and t.agent == "1001" and t.cases == ("12358-20261129-0001",)
        assert t.recording_available and t.caller_recording and t.agent_recording and t.job_status == "done"
        caller = [w.word for x in t.sentences if x.speaker == "caller" for w in x.words]
        agent = [w.word for x in t.sentences if x.speaker == "agent" for w in x.words]
        assert "가격" in caller and "화재" not in caller and "화재" in agent, t.sentences
        assert all(w.end >= w.start for x in t.sentences for w in x.words)
        case_id = s.scalar(select(Case.id).where(Case.call_id == "c1"))
        assert case_id is not None and transcript_for_case(s, case_id) == t

        assert [h.call_id for h in search_calls(s, "가격")] == ["c1"]
        assert [h.call_id for h in search_calls(s, "화재")] == ["c2", "c1"]  # newest first
        assert [h.call_id for h in search_calls(s, "화재 가격")] == ["c1"]  # every word
        assert [h.call_id for h in search_calls(s, "화재", hotline="12345")] == ["c2"]
        assert [h.call_id for h in search_calls(s, "화재", agent="1001")] == ["c1"]
        assert [h.call_id for h in search_calls(s, "화재", since=T0 + timedelta(days=1))] == ["c2"]
        assert [h.call_id for h in search_calls(s, "화재", until=T0 + timedelta(days=1))] == ["c1"]
        assert search_calls(s, "병원") == [] and search_calls(s, '" OR * NEAR(') == []  # no query syntax
        assert get_transcript(s, "nope") is None
    mix = Path(t.recording)
    assert mix.stat().st_mode & 0o777 == 0o600 and mix.parent.stat().st_mode & 0o777 == 0o700


def test_empty_corrupt_and_missing_recordings_fail_with_a_reason(
    db: Db, add_call: AddCall, speech_model: SpeechModel, tmp_path: Path
) -> None:
    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "corrupt.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00")
    add_call(db, "empty", recording=tmp_path / "empty.wav")
    add_call(db, "corrupt", recording=tmp_path / "corrupt.wav")
    add_call(db, "missing", recording=tmp_path / "missing.wav")
    worker = _worker(db, speech_model, tmp_path)
    worker.sweep()
    outcomes = worker.drain()
    # empty and corrupt fail at once; missing is retried once more (max_attempts=2), then fails
    assert [(o.call_id, o.status) for o in outcomes] == [
        ("empty", "failed"),
        ("corrupt", "failed"),
        ("missing", "pending"),
        ("missing", "failed"),
    ]
    with db.sessions() as s:
        rows = {j.call_id: j for j in s.scalars(select(TranscriptionJob))}
        assert s.scalar(select(func.count()).select_from(Transcript)) == 0
    assert (rows["empty"].error_id, rows["empty"].attempts) == ("audio_empty", 1)
    assert (rows["corrupt"].error_id, rows["corrupt"].attempts) == ("audio_corrupt", 1)
    assert (rows["missing"].error_id, rows["missing"].attempts) == ("recording_missing", 2)
    assert all(j.status == JobStatus.FAILED and j.error for j in rows.values())
    assert worker.drain() == []  # not retried forever


def test_fts_index_follows_updates_and_deletes(db: Db, add_call: AddCall) -> None:
    add_call(db, "c1", recording=Path("/r/c1.wav"))
    with db.sessions() as s, s.begin():
        s.add(Transcript(call_id="c1", recording="/r/c1.wav", model="m", sample_rate=8000, duration_seconds=1.0,
                         text="가격 문의"))  # fmt: skip
    with db.sessions() as s:
        assert [h.call_id for h in search_calls(s, "문의")] == ["c1"]
        s.execute(text("UPDATE transcripts SET text = '화재 신고'"))
        s.commit()
        assert search_calls(s, "문의") == [] and [h.call_id for h in search_calls(s, "신고")] == ["c1"]
        s.execute(text("DELETE FROM transcripts"))
        s.commit()
        assert search_calls(s, "신고") == []


def test_worker_killed_mid_job_is_replaced_and_stores_once(
    db: Db, add_call: AddCall, model_path: Path, speech_model: SpeechModel, tmp_path: Path
) -> None:
    # Two minutes of speech: decoding takes a few seconds, long enough to be killed in the middle.
    add_call(db, "long", caller_words="안녕하세요 가격 문의", agent_words="화재 신고", repeat=40)
    config = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
    url = make_url(db.url)
    config["database"]["url"] = (
        f"{url.drivername}://{url.username}@{url.host}:{url.port}/{url.database}" if url.password else db.url
    )
    config["recordings"]["path"] = str(tmp_path / "recordings")
    config["speech"] = {"model": str(model_path), "grammar": list(GRAMMAR), "lease_seconds": 2, "max_attempts": 3}
    cfg = tmp_path / "config.yaml"
    cfg.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    env = dict(os.environ, PYTHONUNBUFFERED="1", PGPASSWORD=url.password or "")
    proc = subprocess.Popen(
        [sys.executable, "-m", "ari_app.cli", "-c", str(cfg), "transcribe", "--once"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / "worker.log", "wb"),
    )

    def job() -> TranscriptionJob | None:
        assert proc.poll() is None, (tmp_path / "worker.log").read_text()
        with db.sessions() as s:
            return s.scalar(select(TranscriptionJob).where(TranscriptionJob.call_id == "long"))

    try:
        held = wait_for(
            lambda: (j := job()) is not None and j.status == JobStatus.RUNNING and j, 60, "the claim", interval=0.01
        )
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=10) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
    with db.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Transcript)) == 0, "the worker finished before the kill"
    assert held.attempts == 1 and held.worker is not None
    # The dead worker's lease runs out; the next worker takes the job (attempt 2) and stores it.
    assert held.lease_until is not None
    wait_for(
        lambda: datetime.now(UTC) > held.lease_until + timedelta(seconds=2.5), 30, "the lease to expire", interval=0.01
    )
    settings = WorkerSettings(lease_seconds=2, max_attempts=3)
    outcomes = Worker(db.sessions, speech_model, settings, tmp_path / "recordings", name="w2").drain()
    assert [(o.call_id, o.status) for o in outcomes] == [("long", "done")]
    with db.sessions() as s:
        j = s.scalars(select(TranscriptionJob)).one()
        assert (j.status, j.attempts, j.worker) == ("done", 2, "w2")
        assert s.scalar(select(func.count()).select_from(Transcript)) == 1
        t = s.scalars(select(Transcript)).one()
        assert t.job_id == j.id and t.duration_seconds > 60
        n = s.scalar(select(func.count()).select_from(TranscriptSentence))
        assert n is not None and n > 10
        assert [h.call_id for h in search_calls(s, "가격")] == ["long"]


def test_two_worker_processes_share_the_jobs_and_store_each_once(
    db: Db, add_call: AddCall, model_path: Path, tmp_path: Path
) -> None:
    """`hotline transcribe --workers 2 --once`: two processes, each with its own model, claim from the same
    table; every job is transcribed once, by one of them."""
    for i in range(4):
        add_call(db, f"p{i}", caller_words="안녕하세요 가격 문의", agent_words="화재 신고", repeat=3)
    config = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
    url = make_url(db.url)
    config["database"]["url"] = (
        f"{url.drivername}://{url.username}@{url.host}:{url.port}/{url.database}" if url.password else db.url
    )
    config["recordings"]["path"] = str(tmp_path / "recordings")
    config["speech"] = {"model": str(model_path), "grammar": list(GRAMMAR)}
    cfg = tmp_path / "config.yaml"
    cfg.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    env = dict(os.environ, PGPASSWORD=url.password or "")
    proc = subprocess.run(
        [sys.executable, "-m", "ari_app.cli", "-c", str(cfg), "transcribe", "--once", "--workers", "2"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    with db.sessions() as s:
        jobs = s.scalars(select(TranscriptionJob)).all()
        assert sorted(j.call_id for j in jobs) == ["p0", "p1", "p2", "p3"]
        assert {j.status for j in jobs} == {"done"} and all(j.attempts == 1 for j in jobs)
        assert s.scalar(select(func.count()).select_from(Transcript)) == 4
    # both processes printed their summary; between them they did the four jobs
    done = [
        int(line.split()[2])
        for line in proc.stdout.splitlines()
        if line.startswith("transcription jobs:") and "done" in line
    ]
    assert sum(done) == 4 and len(proc.stdout.splitlines()) == 2, proc.stdout
