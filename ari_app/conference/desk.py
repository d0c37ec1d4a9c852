"""The three-way call desk on the link (docs/protocol.md, "Three-way calls"): the agent on the call starts
one (bringing a unit's number in), leaves it to the citizen and the unit, or ends it; every stored change of
the participants (ConferenceStored) is pushed as `conference_state` to the agent whose call it is."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from ari_app.calls.desk import CallDesk
from ari_app.calls.events import ConferenceStored
from ari_app.conference.service import ThreeWay, participants
from ari_app.protocol import ErrorId, Msg, ProtocolError

if TYPE_CHECKING:
    from ari_app.link.routes import Request
    from ari_app.link.server import LinkServer
    from ari_app.transfers.desk import PartnerHandoffs


class ConferenceDesk(CallDesk):
    def __init__(self, three_way: ThreeWay, handoffs: PartnerHandoffs | None = None) -> None:
        """`handoffs`: the rules of a handoff to a linkage partner (who may, which partner, audited, recorded
        with its work order), shared with the transfer desk."""
        self.three_way = three_way
        self.handoffs = handoffs

    def register(self, link: LinkServer) -> None:
        self.attach(link)
        link.routes.add(Msg.CONFERENCE, self.request)
        link.listen(self.on_stored, ConferenceStored)

    async def request(self, req: Request) -> None:
        call_id, action = req.msg["call_id"], req.msg["action"]
        call = req.session.call
        if call is None or call.call_id != call_id:
            raise ProtocolError(ErrorId.CALL_NOT_YOURS, "you are not on this call", field="call_id")
        if action == "start":
            number, partner = req.msg.get("number") or None, req.msg.get("partner") or None
            if bool(number) == bool(partner):
                raise ProtocolError(ErrorId.INVALID_FIELD, "start needs the unit's number or a partner", field="number")
            if partner:
                await self._partner(req, call_id, partner)
            else:
                await self.three_way.start(call_id, number)
        elif action == "leave":
            await self.three_way.agent_leaves(call_id)
        else:
            await self.three_way.end(call_id)
        req.reply(Msg.CONFERENCE_STATE, **await self.state(call_id))

    async def _partner(self, req: Request, call_id: str, partner: str) -> None:
        """三方110: the partner called into the call through the handoff rules (`PartnerHandoffs`)."""
        if self.handoffs is None:
            raise ProtocolError(ErrorId.PARTNER_UNKNOWN, "no linkage partners are configured", field="partner")
        await self.handoffs.run(
            req,
            call_id,
            partner,
            "three_way",
            self.three_way.partners,
            lambda: self.three_way.start(call_id, partner=partner),
        )

    async def state(self, call_id: str) -> dict[str, Any]:
        """`conference_state`'s fields: who is in the room now (`members`) and everyone who was."""
        with self.sessions() as s:
            people = await asyncio.to_thread(participants, s, call_id)
        present = [{"role": x["role"], "number": x["number"]} for x in people if x["left_at"] is None]
        return {"call_id": call_id, "members": present, "participants": people}

    async def on_stored(self, event: ConferenceStored) -> None:
        """Bus subscriber: the participants changed and are stored; told to every agent on the call."""
        for session in list(self.agents.sessions.values()):
            if session.call is not None and session.call.call_id == event.call_id:
                self.desk.push(session, {"type": Msg.CONFERENCE_STATE, **await self.state(event.call_id)})
