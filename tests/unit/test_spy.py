"""ChanSpy for supervisors: which phone is rung, into which context, with which options per mode."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ari_app.calls.model import Call
from ari_app.calls.tracker import CallTracker
from ari_app.config import load_config
from ari_app.server import ConfigAgents
from ari_app.supervision.spy import ChanSpy, SpyError
from schema.calls import CallState

ROOT = Path(__file__).resolve().parents[2]


class Memory:
    def save(self, call: Call) -> None:
        pass


class FakeAmi:
    def __init__(self) -> None:
        self.originates: list[dict[str, Any]] = []
        self.fail = False

    async def originate_async(self, **fields: Any) -> None:
        if self.fail:
            raise ConnectionError("AMI is down")
        self.originates.append(fields)


def _spy() -> tuple[ChanSpy, FakeAmi, CallTracker]:
    cfg = load_config(ROOT / "config.yaml")
    tracker = CallTracker(Memory(), ConfigAgents(cfg), [h.number for h in cfg.hotlines])
    call = Call(id="1764.1", arrived_at=datetime.now(UTC), hotline="12345", channel="PJSIP/carrier-telecom-01")
    call.state, call.agent_channel = CallState.CONNECTED, "PJSIP/1001-0000002a"
    tracker.calls[call.id] = call
    ami = FakeAmi()
    return ChanSpy(cfg, tracker, ami), ami, tracker


async def test_modes_ring_the_phone_into_hotline_spy_with_their_chanspy_options() -> None:
    spy, ami, _ = _spy()
    assert await spy.spy("1764.1", "listen", "1002", "sup") == "PJSIP/1002"  # an extension: its own endpoint
    assert await spy.spy("1764.1", "whisper", "13900000001", "sup") == "PJSIP/13900000001@carrier-telecom"
    assert await spy.spy("1764.1", "listen", "+86 139-0000-0001", "sup") == "PJSIP/13900000001@carrier-telecom"
    await spy.spy("1764.1", "barge", "1002", "sup")
    options = ["SPY_OPTIONS=bqES", "SPY_OPTIONS=bqwES", "SPY_OPTIONS=bqES", "SPY_OPTIONS=bqBES"]
    assert [o["Variable"][1] for o in ami.originates] == options
    first = ami.originates[0]
    assert (first["Context"], first["Exten"], first["Priority"]) == ("hotline-spy", "s", "1")
    assert first["Variable"][0] == "SPY_TARGET=PJSIP/1001-0000002a"
    assert "SPY_SUPERVISOR=sup" in first["Variable"]


async def test_refusals() -> None:
    spy, ami, tracker = _spy()
    with pytest.raises(SpyError) as e:
        await spy.spy("1764.1", "listen", "12;Dial(x)", "sup")
    assert e.value.error_id == "invalid_number"
    with pytest.raises(SpyError) as e:
        await spy.spy("nope", "listen", "1002", "sup")
    assert e.value.error_id == "agent_not_on_call"
    tracker.calls["1764.1"].state = CallState.RINGING
    with pytest.raises(SpyError) as e:
        await spy.spy("1764.1", "listen", "1002", "sup")
    assert e.value.error_id == "agent_not_on_call"
    tracker.calls["1764.1"].state = CallState.CONNECTED
    ami.fail = True
    with pytest.raises(SpyError) as e:
        await spy.spy("1764.1", "listen", "1002", "sup")
    assert e.value.error_id == "spy_unavailable"
    assert ami.originates == []
