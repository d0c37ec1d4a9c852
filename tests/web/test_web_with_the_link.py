"""The web front as `hotline serve` runs it (`web.enabled`): in the server's process, on its bus and with the
desktop link's sign-in guard. An agent takes a case and dispatches it over the desktop link (a real
websocket client); the department's page in a real Chromium shows it within 2 s without a reload (the bus's
case event, not a poll); the department signs for it and handles it in the page, and the agent's desktop is
pushed the change and reads the result with `get_case`."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

from playwright.async_api import async_playwright, expect
from sqlalchemy.orm import Session, sessionmaker

from ari_app import protocol as p
from ari_app.bus import EventBus
from ari_app.cases.events import CaseEvent
from ari_app.config import Config
from ari_app.link import LinkServer
from ari_app.web.app import WebServer, build_app
from schema.cases import CooperatingUnit
from schema.users import Role
from tests.support.link import case_fields
from tests.support.users import PASSWORD, user
from tests.support.web import free_port

CHROMIUM = "/usr/bin/chromium"


async def test_a_case_dispatched_over_the_desktop_link_is_worked_in_the_browser(
    cfg: Config,
    sessions: sessionmaker[Session],
    server: LinkServer,
    case_bus: EventBus,
    desktop: Any,
    shots: Path,
) -> None:
    with sessions.begin() as s:
        unit = CooperatingUnit(name="供热公司", level=2)
        s.add(unit)
        s.flush()
        unit_id = unit.id
        s.add(user("heat", Role.DEPARTMENT, display_name="供热公司 周丽", unit_id=unit_id))
    web_cfg = dataclasses.replace(cfg, web=dataclasses.replace(cfg.web, enabled=True, port=free_port()))
    app = build_app(web_cfg, sessions, guard=server.guard, standalone=False)
    case_bus.subscribe(app.hub.on_case_event, CaseEvent, name="web")  # as ari_app.server wires it
    web = WebServer(web_cfg, app)
    await web.start()
    agent = await desktop()
    assert (await agent.sign_in("1001"))["type"] == p.Msg.SIGNED_IN
    try:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True)
            page = await (await browser.new_context(viewport={"width": 1366, "height": 768})).new_page()
            await page.goto(f"{web.url}/login")
            await page.fill("input[name=login]", "heat")
            await page.fill("input[name=password]", PASSWORD)
            await page.click("button[type=submit]")
            await expect(page).to_have_url(re.compile(r"/cases$"))
            await expect(page.locator(".empty")).to_be_visible()
            await expect(page.locator("#live")).to_be_visible()
            await page.evaluate("window.stillTheSamePage = true")

            created = await agent.request(
                p.Msg.CREATE_CASE,
                **case_fields("暖气不热，室温只有 12 度", address="团结路 5 号 2 单元", urgency="urgent"),
            )
            case = created["case"]
            sent = await agent.request(p.Msg.DISPATCH_CASE, case_id=case["id"], units=[unit_id], deadline_hours=24)
            assert sent["type"] == p.Msg.CASE_UPDATED, sent
            row = page.locator(f"tr[data-case='{case['id']}']")
            await expect(row).to_be_visible(timeout=2000)
            assert await page.evaluate("window.stillTheSamePage") is True

            await page.click(f"a[href='/cases/{case['id']}']")
            await page.click("#do-accept")
            await expect(page.locator(".notice")).to_have_text("已签收")
            await page.fill("textarea[name=result]", "已派维修人员排气，室温恢复到 20 度")
            await page.click("#do-handle")
            await expect(page.locator("h1 .st")).to_have_text("已办理")
            await page.screenshot(path=str(shots / "web_case_over_link_zh.png"), full_page=True)
            await browser.close()

        while True:  # the agent's desktop is told the case is handled (it may act now: follow-up)
            pushed = await agent.push(p.Msg.CASE_EVENT)
            if pushed["case_id"] == case["id"] and pushed.get("to") == "handled":
                break
        seen = await agent.request(p.Msg.GET_CASE, case_id=case["id"])
        assert seen["case"]["status"] == "handled"
        assert seen["case"]["dispatches"][0]["result"] == "已派维修人员排气，室温恢复到 20 度"
    finally:
        await web.stop()
