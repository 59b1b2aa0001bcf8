"""The notifiers that cannot run here (macOS osascript, the Windows tray balloon, plyer) checked by
the exact calls they make, plus the factory's choices and the log-once failure rule."""
from __future__ import annotations

import logging
import subprocess
import sys
import types

import pytest

from tray_monitor.alerts import Notification
from tray_monitor.environment import Environment
from tray_monitor.notifier import (
    DBusNotifier,
    NullNotifier,
    OsascriptNotifier,
    PlyerNotifier,
    PystrayNotifier,
    make_notifier,
)
from tray_monitor.notifier.base import FailureLog
from tray_monitor.notifier.linux import AppIconFile, session_bus_address, session_bus_reachable
from tray_monitor.notifier.macos import applescript_string
from tray_monitor.notifier.plyer_fallback import plyer_usable

NOTE = Notification("window:five_hour", "Session (5h) at 92%", "Resets at 14:00 (in 2h 11m).", "normal")
LOGGER = "tray_monitor.notifier"


def warnings_in(caplog):
    return [r.getMessage() for r in caplog.records if r.name == LOGGER and r.levelno == logging.WARNING]


# ---------------------------------------------------------------- failure log


def test_failure_log_warns_once_per_kind_and_again_after_a_success(caplog):
    failures = FailureLog("test")
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        failures.failed(OSError("no socket"))
        failures.failed(OSError("no socket"))
        failures.failed(TimeoutError("slow"))
        failures.succeeded()
        failures.failed(OSError("no socket"))
    assert len(warnings_in(caplog)) == 3
    assert sum("failed again" in r.getMessage() for r in caplog.records) == 1


def test_null_notifier_accepts_everything_and_shows_nothing():
    notifier = NullNotifier()
    notifier.send(NOTE)
    assert (notifier.name, notifier.replaces) == ("none", False)


# ---------------------------------------------------------------- macOS: osascript


class RecordingRun:
    def __init__(self, returncode=0, stderr="", raises=None):
        self.calls = []
        self.returncode, self.stderr, self.raises = returncode, stderr, raises

    def __call__(self, argv, **kwargs):
        self.calls.append((argv, kwargs))
        if self.raises is not None:
            raise self.raises
        return subprocess.CompletedProcess(argv, self.returncode, "", self.stderr)


def test_osascript_is_called_with_the_exact_script_and_a_timeout():
    run = RecordingRun()
    OsascriptNotifier(run=run).send(NOTE)
    assert run.calls == [(
        ["/usr/bin/osascript", "-e",
         'display notification "Resets at 14:00 (in 2h 11m)." with title "Session (5h) at 92%"'],
        {"capture_output": True, "text": True, "timeout": 10.0, "check": False},
    )]


def test_osascript_text_escapes_quotes_and_backslashes_and_flattens_line_breaks():
    run = RecordingRun()
    OsascriptNotifier(run=run).send(Notification("test", 'say "hi" \\o/', "line one\nline two\ttab", "normal"))
    assert run.calls[0][0][2] == (
        'display notification "line one line two tab" with title "say \\"hi\\" \\\\o/"'
    )


@pytest.mark.parametrize(
    "text, literal",
    [("plain", '"plain"'), ('a"b', '"a\\"b"'), ("a\\b", '"a\\\\b"'), ('\\"', '"\\\\\\""'), ("a\r\nb", '"a b"')],
)
def test_applescript_string_literals(text, literal):
    assert applescript_string(text) == literal


def test_osascript_error_exit_is_logged_once_with_its_message(caplog):
    run = RecordingRun(returncode=1, stderr="execution error: Not authorised (-1743)\nmore")
    notifier = OsascriptNotifier(run=run)
    notifier.send(NOTE)
    notifier.send(NOTE)
    assert len(run.calls) == 2
    assert len(warnings_in(caplog)) == 1 and "Not authorised (-1743)" in warnings_in(caplog)[0]


def test_osascript_error_exit_without_a_message_names_the_status(caplog):
    OsascriptNotifier(run=RecordingRun(returncode=3)).send(NOTE)
    assert "exit status 3" in warnings_in(caplog)[0]


@pytest.mark.parametrize("error", [FileNotFoundError(2, "No such file", "/usr/bin/osascript"),
                                   subprocess.TimeoutExpired(["osascript"], 10.0)])
def test_osascript_missing_or_hanging_is_logged_not_raised(error, caplog):
    OsascriptNotifier(run=RecordingRun(raises=error)).send(NOTE)
    assert len(warnings_in(caplog)) == 1 and type(error).__name__ in warnings_in(caplog)[0]


# ---------------------------------------------------------------- Windows: pystray's balloon


class FakeIcon:
    HAS_NOTIFICATION = True

    def __init__(self, raises=None):
        self.calls = []
        self.raises = raises

    def notify(self, message, title=None):
        self.calls.append(("notify", message, title))
        if self.raises is not None:
            raise self.raises

    def remove_notification(self):
        self.calls.append(("remove_notification",))


def test_pystray_balloon_gets_body_as_message_and_summary_as_title():
    icon = FakeIcon()
    PystrayNotifier(icon).send(NOTE)
    assert icon.calls == [("notify", NOTE.body, NOTE.summary)]


def test_pystray_balloon_of_the_same_key_is_removed_before_the_new_one():
    icon = FakeIcon()
    notifier = PystrayNotifier(icon)
    notifier.send(NOTE)
    notifier.send(Notification("window:five_hour", "Session (5h) limit reached: 100%", "b", "critical"))
    notifier.send(Notification("login", "Claude login expired", "c", "normal"))
    assert icon.calls == [
        ("notify", NOTE.body, NOTE.summary),
        ("remove_notification",),
        ("notify", "b", "Session (5h) limit reached: 100%"),
        ("notify", "c", "Claude login expired"),
    ]


def test_pystray_backend_failure_is_logged_not_raised(caplog):
    PystrayNotifier(FakeIcon(raises=NotImplementedError())).send(NOTE)
    assert "via pystray failed (NotImplementedError" in warnings_in(caplog)[0]


# ---------------------------------------------------------------- plyer


def test_plyer_gets_title_message_app_name_and_timeout():
    calls = []
    PlyerNotifier(app_icon="/x/icon.png", notify=lambda **kw: calls.append(kw)).send(NOTE)
    assert calls == [{"title": NOTE.summary, "message": NOTE.body, "app_name": "claude-tray",
                      "app_icon": "/x/icon.png", "timeout": 10}]


def test_plyer_is_imported_only_when_sending(monkeypatch):
    calls = []
    fake_plyer = types.ModuleType("plyer")
    fake_plyer.notification = types.SimpleNamespace(notify=lambda **kw: calls.append(kw["title"]))
    monkeypatch.setitem(sys.modules, "plyer", fake_plyer)
    PlyerNotifier().send(NOTE)
    assert calls == [NOTE.summary]


def test_plyer_failure_is_logged_not_raised(caplog):
    def broken(**kw):
        raise NotImplementedError("No usable implementation found!")

    PlyerNotifier(notify=broken).send(NOTE)
    assert "No usable implementation found!" in warnings_in(caplog)[0]


def test_plyer_is_not_usable_on_linux_when_a_flatpak_marker_exists(tmp_path):
    assert plyer_usable("linux", flatpak_marker=tmp_path / "absent")
    assert not plyer_usable("linux", flatpak_marker=tmp_path)
    assert plyer_usable("darwin", flatpak_marker=tmp_path)


# ---------------------------------------------------------------- the factory


def env_for(tmp_path, platform="linux", **environ):
    return Environment.from_os(environ=environ, platform=platform, data_dir=tmp_path / "data")


NO_BUS = "unix:path=/nonexistent/claude-tray-test/bus"


@pytest.mark.parametrize("choice, kind", [("none", NullNotifier), ("plyer", PlyerNotifier),
                                          ("osascript", OsascriptNotifier), ("dbus", DBusNotifier),
                                          (" DBus ", DBusNotifier)])
def test_override_picks_the_named_notifier(tmp_path, choice, kind):
    env = env_for(tmp_path, CLAUDE_TRAY_NOTIFIER=choice, DBUS_SESSION_BUS_ADDRESS=NO_BUS)
    assert type(make_notifier(env)) is kind


def test_override_pystray_uses_a_capable_tray_icon(tmp_path):
    env = env_for(tmp_path, CLAUDE_TRAY_NOTIFIER="pystray")
    assert type(make_notifier(env, tray_icon=FakeIcon())) is PystrayNotifier


def test_override_pystray_without_a_capable_icon_shows_nothing_and_says_so(tmp_path, caplog):
    env = env_for(tmp_path, CLAUDE_TRAY_NOTIFIER="pystray")
    assert type(make_notifier(env, tray_icon=None)) is NullNotifier
    assert "cannot show notifications" in caplog.text


def test_unknown_override_is_warned_about_and_ignored(tmp_path, caplog):
    env = env_for(tmp_path, "darwin", CLAUDE_TRAY_NOTIFIER="growl")
    osascript = tmp_path / "osascript"
    osascript.touch()
    assert type(make_notifier(env, osascript=str(osascript))) is OsascriptNotifier
    assert "CLAUDE_TRAY_NOTIFIER=growl is not one of dbus, plyer, osascript, pystray, none" in caplog.text


def test_macos_uses_osascript_when_present_else_plyer(tmp_path):
    osascript = tmp_path / "osascript"
    assert type(make_notifier(env_for(tmp_path, "darwin"), osascript=str(osascript))) is PlyerNotifier
    osascript.touch()
    assert type(make_notifier(env_for(tmp_path, "darwin"), osascript=str(osascript))) is OsascriptNotifier


def test_windows_uses_the_tray_icon_when_its_backend_can_notify_else_plyer(tmp_path):
    class XorgLikeIcon(FakeIcon):
        HAS_NOTIFICATION = False

    assert type(make_notifier(env_for(tmp_path, "win32"), tray_icon=FakeIcon())) is PystrayNotifier
    assert type(make_notifier(env_for(tmp_path, "win32"), tray_icon=XorgLikeIcon())) is PlyerNotifier
    assert type(make_notifier(env_for(tmp_path, "win32"))) is PlyerNotifier


def test_linux_without_a_reachable_bus_turns_notifications_off_instead_of_a_silent_plyer(tmp_path, caplog):
    # plyer's Linux path needs the same session bus; without one it only prints warnings.
    env = env_for(tmp_path, DBUS_SESSION_BUS_ADDRESS=NO_BUS)
    assert type(make_notifier(env, flatpak_marker=tmp_path / "absent")) is NullNotifier
    assert "no D-Bus session bus" in caplog.text


def test_linux_with_plyer_forced_uses_plyer(tmp_path):
    env = env_for(tmp_path, DBUS_SESSION_BUS_ADDRESS=NO_BUS, CLAUDE_TRAY_NOTIFIER="plyer")
    assert type(make_notifier(env)) is PlyerNotifier


def test_session_bus_address_prefers_the_variable_then_the_systemd_user_socket(tmp_path):
    assert session_bus_address({"DBUS_SESSION_BUS_ADDRESS": " unix:path=/a "}) == "unix:path=/a"
    assert session_bus_address({"XDG_RUNTIME_DIR": str(tmp_path)}) is None
    (tmp_path / "bus").touch()
    assert session_bus_address({"XDG_RUNTIME_DIR": str(tmp_path)}) == f"unix:path={tmp_path / 'bus'}"
    assert session_bus_address({}) is None


def test_no_bus_address_is_not_reachable():
    assert not session_bus_reachable(None)


def test_an_icon_file_that_cannot_be_written_leaves_popups_without_an_icon(tmp_path, caplog):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    icon = AppIconFile(blocker / "icon.png")
    assert icon() == "" and icon() == ""
    assert caplog.text.count("Could not write the notification icon") == 1
