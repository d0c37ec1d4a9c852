"""The test suites' own layering: test modules and benchmarks share code through the `tests.support` package
and never import each other; a conftest.py holds only fixtures and pytest hooks (fixtures shared by two
folders live in tests/support and each folder's conftest.py takes them from there)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _sources() -> Iterator[tuple[str, ast.Module]]:
    for folder in ("tests", "benchmarks"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            yield rel, ast.parse(path.read_text(encoding="utf-8"), rel)


def _shared(module: str) -> bool:
    return module == "tests.support" or module.startswith("tests.support.")


def _from_tests(module: str) -> bool:
    return module == "tests" or module.startswith("tests.")


def test_test_modules_import_only_the_support_package_of_the_suite() -> None:
    wrong = []
    for rel, tree in _sources():
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    wrong.append(f"{rel}:{node.lineno}: a relative import")
                    continue
                base = node.module or ""
                modules = [f"{base}.{alias.name}" for alias in node.names] if base == "tests" else [base]
            else:
                continue
            wrong += [f"{rel}:{node.lineno}: {m}" for m in modules if _from_tests(m) and not _shared(m)]
    assert wrong == [], "import shared test code from tests.support:\n" + "\n".join(wrong)


def _is_fixture(decorator: ast.expr) -> bool:
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    return isinstance(target, ast.Attribute) and target.attr in ("fixture", "hookimpl")


def test_conftest_files_hold_only_fixtures_and_hooks() -> None:
    wrong = []
    for rel, tree in _sources():
        if not rel.endswith("/conftest.py"):
            continue
        for node in tree.body:
            if isinstance(node, ast.ClassDef):
                wrong.append(f"{rel}:{node.lineno}: class {node.name}")
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                if not node.name.startswith("pytest_") and not any(_is_fixture(d) for d in node.decorator_list):
                    wrong.append(f"{rel}:{node.lineno}: def {node.name}")
    assert wrong == [], "move shared code to tests/support:\n" + "\n".join(wrong)
