#!/usr/bin/env bash
# Set up everything the tests need (packages, the Asterisk root, PostgreSQL) and run the whole suite:
# lint, types, import layers, unit tests, then the end-to-end tests with real SIP calls into a real Asterisk.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
export QT_QPA_PLATFORM=offscreen
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/lint-imports --no-cache  # the layers: contracts in pyproject.toml
pgenv=$(scripts/postgres.sh --env)  # a PostgreSQL that does not start fails the run (its tests would be skipped)
eval "$pgenv"
trap 'scripts/postgres.sh --stop >/dev/null 2>&1 || true' EXIT
if [ "$#" -gt 0 ]; then
    .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
    exit 0
fi
# The desktop's widget tests first, in a process of their own under a deadline (they take about 15 s). They
# used to hang now and then inside Qt's event loop (the process waits in C code, so pytest's own timeout
# cannot fire; see docs/architecture.md, "Known gaps"); should one hang again (exit 124), it is reported and
# the desktop tests are run once more. A failing desktop test fails the run at once.
desktop() { timeout 240 .venv/bin/python -m pytest -q -p no:cacheprovider tests/desktop; }
rc=0
desktop || rc=$?
if [ "$rc" = 124 ]; then
    echo "test.sh: the desktop tests hung for 240 s (see docs/architecture.md, Known gaps); running them once more" >&2
    rc=0
    desktop || rc=$?
fi
[ "$rc" = 0 ] || exit "$rc"
.venv/bin/python -m pytest -q -p no:cacheprovider --ignore=tests/desktop
