"""The deployment description: `config.yaml` loaded into typed, validated settings.

Every problem found is reported with the file, the line, the dotted key and what was expected, and all
problems are reported at once, so an admin fixes a file in one pass. Nothing here opens a connection or
reads a secret at import time: secrets are resolved only when a component asks for them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, time
from enum import StrEnum
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from ari_app.calls.numbers import DEFAULT_REGION, NumberRules, area_code_problem, region_problem


class HotlineMode(StrEnum):
    """How a hotline's managing unit works with the platform (see MISSION glossary)."""

    COLLABORATIVE = "collaborative"
    EXCHANGE = "exchange"
    SUB_PLATFORM = "sub-platform"


QUEUE_STRATEGIES = ("ringall", "leastrecent", "fewestcalls", "random", "rrmemory", "linear", "wrandom", "rrordered")

_DIGITS = re.compile(r"^[0-9]{3,20}$")
_DIGITS_ANY = re.compile(r"^[0-9]+$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
_IPV4 = re.compile(r"^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(/\d{1,2})?$")
_SIP_URI = re.compile(r"^sip:[^@\s]+@[A-Za-z0-9.\-]+(:\d{1,5})?$")


@dataclass(frozen=True)
class ConfigIssue:
    file: str
    line: int
    key: str
    message: str

    def __str__(self) -> str:
        """`file:line: key: message`; without the line when the problem has none (line 0: an unreadable file)."""
        where = f"{self.file}:{self.line}" if self.line > 0 else self.file
        return f"{where}: {self.key}: {self.message}"


class ConfigError(Exception):
    """One or more problems in a configuration file."""

    def __init__(self, issues: list[ConfigIssue]) -> None:
        self.issues = issues
        super().__init__("\n".join(str(i) for i in issues))


@dataclass(frozen=True)
class Secret:
    """A secret named by an environment variable or a file; never its value in the config."""

    env: str | None
    file: Path | None

    def value(self) -> str:
        if self.env:
            val = os.environ.get(self.env)
            if val:
                return val
        if self.file is not None and self.file.exists():
            return self.file.read_text(encoding="utf-8").strip()
        where = " or ".join(x for x in (f"${self.env}" if self.env else "", str(self.file or "")) if x)
        raise ConfigError([ConfigIssue("<secret>", 0, "secret", f"secret not found in {where}")])

    def ensure_file(self) -> None:
        """Create the secret file with a random value if it is the source and does not exist yet (0600, in
        a folder created 0700). An existing secret file of this user's that others could read is narrowed
        to 0600: a secret is never readable by another local user."""
        if self.env and os.environ.get(self.env):
            return
        if self.file is not None and self.file.exists():
            st = self.file.stat()
            if st.st_uid == os.geteuid() and st.st_mode & 0o077:
                self.file.chmod(st.st_mode & 0o600)
        if self.file is not None and not self.file.exists():
            import secrets

            self.file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(self.file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_urlsafe(24) + "\n")


@dataclass(frozen=True)
class Hotline:
    number: str
    name_zh: str
    name_en: str
    unit: str
    mode: HotlineMode
    categories: tuple[str, ...] = ()
    max_calls: int | None = None  # calls in progress at once on this hotline; None: only the platform limit
    exchange_url: str | None = None  # exchange mode: base URL of the hotline system's Open311 GeoReport v2 API
    exchange_key: Secret | None = None  # the api_key that system issued (secret_env / secret_file), if any


@dataclass(frozen=True)
class Trunk:
    name: str
    addresses: tuple[str, ...]
    numbers: NumberRules = field(default_factory=NumberRules)
    """`trunks[].numbers`: what this carrier puts around the numbers it delivers (ari_app.calls.numbers)."""


@dataclass(frozen=True)
class Receiver:
    """`linkage.partners[].receiver`: a partner's Open311 GeoReport v2 interface, where the work order of a call
    handed to it is pushed (ari_app.cases.linkage)."""

    url: str
    """Base URL of the API (`/requests.json`, `/tokens/{token}.json` are appended)."""
    service_code: str
    """The `service_code` the partner gave the centre for work orders from 12345."""
    key: Secret | None = None
    """Where the `api_key` the partner issued is kept (secret_env / secret_file), if it asks for one."""


@dataclass(frozen=True)
class Partner:
    """`linkage.partners[]`: an emergency or police service a call can be handed to (110/119/120 联动).

    `key` is what the desktop asks for ("110"); the server alone turns it into `number` dialled through
    `trunk` (`PJSIP/{number}@{trunk}`), so an agent never dials a free number this way."""

    key: str
    name_zh: str
    name_en: str
    number: str
    trunk: str
    receiver: Receiver | None = None

    @property
    def dial(self) -> str:
        """The Asterisk dial string of the partner: `PJSIP/110@carrier-telecom`."""
        return f"PJSIP/{self.number}@{self.trunk}"


@dataclass(frozen=True)
class QueueSettings:
    name: str
    strategy: str
    ring_timeout: int
    wrapup: int
    max_wait: int


@dataclass(frozen=True)
class Admission:
    """What the PBX is allowed to take at once; a call over a limit hears the overflow message."""

    max_calls: int
    max_queue: int
    announce_frequency: int  # seconds between position / expected-wait announcements; 0: never
    max_announcements: int = 60
    """Overflow messages played at once. Beyond it (a call storm) a call over a limit is refused unanswered
    with busy (SIP 486), so the announcements themselves cannot overload the PBX."""
    shed_ms: int = 200
    """Load shedding (ari_app/load.py): while Asterisk's SIP round trip, measured every half second, is above
    this many milliseconds, new hotline calls are refused with 503. 0: never shed."""


@dataclass(frozen=True)
class CallbackSettings:
    """Callback instead of waiting: a caller in the queue presses `digit`, hangs up, and is called back
    through `trunk` when an agent is free."""

    enabled: bool
    digit: str
    trunk: str
    retry_seconds: int
    max_attempts: int
    missed_target_minutes: int = 30
    """漏接回拨: minutes after a missed call within which it should be called back (ari_app.missed)."""
    missed_claim_minutes: int = 10
    """Minutes an agent's claim on a missed-call task holds before another agent may take it."""
    calling_hours: tuple[time, time] = (time(8, 0), time(21, 0))
    """When citizens may be called back, in the centre's time zone (`centre.timezone`): from the first, before the
    second. A task due outside them is due at the next opening."""


@dataclass(frozen=True)
class Agent:
    id: str
    name: str
    extension: str
    languages: tuple[str, ...]
    contact: str | None = None
    secret: Secret | None = None

    @property
    def interface(self) -> str:
        """The Asterisk device this agent is reached on, as queue members name it."""
        return f"PJSIP/{self.extension}"


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int
    username: str = ""
    secret: Secret | None = None


@dataclass(frozen=True)
class AsteriskSettings:
    root: Path
    mirror: str
    sip: Endpoint
    ami: Endpoint
    ari: Endpoint
    agi: Secret
    """`asterisk.agi`: the shared secret Asterisk puts in every FastAGI URL (agi_scripts.server refuses a
    request without it). Default `secret_file: var/secrets/agi_secret`, created with a random value when
    missing, like the AMI and ARI secrets."""
    nice: int = -10
    """`asterisk.nice`: the scheduling niceness Asterisk is started with when `hotline asterisk up` runs as
    root (-20 .. 19, lower is more CPU): calls in progress must keep their CPU when other work on the same
    machine wants it too. 0 leaves it as it is."""


@dataclass(frozen=True)
class SpeechSettings:
    """The speech-to-text model for recordings (Vosk): a model directory the admin installs, an optional
    word list (grammar mode: the recogniser only chooses among these words), and the job settings of the
    transcription workers."""

    model: Path | None = None
    grammar: tuple[str, ...] = ()
    lease_seconds: int = 120
    max_attempts: int = 3


@dataclass(frozen=True)
class DiskThreshold:
    """config.yaml `recordings:` keys `min_free_bytes` (default 1 GiB) and `min_free_percent` (default 5):
    the recordings filesystem is *low* when its free space (what an unprivileged writer such as Asterisk
    may still use, `statvfs` f_bavail) is below either, and *full* below `FULL_BYTES`. Either key may be 0
    to turn that bound off. Checked by the CTI server's health probe and by `hotline status`
    (ari_app.health.recordings_disk)."""

    min_free_bytes: int = 1 << 30
    min_free_percent: float = 5.0


@dataclass(frozen=True)
class ServerSettings:
    """config.yaml `server:`: where the CTI server listens (the desktop link's websocket; FastAGI on its
    host) and the link's own settings. Read and checked here with every other section, so a bad value is
    reported with its file, line and key; ari_app.link.settings.LinkSettings and the wallboard's
    ari_app.supervision.desk.WallboardSettings are built from it."""

    host: str = "127.0.0.1"
    port: int = 8765
    tls_cert: Path | None = None
    """Both `tls_cert` and `tls_key` given: the link speaks wss://."""
    tls_key: Path | None = None
    token_hours: float = 12.0
    """Lifetime of a desktop session token (above 0, up to 720 hours)."""
    token_file: Path | None = None
    """Where token hashes are kept across restarts (default var/link_tokens.json; "" keeps them in memory)."""
    max_connections_per_address: int = 32
    """Open websockets one client address may hold."""
    max_unauthenticated_per_address: int = 8
    """Of which not signed in."""
    sign_in_timeout: int = 30
    """Seconds a connection may stay open without signing in."""
    refusal_hold_seconds: float = 3.0
    """At most this long a connection is not read after a refused sign-in (0: off)."""
    service_level_seconds: int = 15
    """A call answered within this many seconds counts toward the service level (wallboard)."""
    service_level_target: float = 80.0
    """The service level aimed at, in percent, shown against the measured one."""

    @property
    def scheme(self) -> str:
        """`wss` when the link has a certificate, else `ws`."""
        return "wss" if self.tls_cert is not None else "ws"


@dataclass(frozen=True)
class WebSettings:
    """config.yaml `web:` the browser front for departments and hotline units (ari_app.web, docs/web.md):
    its own HTTP listener, loopback by default, HTTPS when `tls_cert` and `tls_key` are both given."""

    enabled: bool = False
    """`hotline serve` runs the web front in its own process (same case events) when true; `hotline web`
    runs it on its own either way."""
    host: str = "127.0.0.1"
    port: int = 8090
    """Not 8088: Asterisk's own HTTP server (ARI, `asterisk.ari.port`) is usually there."""
    tls_cert: Path | None = None
    tls_key: Path | None = None
    idle_minutes: float = 30.0
    """A web session unused this long ends (sign in again)."""
    session_hours: float = 12.0
    """A web session ends this long after sign-in, used or not."""
    poll_seconds: float = 0.5
    """How often a web front that runs on its own (`hotline web`) reads the audit trail for case changes
    made by other processes, to tell the open pages (0: never)."""
    forwarded_allow_ips: tuple[str, ...] = ()
    """Addresses of the reverse proxies whose X-Forwarded-For / X-Forwarded-Proto are believed (the client's
    address counts toward the sign-in throttle); empty: none, the peer's address is the client's."""

    @property
    def scheme(self) -> str:
        """`https` when the web front has a certificate, else `http`."""
        return "https" if self.tls_cert is not None else "http"


@dataclass(frozen=True)
class CalendarDay:
    """One admin-entered day of `calendar.holidays` or `calendar.workdays`: the date and its name (春节, 国庆节调休)."""

    day: date
    name: str


DEFAULT_OFFICE_HOURS: tuple[tuple[time, time], ...] = ((time(9), time(12)), (time(13, 30), time(17, 30)))


@dataclass(frozen=True)
class CalendarSettings:
    """config.yaml `calendar:` what deadlines in working days and working hours are counted against
    (ari_app.cases.calendar.WorkCalendar): the office hours of a working day, in the centre's time zone, and
    the days the admin enters over the public-holiday library's: extra holidays and extra working days (调休),
    each with a name. A year the library does not know is known once a holiday is entered for it.

    `unknown_years` says what a deadline reaching into a year nobody knows yet does: `statutory` (the default)
    counts it provisionally by the statutory holidays alone (no 调休), so work is never refused because next
    year's notice is not out; `refuse` raises CalendarUnknownYear instead."""

    office_hours: tuple[tuple[time, time], ...] = DEFAULT_OFFICE_HOURS
    holidays: tuple[CalendarDay, ...] = ()
    workdays: tuple[CalendarDay, ...] = ()
    unknown_years: str = "statutory"


ATTACHMENT_TYPES: tuple[str, ...] = (
    "image/jpeg",
    "image/png",
    "image/webp",
    "image/heic",
    "audio/x-wav",
    "audio/mpeg",
    "audio/ogg",
    "audio/amr",
    "application/pdf",
)
"""The MIME types an attachment may be (as libmagic names them, sniffed from the bytes), and the only ones
`cases.attachments.types` may list: photos, recordings and PDF documents, none of them a format a browser
runs (no HTML, SVG, XML, script or executable). The default allow-list is all of them."""

MIB = 1024 * 1024


@dataclass(frozen=True)
class AttachmentRules:
    """config.yaml `cases.attachments:` photos, audio and documents on cases (ari_app.cases.attachments)."""

    dir: Path | None = None
    """Where the files are kept (created 0700); None: attachments are refused (`cases_not_configured`).
    From config.yaml it is never None (default `var/attachments` beside the config file)."""
    max_file_bytes: int = 10 * MIB
    max_case_bytes: int = 50 * MIB
    """All the live attachments of one case together, its units' results included."""
    retention_days: int = 1095
    """Days after a case closes that its attachments' files are kept; then `purge_expired` removes them."""
    types: tuple[str, ...] = ATTACHMENT_TYPES
    public_url: str | None = None
    """The base URL under which the hotlines' own systems can fetch an attachment by its token (Open311
    `media_url` = base + token); None: no `media_url` is sent."""


@dataclass(frozen=True)
class FollowUpRules:
    """config.yaml `cases.follow_up:` when the follow-up call (回访) is due (docs/cases.md)."""

    due_working_days: int = 1
    """The follow-up is due by the end of office hours of this many working days after the day the case was
    handled (ari_app.cases.calendar.WorkCalendar.add_working_days): 1, the next working day, is the usual
    provincial rule (回访 the working day after handling)."""


TIME_UNITS: Final = {"h": "hours", "wh": "working_hours", "wd": "working_days"}
"""How a time limit is written in config.yaml: `24h` clock hours (around the clock), `4wh` working hours (office
hours of working days), `10wd` working days (ari_app.cases.calendar counts the last two)."""


@dataclass(frozen=True)
class TimeLimit:
    """One configured time limit: `amount` in `unit` (`hours`, `working_hours` or `working_days`)."""

    amount: float
    unit: str

    def __str__(self) -> str:
        short = {v: k for k, v in TIME_UNITS.items()}[self.unit]
        amount = int(self.amount) if self.amount == int(self.amount) else self.amount
        return f"{amount}{short}"


def _limits(text: str) -> dict[str, TimeLimit]:
    out = {}
    for item in text.split():
        key, value = item.split("=")
        m = re.match(r"^(\d+(?:\.\d+)?)(wd|wh|h)$", value)
        assert m is not None
        out[key] = TimeLimit(float(m.group(1)), TIME_UNITS[m.group(2)])
    return out


@dataclass(frozen=True)
class DeadlineTable:
    """config.yaml `cases.deadlines`: the four separate time limits of a work order (docs/cases.md).

    - `handling` (办理时限), by request type, from the dispatch: the defaults are Guangdong's limits in working
      days (咨询 2, 求助 and 建议 10, 投诉 and 举报 15; 表扬 is given 2, like 咨询: it needs no unit work);
    - `dispatch` (派单时限), by urgency, from intake: the centre has a case dispatched within it; Beijing's
      12345 limits: ≤ 1 h for emergencies (`critical`), ≤ 2 h for water, power, gas, heat and extreme weather
      (`urgent`), ≤ 24 h otherwise (`normal`);
    - `sign_for` (签收时限), by urgency, from the dispatch: the unit signs for its share within it (defaults
      1 h, 2 h and 1 working day);
    - `feedback` (首次反馈), by urgency, from the dispatch: the unit's first word back (Beijing: 1 h, 2 h, 24 h).
    """

    handling: Mapping[str, TimeLimit] = field(
        default_factory=lambda: _limits(
            "consultation=2wd help=10wd complaint=15wd report=15wd suggestion=10wd praise=2wd"
        )
    )
    dispatch: Mapping[str, TimeLimit] = field(default_factory=lambda: _limits("critical=1h urgent=2h normal=24h"))
    sign_for: Mapping[str, TimeLimit] = field(default_factory=lambda: _limits("critical=1h urgent=2h normal=1wd"))
    feedback: Mapping[str, TimeLimit] = field(default_factory=lambda: _limits("critical=1h urgent=2h normal=24h"))


DEADLINE_KINDS: Final = {
    "handling": ("consultation", "help", "complaint", "report", "suggestion", "praise"),
    "dispatch": ("normal", "urgent", "critical"),
    "sign_for": ("normal", "urgent", "critical"),
    "feedback": ("normal", "urgent", "critical"),
}
"""The keys of each table of `cases.deadlines`: the request types (schema.cases.RequestType) and urgencies
(schema.cases.Urgency), spelled here because the configuration is read before the schema."""


@dataclass(frozen=True)
class CaseRules:
    """config.yaml `cases:` rules of the work-order path that a centre sets (docs/cases.md)."""

    merge_window_days: int = 30
    """Days before and after a case within which a case of the same number or category is a candidate
    duplicate (并单, ari_app.cases.merging)."""
    follow_up: FollowUpRules = field(default_factory=FollowUpRules)
    attachments: AttachmentRules = field(default_factory=AttachmentRules)
    deadlines: DeadlineTable | None = None
    """The centre's time limits; None (no `cases.deadlines` section): shares get the category's or the
    default deadline in clock hours, and no sign-for, dispatch or feedback deadline, as before 0018."""
    hotline_deadlines: Mapping[str, DeadlineTable] = field(default_factory=dict)
    """`cases.deadlines.hotlines.<number>`: one hotline's own limits, each table key it leaves out taken from
    the centre's."""
    problem_threshold: int = 3
    """问题工单: this many re-dispatches or send-backs of one case mark it a problem work order and raise its
    supervision a level (the 12345 rule: three re-handlings or three transfers without a lead unit)."""


@dataclass(frozen=True)
class Config:
    path: Path
    centre_name_zh: str
    centre_name_en: str
    timezone: str
    hotlines: tuple[Hotline, ...]
    trunks: tuple[Trunk, ...]
    queue: QueueSettings
    admission: Admission
    callback: CallbackSettings
    agents: tuple[Agent, ...]
    database_url: str
    recordings_path: Path
    retention_days: int
    asterisk: AsteriskSettings
    server: ServerSettings
    numbers: NumberRules = field(default_factory=NumberRules)
    """The centre's number rules (`centre.region`, `centre.area_code`): for numbers typed by agents, and the
    default of every trunk's."""
    speech: SpeechSettings = field(default_factory=SpeechSettings)
    recordings_disk: DiskThreshold = field(default_factory=DiskThreshold)
    calendar: CalendarSettings = field(default_factory=CalendarSettings)
    cases: CaseRules = field(default_factory=CaseRules)
    web: WebSettings = field(default_factory=WebSettings)
    linkage: tuple[Partner, ...] = ()
    """`linkage.partners`: the emergency and police services calls are handed to (110/119/120), in order."""
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def hotline(self, number: str) -> Hotline | None:
        return next((h for h in self.hotlines if h.number == number), None)

    def agent(self, agent_id: str) -> Agent | None:
        return next((a for a in self.agents if a.id == agent_id), None)

    def partner(self, key: str) -> Partner | None:
        return next((p for p in self.linkage if p.key == key), None)

    def agent_by_interface(self, interface: str) -> Agent | None:
        return next((a for a in self.agents if a.interface.lower() == interface.lower()), None)


# --- loading -------------------------------------------------------------------------------------------


def _line_map(node: yaml.Node | None, path: str, lines: dict[str, int], issues: list[ConfigIssue], file: str) -> None:
    """Record the source line of every key and list item, addressed by dotted path (`hotlines[2].number`)."""
    if node is None:
        return
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            sub = f"{path}.{key}" if path else key
            if key in seen:
                issues.append(ConfigIssue(file, key_node.start_mark.line + 1, sub, "duplicate key"))
            seen.add(key)
            lines[sub] = key_node.start_mark.line + 1
            _line_map(value_node, sub, lines, issues, file)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _line_map(item, f"{path}[{i}]", lines, issues, file)


class _Checker:
    """Pulls typed values out of the loaded YAML, collecting every problem instead of stopping at the first."""

    def __init__(self, file: str, lines: dict[str, int], base: Path) -> None:
        self.file = file
        self.lines = lines
        self.base = base
        self.issues: list[ConfigIssue] = []

    def line(self, path: str) -> int:
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path.rsplit(".", 1)[0] if "." in path else ""
        return 1

    def fail(self, path: str, message: str) -> None:
        self.issues.append(ConfigIssue(self.file, self.line(path), path, message))

    def section(self, data: dict[str, Any], key: str, path: str, required: bool = True) -> dict[str, Any]:
        full = f"{path}.{key}" if path else key
        val = data.get(key)
        if val is None:
            if required:
                self.fail(full if key in data else (path or key), f"missing section '{key}' (expected a mapping)")
            return {}
        if not isinstance(val, dict):
            self.fail(full, f"expected a mapping, got {type(val).__name__}")
            return {}
        return val

    def items(self, data: dict[str, Any], key: str, path: str) -> list[dict[str, Any]]:
        full = f"{path}.{key}" if path else key
        val = data.get(key)
        if not isinstance(val, list) or not val:
            self.fail(full if key in data else (path or key), f"expected a non-empty list under '{key}'")
            return []
        out: list[dict[str, Any]] = []
        for i, item in enumerate(val):
            if not isinstance(item, dict):
                self.fail(f"{full}[{i}]", "expected a mapping")
                out.append({})
            else:
                out.append(item)
        return out

    def string(
        self,
        data: dict[str, Any],
        key: str,
        path: str,
        *,
        pattern: re.Pattern[str] | None = None,
        expected: str = "a string",
        default: str | None = None,
    ) -> str:
        full = f"{path}.{key}"
        if key not in data or data[key] is None:
            if default is not None:
                return default
            self.fail(full if key in data else path, f"missing key '{key}' (expected {expected})")
            return ""
        val = data[key]
        if isinstance(val, bool) or not isinstance(val, (str, int)):
            self.fail(full, f"expected {expected}, got {type(val).__name__} {val!r}")
            return ""
        text = str(val)
        if isinstance(val, int) and pattern in (_DIGITS, _DIGITS_ANY):
            self.fail(full, f'expected {expected} in quotes ("{val}"), got a bare number')
            return text
        if not text.strip():
            self.fail(full, f"expected {expected}, got an empty string")
        elif pattern is not None and not pattern.match(text):
            self.fail(full, f"expected {expected}, got {text!r}")
        return text

    def integer(
        self, data: dict[str, Any], key: str, path: str, *, low: int, high: int, default: int | None = None
    ) -> int:
        full = f"{path}.{key}"
        if key not in data:
            if default is not None:
                return default
            self.fail(path, f"missing key '{key}' (expected an integer {low}..{high})")
            return low
        val = data[key]
        if isinstance(val, bool) or not isinstance(val, int) or not low <= val <= high:
            self.fail(full, f"expected an integer {low}..{high}, got {val!r}")
            return low
        return val

    def strings(self, data: dict[str, Any], key: str, path: str, *, required: bool = True) -> tuple[str, ...]:
        full = f"{path}.{key}"
        val = data.get(key)
        if val is None:
            if required:
                self.fail(full if key in data else path, f"missing key '{key}' (expected a list of strings)")
            return ()
        if not isinstance(val, list) or not all(isinstance(x, str) and x for x in val):
            self.fail(full, f"expected a list of strings, got {val!r}")
            return ()
        return tuple(val)

    def path(self, data: dict[str, Any], key: str, path: str, default: str | None = None) -> Path:
        text = self.string(data, key, path, expected="a path", default=default)
        p = Path(text)
        return p if p.is_absolute() else (self.base / p)

    def secret(self, data: dict[str, Any], path: str, *, required: bool) -> Secret | None:
        if "secret" in data or "password" in data:
            key = "secret" if "secret" in data else "password"
            self.fail(f"{path}.{key}", "secrets are never written in the config: use secret_env or secret_file")
            return None
        env = data.get("secret_env")
        file = data.get("secret_file")
        if env is not None and (not isinstance(env, str) or not re.match(r"^[A-Z_][A-Z0-9_]*$", env)):
            self.fail(f"{path}.secret_env", f"expected an environment variable name, got {env!r}")
            env = None
        if file is not None and not isinstance(file, str):
            self.fail(f"{path}.secret_file", f"expected a path, got {file!r}")
            file = None
        if env is None and file is None:
            if required:
                self.fail(path, "missing secret_env or secret_file (expected where the secret is kept)")
            return None
        fpath = None
        if file:
            fpath = Path(file)
            fpath = fpath if fpath.is_absolute() else self.base / fpath
        return Secret(env=env, file=fpath)

    def api_key(self, data: dict[str, Any], key: str, path: str) -> Secret | None:
        """Where the API key under `key` is kept (secret_env or secret_file: `secret`); None when it is absent."""
        if key not in data:
            return None
        if not isinstance(data[key], dict):
            self.fail(f"{path}.{key}", "expected secret_env or secret_file (where the api_key is kept)")
            return None
        return self.secret(data[key], f"{path}.{key}", required=True)

    def number(
        self,
        data: dict[str, Any],
        key: str,
        path: str,
        *,
        high: float,
        default: float,
        unit: str,
        low: float | None = None,
        above: float | None = None,
    ) -> float:
        """An integer or decimal number from `low` (or strictly above `above`) up to `high`."""
        if key not in data:
            return default
        val = data[key]
        bound = f"{low}..{high}" if low is not None else f"above {above}, up to {high}"
        ok = isinstance(val, (int, float)) and not isinstance(val, bool)
        if ok and low is not None:
            ok = low <= val <= high
        if ok and above is not None:
            ok = above < val <= high
        if not ok:
            self.fail(f"{path}.{key}", f"expected a number {bound} ({unit}), got {val!r}")
            return default
        return float(val)

    def optional_path(self, data: dict[str, Any], key: str, path: str) -> Path | None:
        """A path, or None when the key is absent, empty or null."""
        if data.get(key) in (None, ""):
            return None
        if not isinstance(data[key], str):
            self.fail(f"{path}.{key}", f"expected a path, got {data[key]!r}")
            return None
        return self.path(data, key, path)

    def tls(self, data: dict[str, Any], path: str) -> tuple[Path | None, Path | None]:
        """`tls_cert` and `tls_key`, both or neither (`optional_path`); (None, None) when only one is given."""
        cert, key = self.optional_path(data, "tls_cert", path), self.optional_path(data, "tls_key", path)
        if (cert is None) != (key is None):
            given = "tls_cert" if cert is not None else "tls_key"
            self.fail(f"{path}.{given}", "tls_cert and tls_key go together (expected both, or neither)")
            return None, None
        return cert, key

    def unknown(self, data: dict[str, Any], path: str, allowed: set[str]) -> None:
        for key in data:
            if key not in allowed:
                full = f"{path}.{key}" if path else key
                self.fail(full, f"unknown key '{key}' (expected one of: {', '.join(sorted(allowed))})")


AGI_SECRET_FILE = "var/secrets/agi_secret"


def _agi_secret(c: _Checker, section: dict[str, Any]) -> Secret:
    """`asterisk.agi`: only where the FastAGI secret is kept; the file default when the section is absent."""
    c.unknown(section, "asterisk.agi", {"secret_env", "secret_file", "secret", "password"})
    found = c.secret(section, "asterisk.agi", required=False)
    return found if found is not None else Secret(env=None, file=c.base / AGI_SECRET_FILE)


def _percent(c: _Checker, data: dict[str, Any], key: str, path: str, default: float) -> float:
    """A percentage 0..100 (an integer or a decimal number); a clear issue otherwise."""
    if key not in data:
        return default
    val = data[key]
    if isinstance(val, bool) or not isinstance(val, (int, float)) or not 0 <= val <= 100:
        c.fail(f"{path}.{key}", f"expected a percentage 0..100, got {val!r}")
        return default
    return float(val)


_PREFIX = re.compile(r"^[0-9]{2,10}$")


def _area_code(c: _Checker, data: dict[str, Any], path: str, region: str) -> str | None:
    """`area_code`: an area code of the region, in quotes, without the trunk prefix; None when absent."""
    if data.get("area_code") is None:
        return None
    text = c.string(data, "area_code", path, pattern=_DIGITS_ANY, expected="an area code of digits")
    if not text:
        return None
    problem = area_code_problem(text, region)
    if problem is not None:
        c.fail(f"{path}.area_code", problem)
        return None
    return text


def _number_rules(c: _Checker, data: dict[str, Any], path: str, centre: NumberRules) -> NumberRules:
    """`trunks[i].numbers`: the trunk's area code (default: the centre's) and carrier prefixes."""
    c.unknown(data, path, {"area_code", "strip_prefixes"})
    area = _area_code(c, data, path, centre.region) if "area_code" in data else centre.area_code
    prefixes = c.strings(data, "strip_prefixes", path, required=False)
    for j, prefix in enumerate(prefixes):
        if not _PREFIX.match(prefix):
            c.fail(f"{path}.strip_prefixes[{j}]", f"expected a carrier prefix of 2-10 digits, got {prefix!r}")
        elif prefix in prefixes[:j]:
            c.fail(f"{path}.strip_prefixes[{j}]", f"carrier prefix {prefix} is listed twice")
    return NumberRules(region=centre.region, area_code=area, strip_prefixes=prefixes)


def _valid_address(text: str) -> bool:
    m = _IPV4.match(text)
    return m is not None and all(int(g) <= 255 for g in m.groups()[:4])


def _yaml_issue(file: str, exc: yaml.YAMLError) -> ConfigIssue:
    """Where a YAML error is to be fixed. The parser notices an unclosed `[` or `{` (or a broken quote) only
    where the text stops making sense, often lines later; its context mark is where that construct opened,
    which is the line to report, with the place it was noticed in the message."""
    problem_mark = getattr(exc, "problem_mark", None)
    context_mark = getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    if context_mark is not None and context:
        what = context.removeprefix("while parsing ").removeprefix("while scanning ").removeprefix("a ")
        noticed = f" (noticed at line {problem_mark.line + 1})" if problem_mark is not None else ""
        message = f"not valid YAML: {problem}, in the {what} that begins here{noticed}"
        return ConfigIssue(file, context_mark.line + 1, "<yaml>", message)
    line = problem_mark.line + 1 if problem_mark is not None else 0
    return ConfigIssue(file, line, "<yaml>", f"not valid YAML: {problem}")


def _bad_date(file: str, node: yaml.Node | None, exc: ValueError) -> ConfigIssue:
    """Where the date YAML could not make is (a `YYYY-MM-DD` scalar that is no day of the calendar)."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, yaml.ScalarNode) and item.tag == "tag:yaml.org,2002:timestamp":
            try:
                yaml.SafeLoader("").construct_yaml_timestamp(item)
            except ValueError:
                return ConfigIssue(file, item.start_mark.line + 1, "<yaml>", f"not a date: {item.value} ({exc})")
        elif isinstance(item, yaml.MappingNode):
            stack.extend(v for pair in item.value for v in pair)
        elif isinstance(item, yaml.SequenceNode):
            stack.extend(item.value)
    return ConfigIssue(file, 0, "<yaml>", f"not valid YAML: {exc}")


def _read(path: str | os.PathLike[str]) -> tuple[_Checker, dict[str, Any]]:
    """The file as YAML data and a reader that knows each key's line; unreadable or not YAML: ConfigError."""
    file = Path(path)
    name = str(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        message = f"cannot read: {exc.strerror} (another file: -c FILE or $HOTLINE_CONFIG)"
        raise ConfigError([ConfigIssue(name, 0, "<file>", message)]) from exc
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError([_yaml_issue(name, exc)]) from exc
    except ValueError as exc:  # a date that is none (2027-02-30): YAML reads it as a date and fails
        raise ConfigError([_bad_date(name, node, exc)]) from exc
    if not isinstance(data, dict):
        raise ConfigError([ConfigIssue(name, 1, "<top>", "expected a mapping of sections at the top level")])
    lines: dict[str, int] = {}
    issues: list[ConfigIssue] = []
    _line_map(node, "", lines, issues, name)
    c = _Checker(name, lines, file.resolve().parent)
    c.issues.extend(issues)
    return c, data


@dataclass(frozen=True)
class _Centre:
    name_zh: str
    name_en: str
    timezone: str
    numbers: NumberRules


def _centre(c: _Checker, data: dict[str, Any]) -> _Centre:
    """`centre:` the centre's names, time zone and number rules (region, area code)."""
    centre = c.section(data, "centre", "")
    c.unknown(centre, "centre", {"name_zh", "name_en", "timezone", "region", "area_code"})
    region = c.string(centre, "region", "centre", expected="a region code such as CN", default=DEFAULT_REGION)
    if region_problem(region):
        c.fail("centre.region", region_problem(region) or "")
        region = DEFAULT_REGION
    return _Centre(
        name_zh=c.string(centre, "name_zh", "centre", default=""),
        name_en=c.string(centre, "name_en", "centre", default=""),
        timezone=_zone(c, c.string(centre, "timezone", "centre", default="Asia/Shanghai"), "centre.timezone"),
        numbers=NumberRules(region=region, area_code=_area_code(c, centre, "centre", region)),
    )


def _zone(c: _Checker, name: str, path: str) -> str:
    """A time zone's IANA name, checked against the zone database the commands will read it from."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        c.fail(path, f"unknown time zone {name!r} (expected an IANA name such as Asia/Shanghai)")
    return name


def _hotline(c: _Checker, h: dict[str, Any], p: str) -> Hotline:
    """One entry of `hotlines:`."""
    c.unknown(
        h,
        p,
        {"number", "name_zh", "name_en", "unit", "mode", "categories", "max_calls", "exchange_url", "exchange_key"},
    )
    exchange_key = c.api_key(h, "exchange_key", p)
    exchange_url = h.get("exchange_url")
    if exchange_url is not None and (
        not isinstance(exchange_url, str) or not re.match(r"^https?://\S+$", exchange_url)
    ):
        c.fail(f"{p}.exchange_url", f"expected an http(s) URL of an Open311 GeoReport v2 API, got {exchange_url!r}")
        exchange_url = None
    number = c.string(h, "number", p, pattern=_DIGITS, expected="a dialable number of 3-20 digits")
    mode_text = c.string(h, "mode", p, expected="collaborative, exchange or sub-platform")
    try:
        mode = HotlineMode(mode_text)
    except ValueError:
        if mode_text:
            c.fail(f"{p}.mode", f"expected collaborative, exchange or sub-platform, got {mode_text!r}")
        mode = HotlineMode.COLLABORATIVE
    return Hotline(
        number=number,
        name_zh=c.string(h, "name_zh", p, expected="the Chinese name"),
        name_en=c.string(h, "name_en", p, expected="the English name"),
        unit=c.string(h, "unit", p, expected="the managing unit"),
        mode=mode,
        categories=c.strings(h, "categories", p, required=False),
        max_calls=c.integer(h, "max_calls", p, low=1, high=100000) if "max_calls" in h else None,
        exchange_url=exchange_url,
        exchange_key=exchange_key,
    )


def _hotlines(c: _Checker, data: dict[str, Any]) -> tuple[Hotline, ...]:
    """`hotlines:` the numbers citizens dial, each once."""
    hotlines: list[Hotline] = []
    for i, h in enumerate(c.items(data, "hotlines", "")):
        hotline = _hotline(c, h, f"hotlines[{i}]")
        if hotline.number and any(x.number == hotline.number for x in hotlines):
            c.fail(f"hotlines[{i}].number", f"hotline number {hotline.number} is configured twice")
        hotlines.append(hotline)
    return tuple(hotlines)


def _trunks(c: _Checker, data: dict[str, Any], numbers: NumberRules) -> tuple[Trunk, ...]:
    """`trunks:` the carriers, known by the addresses their calls come from, and their number rules."""
    trunks: list[Trunk] = []
    for i, t in enumerate(c.items(data, "trunks", "")):
        p = f"trunks[{i}]"
        c.unknown(t, p, {"name", "addresses", "numbers"})
        addresses = c.strings(t, "addresses", p)
        for j, addr in enumerate(addresses):
            if not _valid_address(addr):
                c.fail(f"{p}.addresses[{j}]", f"expected an IPv4 address or network, got {addr!r}")
        trunks.append(
            Trunk(
                name=c.string(t, "name", p, pattern=_NAME, expected="a trunk name (letters, digits, -_.)"),
                addresses=addresses,
                numbers=_number_rules(c, c.section(t, "numbers", p, required=False), f"{p}.numbers", numbers),
            )
        )
    return tuple(trunks)


_URL = re.compile(r"^https?://\S+$")
_PARTNER_KEY = re.compile(r"^[0-9]{3,6}$")
_SERVICE_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")


def _receiver(c: _Checker, r: dict[str, Any], p: str) -> Receiver | None:
    """`linkage.partners[i].receiver`: the partner's Open311 GeoReport v2 interface."""
    c.unknown(r, p, {"url", "service_code", "key"})
    url = c.string(r, "url", p, pattern=_URL, expected="an http(s) URL of an Open311 GeoReport v2 API")
    code = c.string(r, "service_code", p, pattern=_SERVICE_CODE, expected="the service_code the partner gave")
    return Receiver(url=url, service_code=code, key=c.api_key(r, "key", p))


def _linkage(c: _Checker, data: dict[str, Any], trunks: tuple[Trunk, ...], default_trunk: str) -> tuple[Partner, ...]:
    """`linkage:` (optional section) the emergency and police services calls are handed to, 110/119/120
    (联动: the 12345 rules ask that such calls are handed on by one-key transfer or a three-way call)."""
    sec = c.section(data, "linkage", "", required=False)
    c.unknown(sec, "linkage", {"partners"})
    if "partners" not in sec:
        return ()
    partners: list[Partner] = []
    for i, item in enumerate(c.items(sec, "partners", "linkage")):
        p = f"linkage.partners[{i}]"
        c.unknown(item, p, {"key", "name_zh", "name_en", "number", "trunk", "receiver"})
        key = c.string(item, "key", p, pattern=_PARTNER_KEY, expected='the partner\'s short number in quotes ("110")')
        if key and any(x.key == key for x in partners):
            c.fail(f"{p}.key", f"partner {key} is configured twice")
        number = c.string(item, "number", p, pattern=_DIGITS, expected="a dialable number of 3-20 digits", default=key)
        trunk = c.string(item, "trunk", p, expected="the name of a trunk", default=default_trunk)
        if trunk and trunks and not any(t.name == trunk for t in trunks):
            c.fail(f"{p}.trunk", f"expected one of the trunks ({', '.join(t.name for t in trunks)}), got {trunk!r}")
        receiver = None
        if item.get("receiver") is not None:
            receiver = _receiver(c, c.section(item, "receiver", p), f"{p}.receiver")
        partners.append(
            Partner(
                key=key,
                name_zh=c.string(item, "name_zh", p, expected="the Chinese name"),
                name_en=c.string(item, "name_en", p, expected="the English name"),
                number=number,
                trunk=trunk,
                receiver=receiver,
            )
        )
    return tuple(partners)


def _queue(c: _Checker, data: dict[str, Any]) -> QueueSettings:
    """`queue:` the one queue all hotlines converge into."""
    q = c.section(data, "queue", "")
    c.unknown(q, "queue", {"name", "strategy", "ring_timeout", "wrapup", "max_wait"})
    strategy = c.string(q, "strategy", "queue", expected="a queues.conf strategy", default="rrmemory")
    if strategy and strategy not in QUEUE_STRATEGIES:
        c.fail("queue.strategy", f"expected one of {', '.join(QUEUE_STRATEGIES)}, got {strategy!r}")
    return QueueSettings(
        name=c.string(q, "name", "queue", pattern=_NAME, expected="a queue name (letters, digits, -_.)"),
        strategy=strategy,
        ring_timeout=c.integer(q, "ring_timeout", "queue", low=1, high=600, default=15),
        wrapup=c.integer(q, "wrapup", "queue", low=0, high=3600, default=10),
        max_wait=c.integer(q, "max_wait", "queue", low=10, high=86400, default=600),
    )


def _admission(c: _Checker, data: dict[str, Any]) -> Admission:
    """`admission:` what the PBX may take at once (optional section)."""
    adm = c.section(data, "admission", "", required=False)
    c.unknown(adm, "admission", {"max_calls", "max_queue", "announce_frequency", "max_announcements", "shed_ms"})
    return Admission(
        max_calls=c.integer(adm, "max_calls", "admission", low=1, high=100000, default=200),
        max_queue=c.integer(adm, "max_queue", "admission", low=1, high=100000, default=100),
        announce_frequency=c.integer(adm, "announce_frequency", "admission", low=0, high=3600, default=30),
        max_announcements=c.integer(adm, "max_announcements", "admission", low=0, high=100000, default=60),
        shed_ms=c.integer(adm, "shed_ms", "admission", low=0, high=60000, default=200),
    )


def _callback(c: _Checker, data: dict[str, Any], trunks: tuple[Trunk, ...]) -> CallbackSettings:
    """`callback:` callback instead of waiting (optional section); its trunk is one of `trunks`."""
    cb = c.section(data, "callback", "", required=False)
    c.unknown(
        cb,
        "callback",
        {
            "enabled",
            "digit",
            "trunk",
            "retry_seconds",
            "max_attempts",
            "missed_target_minutes",
            "missed_claim_minutes",
            "calling_hours",
        },
    )
    enabled = cb.get("enabled", True)
    if not isinstance(enabled, bool):
        c.fail("callback.enabled", f"expected yes or no, got {enabled!r}")
        enabled = False
    trunk = c.string(cb, "trunk", "callback", expected="the name of a trunk", default=trunks[0].name if trunks else "")
    if trunk and trunks and not any(t.name == trunk for t in trunks):
        c.fail("callback.trunk", f"expected one of the trunks ({', '.join(t.name for t in trunks)}), got {trunk!r}")
    return CallbackSettings(
        enabled=enabled,
        digit=c.string(
            cb, "digit", "callback", pattern=re.compile(r"^[0-9*#]$"), expected="one keypad key", default="1"
        ),
        trunk=trunk,
        retry_seconds=c.integer(cb, "retry_seconds", "callback", low=1, high=86400, default=60),
        max_attempts=c.integer(cb, "max_attempts", "callback", low=1, high=20, default=3),
        missed_target_minutes=c.integer(cb, "missed_target_minutes", "callback", low=1, high=7 * 24 * 60, default=30),
        missed_claim_minutes=c.integer(cb, "missed_claim_minutes", "callback", low=1, high=24 * 60, default=10),
        calling_hours=_calling_hours(c, cb),
    )


_HOURS = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])-([01][0-9]|2[0-4]):([0-5][0-9])$")


def _calling_hours(c: _Checker, cb: dict[str, Any]) -> tuple[time, time]:
    """`callback.calling_hours`: "HH:MM-HH:MM" in the centre's time zone, the opening before the closing
    ("24:00" closes at midnight)."""
    expected = 'opening and closing times, "08:00-21:00"'
    text = c.string(cb, "calling_hours", "callback", pattern=_HOURS, expected=expected, default="08:00-21:00")
    m = _HOURS.match(text)
    if m is None:
        return (time(8, 0), time(21, 0))
    h1, m1, h2, m2 = (int(g) for g in m.groups())
    if h2 == 24 and m2 != 0:
        c.fail("callback.calling_hours", f"expected {expected}, got {text!r}")
        return (time(8, 0), time(21, 0))
    opening, closing = time(h1, m1), time.max if h2 == 24 else time(h2, m2)
    if closing <= opening:
        c.fail("callback.calling_hours", f"expected the opening before the closing, got {text!r}")
        return (time(8, 0), time(21, 0))
    return (opening, closing)


def _agents(c: _Checker, data: dict[str, Any], hotlines: tuple[Hotline, ...]) -> tuple[Agent, ...]:
    """`agents:` agents and their softphones; ids and extensions unique, no extension a hotline number."""
    agents: list[Agent] = []
    for i, a in enumerate(c.items(data, "agents", "")):
        p = f"agents[{i}]"
        c.unknown(
            a, p, {"id", "name", "extension", "languages", "contact", "secret_env", "secret_file", "secret", "password"}
        )
        contact = a.get("contact")
        if contact is not None and (not isinstance(contact, str) or not _SIP_URI.match(contact)):
            c.fail(f"{p}.contact", f"expected a SIP URI like sip:1001@127.0.0.1:5080, got {contact!r}")
            contact = None
        agent = Agent(
            id=c.string(a, "id", p, pattern=_NAME, expected="an agent id (letters, digits, -_.)"),
            name=c.string(a, "name", p, expected="the agent's name"),
            extension=c.string(a, "extension", p, pattern=_DIGITS, expected="an extension of 3-20 digits"),
            languages=c.strings(a, "languages", p),
            contact=contact,
            secret=c.secret(a, p, required=contact is None),
        )
        for field_name in ("id", "extension"):
            value = getattr(agent, field_name)
            if value and any(getattr(x, field_name) == value for x in agents):
                c.fail(f"{p}.{field_name}", f"agent {field_name} {value} is configured twice")
        if agent.extension and any(h.number == agent.extension for h in hotlines):
            c.fail(f"{p}.extension", f"extension {agent.extension} is also a hotline number")
        agents.append(agent)
    return tuple(agents)


DATABASE_BACKENDS: Final = ("sqlite", "postgresql")
"""The databases the schema and its migrations are tested on."""
SHIPPED_SQLITE: Final = "var/db/hotline.db"
"""The shipped config's database, relative to the config's folder."""


def _database(c: _Checker, data: dict[str, Any]) -> str:
    """`database.url`: an SQLAlchemy URL without a password; a relative SQLite path is made absolute."""
    db = c.section(data, "database", "")
    c.unknown(db, "database", {"url"})
    url = c.string(db, "url", "database", expected="an SQLAlchemy URL such as sqlite:///var/db/hotline.db")
    if url and "://" not in url:
        c.fail("database.url", f"expected an SQLAlchemy URL such as sqlite:///var/db/hotline.db, got {url!r}")
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////") and url != "sqlite:///:memory:":
        url = "sqlite:///" + str(c.base / url[len("sqlite:///") :])
        moved = c.base / "var" / "hotline.db"  # where the shipped config kept it until the database had a folder
        if url == f"sqlite:///{c.base / SHIPPED_SQLITE}" and moved.exists() and not (c.base / SHIPPED_SQLITE).exists():
            c.fail(
                "database.url",
                f"the database is at {moved}, where the shipped config kept it before: move it into its own folder"
                f" (mkdir -m 700 {moved.parent / 'db'} && mv {moved}* {moved.parent / 'db'}/) or set url to"
                " sqlite:///var/hotline.db",
            )
    if re.search(r"://[^/@]*:[^/@]+@", url):
        c.fail("database.url", "a password is written in the URL: name it with the PGPASSWORD variable or ~/.pgpass")
    elif "://" in url:
        kind = url.split("://", 1)[0]
        try:  # the dialect (and driver) named before :// must be one SQLAlchemy has; the driver loads at first use
            backend = make_url(url).get_dialect().name
        except (ArgumentError, NoSuchModuleError):
            backend = ""
        if backend not in DATABASE_BACKENDS:
            c.fail("database.url", f"{kind!r} is not a supported database (expected sqlite:/// or postgresql://)")
    return url


@dataclass(frozen=True)
class _Recordings:
    path: Path
    retention_days: int
    disk: DiskThreshold


def _recordings(c: _Checker, data: dict[str, Any]) -> _Recordings:
    """`recordings:` where recordings are kept, how long, and when their disk is low."""
    rec = c.section(data, "recordings", "")
    c.unknown(rec, "recordings", {"path", "retention_days", "min_free_bytes", "min_free_percent"})
    return _Recordings(
        path=c.path(rec, "path", "recordings", default="var/recordings"),
        retention_days=c.integer(rec, "retention_days", "recordings", low=1, high=36500, default=365),
        disk=DiskThreshold(
            min_free_bytes=c.integer(rec, "min_free_bytes", "recordings", low=0, high=1 << 60, default=1 << 30),
            min_free_percent=_percent(c, rec, "min_free_percent", "recordings", default=5.0),
        ),
    )


def _speech(c: _Checker, data: dict[str, Any]) -> SpeechSettings:
    """`speech:` the transcription model and the transcription workers' job settings (optional section)."""
    sp = c.section(data, "speech", "", required=False)
    c.unknown(sp, "speech", {"model", "grammar", "lease_seconds", "max_attempts"})
    return SpeechSettings(
        model=c.path(sp, "model", "speech") if "model" in sp else None,
        grammar=c.strings(sp, "grammar", "speech", required=False),
        lease_seconds=c.integer(sp, "lease_seconds", "speech", low=1, high=86400, default=120),
        max_attempts=c.integer(sp, "max_attempts", "speech", low=1, high=100, default=3),
    )


_ENDPOINT_KEYS = frozenset({"host", "bind", "port", "username", "secret_env", "secret_file", "secret", "password"})


def _endpoint(c: _Checker, section: dict[str, Any], path: str, *, auth: bool, default_port: int) -> Endpoint:
    """`asterisk.sip` / `.ami` / `.ari`: host (or bind) and port, and for AMI and ARI a user and its secret."""
    c.unknown(section, path, set(_ENDPOINT_KEYS))
    host_key = "bind" if "bind" in section else "host"
    host = c.string(section, host_key, path, expected="a host address", default="127.0.0.1")
    port = c.integer(section, "port", path, low=1, high=65535, default=default_port)
    if not auth:
        return Endpoint(host=host, port=port)
    username = c.string(section, "username", path, pattern=_NAME, expected="a user name")
    return Endpoint(host=host, port=port, username=username, secret=c.secret(section, path, required=True))


def _asterisk(c: _Checker, data: dict[str, Any]) -> AsteriskSettings:
    """`asterisk:` where Asterisk comes from, its SIP address, AMI, ARI, the FastAGI secret, its niceness."""
    ast = c.section(data, "asterisk", "")
    c.unknown(ast, "asterisk", {"root", "mirror", "sip", "ami", "ari", "agi", "nice"})
    return AsteriskSettings(
        root=c.path(ast, "root", "asterisk", default=".local/asterisk-root"),
        mirror=c.string(
            ast, "mirror", "asterisk", expected="a Debian mirror URL", default="http://deb.debian.org/debian"
        ),
        sip=_endpoint(
            c, c.section(ast, "sip", "asterisk", required=False), "asterisk.sip", auth=False, default_port=5060
        ),
        ami=_endpoint(c, c.section(ast, "ami", "asterisk"), "asterisk.ami", auth=True, default_port=5038),
        ari=_endpoint(c, c.section(ast, "ari", "asterisk"), "asterisk.ari", auth=True, default_port=8088),
        agi=_agi_secret(c, c.section(ast, "agi", "asterisk", required=False)),
        nice=c.integer(ast, "nice", "asterisk", low=-20, high=19, default=-10),
    )


_SERVER_KEYS = {
    "host",
    "bind",
    "port",
    "tls_cert",
    "tls_key",
    "token_hours",
    "token_file",
    "max_connections_per_address",
    "max_unauthenticated_per_address",
    "sign_in_timeout",
    "refusal_hold_seconds",
    "service_level_seconds",
    "service_level_target",
}


def _server(c: _Checker, data: dict[str, Any]) -> ServerSettings:
    """`server:` the CTI server's address and the desktop link's settings (optional section)."""
    s = c.section(data, "server", "", required=False)
    c.unknown(s, "server", _SERVER_KEYS)
    cert, key = c.tls(s, "server")
    token_file = c.optional_path(s, "token_file", "server") if "token_file" in s else c.base / "var/link_tokens.json"
    return ServerSettings(
        host=c.string(s, "bind" if "bind" in s else "host", "server", expected="a host address", default="127.0.0.1"),
        port=c.integer(s, "port", "server", low=1, high=65535, default=8765),
        tls_cert=cert,
        tls_key=key,
        token_hours=c.number(s, "token_hours", "server", above=0, high=720, default=12, unit="hours"),
        token_file=token_file,
        max_connections_per_address=c.integer(
            s, "max_connections_per_address", "server", low=1, high=100_000, default=32
        ),
        max_unauthenticated_per_address=c.integer(
            s, "max_unauthenticated_per_address", "server", low=1, high=100_000, default=8
        ),
        sign_in_timeout=c.integer(s, "sign_in_timeout", "server", low=1, high=3600, default=30),
        refusal_hold_seconds=c.number(s, "refusal_hold_seconds", "server", low=0, high=60, default=3, unit="seconds"),
        service_level_seconds=c.integer(s, "service_level_seconds", "server", low=1, high=600, default=15),
        service_level_target=c.number(s, "service_level_target", "server", above=0, high=100, default=80, unit="%"),
    )


_WEB_KEYS = {
    "enabled",
    "listen",
    "tls_cert",
    "tls_key",
    "idle_minutes",
    "session_hours",
    "poll_seconds",
    "forwarded_allow_ips",
}
_LISTEN = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):([0-9]{1,5})$")


def _web(c: _Checker, data: dict[str, Any]) -> WebSettings:
    """`web:` the browser front (optional section): `listen` as host:port, loopback by default."""
    w = c.section(data, "web", "", required=False)
    c.unknown(w, "web", _WEB_KEYS)
    enabled = w.get("enabled", False)
    if not isinstance(enabled, bool):
        c.fail("web.enabled", f"expected true or false, got {enabled!r}")
        enabled = False
    host, port = "127.0.0.1", 8090
    if "listen" in w:
        text = w["listen"]
        m = _LISTEN.match(text) if isinstance(text, str) else None
        if m is None or not 1 <= int(m.group(2)) <= 65535:
            c.fail("web.listen", f"expected host:port (127.0.0.1:8090, [::1]:8090), got {text!r}")
        else:
            host, port = m.group(1).strip("[]"), int(m.group(2))
    cert, key = c.tls(w, "web")
    proxies = c.strings(w, "forwarded_allow_ips", "web", required=False)
    return WebSettings(
        enabled=enabled,
        host=host,
        port=port,
        tls_cert=cert,
        tls_key=key,
        idle_minutes=c.number(w, "idle_minutes", "web", above=0, high=24 * 60, default=30, unit="minutes"),
        session_hours=c.number(w, "session_hours", "web", above=0, high=720, default=12, unit="hours"),
        poll_seconds=c.number(w, "poll_seconds", "web", low=0, high=60, default=0.5, unit="seconds"),
        forwarded_allow_ips=proxies,
    )


_PERIOD = re.compile(r"^([01]?[0-9]|2[0-3]):([0-5][0-9])-([01]?[0-9]|2[0-3]):([0-5][0-9])$")


def _office_hours(c: _Checker, cal: dict[str, Any]) -> tuple[tuple[time, time], ...]:
    """`calendar.office_hours`: periods `HH:MM-HH:MM` of a working day, in order, not overlapping."""
    if "office_hours" not in cal:
        return DEFAULT_OFFICE_HOURS
    before = len(c.issues)
    texts = c.strings(cal, "office_hours", "calendar")
    periods: list[tuple[time, time]] = []
    for i, text in enumerate(texts):
        key = f"calendar.office_hours[{i}]"
        m = _PERIOD.match(text.replace(" ", ""))
        if m is None:
            c.fail(key, f"expected a period such as 09:00-12:00, got {text!r}")
            continue
        h1, m1, h2, m2 = (int(g) for g in m.groups())
        start, end = time(h1, m1), time(h2, m2)
        if end <= start:
            c.fail(key, f"the period ends before it begins: {text!r}")
        elif periods and start < periods[-1][1]:
            c.fail(key, f"expected periods in order, not overlapping: {text!r} begins before the one above ends")
        else:
            periods.append((start, end))
    if not texts and len(c.issues) == before:
        c.fail("calendar.office_hours", "expected at least one period such as 09:00-12:00")
    return tuple(periods) if len(c.issues) == before else DEFAULT_OFFICE_HOURS


def _calendar_day(c: _Checker, item: dict[str, Any], key: str) -> list[CalendarDay]:
    """One entry of `calendar.holidays` / `calendar.workdays`: `date` (or `from` and `to`, both included) and
    `name`."""
    c.unknown(item, key, {"date", "from", "to", "name"})
    name = c.string(item, "name", key, expected="the day's name (春节, 国庆节调休)")
    dates: list[date] = []
    for field_name in ("date", "from", "to"):
        if field_name not in item:
            continue
        val = item[field_name]
        if isinstance(val, str):
            try:
                val = date.fromisoformat(val)
            except ValueError:
                pass
        if not isinstance(val, date):
            c.fail(f"{key}.{field_name}", f"expected a date such as 2027-10-01, got {val!r}")
            return []
        dates.append(val)
    has_date, has_range = "date" in item, "from" in item or "to" in item
    if has_date == has_range or (has_range and not ("from" in item and "to" in item)):
        c.fail(key, "expected `date`, or `from` and `to` (both included)")
        return []
    first, last = dates[0], dates[-1]
    if last < first:
        c.fail(f"{key}.to", f"`to` ({last}) is before `from` ({first})")
        return []
    if (last - first).days > 60:
        c.fail(f"{key}.to", f"expected a period of at most 61 days, got {(last - first).days + 1}")
        return []
    return [CalendarDay(date.fromordinal(n), name) for n in range(first.toordinal(), last.toordinal() + 1)]


def _calendar(c: _Checker, data: dict[str, Any]) -> CalendarSettings:
    """`calendar:` office hours and the admin's holidays and working days (optional section)."""
    cal = c.section(data, "calendar", "", required=False)
    c.unknown(cal, "calendar", {"office_hours", "holidays", "workdays", "unknown_years"})
    lists: dict[str, list[CalendarDay]] = {"holidays": [], "workdays": []}
    where: dict[date, str] = {}
    for kind, days in lists.items():
        if cal.get(kind) is None:
            continue
        if not isinstance(cal[kind], list):
            c.fail(f"calendar.{kind}", f"expected a list of days (date and name), got {cal[kind]!r}")
            continue
        for i, item in enumerate(cal[kind]):
            key = f"calendar.{kind}[{i}]"
            if not isinstance(item, dict):
                c.fail(key, "expected a mapping with date and name")
                continue
            for day in _calendar_day(c, item, key):
                if day.day in where:
                    c.fail(key, f"{day.day} is already listed at {where[day.day]}")
                    continue
                where[day.day] = key
                days.append(day)
    unknown_years = c.string(
        cal, "unknown_years", "calendar", pattern=_UNKNOWN_YEARS, expected="statutory or refuse", default="statutory"
    )
    return CalendarSettings(
        office_hours=_office_hours(c, cal),
        holidays=tuple(lists["holidays"]),
        workdays=tuple(lists["workdays"]),
        unknown_years=unknown_years,
    )


_UNKNOWN_YEARS = re.compile(r"^(statutory|refuse)$")


_TIME_LIMIT = re.compile(r"^(\d+(?:\.\d+)?)\s*(wd|wh|h)$")


def _time_limit(c: _Checker, value: Any, key: str, kind: str) -> TimeLimit | None:
    """One limit: `24h`, `4wh`, `10wd` (a bare whole number under `handling` is working days)."""
    if kind == "handling" and isinstance(value, int) and not isinstance(value, bool):
        value = f"{value}wd"
    m = _TIME_LIMIT.match(value.strip()) if isinstance(value, str) else None
    if m is None:
        c.fail(key, f"expected a time limit such as 24h, 4wh or 10wd, got {value!r}")
        return None
    amount, unit = float(m.group(1)), TIME_UNITS[m.group(2)]
    if not 0 < amount <= 8760 or (unit == "working_days" and amount != int(amount)):
        c.fail(key, f"expected a positive limit of at most 8760 (whole working days), got {value!r}")
        return None
    return TimeLimit(amount, unit)


def _deadline_table(c: _Checker, sec: dict[str, Any], path: str, base: DeadlineTable) -> DeadlineTable:
    """A `cases.deadlines` table (or one hotline's): each of the four kinds a mapping of its keys to limits;
    a key left out keeps `base`'s limit."""
    tables: dict[str, dict[str, TimeLimit]] = {}
    for kind, keys in DEADLINE_KINDS.items():
        table = dict(getattr(base, kind))
        sub = c.section(sec, kind, path, required=False)
        c.unknown(sub, f"{path}.{kind}", set(keys))
        for key in keys:
            if key in sub:
                limit = _time_limit(c, sub[key], f"{path}.{kind}.{key}", kind)
                if limit is not None:
                    table[key] = limit
        tables[kind] = table
    return DeadlineTable(**tables)


def _cases(c: _Checker, data: dict[str, Any], hotlines: tuple[Hotline, ...] = ()) -> CaseRules:
    """`cases:` the work-order rules a centre sets (optional section)."""
    sec = c.section(data, "cases", "", required=False)
    c.unknown(sec, "cases", {"merge_window_days", "follow_up", "attachments", "deadlines", "problem_threshold"})
    fu = c.section(sec, "follow_up", "cases", required=False)
    c.unknown(fu, "cases.follow_up", {"due_working_days"})
    deadlines: DeadlineTable | None = None
    per_hotline: dict[str, DeadlineTable] = {}
    if sec.get("deadlines") is not None:
        dl = c.section(sec, "deadlines", "cases")
        c.unknown(dl, "cases.deadlines", {*DEADLINE_KINDS, "hotlines"})
        deadlines = _deadline_table(c, dl, "cases.deadlines", DeadlineTable())
        own = c.section(dl, "hotlines", "cases.deadlines", required=False)
        known = {h.number for h in hotlines}
        for number, table in own.items():
            key = f"cases.deadlines.hotlines.{number}"
            if str(number) not in known:
                c.fail(key, f"{number!r} is not a hotline of this config (hotlines[].number)")
                continue
            if not isinstance(table, dict):
                c.fail(key, "expected a mapping of handling, dispatch, sign_for and feedback limits")
                continue
            c.unknown(table, key, set(DEADLINE_KINDS))
            per_hotline[str(number)] = _deadline_table(c, table, key, deadlines)
    return CaseRules(
        merge_window_days=c.integer(sec, "merge_window_days", "cases", low=1, high=366, default=30),
        follow_up=FollowUpRules(
            due_working_days=c.integer(fu, "due_working_days", "cases.follow_up", low=1, high=30, default=1)
        ),
        attachments=_attachments(c, sec),
        deadlines=deadlines,
        hotline_deadlines=per_hotline,
        problem_threshold=c.integer(sec, "problem_threshold", "cases", low=1, high=100, default=3),
    )


_PUBLIC_URL = re.compile(r"^https?://[^\s/?#]+(/[^\s?#]*)?$")


def _attachments(c: _Checker, cases: dict[str, Any]) -> AttachmentRules:
    """`cases.attachments:` where attachment files are kept, their limits, their retention, the types
    allowed (a subset of ATTACHMENT_TYPES) and the public base URL of Open311 `media_url` (optional)."""
    path = "cases.attachments"
    sec = c.section(cases, "attachments", "cases", required=False)
    c.unknown(sec, path, {"dir", "max_file_mb", "max_case_mb", "retention_days", "types", "public_url"})
    max_file = c.integer(sec, "max_file_mb", path, low=1, high=1024, default=10)
    max_case = c.integer(sec, "max_case_mb", path, low=1, high=10240, default=50)
    if max_case < max_file:
        c.fail(f"{path}.max_case_mb", f"expected at least max_file_mb ({max_file}), got {max_case}")
    types = c.strings(sec, "types", path, required=False) or ATTACHMENT_TYPES
    bad = [t for t in types if t not in ATTACHMENT_TYPES]
    if bad:
        c.fail(
            f"{path}.types",
            f"not an attachment type the platform allows: {', '.join(bad)} (expected some of: "
            f"{', '.join(ATTACHMENT_TYPES)})",
        )
    public_url: str | None = None
    if sec.get("public_url") not in (None, ""):
        public_url = c.string(sec, "public_url", path, pattern=_PUBLIC_URL, expected="an http(s) URL")
        if not public_url.endswith("/"):
            public_url += "/"
    return AttachmentRules(
        dir=c.path(sec, "dir", path, default="var/attachments"),
        max_file_bytes=max_file * MIB,
        max_case_bytes=max_case * MIB,
        retention_days=c.integer(sec, "retention_days", path, low=1, high=36500, default=1095),
        types=tuple(dict.fromkeys(types)),
        public_url=public_url,
    )


_SECTIONS = {
    "centre",
    "hotlines",
    "trunks",
    "queue",
    "callback",
    "admission",
    "agents",
    "database",
    "recordings",
    "asterisk",
    "server",
    "speech",
    "calendar",
    "cases",
    "web",
    "linkage",
}


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read and validate a config file; raise ConfigError listing every problem found.

    Each section is read by its own function (`_centre`, `_hotlines`, ... `_server`) through one reader
    (`_Checker`) that knows every key's line, so every problem names file, line and key."""
    c, data = _read(path)
    c.unknown(data, "", _SECTIONS)
    centre = _centre(c, data)
    hotlines = _hotlines(c, data)
    trunks = _trunks(c, data, centre.numbers)
    queue = _queue(c, data)
    admission = _admission(c, data)
    callback = _callback(c, data, trunks)
    agents = _agents(c, data, hotlines)
    database_url = _database(c, data)
    recordings = _recordings(c, data)
    speech = _speech(c, data)
    asterisk = _asterisk(c, data)
    server = _server(c, data)
    calendar = _calendar(c, data)
    cases = _cases(c, data, hotlines)
    web = _web(c, data)
    linkage = _linkage(c, data, trunks, callback.trunk)
    if c.issues:
        raise ConfigError(sorted(c.issues, key=lambda i: i.line))
    return Config(
        path=Path(path).resolve(),
        centre_name_zh=centre.name_zh,
        centre_name_en=centre.name_en,
        timezone=centre.timezone,
        hotlines=hotlines,
        trunks=trunks,
        numbers=centre.numbers,
        queue=queue,
        admission=admission,
        callback=callback,
        agents=agents,
        database_url=database_url,
        recordings_path=recordings.path,
        retention_days=recordings.retention_days,
        asterisk=asterisk,
        server=server,
        speech=speech,
        recordings_disk=recordings.disk,
        calendar=calendar,
        cases=cases,
        web=web,
        linkage=linkage,
        raw=data,
    )
