"""The sign-in guard: how many password checks anyone gets, and how many connections an address may hold.

Policy (docs/security.md, "Sign-in, sessions and the desktop link"):

- **An attempt counts before its check.** `admit()` is synchronous and runs on the event loop before the
  password is hashed, so a burst of sign-ins on many connections is counted in full before any of them is
  checked; `settle()` refunds what a success should not cost.
- **Per address and login**: one check at a time, `free_failures` (3) failures free, then each further
  failure doubles the wait before the next check (1 s, 2 s, 4 s, … at most `max_delay`, 15 min). The count
  is forgotten `forget_after` (1 h) after the last failure, or at a success. A stranger's failures therefore
  slow the stranger down, not the owner at their own desk.
- **Per login, from addresses it has not signed in from**: a bucket of `login_burst` (10) checks refilled
  at one per `login_refill` (60 s). This caps a distributed guess at one login; addresses where the login
  signed in before (in this server's memory, `known_for` 30 days) are not charged, so the owner is not
  locked out by it.
- **Per address, any login**: a bucket of `source_burst` (20) failed checks refilled at one per
  `source_refill` (6 s): a sweep of random logins from one address costs a few checks, then nothing.
- **Hashing has a bounded queue**: at most `max_pending` checks wait for the hashing thread; beyond that an
  attempt is refused at once (`too_many_attempts`, retry in 1 s), so a flood cannot queue CPU work.
- **Connections**: at most `max_connections` per address, of which at most `max_unauthenticated` not
  signed in; a connection not signed in after `sign_in_timeout` seconds is closed (LinkServer enforces).

All times come from the `clock` given (the link's), so tests drive them. State is in memory and bounded
(`max_tracked` entries per table, oldest dropped), so a server restart forgets throttles but not sessions.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any


@dataclass(frozen=True)
class GuardPolicy:
    free_failures: int = 3
    max_delay: timedelta = timedelta(minutes=15)
    forget_after: timedelta = timedelta(hours=1)
    login_burst: int = 10
    login_refill: timedelta = timedelta(seconds=60)
    source_burst: int = 20
    source_refill: timedelta = timedelta(seconds=6)
    known_for: timedelta = timedelta(days=30)
    max_pending: int = 8
    max_connections: int = 32
    max_unauthenticated: int = 8
    sign_in_timeout: float = 30.0
    max_tracked: int = 10_000


class Refusal(StrEnum):
    """Why an attempt was not checked."""

    IN_FLIGHT = "in_flight"  # a check for this address and login is running
    DELAYED = "delayed"  # the growing delay after repeated failures
    LOGIN_BUDGET = "login_budget"  # too many checks of this login from unfamiliar addresses
    SOURCE_BUDGET = "source_budget"  # too many failures from this address
    BUSY = "busy"  # the hashing queue is full


@dataclass
class Admission:
    """A reserved check (`refused` None) or a refusal with the seconds to wait."""

    source: str
    login: str
    refused: Refusal | None = None
    retry_after: float = 0.0
    charged_login: bool = False
    first_refusal: bool = False
    """True for the first refusal of this address and login since its last check: the one worth an audit row
    (later ones in the same spell are counted, not written one by one)."""
    refused_since: int = 0
    """How many attempts of this address and login were refused since the last audited refusal."""


@dataclass
class _Bucket:
    tokens: float
    at: datetime

    def take(self, now: datetime, burst: int, refill: timedelta) -> float:
        """Take one token; 0.0 if taken, else the seconds until one is there."""
        per_second = 1.0 / refill.total_seconds()
        self.tokens = min(float(burst), self.tokens + (now - self.at).total_seconds() * per_second)
        self.at = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / per_second

    def give_back(self, burst: int) -> None:
        self.tokens = min(float(burst), self.tokens + 1.0)


@dataclass
class _Key:
    failures: int = 0
    last_failure: datetime | None = None
    in_flight: bool = False
    refused: int = 0
    audited_refusal: bool = False


@dataclass
class _Tables:
    keys: OrderedDict[tuple[str, str], _Key] = field(default_factory=OrderedDict)
    logins: OrderedDict[str, _Bucket] = field(default_factory=OrderedDict)
    sources: OrderedDict[str, _Bucket] = field(default_factory=OrderedDict)
    known: OrderedDict[tuple[str, str], datetime] = field(default_factory=OrderedDict)
    spells: OrderedDict[str, _Key] = field(default_factory=OrderedDict)


class SignInGuard:
    def __init__(self, clock: Callable[[], datetime], policy: GuardPolicy | None = None) -> None:
        self.clock = clock
        self.policy = policy or GuardPolicy()
        self._t = _Tables()
        self.pending = 0

    # --- password checks -----------------------------------------------------------------------------
    def admit(self, source: str, login: str) -> Admission:
        """Reserve one password check for `login` from `source`, or say why not and for how long."""
        pol, now = self.policy, self.clock()
        key = self._key(source, login, now)

        def refuse(why: Refusal, wait: float) -> Admission:
            # One audit row per spell of refusals: per address and login, or per address for the refusals
            # that concern the address as a whole (a sweep of random logins is one spell, not one per login).
            spell = key if why not in (Refusal.SOURCE_BUDGET, Refusal.BUSY) else self._source_spell(source)
            spell.refused += 1
            first = not spell.audited_refusal
            spell.audited_refusal = True
            count = spell.refused if first else 0
            if first:
                spell.refused = 0
            return Admission(source, login, why, max(wait, 1.0), first_refusal=first, refused_since=count)

        if key.in_flight:
            return refuse(Refusal.IN_FLIGHT, 1.0)
        if key.failures >= pol.free_failures and key.last_failure is not None:
            delay = min(2.0 ** (key.failures - pol.free_failures), pol.max_delay.total_seconds())
            wait = delay - (now - key.last_failure).total_seconds()
            if wait > 0:
                return refuse(Refusal.DELAYED, wait)
        if self.pending >= pol.max_pending:
            return refuse(Refusal.BUSY, 1.0)
        src = self._bucket(self._t.sources, source, pol.source_burst, now)
        wait = src.take(now, pol.source_burst, pol.source_refill)
        if wait > 0:
            return refuse(Refusal.SOURCE_BUDGET, wait)
        charged = False
        if not self._is_known(source, login, now):
            bucket = self._bucket(self._t.logins, login, pol.login_burst, now)
            wait = bucket.take(now, pol.login_burst, pol.login_refill)
            if wait > 0:
                src.give_back(pol.source_burst)
                return refuse(Refusal.LOGIN_BUDGET, wait)
            charged = True
        key.in_flight = True
        key.audited_refusal = False
        self._source_spell(source).audited_refusal = False
        self.pending += 1
        return Admission(source, login, charged_login=charged)

    def settle(self, admission: Admission, ok: bool, *, final: bool = True) -> None:
        """The check reserved by `admit` is done: `ok` is whether the password (or one-time code) was right.
        `final` False: right, but a second factor is still to come (ari_app.totp), so nothing is forgiven
        yet: the failures so far stay counted until the code is right too."""
        if admission.refused is not None:
            return
        pol, now = self.policy, self.clock()
        self.pending = max(0, self.pending - 1)
        key = self._key(admission.source, admission.login, now)
        key.in_flight = False
        if ok and not final:
            return
        if ok:
            key.failures, key.last_failure = 0, None
            self._t.sources[admission.source].give_back(pol.source_burst)
            if admission.charged_login and admission.login in self._t.logins:
                self._t.logins[admission.login].give_back(pol.login_burst)
            self._t.known[(admission.source, admission.login)] = now
            self._t.known.move_to_end((admission.source, admission.login))
            self._trim(self._t.known)
        else:
            key.failures += 1
            key.last_failure = now

    def failures(self, source: str, login: str) -> int:
        """Consecutive failed checks of `login` from `source` still remembered."""
        entry = self._t.keys.get((source, login))
        return entry.failures if entry else 0

    # --- tables --------------------------------------------------------------------------------------
    def _key(self, source: str, login: str, now: datetime) -> _Key:
        k = (source, login)
        entry = self._t.keys.get(k)
        if entry is None:
            entry = self._t.keys[k] = _Key()
            self._trim(self._t.keys)
        elif (
            entry.last_failure is not None
            and not entry.in_flight
            and now - entry.last_failure > self.policy.forget_after
        ):
            entry.failures, entry.last_failure = 0, None
        self._t.keys.move_to_end(k)
        return entry

    def _source_spell(self, source: str) -> _Key:
        spell = self._t.spells.get(source)
        if spell is None:
            spell = self._t.spells[source] = _Key()
            self._trim(self._t.spells)
        return spell

    def _bucket(self, table: OrderedDict[str, _Bucket], name: str, burst: int, now: datetime) -> _Bucket:
        bucket = table.get(name)
        if bucket is None:
            bucket = table[name] = _Bucket(float(burst), now)
            self._trim(table)
        table.move_to_end(name)
        return bucket

    def _is_known(self, source: str, login: str, now: datetime) -> bool:
        seen = self._t.known.get((source, login))
        return seen is not None and now - seen <= self.policy.known_for

    def _trim(self, table: OrderedDict[Any, Any]) -> None:
        while len(table) > self.policy.max_tracked:
            k, v = next(iter(table.items()))
            if isinstance(v, _Key) and v.in_flight:
                table.move_to_end(k)
                break
            table.popitem(last=False)
