"""The `linkage:` section (110/119/120 partners): read typed, rendered into the dialplan, and every mistake
named with file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from ari_app.config import load_config
from ari_app.dialplan_render import render_all
from tests.support.config_files import ROOT, config_with, issues_with, line_of, shipped_text, write_config

RECEIVER = """      trunk: carrier-telecom
      receiver:
        url: http://127.0.0.1:9/open311/v2
        service_code: "12345-referral"
        key: {secret_file: var/secrets/open311_110}"""


def test_the_shipped_partners_are_read_with_their_dial_strings() -> None:
    cfg = load_config(ROOT / "config.yaml")
    assert [p.key for p in cfg.linkage] == ["110", "119", "120"]
    police = cfg.partner("110")
    assert police is not None and (police.name_zh, police.name_en) == ("公安", "Police")
    assert police.dial == "PJSIP/110@carrier-telecom"
    fire = cfg.partner("119")
    assert fire is not None and fire.trunk == cfg.callback.trunk and fire.number == "119"  # the defaults
    assert cfg.partner("999") is None


def test_a_receiver_and_its_api_key_are_read_from_where_config_names_them(tmp_path: Path) -> None:
    path = config_with(tmp_path, ("      trunk: carrier-telecom\n      # receiver:", RECEIVER + "\n      # receiver:"))
    (tmp_path / "var" / "secrets").mkdir(parents=True)
    (tmp_path / "var" / "secrets" / "open311_110").write_text("k-110\n", encoding="utf-8")
    police = load_config(path).partner("110")
    assert police is not None and police.receiver is not None
    assert police.receiver.url == "http://127.0.0.1:9/open311/v2"
    assert police.receiver.service_code == "12345-referral"
    assert police.receiver.key is not None and police.receiver.key.value() == "k-110"


def test_without_the_section_there_are_no_partners(tmp_path: Path) -> None:
    text = shipped_text()
    assert load_config(write_config(tmp_path, text[: text.index("linkage:\n")])).linkage == ()


@pytest.mark.parametrize(
    ("old", "new", "key", "expected"),
    [
        ('    - key: "119"', '    - key: "11x"', "linkage.partners[1].key", "short number"),
        ('    - key: "119"', '    - key: "110"', "linkage.partners[1].key", "configured twice"),
        ("      name_en: Fire", "      name_en: Fire\n      number: 11-9", "linkage.partners[1].number", "dialable"),
        ("      name_en: Fire", "      name_en: Fire\n      number: 119", "linkage.partners[1].number", "in quotes"),
        ("      name_en: Fire", "      name_en: Fire\n      trunk: nowhere", "linkage.partners[1].trunk", "one of"),
        ("      name_en: Fire", "      name_en: Fire\n      dial: 119", "linkage.partners[1].dial", "unknown key"),
        ("      name_en: Fire\n", "", "linkage.partners[1]", "English name"),
        (
            "      trunk: carrier-telecom\n      # receiver:",
            RECEIVER.replace("http://127.0.0.1:9", "ftp://x") + "\n      # receiver:",
            "linkage.partners[0].receiver.url",
            "Open311",
        ),
        (
            "      trunk: carrier-telecom\n      # receiver:",
            RECEIVER.replace("key: {secret_file: var/secrets/open311_110}", "key: plain-text") + "\n      # receiver:",
            "linkage.partners[0].receiver.key",
            "secret_env or secret_file",
        ),
        (
            "      trunk: carrier-telecom\n      # receiver:",
            RECEIVER.replace('        service_code: "12345-referral"\n', "") + "\n      # receiver:",
            "linkage.partners[0].receiver",
            "service_code",
        ),
        ("  partners:\n", "  partner:\n", "linkage.partner", "unknown key"),
    ],
)
def test_a_bad_partner_names_file_line_and_key(tmp_path: Path, old: str, new: str, key: str, expected: str) -> None:
    issues = issues_with(tmp_path, old, new)
    matching = [i for i in issues if f" {key}:" in i and expected in i]
    assert matching, issues
    assert str(tmp_path / "config.yaml") in matching[0]
    line = int(matching[0].split(f"{tmp_path / 'config.yaml'}:")[1].split(":")[0])
    assert line > line_of(tmp_path, "linkage:")  # at the partner, not at the top of the file


def test_the_dialplan_dials_each_partner_from_the_agents_phones(tmp_path: Path) -> None:
    files = render_all(load_config(ROOT / "config.yaml"), include_secrets=False)
    table = files["hotline_extensions.conf"]
    assert "[hotline-linkage]" in table
    assert "exten => 110,1,Dial(PJSIP/110@carrier-telecom,60)" in table
    assert "exten => 120,1,Dial(PJSIP/120@carrier-telecom,60)" in table
    static = (ROOT / "dialplan" / "extensions.conf").read_text(encoding="utf-8")
    agents = static[static.index("[from-agents]") :]
    assert "include => hotline-linkage" in agents.split("\n\n")[0]
