#!/usr/bin/env bash
# Runs inside scripts/bench's D-Bus session under Xvfb (issue #7's footprint figures), with the
# release binaries and 10 projects configured:
#   1. the window launched cold (it starts the engine): first paint; 60 s idle: PSS of the
#      window, its WebKit processes and the engine
#   2. Ctrl+W: the window's process ends; 60 s idle: PSS of what is left (the engine with its
#      tray), CPU over a further 30 s
#   3. the window launched warm (engine running), three times: first paint
#   4. an empty Tauri v2 app (one window, a one-line page), 60 s idle: its PSS, the yardstick,
#      with Tauri's defaults and with compositing off as Slipway's window has it
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
source "$ROOT/scripts/lib/ten-projects.sh"
PSS="$ROOT/scripts/lib/pss.py"
BIN=${SLIPWAY_BENCH_BIN:-$ROOT/target/release}
IDLE=${SLIPWAY_BENCH_IDLE:-60}
data=$(mktemp -d)
export SLIPWAY_DATA_DIR=$data SLIPWAY_LISTEN=127.0.0.1:0 SLIPWAY_REPORT_PAINT=1
engine_pid() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["pid"])' "$data/engine.json"; }
cleanup() {
  "$BIN/slipwayd" quit >/dev/null 2>&1 || true
  [ -n "${empty:-}" ] && kill "$empty" 2>/dev/null || true
}
trap cleanup EXIT

# Ten projects, each on a real repository (polled, so the engine has its usual idle work).
launch() {
  "$BIN/slipway" >"$data/window-$1.out" 2>"$data/window-$1.err" &
  window=$!
  for _ in $(seq 300); do grep -q "first paint" "$data/window-$1.out" 2>/dev/null && break; sleep 0.1; done
  echo "--- $1 launch: $(grep -o 'first paint [0-9]* ms after launch' "$data/window-$1.out" || echo 'no first paint seen')"
}
close_window() {
  xdotool search --sync --onlyvisible --name '^Slipway$' windowfocus --sync key ctrl+w 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$window" 2>/dev/null || return 0; sleep 0.1; done
  echo "the window did not close" >&2
  exit 1
}

launch cold
engine=$(engine_pid)
url=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["url"])' "$data/engine.json")
token=$(cat "$data/api-token")
ten_projects "$url" "$token" "$data/repos"
echo "10 projects configured"
sleep "$IDLE"
echo "--- window open, ${IDLE} s idle (window + WebKit + engine)"
"$PSS" "$window" "$engine"

close_window
sleep "$IDLE"
echo "--- window closed, ${IDLE} s idle (all that is left)"
"$PSS" "$engine"
leftover=$(pgrep -f 'WebKit(Web|Network)Process' || true)
echo "WebKit processes left: ${leftover:-none}"
ticks() { awk '{print $14 + $15}' "/proc/$engine/stat"; }
before=$(ticks)
sleep 30
echo "--- CPU while closed: $(( $(ticks) - before )) ticks of $(getconf CLK_TCK)/s in 30 s"

for i in 1 2 3; do
  launch "warm-$i"
  close_window
done

# The yardstick: Tauri's defaults, then with the one WebKit setting the window changes
# (WEBKIT_DISABLE_COMPOSITING_MODE=1, see src-tauri/src/main.rs) for a like-for-like figure.
for compositing in default off; do
  if [ "$compositing" = off ]; then export WEBKIT_DISABLE_COMPOSITING_MODE=1; fi
  "$BIN/examples/empty_window" >/dev/null 2>&1 &
  empty=$!
  sleep "$IDLE"
  echo "--- empty Tauri v2 app, compositing $compositing, ${IDLE} s idle"
  "$PSS" "$empty"
  kill "$empty"
  wait "$empty" 2>/dev/null || true
  empty=
done
