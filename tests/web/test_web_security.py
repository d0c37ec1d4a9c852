"""The web front's defences against `hotline web` in its own process, with a plain HTTP client (what a
script or another site can send): CSRF token missing or wrong → 403 and a `refused` audit row, nothing done;
20 wrong passwords → the login is throttled (refused before any check, `sign_in_throttled` audited once),
and the right password gets in once the wait the server announced is over; the security headers on every
answer, no inline script; the session cookie's flags; sign-out and a password change end the session."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

from ari_app import accounts
from ari_app.cases.actor import Actor
from ari_app.web.sessions import COOKIE
from schema.users import Role
from tests.support.users import user
from tests.support.web import PASSWORD, Client, Deployment


def test_a_form_without_its_csrf_token_or_with_a_wrong_one_is_refused(dep: Deployment, base: str) -> None:
    case = dep.new_case("路面塌陷")
    dep.dispatch(case["id"], "water")
    client = Client.signed_in(base, "water")
    refused_before = len(dep.audit_rows(action="refused", login="water"))

    missing = client.request(f"/cases/{case['id']}/accept", {})
    wrong = client.request(f"/cases/{case['id']}/accept", {"csrf": "0" * 64})
    other = Client.signed_in(base, "water")  # another session's token is as wrong
    stolen = client.request(f"/cases/{case['id']}/accept", {"csrf": other.csrf()})
    assert (missing.status, wrong.status, stolen.status) == (403, 403, 403)
    assert "安全校验未通过" in missing.body
    assert dep.get_case(case["id"])["status"] == "dispatched"  # nothing was done
    refused = dep.audit_rows(action="refused", login="water")[refused_before:]
    assert len(refused) == 3 and all('"error_id": "csrf_failed"' in (r.detail or "") for r in refused)

    done = client.request(f"/cases/{case['id']}/accept", {"csrf": client.csrf()})
    assert (done.status, done.headers["Location"]) == (303, f"/cases/{case['id']}?done=accept")
    assert dep.get_case(case["id"])["status"] == "in_progress"

    anonymous = Client(base)  # the sign-in form has its own token, bound to a cookie of its own
    assert anonymous.request("/login", {"login": "water", "password": PASSWORD}).status == 403
    anonymous.request("/login")
    assert anonymous.request("/login", {"csrf": "x" * 32, "login": "water", "password": PASSWORD}).status == 403
    assert anonymous.cookie(COOKIE) is None


def test_twenty_wrong_passwords_throttle_the_login_and_the_owner_gets_in_after_the_wait(
    dep: Deployment, base: str
) -> None:
    with dep.sessions.begin() as s:
        s.add(user("guarded", Role.DEPARTMENT, display_name="供水所 值班", unit_id=dep.units["water"]))
    client = Client(base)
    statuses = [client.sign_in("guarded", "wrong password").status for _ in range(20)]
    assert statuses[:3] == [401, 401, 401]  # three free failures, each checked
    assert statuses.count(429) >= 15, statuses  # then refused before any check, with the time to wait
    locked = client.sign_in("guarded")
    assert locked.status == 429 and "尝试次数过多" in locked.body
    wait = int(locked.headers["Retry-After"])
    assert 1 <= wait <= 60

    deadline = time.monotonic() + 30
    while True:  # the owner tries again when told to, until the wait is over
        answer = client.sign_in("guarded")
        if answer.status == 303:
            break
        assert answer.status == 429 and time.monotonic() < deadline, answer.status
        time.sleep(min(int(answer.headers["Retry-After"]), 2))
    assert client.request("/cases").status == 200

    rows = [r for r in dep.audit_rows(login="guarded") if r.action.startswith("sign_in")]
    actions = [r.action for r in rows]
    assert actions.count("sign_in_failed") == statuses.count(401)
    assert actions.count("sign_in_throttled") >= 1 and actions[-1] == "sign_in"  # one row per spell of refusals
    assert all('"channel": "web"' in (r.detail or "") and '"source": "127.0.0.1"' in (r.detail or "") for r in rows)


def test_every_answer_has_the_security_headers_and_no_inline_script(dep: Deployment, base: str) -> None:
    client = Client(base)
    login = client.request("/login")
    signed = client.sign_in("water")
    page = client.request("/cases")
    script = client.request("/static/live.js")
    for answer in (login, signed, page, script, client.request("/no/such/page")):
        csp = answer.headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert answer.headers["X-Frame-Options"] == "DENY"
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert answer.headers["Referrer-Policy"] == "no-referrer"
    assert page.headers["Cache-Control"] == "no-store"
    assert script.headers["Content-Type"].startswith("text/javascript")
    assert re.findall(r"<script(?![^>]*\ssrc=)", page.body) == []  # every script is a file of the site
    assert " style=" not in page.body and "onclick" not in page.body

    (cookie,) = [c for c in signed.set_cookies() if c.startswith(f"{COOKIE}=")]
    flags = {f.strip().lower() for f in cookie.split(";")[1:]}
    assert {"httponly", "samesite=strict", "path=/"} <= flags
    assert "secure" not in flags  # plain HTTP on loopback: TLS is the proxy's or web.tls_cert's (tested there)


def test_sign_out_and_a_password_change_end_the_session(dep: Deployment, base: str) -> None:
    client = Client.signed_in(base, "water")
    token = client.cookie(COOKIE)
    out = client.request("/logout", {"csrf": client.csrf()})
    assert (out.status, out.headers["Location"]) == (303, "/login")
    replay = Client(base)
    replay.jar.set_cookie(_cookie(COOKIE, token or "", base))
    assert replay.request("/cases").status == 303  # the old cookie opens nothing any more
    assert dep.audit_rows(action="sign_out", login="water")

    assert client.sign_in("water").status == 303
    assert client.request("/cases").status == 200
    admin = Actor(user_id=None, login="cli:test", role=Role.ADMIN)
    with dep.sessions.begin() as s:
        accounts.end_sessions(s, "water", admin, datetime.now(UTC))
    ended = client.request("/cases")
    assert (ended.status, ended.headers["Location"]) == (303, "/login?ended=1")
    reasons = [r.detail or "" for r in dep.audit_rows(action="session_ended", login="water")]
    assert any('"reason": "signed_out_everywhere"' in d for d in reasons)


def _cookie(name: str, value: str, base: str) -> object:
    import http.cookiejar
    from urllib.parse import urlparse

    host = urlparse(base).hostname or ""
    return http.cookiejar.Cookie(
        0, name, value, None, False, host, False, False, "/", True, False, None, True, None, None, {}
    )


def test_the_language_switch_goes_only_to_pages_of_this_site_and_the_stream_needs_a_session(base: str) -> None:
    client = Client(base)
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        answer = client.request(f"/lang/en?next={target}")
        assert (answer.status, answer.headers["Location"]) == (303, "/cases"), target
    assert client.request("/lang/en?next=/cases/7").headers["Location"] == "/cases/7"
    assert client.cookie("hl_lang") == "en"
    assert "Sign in" in client.request("/login").body
    assert client.request("/events").status == 401
    assert client.request("/cases").headers["Location"] == "/login"
