#!/usr/bin/env bash
# Runs the whole test suite (setting up first; that is quick when nothing changed).
set -euo pipefail
cd "$(dirname "$0")"
./setup.sh --no-run
exec .venv/bin/python -m pytest -q "$@"
