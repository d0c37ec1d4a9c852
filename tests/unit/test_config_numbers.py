"""Config validation of the number rules: `centre.region` / `centre.area_code` and each trunk's `numbers`
(area code, carrier prefixes); every mistake names file, line, key and what was expected."""

from __future__ import annotations

from pathlib import Path

import pytest

from ari_app.config import load_config
from tests.support.config_files import ROOT, config_with, issues_with, line_of

TELECOM = """  - name: carrier-telecom
    addresses: [127.0.0.2]
    numbers:
      area_code: "991"
"""


def test_shipped_rules() -> None:
    cfg = load_config(ROOT / "config.yaml")
    assert (cfg.numbers.region, cfg.numbers.area_code, cfg.numbers.strip_prefixes) == ("CN", "991", ())
    telecom, unicom = cfg.trunks
    assert (telecom.numbers.area_code, telecom.numbers.strip_prefixes) == ("991", ())
    assert (unicom.numbers.area_code, unicom.numbers.strip_prefixes) == ("991", ("10193",))
    assert telecom.numbers.country_code == "86" and telecom.numbers.trunk_prefix == "0"


def test_a_trunk_without_rules_takes_the_centres(tmp_path: Path) -> None:
    cfg = load_config(config_with(tmp_path, (TELECOM, "  - name: carrier-telecom\n    addresses: [127.0.0.2]\n")))
    assert cfg.trunks[0].numbers.area_code == "991" and cfg.trunks[0].numbers.region == "CN"
    no_area = config_with(tmp_path, ('  area_code: "991"\n', ""))
    assert load_config(no_area).numbers.area_code is None


@pytest.mark.parametrize(
    ("old", "new", "needle", "key", "expected"),
    [
        (
            '      area_code: "991"\n',
            "      area_code: 991\n",
            "area_code: 991",
            "trunks[0].numbers.area_code",
            "in quotes",
        ),
        (
            '      area_code: "991"\n',
            '      area_code: "0991"\n',
            '"0991"',
            "trunks[0].numbers.area_code",
            'without the trunk prefix 0: "991"',
        ),
        (
            '      area_code: "991"\n',
            '      area_code: "900"\n',
            '"900"',
            "trunks[0].numbers.area_code",
            "900 is not an area code of CN",
        ),
        (
            '      area_code: "991"\n',
            '      area_code: "9x1"\n',
            '"9x1"',
            "trunks[0].numbers.area_code",
            "area code of digits",
        ),
        (
            '      strip_prefixes: ["10193"]',
            '      strip_prefixes: ["1"]',
            'strip_prefixes: ["1"]',
            "trunks[1].numbers.strip_prefixes[0]",
            "carrier prefix of 2-10 digits",
        ),
        (
            '      strip_prefixes: ["10193"]',
            '      strip_prefixes: ["10193", "10193"]',
            'strip_prefixes: ["10193", "10193"]',
            "trunks[1].numbers.strip_prefixes[1]",
            "listed twice",
        ),
        (
            '      strip_prefixes: ["10193"]',
            "      strip_prefixes: [10193]",
            "strip_prefixes: [10193]",
            "trunks[1].numbers.strip_prefixes",
            "list of strings",
        ),
        (
            '      strip_prefixes: ["10193"]',
            '      strip_prefixes: ["10193"]\n      country_code: "86"',
            "country_code",
            "trunks[1].numbers.country_code",
            "unknown key 'country_code' (expected one of: area_code, strip_prefixes)",
        ),
        ("  region: CN\n", "  region: cn\n", "region: cn", "centre.region", "ISO 3166 such as CN"),
        ("  region: CN\n", "  region: XX\n", "region: XX", "centre.region", "region code phonenumbers knows"),
        ('  area_code: "991"\n', '  area_code: "0991"\n', '  area_code: "0991"', "centre.area_code", "trunk prefix"),
        (
            TELECOM,
            TELECOM.replace('numbers:\n      area_code: "991"', "numbers: 991"),
            "numbers: 991",
            "trunks[0].numbers",
            "expected a mapping",
        ),
    ],
)
def test_broken_rules_name_line_key_and_expectation(
    tmp_path: Path, old: str, new: str, needle: str, key: str, expected: str
) -> None:
    issues = issues_with(tmp_path, old, new)
    line = line_of(tmp_path, needle, first=True)
    assert any(
        issue.startswith(f"{tmp_path / 'config.yaml'}:{line}: {key}: ") and expected in issue for issue in issues
    ), issues


def test_config_check_accepts_the_rules_and_render_writes_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ari_app.cli import main

    assert main(["-c", str(ROOT / "config.yaml"), "config", "check"]) == 0
    capsys.readouterr()
    path = config_with(tmp_path, ('      strip_prefixes: ["10193"]', '      strip_prefixes: ["10193", "17911"]'))
    out = tmp_path / "out"
    assert main(["-c", str(path), "config", "render", "--out", str(out)]) == 0
    table = (out / "hotline_extensions.conf").read_text(encoding="utf-8")
    assert "exten => 1791112345,1,Set(__HOTLINE_DIALED=${EXTEN})" in table
