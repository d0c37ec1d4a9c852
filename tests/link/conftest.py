"""Unit level of the desktop link: a real LinkServer on a loopback port with a real (SQLite) database and the
case workflow, a fake QueueControl that records what would be asked of Asterisk, and domain events fed in
by hand in place of the call tracker. The real-Asterisk end-to-end test lives in tests/e2e.

Fixtures only, shared with tests/desktop: tests/support/link_fixtures.py and tests/support/transfers.py."""

from __future__ import annotations

from tests.support.link_fixtures import _db_template, case_bus, cfg, clock, desktop, queue, server, sessions
from tests.support.transfers import rig

__all__ = ["_db_template", "case_bus", "cfg", "clock", "desktop", "queue", "rig", "server", "sessions"]
