"""Stopping background tasks: every task is cancelled and has ended when the stop returns, whatever it raised."""

from __future__ import annotations

import asyncio

from ari_app.tasks import cancel_and_wait


def test_cancel_and_wait_ends_every_task_and_raises_none_of_their_errors() -> None:
    async def run() -> None:
        cleaned: list[str] = []

        async def forever(name: str) -> None:
            try:
                await asyncio.Event().wait()
            finally:
                cleaned.append(name)

        async def fails() -> None:
            raise RuntimeError("a task that failed before the stop")

        tasks = [asyncio.create_task(forever("a")), asyncio.create_task(forever("b")), asyncio.create_task(fails())]
        await asyncio.sleep(0)
        await cancel_and_wait(tasks[0], None, *tasks[1:])
        assert all(task.done() for task in tasks)
        assert sorted(cleaned) == ["a", "b"] and tasks[0].cancelled() and tasks[1].cancelled()
        await cancel_and_wait()  # nothing to stop

    asyncio.run(run())
