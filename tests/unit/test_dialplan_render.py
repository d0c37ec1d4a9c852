"""Rendering the Asterisk files from config.yaml, and the Asterisk lifecycle's refusals."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import pytest

from ari_app import asterisk_ctl
from ari_app.asterisk_ctl import AsteriskError, AsteriskHost
from ari_app.config import ConfigError, load_config
from ari_app.dialplan_render import DIALPLAN_DIR, STATIC_FILES, install, render_all, write_config_file

ROOT = Path(__file__).resolve().parents[2]


def _config(tmp_path: Path, extra_hotline: bool = False) -> Path:
    text = (ROOT / "config.yaml").read_text(encoding="utf-8")
    text = text.replace("secret_file: var/secrets/ami_secret", f"secret_file: {tmp_path}/ami_secret")
    text = text.replace("secret_file: var/secrets/ari_secret", f"secret_file: {tmp_path}/ari_secret")
    if extra_hotline:
        text = text.replace(
            "# Carrier trunks",
            '  - number: "12369"\n    name_zh: 环保举报热线\n    name_en: Environmental Hotline\n'
            "    unit: 市生态环境局\n    mode: collaborative\n\n# Carrier trunks",
        )
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_hotline_table_has_every_configured_number(tmp_path: Path) -> None:
    files = render_all(load_config(_config(tmp_path)), include_secrets=False)
    table = files["hotline_extensions.conf"]
    numbers = re.findall(
        r"^exten => (\d+),1,Set\(__HOTLINE_MAX_CALLS=120\)\n same => n,Goto\(hotline-inbound,", table, re.M
    )
    assert numbers == ["12345", "12319", "12358", "12350"]
    files5 = render_all(load_config(_config(tmp_path, extra_hotline=True)), include_secrets=False)
    assert "exten => 12369,1,Set(__HOTLINE_MAX_CALLS=120)" in files5["hotline_extensions.conf"]
    # only the generated hotline table changes when a hotline is added
    changed = {name for name in files if files[name] != files5[name]}
    assert changed == {"hotline_extensions.conf"}


def test_trunks_agents_queue_and_globals(tmp_path: Path) -> None:
    cfg = load_config(_config(tmp_path))
    files = render_all(cfg, include_secrets=False)
    pjsip = files["hotline_pjsip.conf"]
    assert "bind=127.0.0.1:5060" in pjsip
    assert "[carrier-telecom]\ntype=identify\nendpoint=carrier-telecom\nmatch=127.0.0.2\n" in pjsip
    assert "[1001](agent-endpoint)" in pjsip and "contact=sip:1001@127.0.0.1:5080" in pjsip
    queues = files["hotline_queues.conf"]
    assert "[hotline](hotline-queue-defaults)" in queues and "strategy=rrmemory" in queues
    assert "timeout=15" in queues and "wrapuptime=10" in queues
    assert "maxlen=60" in queues
    # app_queue announces nothing (a key pressed during its position announcement is lost): the dialplan's
    # [hotline-queue-announce] does, every admission.announce_frequency seconds
    assert "announce" not in queues
    assert "QUEUE_ANNOUNCE_FREQUENCY=30" in files["hotline_globals.conf"]
    assert "CALLBACK_ENABLED=1" in files["hotline_globals.conf"]
    assert "MAX_CALLS=120" in files["hotline_globals.conf"]
    assert f"RECORDINGS_DIR={cfg.recordings_path}" in files["hotline_globals.conf"]


def test_secrets_only_when_installing(tmp_path: Path) -> None:
    cfg = load_config(_config(tmp_path))
    (tmp_path / "ami_secret").write_text("s3cret-ami\n")
    (tmp_path / "ari_secret").write_text("s3cret-ari\n")
    printed = render_all(cfg, include_secrets=False)
    assert "s3cret" not in "".join(printed.values())
    assert "secret=@SECRET@" in printed["manager.conf"]
    etc = tmp_path / "etc"
    install(cfg, etc)
    manager = (etc / "manager.conf").read_text()
    assert "[hotline]\nsecret=s3cret-ami\n" in manager and "bindaddr=127.0.0.1" in manager
    assert "password=s3cret-ari" in (etc / "ari.conf").read_text()
    for name in STATIC_FILES:
        assert (etc / name).read_text() == (DIALPLAN_DIR / name).read_text()


def test_static_dialplan_includes_every_generated_file() -> None:
    includes = set()
    for name in STATIC_FILES:
        includes |= set(re.findall(r"^#include (\S+)", (DIALPLAN_DIR / name).read_text(), re.M))
    assert includes == {
        "hotline_globals.conf",
        "hotline_agi.conf",
        "hotline_extensions.conf",
        "hotline_pjsip.conf",
        "hotline_queues.conf",
    }


def test_fastagi_secret_is_created_private_and_only_installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The FastAGI secret: its file (config default var/secrets/agi_secret beside the config) is created 0600
    when missing, rendered only into Asterisk's folder (hotline_agi.conf, 0600), and every FastAGI URL of the
    dialplan carries it."""
    cfg = load_config(_config(tmp_path))
    (tmp_path / "ami_secret").write_text("s3cret-ami\n")
    (tmp_path / "ari_secret").write_text("s3cret-ari\n")
    assert cfg.asterisk.agi.file == tmp_path / "var" / "secrets" / "agi_secret"
    printed = render_all(cfg, include_secrets=False)
    assert printed["hotline_agi.conf"].endswith("FASTAGI_SECRET=@SECRET@\n")
    assert not cfg.asterisk.agi.file.exists()  # printing for review creates nothing
    etc = tmp_path / "etc"
    install(cfg, etc)
    secret = cfg.asterisk.agi.file.read_text().strip()
    assert len(secret) >= 16 and cfg.asterisk.agi.file.stat().st_mode & 0o777 == 0o600
    assert f"FASTAGI_SECRET={secret}\n" in (etc / "hotline_agi.conf").read_text()
    assert (etc / "hotline_agi.conf").stat().st_mode & 0o077 == 0
    install(cfg, etc)  # installing again keeps the secret
    assert cfg.asterisk.agi.file.read_text().strip() == secret
    urls = re.findall(r"AGI\((agi://[^)]*)\)", (DIALPLAN_DIR / "extensions.conf").read_text())
    assert urls and all(u.endswith("?secret=${FASTAGI_SECRET}") for u in urls)
    monkeypatch.setenv("HOTLINE_AGI_SECRET", "short;evil")
    path = tmp_path / "config.yaml"
    path.write_text(path.read_text().replace("secret_file: var/secrets/agi_secret", "secret_env: HOTLINE_AGI_SECRET"))
    with pytest.raises(ConfigError, match="FastAGI secret must be"):
        render_all(load_config(path), include_secrets=True)


def test_building_the_root_needs_root_and_debootstrap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = load_config(_config(tmp_path))
    host = AsteriskHost(cfg=cfg, root=tmp_path / "no-root-yet", state_dir=tmp_path)
    monkeypatch.setattr(asterisk_ctl.os, "geteuid", lambda: 1000)
    with pytest.raises(AsteriskError, match="needs root"):
        host.ensure_installed()
    monkeypatch.setattr(asterisk_ctl.os, "geteuid", lambda: 0)
    real_which = asterisk_ctl.shutil.which
    monkeypatch.setattr(asterisk_ctl.shutil, "which", lambda name: None if name == "debootstrap" else real_which(name))
    with pytest.raises(AsteriskError, match="debootstrap is missing"):
        host.ensure_installed()


def test_per_hotline_call_limit(tmp_path: Path) -> None:
    path = _config(tmp_path)
    path.write_text(
        path.read_text(encoding="utf-8").replace(
            "    mode: sub-platform\n", "    mode: sub-platform\n    max_calls: 5\n"
        )
    )
    table = render_all(load_config(path), include_secrets=False)["hotline_extensions.conf"]
    assert "exten => 12350,1,Set(__HOTLINE_MAX_CALLS=5)" in table
    assert "exten => 12345,1,Set(__HOTLINE_MAX_CALLS=120)" in table


def _classes(manager: str, key: str) -> set[str]:
    (line,) = [line for line in manager.splitlines() if line.startswith(f"{key}=")]
    return set(line.split("=", 1)[1].split(","))


def test_ami_user_has_only_the_classes_the_server_uses(tmp_path: Path) -> None:
    """read: the events the CTI server acts on; write: the actions it sends (docs/security.md). Never
    `system` (Originate of System/Exec, shutdown), `command` (any CLI command), `config` or `dialplan`."""
    manager = render_all(load_config(_config(tmp_path)), include_secrets=False)["manager.conf"]
    assert _classes(manager, "read") == {"system", "call", "agent", "user"}
    assert _classes(manager, "write") == {"call", "agent", "originate", "reporting"}
    assert "deny=0.0.0.0/0.0.0.0\npermit=127.0.0.0/255.0.0.0" in manager


def test_programs_are_not_loaded_and_not_called() -> None:
    modules = (DIALPLAN_DIR / "modules.conf").read_text()
    for module in ("app_system.so", "func_shell.so", "app_externalivr.so"):
        assert f"noload => {module}" in modules
    for name in STATIC_FILES:
        text = (DIALPLAN_DIR / name).read_text()
        code = "\n".join(line.split(";", 1)[0] for line in text.splitlines())
        assert not re.search(r"\b(System|TrySystem|SHELL|EVAL|Exec|TryExec|ExecIf|ExternalIVR)\(", code), name


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_installed_files_are_never_readable_by_others(tmp_path: Path) -> None:
    cfg = load_config(_config(tmp_path))
    (tmp_path / "ami_secret").write_text("s3cret-ami\n")
    (tmp_path / "ari_secret").write_text("s3cret-ari\n")
    own = tmp_path / "own"
    written = install(cfg, own)
    assert {p.name for p in written} == {p.name for p in own.iterdir()}  # no temporary file left behind
    for path in written:
        assert _mode(path) == 0o600 and path.stat().st_uid == os.geteuid(), path
    if os.geteuid() != 0:
        pytest.skip("giving the files to root:asterisk needs root")
    shared = tmp_path / "shared"
    for path in install(cfg, shared, group=65534):
        st = path.stat()
        assert (st.st_uid, st.st_gid, _mode(path)) == (0, 65534, 0o640), path
    assert _mode(shared) == 0o750
    # a file that was wide open (an older install) is replaced by a narrow one, not chmodded after writing
    target = shared / "manager.conf"
    target.chmod(0o644)
    write_config_file(target, "x\n", 65534)
    assert _mode(target) == 0o640 and target.read_text() == "x\n"


def test_asterisk_starts_without_privileges(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = load_config(_config(tmp_path))
    host = AsteriskHost(cfg=cfg, root=tmp_path / "root", state_dir=tmp_path)
    cmd = host.start_command(999, 995)
    # niceness asterisk.nice (default -10) set by root before the drop, inherited by Asterisk's threads
    assert cmd[:6] == ["nice", "-n", "-10", "chroot", str(tmp_path / "root"), "/usr/bin/setpriv"]
    for flag in ("--reuid=999", "--regid=995", "--clear-groups", "--no-new-privs", "--bounding-set=-all"):
        assert flag in cmd
    assert cmd[-2:] == ["/usr/sbin/asterisk", "-n"]
    # the system Asterisk (production): the same drop, with the project-local asterisk.conf
    system = AsteriskHost(cfg=cfg, root=None, state_dir=tmp_path / "asterisk-system")
    monkeypatch.setattr(asterisk_ctl.os, "geteuid", lambda: 0)
    cmd = system.start_command(999, 995)
    assert cmd[:3] == ["nice", "-n", "-10"] and cmd[3].endswith("setpriv")
    assert "--no-new-privs" in cmd and "--reuid=999" in cmd
    assert cmd[-3:] == ["-C", str(tmp_path / "asterisk-system" / "etc" / "asterisk.conf"), "-n"]
    monkeypatch.setattr(asterisk_ctl.os, "geteuid", lambda: 999)  # started by the asterisk user itself
    assert "setpriv" not in " ".join(system.start_command(999, 995))


def test_root_built_before_is_upgraded_in_place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A root whose `asterisk` is 101:101 (someone else on the host) gets the host's ids, and every file
    with the old ones is chowned; a second run changes nothing."""
    if os.geteuid() != 0:
        pytest.skip("chown needs root")
    root = tmp_path / "root"
    (root / "etc/asterisk").mkdir(parents=True)
    (root / "var/lib/asterisk").mkdir(parents=True)
    (root / "etc/passwd").write_text(
        "root:x:0:0:root:/root:/bin/bash\nasterisk:x:101:101:Asterisk PBX daemon:/var/lib/asterisk:/usr/sbin/nologin\n"
    )
    (root / "etc/group").write_text("root:x:0:\naudio:x:29:asterisk\nasterisk:x:101:\n")
    old = [root / "etc/asterisk", root / "etc/asterisk/sip.conf", root / "var/lib/asterisk"]
    (root / "etc/asterisk/sip.conf").write_text("; sample\n")
    for path in old:
        os.chown(path, 101, 101)
    (root / "var/lib/asterisk").chmod(0o2755)
    cfg = load_config(_config(tmp_path))
    host = AsteriskHost(cfg=cfg, root=root, state_dir=tmp_path)
    monkeypatch.setattr(asterisk_ctl, "_mounted_paths", lambda: [])
    host._adopt_ids(60001, 60002)
    assert "asterisk:x:60001:60002:Asterisk PBX daemon:" in (root / "etc/passwd").read_text()
    assert "asterisk:x:60002:\n" in (root / "etc/group").read_text()
    assert "audio:x:29:asterisk\n" in (root / "etc/group").read_text()
    for path in old:
        assert (path.stat().st_uid, path.stat().st_gid) == (60001, 60002), path
    assert _mode(root / "var/lib/asterisk") == 0o2755  # the setgid bit chown took is given back
    before = (root / "etc/passwd").stat().st_mtime_ns
    host._adopt_ids(60001, 60002)
    assert (root / "etc/passwd").stat().st_mtime_ns == before
    (root / "etc/passwd").write_text((root / "etc/passwd").read_text() + "other:x:60003:60003::/:/bin/false\n")
    with pytest.raises(AsteriskError, match="uid 60003"):
        host._adopt_ids(60003, 60002)
