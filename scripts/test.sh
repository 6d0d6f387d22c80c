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
# The training-integration and Ray tests skip without these packages; here they must be there.
python3 -c "import importlib.util as u, sys; sys.exit([m for m in ('transformers', 'openenv', 'trl', 'ray') if u.find_spec(m) is None] or 0)"
exec python3 -m pytest "$@"
