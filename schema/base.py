"""Declarative base and the reusable column types every model uses."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from sqlalchemy import DateTime, MetaData, String, TypeDecorator, event
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, mapped_column


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware datetimes on every backend: stored as UTC, always returned with tzinfo=UTC.

    SQLite has no timezone type; without this, values come back naive and comparisons across
    backends silently differ.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime stored; use datetime.now(UTC)")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


Timestamp = Annotated[datetime, mapped_column(UTCDateTime())]
ShortText = Annotated[str, mapped_column(String(64))]

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


M = TypeVar("M", bound=Base)


def kept_as_written(model: type[M], refusal: Callable[[M], Exception]) -> None:
    """Rows of `model` are never changed nor removed through the ORM: a flush that would update or delete one
    raises `refusal(row)` instead."""

    def refuse(_mapper: Any, _conn: Any, target: M) -> None:
        raise refusal(target)

    event.listen(model, "before_update", refuse)
    event.listen(model, "before_delete", refuse)
