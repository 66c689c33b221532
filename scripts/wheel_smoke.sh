#!/usr/bin/env bash
# Builds the wheel and runs a smoke test against it, not against the source tree:
# the wheel alone is put on the path of the .venv's Python (which has the backends)
# and the checks run from an empty folder.
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf dist
.venv/bin/python -m build --wheel --no-isolation --outdir dist . >/dev/null  # setuptools: test extra
wheel=$(ls dist/*.whl)
echo "built $(basename "$wheel")"
site=$(mktemp -d)
work=$(mktemp -d)
trap 'rm -rf "$site" "$work"' EXIT
.venv/bin/python -m pip install --quiet --no-deps --target "$site" "$wheel"
cd "$work"
export PYTHONPATH="$site" TF_CPP_MIN_LOG_LEVEL=2
"$OLDPWD/.venv/bin/python" - "$site" <<'PY'
import os, sys
import keras_losses
site = sys.argv[1]
assert keras_losses.__file__.startswith(site), f"imported from {keras_losses.__file__}, not the wheel"
assert os.path.exists(os.path.join(os.path.dirname(keras_losses.__file__), "py.typed"))
print("imported keras_losses", keras_losses.__version__, "from the wheel")
PY
"$OLDPWD/.venv/bin/python" -m keras_losses.verify --quick > verify.log || { cat verify.log; exit 1; }
tail -1 verify.log
"$OLDPWD/.venv/bin/python" "$OLDPWD/examples/quickstart.py"
