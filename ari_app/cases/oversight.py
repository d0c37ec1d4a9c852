"""The read-mostly views of supervisors, leaders and a hotline's managing unit: the overdue and problem work
orders (问题工单) across units, and the KPI report for a period (ari_app.cases.kpi) in the reader's scope.

Who may read them (`OVERSIGHT_ROLES`): supervisors and admins see every hotline; a hotline unit (热线管理单位)
sees its own hotline only (`access.visible`; the KPI report cut to its hotline, `kpi_report`). Any other
role is refused (PermissionDenied). Each read runs in `audit.transaction`, so it is audited (`oversight`,
`kpi`) and a refusal leaves one `refused` entry, as every request of a person.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, tzinfo
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from ari_app.cases.access import ACTIVE_DISPATCH, visible
from ari_app.cases.actor import Actor
from ari_app.cases.audit import audit, transaction
from ari_app.cases.errors import PermissionDenied
from ari_app.cases.exchange import stalled_cases
from ari_app.cases.kpi import KpiReport, KpiRow, compute
from ari_app.cases.machine import CaseState
from ari_app.cases.queries import list_item
from ari_app.cases.settings import settings_of
from ari_app.protocol import CaseListItem
from schema.cases import Case, CooperatingUnit
from schema.users import Role

OVERSIGHT_ROLES = frozenset({Role.SUPERVISOR, Role.ADMIN, Role.HOTLINE_UNIT})
"""Who reads the overdue and problem lists and the KPI report (a hotline unit: its hotline's only)."""
OVERSIGHT_LIMIT = 200
Kind = Literal["overdue", "problem"]


@dataclass(frozen=True)
class OversightRow:
    """A case of the overdue or problem list: its list row (as `queries.list_item` gives it to the reader),
    the units holding it now (lead first), when it became a problem work order (ISO 8601, or None) and its
    counters (改派 re-dispatches, 发回重办 send-backs)."""

    case: CaseListItem
    units: list[str]
    problem_at: str | None
    redispatch_count: int
    send_back_count: int


def _require(actor: Actor, what: str) -> None:
    if actor.role not in OVERSIGHT_ROLES:
        raise PermissionDenied(f"role {actor.role} may not read {what}", action=what, role=str(actor.role))


def oversight_cases(
    sessions: Callable[[], Session], actor: Actor, kind: Kind, limit: int = OVERSIGHT_LIMIT
) -> list[OversightRow]:
    """The open cases past their deadline (`overdue`, the latest deadline longest ago first) or the problem
    work orders (`problem`: `cases.problem_at` set by deadlines.check_problem, newest first) the actor may
    see, at most `limit` (≤ 200). Audited as one lookup (`oversight`, with the kind and the count)."""
    with transaction(sessions, actor, "oversight_cases") as s:
        _require(actor, "oversight")
        now = settings_of(s).now()
        stmt = select(Case).where(Case.status != CaseState.CLOSED)
        cond = visible(actor, many=True)
        if cond is not None:
            stmt = stmt.where(cond)
        if kind == "overdue":
            stmt = stmt.where(Case.deadline_at.is_not(None), Case.deadline_at < now).order_by(Case.deadline_at)
        else:
            stmt = stmt.where(Case.problem_at.is_not(None)).order_by(Case.problem_at.desc())
        found = list(s.scalars(stmt.order_by(Case.id).limit(max(1, min(limit, OVERSIGHT_LIMIT)))))
        audit(s, actor, "oversight", None, now, kind=kind, found=len(found))
        stalled = stalled_cases(s, [c.id for c in found])
        return [
            OversightRow(
                case=list_item(c, actor.role, now, stalled),
                units=[
                    d.unit.name for d in sorted(c.dispatches, key=lambda d: not d.lead) if d.status in ACTIVE_DISPATCH
                ],
                problem_at=c.problem_at.isoformat() if c.problem_at is not None else None,
                redispatch_count=c.redispatch_count,
                send_back_count=c.send_back_count,
            )
            for c in found
        ]


def kpi_report(sessions: Callable[[], Session], actor: Actor, start: date, end: date, tz: tzinfo) -> KpiReport:
    """`kpi.compute` for the cases taken from `start` to `end` (exclusive, days in `tz`), in the actor's scope:
    every hotline for supervisors and admins; for a hotline unit its hotline's row as the total and the only
    hotline, and the units that belong to its hotline (`units.hotline`; a sub-platform hotline dispatches
    only to those, so their figures are its cases'), no per-agent rows (the agents are the centre's). The
    per-day intake is the whole centre's and is left empty for a hotline unit. Audited (`kpi`, with the
    period and the hotline)."""
    with transaction(sessions, actor, "kpi_report") as s:
        _require(actor, "kpi")
        now = settings_of(s).now()
        report = compute(s, start, end, tz=tz, now=now)
        if actor.role is Role.HOTLINE_UNIT:
            report = _cut_to_hotline(s, report, actor.hotline or "")
        audit(s, actor, "kpi", None, now, start=start.isoformat(), end=end.isoformat(), hotline=actor.hotline)
        return report


def _cut_to_hotline(s: Session, report: KpiReport, hotline: str) -> KpiReport:
    own = set(s.scalars(select(CooperatingUnit.name).where(CooperatingUnit.hotline == hotline)))
    line = next((r for r in report.by_hotline if r.key == hotline), KpiRow("hotline", hotline))
    total = KpiRow(
        "total",
        "all",
        line.intake,
        line.handled,
        line.closed,
        line.on_time,
        line.due,
        line.reached,
        line.satisfied,
    )
    return KpiReport(
        report.start,
        report.end,
        [],
        total,
        by_hotline=[line],
        by_unit=[r for r in report.by_unit if r.key in own],
        by_agent=[],
        timezone=report.timezone,
    )


def ranking(rows: list[KpiRow]) -> list[KpiRow]:
    """Units ranked by on-time rate (按时办结率), highest first; ties by more shares due, then by name; units
    with nothing due yet (no rate) last."""
    return sorted(rows, key=lambda r: (r.on_time_rate is None, -(r.on_time_rate or 0.0), -r.due, r.key))
