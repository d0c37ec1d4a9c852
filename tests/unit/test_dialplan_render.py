"""Rendering the Asterisk files from config.yaml, and the Asterisk lifecycle's refusals."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ari_app import asterisk_ctl
from ari_app.asterisk_ctl import AsteriskError, AsteriskHost
from ari_app.config import load_config
from ari_app.dialplan_render import DIALPLAN_DIR, STATIC_FILES, install, render_all

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
    assert "maxlen=60" in queues and "announce-frequency=30" in queues
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
    assert (etc / "manager.conf").stat().st_mode & 0o077 == 0
    for name in STATIC_FILES:
        assert (etc / name).read_text() == (DIALPLAN_DIR / name).read_text()


def test_static_dialplan_includes_every_generated_file() -> None:
    includes = set()
    for name in STATIC_FILES:
        includes |= set(re.findall(r"^#include (\S+)", (DIALPLAN_DIR / name).read_text(), re.M))
    assert includes == {"hotline_globals.conf", "hotline_extensions.conf", "hotline_pjsip.conf", "hotline_queues.conf"}


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
