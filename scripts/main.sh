#!/usr/bin/env bash
# The main job: set up, then evaluate an agent. With no API key it uses the embedded
# SmolLM2-135M model (a smoke test, not a meaningful score). Pass codearc-eval options to
# override, e.g.  ./scripts/main.sh --model openai/gpt-4o-mini --split clean --limit 50
# Every episode ends after 3 invalid actions in a row; local/ models also stop at 6 turns
# or 60 s per episode (--max-invalid, --max-turns, --episode-time-limit), so the embedded
# model's smoke test takes about a minute per episode.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export LITELLM_LOCAL_MODEL_COST_MAP=True
model="local/smollm2"
if [ -n "${OPENAI_API_KEY:-}" ]; then model="openai/gpt-4o-mini"; fi
if [ "$model" = "local/smollm2" ]; then
  echo "No API key found: using the embedded SmolLM2-135M model. A 135M model is a smoke test of" >&2
  echo "the pipeline, not a score. For a real run set your provider's key and pass e.g." >&2
  echo "  ./scripts/main.sh --model openai/gpt-4o-mini --split clean --limit 50" >&2
fi
exec codearc eval --model "$model" --agent text --split builtin --variant annotated \
  --limit 5 --max-tokens 256 --out "runs/main-$(date +%Y%m%d-%H%M%S)" "$@"
