"""What the benchmarks on the real stack share: the project's Asterisk in a temporary folder, the CTI server
process, the agents in the hotline queue, SIPp phones that answer every call, a SIPp load at a given rate,
and the channels a step left behind."""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

from panoramisk import Manager  # type: ignore[import-untyped]

from ari_app.config import Config
from tests.support.e2e import CtiProcess, Sipp, answering_phone_args, channels, hotline, make_config
from tests.support.waiting import wait_for


@contextmanager
def real_stack(agents: int) -> Iterator[tuple[Path, Path]]:
    """A temporary folder and a config in it for `agents` agents, with the project's Asterisk up until the end."""
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        config = make_config(tmp, agents=agents)
        try:
            up = hotline(config, "asterisk", "up", timeout=900)
            assert up.returncode == 0, up.stderr
            yield tmp, config
        finally:
            hotline(config, "asterisk", "down")


@contextmanager
def cti_running(config: Path, log: Path) -> Iterator[CtiProcess]:
    """The CTI server (`hotline serve`) running and synced with Asterisk until the end."""
    cti = CtiProcess(config, log)
    try:
        cti.start()
        cti.wait_synced()
        yield cti
    finally:
        cti.stop()


def add_members(config: Path, n: int) -> None:
    """Agents 1001.. (`n` of them) in the hotline queue."""
    for i in range(n):
        hotline(config, "asterisk", "cli", f"queue add member PJSIP/{1001 + i} to hotline penalty 0 as {1001 + i}")


def answering_phone(
    tmp: Path, address: str, port: int, media_port: int, talk_ms: int, *options: str
) -> subprocess.Popen[bytes]:
    """One SIPp UAS on `address`:`port` that answers every call, talks `talk_ms` and hangs up first, until
    it is stopped; `options` are more of SIPp's own."""
    return subprocess.Popen(
        answering_phone_args(address, port, media_port, talk_ms, *options),
        cwd=tmp,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def offer(
    sipp: Sipp, scenario: Path, caller: str, pause_ms: int, rate: float, count: int, timeout: int, *options: str
) -> subprocess.CompletedProcess[str]:
    """`count` calls to 12345 from the carrier trunk's address, `rate` a second, each from `caller` and
    pausing `pause_ms` in `scenario`; SIPp gives up after `timeout` s. `options` are more of SIPp's own."""
    return subprocess.run(
        [
            "sipp",
            "127.0.0.1:5060",
            "-sf",
            str(scenario),
            "-i",
            "127.0.0.2",
            "-s",
            "12345",
            "-key",
            "caller",
            caller,
            "-d",
            str(pause_ms),
            "-r",
            str(rate),
            "-rp",
            "1000",
            "-m",
            str(count),
            "-nostdin",
            "-timeout",
            str(timeout),
            "-timeout_error",
            "-mp",
            "30000",
            *options,
        ],
        cwd=sipp.tmp,
        capture_output=True,
        text=True,
        check=False,
    )


def channels_left(config: Path) -> int:
    """The channels still up once a step's calls had 30 s to go (0 when all went)."""
    try:
        wait_for(lambda: channels(config) == 0 or None, 30, "all channels gone")
        return 0
    except AssertionError:
        return channels(config)


@asynccontextmanager
async def ami_connected(cfg: Config) -> AsyncIterator[Manager]:
    """A panoramisk Manager connected on the config's AMI account, closed on the way out."""
    a = cfg.asterisk.ami
    ami = Manager(host=a.host, port=a.port, username=a.username, secret=a.secret.value() if a.secret else "")
    await ami.connect()
    try:
        yield ami
    finally:
        ami.close()


async def originate_out(ami: Manager, trunk: str, number: str) -> None:
    """The call-out benchmarks' baseline: a bare AMI Originate of `number` through `trunk` into Wait(1), not
    waiting for the call (the "queued" reply is enough; the INVITE is timed where it arrives)."""
    await ami.send_action(
        {
            "Action": "Originate",
            "Channel": f"PJSIP/{number}@{trunk}",
            "Application": "Wait",
            "Data": "1",
            "Async": "true",
            "Timeout": "10000",
        },
        as_list=False,
    )
