"""Attachments: photos, audio and documents on a case, or on a unit's result (its dispatch). The one place
with their rules, for the desktop link and the web sub-platform (a phone's photo upload, ari_app.web.pages).

- What a file is comes from its bytes (libmagic through python-magic), never from its name: a `.jpg` that
  is HTML is refused (`attachment_type_refused`). Only the configured types are taken, a subset of
  `ari_app.config.ATTACHMENT_TYPES` (photos, recordings, PDF: nothing a browser runs).
- Size: at most `max_file_bytes` a file and `max_case_bytes` for all the live files of a case
  (`attachment_too_large`); a refused file writes nothing.
- Storage: outside the database, one file per content, named by its SHA-256 (`<dir>/<2 hex>/<sha256>`),
  so the same photo sent twice is stored once. Folders are 0700, files 0600 and never executable, written
  whole or not at all (a temporary file in the same folder, then renamed over).
- The row keeps what the file is (sniffed type, size, hash), the name it came with (cleaned, for display),
  who added it and when, and a random token (`secrets.token_urlsafe(32)`, 256 bits) it is read by: no
  attachment's address can be guessed from another's.
- Who may add: the centre's roles and hotline units to any case they see; a department only to a case
  dispatched to it, and then always on its own share (its result), never on another unit's. Who may
  read: whoever may see the case (`access.visible`, the one rule). Attachments are not the citizen's
  contact fields: a confidential case's attachments are shown to whoever sees the case, but never offered
  to a hotline's own system (Open311 `media_url`, ari_app.cases.exchange).
- Every add, list and read is audited here, in the request's transaction; every refusal by the caller's
  `transaction(...)` (ari_app.cases.audit).
- Retention: `retention_days` after its case closed an attachment's file is removed (`purge_expired`, run by
  the case runner); the row stays, marked `deleted_at`, and the removal is audited.
"""

from __future__ import annotations

import os
import secrets
import tempfile
import threading
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from hashlib import sha256
from pathlib import Path

import magic
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ari_app.cases.access import load_case, unit_scope, visible
from ari_app.cases.actor import SYSTEM, Actor
from ari_app.cases.audit import audit
from ari_app.cases.errors import (
    AttachmentNotFound,
    AttachmentRemoved,
    AttachmentTooLarge,
    AttachmentTypeRefused,
    InvalidInput,
    NotConfigured,
    PermissionDenied,
    TransitionForbidden,
)
from ari_app.cases.exchange import MEDIA_TYPES, rerender_pending
from ari_app.cases.machine import CaseState
from ari_app.cases.settings import settings_of
from ari_app.config import AttachmentRules
from ari_app.protocol import AttachmentInfo, iso
from schema.cases import Attachment, Case, Dispatch
from schema.users import Role

MAX_FILENAME = 255
TOKEN_BYTES = 32
"""Random bytes of a token: 256 bits, 43 URL-safe characters."""

_magic_lock = threading.Lock()
_magic: magic.Magic | None = None


def sniff(data: bytes) -> str:
    """The MIME type libmagic reads in `data` (`image/jpeg`, `text/html`, `application/octet-stream` for
    bytes it does not know, `application/x-empty` for none). One libmagic handle, used under a lock: a
    handle is not safe to share between threads."""
    global _magic
    with _magic_lock:
        if _magic is None:
            _magic = magic.Magic(mime=True)
        return str(_magic.from_buffer(data))


def clean_filename(name: str | None) -> str:
    """The name an attachment came with, for display only: its last path part, NFC, without control or
    format characters (a right-to-left override could make `gpj.exe` read `exe.jpg`), at most 255
    characters (keeping the extension); `attachment` when nothing is left."""
    text = unicodedata.normalize("NFC", name or "")
    text = text.replace("\\", "/").rsplit("/", 1)[-1]
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C").strip().strip(".").strip()
    if len(text) > MAX_FILENAME:
        stem, dot, ext = text.rpartition(".")
        text = (stem[: MAX_FILENAME - len(ext) - 1] + dot + ext) if dot and len(ext) <= 16 else text[:MAX_FILENAME]
    return text or "attachment"


def rules_of(session: Session) -> AttachmentRules:
    """The attachment rules of the session's case settings; refused (`cases_not_configured`) when no folder
    is configured."""
    rules = settings_of(session).attachments
    if rules.dir is None:
        raise NotConfigured("attachments have no folder: set cases.attachments.dir")
    return rules


def blob_path(root: Path, digest: str) -> Path:
    """Where the content of SHA-256 `digest` (64 hex digits) is kept."""
    return root / digest[:2] / digest


def _private_dir(path: Path) -> None:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.stat().st_mode & 0o777 != 0o700:
        path.chmod(0o700)


def write_blob(root: Path, digest: str, data: bytes) -> bool:
    """Keep `data` as the file of its hash, 0600 in folders 0700, written to a temporary file beside it,
    flushed to disk and renamed over: a reader never sees half a file. Returns False when that content was
    already kept (nothing is written)."""
    _private_dir(root)
    folder = root / digest[:2]
    _private_dir(folder)
    target = folder / digest
    if target.is_file() and target.stat().st_size == len(data):
        return False
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".part-")  # created 0600
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return True


def info(a: Attachment) -> AttachmentInfo:
    return AttachmentInfo(
        id=a.id,
        token=a.token,
        case_id=a.case_id,
        dispatch_id=a.dispatch_id,
        filename=a.filename,
        mime=a.mime,
        size=a.size,
        sha256=a.sha256,
        uploaded_by=a.uploaded_by_login,
        uploaded_at=a.uploaded_at.isoformat(),
        removed_at=iso(a.deleted_at),
    )


def _own_dispatch(session: Session, actor: Actor, case: Case, dispatch_id: int | None) -> Dispatch | None:
    """The unit share an attachment goes on: the one named (of this case; a department's only of its own
    units), else for a department its units' latest share of the case, else None (on the case itself)."""
    units = set(session.scalars(unit_scope(actor))) if actor.role is Role.DEPARTMENT else None
    if dispatch_id is not None:
        dispatch = next((d for d in case.dispatches if d.id == dispatch_id), None)
        if dispatch is None:
            raise InvalidInput(f"case {case.number} has no dispatch {dispatch_id}", field="dispatch_id")
        if units is not None and dispatch.unit_id not in units:
            raise PermissionDenied(
                f"dispatch {dispatch_id} is another unit's share of case {case.number}",
                action="add_attachment",
                status=str(case.status),
                role=str(actor.role),
            )
        return dispatch
    if units is None:
        return None
    mine = [d for d in case.dispatches if d.unit_id in units]
    return mine[-1] if mine else None


def add_attachment(
    session: Session,
    actor: Actor,
    case_id: int,
    filename: str | None,
    data: bytes,
    *,
    dispatch_id: int | None = None,
) -> Attachment:
    """Add a file to a case the actor may see, or to a unit's result (`dispatch_id`; a department's always
    goes on its own share). Checks, in order: the case (`case_not_found`), a department's share
    (`case_permission_denied` for another unit's dispatch), a closed case
    (`case_transition_forbidden`), the size of the file and of the case's files (`attachment_too_large`),
    what the bytes are (`attachment_type_refused`); only then is the file written. Audited
    (`attachment_added`: id, name, type, size, hash, dispatch). A case still waiting in the exchange
    outbox has its Open311 request built again, so a photo added now goes with it (`media_url`)."""
    settings = settings_of(session)
    rules = rules_of(session)
    now = settings.now()
    case = load_case(session, actor, case_id, lock=True)
    dispatch = _own_dispatch(session, actor, case, dispatch_id)
    if actor.role is Role.DEPARTMENT and dispatch is None:  # pragma: no cover - visible() implies a share
        raise PermissionDenied("no share of this case is your unit's", action="add_attachment", role=str(actor.role))
    if case.status == CaseState.CLOSED:
        raise TransitionForbidden(
            f"case {case.number} is closed: no attachment can be added", action="add_attachment", status="closed"
        )
    size = len(data)
    if size > rules.max_file_bytes:
        raise AttachmentTooLarge(
            f"the file has {size} bytes; one file may have at most {rules.max_file_bytes}",
            field="data",
            scope="file",
            limit=rules.max_file_bytes,
            size=size,
        )
    used = session.scalar(
        select(func.coalesce(func.sum(Attachment.size), 0)).where(
            Attachment.case_id == case.id, Attachment.deleted_at.is_(None)
        )
    )
    if int(used or 0) + size > rules.max_case_bytes:
        raise AttachmentTooLarge(
            f"case {case.number} has {used} bytes of attachments; with {size} more it would pass its "
            f"{rules.max_case_bytes}",
            field="data",
            scope="case",
            limit=rules.max_case_bytes,
            size=int(used or 0) + size,
        )
    mime = sniff(data)
    if mime not in rules.types:
        raise AttachmentTypeRefused(
            f"the file is {mime}, which is not an attachment type allowed here ({', '.join(rules.types)})",
            field="data",
            mime=mime,
            allowed=list(rules.types),
        )
    digest = sha256(data).hexdigest()
    assert rules.dir is not None
    write_blob(rules.dir, digest, data)
    row = Attachment(
        case_id=case.id,
        dispatch_id=dispatch.id if dispatch is not None else None,
        filename=clean_filename(filename),
        mime=mime,
        size=size,
        sha256=digest,
        token=secrets.token_urlsafe(TOKEN_BYTES),
        uploaded_by=actor.user_id,
        uploaded_by_login=actor.login,
        uploaded_at=now,
    )
    session.add(row)
    session.flush()
    audit(
        session,
        actor,
        "attachment_added",
        case.id,
        now,
        attachment=row.id,
        filename=row.filename,
        mime=mime,
        size=size,
        sha256=digest,
        dispatch=row.dispatch_id,
    )
    rerender_pending(session, case)
    return row


def of_case(session: Session, case_id: int) -> list[Attachment]:
    """A case's attachments, oldest first (no check: for a caller that already loaded the case)."""
    return list(session.scalars(select(Attachment).where(Attachment.case_id == case_id).order_by(Attachment.id)))


def list_attachments(session: Session, actor: Actor, case_id: int) -> list[Attachment]:
    """The attachments of a case the actor may see (`case_not_found` otherwise), its units' results' among
    them, oldest first; removed ones too (`deleted_at` set). Audited (`attachments_listed`)."""
    case = load_case(session, actor, case_id)
    found = of_case(session, case.id)
    audit(session, actor, "attachments_listed", case.id, settings_of(session).now(), found=len(found))
    return found


@dataclass(frozen=True)
class Opened:
    """An attachment that may be read: its row, and the file its bytes are in."""

    attachment: Attachment
    path: Path

    def read(self, offset: int = 0, size: int | None = None) -> bytes:
        with self.path.open("rb") as fh:
            fh.seek(offset)
            return fh.read() if size is None else fh.read(size)


def case_of_token(session: Session, token: str) -> int | None:
    """The case an attachment token names, whoever asks (for the trail of a refused read), or None."""
    return session.scalar(select(Attachment.case_id).where(Attachment.token == token))


def open_attachment(session: Session, actor: Actor, token: str, *, audited: bool = True) -> Opened:
    """The attachment of `token` for an actor who may see its case: `attachment_not_found` for a token
    that names none and for one on a case the actor may not see (the two are not told apart);
    `attachment_removed` when retention removed its file. Audited (`attachment_read`) unless `audited` is
    False (a later piece of the same read)."""
    rules = rules_of(session)
    stmt = select(Attachment).join(Case, Case.id == Attachment.case_id).where(Attachment.token == token)
    cond = visible(actor)
    if cond is not None:
        stmt = stmt.where(cond)
    row = session.scalars(stmt).one_or_none()
    if row is None:
        raise AttachmentNotFound("no attachment by that token that you may see")
    path = blob_path(rules.dir, row.sha256) if rules.dir is not None else None
    if row.deleted_at is not None or path is None or not path.is_file():
        raise AttachmentRemoved(
            f"attachment {row.id} was removed by retention", removed_at=iso(row.deleted_at), attachment=row.id
        )
    if audited:
        audit(session, actor, "attachment_read", row.case_id, settings_of(session).now(), attachment=row.id)
    return Opened(row, path)


def open_published(session: Session, token: str) -> Opened:
    """The attachment behind an Open311 `media_url` (ari_app.cases.exchange.media_url), for the centre's
    web front that serves `public_url` to the hotlines' own systems: read by its token alone, and only what
    `media_url` may offer (a live photo on the case itself, of a case that is not confidential, with a
    public URL configured); anything else is `attachment_not_found`. Audited (`attachment_published`, by
    the platform). The front sends it as its `mime` with `Content-Disposition: attachment` and
    `X-Content-Type-Options: nosniff`."""
    rules = rules_of(session)
    row = session.scalars(
        select(Attachment)
        .join(Case, Case.id == Attachment.case_id)
        .where(
            Attachment.token == token,
            Attachment.dispatch_id.is_(None),
            Attachment.mime.in_(MEDIA_TYPES),
            Case.confidential.is_(False),
        )
    ).one_or_none()
    if row is None or rules.public_url is None:
        raise AttachmentNotFound("no published attachment by that token")
    if row.deleted_at is not None or rules.dir is None or not blob_path(rules.dir, row.sha256).is_file():
        raise AttachmentRemoved(f"attachment {row.id} was removed by retention", removed_at=iso(row.deleted_at))
    assert rules.dir is not None
    audit(session, SYSTEM, "attachment_published", row.case_id, settings_of(session).now(), attachment=row.id)
    return Opened(row, blob_path(rules.dir, row.sha256))


def purge_expired(session: Session, now: datetime | None = None) -> int:
    """Retention: mark removed (`deleted_at`) every live attachment of a case closed `retention_days` or more
    before `now`, audit each (`attachment_purged`, by the platform), and delete each file no live row still
    names (the same content may be on a younger case). Returns how many attachments were removed."""
    rules = rules_of(session)
    now = settings_of(session).now(now)
    cutoff = now - timedelta(days=rules.retention_days)
    stmt = (
        select(Attachment)
        .join(Case, Case.id == Attachment.case_id)
        .where(
            Attachment.deleted_at.is_(None),
            Case.status == CaseState.CLOSED,
            Case.closed_at.is_not(None),
            Case.closed_at <= cutoff,
        )
        .order_by(Attachment.id)
    )
    expired = list(session.scalars(stmt))
    for row in expired:
        row.deleted_at = now
        audit(session, SYSTEM, "attachment_purged", row.case_id, now, attachment=row.id, sha256=row.sha256)
    session.flush()
    assert rules.dir is not None
    for digest in {row.sha256 for row in expired}:
        live = session.scalar(
            select(func.count(Attachment.id)).where(Attachment.sha256 == digest, Attachment.deleted_at.is_(None))
        )
        if not live:
            blob_path(rules.dir, digest).unlink(missing_ok=True)
    return len(expired)
