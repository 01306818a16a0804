#!/usr/bin/env bash
# THE test command: bash tests/run.sh [pytest args...]
# Installs what the tests need (Debian chromium for the browser tests, the pinned test requirements),
# then runs pytest. "No tests collected" (exit 5) counts as a failure.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x /usr/bin/chromium ]; then
    echo "tests/run.sh: installing chromium (apt-get)" >&2
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium chromium-driver
fi
python -m pip install --quiet --disable-pip-version-check -r requirements-test.txt

# style first (ruff.toml): lint and formatting are part of the test command
python -m ruff check --quiet . || { echo "tests/run.sh: ruff check failed (fix it, or 'ruff check --fix .')" >&2; exit 1; }
python -m ruff format --check --quiet . || { echo "tests/run.sh: not formatted: run 'ruff format .'" >&2; exit 1; }

status=0
python -m pytest -q "$@" || status=$?
if [ "$status" -eq 5 ]; then
    echo "tests/run.sh: pytest collected no tests; treating that as a failure" >&2
    exit 1
fi
exit "$status"
