#!/usr/bin/env bash
# `npm test`: every suite (type check + lint gate, unit, Python, VS Code integration, end-to-end),
# then one line "N passed, N failed" summing them all. Exits non-zero if anything failed.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
total_passed=0
total_failed=0
summary=()

# Runner summaries: mocha "  40 passing" / "  1 failing", pytest "5 passed, 1 failed, 2 errors in 3s",
# our VS Code runners "N passed, N failed". Only lines that START with such a count are read.
count() { # count <log> <words>
  grep -aE '^\s*[0-9]+ (passing|passed|failing|failed|errors?)\b' "$1" | tail -2 \
    | grep -oE "[0-9]+ ($2)" | tail -1 | grep -oE '^[0-9]+' || echo 0
}

run_suite() { # run_suite <name> <command...>
  local name=$1; shift
  local log; log=$(mktemp)
  echo "=== $name: $*"
  "$@" 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  local passed failed errors
  passed=$(count "$log" 'passing|passed')
  failed=$(count "$log" 'failing|failed')
  errors=$(count "$log" 'errors?')
  failed=$((failed + errors))
  if [[ $rc -ne 0 && $failed -eq 0 ]]; then
    failed=1 # the suite crashed before reporting: count it as one failure
  fi
  total_passed=$((total_passed + passed))
  total_failed=$((total_failed + failed))
  summary+=("$name: $passed passed, $failed failed (exit $rc)")
  rm -f "$log"
}

gate() { # gate <name> <command...>: checks that must pass but are not tests
  local name=$1; shift
  echo "=== $name: $*"
  if ! "$@"; then
    total_failed=$((total_failed + 1))
    summary+=("$name: FAILED")
  else
    summary+=("$name: ok")
  fi
}

gate "build" bash -c 'npx tsc -p . && node esbuild.mjs --quiet'
gate "lint" npx eslint src test bench
run_suite "unit" npx mocha --config .mocharc.json
run_suite "python" training/.venv/bin/python -m pytest -q -p no:cacheprovider training/tests training/evaluate/tests
run_suite "vscode" node out/test/runner/runInCodeServer.js
run_suite "e2e" node out/test/e2e/runE2E.js

echo
echo "=== summary"
printf '%s\n' "${summary[@]}"
echo "$total_passed passed, $total_failed failed"
[[ $total_failed -eq 0 ]]
