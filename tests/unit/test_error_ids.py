"""Every refusal the server can make carries an `ErrorId` member, and every `ErrorId` is documented.

A client acts on `error_id` (docs/protocol.md, "Error ids"); an id spelt as a bare string somewhere in the
code could drift from the enum and from the table without anything noticing. These tests read the code
itself: the exception classes it defines and the literals it passes."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import ari_app
from ari_app.protocol import DomainError, ErrorId

ROOT = Path(__file__).resolve().parents[2]
PROTOCOL_DOC = ROOT / "docs" / "protocol.md"


def _documented_ids() -> set[str]:
    text = PROTOCOL_DOC.read_text(encoding="utf-8")
    table = text.split("## Error ids", 1)[1].split("\n## ", 1)[0]
    ids: set[str] = set()
    for line in table.splitlines():
        if line.startswith("| `"):
            first_cell = line.split("|")[1]
            ids.update(re.findall(r"`([a-z_]+)`", first_cell))
    return ids


def _modules() -> list[object]:
    found = []
    for info in pkgutil.walk_packages(ari_app.__path__, "ari_app."):
        found.append(importlib.import_module(info.name))
    return found


def test_every_error_id_is_in_the_protocol_document_and_nothing_else_is() -> None:
    documented = _documented_ids()
    assert {e.value for e in ErrorId} - documented == set(), "ErrorId members missing from docs/protocol.md"
    assert documented - {e.value for e in ErrorId} == set(), "docs/protocol.md lists ids that are no ErrorId"


def test_every_server_exception_with_an_error_id_is_a_domain_error_with_an_error_id_member() -> None:
    classes = {
        obj
        for module in _modules()
        for _, obj in inspect.getmembers(module, inspect.isclass)
        if issubclass(obj, BaseException) and obj.__module__.startswith("ari_app.")
    }
    with_id = {c for c in classes if "error_id" in dir(c)}
    assert len(with_id) >= 15, sorted(c.__name__ for c in with_id)  # the walk found the errors at all
    for cls in with_id:
        assert issubclass(cls, DomainError), f"{cls.__module__}.{cls.__name__} is not a DomainError"
        assert isinstance(cls.error_id, ErrorId), f"{cls.__name__}.error_id is {cls.error_id!r}"


def _bare_ids(path: Path) -> list[str]:
    """`error_id="..."`, `error_id = "..."` and `ProtocolError("...")` / `error("...")` with a string literal."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        literal = None
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "error_id" for t in node.targets):
            literal = node.value
        elif isinstance(node, ast.Call):
            func = node.func
            name = getattr(func, "id", "")  # ProtocolError(...), error(...)
            if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "p":
                name = func.attr  # p.error(...), p.ProtocolError(...); not log.error(...)
            for kw in node.keywords:
                if kw.arg == "error_id":
                    literal = kw.value
            if name in ("ProtocolError", "error") and node.args:
                literal = literal or node.args[0]
        if isinstance(literal, ast.Constant) and isinstance(literal.value, str):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {literal.value!r}")
    return found


def test_no_error_id_is_spelt_as_a_bare_string() -> None:
    bare = [hit for path in sorted((ROOT / "ari_app").rglob("*.py")) for hit in _bare_ids(path)]
    assert bare == []


def test_a_refusal_keeps_its_class_id_or_the_one_it_was_given() -> None:
    from ari_app.cases.errors import CaseNotFound
    from ari_app.transfers import TransferError

    assert CaseNotFound("no such case", case=7).error_id is ErrorId.CASE_NOT_FOUND
    given = TransferError("busy", error_id=ErrorId.TRANSFER_IN_PROGRESS)
    assert (given.error_id, given.message, given.detail) == (ErrorId.TRANSFER_IN_PROGRESS, "busy", {})
    assert TransferError("x").error_id is ErrorId.INTERNAL_ERROR  # the base's, never a made-up string
