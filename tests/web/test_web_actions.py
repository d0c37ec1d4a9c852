"""The department's actions as forms post them (a plain HTTP client against `hotline web`): a return needs
its reason and takes the case back to the centre; a result left empty is the service's refusal, shown on
the case with nothing changed; an action the service does not allow now (signing for a case twice) is
refused the same way; an unknown action is a 404. Each is audited by the service."""

from __future__ import annotations

import html

from tests.support.web import Client, Deployment


def test_a_return_needs_a_reason_and_sends_the_case_back(dep: Deployment, base: str) -> None:
    case = dep.new_case("小区垃圾清运不及时")
    dep.dispatch(case["id"], "water")
    client = Client.signed_in(base, "water")
    page = f"/cases/{case['id']}"

    empty = client.request(f"{page}/return", {"csrf": client.csrf(page), "reason": "  "})
    assert empty.status == 400
    assert "操作未完成：请填写退单理由" in html.unescape(empty.body)
    assert dep.get_case(case["id"])["status"] == "dispatched"
    refused = dep.audit_rows(action="refused", login="water", case_id=case["id"])
    assert refused and '"error_id": "case_invalid_input"' in (refused[-1].detail or "")

    form = {"csrf": client.csrf(page), "reason_code": "not_our_duty", "reason": "属于环卫所职责，请改派"}
    done = client.request(f"{page}/return", form)
    assert (done.status, done.headers["Location"]) == (303, f"{page}?done=return")
    seen = dep.get_case(case["id"])  # a return is a request the centre reviews (退单审核): the share waits for it
    assert seen["status"] == "dispatched" and seen["dispatches"][0]["status"] == "return_requested"
    assert [(r["reason_code"], r["reason"], r["status"]) for r in seen["returns"]] == [
        ("not_our_duty", "属于环卫所职责，请改派", "pending")
    ]
    after = client.request(f"{page}?done=return")
    assert "退单待审核" in after.body and "属于环卫所职责，请改派" in after.body
    assert 'id="do-accept"' not in after.body and 'id="do-return"' not in after.body


def test_what_the_service_does_not_allow_now_is_refused_and_shown(dep: Deployment, base: str) -> None:
    case = dep.new_case("楼道灯坏了")
    dep.dispatch(case["id"], "water")
    client = Client.signed_in(base, "water")
    page = f"/cases/{case['id']}"
    assert client.request(f"{page}/accept", {"csrf": client.csrf(page)}).status == 303

    again = client.request(f"{page}/accept", {"csrf": client.csrf(page)})
    assert again.status == 409 and "操作未完成：工单当前状态不允许此操作" in again.body
    blank = client.request(f"{page}/handle", {"csrf": client.csrf(page), "result": ""})
    assert blank.status == 400 and "操作未完成：请填写办理结果" in html.unescape(blank.body)
    assert dep.get_case(case["id"])["status"] == "in_progress"
    assert client.request(f"{page}/close", {"csrf": client.csrf(page)}).status == 404
    assert client.request("/cases/999999", {}).status == 405  # only the actions take a POST
    missing = client.request("/cases/999999")
    assert missing.status == 404


def test_a_second_level_unit_sees_the_cases_of_its_third_level_units(dep: Deployment, base: str) -> None:
    case = dep.new_case("一站辖区水压低")
    dep.dispatch(case["id"], "station")  # 供水所一站, under 供水所
    water, lights = Client.signed_in(base, "water"), Client.signed_in(base, "lights")
    assert case["number"] in water.request("/cases?tab=to_sign").body
    detail = water.request(f"/cases/{case['id']}")
    assert detail.status == 200 and "供水所一站" in detail.body and 'id="do-accept"' in detail.body
    assert case["number"] not in lights.request("/cases").body
    assert lights.request(f"/cases/{case['id']}").status == 404
