"""The callback key while the caller hears where they are in the queue, with the real Asterisk.

A caller behind another (position 2) hears their place, the expected wait and the callback offer
([hotline-queue-announce]: out of Queue(), on the caller's own channel with Read(), then back at the same place)
when they join and every admission.announce_frequency (30 s) after. Pressing 1 (RFC 2833, from SIPp) during
that announcement books the callback: at 1.5 s (the announcement made on joining) and at 32 s (the periodic
one). Asterisk's own position announcement lost the key there (app_queue say_position; Asterisk issue #543).

A caller who withheld their number hears the same announcement without the callback offer; which prompts
Asterisk played to whom is read from Asterisk's own verbose log (a temporary logger channel).
"""

from __future__ import annotations

import asyncio
import random
import re
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from ari_app.config import load_config
from ari_app.health import AmiSession
from tests.support.ami import AmiEvents, stamped
from tests.support.e2e import AGENTS, AmiUserEvents, Stack, callbacks, calls, hotline
from tests.support.waiting import wait_for

ANNOUNCEMENT = "HotlineQueueAnnouncement"
# The position part of the announcement to a caller at position 2 (queue-thereare 2.26 s, "2" 0.76 s,
# queue-callswaiting 2.48 s with Asterisk's English prompts) lasts 5.5 s, the whole announcement with the
# callback offer and queue-thankyou about 18 s: a request made less than this after the announcement started
# comes from a key pressed while the caller was being told their position.
DURING = 5.5


def _members(stack: Stack, action: str) -> None:
    """AMI QueueAdd or QueueRemove for every agent of the session's queue (PJSIP/1001..), on one AMI session of
    the AMI user config.yaml names: what `queue add/remove member` does, without a CLI process per member."""
    ami = load_config(stack.config).asterisk.ami

    async def run() -> None:
        secret = ami.secret.value() if ami.secret else ""
        async with AmiSession(ami.host, ami.port, ami.username, secret, timeout=10) as session:
            for i in range(AGENTS):
                member = {"Queue": "hotline", "Interface": f"PJSIP/{1001 + i}"}
                if action == "QueueAdd":
                    member.update(Penalty="0", MemberName=str(1001 + i))
                reply = await session.action(action, **member)
                # "Already there" / "Not there": the member was already as wanted
                assert reply.get("Response") == "Success" or "there" in reply.get("Message", ""), reply

    asyncio.run(run())


@contextmanager
def _nobody_answers(stack: Stack) -> Iterator[None]:
    """No member in the queue for the block (callers wait, in the order they came), then all back."""
    _members(stack, "QueueRemove")
    try:
        yield
    finally:
        _members(stack, "QueueAdd")


def _number(prefix: str) -> str:
    return f"{prefix}{random.randrange(10**8):08d}"


def _queued(stack: Stack, caller: str) -> dict[str, object]:
    found: dict[str, object] = wait_for(
        lambda: next((c for c in calls(stack.config) if c["caller"] == caller and c["state"] == "queued"), None),
        20,
        f"{caller} queued",
    )
    return found


def _announced(ami: AmiUserEvents, caller: str, count: int = 1) -> list[tuple[float, dict[str, str]]]:
    """The first `count` announcements made to `caller` (UserEvent HotlineQueueAnnouncement), waited for."""

    def made() -> list[tuple[float, dict[str, str]]] | None:
        found = [(at, e) for at, e in ami.named(ANNOUNCEMENT) if e.get("Caller") == caller]
        return found[:count] if len(found) >= count else None

    return wait_for(made, 45, f"{count} queue announcement(s) to {caller}")


def _hang_up(stack: Stack, caller: str, proc: subprocess.Popen[bytes]) -> None:
    """Asterisk hangs up the channel whose caller id is `caller` (`core show channels concise`: fields by `!`,
    the eighth the caller id), and the SIPp caller ends."""
    out = hotline(stack.config, "asterisk", "cli", "core show channels concise").stdout
    (channel,) = [f[0] for f in (line.split("!") for line in out.splitlines()) if len(f) > 7 and f[7] == caller]
    hotline(stack.config, "asterisk", "cli", f"channel request hangup {channel}")
    proc.wait(timeout=30)


def _ends_with_callback(stack: Stack, caller: str, hotline_number: str) -> None:
    ended = wait_for(
        lambda: next((c for c in calls(stack.config) if c["caller"] == caller and c["state"] != "queued"), None),
        20,
        f"{caller}'s call to end",
    )
    assert ended["state"] == "ended" and ended["end_reason"] == "callback_requested", ended
    (request,) = wait_for(lambda: [r for r in callbacks(stack) if r["number"] == caller] or None, 20, "the request")
    assert request["hotline"] == hotline_number and request["status"] == "pending" and request["call_id"] == ended["id"]
    # called off as an admin would (nobody is in the queue now, so the dialer has not taken it): a request left
    # pending would be dialled into the phone of a later test
    cancelled = hotline(stack.config, "callbacks", "cancel", ended["id"], "--reason", "test over")
    assert cancelled.returncode == 0, cancelled.stderr


def _pressed_during(ami: AmiUserEvents, caller: str, announced_at: float) -> float:
    """Seconds from the start of the announcement to the callback request Asterisk made for `caller`."""
    (asked_at, _e) = wait_for(
        lambda: next(
            ((at, e) for at, e in ami.named("HotlineCallbackRequested") if e.get("Caller") == caller),
            None,
        ),
        20,
        f"HotlineCallbackRequested for {caller}",
    )
    return asked_at - announced_at


def test_the_callback_key_works_during_the_position_announcement_behind_another_caller(stack: Stack) -> None:
    first, early, late = _number("135"), _number("136"), _number("137")
    with AmiUserEvents(stack.config) as ami, _nobody_answers(stack):
        ahead = stack.sipp.call("12345", first, talk_ms=80000, wait=False, timeout=100)
        _queued(stack, first)
        try:
            # the key 1.5 s after answering: during the announcement made on joining
            asker = stack.sipp.dtmf_call("12319", early, key="1", after_ms=1500)
            ((announced_at, announcement),) = _announced(ami, early)
            assert announcement["Position"] == "2" and announcement["CallbackOffer"] == "1", announcement
            assert asker.wait(timeout=40) == 0, "the caller pressing 1 did not hear the confirmation and hang-up"
            _ends_with_callback(stack, early, "12319")
            assert 0 < _pressed_during(ami, early, announced_at) < DURING

            # the key 32 s after answering: during the periodic announcement (30 s after joining)
            asker = stack.sipp.dtmf_call("12319", late, key="1", after_ms=32000)
            (at0, e0), (at1, e1) = _announced(ami, late, count=2)
            assert e0["Position"] == e1["Position"] == "2", (e0, e1)
            assert 28 <= at1 - at0 <= 33, f"periodic announcement {at1 - at0:.1f} s after the first"
            assert asker.wait(timeout=40) == 0, "the caller pressing 1 did not hear the confirmation and hang-up"
            _ends_with_callback(stack, late, "12319")
            assert 0 < _pressed_during(ami, late, at1) < DURING
        finally:
            _hang_up(stack, first, ahead)


def _prompts_by_caller(log: str) -> dict[str, list[str]]:
    """From Asterisk's verbose log: the prompt files [hotline-queue-announce] played (its Read()s), by the caller's
    channel they were played on."""
    played: dict[str, list[str]] = {}
    for line in log.splitlines():
        read = re.search(r'@hotline-queue-announce:\d+\] Read\("([^"]+)", "[^,]*,([^,"]*)', line)
        if read:
            files = [f.rsplit("/", 1)[-1] for f in read.group(2).split("&")]
            played.setdefault(read.group(1), []).extend(files)
    return played


def test_a_withheld_caller_is_never_offered_a_callback(stack: Stack) -> None:
    first, known, withheld = _number("138"), _number("139"), "anonymous"
    log_name = f"e2e-announce-{random.randrange(10**6)}.log"
    added = hotline(stack.config, "asterisk", "cli", f"logger add channel {log_name} verbose(3)")
    assert added.returncode == 0 and "ERROR" not in added.stdout, added.stdout
    try:
        with AmiUserEvents(stack.config) as ami, _nobody_answers(stack):
            callers = []
            for number in (first, known, withheld):  # in this order: positions 1, 2 and 3
                callers.append(stack.sipp.call("12345", number, talk_ms=60000, wait=False, timeout=80))
                _queued(stack, "withheld" if number == withheld else number)
            ((_a, offered),) = _announced(ami, known)
            ((_b, not_offered),) = _announced(ami, withheld)
            try:
                assert offered["Position"] == "2" and offered["CallbackOffer"] == "1", offered
                assert not_offered["Position"] == "3" and not_offered["CallbackOffer"] == "0", not_offered
                # what Asterisk really played: the offer to the known number only, the position to both
                log = stack.asterisk_log / log_name
                channels = (offered["Channel"], not_offered["Channel"])

                def played_to_the_end() -> dict[str, list[str]] | None:
                    prompts = _prompts_by_caller(log.read_text(errors="replace") if log.exists() else "")
                    return prompts if all("queue-thankyou" in prompts.get(ch, []) for ch in channels) else None

                prompts = wait_for(played_to_the_end, 30, "both announcements played to the end")
                assert "callback-offer" in prompts[offered["Channel"]], prompts
                assert "callback-offer" not in prompts[not_offered["Channel"]], prompts
                assert "queue-thereare" in prompts[not_offered["Channel"]], prompts
            finally:
                hotline(stack.config, "asterisk", "cli", "channel request hangup all")
                for proc in callers:
                    proc.wait(timeout=30)
    finally:
        hotline(stack.config, "asterisk", "cli", f"logger remove channel {log_name}")


def _connected(stack: Stack, caller: str) -> dict[str, object] | None:
    """The caller's call once an agent answered it (whether or not it is still going on)."""
    return next((c for c in calls(stack.config) if c["caller"] == caller and c["answered_at"]), None)


# The rest of the announcement after the place, to a caller offered a callback ([hotline-queue-announce], label
# `offer`): Read() of callback-offer (PROMPT_LANG=zh, var/lib/hotline/sounds/zh/callback-offer.wav: 10.7 s)
# and queue-thankyou (1.6 s), then 0.5 s for a key: a caller who hears it goes back into Queue() about WHOLE =
# 18.3 s after the announcement began, when it ends.
OFFER = 10.7
WHOLE = DURING + OFFER + 1.6 + 0.5
# A caller an agent came free for while the place was said goes back after that part (Read()'s prompts, then
# 0.1 s for a key, then the free member check): about 5.6 s after the announcement began. REJOIN_SLACK is what
# a loaded machine may add (Asterisk runs at nice -10, asterisk.nice, and plays prompts in real time), far
# below the 10.7 s a callback offer heard would add.
REJOIN_SLACK = 3.0
# Back in the queue, the agent is rung at once (first in line, one free member) and the suite's agent phone
# answers after ring_ms=800 (tests/e2e/conftest.py): connected about 6.4 s after the announcement began. 15 s
# leaves 8.6 s for the ringing on a loaded machine and is still before the whole announcement (WHOLE, 18.3 s)
# would have ended, let alone a caller who heard it all be rung and answered.
CONNECTED_WITHIN = 15.0


SHED_RETRY = 60.0
"""Seconds a call refused while the platform sheds load is placed again for."""


def _past(moment: float) -> Callable[[], bool]:
    """Whether the Unix time `moment` has come."""
    return lambda: time.time() >= moment


def _placed(
    stack: Stack,
    ami: AmiEvents,
    number: str,
    talk_ms: int,
    timeout: float,
    wanted: Callable[[dict[str, str]], bool],
    what: str,
) -> tuple[subprocess.Popen[bytes], dict[str, str]]:
    """A call from `number` to 12345 (SIPp talking `talk_ms` after the answer, ending after `timeout` s at most)
    and the first event `wanted` for it, within 45 s. A call refused while the platform sheds load (UserEvent
    HotlineOverflow, Reason shed: the CTI server measured Asterisk's SIP round trip above admission.shed_ms, as
    on a busy test machine) is placed again once that shedding lapses, as a caller would call again, for up to
    SHED_RETRY s; any other refusal fails saying so."""

    def refused(e: dict[str, str]) -> bool:
        return e.get("UserEvent") == "HotlineOverflow" and e.get("Caller") == number

    deadline = time.monotonic() + SHED_RETRY
    while True:
        since = len(ami.events)
        proc = stack.sipp.call("12345", number, talk_ms=talk_ms, wait=False, timeout=timeout)
        found = ami.first(lambda e: wanted(e) or refused(e), 45, what, since=since)
        if not refused(found):
            return proc, found
        assert found.get("Reason") == "shed" and time.monotonic() < deadline, f"{number} was refused: {found}"
        proc.wait(timeout=30)
        # again once the shedding the governor last asked for lapses (the global SHED_UNTIL, a Unix time)
        until = float(ami.action("Getvar", Variable="SHED_UNTIL").get("Value") or 0)
        wait_for(_past(until), SHED_RETRY, "the load shedding to lapse")


def test_a_caller_an_agent_comes_free_for_goes_back_before_the_announcement_ends(stack: Stack) -> None:
    """The announcement is played out of the queue: when an agent comes free for the caller, they go back into
    the queue after the part being played (the place) and are connected, rather than hearing the rest first;
    nothing of the announcement is heard in the conversation (it plays on the caller's channel, now bridged).

    Every time compared is Asterisk's (the Timestamp of its AMI events): the announcement's start (UserEvent
    HotlineQueueAnnouncement), the agent free (QueueMemberAdded), the caller back in the queue (QueueCallerJoin)
    and connected (AgentConnect). The agent comes free on the AMI session already open (AMI Hangup of the caller
    ahead, then QueueAdd), a few milliseconds after the announcement's event arrives."""
    first, waiting = _number("140"), _number("141")
    names = ("QueueCallerJoin", "QueueCallerLeave", "QueueMemberAdded", "AgentConnect")
    with AmiEvents(stack.config, names) as ami, _nobody_answers(stack):
        ahead, joined = _placed(
            stack,
            ami,
            first,
            60000,
            80,
            lambda e: e.get("Event") == "QueueCallerJoin" and e.get("CallerIDNum") == first,
            f"{first} queued",
        )
        ahead_channel = joined["Channel"]
        # the SIPp caller's talk time counts from the IVR's answer, so it includes the wait: long enough to be
        # connected for a while (a check of the live state once missed a call connected for 1.5 s)
        caller, announcement = _placed(
            stack,
            ami,
            waiting,
            20000,
            60,
            lambda e: e.get("UserEvent") == ANNOUNCEMENT and e.get("Caller") == waiting,
            f"the announcement to {waiting}",
        )
        assert announcement["Position"] == "2", announcement
        channel = announcement["Channel"]
        # now first in line, still hearing the announcement: the caller ahead leaves, then an agent comes free
        hung_up = ami.action("Hangup", Channel=ahead_channel)
        assert hung_up.get("Response") == "Success", hung_up
        ami.wait("QueueCallerLeave", 10, f"{first} out of the queue", Channel=ahead_channel)
        added = ami.action("QueueAdd", Queue="hotline", Interface="PJSIP/1001", Penalty="0", MemberName="1001")
        assert added.get("Response") == "Success", added

        began = stamped(announcement)
        freed = stamped(ami.wait("QueueMemberAdded", 10, "1001 in the queue", Interface="PJSIP/1001"))
        rejoined = stamped(
            ami.wait("QueueCallerJoin", 30, f"{waiting} back in the queue", after=began, Channel=channel)
        )
        connect = ami.wait("AgentConnect", 30, f"{waiting} connected", Channel=channel)
        assert connect["MemberName"] == "1001", connect
        # what is checked needs the agent free before the place was said to the end (else the caller rightly
        # hears the rest first)
        assert freed - began < DURING, f"the agent came free {freed - began:.2f} s after the announcement began"
        assert rejoined - began < DURING + REJOIN_SLACK, (
            f"back in the queue {rejoined - began:.2f} s after the announcement began: the offer was played first"
        )
        assert stamped(connect) - began < CONNECTED_WITHIN, (
            f"connected {stamped(connect) - began:.2f} s after the announcement began (it lasts {WHOLE:.1f} s)"
        )
        ahead.wait(timeout=30)
        # the CTI server's record of it: answered by 1001
        connected = wait_for(lambda: _connected(stack, waiting), 20, "the call recorded answered")
        assert connected["agent"] == "1001"
        assert caller.wait(timeout=30) == 0
