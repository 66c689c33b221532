#!/usr/bin/env bash
# Sets everything up (.venv, editable install with the three backends) and runs the
# whole test suite: TensorFlow (the reference backend), then JAX and PyTorch, each in
# its own process, then the quick verification table.
#   bash scripts/test.sh
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/budget.sh
export TF_CPP_MIN_LOG_LEVEL=2 PYTHONDONTWRITEBYTECODE=1
py=.venv/bin/python
status=0
stage "set up .venv" 360 bash scripts/setup.sh test || exit 1
stage "tests + doctests (tensorflow)" 300 env KERAS_BACKEND=tensorflow $py -m pytest tests keras_losses --doctest-modules || status=1
stage "tests (jax)" 180 env KERAS_BACKEND=jax $py -m pytest tests -q --durations=5 || status=1
stage "tests (torch)" 120 env KERAS_BACKEND=torch $py -m pytest tests -q --durations=5 || status=1
stage "verify --quick" 60 env KERAS_BACKEND=tensorflow $py -m keras_losses.verify --quick || status=1
budget_report
exit $status
