"""The start-up probe (FastAGI route `probe`): the same first steps as the survey, and nothing else.

Its first command asks Asterisk for its own clock (`GET FULL VARIABLE ${STRFTIME(...)}`), so the moment
the script's first command reached Asterisk is measured on the PBX's clock; then it reads the channel
variables the survey reads and hands the time back in `PROBE_FIRST`. [hotline-agi-probe] in the dialplan
runs it, the classic-AGI twin (`agi_scripts/classic.py`) and a no-AGI baseline; `benchmarks/bench_agi.py`
compares them, and an admin can originate `Local/fastagi@hotline-agi-probe` to check the FastAGI link.
"""

from __future__ import annotations

from typing import Any, Protocol

CLOCK = "${STRFTIME(,,%s.%6q)}"
VARIABLES = ("CHANNEL(linkedid)", "HOTLINE_SOUNDS", "PROMPT_LANG")


class AgiRequest(Protocol):
    async def send_command(self, command: str) -> dict[str, Any]: ...


async def probe(request: AgiRequest) -> None:
    reply = await request.send_command(f"GET FULL VARIABLE {CLOCK}")
    first = str(reply.get("result", ("", ""))[1])
    for name in VARIABLES:
        await request.send_command(f"GET VARIABLE {name}")
    await request.send_command(f"SET VARIABLE PROBE_FIRST {first}")
