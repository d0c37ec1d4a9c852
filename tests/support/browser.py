"""The web front in a real Chromium: a person signing in as they would, at an office screen or a phone's."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, Page, expect

from tests.support.users import PASSWORD

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
