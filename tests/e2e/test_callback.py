"""Callback instead of waiting, with the real Asterisk: a caller presses 1 in the queue (RFC 2833), hangs
up, and is called back when the agent frees up; a server restart in between loses no callback."""

from __future__ import annotations

import random

from tests.support.e2e import AGENTS, Stack, callbacks, calls, hotline
from tests.support.waiting import wait_for


def test_callback_requested_in_queue_is_dialled_when_the_agent_frees_up(stack: Stack) -> None:
    for i in range(1, AGENTS):  # only agent 1001 works during this test
        hotline(stack.config, "asterisk", "cli", f"queue remove member PJSIP/{1001 + i} from hotline")
    try:
        busy_caller = f"133{random.randrange(10**8):08d}"
        waiting = f"134{random.randrange(10**8):08d}"
        busy = stack.sipp.call("12345", busy_caller, talk_ms=30000, wait=False, timeout=90)
        wait_for(
            lambda: any(c["caller"] == busy_caller and c["state"] == "connected" for c in calls(stack.config)) or None,
            20,
            "the only agent busy",
        )
        asker = stack.sipp.dtmf_call("12319", waiting, key="1", after_ms=1500)
        assert asker.wait(timeout=40) == 0, "the caller pressing 1 did not hear the confirmation and hang-up"
        (request,) = wait_for(
            lambda: [r for r in callbacks(stack) if r["number"] == waiting] or None, 20, "the stored callback request"
        )
        assert request["hotline"] == "12319" and request["status"] == "pending"
        original = next(c for c in calls(stack.config) if c["caller"] == waiting)
        assert original["state"] == "ended" and original["end_reason"] == "callback_requested"
        assert request["call_id"] == original["id"]

        # the server dies and comes back while the request waits: nothing is lost
        assert stack.cti.proc is not None
        stack.cti.proc.kill()
        stack.cti.proc.wait()
        synced = stack.cti.resyncs()
        stack.cti.start()
        stack.cti.wait_synced(synced + 1)
        assert [r["status"] for r in callbacks(stack) if r["number"] == waiting] == ["pending"]

        phone = stack.sipp.citizen_phone(talk_ms=3000)
        assert busy.wait(timeout=60) == 0  # the agent frees up ...
        back = wait_for(  # ... and the citizen is called back, queued, and put through to the agent
            lambda: (
                [c for c in calls(stack.config) if c["callback_of"] == original["id"] and c["state"] == "ended"] or None
            ),
            60,
            "the callback call to end",
        )[0]
        assert back["caller"] == waiting and back["hotline"] == "12319" and back["agent"] == "1001"
        assert back["answered_at"] is not None and back["end_reason"] == "caller_hangup"
        assert phone.wait(timeout=30) == 0
        (done,) = [r for r in callbacks(stack) if r["number"] == waiting]
        assert done["status"] == "done" and done["attempts"] == 1
    finally:
        for i in range(1, AGENTS):
            hotline(
                stack.config, "asterisk", "cli", f"queue add member PJSIP/{1001 + i} to hotline penalty 0 as {1001 + i}"
            )
