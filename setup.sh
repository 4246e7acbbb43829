#!/usr/bin/env bash
# Sets up Flowbox on a fresh Debian machine and runs the example workflow.
#   ./setup.sh            install everything, build the guest, run examples/room-digest.ts
#   ./setup.sh --no-run   the same without the run (used by test.sh)
set -euo pipefail
cd "$(dirname "$0")"

APT_PACKAGES=(clang-19 lld-19 wasi-libc libclang-rt-19-dev-wasm32)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]} with apt-get"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

PYTHON="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
.venv/bin/python sandbox/build.py

if [ "${1:-}" != "--no-run" ]; then
  # The main job: the service on the embedded defaults (./data), end to end.
  .venv/bin/python examples/service_demo.py --data-dir "${FLOWBOX_DATA_DIR:-data}"
fi
