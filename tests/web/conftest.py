"""The web front's suite: `hotline web` started as a user starts it, on a deployment of its own, and a real
Chromium (Debian's, `/usr/bin/chromium`) driven by Playwright, which downloads no browser; for the web
front inside the server's process, the desktop link's fixtures (a real LinkServer and desktops). Screenshots go
to var/screenshots/web_*.png."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.support.link_fixtures import _db_template, case_bus, cfg, clock, desktop, queue, server, sessions
from tests.support.web import ROOT, Deployment, deployment, web_process

__all__ = ["_db_template", "case_bus", "cfg", "clock", "desktop", "queue", "server", "sessions"]

CHROMIUM = "/usr/bin/chromium"
SHOTS = ROOT / "var" / "screenshots"


@pytest.fixture(scope="module")
def dep(tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    tmp = tmp_path_factory.mktemp("web")
    tmp.chmod(0o700)
    return deployment(tmp)


@pytest.fixture(scope="module")
def base(dep: Deployment) -> Iterator[str]:
    with web_process(dep) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: scripts/setup.sh --test installs Debian's chromium")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield b
        b.close()


@pytest.fixture(scope="session")
def shots() -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS
