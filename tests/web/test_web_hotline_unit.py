"""A hotline unit (热线管理单位) of the sub-platform hotline 12350 works its hotline's cases in a real Chromium
against `hotline web`: it reviews a unit's return (made through the case service in the setup), accepts it
and re-dispatches (改派) the case with the dispatch catalogue's suggestion preselected (lead and co-unit);
it decides a unit's extension (延期); each refusal of the service is shown in the page's language with
nothing done. It cannot open another hotline's case: 404 and a `refused` audit row, as for departments.
Screenshots of its list and case pages in Chinese, the case in English."""

from __future__ import annotations

import html
from datetime import datetime, timedelta
from pathlib import Path

from playwright.sync_api import Browser, expect

from ari_app.protocol import Msg
from tests.support.browser import PHONE, open_refused, sign_in
from tests.support.web import Client, Deployment


def test_the_hotline_unit_reviews_a_return_and_redispatches_with_the_catalogues_suggestion(
    dep: Deployment, base: str, browser: Browser, shots: Path
) -> None:
    case = dep.safety_case()
    cid = case["id"]
    dep.act("hu12350", Msg.DISPATCH_CASE, case_id=cid, units=[dep.units["chem"]], deadline_hours=72)
    reason = "不属于本科职责：废气排放由安监站查处"
    dep.act("chem", Msg.RETURN_CASE, case_id=cid, reason=reason, reason_code="not_our_duty")

    page = sign_in(browser, base, "hu12350")
    expect(page.locator("h1")).to_contain_text("本热线工单")
    expect(page.locator("nav.tabs a.on")).to_have_text("待派单")
    page.click("nav.tabs >> text=退单待审核")
    row = page.locator(f"tr[data-case='{cid}']")
    expect(row).to_contain_text(case["number"])
    page.screenshot(path=str(shots / "web_hotline_returns_zh.png"))

    row.locator("a").click()
    expect(page.locator("h1")).to_contain_text(case["number"])
    expect(page.locator("#pending-return")).to_contain_text("危化品科 申请退单")
    expect(page.locator("#pending-return")).to_contain_text(reason)
    expect(page.locator("#pending-return")).to_contain_text("非本单位职责")
    held = page.locator("#form-dispatch select[name=lead] option").all_text_contents()
    assert sorted(held) == sorted(["安监站", "消防站"])  # a co-unit may be added; not the unit holding it
    page.screenshot(path=str(shots / "web_hotline_return_review_zh.png"), full_page=True)

    page.click("#do-reject_return")  # refusing needs a note: the service's refusal, in Chinese
    expect(page.locator(".error")).to_contain_text("操作未完成：驳回退单须填写理由")
    assert dep.get_case(cid)["dispatches"][0]["status"] == "return_requested"  # nothing was done

    page.click("#do-accept_return")
    expect(page.locator(".notice")).to_have_text("已同意退单")
    expect(page.locator("h1 .st")).to_have_text("已退回")
    lead = page.locator("#form-dispatch select[name=lead]")
    expect(lead).to_have_value(str(dep.units["safety"]))  # the dispatch catalogue's lead, preselected
    expect(page.locator(f"#form-dispatch input[name=co][value='{dep.units['fire']}']")).to_be_checked()
    expect(page.locator(f"#form-dispatch input[name=co][value='{dep.units['chem']}']")).not_to_be_checked()
    expect(page.locator("#suggested")).to_have_text("已按派单目录预选主办和协办单位")
    options = page.locator("#form-dispatch select[name=lead] option").all_text_contents()
    assert sorted(options) == sorted(["安监站", "消防站", "危化品科"])  # the sub-platform's own units only
    page.fill("#form-dispatch textarea[name=instructions]", "请安监站牵头核查，消防站协助")
    page.screenshot(path=str(shots / "web_hotline_dispatch_zh.png"), full_page=True)
    page.click("#do-dispatch")
    expect(page.locator(".notice")).to_have_text("已派单")
    expect(page.locator("h1 .st")).to_have_text("待签收")
    expect(page.locator("dl.facts")).to_contain_text("改派 1 次，发回重办 0 次")
    expect(page.locator("#form-dispatch .hint")).to_have_text("派单目录建议的主办单位已在办理，增派请选择单位")
    expect(page.locator("#form-dispatch select[name=lead]")).to_have_value("")

    seen = dep.get_case(cid)
    live = [(d["unit_name"], d["lead"], d["status"]) for d in seen["dispatches"] if d["status"] == "pending"]
    assert live == [("安监站", True, "pending"), ("消防站", False, "pending")]
    assert seen["redispatch_count"] == 1 and seen["dispatches"][1]["instructions"] == "请安监站牵头核查，消防站协助"
    moves = [r.action for r in dep.audit_rows(case_id=cid, login="hu12350") if r.action not in ("view", "list")]
    assert moves == ["dispatch", "refused", "accept_return", "dispatch"]
    refused = [r for r in dep.audit_rows(case_id=cid, action="refused") if r.login == "hu12350"]
    assert len(refused) == 1 and '"error_id": "case_invalid_input"' in (refused[0].detail or "")

    page.click("a.lang")
    expect(page.locator("h1 .st")).to_have_text("To sign for")
    expect(page.locator("ol.trail")).to_contain_text("Return accepted")
    page.screenshot(path=str(shots / "web_hotline_case_en.png"), full_page=True)
    page.context.close()


def test_the_hotline_unit_decides_an_extension(dep: Deployment, base: str, browser: Browser, shots: Path) -> None:
    case = dep.safety_case("危化品仓库消防通道被占用")
    cid = case["id"]
    dep.act("hu12350", Msg.DISPATCH_CASE, case_id=cid, units=[dep.units["safety"]], deadline_hours=72)
    dep.act("safety", Msg.ACCEPT_CASE, case_id=cid)
    before = datetime.fromisoformat(dep.get_case(cid)["dispatches"][0]["deadline_at"])
    asked = before + timedelta(days=5)
    why = "需联合住建部门现场核查"
    dep.act("safety", Msg.REQUEST_EXTENSION, case_id=cid, reason=why, deadline_at=asked.isoformat())

    page = sign_in(browser, base, "hu12350")
    page.click("nav.tabs >> text=延期待审批")
    page.locator(f"tr[data-case='{cid}'] a").click()
    expect(page.locator("#pending-extension")).to_contain_text("安监站 申请延期")
    expect(page.locator("#pending-extension")).to_contain_text("需联合住建部门现场核查")
    page.screenshot(path=str(shots / "web_hotline_extension_zh.png"), full_page=True)

    page.click("#do-refuse_extension")  # refusing needs a note
    expect(page.locator(".error")).to_contain_text("操作未完成：不同意延期须填写理由")
    page.fill("#form-extension textarea[name=note]", "同意，请按期反馈")
    page.click("#do-approve_extension")
    expect(page.locator(".notice")).to_have_text("已同意延期")
    expect(page.locator("#pending-extension")).to_have_count(0)
    expect(page.locator("ol.trail")).to_contain_text("延期已同意")

    seen = dep.get_case(cid)
    assert datetime.fromisoformat(seen["dispatches"][0]["deadline_at"]) == asked
    assert [(e["status"], e["decision_note"]) for e in seen["extensions"]] == [("approved", "同意，请按期反馈")]
    assert ("approve_extension", "hu12350") in [(r.action, r.login) for r in dep.audit_rows(case_id=cid)]

    phone = sign_in(browser, base, "hu12350", PHONE)
    phone.goto(f"{base}/cases?tab=to_review")
    expect(phone.locator("nav.tabs a.on")).to_have_text("待回访审核")
    phone.screenshot(path=str(shots / "web_hotline_list_phone_zh.png"), full_page=True)
    phone.context.close()
    page.context.close()


def test_a_hotline_unit_cannot_open_another_hotlines_case(dep: Deployment, base: str, browser: Browser) -> None:
    other = dep.new_case("市政府热线的工单：道路破损")  # hotline 12345
    dep.dispatch(other["id"], "water")
    page = sign_in(browser, base, "hu12350")
    expect(page.locator("#rows")).not_to_contain_text(other["number"])
    refused = open_refused(page, base, dep, "hu12350", other, "道路破损")
    assert refused.case_id == other["id"] and refused.role == "hotline_unit"
    assert '"error_id": "case_not_found"' in (refused.detail or "")

    page.goto(f"{base}/cases")
    token = page.locator("input[name=csrf]").first.get_attribute("value") or ""
    for action in ("dispatch", "supervise", "accept_return"):  # nor any action, with a valid form
        posted = page.request.post(f"{base}/cases/{other['id']}/{action}", form={"csrf": token, "lead": "1"})
        assert posted.status == 404
    assert dep.get_case(other["id"])["status"] == "dispatched"
    page.context.close()


def test_the_hotline_units_list_tabs_and_a_departments_refused_oversight(dep: Deployment, base: str) -> None:
    waiting = dep.safety_case("尾矿库坝体渗水")
    client = Client.signed_in(base, "hu12350")
    assert waiting["number"] in client.request("/cases").body  # 待派单: received, not dispatched yet
    assert waiting["number"] not in client.request("/cases?tab=returns").body

    water = Client.signed_in(base, "water")
    before = len(dep.audit_rows(action="refused", login="water"))
    assert water.request("/kpi").status == 403
    assert water.request("/kpi.csv").status == 403
    assert water.request("/oversight").status == 403
    refused = dep.audit_rows(action="refused", login="water")[before:]
    assert len(refused) == 3 and all('"error_id": "case_permission_denied"' in (r.detail or "") for r in refused)


def test_the_hotline_unit_follows_up_sends_back_with_a_new_time_limit_and_approves(dep: Deployment, base: str) -> None:
    case = dep.safety_case("企业安全出口上锁")
    cid, page = case["id"], f"/cases/{case['id']}"
    dep.act("hu12350", Msg.DISPATCH_CASE, case_id=cid, units=[dep.units["safety"]], deadline_hours=72)
    dep.act("safety", Msg.ACCEPT_CASE, case_id=cid)
    dep.act("safety", Msg.HANDLE_CASE, case_id=cid, result="已责令整改")
    client = Client.signed_in(base, "hu12350")
    assert case["number"] in client.request("/cases?tab=to_review").body
    assert 'id="do-follow_up"' in client.request(page).body

    told = {"csrf": client.csrf(page), "reached": "yes", "solved": "no", "rating": "unsatisfied", "notes": "仍上锁"}
    assert client.request(f"{page}/follow_up", told).status == 303
    shown = client.request(page).body
    assert 'id="do-send_back"' in shown and 'id="do-approve"' not in shown  # 不满意: sent back, not approved
    blank = client.request(f"{page}/send_back", {"csrf": client.csrf(page), "reason": " "})
    assert blank.status == 400 and "操作未完成：发回重办须填写理由" in html.unescape(blank.body)
    nonsense = client.request(f"{page}/send_back", {"csrf": client.csrf(page), "reason": "x", "deadline_hours": "abc"})
    assert nonsense.status == 400 and "办理时限须为 1 至 8760 之间的小时数" in html.unescape(nonsense.body)
    assert dep.get_case(cid)["status"] == "followed_up"

    back = {"csrf": client.csrf(page), "reason": "安全出口仍上锁，请彻底整改", "deadline_hours": "48"}
    assert client.request(f"{page}/send_back", back).status == 303
    seen = dep.get_case(cid)
    share = seen["dispatches"][-1]
    assert seen["status"] == "in_progress" and seen["send_back_count"] == 1
    assert share["instructions"] == "安全出口仍上锁，请彻底整改"
    given = datetime.fromisoformat(share["deadline_at"]) - datetime.fromisoformat(share["dispatched_at"])
    assert given == timedelta(hours=48)

    dep.act("safety", Msg.HANDLE_CASE, case_id=cid, result="已拆除门锁，复查合格")
    fine = {"csrf": client.csrf(page), "reached": "yes", "solved": "yes", "rating": "satisfied"}
    assert client.request(f"{page}/follow_up", fine).status == 303
    assert client.request(f"{page}/approve", {"csrf": client.csrf(page)}).status == 303
    assert dep.get_case(cid)["status"] == "closed"
    moves = [r.action for r in dep.audit_rows(case_id=cid, login="hu12350") if r.action not in ("view", "list")]
    assert moves == ["dispatch", "follow_up", "refused", "send_back", "follow_up", "approve"]
