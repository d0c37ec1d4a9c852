"""What an in-call script costs to start, per call: classic AGI (Asterisk forks a Python interpreter that
imports pyst2) against FastAGI (a connection to the CTI server's running FastAGI listener), with a baseline
of the same steps done in the dialplan without AGI, all in one run.

Brings up the real Asterisk with the project's dialplan and the real CTI server (`hotline serve`), installs
the classic-AGI twin of the probe (`agi_scripts/classic.py` as `hotline-probe.py`, with pyst2 and six) into
Asterisk's agi-bin, adding Debian's `python3` to the Asterisk root when it has none (once; needs the Debian
mirror). Each call is a Local channel into [hotline-agi-probe] originated over AMI; the dialplan stamps, on
Asterisk's clock, the moment the channel enters AGI(), the moment the script's first command arrives and
the moment AGI() returns, and keeps them in AstDB. Two rounds per mode: CALLS calls one after another, then
BURST calls originated at once (the start-up cost under contention, two cores).
Needs root and the test suite's Asterisk (run it under the Asterisk lock).
Usage: .venv/bin/python -m benchmarks.bench_agi [--calls 30] [--burst 10]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

from ari_app.asterisk_ctl import AsteriskHost
from ari_app.config import load_config
from benchmarks.measure import pct
from benchmarks.stack import ami_connected, cti_running, real_stack
from tests.support.e2e import ROOT

MODES = ("none", "fastagi", "classic")


def install_classic(root: Path) -> None:
    """The classic script with pyst2 (and six) in the root's agi-bin; python3 in the root if missing."""
    if not (root / "usr/bin/python3").exists() or not (root / "usr/lib/python3").exists():
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(
            ["chroot", str(root), "apt-get", "install", "-y", "-q", "--no-install-recommends", "python3"],
            check=True,
            env=env,
            capture_output=True,
        )
    agi_bin = root / "usr/share/asterisk/agi-bin"
    agi_bin.mkdir(parents=True, exist_ok=True)
    import asterisk.agi  # type: ignore[import-untyped]  # pyst2, from the project's environment
    import six  # type: ignore[import-untyped]

    pyst = Path(asterisk.agi.__file__).parent
    shutil.rmtree(agi_bin / "asterisk", ignore_errors=True)
    shutil.copytree(pyst, agi_bin / "asterisk", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copyfile(six.__file__, agi_bin / "six.py")
    target = agi_bin / "hotline-probe.py"
    shutil.copyfile(ROOT / "agi_scripts" / "classic.py", target)
    target.chmod(0o755)


async def command(host: AsteriskHost, text: str) -> str:
    """A CLI command through Asterisk's control socket (the AMI user has no `command` class)."""
    return await asyncio.to_thread(host.cli, text)


async def results(host: AsteriskHost) -> dict[str, list[tuple[float, float, float, str]]]:
    """AstDB agiprobe/<mode>-<uniqueid>: start first end status."""
    out: dict[str, list[tuple[float, float, float, str]]] = {m: [] for m in MODES}
    for line in (await command(host, "database show agiprobe")).splitlines():
        if not line.startswith("/agiprobe/") or ":" not in line:
            continue
        key, value = line.split(":", 1)
        mode = key.split("/")[2].split("-")[0]
        parts = value.split()
        if mode in out and len(parts) >= 3 and parts[1]:
            out[mode].append((float(parts[0]), float(parts[1]), float(parts[2]), parts[3] if len(parts) > 3 else ""))
    return out


async def originate(ami: Any, mode: str) -> None:
    await ami.send_action(
        {
            "Action": "Originate",
            "Channel": f"Local/{mode}@hotline-agi-probe",
            "Application": "Wait",
            "Data": "0",
            "Async": "true",
            "Timeout": "10000",
        }
    )


async def wait_count(host: AsteriskHost, mode: str, n: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len((await results(host))[mode]) >= n:
            return
        await asyncio.sleep(0.05)
    raise TimeoutError(f"{mode}: fewer than {n} probe calls finished within {timeout:.0f} s")


async def run(config: Path, calls: int, burst: int) -> dict[str, dict[str, list[tuple[float, float, float, str]]]]:
    cfg = load_config(config)
    host = AsteriskHost.for_config(cfg)
    rounds: dict[str, dict[str, list[tuple[float, float, float, str]]]] = {}
    async with ami_connected(cfg) as ami:
        for label in ("sequential", "burst"):
            rounds[label] = {}
            for mode in MODES:
                await command(host, "database deltree agiprobe")
                await originate(ami, mode)  # warm-up (first fork, first connection), not counted
                await wait_count(host, mode, 1)
                await command(host, "database deltree agiprobe")
                if label == "sequential":
                    for i in range(calls):
                        await originate(ami, mode)
                        await wait_count(host, mode, i + 1)
                else:
                    await asyncio.gather(*(originate(ami, mode) for _ in range(burst)))
                    await wait_count(host, mode, burst)
                rounds[label][mode] = (await results(host))[mode]
        await command(host, "database deltree agiprobe")
    return rounds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=30)
    ap.add_argument("--burst", type=int, default=10)
    args = ap.parse_args()
    with real_stack(agents=1) as (tmp, config):
        install_classic(ROOT / ".local" / "asterisk-root")
        with cti_running(config, tmp / "cti.log"):
            rounds = asyncio.run(run(config, args.calls, args.burst))
    print(f"AGI start-up per call, Asterisk's clock; {args.calls} sequential calls, then {args.burst} at once")
    print("start-up = channel enters AGI() -> the script's first command reaches Asterisk")
    print("total    = channel enters AGI() -> AGI() returns (the probe's 5 commands)")
    for label, by_mode in rounds.items():
        for mode in MODES:
            rows = by_mode[mode]
            start = [(f - t0) * 1000 for t0, f, _t1, _s in rows]
            total = [(t1 - t0) * 1000 for t0, _f, t1, _s in rows]
            bad = sum(1 for *_x, s in rows if mode != "none" and s != "SUCCESS")
            print(
                f"{label:10} {mode:8} n={len(rows):3}  start-up p50 {pct(start, 0.5):7.2f} ms  "
                f"p99 {pct(start, 0.99):7.2f} ms  mean {statistics.mean(start):7.2f} ms   "
                f"total p50 {pct(total, 0.5):7.2f} ms  p99 {pct(total, 0.99):7.2f} ms"
                + (f"   AGISTATUS not SUCCESS: {bad}" if bad else "")
            )


if __name__ == "__main__":
    main()
