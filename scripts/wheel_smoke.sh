#!/usr/bin/env bash
# Builds the wheel and tests it as a user installs it: into a clean venv with ONE
# backend, outside the checkout. Two installs, side by side (the machine's two cores):
#   pip install "keras-losses[tensorflow-cpu]"   then KERAS_BACKEND=tensorflow
#   pip install "keras-losses[jax]"              then KERAS_BACKEND=jax
# In each: the import comes from the wheel (py.typed included), no other backend is
# there, `python -m keras_losses.verify --quick` passes (references whose library is
# missing, PyTorch's, are skipped and reported), and the quickstart trains, saves and
# reloads. The JAX venv also checks what `import keras_losses` says with no
# KERAS_BACKEND (Keras then asks for TensorFlow, which is not installed).
#   bash scripts/wheel_smoke.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
python=${PYTHON:-python3}
rm -rf dist
.venv/bin/python -m build --wheel --no-isolation --outdir dist . >/dev/null  # setuptools: test extra
wheel=$(ls "$root"/dist/*.whl)
echo "built $(basename "$wheel")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export root python wheel tmp
quiet() {  # runs a command, leaving out TensorFlow's start-up log lines
  "$@" 2>&1 | { grep -v "^WARNING: All log messages before absl\|^[IW]0000 \|^To enable the following" || true; }
}
export -f quiet

smoke() {  # smoke EXTRA BACKEND: install the wheel with one extra, check it there
  local extra=$1 backend=$2 start=$SECONDS
  local venv="$tmp/venv-$extra" work="$tmp/work-$extra"
  mkdir -p "$work"
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    -c "$root/constraints/ci.txt" "$wheel[$extra]" > "$work/pip.log" 2>&1 \
    || { cat "$work/pip.log"; return 1; }
  echo "[$extra] installed in $((SECONDS - start)) s"
  cd "$work"  # not the checkout: keras_losses can only come from the wheel
  export KERAS_BACKEND=$backend KERAS_HOME="$work/.keras"
  quiet "$venv/bin/python" - "$venv" "$backend" <<'PY'
import importlib.util, os, sys
venv, backend = sys.argv[1:]
import keras_losses
assert keras_losses.__file__.startswith(venv), f"imported from {keras_losses.__file__}, not the wheel"
assert os.path.exists(os.path.join(os.path.dirname(keras_losses.__file__), "py.typed"))
others = [b for b in ("tensorflow", "jax", "torch") if b != backend and importlib.util.find_spec(b)]
assert not others, f"the {backend} install also has {others}: the smoke test needs one backend"
print(f"imported keras_losses {keras_losses.__version__} from the wheel; {backend} is the only backend")
PY
  # As a user runs it: no TF_CPP_MIN_LOG_LEVEL, so the command must keep the log quiet.
  env -u TF_CPP_MIN_LOG_LEVEL "$venv/bin/python" -m keras_losses.verify --quick > verify.log 2> verify.err \
    || { cat verify.log verify.err; return 1; }
  if grep -q "oneDNN\|absl::" verify.log verify.err; then
    echo "TensorFlow's log lines reached the output:"; cat verify.err; return 1
  fi
  sed -n '/comparisons passed/,$p' verify.log
  [ ! -s verify.err ] || { echo "stderr:"; cat verify.err; }
  if [ "$backend" = jax ]; then
    # No KERAS_BACKEND: Keras asks for TensorFlow, which is not installed.
    if env -u KERAS_BACKEND "$venv/bin/python" -c "import keras_losses" 2> import.err; then
      echo "import keras_losses without KERAS_BACKEND should have failed on a [jax] install"; return 1
    fi
    grep -q "KERAS_BACKEND is not set" import.err && grep -q "export KERAS_BACKEND=jax" import.err \
      || { echo "unhelpful import error:"; cat import.err; return 1; }
    echo "without KERAS_BACKEND: $(grep -o 'KERAS_BACKEND is not set[^.]*' import.err)"
  fi
  quiet "$venv/bin/python" "$root/examples/quickstart.py"
  echo "[$extra] done in $((SECONDS - start)) s"
}
export -f smoke

status=0
bash -c 'set -euo pipefail; smoke tensorflow-cpu tensorflow' > "$tmp/tensorflow.log" 2>&1 & tf=$!
bash -c 'set -euo pipefail; smoke jax jax' > "$tmp/jax.log" 2>&1 & jax=$!
wait $tf || status=1
echo "--- [tensorflow-cpu] install"; cat "$tmp/tensorflow.log"
wait $jax || status=1
echo "--- [jax] install"; cat "$tmp/jax.log"
exit $status
