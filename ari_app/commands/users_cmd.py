"""`hotline users add|passwd|disable|enable|signout|list`: the people who sign in, their passwords and
their sessions.

A password is read from a prompt (twice), or from standard input with `--password-stdin`; never from the
command line, where it would sit in the shell history and the process list. `passwd`, `disable` and
`signout` end every session the user has (ari_app.accounts): a running server closes their desktops within
a second, with a push saying why. Each change is in the audit log as done by `cli:<the OS user>`.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ari_app.commands.common import cli_actor, database
from ari_app.config import Config, ConfigError, load_config

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("users", help="add users, set passwords, list users")
    usub = p.add_subparsers(dest="users_command", metavar="ACTION", required=True)
    add = usub.add_parser("add", help="add a user (for an agent, the login is the agent id from config.yaml)")
    add.add_argument("login")
    add.add_argument("--name", help="display name (default: the agent's name from config, or the login)")
    add.add_argument(
        "--role",
        default="agent",
        choices=["agent", "supervisor", "qa", "hotline_unit", "department", "admin"],
    )
    add.add_argument("--hotline", help="the hotline a hotline_unit user works for")
    add.add_argument(
        "--unit-id", type=int, help="the cooperating unit a department user works for (hotline units list)"
    )
    add.add_argument("--unit", metavar="NAME", help="the same unit by its name instead of its id")
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    add.set_defaults(func=cmd_add)
    pw = usub.add_parser("passwd", help="set a user's password")
    pw.add_argument("login")
    pw.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    pw.set_defaults(func=cmd_passwd)
    for name, helptext, func in (
        ("disable", "disable a user: they cannot sign in and their open sessions end", "disable"),
        ("enable", "enable a disabled user again", "enable"),
        ("signout", "sign a user out everywhere: every session and open desktop of theirs ends", "signout"),
    ):
        cmd = usub.add_parser(name, help=helptext)
        cmd.add_argument("login")
        cmd.set_defaults(func=cmd_account, account_action=func)
    totp = usub.add_parser("totp", help="an admin's or supervisor's second factor (a one-time code at web sign-in)")
    tsub = totp.add_subparsers(dest="totp_command", metavar="ACTION", required=True)
    for name, helptext in (
        ("enable", "enrol (again): prints the otpauth:// URI and the secret once, for an authenticator app"),
        ("disable", "remove the second factor: the password alone signs in again"),
    ):
        cmd = tsub.add_parser(name, help=helptext)
        cmd.add_argument("login")
        cmd.set_defaults(func=cmd_totp, totp_action=name)
    ls = usub.add_parser("list", help="list users (never their password hashes)")
    ls.set_defaults(func=cmd_list)


def read_password(from_stdin: bool) -> str:
    """The new password, from stdin (its first line) or an interactive prompt typed twice. ValueError when
    there is none: standard input ended at the prompt (no terminal: a script, `</dev/null`), or the line
    `--password-stdin` read is empty or missing; or when the two typed differ or the policy refuses it."""
    from ari_app.auth import check_password_policy

    if from_stdin:
        line = sys.stdin.readline()
        password = line.rstrip("\r\n")
        if not line:
            raise ValueError("--password-stdin: standard input is empty; give the password as its first line")
        if not password:
            raise ValueError("--password-stdin: the password on standard input is empty (its first line is blank)")
    else:
        try:
            password = getpass.getpass("Password: ")
            again = getpass.getpass("Again: ")
        except EOFError:
            print(file=sys.stderr)  # the prompt's line ends before the refusal
            raise ValueError(
                "standard input ended before a password was typed; to give one without a terminal, "
                "send it on standard input with --password-stdin"
            ) from None
        if again != password:
            raise ValueError("the two passwords differ")
    check_password_policy(password)
    return password


def _change(action: str, cfg: Config, change: Callable[[Session], None]) -> int:
    """Run `change` in one transaction on the deployment's database; a refusal (AccountError, ValueError)
    is printed as `users ACTION: why` with exit status 1."""
    from ari_app.accounts import AccountError

    try:
        with database(cfg) as s, s.begin():
            change(s)
    except (AccountError, ValueError) as exc:
        return _refused(action, exc)
    return 0


def _refused(action: str, exc: Exception) -> int:
    print(f"users {action}: {exc}", file=sys.stderr)
    return 1


def _config(args: argparse.Namespace, action: str) -> Config | None:
    """The config, or None after printing why not as `users ACTION: ...`."""
    try:
        return load_config(args.config)
    except ConfigError as exc:
        _refused(action, exc)
        return None


def _unit_id(s: Session, args: argparse.Namespace) -> int | None:
    """The id of the enabled unit `--unit-id` or `--unit` names, None when neither is given; ValueError when
    it is no unit or a disabled one."""
    from ari_app.cases.errors import CatalogueInvalid
    from ari_app.cases.units import active_unit

    key = args.unit_id if args.unit_id is not None else args.unit
    if key is None:
        return None
    try:
        return active_unit(s, key).id
    except CatalogueInvalid as exc:
        raise ValueError(exc.message) from None


def _login_free(s: Session, login: str) -> None:
    from sqlalchemy import select

    from schema.users import User

    if s.scalars(select(User.id).where(User.login == login)).first() is not None:
        raise ValueError(f"{login} exists; use `hotline users passwd`")


def cmd_add(args: argparse.Namespace) -> int:
    """`users add LOGIN`: the role's requirements, the login and the unit are checked before the password
    is asked for, and again in the transaction that adds the user."""
    from ari_app.auth import hash_password
    from schema.users import Role, User

    try:
        cfg = load_config(args.config)
        role = Role(args.role)
        if role is Role.HOTLINE_UNIT and (not args.hotline or cfg.hotline(args.hotline) is None):
            raise ValueError("a hotline_unit user needs --hotline with a configured hotline number")
        if args.unit_id is not None and args.unit is not None:
            raise ValueError("give --unit-id or --unit, not both")
        if role is Role.DEPARTMENT and args.unit_id is None and args.unit is None:
            raise ValueError("a department user needs --unit-id (or --unit NAME); see `hotline units list`")
        agent = cfg.agent(args.login)
        if role is Role.AGENT and agent is None:
            raise ValueError(
                f"{args.login} is not an agent id in {args.config} (agents: "
                f"{', '.join(a.id for a in cfg.agents) or 'none'}); add the agent and its phone there first, "
                "or give another --role"
            )
        with database(cfg) as s:
            _login_free(s, args.login)
            _unit_id(s, args)
        password = read_password(args.password_stdin)
    except (ConfigError, ValueError) as exc:
        return _refused("add", exc)

    def add(s: Session) -> None:
        _login_free(s, args.login)
        unit_id = _unit_id(s, args)
        display_name = args.name or (agent.name if agent else args.login)
        password_hash = hash_password(password)
        s.add(User(login=args.login, display_name=display_name, role=role, password_hash=password_hash,
                   hotline=args.hotline, unit_id=unit_id))  # fmt: skip

    if _change("add", cfg, add):
        return 1
    print(f"added {args.login} ({role})")
    return 0


def cmd_passwd(args: argparse.Namespace) -> int:
    """`users passwd LOGIN`: the user must exist before the password is asked for (and still when it is
    stored)."""
    from ari_app.accounts import AccountError, set_password
    from ari_app.auth import hash_password

    try:
        cfg = load_config(args.config)
        with database(cfg) as s:
            _user_exists(s, args.login)
        password = read_password(args.password_stdin)
    except (ConfigError, ValueError, AccountError) as exc:
        return _refused("passwd", exc)
    now, actor = datetime.now(UTC), cli_actor()
    if _change("passwd", cfg, lambda s: set_password(s, args.login, hash_password(password), actor, now)):
        return 1
    print(f"password of {args.login} set; their open sessions end")
    return 0


def _user_exists(s: Session, login: str) -> None:
    """AccountError `there is no user LOGIN` (as ari_app.accounts says it) when there is none."""
    from sqlalchemy import select

    from ari_app.accounts import AccountError
    from ari_app.protocol import ErrorId
    from schema.users import User

    if s.scalars(select(User.id).where(User.login == login)).first() is None:
        raise AccountError(f"there is no user {login!r}", error_id=ErrorId.UNKNOWN_USER)


def cmd_account(args: argparse.Namespace) -> int:
    from ari_app.accounts import end_sessions, set_active

    action: str = args.account_action
    cfg = _config(args, action)
    if cfg is None:
        return 1
    now, actor = datetime.now(UTC), cli_actor()

    def change(s: Session) -> None:
        if action == "signout":
            end_sessions(s, args.login, actor, now)
        else:
            set_active(s, args.login, action == "enable", actor, now)

    if _change(action, cfg, change):
        return 1
    done = {"disable": "disabled; their open sessions end", "enable": "enabled", "signout": "signed out everywhere"}
    print(f"{args.login} {done[action]}")
    return 0


def cmd_totp(args: argparse.Namespace) -> int:
    """`users totp enable|disable LOGIN` (ari_app.totp): enrolment prints the secret this once; it is never
    shown again (a lost phone is enrolled again, which replaces the secret)."""
    from ari_app.totp import Enrolment, TotpError, disable, enable

    action = f"totp {args.totp_action}"
    cfg = _config(args, action)
    if cfg is None:
        return 1
    now, actor = datetime.now(UTC), cli_actor()
    done: list[Enrolment | bool] = []
    try:
        with database(cfg) as s, s.begin():
            if args.totp_action == "enable":
                done.append(enable(s, args.login, actor, now))
            else:
                done.append(disable(s, args.login, actor, now))
    except TotpError as exc:
        return _refused(action, exc)
    (result,) = done
    if isinstance(result, Enrolment):
        print(f"second factor of {args.login} enrolled; scan this URI (or type the secret) in an authenticator app.")
        print("It is shown this once only.")
        print(f"uri:    {result.uri}")
        print(f"secret: {result.secret}")
    else:
        print(f"second factor of {args.login} {'removed' if result else 'was not enrolled'}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from schema.users import User

    cfg = _config(args, "list")
    if cfg is None:
        return 1
    with database(cfg) as s:
        for u in s.scalars(select(User).order_by(User.login)):
            scope = u.hotline or (f"unit {u.unit_id}" if u.unit_id else "")
            state = "" if u.active else " (inactive)"
            pw = "password set" if u.password_hash else "no password"
            print(f"{u.login}\t{u.role}\t{u.display_name}\t{scope}\t{pw}{state}")
    return 0
