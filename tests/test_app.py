"""The composition root's own small decisions (the wiring itself is exercised end to end in
test_app_desktop.py, test_app_notifications.py and test_faults.py)."""
from __future__ import annotations

import json

from tray_monitor import app
from tray_monitor.environment import Environment
from tray_monitor.settings import preferences_path
from tray_monitor.tray_controller import wait_for_next_view


def env_for(tmp_path, platform):
    return Environment.from_os(platform=platform, data_dir=tmp_path / "data", config_dir=tmp_path / "config")


def test_windows_first_start_tells_once_where_the_hidden_tray_icon_is(tmp_path):
    """Windows hides a new tray icon under the ^ overflow arrow: the first start says so, later
    starts do not (remembered in preferences.json)."""
    env = env_for(tmp_path, "win32")
    sent = []
    app.first_run_hint(env, sent.append)
    app.first_run_hint(env, sent.append)
    assert [n.key for n in sent] == ["welcome"]
    assert "^" in sent[0].body and "taskbar" in sent[0].body
    assert json.loads(preferences_path(env).read_text())["overflow_hint_shown"] is True


def test_other_systems_get_no_overflow_hint(tmp_path):
    sent = []
    for platform in ("linux", "darwin"):
        app.first_run_hint(env_for(tmp_path, platform), sent.append)
    assert sent == []
    assert not preferences_path(env_for(tmp_path, "linux")).exists()


def test_waiting_for_the_next_view_returns_when_the_monitor_publishes_one():
    import threading

    from tray_monitor.clock import FakeClock
    from tray_monitor.errors import Transient
    from tray_monitor.monitor import Monitor
    from tray_monitor.notifier import NullNotifier
    from tray_monitor.state import MonitorState, PollFailed

    monitor = Monitor(MonitorState(), FakeClock(), NullNotifier(), None)
    threading.Timer(0.05, monitor.handle, args=(PollFailed(Transient("offline")),)).start()
    assert wait_for_next_view(monitor, timeout=5) is True


def test_waiting_for_the_next_view_gives_up_after_the_timeout_and_unsubscribes():
    from tray_monitor.clock import FakeClock
    from tray_monitor.monitor import Monitor
    from tray_monitor.notifier import NullNotifier
    from tray_monitor.state import MonitorState

    monitor = Monitor(MonitorState(), FakeClock(), NullNotifier(), None)
    assert wait_for_next_view(monitor, timeout=0.05) is False
    assert monitor._listeners == []
