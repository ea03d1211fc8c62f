#!/usr/bin/env bash
# Run Bakery's whole test suite (sets up first, idempotently): bash scripts/test.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --no-run
export USER="${USER:-dev}"; [ "$USER" = "root" ] && export USER=dev
.venv/bin/ruff check src tests
.venv/bin/python -m pytest -p no:cacheprovider "$@"
# the whole suite also runs the Metaflow-compatibility subset on the lowest and newest Metaflow
if [ $# -eq 0 ]; then bash scripts/compat.sh; fi
