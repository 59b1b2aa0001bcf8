"""The notifier interface, the do-nothing fallback and the shared "log the first failure" rule.

Whether to notify is the core's decision (alerts.evaluate, state.step); a notifier only delivers.
`send` never raises: a failed popup must never stop the poller.
"""
from __future__ import annotations

import logging
from typing import Protocol

from tray_monitor.alerts import Notification

log = logging.getLogger("tray_monitor.notifier")


class Notifier(Protocol):
    @property
    def name(self) -> str:
        """"dbus", "plyer", "osascript", "pystray", "none": for the log and `doctor`."""

    @property
    def replaces(self) -> bool:
        """Whether a popup with the same key replaces the previous one."""

    def send(self, n: Notification) -> None:
        """Deliver one popup; never raises."""


class NullNotifier:
    """No way to show popups here (or CLAUDE_TRAY_NOTIFIER=none): notifications are dropped."""

    name = "none"
    replaces = False

    def send(self, n: Notification) -> None:
        log.debug("notification dropped (no notifier): %s", n.key)


class FailureLog:
    """Logs the first failure of each kind as a warning and repeats at debug level only, so a
    desktop without a notification service does not fill the log every poll. A success re-arms
    it: the next outage is reported again."""

    def __init__(self, notifier_name: str):
        self._name = notifier_name
        self._logged: set[str] = set()

    def failed(self, exc: BaseException, what: str = "") -> None:
        kind = type(exc).__name__
        detail = f"{what}: {exc}" if what else str(exc)
        if kind in self._logged:
            log.debug("%s notification failed again (%s: %s)", self._name, kind, detail)
            return
        self._logged.add(kind)
        log.warning("Desktop notification via %s failed (%s: %s); further failures of this kind "
                    "are logged at debug level.", self._name, kind, detail)

    def succeeded(self) -> None:
        self._logged.clear()
