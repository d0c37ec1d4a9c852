"""Who sees a case's citizen: the confidential work order (保密工单).

GB/T 33358-2016 (政府热线服务规范) lets a caller ask that their work order be confidential; the national rule
is that the citizen's identity and contact are then seen by the centre only, never by the units that
handle the case. Here the hidden fields of a confidential case are the citizen's name, contact number and
calling number, canonical and as given (`HIDDEN_FIELDS`).

Everything that shows a case's citizen outward goes through this module, so the rule is applied in one
place, for a given viewer (a `Role`, or `OUTSIDE` for a system beyond the platform):

- `citizen_fields(case, viewer)`: the `caller`, `citizen_name`, `contact` and `confidential` of every case
  summary, list row, case detail, history and screen-pop (ari_app.cases.queries builds them all from it)
  and of the Open311 request to a hotline's own system (ari_app.cases.exchange);
- `participant_number`: the citizen's number among a three-way call's participants on the case detail;
- `matchable`: the search conditions on those fields (a unit must not find a confidential case by typing
  the citizen's number or name);
- `reveal_contact`: the centre's explicit, audited request for the fields in clear;
and who may mark a case confidential after intake, or lift it (`MARK_ROLES`, `UNMARK_ROLES`; the move is
ari_app.cases.workflow.set_confidential).

Who sees what (docs/cases.md, "Confidential work orders"):

    viewer                               not confidential      confidential
    agent, supervisor, qa, admin         in clear              masked (`*******5678`, `张**`), reveal on request
    hotline unit, department, OUTSIDE    in clear              absent (null; left out of the Open311 request)
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from sqlalchemy import ColumnElement, and_, or_
from sqlalchemy.orm import Session

from ari_app.cases.access import CENTRE_ROLES, load_case
from ari_app.cases.actor import Actor
from ari_app.cases.audit import audit
from ari_app.cases.errors import ContactConfidential
from ari_app.cases.settings import settings_of
from ari_app.protocol import CitizenFields, RevealedContact
from schema.cases import Case
from schema.users import Role

HIDDEN_FIELDS: Final = ("citizen_name", "contact", "contact_raw", "caller", "caller_raw")
"""The columns of a confidential case that only the centre's roles see."""

CONTACT_ROLES: Final = CENTRE_ROLES
"""Roles that see a confidential case's citizen (masked, and in clear by `reveal_contact`): the centre's
(agent, supervisor, qa, admin). Hotline units are not among them, in every mode: the national rule keeps
the contact with the centre, and on a sub-platform hotline it is the hotline's own staff who handle it."""

MARK_ROLES: Final = CENTRE_ROLES
"""Roles that may mark a case confidential after intake."""

UNMARK_ROLES: Final = frozenset({Role.SUPERVISOR, Role.ADMIN})
"""Roles that may lift confidentiality (with a reason: the citizen's own word)."""

OUTSIDE: Final = None
"""The viewer that is a system beyond the platform (a hotline's own system on the Open311 exchange)."""

Viewer = Role | None

REVEAL = "reveal_contact"
"""The audit action of a reveal. Detail: `confidential` (the case's flag at the time)."""
MARK = "confidential_set"
UNMARK = "confidential_unset"


def sees_contact(viewer: Viewer) -> bool:
    """Whether `viewer` sees a confidential case's citizen at all (masked, revealable)."""
    return viewer in CONTACT_ROLES


def mask_number(value: str | None) -> str | None:
    """A number masked for the centre's ordinary views: its last 4 digits kept when it has 8 or more
    characters (enough to confirm with the caller), every other character a `*`."""
    if value is None:
        return None
    keep = 4 if len(value) >= 8 else 0
    return "*" * (len(value) - keep) + value[len(value) - keep :]


def mask_name(value: str | None) -> str | None:
    """A name masked for the centre's ordinary views: its first character, then one `*` per other one."""
    if value is None:
        return None
    return value[:1] + "*" * max(len(value) - 1, 1)


def citizen_fields(case: Case, viewer: Viewer) -> CitizenFields:
    """The citizen as `viewer` may see them on any outward view of `case`. Not confidential: as stored.
    Confidential: masked for the centre's roles, None for everyone else (`OUTSIDE` included)."""
    if not case.confidential:
        return CitizenFields(
            caller=case.caller, citizen_name=case.citizen_name, contact=case.contact, confidential=False
        )
    if not sees_contact(viewer):
        return CitizenFields(caller=None, citizen_name=None, contact=None, confidential=True)
    return CitizenFields(
        caller=mask_number(case.caller),
        citizen_name=mask_name(case.citizen_name),
        contact=mask_number(case.contact),
        confidential=True,
    )


def participant_number(case: Case, viewer: Viewer, role: str, number: str | None) -> str | None:
    """A three-way call participant's number on the case detail: the citizen's is the calling number, and
    follows `citizen_fields`; the agent's and the unit's are not the citizen's."""
    if role != "citizen" or not case.confidential:
        return number
    return mask_number(number) if sees_contact(viewer) else None


def matchable(viewer: Viewer, *conditions: ColumnElement[bool]) -> ColumnElement[bool]:
    """`conditions` on the citizen's fields (any of them), as a search by `viewer` may use them: only on
    cases that are not confidential unless `viewer` is the centre's."""
    cond = or_(*conditions)
    return cond if sees_contact(viewer) else and_(Case.confidential.is_(False), cond)


def revealed(case: Case) -> RevealedContact:
    return RevealedContact(
        case_id=case.id,
        number=case.number,
        confidential=case.confidential,
        citizen_name=case.citizen_name,
        contact=case.contact,
        contact_raw=case.contact_raw,
        caller=case.caller,
        caller_raw=case.caller_raw,
    )


def reveal_contact(session: Session, actor: Actor, case_ref: int | str, now: datetime | None = None) -> Case:
    """The case whose citizen the actor asks to see in clear, after writing one `reveal_contact` audit entry
    (who, when, which case) in the caller's transaction. Refused with `ContactConfidential` for any role
    but the centre's (before the case is looked at, so the refusal says nothing of it), `CaseNotFound` for
    a case the actor may not see. Any case may be revealed, confidential or not: the audit says which."""
    if not sees_contact(actor.role):
        raise ContactConfidential(
            f"role {actor.role} may not see a citizen's contact in clear", role=str(actor.role), case=str(case_ref)
        )
    now = settings_of(session).now(now)
    case = load_case(session, actor, case_ref)
    audit(session, actor, REVEAL, case.id, now, confidential=case.confidential)
    session.flush()
    return case
