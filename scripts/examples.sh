#!/usr/bin/env bash
# Runs every script in examples/, two at a time; each checks its own result and
# exits non-zero when it was not reached. Prints each script's output and time.
#   bash scripts/examples.sh [python]
set -uo pipefail
cd "$(dirname "$0")/.."
py=${1:-.venv/bin/python}
logs=$(mktemp -d)
export py logs TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}
ls examples/*.py | xargs -P 2 -I{} bash -c '
  name=$(basename {} .py); start=$SECONDS
  if $py {} > "$logs/$name.out" 2>&1; then echo "ok     $name ($((SECONDS - start)) s)"
  else echo "FAILED $name ($((SECONDS - start)) s)"; touch "$logs/$name.failed"; fi'
for out in "$logs"/*.out; do
  name=$(basename "$out" .out)
  echo "--- examples/$name.py"
  if [ -e "$logs/$name.failed" ]; then tail -n 40 "$out"; else grep -v "^WARNING\|oneDNN\|cuda\|rebuild TensorFlow" "$out"; fi
done
failed=$(ls "$logs"/*.failed 2>/dev/null | wc -l)
rm -rf "$logs"
exit $(( failed > 0 ))
