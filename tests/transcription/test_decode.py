"""The real Vosk Korean model decoding espeak-ng Korean speech: grammar mode finds the words, each side
keeps its speaker, the file's own sample rate is used, and `hotline transcribe FILE...` prints it all."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

from recordings.speech import SpeechModel
from recordings.worker import Transcriber
from tests.support.speech import GRAMMAR, korean_speech, silence

ROOT = Path(__file__).resolve().parents[2]


def _words(sentences: object) -> list[str]:
    return [w.word for s in sentences for w in s.words]  # type: ignore[attr-defined]


def test_grammar_mode_hears_the_words_with_times_and_confidence(speech_model: SpeechModel, tmp_path: Path) -> None:
    wav = korean_speech(tmp_path / "a.wav", "안녕하세요 가격 문의 감사합니다")
    data = Transcriber(speech_model).transcribe(wav)
    words = _words(data.sentences)
    assert "안녕하세요" in words and "가격" in words, words
    assert data.sample_rate == 8000 and 2.0 < data.duration_seconds < 5.0
    assert all(s.speaker == "mixed" for s in data.sentences)  # a mono file with no sides beside it
    for s in data.sentences:
        assert 0 <= s.start <= s.end <= data.duration_seconds + 0.1
        for w in s.words:
            assert s.start <= w.start <= w.end <= s.end and 0 <= w.conf <= 1
    assert set(words) <= set(GRAMMAR)


def test_each_side_is_decoded_apart_at_its_own_rate(speech_model: SpeechModel, tmp_path: Path) -> None:
    folder = tmp_path / "2026" / "11" / "29" / "12345"
    folder.mkdir(parents=True)
    korean_speech(folder / "c9-caller.wav", "안녕하세요 가격 문의", rate=16000)
    silence(folder / "c9.wav", 1.0, rate=16000)
    korean_speech(folder / "c9-agent.wav", "화재 신고", rate=16000)
    data = Transcriber(speech_model).transcribe(folder / "c9.wav")
    assert data.sample_rate == 16000
    caller = [w.word for s in data.sentences if s.speaker == "caller" for w in s.words]
    agent = [w.word for s in data.sentences if s.speaker == "agent" for w in s.words]
    assert "가격" in caller and "화재" not in caller, data.sentences
    assert "화재" in agent and "가격" not in agent, data.sentences
    assert [s.start for s in data.sentences] == sorted(s.start for s in data.sentences)


def test_stereo_mix_left_is_caller_right_is_agent(speech_model: SpeechModel, tmp_path: Path) -> None:
    left = korean_speech(tmp_path / "l.wav", "화재 신고")
    right = silence(tmp_path / "r.wav", 0.5)
    stereo = tmp_path / "mix.wav"
    subprocess.run(["sox", "-M", str(left), str(right), str(stereo)], check=True)
    data = Transcriber(speech_model).transcribe(stereo)
    assert {s.speaker for s in data.sentences} == {"caller"}
    assert "화재" in _words(data.sentences)


def test_free_decoding_runs_the_same_path(free_model: SpeechModel, tmp_path: Path) -> None:
    wav = korean_speech(tmp_path / "a.wav", "안녕하세요")
    data = Transcriber(free_model).transcribe(wav)
    assert data.sentences and all(s.words for s in data.sentences)  # espeak is not well heard: words, any


def test_batch_command_prints_transcripts_and_failures(model_path: Path, tmp_path: Path) -> None:
    good = korean_speech(tmp_path / "good.wav", "안녕하세요 가격 문의")
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunkjunk")
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    config = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
    config["database"]["url"] = f"sqlite:///{tmp_path / 'h.db'}"
    config["speech"] = {"model": str(model_path), "grammar": list(GRAMMAR)}
    cfg = tmp_path / "config.yaml"
    cfg.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    cli = [sys.executable, "-m", "ari_app.cli", "-c", str(cfg), "transcribe"]
    proc = subprocess.run(
        [*cli, "--json", str(good), str(corrupt), str(empty)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1, proc.stderr  # one file or more failed
    out = json.loads(proc.stdout)
    assert [r["file"] for r in out] == [str(good), str(corrupt), str(empty)]
    words = [w["word"] for s in out[0]["sentences"] for w in s["words"]]
    assert "안녕하세요" in words and out[0]["sample_rate"] == 8000, out[0]
    assert out[1]["error_id"] == "audio_corrupt" and out[2]["error_id"] == "audio_empty"
    assert "100.0% 3/3" in proc.stderr  # the progress bar
    plain = subprocess.run(
        [*cli, str(good)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert plain.returncode == 0 and "mixed: 안녕하세요" in plain.stdout, plain.stdout + plain.stderr
