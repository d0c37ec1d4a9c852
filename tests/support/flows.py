"""Helpers that drive a case through the workflow, each step in its own committed transaction."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from ari_app.cases import Action, Actor
from ari_app.cases.access import transition
from ari_app.cases.actor import SYSTEM
from ari_app.cases.exchange import Refused, apply_update, refuse_message
from ari_app.cases.intake import create_case
from ari_app.cases.machine import CaseState
from ari_app.cases.merging import merge, unmerge
from ari_app.cases.workflow import (
    accept,
    decide_extension,
    dispatch,
    escalate_to_leader,
    follow_up,
    forward,
    handle,
    report_progress,
    request_extension,
    resolve_directly,
    return_case,
    review,
    review_return,
    supervise,
)
from ari_app.config import HotlineMode
from schema.cases import Case, ExchangeMessage
from schema.users import Role
from tests.support.cases import MODE_HOTLINE, Db

CATEGORY = {"12345": "市政设施", "12358": "商品价格", "12350": "安全隐患"}


class Flow:
    """One hotline mode's cast: who dispatches, reviews, and which units/departments take the work."""

    def __init__(self, db: Db, mode: HotlineMode) -> None:
        self.db = db
        self.mode = mode
        self.hotline = MODE_HOTLINE[mode]
        w = db.world
        sub = mode is HotlineMode.SUB_PLATFORM
        self.dispatcher = w.actors["hu12350" if sub else "agent"]
        self.reviewer = w.actors["hu12350" if sub else "supervisor"]
        self.unit1 = w.units["S" if sub else "A"]
        self.unit2 = w.units["S2" if sub else "B"]
        self.dept1 = w.actors["deptS" if sub else "deptA"]
        self.dept2 = w.actors["deptS2" if sub else "deptB"]

    def actor_for(self, role: Role, dept: Actor | None = None) -> Actor:
        """A representative user of `role` who can see this hotline's cases where their role allows it."""
        w = self.db.world
        if role is Role.HOTLINE_UNIT:
            return w.actors["hu12350" if self.hotline == "12350" else "hu12345"]
        if role is Role.DEPARTMENT:
            return dept or self.dept1
        return w.actors[{Role.AGENT: "agent", Role.SUPERVISOR: "supervisor", Role.QA: "qa", Role.ADMIN: "admin"}[role]]

    def create(
        self, handling: str = "dispatch", caller: str = "13900000000", request: str = "请处理", **kw: Any
    ) -> int:
        """A case taken by the agent, in its own transaction (`create_in`'s keywords)."""
        with self.db.session() as s, s.begin():
            return self.create_in(s, handling, caller, request, **kw)

    def create_in(
        self,
        s: Any,
        handling: str = "dispatch",
        caller: str = "13900000000",
        request: str = "请处理",
        *,
        confidential: bool = False,
        urgency: str = "normal",
        citizen_name: str = "市民",
        contact: str | None = None,
        **more: Any,
    ) -> int:
        """`create` in the caller's transaction; `more`: other fields of `create_case`."""
        case = create_case(
            s,
            self.db.world.actors["agent"],
            hotline=self.hotline,
            caller=caller,
            call_id=None,
            category=CATEGORY[self.hotline],
            request=request,
            address="某路",
            urgency=urgency,
            citizen_name=citizen_name,
            contact=caller if contact is None else contact,
            language="zh",
            handling=handling,
            confidential=confidential,
            **more,
        )
        return case.id

    def do(self, action: Action, actor: Actor, case_id: int, **kw: Any) -> Case:
        """Perform `action` as `actor`, committing on success."""
        with self.db.session() as s, s.begin():
            return perform(s, action, actor, case_id, self, **kw)

    def get(self, case_id: int) -> Case:
        with self.db.session() as s:
            case = s.get(Case, case_id)
            assert case is not None
            _ = (case.dispatches, case.follow_ups, case.reviews, case.supervisions)
            return case


def perform(s: Any, action: Action, actor: Actor, case_id: int, flow: Flow, **kw: Any) -> Case:
    if action is Action.RESOLVE_DIRECTLY:
        return resolve_directly(s, actor, case_id, resolution=kw.get("resolution", "已当场答复"))
    if action is Action.DISPATCH:
        return dispatch(s, actor, case_id, units=kw.get("units", [flow.unit1]), deadline_hours=kw.get("hours"))
    if action is Action.FORWARD:
        return forward(s, actor, case_id)
    if action is Action.ACCEPT:
        return accept(s, actor, case_id)
    if action is Action.RETURN:  # a request, reviewed by ACCEPT_RETURN / REJECT_RETURN
        return return_case(
            s, actor, case_id, reason=kw.get("reason", "不属于本单位职责"), reason_code=kw.get("code", "not_our_duty")
        )
    if action in (Action.ACCEPT_RETURN, Action.REJECT_RETURN):
        approved = action is Action.ACCEPT_RETURN
        return review_return(s, actor, case_id, approved=approved, note=kw.get("note", "退单理由不成立"))
    if action is Action.REQUEST_EXTENSION:
        case = s.get(Case, case_id)
        asked = kw.get("deadline_at") or ((case.deadline_at or case.updated_at) + timedelta(days=kw.get("days", 5)))
        return request_extension(s, actor, case_id, reason=kw.get("reason", "需现场勘查"), deadline_at=asked)
    if action in (Action.APPROVE_EXTENSION, Action.REFUSE_EXTENSION):
        approved = action is Action.APPROVE_EXTENSION
        return decide_extension(s, actor, case_id, approved=approved, note=kw.get("note", "理由不足"))
    if action is Action.REPORT_PROGRESS:
        return report_progress(s, actor, case_id, text=kw.get("text", "已到现场，正在抢修"))
    if action is Action.HANDLE:
        return handle(s, actor, case_id, result=kw.get("result", "已修复"))
    if action is Action.FOLLOW_UP:
        return follow_up(
            s,
            actor,
            case_id,
            reached=kw.get("reached", True),
            solved=kw.get("solved", True),
            satisfaction=kw.get("satisfaction", "satisfied"),
        )
    if action is Action.APPROVE:
        return review(s, actor, case_id, approved=True)
    if action is Action.SEND_BACK:
        return review(s, actor, case_id, approved=False, reason=kw.get("reason", "未解决"))
    if action is Action.SUPERVISE:
        return supervise(s, actor, case_id, instructions="请加快办理")
    if action is Action.ESCALATE_TO_LEADER:
        return escalate_to_leader(s, actor, case_id, instructions="提请分管领导协调")
    if action is Action.EXCHANGE_UPDATE:
        case = s.get(Case, case_id)
        return apply_update(s, case.hotline, {"case_number": case.number, "status": kw.get("status", "closed")})
    if action is Action.EXCHANGE_REFUSED:  # the receiver's permanent refusal, as deliver_due records it
        case = s.get(Case, case_id)
        now = case.updated_at
        if case.status != CaseState.EXCHANGED:
            transition(s, SYSTEM, case, action, CaseState.RETURNED, now)  # refused: no such move
        msg = s.scalars(
            select(ExchangeMessage).where(ExchangeMessage.case_id == case_id).order_by(ExchangeMessage.id.desc())
        ).first()
        refuse_message(s, msg, Refused(400, (("400", "location required"),)), now)
        return case
    if action is Action.MERGE:  # into kw["master"], else into a fresh case of the same hotline
        master = kw.get("master")
        if master is None:
            master = flow.create_in(s, handling="direct" if flow.mode is HotlineMode.EXCHANGE else "dispatch")
        return merge(s, actor, case_id, master)
    if action is Action.UNMERGE:
        return unmerge(s, actor, case_id, reason=kw.get("reason", "并单有误"))
    raise AssertionError(f"no driver for {action}")
