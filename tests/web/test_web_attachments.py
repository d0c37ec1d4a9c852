"""Photos on the web front, in a real Chromium against `hotline web`: a department uploads a JPEG to its case
(the file input a phone opens its camera from), sees it listed, downloads it (always as a download, its sniffed
type, `nosniff`), and hands in its result with a photo; a second department asking for the same attachment
URL gets 404 and a `refused` audit row on the case. An HTML file named `.jpg` is refused and never stored, a
file over the size limit is refused with the limit in the page, and a body over what an upload may carry is
refused before it is read. An upload without its CSRF token, or with a wrong one, is refused (403), audited,
and keeps nothing."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Browser, Page, expect

from ari_app.protocol import Msg
from tests.support.attachments import HTML, jpeg
from tests.support.browser import PHONE, sign_in
from tests.support.web import Deployment

MIB = 1024 * 1024


def choose(page: Page, form: str, name: str, data: bytes, mime: str = "image/jpeg") -> None:
    page.set_input_files(f"{form} input[name=photo]", files=[{"name": name, "mimeType": mime, "buffer": data}])


def test_a_department_uploads_a_photo_downloads_it_and_another_unit_gets_404(
    dep: Deployment, base: str, browser: Browser, shots: Path, tmp_path: Path
) -> None:
    case = dep.new_case("井盖缺失，行人易跌落", address="团结路 5 号")
    dep.dispatch(case["id"], "water")
    dep.act("water", Msg.ACCEPT_CASE, case_id=case["id"])
    page = sign_in(browser, base, "water", PHONE)
    page.goto(f"{base}/cases/{case['id']}")
    photo_input = page.locator("#form-upload input[name=photo]")
    assert photo_input.get_attribute("accept") == "image/*"
    assert photo_input.get_attribute("capture") == "environment"  # a phone offers its camera
    expect(page.locator("#attachments + .empty")).to_have_text("暂无附件")
    photo = jpeg(7, (64, 48))
    choose(page, "#form-upload", "现场照片.jpg", photo)
    page.click("#do-upload")
    expect(page.locator(".notice")).to_have_text("附件已上传")
    link = page.locator("ul.files a", has_text="现场照片.jpg")
    expect(link).to_be_visible()
    expect(page.locator("ul.files")).to_contain_text("image/jpeg")
    page.screenshot(path=str(shots / "web_upload_phone_zh.png"), full_page=True)

    with page.expect_download() as got:
        link.click()
    saved = tmp_path / "got.jpg"
    got.value.save_as(saved)
    assert saved.read_bytes() == photo
    assert got.value.suggested_filename == "现场照片.jpg"
    href = link.get_attribute("href") or ""
    assert re.fullmatch(r"/attachments/[A-Za-z0-9_-]{43}", href)  # its random token, nothing guessable
    answer = page.request.get(base + href)
    assert answer.status == 200 and answer.body() == photo
    assert answer.headers["content-type"] == "image/jpeg"
    assert answer.headers["content-disposition"].startswith("attachment;")
    assert answer.headers["x-content-type-options"] == "nosniff"

    seen = dep.get_case(case["id"])  # what the agent's desktop lists: on the unit's own share (its result)
    (added,) = seen["attachments"]
    assert added["mime"] == "image/jpeg" and added["dispatch_id"] == seen["dispatches"][0]["id"]
    assert ("attachment_added", "water") in [(r.action, r.login) for r in dep.audit_rows(case_id=case["id"])]
    assert ("attachment_read", "water") in [(r.action, r.login) for r in dep.audit_rows(case_id=case["id"])]

    office = sign_in(browser, base, "water")
    office.goto(f"{base}/cases/{case['id']}")
    office.screenshot(path=str(shots / "web_upload_zh.png"), full_page=True)
    office.context.close()
    page.context.close()

    other = sign_in(browser, base, "lights")
    before = len(dep.audit_rows(action="refused", login="lights"))
    refused = other.request.get(base + href)
    assert refused.status == 404 and photo not in refused.body()
    assert "没有这个附件，或您无权查看" in refused.text()
    rows = dep.audit_rows(action="refused", login="lights")[before:]
    assert len(rows) == 1 and rows[0].case_id == case["id"]
    assert '"error_id": "attachment_not_found"' in (rows[0].detail or "")
    assert other.request.get(f"{base}/attachments/{'x' * 43}").status == 404
    other.context.close()


def test_html_named_jpg_and_an_oversize_file_are_refused_with_a_clear_message(
    dep: Deployment, base: str, browser: Browser, shots: Path
) -> None:
    case = dep.new_case("小区门口垃圾堆放多日", address="友好路 9 号")
    dep.dispatch(case["id"], "water")
    dep.act("water", Msg.ACCEPT_CASE, case_id=case["id"])
    page = sign_in(browser, base, "water")
    page.goto(f"{base}/cases/{case['id']}")

    choose(page, "#form-upload", "photo.jpg", HTML)
    with page.expect_response(re.compile(r"/attachments$")) as sent:
        page.click("#do-upload")
    assert sent.value.status == 400
    expect(page.locator(".error")).to_contain_text("不支持此文件类型（识别为 text/html）")
    expect(page.locator("ul.files li")).to_have_count(0)
    assert "evil.example" not in page.content()  # nothing of it is shown, let alone run
    page.screenshot(path=str(shots / "web_upload_refused_zh.png"), full_page=True)

    big = jpeg(3) + b"\0" * (10 * MIB)  # one byte past 10 MiB and then some: over cases.attachments.max_file_mb
    choose(page, "#form-upload", "big.jpg", big)
    page.click("#do-upload")
    expect(page.locator(".error")).to_contain_text("文件过大：单个文件不能超过 10 MB")
    expect(page.locator("ul.files li")).to_have_count(0)

    page.fill("#form-handle textarea[name=result]", "已清运垃圾，并安排每日巡查")  # the result with a bad photo
    choose(page, "#form-handle", "result.jpg", HTML)
    page.click("#do-handle")
    expect(page.locator(".error")).to_contain_text("不支持此文件类型")
    expect(page.locator("h1 .st")).to_have_text("办理中")  # not handled
    expect(page.locator("#form-handle textarea[name=result]")).to_have_value("已清运垃圾，并安排每日巡查")  # kept

    choose(page, "#form-handle", "result.jpg", jpeg(9))
    page.click("#do-handle")
    expect(page.locator(".notice")).to_have_text("已提交办理结果")
    expect(page.locator("ul.files a", has_text="result.jpg")).to_be_visible()
    assert dep.get_case(case["id"])["status"] == "handled"

    csrf = page.locator("#form-upload input[name=csrf]").get_attribute("value") or ""
    huge = page.request.post(
        f"{base}/cases/{case['id']}/attachments",
        multipart={"csrf": csrf, "photo": {"name": "huge.jpg", "mimeType": "image/jpeg", "buffer": big + big}},
    )
    assert huge.status == 413 and "文件超过大小限制" in huge.text()
    refused = [r for r in dep.audit_rows(action="refused", login="water", case_id=case["id"])]
    assert sum('"error_id": "attachment_type_refused"' in (r.detail or "") for r in refused) == 2
    assert sum('"error_id": "attachment_too_large"' in (r.detail or "") for r in refused) == 1
    page.context.close()


def test_an_upload_without_its_csrf_token_is_refused_and_keeps_nothing(
    dep: Deployment, base: str, browser: Browser
) -> None:
    case = dep.new_case("路边树枝折断悬挂", address="光明路 2 号")
    dep.dispatch(case["id"], "water")
    page = sign_in(browser, base, "water")
    before = len(dep.audit_rows(action="refused", login="water"))
    photo = {"name": "p.jpg", "mimeType": "image/jpeg", "buffer": jpeg(5)}
    for fields in ({"photo": photo}, {"csrf": "0" * 64, "photo": photo}):
        answer = page.request.post(f"{base}/cases/{case['id']}/attachments", multipart=fields)  # type: ignore[arg-type]
        assert answer.status == 403 and "安全校验未通过" in answer.text()
    assert dep.get_case(case["id"])["attachments"] == []
    refused = dep.audit_rows(action="refused", login="water")[before:]
    assert len(refused) == 2 and all('"error_id": "csrf_failed"' in (r.detail or "") for r in refused)
    page.context.close()
