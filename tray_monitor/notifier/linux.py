"""Linux/BSD: the freedesktop Notifications D-Bus interface, spoken directly with jeepney.

jeepney is pure Python (no system packages) and reports failures, unlike plyer, which shells out
to notify-send, drops the timeout and icon and ignores every error. Every desktop (GNOME, KDE,
XFCE, dunst, mako) implements this interface; `replaces_id` lets a window's new popup replace
its previous one instead of stacking.
"""
from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from pathlib import Path

from tray_monitor.alerts import Notification
from tray_monitor.notifier.base import FailureLog, log

APP_NAME = "claude-tray"
_BUS_NAME = "org.freedesktop.Notifications"
_OBJECT_PATH = "/org/freedesktop/Notifications"
# Notification spec: urgency hint is a byte, 0 low, 1 normal, 2 critical.
_URGENCY_BYTE = {"low": 0, "normal": 1, "critical": 2}
# expire_timeout in ms; 0 = until dismissed: "limit reached" must not slip by unseen.
_EXPIRE_MS = {"low": 5000, "normal": 10000, "critical": 0}
_CALL_TIMEOUT = 5.0  # seconds for the daemon to answer (it may be D-Bus-activated on first use)

AppIcon = str | Callable[[], str]


def session_bus_address(environ: Mapping[str, str]) -> str | None:
    """The session bus: $DBUS_SESSION_BUS_ADDRESS, else systemd's per-user socket."""
    address = environ.get("DBUS_SESSION_BUS_ADDRESS", "").strip()
    if address:
        return address
    runtime = environ.get("XDG_RUNTIME_DIR", "").strip()
    if runtime and Path(runtime, "bus").exists():
        return f"unix:path={Path(runtime, 'bus')}"
    return None


def session_bus_reachable(address: str | None) -> bool:
    """Can we connect and authenticate? (The daemon itself may start on demand: not checked.)"""
    if not address:
        return False
    try:
        from jeepney.io.blocking import open_dbus_connection

        with open_dbus_connection(bus=address):
            return True
    except Exception as exc:  # jeepney raises OSError, ValueError, AuthenticationError, ...
        log.debug("session bus %s not reachable: %s", address, exc)
        return False


class DBusNotifier:
    name = "dbus"
    replaces = True

    def __init__(self, bus_address: str | None, app_icon: AppIcon = ""):
        self._bus_address = bus_address
        self._app_icon = app_icon
        self._ids: dict[str, int] = {}  # notification key -> server id, for replaces_id
        self._lock = threading.Lock()  # the poller and the tray's menu thread may both send
        self._failures = FailureLog(self.name)

    def send(self, n: Notification) -> None:
        try:
            with self._lock:
                self._ids[n.key] = self._notify(n, self._ids.get(n.key, 0))
            self._failures.succeeded()
        except Exception as exc:  # any failure (no bus, no daemon, error reply, timeout) is logged
            self._failures.failed(exc, f"bus {self._bus_address}")

    def _notify(self, n: Notification, replaces_id: int) -> int:
        if not self._bus_address:
            raise ConnectionError("no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is not set)")
        from jeepney import DBusAddress, new_method_call
        from jeepney.io.blocking import open_dbus_connection
        from jeepney.wrappers import unwrap_msg

        target = DBusAddress(_OBJECT_PATH, bus_name=_BUS_NAME, interface=_BUS_NAME)
        hints = {
            "urgency": ("y", _URGENCY_BYTE.get(n.urgency, 1)),
            "desktop-entry": ("s", APP_NAME),
        }
        # Notify(app_name s, replaces_id u, app_icon s, summary s, body s, actions as, hints a{sv},
        #        expire_timeout i) -> id u
        message = new_method_call(target, "Notify", "susssasa{sv}i", (
            APP_NAME, replaces_id, self._icon_path(), n.summary, n.body, [], hints,
            _EXPIRE_MS.get(n.urgency, 10000),
        ))
        # A connection per popup: popups are rare, and a daemon or bus restart is then harmless.
        with open_dbus_connection(bus=self._bus_address) as connection:
            reply = connection.send_and_get_reply(message, timeout=_CALL_TIMEOUT)
        return unwrap_msg(reply)[0]  # raises DBusErrorResponse on an error reply

    def _icon_path(self) -> str:
        return self._app_icon() if callable(self._app_icon) else self._app_icon


class AppIconFile:
    """Our application icon as a PNG file, written once on first use (daemons want a path)."""

    def __init__(self, path: Path):
        self._path = Path(path)
        self._done = False
        self._result = ""

    def __call__(self) -> str:
        if not self._done:
            self._done = True
            try:
                from importlib import resources

                # The packaged PNG (kept equal to render_app_icon(64) by test_icon_tools), copied:
                # Pillow's save() would first import five image plugins (about 1 MiB of RSS).
                png = resources.files("tray_monitor").joinpath("assets/claude-tray-64.png").read_bytes()
                self._path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                tmp = self._path.with_name(self._path.name + ".tmp")
                tmp.write_bytes(png)
                os.chmod(tmp, 0o600)  # like every file we write: the user's alone (daemons run as the user)
                os.replace(tmp, self._path)
                self._result = str(self._path)
            except (OSError, ValueError, ImportError) as exc:  # a popup without our icon is fine
                log.warning("Could not write the notification icon %s (%s); popups show no icon.",
                            self._path, exc)
        return self._result
