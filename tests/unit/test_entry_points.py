"""Every console entry point and every `hotline` subcommand, run as a user runs them: the console script the
project's virtual environment has, as its own process on this machine's Python. None may crash at import
or while building its help; every module of the packages imports on this interpreter; the interpreter
versions pyproject.toml claims are the ones the suite runs on."""

from __future__ import annotations

import argparse
import subprocess
import sys
import tomllib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from ari_app.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _commands(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command path (`()`, `("config",)`, `("config", "check")`, ...) the parser accepts."""
    found = [prefix]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += _commands(sub, (*prefix, name))
    return found


def _run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False, cwd=ROOT)


def test_every_console_script_is_installed() -> None:
    for name in PYPROJECT["project"]["scripts"]:
        assert (BIN / name).is_file(), f"{name} not installed in {BIN} (scripts/setup.sh installs it)"


def test_every_subcommand_help_runs_as_a_process() -> None:
    paths = [(script, cmd) for script in PYPROJECT["project"]["scripts"] for cmd in _commands(build_parser())]
    assert len(paths) > 15  # every subcommand and their own subcommands (config check, users add, ...)
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda p: _run([str(BIN / p[0]), *p[1], "--help"]), paths))
    for (script, cmd), proc in zip(paths, results, strict=True):
        shown = " ".join((script, *cmd))
        assert proc.returncode == 0, f"`{shown} --help` failed:\n{proc.stderr}"
        assert proc.stdout.startswith("usage:"), f"`{shown} --help` printed:\n{proc.stdout}"
        assert "Traceback" not in proc.stderr, proc.stderr


@pytest.mark.parametrize("package", ["ari_app", "cti_desktop", "agi_scripts", "recordings", "schema"])
def test_every_module_imports_on_this_python(package: str) -> None:
    """Subcommands import their heavy parts (the desktop's Qt, the speech model) only when they run, so
    `--help` alone would not find a module that fails to import on this interpreter."""
    code = (
        "import importlib, pkgutil, sys\n"
        f"pkg = importlib.import_module({package!r})\n"
        "for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + '.'):\n"
        "    if '.migrations.' not in m.name:\n"
        "        importlib.import_module(m.name)\n"
    )
    proc = _run([sys.executable, "-c", code])
    assert proc.returncode == 0, proc.stderr


def test_the_python_versions_claimed_are_the_ones_tested() -> None:
    """pyproject.toml may claim only the Python the suite (and CI, on this machine's Python) runs on."""
    claim = PYPROJECT["project"]["requires-python"]
    tested = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert claim == f">={tested},<3.{sys.version_info.minor + 1}", claim
    assert PYPROJECT["tool"]["mypy"]["python_version"] == tested
    assert PYPROJECT["tool"]["ruff"]["target-version"] == f"py{tested.replace('.', '')}"
