"""Suite-wide: end the test process without Python's final garbage collection once Qt has been used.

PySide6 6.12 sometimes aborts (SIGABRT, exit 134) while the interpreter collects Qt objects at exit, after
every test has passed and the summary is printed. The result is decided by then, so the process leaves
with pytest's own exit status and skips that teardown. Nothing else changes: tests still clean up their
windows (tests/desktop/conftest.py), and a failure inside a test still fails the run.
"""

from __future__ import annotations

import os
import sys

import pytest

_status: list[int] = []


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _status.append(int(exitstatus))


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    if _status and "PySide6.QtWidgets" in sys.modules:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_status[-1])
