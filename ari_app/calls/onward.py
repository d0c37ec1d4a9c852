"""The base of the services that take a connected call on to another phone: transfers and three-way calls."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Generic, TypeVar

from ari_app.calls.numbers import NumberError
from ari_app.protocol import DomainError, ErrorId

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from ari_app.calls.tracker import CallTracker
    from ari_app.config import Partner

A = TypeVar("A")


class CallOnward(Generic[A]):
    """What both hold: the tracker (its calls and number plan), the AMI (`A`: what the service asks of it),
    the database, the trunk a unit's number is dialled through and the linkage partners."""

    def __init__(
        self,
        tracker: CallTracker,
        ami: A,
        sessions: sessionmaker[Session],
        trunk: str,
        partners: Mapping[str, Partner] | None,
    ) -> None:
        self.tracker = tracker
        self.partners = dict(partners or {})
        """联动: the emergency and police partners by key (config.yaml `linkage`), dialled by their dial string."""
        self.ami = ami
        self.sessions = sessions
        self.trunk = trunk

    def dial_out(self, number: str | None, partner: str | None, refusal: type[DomainError]) -> tuple[str, str]:
        """The channel to dial for `partner` (a linkage partner's key: its configured number through its
        trunk, `Partner.dial`) or else `number` (a unit's, in any form an agent types it:
        `NumberPlan.outbound`, through `trunk`), and the number as dialled; else `refusal` with
        `partner_unknown` or `invalid_number`."""
        if partner is not None:
            found = self.partners.get(partner)
            if found is None:
                raise refusal(f"{partner!r} is not a linkage partner", error_id=ErrorId.PARTNER_UNKNOWN)
            return found.dial, found.number
        try:
            dialled = self.tracker.numbers.outbound(number or "", self.trunk)
        except NumberError as exc:
            raise refusal(str(exc), error_id=ErrorId.INVALID_NUMBER) from None
        return f"PJSIP/{dialled}@{self.trunk}", dialled
