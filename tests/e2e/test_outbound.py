"""Click-to-dial with the real Asterisk, the real CTI server and SIPp phones: an agent signed in over the
link calls a case's citizen for its follow-up (回访). Asterisk rings the agent's phone (SIPp, answers after a
second), then the citizen behind the carrier trunk (SIPp on 127.0.0.2:5060), whose INVITE carries the
hotline's number as caller id; the citizen answers, talks and hangs up. The call record is outbound, linked
to the case, recorded on both sides; the agent, paused for a follow-up session, went on the call and back to
the same pause; the follow-up made on it names the call."""

from __future__ import annotations

import random
from pathlib import Path

from tests.support.e2e import PASSWORD, Client, Stack, add_user, calls, suite_members
from tests.support.waiting import wait_for

AGENT = "1009"


async def test_click_to_dial_a_follow_up_calls_the_citizen_as_the_hotline(stack: Stack, tmp_path: Path) -> None:
    add_user(stack.config, AGENT, "agent", PASSWORD)
    citizen = f"139{random.randrange(10**8):08d}"
    client = await Client.connect(stack)
    phone = None
    try:
        await client.sign_in(AGENT)
        made = await client.request(
            "create_case", hotline="12345", request="外呼回访测试：路灯不亮已修复", urgency="normal", language="zh",
            handling="direct", contact=citizen, citizen_name="李先生",
        )  # fmt: skip
        assert made["type"] == "case_created", made
        case_id = made["case"]["id"]
        resolved = await client.request("resolve_directly", case_id=case_id, resolution="已告知维修进度")
        assert resolved["type"] == "case_updated", resolved

        wrong = await client.request("dial_citizen")
        assert wrong["type"] == "error" and wrong["error_id"] == "invalid_field", wrong

        paused = await client.request("set_state", state="paused", reason="meeting")  # a follow-up session
        assert paused["state"] == "paused", paused
        messages = tmp_path / "citizen-messages.log"
        phone = stack.sipp.citizen_phone(talk_ms=3000, messages=messages, speaking=True)
        dialing = await client.request("dial_citizen", case_id=case_id, purpose="follow_up")
        assert dialing["type"] == "dialing", dialing
        assert (dialing["number"], dialing["hotline"], dialing["purpose"]) == (citizen, "12345", "follow_up")

        def pushed(kind: str) -> dict[str, object] | None:
            return next((m for m in client.pushes if m["type"] == kind), None)

        connected = await client.until(lambda: pushed("call_connected"), 30, "call_connected on the agent's desktop")
        assert connected["case_id"] == case_id, connected  # the desktop knows which case's call it is
        await client.until(lambda: pushed("call_ended"), 30, "call_ended on the agent's desktop")
        assert phone.wait(timeout=30) == 0  # the citizen's phone answered and hung up as scripted

        def record() -> dict[str, object] | None:
            return next(
                (
                    c
                    for c in calls(stack.config)
                    if c["direction"] == "outbound" and c["case_id"] == case_id and c["recording_status"]
                ),
                None,
            )

        call = wait_for(record, 30, "the outbound call's record with its recording checked")
        assert (call["caller"], call["dialed"], call["hotline"], call["agent"]) == ("12345", citizen, "12345", AGENT)
        assert (call["state"], call["end_reason"], call["purpose"]) == ("ended", "caller_hangup", "follow_up")
        assert call["answered_at"] and call["talk_seconds"] is not None and 2.0 <= float(call["talk_seconds"]) <= 8.0
        assert call["recording_status"] == "ok", call["recording_error"]
        recording = Path(str(call["recording"]))
        for side in ("caller", "agent"):
            assert recording.with_name(f"{recording.stem}-{side}.wav").stat().st_size > 1000
        assert not any(c["caller"] == citizen for c in calls(stack.config))  # no inbound record, nothing missed

        invite = messages.read_text(errors="replace")
        invite = invite[invite.index("INVITE sip:") :]
        sender = next(line for line in invite.splitlines() if line.lower().startswith("from:"))
        assert "<sip:12345@" in sender, sender  # the citizen sees the hotline's number

        def states() -> list[tuple[str, str | None]]:
            return [(m["state"], m.get("reason")) for m in client.pushes if m["type"] == "agent_state"]

        await client.until(lambda: states()[-1:] == [("paused", "meeting")], 15, "the agent back in their pause")
        assert ("on_call", "") in states(), states()

        refused = await client.request(
            "follow_up_case", case_id=case_id, reached=True, solved=True, rating="satisfied", call_id="nope"
        )
        assert refused["type"] == "error" and refused["error_id"] == "case_invalid_input", refused
        done = await client.request(
            "follow_up_case", case_id=case_id, reached=True, solved=True, rating="satisfied", call_id=call["id"]
        )
        assert done["type"] == "case_updated", done
        detail = (await client.request("get_case", case_id=case_id))["case"]
        assert detail["follow_ups"][-1]["call_id"] == call["id"]
    finally:
        if phone is not None and phone.poll() is None:
            phone.kill()
        await client.sign_out()
        await client.close()
        suite_members(stack.config, True)  # signing out took 1009 out of the queue the rest of the suite shares
