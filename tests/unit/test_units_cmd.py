"""`hotline units` and the unit checks of `hotline users` run as an admin runs them, in their own process on
this checkout's code, on a database of their own: units added (the new id printed), listed in columns by
display width and as JSON, edited, disabled with the units below, exported and imported back unchanged, a
bad file refused with its line and column and nothing written, every change and refusal audited as
`cli:<login>`; a department user only for an enabled unit (by id or name); `users passwd` and `users add`
refusing an unknown or taken login before asking for a password, and an input that ends, or an empty
`--password-stdin` line, refused without a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from ari_app.commands.common import display_width
from schema.cases import AuditEntry
from schema.db import make_engine, make_sessionmaker
from schema.users import User
from tests.support.commands import ROOT, checkout_cli, config_on, run_in_checkout

PASSWORD = "correct horse battery"


def _units(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return checkout_cli("-c", str(config), "units", *args)


def _users(config: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """`hotline users *args` without a terminal (a session of its own, as from cron or a script), `stdin`
    its standard input (None: /dev/null)."""
    return subprocess.run(
        [sys.executable, "-m", "ari_app.cli", "-c", str(config), "users", *args],
        cwd=ROOT,
        env=_env(),
        input=stdin if stdin is not None else None,
        stdin=subprocess.DEVNULL if stdin is None else None,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        start_new_session=True,
    )


def _env() -> dict[str, str]:
    """This environment with the checkout first on the path (as `checkout_cli` runs it)."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}


def _audit(db: Path) -> list[tuple[str, str, str | None]]:
    engine = make_engine(f"sqlite:///{db}")
    with make_sessionmaker(engine)() as s:
        rows = s.execute(select(AuditEntry.action, AuditEntry.login, AuditEntry.detail).order_by(AuditEntry.id)).all()
    engine.dispose()
    return [(a, login, d) for a, login, d in rows]


def test_units_add_list_edit_disable_and_csv(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    config = config_on(tmp_path, db)
    water = _units(config, "add", "市水务局", "--contact-phone", "0991-1234567", "--contact-person", "王工")
    assert (water.returncode, water.stdout) == (0, "1\n"), water.stderr
    assert _units(config, "add", "供水所", "--parent", "市水务局").stdout == "2\n"
    assert _units(config, "add", "Fire brigade", "--hotline", "12319").stdout == "3\n"

    refused = _units(config, "add", "价格监督所", "--hotline", "99999")
    assert refused.returncode == 1
    assert "hotline units add: 99999 is not a configured hotline" in refused.stderr
    deep = _units(config, "add", "小组", "--parent", "2")
    assert deep.returncode == 1 and "供水所 is a level-3 unit: no units go under it" in deep.stderr

    listing = _units(config, "list")
    assert listing.returncode == 0, listing.stderr
    lines = listing.stdout.splitlines()
    assert lines[0].split() == ["id", "name", "parent", "level", "hotline", "contact", "state"]
    assert lines[1].split() == ["1", "市水务局", "2", "王工", "0991-1234567", "active"]
    assert lines[2].split() == ["2", "供水所", "市水务局", "3", "active"]
    # the columns line up on screen: each starts at the same display column on every line
    starts = [
        display_width(line[: line.index(word)])
        for line, word in zip(lines[:3], ["parent", "2", "市水务局"], strict=True)
    ]
    assert starts[0] == starts[2]
    level_ends = [
        display_width(line[: line.index(w) + len(w)])
        for line, w in zip(lines[:3], ["level", " 2 ", " 3 "], strict=True)
    ]
    assert level_ends[0] == level_ends[1] - 1 == level_ends[2] - 1
    as_json = json.loads(_units(config, "list", "--json").stdout)
    assert as_json[2] == {
        "id": 3, "name": "Fire brigade", "parent_id": None, "parent": None, "level": 2, "hotline": "12319",
        "contact_phone": None, "contact_person": None, "active": True,
    }  # fmt: skip

    edited = _units(config, "edit", "1", "--name", "市水利局", "--contact-phone", "")
    assert (edited.returncode, edited.stdout) == (0, "unit 1 市水利局\n"), edited.stderr
    assert _units(config, "disable", "1").stdout.splitlines() == ["disabled 1 市水利局", "disabled 2 供水所"]
    again = _units(config, "enable", "2")
    assert again.returncode == 1 and "供水所's parent 市水利局 is disabled" in again.stderr
    assert _units(config, "enable", "1").stdout == "enabled 1 市水利局\n"

    out = tmp_path / "units.csv"
    assert _units(config, "export", str(out)).returncode == 0
    exported = out.read_text(encoding="utf-8")
    assert exported == (
        "id,name,parent,hotline,contact_phone,contact_person,status\n"
        "1,市水利局,,,,王工,active\n"
        "2,供水所,市水利局,,,,disabled\n"
        "3,Fire brigade,,12319,,,active\n"
    )
    same = _units(config, "import", str(out))
    assert (same.returncode, same.stdout) == (0, "0 unit change(s)\n"), same.stderr
    out.write_text(exported + ",排水所,供水所,,,,disabled\n,燃气所,,12358x,,,active\n", encoding="utf-8")
    bad = _units(config, "import", str(out))
    assert bad.returncode == 1
    assert "line 5, parent: 供水所 is a level-3 unit: no units go under it (and 1 more)" in bad.stderr
    assert "  line 6, hotline: 12358x is not a configured hotline" in bad.stderr
    assert _units(config, "export", "-").stdout == exported
    header_only = "id,name,parent,hotline,contact_phone,contact_person,status\n"
    dry = run_in_checkout(
        [sys.executable, "-m", "ari_app.cli", "-c", str(config), "units", "import", "-", "--dry-run"],
        timeout=120,
        input_=header_only,
        env=_env(),
    )
    assert dry.stdout.splitlines() == [
        "disable  市水利局  not in the file",
        "disable  Fire brigade  not in the file",
        "2 unit change(s) would be made",
    ], dry.stderr
    assert _units(config, "export", "-").stdout == exported

    rows = _audit(db)
    assert [a for a, _, _ in rows] == [
        "unit_add",
        "unit_add",
        "unit_add",
        "refused",
        "refused",
        "unit_edit",
        "unit_disable",
        "unit_disable",
        "refused",
        "unit_enable",
        "refused",
    ]
    assert all(login.startswith("cli:") for _, login, _ in rows)


def test_a_department_user_needs_an_enabled_unit(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    config = config_on(tmp_path, db)
    nosuch = _users(
        config, "add", "fire", "--role", "department", "--unit-id", "999", "--password-stdin", stdin=PASSWORD
    )
    assert nosuch.returncode == 1
    assert "users add: no unit '999' (see `hotline units list`)" in nosuch.stderr
    assert _units(config, "add", "市水务局").returncode == 0
    assert _units(config, "add", "消防支队").returncode == 0
    assert _units(config, "disable", "2").returncode == 0
    off = _users(config, "add", "fire", "--role", "department", "--unit-id", "2", "--password-stdin", stdin=PASSWORD)
    assert off.returncode == 1 and "unit 2 消防支队 is disabled (see `hotline units list`)" in off.stderr
    by_name = _users(
        config, "add", "water", "--role", "department", "--unit", "市水务局", "--password-stdin", stdin=PASSWORD
    )
    assert (by_name.returncode, by_name.stdout) == (0, "added water (department)\n"), by_name.stderr
    by_id = _users(
        config, "add", "water2", "--role", "department", "--unit-id", "1", "--password-stdin", stdin=PASSWORD
    )
    assert by_id.returncode == 0, by_id.stderr
    unit12319 = _users(
        config, "add", "u1", "--role", "hotline_unit", "--hotline", "99999", "--password-stdin", stdin=PASSWORD
    )
    assert unit12319.returncode == 1 and "a hotline_unit user needs --hotline" in unit12319.stderr
    engine = make_engine(f"sqlite:///{db}")
    with make_sessionmaker(engine)() as s:
        users = s.execute(select(User.login, User.unit_id).order_by(User.login)).all()
    engine.dispose()
    assert users == [("water", 1), ("water2", 1)]


def test_users_check_the_login_before_asking_and_refuse_an_input_that_ends(tmp_path: Path) -> None:
    config = config_on(tmp_path)
    nosuch = _users(config, "passwd", "nosuch")
    assert (nosuch.returncode, nosuch.stderr.splitlines()[-1]) == (1, "users passwd: there is no user 'nosuch'")
    assert "Password" not in nosuch.stderr

    ended = _users(config, "add", "1001")
    assert ended.returncode == 1
    assert "Traceback" not in ended.stderr
    assert ended.stderr.splitlines()[-1] == (
        "users add: standard input ended before a password was typed; to give one without a terminal, "
        "send it on standard input with --password-stdin"
    )
    empty = _users(config, "add", "1001", "--password-stdin", stdin="\n")
    assert empty.returncode == 1
    assert empty.stderr.splitlines()[-1].startswith(
        "users add: --password-stdin: the password on standard input is empty"
    )
    nothing = _users(config, "add", "1001", "--password-stdin")
    assert nothing.returncode == 1 and "--password-stdin: standard input is empty" in nothing.stderr

    assert _users(config, "add", "1001", "--password-stdin", stdin=PASSWORD + "\n").returncode == 0
    taken = _users(config, "add", "1001")
    assert (taken.returncode, taken.stderr.splitlines()[-1]) == (
        1,
        "users add: 1001 exists; use `hotline users passwd`",
    )
    assert "Password" not in taken.stderr
    passwd = _users(config, "passwd", "1001")
    assert passwd.returncode == 1 and "Traceback" not in passwd.stderr
    assert "with --password-stdin" in passwd.stderr.splitlines()[-1]
    blank = _users(config, "passwd", "1001", "--password-stdin", stdin="\r\n")
    assert blank.returncode == 1 and "the password on standard input is empty" in blank.stderr
