"""End-to-end harness: a real Asterisk running the project's dialplan, the real CTI server as its own
process, SIPp carriers and agent phones, a link client that signs in as a desktop does, and waits on
conditions (never fixed sleeps). The suite's fixtures (tests/e2e/conftest.py) and the benchmarks build
their stacks from these."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from websockets.asyncio.client import ClientConnection, connect

from ari_app import protocol as p
from ari_app.asterisk_ctl import AsteriskHost
from ari_app.config import load_config
from ari_app.health import AmiSession
from tests.support.commands import run_in_checkout
from tests.support.link import Desktop
from tests.support.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
SIPP_DIR = ROOT / "tests" / "e2e" / "sipp"
HOTLINE = [sys.executable, "-m", "ari_app.cli"]
AGENTS = 20
"""The agent phones 1001… the suite's stack registers and puts in the hotline queue."""
SOFTPHONE_AGENT = "1090"
"""An agent whose phone registers (no fixed contact; a SIP secret of its own): the desktop's softphone."""
PASSWORD = "e2e-班长-pass"
"""The password of the users `add_user` makes (the link fixture's supervisors and agents)."""


POLICE_SERVICE_CODE = "12345-referral"
"""The service_code the suite's 110 receiver is configured with (`make_config`)."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def make_config(tmp: Path, agents: int, agent_port: int = 5080, wrapup: int = 0) -> Path:
    """A test deployment: the shipped config.yaml with its own database, recordings and secrets in `tmp`,
    the repository's Asterisk root, no wrap-up, `agents` agent phones all served by one SIPp, and one agent
    whose phone registers (`SOFTPHONE_AGENT`, the desktop's softphone; out of the queue until signed in)."""
    data = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
    data["database"]["url"] = f"sqlite:///{tmp / 'db' / 'hotline.db'}"  # a folder of its own, made 0700
    data["recordings"]["path"] = str(tmp / "recordings")
    data["asterisk"]["root"] = str(ROOT / ".local" / "asterisk-root")
    data["asterisk"]["ami"]["secret_file"] = str(ROOT / ".local" / "secrets" / "ami_secret")
    data["asterisk"]["ari"]["secret_file"] = str(ROOT / ".local" / "secrets" / "ari_secret")
    data["queue"]["wrapup"] = wrapup
    data["server"] = {"host": "127.0.0.1", "port": free_port(), "token_file": str(tmp / "link_tokens.json")}
    data["queue"]["ring_timeout"] = 5
    data["callback"]["calling_hours"] = "00:00-23:59"  # the suite calls citizens back at whatever hour it runs
    # 联动: 110's work orders go to a local Open311 receiver (tests/e2e/test_linkage.py serves it on this port)
    police = next(x for x in data["linkage"]["partners"] if x["key"] == "110")
    police["receiver"] = {"url": f"http://127.0.0.1:{free_port()}/open311/v2", "service_code": POLICE_SERVICE_CODE}
    data["agents"] = [
        {
            "id": str(1001 + i),
            "name": f"测试坐席{i + 1}",
            "extension": str(1001 + i),
            "languages": ["zh"],
            "contact": f"sip:{1001 + i}@127.0.0.1:{agent_port}",
        }
        for i in range(agents)
    ]
    secret = tmp / "secrets" / f"sip_{SOFTPHONE_AGENT}"
    secret.parent.mkdir(mode=0o700, exist_ok=True)
    secret.write_text(secrets.token_urlsafe(18) + "\n", encoding="utf-8")
    secret.chmod(0o600)
    data["agents"].append(
        {
            "id": SOFTPHONE_AGENT,
            "name": "软电话坐席",
            "extension": SOFTPHONE_AGENT,
            "languages": ["zh"],
            "secret_file": str(secret),
        }
    )
    path = tmp / "config.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def hotline(
    config: Path, *args: str, timeout: float = 300, input_: str | None = None
) -> subprocess.CompletedProcess[str]:
    return run_in_checkout([*HOTLINE, "-c", str(config), *args], timeout=timeout, input_=input_)


def calls(config: Path, limit: int = 500) -> list[dict[str, Any]]:
    """The calls as `hotline calls --json` prints them: the documented interface, used as a user would."""
    proc = hotline(config, "calls", "--json", "--limit", str(limit), timeout=60)
    assert proc.returncode == 0, proc.stderr
    result: list[dict[str, Any]] = json.loads(proc.stdout)
    return result


def callbacks(stack: Stack) -> list[dict[str, Any]]:
    """The callback requests as `hotline callbacks --json` prints them."""
    proc = hotline(stack.config, "callbacks", "--json", "--limit", "50")
    assert proc.returncode == 0, proc.stderr
    result: list[dict[str, Any]] = json.loads(proc.stdout)
    return result


def channels(config: Path) -> int:
    """How many channels Asterisk has now (`core show channels count`); -1 if it did not say."""
    out = hotline(config, "asterisk", "cli", "core show channels count").stdout
    for line in out.splitlines():
        if "active channel" in line:
            return int(line.split()[0])
    return -1


def free_members(config: Path, queue: str = "hotline") -> int:
    """How many of the queue's members could take a call now: not paused and not in use (`queue show`)."""
    out = hotline(config, "asterisk", "cli", f"queue show {queue}").stdout
    return sum(1 for line in out.splitlines() if "(Not in use)" in line and "(paused" not in line)


def suite_members(config: Path, present: bool, count: int = 20) -> None:
    """Take the suite's agents 1001… out of the hotline queue, or put them back as the stack fixture adds them,
    with Asterisk's own CLI from this process (one `asterisk -rx` each, about 20 ms, not a `hotline` process
    of over a second each: a test's event loop is never held long enough to miss a websocket keepalive)."""
    host = AsteriskHost.for_config(load_config(config))
    for n in range(1001, 1001 + count):
        if present:
            host.cli(f"queue add member PJSIP/{n} to hotline penalty 0 as {n}")
        else:
            host.cli(f"queue remove member PJSIP/{n} from hotline")


def make_speech(tmp: Path, text: str = "12345 hotline test", seconds: float = 3.0) -> Path:
    """Test speech as an 8 kHz mu-law WAV (what SIPp streams as PCMU), from espeak-ng and sox."""
    raw = tmp / "speech-raw.wav"
    out = tmp / "speech-ulaw.wav"
    subprocess.run(["espeak-ng", "-w", str(raw), text], check=True, capture_output=True)
    subprocess.run(
        ["sox", str(raw), "-r", "8000", "-c", "1", "-e", "u-law", str(out), "pad", "0", str(seconds)],
        check=True,
        capture_output=True,
    )
    return out


def answering_phone_args(
    address: str, port: int, media_port: int, talk_ms: int, *options: str, scenario: Path | None = None
) -> list[str]:
    """SIPp as a phone on `address`:`port` that answers, talks `talk_ms` and hangs up first; `options` are
    more of SIPp's own; `scenario` another form of tests/e2e/sipp/citizen_phone.xml."""
    return [
        "sipp",
        "-sf",
        str(scenario or SIPP_DIR / "citizen_phone.xml"),
        "-i",
        address,
        "-p",
        str(port),
        "-mp",
        str(media_port),
        "-d",
        str(talk_ms),
        "-nostdin",
        *options,
    ]


class Sipp:
    """SIPp processes: agent phones (UAS) and carrier callers (UAC)."""

    def __init__(self, tmp: Path, audio: Path) -> None:
        self.tmp = tmp
        self.audio = audio
        self.procs: list[subprocess.Popen[bytes]] = []
        self._media_port = 20000
        self._sip_port = 15000  # callers never take 5060: a citizen's phone (callbacks) listens there
        self.caller_xml = tmp / "caller.xml"
        self.caller_xml.write_text((SIPP_DIR / "caller.xml").read_text().replace("@AUDIO@", str(audio)))

    def agent_phone(self, port: int = 5080, ring_ms: int = 1000) -> subprocess.Popen[bytes]:
        xml = self.tmp / f"agent-{port}-{ring_ms}.xml"
        xml.write_text((SIPP_DIR / "agent.xml").read_text().replace("@RING_MS@", str(ring_ms)))
        return self._start(
            [
                "sipp",
                "-sf",
                str(xml),
                "-i",
                "127.0.0.1",
                "-p",
                str(port),
                "-mp",
                str(port + 1000),
                "-nostdin",
                "-max_socket",
                "200",
                "-trace_err",
                "-error_file",
                str(self.tmp / f"agent-{port}-errors.log"),
            ],
        )

    def call(
        self,
        number: str,
        caller: str,
        talk_ms: int = 3000,
        source: str = "127.0.0.2",
        local_port: int = 0,
        wait: bool = True,
        timeout: float = 120,
    ) -> subprocess.Popen[bytes]:
        """Place one call from a carrier trunk address to `number` with `caller` as calling number."""
        args = self._caller_args(self.caller_xml, source, number, caller, talk_ms, timeout)
        args += ["-p", str(local_port or self._next_sip_port())]
        args += ["-mp", str(self._next_media_port())]
        proc = self._start(args)
        if wait:
            proc.wait(timeout=timeout + 10)
        return proc

    def dtmf_call(self, number: str, caller: str, key: str = "1", after_ms: int = 1500) -> subprocess.Popen[bytes]:
        """A caller who waits `after_ms` after Asterisk answered, presses `key` (RFC 2833), and stays on the
        line until Asterisk hangs up."""
        xml = self.tmp / f"caller-dtmf-{key}.xml"
        pcap = Path("/usr/share/sip-tester") / f"dtmf_2833_{key}.pcap"
        xml.write_text((SIPP_DIR / "caller_dtmf.xml").read_text().replace("@DTMF_PCAP@", str(pcap)))
        args = self._caller_args(xml, "127.0.0.2", number, caller, after_ms, 60)
        return self._start([*args, "-mp", str(self._next_media_port())])

    def citizen_phone(
        self,
        talk_ms: int = 3000,
        address: str = "127.0.0.2",
        port: int = 5060,
        messages: Path | None = None,
        speaking: bool = False,
    ) -> subprocess.Popen[bytes]:
        """A phone that answers, talks for `talk_ms` and hangs up first: a citizen reached through the carrier
        trunk (callbacks), or, on an agent's address, an agent who ends the call (the survey). `messages`: a
        file SIPp writes every SIP message it sends and receives to (the INVITE's From, the caller id);
        `speaking`: it sends the suite's speech (RTP) while it talks, as the callers do."""
        media_port = 7000 + port % 1000
        trace = ["-trace_msg", "-message_file", str(messages)] if messages is not None else []
        scenario = None
        if speaking:
            scenario = self.tmp / "citizen_speaking.xml"
            quiet = (SIPP_DIR / "citizen_phone.xml").read_text()
            ack = '<recv request="ACK" crlf="true"/>\n  <pause/>\n'
            assert ack in quiet, "citizen_phone.xml: the ACK and the pause moved"
            stream = '  <nop><action><exec rtp_stream="{}"/></action></nop>\n'
            talk = '<recv request="ACK" crlf="true"/>\n' + stream.format(f"{self.audio},-1,0")
            talk += "  <pause/>\n" + stream.format("pause")
            scenario.write_text(quiet.replace(ack, talk))
        return self._start(
            answering_phone_args(
                address,
                port,
                media_port,
                talk_ms,
                "-m",
                "1",
                "-timeout",
                "120",
                "-timeout_error",
                *trace,
                scenario=scenario,
            )
        )

    @staticmethod
    def _caller_args(scenario: Path, source: str, number: str, caller: str, pause_ms: int, timeout: float) -> list[str]:
        """SIPp placing one call of `scenario` from `source` to `number` as `caller`, pausing `pause_ms` in it;
        it gives up after `timeout` s."""
        return [
            "sipp",
            "127.0.0.1:5060",
            "-sf",
            str(scenario),
            "-i",
            source,
            "-s",
            number,
            "-key",
            "caller",
            caller,
            "-d",
            str(pause_ms),
            "-m",
            "1",
            "-nostdin",
            "-timeout",
            str(int(timeout)),
            "-timeout_error",
        ]

    def _start(self, args: list[str]) -> subprocess.Popen[bytes]:
        """Start one SIPp, quiet, in the temporary folder; `stop` ends it."""
        proc = subprocess.Popen(args, cwd=self.tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.procs.append(proc)
        return proc

    def _next_media_port(self) -> int:
        self._media_port = 20000 + (self._media_port - 20000 + 10) % 20000
        return self._media_port

    def _next_sip_port(self) -> int:
        self._sip_port = 15000 + (self._sip_port - 15000 + 1) % 4000
        return self._sip_port

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for proc in self.procs:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs.clear()


class CtiProcess:
    """`hotline serve` as its own process, the way an admin runs it."""

    def __init__(self, config: Path, log: Path) -> None:
        self.config = config
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self._fh = open(self.log, "ab")
        self.proc = subprocess.Popen(
            [*HOTLINE, "-c", str(self.config), "serve"],
            cwd=ROOT,
            stdout=self._fh,
            stderr=subprocess.STDOUT,
            env=dict(os.environ, PYTHONUNBUFFERED="1"),
        )

    def resyncs(self) -> int:
        return self.log.read_text(errors="replace").count("AMI: resynchronised")

    def wait_synced(self, count: int = 1, timeout: float = 60) -> None:
        wait_for(lambda: self.resyncs() >= count or None, timeout, f"CTI server resync #{count} (see {self.log})")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


def have_tools() -> list[str]:
    return [t for t in ("sipp", "espeak-ng", "sox", "debootstrap") if shutil.which(t) is None]


class AmiUserEvents:
    """The UserEvents Asterisk sends while this is open, on an AMI session of its own (the AMI user of
    `config`, as the CTI server logs in), read by a thread: `events` holds (time.monotonic(), headers) pairs in
    arrival order. Use as a context manager; the session logs in before __enter__ returns."""

    def __init__(self, config: Path) -> None:
        from ari_app.config import load_config

        ami = load_config(config).asterisk.ami
        self._login = (ami.host, ami.port, ami.username, ami.secret.value() if ami.secret else "")
        self.events: list[tuple[float, dict[str, str]]] = []
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> AmiUserEvents:
        host, port, user, secret = self._login
        sock = socket.create_connection((host, port), timeout=10)
        self._sock = sock
        reader = sock.makefile("rb")
        reader.readline()  # banner
        sock.sendall(f"Action: Login\r\nUsername: {user}\r\nSecret: {secret}\r\nEvents: user\r\n\r\n".encode())
        reply = self._block(reader)
        if reply.get("Response") != "Success":
            sock.close()
            raise ConnectionError(f"AMI login refused: {reply.get('Message')}")
        sock.settimeout(None)
        self._thread = threading.Thread(target=self._read, args=(reader,), daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._sock is not None:
            self._sock.shutdown(socket.SHUT_RDWR)
            self._sock.close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    @staticmethod
    def _block(reader: Any) -> dict[str, str]:
        msg: dict[str, str] = {}
        while True:
            line = reader.readline()
            if not line:
                raise ConnectionError("AMI closed the connection")
            text = line.decode("utf-8", "replace").rstrip("\r\n")
            if not text:
                if msg:
                    return msg
                continue
            key, sep, value = text.partition(": ")
            if sep:
                msg[key] = value

    def _read(self, reader: Any) -> None:
        try:
            while True:
                msg = self._block(reader)
                if msg.get("Event") == "UserEvent":
                    self.events.append((time.monotonic(), msg))
        except (OSError, ValueError, ConnectionError):
            return  # closed by __exit__

    def named(self, name: str) -> list[tuple[float, dict[str, str]]]:
        """The events of one UserEvent name so far, with their arrival times."""
        return [(at, e) for at, e in list(self.events) if e.get("UserEvent") == name]


@dataclass
class Stack:
    """The suite's running platform: its config, scratch folder, CTI server process and SIPp."""

    config: Path
    tmp: Path
    cti: CtiProcess
    sipp: Sipp

    @property
    def asterisk_log(self) -> Path:
        return ROOT / ".local" / "asterisk-root" / "var" / "log" / "asterisk"

    @property
    def link_url(self) -> str:
        port = yaml.safe_load(self.config.read_text(encoding="utf-8"))["server"]["port"]
        return f"ws://127.0.0.1:{port}"


def add_user(
    config: Path, login: str, role: str = "agent", password: str = PASSWORD, extra: tuple[str, ...] = ()
) -> None:
    """A user with `password` (and `extra` options of `hotline users add`), added with the command line as an
    administrator does (one there already is fine: the session's stack is shared). One there already keeps
    its password and role, so a login is created one way across the suite's files (a login with a password
    or role of its own in each of two files fails tests/unit/test_e2e_users.py)."""
    proc = hotline(config, "users", "add", login, "--role", role, *extra, "--password-stdin", input_=f"{password}\n")
    assert proc.returncode == 0 or "exists" in proc.stderr, proc.stderr


class Client:
    """A link client that keeps every push; requests wait for their reply."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.pushes: list[dict[str, Any]] = []
        self.replies: dict[int, dict[str, Any]] = {}
        self.n = 0
        self.changed = asyncio.Event()
        self.reader = asyncio.ensure_future(self._read())

    @classmethod
    async def connect(cls, stack: Stack) -> Client:
        return cls(await connect(stack.link_url))

    async def sign_in(self, login: str, password: str = PASSWORD) -> None:
        """Greet the server and sign in, as the desktop does."""
        assert (await self.request(p.Msg.HELLO, version=p.PROTOCOL_VERSION))["type"] == p.Msg.WELCOME
        signed = await self.request(p.Msg.SIGN_IN, agent_id=login, password=password)
        assert signed["type"] == p.Msg.SIGNED_IN, signed

    async def _read(self) -> None:
        async for frame in self.ws:
            msg = json.loads(frame)
            if "re" in msg:
                self.replies[msg["re"]] = msg
            else:
                msg["received_at"] = time.monotonic()
                self.pushes.append(msg)
            self.changed.set()

    async def request(self, kind: str, **fields: Any) -> dict[str, Any]:
        self.n += 1
        n = self.n
        await self.ws.send(json.dumps({"type": kind, "id": n, **fields}))
        return await self.until(lambda: self.replies.pop(n, None), 15, f"the reply to {kind}")

    async def until(self, found: Callable[[], Any], within: float, what: str) -> Any:
        async def wait() -> Any:
            while not (value := found()):
                self.changed.clear()
                await self.changed.wait()
            return value

        try:
            return await asyncio.wait_for(wait(), within)
        except TimeoutError as exc:
            raise AssertionError(f"timed out after {within} s waiting for {what}") from exc

    def boards(self) -> list[dict[str, Any]]:
        return [m for m in self.pushes if m["type"] == p.Msg.WALLBOARD]

    async def board_where(self, test: Callable[[dict[str, Any]], bool], within: float, what: str) -> dict[str, Any]:
        return await self.until(lambda: next((b for b in reversed(self.boards()) if test(b)), None), within, what)

    async def sign_out(self) -> None:
        """Sign out, as a user leaves (a desktop that only disconnects stays signed in, and so does its agent's
        state in the queue); nothing to do when the test signed out already or closed the link."""
        if self.reader.done():
            return
        deadline = time.monotonic() + 30
        done = await self.request(p.Msg.SIGN_OUT)
        # a queue Asterisk has not given back yet (a test restarted it) answers queue_unavailable: try again,
        # as the desktop tells its user to
        while done.get("error_id") == p.ErrorId.QUEUE_UNAVAILABLE and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
            done = await self.request(p.Msg.SIGN_OUT)
        assert done["type"] == p.Msg.SIGNED_OUT or done.get("error_id") == p.ErrorId.NOT_SIGNED_IN, done

    async def close(self) -> None:
        await self.ws.close()
        self.reader.cancel()


async def ami(stack: Stack, action: str, complete: str, **fields: str) -> list[dict[str, str]]:
    """One AMI list action on a session of its own: the events up to `complete`."""
    cfg = load_config(stack.config)
    a = cfg.asterisk.ami
    async with AmiSession(a.host, a.port, a.username, a.secret.value() if a.secret else "", timeout=10) as s:
        assert s.reader is not None and s.writer is not None
        lines = [f"Action: {action}", "ActionID: e2e-list", *(f"{k}: {v}" for k, v in fields.items())]
        s.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        await s.writer.drain()
        out: list[dict[str, str]] = []
        while True:
            block = await asyncio.wait_for(s.reader.readuntil(b"\r\n\r\n"), 10)
            msg = dict(line.split(": ", 1) for line in block.decode("utf-8", "replace").split("\r\n") if ": " in line)
            if msg.get("ActionID") != "e2e-list":
                continue
            if msg.get("Event") == complete:
                return out
            if "Event" in msg:
                out.append(msg)


@asynccontextmanager
async def ami_events(stack: Stack, mask: str = "call") -> AsyncIterator[list[dict[str, str]]]:
    """Asterisk's AMI events of the classes in `mask` from now on, on a session of its own, collected into the
    list yielded (one mapping each) while the block runs."""
    cfg = load_config(stack.config)
    a = cfg.asterisk.ami
    async with AmiSession(a.host, a.port, a.username, a.secret.value() if a.secret else "", timeout=10) as s:
        assert s.reader is not None
        reader = s.reader
        await s.action("Events", EventMask=mask)
        seen: list[dict[str, str]] = []

        async def read() -> None:
            while True:
                block = await reader.readuntil(b"\r\n\r\n")
                fields = [line.split(": ", 1) for line in block.decode("utf-8", "replace").split("\r\n")]
                seen.append({f[0]: f[1] for f in fields if len(f) == 2})

        task = asyncio.ensure_future(read())
        try:
            yield seen
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task  # a reader that failed says why here


@contextmanager
def alone_in_the_queue(config: Path, agent: str, password: str = PASSWORD) -> Iterator[None]:
    """For the block, `agent` a user with `password` (`add_user`) and the suite's other agents out of the
    hotline queue, so that when `agent` signs in and is ready it is the queue's only member; at the end they
    are put back and `agent` taken out."""
    add_user(config, agent, "agent", password)
    suite_members(config, present=False)
    try:
        yield
    finally:
        suite_members(config, present=True)
        hotline(config, "asterisk", "cli", f"queue remove member PJSIP/{agent} from hotline")


@asynccontextmanager
async def sole_agent(stack: Stack, agent: str, password: str) -> AsyncIterator[Desktop]:
    """`agent` signed in over the link and ready, the only member of the hotline queue: the suite's other
    agents are out of it until the end, when they are put back and `agent` taken out."""
    with alone_in_the_queue(stack.config, agent, password):
        async with connect(stack.link_url) as ws:
            desk = Desktop(ws)
            assert (await desk.request(p.Msg.HELLO, version="1.1", client="e2e"))["type"] == "welcome"
            signed = await desk.request(p.Msg.SIGN_IN, agent_id=agent, password=password)
            assert signed["type"] == p.Msg.SIGNED_IN, signed
            assert (await desk.request(p.Msg.SET_STATE, state="ready"))["state"] == "ready"
            yield desk


def one_call(stack: Stack, tmp: Path, audio: Path, dialed: str, caller: str, talk_ms: int) -> dict[str, Any]:
    """A call from `caller` to `dialed` streaming `audio` (from a SIPp of its own, in `tmp`): its record, once
    it is ended."""
    sipp = Sipp(tmp, audio)
    try:
        proc = sipp.call(dialed, caller, talk_ms=talk_ms)
        assert proc.returncode == 0, "the SIPp caller failed"
    finally:
        sipp.stop()

    return calls_in_state(stack, caller, "ended", "the ended call", within=30)[0]


def call_record(stack: Stack, caller: str, state: str) -> dict[str, Any] | None:
    """`caller`'s call record (among the latest 50) if it is in `state`, else None: for a wait to poll."""
    return next((c for c in calls(stack.config, limit=50) if c["caller"] == caller and c["state"] == state), None)


def calls_in_state(stack: Stack, caller: str, state: str, what: str, within: float = 20) -> list[dict[str, Any]]:
    """The records of `caller`'s calls in `state`, once there is one, waiting up to `within` s for `what`."""
    found: list[dict[str, Any]] = wait_for(
        lambda: [c for c in calls(stack.config) if c["caller"] == caller and c["state"] == state] or None,
        within,
        what,
    )
    return found


def ended_calls(stack: Stack, before: set[str], count: int) -> list[dict[str, Any]]:
    """Wait for the `count` calls since `before` (ids of the calls there were) to be ended in the records."""
    ended: list[dict[str, Any]] = wait_for(
        lambda: (
            (got := [c for c in calls(stack.config) if c["id"] not in before and c["state"] == "ended"])
            and len(got) == count
            and got
        ),
        30,
        f"{count} calls ended in the records",
    )
    return ended
