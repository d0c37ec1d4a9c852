"""The second factor (ari_app.totp) and the web sign-in's second step (ari_app.web.signin), on a controlled
clock: a code of the step before, of now and of the step after is taken, two steps off is not; a code is taken
once (the same one again, or an earlier step's, is `replayed`); only admins and supervisors enrol, and
enrolment is audited; after the password an enrolled user is only asked for the code, wrong codes count
toward the sign-in guard's throttle as wrong passwords do (a right password in between forgives nothing), and
the right code after the wait signs in; the step ends after five wrong codes and after five minutes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pyotp
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ari_app import totp
from ari_app.cases.actor import Actor
from ari_app.signin_guard import SignInGuard
from ari_app.web.signin import PENDING_FOR, PENDING_TRIES, WebSignIn
from schema.cases import AuditEntry
from schema.db import make_engine, make_sessionmaker, upgrade
from schema.users import Role, User
from tests.support.clock import Clock
from tests.support.users import PASSWORD, user

T0 = datetime(2026, 12, 2, 9, 0, 10, tzinfo=UTC)  # 10 s into a 30-second step
ADMIN = Actor(user_id=None, login="cli:test", role=Role.ADMIN)


@pytest.fixture
def sessions(tmp_path: Path) -> sessionmaker[Session]:
    engine = make_engine(f"sqlite:///{tmp_path / 'totp.db'}")
    upgrade(engine)
    made = make_sessionmaker(engine)
    with made.begin() as s:
        s.add_all(
            [
                user("boss", Role.SUPERVISOR, display_name="值班长"),
                user("root", Role.ADMIN, display_name="管理员"),
                user("water", Role.DEPARTMENT, display_name="供水所", unit_id=1),
            ]
        )
    return made


def enrol(sessions: sessionmaker[Session], login: str) -> totp.Enrolment:
    with sessions.begin() as s:
        return totp.enable(s, login, ADMIN, T0)


def user_id(sessions: sessionmaker[Session], login: str) -> int:
    with sessions() as s:
        found = s.scalar(select(User.id).where(User.login == login))
        assert found is not None
        return found


def test_a_code_is_taken_within_one_step_either_side_and_only_once(sessions: sessionmaker[Session]) -> None:
    enrolment = enrol(sessions, "boss")
    assert enrolment.uri.startswith("otpauth://totp/") and f"secret={enrolment.secret}" in enrolment.uri
    assert "issuer=12345%20Hotline" in enrolment.uri
    uid, step = user_id(sessions, "boss"), totp.step_of(T0)
    app = pyotp.TOTP(enrolment.secret)  # what the user's authenticator app computes
    assert totp.code_at(enrolment.secret, step) == app.at(T0)

    for off in (-2, 2):
        assert totp.check(sessions, uid, totp.code_at(enrolment.secret, step + off), T0) is totp.Verdict.WRONG
    for bad in ("", "12345", "1234567", "abcdef"):
        assert totp.check(sessions, uid, bad, T0) is totp.Verdict.WRONG
    assert totp.check(sessions, uid, totp.code_at(enrolment.secret, step - 1), T0) is totp.Verdict.OK
    assert totp.check(sessions, uid, totp.code_at(enrolment.secret, step - 1), T0) is totp.Verdict.REPLAYED
    assert totp.check(sessions, uid, app.at(T0), T0) is totp.Verdict.OK  # a later step: taken
    assert totp.check(sessions, uid, app.at(T0), T0) is totp.Verdict.REPLAYED
    later = totp.code_at(enrolment.secret, step + 1)
    assert totp.check(sessions, uid, later, T0) is totp.Verdict.OK
    # the step before the last taken one is still in the window at T0 + 30 s, but refused: no going back
    assert totp.check(sessions, uid, app.at(T0), T0.replace(second=40)) is totp.Verdict.REPLAYED


def test_only_admins_and_supervisors_enrol_and_it_is_audited(sessions: sessionmaker[Session]) -> None:
    with pytest.raises(totp.TotpError, match="admins and supervisors"), sessions.begin() as s:
        totp.enable(s, "water", ADMIN, T0)
    with pytest.raises(totp.TotpError, match="no user"), sessions.begin() as s:
        totp.enable(s, "nobody", ADMIN, T0)
    first = enrol(sessions, "root")
    again = enrol(sessions, "root")  # enrolling again (a lost phone) replaces the secret
    assert first.secret != again.secret
    uid = user_id(sessions, "root")
    assert totp.check(sessions, uid, totp.code_at(first.secret, totp.step_of(T0)), T0) is totp.Verdict.WRONG
    with sessions.begin() as s:
        assert totp.disable(s, "root", ADMIN, T0) is True
        assert totp.disable(s, "root", ADMIN, T0) is False
    assert not totp.enrolled(sessions, uid)
    assert totp.check(sessions, uid, "123456", T0) is totp.Verdict.NOT_ENROLLED
    with sessions() as s:
        actions = list(s.scalars(select(AuditEntry.action).where(AuditEntry.action.like("totp_%"))))
        details = list(s.scalars(select(AuditEntry.detail).where(AuditEntry.action.like("totp_%"))))
    assert actions == ["totp_enabled", "totp_enabled", "totp_disabled"]
    assert not any(first.secret in (d or "") or again.secret in (d or "") for d in details)  # never written out


def test_wrong_codes_count_toward_the_guard_and_the_right_code_signs_in_after_the_wait(
    sessions: sessionmaker[Session],
) -> None:
    enrolment = enrol(sessions, "boss")
    clock = Clock(T0)
    guard = SignInGuard(clock)
    signin = WebSignIn(sessions, guard, clock)

    async def run() -> None:
        first = await signin.sign_in("boss", PASSWORD, "10.0.0.9")
        assert first.user is not None and first.code_asked  # the password alone does not sign in
        step = signin.open_pending(first.user, "10.0.0.9")
        outcomes = [await signin.second_factor(step, "000000", "10.0.0.9") for _ in range(3)]
        assert [o.refused for o in outcomes] == ["bad_code"] * 3  # the guard's three free failures
        assert guard.failures("10.0.0.9", "boss") == 3
        held = await signin.sign_in("boss", PASSWORD, "10.0.0.9")  # the password waits as a code does
        assert held.refused == "too_many_attempts"
        clock.advance(seconds=held.retry_after)
        again = await signin.sign_in("boss", PASSWORD, "10.0.0.9")  # right password, code still to come
        assert again.refused is None and again.code_asked
        assert guard.failures("10.0.0.9", "boss") == 3  # forgives nothing
        wrong = await signin.second_factor(step, "000001", "10.0.0.9")
        assert wrong.refused == "bad_code"
        throttled = await signin.second_factor(step, enrolment_code(), "10.0.0.9")
        assert throttled.refused == "too_many_attempts" and throttled.retry_after >= 1  # even the right code
        clock.advance(seconds=throttled.retry_after)
        done = await signin.second_factor(step, enrolment_code(), "10.0.0.9")
        assert done.user is not None and done.user.login == "boss"
        assert guard.failures("10.0.0.9", "boss") == 0
        assert signin.pending(step) is None  # the step is used up
        replay = await signin.second_factor(step, enrolment_code(), "10.0.0.9")
        assert replay.refused == "bad_credentials"

    def enrolment_code() -> str:
        return pyotp.TOTP(enrolment.secret).at(clock())

    asyncio.run(run())
    signin.stop()
    with sessions() as s:
        rows = list(s.scalars(select(AuditEntry).where(AuditEntry.login == "boss").order_by(AuditEntry.id)))
    actions = [r.action for r in rows if r.action.startswith("sign_in")]
    assert actions == [
        "sign_in_code_asked",
        *["sign_in_failed"] * 3,
        "sign_in_throttled",
        "sign_in_code_asked",
        "sign_in_failed",
        "sign_in_throttled",
        "sign_in",
    ]
    assert '"second_factor": "totp"' in (rows[-1].detail or "")
    assert all('"step": "totp"' in (r.detail or "") for r in rows if r.action == "sign_in_failed")


def test_a_second_step_ends_after_five_wrong_codes_and_after_five_minutes(sessions: sessionmaker[Session]) -> None:
    enrolment = enrol(sessions, "root")
    clock = Clock(T0)
    signin = WebSignIn(sessions, SignInGuard(clock), clock)

    async def run() -> None:
        first = await signin.sign_in("root", PASSWORD, "10.0.0.7")
        assert first.user is not None
        step = signin.open_pending(first.user, "10.0.0.7")
        wrong = 0
        while wrong < PENDING_TRIES:  # each after the guard's wait, as a patient guesser would
            outcome = await signin.second_factor(step, "999999", "10.0.0.7")
            if outcome.refused == "too_many_attempts":
                clock.advance(seconds=outcome.retry_after)
                continue
            assert outcome.refused == "bad_code", wrong
            wrong += 1
        assert clock() - T0 < PENDING_FOR
        assert signin.pending(step) is None
        right = pyotp.TOTP(enrolment.secret).at(clock())
        assert (await signin.second_factor(step, right, "10.0.0.7")).refused == "bad_credentials"

        clock.advance(hours=2)  # the guard forgets
        again = await signin.sign_in("root", PASSWORD, "10.0.0.7")
        assert again.user is not None
        late = signin.open_pending(again.user, "10.0.0.7")
        clock.advance(minutes=5)
        assert signin.pending(late) is None
        code = pyotp.TOTP(enrolment.secret).at(clock())
        assert (await signin.second_factor(late, code, "10.0.0.7")).refused == "bad_credentials"

    asyncio.run(run())
    signin.stop()
