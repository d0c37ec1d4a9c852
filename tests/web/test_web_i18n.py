"""The web front's catalogue: every message in both languages, and every key a template names is in it."""

from __future__ import annotations

import re

from ari_app.cases.machine import CaseState
from ari_app.protocol import RETURN_REASONS
from ari_app.web.app import HERE
from ari_app.web.i18n import MESSAGES, translate
from ari_app.web.pages import ACTIONS, HOTLINE_TABS, OVERSIGHT_TABS, TABS
from schema.cases import DispatchStatus, Rating, Urgency
from schema.users import Role


def test_both_languages_have_every_message() -> None:
    assert MESSAGES["zh"].keys() == MESSAGES["en"].keys()
    assert all(text.strip() for lang in MESSAGES.values() for text in lang.values())


def test_every_literal_key_in_the_templates_is_in_the_catalogue() -> None:
    used = set()
    for template in (HERE / "templates").glob("*.html"):
        used |= set(re.findall(r"\bt\('([a-z_]+)'\s*[,)]", template.read_text(encoding="utf-8")))
    assert used and used <= MESSAGES["zh"].keys(), used - MESSAGES["zh"].keys()
    prefixed = {
        "st_": CaseState,
        "ds_": DispatchStatus,
        "ur_": Urgency,
        "role_": Role,
        "tab_": (*TABS, *HOTLINE_TABS),
        "ov_": OVERSIGHT_TABS,
        "rt_": Rating,
        "ev_extension_": ("requested", "approved", "refused"),
        "ev_return_": ("requested", "approved", "refused"),
        "done_": ACTIONS,
        "do_": ACTIONS,
        "rr_": RETURN_REASONS,
    }
    for prefix, values in prefixed.items():
        missing = {f"{prefix}{v}" for v in values} - MESSAGES["zh"].keys()
        assert not missing, missing
    assert translate("en", "working_days_left", n=3) == "3 working days left"
    assert translate("zh", "working_days_left", n=3) == "剩余 3 个工作日"
