"""Listening to an agent's call: the supervisor's phone is called (AMI Originate) into [hotline-spy], which
runs Asterisk's ChanSpy on the agent's channel of that call.

Modes and the ChanSpy options they use (b: bridged calls only; q: no beep or channel name spoken; E: leave
when the agent's channel hangs up; S: leave when there is nothing left to spy on):

    listen   bqES    the supervisor hears both sides; nobody hears the supervisor
    whisper  bqwES   the supervisor hears both sides; only the agent hears the supervisor
    barge    bqBES   the supervisor hears both sides and both sides hear the supervisor

The supervisor's phone is an agent extension from config (rung as its PJSIP endpoint) or an outside number
(rung through the callback trunk, as three-way calls ring units).
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from ari_app.calls.numbers import NumberError
from ari_app.calls.tracker import CallTracker
from ari_app.config import Config
from ari_app.protocol import DomainError, ErrorId
from schema.calls import CallState

log = logging.getLogger(__name__)

SPY_CONTEXT = "hotline-spy"
OPTIONS = {"listen": "bqES", "whisper": "bqwES", "barge": "bqBES"}


class SpyError(DomainError):
    """Listening in refused or failed."""


class Ami(Protocol):
    async def originate_async(self, **fields: Any) -> None: ...


class ChanSpy:
    """The link's SpyControl on the real Asterisk."""

    def __init__(self, cfg: Config, tracker: CallTracker, ami: Ami) -> None:
        self.cfg = cfg
        self.tracker = tracker
        self.ami = ami

    def phone_channel(self, phone: str) -> str:
        """The channel to ring for a supervisor's phone: a configured extension, else a dialable number."""
        agent = next((a for a in self.cfg.agents if a.extension == phone), None)
        if agent is not None:
            return agent.interface
        trunk = self.cfg.callback.trunk
        try:
            dial = self.tracker.numbers.outbound(phone, trunk)
        except NumberError as exc:
            raise SpyError(f"neither an extension nor a phone number: {exc}", error_id=ErrorId.INVALID_NUMBER) from None
        return f"PJSIP/{dial}@{trunk}"

    async def spy(self, call_id: str, mode: str, phone: str, supervisor: str) -> str:
        """Ring `phone` and, once answered, spy on the agent's side of `call_id` in `mode`. Returns the
        channel rung. The originate's outcome (answered or not) is logged by the AMI edge."""
        options = OPTIONS.get(mode)
        if options is None:
            raise SpyError(f"unknown mode {mode!r}", error_id=ErrorId.INVALID_FIELD)
        call = self.tracker.calls.get(call_id)
        if call is None or call.state != CallState.CONNECTED or not call.agent_channel:
            raise SpyError(f"call {call_id} is not connected to an agent", error_id=ErrorId.AGENT_NOT_ON_CALL)
        channel = self.phone_channel(phone)
        try:
            await self.ami.originate_async(
                Channel=channel,
                Context=SPY_CONTEXT,
                Exten="s",
                Priority="1",
                CallerID=f'"{mode}" <{call.hotline or ""}>',
                Timeout="30000",
                Variable=[
                    f"SPY_TARGET={call.agent_channel}",
                    f"SPY_OPTIONS={options}",
                    f"SPY_MODE={mode}",
                    f"SPY_SUPERVISOR={supervisor}",
                ],
            )
        except Exception as exc:
            raise SpyError(
                f"Asterisk did not take the call to {phone}: {exc}", error_id=ErrorId.SPY_UNAVAILABLE
            ) from exc
        log.info("supervisor %s: %s on %s (call %s) from %s", supervisor, mode, call.agent_channel, call_id, channel)
        return channel
