"""A full recordings disk with the real Asterisk and the real CTI server process: the recordings folder is
really full (a small tmpfs, filled to the last byte, mounted where Asterisk records and where the server
reads, for the duration of the test), a SIPp call is answered and recorded by MixMonitor into it, and:
- the supervisor, signed in over the link, gets the `recordings_disk_full` alarm, then `recording_failed`
  for the call;
- `hotline status` exits 1 (degraded) and names the full disk, in text and in --json;
- the call's record says its recording failed (`hotline calls --json`), with the reason;
- the QA requests list it as not available, serve none of its files, and no transcription job exists;
- the disk restored, the supervisor gets `recordings_disk_ok`.
The original recordings folder is mounted back in `finally`, so later tests record as before."""

from __future__ import annotations

import asyncio
import errno
import json
import os
import random
import sqlite3
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from ari_app import protocol as p
from ari_app.config import load_config
from tests.support.e2e import Client, Stack, add_user, calls, hotline
from tests.support.waiting import wait_for

TAG = "hotline-e2e-full-recordings"
"""The tmpfs's source name: what `finally` looks for in /proc/self/mountinfo to unmount."""


def _mounts_of(tag: str) -> list[str]:
    """Mount points whose source is `tag`, in mount order."""
    out = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields, _, tail = line.partition(" - ")
        _fstype, source, *_ = tail.split()
        if source == tag:
            out.append(fields.split()[4].replace("\\040", " "))
    return out


def _run(*cmd: str) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, f"{' '.join(cmd)}: {proc.stderr}"


def _fill(folder: Path) -> int:
    """Write a file into `folder` until the filesystem has no byte left; return how much it took."""
    fd = os.open(folder / ".filler", os.O_WRONLY | os.O_CREAT, 0o600)
    written, block = 0, b"\0" * 65536
    try:
        while True:
            try:
                n = os.write(fd, block if len(block) > 1 else b"\0")
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
                if len(block) == 1:
                    return written
                block = block[: len(block) // 2]  # the last pages, byte by byte
                continue
            written += n
    finally:
        os.close(fd)


def _restore() -> None:
    """Unmount the full tmpfs wherever it is mounted (inside Asterisk's root first): the original recordings
    folder and Asterisk's bind mount of it are there again. Idempotent."""
    for target in reversed(_mounts_of(TAG)):
        if subprocess.run(["umount", target], capture_output=True, check=False).returncode != 0:
            subprocess.run(["umount", "-l", target], capture_output=True, check=False)
    assert _mounts_of(TAG) == [], "the full tmpfs is still mounted"


@pytest.fixture
def full_recordings(stack: Stack) -> Any:
    """The recordings folder replaced by a full 2 MiB tmpfs, on the host (where the CTI server looks) and
    inside Asterisk's root (where MixMonitor writes; the mount of `hotline asterisk up` is private, so the
    tmpfs is bound there too, nosuid, nodev, noexec as there). Restored afterwards in any case; the test
    may restore it earlier (`_restore`)."""
    cfg = load_config(stack.config)
    host = cfg.recordings_path
    inside = cfg.asterisk.root / str(host).lstrip("/")
    assert str(inside) in Path("/proc/self/mountinfo").read_text(), "Asterisk's recordings mount is missing"
    st = host.stat()  # asterisk's, setgid, 2750
    options = f"size=2m,mode={st.st_mode & 0o7777:o},uid={st.st_uid},gid={st.st_gid},nosuid,nodev,noexec"
    try:
        _run("mount", "-t", "tmpfs", "-o", options, TAG, str(host))
        _run("mount", "--bind", str(host), str(inside))
        _run("mount", "-o", "remount,bind,nosuid,nodev,noexec", str(inside))
        filled = _fill(host)
        assert os.statvfs(host).f_bavail == 0 and filled > 0
        yield host
    finally:
        _restore()


@pytest.fixture
async def supervisor(stack: Stack) -> AsyncIterator[Client]:
    add_user(stack.config, "disk-sup", "supervisor")
    c = await Client.connect(stack)
    try:
        await c.sign_in("disk-sup")
        yield c
    finally:
        await c.close()


def _alarm(c: Client, kind: str, **detail: Any) -> dict[str, Any] | None:
    return next(
        (
            m
            for m in c.pushes
            if m["type"] == p.Msg.ALARM
            and m["kind"] == kind
            and all(m["detail"].get(k) == v for k, v in detail.items())
        ),
        None,
    )


def _jobs_of(stack: Stack, call_id: str) -> int:
    db = yaml.safe_load(stack.config.read_text(encoding="utf-8"))["database"]["url"].split("///", 1)[1]
    with sqlite3.connect(db) as conn:
        return int(conn.execute("select count(*) from transcription_jobs where call_id = ?", (call_id,)).fetchone()[0])


async def test_a_full_recordings_disk_fails_the_recording_and_alarms_supervisors(
    stack: Stack, supervisor: Client, full_recordings: Path
) -> None:
    # the server's health probe (every 5 s) finds the disk full: one alarm, however many probes follow
    full = await supervisor.until(lambda: _alarm(supervisor, "recordings_disk_full"), 15, "the disk-full alarm")
    assert full["severity"] == "critical" and "recordings disk full" in full["message"]
    assert full["detail"]["path"] == str(full_recordings) and full["detail"]["free_bytes"] < (64 << 20)

    status = await asyncio.to_thread(hotline, stack.config, "status", timeout=60)
    assert status.returncode == 1, status.stdout + status.stderr
    assert f"Recordings disk {full_recordings}: full" in status.stdout
    assert f"recordings disk full: {full_recordings} has" in status.stdout
    as_json = await asyncio.to_thread(hotline, stack.config, "status", "--json", timeout=60)
    report = json.loads(as_json.stdout)
    assert as_json.returncode == 1 and report["state"] == "degraded", as_json.stdout
    assert report["recordings_disk"]["state"] == "full" and report["recordings_disk"]["free_bytes"] < (64 << 20)

    caller = f"136{random.randrange(10**8):08d}"
    placed = await asyncio.to_thread(stack.sipp.call, "12345", caller, talk_ms=2500)
    assert placed.returncode == 0, "the SIPp caller failed"

    def failed() -> dict[str, Any] | None:
        mine = [c for c in calls(stack.config) if c["caller"] == caller and c["recording_status"] == "failed"]
        return mine[0] if mine else None

    call = await asyncio.to_thread(wait_for, failed, 30, "the call's recording marked failed", 0.5)
    assert call["state"] == "ended" and call["answered_at"], call  # a real call, answered and recorded
    assert call["recording"].startswith(str(full_recordings)), call
    assert Path(call["recording"]).name in call["recording_error"], call
    assert any(w in call["recording_error"] for w in ("0 bytes", "no such file", "a header only", "truncated"))

    alarm = await supervisor.until(
        lambda: _alarm(supervisor, "recording_failed", call_id=call["id"]), 10, "the recording-failed alarm"
    )
    assert alarm["severity"] == "critical" and alarm["detail"]["reason"] == call["recording_error"]
    assert [m["kind"] for m in supervisor.pushes if m["type"] == p.Msg.ALARM].count("recordings_disk_full") == 1

    rows = (await supervisor.request(p.Msg.QA_SEARCH_CALLS, hotline="12345", limit=200))["calls"]
    row = next(r for r in rows if r["call_id"] == call["id"])
    assert row["recording_available"] is False and row["recording_status"] == "failed", row
    detail = (await supervisor.request(p.Msg.QA_GET_CALL, call_id=call["id"]))["call"]
    assert detail["recording_sides"] == [] and detail["transcription_status"] is None, detail
    refused = await supervisor.request(p.Msg.QA_OPEN_RECORDING, call_id=call["id"], side="mix")
    assert refused["type"] == p.Msg.ERROR and refused["error_id"] == p.ErrorId.RECORDING_UNAVAILABLE, refused
    assert _jobs_of(stack, call["id"]) == 0

    _restore()  # the next probe finds room again, and says so once
    ok = await supervisor.until(lambda: _alarm(supervisor, "recordings_disk_ok"), 15, "the disk-ok alarm")
    assert ok["severity"] == "info" and ok["detail"]["previous"] == "full"
    status = await asyncio.to_thread(hotline, stack.config, "status", "--json", timeout=60)
    assert json.loads(status.stdout)["recordings_disk"]["state"] == "ok", status.stdout
