"""A department works its cases in a real Chromium against `hotline web` (a separate process): it signs in,
sees its list in Chinese, sees a case the agent dispatches meanwhile appear within 2 s without a reload, opens
it, signs for it and handles it; the agent's view of the case (what the desktop's get_case returns) shows the
result. A second department sees none of it: not in its list, not by id (404, and a `refused` audit row).
Screenshots of every page in Chinese, the list in English, and the list and the case at a phone's width."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Browser, expect

from tests.support.browser import OFFICE, PHONE, open_refused, sign_in
from tests.support.web import Deployment


def test_a_department_signs_for_and_handles_a_case_that_arrives_live(
    dep: Deployment, base: str, browser: Browser, shots: Path
) -> None:
    first = dep.new_case("幸福小区 3 号楼门前路灯不亮两周，晚上出行不便")
    dep.dispatch(first["id"], "water")

    login = browser.new_context(viewport=OFFICE).new_page()
    login.goto(f"{base}/login")
    expect(login.locator("h1")).to_have_text("登录")
    login.screenshot(path=str(shots / "web_login_zh.png"))
    login.context.close()

    page = sign_in(browser, base, "water")
    expect(page.locator("h1")).to_contain_text("我的待办")
    expect(page.locator(f"tr[data-case='{first['id']}']")).to_contain_text("待签收")
    expect(page.locator("#live")).to_be_visible()  # the live stream is open
    page.evaluate("window.stillTheSamePage = true")

    second = dep.new_case("供水管道破裂，路面积水，请尽快处理", address="和平路 8 号")
    dep.dispatch(second["id"], "water")
    row = page.locator(f"tr[data-case='{second['id']}']")
    expect(row).to_be_visible(timeout=2000)
    expect(row).to_contain_text(second["number"])
    assert page.evaluate("window.stillTheSamePage") is True  # no reload: the list region was replaced
    page.screenshot(path=str(shots / "web_list_zh.png"))

    page.click(f"a[href='/cases/{second['id']}']")
    expect(page.locator("h1")).to_contain_text(second["number"])
    expect(page.locator(".request")).to_have_text("供水管道破裂，路面积水，请尽快处理")
    expect(page.locator("dl.facts")).to_contain_text("张三")  # not confidential: the citizen is shown
    expect(page.locator("ol.trail")).to_contain_text("派单")
    page.screenshot(path=str(shots / "web_case_zh.png"), full_page=True)

    page.click("#do-accept")
    expect(page.locator(".notice")).to_have_text("已签收")
    expect(page.locator("h1 .st")).to_have_text("办理中")
    expect(page.locator("#do-accept")).to_have_count(0)
    page.fill("textarea[name=result]", "已安排维修人员更换破裂管段，恢复供水，路面已清理")
    page.click("#do-handle")
    expect(page.locator(".notice")).to_have_text("已提交办理结果")
    expect(page.locator("h1 .st")).to_have_text("已办理")
    expect(page.locator("ol.trail")).to_contain_text("已安排维修人员更换破裂管段")
    page.screenshot(path=str(shots / "web_case_handled_zh.png"), full_page=True)

    seen = dep.get_case(second["id"], "1001")  # what the agent's desktop gets for the case
    assert seen["status"] == "handled"
    assert seen["dispatches"][0]["result"] == "已安排维修人员更换破裂管段，恢复供水，路面已清理"
    actions = [(r.action, r.login) for r in dep.audit_rows(case_id=second["id"])]
    assert ("accept", "water") in actions and ("handle", "water") in actions and ("view", "water") in actions

    page.click("a.lang")
    expect(page.locator("a.lang")).to_have_text("中文")
    page.goto(f"{base}/cases")
    expect(page.locator("h1")).to_contain_text("My work")
    expect(page.locator(f"tr[data-case='{first['id']}']")).to_contain_text("To sign for")
    page.screenshot(path=str(shots / "web_list_en.png"))
    page.context.close()

    phone = sign_in(browser, base, "water", PHONE)
    expect(phone.locator(f"tr[data-case='{first['id']}']")).to_be_visible()
    phone.screenshot(path=str(shots / "web_list_phone_zh.png"), full_page=True)
    phone.goto(f"{base}/cases/{first['id']}")
    expect(phone.locator("#do-accept")).to_be_visible()
    phone.screenshot(path=str(shots / "web_case_phone_zh.png"), full_page=True)
    phone.context.close()


def test_a_second_department_never_sees_another_units_case(
    dep: Deployment, base: str, browser: Browser, shots: Path
) -> None:
    case = dep.new_case("自来水发黄有异味")
    dep.dispatch(case["id"], "water")
    page = sign_in(browser, base, "lights")
    expect(page.locator(".empty")).to_have_text("暂无工单")
    expect(page.locator("#rows")).not_to_contain_text(case["number"])
    page.goto(f"{base}/cases?q={case['number']}")
    expect(page.locator("#rows")).not_to_contain_text(case["number"])

    refused = open_refused(page, base, dep, "lights", case, "自来水发黄")
    page.screenshot(path=str(shots / "web_not_found_zh.png"))
    assert refused.case_id == case["id"] and refused.role == "department"
    assert '"error_id": "case_not_found"' in (refused.detail or "")

    # and no action on it either, even with a valid form of its own session
    csrf = page.goto(f"{base}/cases")
    assert csrf is not None
    token = page.locator("input[name=csrf]").first.get_attribute("value")
    answer2 = page.request.post(f"{base}/cases/{case['id']}/accept", form={"csrf": token or ""})
    assert answer2.status == 404
    assert dep.get_case(case["id"])["status"] == "dispatched"
    page.context.close()


def test_a_confidential_case_hides_the_citizen_from_the_unit(dep: Deployment, base: str, browser: Browser) -> None:
    case = dep.new_case("举报小区违规排污", confidential=True, citizen_name="李四", contact="13900139000")
    dep.dispatch(case["id"], "water")
    page = sign_in(browser, base, "water")
    page.goto(f"{base}/cases/{case['id']}")
    expect(page.locator("dl.facts .conf")).to_have_text("保密工单：诉求人信息仅热线中心可见")
    html = page.content()
    assert "李四" not in html and "13900139000" not in html and "13800138000" not in html
    page.context.close()
