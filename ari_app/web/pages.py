"""The web front's routes (docs/web.md, "Pages"): sign-in and sign-out, the to-do list, a case's detail and
its actions, the live-update stream, the language switch.

Every page and action asks the case service (ari_app.cases.queries: `list_cases`, `get_case`, `act`), which
checks the role and the unit's scope on the server, writes the audit (a refusal included: a case of another
unit is `case_not_found`, a 404 here, with one `refused` entry), and hides a confidential case's citizen
from units (ari_app.cases.disclosure). The pages show what it returns and offer only the actions it lists in
`allowed_actions`; a forged form is still refused by the service.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from jinja2 import Environment
from sqlalchemy.orm import Session, sessionmaker
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from ari_app.cases import oversight, queries
from ari_app.cases.calendar import WorkCalendar
from ari_app.cases.errors import (
    AttachmentNotFound,
    AttachmentRemoved,
    AttachmentTooLarge,
    AttachmentTypeRefused,
    CaseError,
    CaseNotFound,
    InvalidInput,
    PermissionDenied,
)
from ari_app.cases.kpi import KpiReport
from ari_app.cases.oversight import OVERSIGHT_ROLES
from ari_app.cases.report import csv_text
from ari_app.config import ATTACHMENT_TYPES
from ari_app.protocol import (
    RETURN_REASONS,
    CaseDetail,
    CaseListItem,
    DispatchSuggestion,
    ErrorId,
    ExtensionInfo,
    Msg,
    ProgressReportInfo,
    ReturnInfo,
)
from ari_app.web.charts import Bar, bar_chart
from ari_app.web.i18n import DEFAULT_LANG, LANGS, MESSAGES, translate
from ari_app.web.live import LiveHub
from ari_app.web.sessions import COOKIE, LOGIN_CSRF_COOKIE, TLS_COOKIE, Signed, WebSessions, csrf_ok, csrf_token
from ari_app.web.signin import WebSignIn
from schema.cases import Rating
from schema.users import Role

LANG_COOKIE = "hl_lang"
CODE_COOKIE = "hl_login_code"
"""The second sign-in step's token (ari_app.web.signin.Pending), on /login only."""
KEEPALIVE_SECONDS = 15.0
"""A live stream sends a comment this often when nothing happened, and checks its session is still alive."""
LIST_LIMIT = 200
"""Rows of the 临近到期 (due soon) tab, filtered after reading (the deadline in working days)."""
PAGE_SIZE = 50
"""Rows a page of a to-do list shows, most urgent first; `?page=N` for the next ones. At 1 000 000 cases a
page of 200 rows took p50 86 ms, most of it drawing the rows (benchmarks/bench_web.py, docs/web.md)."""
MAX_PAGE = 40
DUE_SOON_WORKING_DAYS = 1
"""`due soon`: an open case whose deadline is today or the next working day (ari_app.cases.calendar)."""
TABS = ("all", "to_sign", "in_progress", "overdue", "due_soon")
HOTLINE_TABS = ("to_dispatch", "returns", "extensions", "to_review", "overdue", "all")
"""A hotline unit's list (sub-platform mode): 待派单 (received, or back from its units: to dispatch again),
退单待审核, 延期待审批, 待回访审核 (handled: to follow up; followed up: to review), overdue, all open."""
OVERSIGHT_TABS = ("overdue", "problem")
ACTIONS = {
    "accept": Msg.ACCEPT_CASE,
    "return": Msg.RETURN_CASE,
    "request_extension": Msg.REQUEST_EXTENSION,
    "report_progress": Msg.REPORT_PROGRESS,
    "handle": Msg.HANDLE_CASE,
    "dispatch": Msg.DISPATCH_CASE,
    "accept_return": Msg.REVIEW_RETURN,
    "reject_return": Msg.REVIEW_RETURN,
    "approve_extension": Msg.DECIDE_EXTENSION,
    "refuse_extension": Msg.DECIDE_EXTENSION,
    "follow_up": Msg.FOLLOW_UP_CASE,
    "approve": Msg.REVIEW_CASE,
    "send_back": Msg.REVIEW_CASE,
    "supervise": Msg.SUPERVISE_CASE,
}
"""The actions of this front, each the request the desktop sends for it (queries.act; ari_app.protocol's
ACTION_REQUESTS and RULE_REQUESTS)."""
ACTION_FIELD = {"return": "reason", "handle": "result", "report_progress": "text"}
RATINGS = tuple(str(r) for r in Rating)
MAX_FORM_FIELDS = 200
"""A dispatch form names each unit chosen (up to the units listed on the case)."""
MAX_KPI_DAYS = 366
UPLOAD_PATH = re.compile(r"^/cases/[0-9]+/(attachments|handle)$")
"""The forms that carry a file (multipart): their body may be as large as one attachment (the rest: MAX_BODY)."""
MAX_TOKEN = 64
MIB = 1024 * 1024


@dataclass
class Context:
    """What the routes share: built once by ari_app.web.app.build_app."""

    sessions: sessionmaker[Session]
    web_sessions: WebSessions
    signin: WebSignIn
    hub: LiveHub
    templates: Environment
    zone: ZoneInfo
    calendar: WorkCalendar
    tls: bool
    clock: Callable[[], datetime]
    max_file_bytes: int
    """The attachment rules' size of one file (cases.attachments.max_file_mb): an upload reads no more."""

    @property
    def cookie(self) -> str:
        return TLS_COOKIE if self.tls else COOKIE


def lang_of(request: Request) -> str:
    lang = request.cookies.get(LANG_COOKIE, DEFAULT_LANG)
    return lang if lang in LANGS else DEFAULT_LANG


def source_of(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def local_path(text: str | None) -> str:
    """`text` if it is a path of this site (`/...`, not `//host`), else the list: no open redirect."""
    if text and text.startswith("/") and not text.startswith("//") and "\\" not in text:
        return text
    return "/cases"


def routes(ctx: Context) -> list[Route]:
    def render(request: Request, name: str, status: int = 200, **values: Any) -> HTMLResponse:
        lang = lang_of(request)

        def t(key: str, **kw: object) -> str:
            return translate(lang, key, **kw)

        def local(text: str | None) -> str:
            if not text:
                return ""
            return datetime.fromisoformat(text).astimezone(ctx.zone).strftime("%Y-%m-%d %H:%M")

        user = values.get("user")
        html = ctx.templates.get_template(name).render(
            t=t,
            lang=lang,
            local=local,
            zone=str(ctx.zone),
            path=request.url.path,
            query=request.url.query,
            oversee=user is not None and user.role in OVERSIGHT_ROLES,
            **values,
        )
        return HTMLResponse(html, status_code=status)

    def to_login(request: Request, ended: bool = False) -> RedirectResponse:
        resp = RedirectResponse("/login?ended=1" if ended else "/login", status_code=303)
        resp.delete_cookie(ctx.cookie, path="/", secure=ctx.tls, httponly=True, samesite="strict")
        return resp

    async def signed_in(request: Request, touch: bool = True) -> Signed | None:
        token = request.cookies.get(ctx.cookie)
        if not token or len(token) > 128:
            return None
        signed, ended = await asyncio.to_thread(ctx.web_sessions.check, token, touch=touch)
        if ended is not None:
            await ctx.signin.audit("session_ended", ended.login, reason=ended.reason, source=source_of(request))
        return signed

    async def read_form(request: Request, files: int = 0) -> FormData:
        return await request.form(max_files=files, max_fields=MAX_FORM_FIELDS, max_part_size=64 * 1024)

    async def csrf_refused(request: Request, signed: Signed | None, given: str | None) -> Response | None:
        ok = csrf_ok(signed.token, given) if signed else False
        if ok:
            return None
        user = signed.user if signed else None
        await ctx.signin.audit(
            "refused",
            user.login if user else "",
            str(user.role) if user else "",
            user.user_id if user else None,
            request=request.url.path,
            error_id=ErrorId.CSRF_FAILED,
            source=source_of(request),
        )
        return render(request, "error.html", 403, message_key="csrf", user=user)

    # --- sign-in --------------------------------------------------------------------------------------
    async def login_page(request: Request) -> Response:
        return login_form(request, None, 200)

    def login_form(request: Request, error: str | None, status: int, **kw: Any) -> Response:
        nonce = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(24)
        resp = render(
            request,
            "login.html",
            status,
            csrf=nonce,
            error=error,
            ended=request.query_params.get("ended") == "1",
            user=None,
            **kw,
        )
        resp.set_cookie(LOGIN_CSRF_COOKIE, nonce, path="/login", secure=ctx.tls, httponly=True, samesite="strict")
        return resp

    async def login(request: Request) -> Response:
        form = await read_form(request)
        nonce = request.cookies.get(LOGIN_CSRF_COOKIE)
        given = form.get("csrf")
        if not nonce or not isinstance(given, str) or not secrets.compare_digest(nonce, given):
            await ctx.signin.audit(
                "refused", "", request="/login", error_id=ErrorId.CSRF_FAILED, source=source_of(request)
            )
            return render(request, "error.html", 403, message_key="csrf", user=None)
        login_name, password = str(form.get("login") or ""), str(form.get("password") or "")
        outcome = await ctx.signin.sign_in(login_name, password[:1024], source_of(request))
        if outcome.user is None:
            if outcome.refused == "too_many_attempts":
                message = translate(lang_of(request), "too_many_attempts", seconds=outcome.retry_after)
                resp = login_form(request, message, 429, login=login_name)
                resp.headers["Retry-After"] = str(outcome.retry_after)
                return resp
            return login_form(request, translate(lang_of(request), "bad_credentials"), 401, login=login_name)
        if outcome.code_asked:  # the second factor: the code on a page of its own, by the step's own cookie
            step = ctx.signin.open_pending(outcome.user, source_of(request))
            resp = RedirectResponse("/login/code", status_code=303)
            resp.set_cookie(CODE_COOKIE, step, path="/login", secure=ctx.tls, httponly=True, samesite="strict")
            return resp
        return await signed_in_as(request, outcome.user)

    async def signed_in_as(request: Request, user: queries.UserRecord) -> Response:
        token = await asyncio.to_thread(ctx.web_sessions.open, user, source_of(request))
        resp = RedirectResponse("/cases", status_code=303)
        resp.set_cookie(ctx.cookie, token, path="/", secure=ctx.tls, httponly=True, samesite="strict")
        for name in (LOGIN_CSRF_COOKIE, CODE_COOKIE):
            resp.delete_cookie(name, path="/login", secure=ctx.tls, httponly=True, samesite="strict")
        return resp

    def code_form(request: Request, step: str, error: str | None, status: int) -> Response:
        return render(request, "login_code.html", status, csrf=csrf_token(step), error=error, user=None)

    async def code_page(request: Request) -> Response:
        step = request.cookies.get(CODE_COOKIE, "")
        if ctx.signin.pending(step) is None:
            return RedirectResponse("/login", status_code=303)
        return code_form(request, step, None, 200)

    async def code(request: Request) -> Response:
        """The second step: the one-time code, with a CSRF token bound to the step's cookie."""
        form = await read_form(request)
        step = request.cookies.get(CODE_COOKIE, "")
        pending = ctx.signin.pending(step)
        if pending is None:
            return RedirectResponse("/login?ended=1", status_code=303)
        if not csrf_ok(step, _text(form, "csrf")):
            await ctx.signin.audit(
                "refused",
                pending.user.login,
                request="/login/code",
                error_id=ErrorId.CSRF_FAILED,
                source=source_of(request),
            )
            return render(request, "error.html", 403, message_key="csrf", user=None)
        lang = lang_of(request)
        outcome = await ctx.signin.second_factor(step, _text(form, "code") or "", source_of(request))
        if outcome.user is not None:
            return await signed_in_as(request, outcome.user)
        if outcome.refused == "too_many_attempts":
            resp = code_form(request, step, translate(lang, "too_many_attempts", seconds=outcome.retry_after), 429)
            resp.headers["Retry-After"] = str(outcome.retry_after)
            return resp
        if ctx.signin.pending(step) is None:  # too many wrong codes: the password again
            return RedirectResponse("/login?ended=1", status_code=303)
        return code_form(request, step, translate(lang, "bad_code"), 401)

    async def logout(request: Request) -> Response:
        signed = await signed_in(request, touch=False)
        if signed is None:
            return to_login(request)
        form = await read_form(request)
        refused = await csrf_refused(request, signed, _text(form, "csrf"))
        if refused is not None:
            return refused
        await asyncio.to_thread(ctx.web_sessions.close, signed.token)
        user = signed.user
        await ctx.signin.audit("sign_out", user.login, str(user.role), user.user_id, source=source_of(request))
        return to_login(request)

    async def switch_lang(request: Request) -> Response:
        lang = request.path_params["lang"]
        resp = RedirectResponse(local_path(request.query_params.get("next")), status_code=303)
        if lang in LANGS:
            resp.set_cookie(LANG_COOKIE, lang, path="/", secure=ctx.tls, httponly=True, samesite="strict")
        return resp

    async def home(request: Request) -> Response:
        return RedirectResponse("/cases", status_code=303)

    # --- the to-do list -------------------------------------------------------------------------------
    def deadline_note(row: CaseListItem, now: datetime) -> tuple[str, int | None]:
        """(`overdue` | `due_today` | `days`, working days left) for a row's deadline."""
        if not row.get("deadline_at") or row["status"] == "closed":
            return "", None
        if row.get("overdue"):
            return "overdue", None
        try:
            left = ctx.calendar.working_days_between(now, datetime.fromisoformat(str(row["deadline_at"])))
        except CaseError:  # a year the working-day calendar does not know
            return "", None
        return ("due_today", 0) if left <= 0 else ("days", left)

    async def case_list(request: Request) -> Response:
        fragment = request.headers.get("x-fragment") == "rows"  # the page refreshing itself: not the person's use
        signed = await signed_in(request, touch=not fragment)
        if signed is None:
            return to_login(request, ended=bool(request.cookies.get(ctx.cookie)))
        tabs = HOTLINE_TABS if signed.user.role is Role.HOTLINE_UNIT else TABS
        tab = request.query_params.get("tab", tabs[0])
        tab = tab if tab in tabs else tabs[0]
        text = (request.query_params.get("q") or "").strip()[:100] or None
        asked = request.query_params.get("page", "1")
        page = min(int(asked), MAX_PAGE) if asked.isdigit() and int(asked) > 0 else 1
        window: dict[str, int] = {"limit": PAGE_SIZE + 1, "offset": (page - 1) * PAGE_SIZE}  # +1: a next page?
        if tab == "due_soon":  # filtered after reading: one list
            page, window = 1, {"limit": LIST_LIMIT}
        filters: dict[str, Any] = {"open_only": True, "text": text} | window
        if tab == "to_sign":
            filters["status"] = "dispatched"
        elif tab == "in_progress":
            filters["status"] = "in_progress"
        elif tab == "overdue":
            filters["overdue"] = True
        elif tab == "to_dispatch":
            filters["statuses"] = ("received", "returned")
        elif tab == "returns":
            filters["return_pending"] = True
        elif tab == "extensions":
            filters["extension_pending"] = True
        elif tab == "to_review":
            filters["statuses"] = ("handled", "followed_up")
        rows = await asyncio.to_thread(queries.list_cases, ctx.sessions, signed.user.actor, **filters)
        now = ctx.clock()
        notes = {r["id"]: deadline_note(r, now) for r in rows}
        if tab == "due_soon":
            rows = [
                r
                for r in rows
                if notes[r["id"]][0] == "due_today"
                or (notes[r["id"]][0] == "days" and (notes[r["id"]][1] or 0) <= DUE_SOON_WORKING_DAYS)
            ]
        more = tab != "due_soon" and len(rows) > PAGE_SIZE
        rows = rows[:PAGE_SIZE] if more else rows
        values: dict[str, Any] = {
            "rows": rows,
            "notes": notes,
            "tab": tab,
            "q": text or "",
            "page": page,
            "more": more and page < MAX_PAGE,
            "tabs": tabs,
            "user": signed.user,
        }
        if fragment:
            return render(request, "_rows.html", **values)
        return render(request, "cases.html", csrf=csrf_token(signed.token), **values)

    # --- a case ---------------------------------------------------------------------------------------
    def history(case: CaseDetail) -> list[tuple[str, str, str, str]]:
        """(time, event key, unit, text) of the case's records, oldest first."""
        items: list[tuple[str, str, str, str]] = [(case["created_at"], "ev_created", "", "")]
        for d in case["dispatches"]:
            unit = d["unit_name"]
            items.append((d["dispatched_at"], "ev_dispatched", unit, d.get("instructions") or ""))
            if d.get("accepted_at"):
                items.append((str(d["accepted_at"]), "ev_accepted", unit, ""))
            if d.get("returned_at"):
                items.append((str(d["returned_at"]), "ev_returned", unit, d.get("return_reason") or ""))
            if d.get("handled_at"):
                items.append((str(d["handled_at"]), "ev_handled", unit, d.get("result") or ""))
        units = {d["unit_id"]: d["unit_name"] for d in case["dispatches"]}
        returns: list[ReturnInfo] = case["returns"] if "returns" in case else []
        for ret in returns:  # 退单 requests, reviewed by the centre
            unit = units.get(ret["unit_id"], "")
            items.append((ret["requested_at"], "ev_return_requested", unit, ret.get("reason") or ""))
            if ret.get("decided_at"):
                note = ret.get("decision_note") or ""
                items.append((str(ret["decided_at"]), f"ev_return_{ret['status']}", unit, note))
        extensions: list[ExtensionInfo] = case["extensions"] if "extensions" in case else []
        for ext in extensions:  # 延期 requests, decided by the centre (the hotline unit on a sub-platform)
            unit = units.get(ext["unit_id"], "")
            items.append((ext["requested_at"], "ev_extension_requested", unit, ext.get("reason") or ""))
            if ext.get("decided_at"):
                note = ext.get("decision_note") or ""
                items.append((str(ext["decided_at"]), f"ev_extension_{ext['status']}", unit, note))
        for p in case.get("progress_reports", []):  # 阶段性回复, every unit's on the case
            items.append((p["reported_at"], "ev_progress_reported", p["unit_name"], p["text"]))
        for f in case["follow_ups"]:
            items.append((f["at"], "ev_follow_up", "", f.get("notes") or ""))
        for r in case["reviews"]:
            items.append((r["at"], "ev_review", "", r.get("reason") or ""))
        for v in case["supervisions"]:
            items.append((v["at"], "ev_supervision", "", v.get("instructions") or ""))
        if case.get("closed_at"):
            items.append((str(case["closed_at"]), "ev_closed", "", ""))
        return sorted(items, key=lambda i: datetime.fromisoformat(i[0]))

    async def show_case(
        request: Request,
        signed: Signed,
        case_id: int,
        status: int = 200,
        error: str | None = None,
        said: str | None = None,
        kept: dict[str, str] | None = None,
    ) -> Response:
        try:
            case = await asyncio.to_thread(queries.get_case, ctx.sessions, signed.user.actor, case_id)
        except CaseNotFound:
            return render(request, "error.html", 404, message_key="not_found", user=signed.user)
        done = request.query_params.get("done")
        done = done if done in ACTIONS or done == "attachment" else None
        actions = [a for a in case["allowed_actions"] if a in ACTIONS]
        suggestion: DispatchSuggestion | None = None
        if "dispatch" in actions:  # the dispatch catalogue's rule, preselected in the form (a read, audited)
            suggestion = await asyncio.to_thread(queries.suggest_dispatch, ctx.sessions, signed.user.actor, case_id)
        units = {d["unit_id"]: d["unit_name"] for d in case["dispatches"]}
        returns = case["returns"] if "returns" in case else []
        extensions = case["extensions"] if "extensions" in case else []
        progress: dict[int, list[ProgressReportInfo]] = {}
        for p in case.get("progress_reports", []):
            progress.setdefault(p["dispatch_id"], []).append(p)
        return render(
            request,
            "case.html",
            status,
            case=case,
            history=history(case),
            actions=actions,
            suggested=_preselect(suggestion, case),
            suggestion_taken=bool(suggestion and suggestion["units"]) and not _preselect(suggestion, case),
            pending_returns=[(units.get(r["unit_id"], ""), r) for r in returns if r["status"] == "pending"],
            pending_extensions=[(units.get(e["unit_id"], ""), e) for e in extensions if e["status"] == "pending"],
            progress=progress,
            ratings=RATINGS,
            return_reasons=RETURN_REASONS,
            note=deadline_note(case, ctx.clock()),
            done=done,
            can_attach=case["status"] != "closed",
            error=error,
            said=said,
            kept=kept or {},
            max_mb=f"{ctx.max_file_bytes / MIB:g}",
            extension=extension_default(case, ctx.zone),
            csrf=csrf_token(signed.token),
            user=signed.user,
        )

    async def case_page(request: Request) -> Response:
        signed = await signed_in(request)
        if signed is None:
            return to_login(request, ended=bool(request.cookies.get(ctx.cookie)))
        return await show_case(request, signed, request.path_params["case_id"])

    async def case_action(request: Request) -> Response:
        signed = await signed_in(request)
        if signed is None:
            return to_login(request, ended=bool(request.cookies.get(ctx.cookie)))
        case_id, action = request.path_params["case_id"], request.path_params["action"]
        form = await read_form(request, files=1 if action == "handle" else 0)
        try:
            refused = await csrf_refused(request, signed, _text(form, "csrf"))
            if refused is not None:
                return refused
            if action not in ACTIONS:
                return render(request, "error.html", 404, message_key="not_found", user=signed.user)
            return await run_action(request, signed, case_id, action, form)
        finally:
            await form.close()

    async def run_action(request: Request, signed: Signed, case_id: int, action: str, form: FormData) -> Response:
        """`action` on the case from its form; a handle form's photo (optional) is added first, on the
        unit's own share, and a refused photo stops the handling with what was typed kept in the form."""
        lang = lang_of(request)
        kept = {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf"}
        try:
            chosen = await read_upload(form, ctx.max_file_bytes) if action == "handle" else None
            if chosen is not None and (_text(form, "result") or "").strip():
                try:
                    await asyncio.to_thread(queries.add_file, ctx.sessions, signed.user.actor, case_id, *chosen)
                except (AttachmentTooLarge, AttachmentTypeRefused) as exc:
                    message = translate(lang, "refused", message=attachment_error(lang, exc))
                    return await show_case(request, signed, case_id, 400, message, None, kept)
            fields = action_fields(action, form, ctx.zone) | {"case_id": case_id}
            await asyncio.to_thread(queries.act, ctx.sessions, signed.user.actor, ACTIONS[action], fields)
        except CaseNotFound:
            return render(request, "error.html", 404, message_key="not_found", user=signed.user)
        except CaseError as exc:
            field = exc.detail.get("field") if isinstance(exc, InvalidInput) else None
            keys = [f"err_{action}_{field}", f"err_{field}"] if field else []
            key = next((k for k in keys if k in MESSAGES[DEFAULT_LANG]), f"err_{exc.error_id}")
            said = translate(lang, key) if key in MESSAGES[DEFAULT_LANG] else exc.message
            message = translate(lang, "refused", message=said)
            return await show_case(
                request, signed, case_id, 400 if isinstance(exc, InvalidInput) else 409, message, exc.message, kept
            )
        return RedirectResponse(f"/cases/{case_id}?done={action}", status_code=303)

    # --- attachments: a photo from the unit's phone, and every file of the case to download ----------
    def attachment_error(lang: str, exc: CaseError) -> str:
        """What a refused file is told, in the page's language: too large (with the limit), not a type
        attachments take (with what it was read as), or the service's refusal."""
        if isinstance(exc, AttachmentTooLarge):
            limit = int(exc.detail.get("limit") or 0)
            key = "err_attachment_case_too_large" if exc.detail.get("scope") == "case" else "err_attachment_too_large"
            return translate(lang, key, mb=f"{limit / MIB:g}")
        if isinstance(exc, AttachmentTypeRefused):
            return translate(lang, "err_attachment_type_refused", mime=str(exc.detail.get("mime") or "?"))
        if isinstance(exc, InvalidInput) and exc.detail.get("field") == "file":
            return translate(lang, "err_attachment_missing")
        key = f"err_{exc.error_id}"
        return translate(lang, key) if key in MESSAGES[DEFAULT_LANG] else exc.message

    async def read_upload(form: FormData, limit: int) -> tuple[str, bytes] | None:
        """The form's `photo`: (its name, at most `limit` + 1 of its bytes; the service refuses what is over
        the limit), or None when no file was chosen."""
        upload = form.get("photo")
        if not isinstance(upload, UploadFile) or not upload.filename:
            return None
        return upload.filename, await upload.read(limit + 1)

    async def upload(request: Request) -> Response:
        signed = await signed_in(request)
        if signed is None:
            return to_login(request, ended=bool(request.cookies.get(ctx.cookie)))
        form = await read_form(request, files=1)
        refused = await csrf_refused(request, signed, _text(form, "csrf"))
        if refused is not None:
            return refused
        case_id = request.path_params["case_id"]
        lang = lang_of(request)
        try:
            chosen = await read_upload(form, ctx.max_file_bytes)
            if chosen is None:
                raise InvalidInput("no file was chosen", field="file")
            await asyncio.to_thread(queries.add_file, ctx.sessions, signed.user.actor, case_id, *chosen)
        except CaseNotFound:
            return render(request, "error.html", 404, message_key="not_found", user=signed.user)
        except CaseError as exc:
            message = translate(lang, "refused", message=attachment_error(lang, exc))
            status = 400 if isinstance(exc, InvalidInput) else 409
            return await show_case(request, signed, case_id, status, message)  # the limit or type: said in full
        finally:
            await form.close()
        return RedirectResponse(f"/cases/{case_id}?done=attachment#attachments", status_code=303)

    async def download(request: Request) -> Response:
        """An attachment by its token, for whoever may see its case (the service checks and audits): always
        `Content-Disposition: attachment` (never shown in the page), as the type it was sniffed as when that
        is one attachments take, else as bytes; `X-Content-Type-Options: nosniff` (SecurityHeaders)."""
        signed = await signed_in(request)
        if signed is None:
            return to_login(request, ended=bool(request.cookies.get(ctx.cookie)))
        token = request.path_params["token"]
        if len(token) > MAX_TOKEN:
            return render(request, "error.html", 404, message_key="not_found", user=signed.user)
        try:
            found, path = await asyncio.to_thread(queries.attachment_file, ctx.sessions, signed.user.actor, token)
        except AttachmentNotFound:
            return render(request, "error.html", 404, message_key="err_attachment_not_found", user=signed.user)
        except AttachmentRemoved:
            return render(request, "error.html", 410, message_key="attachment_removed", user=signed.user)
        media = found["mime"] if found["mime"] in ATTACHMENT_TYPES else "application/octet-stream"
        return FileResponse(
            path,
            media_type=media,
            filename=found["filename"],
            content_disposition_type="attachment",
            headers={"Cache-Control": "private, no-store"},
        )

    # --- supervisors, leaders and the hotline unit: overdue and problem work orders, KPIs --------------
    def forbidden(request: Request, signed: Signed) -> Response:
        return render(
            request, "error.html", 403, message_key="forbidden", user=signed.user, csrf=csrf_token(signed.token)
        )

    async def oversight_page(request: Request) -> Response:
        signed = await signed_in(request)
        if signed is None:
            return to_login(request, ended=bool(request.cookies.get(ctx.cookie)))
        tab = request.query_params.get("tab", OVERSIGHT_TABS[0])
        tab = tab if tab in OVERSIGHT_TABS else OVERSIGHT_TABS[0]
        try:
            rows = await asyncio.to_thread(
                oversight.oversight_cases, ctx.sessions, signed.user.actor, "problem" if tab == "problem" else "overdue"
            )
        except PermissionDenied:
            return forbidden(request, signed)
        return render(
            request,
            "oversight.html",
            rows=rows,
            tab=tab,
            tabs=OVERSIGHT_TABS,
            user=signed.user,
            csrf=csrf_token(signed.token),
        )

    def period(request: Request) -> tuple[date, date, str | None]:
        """The KPI page's period (`from`, `to`, both included, days in the centre's zone): this month up to
        today unless given; an error key when what was given is not a period."""
        today = ctx.clock().astimezone(ctx.zone).date()
        start, last, error = today.replace(day=1), today, None
        try:
            if request.query_params.get("from"):
                start = date.fromisoformat(request.query_params["from"])
            if request.query_params.get("to"):
                last = date.fromisoformat(request.query_params["to"])
        except ValueError:
            return today.replace(day=1), today, "kpi_bad_date"
        if last < start or (last - start).days >= MAX_KPI_DAYS:
            return today.replace(day=1), today, "kpi_bad_period"
        return start, last, error

    async def kpi_of(request: Request) -> tuple[Signed, KpiReport, str | None] | Response:
        """The KPI page's and its CSV's report of `period` (without the per-agent figures), for the person
        signed in, with the period's error key; else the way to the sign-in page, or the refusal."""
        signed = await signed_in(request)
        if signed is None:
            return to_login(request, ended=bool(request.cookies.get(ctx.cookie)))
        start, last, error = period(request)
        try:
            report = await asyncio.to_thread(
                oversight.kpi_report, ctx.sessions, signed.user.actor, start, last + timedelta(days=1), ctx.zone
            )
        except PermissionDenied:
            return forbidden(request, signed)
        report.by_agent = []  # the page and its CSV: the total, per hotline and per unit
        return signed, report, error

    async def kpi_page(request: Request) -> Response:
        found = await kpi_of(request)
        if isinstance(found, Response):
            return found
        signed, report, error = found
        lang = lang_of(request)
        ranked = oversight.ranking(report.by_unit)
        unit_chart = bar_chart(
            translate(lang, "chart_units"),
            [Bar(r.key, r.on_time_rate, _pct(r.on_time_rate, r.on_time, r.due)) for r in ranked],
            "chart-units",
        )
        hotline_chart = bar_chart(
            translate(lang, "chart_hotlines"),
            [Bar(r.key, r.handling_rate, _pct(r.handling_rate, r.handled, r.intake)) for r in report.by_hotline],
            "chart-hotlines",
        )
        most = max((n for _, n in report.per_day), default=0)
        day_chart = bar_chart(
            translate(lang, "chart_days"),
            [Bar(d.strftime("%m-%d"), n / most if most else 0.0, str(n)) for d, n in report.per_day],
            "chart-days",
        )
        return render(
            request,
            "kpi.html",
            report=report,
            ranked=ranked,
            unit_chart=unit_chart,
            hotline_chart=hotline_chart,
            day_chart=day_chart if report.per_day else None,
            pct=lambda v: "–" if v is None else f"{v * 100:.1f}%",
            error=error,
            csv_query=urlencode({"from": report.start.isoformat(), "to": report.last_day.isoformat()}),
            user=signed.user,
            csrf=csrf_token(signed.token),
        )

    async def kpi_csv(request: Request) -> Response:
        found = await kpi_of(request)
        if isinstance(found, Response):
            return found
        _, report, _ = found
        name = f"kpi_{report.start.isoformat()}_{report.last_day.isoformat()}.csv"
        return Response(
            "\ufeff" + csv_text(report),  # the BOM: spreadsheet programs then read the Chinese names as UTF-8
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    # --- live updates ---------------------------------------------------------------------------------
    async def events(request: Request) -> Response:
        signed = await signed_in(request, touch=False)
        if signed is None:
            return Response(status_code=401)
        listener = ctx.hub.listen(signed.user)

        async def stream() -> AsyncIterator[str]:
            try:
                yield "retry: 2000\n: live\n\n"
                while True:
                    try:
                        notice = await asyncio.wait_for(listener.queue.get(), KEEPALIVE_SECONDS)
                    except TimeoutError:
                        alive, _ = await asyncio.to_thread(ctx.web_sessions.check, signed.token, touch=False)
                        if alive is None:
                            yield "event: ended\ndata: {}\n\n"
                            return
                        yield ": keepalive\n\n"
                        continue
                    if notice is None:
                        return
                    yield f"event: case\ndata: {json.dumps(notice)}\n\n"
            finally:
                ctx.hub.drop(listener)

        headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
        return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)

    return [
        Route("/", home),
        Route("/login", login_page, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/login/code", code_page, methods=["GET"]),
        Route("/login/code", code, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/lang/{lang}", switch_lang),
        Route("/cases", case_list),
        Route("/cases/{case_id:int}", case_page),
        Route("/cases/{case_id:int}/attachments", upload, methods=["POST"]),
        Route("/cases/{case_id:int}/{action}", case_action, methods=["POST"]),
        Route("/attachments/{token}", download),
        Route("/oversight", oversight_page),
        Route("/kpi", kpi_page),
        Route("/kpi.csv", kpi_csv),
        Route("/events", events),
    ]


def action_fields(action: str, form: FormData, zone: ZoneInfo) -> dict[str, Any]:
    """The request fields of `action` (the desktop's request for it, queries.act) from its form. A number
    that is not one (`deadline_hours`) or a time that is not one (`deadline_at`, a datetime-local read as
    the wall clock of `zone`, the centre's) is refused here (InvalidInput) before the service is asked;
    every other check is the service's."""
    if action in ACTION_FIELD:
        fields: dict[str, Any] = {ACTION_FIELD[action]: _text(form, ACTION_FIELD[action]) or ""}
        if action == "return" and _text(form, "reason_code") in RETURN_REASONS:
            fields["reason_code"] = _text(form, "reason_code")  # the list's reason (退单理由); the text says more
        return fields
    if action == "request_extension":
        return {"reason": _text(form, "reason") or "", "deadline_at": _wall_time(form, "deadline_at", zone)}
    if action == "dispatch":
        lead = _text(form, "lead")
        chosen = [lead, *(v for v in form.getlist("co") if isinstance(v, str) and v != lead)] if lead else []
        units = [int(v) for v in chosen if v and v.isdigit()]
        return {
            "units": units,
            "instructions": _text(form, "instructions"),
            "deadline_hours": _hours(form),
        }
    if action in ("accept_return", "reject_return"):
        return {"approved": action == "accept_return", "note": _text(form, "note")}
    if action in ("approve_extension", "refuse_extension"):
        return {"approved": action == "approve_extension", "note": _text(form, "note")}
    if action in ("approve", "send_back"):
        back = {"reason": _text(form, "reason"), "deadline_hours": _hours(form)} if action == "send_back" else {}
        return {"approved": action == "approve"} | back
    if action == "follow_up":
        reached = _text(form, "reached") == "yes"
        return {
            "reached": reached,
            "solved": {"yes": True, "no": False}.get(_text(form, "solved") or "") if reached else None,
            "rating": (_text(form, "rating") or None) if reached else None,
            "channel": "phone",
            "notes": _text(form, "notes"),
        }
    if action == "supervise":
        return {"instructions": _text(form, "instructions") or ""}
    return {}


def _hours(form: FormData) -> float | None:
    """The form's `deadline_hours`: empty is None (the hotline's time limit applies)."""
    text = (_text(form, "deadline_hours") or "").strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise InvalidInput(f"deadline_hours must be a number of hours, got {text!r}", field="deadline_hours") from None


def _wall_time(form: FormData, key: str, zone: ZoneInfo) -> str:
    """The form's datetime-local `key` (`2026-12-09T17:30`, the browser's format) as a moment of `zone`'s
    wall clock, ISO 8601 with its offset; InvalidInput when it is empty or not such a time."""
    text = (_text(form, key) or "").strip()
    try:
        wall = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{key} must be a date and time, got {text[:40]!r}", field=key) from None
    if wall.tzinfo is not None:
        raise InvalidInput(f"{key} is the centre's wall clock, without an offset", field=key)
    return wall.replace(tzinfo=zone).isoformat()


def extension_default(case: CaseDetail, zone: ZoneInfo) -> tuple[str, str]:
    """The extension form's (min, value) as datetime-local text in `zone`: the latest deadline of the shares
    the unit still works (its own: a unit sees its own) and a week after it, as the desktop offers
    (cti_desktop.work_tab)."""
    deadlines = [
        datetime.fromisoformat(str(d["deadline_at"]))
        for d in case["dispatches"]
        if d.get("status") in ("pending", "accepted", "return_requested") and d.get("deadline_at")
    ]
    if not deadlines:
        return "", ""
    latest = max(deadlines).astimezone(zone)
    return latest.strftime("%Y-%m-%dT%H:%M"), (latest + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M")


def _preselect(suggestion: DispatchSuggestion | None, case: CaseDetail) -> list[int]:
    """The dispatch form's preselected units, lead first: the catalogue's lead and those of its co-units the
    case may still go to; none when its lead already holds the case (then the person chooses)."""
    free = {u["id"] for u in case["dispatch_units"]}
    ids = [u["id"] for u in suggestion["units"]] if suggestion else []
    return [i for i in ids if i in free] if ids and ids[0] in free else []


def _pct(rate: float | None, num: int, den: int) -> str:
    return "–" if rate is None else f"{rate * 100:.1f}% ({num}/{den})"


def _text(form: FormData, key: str) -> str | None:
    value = form.get(key)
    return value if isinstance(value, str) else None
