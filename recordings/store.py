"""The recording store: where a call's files are, who may read them, and how long they are kept.

Layout (written by the dialplan's MixMonitor, `dialplan/extensions.conf`)::

    <recordings.path>/YYYY/MM/DD/<hotline>/<Linkedid>.wav          the whole call (mix)
                                         /<Linkedid>-caller.wav   what the caller said (receive side)
                                         /<Linkedid>-agent.wav    what the caller heard: agent, prompts

The date is the UTC day the call arrived. Asterisk writes the files as the `asterisk` user with umask
027 into the recordings folder, which `hotline asterisk up` makes asterisk's, setgid, 2750: every file is
asterisk:<the folder's group> 0640 and every folder 2750, so the CTI server reads them through that group
(root in the tests; the service's own group in production) and no other local user can. `secure()`
narrows files the CTI server itself owns to 0600 and their folders to 0700. Retention removes whole days
older than `recordings.retention_days`.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from schema.calls import CallRecord
from schema.cases import Case

FILE_MODE = 0o600
DIR_MODE = 0o700
_DAY = re.compile(r"^\d{4}/\d{2}/\d{2}$")


@dataclass(frozen=True)
class RecordingSet:
    """One call's recording files. `caller` and `agent` are the separate sides, when present."""

    call_id: str
    mix: Path
    caller: Path | None
    agent: Path | None


def day_folder(root: Path, when: datetime, hotline: str) -> Path:
    """The folder of a call that arrived at `when` (aware) on `hotline`."""
    return root / f"{when:%Y}" / f"{when:%m}" / f"{when:%d}" / hotline


def sides(mix: Path, call_id: str | None = None) -> RecordingSet:
    """The recording set around a mix file: `<id>-caller.wav` and `<id>-agent.wav` beside it, if they exist."""
    stem = mix.stem
    caller = mix.with_name(f"{stem}-caller{mix.suffix}")
    agent = mix.with_name(f"{stem}-agent{mix.suffix}")
    return RecordingSet(
        call_id=call_id or stem,
        mix=mix,
        caller=caller if caller.exists() else None,
        agent=agent if agent.exists() else None,
    )


def secure(files: RecordingSet, root: Path | None = None) -> None:
    """Make a call's files readable by the service user only (0600) and their folders, up to `root`,
    0700. Files this process does not own are left alone (it could not change them anyway)."""
    paths = [p for p in (files.mix, files.caller, files.agent) if p is not None]
    uid = os.geteuid()
    for path in paths:
        _set_mode(path, uid, FILE_MODE)
    if root is None or not paths:
        return
    root = root.resolve()
    folder = paths[0].resolve().parent
    while folder != root and root in folder.parents:
        _set_mode(folder, uid, DIR_MODE)
        folder = folder.parent
    if folder == root:
        _set_mode(root, uid, DIR_MODE)


def _set_mode(path: Path, uid: int, mode: int) -> None:
    """Give `path` the permission bits `mode` if it exists, belongs to `uid` and has other bits."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return
    if st.st_uid == uid and st.st_mode & 0o777 != mode:
        path.chmod(mode)


def recording_for_call(session: Session, call_id: str) -> RecordingSet | None:
    """The recording of a call (by Linkedid), from its call record; None if the call was not recorded."""
    path = session.scalar(select(CallRecord.recording).where(CallRecord.linkedid == call_id))
    return sides(Path(path), call_id) if path else None


def cases_for_call(session: Session, call_id: str) -> list[str]:
    """The numbers of the cases taken on a call (a call may open more than one case)."""
    return list(session.scalars(select(Case.number).where(Case.call_id == call_id).order_by(Case.id)))


@dataclass(frozen=True)
class PurgeReport:
    days: tuple[str, ...]  # "YYYY/MM/DD" folders removed
    files: int
    bytes: int


def purge_expired(root: Path, retention_days: int, today: date) -> PurgeReport:
    """Remove every day folder (`YYYY/MM/DD`) older than `retention_days` before `today` (UTC), and the
    month and year folders left empty. Transcripts stay in the database: the case record keeps what was
    said after the audio is gone. Anything under `root` that is not a day folder is never touched."""
    cutoff = today - timedelta(days=retention_days)
    removed: list[str] = []
    files = size = 0
    if not root.is_dir():
        return PurgeReport((), 0, 0)
    for day_dir in sorted(root.glob("[0-9][0-9][0-9][0-9]/[0-9][0-9]/[0-9][0-9]")):
        rel = day_dir.relative_to(root).as_posix()
        if not _DAY.match(rel) or not day_dir.is_dir():
            continue
        try:
            day = date(int(rel[:4]), int(rel[5:7]), int(rel[8:10]))
        except ValueError:
            continue
        if day >= cutoff:
            continue
        for f in day_dir.rglob("*"):
            if f.is_file():
                files += 1
                size += f.stat().st_size
        shutil.rmtree(day_dir)
        removed.append(rel)
        for parent in (day_dir.parent, day_dir.parent.parent):
            try:
                parent.rmdir()
            except OSError:
                break
    return PurgeReport(tuple(removed), files, size)
