"""The web front in a real Chromium: a person signing in as they would, at an office screen or a phone's."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import Browser, Page, expect

from schema.cases import AuditEntry
from tests.support.users import PASSWORD
from tests.support.web import Deployment

OFFICE = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}


def sign_in(browser: Browser, base: str, login: str, viewport: dict[str, int] = OFFICE) -> Page:
    """A new browser context (Chinese, downloads allowed) signed in as `login` through the sign-in form."""
    page = browser.new_context(viewport=viewport, locale="zh-CN", accept_downloads=True).new_page()
    page.goto(f"{base}/login")
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(r"/cases$"))
    return page


def open_refused(page: Page, base: str, dep: Deployment, login: str, case: dict[str, Any], hidden: str) -> AuditEntry:
    """Open, as `login` on `page`, a case it may not see: a 404 page saying no such case or none it may see,
    nothing of the case's `hidden` text on it, and one more `refused` audit entry for `login`, returned."""
    before = len(dep.audit_rows(action="refused", login=login))
    answer = page.goto(f"{base}/cases/{case['id']}")
    assert answer is not None and answer.status == 404
    expect(page.locator(".error")).to_have_text("没有这个工单，或您无权查看")
    assert hidden not in page.content()
    refused = dep.audit_rows(action="refused", login=login)
    assert len(refused) == before + 1
    return refused[-1]
