"""Supervisors, leaders and a hotline unit read the overdue and problem work orders (问题工单) and the KPI
report in a real Chromium against `hotline web`. The KPI page's figures (this month by default) are those
`kpi.compute` gives for the same period, per hotline and per unit, the units ranked by on-time rate, and the
CSV it downloads has the same figures; a hotline unit sees its hotline's only. Screenshots of the oversight
and KPI pages in Chinese, the KPI page in English."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Page, expect

from ari_app.cases import queries
from ari_app.cases.kpi import KpiReport, KpiRow, compute
from ari_app.protocol import Msg
from tests.support.browser import PHONE, sign_in
from tests.support.waiting import wait_for
from tests.support.web import Deployment


@pytest.fixture(scope="module")
def world(dep: Deployment) -> dict[str, dict[str, object]]:
    """Cases of both hotlines: 12345's handled on time by 供水所, overdue with 路灯所, not dispatched; 12350's
    handled by 安监站, and a problem work order (three returns accepted and re-dispatched, 改派 ×3)."""
    handled = dep.new_case("水表漏水")
    dep.dispatch(handled["id"], "water")
    dep.act("water", Msg.ACCEPT_CASE, case_id=handled["id"])
    dep.act("water", Msg.HANDLE_CASE, case_id=handled["id"], result="已更换水表")
    late = dep.new_case("路灯倒伏，存在安全隐患")
    dep.dispatch(late["id"], "lights", hours=0.0003)  # a deadline about a second away
    dep.new_case("咨询停水时间")
    safe = dep.safety_case("加油站旁违规动火作业")
    dep.act("hu12350", Msg.DISPATCH_CASE, case_id=safe["id"], units=[dep.units["safety"]], deadline_hours=72)
    dep.act("safety", Msg.ACCEPT_CASE, case_id=safe["id"])
    dep.act("safety", Msg.HANDLE_CASE, case_id=safe["id"], result="已责令停止作业")
    problem = dep.safety_case("烟花爆竹非法储存，多次反映无果")
    for _ in range(3):
        dep.act("hu12350", Msg.DISPATCH_CASE, case_id=problem["id"], units=[dep.units["chem"]], deadline_hours=72)
        dep.act("chem", Msg.RETURN_CASE, case_id=problem["id"], reason="不归本科管")
        dep.act("hu12350", Msg.REVIEW_RETURN, case_id=problem["id"], approved=True)
    dep.act("hu12350", Msg.DISPATCH_CASE, case_id=problem["id"], units=[dep.units["chem"]], deadline_hours=72)
    assert dep.get_case(problem["id"])["problem_at"] is not None
    boss = dep.actor("boss")
    wait_for(
        lambda: any(r["id"] == late["id"] for r in queries.list_cases(dep.sessions, boss, overdue=True)),
        10,
        "the short deadline to pass",
    )
    return {"handled": handled, "late": late, "safe": safe, "problem": problem}


def this_month(dep: Deployment) -> tuple[KpiReport, datetime]:
    zone = ZoneInfo(dep.cfg.timezone)
    today = datetime.now(UTC).astimezone(zone).date()
    with dep.sessions() as s:
        return compute(s, today.replace(day=1), today + timedelta(days=1), tz=zone, now=datetime.now(UTC)), today


def pct(v: float | None) -> str:
    return "–" if v is None else f"{v * 100:.1f}%"


def cells(r: KpiRow) -> list[str]:
    return [
        str(r.intake),
        str(r.handled),
        str(r.closed),
        pct(r.handling_rate),
        pct(r.closure_rate),
        f"{pct(r.on_time_rate)} ({r.on_time}/{r.due})",
        f"{pct(r.satisfaction_rate)} ({r.satisfied}/{r.reached})",
    ]


def shown(page: Page, table: str, key: str) -> list[str]:
    return [" ".join(c.split()) for c in page.locator(f"#{table} tr[data-key='{key}'] td.n").all_inner_texts()]


def test_the_supervisors_kpi_page_shows_kpi_compute_and_its_csv(
    dep: Deployment, base: str, browser: Browser, shots: Path, world: dict[str, dict[str, object]]
) -> None:
    page = sign_in(browser, base, "boss")
    page.click("nav.sections >> text=统计考核")
    expect(page.locator("h1")).to_have_text("统计考核")
    report, today = this_month(dep)
    assert page.locator("input[name=from]").input_value() == today.replace(day=1).isoformat()
    assert page.locator("input[name=to]").input_value() == today.isoformat()

    assert report.total.intake >= 5
    keys = page.locator("#kpi-hotlines tbody tr").evaluate_all("rows => rows.map(r => r.dataset.key)")
    assert keys == [r.key for r in report.by_hotline] + ["total"]
    for r in report.by_hotline:
        assert shown(page, "kpi-hotlines", r.key) == cells(r), r.key
    assert shown(page, "kpi-hotlines", "total") == cells(report.total)
    ranked = sorted(report.by_unit, key=lambda r: (r.due == 0, -(r.on_time / r.due if r.due else 0), -r.due, r.key))
    order = page.locator("#kpi-units tbody tr").evaluate_all("rows => rows.map(r => r.dataset.key)")
    assert order == [r.key for r in ranked]
    assert {"供水所", "路灯所", "安监站", "危化品科"} <= set(order)
    for n, r in enumerate(ranked, 1):
        assert shown(page, "kpi-units", r.key) == [str(n), *cells(r)], r.key
    bars = page.locator("#chart-hotlines rect.bar")
    expect(bars).to_have_count(len([r for r in report.by_hotline if r.handling_rate]))  # a bar a rate above 0
    busy = [d for d, n in report.per_day if n]
    expect(page.locator("#chart-days rect.bar")).to_have_count(len(busy))
    expect(page.locator("#chart-days")).to_contain_text(f"{busy[-1].strftime('%m-%d')}")
    assert "<script" not in page.content()
    page.screenshot(path=str(shots / "web_kpi_zh.png"), full_page=True)

    with page.expect_download() as got:
        page.click("#csv")
    download = got.value
    assert download.suggested_filename == f"kpi_{today.replace(day=1).isoformat()}_{today.isoformat()}.csv"
    path = download.path()
    text = Path(path).read_text(encoding="utf-8-sig")  # newlines read as \n
    figures_part, _, days_part = text.partition("\n\n")  # the figures, a blank line, the intake per day
    rows = {(r["scope"], r["key"]): r for r in csv.DictReader(figures_part.splitlines())}
    days = {r["date"]: int(r["intake"]) for r in csv.DictReader(days_part.splitlines())}
    assert days == {d.isoformat(): n for d, n in report.per_day}  # the intake per day, as the page's chart
    assert sum(days.values()) == report.total.intake
    expected = [report.total, *report.by_hotline, *report.by_type, *report.by_unit]
    assert set(rows) == {(r.scope, r.key) for r in expected}  # no per-agent rows; per request type too
    for r in expected:
        got_row = rows[(r.scope, r.key)]
        figures = [int(got_row[k]) for k in ("intake", "handled", "closed", "on_time", "due", "reached", "satisfied")]
        assert figures == [r.intake, r.handled, r.closed, r.on_time, r.due, r.reached, r.satisfied], r.key
    audited = dep.audit_rows(action="kpi", login="boss")
    assert len(audited) == 2 and '"hotline": null' in (audited[-1].detail or "")

    page.click("a.lang")
    expect(page.locator("h1")).to_have_text("KPIs")
    expect(page.locator("#kpi-units thead")).to_contain_text("On-time rate")
    page.screenshot(path=str(shots / "web_kpi_en.png"), full_page=True)
    page.context.close()


def test_a_hotline_unit_sees_the_kpis_of_its_hotline_only(
    dep: Deployment, base: str, browser: Browser, shots: Path, world: dict[str, dict[str, object]]
) -> None:
    page = sign_in(browser, base, "hu12350")
    page.goto(f"{base}/kpi")
    report, _ = this_month(dep)
    line = next(r for r in report.by_hotline if r.key == "12350")
    keys = page.locator("#kpi-hotlines tbody tr").evaluate_all("rows => rows.map(r => r.dataset.key)")
    assert keys == ["12350", "total"]
    assert shown(page, "kpi-hotlines", "12350") == cells(line) == shown(page, "kpi-hotlines", "total")
    units = set(page.locator("#kpi-units tbody tr").evaluate_all("rows => rows.map(r => r.dataset.key)"))
    assert units == {r.key for r in report.by_unit} & {"安监站", "消防站", "危化品科"}
    assert "供水所" not in page.content() and "路灯所" not in page.content()
    page.screenshot(path=str(shots / "web_kpi_hotline_zh.png"), full_page=True)

    with page.expect_download() as got:
        page.click("#csv")
    with open(got.value.path(), encoding="utf-8-sig", newline="") as f:
        scopes = {(r["scope"], r["key"]) for r in csv.DictReader(f)}
    assert ("hotline", "12345") not in scopes and ("unit", "供水所") not in scopes
    assert ("hotline", "12350") in scopes and ("total", "all") in scopes
    assert '"hotline": "12350"' in (dep.audit_rows(action="kpi", login="hu12350")[-1].detail or "")
    page.context.close()

    phone = sign_in(browser, base, "hu12350", PHONE)
    phone.goto(f"{base}/kpi")
    expect(phone.locator("#kpi-units tbody tr")).to_have_count(len(units))
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], width  # the tables scroll inside their cards, the page does not
    phone.screenshot(path=str(shots / "web_kpi_phone_zh.png"), full_page=True)
    phone.context.close()


def test_overdue_and_problem_work_orders_across_units(
    dep: Deployment, base: str, browser: Browser, shots: Path, world: dict[str, dict[str, object]]
) -> None:
    late, problem = world["late"], world["problem"]
    page = sign_in(browser, base, "boss")
    page.click("nav.sections >> text=超期与问题工单")
    expect(page.locator("h1")).to_have_text("超期与问题工单")
    row = page.locator(f"tr[data-case='{late['id']}']")
    expect(row).to_contain_text("路灯所")
    expect(row).to_contain_text("已超期")
    expect(page.locator(f"tr[data-case='{problem['id']}']")).to_have_count(0)  # its deadline is days away
    page.screenshot(path=str(shots / "web_oversight_zh.png"), full_page=True)

    page.click("nav.tabs >> text=问题工单")
    row = page.locator(f"tr[data-case='{problem['id']}']")
    expect(row).to_contain_text("问题工单")
    expect(row).to_contain_text("危化品科")
    expect(row).to_contain_text("1 级")  # supervision raised a level (提级督办)
    expect(row).to_contain_text("改派 3 次")
    page.screenshot(path=str(shots / "web_oversight_problem_zh.png"), full_page=True)
    reads = [json.loads(r.detail or "{}") for r in dep.audit_rows(action="oversight", login="boss")]
    assert reads[-2:] == [{"kind": "overdue", "found": 1}, {"kind": "problem", "found": 1}]
    page.context.close()

    mine = sign_in(browser, base, "hu12350")
    mine.goto(f"{base}/oversight")
    expect(mine.locator(".empty")).to_have_text("暂无工单")  # 12345's overdue case is not its hotline's
    mine.goto(f"{base}/oversight?tab=problem")
    expect(mine.locator(f"tr[data-case='{problem['id']}']")).to_be_visible()
    mine.context.close()
