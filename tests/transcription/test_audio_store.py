"""WAV reading (every supported shape, every refusal with its reason), the store layout, permissions
and retention. No model, no database beyond SQLite."""

from __future__ import annotations

import os
import struct
import subprocess
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from recordings.audio import read_wav
from recordings.errors import AudioCorruptError, AudioEmptyError, AudioUnsupportedError, RecordingMissingError
from recordings.store import day_folder, purge_expired, secure, sides


def wav(path: Path, samples: bytes, *, tag: int = 1, channels: int = 1, rate: int = 8000, bits: int = 16) -> Path:
    block = channels * bits // 8
    fmt = struct.pack("<HHIIHH", tag, channels, rate, rate * block, block, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(samples)) + samples
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return path


def test_pcm16_mono_at_its_own_rate(tmp_path: Path) -> None:
    audio = read_wav(wav(tmp_path / "a.wav", struct.pack("<4h", 0, 1000, -1000, 32767), rate=16000))
    assert audio.rate == 16000 and len(audio.channels) == 1
    assert struct.unpack("<4h", audio.channels[0]) == (0, 1000, -1000, 32767)
    assert audio.duration == pytest.approx(4 / 16000)


def test_stereo_is_split_into_two_channels(tmp_path: Path) -> None:
    audio = read_wav(wav(tmp_path / "s.wav", struct.pack("<4h", 1, -1, 2, -2), channels=2))
    assert [struct.unpack("<2h", c) for c in audio.channels] == [(1, 2), (-1, -2)]


def test_mulaw_and_alaw_match_sox(tmp_path: Path) -> None:
    src = tmp_path / "src.wav"
    subprocess.run(
        ["sox", "-n", "-r", "8000", "-c", "1", "-b", "16", "-e", "signed", str(src), "synth", "0.1", "sine", "440"],
        check=True,
    )
    for enc in ("u-law", "a-law"):
        law = tmp_path / f"{enc}.wav"
        back = tmp_path / f"{enc}-back.wav"
        subprocess.run(["sox", str(src), "-e", enc, str(law)], check=True)
        subprocess.run(["sox", str(law), "-b", "16", "-e", "signed", str(back)], check=True)
        assert read_wav(law).channels[0] == read_wav(back).channels[0], enc


def test_refusals_carry_a_reason(tmp_path: Path) -> None:
    (tmp_path / "empty.wav").write_bytes(b"")
    cases: list[tuple[Path, type[Exception], str]] = [
        (tmp_path / "empty.wav", AudioEmptyError, "empty"),
        (wav(tmp_path / "header.wav", b""), AudioEmptyError, "no audio samples"),
        (tmp_path / "missing.wav", RecordingMissingError, "no such file"),
        (wav(tmp_path / "b24.wav", b"\0" * 6, bits=24), AudioUnsupportedError, "24-bit"),
        (wav(tmp_path / "gsm.wav", b"\0" * 65, tag=49, bits=0), AudioUnsupportedError, "format 49"),
        (wav(tmp_path / "c3.wav", b"\0" * 6, channels=3), AudioUnsupportedError, "3 channels"),
        (wav(tmp_path / "r4k.wav", b"\0" * 4, rate=4000), AudioUnsupportedError, "4000 Hz"),
    ]
    (tmp_path / "junk.wav").write_bytes(os.urandom(2000))
    cases.append((tmp_path / "junk.wav", AudioCorruptError, "not a WAV file"))
    good = wav(tmp_path / "cut.wav", b"\1\0" * 100).read_bytes()
    (tmp_path / "cut.wav").write_bytes(good[:30])  # cut inside the fmt chunk
    cases.append((tmp_path / "cut.wav", AudioCorruptError, "fmt chunk"))
    for path, error, reason in cases:
        with pytest.raises(error) as info:
            read_wav(path)
        assert reason in str(info.value) and str(path) in str(info.value), path
        assert info.value.error_id  # type: ignore[attr-defined]


def test_unfinished_data_size_takes_what_is_there(tmp_path: Path) -> None:
    path = wav(tmp_path / "open.wav", struct.pack("<3h", 5, 6, 7))
    blob = bytearray(path.read_bytes())
    data_at = blob.index(b"data")
    blob[data_at + 4 : data_at + 8] = b"\0\0\0\0"  # a recorder stopped before it wrote the size
    path.write_bytes(bytes(blob))
    assert struct.unpack("<3h", read_wav(path).channels[0]) == (5, 6, 7)


def test_layout_and_sides(tmp_path: Path) -> None:
    folder = day_folder(tmp_path, datetime(2026, 3, 4, 23, 59, tzinfo=UTC), "12319")
    assert folder == tmp_path / "2026" / "03" / "04" / "12319"
    folder.mkdir(parents=True)
    mix = folder / "1700000000.42.wav"
    mix.write_bytes(b"x")
    assert sides(mix).caller is None and sides(mix).call_id == "1700000000.42"
    (folder / "1700000000.42-caller.wav").write_bytes(b"x")
    (folder / "1700000000.42-agent.wav").write_bytes(b"x")
    found = sides(mix)
    assert found.caller == folder / "1700000000.42-caller.wav" and found.agent == folder / "1700000000.42-agent.wav"


def test_secure_narrows_files_and_folders_to_the_service_user(tmp_path: Path) -> None:
    root = tmp_path / "rec"
    folder = day_folder(root, datetime(2026, 3, 4, tzinfo=UTC), "12345")
    folder.mkdir(parents=True, mode=0o755)
    for p in [root, *folder.relative_to(root).parents, folder.relative_to(root)]:
        (root / p).chmod(0o755)
    mix = folder / "c1.wav"
    for name in ("c1.wav", "c1-caller.wav", "c1-agent.wav"):
        (folder / name).write_bytes(b"x")
        (folder / name).chmod(0o644)
    secure(sides(mix), root)
    for name in ("c1.wav", "c1-caller.wav", "c1-agent.wav"):
        assert (folder / name).stat().st_mode & 0o777 == 0o600
    d = folder
    while True:
        assert d.stat().st_mode & 0o777 == 0o700, d
        if d == root:
            break
        d = d.parent


def test_purge_removes_only_expired_days(tmp_path: Path) -> None:
    root = tmp_path / "rec"
    days = {"2025/12/30": 2, "2025/12/31": 1, "2026/01/01": 1, "2026/01/30": 1}
    for day, n in days.items():
        folder = root / day / "12345"
        folder.mkdir(parents=True)
        for i in range(n):
            (folder / f"c{i}.wav").write_bytes(b"x" * 10)
    (root / "README").write_text("not a day folder")
    (root / "2025" / "notes").mkdir()
    report = purge_expired(root, retention_days=30, today=date(2026, 1, 31))
    # cutoff 2026-01-01: older days go, that day and later stay
    assert report.days == ("2025/12/30", "2025/12/31")
    assert report.files == 3 and report.bytes == 30
    assert not (root / "2025" / "12").exists()
    assert (root / "2025" / "notes").is_dir() and (root / "README").exists()
    assert (root / "2026" / "01" / "01" / "12345" / "c0.wav").exists()
    assert purge_expired(root, 30, date(2026, 1, 31)).days == ()
    assert purge_expired(tmp_path / "nowhere", 30, date(2026, 1, 31)).files == 0
