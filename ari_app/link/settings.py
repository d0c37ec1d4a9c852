"""What the desktop link reads from config.yaml's `server` section (checked by ari_app.config).

server:
  host: 127.0.0.1          # loopback unless the admin opens it up
  port: 8765
  tls_cert: /etc/hotline/link.crt   # both given: the link speaks wss://
  tls_key: /etc/hotline/link.key
  token_hours: 12          # lifetime of a desktop session token
  token_file: var/link_tokens.json  # token hashes kept across restarts ("" to keep them in memory only)
  max_connections_per_address: 32   # open websockets one client address may hold
  max_unauthenticated_per_address: 8  # of which not signed in
  sign_in_timeout: 30      # seconds a connection may stay open without signing in
  refusal_hold_seconds: 3  # at most this long a connection is not read after a refused sign-in (0: off)
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from ari_app.config import Config


@dataclass(frozen=True)
class LinkSettings:
    """`queue`, `wrapup_seconds` and `offline_pause_seconds` are the agents service's (ari_app.agents): the
    link hands them to it once, when it builds it, and reads them from there (`link.agents`), never here."""

    host: str
    port: int
    queue: str
    wrapup_seconds: float
    token_ttl: timedelta = timedelta(hours=12)
    token_file: Path | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    offline_pause_seconds: float = 60.0
    """An agent whose every desktop is gone this long is paused (reason `desktop_offline`), so calls stop
    ringing a phone nobody is watching. 0 turns it off."""
    max_connections_per_address: int = 32
    max_unauthenticated_per_address: int = 8
    sign_in_timeout: float = 30.0
    """Seconds a connection may stay open without signing in (or after signing out) before it is closed."""
    refusal_hold_seconds: float = 3.0
    """Longest pause in reading a connection after a refused sign-in (it is not read until its retry time,
    at most this): a client that will not wait is made to by TCP's back-pressure, at no cost to the server."""
    session_check_seconds: float = 1.0
    """How often open sessions are checked against expiry and the users' session epochs (ari_app.accounts):
    the longest a revoked or expired session can go on."""

    @classmethod
    def from_config(cls, cfg: Config) -> LinkSettings:
        """The link's settings from config.yaml's `server` section (ari_app.config.ServerSettings, checked
        with file, line and key when the file was loaded) and the queue it serves."""
        server = cfg.server
        return cls(
            host=server.host,
            port=server.port,
            queue=cfg.queue.name,
            wrapup_seconds=float(cfg.queue.wrapup),
            token_ttl=timedelta(hours=server.token_hours),
            token_file=server.token_file,
            tls_cert=server.tls_cert,
            tls_key=server.tls_key,
            max_connections_per_address=server.max_connections_per_address,
            max_unauthenticated_per_address=server.max_unauthenticated_per_address,
            sign_in_timeout=float(server.sign_in_timeout),
            refusal_hold_seconds=server.refusal_hold_seconds,
        )

    def ssl_context(self) -> ssl.SSLContext | None:
        if self.tls_cert is None or self.tls_key is None:
            return None
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(self.tls_cert, self.tls_key)
        return ctx

    @property
    def scheme(self) -> str:
        return "wss" if self.tls_cert else "ws"
