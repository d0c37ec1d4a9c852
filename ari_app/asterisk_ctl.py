"""Bring a real Asterisk up and down on any machine: `hotline asterisk up|down|status`.

If the system has an `asterisk` of its own (Debian sid, Ubuntu, a production host), it is used with a
project-local asterisk.conf so that nothing in /etc/asterisk is touched. Otherwise a minimal Debian sid
root with Asterisk 22 is built once (debootstrap + apt) in the folder config.yaml names, and Asterisk
runs in it with a /dev of its own (null, zero, full, random, urandom), a /proc that shows it only its own
processes (`hidepid=invisible,subset=pid`) and the recordings folder bind-mounted (at the same path inside,
so the file names Asterisk reports are true on the host). Every listener is the one config.yaml gives
(loopback by default).

Either way Asterisk runs as the host's `asterisk` system user (created when missing; inside the root the
`asterisk` user gets the same uid and gid), without capabilities and with no_new_privs (`setpriv`), and
with umask 027: what it writes (logs, CDRs, queue_log, astdb, recordings) is 0640 / 0750 or tighter. The
files written here for it are root:asterisk 0640 in a root:asterisk 0750 folder (docs/security.md).
"""

from __future__ import annotations

import grp
import logging
import os
import pwd
import shutil
import socket
import stat
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ari_app.config import Config
from ari_app.dialplan_render import DEFAULT_SOUNDS, install, write_config_file
from ari_app.prompts import PromptError, install_prompts

log = logging.getLogger(__name__)

DEBS = ("asterisk", "asterisk-modules", "asterisk-core-sounds-en", "asterisk-moh-opsound-gsm")
ASTERISK_USER = "asterisk"  # the host's system user and group Asterisk runs as (the same ids inside the root)
ASTERISK_UMASK = 0o027  # what Asterisk creates: files 0640, folders 0750
CONFIG_FILE_MODE = 0o640  # every file in Asterisk's configuration folder: root:asterisk
CONFIG_DIR_MODE = 0o750
RECORDINGS_DIR_MODE = 0o2750  # asterisk:<the CTI server's group>; setgid, so each file gets that group
# Folders Asterisk writes to, as Asterisk sees them in the root (the system Asterisk's are in state_dir).
ROOT_WRITABLE = ("/var/log/asterisk", "/var/lib/asterisk", "/var/spool/asterisk", "/run/asterisk")
DEV_NODES = {"null": (1, 3), "zero": (1, 5), "full": (1, 7), "random": (1, 8), "urandom": (1, 9)}
PROC_OPTIONS = "nosuid,nodev,noexec,hidepid=invisible,subset=pid"


class AsteriskError(Exception):
    """Asterisk could not be built, started, stopped or reached; the message says what to do."""


def asterisk_ids(create: bool = True) -> tuple[int, int]:
    """(uid, gid) of the host's `asterisk` system user and group. Created (`useradd --system`, no home,
    no shell) when missing and `create` is true and this process is root: Asterisk must run as a user of
    its own, never as root nor under a uid that is another service's on the host. Raises AsteriskError
    when the user is missing and cannot be created."""
    try:
        entry = pwd.getpwnam(ASTERISK_USER)
        return entry.pw_uid, entry.pw_gid
    except KeyError:
        pass
    if not create or os.geteuid() != 0:
        raise AsteriskError(
            f"there is no `{ASTERISK_USER}` user on this system: create it "
            f"(`useradd --system --user-group --no-create-home --shell /usr/sbin/nologin {ASTERISK_USER}`) "
            "or run `sudo hotline asterisk up`"
        )
    try:
        grp.getgrnam(ASTERISK_USER)
        group_opt = ["--gid", ASTERISK_USER]
    except KeyError:
        group_opt = ["--user-group"]
    _run(
        [
            "useradd",
            "--system",
            *group_opt,
            "--no-create-home",
            "--home-dir",
            "/var/lib/asterisk",
            "--shell",
            "/usr/sbin/nologin",
            "--comment",
            "Asterisk PBX (hotline)",
            ASTERISK_USER,
        ],
        f"useradd {ASTERISK_USER}",
    )
    entry = pwd.getpwnam(ASTERISK_USER)
    return entry.pw_uid, entry.pw_gid


@dataclass(frozen=True)
class AsteriskHost:
    """Where Asterisk lives: in a built root (`root` set) or installed on the system."""

    cfg: Config
    root: Path | None
    state_dir: Path

    @classmethod
    def for_config(cls, cfg: Config) -> AsteriskHost:
        state = cfg.asterisk.root.parent
        system = shutil.which("asterisk") or (
            Path("/usr/sbin/asterisk") if Path("/usr/sbin/asterisk").exists() else None
        )
        if system and os.environ.get("HOTLINE_ASTERISK") != "root":
            return cls(cfg=cfg, root=None, state_dir=state / "asterisk-system")
        return cls(cfg=cfg, root=cfg.asterisk.root, state_dir=state)

    # --- paths -----------------------------------------------------------------------------------------
    def inside(self, path: str) -> Path:
        """A path as seen from the host for a path as Asterisk sees it."""
        if self.root is None:
            return Path(path)
        return self.root / path.lstrip("/")

    @property
    def etc_dir(self) -> Path:
        return self.inside("/etc/asterisk") if self.root else self.state_dir / "etc"

    @property
    def log_dir(self) -> Path:
        return self.inside("/var/log/asterisk") if self.root else self.state_dir / "log"

    @property
    def pid_file(self) -> Path:
        return self.inside("/run/asterisk/asterisk.pid") if self.root else self.state_dir / "run" / "asterisk.pid"

    @property
    def writable_dirs(self) -> list[Path]:
        """The folders Asterisk writes to (logs and CDRs, astdb, spool, pid file and control socket), as
        seen from the host; each is asterisk:asterisk 0750."""
        if self.root is not None:
            return [self.inside(d) for d in ROOT_WRITABLE]
        return [self.state_dir / sub for sub in ("log", "db", "spool", "run")]

    def command(self, *args: str) -> list[str]:
        """Asterisk's command line as root runs it (a remote console `-rx ...`: it connects to the control
        socket; the server itself is started with `start_command`)."""
        if self.root is not None:
            return ["chroot", str(self.root), "/usr/sbin/asterisk", *args]
        exe = shutil.which("asterisk") or "/usr/sbin/asterisk"
        return [exe, "-C", str(self.state_dir / "etc" / "asterisk.conf"), *args]

    def start_command(self, uid: int, gid: int) -> list[str]:
        """The command that starts the Asterisk server as `uid`:`gid` (the asterisk user): setpriv switches
        to it before Asterisk runs, with no supplementary groups, no capabilities (empty bounding and
        inheritable sets) and no_new_privs, so nothing Asterisk starts (AGI, a MixMonitor command) can
        regain root through a setuid program of the root. Without root (a system Asterisk started by its
        own user) Asterisk is started as it is. As root, it is started with the niceness `asterisk.nice`."""
        drop = [
            f"--reuid={uid}",
            f"--regid={gid}",
            "--clear-groups",
            "--no-new-privs",
            "--bounding-set=-all",
            "--inh-caps=-all",
        ]
        # root lowers the niceness (asterisk.nice) before giving up its rights; Asterisk's threads inherit it
        nice = ["nice", "-n", str(self.cfg.asterisk.nice)] if self.cfg.asterisk.nice else []
        if self.root is not None:
            return [*nice, "chroot", str(self.root), "/usr/bin/setpriv", *drop, "/usr/sbin/asterisk", "-n"]
        exe = shutil.which("asterisk") or "/usr/sbin/asterisk"
        conf = ["-C", str(self.state_dir / "etc" / "asterisk.conf"), "-n"]
        if os.geteuid() != 0:
            return [exe, *conf]
        return [*nice, shutil.which("setpriv") or "/usr/bin/setpriv", *drop, exe, *conf]

    # --- build -----------------------------------------------------------------------------------------
    def ensure_installed(self) -> None:
        if self.root is None:
            self._write_system_asterisk_conf()
            return
        if (self.root / "usr/sbin/asterisk").exists() and (self.root / ".hotline-root-complete").exists():
            return
        if os.geteuid() != 0:
            raise AsteriskError(
                f"building the Asterisk root in {self.root} needs root (debootstrap and chroot); "
                "run `sudo hotline asterisk up`, or install Asterisk on the system"
            )
        if shutil.which("debootstrap") is None:
            raise AsteriskError(
                "debootstrap is missing: install it with `apt-get install debootstrap` (scripts/setup.sh)"
            )
        tmp = self.root.with_name(self.root.name + ".building")
        if tmp.exists():
            _unmount_under(tmp)
            shutil.rmtree(tmp)
        tmp.parent.mkdir(parents=True, exist_ok=True)
        log.info("building a Debian sid root with Asterisk in %s (once; about a minute)", self.root)
        _run(["debootstrap", "--variant=minbase", "sid", str(tmp), self.cfg.asterisk.mirror], "debootstrap")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        _run(["chroot", str(tmp), "apt-get", "install", "-y", "-q", "--no-install-recommends", *DEBS], "apt-get", env)
        _run(["chroot", str(tmp), "apt-get", "clean"], "apt-get clean", env)
        (tmp / ".hotline-root-complete").write_text("ok\n")
        if self.root.exists():
            _unmount_under(self.root)
            shutil.rmtree(self.root)
        tmp.rename(self.root)

    def _write_system_asterisk_conf(self) -> None:
        d = self.state_dir
        for sub in ("etc", "log", "run", "spool", "db"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        write_config_file(
            d / "etc" / "asterisk.conf",
            "; Generated by `hotline asterisk up`: the system Asterisk, with project-local folders.\n"
            "[directories]\n"
            f"astetcdir => {d / 'etc'}\n"
            "astmoddir => /usr/lib/asterisk/modules\n"
            "astvarlibdir => /var/lib/asterisk\n"
            f"astdbdir => {d / 'db'}\n"
            "astkeydir => /var/lib/asterisk\n"
            "astdatadir => /usr/share/asterisk\n"
            "astagidir => /usr/share/asterisk/agi-bin\n"
            f"astspooldir => {d / 'spool'}\n"
            f"astrundir => {d / 'run'}\n"
            f"astlogdir => {d / 'log'}\n"
            "[options]\n"
            "documentation_language = en_US\n",
            _config_gid(),
        )

    # --- mounts (root only) ----------------------------------------------------------------------------
    def mount(self) -> None:
        """Mount what Asterisk needs in the root: a /proc showing it only its own processes (no host
        process, no /proc/1/root way out of the root, no /proc/sys), a /dev of its own with the five
        character devices it uses, and the recordings folder (nosuid, nodev, noexec). Mounts already
        there are left as they are (`start` unmounts everything first)."""
        if self.root is None:
            return
        self.cfg.recordings_path.mkdir(parents=True, exist_ok=True)
        mounted = _mounted_paths()
        proc, dev = self.root / "proc", self.root / "dev"
        if str(proc) not in mounted:
            proc.mkdir(parents=True, exist_ok=True)
            _run(["mount", "-t", "proc", "-o", PROC_OPTIONS, "proc", str(proc)], f"mount {proc}")
        if str(dev) not in mounted:
            dev.mkdir(parents=True, exist_ok=True)
            options = "mode=0755,nosuid,noexec,size=64k"
            _run(["mount", "-t", "tmpfs", "-o", options, "hotline-dev", str(dev)], "mount /dev")
            for name, (major, minor) in DEV_NODES.items():
                node = dev / name
                try:
                    os.mknod(node, 0o666 | stat.S_IFCHR, os.makedev(major, minor))
                    node.chmod(0o666)
                except PermissionError:  # no CAP_MKNOD (a container): bind the host's node instead
                    node.touch(mode=0o666)
                    _run(["mount", "--bind", f"/dev/{name}", str(node)], f"mount {node}")
            for name, target in (("fd", "/proc/self/fd"), ("stdin", "fd/0"), ("stdout", "fd/1"), ("stderr", "fd/2")):
                (dev / name).symlink_to(target)
        rec = self.inside(str(self.cfg.recordings_path))
        if str(rec) not in mounted:
            rec.mkdir(parents=True, exist_ok=True)
            _run(["mount", "--bind", str(self.cfg.recordings_path), str(rec)], f"mount {rec}")
            _run(["mount", "-o", "remount,bind,nosuid,nodev,noexec", str(rec)], f"remount {rec}")

    def unmount(self) -> None:
        if self.root is not None:
            _unmount_under(self.root)

    # --- ownership and modes ---------------------------------------------------------------------------
    def secure(self, uid: int, gid: int) -> None:
        """Give Asterisk's files their owners and modes (idempotent, and the upgrade of a root built before
        Asterisk had a user of its own): inside the root the `asterisk` user and group take the host's
        ids, and whatever carried the root's old ids is chowned to them; the configuration folder is
        root:asterisk 0750 with every file 0640; each folder Asterisk writes to is asterisk:asterisk 0750
        and what Asterisk wrote there (logs, CDRs, queue_log, astdb) asterisk:asterisk without group write
        or any access for others; the recordings folder is asterisk-owned, setgid, 2750 (its group is the
        CTI server's: it reads the files, nobody else does). Call it while Asterisk is stopped or runs as
        `uid`."""
        if self.root is not None:
            self._adopt_ids(uid, gid)
        etc = self.etc_dir
        etc.mkdir(parents=True, exist_ok=True)
        _own_tree(etc, 0, gid, CONFIG_DIR_MODE, lambda mode: CONFIG_FILE_MODE)
        for folder in self.writable_dirs:
            folder.mkdir(parents=True, exist_ok=True)
            if folder.name == "asterisk" and folder.parent.name == "lib":
                # Debian's /var/lib/asterisk: the package's sounds (some root's, public) beside astdb
                _own(folder, uid, gid, 0o750)
                for db in folder.glob("astdb.sqlite3*"):
                    _own(db, uid, gid, stat.S_IMODE(db.lstat().st_mode) & 0o750)
                _narrow_tree(folder, uid)
                continue
            _own_tree(folder, uid, gid, 0o750, lambda mode: mode & 0o750)
        self._secure_recordings(uid)

    def _secure_recordings(self, uid: int) -> None:
        rec = self.cfg.recordings_path
        rec.mkdir(parents=True, exist_ok=True)
        st = rec.stat()
        if st.st_uid == uid and stat.S_IMODE(st.st_mode) == RECORDINGS_DIR_MODE:
            return
        log.info("recordings folder %s: Asterisk's (setgid, group %s), files 0640", rec, st.st_gid)
        _own_tree(rec, uid, st.st_gid, RECORDINGS_DIR_MODE, lambda mode: mode & 0o640)

    def _adopt_ids(self, uid: int, gid: int) -> None:
        """Give the root's `asterisk` user and group the host's ids, and chown what had the old ones."""
        assert self.root is not None
        passwd, group = self.root / "etc/passwd", self.root / "etc/group"
        users = [line.split(":") for line in passwd.read_text().splitlines() if line.count(":") == 6]
        groups = [line.split(":") for line in group.read_text().splitlines() if line.count(":") == 3]
        me = next((u for u in users if u[0] == ASTERISK_USER), None)
        my_group = next((g for g in groups if g[0] == ASTERISK_USER), None)
        if me is None or my_group is None:
            raise AsteriskError(f"the root {self.root} has no {ASTERISK_USER} user or group: rebuild it")
        old_uid, old_gid = int(me[2]), int(my_group[2])
        if (old_uid, old_gid, int(me[3])) == (uid, gid, gid):
            return
        for u in users:
            if u[0] != ASTERISK_USER and int(u[2]) == uid:
                raise AsteriskError(f"uid {uid} (the host's {ASTERISK_USER}) is {u[0]} in {self.root}")
        for g in groups:
            if g[0] != ASTERISK_USER and int(g[2]) == gid:
                raise AsteriskError(f"gid {gid} (the host's {ASTERISK_USER}) is {g[0]} in {self.root}")
        log.info("root %s: %s %s:%s becomes %s:%s (the host's)", self.root, ASTERISK_USER, old_uid, old_gid, uid, gid)
        me[2], me[3], my_group[2] = str(uid), str(gid), str(gid)
        passwd.write_text("".join(":".join(u) + "\n" for u in users))
        group.write_text("".join(":".join(g) + "\n" for g in groups))
        skip = {Path(p) for p in _mounted_paths() if p.startswith(str(self.root) + "/")}
        for dirpath, dirnames, filenames in os.walk(self.root):
            here = Path(dirpath)
            dirnames[:] = [d for d in dirnames if here / d not in skip]
            for name in (*dirnames, *filenames):
                path = here / name
                st = path.lstat()
                if st.st_uid == old_uid or st.st_gid == old_gid:
                    os.lchown(
                        path,
                        uid if st.st_uid == old_uid else -1,
                        gid if st.st_gid == old_gid else -1,
                    )
                    if stat.S_ISDIR(st.st_mode):
                        os.chmod(path, stat.S_IMODE(st.st_mode))  # chown cleared a folder's setgid bit

    # --- lifecycle -------------------------------------------------------------------------------------
    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            return pid
        comm = Path(f"/proc/{pid}/comm")
        if comm.exists() and "asterisk" not in comm.read_text():
            return None
        return pid

    def install_config(self) -> None:
        for endpoint in (self.cfg.asterisk.ami, self.cfg.asterisk.ari):
            if endpoint.secret is not None:
                endpoint.secret.ensure_file()
        sounds = DEFAULT_SOUNDS if self.root is not None else str(self.state_dir / "sounds")
        try:
            install_prompts(self.inside(sounds) if self.root is not None else Path(sounds))
        except PromptError as exc:
            raise AsteriskError(str(exc)) from exc
        install(self.cfg, self.etc_dir, sounds, group=_config_gid())
        if self.root is None:
            self._write_system_asterisk_conf()

    def start(self, timeout: float = 90.0) -> None:
        """Install the configuration and start Asterisk as the asterisk user (or reload it if it runs so),
        then wait until AMI reports FullyBooted. An Asterisk found running as another user (started by
        an earlier version, as root) is stopped and started again."""
        self.ensure_installed()
        uid, gid = asterisk_ids(create=os.geteuid() == 0)
        pid = self.pid()
        running_as = _process_uid(pid) if pid is not None else None
        if pid is not None and running_as not in (uid, None):
            log.warning("Asterisk (pid %s) runs as uid %s, not %s: restarting it", pid, running_as, ASTERISK_USER)
            self.stop()
            pid = None
        self.install_config()
        if os.geteuid() == 0:
            self.secure(uid, gid)
        if pid is not None:
            log.info("Asterisk is running (pid %s): reloading its configuration", pid)
            subprocess.run(self.command("-rx", "core reload"), capture_output=True, timeout=30, check=False)
        else:
            self.unmount()  # mounts left by an earlier run (or version) are made again as they must be
            self.mount()
            _wait_port_free(self.cfg.asterisk.ami.host, self.cfg.asterisk.ami.port, 20)
            proc = subprocess.run(
                self.start_command(uid, gid),
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
                umask=ASTERISK_UMASK,
            )
            if proc.returncode != 0:
                raise AsteriskError(f"Asterisk did not start ({proc.returncode}): {proc.stderr.strip()[-500:]}")
        wait_fully_booted(self.cfg, timeout=timeout, log_file=self.log_dir / "messages.log")

    def stop(self, timeout: float = 30.0) -> None:
        pid = self.pid()
        if pid is not None:
            subprocess.run(self.command("-rx", "core stop now"), capture_output=True, timeout=30, check=False)
            deadline = time.monotonic() + timeout
            while self.pid() is not None and time.monotonic() < deadline:
                time.sleep(0.1)
            if self.pid() is not None:
                log.warning("Asterisk (pid %s) did not stop; killing it", pid)
                os.kill(pid, 9)
                while self.pid() is not None and time.monotonic() < deadline + 10:
                    time.sleep(0.1)
        self.unmount()

    def kill(self) -> None:
        """Kill Asterisk without a clean shutdown (a crash, for failure tests)."""
        pid = self.pid()
        if pid is not None:
            os.kill(pid, 9)
            deadline = time.monotonic() + 15
            while self.pid() is not None and time.monotonic() < deadline:
                time.sleep(0.05)

    def cli(self, command: str) -> str:
        proc = subprocess.run(self.command("-rx", command), capture_output=True, text=True, timeout=30, check=False)
        return proc.stdout


def wait_fully_booted(cfg: Config, timeout: float, log_file: Path | None = None) -> None:
    """Log in to AMI and wait for `FullyBooted`; raise with the end of Asterisk's log if it never comes."""
    ami = cfg.asterisk.ami
    secret = ami.secret.value() if ami.secret else ""
    deadline = time.monotonic() + timeout
    last_error = "no answer"
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((ami.host, ami.port), timeout=5) as sock:
                sock.settimeout(max(0.5, deadline - time.monotonic()))
                f = sock.makefile("rwb")
                f.readline()  # banner
                f.write(
                    f"Action: Login\r\nUsername: {ami.username}\r\nSecret: {secret}\r\nEvents: system\r\n\r\n".encode()
                )
                f.flush()
                buf = b""
                while time.monotonic() < deadline:
                    line = f.readline()
                    if not line:
                        break
                    buf += line
                    if b"Authentication failed" in buf:
                        raise AsteriskError("AMI refused the login: the secret in Asterisk differs from config's")
                    if b"Event: FullyBooted" in buf:
                        f.write(b"Action: Logoff\r\n\r\n")
                        f.flush()
                        return
        except OSError as exc:
            last_error = str(exc)
        time.sleep(0.2)
    tail = ""
    if log_file is not None and log_file.exists():
        tail = "\n".join(log_file.read_text(errors="replace").splitlines()[-15:])
    raise AsteriskError(f"Asterisk did not report FullyBooted on AMI {ami.host}:{ami.port} ({last_error})\n{tail}")


def _config_gid() -> int | None:
    """The group Asterisk's configuration files are given (asterisk's, so that Asterisk reads them and
    nobody else does), or None when this process cannot chown (not root): they are then 0600, its own."""
    if os.geteuid() != 0:
        return None
    return asterisk_ids()[1]


def _process_uid(pid: int) -> int | None:
    """The real uid of process `pid`, from /proc; None if it cannot be read."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("Uid:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def _own(path: Path, uid: int, gid: int, mode: int) -> None:
    st = path.lstat()
    if stat.S_ISLNK(st.st_mode):
        return
    if (st.st_uid, st.st_gid) != (uid, gid):
        os.chown(path, uid, gid)
    if stat.S_IMODE(path.lstat().st_mode) != mode:
        path.chmod(mode)


def _own_tree(top: Path, uid: int, gid: int, dir_mode: int, file_mode: Callable[[int], int]) -> None:
    """chown -R `top` to uid:gid (symbolic links are left alone); folders get `dir_mode`, files
    `file_mode(their mode)`."""
    _own(top, uid, gid, dir_mode)
    for dirpath, dirnames, filenames in os.walk(top):
        here = Path(dirpath)
        for name in dirnames:
            _own(here / name, uid, gid, dir_mode)
        for name in filenames:
            path = here / name
            _own(path, uid, gid, file_mode(stat.S_IMODE(path.lstat().st_mode)))


def _narrow_tree(top: Path, uid: int) -> None:
    """Take group write and every access of others from what `uid` owns under `top`."""
    for dirpath, dirnames, filenames in os.walk(top):
        for name in (*dirnames, *filenames):
            path = Path(dirpath) / name
            st = path.lstat()
            if st.st_uid == uid and not stat.S_ISLNK(st.st_mode) and stat.S_IMODE(st.st_mode) & 0o027:
                path.chmod(stat.S_IMODE(st.st_mode) & 0o750)


def _run(cmd: list[str], what: str, env: dict[str, str] | None = None) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        raise AsteriskError(f"{what} failed ({proc.returncode}): {(proc.stderr or proc.stdout).strip()[-800:]}")


def _mounted_paths() -> list[str]:
    try:
        lines = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return []
    return [line.split()[1].replace("\\040", " ") for line in lines if len(line.split()) > 1]


def _unmount_under(root: Path) -> None:
    prefix = str(root.resolve())
    for path in sorted((p for p in _mounted_paths() if p == prefix or p.startswith(prefix + "/")), reverse=True):
        subprocess.run(["umount", "-l", path], capture_output=True, check=False)


def _wait_port_free(host: str, port: int, timeout: float) -> None:
    """A previous Asterisk may still hold the AMI port for a moment after it exited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((host, port))
                return
            except OSError:
                time.sleep(0.2)
    raise AsteriskError(f"port {host}:{port} is taken by another program; stop it or change asterisk.ami.port")
