#!/usr/bin/env bash
# Sets everything up (.venv, editable install with the three backends and the test,
# tutorial and docs tools) and runs the whole test suite:
#   - TensorFlow, the reference backend: every test and the docstring examples;
#   - JAX: every test (`KERAS_BACKEND=jax pytest tests`), including the two-process
#     training check (tests/distribute/test_multi_process_jax.py: 2 JAX processes on
#     127.0.0.1, 4 CPU devices, DataParallel and ModelParallel with fit);
#   - PyTorch: every test;
#   - every script in examples/, every tutorial in its fast mode, and the docs site
#     built with warnings as errors;
#   - the next Keras (keras-nightly, in its own .venv-nightly): the verification
#     command --quick and the saving tests (scripts/keras_nightly.sh).
# Each backend runs in its own processes (two pytest workers: the machine's two cores).
#   bash scripts/test.sh
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/budget.sh
export TF_CPP_MIN_LOG_LEVEL=2 PYTHONDONTWRITEBYTECODE=1
py=.venv/bin/python
workers="-n 2 --dist loadscope"
status=0
stage "set up .venv" 240 bash scripts/setup.sh test,tutorials,docs || exit 1
stage "tests + doctests (tensorflow)" 420 env KERAS_BACKEND=tensorflow \
  $py -m pytest $workers tests keras_losses --doctest-modules || status=1
stage "tests (jax)" 560 env KERAS_BACKEND=jax $py -m pytest $workers tests -q || status=1
stage "tests (torch)" 120 env KERAS_BACKEND=torch $py -m pytest $workers tests -q || status=1
stage "examples + tutorials (fast mode)" 180 bash -c '
  log=$(mktemp)
  bash scripts/examples.sh '"$py"' > "$log" 2>&1 & examples=$!
  KERAS_BACKEND=tensorflow '"$py"' tutorials/build.py --check --jobs 2; tutorials=$?
  wait $examples; status=$?
  cat "$log"; rm -f "$log"
  exit $(( tutorials || status ))' || status=1
stage "docs site (strict)" 45 env NO_MKDOCS_2_WARNING=1 $py -m mkdocs build --strict --quiet --site-dir "$(mktemp -d)" || status=1
stage "keras-nightly (next Keras)" 180 bash scripts/keras_nightly.sh || status=1
budget_report
exit $status
