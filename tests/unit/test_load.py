"""The load governor's decisions (ari_app/load.py): when shedding starts, is refreshed, and ends, and what
it tells Asterisk. The governor against the real Asterisk under a storm is tests/e2e/test_storm.py."""

from __future__ import annotations

import asyncio
import logging

import pytest

from ari_app.load import LoadGovernor, SheddingPolicy, sip_round_trip


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def _governor(samples: list[float | None], fail: bool = False) -> tuple[LoadGovernor, list[str], Clock]:
    sent: list[str] = []
    clock = Clock()

    async def probe() -> float | None:
        return samples.pop(0)

    async def set_global(name: str, value: str) -> None:
        assert name == "SHED_UNTIL"
        if fail:
            raise ConnectionError("AMI away")
        sent.append(value)

    return LoadGovernor(SheddingPolicy(shed_ms=200, hold=3, recover=5), probe, set_global, clock), sent, clock


def _steps(gov: LoadGovernor, clock: Clock, n: int, dt: float = 0.5) -> None:
    for _ in range(n):
        asyncio.run(gov.step())
        clock.now += dt


def test_a_quick_asterisk_is_left_alone() -> None:
    gov, sent, clock = _governor([1.0, 3.0, 150.0, 2.0])
    _steps(gov, clock, 4)
    assert not gov.shedding and sent == [] and gov.problems == ()


@pytest.mark.parametrize("slow", [250.0, None], ids=["slow", "no answer"])
def test_an_overloaded_asterisk_sheds_until_a_time_ahead_and_refreshes_it(slow: float | None) -> None:
    gov, sent, clock = _governor([slow, slow, 120.0])
    _steps(gov, clock, 3)
    assert gov.shedding and gov.shed_periods == 1
    # each step keeps SHED_UNTIL `hold` seconds ahead of its own time; between the thresholds it stays on
    assert sent == [str(1_000_003), str(1_000_003), str(1_000_004)]
    assert gov.problems == ("shedding load: new hotline calls refused with 503 (Asterisk's SIP round trip 120 ms)",)


def test_shedding_ends_only_after_the_recovery_time_of_calm_round_trips() -> None:
    gov, sent, clock = _governor([500.0] + [5.0] * 9 + [5.0, 5.0])
    _steps(gov, clock, 10)  # 4.5 s of calm after the overload: still shedding
    assert gov.shedding and sent[-1] != "0"
    _steps(gov, clock, 2)
    assert not gov.shedding and sent[-1] == "0" and gov.problems == ()


def test_a_slow_round_trip_during_recovery_starts_the_calm_period_again() -> None:
    gov, _sent, clock = _governor([500.0] + [5.0] * 6 + [150.0] + [5.0] * 10)
    _steps(gov, clock, 17)
    assert gov.shedding  # 150 ms is under the threshold but not calm: recovery starts over after it


def test_asterisk_unreachable_is_logged_once_and_retried(caplog: pytest.LogCaptureFixture) -> None:
    gov, sent, clock = _governor([None] * 4, fail=True)
    with caplog.at_level(logging.WARNING, logger="ari_app.load"):
        _steps(gov, clock, 4)
    assert gov.shedding and sent == []
    assert sum("could not set SHED_UNTIL" in r.message for r in caplog.records) == 1


def test_shed_ms_zero_never_starts_the_governor() -> None:
    async def run() -> bool:
        async def probe() -> float | None:
            raise AssertionError("measured although shedding is off")

        async def set_global(_n: str, _v: str) -> None:
            raise AssertionError

        gov = LoadGovernor(SheddingPolicy(shed_ms=0), probe, set_global)
        await gov.start()
        await asyncio.sleep(0.05)
        await gov.stop()
        return gov.shedding

    assert asyncio.run(run()) is False


def test_the_sip_probe_reports_no_answer_as_none() -> None:
    async def run() -> float | None:
        # a UDP port nothing listens on: the probe must give up and say "no answer"
        return await sip_round_trip("127.0.0.1", 9, 0.2)()

    assert asyncio.run(run()) is None
