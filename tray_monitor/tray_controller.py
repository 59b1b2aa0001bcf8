"""What the tray's menu and icon click do: one small object the composition root builds before the
tray (the tray needs its actions) and binds to the monitor, poller, notifier and tray after them.

Every method runs on the tray adapter's action thread, never on a tray's event thread.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from tray_monitor.alerts import Notification, make_test_notification, status_notification
from tray_monitor.errors import MonitorError
from tray_monitor.schedule import RefreshOutcome
from tray_monitor.state import NotificationsToggled
from tray_monitor.tray.menu import TrayActions

log = logging.getLogger(__name__)

USAGE_PAGE = "https://claude.ai/settings/usage"
STATUS_WAIT = 8.0  # seconds a click's status popup waits for the refresh it asked for (read timeout is 20)
#: Said once, in the first status popup of a tray that has no menu (pystray's XEmbed backend).
NO_MENU_HINT = ("This tray (XEmbed) shows no menu. For one, use a panel whose tray speaks StatusNotifierItem: "
                "KDE, XFCE, LXQt, waybar; GNOME with the AppIndicator extension.")


def _open_in_browser(url: str) -> object:
    # webbrowser (with shlex) is imported at the first click: about 0.4 MiB of RSS otherwise kept
    # for the life of the tray.
    import webbrowser

    return webbrowser.open(url)


@dataclass(frozen=True)
class _Parts:
    monitor: Any
    poller: Any
    notifier: Any
    tray: Any


class TrayController:
    def __init__(self, env, autostart, *, status_wait: float = STATUS_WAIT,
                 open_url: Callable[[str], object] | None = None,
                 open_history: Callable[[], object] | None = None):
        self._env = env
        self._autostart = autostart
        self._status_wait = status_wait
        self._open_url = open_url or _open_in_browser
        self._open_history = open_history
        self._parts: _Parts | None = None
        self._last_refresh: RefreshOutcome | None = None
        self._menu_hint_given = False

    def bind(self, *, monitor, poller, notifier, tray) -> None:
        self._parts = _Parts(monitor, poller, notifier, tray)

    @property
    def parts(self) -> _Parts:
        if self._parts is None:
            raise RuntimeError("TrayController used before bind()")
        return self._parts

    def actions(self) -> TrayActions:
        return TrayActions(
            refresh=self.refresh,
            show_status=self.show_status,
            open_usage_page=self.open_usage_page,
            quit=self.quit,
            toggle_notifications=self.toggle_notifications,
            send_test_notification=self.send_test_notification,
            toggle_autostart=self.toggle_autostart,
            autostart_enabled=self.autostart_enabled,
            open_history=self.open_history,
            menu_opened=self.menu_opened,
        )

    # ------------------------------------------------------------------ the actions
    def send(self, notification: Notification) -> None:
        self.parts.notifier.send(notification)

    def refresh(self) -> RefreshOutcome:
        self._last_refresh = outcome = self.parts.poller.refresh()
        return outcome

    def show_status(self) -> None:
        """A left click asks for a refresh first (tray/__init__.py): show what that request brings,
        not the numbers from before it, unless no request went out (coalesced, rate limited,
        logged out). A tray with no menu says once, in this popup, how to get one."""
        last, self._last_refresh = self._last_refresh, None
        if last is RefreshOutcome.ACCEPTED:
            wait_for_next_view(self.parts.monitor, self._status_wait)
        notification = status_notification(self.parts.monitor.view())
        if not self.parts.tray.has_menu and not self._menu_hint_given:
            self._menu_hint_given = True
            notification = replace(notification, body=f"{notification.body}\n\n{NO_MENU_HINT}")
        self.send(notification)

    def toggle_notifications(self, enabled: bool) -> None:
        from tray_monitor.settings import save_preference

        save_preference(self._env, "notifications", enabled)
        self.parts.monitor.handle(NotificationsToggled(enabled))

    def toggle_autostart(self, enabled: bool) -> None:
        try:
            self._autostart.enable() if enabled else self._autostart.disable()
        except MonitorError as error:
            log.warning("autostart: %s", error)
            self.send(Notification(key="autostart", summary="Start at login", body=error.message, urgency="normal"))

    def autostart_enabled(self) -> bool:
        return bool(self._autostart.status().enabled)

    def menu_opened(self) -> None:
        """Someone opened the menu: an idle stretch of the polling ends (schedule.activity_seen)."""
        self.parts.poller.activity_seen()

    def send_test_notification(self) -> None:
        self.send(make_test_notification())

    def open_usage_page(self) -> None:
        self._open_url(USAGE_PAGE)

    def open_history(self) -> None:
        """ "Usage history…": draw the chart and open it (app.open_history_chart)."""
        if self._open_history is not None:
            self._open_history()

    def quit(self) -> None:
        self.parts.tray.stop()

    def quit_from_control(self) -> str:
        """The control channel's `quit` (from `claude-tray quit`)."""
        self.quit()
        return "quitting"


def wait_for_next_view(monitor, timeout: float) -> bool:
    """Block (on the tray's action thread, never the tray's own) until the monitor publishes a new
    view, e.g. the result of a refresh; False after `timeout` seconds."""
    arrived = threading.Event()
    unsubscribe = monitor.subscribe(lambda _view: arrived.set())
    try:
        return arrived.wait(timeout)
    finally:
        unsubscribe()
