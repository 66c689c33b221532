#!/usr/bin/env bash
# Tests against the next Keras: keras-nightly (the development builds of the next
# release, from the package index) in its own venv, .venv-nightly, so .venv keeps
# the Keras that pyproject.toml's floor names. .venv-nightly has only its own keras;
# it reads everything else (the backends, pytest) from .venv through a .pth file,
# and keras_losses from this checkout. It runs on TensorFlow:
#   - the verification command, --quick (the losses' maths against its references);
#   - the configuration and saving tests (tests/test_serialization.py: configs, .keras
#     files reloaded in a fresh process, the golden models of earlier releases),
#     tests/test_package.py and tests/test_keras_private.py (every private Keras name
#     that keras_losses/_backend.py uses still exists, and the Keras code it mirrors
#     is unchanged).
# A failure here is the warning that the next Keras moved or rewrote what we rely on.
#   bash scripts/keras_nightly.sh           (KERAS_NIGHTLY=VERSION picks a build)
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv-nightly
rm -rf "$venv"
.venv/bin/python -m venv "$venv"
shared=$(.venv/bin/python -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
own=$("$venv/bin/python" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
# Appended after the venv's own site-packages: its keras comes first.
echo "import site; site.addsitedir('$shared')" > "$own/zz_shared_venv.pth"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps --pre \
  "keras-nightly${KERAS_NIGHTLY:+==$KERAS_NIGHTLY}" 2>&1 | { grep -v "^WARNING: Location" || true; }
export PYTHONPATH=$PWD KERAS_BACKEND=tensorflow TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-3}
"$venv/bin/python" - 2>&1 <<'PY' | { grep -v "^WARNING: All log messages before absl\|^[IW]0000 " || true; }
import keras
import keras_losses
assert keras.__file__.startswith(__import__("sys").prefix), f"keras from {keras.__file__}, not keras-nightly"
print(f"keras_losses {keras_losses.__version__} on keras {keras.__version__} ({keras.__file__})")
PY
status=0
"$venv/bin/python" -m keras_losses.verify --quick > "$venv/verify.log" 2>&1 || status=1
if [ $status = 0 ]; then sed -n '/comparisons passed/,$p' "$venv/verify.log"; else cat "$venv/verify.log"; fi
"$venv/bin/python" -m pytest -q -n 2 --dist loadscope \
  tests/test_serialization.py tests/test_package.py tests/test_keras_private.py || status=1
exit $status
