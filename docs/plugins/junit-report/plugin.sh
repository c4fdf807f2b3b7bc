#!/bin/sh
# junit-report: reads a JUnit XML report from the source and publishes its counts.
# Contract: docs/plugins.md. Busybox sh, grep and sed only, so it runs FROM scratch.
set -eu

src="${SLIPWAY_SOURCE:-/src}"
file="${JUNIT_PATH:-junit.xml}"
out="${SLIPWAY_OUTPUT:-/slipway/out}"
report="$src/$file"
if [ ! -f "$report" ]; then
  echo "junit-report: $file is not in the source (set JUNIT_PATH to the report's path in the repository)" >&2
  exit 2
fi

count() { grep -o "$1" "$report" | wc -l | tr -d ' '; }
tests=$(count '<testcase[ >/]')
failures=$(count '<failure[ >/]')
errors=$(count '<error[ >/]')
skipped=$(count '<skipped[ >/]')
suites=$(count '<testsuite[ >]')
passed=$((tests - failures - errors - skipped))

# The names of the cases that failed or errored: one <testcase …> per line, then its name.
failed_names=$(tr '\n' ' ' < "$report" | sed 's/<testcase/\n<testcase/g' | grep -e '<failure' -e '<error' \
  | sed -n 's/^<testcase[^>]* name="\([^"]*\)".*/\1/p' | sed 's/\\/\\\\/g; s/"/\\"/g; s/.*/"&"/' | paste -s -d, -)

printf '{"tests": %s, "passed": %s, "failed": %s, "errors": %s, "skipped": %s}\n' \
  "$tests" "$passed" "$failures" "$errors" "$skipped" > "$out/metrics.json"
printf '{"file": "%s", "suites": %s, "failing_cases": [%s]}\n' "$file" "$suites" "$failed_names" > "$out/data.json"
echo "junit-report: $tests tests, $passed passed, $failures failed, $errors errors, $skipped skipped ($file)"

if [ "${FAIL_ON_FAILURES:-0}" = 1 ] && [ $((failures + errors)) -gt 0 ]; then
  exit 1
fi
