"""Reading recordings: WAV files as Asterisk and other recorders write them, into 16-bit mono PCM per
channel at the file's own sample rate (what Vosk takes).

Supported: PCM 16-bit (Asterisk's `wav` and `wav16`), G.711 mu-law and A-law, mono or stereo (a stereo
file is taken as caller = left, agent = right), 8 to 48 kHz. Anything else fails with a reason rather
than being guessed at.
"""

from __future__ import annotations

import struct
import sys
from array import array
from dataclasses import dataclass
from pathlib import Path

from recordings.errors import AudioCorruptError, AudioEmptyError, AudioUnsupportedError, RecordingMissingError

PCM = 1
ALAW = 6
MULAW = 7
EXTENSIBLE = 0xFFFE
MIN_RATE = 8000
MAX_RATE = 48000


@dataclass(frozen=True)
class Audio:
    """Decoded audio: one bytes object of 16-bit little-endian mono PCM per channel."""

    rate: int
    channels: tuple[bytes, ...]

    @property
    def duration(self) -> float:
        return len(self.channels[0]) / 2 / self.rate if self.channels else 0.0


def _mulaw_table() -> list[int]:
    out = []
    for byte in range(256):
        u = ~byte & 0xFF
        sign, exponent, mantissa = u & 0x80, (u >> 4) & 0x07, u & 0x0F
        sample = (((mantissa << 3) + 0x84) << exponent) - 0x84
        out.append(-sample if sign else sample)
    return out


def _alaw_table() -> list[int]:
    out = []
    for byte in range(256):
        a = byte ^ 0x55
        sign, exponent, mantissa = a & 0x80, (a >> 4) & 0x07, a & 0x0F
        sample = (mantissa << 4) + 8 if exponent == 0 else ((mantissa << 4) + 0x108) << (exponent - 1)
        out.append(sample if sign else -sample)
    return out


_TABLES = {MULAW: _mulaw_table(), ALAW: _alaw_table()}


def read_wav(path: Path) -> Audio:
    """Read a WAV file; raise AudioEmptyError, AudioCorruptError, AudioUnsupportedError or
    RecordingMissingError with a message naming the file and the problem."""
    try:
        blob = path.read_bytes()
    except FileNotFoundError as exc:
        raise RecordingMissingError(f"{path}: no such file") from exc
    except OSError as exc:
        raise AudioCorruptError(f"{path}: cannot read: {exc.strerror}") from exc
    if not blob:
        raise AudioEmptyError(f"{path}: the file is empty (0 bytes)")
    if len(blob) < 12 or blob[:4] != b"RIFF" or blob[8:12] != b"WAVE":
        raise AudioCorruptError(f"{path}: not a WAV file (no RIFF/WAVE header)")
    fmt: tuple[int, int, int, int, int] | None = None
    data: bytes | None = None
    pos = 12
    while pos + 8 <= len(blob):
        chunk, size = blob[pos : pos + 4], struct.unpack_from("<I", blob, pos + 4)[0]
        body = blob[pos + 8 : pos + 8 + size]
        if chunk == b"fmt ":
            if len(body) < 16:
                raise AudioCorruptError(f"{path}: truncated fmt chunk")
            tag, channels, rate, _byte_rate, block, bits = struct.unpack_from("<HHIIHH", body)
            if tag == EXTENSIBLE and len(body) >= 26:
                tag = struct.unpack_from("<H", body, 24)[0]
            fmt = (tag, channels, rate, block, bits)
        elif chunk == b"data":
            # A recorder that was stopped hard may leave the size unset (0) or too large: take what is there.
            data = blob[pos + 8 :] if size == 0 else body
            break
        pos += 8 + size + (size & 1)
    if fmt is None:
        raise AudioCorruptError(f"{path}: no fmt chunk before the audio data")
    if data is None:
        raise AudioCorruptError(f"{path}: no data chunk")
    tag, channels, rate, block, bits = fmt
    if tag == PCM and bits == 16:
        width = 2
    elif tag in _TABLES and bits == 8:
        width = 1
    else:
        raise AudioUnsupportedError(f"{path}: WAV format {tag} with {bits}-bit samples is not supported")
    if channels not in (1, 2):
        raise AudioUnsupportedError(f"{path}: {channels} channels (expected mono, or stereo caller/agent)")
    if not MIN_RATE <= rate <= MAX_RATE:
        raise AudioUnsupportedError(f"{path}: sample rate {rate} Hz (expected {MIN_RATE}..{MAX_RATE})")
    frame = width * channels
    data = data[: len(data) - len(data) % frame]
    if not data:
        raise AudioEmptyError(f"{path}: the WAV file holds no audio samples")
    if width == 2:
        samples = array("h")
        samples.frombytes(data)
        if sys.byteorder == "big":
            samples.byteswap()
    else:
        table = _TABLES[tag]
        samples = array("h", [table[b] for b in data])
    if channels == 1:
        return Audio(rate, (_le(samples),))
    return Audio(rate, (_le(samples[0::2]), _le(samples[1::2])))


def _le(samples: array[int]) -> bytes:
    if sys.byteorder == "big":
        samples = array("h", samples)
        samples.byteswap()
    return samples.tobytes()
