"""tray_controller.py: what each menu entry and the left click do, with recording parts."""
from __future__ import annotations

import pytest

from tests.envs import temp_env
from tests.test_tray import make_view
from tray_monitor.errors import ConfigError
from tray_monitor.schedule import RefreshOutcome
from tray_monitor.settings import load_preferences
from tray_monitor.state import NotificationsToggled
from tray_monitor.tray_controller import NO_MENU_HINT, USAGE_PAGE, TrayController


class Parts:
    def __init__(self, outcome=RefreshOutcome.ACCEPTED, has_menu=True, publishes=True):
        self.sent, self.handled, self.stopped, self.refreshes = [], [], 0, 0
        self.outcome, self.has_menu, self.publishes = outcome, has_menu, publishes
        self.subscribers = []

    # poller
    def refresh(self):
        self.refreshes += 1
        return self.outcome

    # monitor
    def view(self):
        return make_view(91 if self.refreshes else 78)

    def handle(self, event):
        self.handled.append(event)

    def subscribe(self, callback):
        self.subscribers.append(callback)
        if self.publishes:
            callback(self.view())
        return lambda: self.subscribers.remove(callback)

    # notifier
    def send(self, notification):
        self.sent.append(notification)

    # tray
    def stop(self):
        self.stopped += 1


class Autostart:
    def __init__(self, fail=False):
        self.fail, self.enabled_calls = fail, []

    def enable(self):
        if self.fail:
            raise ConfigError("cannot write the autostart entry")
        self.enabled_calls.append(True)

    def disable(self):
        self.enabled_calls.append(False)

    def status(self):
        return type("S", (), {"enabled": bool(self.enabled_calls and self.enabled_calls[-1])})()


def controller_for(tmp_path, parts: Parts, autostart=None, **kwargs) -> tuple[TrayController, list]:
    opened: list = []
    controller = TrayController(temp_env(tmp_path), autostart or Autostart(), status_wait=0.2,
                                open_url=opened.append, **kwargs)
    controller.bind(monitor=parts, poller=parts, notifier=parts, tray=parts)
    return controller, opened


def test_refresh_answers_a_code_and_the_click_popup_shows_the_refreshed_numbers(tmp_path):
    parts = Parts()
    controller, _ = controller_for(tmp_path, parts)
    assert controller.refresh() is RefreshOutcome.ACCEPTED
    controller.show_status()
    assert len(parts.subscribers) == 0  # waited for the next view, then unsubscribed
    assert "91%" in parts.sent[-1].body


def test_the_popup_does_not_wait_when_no_request_went_out(tmp_path):
    parts = Parts(outcome=RefreshOutcome.COALESCED, publishes=False)
    controller, _ = controller_for(tmp_path, parts, )
    controller.refresh()
    controller.show_status()
    assert parts.subscribers == [] and len(parts.sent) == 1


def test_a_tray_without_a_menu_says_once_how_to_get_one(tmp_path):
    parts = Parts(has_menu=False)
    controller, _ = controller_for(tmp_path, parts)
    controller.show_status()
    controller.show_status()
    assert [NO_MENU_HINT in n.body for n in parts.sent] == [True, False]
    with_menu = Parts(has_menu=True)
    controller, _ = controller_for(tmp_path, with_menu)
    controller.show_status()
    assert NO_MENU_HINT not in with_menu.sent[0].body


def test_toggles_persist_and_reach_the_monitor_and_autostart(tmp_path):
    parts, autostart = Parts(), Autostart()
    controller, opened = controller_for(tmp_path, parts, autostart)
    controller.toggle_notifications(False)
    assert parts.handled == [NotificationsToggled(False)]
    assert load_preferences(temp_env(tmp_path))[0]["notifications"] is False
    controller.toggle_autostart(True)
    assert controller.autostart_enabled() is True
    controller.open_usage_page()
    assert opened == [USAGE_PAGE]
    controller.send_test_notification()
    assert parts.sent[-1].key == "test"
    assert controller.quit_from_control() == "quitting" and parts.stopped == 1


def test_a_failing_autostart_change_becomes_a_popup(tmp_path):
    parts = Parts()
    controller, _ = controller_for(tmp_path, parts, Autostart(fail=True))
    controller.toggle_autostart(True)
    assert parts.sent[-1].key == "autostart" and "cannot write" in parts.sent[-1].body


def test_actions_before_bind_say_so(tmp_path):
    controller = TrayController(temp_env(tmp_path), Autostart())
    with pytest.raises(RuntimeError, match="before bind"):
        controller.refresh()
