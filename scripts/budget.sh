# Sourced by the scripts: `stage NAME BUDGET_SECONDS command...` runs a command and
# prints how long it took against its budget, and a total at the end.
_budget_start=$(date +%s)
stage() {
  local name=$1 budget=$2
  shift 2
  local start=$(date +%s)
  echo "==> ${name} (budget ${budget} s)"
  "$@"
  local status=$?
  local took=$(( $(date +%s) - start ))
  local flag=""
  [ "$took" -gt "$budget" ] && flag="  OVER BUDGET"
  echo "==> ${name}: ${took} s of ${budget} s${flag}"
  _budget_lines+=("$(printf '%-28s %5d s / %5d s%s' "$name" "$took" "$budget" "$flag")")
  return $status
}
budget_report() {
  echo
  echo "Time budget per stage:"
  printf '  %s\n' "${_budget_lines[@]}"
  echo "  total: $(( $(date +%s) - _budget_start )) s (CI budget for all of .ci/run: 1800 s)"
}
