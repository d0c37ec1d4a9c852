"""Security of the running platform, checked on the real Asterisk and the files of a real run
(docs/security.md): Asterisk is an unprivileged user that sees only its own processes, the AMI user
cannot make Asterisk run a program, and no file the platform writes is readable by another local user."""

from __future__ import annotations

import asyncio
import os
import pwd
import random
import stat
import subprocess
import uuid
from pathlib import Path

import pytest

from ari_app.asterisk_ctl import ASTERISK_USER, AsteriskHost
from ari_app.config import Config, load_config
from ari_app.health import AmiSession
from tests.support.e2e import Stack, calls, hotline
from tests.support.waiting import wait_for


def _host(stack: Stack) -> tuple[Config, AsteriskHost]:
    cfg = load_config(stack.config)
    return cfg, AsteriskHost.for_config(cfg)


def _ami_action(cfg: Config, name: str, **fields: str) -> dict[str, str]:
    """One action from the AMI user config.yaml names, with its secret, as the CTI server logs in."""
    ami = cfg.asterisk.ami
    secret = ami.secret.value() if ami.secret else ""

    async def run() -> dict[str, str]:
        async with AmiSession(ami.host, ami.port, ami.username, secret, timeout=10) as session:
            return await session.action(name, **fields)

    return asyncio.run(run())


def _status(pid: int) -> dict[str, str]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return {k: v.strip() for k, _, v in (line.partition(":") for line in lines)}


def test_asterisk_runs_as_its_own_user_without_privileges(stack: Stack) -> None:
    _cfg, host = _host(stack)
    pid = host.pid()
    assert pid is not None
    user = pwd.getpwnam(ASTERISK_USER)
    assert user.pw_uid != 0 and user.pw_shell.endswith("nologin")
    status = _status(pid)
    assert status["Uid"].split() == [str(user.pw_uid)] * 4, status["Uid"]
    assert status["Gid"].split() == [str(user.pw_gid)] * 4, status["Gid"]
    assert status["Groups"] == ""
    for caps in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert int(status[caps], 16) == 0, (caps, status[caps])
    assert status["NoNewPrivs"] == "1"
    # started with asterisk.nice (-10) so that other work on the machine cannot take its CPU; no right to
    # change it back (no CAP_SYS_NICE), field 19 of /proc/PID/stat
    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    assert int(stat[16]) == -10, stat[16]
    if host.root is not None:
        # the same ids inside the root: what Asterisk writes is the host's `asterisk`, nobody else's
        passwd = (host.root / "etc/passwd").read_text()
        assert f"{ASTERISK_USER}:x:{user.pw_uid}:{user.pw_gid}:" in passwd


def test_root_shows_asterisk_no_host_process_and_a_minimal_dev(stack: Stack) -> None:
    _cfg, host = _host(stack)
    if host.root is None:
        pytest.skip("a system Asterisk: no root of the project's")
    mounts = {line.split()[1]: line.split() for line in Path("/proc/mounts").read_text().splitlines()}
    proc = mounts[str(host.root / "proc")]
    assert proc[2] == "proc" and {"hidepid=invisible", "subset=pid", "nosuid", "noexec"} <= set(proc[3].split(","))
    dev = mounts[str(host.root / "dev")]
    assert dev[2] == "tmpfs"
    assert sorted(p.name for p in (host.root / "dev").iterdir()) == sorted(
        ["full", "null", "random", "urandom", "zero", "fd", "stdin", "stdout", "stderr"]
    )
    rec = mounts[str(host.inside(str(load_config(stack.config).recordings_path)))]
    assert {"nosuid", "nodev", "noexec"} <= set(rec[3].split(","))
    # what Asterisk's user sees in the root's /proc: its own processes, no pid 1 (no /proc/1/root into
    # the host's files), no host process, no /proc/sys
    user = pwd.getpwnam(ASTERISK_USER)
    seen = subprocess.run(
        ["chroot", f"--userspec={user.pw_uid}:{user.pw_gid}", str(host.root), "/bin/ls", "/proc"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    pids = {int(name) for name in seen if name.isdigit()}
    assert 1 not in pids and os.getpid() not in pids
    assert all(_status(p)["Uid"].split()[0] == str(user.pw_uid) for p in pids if Path(f"/proc/{p}").exists())
    assert "sys" not in seen and "kcore" not in seen
    escape = subprocess.run(
        ["chroot", f"--userspec={user.pw_uid}:{user.pw_gid}", str(host.root), "/bin/ls", "/proc/1/root/"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert escape.returncode != 0 and escape.stdout == ""


def test_ami_user_has_exactly_the_classes_the_server_uses(stack: Stack) -> None:
    cfg, host = _host(stack)
    shown = host.cli(f"manager show user {cfg.asterisk.ami.username}")
    perms = {line.split(":", 1)[0].strip(): line.split(":", 1)[1].strip() for line in shown.splitlines() if ":" in line}
    assert set(perms["read perm"].split(",")) == {"system", "call", "agent", "user"}
    assert set(perms["write perm"].split(",")) == {"call", "agent", "originate", "reporting"}
    # the health probe's channel count needs no `command` class
    reply = _ami_action(cfg, "CoreStatus")
    assert reply["Response"] == "Success" and reply["CoreCurrentCalls"].isdigit(), reply


def test_ami_cannot_make_asterisk_run_a_program(stack: Stack) -> None:
    """The attack of the finding: Originate with Application System (or a way round it) as the AMI user."""
    cfg, host = _host(stack)
    marker = f"hotline-ami-probe-{uuid.uuid4().hex}"
    targets = [Path("/tmp") / marker]
    if host.root is not None:
        targets.append(host.inside(f"/tmp/{marker}"))
        targets.append(host.inside(f"/var/spool/asterisk/tmp/{marker}"))
    attempts = [
        {"Application": "System", "Data": f"id > /tmp/{marker}"},
        {"Application": "TrySystem", "Data": f"id > /tmp/{marker}"},
        {"Application": "Exec", "Data": f"System(id > /tmp/{marker})"},
        {"Application": "NoOp", "Data": f"${{SHELL(id > /tmp/{marker})}}"},
        {"Application": "Set", "Data": f"X=${{EVAL(${{SHELL(id > /tmp/{marker})}})}}"},
    ]
    for fields in attempts:
        reply = _ami_action(cfg, "Originate", Channel="Local/00@not-a-hotline", Timeout="3000", **fields)
        assert reply["Response"] == "Error", (fields, reply)
        assert "Originate Access Forbidden" in reply.get("Message", ""), (fields, reply)
    command = _ami_action(cfg, "Command", Command="core show version")
    assert command["Response"] == "Error" and "Permission denied" in command.get("Message", ""), command
    # and the programs themselves are not loaded, so no other path (a dialplan, a Local channel) reaches them
    modules = host.cli("module show like system") + host.cli("module show like shell")
    assert "app_system.so" not in modules and "func_shell.so" not in modules, modules
    wait_for(lambda: all(not t.exists() for t in targets) or None, 5, "no file written by the probes")
    assert not [t for t in targets if t.exists()]


def _walk(top: Path) -> list[Path]:
    out = [top]
    for dirpath, dirnames, filenames in os.walk(top):
        out += [Path(dirpath) / n for n in (*dirnames, *filenames)]
    return out


def _readable_by_nobody(path: Path) -> bool:
    probe = subprocess.run(
        ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "cat", str(path)],
        capture_output=True,
        check=False,
    )
    return probe.returncode == 0


def test_no_file_the_platform_writes_is_readable_by_another_user(stack: Stack) -> None:
    """After a recorded call: every file the platform and its Asterisk wrote, walked; none grants anything
    to others, and `nobody` reads none of them."""
    cfg, host = _host(stack)
    caller = "139" + "".join(random.choice("0123456789") for _ in range(8))
    stack.sipp.call("12345", caller, talk_ms=1500)

    def recorded() -> Path | None:
        mine = [c for c in calls(stack.config) if c["caller"] == caller and c["state"] == "ended"]
        return Path(mine[0]["recording"]) if mine and mine[0]["recording"] else None

    recording = wait_for(recorded, 30, "the call's recording")
    asterisk = pwd.getpwnam(ASTERISK_USER)
    problems: list[str] = []

    def check(path: Path, owners: set[int], most: int, dir_most: int) -> None:
        st = path.lstat()
        if stat.S_ISLNK(st.st_mode):
            return
        mode = stat.S_IMODE(st.st_mode)
        limit = dir_most if stat.S_ISDIR(st.st_mode) else most
        if mode & ~limit:
            problems.append(f"{path}: mode {mode:o}, at most {limit:o}")
        if st.st_uid not in owners:
            problems.append(f"{path}: owner {st.st_uid}")
        if not stat.S_ISDIR(st.st_mode) and not stat.S_ISSOCK(st.st_mode) and _readable_by_nobody(path):
            problems.append(f"{path}: nobody can read it")

    # Asterisk's configuration (secrets in manager.conf, ari.conf, hotline_pjsip.conf): root:asterisk 0640
    for path in _walk(host.etc_dir):
        check(path, {0}, 0o640, 0o750)
        if path.lstat().st_gid != asterisk.pw_gid:
            problems.append(f"{path}: group {path.lstat().st_gid}")
    # what Asterisk writes: Master.csv, queue_log, messages.log, astdb, its pid and control socket
    written = {p.name for d in host.writable_dirs for p in _walk(d)}
    assert {"Master.csv", "queue_log", "messages.log", "astdb.sqlite3", "asterisk.ctl"} <= written, written
    for folder in host.writable_dirs:
        for path in _walk(folder):
            if path.parent.name == "asterisk" and path.parent.parent.name == "lib" and path.lstat().st_uid == 0:
                continue  # the package's sounds and keys under /var/lib/asterisk: root's, public, read-only
            check(path, {asterisk.pw_uid}, 0o750, 0o750)
    # recordings: Asterisk's, readable by the CTI server's group only
    assert recording.is_file()
    for path in _walk(cfg.recordings_path):
        check(path, {asterisk.pw_uid, os.geteuid()}, 0o640, 0o2750)
    # the CTI server's own: the database and its -wal/-shm, the sign-in tokens, the secrets
    db = Path(cfg.database_url.split(":///", 1)[1])
    assert Path(f"{db}-wal").exists()
    check(db.parent, {os.geteuid()}, 0o600, 0o700)
    for path in [db, Path(f"{db}-wal"), Path(f"{db}-shm"), stack.tmp / "link_tokens.json"]:
        if path.exists():
            check(path, {os.geteuid()}, 0o600, 0o700)
    for endpoint in (cfg.asterisk.ami, cfg.asterisk.ari):
        if endpoint.secret is not None and endpoint.secret.file is not None:
            check(endpoint.secret.file, {os.geteuid()}, 0o600, 0o700)
            check(endpoint.secret.file.parent, {os.geteuid()}, 0o600, 0o700)
    assert not problems, "\n".join(problems)


def test_rotating_the_ami_secret(stack: Stack) -> None:
    """docs/security.md, Rotating secrets: a new secret in the file, `hotline asterisk up`, and the old one
    is refused while the new one logs in. The old value is put back at the end for the session's server."""
    cfg = load_config(stack.config)
    secret_file = cfg.asterisk.ami.secret.file if cfg.asterisk.ami.secret else None
    assert secret_file is not None
    old = secret_file.read_text()
    try:
        secret_file.write_text("rotated-" + uuid.uuid4().hex + "\n")
        up = hotline(stack.config, "asterisk", "up", timeout=300)
        assert up.returncode == 0, up.stderr
        assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
        assert _ami_action(load_config(stack.config), "Ping")["Response"] == "Success"
        with pytest.raises(ConnectionError, match="login refused"):
            _ami_action_with(cfg, old.strip(), "Ping")
    finally:
        secret_file.write_text(old)
        assert hotline(stack.config, "asterisk", "up", timeout=300).returncode == 0
    assert _ami_action(cfg, "Ping")["Response"] == "Success"
    wait_for(lambda: hotline(stack.config, "status").returncode == 0 or None, 60, "the platform healthy again")


def _ami_action_with(cfg: Config, secret: str, name: str) -> dict[str, str]:
    ami = cfg.asterisk.ami

    async def run() -> dict[str, str]:
        async with AmiSession(ami.host, ami.port, ami.username, secret, timeout=10) as session:
            return await session.action(name)

    return asyncio.run(run())
