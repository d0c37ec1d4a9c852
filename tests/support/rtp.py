"""What reaches a UDP port on loopback as RTP, read off the wire (a raw packet socket on `lo`, root only):
what a SIPp party actually receives, which SIPp itself does not report. `RtpTap(port)` runs a thread that
keeps every RTP packet sent to `port` (arrival time, payload type, payload); `audio` decodes the G.711
packets of a time span to samples, `tone_share` says how much of their power is one frequency (the agent's
440 Hz tone, against Asterisk's music on hold), `events` lists the RFC 4733 telephone events (DTMF keys).

G.711 decoding follows ITU-T G.711 (the µ-law and A-law expansion tables, computed here); the Goertzel
filter measures the power at one frequency."""

from __future__ import annotations

import fcntl
import math
import select
import socket
import struct
import subprocess
import threading
import time
from dataclasses import dataclass
from typing import Self

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
SIOCGSTAMP = 0x8906
"""ioctl: the kernel's receive time of the last packet read from a socket (struct timeval)."""
"""Linux packet types (linux/if_packet.h): on `lo` each packet is seen twice, sent and received; the
outgoing copy is skipped."""

PCMU, PCMA = 0, 8
DTMF_KEYS = "0123456789*#ABCD"
"""RFC 4733 event codes 0-15."""


def _ulaw(byte: int) -> int:
    u = ~byte & 0xFF
    t = ((u & 0x0F) << 3) + 0x84
    t <<= (u & 0x70) >> 4
    return (0x84 - t) if u & 0x80 else (t - 0x84)


def _alaw(byte: int) -> int:
    a = byte ^ 0x55
    t = (a & 0x0F) << 4
    seg = (a & 0x70) >> 4
    if seg == 0:
        t += 8
    elif seg == 1:
        t += 0x108
    else:
        t = (t + 0x108) << (seg - 1)
    return t if a & 0x80 else -t


ULAW = [_ulaw(b) for b in range(256)]
ALAW = [_alaw(b) for b in range(256)]


@dataclass(frozen=True)
class RtpPacket:
    at: float  # time.monotonic() of arrival
    payload_type: int
    timestamp: int  # the RTP timestamp (one per telephone event, kept by all its packets)
    payload: bytes


class LoopbackTap:
    """The IPv4 packets on the loopback device from now on, each read once (not its outgoing copy) and handed
    to `take` by a thread of the tap's own until `close` (a raw socket: CAP_NET_RAW). A context manager."""

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        self._sock.bind(("lo", 0))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._sock.close()

    def kernel_time(self) -> float:
        """When the kernel received the packet `take` is handed (epoch seconds; SIOCGSTAMP)."""
        seconds, micros = struct.unpack("@ll", fcntl.ioctl(self._sock, SIOCGSTAMP, b"\0" * 16))
        return float(seconds + micros / 1e6)

    def take(self, ip: bytes) -> None:
        """One IPv4 packet (its header first); a tap keeps what it looks for."""
        raise NotImplementedError

    def _read(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self._sock], [], [], 0.2)
            if not ready:
                continue
            frame, address = self._sock.recvfrom(65535)
            if address[2] == PACKET_OUTGOING:
                continue
            self.take(frame[14:])  # after the loopback device's (all-zero) Ethernet header


class RtpTap(LoopbackTap):
    """The RTP packets sent to UDP `port` on loopback from now on (any address), collected by a thread into
    `packets` until `close`. A context manager."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.packets: list[RtpPacket] = []
        super().__init__()

    def take(self, ip: bytes) -> None:
        packet = self._parse(ip)
        if packet is not None:
            self.packets.append(packet)

    def _parse(self, ip: bytes) -> RtpPacket | None:
        if len(ip) < 20 or ip[0] >> 4 != 4 or ip[9] != socket.IPPROTO_UDP:
            return None
        udp = ip[(ip[0] & 0x0F) * 4 :]
        if len(udp) < 8 + 12 or struct.unpack("!H", udp[2:4])[0] != self.port:
            return None
        rtp = udp[8:]
        if rtp[0] >> 6 != 2:
            return None
        start = 12 + 4 * (rtp[0] & 0x0F)
        if rtp[0] & 0x10 and len(rtp) >= start + 4:  # a header extension
            start += 4 + 4 * struct.unpack("!H", rtp[start + 2 : start + 4])[0]
        return RtpPacket(time.monotonic(), rtp[1] & 0x7F, struct.unpack("!I", rtp[4:8])[0], rtp[start:])

    def since(self, start: float, end: float | None = None) -> list[RtpPacket]:
        return [p for p in list(self.packets) if p.at >= start and (end is None or p.at < end)]

    def audio(self, start: float, end: float | None = None) -> list[int]:
        """The G.711 samples received between `start` and `end` (monotonic), in arrival order."""
        out: list[int] = []
        for p in self.since(start, end):
            table = ULAW if p.payload_type == PCMU else ALAW if p.payload_type == PCMA else None
            if table is not None:
                out.extend(table[b] for b in p.payload)
        return out

    def events(self, start: float) -> str:
        """The RFC 4733 telephone events (DTMF keys) received since `start`, each key once (all the packets
        of one event carry its code and the same RTP timestamp)."""
        keys = ""
        seen: set[int] = set()
        for p in self.since(start):
            if p.payload_type < 96 or len(p.payload) != 4 or p.timestamp in seen or p.payload[0] >= len(DTMF_KEYS):
                continue
            seen.add(p.timestamp)
            keys += DTMF_KEYS[p.payload[0]]
        return keys


def media_port(sipp: subprocess.Popen[bytes]) -> int:
    """The RTP port a SIPp process offers (its `-mp`)."""
    args = [str(a) for a in sipp.args]  # type: ignore[union-attr]
    return int(args[args.index("-mp") + 1])


def rms(samples: list[int]) -> float:
    """The samples' root mean square (16-bit linear scale)."""
    return math.sqrt(sum(s * s for s in samples) / len(samples)) if samples else 0.0


def tone_share(samples: list[int], frequency: float, rate: int = 8000) -> float:
    """The share (0..1) of the samples' power that is at `frequency` Hz (Goertzel over the whole span): near
    1 for a pure tone, near 0 for speech or music."""
    n = len(samples)
    if n == 0:
        return 0.0
    coeff = 2 * math.cos(2 * math.pi * frequency / rate)
    s1 = s2 = 0.0
    for x in samples:
        s1, s2 = x + coeff * s1 - s2, s1
    power = s1 * s1 + s2 * s2 - coeff * s1 * s2
    total = sum(x * x for x in samples)
    return (2 * power / n) / total if total else 0.0
