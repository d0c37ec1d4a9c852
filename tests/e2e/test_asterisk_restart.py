"""After Asterisk restarts (gracefully, after a crash) or reloads app_queue, the agents signed in to the CTI
server are in the queue again as they were (ready, or paused with their reason), with no action of theirs,
the next call is answered, and an agent can still sign out. The queue's configuration keeps no members
(`persistentmembers=no`), so without the server nobody would be left to answer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from ari_app import protocol as p
from ari_app.asterisk_ctl import AsteriskHost
from ari_app.config import load_config
from tests.support.e2e import Client, Stack, ami, call_record, calls, calls_in_state, hotline, suite_members
from tests.support.waiting import until, wait_for


async def members(stack: Stack) -> dict[str, tuple[str, str]]:
    """The queue's members now: agent id -> (Paused, PausedReason)."""
    found = await ami(stack, "QueueStatus", "QueueStatusComplete", Queue="hotline")
    return {
        m.get("StateInterface", m.get("Location", "")).split("/")[-1]: (m.get("Paused", ""), m.get("PausedReason", ""))
        for m in found
        if m.get("Event") == "QueueMember"
    }


def restore_test_members(stack: Stack) -> None:
    """Put back the members the suite's fixture added by hand (not through the server, so not restored)."""
    suite_members(stack.config, present=True)


async def until_members(stack: Stack, test: Callable[[dict[str, tuple[str, str]]], bool], what: str) -> dict[str, Any]:
    async def matching() -> tuple[dict[str, tuple[str, str]]] | None:
        now = await members(stack)
        return (now,) if test(now) else None

    try:
        (found,) = await until(matching, 30, what, interval=0.1)
    except AssertionError as exc:
        raise AssertionError(f"the queue never had {what}: {await members(stack)}") from exc
    return found


@pytest.fixture
async def two_agents(stack: Stack, link: Callable[[str, str], Any]) -> AsyncIterator[tuple[Client, Client]]:
    ready, paused = await link("1017", "agent"), await link("1018", "agent")
    assert (await ready.request(p.Msg.SET_STATE, state="ready"))["state"] == "ready"
    assert (await paused.request(p.Msg.SET_STATE, state="paused", reason="meal"))["state"] == "paused"
    try:
        yield ready, paused
    finally:
        # signed out before the members are put back (paused agent 1018 would otherwise stay paused)
        for client in (ready, paused):
            await client.sign_out()
        restore_test_members(stack)


FINAL = ("ended", "abandoned", "rejected")


def audio_on_disk(mix: str | None) -> bool:
    """Whether every file of the recording (mix and both sides) holds audio behind its 44-byte header."""
    if not mix:
        return False
    path = Path(mix)
    files = (path, path.with_name(f"{path.stem}-caller.wav"), path.with_name(f"{path.stem}-agent.wav"))
    return all(f.exists() and f.stat().st_size > 44 for f in files)


def answered_call(stack: Stack, caller: str) -> dict[str, Any]:
    stack.sipp.call("12345", caller, talk_ms=1500, timeout=60)
    (record,) = wait_for(
        lambda: [c for c in calls(stack.config) if c["caller"] == caller and c["state"] in FINAL] or None,
        30,
        "the call after the restart to end",
    )
    assert record["state"] == "ended" and record["agent"], record  # answered, not refused (overflow) or abandoned
    return record


@pytest.mark.parametrize("how", ["graceful", "crash", "reload"])
async def test_signed_in_agents_are_back_in_the_queue_as_they_were_after(
    how: str, stack: Stack, two_agents: tuple[Client, Client]
) -> None:
    ready, paused = two_agents
    await until_members(stack, lambda m: m.get("1017", ("",))[0] == "0" and m.get("1018") == ("1", "meal"), "both")

    def restart() -> None:
        """The blocking part (processes, polling), in a worker thread: the desktops' links stay served by
        this test's loop meanwhile (a loop blocked for 40 s misses the websocket keepalive)."""
        synced = stack.cti.resyncs()
        host = AsteriskHost.for_config(load_config(stack.config))
        cut = f"1390027{'gcr'.index(how[0]):04d}"
        if how != "reload":  # a call in progress when Asterisk goes: recorded lost, once
            talking = stack.sipp.call("12319", cut, talk_ms=60000, wait=False, timeout=90)
            (connected,) = calls_in_state(stack, cut, "connected", "the call to be connected before the restart", 30)
        if how == "crash":  # killed once some of the call's audio is on disk (its writes are buffered)
            wait_for(lambda: audio_on_disk(connected["recording"]), 30, "the recording's first audio on disk")
        if how == "graceful":
            hotline(stack.config, "asterisk", "cli", "core restart now")
        elif how == "crash":
            host.kill()
            up = hotline(stack.config, "asterisk", "up", timeout=300)
            assert up.returncode == 0, up.stderr
        else:
            # A reload of app_queue keeps the AMI link and, as measured, the dynamic members; were one lost,
            # the server would put it back on the Reload event or, at the latest, at its next health probe.
            hotline(stack.config, "asterisk", "cli", "module reload app_queue.so")
        if how != "reload":
            stack.cti.wait_synced(synced + 1, timeout=90)
            talking.kill()
            talking.wait()
            (lost,) = calls_in_state(stack, cut, "ended", "the cut call's record", within=30)
            assert lost["end_reason"] == "lost", lost
            # what was recorded until Asterisk went is kept (a killed Asterisk never closed the files: transcribed
            # to their end, played with the sizes their close would have written)
            checked = wait_for(
                lambda: (r := call_record(stack, cut, "ended")) and r["recording_status"] and r,
                30,
                "the cut call's recording to be checked",
            )
            assert checked["recording_status"] == "ok", checked["recording_error"]

    await asyncio.to_thread(restart)
    now = await until_members(
        stack, lambda m: m.get("1017", ("",))[0] == "0" and m.get("1018") == ("1", "meal"), "both agents as they were"
    )
    assert now["1017"][0] == "0" and now["1018"] == ("1", "meal")
    # The desktops were not asked to do anything: their state is what it was.
    assert (await ready.request(p.Msg.PING))["type"] == p.Msg.PONG
    states = [m for m in ready.pushes if m["type"] == p.Msg.AGENT_STATE]
    assert not states or states[-1]["state"] == "ready", states[-1:]
    await asyncio.to_thread(answered_call, stack, f"1390017{'gcr'.index(how[0]):04d}")
    signed_out = await paused.request(p.Msg.SIGN_OUT)
    assert signed_out["type"] == p.Msg.SIGNED_OUT, signed_out


async def test_status_is_degraded_while_the_agents_cannot_be_put_back(
    stack: Stack, two_agents: tuple[Client, Client]
) -> None:
    """The queue itself gone from Asterisk (its definition taken out and app_queue reloaded): the server cannot
    put the signed-in agents back, and `hotline status` says degraded and why until it can; then the agents
    are back as they were, with no action of theirs, and the status is up again."""
    await until_members(stack, lambda m: m.get("1017", ("",))[0] == "0" and m.get("1018") == ("1", "meal"), "both")
    queues = AsteriskHost.for_config(load_config(stack.config)).etc_dir / "hotline_queues.conf"
    original = queues.read_bytes()

    def status() -> tuple[int, str]:
        done = hotline(stack.config, "status", timeout=60)
        return done.returncode, done.stdout

    def degraded() -> tuple[int, str] | None:
        now = status()
        return now if now[0] != 0 else None

    try:
        queues.write_bytes(b"; the hotline queue taken out for a test\n")
        hotline(stack.config, "asterisk", "cli", "module reload app_queue.so")
        code, text = await asyncio.to_thread(wait_for, degraded, 60, "hotline status degraded")
        assert code == 1 and "Hotline platform: degraded" in text, text
        assert "agent 1017 is not in the queue and could not be added back" in text, text
    finally:
        queues.write_bytes(original)
        hotline(stack.config, "asterisk", "cli", "module reload app_queue.so")
    await until_members(
        stack, lambda m: m.get("1017", ("",))[0] == "0" and m.get("1018") == ("1", "meal"), "both agents back"
    )
    await asyncio.to_thread(wait_for, lambda: status()[0] == 0 or None, 60, "hotline status up again")
