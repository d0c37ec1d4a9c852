"""Variants of the shipped config.yaml for the config tests: written into a test's folder with some lines
changed, the issues a broken one is refused with, and the line a setting stands at."""

from __future__ import annotations

from pathlib import Path

import pytest

from ari_app.config import ConfigError, load_config

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "config.yaml"


def shipped_text() -> str:
    return SHIPPED.read_text(encoding="utf-8")


def write_config(folder: Path, text: str, name: str = "config.yaml") -> Path:
    """`text` written as `folder/name`; returns its path."""
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def config_with(folder: Path, *changes: tuple[str, str]) -> Path:
    """`folder/config.yaml`: the shipped config with each change's first text (which must be in it) replaced,
    once, by its second; returns its path."""
    text = shipped_text()
    for old, new in changes:
        assert old in text, old
        text = text.replace(old, new, 1)
    return write_config(folder, text)


def refusal(path: Path) -> list[str]:
    """The issues, as text, that loading the config at `path` is refused with (it must be refused)."""
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return [str(i) for i in info.value.issues]


def issues_with(folder: Path, old: str, new: str) -> list[str]:
    """The issues of the shipped config with `old` replaced by `new` (`config_with`), which must be refused."""
    return refusal(config_with(folder, (old, new)))


def line_of(folder: Path, needle: str, *, first: bool = False) -> int:
    """The number of the last line (`first`: the first) of `folder/config.yaml` that holds `needle`."""
    lines = (folder / "config.yaml").read_text(encoding="utf-8").splitlines()
    found = [i for i, line in enumerate(lines, 1) if needle in line]
    return found[0] if first else found[-1]
