"""The case form's draft, written to a local JSON file on every edit so that a crash loses nothing.

The file is replaced atomically (write, fsync, rename). Its default place is the user's data folder
(`$XDG_DATA_HOME/hotline-desktop/draft.json`); `--draft-file` or $HOTLINE_DESKTOP_DRAFT override it.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def default_path() -> Path:
    env = os.environ.get("HOTLINE_DESKTOP_DRAFT")
    if env:
        return Path(env)
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "hotline-desktop" / "draft.json"


class DraftStore:
    def __init__(self, path: Path) -> None:
        self.path = path

    def save(self, draft: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".draft-")
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(draft, fh, ensure_ascii=False)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def load(self) -> dict[str, Any] | None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)
