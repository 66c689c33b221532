#!/usr/bin/env bash
# Sets everything up and runs the main job: the verification command (every loss and
# regularizer against its references), then a short demo that trains a model with a
# loss from this package, saves it, and loads it back in a new process.
#   bash scripts/main.sh
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/budget.sh
export TF_CPP_MIN_LOG_LEVEL=2
py=.venv/bin/python
status=0
stage "set up .venv" 360 bash scripts/setup.sh test || exit 1
stage "verify" 180 env KERAS_BACKEND=tensorflow $py -m keras_losses.verify || status=1
stage "demo: train, save, load" 120 $py examples/quickstart.py || status=1
budget_report
exit $status
