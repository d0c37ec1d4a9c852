"""Config validation: the shipped file is valid, and every broken file names file, line, key, expectation."""

from __future__ import annotations

from pathlib import Path

import pytest

from ari_app.cli import main
from ari_app.config import ConfigError, HotlineMode, load_config

ROOT = Path(__file__).resolve().parents[2]


def test_shipped_config_is_valid() -> None:
    cfg = load_config(ROOT / "config.yaml")
    assert [h.number for h in cfg.hotlines] == ["12345", "12319", "12358", "12350"]
    assert {h.mode for h in cfg.hotlines} == set(HotlineMode)
    assert cfg.database_url.startswith("sqlite:////")
    assert cfg.asterisk.ami.host == "127.0.0.1"
    assert cfg.agent("1001") is not None and cfg.agent("1001").interface == "PJSIP/1001"


def _broken(tmp_path: Path, old: str, new: str) -> list[str]:
    text = (ROOT / "config.yaml").read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "config.yaml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return [str(i) for i in info.value.issues]


def _line_of(tmp_path: Path, needle: str) -> int:
    lines = (tmp_path / "config.yaml").read_text(encoding="utf-8").splitlines()
    return max(i for i, line in enumerate(lines, 1) if needle in line)


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
        ("addresses: [127.0.0.2]", "addresses: [127.0.0.999]", "trunks[0].addresses[0]", "IPv4"),
        ("secret_file: var/secrets/ami_secret", "secret: hunter2", "asterisk.ami.secret", "never written"),
        ("contact: sip:1002@127.0.0.1:5081", "contact: phone-of-ali", "agents[1].contact", "SIP URI"),
        ('extension: "1002"', 'extension: "1001"', "agents[1].extension", "configured twice"),
        ("  timezone: Asia/Shanghai", "  timezone: Asia/Shanghai\n  colour: red", "centre.colour", "unknown key"),
    ],
)
def test_broken_config_names_file_line_key_and_expectation(
    tmp_path: Path, old: str, new: str, key: str, expected: str
) -> None:
    issues = _broken(tmp_path, old, new)
    needle = new.splitlines()[-1].strip()
    line = _line_of(tmp_path, needle)
    matching = [i for i in issues if f":{line}: {key}:" in i]
    assert matching, issues
    assert str(tmp_path / "config.yaml") in matching[0]
    assert expected in matching[0]


def test_missing_key_and_section_are_named(tmp_path: Path) -> None:
    issues = _broken(tmp_path, "    name_en: Price Supervision Hotline\n", "")
    assert any("hotlines[2]: missing key 'name_en'" in i for i in issues), issues


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    """An unclosed `[` is reported at its own line (the parser notices it lines later; that is said too)."""
    issues = _broken(tmp_path, "  ring_timeout: 15", "  ring_timeout: [15")
    line = _line_of(tmp_path, "ring_timeout: [15")
    assert len(issues) == 1 and "not valid YAML" in issues[0]
    assert f"config.yaml:{line}: <yaml>:" in issues[0] and "flow sequence that begins here" in issues[0], issues
    assert "(noticed at line " in issues[0]


def test_a_missing_file_is_reported_without_a_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "nowhere.yaml")
    text = str(info.value)
    assert f"{tmp_path / 'nowhere.yaml'}: <file>: cannot read: No such file or directory" in text, text
    assert ":0:" not in text


def test_all_problems_reported_at_once(tmp_path: Path) -> None:
    text = (ROOT / "config.yaml").read_text(encoding="utf-8")
    text = text.replace("mode: exchange", "mode: swap").replace("strategy: rrmemory", "strategy: x")
    (tmp_path / "c.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "c.yaml")
    assert {i.key for i in info.value.issues} >= {"hotlines[2].mode", "queue.strategy"}


def test_fifth_hotline_is_config_only(tmp_path: Path) -> None:
    text = (ROOT / "config.yaml").read_text(encoding="utf-8")
    fifth = (
        '  - number: "12369"\n    name_zh: 环保举报热线\n    name_en: Environmental Protection Hotline\n'
        "    unit: 市生态环境局\n    mode: collaborative\n"
    )
    text = text.replace("# Carrier trunks", fifth + "\n# Carrier trunks")
    (tmp_path / "config.yaml").write_text(text, encoding="utf-8")
    cfg = load_config(tmp_path / "config.yaml")
    assert cfg.hotline("12369") is not None


def test_cli_check_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-c", str(ROOT / "config.yaml"), "config", "check"]) == 0
    _broken(tmp_path, "mode: exchange", "mode: swap")
    assert main(["-c", str(tmp_path / "config.yaml"), "config", "check"]) == 1
    err = capsys.readouterr().err
    assert "hotlines[2].mode" in err and "config.yaml:" in err
