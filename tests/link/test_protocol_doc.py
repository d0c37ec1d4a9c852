"""docs/protocol.md is the contract a second client is written from: every message type and every error id
of ari_app.protocol is in it."""

from __future__ import annotations

from pathlib import Path

from ari_app import protocol as p

DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"


def test_every_message_type_and_error_id_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    names = [m.value for m in p.Msg] + [e.value for e in p.ErrorId]
    missing = [n for n in names if f"`{n}`" not in text and f'"{n}"' not in text]
    assert missing == []
