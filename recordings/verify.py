"""Is a call's recording really there? Checked when the call ends, before the recording is offered to QA or
transcribed: a full recordings disk leaves files Asterisk could not write (missing, 0 bytes, a WAV header
and no audio, or a header promising more audio than the file holds), and those must show as failed, never
as available.

    problem = check_wav(path)              # None, or why the file is not a usable recording
    problems = check_set(files, sides=True)  # every file of a call's recording set (mix, caller, agent)

The rules (RIFF/WAVE as Asterisk's format_wav and format_wav_gsm write it, and any PCM/G.711 WAV):
- the file exists and is not empty;
- it starts with `RIFF....WAVE` and has a `fmt ` chunk and a `data` chunk;
- the `data` chunk's size is not 0 (a header only: Asterisk writes the header when it opens the file and
  the sizes when it closes it, so 0 after the close means no audio was written);
- the RIFF size and the `data` size do not promise more bytes than the file holds (truncated: a write
  that failed part way, typically ENOSPC), and the RIFF size is the file's size (less 8; a header that
  disagrees was never updated by its recorder).
A WAV still being written has sizes of 0; the caller (recordings.service) checks again for a few seconds
before it calls a recording failed. One whose recorder is gone for good (Asterisk stopped or crashed during
the call, which then ended `lost`) keeps those zeros with its audio behind them: that is `unclosed`, and the
caller takes it as a recording (what was said until Asterisk went is there). The file is never rewritten,
it is the record as Asterisk wrote it: the transcriber reads such a file to its end (recordings.audio), and
playback is given the header the close would have written (`closed_header`).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from recordings.store import RecordingSet


class RecordingStatus(StrEnum):
    """`calls.recording_status`: the check made when the call ended. None (not in the enum) means the call
    was not recorded or not checked."""

    OK = "ok"
    FAILED = "failed"
    """Never offered as available, never transcribed; `calls.recording_error` says why."""


HEADER_READ = 4096
"""Bytes read from the start of a file: enough for the RIFF header and the chunks before `data`."""
UNCLOSED = "unclosed"
"""The kind of a file with audio whose header still has the sizes of 0 its recorder wrote when it opened
it (Asterisk's format_wav writes them when it closes the file)."""


@dataclass(frozen=True)
class FileProblem:
    """Why one file of a recording is not usable. `kind`: missing, empty, unreadable, not_wav, header_only,
    truncated, size_mismatch, or `unclosed` (UNCLOSED: usable once its recorder is known to be gone)."""

    path: Path
    kind: str
    detail: str

    def __str__(self) -> str:
        return f"{self.path.name}: {self.detail}"


def check_wav(path: Path) -> FileProblem | None:
    """None if `path` is a complete WAV file with audio, else what is wrong with it (never raises for a
    bad file; an unreadable one is `unreadable`)."""
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            head = f.read(HEADER_READ)
    except FileNotFoundError:
        return FileProblem(path, "missing", "no such file")
    except OSError as exc:
        return FileProblem(path, "unreadable", f"cannot read: {exc.strerror or exc}")
    if size == 0:
        return FileProblem(path, "empty", "0 bytes")
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return FileProblem(path, "not_wav", f"no RIFF/WAVE header ({size} bytes)")
    riff_size = struct.unpack_from("<I", head, 4)[0]
    if riff_size + 8 > size:
        return FileProblem(
            path, "truncated", f"truncated: the header says {riff_size + 8} bytes, the file holds {size}"
        )
    mismatch = FileProblem(
        path, "size_mismatch", f"the header says {riff_size + 8} bytes, the file holds {size} (never closed?)"
    )
    as_opened = riff_size == 0  # the sizes the recorder writes at open, before any audio
    if not as_opened and size - (riff_size + 8) > 1:  # one pad byte may follow
        return mismatch
    pos, seen_fmt = 12, False
    while pos + 8 <= len(head):
        chunk, chunk_size = head[pos : pos + 4], struct.unpack_from("<I", head, pos + 4)[0]
        if chunk == b"fmt ":
            seen_fmt = True
        elif chunk == b"data":
            if not seen_fmt:
                return FileProblem(path, "not_wav", "no fmt chunk before the audio data")
            have = size - (pos + 8)
            if as_opened and chunk_size != 0:
                return mismatch
            if as_opened and have > 0:
                return FileProblem(
                    path, UNCLOSED, f"never closed: its sizes are still 0, with {have} bytes of audio behind them"
                )
            if chunk_size == 0:
                return FileProblem(path, "header_only", f"a header only, no audio ({size} bytes)")
            if chunk_size > have:
                return FileProblem(
                    path, "truncated", f"truncated: the header says {chunk_size} bytes of audio, the file holds {have}"
                )
            return None
        pos += 8 + chunk_size + (chunk_size & 1)
    return FileProblem(path, "not_wav", f"no data chunk in the first {HEADER_READ} bytes ({size} bytes)")


def expected_files(files: RecordingSet) -> list[Path]:
    """The files the dialplan's MixMonitor writes for a call: the mix and both sides (`-caller`, `-agent`),
    whether or not they exist."""
    mix = files.mix
    return [mix, mix.with_name(f"{mix.stem}-caller{mix.suffix}"), mix.with_name(f"{mix.stem}-agent{mix.suffix}")]


def check_set(files: RecordingSet, *, recorder_gone: bool = False) -> list[FileProblem]:
    """The problems of every file of a call's recording (the mix and both sides); empty when all are fine.
    With `recorder_gone` (the call ended `lost`: Asterisk went away during it) an UNCLOSED file is fine."""
    return [
        problem
        for path in expected_files(files)
        if (problem := check_wav(path)) is not None and not (recorder_gone and problem.kind == UNCLOSED)
    ]


def closed_header(path: Path) -> bytes | None:
    """For an UNCLOSED file: its first bytes up to the audio, with the RIFF and `data` sizes its recorder
    would have written at the close, from the file's length now (as Asterisk's format_wav `update_header`:
    RIFF = length - 8, data = length - where the audio starts). None for any other file. Served in place of
    the file's own header; the file is not changed."""
    problem = check_wav(path)
    if problem is None or problem.kind != UNCLOSED:
        return None
    size = path.stat().st_size
    with path.open("rb") as f:
        head = bytearray(f.read(HEADER_READ))
    pos = 12
    while head[pos : pos + 4] != b"data":  # check_wav found it within the first HEADER_READ bytes
        chunk_size = struct.unpack_from("<I", head, pos + 4)[0]
        pos += 8 + chunk_size + (chunk_size & 1)
    struct.pack_into("<I", head, 4, size - 8)
    struct.pack_into("<I", head, pos + 4, size - (pos + 8))
    return bytes(head[: pos + 8])


def describe(problems: list[FileProblem], limit: int = 512) -> str:
    """One line for the call record (at most `limit` characters): each file's problem, `; `-separated."""
    text = "; ".join(str(p) for p in problems)
    return text if len(text) <= limit else text[: limit - 1] + "…"
