"""The web front as deployed other ways: over TLS (`web.tls_cert`/`web.tls_key`: the session cookie is
`__Host-` named and Secure, HSTS is sent), with a short idle timeout (a session unused that long ends), and
inside `hotline serve` (`web.enabled`), where it is handed the desktop link's own sign-in guard."""

from __future__ import annotations

import ssl
import subprocess
import time

import pytest

from ari_app.web.sessions import TLS_COOKIE
from tests.support.web import Client, deployment, web_process


def test_over_tls_the_session_cookie_is_secure_and_hsts_is_sent(tmp_path_factory: pytest.TempPathFactory) -> None:
    tmp = tmp_path_factory.mktemp("webtls")
    tmp.chmod(0o700)
    crt, key = tmp / "web.crt", tmp / "web.key"
    request = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"]
    subprocess.run(
        [*request, "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(crt)],
        check=True,
        capture_output=True,
    )
    dep = deployment(tmp, tls_cert=str(crt), tls_key=str(key))
    context = ssl.create_default_context(cafile=str(crt))
    with web_process(dep, context) as base:
        assert base.startswith("https://")
        client = Client(base, context)
        signed = client.sign_in("water")
        assert signed.status == 303
        (cookie,) = [c for c in signed.set_cookies() if c.startswith(f"{TLS_COOKIE}=")]
        flags = {f.strip().lower() for f in cookie.split(";")[1:]}
        assert {"httponly", "samesite=strict", "path=/", "secure"} <= flags
        assert "domain" not in cookie.lower()  # a __Host- cookie is bound to this host
        assert signed.headers["Strict-Transport-Security"].startswith("max-age=")
        assert client.request("/cases").status == 200


def test_a_session_unused_for_the_idle_time_ends(tmp_path_factory: pytest.TempPathFactory) -> None:
    tmp = tmp_path_factory.mktemp("webidle")
    tmp.chmod(0o700)
    dep = deployment(tmp, idle_minutes=0.05)  # 3 s: a first page on a loaded machine comes well within it
    with web_process(dep) as base:
        client = Client.signed_in(base, "water")
        signed_at = time.monotonic()
        assert client.request("/cases").status == 200
        while True:  # unused, it ends once the idle time is over, not before
            answer = client.request("/cases", headers={"X-Fragment": "rows"})
            if answer.status == 303:
                break
            assert time.monotonic() - signed_at < 30
            time.sleep(0.2)
        assert time.monotonic() - signed_at >= 3.0
        assert answer.headers["Location"] == "/login?ended=1"
        assert any('"reason": "idle"' in (r.detail or "") for r in dep.audit_rows(action="session_ended"))


def test_inside_hotline_serve_the_web_front_shares_the_links_sign_in_guard(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    from ari_app.server import build_server
    from ari_app.web.app import WebServer

    tmp = tmp_path_factory.mktemp("webserve")
    tmp.chmod(0o700)
    dep = deployment(tmp, enabled="true")
    server = build_server(dep.cfg)
    try:
        (web,) = [x for x in server.extras if isinstance(x, WebServer)]
        assert server.link is not None
        assert web.app.signin.guard is server.link.guard  # one set of counters for the desktop and the browser
        assert web.app.poller is None  # it hears the case events on the server's bus instead
        assert "web" in server.bus.backlog()
    finally:
        server.engine.dispose()
