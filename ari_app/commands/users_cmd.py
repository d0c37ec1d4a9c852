"""`hotline users add|passwd|list`: the people who sign in and their passwords.

A password is read from a prompt (twice), or from standard input with `--password-stdin`; never from the
command line, where it would sit in the shell history and the process list.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import TYPE_CHECKING

from ari_app.config import Config, ConfigError, load_config

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session, sessionmaker


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
    add.add_argument("--unit-id", type=int, help="the cooperating unit a department user works for")
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    add.set_defaults(func=cmd_add)
    pw = usub.add_parser("passwd", help="set a user's password")
    pw.add_argument("login")
    pw.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    pw.set_defaults(func=cmd_passwd)
    ls = usub.add_parser("list", help="list users (never their password hashes)")
    ls.set_defaults(func=cmd_list)


def read_password(from_stdin: bool) -> str:
    """The new password, from stdin (first line) or an interactive prompt typed twice."""
    from ari_app.auth import check_password_policy

    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            raise ValueError("the two passwords differ")
    check_password_policy(password)
    return password


def _open(args: argparse.Namespace) -> tuple[Config, Engine, sessionmaker[Session]]:
    from schema.db import make_engine, make_sessionmaker, upgrade

    cfg = load_config(args.config)
    engine = make_engine(cfg.database_url)
    upgrade(engine)
    return cfg, engine, make_sessionmaker(engine)


def cmd_add(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from ari_app.auth import hash_password
    from schema.users import Role, User

    try:
        cfg, engine, sessions = _open(args)
        role = Role(args.role)
        if role is Role.HOTLINE_UNIT and (not args.hotline or cfg.hotline(args.hotline) is None):
            raise ValueError("a hotline_unit user needs --hotline with a configured hotline number")
        if role is Role.DEPARTMENT and args.unit_id is None:
            raise ValueError("a department user needs --unit-id")
        agent = cfg.agent(args.login)
        if role is Role.AGENT and agent is None:
            print(f"note: {args.login} is not an agent in {args.config}; it cannot join the queue", file=sys.stderr)
        password = read_password(args.password_stdin)
    except (ConfigError, ValueError) as exc:
        print(f"users add: {exc}", file=sys.stderr)
        return 1
    try:
        with sessions() as s, s.begin():
            if s.scalars(select(User).where(User.login == args.login)).first() is not None:
                print(f"users add: {args.login} exists; use `hotline users passwd`", file=sys.stderr)
                return 1
            s.add(
                User(
                    login=args.login,
                    display_name=args.name or (agent.name if agent else args.login),
                    role=role,
                    password_hash=hash_password(password),
                    hotline=args.hotline,
                    unit_id=args.unit_id,
                )
            )
    finally:
        engine.dispose()
    print(f"added {args.login} ({role})")
    return 0


def cmd_passwd(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from ari_app.auth import hash_password
    from schema.users import User

    try:
        _cfg, engine, sessions = _open(args)
        password = read_password(args.password_stdin)
    except (ConfigError, ValueError) as exc:
        print(f"users passwd: {exc}", file=sys.stderr)
        return 1
    try:
        with sessions() as s, s.begin():
            user = s.scalars(select(User).where(User.login == args.login)).first()
            if user is None:
                print(f"users passwd: no user {args.login}", file=sys.stderr)
                return 1
            user.password_hash = hash_password(password)
    finally:
        engine.dispose()
    print(f"password of {args.login} set")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from schema.users import User

    try:
        _cfg, engine, sessions = _open(args)
    except ConfigError as exc:
        print(f"users list: {exc}", file=sys.stderr)
        return 1
    try:
        with sessions() as s:
            for u in s.scalars(select(User).order_by(User.login)):
                scope = u.hotline or (f"unit {u.unit_id}" if u.unit_id else "")
                state = "" if u.active else " (inactive)"
                pw = "password set" if u.password_hash else "no password"
                print(f"{u.login}\t{u.role}\t{u.display_name}\t{scope}\t{pw}{state}")
    finally:
        engine.dispose()
    return 0
