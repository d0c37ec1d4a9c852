"""The case workflow through the desktop link: each action by the right role changes the case, by a wrong role
is refused with its error id and changes nothing; departments and hotline units see only their own cases;
malformed fields are refused before anything runs. Non-agent users (supervisor, department, hotline unit)
sign in without touching the queue."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from ari_app import protocol as p
from ari_app.link import LinkServer
from ari_app.protocol import ErrorId, Msg
from schema.cases import AuditEntry, CooperatingUnit
from schema.users import Role
from tests.support.link import Desktop, FakeQueue, case_fields, signed_in_once
from tests.support.users import user

Open = Callable[[str], Awaitable[Desktop]]


@pytest.fixture
def units(sessions: sessionmaker[Session]) -> dict[str, int]:
    """Two centre units (water with a 3rd-level unit under it, roads), one unit of the sub-platform hotline
    12350, and a user for each of them plus a hotline-unit user of 12350."""
    with sessions() as s, s.begin():
        water = CooperatingUnit(name="市供水公司", level=2)
        roads = CooperatingUnit(name="市政工程处", level=2)
        safety = CooperatingUnit(name="安监执法支队", level=2, hotline="12350")
        s.add_all([water, roads, safety])
        s.flush()
        pipes = CooperatingUnit(name="供水管网所", level=3, parent_id=water.id)
        s.add(pipes)
        s.flush()
        for login, role, unit, hotline in (
            ("water", Role.DEPARTMENT, water.id, None),
            ("pipes", Role.DEPARTMENT, pipes.id, None),
            ("roads", Role.DEPARTMENT, roads.id, None),
            ("safety", Role.DEPARTMENT, safety.id, None),
            ("hu12350", Role.HOTLINE_UNIT, None, "12350"),
        ):
            s.add(user(login, role, unit_id=unit, hotline=hotline))
        return {"water": water.id, "roads": roads.id, "safety": safety.id, "pipes": pipes.id}


@pytest.fixture
async def as_user(desktop: Any, units: dict[str, int]) -> Open:
    return signed_in_once(desktop)


async def new_case(d: Desktop, hotline: str = "12345", request: str = "小区停水两天") -> int:
    r = await d.request(Msg.CREATE_CASE, **case_fields(request, hotline=hotline))
    assert r["type"] == Msg.CASE_CREATED, r
    return int(r["case"]["id"])


async def detail(d: Desktop, case_id: int) -> dict[str, Any]:
    r = await d.request(Msg.GET_CASE, case_id=case_id)
    assert r["type"] == Msg.CASE, r
    case: dict[str, Any] = r["case"]
    return case


async def ok(d: Desktop, kind: str, **fields: Any) -> dict[str, Any]:
    r = await d.request(kind, **fields)
    assert r["type"] == Msg.CASE_UPDATED, r
    case: dict[str, Any] = r["case"]
    return case


async def refused(d: Desktop, error_id: str, kind: str, watcher: Desktop, **fields: Any) -> dict[str, Any]:
    """Send a request that must be refused with `error_id`, and prove the case did not change."""
    before = await detail(watcher, fields["case_id"])
    r = await d.request(kind, **fields)
    assert r["type"] == Msg.ERROR and r["error_id"] == error_id, r
    assert await detail(watcher, fields["case_id"]) == before
    return r


def audit_count(sessions: sessionmaker[Session], action: str) -> int:
    with sessions() as s:
        return int(s.scalar(select(func.count()).where(AuditEntry.action == action)) or 0)


async def test_non_agents_sign_in_without_touching_the_queue(
    as_user: Open, server: LinkServer, queue: FakeQueue
) -> None:
    for login, role in (("sup", "supervisor"), ("water", "department"), ("hu12350", "hotline_unit"), ("qa", "qa")):
        d = await as_user(login)
        assert server.agents.sessions[login].agent is None and server.agents.sessions[login].actor is not None
        assert server.agents.sessions[login].actor.role == role  # type: ignore[union-attr]
        r = await d.request(Msg.SET_STATE, state="ready")
        assert r["error_id"] == ErrorId.NOT_AN_AGENT
        listed = await d.request(Msg.LIST_CASES, open=True)
        assert listed["type"] == Msg.CASES and listed["cases"] == []
    assert queue.calls == []


async def test_the_whole_path_by_the_right_roles_and_refusals_by_the_wrong_ones(
    as_user: Open, units: dict[str, int], sessions: sessionmaker[Session], server: LinkServer
) -> None:
    agent, sup, qa = await as_user("1001"), await as_user("sup"), await as_user("qa")
    water, roads = await as_user("water"), await as_user("roads")
    cid = await new_case(agent)
    case = await detail(sup, cid)
    assert case["status"] == "received" and case["dispatches"] == []
    assert set(case["allowed_actions"]) == {"resolve_directly", "dispatch"}
    assert {u["id"] for u in case["dispatch_units"]} == {units["water"], units["roads"], units["pipes"]}
    assert (await detail(qa, cid))["allowed_actions"] == []  # QA sees every case and may do nothing to it

    # dispatch (派遣): the centre may, QA may not, a department cannot even see the case yet
    await refused(qa, ErrorId.CASE_PERMISSION_DENIED, Msg.DISPATCH_CASE, sup, case_id=cid, units=[units["water"]])
    await refused(water, ErrorId.CASE_NOT_FOUND, Msg.DISPATCH_CASE, sup, case_id=cid, units=[units["water"]])
    case = await ok(agent, Msg.DISPATCH_CASE, case_id=cid, units=[units["water"]], deadline_hours=48)
    assert case["status"] == "dispatched" and case["deadline_at"] and not case["overdue"]
    assert [(d["unit_name"], d["status"]) for d in case["dispatches"]] == [("市供水公司", "pending")]

    # accept: only the unit it went to
    assert (await detail(water, cid))["allowed_actions"] == ["accept", "return", "request_extension"]
    await refused(roads, ErrorId.CASE_NOT_FOUND, Msg.ACCEPT_CASE, sup, case_id=cid)
    await refused(agent, ErrorId.CASE_PERMISSION_DENIED, Msg.ACCEPT_CASE, sup, case_id=cid)
    case = await ok(water, Msg.ACCEPT_CASE, case_id=cid)
    assert case["status"] == "in_progress" and case["dispatches"][0]["status"] == "accepted"
    assert case["allowed_actions"] == ["return", "request_extension", "report_progress", "handle"]  # not accept

    # supervise (督办): the supervisor, not an agent
    await refused(agent, ErrorId.CASE_PERMISSION_DENIED, Msg.SUPERVISE_CASE, sup, case_id=cid, instructions="快")
    case = await ok(sup, Msg.SUPERVISE_CASE, case_id=cid, instructions="今日内回复")
    assert [v["instructions"] for v in case["supervisions"]] == ["今日内回复"]

    # report progress (阶段性回复): the unit holding the signed-for share, with a text
    await refused(roads, ErrorId.CASE_NOT_FOUND, Msg.REPORT_PROGRESS, sup, case_id=cid, text="已到现场")
    await refused(water, ErrorId.CASE_PROGRESS_TEXT_INVALID, Msg.REPORT_PROGRESS, sup, case_id=cid, text="  ")
    case = await ok(water, Msg.REPORT_PROGRESS, case_id=cid, text="已到现场，正在抢修")
    assert case["status"] == "in_progress"
    assert [(r["unit_name"], r["lead"], r["text"]) for r in case["progress_reports"]] == [
        ("市供水公司", True, "已到现场，正在抢修")
    ]
    assert [r["text"] for r in (await detail(sup, cid))["progress_reports"]] == ["已到现场，正在抢修"]

    # handle (办理)
    await refused(sup, ErrorId.CASE_PERMISSION_DENIED, Msg.HANDLE_CASE, sup, case_id=cid, result="修好了")
    case = await ok(water, Msg.HANDLE_CASE, case_id=cid, result="已抢修管道，恢复供水")
    assert case["status"] == "handled" and case["dispatches"][0]["result"] == "已抢修管道，恢复供水"

    # follow-up (回访): the centre, not the department
    await refused(
        water, ErrorId.CASE_PERMISSION_DENIED, Msg.FOLLOW_UP_CASE, sup, case_id=cid, reached=True, solved=True,
        satisfaction="satisfied",
    )  # fmt: skip
    case = await ok(agent, Msg.FOLLOW_UP_CASE, case_id=cid, reached=True, solved=True, satisfaction="satisfied")
    assert case["status"] == "followed_up" and case["follow_ups"][0]["satisfaction"] == "satisfied"

    # review (审核): the supervisor approves; an agent may not
    assert set((await detail(sup, cid))["allowed_actions"]) == {"approve", "send_back"}
    await refused(agent, ErrorId.CASE_PERMISSION_DENIED, Msg.REVIEW_CASE, sup, case_id=cid, approved=True)
    case = await ok(sup, Msg.REVIEW_CASE, case_id=cid, approved=True)
    assert case["status"] == "closed" and case["closed_at"] and case["reviews"][0]["approved"] is True
    assert case["allowed_actions"] == ["follow_up"]
    await refused(water, ErrorId.CASE_TRANSITION_FORBIDDEN, Msg.HANDLE_CASE, sup, case_id=cid, result="again")
    assert audit_count(sessions, "approve") == 1
    # every refusal above left one entry of its own (the refused request's own entry was rolled back)
    await server.audit.flush()  # and the link wrote no second one
    assert refusals(sessions) == [
        ("qa", "qa", cid, Msg.DISPATCH_CASE, ErrorId.CASE_PERMISSION_DENIED),
        ("water", "department", cid, Msg.DISPATCH_CASE, ErrorId.CASE_NOT_FOUND),
        ("roads", "department", cid, Msg.ACCEPT_CASE, ErrorId.CASE_NOT_FOUND),
        ("1001", "agent", cid, Msg.ACCEPT_CASE, ErrorId.CASE_PERMISSION_DENIED),
        ("1001", "agent", cid, Msg.SUPERVISE_CASE, ErrorId.CASE_PERMISSION_DENIED),
        ("roads", "department", cid, Msg.REPORT_PROGRESS, ErrorId.CASE_NOT_FOUND),
        ("water", "department", cid, Msg.REPORT_PROGRESS, ErrorId.CASE_PROGRESS_TEXT_INVALID),
        ("sup", "supervisor", cid, Msg.HANDLE_CASE, ErrorId.CASE_PERMISSION_DENIED),
        ("water", "department", cid, Msg.FOLLOW_UP_CASE, ErrorId.CASE_PERMISSION_DENIED),
        ("1001", "agent", cid, Msg.REVIEW_CASE, ErrorId.CASE_PERMISSION_DENIED),
        ("water", "department", cid, Msg.HANDLE_CASE, ErrorId.CASE_TRANSITION_FORBIDDEN),
    ]


def refusals(sessions: sessionmaker[Session]) -> list[tuple[str, str, int | None, str, str]]:
    with sessions() as s:
        rows = s.scalars(select(AuditEntry).where(AuditEntry.action == "refused").order_by(AuditEntry.id))
        found = [(r.login, r.role, r.case_id, json.loads(r.detail or "{}")) for r in rows]
    return [(login, role, case_id, d["request"], d["error_id"]) for login, role, case_id, d in found]


async def test_refused_reads_and_intake_are_audited_too(
    as_user: Open, sessions: sessionmaker[Session], server: LinkServer
) -> None:
    """Reading a case one may not see, or one that does not exist, and an intake the role may not make."""
    agent, water, hu = await as_user("1001"), await as_user("water"), await as_user("hu12350")
    cid = await new_case(agent)
    assert (await water.request(Msg.GET_CASE, case_id=cid))["error_id"] == ErrorId.CASE_NOT_FOUND
    assert (await agent.request(Msg.GET_CASE, case_id=999999))["error_id"] == ErrorId.CASE_NOT_FOUND
    taken = await water.request(Msg.CREATE_CASE, **case_fields("x"))
    assert taken["error_id"] == ErrorId.CASE_PERMISSION_DENIED
    other = await hu.request(Msg.CREATE_CASE, **case_fields("x"))
    assert other["error_id"] == ErrorId.CASE_PERMISSION_DENIED
    await server.audit.flush()
    assert refusals(sessions) == [
        ("water", "department", cid, Msg.GET_CASE, ErrorId.CASE_NOT_FOUND),
        ("1001", "agent", None, Msg.GET_CASE, ErrorId.CASE_NOT_FOUND),
        ("water", "department", None, Msg.CREATE_CASE, ErrorId.CASE_PERMISSION_DENIED),
        ("hu12350", "hotline_unit", None, Msg.CREATE_CASE, ErrorId.CASE_PERMISSION_DENIED),
    ]
    assert audit_count(sessions, "create") == 1 and audit_count(sessions, "view") == 0


async def test_return_send_back_escalate_and_resolve_directly(as_user: Open, units: dict[str, int]) -> None:
    agent, sup, qa = await as_user("1001"), await as_user("sup"), await as_user("qa")
    water, roads = await as_user("water"), await as_user("roads")

    # return (退单): not ours; once the centre accepts it the case waits for re-dispatch
    cid = await new_case(agent, request="路灯不亮")
    await ok(agent, Msg.DISPATCH_CASE, case_id=cid, units=[units["water"]])
    case = await ok(water, Msg.RETURN_CASE, case_id=cid, reason="属市政工程处职责")
    assert case["status"] == "dispatched" and case["dispatches"][0]["status"] == "return_requested"
    case = await ok(sup, Msg.REVIEW_RETURN, case_id=cid, approved=True)
    assert case["status"] == "returned" and case["dispatches"][0]["return_reason"] == "属市政工程处职责"
    case = await ok(agent, Msg.DISPATCH_CASE, case_id=cid, units=[units["roads"]])
    assert case["status"] == "dispatched"

    # send back (退回重办) after review, with a reason
    await ok(roads, Msg.ACCEPT_CASE, case_id=cid)
    await ok(roads, Msg.HANDLE_CASE, case_id=cid, result="已更换灯泡")
    await ok(sup, Msg.FOLLOW_UP_CASE, case_id=cid, reached=True, solved=False, satisfaction="unsatisfied")
    r = await refused(sup, ErrorId.CASE_INVALID_INPUT, Msg.REVIEW_CASE, sup, case_id=cid, approved=False)
    assert r["detail"]["field"] == "reason"
    case = await ok(sup, Msg.REVIEW_CASE, case_id=cid, approved=False, reason="市民反映仍不亮")
    assert case["status"] == "in_progress" and case["reviews"][0] == {**case["reviews"][0], "approved": False}
    assert [d["status"] for d in case["dispatches"]] == ["returned", "withdrawn", "accepted"]

    # escalate to the city leader: only a coordinated case, only by the supervisor
    coord = await new_case(agent, request="河道污染涉及多部门")
    case = await ok(agent, Msg.DISPATCH_CASE, case_id=coord, units=[units["water"], units["roads"]])
    assert case["handling"] == "coordinated" and len(case["dispatches"]) == 2
    await refused(agent, ErrorId.CASE_PERMISSION_DENIED, Msg.ESCALATE_TO_LEADER, sup, case_id=coord, instructions="x")
    await refused(sup, ErrorId.CASE_INVALID_INPUT, Msg.ESCALATE_TO_LEADER, sup, case_id=cid, instructions="x")
    case = await ok(sup, Msg.ESCALATE_TO_LEADER, case_id=coord, instructions="请分管副市长协调")
    assert case["leader_escalated"] is True and case["supervisions"][0]["leader"] is True

    # resolve directly (直接办理): the centre, not QA nor a department
    direct = await new_case(agent, request="咨询办证时间")
    await refused(qa, ErrorId.CASE_PERMISSION_DENIED, Msg.RESOLVE_DIRECTLY, sup, case_id=direct, resolution="x")
    await refused(water, ErrorId.CASE_NOT_FOUND, Msg.RESOLVE_DIRECTLY, sup, case_id=direct, resolution="x")
    case = await ok(agent, Msg.RESOLVE_DIRECTLY, case_id=direct, resolution="已告知工作日9点至17点")
    assert case["status"] == "closed" and case["handling"] == "direct"


async def test_a_department_sees_only_its_units_cases(as_user: Open, units: dict[str, int]) -> None:
    agent = await as_user("1001")
    to_water = await new_case(agent, request="水压低")
    to_pipes = await new_case(agent, request="管网漏水")
    to_roads = await new_case(agent, request="井盖缺失")
    await new_case(agent, request="未派遣")
    await ok(agent, Msg.DISPATCH_CASE, case_id=to_water, units=[units["water"]])
    await ok(agent, Msg.DISPATCH_CASE, case_id=to_pipes, units=[units["pipes"]])
    await ok(agent, Msg.DISPATCH_CASE, case_id=to_roads, units=[units["roads"]])

    async def ids(login: str, **filters: Any) -> set[int]:
        r = await (await as_user(login)).request(Msg.LIST_CASES, **filters)
        assert r["type"] == Msg.CASES, r
        return {c["id"] for c in r["cases"]}

    assert await ids("water") == {to_water, to_pipes}  # its own and its 3rd-level unit's
    assert await ids("pipes") == {to_pipes}
    assert await ids("roads", status="dispatched") == {to_roads}
    assert await ids("safety") == set()
    assert len(await ids("sup", open=True)) == 4
    assert await ids("sup", status="dispatched", text="井盖") == {to_roads}
    roads = await as_user("roads")
    assert (await roads.request(Msg.GET_CASE, case_id=to_water))["error_id"] == ErrorId.CASE_NOT_FOUND
    search = await roads.request(Msg.SEARCH_CASES, text="水")
    assert search["cases"] == []


async def test_a_hotline_unit_sees_and_works_only_its_hotline(as_user: Open, units: dict[str, int]) -> None:
    agent, hu, safety = await as_user("1001"), await as_user("hu12350"), await as_user("safety")
    centre_case = await new_case(agent, request="12345 的案卷")
    own = await new_case(hu, hotline="12350", request="工地脚手架不稳")
    r = await hu.request(Msg.LIST_CASES)
    assert [c["id"] for c in r["cases"]] == [own]
    assert (await hu.request(Msg.GET_CASE, case_id=centre_case))["error_id"] == ErrorId.CASE_NOT_FOUND
    r = await hu.request(Msg.DISPATCH_CASE, case_id=centre_case, units=[units["safety"]])
    assert r["error_id"] == ErrorId.CASE_NOT_FOUND
    # in sub-platform mode the hotline unit dispatches, follows up and reviews; the centre's agent may not
    case = await detail(hu, own)
    assert set(case["allowed_actions"]) == {"resolve_directly", "dispatch"}
    assert [u["name"] for u in case["dispatch_units"]] == ["安监执法支队"]
    sup = await as_user("sup")
    await refused(agent, ErrorId.CASE_PERMISSION_DENIED, Msg.DISPATCH_CASE, sup, case_id=own, units=[units["safety"]])
    await ok(hu, Msg.DISPATCH_CASE, case_id=own, units=[units["safety"]])
    await ok(safety, Msg.ACCEPT_CASE, case_id=own)
    await ok(safety, Msg.HANDLE_CASE, case_id=own, result="已责令整改")
    await ok(hu, Msg.FOLLOW_UP_CASE, case_id=own, reached=True, solved=True, satisfaction="basic")
    await refused(sup, ErrorId.CASE_PERMISSION_DENIED, Msg.REVIEW_CASE, sup, case_id=own, approved=True)
    assert (await ok(hu, Msg.REVIEW_CASE, case_id=own, approved=True))["status"] == "closed"


@pytest.mark.parametrize(
    ("kind", "fields", "field"),
    [
        (Msg.GET_CASE, {"case_id": "1"}, "case_id"),
        (Msg.GET_CASE, {}, "case_id"),
        (Msg.GET_CASE, {"case_id": 0}, "case_id"),
        (Msg.ACCEPT_CASE, {"case_id": True}, "case_id"),
        (Msg.LIST_CASES, {"status": "lost"}, "status"),
        (Msg.LIST_CASES, {"limit": 500}, "limit"),
        (Msg.DISPATCH_CASE, {"case_id": 1, "units": ["water"]}, "units"),
        (Msg.DISPATCH_CASE, {"case_id": 1, "units": list(range(1, 30))}, "units"),
        (Msg.DISPATCH_CASE, {"case_id": 1, "units": 3}, "units"),
        (Msg.DISPATCH_CASE, {"case_id": 1, "deadline_hours": 0}, "deadline_hours"),
        (Msg.RETURN_CASE, {"case_id": 1}, "reason"),
        (Msg.RETURN_CASE, {"case_id": 1, "reason": "x" * (p.MAX_NOTE + 1)}, "reason"),
        (Msg.RETURN_CASE, {"case_id": 1, "reason": "x", "reason_code": "bored"}, "reason_code"),
        (Msg.REVIEW_RETURN, {"case_id": 1}, "approved"),
        (Msg.REQUEST_EXTENSION, {"case_id": 1, "reason": "x"}, "deadline_at"),
        (Msg.DECIDE_EXTENSION, {"case_id": 1, "approved": "yes"}, "approved"),
        (Msg.HANDLE_CASE, {"case_id": 1, "result": "a\x00b"}, "result"),
        (Msg.FOLLOW_UP_CASE, {"case_id": 1, "reached": "yes"}, "reached"),
        (Msg.FOLLOW_UP_CASE, {"case_id": 1, "reached": True, "satisfaction": "great"}, "satisfaction"),
        (Msg.REVIEW_CASE, {"case_id": 1}, "approved"),
        (Msg.SUPERVISE_CASE, {"case_id": 1}, "instructions"),
        (Msg.ESCALATE_TO_LEADER, {"case_id": 1, "instructions": 5}, "instructions"),
        (Msg.RESOLVE_DIRECTLY, {"case_id": 1}, "resolution"),
    ],
)
async def test_malformed_fields_are_refused_with_the_field(
    as_user: Open, kind: str, fields: dict[str, Any], field: str
) -> None:
    agent = await as_user("1001")
    cid = await new_case(agent)
    assert cid == 1
    r = await agent.request(kind, **fields)
    assert r["type"] == Msg.ERROR and r["error_id"] == ErrorId.INVALID_FIELD, r
    assert r["detail"]["field"] == field
    assert (await detail(agent, cid))["status"] == "received"


async def test_workflow_requests_need_a_signed_in_connection(desktop: Any) -> None:
    d = await desktop()
    for kind in (Msg.GET_CASE, Msg.ACCEPT_CASE):
        assert (await d.request(kind, case_id=1))["error_id"] == ErrorId.NOT_SIGNED_IN
    assert (await d.request(Msg.LIST_CASES))["error_id"] == ErrorId.NOT_SIGNED_IN


def test_every_workflow_action_a_desktop_makes_has_a_request() -> None:
    from ari_app.cases.machine import Action

    made_by_platform = {Action.ESCALATE, Action.EXCHANGE_UPDATE, Action.EXCHANGE_REFUSED, Action.MASTER_CLOSED}
    with_another_case = {Action.MERGE: Msg.MERGE_CASES, Action.UNMERGE: Msg.UNMERGE_CASE}  # not a case's buttons
    assert set(p.ACTION_REQUESTS) | set(p.RULE_REQUESTS) == {str(a) for a in Action} - {
        str(a) for a in made_by_platform | set(with_another_case)
    }
    assert not set(p.ACTION_REQUESTS) & set(p.RULE_REQUESTS)
    assert all(kind in p.CLIENT_MESSAGES for kind in with_another_case.values())
    assert all(kind in p.CLIENT_MESSAGES for kind in [*p.ACTION_REQUESTS.values(), *p.RULE_REQUESTS.values()])


async def test_request_type_classification_location_and_the_dispatch_suggestion(
    as_user: Open, units: dict[str, int], sessions: sessionmaker[Session]
) -> None:
    from datetime import UTC, datetime

    from ari_app.cases.actor import Actor
    from ari_app.cases.catalogue import add_node
    from ari_app.cases.routing import RuleSpec, add_rule

    admin, now = Actor(user_id=None, login="cli:root", role=Role.ADMIN), datetime.now(UTC)
    with sessions() as s, s.begin():
        add_node(s, admin, "010000", "城乡建设", None, now=now)
        add_node(s, admin, "010100", "供水", "Water supply", now=now)
        add_node(s, admin, "010200", "道路", None, now=now)
        spec = RuleSpec("010100", False, "天山区", None, None, (units["water"], units["pipes"]), False)
        add_rule(s, admin, spec, now=now)
    agent = await as_user("1001")
    fields = dict(hotline="12345", request="停水", urgency="normal", language="zh", handling="dispatch")
    r = await agent.request(
        Msg.CREATE_CASE, **fields, request_type="complaint", classification="010100", district="天山区",
        grid_cell="TS-07", latitude=43.8, longitude=87,
    )  # fmt: skip
    assert r["type"] == Msg.CASE_CREATED, r
    case = r["case"]
    assert (case["request_type"], case["classification"], case["classification_name"]) == (
        "complaint", "010100", "城乡建设 / 供水",
    )  # fmt: skip
    assert (case["district"], case["street"], case["grid_cell"]) == ("天山区", None, "TS-07")
    assert (case["latitude"], case["longitude"]) == (43.8, 87.0)
    got = await agent.request(Msg.SUGGEST_DISPATCH, case_id=case["id"])
    assert got["type"] == Msg.DISPATCH_SUGGESTION, got
    assert [u["id"] for u in got["suggestion"]["units"]] == [units["water"], units["pipes"]]
    assert got["suggestion"]["automatic"] is False

    other = await agent.request(Msg.CREATE_CASE, **fields, classification="010200")
    assert other["case"]["request_type"] == "help"
    none = await agent.request(Msg.SUGGEST_DISPATCH, case_id=other["case"]["id"])
    assert none["suggestion"] == {"case_id": other["case"]["id"], "rule_id": None, "automatic": False, "units": []}

    bad = await agent.request(Msg.CREATE_CASE, **fields, classification="990000")
    assert bad["error_id"] == ErrorId.CLASSIFICATION_NOT_SELECTABLE
    bad = await agent.request(Msg.CREATE_CASE, **fields, request_type="gossip")
    assert bad["error_id"] == ErrorId.INVALID_FIELD and bad["detail"]["field"] == "request_type"
    water = await as_user("water")
    hidden = await water.request(Msg.SUGGEST_DISPATCH, case_id=case["id"])
    assert hidden["error_id"] == ErrorId.CASE_NOT_FOUND


async def test_merge_through_the_link_duplicates_follow_the_master_and_both_citizens_are_followed_up(
    as_user: Open, units: dict[str, int], sessions: sessionmaker[Session]
) -> None:
    """并单 end to end: the second call about the same burst pipe, from the same citizen written another way,
    is suggested at intake and on demand; the agent merges it; it follows the master through handling, both
    citizens are on the follow-up due list, and it closes with the master."""
    agent, sup, water = await as_user("1001"), await as_user("sup"), await as_user("water")
    fields: dict[str, Any] = dict(
        hotline="12345", category="市政设施", urgency="normal", language="zh", handling="dispatch"
    )
    r = await agent.request(
        Msg.CREATE_CASE,
        caller="13912345678",
        address="天山区幸福路12号",
        request="幸福路12号小区停水两天了，水管爆了没人修",
        **fields,
    )
    assert r["type"] == Msg.CASE_CREATED and r["candidates"] == [], r
    master = int(r["case"]["id"])
    other = await agent.request(
        Msg.CREATE_CASE, caller="13912345678", address="天山区幸福路12号", request="小区门口的垃圾三天没人清运",
        **(fields | {"category": "环境卫生"}),
    )  # fmt: skip
    r = await agent.request(
        Msg.CREATE_CASE,
        caller="+86 139 1234 5678",
        address="幸福路12号院",
        request="我们小区停水两天了，爆管一直没有人来修",
        **fields,
    )
    dup = int(r["case"]["id"])
    assert [c["case"]["id"] for c in r["candidates"]] == [master], r["candidates"]  # at intake

    r = await agent.request(Msg.MERGE_CANDIDATES, case_id=dup)  # on demand
    assert r["type"] == Msg.CANDIDATES and r["case_id"] == dup, r
    (best,) = r["candidates"]
    assert best["case"]["id"] == master and best["mergeable"] and best["signals"]["number"] == 1.0
    assert best["case"]["id"] != other["case"]["id"]
    r = await water.request(Msg.MERGE_CANDIDATES, case_id=dup)
    assert r["type"] == Msg.ERROR and r["error_id"] == ErrorId.CASE_PERMISSION_DENIED, r

    # refusals, each audited: into itself, by a department
    await refused(agent, ErrorId.CASE_MERGE_SELF, Msg.MERGE_CASES, sup, case_id=dup, master_id=dup)
    r = await water.request(Msg.MERGE_CASES, case_id=dup, master_id=master)
    assert r["type"] == Msg.ERROR and r["error_id"] == ErrorId.CASE_PERMISSION_DENIED, r
    case = await ok(agent, Msg.MERGE_CASES, case_id=dup, master_id=master)
    assert case["status"] == "merged" and case["master"]["id"] == master and case["allowed_actions"] == []
    assert [d["id"] for d in (await detail(sup, master))["duplicates"]] == [dup]

    await ok(agent, Msg.DISPATCH_CASE, case_id=master, units=[units["water"]])
    await refused(agent, ErrorId.CASE_MERGE_OPEN_DISPATCHES, Msg.MERGE_CASES, sup, case_id=master, master_id=dup)
    await ok(water, Msg.ACCEPT_CASE, case_id=master)
    r = await agent.request(Msg.FOLLOW_UPS_DUE)
    assert r["type"] == Msg.CASES and r["cases"] == [], r
    await ok(water, Msg.HANDLE_CASE, case_id=master, result="已更换爆裂水管，恢复供水")
    assert (await detail(agent, dup))["master"]["status"] == "handled"

    r = await agent.request(Msg.FOLLOW_UPS_DUE)
    assert {c["id"] for c in r["cases"]} == {master, dup}, r  # both citizens
    for cid in (master, dup):
        await ok(agent, Msg.FOLLOW_UP_CASE, case_id=cid, reached=True, solved=True, satisfaction="satisfied")
    r = await agent.request(Msg.FOLLOW_UPS_DUE)
    assert r["cases"] == [], r
    assert (await detail(agent, dup))["status"] == "merged"
    await ok(sup, Msg.REVIEW_CASE, case_id=master, approved=True)
    case = await detail(agent, dup)
    assert case["status"] == "closed" and case["resolution"] == "已更换爆裂水管，恢复供水"
    assert case["follow_ups"][0]["satisfaction"] == "satisfied"
    assert audit_count(sessions, "merge") == 1 and audit_count(sessions, "master_closed") == 1
    assert audit_count(sessions, "refused") >= 3


async def test_work_order_rules_through_the_link(
    as_user: Open, units: dict[str, int], sessions: sessionmaker[Session], clock: Any
) -> None:
    """Sign-for with its deadline, a return rejected then accepted, the re-dispatch counted, an extension
    asked, refused as text without an offset, approved, and its notice due; on the config's limits and a
    controlled clock (Friday 2026-10-09 10:00 in Shanghai, before the worked Saturday)."""
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from schema.cases import CaseNotice

    sh = ZoneInfo("Asia/Shanghai")
    clock.t = datetime(2026, 10, 9, 10, tzinfo=sh).astimezone(UTC)
    agent, sup = await as_user("1001"), await as_user("sup")
    water, roads = await as_user("water"), await as_user("roads")
    r = await agent.request(Msg.CREATE_CASE, **case_fields("咨询停水时间", request_type="consultation"))
    assert r["type"] == Msg.CASE_CREATED, r
    cid = int(r["case"]["id"])
    case = await ok(agent, Msg.DISPATCH_CASE, case_id=cid, units=[units["water"]])

    def moment(text: str) -> datetime:
        return datetime.fromisoformat(text)

    assert moment(case["dispatch_deadline_at"]) == datetime(2026, 10, 10, 10, tzinfo=sh)  # 24 clock hours
    share = case["dispatches"][0]
    assert moment(share["sign_for_deadline_at"]) == datetime(2026, 10, 10, 17, 30, tzinfo=sh)  # the worked Saturday
    assert moment(share["deadline_at"]) == datetime(2026, 10, 12, 17, 30, tzinfo=sh)  # 2 wd: 10-10, 10-12

    await refused(
        water, ErrorId.CASE_INVALID_INPUT, Msg.RETURN_CASE, sup, case_id=cid, reason=" ", reason_code="wrong_area"
    )
    case = await ok(water, Msg.RETURN_CASE, case_id=cid, reason="属邻区管辖", reason_code="wrong_area")
    assert case["returns"][0] | {"id": 0} == {
        "id": 0, "unit_id": units["water"], "reason_code": "wrong_area", "reason": "属邻区管辖",
        "requested_at": case["returns"][0]["requested_at"], "status": "pending", "decided_at": None,
        "decision_note": None,
    }  # fmt: skip
    assert "accept_return" in (await detail(sup, cid))["allowed_actions"]
    await refused(water, ErrorId.CASE_PERMISSION_DENIED, Msg.REVIEW_RETURN, sup, case_id=cid, approved=True)
    r = await refused(sup, ErrorId.CASE_INVALID_INPUT, Msg.REVIEW_RETURN, sup, case_id=cid, approved=False)
    assert r["detail"]["field"] == "note"
    case = await ok(sup, Msg.REVIEW_RETURN, case_id=cid, approved=False, note="属本单位辖区")
    assert case["dispatches"][0]["status"] == "pending" and case["returns"][0]["status"] == "refused"
    assert "accept_return" not in case["allowed_actions"]

    clock.advance(hours=2)
    case = await ok(water, Msg.ACCEPT_CASE, case_id=cid)
    assert case["dispatches"][0]["signed_on_time"] is True

    asked = datetime(2026, 10, 16, 17, 30, tzinfo=sh)
    r = await refused(
        water, ErrorId.CASE_INVALID_INPUT, Msg.REQUEST_EXTENSION, sup, case_id=cid, reason="需检测",
        deadline_at="2026-10-16T17:30:00",
    )  # fmt: skip
    assert r["detail"]["field"] == "deadline_at"
    case = await ok(water, Msg.REQUEST_EXTENSION, case_id=cid, reason="需第三方检测", deadline_at=asked.isoformat())
    assert case["extensions"][0]["status"] == "pending"
    assert set(case["allowed_actions"]) >= {"return", "handle"}
    assert "request_extension" not in case["allowed_actions"]  # one waits per share
    assert {"approve_extension", "refuse_extension"} <= set((await detail(sup, cid))["allowed_actions"])
    case = await ok(sup, Msg.DECIDE_EXTENSION, case_id=cid, approved=True)
    assert moment(case["deadline_at"]) == asked and case["extensions"][0]["status"] == "approved"
    assert "request_extension" in (await detail(water, cid))["allowed_actions"]  # decided: may ask again
    with sessions() as s:
        assert [(n.case_id, n.kind, n.sent_at) for n in s.query(CaseNotice)] == [(cid, "extension", None)]

    case = await ok(water, Msg.RETURN_CASE, case_id=cid, reason="经核实属市政工程处", reason_code="not_our_duty")
    case = await ok(sup, Msg.REVIEW_RETURN, case_id=cid, approved=True)
    assert case["status"] == "returned"
    clock.advance(hours=1)
    case = await ok(agent, Msg.DISPATCH_CASE, case_id=cid, units=[units["roads"]])
    assert case["redispatch_count"] == 1 and case["problem_at"] is None
    assert (await detail(roads, cid))["dispatches"][-1]["status"] == "pending"
    assert audit_count(sessions, "reject_return") == 1 and audit_count(sessions, "approve_extension") == 1
