"""Speech to text with Vosk: one loaded model shared by every decoding thread of a process, one recogniser
per side of a call, at the audio's own sample rate.

Vosk's C calls release the GIL (cffi), so several threads decode in parallel on one model in memory.
The result is a list of `Sentence`s (one per utterance Vosk ends on silence), each with its words.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from recordings.errors import ModelError

log = logging.getLogger(__name__)

CHUNK_SECONDS = 0.25


@dataclass(frozen=True)
class Word:
    word: str
    start: float
    end: float
    conf: float


@dataclass(frozen=True)
class Sentence:
    """One utterance of one speaker; times are seconds from the start of the recording."""

    speaker: str
    start: float
    end: float
    text: str
    words: tuple[Word, ...] = field(default_factory=tuple)


class SpeechModel:
    """A Vosk model directory, loaded once (about 600 MiB for a small model), and the optional grammar."""

    def __init__(self, path: Path, grammar: Sequence[str] = ()) -> None:
        if not (path / "am").is_dir() and not (path / "final.mdl").exists():
            raise ModelError(f"{path}: not a Vosk model directory (no am/ inside); see docs/recordings.md")
        import vosk  # type: ignore[import-untyped]

        vosk.SetLogLevel(-1)
        self.path = path
        self.name = path.name if path.name != "model" else path.parent.name
        self.grammar = tuple(grammar)
        self._grammar_json = json.dumps(list(self.grammar), ensure_ascii=False) if self.grammar else None
        try:
            self._model = vosk.Model(str(path))
        except Exception as exc:  # vosk raises a bare Exception when Kaldi cannot load the files
            raise ModelError(f"{path}: Vosk could not load the model: {exc}") from exc
        self._vosk = vosk

    def recognizer(self, rate: int) -> Any:
        rec = (
            self._vosk.KaldiRecognizer(self._model, float(rate), self._grammar_json)
            if self._grammar_json
            else self._vosk.KaldiRecognizer(self._model, float(rate))
        )
        rec.SetWords(True)
        return rec

    def decode(
        self, pcm: bytes, rate: int, speaker: str, progress: Callable[[float], None] | None = None
    ) -> list[Sentence]:
        """Decode 16-bit mono PCM at `rate`; `progress` is told the seconds of audio decoded so far."""
        rec = self.recognizer(rate)
        step = int(rate * CHUNK_SECONDS) * 2
        sentences: list[Sentence] = []
        for offset in range(0, len(pcm), step):
            if rec.AcceptWaveform(pcm[offset : offset + step]):
                _add(sentences, rec.Result(), speaker)
            if progress is not None:
                progress(min(offset + step, len(pcm)) / 2 / rate)
        _add(sentences, rec.FinalResult(), speaker)
        return sentences


def _add(out: list[Sentence], result_json: str, speaker: str) -> None:
    result = json.loads(result_json)
    words = tuple(
        Word(str(w["word"]), float(w["start"]), float(w["end"]), float(w.get("conf", 1.0)))
        for w in result.get("result", ())
    )
    text = str(result.get("text", "")).strip()
    if not words or not text:
        return
    out.append(Sentence(speaker, words[0].start, words[-1].end, text, words))


def merge(*sides: list[Sentence]) -> list[Sentence]:
    """The sentences of every side in time order (by start, then speaker)."""
    return sorted((s for side in sides for s in side), key=lambda s: (s.start, s.speaker))
