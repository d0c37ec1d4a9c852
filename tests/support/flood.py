"""A sign-in flood, run as its own process by test_link_flood.py: `python -m tests.support.flood URL SECONDS
CONNECTIONS FIRST_ADDRESS`. Each connection binds its own loopback address (FIRST_ADDRESS, the next, ...),
greets, then sends sign-ins for random logins as fast as its socket takes them (not waiting for replies),
reconnecting when closed, until SECONDS have passed. Prints one JSON line: attempts sent and the replies
counted by type or error id."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import secrets
import sys
import time
from collections import Counter

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake


async def one(url: str, source: str, until: float, seen: Counter[str]) -> None:
    while time.monotonic() < until:
        try:
            async with connect(url, local_addr=(source, 0), open_timeout=5, close_timeout=1) as ws:
                await ws.send('{"type":"hello","version":"1.2"}')
                await ws.recv()

                async def read() -> None:
                    async for frame in ws:
                        reply = json.loads(frame)
                        seen[str(reply.get("error_id") or reply.get("type"))] += 1

                reader = asyncio.ensure_future(read())
                try:
                    while time.monotonic() < until:
                        login = secrets.token_hex(4)
                        await asyncio.wait_for(
                            ws.send(json.dumps({"type": "sign_in", "agent_id": login, "password": "guess-" + login})),
                            max(0.01, until - time.monotonic()),
                        )
                        seen["sent"] += 1
                        await asyncio.sleep(0)
                finally:
                    reader.cancel()
        except (OSError, ConnectionClosed, InvalidHandshake, TimeoutError):
            seen["closed"] += 1
            await asyncio.sleep(0.05)


async def main(url: str, seconds: float, connections: int, first: str) -> None:
    until = time.monotonic() + seconds
    seen: Counter[str] = Counter()
    base = ipaddress.ip_address(first)
    await asyncio.gather(*(one(url, str(base + i), until, seen) for i in range(connections)))
    print(json.dumps(dict(seen)), flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]))
