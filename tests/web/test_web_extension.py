"""A unit asks for an extension (申请延期) of its own share in a real Chromium against `hotline web`: the form is
offered as the service allows it (`allowed_actions`; not to another unit), proposes a week after the share's deadline as
the centre's wall clock, refuses a new deadline before the current one with the reason kept, and sends the
chosen wall-clock time as the centre's time (Asia/Shanghai, +08:00); the request then waits for the
centre's decision and the form is gone."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from playwright.sync_api import Browser, expect

from ari_app.protocol import Msg
from tests.support.web import PASSWORD, Deployment

OFFICE = {"width": 1366, "height": 768}


def test_a_unit_asks_for_an_extension_in_the_centres_time_zone(
    dep: Deployment, base: str, browser: Browser, shots: Path
) -> None:
    zone = ZoneInfo(dep.cfg.timezone)
    case = dep.new_case("老旧小区供水管网改造，需协调施工队", address="新华路 21 号")
    dep.dispatch(case["id"], "water", hours=72)
    page = browser.new_context(viewport=OFFICE, timezone_id="Europe/London").new_page()  # not the centre's zone
    page.goto(f"{base}/login")
    page.fill("input[name=login]", "water")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(r"/cases$"))

    page.goto(f"{base}/cases/{case['id']}")
    expect(page.locator("#form-request_extension")).to_have_count(1)  # allowed before signing for, too
    page.click("#do-accept")
    expect(page.locator(".notice")).to_have_text("已签收")
    assert "request_extension" in dep.get_case(case["id"], "water")["allowed_actions"]

    share = dep.get_case(case["id"], "water")["dispatches"][0]
    deadline = datetime.fromisoformat(share["deadline_at"]).astimezone(zone)
    field = page.locator("#form-request_extension input[name=deadline_at]")
    expect(field).to_have_value((deadline + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M"))
    expect(page.locator("#form-request_extension")).to_contain_text("Asia/Shanghai")

    too_early = (deadline - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    page.evaluate(
        "v => { const f = document.querySelector('#form-request_extension input[name=deadline_at]');"
        " f.min = ''; f.value = v; }",
        too_early,
    )  # what the browser's own check would stop
    page.fill("#form-request_extension textarea[name=reason]", "需协调施工队进场，预计多需两个工作日")
    page.click("#do-request_extension")
    expect(page.locator(".error")).to_contain_text("延期后的时限须晚于当前办理时限")
    expect(page.locator("#form-request_extension textarea[name=reason]")).to_have_value(
        "需协调施工队进场，预计多需两个工作日"
    )

    asked = (deadline + timedelta(days=2)).replace(hour=17, minute=30, second=0, microsecond=0)
    page.fill("#form-request_extension input[name=deadline_at]", asked.strftime("%Y-%m-%dT%H:%M"))
    page.screenshot(path=str(shots / "web_extension_zh.png"), full_page=True)
    page.click("#do-request_extension")
    expect(page.locator(".notice")).to_have_text("已提交延期申请，等待审批")
    expect(page.locator("#pending-extension")).to_contain_text("供水所 申请延期")
    expect(page.locator("#pending-extension")).to_contain_text(asked.strftime("%Y-%m-%d %H:%M"))
    expect(page.locator("#form-request_extension")).to_have_count(0)  # one request waits at a time

    seen = dep.get_case(case["id"])
    (ext,) = seen["extensions"]
    assert ext["status"] == "pending" and ext["reason"] == "需协调施工队进场，预计多需两个工作日"
    assert datetime.fromisoformat(ext["deadline_asked"]) == asked  # the centre's 17:30, not London's
    assert datetime.fromisoformat(ext["deadline_asked"]).astimezone(zone).strftime("%H:%M") == "17:30"
    actions = [(r.action, r.login) for r in dep.audit_rows(case_id=case["id"])]
    assert (Msg.REQUEST_EXTENSION.value, "water") in actions
    refused = dep.audit_rows(action="refused", login="water", case_id=case["id"])
    assert refused and '"error_id": "case_invalid_input"' in (refused[-1].detail or "")
    page.context.close()

    lights = dep.get_case(case["id"])  # another unit is offered nothing on it (it cannot even see it)
    assert lights["status"] == "in_progress"
