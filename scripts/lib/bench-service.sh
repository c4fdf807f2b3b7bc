#!/usr/bin/env bash
# The engine as a server runs it (issue #16's figure): `slipwayd serve` with no D-Bus session
# (secrets in the encrypted file, its key in a directory of its own), 10 projects polling real
# repositories, 60 s idle; then its resident memory (RSS) and proportional share (PSS), and
# its CPU time over a further 30 s.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
source "$ROOT/scripts/lib/ten-projects.sh"
BIN=${SLIPWAY_BENCH_BIN:-$ROOT/target/release}
IDLE=${SLIPWAY_BENCH_IDLE:-60}
work=$(mktemp -d)
data=$work/data
mkdir -p "$data"
env -u DBUS_SESSION_BUS_ADDRESS SLIPWAY_DATA_DIR="$data" SLIPWAY_LISTEN=127.0.0.1:0 SLIPWAY_SECRETS=file \
  SLIPWAY_SECRETS_KEY_FILE="$work/keys/secrets.key" "$BIN/slipwayd" serve >"$work/out.log" 2>&1 &
engine=$!
trap 'kill $engine 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 300); do [ -f "$data/engine.json" ] && break; sleep 0.1; done
url=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["url"])' "$data/engine.json")
token=$(cat "$data/api-token")
ten_projects "$url" "$token" "$work/repos" ',"poll_interval_secs":60'
echo "10 projects configured; secrets: $(curl -sf -H "Authorization: Bearer $token" "$url/api/v1/status" | python3 -c 'import json,sys; print(json.load(sys.stdin)["secrets"])')"
sleep "$IDLE"
rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$engine/status")
pss=$(awk '/^Pss:/ {print $2}' "/proc/$engine/smaps_rollup")
ticks() { awk '{print $14 + $15}' "/proc/$engine/stat"; }
before=$(ticks)
sleep 30
after=$(ticks)
hz=$(getconf CLK_TCK)
echo "--- slipwayd serve as a service, 10 projects, ${IDLE} s idle"
echo "RSS $((rss / 1024)) MiB · PSS $((pss / 1024)) MiB · CPU over the next 30 s: $(python3 -c "print(round(($after - $before) / $hz / 30 * 100, 2))") % of one core"
