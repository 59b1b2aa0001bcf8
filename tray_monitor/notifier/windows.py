"""Windows: the tray icon's own balloon / toast through pystray (no pywin32, no extra process)."""
from __future__ import annotations

import threading

from tray_monitor.alerts import Notification
from tray_monitor.notifier.base import FailureLog


class PystrayNotifier:
    name = "pystray"
    replaces = True

    def __init__(self, icon):
        self._icon = icon
        self._shown_key: str | None = None  # the key of the balloon pystray shows now
        self._lock = threading.Lock()
        self._failures = FailureLog(self.name)

    def send(self, n: Notification) -> None:
        try:
            with self._lock:
                if self._shown_key == n.key:
                    # One balloon per icon: take the window's old one down so the new one
                    # replaces it rather than queueing behind it.
                    self._icon.remove_notification()
                self._icon.notify(n.body, n.summary)
                self._shown_key = n.key
            self._failures.succeeded()
        except Exception as exc:  # pystray backends raise NotImplementedError, OSError, ctypes errors
            self._failures.failed(exc)
