"""Desktop notifications: one small class per platform behind `Notifier.send(notification)`.

`make_notifier(env, tray_icon=None)` is the only place that chooses, by platform and by what
actually works here, honouring CLAUDE_TRAY_NOTIFIER=dbus|plyer|osascript|pystray|none.
Importing this package never needs pywin32, pyobjc or a display; jeepney and plyer are imported
only when used.
"""
from __future__ import annotations

from pathlib import Path

from tray_monitor.notifier.base import FailureLog, Notifier, NullNotifier, log
from tray_monitor.notifier.linux import AppIconFile, DBusNotifier, session_bus_address, session_bus_reachable
from tray_monitor.notifier.macos import OSASCRIPT, OsascriptNotifier
from tray_monitor.notifier.plyer_fallback import PlyerNotifier, plyer_usable
from tray_monitor.notifier.windows import PystrayNotifier

__all__ = [
    "Notifier", "NullNotifier", "FailureLog", "DBusNotifier", "PlyerNotifier", "OsascriptNotifier",
    "PystrayNotifier", "make_notifier", "NOTIFIER_OVERRIDE", "NOTIFIER_CHOICES",
]

NOTIFIER_OVERRIDE = "CLAUDE_TRAY_NOTIFIER"
NOTIFIER_CHOICES = ("dbus", "plyer", "osascript", "pystray", "none")
ICON_FILE_NAME = "notification-icon.png"


def make_notifier(env, tray_icon=None, *, osascript: str = OSASCRIPT,
                  flatpak_marker: Path = Path("/app")) -> Notifier:
    choice = env.environ.get(NOTIFIER_OVERRIDE, "").strip().lower()
    if choice and choice not in NOTIFIER_CHOICES:
        log.warning("%s=%s is not one of %s; choosing automatically.",
                    NOTIFIER_OVERRIDE, choice, ", ".join(NOTIFIER_CHOICES))
        choice = ""
    notifier = _chosen(choice, env, tray_icon) if choice else _automatic(env, tray_icon, osascript, flatpak_marker)
    log.info("desktop notifications via %s", notifier.name)
    return notifier


def _chosen(choice: str, env, tray_icon) -> Notifier:
    if choice == "dbus":
        return _dbus(env)
    if choice == "plyer":
        return PlyerNotifier()
    if choice == "osascript":
        return OsascriptNotifier()
    if choice == "pystray":
        if _tray_can_notify(tray_icon):
            return PystrayNotifier(tray_icon)
        log.warning("%s=pystray, but this tray backend cannot show notifications; none will be shown.",
                    NOTIFIER_OVERRIDE)
    return NullNotifier()


def _automatic(env, tray_icon, osascript: str, flatpak_marker: Path) -> Notifier:
    if env.platform == "darwin":
        if Path(osascript).exists():
            return OsascriptNotifier(osascript=osascript)
    elif env.platform == "win32":
        if _tray_can_notify(tray_icon):
            return PystrayNotifier(tray_icon)
    elif session_bus_reachable(session_bus_address(env.environ)):
        return _dbus(env)
    elif env.platform.startswith("linux"):
        # plyer's Linux path needs the same session bus (dbus-python or notify-send): without one it
        # only prints warnings to the terminal and shows nothing.
        log.warning("no D-Bus session bus: desktop notifications are off")
        return NullNotifier()
    if plyer_usable(env.platform, flatpak_marker):
        return PlyerNotifier()
    return NullNotifier()


def _dbus(env) -> DBusNotifier:
    return DBusNotifier(session_bus_address(env.environ), app_icon=AppIconFile(Path(env.data_dir) / ICON_FILE_NAME))


def _tray_can_notify(tray_icon) -> bool:
    # pystray declares it per backend: the xorg backend has HAS_NOTIFICATION = False.
    return tray_icon is not None and bool(getattr(tray_icon, "HAS_NOTIFICATION", False))
