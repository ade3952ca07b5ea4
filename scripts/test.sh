#!/usr/bin/env bash
# The test command (README, .ci/run): lint, then the whole pytest suite.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
export MPLBACKEND=Agg
"$VENV/bin/ruff" check python tests benchmarks
"$VENV/bin/python" -m pytest -q -p no:cacheprovider tests "$@"
