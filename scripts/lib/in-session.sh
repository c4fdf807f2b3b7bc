#!/usr/bin/env bash
# Runs inside `dbus-run-session -- xvfb-run …`: unlocks a throw-away gnome-keyring on this
# session bus (so the user's real keyring is never touched), then runs the given command. The
# config directory is throw-away too: the desktop engine writes its start-at-login entry there,
# and a secrets key file may go there; neither may land in the real ~/.config.
set -euo pipefail
export XDG_DATA_HOME XDG_CONFIG_HOME
XDG_DATA_HOME=$(mktemp -d)
XDG_CONFIG_HOME=$(mktemp -d)
eval "$(printf %s slipway-test | gnome-keyring-daemon --unlock --components=secrets)"
export GNOME_KEYRING_CONTROL
exec "$@"
