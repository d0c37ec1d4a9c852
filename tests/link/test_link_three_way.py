"""A three-way call's legs and who left it, at unit level: the real call tracker fed AMI events by hand, the
real conference service, a fake AMI recording what would go to Asterisk (tests/support/transfers.py). The
legs are sent to [hotline-conference] with what the FastAGI script needs to announce them; when someone
leaves, the others are told through an announcer channel, which is never taken for a participant; a room
being ended for everyone announces nothing."""

from __future__ import annotations

from ari_app.conference import participants
from tests.support.transfers import AGENT_LEG, CALL, CITIZEN, Rig

ROOM = f"hotline-{CALL}"
UNIT = "PJSIP/carrier-telecom-00000003"
ANNOUNCER = "Local/s@hotline-conference-announce-00000004;2"


def bridge(event: str, channel: str, number: str = "") -> dict[str, str]:
    return {"Event": event, "Conference": ROOM, "Channel": channel, "CallerIDNum": number}


def announcements(rig: Rig) -> list[dict[str, object]]:
    return [a for a in rig.ami.named("Originate") if str(a["Channel"]).startswith("Local/")]


async def test_legs_are_announced_and_a_leave_is_told_to_those_still_in(rig: Rig) -> None:
    await rig.connected_call()
    assert await rig.three_way.start(CALL, "12399000001") == ROOM
    setvars = {(x["Channel"], x["Variable"]): x["Value"] for x in rig.ami.named("Setvar")}
    for leg, role in ((CITIZEN, "citizen"), (AGENT_LEG, "agent")):
        assert (setvars[(leg, "CONF_ROOM")], setvars[(leg, "CONF_ROLE")], setvars[(leg, "CONF_INTRO")]) == (
            ROOM,
            role,
            "1",
        )
    unit_leg = rig.ami.named("Originate")[-1]
    assert unit_leg["Context"] == "hotline-conference"
    assert {"CONF_ROLE=unit", "CONF_INTRO=1", f"CONF_CALL={CALL}", f"CONF_ROOM={ROOM}"} <= set(unit_leg["Variable"])

    await rig.feed(
        bridge("ConfbridgeJoin", CITIZEN, "13800000001"),
        bridge("ConfbridgeJoin", AGENT_LEG, "1001"),
        bridge("ConfbridgeJoin", UNIT, "12399000001"),
    )
    await rig.feed(bridge("ConfbridgeLeave", AGENT_LEG, "1001"))
    told = announcements(rig)
    assert told == [
        {
            "Action": "Originate",
            "Channel": "Local/s@hotline-conference-announce",
            "Context": "hotline-conference-announce",
            "Exten": "play",
            "Priority": "1",
            "Timeout": "10000",
            "Variable": [f"CONF_ROOM={ROOM}", "CONF_LEFT=agent"],
        }
    ]
    await rig.feed(bridge("ConfbridgeJoin", ANNOUNCER), bridge("ConfbridgeLeave", ANNOUNCER))
    assert announcements(rig) == told  # the announcer leaving is no one leaving
    with rig.three_way.sessions() as s:
        assert [(r["role"], r["left_at"] is not None) for r in participants(s, CALL)] == [
            ("citizen", False),
            ("agent", True),
            ("unit", False),
        ]

    await rig.feed(bridge("ConfbridgeLeave", UNIT, "12399000001"))
    assert [a["Variable"][1] for a in announcements(rig)] == ["CONF_LEFT=agent", "CONF_LEFT=unit"]  # type: ignore[index]


async def test_ending_the_room_for_everyone_announces_nothing(rig: Rig) -> None:
    await rig.connected_call()
    await rig.three_way.start(CALL, "12399000001")
    await rig.feed(
        bridge("ConfbridgeJoin", CITIZEN, "13800000001"),
        bridge("ConfbridgeJoin", AGENT_LEG, "1001"),
        bridge("ConfbridgeJoin", UNIT, "12399000001"),
    )
    await rig.three_way.end(CALL)
    assert rig.ami.actions[-1] == {"Action": "ConfbridgeKick", "Conference": ROOM, "Channel": "all"}
    await rig.feed(*(bridge("ConfbridgeLeave", leg) for leg in (UNIT, AGENT_LEG, CITIZEN)))
    assert announcements(rig) == []
