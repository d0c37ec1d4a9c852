"""The second factor at web sign-in, against `hotline web` (its own process): a supervisor enrolled with
`hotline users totp enable` (the installed command: it prints the otpauth:// URI and the secret once) signs in
in a real Chromium in two steps, the password then the 6-digit code, each form with its own CSRF token; a wrong
code is refused and audited, the right one signs in, and the same code again at the next sign-in is refused
(replay). A forged or missing CSRF token on the code form is refused; without the step's cookie there is no
code form. `... totp disable` makes the password alone sign in again."""

from __future__ import annotations

import re
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyotp
from playwright.sync_api import Browser, Page, expect

from tests.support import commands
from tests.support.web import PASSWORD, Client, Deployment

OFFICE = {"width": 1366, "height": 768}


def hotline(dep: Deployment, *args: str) -> subprocess.CompletedProcess[str]:
    return commands.hotline(dep.config, *args, timeout=60)


def not_a_code(secret: str) -> str:
    """Six digits that are not the code of any step the server takes now (±1 step, and a margin)."""
    app, now = pyotp.TOTP(secret), datetime.now(UTC)
    taken = {app.at(now + timedelta(seconds=30 * k)) for k in range(-3, 4)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in taken)


def password_step(page: Page, base: str, login: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")


def test_a_supervisor_signs_in_with_a_code_and_a_wrong_or_replayed_code_is_refused(
    dep: Deployment, base: str, browser: Browser, shots: Path
) -> None:
    refused = hotline(dep, "users", "totp", "enable", "water")
    assert refused.returncode == 1 and "admins and supervisors" in refused.stderr
    enrolled = hotline(dep, "users", "totp", "enable", "boss")
    assert enrolled.returncode == 0, enrolled.stderr
    secret = re.search(r"^secret: ([A-Z2-7]+)$", enrolled.stdout, re.M)
    uri = re.search(r"^uri:\s+(otpauth://totp/\S+)$", enrolled.stdout, re.M)
    assert secret and uri and f"secret={secret.group(1)}" in uri.group(1)
    app = pyotp.TOTP(secret.group(1))
    assert secret.group(1) not in hotline(dep, "users", "list").stdout  # never shown again

    page = browser.new_context(viewport=OFFICE).new_page()
    password_step(page, base, "boss")
    expect(page).to_have_url(re.compile(r"/login/code$"))  # the password alone opens nothing
    expect(page.locator("h1")).to_have_text("二次验证")
    field = page.locator("input[name=code]")
    assert field.get_attribute("autocomplete") == "one-time-code" and field.get_attribute("inputmode") == "numeric"
    page.screenshot(path=str(shots / "web_totp_zh.png"))
    probe = Client(base)  # no session was opened by the password
    assert probe.request("/cases").status == 303

    page.fill("input[name=code]", not_a_code(secret.group(1)))
    with page.expect_response(re.compile(r"/login/code$")) as wrong:
        page.click("button[type=submit]")
    assert wrong.value.status == 401
    expect(page.locator(".error")).to_have_text("验证码错误或已使用，请输入应用中当前显示的验证码")
    page.screenshot(path=str(shots / "web_totp_wrong_zh.png"))

    code = app.now()
    page.fill("input[name=code]", code)
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(r"/cases$"))
    page.click("button.link")  # sign out
    expect(page).to_have_url(re.compile(r"/login$"))

    password_step(page, base, "boss")
    expect(page).to_have_url(re.compile(r"/login/code$"))
    page.fill("input[name=code]", code)  # the code just used, still inside its 30 s or the next
    with page.expect_response(re.compile(r"/login/code$")) as replayed:
        page.click("button[type=submit]")
    assert replayed.value.status == 401
    expect(page.locator(".error")).to_contain_text("验证码错误或已使用")
    expect(page).to_have_url(re.compile(r"/login/code$"))
    page.context.close()

    rows = [r for r in dep.audit_rows(login="boss") if r.action.startswith("sign_in")]
    assert [r.action for r in rows] == [
        "sign_in_code_asked",
        "sign_in_failed",
        "sign_in",
        "sign_in_code_asked",
        "sign_in_failed",
    ]
    assert '"why": "wrong"' in (rows[1].detail or "") and '"why": "replayed"' in (rows[4].detail or "")
    assert '"second_factor": "totp"' in (rows[2].detail or "")
    assert [r.action for r in dep.audit_rows(action="totp_enabled")] == ["totp_enabled"]


def test_the_code_form_has_its_own_csrf_token_and_disabling_restores_the_password_alone(
    dep: Deployment, base: str
) -> None:
    enrolled = hotline(dep, "users", "totp", "enable", "boss")
    assert enrolled.returncode == 0, enrolled.stderr
    secret = re.search(r"^secret: ([A-Z2-7]+)$", enrolled.stdout, re.M)
    assert secret
    client = Client(base)
    asked = client.sign_in("boss")
    assert (asked.status, asked.headers["Location"]) == (303, "/login/code")
    assert client.cookie("hl_session") is None
    token = client.csrf("/login/code")
    for given in ({}, {"csrf": "0" * 64}):
        forged = client.request("/login/code", {**given, "code": pyotp.TOTP(secret.group(1)).now()})
        assert forged.status == 403 and "安全校验未通过" in forged.body
    assert client.cookie("hl_session") is None
    stranger = Client(base)  # no step cookie: no code form, and a post goes back to the password
    assert stranger.request("/login/code").headers["Location"] == "/login"
    lost = stranger.request("/login/code", {"csrf": token, "code": "123456"})
    assert (lost.status, lost.headers["Location"]) == (303, "/login?ended=1")

    done = client.request("/login/code", {"csrf": token, "code": pyotp.TOTP(secret.group(1)).now()})
    assert (done.status, done.headers["Location"]) == (303, "/cases")
    assert client.request("/cases").status == 200

    off = hotline(dep, "users", "totp", "disable", "boss")
    assert off.returncode == 0 and "removed" in off.stdout
    plain = Client(base)
    answer = plain.sign_in("boss")
    assert (answer.status, answer.headers["Location"]) == (303, "/cases")
