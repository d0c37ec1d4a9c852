"""Retention inside the CTI server: apply `recordings.retention_days` at start and then once a day, so that
recordings do not outlive their time when nobody runs `hotline transcribe --purge`.

    runner = RetentionRunner(cfg.recordings_path, cfg.retention_days)
    extras.append(runner)          # start(): purge now, then every `interval` seconds; stop()

The purge itself is `recordings.store.purge_expired` (whole UTC days, transcripts kept). It runs in a worker
thread; a failure is logged and tried again at the next round, never raised into the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import date
from pathlib import Path

from recordings.store import PurgeReport, purge_expired
from schema.base import utcnow

log = logging.getLogger(__name__)

DAY_SECONDS = 24 * 3600.0


class RetentionRunner:
    def __init__(
        self,
        root: Path,
        retention_days: int,
        *,
        interval: float = DAY_SECONDS,
        today: Callable[[], date] = lambda: utcnow().date(),
    ) -> None:
        self.root = root
        self.retention_days = retention_days
        self.interval = interval
        self.today = today
        self.rounds = 0
        self.last: PurgeReport | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.ensure_future(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def purge_once(self) -> PurgeReport | None:
        try:
            report = await asyncio.to_thread(purge_expired, self.root, self.retention_days, self.today())
        except Exception:
            log.exception("recording retention failed; trying again in %.0f s", self.interval)
            return None
        finally:
            self.rounds += 1
        self.last = report
        if report.days:
            log.info(
                "retention: removed %s day folders of recordings (%s files, %s bytes) older than %s days",
                len(report.days), report.files, report.bytes, self.retention_days,
            )  # fmt: skip
        return report

    async def _run(self) -> None:
        while True:
            await self.purge_once()
            await asyncio.sleep(self.interval)
