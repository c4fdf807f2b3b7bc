#!/usr/bin/env bash
# The package test: builds the .deb (scripts/package --debug), installs it into this machine
# with dpkg -i, checks what it installed, and purges it again. Needs root (or sudo).
source "$(dirname "$0")/common.sh"

deb=$("$ROOT/scripts/package" --debug) || die "scripts/package failed"
pkg=$(dpkg-deb -f "$deb" Package)
version=$(dpkg-deb -f "$deb" Version)
log "installing $deb ($pkg $version) with dpkg -i"
$SUDO dpkg -i "$deb" >/dev/null || die "dpkg -i $deb failed"
removed=0
cleanup() { [ "$removed" = 1 ] || $SUDO dpkg -P "$pkg" >/dev/null 2>&1 || true; }
trap cleanup EXIT

expect() { # what, got, want
  [ "$2" = "$3" ] || die "package test: $1: got '$2', want '$3'"
  echo "ok: $1"
}
expect "/usr/bin/slipwayd --version" "$(/usr/bin/slipwayd --version)" "slipwayd $version"
# The window answers --version before it opens a display (none is set here).
expect "/usr/bin/slipway --version" "$(env -u DISPLAY -u WAYLAND_DISPLAY /usr/bin/slipway --version)" "slipway $version"
expect "autostart entry runs the engine with its tray" \
  "$(grep '^Exec=' /etc/xdg/autostart/dev.slipway.engine.desktop)" "Exec=/usr/bin/slipwayd serve --tray"
expect "systemd unit runs the installed engine" \
  "$(grep '^ExecStart=' /usr/lib/systemd/system/slipway.service)" 'ExecStart="/usr/bin/slipwayd" serve'
expect "systemd unit keeps its data in /var/lib/slipway" \
  "$(grep -c '^Environment=SLIPWAY_DATA_DIR=/var/lib/slipway$' /usr/lib/systemd/system/slipway.service)" "1"
expect "the window's desktop entry is installed" "$(dpkg -L "$pkg" | grep -c '^/usr/share/applications/.*\.desktop$')" "1"

# Purge: files under /etc may be kept by a plain remove as the admin's configuration.
$SUDO dpkg -P "$pkg" >/dev/null || die "dpkg -P $pkg failed"
removed=1
for f in /usr/bin/slipway /usr/bin/slipwayd /usr/lib/systemd/system/slipway.service /etc/xdg/autostart/dev.slipway.engine.desktop; do
  [ ! -e "$f" ] || die "package test: $f is still there after dpkg -r"
done
echo "ok: dpkg -P removes every file"
