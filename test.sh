#!/usr/bin/env bash
# Runs the whole test suite (setting up first; that is quick when nothing changed).
set -euo pipefail
cd "$(dirname "$0")"
./setup.sh --no-run
# Cloudflare's local engine (miniflare, from npm), the peer of the
# differential tests (tests/test_differential.py).
lock_sum="$(sha256sum tests/miniflare/package-lock.json | cut -d' ' -f1)"
if [ "$(cat tests/miniflare/node_modules/.flowbox-stamp 2>/dev/null)" != "$lock_sum" ]; then
  echo "test.sh: installing miniflare for the differential tests"
  npm ci --prefix tests/miniflare --no-audit --no-fund --loglevel=error
  echo "$lock_sum" > tests/miniflare/node_modules/.flowbox-stamp
fi
exec .venv/bin/python -m pytest -q "$@"
