"""What the benchmarks share for their data and their figures: rows inserted in batches, and percentiles."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, insert


def insert_batches(conn: Connection, table: type[Any], rows: Iterable[dict[str, Any]], size: int = 5000) -> None:
    """Insert `rows` into `table` (a mapped class) `size` at a time, so that a large fill never holds them all."""
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            conn.execute(insert(table), batch)
            batch = []
    if batch:
        conn.execute(insert(table), batch)


def pct(values: list[float], q: float) -> float:
    """The `q` quantile of `values` (the nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]
