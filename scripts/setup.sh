#!/usr/bin/env bash
# Creates .venv (once) and installs keras-losses in it, editable, with the three
# backends and the given extras. Used by scripts/test.sh and scripts/main.sh.
#   bash scripts/setup.sh [extra,extra...]
set -euo pipefail
cd "$(dirname "$0")/.."
extras=${1:-test}
python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check \
  -c constraints/ci.txt -e ".[tensorflow-cpu,jax,torch,${extras}]" 2>&1 \
  | grep -v "^WARNING: Location" || true
.venv/bin/python -c "import keras, keras_losses; print('keras_losses', keras_losses.__version__, 'on keras', keras.__version__)"
