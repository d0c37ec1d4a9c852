"""A full recordings disk must not go unnoticed: the WAV check of a call's files (missing, 0 bytes, a header
only, truncated), the free-space judgement against the configured bounds, the config keys' validation, and
the check's effect on the call record, the audit log and the transcription jobs (real SQLite database).
And what a crash of Asterisk leaves (a file never closed) is kept, transcribed and played, not failed."""

from __future__ import annotations

import asyncio
import hashlib
import json
import struct
import wave
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from ari_app.config import ConfigError, DiskThreshold, load_config
from ari_app.health import FULL_BYTES, DiskState, Health, HealthReport, judge_disk, measure_disk, with_disk
from ari_app.protocol import RECORDING_CHUNK
from ari_app.qa.recordings import audit_recording_failure
from ari_app.qa.service import Playback, read_chunk, sha256_of
from recordings import jobs
from recordings.audio import read_wav
from recordings.service import RecordingFailure, TranscriptionService
from recordings.store import RecordingSet
from recordings.verify import UNCLOSED, RecordingStatus, check_set, check_wav, closed_header, describe
from schema.calls import CallRecord
from schema.cases import AuditEntry
from schema.db import make_engine, make_sessionmaker, upgrade
from schema.transcripts import TranscriptionJob

ROOT = Path(__file__).resolve().parents[2]
GIB = 1 << 30
T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def good_wav(path: Path, seconds: float = 0.5, rate: int = 8000) -> Path:
    """A complete 16-bit mono WAV of silence, as Asterisk's MixMonitor writes it once closed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\0\0" * int(seconds * rate))
    return path


def header_only(path: Path) -> Path:
    """What Asterisk leaves when it opened the file but wrote no audio: a 44-byte header with sizes 0."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = struct.pack("<HHIIHH", 1, 1, 8000, 16000, 2, 16)
    path.write_bytes(
        b"RIFF" + struct.pack("<I", 36) + b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt + b"data\0\0\0\0"
    )
    return path


# --- the WAV check ------------------------------------------------------------------------------------


def test_a_complete_wav_passes(tmp_path: Path) -> None:
    assert check_wav(good_wav(tmp_path / "a.wav")) is None


@pytest.mark.parametrize(
    ("make", "kind", "words"),
    [
        (lambda p: p, "missing", "no such file"),
        (lambda p: (p.write_bytes(b""), p)[1], "empty", "0 bytes"),
        (header_only, "header_only", "a header only"),
        (lambda p: (p.write_bytes(b"ID3\x03 not a wave at all"), p)[1], "not_wav", "no RIFF/WAVE header"),
    ],
)
def test_bad_files_are_named_with_what_is_wrong(tmp_path: Path, make: object, kind: str, words: str) -> None:
    path = tmp_path / "bad.wav"
    make(path)  # type: ignore[operator]
    problem = check_wav(path)
    assert problem is not None and problem.kind == kind and words in problem.detail
    assert str(problem).startswith("bad.wav: ")


def test_a_truncated_wav_is_caught_by_its_header(tmp_path: Path) -> None:
    path = good_wav(tmp_path / "t.wav", seconds=1.0)
    blob = path.read_bytes()
    path.write_bytes(blob[: len(blob) // 2])  # a write that failed part way (ENOSPC)
    problem = check_wav(path)
    assert problem is not None and problem.kind == "truncated"
    assert f"the file holds {len(blob) // 2}" in problem.detail


def test_a_data_chunk_promising_more_than_is_there_is_truncated(tmp_path: Path) -> None:
    path = good_wav(tmp_path / "d.wav", seconds=1.0)
    blob = bytearray(path.read_bytes())
    struct.pack_into("<I", blob, 4, len(blob) - 8)  # RIFF size right,
    struct.pack_into("<I", blob, 40, 999_999)  # data size wrong
    path.write_bytes(bytes(blob))
    problem = check_wav(path)
    assert problem is not None and problem.kind == "truncated" and "999999 bytes of audio" in problem.detail


def test_a_header_that_disagrees_with_the_file_size_is_caught(tmp_path: Path) -> None:
    path = good_wav(tmp_path / "m.wav", seconds=1.0)
    blob = bytearray(path.read_bytes())
    struct.pack_into("<I", blob, 4, 36)  # the RIFF size of a header-only file, with a second of audio behind it
    path.write_bytes(bytes(blob))
    problem = check_wav(path)
    assert problem is not None and problem.kind == "size_mismatch"
    assert f"the header says 44 bytes, the file holds {len(blob)}" in problem.detail


def unclosed(path: Path, seconds: float = 2.0) -> Path:
    """What Asterisk's format_wav leaves when it is killed while recording: the header it wrote at open, RIFF
    and data sizes 0, with the audio written since behind it (seen after the e2e crash test: "the header says
    8 bytes, the file holds 32812")."""
    good_wav(path, seconds)
    blob = bytearray(path.read_bytes())
    struct.pack_into("<I", blob, 4, 0)
    struct.pack_into("<I", blob, 40, 0)
    path.write_bytes(bytes(blob))
    return path


def test_a_file_its_recorder_never_closed_is_unclosed_and_usable_once_the_recorder_is_gone(tmp_path: Path) -> None:
    mix = unclosed(tmp_path / "1764.3.wav", seconds=2.0)
    problem = check_wav(mix)
    assert problem is not None and problem.kind == UNCLOSED
    assert problem.detail == "never closed: its sizes are still 0, with 32000 bytes of audio behind them"
    good_wav(tmp_path / "1764.3-caller.wav")
    unclosed(tmp_path / "1764.3-agent.wav")
    files = RecordingSet("1764.3", mix, None, None)
    assert [p.kind for p in check_set(files)] == [UNCLOSED, UNCLOSED]  # Asterisk may still close them
    assert check_set(files, recorder_gone=True) == []  # the call ended lost: nothing will close them
    # a file opened at the crash with nothing in it yet is still a header only, never a recording
    empty = unclosed(tmp_path / "e.wav", seconds=0)
    assert (problem := check_wav(empty)) is not None and problem.kind == "header_only"
    assert check_set(RecordingSet("e", empty, None, None), recorder_gone=True)[0].kind == "header_only"


def test_an_unclosed_file_is_read_to_its_end_and_served_with_the_header_its_close_would_have_written(
    tmp_path: Path,
) -> None:
    path = unclosed(tmp_path / "1764.4.wav", seconds=1.5)
    before = path.read_bytes()
    assert read_wav(path).duration == 1.5  # the transcriber takes the audio to the end of the file
    playback = Playback("p", "1764.4", "mix", path, len(before), closed_header(path) or b"")
    assert len(playback.header) == 44
    served = b"".join(read_chunk(playback, offset) for offset in range(0, len(before), RECORDING_CHUNK))
    assert len(served) == len(before) and served[44:] == before[44:]
    assert sha256_of(playback) == hashlib.sha256(served).hexdigest()  # what the desktop checks the bytes by
    served_path = tmp_path / "served.wav"
    served_path.write_bytes(served)
    with wave.open(str(served_path)) as w:  # a standard reader (QMediaPlayer's too) sees the whole second and a half
        assert w.getnframes() == 12000
    assert path.read_bytes() == before  # the record as Asterisk wrote it is not changed
    assert closed_header(good_wav(tmp_path / "closed.wav")) is None


def test_every_file_of_the_set_is_checked(tmp_path: Path) -> None:
    mix = good_wav(tmp_path / "1764.1.wav")
    good_wav(tmp_path / "1764.1-caller.wav")
    (tmp_path / "1764.1-agent.wav").write_bytes(b"")
    problems = check_set(RecordingSet("1764.1", mix, None, None))
    assert [(p.path.name, p.kind) for p in problems] == [("1764.1-agent.wav", "empty")]
    good_wav(tmp_path / "1764.1-agent.wav")
    assert check_set(RecordingSet("1764.1", mix, None, None)) == []
    (tmp_path / "1764.1-caller.wav").unlink()
    assert [p.kind for p in check_set(RecordingSet("1764.1", mix, None, None))] == ["missing"]


def test_the_reason_fits_the_column() -> None:
    from recordings.verify import FileProblem

    many = [FileProblem(Path(f"/r/{i:040d}.wav"), "empty", "0 bytes") for i in range(30)]
    text = describe(many)
    assert len(text) == 512 and text.endswith("…")


# --- the free-space judgement -------------------------------------------------------------------------


def test_disk_states_against_the_bounds() -> None:
    total = 100 * GIB
    ok = judge_disk("/rec", 50 * GIB, total, GIB, 5.0)
    assert ok.state is DiskState.OK and ok.problem is None and ok.percent_free == 50.0
    by_percent = judge_disk("/rec", 4 * GIB, total, GIB, 5.0)  # 4 GiB is above 1 GiB but below 5 %
    assert by_percent.state is DiskState.LOW and by_percent.problem is not None
    assert "recordings disk low: /rec has 4.0 GiB free of 100.0 GiB (4.0 %)" in by_percent.problem
    by_bytes = judge_disk("/rec", GIB // 2, 4 * GIB, GIB, 5.0)  # 12.5 % free, but below 1 GiB
    assert by_bytes.state is DiskState.LOW
    full = judge_disk("/rec", FULL_BYTES - 1, total, GIB, 5.0)
    assert full.state is DiskState.FULL and full.problem is not None and "recordings disk full" in full.problem
    assert judge_disk("/rec", 0, 2 << 20, GIB, 5.0).state is DiskState.FULL


def test_a_bound_of_zero_is_off() -> None:
    assert judge_disk("/rec", 2 * GIB, 100 * GIB, 0, 5.0).state is DiskState.LOW
    assert judge_disk("/rec", 2 * GIB, 100 * GIB, GIB, 0).state is DiskState.OK
    assert judge_disk("/rec", FULL_BYTES, 100 * GIB, 0, 0).state is DiskState.OK


def test_measure_a_real_filesystem_and_a_folder_not_made_yet(tmp_path: Path) -> None:
    here = measure_disk(tmp_path / "not" / "made", DiskThreshold(min_free_bytes=0, min_free_percent=0))
    assert here.free_bytes is not None and here.total_bytes is not None and 0 <= here.free_bytes <= here.total_bytes
    assert here.path == str(tmp_path / "not" / "made")
    demanding = measure_disk(tmp_path, DiskThreshold(min_free_bytes=1 << 60, min_free_percent=0))
    assert demanding.state in (DiskState.LOW, DiskState.FULL) and demanding.problem
    assert demanding.as_dict()["min_free_bytes"] == 1 << 60


def test_a_disk_problem_degrades_an_up_report_but_never_lifts_a_down_one() -> None:
    low = judge_disk("/rec", GIB // 2, 100 * GIB, GIB, 5.0)
    up = HealthReport(Health.UP, T0, 1.0, 1.0, 0, 60)
    degraded = with_disk(up, low)
    assert degraded.state is Health.DEGRADED and degraded.problems == (low.problem,)
    assert degraded.as_dict()["recordings_disk"]["state"] == "low"  # type: ignore[index]
    down = HealthReport(Health.DOWN, T0, None, None, None, 60, ("AMI did not answer",))
    assert with_disk(down, low).state is Health.DOWN
    fine = judge_disk("/rec", 50 * GIB, 100 * GIB, GIB, 5.0)
    assert with_disk(up, fine).state is Health.UP and with_disk(up, fine).problems == ()


# --- config -------------------------------------------------------------------------------------------


def test_shipped_thresholds() -> None:
    cfg = load_config(ROOT / "config.yaml")
    assert cfg.recordings_disk == DiskThreshold(min_free_bytes=GIB, min_free_percent=5.0)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("min_free_percent: 5", "min_free_percent: 120", "recordings.min_free_percent: expected a percentage 0..100"),
        ("min_free_percent: 5", 'min_free_percent: "five"', "expected a percentage 0..100, got 'five'"),
        ("min_free_bytes: 1073741824", "min_free_bytes: -1", "recordings.min_free_bytes: expected an integer 0.."),
        ("min_free_bytes: 1073741824", "min_free_bytes: 1GB", "recordings.min_free_bytes: expected an integer"),
    ],
)
def test_bad_thresholds_get_a_clear_error(tmp_path: Path, old: str, new: str, expected: str) -> None:
    text = (ROOT / "config.yaml").read_text(encoding="utf-8")
    assert old in text
    (tmp_path / "config.yaml").write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "config.yaml")
    assert any(expected in str(i) for i in info.value.issues), [str(i) for i in info.value.issues]


# --- the check on the call record ---------------------------------------------------------------------


@pytest.fixture
def service(tmp_path: Path) -> TranscriptionService:
    engine = make_engine(f"sqlite:///{tmp_path / 'db' / 'h.db'}")
    upgrade(engine)
    return TranscriptionService(
        make_sessionmaker(engine), tmp_path / "rec", settle_seconds=0.3, audit_failure=audit_recording_failure
    )


def add_call(service: TranscriptionService, call_id: str, mix: Path | None, end_reason: str | None = None) -> None:
    with service.sessions.begin() as s:
        s.add(
            CallRecord(
                linkedid=call_id,
                hotline="12345",
                state="ended",
                arrived_at=T0,
                ended_at=T0 + timedelta(seconds=30),
                recording=str(mix) if mix else None,
                end_reason=end_reason,
            )
        )


def call_row(service: TranscriptionService, call_id: str) -> tuple[str | None, str | None, int]:
    with service.sessions() as s:
        row = s.scalars(select(CallRecord).where(CallRecord.linkedid == call_id)).one()
        n = s.scalar(select(func.count()).select_from(TranscriptionJob).where(TranscriptionJob.call_id == call_id))
        return row.recording_status, row.recording_error, int(n or 0)


def test_a_zero_byte_recording_is_marked_failed_audited_and_never_transcribed(
    service: TranscriptionService, tmp_path: Path
) -> None:
    folder = tmp_path / "rec" / "2026" / "11" / "30" / "12345"
    folder.mkdir(parents=True)
    for name in ("1764.9.wav", "1764.9-caller.wav", "1764.9-agent.wav"):
        (folder / name).write_bytes(b"")
    add_call(service, "1764.9", folder / "1764.9.wav")
    with service.sessions() as s:  # a worker's sweep ran while the server's check waited
        assert jobs.sweep(s, T0) == 1
    told: list[RecordingFailure] = []
    service.publish = told.append

    failure = asyncio.run(service.finish("1764.9"))

    assert failure is not None and told == [failure]
    status, error, job_count = call_row(service, "1764.9")
    assert status == RecordingStatus.FAILED and job_count == 1
    with service.sessions() as s:
        job = s.scalars(select(TranscriptionJob).where(TranscriptionJob.call_id == "1764.9")).one()
        assert (job.status, job.error_id) == ("failed", "recording_failed")  # never claimed by a worker
        assert jobs.claim(s, "w1", T0, 60, 3) is None
    assert error == "1764.9.wav: 0 bytes; 1764.9-caller.wav: 0 bytes; 1764.9-agent.wav: 0 bytes"
    with service.sessions() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "recording_failed")).one()
        assert entry.login == "system" and json.loads(entry.detail or "{}")["call_id"] == "1764.9"
        # the sweep and a second enqueue leave it as it is
        assert jobs.sweep(s, T0) == 0
        again = jobs.enqueue_for_call(s, "1764.9", T0)
        assert again is None


def test_a_recording_that_becomes_complete_while_settling_is_ok(service: TranscriptionService, tmp_path: Path) -> None:
    folder = tmp_path / "rec" / "day"
    mix = header_only(folder / "1764.5.wav")  # Asterisk has not closed it yet
    good_wav(folder / "1764.5-caller.wav")
    good_wav(folder / "1764.5-agent.wav")
    add_call(service, "1764.5", mix)

    async def run() -> RecordingFailure | None:
        check = asyncio.create_task(service.finish("1764.5"))
        await asyncio.sleep(0.05)  # the recorder closes the file a moment after the hang-up
        good_wav(mix)
        return await check

    assert asyncio.run(run()) is None
    status, error, job_count = call_row(service, "1764.5")
    assert (status, error, job_count) == (RecordingStatus.OK, None, 1)


@pytest.mark.parametrize("end_reason", ["lost", "caller_hangup"])
def test_the_recording_of_a_call_cut_by_a_crash_is_kept_and_transcribed(
    service: TranscriptionService, tmp_path: Path, end_reason: str
) -> None:
    """A call that ended `lost` (Asterisk was killed during it) left its files unclosed: that is its
    recording, marked ok with a job. The same files on a call that ended normally mean Asterisk never closed
    them while it kept running: failed, as before."""
    folder = tmp_path / "rec" / "day"
    mix = unclosed(folder / "1764.6.wav")
    unclosed(folder / "1764.6-caller.wav")
    unclosed(folder / "1764.6-agent.wav")
    add_call(service, "1764.6", mix, end_reason=end_reason)
    asyncio.run(service.finish("1764.6"))
    status, error, job_count = call_row(service, "1764.6")
    if end_reason == "lost":
        assert (status, error, job_count) == (RecordingStatus.OK, None, 1)
    else:
        assert status == RecordingStatus.FAILED and job_count == 0 and error is not None and "never closed" in error


def test_the_start_up_sweep_keeps_the_recording_of_a_call_lost_while_the_server_was_down(
    service: TranscriptionService, tmp_path: Path
) -> None:
    folder = tmp_path / "rec" / "day"
    for name in ("1764.8.wav", "1764.8-caller.wav", "1764.8-agent.wav"):
        unclosed(folder / name)
    add_call(service, "1764.8", folder / "1764.8.wav", end_reason="lost")
    asyncio.run(service.start())
    asyncio.run(service.stop())
    assert call_row(service, "1764.8") == (RecordingStatus.OK, None, 1)


def test_an_unrecorded_call_is_left_alone(service: TranscriptionService) -> None:
    add_call(service, "1764.7", None)
    assert asyncio.run(service.finish("1764.7")) is None
    assert call_row(service, "1764.7") == (None, None, 0)


def test_the_start_up_sweep_checks_calls_that_ended_while_the_server_was_down(
    service: TranscriptionService, tmp_path: Path
) -> None:
    folder = tmp_path / "rec" / "day"
    good = good_wav(folder / "1764.1.wav")
    good_wav(folder / "1764.1-caller.wav")
    good_wav(folder / "1764.1-agent.wav")
    add_call(service, "1764.1", good)
    add_call(service, "1764.2", folder / "1764.2.wav")  # nothing written at all
    told: list[RecordingFailure] = []
    service.publish = told.append

    asyncio.run(service.start())
    asyncio.run(service.stop())

    assert call_row(service, "1764.1") == (RecordingStatus.OK, None, 1)
    status, error, job_count = call_row(service, "1764.2")
    assert status == RecordingStatus.FAILED and job_count == 0 and error is not None and "no such file" in error
    assert [f.call_id for f in told] == ["1764.2"]


def test_status_names_a_low_recordings_disk(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from ari_app.cli import main

    text = (ROOT / "config.yaml").read_text(encoding="utf-8")
    text = text.replace("  path: var/recordings", f"  path: {tmp_path / 'rec'}", 1)
    text = text.replace("min_free_bytes: 1073741824", f"min_free_bytes: {1 << 60}", 1)
    (tmp_path / "config.yaml").write_text(text, encoding="utf-8")
    code = main(["-c", str(tmp_path / "config.yaml"), "status", "--timeout", "0.3"])
    out = capsys.readouterr().out
    assert code >= 1  # degraded at least (no Asterisk here: down)
    assert f"Recordings disk {tmp_path / 'rec'}: low" in out
    assert f"  - recordings disk low: {tmp_path / 'rec'} has " in out and "below 1048576.0 TiB or 5 %" in out
    assert out.splitlines()[-1] == ("Hotline platform: down" if code == 2 else "Hotline platform: degraded")
    main(["-c", str(tmp_path / "config.yaml"), "status", "--timeout", "0.3", "--json"])
    disk = json.loads(capsys.readouterr().out)["recordings_disk"]
    assert disk["state"] == "low" and disk["min_free_bytes"] == 1 << 60 and disk["problem"].startswith("recordings")
