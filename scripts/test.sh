#!/usr/bin/env bash
# Run Bakery's whole test suite (sets up first, idempotently): bash scripts/test.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --no-run
export USER="${USER:-dev}"; [ "$USER" = "root" ] && export USER=dev
.venv/bin/ruff check src tests
exec .venv/bin/python -m pytest -p no:cacheprovider "$@"
