"""Attachments on cases and on units' results (ari_app.cases.attachments): real photos, recordings and
documents are kept outside the database by content hash, 0600 in folders 0700; what a file is comes from
its bytes, never its name (HTML named `.jpg` is refused and nothing is written); limits per file and per
case; only those who see the case read it (another unit: not found, and the try is in the case's trail);
retention removes the files a set time after the case closes. On SQLite and on PostgreSQL."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import stat
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from sqlalchemy import select

from ari_app.cases import Action, queries
from ari_app.cases import attachments as att
from ari_app.cases.errors import (
    AttachmentNotFound,
    AttachmentRemoved,
    AttachmentTooLarge,
    AttachmentTypeRefused,
    CaseError,
    CaseNotFound,
    PermissionDenied,
    TransitionForbidden,
)
from ari_app.config import HotlineMode
from ari_app.protocol import ErrorId
from schema.cases import Attachment, AuditEntry, Case
from tests.support.attachments import REFUSED, jpeg, pdf, png, wav, with_attachments
from tests.support.cases import Db
from tests.support.flows import Flow


@pytest.fixture
def folder(db: Db, tmp_path: Path) -> Path:
    """The attachments folder of the test's case settings (not created yet: the first file makes it)."""
    where = tmp_path / "attachments"
    db.settings = with_attachments(db.settings, where, max_file_bytes=64 * 1024, max_case_bytes=160 * 1024)
    return where


def stored(folder: Path) -> list[Path]:
    """Every file under the attachments folder, temporary ones included."""
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def add(db: Db, login: str, case_id: int, name: str, data: bytes, **kw: Any) -> Attachment:
    with db.session() as s, s.begin():
        return att.add_attachment(s, db.world.actors[login], case_id, name, data, **kw)


def audit_rows(db: Db, action: str) -> list[AuditEntry]:
    with db.session() as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


def test_real_files_are_kept_by_their_hash_with_private_modes_and_read_back(db: Db, folder: Path) -> None:
    f = Flow(db, HotlineMode.COLLABORATIVE)
    cid = f.create()
    files = {"路灯.jpg": (jpeg(), "image/jpeg"), "现场.png": (png(), "image/png")}
    files |= {"录音.wav": (wav(), "audio/x-wav"), "回复函.pdf": (pdf(), "application/pdf")}
    rows = {name: add(db, "agent", cid, name, data) for name, (data, _) in files.items()}

    for name, (data, mime) in files.items():
        row = rows[name]
        digest = hashlib.sha256(data).hexdigest()
        assert (row.filename, row.mime, row.size, row.sha256) == (name, mime, len(data), digest)
        assert row.dispatch_id is None and row.uploaded_by_login == "agent" and row.deleted_at is None
        path = folder / digest[:2] / digest
        assert path.read_bytes() == data
        mode = os.stat(path).st_mode
        assert stat.S_ISREG(mode) and stat.S_IMODE(mode) == 0o600  # never executable, never another's
        assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    assert len(stored(folder)) == 4  # no temporary file left behind
    tokens = [r.token for r in rows.values()]
    assert len(set(tokens)) == 4 and all(len(t) >= 43 for t in tokens)  # 256 random bits each
    assert not any(r.sha256[:16] in r.token for r in rows.values())  # not derived from the content

    with db.session() as s, s.begin():
        opened = att.open_attachment(s, db.world.actors["supervisor"], rows["路灯.jpg"].token)
        photo = opened.read()
    assert photo == files["路灯.jpg"][0]
    assert Image.open(io.BytesIO(photo)).size == (32, 24)  # the photo itself, as the unit will see it
    added = audit_rows(db, "attachment_added")
    assert [json.loads(a.detail or "{}")["filename"] for a in added] == list(files)
    assert {(a.login, a.case_id) for a in added} == {("agent", cid)}
    (read,) = audit_rows(db, "attachment_read")
    assert (read.login, read.case_id, json.loads(read.detail or "{}")) == (
        "supervisor",
        cid,
        {"attachment": rows["路灯.jpg"].id},
    )


@pytest.mark.parametrize("kind", sorted(REFUSED))
def test_bytes_of_a_refused_type_are_refused_whatever_their_name(db: Db, folder: Path, kind: str) -> None:
    f = Flow(db, HotlineMode.COLLABORATIVE)
    cid = f.create()
    with pytest.raises(AttachmentTypeRefused) as err:
        queries.add_attachment(
            db.session,  # type: ignore[arg-type]
            db.world.actors["agent"],
            {"case_id": cid, "filename": "photo.jpg", "data": base64.b64encode(REFUSED[kind]).decode()},
        )
    assert err.value.error_id == ErrorId.ATTACHMENT_TYPE_REFUSED
    assert err.value.detail["mime"] not in {"image/jpeg", "image/png"}
    assert stored(folder) == []
    with db.session() as s:
        assert s.scalars(select(Attachment)).all() == []
    (refusal,) = audit_rows(db, "refused")
    detail = json.loads(refusal.detail or "{}")
    assert (refusal.case_id, detail["request"], detail["error_id"]) == (
        cid,
        "add_attachment",
        "attachment_type_refused",
    )
    assert audit_rows(db, "attachment_added") == []


def test_html_named_jpg_is_refused_as_html(db: Db, folder: Path) -> None:
    cid = Flow(db, HotlineMode.COLLABORATIVE).create()
    with pytest.raises(AttachmentTypeRefused) as err:
        add(db, "agent", cid, "IMG_0001.JPG", REFUSED["html"])
    assert err.value.detail["mime"] == "text/html" and "text/html" in err.value.message
    assert stored(folder) == []


def test_oversize_files_are_refused_before_anything_is_written(db: Db, folder: Path) -> None:
    cid = Flow(db, HotlineMode.COLLABORATIVE).create()
    big = jpeg(size=(400, 300), noisy=True)  # a real photo over the 64 KiB of this test's rules
    assert len(big) > 64 * 1024
    with pytest.raises(AttachmentTooLarge) as err:
        add(db, "agent", cid, "big.jpg", big)
    assert err.value.detail == {"field": "data", "scope": "file", "limit": 64 * 1024, "size": len(big)}
    assert stored(folder) == []
    # the case's limit (160 KiB): recordings that fit one by one, until the case is full
    first = wav(seconds=3.5)
    assert 50 * 1024 < len(first) < 64 * 1024
    add(db, "agent", cid, "1.wav", first)
    add(db, "agent", cid, "2.wav", wav(seconds=3.6))
    before = stored(folder)
    with pytest.raises(AttachmentTooLarge) as err:
        add(db, "agent", cid, "3.wav", wav(seconds=3.7))
    assert err.value.detail["scope"] == "case" and err.value.detail["limit"] == 160 * 1024
    assert stored(folder) == before
    add(db, "agent", cid, "small.png", png())  # what still fits is taken


def test_the_same_content_is_kept_once_under_two_tokens(db: Db, folder: Path) -> None:
    f = Flow(db, HotlineMode.COLLABORATIVE)
    one, two = f.create(), f.create(caller="13900000009")
    photo = jpeg(seed=7)
    a, b = add(db, "agent", one, "a.jpg", photo), add(db, "agent2", two, "b.jpg", photo)
    assert a.sha256 == b.sha256 and a.token != b.token
    assert len(stored(folder)) == 1


def test_another_unit_gets_not_found_and_the_try_is_in_the_cases_trail(db: Db, folder: Path) -> None:
    f = Flow(db, HotlineMode.COLLABORATIVE)
    cid = f.create()
    f.do(Action.DISPATCH, f.dispatcher, cid)
    f.do(Action.ACCEPT, f.dept1, cid)
    mine = add(db, "deptA", cid, "修复后.jpg", jpeg(seed=3))
    assert mine.dispatch_id == f.get(cid).dispatches[0].id  # a department's goes on its own share: its result
    w = db.world.actors
    with db.session() as s, s.begin():  # the unit and the centre see it
        assert att.open_attachment(s, w["deptA"], mine.token).read() == jpeg(seed=3)
        assert [a.id for a in att.list_attachments(s, w["supervisor"], cid)] == [mine.id]

    outsider = w["deptB"]
    with pytest.raises(AttachmentNotFound) as err:
        queries.get_attachment(db.session, outsider, mine.token)  # type: ignore[arg-type]
    assert err.value.error_id == ErrorId.ATTACHMENT_NOT_FOUND and err.value.detail == {}
    with pytest.raises(AttachmentNotFound):
        queries.get_attachment(db.session, outsider, "x" * 43)  # type: ignore[arg-type]
    with pytest.raises(CaseNotFound):
        queries.list_attachments(db.session, outsider, cid)  # type: ignore[arg-type]
    with pytest.raises(CaseNotFound):
        queries.add_attachment(
            db.session,  # type: ignore[arg-type]
            outsider,
            {"case_id": cid, "filename": "x.png", "data": base64.b64encode(png()).decode()},
        )
    trail = [(r.login, r.case_id, json.loads(r.detail or "{}")) for r in audit_rows(db, "refused")]
    assert [(login, case, d["request"], d["error_id"]) for login, case, d in trail] == [
        ("deptB", cid, "get_attachment", "attachment_not_found"),  # the case the token names
        ("deptB", None, "get_attachment", "attachment_not_found"),  # a token that names none
        ("deptB", cid, "list_attachments", "case_not_found"),
        ("deptB", cid, "add_attachment", "case_not_found"),
    ]
    assert all(mine.token not in json.dumps(d) for _, _, d in trail)  # the trail does not hand the token out
    assert [r.login for r in audit_rows(db, "attachment_read")] == ["deptA"]


def test_a_department_adds_only_to_its_own_share(db: Db, folder: Path) -> None:
    f = Flow(db, HotlineMode.COLLABORATIVE)
    cid = f.create(handling="coordinated")
    f.do(Action.DISPATCH, f.dispatcher, cid, units=[f.unit1, f.unit2])
    theirs = next(d.id for d in f.get(cid).dispatches if d.unit_id == f.unit2)
    with pytest.raises(PermissionDenied):
        add(db, "deptA", cid, "x.png", png(), dispatch_id=theirs)
    ours = add(db, "deptB", cid, "y.png", png(), dispatch_id=theirs)
    assert ours.dispatch_id == theirs
    centre = add(db, "supervisor", cid, "z.png", png(seed=1), dispatch_id=theirs)  # the centre may, for a unit
    assert centre.dispatch_id == theirs


def test_a_closed_case_takes_no_attachment_and_its_files_go_after_retention(db: Db, folder: Path) -> None:
    db.settings = with_attachments(db.settings, folder, retention_days=30)
    f = Flow(db, HotlineMode.COLLABORATIVE)
    closed, live = f.create(handling="direct"), f.create(caller="13900000009")
    shared, own = jpeg(seed=11), png(seed=12)
    a = add(db, "agent", closed, "a.jpg", shared)
    b = add(db, "agent", closed, "b.png", own)
    c = add(db, "agent", live, "c.jpg", shared)  # the same photo on a case still open
    db.clock.advance(hours=1)
    f.do(Action.RESOLVE_DIRECTLY, f.dispatcher, closed)
    closed_at = f.get(closed).closed_at
    assert closed_at == db.clock.t
    with pytest.raises(TransitionForbidden):
        add(db, "agent", closed, "late.png", png(seed=13))

    db.clock.t = closed_at + timedelta(days=30) - timedelta(seconds=1)
    with db.session() as s, s.begin():
        assert att.purge_expired(s) == 0
    assert len(stored(folder)) == 2
    db.clock.t = closed_at + timedelta(days=30)
    with db.session() as s, s.begin():
        assert att.purge_expired(s) == 2
    with db.session() as s, s.begin():
        assert att.purge_expired(s) == 0  # once
    assert stored(folder) == [folder / c.sha256[:2] / c.sha256]  # the open case's copy of the photo stays
    with db.session() as s:
        rows = {r.id: r for r in s.scalars(select(Attachment))}
    assert rows[a.id].deleted_at == db.clock.t and rows[b.id].deleted_at == db.clock.t
    assert rows[c.id].deleted_at is None
    purged = audit_rows(db, "attachment_purged")
    assert [(p.login, p.case_id, json.loads(p.detail or "{}")["attachment"]) for p in purged] == [
        ("system", closed, a.id),
        ("system", closed, b.id),
    ]
    with db.session() as s, s.begin():
        with pytest.raises(AttachmentRemoved):
            att.open_attachment(s, db.world.actors["supervisor"], a.token)
        assert att.open_attachment(s, db.world.actors["supervisor"], c.token).read() == shared
        listed = att.list_attachments(s, db.world.actors["supervisor"], closed)
        assert [x.deleted_at is not None for x in listed] == [True, True]


def test_the_case_detail_lists_its_attachments(db: Db, folder: Path) -> None:
    f = Flow(db, HotlineMode.COLLABORATIVE)
    cid = f.create()
    row = add(db, "agent", cid, "../../etc/passwd\u202egpj.exe", jpeg())
    detail = queries.get_case(db.session, db.world.actors["agent2"], cid)  # type: ignore[arg-type]
    (shown,) = detail["attachments"]
    assert shown == att.info(row)
    assert shown["filename"] == "passwdgpj.exe" and shown["mime"] == "image/jpeg"
    assert shown["uploaded_by"] == "agent" and shown["removed_at"] is None


@pytest.mark.parametrize(
    ("given_name", "shown"),
    [
        ("C:\\Users\\王\\照片.JPG", "照片.JPG"),
        ("  ..  ", "attachment"),
        ("", "attachment"),
        ("a\x00b\nc.pdf", "abc.pdf"),
        ("x" * 300 + ".jpeg", "x" * 250 + ".jpeg"),
    ],
)
def test_names_are_cleaned_for_display(given_name: str, shown: str) -> None:
    assert att.clean_filename(given_name) == shown


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    data=st.one_of(
        st.binary(max_size=256),
        st.sampled_from(sorted(REFUSED.values())),
        st.sampled_from([png(), wav(0.01)]),
        st.tuples(
            st.sampled_from([b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"%PDF-", b"<html>"]), st.binary(max_size=64)
        ).map(lambda t: t[0] + t[1]),
    ),
    name=st.sampled_from(["a.jpg", "a.png", "a.html", "a.pdf", "a", "a.exe"]),
)
def test_the_name_never_decides_and_a_refusal_writes_nothing(db: Db, folder: Path, data: bytes, name: str) -> None:
    db.reset()
    cid = Flow(db, HotlineMode.COLLABORATIVE).create()
    before = stored(folder)
    try:
        row = add(db, "agent", cid, name, data)
    except CaseError as exc:
        assert isinstance(exc, AttachmentTypeRefused)
        assert exc.detail["mime"] == att.sniff(data)
        assert stored(folder) == before
        return
    assert row.mime == att.sniff(data) and row.mime in db.settings.attachments.types
    assert (folder / row.sha256[:2] / row.sha256).read_bytes() == data
    with db.session() as s:
        assert s.get(Case, cid) is not None
