#!/usr/bin/env bash
# Run the whole test suite. Browser screenshots land in tests/artifacts/.
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p tests/artifacts
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
rc=$?
if [ "$rc" = 5 ]; then echo "test: no tests were collected" >&2; exit 1; fi
exit $rc
