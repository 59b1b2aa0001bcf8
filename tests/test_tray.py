"""The tray adapter against pystray's real Menu/MenuItem/Icon base class with a recording platform
layer (what each backend would be asked to do), plus the dummy backend and the no-display path.
Real X and SNI hosts are in test_tray_desktop.py."""
from __future__ import annotations

import sys
import threading
import types
from dataclasses import replace
from datetime import datetime, timezone

import pytest
from PIL import Image

from tests.envs import temp_env
from tray_monitor.clock import FakeClock
from tray_monitor.environment import Environment
from tray_monitor.errors import ConfigError
from tray_monitor.model import IconSpec
from tray_monitor.tray import (
    AUTOSTART_RECHECK_EVERY,
    NoGraphicalSession,
    TrayActions,
    TrayAdapter,
    menu_entries,
)
from tray_monitor.tray import xembed as tray_module
from tray_monitor.tray.xembed import PystrayBackend, latin1_safe, load_backend
from tray_monitor.view import View, WindowRow

NOW = datetime(2026, 9, 1, 12, 0, tzinfo=timezone.utc)


def make_view(percent: float = 78, tooltip: str = "Claude: 78% · resets in 2h 11m", **changes) -> View:
    row = WindowRow(
        id="five_hour", label="Session (5h)", percent=percent, percent_text=f"{percent:.0f}%",
        severity="warning", active=True, resets_at=None, reset_text="resets in 2h 11m (14:00)",
        menu_text=f"Session (5h): {percent:.0f}% · resets in 2h 11m (14:00)", locked_reason=None,
    )
    weekly = replace(row, id="seven_day", label="Weekly", percent=40, active=False,
                     menu_text="Weekly: 40% · resets in 3d 4h (Fri 09:00)")
    values = dict(
        status="ok", icon=IconSpec(state="ok", percent=percent, weekly_percent=40, severity="warning"),
        tooltip=tooltip, plan="Max 5x", windows=(row, weekly), extra_usage_text="Extra usage: $4.20 of $50.00",
        updated_text="Updated 12:00", message=None, updated_at=NOW, next_poll_at=None,
        notifications_enabled=True,
    )
    values.update(changes)
    return View(**values)


def fake_render(spec: IconSpec, size: int = 64, template: bool = False, opaque: bool = False) -> Image.Image:
    """Pixels depend on the rounded percent only, like a real icon that shows a whole number."""
    level = int(round(spec.percent or 0))
    return Image.new("RGB" if opaque else "RGBA", (size, size), (level, 0, 255 if template else 0))


class Recorder:
    def __init__(self, autostart: bool = False):
        self.calls: list[tuple] = []
        self.autostart = autostart

    def actions(self, fail: str | None = None) -> TrayActions:
        def record(name):
            def action(*args):
                self.calls.append((name, *args))
                if name == fail:
                    raise RuntimeError(f"{name} broke")
            return action

        def autostart_enabled():
            if fail == "autostart_enabled":
                raise OSError("cannot stat the autostart entry")
            return self.autostart

        def toggle_autostart(enabled):
            record("toggle_autostart")(enabled)
            self.autostart = enabled

        return TrayActions(
            refresh=record("refresh"), show_status=record("show_status"),
            open_usage_page=record("open_usage_page"), quit=record("quit"),
            toggle_notifications=record("toggle_notifications"),
            send_test_notification=record("send_test_notification"),
            toggle_autostart=toggle_autostart, autostart_enabled=autostart_enabled,
        )


def recording_backend(module_name: str = "fake._recording"):
    """A pystray backend whose platform layer records what it was asked to do."""
    from pystray import _base

    class RecordingIcon(_base.Icon):
        def __init__(self, *args, **kwargs):
            self.platform_calls: list[tuple] = []
            super().__init__(*args, **kwargs)
            self._window = FakeXWindow()
            self._display = FakeXDisplay()

        def _show(self):
            self.platform_calls.append(("show",))

        def _hide(self):
            self.platform_calls.append(("hide",))

        def _update_icon(self):
            self.platform_calls.append(("icon", self.icon.tobytes()))

        _systray_manager = None

        def _dock_window(self):  # pystray xorg: send SYSTEM_TRAY_REQUEST_DOCK
            self.platform_calls.append(("dock request",))
            self._systray_manager = object()

        def _update_title(self):
            self.platform_calls.append(("title", self.title))

        def _update_menu(self):
            self.platform_calls.append(("menu",))

        def _run(self):
            self._mark_ready()
            self._stopped = threading.Event()
            self._stopped.wait(10)

        def _stop(self):
            self._stopped.set()

    return types.SimpleNamespace(__name__=module_name, Icon=RecordingIcon)


ROOT_WINDOW, TRAY_SOCKET = 1, 2


class FakeXWindow:
    id = 0x1234

    def __init__(self):
        self.event_masks: list[int] = []
        self.parent = ROOT_WINDOW
        self.destroyed = False

    def change_attributes(self, event_mask):
        self.event_masks.append(event_mask)

    def query_tree(self):
        if self.destroyed:
            raise ConnectionError("BadWindow")
        return types.SimpleNamespace(parent=types.SimpleNamespace(id=self.parent))


class FakeXDisplay:
    flushed = 0

    def flush(self):
        self.flushed += 1

    def screen(self):
        return types.SimpleNamespace(root=types.SimpleNamespace(id=ROOT_WINDOW))


def labels(icon) -> list[str]:
    return [item.text for item in icon.menu]  # visible items only, as a menu shows them


def item(icon, text: str):
    return next(i for i in icon.menu.items if i.text == text)


@pytest.fixture
def env():
    return Environment.from_os()


def adapter_for(env, recorder, module_name="fake._recording", fail=None) -> TrayAdapter:
    return TrayAdapter(env, recorder.actions(fail), backend=PystrayBackend(env, recording_backend(module_name), render=fake_render))


# ----------------------------------------------------------------------------- the menu


def test_menu_lists_plan_window_lines_extra_usage_update_and_commands_in_order():
    entries = menu_entries(make_view(), autostart_on=False)
    visible = [e.text for e in entries if e.visible]
    assert visible == [
        "Plan: Max 5x",
        "Session (5h): 78% · resets in 2h 11m (14:00)",
        "Weekly: 40% · resets in 3d 4h (Fri 09:00)",
        "Extra usage: $4.20 of $50.00",
        "Updated 12:00",
        "-", "Refresh now", "Open usage page", "Usage history…",
        "-", "Notifications", "Send test notification", "Start at login",
        "-", "Quit",
    ]


def test_menu_shows_the_forecast_top_line_and_one_line_under_each_window():
    view = make_view(forecast_line="Session runs out first: 13:40, resets 14:00")
    session, weekly = view.windows
    view = replace(view, windows=(replace(session, forecast_text="pace 1.3x · runs out 13:40", in_icon=True),
                                  replace(weekly, forecast_text="on track")))
    visible = [e.text for e in menu_entries(view, autostart_on=False) if e.visible]
    assert visible[:6] == [
        "Plan: Max 5x",
        "Session runs out first: 13:40, resets 14:00",
        "Session (5h): 78% · resets in 2h 11m (14:00)",
        "      pace 1.3x · runs out 13:40",
        "Weekly: 40% · resets in 3d 4h (Fri 09:00)",
        "      on track",
    ]


def test_the_tooltips_body_is_the_menus_information_without_the_update_time():
    """A poll with the same numbers changes only "Updated 12:00" -> "12:01": in the menu (a label,
    pushed with ItemsPropertiesUpdated), not in the tooltip's body, whose every change has the host
    read the tooltip again over D-Bus."""
    from tray_monitor.tray.menu import look_of

    first = look_of(make_view(), autostart_on=False)
    later = look_of(make_view(updated_text="Updated 12:01"), autostart_on=False)
    assert "Updated 12:00" in [e.text for e in first.menu] and "Updated 12:01" in [e.text for e in later.menu]
    assert first.info_lines == later.info_lines == (
        "Plan: Max 5x", "Session (5h): 78% · resets in 2h 11m (14:00)", "Weekly: 40% · resets in 3d 4h (Fri 09:00)",
        "Extra usage: $4.20 of $50.00")
    stale = look_of(make_view(status="stale", updated_text="Last reading 9 min ago", message="Offline — retrying"),
                    autostart_on=False)
    assert stale.info_lines[-1] == "Offline — retrying"


def test_menu_shows_the_problem_message_and_leaves_out_absent_plan_and_extra_usage():
    view = make_view(plan=None, extra_usage_text=None, windows=(), message="Run `claude` to log in again.")
    visible = [e.text for e in menu_entries(view, autostart_on=False) if e.visible]
    assert visible[:2] == ["Run `claude` to log in again.", "Updated 12:00"]
    assert not any(t.startswith("Plan") or t.startswith("Extra") for t in visible)


def test_menu_says_how_many_windows_could_not_be_read_and_the_servers_notices_once():
    view = make_view(notes=("2 more limits could not be read (see the log)", "Promo ends Friday"))
    visible = [e.text for e in menu_entries(view, autostart_on=False) if e.visible]
    assert visible[3:6] == ["2 more limits could not be read (see the log)", "Promo ends Friday",
                            "Extra usage: $4.20 of $50.00"]


def test_menu_before_the_first_view_says_loading():
    assert menu_entries(None, autostart_on=False)[0].text == "Loading…"


def test_information_lines_are_disabled_and_commands_enabled(env):
    adapter = adapter_for(env, Recorder())
    adapter.show(make_view())
    assert item(adapter.tray_backend.icon, "Plan: Max 5x").enabled is False
    assert item(adapter.tray_backend.icon, "Refresh now").enabled is True


def test_checkboxes_follow_the_view_and_the_autostart_state(env):
    recorder = Recorder(autostart=True)
    adapter = adapter_for(env, recorder)
    adapter.show(make_view(notifications_enabled=False))
    assert item(adapter.tray_backend.icon, "Notifications").checked is False
    assert item(adapter.tray_backend.icon, "Start at login").checked is True


def test_menu_is_rebuilt_only_when_its_content_changes(env):
    adapter = adapter_for(env, Recorder())
    adapter.show(make_view())
    built = adapter.tray_backend.menu_updates
    adapter.show(make_view())
    assert adapter.tray_backend.menu_updates == built
    adapter.show(make_view(updated_text="Updated 12:02"))
    assert adapter.tray_backend.menu_updates == built + 1
    assert "Updated 12:02" in labels(adapter.tray_backend.icon)


# ----------------------------------------------------------------------------- clicks


@pytest.mark.parametrize(
    "label, expected",
    [
        ("Refresh now", [("refresh",)]),
        ("Open usage page", [("open_usage_page",)]),
        ("Send test notification", [("send_test_notification",)]),
        ("Quit", [("quit",)]),
    ],
)
def test_menu_commands_call_their_action(env, label, expected):
    recorder = Recorder()
    adapter = adapter_for(env, recorder)
    adapter.show(make_view())
    item(adapter.tray_backend.icon, label)(adapter.tray_backend.icon)
    assert recorder.calls == expected


def test_notifications_checkbox_passes_the_new_value(env):
    recorder = Recorder()
    adapter = adapter_for(env, recorder)
    adapter.show(make_view(notifications_enabled=True))
    item(adapter.tray_backend.icon, "Notifications")(adapter.tray_backend.icon)
    assert recorder.calls == [("toggle_notifications", False)]


def test_start_at_login_toggles_and_the_checkbox_shows_the_new_state(env):
    recorder = Recorder(autostart=False)
    adapter = adapter_for(env, recorder)
    adapter.show(make_view())
    item(adapter.tray_backend.icon, "Start at login")(adapter.tray_backend.icon)
    assert recorder.calls == [("toggle_autostart", True)]
    assert item(adapter.tray_backend.icon, "Start at login").checked is True


def test_default_action_refreshes_and_shows_the_status(env):
    """A left click (xorg/gtk) runs the hidden default item."""
    recorder = Recorder()
    adapter = adapter_for(env, recorder)
    adapter.show(make_view())
    adapter.tray_backend.icon()  # what pystray does on a left click
    assert recorder.calls == [("refresh",), ("show_status",)]
    assert "Show status" not in labels(adapter.tray_backend.icon)


def test_a_failing_action_is_logged_and_later_clicks_still_work(env, caplog):
    recorder = Recorder()
    adapter = adapter_for(env, recorder, fail="refresh")
    adapter.show(make_view())
    item(adapter.tray_backend.icon, "Refresh now")(adapter.tray_backend.icon)
    item(adapter.tray_backend.icon, "Quit")(adapter.tray_backend.icon)
    assert recorder.calls == [("refresh",), ("quit",)]
    assert "tray action refresh failed" in caplog.text


def test_unreadable_autostart_state_shows_an_unchecked_box_and_is_logged_once(env, caplog):
    adapter = adapter_for(env, Recorder(), fail="autostart_enabled")
    adapter.show(make_view())
    adapter.show(make_view(79))
    adapter.recheck_autostart()  # asked again: still one log line
    assert item(adapter.tray_backend.icon, "Start at login").checked is False
    assert caplog.text.count("could not read the autostart state") == 1


def test_the_start_at_login_check_mark_follows_a_change_made_outside_the_menu(tmp_path):
    """Regression: after `claude-tray autostart disable` (or deleting the entry by hand) the menu
    kept its check mark until the next restart."""
    clock = FakeClock()
    recorder = Recorder(autostart=True)
    adapter = adapter_for(temp_env(tmp_path, clock=clock), recorder)
    adapter.show(make_view())
    assert item(adapter.tray_backend.icon, "Start at login").checked is True
    recorder.autostart = False  # the entry was removed elsewhere
    assert adapter.recheck_autostart() == "Start at login: off"  # what `claude-tray autostart` sends
    assert item(adapter.tray_backend.icon, "Start at login").checked is False
    assert ("Start at login", False) in adapter.menu_shown
    recorder.autostart = True  # ...and added again by hand
    adapter.show(make_view(79))  # a view soon after does not read the entry again (cheap minutes)
    assert item(adapter.tray_backend.icon, "Start at login").checked is False
    clock.advance(AUTOSTART_RECHECK_EVERY)
    adapter.show(make_view(80))  # one some minutes later does
    assert item(adapter.tray_backend.icon, "Start at login").checked is True
    assert ("Start at login", True) in adapter.menu_shown


# ----------------------------------------------------------------------------- icon and title


def test_unchanged_views_do_not_redraw_the_icon_or_reset_the_title(env):
    adapter = adapter_for(env, Recorder())
    adapter.tray_backend.icon.visible = True
    adapter.show(make_view(78))
    redraws, titles = adapter.redraw_count, adapter.tray_backend.title_updates
    platform_calls = len(adapter.tray_backend.icon.platform_calls)
    for _ in range(5):
        adapter.show(make_view(78))
    assert (adapter.redraw_count, adapter.tray_backend.title_updates) == (redraws, titles)
    assert adapter.tray_backend.icon.platform_calls[platform_calls:] == []


def test_a_different_spec_with_identical_pixels_does_not_redraw(env):
    adapter = adapter_for(env, Recorder())
    adapter.show(make_view(78.2))
    redraws = adapter.redraw_count
    adapter.show(make_view(78.4))  # fake_render draws the rounded percent: same bytes
    assert adapter.redraw_count == redraws


def test_a_new_percent_redraws_the_icon_with_the_rendered_image(env):
    adapter = adapter_for(env, Recorder())
    adapter.tray_backend.icon.visible = True
    adapter.show(make_view(78))
    adapter.show(make_view(79))
    assert adapter.tray_backend.icon.platform_calls[-1][0] in ("icon", "menu", "title")
    drawn = [c[1] for c in adapter.tray_backend.icon.platform_calls if c[0] == "icon"]
    assert drawn[-1] == fake_render(IconSpec(state="ok", percent=79)).tobytes()


def test_title_is_the_tooltip_unchanged_on_backends_that_take_unicode(env):
    adapter = adapter_for(env, Recorder())
    adapter.show(make_view(tooltip="Claude: 78% · resets in 2h 11m…"))
    assert adapter.tray_backend.icon.title == "Claude: 78% · resets in 2h 11m…"


def test_xorg_title_is_latin1_safe(env):
    adapter = adapter_for(env, Recorder(), module_name="fake._xorg")
    adapter.show(make_view(tooltip="Claude: 78% · resets in 2h 11m… ✓"))
    assert adapter.tray_backend.icon.title == "Claude: 78% - resets in 2h 11m... ?"
    adapter.tray_backend.icon.title.encode("latin-1")


def test_xorg_keeps_its_first_menu_since_it_shows_none_and_a_click_still_works(env):
    """A countdown changes the menu text every minute; on xorg (no menu) handing pystray a new Menu
    cost an X round trip through its event thread each time for nothing."""
    recorder = Recorder()
    xorg = adapter_for(env, recorder, module_name="fake._xorg")
    xorg.show(make_view(78))
    xorg.show(make_view(79))
    assert ("menu",) not in xorg.tray_backend.icon.platform_calls
    assert ("Session (5h): 79% · resets in 2h 11m (14:00)", None) in xorg.menu_shown  # what it would show
    xorg.tray_backend.icon()  # a left click runs the default item of the first menu
    assert recorder.calls == [("refresh",), ("show_status",)]
    other = adapter_for(env, Recorder(), module_name="fake._appindicator")
    other.show(make_view(78))
    other.show(make_view(79))
    assert other.tray_backend.icon.platform_calls.count(("menu",)) == 2


def test_xorg_icon_is_drawn_opaque_and_other_backends_keep_alpha(env):
    xorg = adapter_for(env, Recorder(), module_name="fake._xorg")
    other = adapter_for(env, Recorder())
    xorg.show(make_view())
    other.show(make_view())
    assert xorg.tray_backend.icon.icon.mode == "RGB"
    assert other.tray_backend.icon.icon.mode == "RGBA"


def test_darwin_icon_is_rendered_as_a_template(env):
    adapter = TrayAdapter(env, Recorder().actions(), backend=PystrayBackend(env, darwin_like_backend(), render=fake_render))
    adapter.show(make_view())
    assert adapter.tray_backend.icon.icon.getpixel((0, 0))[2] == 255  # fake_render marks template=True in blue


def test_xorg_window_gets_button_press_so_left_clicks_arrive(env):
    from Xlib import X

    adapter = adapter_for(env, Recorder(), module_name="fake._xorg")
    assert adapter.tray_backend.icon._window.event_masks[-1] & X.ButtonPressMask
    assert adapter.tray_backend.icon._window.event_masks[-1] & X.ExposureMask  # redraws still arrive
    assert adapter.tray_backend.icon._display.flushed >= 1


def dock_requests(icon) -> int:
    return sum(1 for call in icon.platform_calls if call == ("dock request",))


def test_xorg_asks_to_dock_only_while_not_embedded(env):
    """pystray re-sent the dock request on every image update; trayer re-embedded each time."""
    adapter = adapter_for(env, Recorder(), module_name="fake._xorg")
    icon = adapter.tray_backend.icon
    icon._dock_window()
    assert dock_requests(icon) == 1  # first start: on the root window
    icon._window.parent = TRAY_SOCKET
    icon._dock_window()
    assert dock_requests(icon) == 1  # embedded: no new request
    icon._window.parent = ROOT_WINDOW  # the tray host went away
    icon._dock_window()
    assert dock_requests(icon) == 2


def test_xorg_dock_request_goes_out_when_the_window_cannot_be_queried(env):
    adapter = adapter_for(env, Recorder(), module_name="fake._xorg")
    adapter.tray_backend.icon._dock_window()
    adapter.tray_backend.icon._window.destroyed = True
    adapter.tray_backend.icon._dock_window()
    assert dock_requests(adapter.tray_backend.icon) == 2


def test_latin1_safe_keeps_latin1_and_replaces_the_rest():
    assert latin1_safe("Claude · 78 % … résumé — ok ✓") == "Claude - 78 % ... résumé - ok ?"


# ----------------------------------------------------------------------------- darwin template


class FakeNSImage:
    def __init__(self):
        self.template = False

    def isTemplate(self):
        return self.template

    def setTemplate_(self, value):
        self.template = value


def darwin_like_backend():
    backend = recording_backend("fake._darwin")

    class DarwinIcon(backend.Icon):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.button_images: list = []
            button = types.SimpleNamespace(setImage_=self.button_images.append)
            self._status_item = types.SimpleNamespace(button=lambda: button)

        def _assert_image(self):  # pystray darwin: builds a new NSImage and sets it
            self._icon_image = FakeNSImage()
            self._status_item.button().setImage_(self._icon_image)

    return types.SimpleNamespace(__name__="fake._darwin", Icon=DarwinIcon)


def test_darwin_images_are_marked_as_templates_each_time_pystray_builds_one(env):
    adapter = TrayAdapter(env, Recorder().actions(), backend=PystrayBackend(env, darwin_like_backend(), render=fake_render))
    adapter.tray_backend.icon._assert_image()
    first = adapter.tray_backend.icon._icon_image
    adapter.tray_backend.icon._assert_image()
    assert first.isTemplate() and adapter.tray_backend.icon._icon_image.isTemplate()
    assert adapter.tray_backend.icon.button_images[-1] is adapter.tray_backend.icon._icon_image


# ----------------------------------------------------------------------------- run / stop


def test_run_shows_the_icon_calls_on_ready_and_returns_after_stop(env):
    recorder = Recorder()
    adapter = adapter_for(env, recorder)
    adapter.show(make_view())
    ready = threading.Event()

    def on_ready():
        assert adapter.tray_backend.icon.visible
        ready.set()
        item(adapter.tray_backend.icon, "Quit")(adapter.tray_backend.icon)  # clicked on the event thread: queued
        adapter.stop()

    runner = threading.Thread(target=adapter.run, args=(on_ready,))
    runner.start()
    runner.join(10)
    assert not runner.is_alive() and ready.is_set()
    adapter._action_thread.join(5)
    assert recorder.calls == [("quit",)]


def test_a_failing_on_ready_is_logged_and_the_tray_keeps_running(env, caplog):
    adapter = adapter_for(env, Recorder())

    def on_ready():
        raise RuntimeError("ready broke")

    runner = threading.Thread(target=adapter.run, args=(on_ready,))
    runner.start()
    for _ in range(200):  # the setup thread logs; wait for it without a fixed sleep
        if "on_ready callback failed" in caplog.text:
            break
        threading.Event().wait(0.025)
    assert runner.is_alive()  # still running after the failure
    adapter.stop()
    runner.join(10)
    assert not runner.is_alive()
    assert "on_ready callback failed" in caplog.text


def test_show_after_stop_is_ignored(env):
    adapter = adapter_for(env, Recorder())
    adapter.show(make_view(78))
    adapter.stop()
    redraws = adapter.redraw_count
    adapter.show(make_view(90))
    assert adapter.redraw_count == redraws


def test_run_after_stop_returns_at_once(env):
    adapter = adapter_for(env, Recorder())
    adapter.stop()
    runner = threading.Thread(target=adapter.run)
    runner.start()
    runner.join(5)
    assert not runner.is_alive()


def test_run_ends_cleanly_when_the_gtk_clean_up_finds_no_notification_daemon(env, caplog):
    """pystray's gtk backends call CloseNotification on exit; with no daemon that raised out of
    run() and Quit ended with exit code 1 (seen under gtk-sni-tray-standalone without dunst)."""
    backend = recording_backend()

    class GtkLikeIcon(backend.Icon):
        def _run(self):
            try:
                super()._run()
            finally:
                self._finalize()

        def _finalize(self):
            raise RuntimeError("ServiceUnknown: org.freedesktop.Notifications")

    caplog.set_level("INFO")
    adapter = TrayAdapter(env, Recorder().actions(), backend=PystrayBackend(env, types.SimpleNamespace(__name__="x._gtk", Icon=GtkLikeIcon), render=fake_render))
    runner = threading.Thread(target=adapter.run, args=(adapter.stop,))
    runner.start()
    runner.join(10)
    assert not runner.is_alive()
    assert "nothing left to close" in caplog.text


def test_a_failing_x_flush_is_ignored(env):
    adapter = adapter_for(env, Recorder(), module_name="fake._xorg")

    def broken_flush():
        raise ConnectionError("X connection closed")

    adapter.tray_backend.icon._display.flush = broken_flush
    adapter.show(make_view(79))
    adapter.stop()
    assert adapter.tray_backend.icon.title.startswith("Claude")


def test_pystray_lost_tray_error_becomes_one_info_line(env, caplog):
    import logging

    adapter_for(env, Recorder(), module_name="fake._xorg")
    caplog.set_level("INFO")
    try:
        raise AssertionError()
    except AssertionError:
        logging.getLogger("pystray._base").error("Failed to dock icon", exc_info=True)
    record = caplog.records[-1]
    assert (record.levelname, record.exc_info) == ("INFO", None)
    assert "Traceback" not in caplog.text and "icon docks when one appears" in caplog.text
    for _redraw in range(3):  # pystray says it again at every redraw while no host runs: we do not
        logging.getLogger("pystray._base").error("Failed to dock icon")
    assert caplog.text.count("icon docks when one appears") == 1


def test_a_failing_icon_stop_is_logged(env, caplog):
    adapter = adapter_for(env, Recorder())

    def broken_stop():
        raise RuntimeError("X went away")

    adapter.tray_backend.icon.stop = broken_stop
    adapter.stop()
    assert "stopping the tray icon failed" in caplog.text


# ----------------------------------------------------------------------------- backend choice


def test_no_display_on_linux_raises_a_config_error_pointing_to_watch(monkeypatch):
    monkeypatch.setenv("PYSTRAY_BACKEND", "xorg")
    env = Environment.from_os()
    env = replace(env, platform="linux")
    with pytest.raises(NoGraphicalSession, match="claude-tray watch") as caught:
        load_backend(env)
    assert isinstance(caught.value, ConfigError)


def test_a_backend_that_fails_to_import_becomes_no_graphical_session(monkeypatch):
    env = replace(Environment.from_os(), environ={"PYSTRAY_BACKEND": "nonexistent", "DISPLAY": ":0"})
    with pytest.raises(NoGraphicalSession, match="claude-tray watch"):
        load_backend(env)


def test_pystray_backend_variable_picks_the_backend(env):
    assert env.environ["PYSTRAY_BACKEND"] == "dummy"  # set by conftest for every test
    assert load_backend(env).__name__ == "pystray._dummy"


def test_icon_module_is_imported_before_pystray(monkeypatch, env):
    """FreeType trap: Gtk before PIL.ImageFont leaves ImageDraw.text() drawing nothing."""
    icon_loaded_when_pystray_imported: list[bool] = []
    real_import = tray_module.importlib.import_module

    def spy(name, *args):
        if name == "pystray":
            icon_loaded_when_pystray_imported.append("tray_monitor.icon" in sys.modules)
        return real_import(name, *args)

    monkeypatch.setattr(tray_module.importlib, "import_module", spy)
    monkeypatch.delitem(sys.modules, "tray_monitor.icon", raising=False)
    load_backend(env)
    assert icon_loaded_when_pystray_imported == [True]


def test_dummy_backend_adapter_shows_views_and_runs_the_default_action(env):
    recorder = Recorder()
    adapter = TrayAdapter(env, recorder.actions())
    adapter.show(make_view())
    assert adapter.backend == "dummy" and adapter.has_menu
    assert "Plan: Max 5x" in labels(adapter.tray_backend.icon)
    adapter.tray_backend.icon.menu(adapter.tray_backend.icon)  # the default item (pystray's dummy cannot update menus)
    assert recorder.calls == [("refresh",), ("show_status",)]


def test_icon_creation_failure_becomes_no_graphical_session(env):
    backend = recording_backend()

    class BrokenIcon(backend.Icon):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            raise ConnectionError("X server closed the connection")

    with pytest.raises(NoGraphicalSession, match="could not be created"):
        TrayAdapter(env, Recorder().actions(), backend=PystrayBackend(env, types.SimpleNamespace(__name__="x._xorg", Icon=BrokenIcon), render=fake_render))


def test_importing_the_tray_module_without_a_display_does_not_import_pystray():
    """pystray raises Xlib's DisplayNameError at import with no DISPLAY: it must load lazily."""
    import subprocess

    code = "import sys, tray_monitor.tray; print('pystray' in sys.modules)"
    clean = {k: v for k, v in __import__("os").environ.items() if k not in ("DISPLAY", "PYSTRAY_BACKEND")}
    out = subprocess.run([sys.executable, "-c", code], env=clean, capture_output=True, text=True, timeout=60)
    assert (out.returncode, out.stdout.strip()) == (0, "False"), out.stderr


def test_xorg_update_stuck_on_a_lost_x_wakeup_is_freed_by_a_flush_from_another_thread(env):
    """Story: under trayer, `claude-tray` hung at start or on Quit in about 1 of 10 starts. pystray's
    xorg backend runs each icon/title/stop change on its event thread: our thread sends a message,
    flushes and waits. python-xlib lost the wake-up of the event thread (waiting for a get_geometry
    reply while redrawing) when that flush left by its "another thread receives" exit, so both
    waited for ever. Here the platform call blocks until some OTHER thread flushes the display, as
    the stuck event thread did; the adapter must get it flushed while it holds its lock."""
    adapter = adapter_for(env, Recorder(), module_name="fake._xorg")
    icon = adapter.tray_backend.icon
    icon._visible = True  # shown, so an image change reaches the platform layer
    caller: list = []
    flushed_from_elsewhere = threading.Event()
    flushers: list[str] = []

    def flush():
        flushers.append(threading.current_thread().name)
        if threading.current_thread() not in caller:
            flushed_from_elsewhere.set()

    def update_icon_waiting_for_the_event_thread():
        if not flushed_from_elsewhere.wait(5):
            raise TimeoutError("nobody flushed the X connection: the event thread would wait for ever")
        icon.platform_calls.append(("icon", icon.icon.tobytes()))

    icon._display.flush = flush
    icon._update_icon = update_icon_waiting_for_the_event_thread
    shower = threading.Thread(target=lambda: adapter.show(make_view(79)), name="poller-like")
    caller.append(shower)
    shower.start()
    shower.join(10)
    assert not shower.is_alive()
    assert [c[0] for c in icon.platform_calls].count("icon") == 1 and adapter.redraw_count == 1
    assert "claude-tray-xflush" in flushers


def test_the_xorg_flush_helper_is_idle_while_nobody_waits(env):
    """The helper flushes only while a pystray call is in flight: an idle tray costs no wake-ups."""
    adapter = adapter_for(env, Recorder(), module_name="fake._xorg")
    adapter.show(make_view(79))  # starts the helper; the fake call returns at once
    flushes_after_show = adapter.tray_backend.icon._display.flushed
    helper = next(t for t in threading.enumerate() if t.name == "claude-tray-xflush")
    assert helper.daemon
    stopping = threading.Event()
    stopping.wait(3 * tray_module.XORG_UNSTICK_EVERY)  # a real wait: the helper runs on real time
    assert adapter.tray_backend.icon._display.flushed == flushes_after_show


# ----------------------------------------------------------------------------- no tray host yet


class FakeBackend:
    name = "fake"
    has_menu = True
    notifier_icon = None
    redraw_count = 0

    def __init__(self):
        self.looks, self.ran, self.stopped = [], threading.Event(), threading.Event()
        self.on_click = None

    def show(self, look):
        self.looks.append(look)

    def run(self, on_ready):
        on_ready()
        self.ran.set()
        self.stopped.wait(10)

    def stop(self):
        self.stopped.set()


def waiting_adapter(tmp_path, monkeypatch, hosts_seen, opened=None):
    """An adapter on Linux with DISPLAY but no tray host at first; `hosts_seen` is consumed one
    Hosts per look; the fake clock advances 1 s per look."""
    from tray_monitor import tray as tray_package
    from tray_monitor.clock import FakeClock
    from tray_monitor.tray.choice import Hosts

    clock = FakeClock()
    env = temp_env(tmp_path, {"DISPLAY": ":9", "DBUS_SESSION_BUS_ADDRESS": "unix:path=/nowhere"}, clock=clock)

    def find_hosts(environ):
        clock.advance(1.0)
        return hosts_seen.pop(0) if hosts_seen else Hosts(sni=False, xembed=False)

    def open_backend(env, choice, render=None, say=None):
        if opened is None:
            raise NoGraphicalSession("the X server went away")
        opened.append(choice)
        return backend

    backend = FakeBackend()
    monkeypatch.setattr(tray_package, "find_hosts", find_hosts)
    monkeypatch.setattr(tray_package, "open_backend", open_backend)
    monkeypatch.setattr(tray_package, "HOST_POLL_EVERY", 0.01)
    said: list[str] = []
    adapter = TrayAdapter(env, Recorder().actions(), say=said.append)
    return adapter, backend, said


def test_with_no_host_the_adapter_waits_says_so_once_and_takes_the_first_host(tmp_path, monkeypatch):
    from tray_monitor.tray.choice import Hosts

    nothing = Hosts(sni=False, xembed=False)
    opened: list = []
    adapter, backend, said = waiting_adapter(
        tmp_path, monkeypatch, [nothing] * 9 + [Hosts(sni=True, xembed=False)], opened)
    assert adapter.backend == "waiting" and not adapter.has_menu
    adapter.show(make_view(78))  # before any host: kept, shown when one appears
    ready = threading.Event()
    runner = threading.Thread(target=adapter.run, args=(ready.set,), daemon=True)
    runner.start()
    assert backend.ran.wait(5)
    assert ready.is_set() and [c.kind for c in opened] == ["sni"] and adapter.backend == "fake"
    assert backend.looks[-1].tooltip == make_view(78).tooltip
    assert said[0].startswith("tray: no tray host yet")
    assert sum("no system tray is running" in s for s in said) == 1
    assert said[-1] == "tray: StatusNotifierItem via org.kde.StatusNotifierWatcher"
    adapter.stop()
    runner.join(5)
    assert not runner.is_alive()


def test_a_host_that_cannot_be_opened_is_said_once_and_waiting_goes_on(tmp_path, monkeypatch):
    from tray_monitor.tray.choice import Hosts

    nothing, xembed = Hosts(sni=False, xembed=False), Hosts(sni=False, xembed=True)
    adapter, _backend, said = waiting_adapter(tmp_path, monkeypatch, [nothing] + [xembed] * 5, opened=None)
    ready = threading.Event()
    runner = threading.Thread(target=adapter.run, args=(ready.set,), daemon=True)
    runner.start()
    assert ready.wait(2)
    wait_for = threading.Event()
    wait_for.wait(0.3)  # several looks at the broken host
    assert said.count("tray: the X server went away") == 1 and runner.is_alive()
    adapter.stop()
    runner.join(5)
    assert not runner.is_alive()


def test_stop_while_waiting_for_a_host_returns_from_run(tmp_path, monkeypatch):
    adapter, _backend, _said = waiting_adapter(tmp_path, monkeypatch, [])
    runner = threading.Thread(target=adapter.run, daemon=True)
    runner.start()
    adapter.stop()
    runner.join(5)
    assert not runner.is_alive()
