#!/usr/bin/env bash
# Set up everything the tests need (packages, the Asterisk root, PostgreSQL) and run the whole suite:
# lint, types, unit tests, then the end-to-end tests with real SIP calls into a real Asterisk.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
export QT_QPA_PLATFORM=offscreen
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
eval "$(scripts/postgres.sh --env)"
trap 'scripts/postgres.sh --stop >/dev/null 2>&1 || true' EXIT
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
