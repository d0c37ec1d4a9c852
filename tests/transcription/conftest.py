"""Fixtures for the transcription suite: the real Vosk Korean model (loaded once per session), Korean
speech from espeak-ng (tests/support/speech.py), and a migrated database on SQLite and on PostgreSQL
(tests/support/db.py), in a database of this suite's own."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path

import pytest

from recordings.speech import SpeechModel
from tests.support import speech
from tests.support.db import BACKENDS, Database, empty, migrated_sqlite, postgres_database
from tests.support.speech import GRAMMAR, AddCall, model_dir


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


@pytest.fixture(scope="session")
def _pg_database() -> Iterator[Database]:
    """A database of this suite's own on the test cluster, so it never disturbs the case suite's."""
    db = postgres_database("transcription")
    yield db
    db.engine.dispose()


@pytest.fixture(params=BACKENDS)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        db = migrated_sqlite(tmp_path / "hotline.db")
        yield db
        db.engine.dispose()
        return
    db = request.getfixturevalue("_pg_database")
    empty(db.engine)
    yield db


@pytest.fixture
def add_call(tmp_path: Path) -> AddCall:
    """Store an ended call; with `caller_words`/`agent_words`, also its recordings in the real layout."""
    return functools.partial(speech.add_call, root=tmp_path / "recordings")
