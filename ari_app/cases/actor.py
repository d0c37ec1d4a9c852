"""Who is acting: the signed-in user as the case workflow sees them."""

from __future__ import annotations

from dataclasses import dataclass

from schema.users import Role


@dataclass(frozen=True)
class Actor:
    """A user acting on cases. `hotline` scopes hotline-unit staff to one hotline's cases; `unit_id` scopes
    department staff to cases dispatched to their unit (or the 3rd-level units under it)."""

    user_id: int | None
    login: str
    role: Role
    hotline: str | None = None
    unit_id: int | None = None


SYSTEM = Actor(user_id=None, login="system", role=Role.ADMIN)
"""The platform itself: the deadline clock and the exchange channel act as this actor."""
