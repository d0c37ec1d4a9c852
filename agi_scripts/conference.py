"""The three-way call's join (FastAGI route `conference`, run by [hotline-conference] in the dialplan for every
leg the CTI server sends there): tell the leg what is happening, then enter it into the call's ConfBridge
room with its role's user profile, and log when it joined and left.

Channel variables read (set by ari_app.conference.ThreeWay and ari_app.transfers):
- `CONF_ROOM`: the ConfBridge room; `CONF_ROLE`: citizen, agent or unit (the profile `hotline_<role>` of
  dialplan/confbridge.conf; any other role joins as `hotline_user`);
- `CONF_INTRO=1`: announce before joining (three-way calls; a transfer's legs join without): the citizen
  hears `conference-connecting` ("正在为您接通相关单位，请稍候"), the unit's person hears who calls and why
  (`conference-unit-intro`), the case's number digit by digit when the call (`CONF_CALL`, the citizen's
  Linkedid) has a case, and `conference-joining`;
- `HOTLINE_SOUNDS`, `PROMPT_LANG`: where the prompts are (ari_app.prompts), in the call's language.

The script sets `CONF_JOINED=1` just before it runs ConfBridge; [hotline-conference] joins the leg itself,
without announcements, when the script could not be reached or stopped before that, so a leg is never left
out of its call. A prompt that cannot be played is logged and skipped. The ConfBridge runs inside Asterisk:
if the CTI server stops meanwhile the leg stays in the room, and the dialplan hangs it up when it leaves.
Who joins and leaves is also stored by the CTI server from AMI's ConfbridgeJoin / ConfbridgeLeave
(ari_app.conference); the log lines here say that the leg came through this script.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from agi_scripts.commands import AgiRequest, AsteriskGone, CallerHungUp, PromptFailed, command, variable
from schema.cases import Case

log = logging.getLogger(__name__)

BRIDGE = "hotline_bridge"
PROFILES = {"citizen": "hotline_citizen", "agent": "hotline_agent", "unit": "hotline_unit"}
"""ConfBridge user profile per role (dialplan/confbridge.conf)."""
OTHER_PROFILE = "hotline_user"
COMMAND_TIMEOUT = 60.0
"""Longest wait for one command other than the ConfBridge itself (the unit's announcement with a case number
lasts about 15 s)."""
DB_TIMEOUT = 2.0
"""Longest wait for the case number; the unit is announced without it after that."""


class Conference:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        command_timeout: float = COMMAND_TIMEOUT,
        db_timeout: float = DB_TIMEOUT,
    ) -> None:
        self.sessions = sessions
        self.command_timeout = command_timeout
        self.db_timeout = db_timeout

    async def __call__(self, request: AgiRequest) -> None:
        channel = request.headers.get("agi_channel", "?")
        room, joined = "?", False
        try:
            room = await self._variable(request, "CONF_ROOM") or "?"
            role = await self._variable(request, "CONF_ROLE")
            if room == "?":
                log.error("three-way call: channel %s has no CONF_ROOM", channel)
                return
            if await self._variable(request, "CONF_INTRO") == "1":
                await self._announce(request, role, channel)
            profile = PROFILES.get(role, OTHER_PROFILE)
            await command(request, "SET VARIABLE CONF_JOINED 1", self.command_timeout)
            log.info("three-way call %s: %s %s joins (%s)", room, role or "?", channel, profile)
            joined = True
            await command(request, f'EXEC ConfBridge "{room},{BRIDGE},{profile}"', None)
        except (CallerHungUp, PromptFailed):  # ConfBridge's result after a hang-up, or a hang-up during a prompt
            pass
        except TimeoutError:  # before OSError, of which it is a subclass
            log.error(
                "three-way call %s: Asterisk did not answer within %.0f s (%s)", room, self.command_timeout, channel
            )
        except (AsteriskGone, ConnectionError, OSError) as exc:
            log.warning("three-way call %s: connection to Asterisk lost on %s (%s)", room, channel, exc)
        except Exception:
            log.exception("three-way call %s: unexpected error on %s", room, channel)
        finally:
            if joined:
                log.info("three-way call %s: %s left", room, channel)

    async def _variable(self, request: AgiRequest, name: str) -> str:
        return await variable(request, name, self.command_timeout)

    async def _announce(self, request: AgiRequest, role: str, channel: str) -> None:
        sounds = await self._variable(request, "HOTLINE_SOUNDS")
        lang = await self._variable(request, "PROMPT_LANG") or "zh"
        if not sounds:
            log.error("three-way call: HOTLINE_SOUNDS is not set on %s; joining without announcement", channel)
            return
        names = []
        if role == "citizen":
            names = ["conference-connecting"]
        elif role == "unit":
            number = await self._case_number(await self._variable(request, "CONF_CALL"))
            digits = [f"digit-{d}" for d in number if d.isdigit()]
            names = [
                "conference-unit-intro",
                *(["conference-case-number", *digits] if digits else []),
                "conference-joining",
            ]
        if names:
            await self._play(request, "&".join(f"{sounds}/{lang}/{name}" for name in names), channel)

    async def _play(self, request: AgiRequest, files: str, channel: str) -> None:
        """Play `files` (Playback's `a&b&c`); a prompt that fails is logged, a hang-up raises CallerHungUp."""
        try:
            await command(request, f'EXEC Playback "{files}"', self.command_timeout)
        except PromptFailed:
            await command(request, "CHANNEL STATUS", self.command_timeout)  # CallerHungUp when the channel is gone
            log.error("three-way call: a prompt could not be played on %s (%s)", channel, files)

    async def _case_number(self, call_id: str) -> str:
        """The number of the newest case taken on call `call_id`, or '' (no case, or the database too slow)."""
        if not call_id:
            return ""

        def find() -> str:
            with self.sessions() as s:
                found = s.scalar(select(Case.number).where(Case.call_id == call_id).order_by(Case.id.desc()).limit(1))
            return found or ""

        try:
            return await asyncio.wait_for(asyncio.to_thread(find), self.db_timeout)
        except TimeoutError:
            log.warning(
                "three-way call %s: the case number took over %.0f s; announced without it", call_id, self.db_timeout
            )
        except Exception:
            log.exception("three-way call %s: could not read the case number", call_id)
        return ""
