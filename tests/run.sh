#!/usr/bin/env bash
# The single test command:  bash tests/run.sh [extra pytest arguments]
#
# On Debian/Ubuntu as root it installs what the real-desktop tests need (Xvfb, trayer, dunst,
# D-Bus, xdotool, GTK/AppIndicator typelibs, and the StatusNotifierItem hosts gtk-sni-tray-standalone,
# xfce4-panel (+ xfconf), lxqt-panel and waybar in a headless sway (+ grim for screenshots)), creates .venv if missing,
# installs the package with its test and gtk extras, and runs every test with
# CLAUDE_TRAY_REQUIRE_DESKTOP=1 (a desktop test that cannot run is then a failure, not a skip).
# Not root and packages missing: prints the apt-get command and runs the unit tests only.
# Idempotent: apt is skipped when everything is installed, pip when everything is satisfied.
# Tests run on two pytest-xdist workers (see `parallel` below; `bash tests/run.sh -n 0` runs them serially).
# Before any test, `ruff check .` and `mypy` (settings in pyproject.toml) must pass: a lint or type
# error fails the run at once.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Never talk to the desktop or bus of the person running this: tests start their own.
unset DISPLAY WAYLAND_DISPLAY DBUS_SESSION_BUS_ADDRESS XAUTHORITY || true

APT_PACKAGES=(
  xvfb trayer dunst libnotify-bin dbus dbus-bin x11-utils xdotool fonts-dejavu-core tmux
  gir1.2-gtk-3.0 gir1.2-ayatanaappindicator3-0.1 libgirepository1.0-dev libcairo2-dev pkg-config
  haskell-gtk-sni-tray-utils
  xfce4-panel xfconf sway waybar grim lxqt-panel
)
VENV=${VENV:-.venv}
T0=$SECONDS
say() { printf 'tests/run.sh: %s\n' "$*"; }

missing=()
if command -v dpkg-query >/dev/null 2>&1; then
  for package in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'ok installed' || missing+=("$package")
  done
  # Debian's python3 has no venv module until python3-venv is installed
  if [ ! -x "$VENV/bin/python" ] && ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
    missing+=(python3-venv)
  fi
else
  say "not a Debian-like system: the real-desktop tests need Xvfb, trayer, dunst and gtk-sni-tray-standalone"
  missing=(not-debian)
fi

desktop=1
if ((${#missing[@]})) && [ "${missing[0]}" != not-debian ]; then
  if [ "$(id -u)" = 0 ]; then
    say "apt-get install ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    say "missing packages: ${missing[*]}"
    say "install them with:  sudo apt-get install --no-install-recommends ${missing[*]}"
    say "running the unit tests only"
    desktop=0
  fi
elif ((${#missing[@]})); then
  desktop=0
fi

if [ ! -x "$VENV/bin/python" ]; then
  say "creating $VENV"
  python3 -m venv "$VENV"
fi
extras=test,lint
# PyGObject (the gtk extra, for pystray's appindicator backend) builds from source: it needs the
# -dev packages above. PyGObject >= 3.51 needs girepository-2.0, which Debian 12 lacks: pinned <3.51.
[ "$desktop" = 1 ] && extras=test,lint,gtk
say "pip install -e .[$extras]"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -e ".[$extras]"
say "setup took $((SECONDS - T0))s"

say "ruff check ."
"$VENV/bin/ruff" check .
say "mypy"
"$VENV/bin/mypy"

# Two workers (pytest-xdist), whole modules each (module fixtures: the faults fleet, the panel hosts);
# tests/conftest.py hands out the long desktop/slow modules first. The desktop tests mostly wait on
# real time while the unit tests keep a core busy: about half the serial wall time. `-n 0` (passed
# on) runs everything in this process, in pytest's own order.
parallel=(-n 2 --dist loadfile --no-loadscope-reorder)
if [ "$desktop" = 1 ]; then
  export CLAUDE_TRAY_REQUIRE_DESKTOP=1
  exec "$VENV/bin/python" -m pytest -q "${parallel[@]}" "$@"
fi
exec "$VENV/bin/python" -m pytest -q -m "not desktop" "${parallel[@]}" "$@"
