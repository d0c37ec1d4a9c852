"""Fixtures for the end-to-end suite: one real Asterisk and one CTI server process for the session."""

from __future__ import annotations

import fcntl
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # the desktop end-to-end test has no screen

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.e2e import (
    AGENTS,
    Client,
    CtiProcess,
    Sipp,
    Stack,
    add_user,
    have_tools,
    hotline,
    make_config,
    make_speech,
)

STACK_LOCK = Path("/tmp/hotline-e2e-stack.lock")
"""Held for the whole session: the suite's Asterisk listens on fixed ports (SIP 5060, AMI 5038, HTTP 8088),
so a second run of the suite on the same machine waits here for the first instead of failing on busy ports."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)
    # The call storm runs last: it leaves tens of thousands of calls in today's records and a queue that
    # takes seconds to drain, which the tests counting today's figures must not see.
    items.sort(key=lambda item: item.fspath.basename == "test_storm.py")


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    missing = have_tools()
    if missing:
        pytest.fail(f"end-to-end tools missing: {', '.join(missing)} (scripts/setup.sh --test installs them)")
    if os.geteuid() != 0:
        pytest.fail("the end-to-end suite runs Asterisk in a chroot and needs root")
    lock = STACK_LOCK.open("a")
    fcntl.flock(lock, fcntl.LOCK_EX)
    tmp = tmp_path_factory.mktemp("e2e")
    config = make_config(tmp, agents=AGENTS)
    up = hotline(config, "asterisk", "up", timeout=900)
    assert up.returncode == 0, up.stderr
    for i in range(AGENTS):
        added = hotline(
            config, "asterisk", "cli", f"queue add member PJSIP/{1001 + i} to hotline penalty 0 as {1001 + i}"
        )
        assert "Added interface" in added.stdout or "Already there" in added.stdout, added.stdout
    sipp = Sipp(tmp, make_speech(tmp))
    sipp.agent_phone(5080, ring_ms=800)
    cti = CtiProcess(config, tmp / "cti.log")
    cti.start()
    cti.wait_synced()
    try:
        yield Stack(config=config, tmp=tmp, cti=cti, sipp=sipp)
    finally:
        cti.stop()
        sipp.stop()
        hotline(config, "asterisk", "down", timeout=120)
        lock.close()


@pytest.fixture
async def link(stack: Stack) -> AsyncIterator[Callable[[str, str], Any]]:
    """Open a signed-in link client as a new or existing user of a role; each signs out at the end."""
    opened: list[Client] = []

    async def open_as(login: str, role: str) -> Client:
        add_user(stack.config, login, role)
        c = await Client.connect(stack)
        opened.append(c)
        await c.sign_in(login)
        return c

    yield open_as
    for c in opened:
        await c.sign_out()
        await c.close()
