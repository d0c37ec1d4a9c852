"""The end-to-end suite's users: one login, one password and one role across every file.

The suite shares one stack, so one database, for the whole session. `add_user` (tests/support/e2e.py) leaves a
user that exists as it is, with its password and role: two e2e files that create the same login with different
passwords (or roles) break each other's sign-in, and which one fails depends on the order they run in. This
reads every `add_user` call in tests/e2e/*.py and tests/support/*.py from the source, follows each argument to
the string it is (a literal; a constant of the module or imported from tests.support; a local variable; a
`for` over a literal tuple; a parameter, through every call of the function, a pytest.mark.parametrize row, or
the calls of the fixture that hands the function out, as the `link` fixture does), and fails naming both files
when one login is created two ways. An argument it cannot follow to a string fails too, naming the line: the
check never passes by not seeing a user."""

from __future__ import annotations

import ast
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = ("tests/e2e", "tests/support")
CREATOR = ("tests.support.e2e", "add_user")
"""The one function that creates the suite's users; `sole_agent` and the `link` fixture call it."""

SOFTPHONE = "1090"
"""tests.support.e2e.SOFTPHONE_AGENT, created by two files with the suite's PASSWORD."""

Function = ast.FunctionDef | ast.AsyncFunctionDef
Env = dict[str, list[str]]


class Unresolved(Exception):
    """An argument of a user's creation that is not followed to a string."""


@dataclass
class Module:
    rel: str
    name: str
    tree: ast.Module
    constants: dict[str, ast.expr] = field(default_factory=dict)
    imports: dict[str, tuple[str, str]] = field(default_factory=dict)
    """local name -> (module, name) of `from module import name [as local]`"""
    functions: dict[str, Function] = field(default_factory=dict)
    """the module-level functions by name"""
    parents: dict[ast.AST, ast.AST] = field(default_factory=dict)


@dataclass(frozen=True)
class Created:
    login: str
    password: str
    role: str
    where: str
    """file:line of the outermost call that gave the values (a test's own line, not a helper's)"""


def _load(sources: dict[str, str]) -> dict[str, Module]:
    modules: dict[str, Module] = {}
    for rel, text in sources.items():
        tree = ast.parse(text, rel)
        name = rel.removesuffix(".py").replace("/", ".")
        mod = Module(rel, name, tree)
        for node in tree.body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                mod.constants[node.targets[0].id] = node.value
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
                mod.constants[node.target.id] = node.value
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                mod.functions[node.name] = node
        for any_node in ast.walk(tree):
            if isinstance(any_node, ast.ImportFrom) and any_node.module:
                for alias in any_node.names:
                    mod.imports[alias.asname or alias.name] = (any_node.module, alias.name)
            for child in ast.iter_child_nodes(any_node):
                mod.parents[child] = any_node
        modules[name] = mod
    return modules


class Reader:
    """Follows the arguments of calls to the strings they are, over `modules`."""

    def __init__(self, modules: dict[str, Module]) -> None:
        self.modules = modules
        self.depth = 0

    # --- where a node lives ---------------------------------------------------------------------------
    @staticmethod
    def enclosing(mod: Module, node: ast.AST) -> Function | None:
        parent = mod.parents.get(node)
        while parent is not None and not isinstance(parent, ast.FunctionDef | ast.AsyncFunctionDef):
            parent = mod.parents.get(parent)
        return parent

    @staticmethod
    def own_nodes(func: Function) -> Iterator[ast.AST]:
        """The nodes of `func`'s body, not those of functions nested in it."""
        todo: list[ast.AST] = list(func.body)
        while todo:
            node = todo.pop()
            yield node
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                todo.extend(ast.iter_child_nodes(node))

    # --- values ---------------------------------------------------------------------------------------
    def values(self, expr: ast.expr, mod: Module, func: Function | None, env: Env) -> list[str]:
        """The strings `expr` may be in `func` (None: at module level) with its parameters bound as `env`."""
        if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
            return [expr.value]
        if isinstance(expr, ast.Name):
            return self.name(expr.id, mod, func, env, expr)
        raise Unresolved(f"{mod.rel}:{expr.lineno}: {ast.unparse(expr)}")

    def items(self, expr: ast.expr, mod: Module, func: Function | None, env: Env) -> list[str]:
        """The strings a `for` over `expr` takes, one by one."""
        if isinstance(expr, ast.Tuple | ast.List):
            return [v for e in expr.elts for v in self.values(e, mod, func, env)]
        if isinstance(expr, ast.Name) and func is not None and func.args.vararg is not None:
            if expr.id == func.args.vararg.arg and expr.id in env:
                return env[expr.id]
        raise Unresolved(f"{mod.rel}:{expr.lineno}: for ... in {ast.unparse(expr)}")

    def name(self, name: str, mod: Module, func: Function | None, env: Env, at: ast.expr) -> list[str]:
        if func is not None:
            if name in env:
                return env[name]
            for node in self.own_nodes(func):
                if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
                    return self.values(node.value, mod, func, env)
                if isinstance(node, ast.For | ast.AsyncFor):
                    if isinstance(node.target, ast.Name) and node.target.id == name:
                        return self.items(node.iter, mod, func, env)
                    if isinstance(node.target, ast.Tuple) and isinstance(node.iter, ast.Tuple | ast.List):
                        names = [t.id if isinstance(t, ast.Name) else "" for t in node.target.elts]
                        if name in names and all(isinstance(row, ast.Tuple) for row in node.iter.elts):
                            i = names.index(name)
                            rows = [row for row in node.iter.elts if isinstance(row, ast.Tuple)]
                            return [v for row in rows for v in self.values(row.elts[i], mod, func, env)]
            if name in _params(func):
                raise Unresolved(f"{mod.rel}:{at.lineno}: parameter {name} of {func.name}, never given a string")
            outer = self.enclosing(mod, func)
            if outer is not None:
                return self.name(name, mod, outer, {}, at)
        if name in mod.constants:
            return self.values(mod.constants[name], mod, None, {})
        if name in mod.imports:
            source, original = mod.imports[name]
            if source in self.modules:
                return self.name(original, self.modules[source], None, {}, at)
        raise Unresolved(f"{mod.rel}:{at.lineno}: {name}")

    # --- how a function is called -----------------------------------------------------------------------
    def sites(self, mod: Module, func: Function) -> Iterator[tuple[Module, ast.Call, list[ast.expr]]]:
        """Each call of `func`: the module it is in, the call and its positional arguments (those after the
        function in `asyncio.to_thread(func, ...)`)."""
        if mod.functions.get(func.name) is func:
            for other in self.modules.values():
                local = [
                    n
                    for n, (m, orig) in other.imports.items()
                    if (m, orig) == (mod.name, func.name)  # imported
                ]
                if other is mod:
                    local.append(func.name)
                yield from self._calls_of(other, set(local))
            return
        # nested: handed out by a fixture (`yield func` / `return func`), called by the fixture's name
        fixture = self.enclosing(mod, func)
        if fixture is not None and _hands_out(fixture, func.name):
            for other in self.modules.values():
                yield from self._calls_of(other, {fixture.name}, parameter=True)

    def _calls_of(
        self, mod: Module, names: set[str], parameter: bool = False
    ) -> Iterator[tuple[Module, ast.Call, list[ast.expr]]]:
        if not names:
            return
        for node in ast.walk(mod.tree):
            if not isinstance(node, ast.Call):
                continue
            if isinstance(node.func, ast.Name) and node.func.id in names:
                if parameter:  # the fixture's value: the calling function takes the fixture as a parameter
                    caller = self.enclosing(mod, node)
                    if caller is None or node.func.id not in _params(caller):
                        continue
                yield mod, node, list(node.args)
            elif _to_thread(node) and isinstance(node.args[0], ast.Name) and node.args[0].id in names:
                yield mod, node, list(node.args[1:])

    def bindings(self, mod: Module, func: Function | None) -> list[tuple[Env, str]]:
        """Each way `func`'s parameters are bound to strings, with the outermost line that bound them ("" when
        nothing did: a test function pytest calls, a function called nowhere)."""
        if func is None:
            return [({}, "")]
        self.depth += 1
        try:
            assert self.depth < 20, f"calls nested too deep at {mod.rel}:{func.lineno}"
            found = self._parametrized(mod, func)
            for other, call, args in self.sites(mod, func):
                caller = self.enclosing(other, call)
                for env, where in self.bindings(other, caller):
                    found.append((self._bind(func, mod, args, call.keywords, other, caller, env, call),
                                  where or f"{other.rel}:{call.lineno}"))  # fmt: skip
            if found:
                return found
            # called by pytest (with fixtures, never strings), or called nowhere: then it creates nobody
            return (
                [({}, "")] if func.name.startswith("test") or any(_is_fixture(d) for d in func.decorator_list) else []
            )
        finally:
            self.depth -= 1

    def _parametrized(self, mod: Module, func: Function) -> list[tuple[Env, str]]:
        rows: list[tuple[Env, str]] = []
        for deco in func.decorator_list:
            if not (isinstance(deco, ast.Call) and isinstance(deco.func, ast.Attribute)):
                continue
            if deco.func.attr != "parametrize" or len(deco.args) < 2:
                continue
            names_arg, table = deco.args[0], deco.args[1]
            if isinstance(names_arg, ast.Constant) and isinstance(names_arg.value, str):
                names = [n.strip() for n in names_arg.value.split(",")]
            elif isinstance(names_arg, ast.Tuple | ast.List):
                names = [str(n.value) for n in names_arg.elts if isinstance(n, ast.Constant)]
            else:
                continue
            if not isinstance(table, ast.List | ast.Tuple):
                continue
            for row in table.elts:
                cells = row.elts if len(names) > 1 and isinstance(row, ast.Tuple) else [row]
                env: Env = {}
                for n, cell in zip(names, cells, strict=True):
                    try:
                        env[n] = self.values(cell, mod, None, {})
                    except Unresolved:
                        continue  # a parameter that is not a string (a number, an object): not a login
                rows.append((env, f"{mod.rel}:{deco.lineno}"))
        return rows

    def _bind(
        self,
        func: Function,
        mod: Module,
        args: list[ast.expr],
        keywords: list[ast.keyword],
        at: Module,
        caller: Function | None,
        env: Env,
        call: ast.Call,
    ) -> Env:
        """`func`'s parameters for one call: its arguments' strings in the caller, else the defaults'. A
        parameter whose argument is not a string is left out (it fails only if a user's creation reads it)."""
        a = func.args
        positional = [p.arg for p in (*a.posonlyargs, *a.args)]
        defaults = dict(zip(positional[len(positional) - len(a.defaults) :], a.defaults, strict=True))
        defaults |= {p.arg: d for p, d in zip(a.kwonlyargs, a.kw_defaults, strict=True) if d is not None}
        given: dict[str, ast.expr] = dict(zip(positional, args, strict=False))
        given |= {k.arg: k.value for k in keywords if k.arg is not None}
        bound: Env = {}
        for name in [*positional, *(p.arg for p in a.kwonlyargs)]:
            try:
                if name in given:
                    bound[name] = self.values(given[name], at, caller, env)
                elif name in defaults:
                    bound[name] = self.values(defaults[name], mod, None, {})
            except Unresolved:
                pass
        if a.vararg is not None:
            extra = args[len(positional) :]
            if any(isinstance(e, ast.Starred) for e in extra):
                raise Unresolved(f"{at.rel}:{call.lineno}: *arguments to {func.name}")
            bound[a.vararg.arg] = [v for e in extra for v in self.values(e, at, caller, env)]
        return bound

    # --- the users --------------------------------------------------------------------------------------
    def created(self) -> tuple[list[Created], list[str]]:
        """Every user the sources create (login, password, role, where) and what could not be followed."""
        module, name = CREATOR
        creator_mod = self.modules[module]
        creator = creator_mod.functions[name]
        users: list[Created] = []
        unresolved: list[str] = []
        for other, call, args in self.sites(creator_mod, creator):
            caller = self.enclosing(other, call)
            try:
                for env, where in self.bindings(other, caller):
                    bound = self._bind(creator, creator_mod, args, call.keywords, other, caller, env, call)
                    missing = [p for p in ("login", "password", "role") if p not in bound]
                    if missing:
                        # say which argument it was: follow it again, for the error's text
                        given = dict(zip(("config", "login", "role", "password"), args, strict=False))
                        given |= {k.arg: k.value for k in call.keywords if k.arg is not None}
                        for p in missing:
                            if p not in given:
                                raise Unresolved(f"{other.rel}:{call.lineno}: no {p}")
                            self.values(given[p], other, caller, env)
                    for login, password, role in itertools.product(bound["login"], bound["password"], bound["role"]):
                        users.append(Created(login, password, role, where or f"{other.rel}:{call.lineno}"))
            except Unresolved as exc:
                unresolved.append(f"{exc} (add_user at {other.rel}:{call.lineno})")
        return users, unresolved


def _params(func: Function) -> set[str]:
    a = func.args
    names = {p.arg for p in (*a.posonlyargs, *a.args, *a.kwonlyargs)}
    names |= {p.arg for p in (a.vararg, a.kwarg) if p is not None}
    return names


def _is_fixture(decorator: ast.expr) -> bool:
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    return isinstance(target, ast.Attribute) and target.attr == "fixture"


def _hands_out(fixture: Function, name: str) -> bool:
    return any(
        isinstance(node, ast.Yield | ast.Return) and isinstance(node.value, ast.Name) and node.value.id == name
        for node in ast.walk(fixture)
    )


def _to_thread(call: ast.Call) -> bool:
    f = call.func
    named = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""
    return named == "to_thread" and bool(call.args)


def conflicts(users: list[Created]) -> list[str]:
    """One line per login created with more than one (password, role): each way, with where."""
    ways: dict[str, dict[tuple[str, str], list[str]]] = {}
    for u in users:
        ways.setdefault(u.login, {}).setdefault((u.password, u.role), []).append(u.where)
    return [
        f"{login}: "
        + "; ".join(f"password {pw!r} role {role} at {', '.join(sorted(set(w)))}" for (pw, role), w in by.items())
        for login, by in sorted(ways.items())
        if len(by) > 1
    ]


def _suite_sources() -> dict[str, str]:
    return {
        path.relative_to(ROOT).as_posix(): path.read_text(encoding="utf-8")
        for folder in FOLDERS
        for path in sorted((ROOT / folder).glob("*.py"))
    }


def test_every_login_of_the_e2e_suite_is_created_with_one_password_and_role() -> None:
    users, unresolved = Reader(_load(_suite_sources())).created()
    assert unresolved == [], "add_user arguments not followed to a string:\n" + "\n".join(unresolved)
    # the check sees the users: the suite's own agents and supervisors, through every way it creates them
    logins = {u.login for u in users}
    assert {"boss", "1019", "1020", "1015", "1016", "1011", "1012", SOFTPHONE} <= logins, sorted(logins)
    clashes = conflicts(users)
    assert clashes == [], "a login created two ways (add_user keeps the first):\n" + "\n".join(clashes)


HELPERS = """
PASSWORD = "shared-pass"
def add_user(config, login, role="agent", password=PASSWORD, extra=()):
    pass
async def sole_agent(stack, agent, password):
    add_user(stack.config, agent, "agent", password)
"""


def _sources(**tests: str) -> dict[str, str]:
    return {"tests/support/e2e.py": HELPERS, **{f"tests/e2e/{name}.py": text for name, text in tests.items()}}


def test_one_login_with_two_passwords_in_two_files_is_named_with_both_files() -> None:
    users, unresolved = Reader(
        _load(
            _sources(
                test_a="""
from tests.support.e2e import sole_agent
AGENT = "1019"
async def test_a(stack):
    async with sole_agent(stack, AGENT, "pass-a"):
        pass
""",
                test_b="""
import pytest
from tests.support.e2e import add_user
@pytest.mark.parametrize(("lang", "agent"), [("zh", "1019"), ("en", "1018")])
def test_b(stack, lang, agent):
    add_user(stack.config, agent, "agent", "pass-b")
""",
                test_c="""
from tests.support.e2e import add_user
async def desks(stack, *logins):
    for login in logins:
        await asyncio.to_thread(add_user, stack.config, login)
async def test_c(stack):
    async with desks(stack, "1018", "1017"):
        pass
""",
            )
        )
    ).created()
    assert unresolved == []
    assert sorted((u.login, u.password, u.where) for u in users) == [
        ("1017", "shared-pass", "tests/e2e/test_c.py:7"),
        ("1018", "pass-b", "tests/e2e/test_b.py:4"),
        ("1018", "shared-pass", "tests/e2e/test_c.py:7"),
        ("1019", "pass-a", "tests/e2e/test_a.py:5"),
        ("1019", "pass-b", "tests/e2e/test_b.py:4"),
    ]
    assert conflicts(users) == [
        "1018: password 'pass-b' role agent at tests/e2e/test_b.py:4; "
        "password 'shared-pass' role agent at tests/e2e/test_c.py:7",
        "1019: password 'pass-a' role agent at tests/e2e/test_a.py:5; "
        "password 'pass-b' role agent at tests/e2e/test_b.py:4",
    ]


def test_a_login_created_through_a_fixture_with_another_role_is_a_clash_too() -> None:
    users, _ = Reader(
        _load(
            _sources(
                conftest="""
import pytest
from tests.support.e2e import add_user
@pytest.fixture
async def link(stack):
    async def open_as(login, role):
        add_user(stack.config, login, role)
    yield open_as
""",
                test_d="""
async def test_d(stack, link):
    await link("boss", "supervisor")
""",
                test_e="""
from tests.support.e2e import PASSWORD, add_user
def test_e(stack):
    password = PASSWORD
    add_user(stack.config, "boss", "agent", password)
""",
            )
        )
    ).created()
    assert conflicts(users) == [
        "boss: password 'shared-pass' role supervisor at tests/e2e/test_d.py:3; "
        "password 'shared-pass' role agent at tests/e2e/test_e.py:5"
    ]


def test_an_argument_that_is_not_followed_to_a_string_fails_the_check() -> None:
    _, unresolved = Reader(
        _load(
            _sources(
                test_f="""
from tests.support.e2e import add_user
def test_f(stack):
    add_user(stack.config, make_login(), "agent", "pass-f")
""",
            )
        )
    ).created()
    assert unresolved == ["tests/e2e/test_f.py:4: make_login() (add_user at tests/e2e/test_f.py:4)"]
