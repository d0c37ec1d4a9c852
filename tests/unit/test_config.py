"""Config validation: the shipped file is valid, and every broken file names file, line, key, expectation."""

from __future__ import annotations

from pathlib import Path

import pytest

from ari_app.cases.settings import CaseSettings
from ari_app.cli import main
from ari_app.config import ConfigError, HotlineMode, load_config
from tests.support.config_files import (
    ROOT,
    config_with,
    issues_with,
    line_of,
    refusal,
    shipped_text,
    write_config,
)


def test_shipped_config_is_valid() -> None:
    cfg = load_config(ROOT / "config.yaml")
    assert [h.number for h in cfg.hotlines] == ["12345", "12319", "12358", "12350"]
    assert {h.mode for h in cfg.hotlines} == set(HotlineMode)
    assert cfg.database_url.startswith("sqlite:////")
    assert cfg.asterisk.ami.host == "127.0.0.1"
    assert cfg.agent("1001") is not None and cfg.agent("1001").interface == "PJSIP/1001"


OFFICE = '  office_hours: ["09:00-12:00", "13:30-17:30"]'


@pytest.mark.parametrize(
    ("old", "new", "key", "expected"),
    [
        ('number: "12358"', "number: 12358", "hotlines[2].number", "in quotes"),
        ('number: "12358"', 'number: "12-358"', "hotlines[2].number", "dialable number"),
        ("mode: exchange", "mode: swap", "hotlines[2].mode", "collaborative, exchange or sub-platform"),
        ("strategy: rrmemory", "strategy: fastest", "queue.strategy", "expected one of"),
        ("ring_timeout: 15 ", "ring_timeout: -3 ", "queue.ring_timeout", "integer 1..600"),
        ("max_queue: 60 ", "max_queue: 0 ", "admission.max_queue", "integer 1..100000"),
        ("shed_ms: 200 ", "shed_ms: -1 ", "admission.shed_ms", "integer 0..60000"),
        (
            "    # exchange_url: https://12358.example.gov.cn/open311/v2",
            "    exchange_url: ftp://12358/open311",
            "hotlines[2].exchange_url",
            "http(s) URL",
        ),
        (
            "    # exchange_key: {secret_file: var/secrets/open311_12358}",
            "    exchange_key: {secret: abc123}",
            "hotlines[2].exchange_key.secret",
            "never written",
        ),
        (
            "    # exchange_key: {secret_file: var/secrets/open311_12358}",
            "    exchange_key: abc123",
            "hotlines[2].exchange_key",
            "secret_env or secret_file",
        ),
        ("addresses: [127.0.0.2]", "addresses: [127.0.0.999]", "trunks[0].addresses[0]", "IPv4"),
        ("secret_file: var/secrets/ami_secret", "secret: hunter2", "asterisk.ami.secret", "never written"),
        ("contact: sip:1002@127.0.0.1:5081", "contact: phone-of-ali", "agents[1].contact", "SIP URI"),
        ('extension: "1002"', 'extension: "1001"', "agents[1].extension", "configured twice"),
        ("  timezone: Asia/Shanghai", "  timezone: Asia/Shanghai\n  colour: red", "centre.colour", "unknown key"),
        # one bad value in each remaining section
        ('strip_prefixes: ["10193"]', 'strip_prefixes: ["1"]', "trunks[1].numbers.strip_prefixes[0]", "carrier prefix"),
        ("  enabled: yes", "  enabled: maybe", "callback.enabled", "yes or no"),
        ('  digit: "1"', '  digit: "12"', "callback.digit", "one keypad key"),
        ("  trunk: carrier-telecom", "  trunk: carrier-mobile", "callback.trunk", "one of the trunks"),
        ("missed_target_minutes: 30", "missed_target_minutes: 0", "callback.missed_target_minutes", "integer 1..10080"),
        ("missed_claim_minutes: 10", "missed_claim_minutes: ten", "callback.missed_claim_minutes", "integer 1..1440"),
        ('calling_hours: "08:00-21:00"', 'calling_hours: "8-21"', "callback.calling_hours", '"08:00-21:00"'),
        ('calling_hours: "08:00-21:00"', 'calling_hours: "21:00-08:00"', "callback.calling_hours", "opening before"),
        ('calling_hours: "08:00-21:00"', 'calling_hours: "08:00-24:30"', "callback.calling_hours", '"08:00-21:00"'),
        ("url: sqlite:///var/db/hotline.db", "url: hotline.db", "database.url", "SQLAlchemy URL"),
        ("url: sqlite:///var/db/hotline.db", "url: postgresql://h:pw@db/h", "database.url", "password is written"),
        # values a library reads only when a command uses them: checked here, not met as a traceback there
        ("url: sqlite:///var/db/hotline.db", "url: sqlit:///var/h.db", "database.url", "'sqlit' is not a supported"),
        ("url: sqlite:///var/db/hotline.db", "url: mysql://db/hotline", "database.url", "(expected sqlite:/// or"),
        ("  timezone: Asia/Shanghai", "  timezone: Asia/Beijing", "centre.timezone", "unknown time zone 'Asia/Beij"),
        ("  timezone: Asia/Shanghai", "  timezone: ../../etc/passwd", "centre.timezone", "an IANA name"),
        ("retention_days: 365", "retention_days: forever", "recordings.retention_days", "integer 1..36500"),
        ("min_free_percent: 5", "min_free_percent: 150", "recordings.min_free_percent", "percentage 0..100"),
        ("lease_seconds: 120", "lease_seconds: 0", "speech.lease_seconds", "integer 1..86400"),
        ("    port: 5060", "    port: 70000", "asterisk.sip.port", "integer 1..65535"),
        (
            "  root: .local/asterisk-root",
            "  root: .local/asterisk-root\n  nice: -30",
            "asterisk.nice",
            "integer -20..19",
        ),
        (
            "    secret_file: var/secrets/agi_secret",
            "    secret_env: agi-secret",
            "asterisk.agi.secret_env",
            "variable",
        ),
        ("  port: 8765", "  port: 0", "server.port", "integer 1..65535"),
        ("server:\n  host: 127.0.0.1", "server:\n  host: [a, b]", "server.host", "a host address"),
        # the calendar section
        (OFFICE, '  office_hours: ["9-12", "13:30-17:30"]', "calendar.office_hours[0]", "such as 09:00-12:00"),
        (OFFICE, '  office_hours: ["09:00-12:00", "11:30-17:30"]', "calendar.office_hours[1]", "not overlapping"),
        (OFFICE, '  office_hours: ["12:00-09:00"]', "calendar.office_hours[0]", "ends before it begins"),
        (OFFICE, "  office_hours: []", "calendar.office_hours", "at least one period"),
        ("  holidays: []", "  holidays: [{date: 1 Jan 2027, name: 元旦}]", "calendar.holidays[0].date", "a date"),
        ("  holidays: []", "  holidays: [{date: 2027-01-01}]", "calendar.holidays[0]", "missing key 'name'"),
        ("  holidays: []", "  holidays: [{from: 2027-01-01, name: 元旦}]", "calendar.holidays[0]", "`from` and `to`"),
        (
            "  holidays: []",
            "  holidays: [{from: 2027-01-03, to: 2027-01-01, name: 元旦}]",
            "calendar.holidays[0].to",
            "before `from`",
        ),
        (
            "  workdays: []",
            "  workdays: [{date: 2027-02-07, name: a}, {date: 2027-02-07, name: b}]",
            "calendar.workdays[1]",
            "already listed at calendar.workdays[0]",
        ),
        ("  workdays: []", "  workdays: [2027-02-07]", "calendar.workdays[0]", "date and name"),
        ("  unknown_years: statutory", "  unknown_years: guess", "calendar.unknown_years", "statutory or refuse"),
        ("  workdays: []", "  workdays: []\n  weekend: [sat]", "calendar.weekend", "unknown key"),
        # the cases section
        ("  merge_window_days: 30", "  merge_window_days: 0", "cases.merge_window_days", "integer 1..366"),
        ("  merge_window_days: 30", "  merge_window_days: a month", "cases.merge_window_days", "integer 1..366"),
        ("  merge_window_days: 30", "  merge_window_days: 30\n  merge_days: 3", "cases.merge_days", "unknown key"),
        ("    due_working_days: 1", "    due_working_days: 0", "cases.follow_up.due_working_days", "integer 1..30"),
        ("    due_working_days: 1", "    due_working_days: soon", "cases.follow_up.due_working_days", "integer 1..30"),
        ("    due_working_days: 1", "    due_working_days: 1\n    by: sms", "cases.follow_up.by", "unknown key"),
        # cases.attachments
        ("    max_file_mb: 10 ", "    max_file_mb: 0 ", "cases.attachments.max_file_mb", "integer 1..1024"),
        ("    max_case_mb: 50 ", "    max_case_mb: 5 ", "cases.attachments.max_case_mb", "at least max_file_mb (10)"),
        ("    retention_days: 1095 ", "    retention_days: forever ", "cases.attachments.retention_days", "integer"),
        ("    dir: var/attachments ", "    dir: [a, b] ", "cases.attachments.dir", "expected a path"),
        (
            "    # types: [image/jpeg, image/png, application/pdf]",
            "    types: [image/jpeg, text/html, image/svg+xml]",
            "cases.attachments.types",
            "not an attachment type the platform allows: text/html, image/svg+xml",
        ),
        (
            "    # public_url: https://hotline.example.gov.cn/media/",
            "    public_url: ftp://files.example/",
            "cases.attachments.public_url",
            "an http(s) URL",
        ),
        (
            "    dir: var/attachments ",
            "    dir: var/attachments\n    virus_scan: yes ",
            "cases.attachments.virus_scan",
            "unknown key",
        ),
        ("      consultation: 2wd", "      consultation: 2 days", "cases.deadlines.handling.consultation", "24h"),
        ("      consultation: 2wd", "      consultation: 1.5wd", "cases.deadlines.handling.consultation", "whole"),
        ("      praise: 2wd", "      praise: 0wd", "cases.deadlines.handling.praise", "positive"),
        ("      praise: 2wd", "      praise: 2wd\n      thanks: 1wd", "cases.deadlines.handling.thanks", "unknown key"),
        ('      "12358":', '      "99999":', "cases.deadlines.hotlines.99999", "not a hotline"),
        (
            "          complaint: 7wd",
            "          complaint: soon",
            "cases.deadlines.hotlines.12358.handling.complaint",
            "24h",
        ),
        ("  problem_threshold: 3", "  problem_threshold: 0", "cases.problem_threshold", "integer 1..100"),
    ],
)
def test_broken_config_names_file_line_key_and_expectation(
    tmp_path: Path, old: str, new: str, key: str, expected: str
) -> None:
    issues = issues_with(tmp_path, old, new)
    needle = new.splitlines()[-1].strip()
    line = line_of(tmp_path, needle)
    matching = [i for i in issues if f":{line}: {key}:" in i]
    assert matching, issues
    assert str(tmp_path / "config.yaml") in matching[0]
    assert expected in matching[0]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("tls_cert: /etc/hotline/link.crt", "go together"),
        ("tls_key: 5", "expected a path"),
        ("token_hours: 0", "a number above 0, up to 720 (hours)"),
        ("token_file: 7", "expected a path"),
        ("max_connections_per_address: 0", "an integer 1..100000"),
        ("max_unauthenticated_per_address: many", "an integer 1..100000"),
        ("sign_in_timeout: 7200", "an integer 1..3600"),
        ("refusal_hold_seconds: soon", "a number 0..60 (seconds)"),
        ("service_level_seconds: 15s", "an integer 1..600"),
        ("service_level_target: 0", "a number above 0, up to 100 (%)"),
        ("colour: red", "unknown key"),
    ],
)
def test_a_bad_server_key_names_file_line_and_key(tmp_path: Path, line: str, expected: str) -> None:
    """The desktop link's and the wallboard's `server.*` keys, which were once reported at line 0."""
    key = "server." + line.split(":")[0]
    test_broken_config_names_file_line_key_and_expectation(
        tmp_path, "  port: 8765", f"  port: 8765\n  {line}", key, expected
    )


def test_the_exchange_api_key_is_read_from_where_config_names_it(tmp_path: Path) -> None:
    path = config_with(tmp_path, ("    # exchange_key: {secret_file:", "    exchange_key: {secret_file:"))
    (tmp_path / "var" / "secrets").mkdir(parents=True)
    (tmp_path / "var" / "secrets" / "open311_12358").write_text("k-12358\n", encoding="utf-8")
    hotline = load_config(path).hotline("12358")
    assert hotline is not None and hotline.exchange_key is not None
    assert hotline.exchange_key.value() == "k-12358"


def test_missing_key_and_section_are_named(tmp_path: Path) -> None:
    issues = issues_with(tmp_path, "    name_en: Price Supervision Hotline\n", "")
    assert any("hotlines[2]: missing key 'name_en'" in i for i in issues), issues


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    """An unclosed `[` is reported at its own line (the parser notices it lines later; that is said too)."""
    issues = issues_with(tmp_path, "  ring_timeout: 15", "  ring_timeout: [15")
    line = line_of(tmp_path, "ring_timeout: [15")
    assert len(issues) == 1 and "not valid YAML" in issues[0]
    assert f"config.yaml:{line}: <yaml>:" in issues[0] and "flow sequence that begins here" in issues[0], issues
    assert "(noticed at line " in issues[0]


def test_a_missing_file_is_reported_without_a_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "nowhere.yaml")
    text = str(info.value)
    assert f"{tmp_path / 'nowhere.yaml'}: <file>: cannot read: No such file or directory" in text, text
    assert ":0:" not in text


def test_a_database_where_the_shipped_config_kept_it_before_is_not_left_behind(tmp_path: Path) -> None:
    """The shipped database moved from var/hotline.db into var/db/: an install that has its cases at the old
    place is told to move them, rather than started on a new, empty database."""
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "hotline.db").write_bytes(b"SQLite format 3\0")
    issues = refusal(config_with(tmp_path))
    assert len(issues) == 1 and "database.url: the database is at" in issues[0], issues
    assert f"mv {tmp_path / 'var' / 'hotline.db'}* {tmp_path / 'var' / 'db'}/" in issues[0]
    (tmp_path / "var" / "db").mkdir()
    (tmp_path / "var" / "db" / "hotline.db").write_bytes(b"")  # moved (or both there): the configured one is used
    assert load_config(tmp_path / "config.yaml").database_url == f"sqlite:///{tmp_path / 'var' / 'db' / 'hotline.db'}"


def test_all_problems_reported_at_once(tmp_path: Path) -> None:
    text = shipped_text().replace("mode: exchange", "mode: swap").replace("strategy: rrmemory", "strategy: x")
    with pytest.raises(ConfigError) as info:
        load_config(write_config(tmp_path, text, "c.yaml"))
    assert {i.key for i in info.value.issues} >= {"hotlines[2].mode", "queue.strategy"}


def test_fifth_hotline_is_config_only(tmp_path: Path) -> None:
    fifth = (
        '  - number: "12369"\n    name_zh: 环保举报热线\n    name_en: Environmental Protection Hotline\n'
        "    unit: 市生态环境局\n    mode: collaborative\n"
    )
    cfg = load_config(config_with(tmp_path, ("# Carrier trunks", fifth + "\n# Carrier trunks")))
    assert cfg.hotline("12369") is not None


def test_cli_check_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-c", str(ROOT / "config.yaml"), "config", "check"]) == 0
    issues_with(tmp_path, "mode: exchange", "mode: swap")
    assert main(["-c", str(tmp_path / "config.yaml"), "config", "check"]) == 1
    err = capsys.readouterr().err
    assert "hotlines[2].mode" in err and "config.yaml:" in err


def test_server_settings_are_read_typed_for_the_link_and_the_wallboard(tmp_path: Path) -> None:
    """`server.*` is read with the other sections; the link and the wallboard are built from the result."""
    from ari_app.link.settings import LinkSettings
    from ari_app.supervision.desk import WallboardSettings

    shipped = load_config(ROOT / "config.yaml").server
    assert (shipped.scheme, shipped.token_hours, shipped.service_level_seconds) == ("ws", 12.0, 15)
    assert shipped.token_file == ROOT / "var" / "link_tokens.json"
    server = (
        "  port: 8765\n  tls_cert: tls/link.crt\n  tls_key: /etc/hotline/link.key\n  token_hours: 1.5\n"
        '  token_file: ""\n  max_connections_per_address: 200\n  sign_in_timeout: 10\n  refusal_hold_seconds: 0\n'
        "  service_level_seconds: 20\n  service_level_target: 95.5"
    )
    cfg = load_config(config_with(tmp_path, ("  port: 8765", server)))
    link = LinkSettings.from_config(cfg)
    assert (link.scheme, link.tls_cert, link.tls_key) == (
        "wss",
        tmp_path / "tls/link.crt",
        Path("/etc/hotline/link.key"),
    )
    assert (link.token_ttl.total_seconds(), link.token_file) == (5400.0, None)
    assert (link.max_connections_per_address, link.sign_in_timeout, link.refusal_hold_seconds) == (200, 10.0, 0.0)
    wallboard = WallboardSettings.from_config(cfg)
    assert (wallboard.threshold_seconds, wallboard.target_percent) == (20, 95.5)


def test_every_bad_server_key_is_reported_at_once_with_its_line(tmp_path: Path) -> None:
    bad = "  port: 8765\n  token_hours: 0\n  sign_in_timeout: 0\n  service_level_target: 0"
    issues = issues_with(tmp_path, "  port: 8765", bad)
    for key in ("token_hours", "sign_in_timeout", "service_level_target"):
        line = line_of(tmp_path, f"{key}: 0")
        assert any(f"config.yaml:{line}: server.{key}:" in i for i in issues), issues
    assert not any(":0:" in i for i in issues), issues


def test_the_web_section_is_read_typed_loopback_by_default(tmp_path: Path) -> None:
    shipped = load_config(ROOT / "config.yaml").web
    assert (shipped.enabled, shipped.host, shipped.port, shipped.scheme) == (False, "127.0.0.1", 8090, "http")
    web = (
        "web:\n  enabled: true\n  listen: 0.0.0.0:9443\n  tls_cert: tls/web.crt\n  tls_key: /etc/hotline/web.key\n"
        "  idle_minutes: 5\n  session_hours: 2\n  poll_seconds: 0\n  forwarded_allow_ips: [10.0.0.5]\n"
    )
    cfg = load_config(write_config(tmp_path, shipped_text().split("\nweb:\n")[0] + "\n" + web)).web
    assert (cfg.enabled, cfg.host, cfg.port, cfg.scheme) == (True, "0.0.0.0", 9443, "https")
    assert (cfg.tls_cert, cfg.tls_key) == (tmp_path / "tls/web.crt", Path("/etc/hotline/web.key"))
    assert (cfg.idle_minutes, cfg.session_hours, cfg.poll_seconds, cfg.forwarded_allow_ips) == (5, 2, 0, ("10.0.0.5",))


def test_every_bad_web_key_is_reported_at_once_with_its_line(tmp_path: Path) -> None:
    bad = "web:\n  enabled: yes please\n  listen: 8090\n  tls_cert: web.crt\n  idle_minutes: 0\n  colour: red\n"
    issues = refusal(write_config(tmp_path, shipped_text().split("\nweb:\n")[0] + "\n" + bad))
    for key, needle in (
        ("enabled", "enabled: yes please"),
        ("listen", "listen: 8090"),
        ("tls_cert", "tls_cert: web.crt"),
        ("idle_minutes", "idle_minutes: 0"),
        ("colour", "colour: red"),
    ):
        line = line_of(tmp_path, needle)
        assert any(f"config.yaml:{line}: web.{key}:" in i for i in issues), (key, issues)


@pytest.mark.parametrize("command", [["config", "check"], ["serve"], ["status"]])
def test_the_hotline_command_with_a_bad_config_says_where_and_fails(tmp_path: Path, command: list[str]) -> None:
    """As an admin runs it: the installed `hotline` script, in its own process."""
    import subprocess
    import sys

    issues_with(tmp_path, "  port: 8765", "  port: 8765\n  token_hours: soon")
    line = line_of(tmp_path, "token_hours: soon")
    hotline = Path(sys.executable).parent / "hotline"
    argv = [str(hotline), "-c", str(tmp_path / "config.yaml"), *command]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode != 0, proc.stdout
    assert f"{tmp_path / 'config.yaml'}:{line}: server.token_hours: expected a number" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr


def test_a_date_that_is_no_day_is_reported_at_its_line(tmp_path: Path) -> None:
    issues = issues_with(tmp_path, "  holidays: []", "  holidays: [{date: 2027-02-30, name: 元旦}]")
    line = line_of(tmp_path, "2027-02-30")
    assert issues == [
        f"{tmp_path / 'config.yaml'}:{line}: <yaml>: not a date: 2027-02-30 (day is out of range for month)"
    ]


def test_the_calendar_section_is_read_typed(tmp_path: Path) -> None:
    from datetime import date, time

    from ari_app.config import CalendarDay

    assert load_config(ROOT / "config.yaml").calendar.office_hours == (
        (time(9), time(12)),
        (time(13, 30), time(17, 30)),
    )
    path = config_with(
        tmp_path,
        (OFFICE, '  office_hours: ["08:30-12:00", "14:00-18:00"]'),
        ("  holidays: []", '  holidays: [{from: 2027-01-01, to: "2027-01-03", name: 元旦}]'),
        ("  workdays: []", "  workdays: [{date: 2027-02-07, name: 春节调休}]"),
    )
    cal = load_config(path).calendar
    assert cal.office_hours == ((time(8, 30), time(12)), (time(14), time(18)))
    assert cal.holidays == tuple(CalendarDay(date(2027, 1, d), "元旦") for d in (1, 2, 3))
    assert cal.workdays == (CalendarDay(date(2027, 2, 7), "春节调休"),)


def test_the_cases_section_reaches_the_case_settings(tmp_path: Path) -> None:
    cfg = load_config(config_with(tmp_path, ("  merge_window_days: 30", "  merge_window_days: 14")))
    assert cfg.cases.merge_window_days == 14
    assert CaseSettings.from_config(cfg).merge_window_days == 14


def test_the_follow_up_due_days_reach_the_case_settings(tmp_path: Path) -> None:
    assert CaseSettings.from_config(load_config(ROOT / "config.yaml")).follow_up_due_working_days == 1
    cfg = load_config(config_with(tmp_path, ("    due_working_days: 1", "    due_working_days: 3")))
    assert cfg.cases.follow_up.due_working_days == 3
    assert CaseSettings.from_config(cfg).follow_up_due_working_days == 3


def test_the_attachments_section_reaches_the_case_settings(tmp_path: Path) -> None:
    assert "  attachments:\n    dir: var/attachments" in shipped_text()
    default = CaseSettings.from_config(load_config(ROOT / "config.yaml")).attachments
    assert default.dir == ROOT / "var" / "attachments" and default.public_url is None
    assert (default.max_file_bytes, default.max_case_bytes) == (10 << 20, 50 << 20)
    assert "text/html" not in default.types and "image/jpeg" in default.types
    path = config_with(
        tmp_path,
        ("    max_file_mb: 10 ", "    max_file_mb: 2 "),
        ("    dir: var/attachments ", "    dir: /srv/att "),
        ("    # types: [image/jpeg, image/png, application/pdf]", "    types: [image/jpeg, image/png]"),
        ("    # public_url: https://hotline.example.gov.cn/media/", "    public_url: https://12345.example.gov.cn/m"),
    )
    rules = CaseSettings.from_config(load_config(path)).attachments
    assert (rules.dir, rules.max_file_bytes, rules.types) == (Path("/srv/att"), 2 << 20, ("image/jpeg", "image/png"))
    assert rules.public_url == "https://12345.example.gov.cn/m/" and rules.retention_days == 1095


def test_the_deadlines_reach_the_case_settings_per_hotline(tmp_path: Path) -> None:
    """`cases.deadlines`: the centre's table, a hotline's own over it (only the keys it names), clock hours,
    working hours and working days."""
    from ari_app.config import TimeLimit

    cfg = load_config(ROOT / "config.yaml")
    settings = CaseSettings.from_config(cfg)
    centre = settings.limits("12345")
    assert centre is not None
    assert centre.handling["consultation"] == TimeLimit(2, "working_days")
    assert centre.handling["complaint"] == TimeLimit(15, "working_days")
    assert centre.dispatch["critical"] == TimeLimit(1, "hours")
    assert centre.sign_for["normal"] == TimeLimit(1, "working_days")
    own = settings.limits("12358")
    assert own is not None
    assert own.handling["complaint"] == TimeLimit(7, "working_days")
    assert own.handling["report"] == TimeLimit(15, "working_days")  # not named: the centre's
    assert settings.problem_threshold == 3
    text = shipped_text()
    start, end = text.index("  deadlines:\n"), text.index("asterisk:")
    bare = CaseSettings.from_config(load_config(write_config(tmp_path, text[:start] + "\n" + text[end:])))
    assert bare.limits("12345") is None  # no section: the category's hours, as before
