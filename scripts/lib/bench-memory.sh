#!/usr/bin/env bash
# Runs inside scripts/bench's D-Bus session under Xvfb: the release app's PSS (app + WebKit
# processes) after 30 s idle with its window open, then 30 s after Ctrl+W closed it to the tray.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
data=$(mktemp -d)
export SLIPWAY_DATA_DIR=$data SLIPWAY_LISTEN=127.0.0.1:0
"$ROOT/target/release/slipway" 2>"$data/stderr.log" &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
sleep 30
echo "--- window open, idle 30 s"
"$ROOT/scripts/lib/pss.py" "$pid"
# Focus the window and press Ctrl+W, as a user closing it would (Slipway stays in the tray).
xdotool search --sync --onlyvisible --name '^Slipway$' windowfocus --sync key ctrl+w 2>/dev/null || true
sleep 30
echo "--- window closed to the tray, idle 30 s"
"$ROOT/scripts/lib/pss.py" "$pid"
# CPU while idle in the tray: clock ticks (utime+stime) used during a further 30 s.
ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
before=$(ticks)
sleep 30
echo "--- CPU while closed: $(( $(ticks) - before )) ticks of $(getconf CLK_TCK)/s in 30 s"
"$ROOT/target/release/slipwayd" quit
wait "$pid" || true
