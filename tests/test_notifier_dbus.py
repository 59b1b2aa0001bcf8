"""DBusNotifier against a real notification daemon (dunst) on a private session bus, read back
from the daemon's side (dunstctl history), never from the sender's return value."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

import pytest
from PIL import Image

from tests.desktop_bus import start_session_bus, stop_session_bus
from tray_monitor.alerts import AlertMemory, AlertSettings, Notification, evaluate
from tray_monitor.environment import Environment
from tray_monitor.model import Reading, UsageWindow
from tray_monitor.notifier import DBusNotifier, make_notifier
from tray_monitor.notifier.linux import AppIconFile, session_bus_reachable

NOTIFIER_LOG = "tray_monitor.notifier"


@pytest.fixture
def daemon(notification_daemon):
    notification_daemon.clear()
    return notification_daemon


def entries_by_summary(history):
    return {e["summary"]: e for e in history}


def test_a_popup_arrives_with_app_name_summary_body_and_urgency(daemon):
    DBusNotifier(daemon.bus.address).send(Notification("window:five_hour", "Session (5h) at 80%",
                                                       "Resets at 14:00 (in 2h 11m).", "normal"))
    [entry] = daemon.history()
    assert (entry["appname"], entry["summary"], entry["body"], entry["urgency"]) == (
        "claude-tray", "Session (5h) at 80%", "Resets at 14:00 (in 2h 11m).", "normal")


def test_limit_reached_from_evaluate_arrives_as_critical(daemon):
    now = datetime(2026, 9, 10, 12, 0, tzinfo=timezone.utc)
    window = UsageWindow("five_hour", "Session (5h)", 100.0, now + timedelta(hours=2), kind="session")
    _, notes = evaluate(AlertMemory(), Reading((window,), None, now), "ok", AlertSettings(), now)
    DBusNotifier(daemon.bus.address).send(notes[0])
    [entry] = daemon.history()
    assert entry["summary"] == "Session (5h) limit reached: 100%"
    assert entry["body"].endswith("Work with Claude pauses until then.")
    assert entry["urgency"] == "critical"


def test_low_urgency_is_passed_on(daemon):
    DBusNotifier(daemon.bus.address).send(Notification("window:five_hour", "reset", "b", "low"))
    assert daemon.history()[0]["urgency"] == "low"


def test_a_second_popup_with_the_same_key_replaces_the_first(daemon):
    notifier = DBusNotifier(daemon.bus.address)
    notifier.send(Notification("window:five_hour", "Session (5h) at 80%", "first", "normal"))
    notifier.send(Notification("window:five_hour", "Session (5h) at 95%", "second", "normal"))
    assert daemon.count("displayed") + daemon.count("waiting") == 1
    history = daemon.history()
    assert [(e["summary"], e["body"]) for e in history] == [("Session (5h) at 95%", "second")]


def test_popups_with_different_keys_stay_side_by_side(daemon):
    notifier = DBusNotifier(daemon.bus.address)
    notifier.send(Notification("window:five_hour", "Session (5h) at 80%", "a", "normal"))
    notifier.send(Notification("window:seven_day", "Weekly at 91%", "b", "normal"))
    assert daemon.count("displayed") + daemon.count("waiting") == 2
    assert sorted(entries_by_summary(daemon.history())) == ["Session (5h) at 80%", "Weekly at 91%"]


def test_after_the_user_closed_a_popup_the_next_one_of_that_key_still_shows(daemon):
    notifier = DBusNotifier(daemon.bus.address)
    notifier.send(Notification("login", "Claude login expired", "a", "normal"))
    daemon.dunstctl("close-all")  # the old id is gone from the screen; replaces_id points at nothing
    notifier.send(Notification("login", "This Claude login cannot read usage", "b", "normal"))
    assert daemon.count("displayed") + daemon.count("waiting") == 1
    assert "This Claude login cannot read usage" in entries_by_summary(daemon.history())


def test_our_icon_is_written_once_as_a_png_and_named_in_the_popup(daemon, tmp_path):
    icon_path = tmp_path / "data" / "notification-icon.png"
    notifier = DBusNotifier(daemon.bus.address, app_icon=AppIconFile(icon_path))
    notifier.send(Notification("test", "with icon", "b", "normal"))
    [entry] = daemon.history()
    assert entry["icon_path"] == str(icon_path)
    with Image.open(icon_path) as image:
        assert image.format == "PNG" and image.size == (64, 64)


def test_make_notifier_on_linux_with_a_reachable_bus_delivers_over_dbus(daemon, tmp_path):
    env = Environment.from_os(environ={**daemon.bus.env}, platform="linux", data_dir=tmp_path / "data")
    notifier = make_notifier(env)
    assert notifier.name == "dbus" and notifier.replaces
    notifier.send(Notification("test", "claude-tray notifications work", "This is how usage alerts will look.", "normal"))
    [entry] = daemon.history()
    assert (entry["summary"], entry["body"]) == ("claude-tray notifications work", "This is how usage alerts will look.")
    assert entry["icon_path"] == str(tmp_path / "data" / "notification-icon.png")


def test_the_private_bus_is_reachable_and_a_missing_socket_is_not(session_bus, tmp_path):
    assert session_bus_reachable(session_bus.address)
    assert not session_bus_reachable(f"unix:path={tmp_path / 'nothing.sock'}")


def test_no_bus_at_all_is_logged_once_and_never_raises(tmp_path, caplog):
    notifier = DBusNotifier(f"unix:path={tmp_path / 'no-bus.sock'}")
    with caplog.at_level(logging.DEBUG, logger=NOTIFIER_LOG):
        for _ in range(3):
            notifier.send(Notification("test", "s", "b", "normal"))
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "via dbus failed" in warnings[0].getMessage()


def test_a_bus_without_a_notification_daemon_is_logged_once_and_never_raises(desktop_workdir, caplog):
    bus = start_session_bus(desktop_workdir / "empty-bus", "empty")
    try:
        notifier = DBusNotifier(bus.address)
        notifier.send(Notification("test", "s", "b", "normal"))
        notifier.send(Notification("test", "s", "b", "normal"))
    finally:
        stop_session_bus(bus)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and r.name == NOTIFIER_LOG]
    assert len(warnings) == 1 and "DBusErrorResponse" in warnings[0].getMessage()


def test_no_bus_address_is_logged_not_raised(caplog):
    DBusNotifier(None).send(Notification("test", "s", "b", "normal"))
    assert "no D-Bus session bus" in caplog.text
