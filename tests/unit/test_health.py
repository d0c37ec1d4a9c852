"""Health judgement from the three probes, each with its own deadline."""

from __future__ import annotations

import asyncio

import pytest

from ari_app.health import Health, check, parse_core_status


def test_channel_count_from_core_status() -> None:
    ok = {"Response": "Success", "CoreCurrentCalls": "12", "CoreStartupTime": "10:00:00"}
    assert parse_core_status(ok) == 12
    assert parse_core_status({**ok, "CoreCurrentCalls": "0"}) == 0
    with pytest.raises(ValueError):
        parse_core_status({"Response": "Error", "Message": "Permission denied"})
    with pytest.raises(ValueError):
        parse_core_status({"Response": "Success"})


async def _sip_server() -> tuple[asyncio.DatagramTransport, int]:
    class Answer(asyncio.DatagramProtocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = transport

        def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
            call_id = next(line for line in data.decode().split("\r\n") if line.startswith("Call-ID"))
            self.transport.sendto(f"SIP/2.0 200 OK\r\n{call_id}\r\n\r\n".encode(), addr)  # type: ignore[attr-defined]

    transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(Answer, local_addr=("127.0.0.1", 0))
    return transport, transport.get_extra_info("sockname")[1]


async def test_up_degraded_and_down() -> None:
    transport, port = await _sip_server()

    async def ping() -> float:
        return 0.3

    async def count() -> int:
        return 4

    async def busy() -> int:
        return 110

    async def wedged() -> float:
        await asyncio.sleep(30)
        return 0.0

    try:
        up = await check(ping, count, "127.0.0.1", port, max_calls=60, timeout=0.5)
        assert up.state == Health.UP and up.channels == 4 and up.sip_ms is not None and up.problems == ()
        near = await check(ping, busy, "127.0.0.1", port, max_calls=60, timeout=0.5)
        assert near.state == Health.DEGRADED and "near the limit" in near.problems[0]
        down = await check(wedged, count, "127.0.0.1", port, max_calls=60, timeout=0.3)
        assert down.state == Health.DOWN and "AMI did not answer" in down.problems[0]
    finally:
        transport.close()
    no_sip = await check(ping, count, "127.0.0.1", port, max_calls=60, timeout=0.3)
    assert no_sip.state == Health.DEGRADED and "SIP OPTIONS" in no_sip.problems[0]


def test_the_servers_report_is_kept_for_hotline_status_and_only_believed_while_fresh(tmp_path: object) -> None:
    import json
    import stat
    from datetime import UTC, datetime, timedelta
    from pathlib import Path

    from ari_app.health import HealthReport, load_report, save_report

    path = Path(str(tmp_path)) / "var" / "server_health.json"
    report = HealthReport(Health.DEGRADED, datetime.now(UTC), 1.0, 2.0, 0, 120, ("agent 1001 is not in the queue",))
    save_report(path, report, ("agent 1001 is not in the queue and could not be added back",))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    seen = load_report(path, 30)
    assert seen is not None and seen["state"] == "degraded"
    assert seen["server_problems"] == ["agent 1001 is not in the queue and could not be added back"]
    old = json.loads(path.read_text())
    old["at"] = (datetime.now(UTC) - timedelta(seconds=31)).isoformat()
    path.write_text(json.dumps(old))
    assert load_report(path, 30) is None  # a server that stopped reporting is not believed
    path.write_text("{not json")
    assert load_report(path, 30) is None
