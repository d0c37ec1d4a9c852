"""Open311 `media_url`: an exchange-mode case's first photo reaches the hotline's own system (a real
receiver on 127.0.0.1) as the configured public base URL and the photo's token, and that URL gives the
photo back through the service's published read (`attachments.open_published`, what the centre's web front
serves); without a public URL, for a confidential case, or with only a recording, no `media_url` is sent."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from ari_app.cases import Action
from ari_app.cases import attachments as att
from ari_app.cases.errors import AttachmentNotFound
from ari_app.cases.exchange import Backoff, deliver_due, media_url
from ari_app.config import HotlineMode
from schema.cases import AuditEntry, Case, OutboxStatus
from tests.support.attachments import jpeg, png, wav, with_attachments
from tests.support.cases import Db, LocalServer, Receiver, outbox
from tests.support.flows import Flow


class MediaFront(LocalServer):
    """The centre's web front for `public_url`, as a thread on 127.0.0.1: `GET /media/<token>` answers the
    published attachment (`open_published`), as a download that is never sniffed, or 404."""

    def __init__(self, db: Db) -> None:
        front = self
        self.db = db

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                token = self.path.removeprefix("/media/")
                try:
                    with front.db.session() as s, s.begin():
                        opened = att.open_published(s, token)
                        body, mime = opened.read(), opened.attachment.mime
                except AttachmentNotFound:
                    self.send_response(404)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", mime)
                self.send_header("Content-Disposition", "attachment")
                self.send_header("X-Content-Type-Options", "nosniff")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.serve(Handler)
        self.base = f"{self.origin}/media/"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


@pytest.fixture
def front(db: Db) -> Iterator[MediaFront]:
    with MediaFront(db) as f:
        yield f


def deliver(db: Db, receiver: Receiver) -> dict[str, Any]:
    deliver_due(db.session, {"12358": receiver.url}, timeout=5, backoff=Backoff(), rng=lambda: 0.5)
    assert all(m.status == OutboxStatus.DELIVERED for m in outbox(db))
    (request,) = receiver.requests.values()
    return request


def add(db: Db, login: str, case_id: int, name: str, data: bytes, **kw: Any) -> att.Attachment:
    with db.session() as s, s.begin():
        return att.add_attachment(s, db.world.actors[login], case_id, name, data, **kw)


def test_the_first_photo_goes_as_media_url_and_the_receiver_can_fetch_it(
    db: Db, tmp_path: Path, receiver: Receiver, front: MediaFront
) -> None:
    db.settings = with_attachments(db.settings, tmp_path / "att", public_url=front.base)
    cid = Flow(db, HotlineMode.EXCHANGE).create()
    add(db, "agent", cid, "录音.wav", wav())  # not a photo
    photo = add(db, "agent", cid, "现场.jpg", jpeg(seed=5))  # added after intake, before delivery
    add(db, "agent", cid, "第二张.png", png())
    request = deliver(db, receiver)
    assert request["media_url"] == front.base + photo.token
    with urllib.request.urlopen(request["media_url"], timeout=5) as answer:  # as the receiver fetches it
        assert answer.read() == jpeg(seed=5)
        assert answer.headers["Content-Type"] == "image/jpeg"
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
    with db.session() as s:
        (entry,) = s.scalars(select(AuditEntry).where(AuditEntry.action == "attachment_published")).all()
    assert (entry.login, entry.case_id, json.loads(entry.detail or "{}")) == ("system", cid, {"attachment": photo.id})


def test_no_media_url_without_a_public_url_a_photo_or_for_a_confidential_case(
    db: Db, tmp_path: Path, receiver: Receiver, front: MediaFront
) -> None:
    db.settings = with_attachments(db.settings, tmp_path / "att")  # no public URL
    f = Flow(db, HotlineMode.EXCHANGE)
    cid = f.create()
    add(db, "agent", cid, "现场.jpg", jpeg())
    assert "media_url" not in deliver(db, receiver)

    db.settings = with_attachments(db.settings, tmp_path / "att", public_url=front.base)
    secret = f.create(caller="13900000007", confidential=True)
    hidden = add(db, "agent", secret, "现场.jpg", jpeg(seed=9))
    audio = f.create(caller="13900000008")
    add(db, "agent", audio, "录音.wav", wav())
    deliver_due(db.session, {"12358": receiver.url}, timeout=5, backoff=Backoff(), rng=lambda: 0.5)
    sent = list(receiver.requests.values())
    assert len(sent) == 3 and not any("media_url" in r for r in sent)
    # the published read refuses what media_url never offers: a confidential case's photo
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(front.base + hidden.token, timeout=5)
    assert err.value.code == 404


def test_media_url_is_the_citizens_photo_not_a_units_result(db: Db, tmp_path: Path) -> None:
    db.settings = with_attachments(db.settings, tmp_path / "att", public_url="https://12345.example.gov.cn/m/")
    f = Flow(db, HotlineMode.COLLABORATIVE)
    cid = f.create()
    f.do(Action.DISPATCH, f.dispatcher, cid)
    add(db, "deptA", cid, "修复后.jpg", jpeg(seed=1))
    with db.session() as s:
        case = s.get(Case, cid)
        assert case is not None and media_url(case) is None
    citizen = add(db, "agent", cid, "现场.jpg", jpeg(seed=2))
    with db.session() as s:
        case = s.get(Case, cid)
        assert case is not None and media_url(case) == "https://12345.example.gov.cn/m/" + citizen.token
