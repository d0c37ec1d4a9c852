"""Admission control in the real Asterisk: a call over a hotline's limit hears the overflow message and is
logged, while the calls within the limit are served."""

from __future__ import annotations

import random

import yaml

from tests.support.e2e import Stack, calls, calls_in_state, hotline
from tests.support.waiting import wait_for


def test_call_over_the_hotline_limit_hears_overflow(stack: Stack) -> None:
    original = stack.config.read_text(encoding="utf-8")
    data = yaml.safe_load(original)
    next(h for h in data["hotlines"] if h["number"] == "12350")["max_calls"] = 1
    stack.config.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    try:
        assert hotline(stack.config, "asterisk", "up", timeout=120).returncode == 0
        first, second = (f"137{random.randrange(10**8):08d}" for _ in range(2))
        admitted = stack.sipp.call("12350", first, talk_ms=6000, wait=False)
        calls_in_state(stack, first, "connected", "the first call to be answered")
        stack.sipp.call("12350", second, talk_ms=1500)
        over = calls_in_state(stack, second, "rejected", "the overflow call's record")[0]
        assert over["hotline"] == "12350" and over["end_reason"] == "overflow" and over["agent"] is None
        assert admitted.wait(timeout=30) == 0
        served = calls_in_state(stack, first, "ended", "the admitted call to end")[0]
        assert served["end_reason"] == "caller_hangup"
        cdr = (stack.asterisk_log / "cdr-csv" / "Master.csv").read_text()
        assert any(second in row and "overflow=12350" in row for row in cdr.splitlines())
        # the other hotlines are not limited by 12350's limit
        third = f"136{random.randrange(10**8):08d}"
        busy = stack.sipp.call("12350", f"135{random.randrange(10**8):08d}", talk_ms=5000, wait=False)
        wait_for(
            lambda: any(c["hotline"] == "12350" and c["state"] == "connected" for c in calls(stack.config)) or None,
            20,
            "12350 busy again",
        )
        stack.sipp.call("12345", third, talk_ms=1000)
        other = calls_in_state(stack, third, "ended", "the 12345 call")[0]
        assert other["end_reason"] == "caller_hangup"
        busy.wait(timeout=30)
    finally:
        stack.config.write_text(original, encoding="utf-8")
        assert hotline(stack.config, "asterisk", "up", timeout=120).returncode == 0
