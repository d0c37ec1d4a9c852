"""回访: when the follow-up of a case is due, and the citizen's five-level rating of the case (一事一评).

**Due time.** The follow-up is due by the end of office hours of the `CaseSettings.follow_up_due_working_days`-th
working day (config.yaml `cases.follow_up.due_working_days`, default 1: the working day after handling, the
provinces' rule) after the day the case became `handled`, counted by the centre's working-day calendar
(`WorkCalendar.add_working_days`: weekends, public holidays and adjusted working days such as Saturday
2026-10-10 after National Day). It is stored on the case (`cases.follow_up_due_at`), so the due list is one
query on `ix_cases_follow_up_due_at`:

- set when the case becomes `handled` (`on_transition`, called by `access.transition`, the one place a status
  changes), and on each duplicate merged into it (并单) whose citizen has not been reached yet, with the
  master's time: the duplicates are due with their master; a case merged into a master already handled
  gets the master's due time (`follow_merged`);
- kept while the citizen is not reached (the follow-up tried and failed: the case stays on the list, overdue
  once the time has passed);
- cleared when the citizen is reached (`workflow.follow_up`), when the case goes back to its unit (发回重办,
  `send_back`; the master's duplicates not reached yet wait again for its next handling) and when a
  duplicate is taken out of its master (`unmerge`).

**Rating.** The follow-up records the citizen's answer on the five levels (`schema.cases.Rating`) and how
they were asked (`FollowUpChannel`: phone or SMS); the three-level `satisfaction` is kept beside it for the
satisfaction rate (`Rating.satisfaction`). An unsatisfied answer (不满意, 非常不满意) marks the case for the
reviewer: `approve` is refused (`FollowUpUnsatisfied`) and only `send_back` (发回重办) is offered
(`needs_send_back`); docs/cases.md says why the follow-up does not send the case back itself.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from ari_app.cases.machine import Action, CaseState
from ari_app.cases.settings import CaseSettings, settings_of
from schema.cases import Case, FollowUp, Rating

UNSATISFIED = frozenset(r for r in Rating if r.unsatisfied)
"""The ratings that send a case back (发回重办): 不满意, 非常不满意."""


def due_at(settings: CaseSettings, handled_at: datetime) -> datetime:
    """When the follow-up of a case handled at `handled_at` is due (UTC): the end of office hours of the
    `follow_up_due_working_days`-th working day after that day. CalendarUnknownYear for a year the calendar
    does not know."""
    return settings.calendar.add_working_days(handled_at, settings.follow_up_due_working_days).astimezone(UTC)


def _waiting_duplicates(session: Session, master: Case) -> list[Case]:
    """The duplicates of `master` still merged whose citizen has not been reached by a follow-up."""
    reached = exists(
        select(FollowUp.id).where(FollowUp.case_id == Case.id, FollowUp.reached.is_(True), FollowUp.survey_id.is_(None))
    )
    return list(
        session.scalars(
            select(Case)
            .where(Case.master_case_id == master.id, Case.status == CaseState.MERGED, ~reached)
            .order_by(Case.id)
        )
    )


def on_transition(session: Session, case: Case, action: Action, source: CaseState, target: CaseState) -> None:
    """Keep `follow_up_due_at` of `case` and of its waiting duplicates in step with a status change (the
    module's rules). Called by `access.transition` once the status is set."""
    if target is CaseState.HANDLED and source is not CaseState.HANDLED:
        handled = case.handled_at or case.updated_at
        due = due_at(settings_of(session), handled)
        case.follow_up_due_at = due
        for dup in _waiting_duplicates(session, case):
            dup.follow_up_due_at = due
    elif action is Action.SEND_BACK:
        case.follow_up_due_at = None
        for dup in _waiting_duplicates(session, case):
            dup.follow_up_due_at = None
    elif action is Action.UNMERGE:
        case.follow_up_due_at = None


def follow_merged(session: Session, case: Case, master: Case) -> None:
    """A case (and the duplicates it brought along) merged into `master`: due with the master once the master
    has been handled, else not yet."""
    due = due_at(settings_of(session), master.handled_at) if master.handled_at is not None else None
    case.follow_up_due_at = due
    for dup in _waiting_duplicates(session, master):
        dup.follow_up_due_at = due


def needs_send_back(case: Case) -> bool:
    """The follow-up found the citizen unsatisfied (不满意 or 非常不满意): the reviewer sends the case back
    (发回重办) instead of approving it."""
    return case.status == CaseState.FOLLOWED_UP and case.follow_up_rating in UNSATISFIED
