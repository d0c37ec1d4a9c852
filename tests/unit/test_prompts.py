"""The platform's prompts as `hotline asterisk up` installs them: made once, made again when their text
changes, digits cut short to be read one after another (espeak-ng and sox, as scripts/setup.sh installs)."""

from __future__ import annotations

import wave
from pathlib import Path

import pytest

from ari_app import prompts


def seconds(path: Path) -> float:
    with wave.open(str(path)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
        return w.getnframes() / 8000


def test_made_once_and_again_when_the_text_changes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prompts, "PROMPTS", {"conference-joining": {"zh": "现在接入通话。"}, "digit-7": {"zh": "七"}})
    monkeypatch.setattr(prompts, "RECORDED", tmp_path / "none")
    made = prompts.install_prompts(tmp_path)
    assert sorted(p.name for p in made) == ["conference-joining.wav", "digit-7.wav"]
    assert prompts.install_prompts(tmp_path) == []  # unchanged: kept
    assert seconds(tmp_path / "zh" / "digit-7.wav") < 0.7  # a syllable without the synthesiser's silences
    before = seconds(tmp_path / "zh" / "conference-joining.wav")
    monkeypatch.setitem(prompts.PROMPTS, "conference-joining", {"zh": "现在为您接入三方通话，请讲。"})
    assert [p.name for p in prompts.install_prompts(tmp_path)] == ["conference-joining.wav"]
    assert seconds(tmp_path / "zh" / "conference-joining.wav") > before


def test_a_recording_takes_the_place_of_the_synthesised_prompt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prompts, "PROMPTS", {"conference-joining": {"zh": "现在接入通话。"}})
    recorded = tmp_path / "recorded"
    monkeypatch.setattr(prompts, "RECORDED", recorded)
    out = tmp_path / "sounds"
    prompts.install_prompts(out)
    (recorded / "zh").mkdir(parents=True)
    with wave.open(str(recorded / "zh" / "conference-joining.wav"), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(8000), w.writeframes(b"\0\0" * 8000 * 3)
    assert [p.name for p in prompts.install_prompts(out)] == ["conference-joining.wav"]
    assert seconds(out / "zh" / "conference-joining.wav") == 3.0
