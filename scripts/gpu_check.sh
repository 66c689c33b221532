#!/usr/bin/env bash
# Verifies keras-losses on this machine's GPU (or, without one, its CPU) in one command:
#
#   bash scripts/gpu_check.sh                  # install, verify every backend, benchmarks (--quick)
#   bash scripts/gpu_check.sh --quick          # verify --quick: the main cases, float32 and float16
#   bash scripts/gpu_check.sh --python PY      # use PY for every backend, install nothing
#   bash scripts/gpu_check.sh --out DIR        # write the reports to DIR (default docs/verification)
#   bash scripts/gpu_check.sh --backends jax,torch   # only these (default tensorflow,jax,torch)
#
# For each backend (tensorflow, jax, torch) it makes a venv .venv-check/<backend> with
# keras-losses and that backend at the versions CI tests (constraints/ci.txt), in its
# CUDA build when `nvidia-smi` lists a GPU (tensorflow[and-cuda], jax[cuda12], the
# PyPI torch wheel) and its CPU build otherwise, plus PyTorch for the verification's
# torch references (the CPU build beside a CUDA backend). One venv per backend:
# their CUDA libraries need not agree. A backend that cannot be installed is
# reported and skipped.
# Then, per backend:
#   python -m keras_losses.verify --report DIR/<device>-<backend>.md
# where <device> is the accelerator the backend itself sees ("nvidia-h200"), or "cpu";
# every visible device is checked (cpu:0 and the GPUs). Last, the benchmarks that run
# on an accelerator, in their --quick forms (contrastive on every backend, the
# TensorFlow-only ones on TensorFlow), each backend's output in
# DIR/<device>-<backend>-benchmarks.md.
#
# Exits 1 if a verification fails, a benchmark fails, or a GPU is listed by
# nvidia-smi but a backend does not see it (its report is then named cpu-...).
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
quick="" python="" out=docs/verification backends="tensorflow jax torch"
while [ $# -gt 0 ]; do
  case $1 in
    --quick) quick="--quick" ;;
    --python) python=$2; shift ;;
    --out) out=$2; shift ;;
    --backends) backends=${2//,/ }; shift ;;
    -h|--help) sed -n '2,26p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
mkdir -p "$out"
export TF_CPP_MIN_LOG_LEVEL=2 PYTHONDONTWRITEBYTECODE=1
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"  # verify this checkout, whatever is installed

gpu=""
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L 2>/dev/null | grep -q "^GPU"; then
  gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
fi
echo "==> GPU listed by nvidia-smi: ${gpu:-none}"

module_of() { case $1 in tensorflow) echo tensorflow ;; jax) echo jax ;; torch) echo torch ;; esac; }
package_of() {
  if [ -n "$gpu" ]; then
    case $1 in tensorflow) echo "tensorflow[and-cuda]==2.21.0" ;; jax) echo "jax[cuda12]" ;; torch) echo torch ;; esac
  else
    case $1 in tensorflow) echo tensorflow-cpu ;; jax) echo jax ;; torch) echo torch ;; esac
  fi
}

# pip, quiet on success; its output on failure.
pip_install() {
  local py=$1 log
  shift
  log=$(mktemp)
  if ! "$py" -m pip install --quiet --disable-pip-version-check -c constraints/ci.txt "$@" >"$log" 2>&1; then
    grep -v "^WARNING: Location" "$log" | tail -30 >&2
    rm -f "$log"
    return 1
  fi
  rm -f "$log"
}

# The Python of one backend: --python, or its own venv (made once, then reused).
python_for() {
  local backend=$1
  if [ -n "$python" ]; then echo "$python"; return; fi
  local venv=.venv-check/$backend
  if [ ! -x "$venv/bin/python" ]; then
    "${PYTHON:-python3}" -m venv "$venv" >&2 || return 1
  fi
  pip_install "$venv/bin/python" -e . "$(package_of "$backend")" || return 1
  if [ "$backend" != torch ]; then
    # Some references of the verification are PyTorch's, on every backend; on the
    # CPU build they need no CUDA libraries beside this backend's.
    if [ -z "$gpu" ] || ! pip_install "$venv/bin/python" --index-url https://download.pytorch.org/whl/cpu torch; then
      pip_install "$venv/bin/python" torch || return 1
    fi
  fi
  echo "$root/$venv/bin/python"
}

# The accelerator a backend sees, as a file-name slug ("nvidia-h200"), or "cpu".
device_of() {
  KERAS_BACKEND=$2 "$1" - "$2" <<'PY'
import re, sys
backend, name = sys.argv[1], None
if backend == "tensorflow":
    import tensorflow as tf
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        name = tf.config.experimental.get_device_details(gpus[0]).get("device_name", "gpu")
elif backend == "jax":
    import jax
    gpus = [d for d in jax.devices() if d.platform == "gpu"]
    if gpus:
        name = gpus[0].device_kind
else:
    import torch
    if torch.cuda.is_available():
        name = torch.cuda.get_device_name(0)
name = name or "cpu"
print(re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-"))
PY
}

benchmarks_of() {
  if [ "$1" = tensorflow ]; then
    echo "elementwise focal contrastive hierarchical_softmax regularizers"
  else
    echo "contrastive"  # the others time TensorFlow's compiled modes
  fi
}

status=0
summary=()
for backend in $backends; do
  echo "==> $backend: setting up"
  if ! py=$(python_for "$backend"); then
    summary+=("$backend: not installed (pip failed), skipped"); status=1; continue
  fi
  if ! "$py" -c "import $(module_of "$backend")" 2>/dev/null; then
    summary+=("$backend: not available to $py, skipped")
    [ -z "$python" ] && status=1
    continue
  fi
  if ! device=$(device_of "$py" "$backend" 2>"$out/.device.err"); then
    tail -20 "$out/.device.err"; rm -f "$out/.device.err"
    summary+=("$backend: could not start, skipped"); status=1; continue
  fi
  rm -f "$out/.device.err"
  if [ -n "$gpu" ] && [ "$device" = cpu ]; then
    echo "WARNING: nvidia-smi lists $gpu but $backend sees no GPU (a CPU build, or CUDA libraries missing)" >&2
    summary+=("$backend: sees no GPU although nvidia-smi lists one"); status=1
  fi
  report=$out/$device-$backend.md
  echo "==> $backend on $device: python -m keras_losses.verify $quick --report $report"
  start=$(date +%s)
  KERAS_BACKEND=$backend "$py" -m keras_losses.verify $quick --report "$report" > "$out/.verify.log" 2>&1
  code=$?
  tail -3 "$out/.verify.log"
  result="verify $( [ $code = 0 ] && echo passed || echo FAILED ) in $(( $(date +%s) - start )) s: $report"
  [ $code = 0 ] || { status=1; cat "$out/.verify.log" | tail -40; }
  rm -f "$out/.verify.log"

  bench=$out/$device-$backend-benchmarks.md
  {
    echo "# Benchmarks on $device, $backend (--quick)"
    echo
    echo "Written by \`bash scripts/gpu_check.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC'). Quick sizes:"
    echo "a check that the scripts run here, not the measurements of benchmarks/README.md."
  } > "$bench"
  failed_benchmarks=""
  for name in $(benchmarks_of "$backend"); do
    echo "==> $backend on $device: python benchmarks/$name.py --quick"
    printf '\n## `KERAS_BACKEND=%s python benchmarks/%s.py --quick`\n\n```\n' "$backend" "$name" >> "$bench"
    if ! KERAS_BACKEND=$backend "$py" "benchmarks/$name.py" --quick >> "$bench" 2>"$out/.bench.err"; then
      tail -20 "$out/.bench.err" >> "$bench"
      failed_benchmarks+=" $name"; status=1
    fi
    echo '```' >> "$bench"
  done
  rm -f "$out/.bench.err"
  summary+=("$backend on $device: $result; benchmarks ${failed_benchmarks:+FAILED:$failed_benchmarks }in $bench")
done

echo
echo "Summary (GPU listed by nvidia-smi: ${gpu:-none}):"
printf '  %s\n' "${summary[@]}"
exit $status
