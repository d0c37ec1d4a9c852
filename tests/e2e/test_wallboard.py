"""Wallboard figures against the call records, for a scripted mix of answered and abandoned real calls."""

from __future__ import annotations

import json
import random
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from tests.support.e2e import Stack, calls, hotline, suite_members
from tests.support.waiting import wait_for


def _board(stack: Stack) -> dict[str, Any]:
    proc = hotline(stack.config, "wallboard", "--json")
    assert proc.returncode == 0, proc.stderr
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def _h(board: dict[str, Any], number: str) -> dict[str, Any]:
    return next(h for h in board["hotlines"] if h["hotline"] == number)


def test_scripted_mix_counts_on_the_wallboard(stack: Stack) -> None:
    before = _h(_board(stack), "12358")
    answered = [f"129{random.randrange(10**8):08d}" for _ in range(2)]
    for caller in answered:
        stack.sipp.call("12358", caller, talk_ms=2000, wait=False)
    wait_for(
        lambda: (
            all(any(c["caller"] == a and c["state"] == "ended" for c in calls(stack.config)) for a in answered) or None
        ),
        30,
        "two answered calls",
    )
    suite_members(stack.config, present=False)  # nobody to answer: the next caller gives up after 2 s
    try:
        gave_up = f"128{random.randrange(10**8):08d}"
        stack.sipp.call("12358", gave_up, talk_ms=2000)
        wait_for(
            lambda: any(c["caller"] == gave_up and c["state"] == "abandoned" for c in calls(stack.config)) or None,
            20,
            "the abandoned call",
        )
    finally:
        suite_members(stack.config, present=True)
    board = _board(stack)
    after = _h(board, "12358")
    assert after["answered"] - before["answered"] == 2
    assert after["abandoned"] - before["abandoned"] == 1
    # every figure for 12358 agrees with the call records of today
    today = datetime.fromisoformat(board["at"]).astimezone(ZoneInfo("Asia/Shanghai")).date()
    mine = [
        c
        for c in calls(stack.config, limit=2000)
        if c["hotline"] == "12358"
        and datetime.fromisoformat(c["arrived_at"]).astimezone(ZoneInfo("Asia/Shanghai")).date() == today
    ]
    answered_rows = [c for c in mine if c["answered_at"]]
    assert after["answered"] == len(answered_rows)
    assert after["abandoned"] == len(
        [c for c in mine if c["state"] == "abandoned" or c["end_reason"] == "queue_timeout"]
    )
    within = len([c for c in answered_rows if c["wait_seconds"] <= 15])
    assert after["service_level"] == round(100 * within / (after["answered"] + after["abandoned"]), 1)
    assert after["average_wait"] == round(sum(c["wait_seconds"] for c in answered_rows) / len(answered_rows), 1)
