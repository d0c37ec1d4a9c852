"""The government case path: cooperating units, categories, cases, dispatches, follow-ups, reviews,
supervision records, attachments, the exchange outbox and the append-only audit log.

Hotlines are not a table: they come from config.yaml, and a case stores the hotline's number as a string.
The workflow rules (which status may follow which, who may act) live in ari_app.cases.machine, not here;
this module only says what is stored.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Float, ForeignKey, Index, String, Text, UniqueConstraint, false, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from schema.base import Base, UTCDateTime, kept_as_written, utcnow


class Channel(StrEnum):
    """Where a request came in."""

    PHONE = "phone"
    SMS = "sms"
    WEB = "web"
    WECHAT = "wechat"
    WEIBO = "weibo"
    APP = "app"
    EMAIL = "email"
    GRID_INSPECTION = "grid_inspection"  # 网格化管理: an inspector reported it before a citizen did
    OPEN311 = "open311"  # created through the Open311 GeoReport interface


class Urgency(StrEnum):
    NORMAL = "normal"
    URGENT = "urgent"
    CRITICAL = "critical"


class Handling(StrEnum):
    """How a request is handled (MISSION: direct, dispatch 转办, coordinated 归口协办)."""

    DIRECT = "direct"
    DISPATCH = "dispatch"
    COORDINATED = "coordinated"


class DispatchStatus(StrEnum):
    PENDING = "pending"  # sent, not yet accepted by the unit
    ACCEPTED = "accepted"  # the unit is working on it
    RETURNED = "returned"  # the unit sent it back as not theirs (the centre accepted the return)
    RETURN_REQUESTED = "return_requested"  # 退单 asked, waiting for the centre's review; the unit still holds it
    HANDLED = "handled"  # the unit reported a result
    WITHDRAWN = "withdrawn"  # superseded (sent back after review: a fresh round starts)


class Satisfaction(StrEnum):
    SATISFIED = "satisfied"
    BASIC = "basic"  # 基本满意
    UNSATISFIED = "unsatisfied"


class Rating(StrEnum):
    """The five-level satisfaction rating the provinces report (五级满意度评价): one per call (一次一评, the
    keypad survey after the agent hangs up, `survey_responses.level`) and one per case (一事一评, asked at the
    follow-up, `follow_ups.rating` and `cases.follow_up_rating`). The values are stable English names; the
    Chinese label is `zh`. `unsatisfied` and `very_unsatisfied` send the case back (发回重办, docs/cases.md)."""

    VERY_SATISFIED = "very_satisfied"  # 非常满意
    SATISFIED = "satisfied"  # 满意
    BASICALLY_SATISFIED = "basically_satisfied"  # 基本满意
    UNSATISFIED = "unsatisfied"  # 不满意
    VERY_UNSATISFIED = "very_unsatisfied"  # 非常不满意

    @property
    def zh(self) -> str:
        return RATING_LABELS[self]

    @property
    def unsatisfied(self) -> bool:
        """Not satisfied: the case goes back to its unit (发回重办)."""
        return self in (Rating.UNSATISFIED, Rating.VERY_UNSATISFIED)

    @property
    def satisfaction(self) -> Satisfaction:
        """The three-level record kept beside it (`follow_ups.satisfaction`, what the satisfaction rate
        counts): very satisfied is satisfied, very unsatisfied is unsatisfied."""
        if self in (Rating.VERY_SATISFIED, Rating.SATISFIED):
            return Satisfaction.SATISFIED
        if self is Rating.BASICALLY_SATISFIED:
            return Satisfaction.BASIC
        return Satisfaction.UNSATISFIED

    @classmethod
    def of_satisfaction(cls, satisfaction: Satisfaction) -> Rating:
        """The level a three-level answer is on the five-level scale (the same words: 满意, 基本满意, 不满意)."""
        return {
            Satisfaction.SATISFIED: cls.SATISFIED,
            Satisfaction.BASIC: cls.BASICALLY_SATISFIED,
            Satisfaction.UNSATISFIED: cls.UNSATISFIED,
        }[satisfaction]


RATING_LABELS: dict[Rating, str] = {
    Rating.VERY_SATISFIED: "非常满意",
    Rating.SATISFIED: "满意",
    Rating.BASICALLY_SATISFIED: "基本满意",
    Rating.UNSATISFIED: "不满意",
    Rating.VERY_UNSATISFIED: "非常不满意",
}


class FollowUpChannel(StrEnum):
    """How the follow-up (回访) reached the citizen, or tried to."""

    PHONE = "phone"
    SMS = "sms"


class RequestType(StrEnum):
    """The six national request types of a 12345 work order (咨询 / 求助 / 投诉 / 举报 / 建议 / 表扬); provinces
    set their limits per type (e.g. Guangdong: consultation 2 working days, help and suggestion 10, complaint
    and report 15). Cases taken before types existed were given `help` by migration 0015 (docs/cases.md)."""

    CONSULTATION = "consultation"  # 咨询
    HELP = "help"  # 求助
    COMPLAINT = "complaint"  # 投诉
    REPORT = "report"  # 举报
    SUGGESTION = "suggestion"  # 建议
    PRAISE = "praise"  # 表扬


class ReturnReason(StrEnum):
    """Why a unit returns its share (退单理由, 国办发〔2020〕53号: a dispute review of dispatches); with free text."""

    NOT_OUR_DUTY = "not_our_duty"  # 非本单位职责
    WRONG_AREA = "wrong_area"  # 属地错误
    INSUFFICIENT_INFO = "insufficient_info"  # 信息不全
    DUPLICATE = "duplicate"  # 重复工单
    OTHER = "other"  # 其他


class RequestStatus(StrEnum):
    """A unit's request the centre decides: a return (退单) or an extension (延期)."""

    PENDING = "pending"
    APPROVED = "approved"
    REFUSED = "refused"


class OutboxStatus(StrEnum):
    PENDING = "pending"  # to be sent (again) at next_attempt_at
    AWAITING_ID = "awaiting_id"  # accepted with a token; GET /tokens/{token}.json at next_attempt_at
    DELIVERED = "delivered"  # the receiver's service_request_id is on the case
    REFUSED = "refused"  # a permanent refusal (4xx other than 408/429): never sent again


class CooperatingUnit(Base):
    """A department that handles cases (协同单位): level 2 under the centre, level 3 under a level-2 unit.

    `hotline` is set for a hotline's managing unit and the units under it (sub-platform and collaborative
    hotlines whose units are listed per hotline); None for the city's general departments.
    """

    __tablename__ = "units"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    level: Mapped[int] = mapped_column(default=2)
    hotline: Mapped[str | None] = mapped_column(String(20))
    contact_phone: Mapped[str | None] = mapped_column(String(40))
    contact_person: Mapped[str | None] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(default=True)

    parent: Mapped[CooperatingUnit | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[CooperatingUnit]] = relationship(back_populates="parent")

    __table_args__ = (UniqueConstraint("name"), Index("ix_units_parent_id", "parent_id"))


class Category(Base):
    """A kind of request within one hotline, with the unit it usually goes to and its deadline."""

    __tablename__ = "categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    hotline: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(64))
    default_unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    deadline_hours: Mapped[int] = mapped_column(default=72)

    default_unit: Mapped[CooperatingUnit | None] = relationship()

    __table_args__ = (UniqueConstraint("hotline", "name", name="uq_categories_hotline_name"),)


class Classification(Base):
    """A node of the classification catalogue (分类目录) an admin maintains, shared by every hotline: a tree of
    at most three levels whose `code` has two digits per level in the style of GB/T 39666 (`010000` level 1,
    `010100` level 2 under it, `010101` level 3 under that; ari_app.cases.catalogue checks a code against
    its parent). The code never changes; the names may. A retired node (`retired_at` set) stays for the
    cases and rules that name it but cannot be chosen for a new case. A case keeps the names its node had
    when it was taken (`Case.classification_name`, `Case.classification_path`)."""

    __tablename__ = "classifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(6), unique=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("classifications.id"))
    level: Mapped[int]
    name_zh: Mapped[str] = mapped_column(String(64))
    name_en: Mapped[str | None] = mapped_column(String(128))
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    parent: Mapped[Classification | None] = relationship(remote_side=[id])

    __table_args__ = (Index("ix_classifications_parent_id", "parent_id"),)


class DispatchRule(Base):
    """One rule of the dispatch catalogue (派单目录, 国办发〔2020〕53号 and 国办函〔2025〕66号): cases of a
    classification (the node itself, or its whole subtree when `subtree`) in an area (district, street,
    grid cell; each optional, None matches any) go to a lead unit, with co-units (`units`, ordered, the
    first the lead). `automatic`: intake dispatches at once; otherwise the rule is only suggested.
    Which rule wins when several match: ari_app.cases.routing."""

    __tablename__ = "dispatch_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    classification_id: Mapped[int] = mapped_column(ForeignKey("classifications.id"))
    subtree: Mapped[bool] = mapped_column(default=False)
    district: Mapped[str | None] = mapped_column(String(64))
    street: Mapped[str | None] = mapped_column(String(64))
    grid_cell: Mapped[str | None] = mapped_column(String(64))
    automatic: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    classification: Mapped[Classification] = relationship()
    units: Mapped[list[DispatchRuleUnit]] = relationship(
        order_by="DispatchRuleUnit.position", cascade="all, delete-orphan"
    )

    __table_args__ = (Index("ix_dispatch_rules_classification_id", "classification_id"),)


class DispatchRuleUnit(Base):
    """A unit of a dispatch rule: `position` 0 is the lead (主办), the others co-units (协办) in order."""

    __tablename__ = "dispatch_rule_units"

    rule_id: Mapped[int] = mapped_column(ForeignKey("dispatch_rules.id"), primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), primary_key=True)
    position: Mapped[int]

    unit: Mapped[CooperatingUnit] = relationship()


class CaseCounter(Base):
    """The last sequence number handed out per hotline and day, for readable case numbers."""

    __tablename__ = "case_counters"

    hotline: Mapped[str] = mapped_column(String(20), primary_key=True)
    day: Mapped[str] = mapped_column(String(8), primary_key=True)
    last: Mapped[int] = mapped_column(default=0)


class Case(Base):
    """A citizen's request (案卷), from intake to closure.

    `number` is the readable id (`12345-20261129-0001`: hotline, local date, sequence of the day).
    `call_id` is Asterisk's Linkedid of the call it was taken on (the calls table's `linkedid`), if any.
    `status` holds an ari_app.cases.machine.CaseState value; only the state machine changes it.
    `deadline_at` is the earliest deadline among the unit work still open, kept for overdue queries.
    """

    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    channel: Mapped[Channel] = mapped_column(String(24))
    hotline: Mapped[str] = mapped_column(String(20))
    citizen_name: Mapped[str | None] = mapped_column(String(128))
    contact: Mapped[str | None] = mapped_column(String(40))  # canonical (ari_app.calls.numbers)
    caller: Mapped[str | None] = mapped_column(String(40))  # canonical; history matches caller and contact
    contact_raw: Mapped[str | None] = mapped_column(String(64))  # as the agent typed it
    caller_raw: Mapped[str | None] = mapped_column(String(64))  # as received
    confidential: Mapped[bool] = mapped_column(default=False, server_default=false())
    """保密工单 (GB/T 33358-2016): the citizen asked that their name, contact and calling number be kept from
    everyone but the centre (ari_app.cases.disclosure says who sees what)."""
    call_id: Mapped[str | None] = mapped_column(String(64))
    request: Mapped[str] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(String(256))
    category_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"))
    request_type: Mapped[RequestType] = mapped_column(String(16), server_default=RequestType.HELP.value)
    """Stored rows that do not say (bulk loads, cases from before migration 0015) are `help`."""
    classification_id: Mapped[int | None] = mapped_column(ForeignKey("classifications.id"))
    classification_name: Mapped[str | None] = mapped_column(String(64))
    """The node's Chinese name when the case was taken (a snapshot: a later rename does not change it)."""
    classification_path: Mapped[str | None] = mapped_column(String(256))
    """The Chinese names from the top of the tree to the node when the case was taken, joined by " / "."""
    district: Mapped[str | None] = mapped_column(String(64))
    street: Mapped[str | None] = mapped_column(String(64))
    grid_cell: Mapped[str | None] = mapped_column(String(64))
    latitude: Mapped[float | None] = mapped_column(Float())  # WGS 84 degrees, -90..90
    longitude: Mapped[float | None] = mapped_column(Float())  # WGS 84 degrees, -180..180
    urgency: Mapped[Urgency] = mapped_column(String(16))
    language: Mapped[str] = mapped_column(String(16))
    handling: Mapped[Handling] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(24))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolution: Mapped[str | None] = mapped_column(Text)
    supervision_level: Mapped[int] = mapped_column(default=0)
    leader_escalated: Mapped[bool] = mapped_column(default=False)
    external_id: Mapped[str | None] = mapped_column(String(64))
    exchange_refusal: Mapped[str | None] = mapped_column(Text)
    """Exchange mode: why the hotline's own system refused the case (its GeoReport v2 error codes and
    descriptions), shown on the centre's work list until the case is forwarded again or closed."""
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_by_login: Mapped[str] = mapped_column(String(64))
    master_case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    """并单: the master case this duplicate follows (status `merged`, then closed with it); None otherwise.
    Kept after the master closes; cleared only by `unmerge` (the audit trail keeps both moves)."""
    merged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    follow_up_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    """回访: when the follow-up call is due (the end of the `cases.follow_up.due_working_days`-th working day
    after the case was handled; a duplicate's, after its master's), set while the citizen waits for it and
    cleared once they are reached or the case goes back to work (ari_app.cases.follow_ups). The due list
    reads `ix_cases_follow_up_due_at`."""
    follow_up_rating: Mapped[Rating | None] = mapped_column(String(24))
    """一事一评: the citizen's rating of the case at its latest follow-up where they were reached."""
    dispatch_deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    """派单时限: when the case must be dispatched by (config `cases.deadlines.dispatch`, by urgency, from intake);
    None when no limits are configured and for cases taken before migration 0018."""
    redispatch_count: Mapped[int] = mapped_column(default=0, server_default="0")
    """改派: dispatches after a unit's return was accepted (ari_app.cases.returns)."""
    send_back_count: Mapped[int] = mapped_column(default=0, server_default="0")
    """发回重办: reviews that sent the case back to its units."""
    problem_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    """问题工单: when a counter reached `cases.problem_threshold` and supervision was raised a level."""

    category: Mapped[Category | None] = relationship()
    classification: Mapped[Classification | None] = relationship()
    dispatches: Mapped[list[Dispatch]] = relationship(back_populates="case", order_by="Dispatch.id")
    follow_ups: Mapped[list[FollowUp]] = relationship(back_populates="case", order_by="FollowUp.id")
    reviews: Mapped[list[Review]] = relationship(back_populates="case", order_by="Review.id")
    supervisions: Mapped[list[Supervision]] = relationship(back_populates="case", order_by="Supervision.id")

    __table_args__ = (
        Index("ix_cases_caller_created_at", "caller", "created_at"),
        Index("ix_cases_call_id", "call_id"),
        Index("ix_cases_hotline_created_at", "hotline", "created_at"),
        Index("ix_cases_created_at", "created_at"),
        Index("ix_cases_status_deadline_at", "status", "deadline_at"),
        Index("ix_cases_created_by_created_at", "created_by", "created_at"),
        Index("ix_cases_classification_id", "classification_id"),
        Index("ix_cases_category_id_created_at", "category_id", "created_at"),
        Index("ix_cases_contact_created_at", "contact", "created_at"),
        Index("ix_cases_master_case_id", "master_case_id"),
        Index("ix_cases_follow_up_due_at", "follow_up_due_at"),
        # the open cases (a few percent of all): a department's list probes its shares' case ids here,
        # and PostgreSQL orders them from the index alone (bench_web.py: list 90 ms -> 25 ms at 1M cases)
        Index(
            "ix_cases_open",
            "id",
            postgresql_include=["exchange_refusal", "deadline_at", "created_at"],
            postgresql_where=text("status <> 'closed'"),
            sqlite_where=text("status <> 'closed'"),
        ),
    )


class Dispatch(Base):
    """One unit's share of a case (派遣): a coordinated case has several, one of them the lead."""

    __tablename__ = "dispatches"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    lead: Mapped[bool] = mapped_column(default=True)
    status: Mapped[DispatchStatus] = mapped_column(String(16))
    dispatched_at: Mapped[datetime] = mapped_column(UTCDateTime())
    dispatched_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    deadline_at: Mapped[datetime] = mapped_column(UTCDateTime())
    instructions: Mapped[str | None] = mapped_column(Text)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    returned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    return_reason: Mapped[str | None] = mapped_column(Text)
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    result: Mapped[str | None] = mapped_column(Text)
    handled_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    sign_for_deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    """签收时限 (config `cases.deadlines.sign_for`, by urgency, from `dispatched_at`); None when no limits are
    configured, for shares made before migration 0018, and for shares sent back (taken on at once)."""
    signed_on_time: Mapped[bool | None] = mapped_column()
    """按时签收: whether `accepted_at` was by `sign_for_deadline_at`; None while unsigned or without a deadline."""
    feedback_deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    """首次反馈时限 (config `cases.deadlines.feedback`, by urgency, from `dispatched_at`), for display and KPIs."""
    sign_for_overdue_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    """When the deadline clock found the share still unsigned past `sign_for_deadline_at` (签收超时) and told
    its unit (ari_app.cases.deadlines.escalate_overdue; once per share)."""

    case: Mapped[Case] = relationship(back_populates="dispatches")
    unit: Mapped[CooperatingUnit] = relationship()

    __table_args__ = (
        Index("ix_dispatches_case_id", "case_id"),
        # with the case id, a unit's cases are read from the index alone (access.visible, `many`)
        Index("ix_dispatches_unit_id_status_case_id", "unit_id", "status", "case_id"),
        Index("ix_dispatches_status_deadline_at", "status", "deadline_at"),
    )


class CaseEntry:
    """The columns of an entry made on a case at a time (`at`) by a user (`by`; None for the platform itself):
    a follow-up, a review, a supervision. First in each table (`sort_order`), as the migrations made them."""

    id: Mapped[int] = mapped_column(primary_key=True, sort_order=-1)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), sort_order=-1)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), sort_order=-1)
    by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), sort_order=-1)


class FollowUp(CaseEntry, Base):
    """回访: the centre (or the hotline unit) asks the citizen whether it was solved.

    `survey_id` is set when the platform wrote the row from the citizen's keypad answer at the end of the
    case's call (`by` is then None and `solved` unknown); unique, so one answer is one follow-up.
    `rating` is the five-level answer (migration 0020 gave older rows the level of their `satisfaction`),
    `satisfaction` its three-level record (`Rating.satisfaction`); `channel` how the citizen was asked (None
    for the keypad and for rows from before 0020).
    """

    __tablename__ = "follow_ups"

    reached: Mapped[bool]
    solved: Mapped[bool | None]
    satisfaction: Mapped[Satisfaction | None] = mapped_column(String(16))
    rating: Mapped[Rating | None] = mapped_column(String(24))
    channel: Mapped[FollowUpChannel | None] = mapped_column(String(8))
    call_id: Mapped[str | None] = mapped_column(String(64))  # the outbound call (calls.linkedid) it was made on
    notes: Mapped[str | None] = mapped_column(Text)
    survey_id: Mapped[int | None] = mapped_column(ForeignKey("survey_responses.id"), unique=True)

    case: Mapped[Case] = relationship(back_populates="follow_ups")

    __table_args__ = (Index("ix_follow_ups_case_id", "case_id"),)


class Review(CaseEntry, Base):
    """审核: approved (the case closes) or sent back to the unit with a reason."""

    __tablename__ = "reviews"

    approved: Mapped[bool]
    reason: Mapped[str | None] = mapped_column(Text)

    case: Mapped[Case] = relationship(back_populates="reviews")

    __table_args__ = (Index("ix_reviews_case_id", "case_id"),)


class Supervision(CaseEntry, Base):
    """督办: an overdue case escalated (by the clock, `by` is None) or a supervisor's instruction.

    `level` rises with how long the work has been overdue; `leader` marks escalation of a coordinated case
    to the responsible city leader.
    """

    __tablename__ = "supervisions"

    dispatch_id: Mapped[int | None] = mapped_column(ForeignKey("dispatches.id"))
    level: Mapped[int]
    overdue: Mapped[bool]
    leader: Mapped[bool] = mapped_column(default=False)
    instructions: Mapped[str | None] = mapped_column(Text)

    case: Mapped[Case] = relationship(back_populates="supervisions")

    __table_args__ = (
        Index("ix_supervisions_case_id", "case_id"),
        UniqueConstraint("dispatch_id", "level", name="uq_supervisions_dispatch_id_level"),
    )


class DispatchReturn(Base):
    """退单: a unit's request to return its share, with a reason from the list and text, and the centre's review
    (派单异议审核): `approved` ends the share (the case goes back to be re-dispatched), `refused` leaves it with
    the unit and counts as an improper return of `unit_id`."""

    __tablename__ = "dispatch_returns"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    dispatch_id: Mapped[int] = mapped_column(ForeignKey("dispatches.id"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    reason_code: Mapped[ReturnReason] = mapped_column(String(24))
    reason: Mapped[str] = mapped_column(Text)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    status: Mapped[RequestStatus] = mapped_column(String(16))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decision_note: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index("ix_dispatch_returns_case_id", "case_id"),
        Index("ix_dispatch_returns_unit_id_status", "unit_id", "status"),
    )


class Extension(Base):
    """延期: a unit asks, before its share's deadline, for a later one (`deadline_asked`) with a reason; the
    centre (the hotline unit on a sub-platform) approves, moving the share's deadline, or refuses."""

    __tablename__ = "case_extensions"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    dispatch_id: Mapped[int] = mapped_column(ForeignKey("dispatches.id"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(Text)
    deadline_before: Mapped[datetime] = mapped_column(UTCDateTime())
    deadline_asked: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[RequestStatus] = mapped_column(String(16))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decision_note: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_case_extensions_case_id", "case_id"),)


class ProgressReport(Base):
    """阶段性回复 (办理进展): a unit's note on how far it has got with its signed-for share, before its result;
    any number per share, kept as written (ari_app.cases.workflow.report_progress)."""

    __tablename__ = "progress_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    dispatch_id: Mapped[int] = mapped_column(ForeignKey("dispatches.id"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    text: Mapped[str] = mapped_column(Text)
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime())
    reported_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reported_by_login: Mapped[str] = mapped_column(String(64))

    unit: Mapped[CooperatingUnit] = relationship()

    __table_args__ = (Index("ix_progress_reports_case_id", "case_id"),)


class CaseNotice(Base):
    """A notice due to the citizen (`kind`: `extension`, a case's deadline moved), for the notification port
    to send and stamp `sent_at`; the centre's, so confidential cases get theirs too."""

    __tablename__ = "case_notices"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    kind: Mapped[str] = mapped_column(String(24))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_case_notices_sent_at_due_at", "sent_at", "due_at"),)


class ExchangeMessage(Base):
    """The outbox of an exchange-mode hotline: one Open311 request to deliver to the hotline's own system.

    `key` is the idempotency key sent with every attempt, so a receiver that got a request but whose answer
    was lost recognises the retry; the row is marked delivered exactly once.
    """

    __tablename__ = "exchange_outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(80), unique=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    hotline: Mapped[str] = mapped_column(String(20))
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[OutboxStatus] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    token: Mapped[str | None] = mapped_column(String(128))
    """The GeoReport v2 token of a request accepted without its id yet (status awaiting_id)."""
    refusal: Mapped[str | None] = mapped_column(Text)
    """A refused message's answer as JSON: `{"http_status": int, "errors": [{"code": .., "description": ..}]}`."""
    refused_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    partner: Mapped[str | None] = mapped_column(String(8))
    """A linkage work order (联动): the partner's key (`110`) whose receiver gets it (config.yaml `linkage`);
    None for an exchange hotline's request, which goes to the hotline's own system."""
    service_request_id: Mapped[str | None] = mapped_column(String(64))
    """The receiver's GeoReport v2 `service_request_id` once it has made the request (a linkage work order;
    an exchange hotline's id goes on the case, `cases.external_id`)."""
    result: Mapped[str | None] = mapped_column(Text)
    """A linkage work order's last status from the partner (`GET /requests.json`) as JSON: `{"status": "open"
    | "closed", "notes": str | null, "updated": str | null}`."""

    __table_args__ = (Index("ix_exchange_outbox_status_next_attempt_at", "status", "next_attempt_at"),)


class LinkageHandoff(Base):
    """A call handed to an emergency or police partner (联动: 110/119/120) from the desktop: a one-key transfer
    or a three-way call. `case_id` is the case taken on the call, set when the case is saved (at once when
    it already was); a partner with a receiver then gets the case's work order through the outbox."""

    __tablename__ = "linkage_handoffs"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[str] = mapped_column(String(64), index=True)
    partner: Mapped[str] = mapped_column(String(8))
    kind: Mapped[str] = mapped_column(String(16))
    """`blind`, `attended` (transfers) or `three_way`."""
    agent: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)


class Attachment(Base):
    """A photo, an audio file or a document on a case, or on one unit's result (`dispatch_id`: that unit's
    share of the case). The bytes are not here: they are a file named by their SHA-256 under the configured
    attachments folder (ari_app.cases.attachments), shared by every row of the same content. `filename` is
    the name it came with, cleaned, for display only; `mime` is what the bytes are (sniffed, never the name's
    extension). `token` is the random, unguessable name a reader asks for it by. `deleted_at` is set when
    retention removed the file; the row stays, for the trail."""

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    dispatch_id: Mapped[int | None] = mapped_column(ForeignKey("dispatches.id"))
    filename: Mapped[str] = mapped_column(String(255))
    mime: Mapped[str] = mapped_column(String(64))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    token: Mapped[str] = mapped_column(String(64), unique=True)
    uploaded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    uploaded_by_login: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_attachments_case_id", "case_id"), Index("ix_attachments_sha256", "sha256"))


class AuditEntry(Base):
    """Who did what to which case, when. Append-only: the ORM refuses updates and deletes of a row
    (see the mapper events below) and the migration adds database triggers that refuse them too."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    user_id: Mapped[int | None]
    login: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(32))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    detail: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_audit_log_case_id", "case_id"), Index("ix_audit_log_at", "at"))


class AuditAppendOnlyError(Exception):
    """Someone tried to change or remove an audit entry."""

    error_id = "audit_append_only"


kept_as_written(AuditEntry, lambda entry: AuditAppendOnlyError(f"audit entry {entry.id} is append-only"))
