"""The agent's softphone: Debian's baresip (1.0) as a child process of the desktop, driven over its
`ctrl_tcp` interface. Plain asyncio, no Qt (like cti_desktop.link), so it is tested against real baresip
processes without widgets.

    phone = Softphone(PhoneSettings(audio=AudioDevices.system()), on_change=show)
    await phone.start()                        # baresip runs, its control connection is up
    await phone.set_account(SipAccount("sip:1001@pbx.example:5060", password="..."))   # registers
    await phone.answer(); await phone.hold(); await phone.resume(); await phone.mute(True)
    await phone.dtmf("12#"); await phone.hangup(); await phone.dial("sip:12345@pbx.example")
    await phone.stop()

Why a child process: a SIP user agent with real sound devices is C code that can crash; in its own process
a crash takes the phone down, not the agent's window and its link, and the phone is restarted
(`PhoneStatus.process` goes `crashed`, then `running` again with the account set anew; `restarts` counts
them). The PyPI pjsua2 wheel runs in-process, has no sound-card backend and aborted the process after an
exception.

The control protocol (baresip `modules/ctrl_tcp`): each message is a netstring (`<length>:<json>,`). A
command is `{"command": "accept", "params": "", "token": "7"}`; its reply `{"response": true, "ok": true,
"data": "...", "token": "7"}`. Events arrive unrequested (`{"event": true, "type": "CALL_INCOMING",
"id": "<call id>", "peeruri": "sip:...", ...}`), interleaved with replies.

Secrets: the SIP password is never written to disk. baresip starts with no account (its private
configuration directory, mode 0700, holds only the audio and network settings); the account, password
included, is handed over the control connection (`uanew`) and kept in this process's memory only, to set
it again after a restart. The control port listens on loopback only; it has no authentication of its own
(see docs/architecture.md, Known gaps).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import re
import shutil
import socket
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

BARESIP = "baresip"
"""The executable (Debian package baresip-core); PhoneSettings.executable overrides it."""

DTMF = re.compile(r"[0-9*#A-D]{1,32}")
"""What `dtmf` sends: the 16 DTMF keys (RFC 4733 events 0-15), at most 32 at a time."""

RESTART_DELAYS = (0.5, 1.0, 2.0, 5.0, 10.0)
"""Seconds before each restart of a phone process that ended by itself (the last repeats)."""


class PhoneError(Exception):
    """baresip refused a command (`ok: false`, with its reason), or the phone is not running."""


class Process(StrEnum):
    STOPPED = "stopped"
    STARTING = "starting"
    RUNNING = "running"
    CRASHED = "crashed"  # ended by itself; a restart follows


class Registration(StrEnum):
    NONE = "none"  # no account, or one that does not register (regint=0)
    REGISTERING = "registering"
    REGISTERED = "registered"
    FAILED = "failed"


class CallState(StrEnum):
    INCOMING = "incoming"  # ringing here, waiting for Answer
    OUTGOING = "outgoing"  # dialled, waiting for the other side
    RINGING = "ringing"  # dialled, the other side rings (180)
    ESTABLISHED = "established"
    HELD = "held"  # established, on hold (the other side hears Asterisk's music on hold)


@dataclass(frozen=True)
class PhoneCall:
    id: str  # baresip's call id
    peer: str  # the other side's SIP URI
    incoming: bool
    state: CallState
    muted: bool = False
    media: bool = False  # the other side's audio (RTP) has arrived
    keys: str = ""  # the DTMF keys the other side pressed during the call


@dataclass(frozen=True)
class PhoneStatus:
    """What the phone controls show. `call` is None when there is no call."""

    process: Process = Process.STOPPED
    registration: Registration = Registration.NONE
    call: PhoneCall | None = None
    restarts: int = 0
    reason: str = ""  # why the process or the registration failed, for the banner


@dataclass(frozen=True)
class SipAccount:
    """The agent's SIP account, as the server hands it at sign-in. `aor`: `sip:1001@host:port`.
    `register`: seconds between registrations (0: never register, for a phone reached directly)."""

    aor: str
    password: str | None = field(default=None, repr=False)
    register: int = 600
    auto_answer: bool = False

    def uanew(self) -> str:
        """The `uanew` parameters: baresip's account line (docs: baresip `accounts`)."""
        if not re.fullmatch(r"sips?:[^<>;\s]+", self.aor):
            raise PhoneError(f"not a SIP address: {self.aor!r}")
        line = f"<{self.aor}>"
        if self.password:
            if any(c in self.password for c in ';<>"\r\n'):
                raise PhoneError("the SIP password has a character baresip's account line cannot carry")
            line += f";auth_pass={self.password}"
        mode = "auto" if self.auto_answer else "manual"
        return line + f";regint={self.register};answermode={mode};audio_codecs=PCMU,PCMA"


@dataclass(frozen=True)
class AudioDevices:
    """baresip's audio drivers and devices (`driver,device`): what the agent hears the call on (`player`),
    speaks into (`source`), and hears the ring on (`alert`)."""

    player: str
    source: str
    alert: str
    modules: tuple[str, ...]

    @classmethod
    def system(cls, device: str = "default") -> AudioDevices:
        """The PC's sound card through ALSA (PulseAudio and PipeWire offer an ALSA `default` device)."""
        return cls(f"alsa,{device}", f"alsa,{device}", f"alsa,{device}", ("alsa.so",))

    @classmethod
    def files(cls, source: Path) -> AudioDevices:
        """Headless: speak the WAV file `source` (8 kHz mono; baresip hangs up at its end, so make it long),
        play what is heard to nowhere (baresip's aubridge)."""
        return cls("aubridge,heard", f"aufile,{source}", "aubridge,alert", ("aufile.so", "aubridge.so"))


def alsa_cards(path: Path = Path("/proc/asound/cards")) -> list[tuple[str, str]]:
    """The PC's sound cards as ALSA devices the phone can use, `(device, description)`:
    `("plughw:CARD=PCH", "HDA Intel PCH")` for the kernel's line ` 0 [PCH   ]: HDA-Intel - HDA Intel PCH`
    (plughw converts rate and format, as a headset's card may not do 8 kHz). [] without ALSA."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    cards = []
    for m in re.finditer(r"^\s*\d+\s+\[(\S+)\s*\]:\s*\S+\s+-\s+(.+)$", text, re.MULTILINE):
        cards.append((f"plughw:CARD={m.group(1)}", m.group(2).strip()))
    return cards


def address_towards(aor: str) -> str:
    """This PC's address on the route to the host of `aor` (`sip:1001@10.0.0.5:5060`): the address the phone
    listens on and announces, so that the PBX reaches it. No packet is sent (a UDP socket is only connected);
    127.0.0.1 when the host cannot be resolved."""
    m = re.fullmatch(r"sips?:(?:[^@]+@)?(\[[^\]]+\]|[^:;>]+)(?::(\d+))?.*", aor)
    if m is None:
        return "127.0.0.1"
    host, port = m.group(1).strip("[]"), int(m.group(2) or 5060)
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect((host, port))
            return str(s.getsockname()[0])
    except OSError:
        return "127.0.0.1"


@dataclass(frozen=True)
class PhoneSettings:
    audio: AudioDevices
    host: str = "127.0.0.1"  # the address the phone's SIP and RTP use (the PC's address towards the PBX)
    sip_port: int = 0  # 0: a free one
    executable: str = BARESIP
    start_timeout: float = 10.0  # seconds for baresip to listen on its control port


class Softphone:
    """One baresip process and its control connection (see the module docstring). `on_change` is called with
    the new PhoneStatus after every change, on the event loop."""

    def __init__(self, settings: PhoneSettings, on_change: Callable[[PhoneStatus], None] | None = None) -> None:
        self.settings = settings
        self.on_change = on_change
        self.status = PhoneStatus()
        self.account: SipAccount | None = None
        self.sip_port = 0
        self._dir: Path | None = None
        self._proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._replies: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._tokens = itertools.count(1)
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = False

    # --- lifecycle -------------------------------------------------------------------------------------
    async def start(self) -> None:
        """Start baresip and connect to it; PhoneError if it does not come up within `start_timeout`."""
        self._stopping = False
        if shutil.which(self.settings.executable) is None:
            raise PhoneError(f"{self.settings.executable} is not installed (Debian package baresip-core)")
        await self._launch()

    async def stop(self) -> None:
        """Hang up, end baresip, remove its configuration directory."""
        self._stopping = True
        for task in list(self._tasks):
            task.cancel()
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(Exception):
                await self._writer.wait_closed()
        await self._end_process()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None
        self._fail_replies("the phone stopped")
        self._set(process=Process.STOPPED, registration=Registration.NONE, call=None)

    async def set_account(self, account: SipAccount) -> None:
        """Use `account` (replacing any other): baresip registers it unless `register` is 0."""
        params = account.uanew()
        if self.account is not None and self.account.aor != account.aor:
            with contextlib.suppress(PhoneError):
                await self.command("uadel", self.account.aor)
        # before the command: baresip may report the registration done before it answers `uanew`
        self._set(registration=Registration.REGISTERING if account.register else Registration.NONE)
        await self.command("uanew", params)
        self.account = account

    # --- the call --------------------------------------------------------------------------------------
    async def answer(self) -> None:
        await self._on_call("accept", CallState.INCOMING)

    async def hangup(self) -> None:
        if self.status.call is None:
            raise PhoneError("there is no call to hang up")
        await self.command("hangup")

    async def hold(self) -> None:
        await self._on_call("hold", CallState.ESTABLISHED)
        self._call(state=CallState.HELD)

    async def resume(self) -> None:
        await self._on_call("resume", CallState.HELD)
        self._call(state=CallState.ESTABLISHED)

    async def mute(self, on: bool) -> None:
        """Stop (or start again) sending the agent's voice; the call goes on."""
        call = self.status.call
        if call is None or call.state not in (CallState.ESTABLISHED, CallState.HELD):
            raise PhoneError("there is no call to mute")
        if call.muted != on:
            reply = await self.command("mute")  # baresip toggles, and says which it did
            self._call(muted="un-muted" not in reply)

    async def dtmf(self, digits: str) -> None:
        """Send `digits` (0-9 * # A-D) to the other side as RFC 4733 events."""
        if not DTMF.fullmatch(digits):
            raise PhoneError(f"not DTMF keys: {digits!r}")
        await self._on_call("sndcode", CallState.ESTABLISHED, digits)

    async def dial(self, uri: str) -> None:
        if self.status.call is not None:
            raise PhoneError("the phone is already in a call")
        if not re.fullmatch(r"sips?:[^<>\s]+", uri):
            raise PhoneError(f"not a SIP address: {uri!r}")
        self._set(call=PhoneCall("", uri, False, CallState.OUTGOING))  # baresip names the call when it rings
        try:
            await self.command("dial", uri)
        except PhoneError:
            self._set(call=None)
            raise

    async def switch_audio(self, player: str | None = None, source: str | None = None) -> None:
        """Hear the call on `player` and speak into `source` (`driver,device`, e.g. `alsa,plughw:CARD=USB`)
        from now on, a call in progress included (baresip's `auplay` / `ausrc`), and after a restart too.
        PhoneError when baresip has no such driver or the phone is not running."""
        for command, device in (("auplay", player), ("ausrc", source)):
            if device is None:
                continue
            if not re.fullmatch(r"[a-z0-9_]+,[^\r\n]*", device):
                raise PhoneError(f"not an audio device: {device!r}")
            reply = await self.command(command, device)
            if reply.startswith("no such"):  # baresip says so with ok: true
                raise PhoneError(f"{command}: {reply.strip()}")
            audio = self.settings.audio
            audio = replace(audio, player=device) if command == "auplay" else replace(audio, source=device)
            self.settings = replace(self.settings, audio=audio)

    async def command(self, name: str, params: str = "", timeout: float = 5.0) -> str:
        """Send one command and return baresip's answer text; PhoneError when it refuses or the phone is
        not running."""
        if self._writer is None or self.status.process is not Process.RUNNING:
            raise PhoneError("the phone is not running")
        token = str(next(self._tokens))
        body = json.dumps({"command": name, "params": params, "token": token}).encode()
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._replies[token] = future
        try:
            self._writer.write(b"%d:%s," % (len(body), body))
            await self._writer.drain()
            reply = await asyncio.wait_for(future, timeout)
        except (OSError, TimeoutError) as exc:
            raise PhoneError(f"the phone did not answer {name!r}: {exc or 'timeout'}") from exc
        finally:
            self._replies.pop(token, None)
        if not reply.get("ok"):
            raise PhoneError(f"{name}: {reply.get('data') or 'refused'}")
        return str(reply.get("data") or "")

    async def _on_call(self, name: str, needed: CallState, params: str = "") -> None:
        call = self.status.call
        if call is None or call.state is not needed:
            raise PhoneError(f"{name}: the call is {call.state if call else 'not there'}, not {needed}")
        await self.command(name, params)

    # --- the process -----------------------------------------------------------------------------------
    async def _launch(self) -> None:
        self._set(process=Process.STARTING)
        if self._dir is None:
            self._dir = Path(tempfile.mkdtemp(prefix="hotline-phone-"))  # 0700
        ctrl_port = _free_port()
        self.sip_port = self.settings.sip_port or _free_port(pair=True, host=self.settings.host)
        audio = self.settings.audio
        modules = ("g711.so", *audio.modules)
        lines = [
            "poll_method epoll",
            f"sip_listen {self.settings.host}:{self.sip_port}",
            f"net_interface {self.settings.host}",
            f"audio_player {audio.player}",
            f"audio_source {audio.source}",
            f"audio_alert {audio.alert}",
            "module_path /usr/lib/baresip/modules",
            *(f"module {m}" for m in modules),
            "module_app account.so",
            "module_app menu.so",
            "module_app ctrl_tcp.so",
            f"ctrl_tcp_listen 127.0.0.1:{ctrl_port}",
        ]
        (self._dir / "config").write_text("\n".join(lines) + "\n", encoding="utf-8")
        (self._dir / "accounts").write_text("", encoding="utf-8")  # the account comes over the control port
        log_file = (self._dir / "baresip.log").open("ab")
        try:
            self._proc = await asyncio.create_subprocess_exec(
                self.settings.executable,
                "-f",
                str(self._dir),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log_file,
                stderr=log_file,
            )
        finally:
            log_file.close()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.start_timeout
        while True:
            try:
                self._reader, self._writer = await asyncio.open_connection("127.0.0.1", ctrl_port)
                break
            except OSError:
                if self._proc.returncode is not None or loop.time() > deadline:
                    reason = f"baresip did not start ({self._tail()})"
                    await self._end_process()
                    self._set(process=Process.CRASHED, reason=reason)
                    raise PhoneError(reason) from None
                await asyncio.sleep(0.05)  # polling the port: baresip says nowhere else when it listens
        self._spawn(self._read(self._reader))
        self._spawn(self._watch(self._proc))
        self._set(process=Process.RUNNING, reason="")

    async def _watch(self, proc: asyncio.subprocess.Process) -> None:
        """Restart a phone process that ended by itself, and give it the account again."""
        code = await proc.wait()
        if self._stopping:
            return
        reason = f"the phone process ended (exit {code})"
        log.warning("%s; restarting it", reason)
        self._writer = None
        self._fail_replies(reason)
        self._set(process=Process.CRASHED, registration=Registration.NONE, call=None, reason=reason)
        for attempt in itertools.count():
            await asyncio.sleep(RESTART_DELAYS[min(attempt, len(RESTART_DELAYS) - 1)])
            try:
                await self._launch()
                if self.account is not None:
                    await self.set_account(self.account)
            except PhoneError as exc:
                log.warning("the phone did not restart: %s", exc)
                await self._end_process()
                continue
            self._set(restarts=self.status.restarts + 1)
            return

    async def _end_process(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.returncode is not None:
            return
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), 5)
        except TimeoutError:
            proc.kill()
            await proc.wait()

    def _tail(self) -> str:
        path = self._dir / "baresip.log" if self._dir else None
        if path is None or not path.exists():
            return "no output"
        lines = [ln for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
        return lines[-1].strip() if lines else "no output"

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- what baresip says -----------------------------------------------------------------------------
    async def _read(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                length = int((await reader.readuntil(b":"))[:-1])
                body = await reader.readexactly(length + 1)
                if body[-1:] != b",":
                    raise ValueError("a control message without its netstring end")
                message = json.loads(body[:-1])
                if message.get("response"):
                    future = self._replies.get(str(message.get("token")))
                    if future is not None and not future.done():
                        future.set_result(message)
                elif message.get("event"):
                    self._on_event(message)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the process ended: _watch reports it
        except ValueError as exc:
            log.error("the phone's control connection sent something unreadable: %s", exc)

    def _on_event(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        call_id, peer = str(event.get("id") or ""), str(event.get("peeruri") or "")
        if kind == "REGISTER_OK":
            self._set(registration=Registration.REGISTERED, reason="")
        elif kind == "REGISTER_FAIL":
            self._set(registration=Registration.FAILED, reason=str(event.get("param") or "registration failed"))
        elif kind == "REGISTERING":
            if self.status.registration is not Registration.REGISTERED:
                self._set(registration=Registration.REGISTERING)
        elif kind == "CALL_INCOMING":
            self._set(call=PhoneCall(call_id, peer, True, CallState.INCOMING))
        elif kind in ("CALL_RINGING", "CALL_PROGRESS"):
            if self.status.call is not None and self.status.call.state is CallState.OUTGOING:
                self._call(id=call_id or self.status.call.id, state=CallState.RINGING)
        elif kind == "CALL_ESTABLISHED":
            incoming = event.get("direction") == "incoming"
            self._set(call=PhoneCall(call_id, peer, incoming, CallState.ESTABLISHED, media=self._media(call_id)))
        elif kind == "CALL_RTPESTAB":
            self._call(media=True)
        elif kind == "CALL_DTMF_START" and self.status.call is not None:
            self._call(keys=self.status.call.keys + str(event.get("param") or ""))
        elif kind == "CALL_CLOSED":
            if self.status.call is not None and self.status.call.id in (call_id, ""):
                self._set(call=None, reason=str(event.get("param") or ""))

    def _media(self, call_id: str) -> bool:
        """Whether the call's audio already arrived (baresip may say so before the call is established)."""
        call = self.status.call
        return call is not None and call.id == call_id and call.media

    def _call(self, **changes: Any) -> None:
        if self.status.call is not None:
            self._set(call=replace(self.status.call, **changes))

    def _set(self, **changes: Any) -> None:
        status = replace(self.status, **changes)
        if status != self.status:
            self.status = status
            if self.on_change is not None:
                self.on_change(status)

    def _fail_replies(self, reason: str) -> None:
        for future in self._replies.values():
            if not future.done():
                future.set_exception(PhoneError(reason))
        self._replies.clear()


def _free_port(pair: bool = False, host: str = "127.0.0.1") -> int:
    """A port free now on `host` (with `pair`: for UDP and TCP, and the port above it too, as baresip also
    listens for SIP over TLS on the next port)."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind((host, 0))
            port = int(s.getsockname()[1])
        if not pair:
            return port
        if port < 65535 and _bindable(host, port) and _bindable(host, port + 1):
            return port
    raise PhoneError("no free port for the phone")


def _bindable(host: str, port: int) -> bool:
    try:
        with socket.socket() as tcp, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            tcp.bind((host, port))
            udp.bind((host, port))
    except OSError:
        return False
    return True
