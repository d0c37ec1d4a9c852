"""For tests of the desktop's softphone without Asterisk: the tone a headless baresip speaks, a second baresip
as the other side of a call, and a minimal SIP registrar on loopback UDP that accepts (or refuses) every
REGISTER, so that a phone's registration can be seen to succeed or fail."""

from __future__ import annotations

import asyncio
import math
import re
import struct
import wave
from pathlib import Path
from typing import cast

from cti_desktop.softphone import AudioDevices, CallState, PhoneSettings, SipAccount, Softphone


def write_tone(path: Path, seconds: int = 60) -> Path:
    """`seconds` of a 440 Hz tone, 8 kHz mono 16-bit: what a headless phone speaks (baresip hangs up at the
    end of the file, so make it longer than the test's calls)."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        second = b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / 8000))) for i in range(8000))
        w.writeframes(second * seconds)
    return path


class OtherSide:
    """A second baresip: the citizen who calls the agent's phone (or is called), reached directly."""

    def __init__(self, tone: Path) -> None:
        self.phone = Softphone(PhoneSettings(audio=AudioDevices.files(tone)))

    async def start(self) -> None:
        await self.phone.start()
        await self.phone.set_account(SipAccount(f"sip:13800000001@127.0.0.1:{self.phone.sip_port}", register=0))

    @property
    def state(self) -> CallState | None:
        call = self.phone.status.call
        return call.state if call else None

    @property
    def keys(self) -> str:
        """The DTMF keys the agent's phone sent in the current call."""
        call = self.phone.status.call
        return call.keys if call else ""


class Registrar(asyncio.DatagramProtocol):
    """Answers every REGISTER on 127.0.0.1:`port` (UDP) with 200 OK (the contact kept for `Expires`), or with
    403 Forbidden once `refuse` is set; counts the REGISTERs in `seen`. Nothing else of SIP."""

    def __init__(self) -> None:
        self.refuse = False
        self.seen = 0
        self.port = 0
        self.transport: asyncio.DatagramTransport | None = None

    @classmethod
    async def open(cls) -> Registrar:
        registrar = cls()
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(lambda: registrar, local_addr=("127.0.0.1", 0))
        registrar.port = int(transport.get_extra_info("sockname")[1])
        return registrar

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | None, int]) -> None:
        text = data.decode("utf-8", errors="replace")
        if not text.startswith("REGISTER ") or self.transport is None:
            return
        self.seen += 1
        head = text.split("\r\n\r\n", 1)[0].split("\r\n")
        wanted = ("via", "from", "to", "call-id", "cseq", "contact")
        headers = [line for line in head[1:] if line.split(":", 1)[0].strip().lower() in wanted]
        status = "403 Forbidden" if self.refuse else "200 OK"
        lines = [f"SIP/2.0 {status}"]
        for line in headers:
            name = line.split(":", 1)[0].strip().lower()
            if name == "to" and ";tag=" not in line:
                line += ";tag=reg1"
            if name == "contact":
                if self.refuse:
                    continue
                line = re.sub(r";expires=\d+", "", line) + ";expires=60"
            lines.append(line)
        lines += ["Expires: 60" if not self.refuse else "", "Content-Length: 0", "", ""]
        self.transport.sendto("\r\n".join(x for x in lines[:-2] if x).encode() + b"\r\n\r\n", addr)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
