"""Recorded, transcribed calls for the QA tests (link and desktop): call rows, WAV files in the recording
store's layout, and transcript rows with sentences and word times, as the transcription worker stores them
(the SQLite full-text index is kept by the migration's triggers, so the search finds them)."""

from __future__ import annotations

import json
import math
import struct
import wave
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from recordings.store import day_folder
from schema.calls import CallRecord
from schema.cases import Case
from schema.transcripts import Transcript, TranscriptionJob, TranscriptSentence
from tests.support.calls import ended_record

RATE = 8000
# (speaker, start, end, text): what was said on the call "qa-water" (12345, agent 1001)
WATER_SENTENCES = (
    ("agent", 0.2, 1.4, "您好 市民热线"),
    ("caller", 1.6, 3.4, "小区 停水 三天 了"),
    ("agent", 3.6, 4.8, "请问 您的 地址"),
    ("caller", 5.0, 6.4, "天山区 解放北路"),
)


def tone_wav(path: Path, seconds: float, freq: float) -> Path:
    """A 16-bit mono 8 kHz WAV (what MixMonitor writes) holding a tone."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = b"".join(
        struct.pack("<h", int(8000 * math.sin(2 * math.pi * freq * i / RATE))) for i in range(int(seconds * RATE))
    )
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(frames)
    return path


def add_call(
    sessions: sessionmaker[Session],
    root: Path,
    call_id: str,
    *,
    hotline: str,
    agent: str | None,
    arrived_at: datetime,
    sentences: tuple[tuple[str, float, float, str], ...] = (),
    seconds: float = 6.6,
    recorded: bool = True,
) -> CallRecord:
    """A call that ended; its recording (mix and both sides) when `recorded`; a transcript when `sentences`."""
    mix: Path | None = None
    if recorded:
        folder = day_folder(root, arrived_at, hotline)
        mix = tone_wav(folder / f"{call_id}.wav", seconds, 440)
        tone_wav(folder / f"{call_id}-caller.wav", seconds, 330)
        tone_wav(folder / f"{call_id}-agent.wav", seconds, 550)
    row = ended_record(
        call_id,
        hotline=hotline,
        agent=agent,
        caller="13900000001",
        arrived_at=arrived_at,
        answered_after=4,
        talked=seconds,
        recording=mix,
        wait_seconds=4.0,
    )
    with sessions() as s, s.begin():
        s.add(row)
        if sentences and mix is not None:
            job = TranscriptionJob(call_id=call_id, recording=str(mix), status="done", attempts=1)
            s.add(job)
            s.flush()
            t = Transcript(
                call_id=call_id,
                job_id=job.id,
                recording=str(mix),
                model="vosk-model-test",
                sample_rate=RATE,
                duration_seconds=seconds,
                text=" ".join(x[3] for x in sentences),
            )
            for i, (speaker, start, end, text) in enumerate(sentences):
                words = text.split()
                step = (end - start) / max(1, len(words))
                t.sentences.append(
                    TranscriptSentence(
                        position=i,
                        speaker=speaker,
                        start=start,
                        end=end,
                        text=text,
                        words=json.dumps(
                            [[w, start + k * step, start + (k + 1) * step, 0.9] for k, w in enumerate(words)],
                            ensure_ascii=False,
                        ),
                    )
                )
            s.add(t)
    return row


T_WATER = datetime(2026, 11, 29, 2, 0, tzinfo=UTC)  # 10:00 in Urumqi's centre (Asia/Shanghai in config)
T_LATE = datetime(2026, 11, 28, 20, 0, tzinfo=UTC)  # 04:00 on the 29th there, still the 28th in UTC
T_OLD = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)


def seed(sessions: sessionmaker[Session], root: Path) -> dict[str, CallRecord]:
    """Four calls: a transcribed 12345 call about a water cut (with a case taken on it), a transcribed 12350
    call, an older 12345 call of another agent recorded but not transcribed yet, and a call not recorded."""
    calls = {
        "qa-water": add_call(
            sessions, root, "qa-water", hotline="12345", agent="1001", arrived_at=T_WATER, sentences=WATER_SENTENCES
        ),
        "qa-safety": add_call(
            sessions,
            root,
            "qa-safety",
            hotline="12350",
            agent="1002",
            arrived_at=T_LATE,
            sentences=(("caller", 0.3, 2.0, "工地 脚手架 松动"), ("agent", 2.2, 3.5, "马上 通知 安监")),
            seconds=4.0,
        ),
        "qa-old": add_call(sessions, root, "qa-old", hotline="12345", agent="1002", arrived_at=T_OLD, seconds=2.0),
        "qa-unrecorded": add_call(
            sessions, root, "qa-unrecorded", hotline="12345", agent="1001", arrived_at=T_OLD, recorded=False
        ),
    }
    with sessions() as s, s.begin():
        s.add(
            Case(number="12345-20261129-0001", channel="phone", hotline="12345", call_id="qa-water",
                 request="小区停水三天", urgency="normal", language="zh", handling="dispatch", status="received",
                 created_by_login="1001")
        )  # fmt: skip
    return calls
