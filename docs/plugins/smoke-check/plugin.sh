#!/bin/sh
# smoke-check: calls the new release a few times and publishes the latencies; fails (and so
# rolls the stage back) when a call fails. Also shows what the project's other plugins
# published before it, read from its input directory.
# Contract: docs/plugins.md. Busybox sh and wget only, so it runs FROM scratch.
set -eu

url="${SMOKE_URL:-${SLIPWAY_RELEASE_URL:-}}"
if [ -z "$url" ]; then
  echo "smoke-check: no URL to call: run it as an after_deploy step (SLIPWAY_RELEASE_URL) or set SMOKE_URL" >&2
  exit 2
fi
url="$url${SMOKE_PATH:-/}"
n="${SMOKE_COUNT:-5}"
in="${SLIPWAY_INPUT:-/slipway/in}"
out="${SLIPWAY_OUTPUT:-/slipway/out}"

# Milliseconds: date's nanoseconds where busybox has them, else /proc/uptime (10 ms steps).
now_ms() {
  t=$(date +%s%N)
  case "$t" in
    *N*) read -r up _ < /proc/uptime; echo $(( ${up%.*} * 1000 + 10 * $(echo "${up#*.}" | sed 's/^0//') )) ;;
    *) echo $((t / 1000000)) ;;
  esac
}

i=0; failures=0; total=0; min=""; max=0; list=""
while [ "$i" -lt "$n" ]; do
  i=$((i + 1))
  start=$(now_ms)
  # busybox 1.35's wget crashes with -T: the timeout comes from timeout(1) instead.
  if ! timeout 10 wget -q -O /dev/null "$url"; then
    failures=$((failures + 1))
    echo "smoke-check: call $i to $url failed" >&2
  fi
  took=$(($(now_ms) - start))
  total=$((total + took))
  [ -z "$min" ] || [ "$took" -lt "$min" ] && min=$took
  [ "$took" -gt "$max" ] && max=$took
  list="${list:+$list, }$took"
done

# What the project's other plugins published last, by plugin: their metrics, and the run
# they published in (from meta.json: it may be an earlier run than this one).
inputs=""
for dir in "$in"/*/; do
  [ -f "$dir/metrics.json" ] || continue
  name=$(basename "$dir")
  run=$(sed -n 's/.*"run_id": *\([0-9]*\).*/\1/p' "$dir/meta.json" 2>/dev/null)
  inputs="${inputs:+$inputs, }\"$name\": {\"run_id\": ${run:-null}, \"metrics\": $(cat "$dir/metrics.json")}"
done

printf '{"requests": %s, "failures": %s, "latency_ms_min": %s, "latency_ms_max": %s, "latency_ms_avg": %s}\n' \
  "$n" "$failures" "${min:-0}" "$max" $((total / n)) > "$out/metrics.json"
printf '{"url": "%s", "latencies_ms": [%s], "inputs": {%s}}\n' "$url" "$list" "$inputs" > "$out/data.json"
echo "smoke-check: $n calls to $url, $failures failed, $((total / n)) ms on average"
[ "$failures" -eq 0 ]
