"""Sending AGI commands from a FastAGI script and reading Asterisk's replies (panoramisk parses each reply
line into a dict). Shared by the in-call scripts: what a reply means (the caller hung up, a command failed)
is decided once here.

A reply is `200 result=<value> (<data>)`; panoramisk turns the failures into `error` keys:
`AGIResultHangup` (Asterisk's `HANGUP` line or `result=-1` after a hang-up), `AGIAppError` (`result=-1`, the
command or the application it ran failed), or status 511 (a command on a dead channel).
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol


class AgiRequest(Protocol):
    headers: dict[str, str]

    async def send_command(self, command: str) -> dict[str, Any]: ...


class CallerHungUp(Exception):
    """The channel is gone."""


class PromptFailed(Exception):
    """A command answered `result=-1`: a prompt could not be played, or the caller hung up meanwhile."""


class AsteriskGone(Exception):
    """Asterisk closed the connection (no readable reply)."""


def parse(reply: dict[str, Any]) -> tuple[str, str]:
    """(`result=` value, the value in parentheses) of an AGI reply. CallerHungUp when Asterisk says the
    channel is gone (`HANGUP`, `hangup` in the reply, or 511 on a dead channel); PromptFailed for
    `result=-1` (a failed command: a hang-up or a prompt that could not be played)."""
    if reply.get("error") == "AGIResultHangup" or reply.get("status_code") == 511:
        raise CallerHungUp
    if reply.get("error") == "AGIAppError":
        raise PromptFailed
    result = reply.get("result")
    if not isinstance(result, tuple):
        return "", ""
    return str(result[0]), str(result[1])


async def command(request: AgiRequest, text: str, timeout: float | None) -> tuple[str, str]:
    """Send one command and parse its reply (`parse`); TimeoutError after `timeout` seconds (None: no
    limit, for an application that lasts as long as the call, such as `EXEC ConfBridge`)."""
    try:
        reply = await asyncio.wait_for(request.send_command(text), timeout)
    except ValueError as exc:  # panoramisk cannot parse the empty line read at the end of the stream
        raise AsteriskGone(f"no readable reply to {text.split()[0]}: {exc}") from None
    return parse(reply)


async def variable(request: AgiRequest, name: str, timeout: float) -> str:
    """A channel variable's value ('' when it is not set)."""
    found, value = await command(request, f"GET VARIABLE {name}", timeout)
    return value if found == "1" else ""
