"""阶段性回复 and 协办 in a real Chromium against `hotline web`: a case dispatched to 供水所 (lead, 主办) and 路灯所
(co-unit, 协办). The lead is offered the progress form only once it has signed for its share, an empty report
is refused with its own message, a report shows under its share and in the history; the co-unit sees the
lead's share and report on its own page (and is offered no form before signing for); a department not on
the case gets 404. Screenshots of the lead's page with a report in Chinese and in English."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Browser, expect

from ari_app.protocol import Msg
from tests.support.browser import open_refused, sign_in
from tests.support.web import Deployment


def test_a_lead_reports_progress_its_co_unit_sees_it_an_outsider_gets_404(
    dep: Deployment, base: str, browser: Browser, shots: Path
) -> None:
    case = dep.new_case("暴雨后小区地下车库积水，排水泵不工作", address="和平路 8 号")
    units = [dep.units["water"], dep.units["lights"]]
    dep.act("1001", Msg.DISPATCH_CASE, case_id=case["id"], units=units, deadline_hours=72)

    lead = sign_in(browser, base, "water")
    lead.goto(f"{base}/cases/{case['id']}")
    expect(lead.locator("#form-report_progress")).to_have_count(0)  # not signed for yet
    lead.click("#do-accept")
    expect(lead.locator(".notice")).to_have_text("已签收")
    form = lead.locator("#form-report_progress")
    expect(form).to_have_count(1)

    lead.evaluate("() => document.querySelector('#form-report_progress textarea').removeAttribute('required')")
    lead.fill("#form-report_progress textarea[name=text]", "   ")  # what the browser's own check would stop
    lead.click("#do-report_progress")
    expect(lead.locator(".error")).to_contain_text("请填写阶段性回复（1 至 2000 字）")
    refused = dep.audit_rows(action="refused", login="water", case_id=case["id"])
    assert refused and '"error_id": "case_progress_text_invalid"' in (refused[-1].detail or "")

    text = "已派两台抽水泵到场，预计今晚 22 时前排完积水，明日更换损坏的排水泵"
    lead.fill("#form-report_progress textarea[name=text]", text)
    lead.click("#do-report_progress")
    expect(lead.locator(".notice")).to_have_text("已提交阶段性回复")
    mine = lead.locator(f"#shares li.share[data-unit='{dep.units['water']}']")
    expect(mine.locator("ol.progress")).to_contain_text(text)
    expect(lead.locator("ol.trail")).to_contain_text("阶段性回复")
    expect(lead.locator("ol.trail")).to_contain_text(text)
    expect(lead.locator("#form-report_progress")).to_have_count(1)  # any number per share
    lead.screenshot(path=str(shots / "web_progress_zh.png"), full_page=True)
    lead.click("a.lang")
    expect(lead.locator("a.lang")).to_have_text("中文")
    expect(lead.locator("#form-report_progress h3")).to_have_text("Report progress")
    expect(mine.locator("ol.progress")).to_contain_text("Progress report")
    lead.screenshot(path=str(shots / "web_progress_en.png"), full_page=True)
    lead.context.close()

    rows = [(r.action, r.login) for r in dep.audit_rows(case_id=case["id"])]
    assert ("report_progress", "water") in rows
    (report,) = dep.get_case(case["id"])["progress_reports"]  # the centre's desktop reads it too
    assert (report["unit_name"], report["lead"], report["text"]) == ("供水所", True, text)

    co = sign_in(browser, base, "lights")
    co.goto(f"{base}/cases/{case['id']}")
    theirs = co.locator(f"#shares li.share[data-unit='{dep.units['water']}']")
    expect(theirs).to_contain_text("供水所")
    expect(theirs).to_contain_text("主办")
    expect(theirs).to_contain_text("已签收")
    expect(theirs.locator("ol.progress")).to_contain_text(text)
    expect(co.locator(f"#shares li.share[data-unit='{dep.units['lights']}']")).to_contain_text("协办")
    expect(co.locator("#form-report_progress")).to_have_count(0)  # its own share is not signed for
    co.context.close()

    outsider = sign_in(browser, base, "safety")  # a department of another hotline's unit, not on the case
    open_refused(outsider, base, dep, "safety", case, text)
    outsider.context.close()
