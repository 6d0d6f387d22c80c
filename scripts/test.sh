#!/usr/bin/env bash
# Set up everything (scripts/setup.sh), then run the whole test suite, every marker included.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export LITELLM_LOCAL_MODEL_COST_MAP=True
export CODEARC_REQUIRE_SERVICES=1  # in this run a missing docker/bwrap/model is a failure, not a skip
python3 -m ruff check .
python3 -m mypy codearc_env functions sandbox oracle agents integrations
python3 scripts/lint_imports.py  # the layer contract in pyproject.toml: no import points up
exec python3 -m pytest "$@"
