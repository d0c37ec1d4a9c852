"""Two citizens call with their numbers withheld (SIP From `anonymous`, then `Anonymous`) into the real
Asterisk; an agent signed in over the real link takes a case on the first. Both calls are stored with the
caller `withheld`, and the second's screen-pop lists nothing of the first's case."""

from __future__ import annotations

from ari_app import protocol as p
from tests.support.e2e import Stack, calls, ended_calls, hotline, sole_agent, suite_members
from tests.support.waiting import wait_for

AGENT = "1019"
PASSWORD = "withheld-e2e-pass"
FIRST_CASE = {
    "hotline": "12319",
    "category": "供水",
    "request": "楼上漏水到我家厨房",
    "address": "解放南路 18 号 3 单元",
    "citizen_name": "李女士",
    "urgency": "normal",
    "language": "zh",
    "handling": "dispatch",
}


async def test_withheld_callers_are_stored_withheld_and_never_shown_each_others_cases(stack: Stack) -> None:
    before = {c["id"] for c in calls(stack.config)}
    async with sole_agent(stack, AGENT, PASSWORD) as desk:  # the only agent in the queue for this test
        first = stack.sipp.call("12319", "anonymous", talk_ms=4000, wait=False)
        pop = await desk.push(p.Msg.SCREEN_POP, within=30)
        assert pop["call"]["caller"] == "withheld" and pop["history"] == [], pop
        created = await desk.request(
            p.Msg.CREATE_CASE, call_id=pop["call"]["call_id"], caller=pop["call"]["caller"], **FIRST_CASE
        )
        assert created["type"] == p.Msg.CASE_CREATED, created
        assert created["case"]["caller"] == "withheld" and created["case"]["contact"] is None
        assert first.wait(timeout=60) == 0
        await desk.until_ready(30)  # wrap-up is 0 s in the test configuration

        second = stack.sipp.call("12319", "Anonymous", talk_ms=2000, wait=False)
        pop = await desk.push(p.Msg.SCREEN_POP, within=30)
        assert pop["call"]["caller"] == "withheld" and pop["history"] == [], pop
        for private in ("李女士", "解放南路", "漏水", created["case"]["number"]):
            assert private not in str(pop), pop
        history = await desk.request(p.Msg.CALLER_HISTORY, caller="anonymous")
        assert history["cases"] == [], history
        assert second.wait(timeout=60) == 0
    new = ended_calls(stack, before, 2)
    assert [c["caller"] for c in new] == ["withheld", "withheld"], new
    assert all(c["hotline"] == "12319" and c["agent"] == AGENT for c in new), new


def test_a_withheld_caller_pressing_the_callback_key_stays_in_the_queue(stack: Stack) -> None:
    """No one can be called back on `anonymous`: the key books nothing and the caller keeps waiting, in the
    place they had, until they give up."""
    from tests.support.e2e import callbacks

    suite_members(stack.config, present=False)  # nobody answers: the caller waits in the queue
    before = {c["id"] for c in calls(stack.config)}
    requests_before = len(callbacks(stack))
    try:
        asker = stack.sipp.dtmf_call("12345", "anonymous", key="1", after_ms=1500)
        (call,) = wait_for(
            lambda: [c for c in calls(stack.config) if c["id"] not in before and c["state"] == "queued"] or None,
            20,
            "the withheld caller queued",
        )
        assert call["caller"] == "withheld"
        queue_log = stack.asterisk_log / "queue_log"

        def rejoined() -> list[str] | None:
            """Asterisk's queue log for this call: left with the key (EXITWITHKEY), then in the queue again."""
            text = queue_log.read_text(errors="replace") if queue_log.exists() else ""
            events = [line.split("|")[4] for line in text.splitlines() if f"|{call['id']}|" in line]
            return events if "EXITWITHKEY" in events and events.count("ENTERQUEUE") == 2 else None

        events = wait_for(rejoined, 20, "the caller back in the queue after the key")
        assert events[-1] == "ENTERQUEUE", events
        assert asker.poll() is None, "the caller was hung up: the key must not end a withheld caller's call"
        shown = hotline(stack.config, "asterisk", "cli", "queue show hotline").stdout
        assert "1 in queue" in shown or "has 1 calls" in shown, shown
        assert len(callbacks(stack)) == requests_before  # no request stored
        (still,) = [c for c in calls(stack.config) if c["id"] == call["id"]]
        assert still["state"] == "queued" and still["end_reason"] is None
        hotline(stack.config, "asterisk", "cli", "channel request hangup all")
        assert asker.wait(timeout=30) == 0
        ended = wait_for(
            lambda: [c for c in calls(stack.config) if c["id"] == call["id"] and c["state"] != "queued"] or None,
            20,
            "the call to end",
        )[0]
        assert ended["end_reason"] != "callback_requested", ended
    finally:
        suite_members(stack.config, present=True)
