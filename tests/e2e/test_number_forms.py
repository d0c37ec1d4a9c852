"""Dialed numbers and callers in the forms carriers deliver them, with real SIP calls into the real Asterisk.

Calls from the configured trunk to the mayor's hotline written `+8612345`, `8612345`, `099112345` (trunk prefix
and Urumqi's area code) and `+86099112345` are each queued as hotline 12345 and recorded with the number as
dialed beside the canonical one; a carrier prefix is taken off on the trunk that has it. A citizen calling
once as `+86139...` and once as `0086139...` is one caller: the second call's screen-pop shows the case taken
on the first."""

from __future__ import annotations

import random

from ari_app import protocol as p
from tests.support.e2e import Stack, calls, ended_calls, sole_agent
from tests.support.waiting import wait_for

FORMS = ["+8612345", "8612345", "099112345", "+86099112345"]
AGENT = "1020"
PASSWORD = "number-forms-e2e-pass"
CASE = {
    "hotline": "12345",
    "category": "市政设施",
    "request": "小区门口路灯不亮",
    "address": "新华北路 108 号",
    "citizen_name": "马先生",
    "urgency": "normal",
    "language": "zh",
    "handling": "dispatch",
}


def _mobile() -> str:
    return f"139{random.randrange(10**8):08d}"


def test_every_dialed_form_from_the_trunk_is_queued_as_the_hotline(stack: Stack) -> None:
    before = {c["id"] for c in calls(stack.config)}
    callers = {form: _mobile() for form in FORMS}
    procs = [stack.sipp.call(form, "+86" + callers[form], talk_ms=2000, wait=False) for form in FORMS]
    # the unicom trunk's carrier puts its prefix 10193 before the number (config.yaml strip_prefixes)
    unicom_caller = _mobile()
    procs.append(stack.sipp.call("1019312345", unicom_caller, talk_ms=2000, source="127.0.0.3", wait=False))
    # a number in another form that is not a hotline is still refused, and recorded as dialed
    refused_caller = _mobile()
    procs.append(stack.sipp.call("+8612399", refused_caller, talk_ms=500, wait=False))
    for proc in procs:
        assert proc.wait(timeout=90) == 0, "a SIPp caller failed (see its error log in the test's temp folder)"

    def finished() -> dict[str, dict[str, object]] | None:
        new = {c["caller_raw"]: c for c in calls(stack.config) if c["id"] not in before}
        done = [c for c in new.values() if c["state"] in ("ended", "abandoned", "rejected")]
        return new if len(done) >= len(procs) else None

    records = wait_for(finished, 30, "every call ended in the records")
    for form in FORMS:
        call = records["+86" + callers[form]]
        assert (call["hotline"], call["dialed"], call["dialed_raw"]) == ("12345", "12345", form), call
        assert call["queue"] == "hotline" and call["state"] == "ended" and call["agent"], call
        assert call["end_reason"] != "not_a_hotline" and call["answered_at"] is not None, call
        assert call["caller"] == callers[form], call  # the caller's canonical number: +86 taken off
    unicom = records[unicom_caller]
    assert (unicom["hotline"], unicom["dialed"], unicom["dialed_raw"], unicom["queue"]) == (
        "12345",
        "12345",
        "1019312345",
        "hotline",
    ), unicom
    refused = records[refused_caller]
    assert (refused["state"], refused["end_reason"]) == ("rejected", "not_a_hotline"), refused
    assert (refused["hotline"], refused["dialed"], refused["dialed_raw"]) == (None, "12399", "+8612399"), refused


async def test_a_caller_in_two_forms_is_shown_the_same_history(stack: Stack) -> None:
    number = _mobile()
    before = {c["id"] for c in calls(stack.config)}
    async with sole_agent(stack, AGENT, PASSWORD) as desk:  # the only agent in the queue for this test
        first = stack.sipp.call("099112345", "+86" + number, talk_ms=4000, wait=False)
        pop = await desk.push(p.Msg.SCREEN_POP, within=30)
        assert pop["call"]["caller"] == number and pop["history"] == [], pop
        created = await desk.request(
            p.Msg.CREATE_CASE, call_id=pop["call"]["call_id"], caller=pop["call"]["caller"], **CASE
        )
        assert created["type"] == p.Msg.CASE_CREATED, created
        assert created["case"]["caller"] == number
        assert first.wait(timeout=60) == 0
        await desk.until_ready(30)  # wrap-up is 0 s in the test configuration

        second = stack.sipp.call("+8612345", "0086" + number, talk_ms=2000, wait=False)
        pop = await desk.push(p.Msg.SCREEN_POP, within=30)
        assert pop["call"]["caller"] == number, pop
        assert [c["number"] for c in pop["history"]] == [created["case"]["number"]], pop
        history = await desk.request(p.Msg.CALLER_HISTORY, caller="+86 " + number)
        assert [c["number"] for c in history["cases"]] == [created["case"]["number"]], history
        assert second.wait(timeout=60) == 0
    new = ended_calls(stack, before, 2)
    by_raw = {c["caller_raw"]: c for c in new}
    assert set(by_raw) == {"+86" + number, "0086" + number}, new
    assert all(c["caller"] == number and c["hotline"] == "12345" and c["agent"] == AGENT for c in new), new
    assert (by_raw["+86" + number]["dialed_raw"], by_raw["0086" + number]["dialed_raw"]) == ("099112345", "+8612345")
