#!/usr/bin/env bash
# Set up and run the platform with its embedded defaults (SQLite, a local Asterisk on loopback):
# installs what is missing, brings up Asterisk with the project's dialplan, then runs the CTI server in
# the foreground (Ctrl-C stops it; `.venv/bin/hotline asterisk down` stops Asterisk).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
.venv/bin/hotline config check
.venv/bin/hotline asterisk up
exec .venv/bin/hotline serve "$@"
