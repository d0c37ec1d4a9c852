"""Transfers at unit level: the real call tracker fed AMI events by hand (`Rig.feed`), the real transfer
service and three-way calls on the test's LinkServer, and a fake AMI that records the actions it would send
to Asterisk (`FakeAmi`). The `rig` fixture is taken by the conftest.py of tests/link and tests/desktop."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from ari_app.calls.events import CallEnded, CallEvent, CallLegChanged, ConferenceChanged, QueueMemberChanged
from ari_app.calls.model import Call
from ari_app.calls.tracker import CallTracker
from ari_app.conference import ThreeWay
from ari_app.conference.desk import ConferenceDesk
from ari_app.config import Config
from ari_app.link import LinkServer
from ari_app.transfers import Transfers
from ari_app.transfers.desk import PartnerHandoffs, TransferDesk

CALL = "1764378000.1"
CITIZEN = "PJSIP/carrier-telecom-00000001"
AGENT_LEG = "PJSIP/1001-00000002"


class Sink:
    def __init__(self) -> None:
        self.saved: dict[str, Call] = {}

    def save(self, call: Call) -> None:
        self.saved[call.id] = Call(**vars(call))


class Agents:
    def agent_id_for(self, interface: str) -> str | None:
        return interface.split("/")[-1] if interface.startswith("PJSIP/10") else None


@dataclass
class FakeAmi:
    actions: list[dict[str, Any]] = field(default_factory=list)
    fail: bool = False
    # run while an action is "in flight": events Asterisk sends before the action's response is read
    before_response: dict[str, Callable[[], Awaitable[None]]] = field(default_factory=dict)

    async def action(self, **fields: Any) -> Any:
        if self.fail:
            raise ConnectionError("AMI is down")
        self.actions.append(fields)
        hook = self.before_response.pop(fields["Action"], None)
        if hook is not None:
            await hook()
        return {"Response": "Success"}

    async def originate_async(self, **fields: Any) -> None:
        await self.action(Action="Originate", **fields)

    def named(self, action: str) -> list[dict[str, Any]]:
        return [a for a in self.actions if a["Action"] == action]


@dataclass
class Rig:
    link: LinkServer
    tracker: CallTracker
    sink: Sink
    ami: FakeAmi
    transfers: Transfers
    three_way: ThreeWay

    async def feed(self, *events: dict[str, str]) -> None:
        for event in events:
            self.tracker.handle({"Linkedid": CALL, **event})
        self.tracker.publish_pending()
        await self.tracker.bus.settle()

    async def connected_call(self) -> None:
        await self.feed(
            {"Event": "UserEvent", "UserEvent": "HotlineCall", "Uniqueid": CALL, "Channel": CITIZEN, "Hotline": "12319"}
            | {"Caller": "13800000001"},
            {"Event": "QueueCallerJoin", "Queue": "hotline", "Position": "1"},
            {"Event": "AgentCalled", "Interface": "PJSIP/1001", "DestChannel": AGENT_LEG},
            {"Event": "AgentConnect", "Interface": "PJSIP/1001", "DestChannel": AGENT_LEG},
        )


@pytest.fixture
async def rig(server: LinkServer, cfg: Config, sessions: sessionmaker[Session]) -> AsyncIterator[Rig]:
    sink = Sink()
    tracker = CallTracker(sink, Agents(), [h.number for h in cfg.hotlines])
    ami = FakeAmi()
    partners = {x.key: x for x in cfg.linkage}
    transfers = Transfers(
        tracker, ami, sessions, "carrier-telecom", {a.id: a.interface for a in cfg.agents}, partners=partners
    )
    bus = tracker.bus  # wired as ari_app.server wires the server's bus
    bus.subscribe(server.on_call_event, CallEvent, QueueMemberChanged)
    bus.subscribe(transfers.on_event, CallLegChanged, CallEnded)
    three_way = ThreeWay(tracker, ami, sessions, "carrier-telecom", partners=partners)  # and who is in its room
    bus.subscribe(three_way.on_event, ConferenceChanged)
    server.add(TransferDesk(transfers))
    server.add(ConferenceDesk(three_way, PartnerHandoffs(sessions)))
    yield Rig(server, tracker, sink, ami, transfers, three_way)
