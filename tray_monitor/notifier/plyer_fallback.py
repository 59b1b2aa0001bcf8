"""plyer: the last resort on every platform (it hides its own failures on Linux, see linux.py)."""
from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path

from tray_monitor.alerts import Notification
from tray_monitor.notifier.base import FailureLog

APP_NAME = "claude-tray"
_TIMEOUT_S = {"low": 5, "normal": 10, "critical": 30}


def plyer_usable(platform: str, flatpak_marker: Path = Path("/app")) -> bool:
    """plyer is installed, and not fooled: on Linux it takes an existing /app for a Flatpak
    sandbox and then silently does nothing."""
    if importlib.util.find_spec("plyer") is None:
        return False
    return not (platform.startswith("linux") and flatpak_marker.exists())


class PlyerNotifier:
    name = "plyer"
    replaces = False

    def __init__(self, app_icon: str = "", notify: Callable[..., object] | None = None):
        self._app_icon = app_icon
        self._notify = notify  # plyer.notification.notify unless a test passes a recorder
        self._failures = FailureLog(self.name)

    def send(self, n: Notification) -> None:
        try:
            notify = self._notify
            if notify is None:
                from plyer import notification

                notify = notification.notify
            notify(title=n.summary, message=n.body, app_name=APP_NAME, app_icon=self._app_icon,
                   timeout=_TIMEOUT_S.get(n.urgency, 10))
            self._failures.succeeded()
        except Exception as exc:  # plyer raises NotImplementedError, OSError, its backends' errors
            self._failures.failed(exc)
