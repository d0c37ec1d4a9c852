"""`hotline catalogue` run as an admin runs it, in its own process on this checkout's code, on a database of
its own: a CSV imported (a dry run first, which changes nothing), exported byte for byte, a bad file refused
with its line and column and nothing changed, a node renamed and retired; every change and the refusal in
the audit log under `cli:<login>`."""

from __future__ import annotations

import subprocess
from pathlib import Path

from sqlalchemy import select

from schema.cases import AuditEntry
from schema.db import make_engine, make_sessionmaker
from tests.support.commands import checkout_cli, config_on

CSV = (
    "code,parent_code,name_zh,name_en,status\n"
    "010000,,城乡建设,Urban construction,active\n"
    "010100,010000,市政设施,,active\n"
    "010101,010100,路灯,Street lights,active\n"
)


def _run(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return checkout_cli("-c", str(config), "catalogue", *args)


def test_catalogue_import_export_edit_and_refusal(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    config = config_on(tmp_path, db)
    source = tmp_path / "in.csv"
    source.write_text(CSV, encoding="utf-8")

    dry = _run(config, "import", str(source), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.splitlines()[-1] == "3 node(s) would change"
    assert _run(config, "export", "-").stdout == CSV.splitlines(keepends=True)[0]

    done = _run(config, "import", str(source))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0].split() == ["add", "010000", "城乡建设"]
    out = tmp_path / "out.csv"
    assert _run(config, "export", str(out)).returncode == 0
    assert out.read_bytes() == CSV.encode()

    source.write_text(CSV + "010201,010200,燃气,,active\n", encoding="utf-8")
    bad = _run(config, "import", str(source))
    assert bad.returncode == 1
    assert "line 5, parent_code: the parent 010200 is not in the file" in bad.stderr

    assert _run(config, "rename", "010101", "道路照明", "--en", "Road lighting").returncode == 0
    retired = _run(config, "retire", "010100")
    assert retired.stdout.splitlines() == ["retired 010100 市政设施", "retired 010101 道路照明"]
    listing = _run(config, "list").stdout.splitlines()
    assert listing[2].split() == ["010101", "道路照明", "Road", "lighting", "retired"]

    engine = make_engine(f"sqlite:///{db}")
    with make_sessionmaker(engine)() as s:
        rows = s.execute(select(AuditEntry.action, AuditEntry.login).order_by(AuditEntry.id)).all()
    engine.dispose()
    actions = [a for a, _ in rows]
    assert actions == ["classification_add"] * 3 + [
        "refused",
        "classification_rename",
        "classification_retire",
        "classification_retire",
    ]
    assert all(login.startswith("cli:") for _, login in rows)


def test_dispatch_rules_add_list_export_import_remove(tmp_path: Path) -> None:
    from schema.cases import CooperatingUnit
    from schema.db import upgrade

    db = tmp_path / "h.db"
    config = config_on(tmp_path, db)
    engine = make_engine(f"sqlite:///{db}")
    upgrade(engine)
    with make_sessionmaker(engine)() as s, s.begin():
        s.add_all([CooperatingUnit(name="市政管理处"), CooperatingUnit(name="环境卫生处")])
    source = tmp_path / "in.csv"
    source.write_text(CSV, encoding="utf-8")
    assert _run(config, "import", str(source)).returncode == 0

    added = _rules(config, "add", "010100", "市政管理处", "--co", "环境卫生处", "--subtree", "--district", "天山区")
    assert added.returncode == 0, added.stderr
    assert added.stdout.strip() == "added rule 1"
    listing = _rules(config, "list").stdout
    assert "010100* 市政设施  [天山区]  → 市政管理处 + 环境卫生处" in listing
    exported = _rules(config, "export", "-").stdout
    header = "classification_code,subtree,district,street,grid_cell,lead_unit,co_units,automatic\n"
    assert exported == header + "010100,yes,天山区,,,市政管理处,环境卫生处,no\n"
    refused = _rules(config, "add", "010100", "无此单位")
    assert refused.returncode == 1 and "no unit named 无此单位" in refused.stderr
    rules_file = tmp_path / "rules.csv"
    rules_file.write_text(header + "010101,no,,,,环境卫生处,,yes\n", encoding="utf-8")
    assert _rules(config, "import", str(rules_file)).stdout.splitlines()[-1] == "2 rule change(s)"
    (line,) = _rules(config, "list").stdout.splitlines()
    assert line.split()[1:] == ["010101", "路灯", "[anywhere]", "→", "环境卫生处", "automatic"]
    assert _rules(config, "remove", line.split()[0]).returncode == 0
    assert _rules(config, "export", "-").stdout == header
    with make_sessionmaker(engine)() as s:
        actions = s.scalars(select(AuditEntry.action).where(AuditEntry.action != "classification_add")).all()
    engine.dispose()
    assert actions == [
        "dispatch_rule_add",
        "refused",
        "dispatch_rule_remove",
        "dispatch_rule_add",
        "dispatch_rule_remove",
    ]


def _rules(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return checkout_cli("-c", str(config), "dispatch-rules", *args)
