"""The tray adapter on real tray hosts under Xvfb: trayer (XEmbed, pystray's xorg backend) and
gtk-sni-tray-standalone (StatusNotifierItem, pystray's appindicator backend). The app under test
is tests/tray_driver.py in its own process; we look at what the host and the X server show."""
from __future__ import annotations

import subprocess

import pytest

from tests.desktop_x import (
    base_env,
    find_tray_icon,
    grab_icon,
    require_appindicator,
    screenshot,
    sni_click,
    sni_item,
    tray_driver_argv,
    wait_docked,
    wait_until,
    wait_xorg_shows,
)
from tests.tray_driver import make_view
from tray_monitor.tray import APP_ID
from tray_monitor.tray.xembed import latin1_safe

pytestmark = pytest.mark.desktop

def wait_shows(xvfb, percent: float, other: float, timeout: float = 5):
    """Wait until the docked icon shows the driver's rendering for `percent`, clearly not `other`'s."""
    return wait_xorg_shows(xvfb, APP_ID, make_view(percent).icon, make_view(other).icon, timeout)


@pytest.fixture
def xorg_app(xvfb, xembed_tray, start_app):
    app = start_app(tray_driver_argv("--percent", "78"), base_env(**xvfb.env, PYSTRAY_BACKEND="xorg"))
    ready = app.wait_for_event("ready")
    assert ready == "ready backend=xorg has_menu=False"
    return app


def finish(app) -> None:
    app.send("stop")
    assert app.wait_exit() == 0
    assert app.events()[-1] == "exited"
    assert "Traceback" not in app.log(), app.log()


# ----------------------------------------------------------------------------- xorg / XEmbed


def test_xorg_icon_docks_and_shows_the_percent_then_the_next_one(xvfb, xorg_app):
    icon = wait_docked(xvfb, APP_ID)
    assert icon.parent != icon.window and icon.width >= 16
    wait_shows(xvfb, 78, other=79)
    grab_icon(xvfb, icon).save(screenshot(xvfb, "xorg-78").with_name("xorg-78-icon.png"))

    xorg_app.send("show 79")
    xorg_app.wait_for_event("shown 79")
    wait_shows(xvfb, 79, other=78)
    screenshot(xvfb, "xorg-79")
    finish(xorg_app)


def test_xorg_unchanged_view_does_not_redraw(xvfb, xorg_app):
    wait_shows(xvfb, 78, other=79)
    xorg_app.send("show 79")
    first = xorg_app.wait_for_event("shown 79")
    xorg_app.send("show 79.0")
    again = xorg_app.wait_for_event("shown 79.0")
    assert first.split("redraws=")[1] == again.split("redraws=")[1]
    finish(xorg_app)


def test_xorg_left_click_runs_refresh_and_show_status(xvfb, xorg_app):
    """pystray 0.19.5 never receives this click without ButtonPressMask on its window."""
    icon = wait_docked(xvfb, APP_ID)
    subprocess.run(
        ["xdotool", "mousemove", str(icon.x + icon.width // 2), str(icon.y + icon.height // 2), "click", "1"],
        env=base_env(**xvfb.env), check=True, timeout=10,
    )
    xorg_app.wait_for_event("action show_status")
    actions = [e for e in xorg_app.events() if e.startswith("action")]
    assert actions == ["action refresh", "action show_status"]
    finish(xorg_app)


def test_xorg_title_with_non_latin1_characters_is_set_and_the_icon_keeps_updating(xvfb, xorg_app):
    """WM_NAME is latin-1: a raw `·` or `…` raises in pystray's event thread."""
    wait_docked(xvfb, APP_ID)
    title = "Claude: 78% · resets in 2h 11m…"
    xorg_app.send(f"title {title}")
    xorg_app.wait_for_event("titled")
    wait_until(lambda: find_tray_icon(xvfb, APP_ID).title == latin1_safe(title), 5, "the new WM_NAME")
    assert find_tray_icon(xvfb, APP_ID).title == "Claude: 78% - resets in 2h 11m..."
    xorg_app.send("show 80")
    xorg_app.wait_for_event("shown 80")
    wait_shows(xvfb, 80, other=79)
    finish(xorg_app)


def test_xorg_icon_docks_again_after_the_tray_host_restarts(xvfb, xembed_tray, xorg_app):
    """pystray re-docks only if a new host exists at the moment the old one dies; the adapter's
    guard, woken by the new host's MANAGER message, asks again at once."""
    wait_docked(xvfb, APP_ID)
    xembed_tray.stop()
    wait_until(lambda: not find_tray_icon(xvfb, APP_ID).docked, 5, "the icon to lose its tray")
    xembed_tray.start()
    wait_docked(xvfb, APP_ID, timeout=15)
    wait_shows(xvfb, 78, other=79)
    screenshot(xvfb, "xorg-redocked")
    finish(xorg_app)


# ----------------------------------------------------------------------------- SNI / appindicator


@pytest.fixture
def sni_app(xvfb, session_bus, sni_tray, start_app):
    require_appindicator()
    env = base_env(**xvfb.env, **session_bus.env, PYSTRAY_BACKEND="appindicator")
    app = start_app(tray_driver_argv("--percent", "78"), env)
    assert app.wait_for_event("ready", timeout=20) == "ready backend=appindicator has_menu=True"
    return app


def sni_shows(address: str, percent: float):
    """The item's IconName is the PNG pystray wrote: it must hold exactly our rendering."""
    from PIL import Image

    from tray_monitor.icon import render_icon

    item = sni_item(address, APP_ID)
    if item is None or item.status != "Active" or not item.icon_name:
        return None
    with Image.open(item.icon_name) as png:
        shown = png.convert("RGBA")
    expected = render_icon(make_view(percent).icon)
    return item if shown.size == expected.size and shown.tobytes() == expected.tobytes() else None


@pytest.mark.sni
def test_sni_icon_is_the_rendering_and_follows_the_view(xvfb, session_bus, sni_app):
    wait_until(lambda: sni_shows(session_bus.address, 78), 15, "the SNI icon to show 78%")
    screenshot(xvfb, "sni-78")
    sni_app.send("show 79")
    sni_app.wait_for_event("shown 79")
    wait_until(lambda: sni_shows(session_bus.address, 79), 10, "the SNI icon to show 79%")
    screenshot(xvfb, "sni-79")
    finish(sni_app)


@pytest.mark.sni
def test_sni_menu_lists_the_window_lines_and_commands(session_bus, sni_app):
    view = make_view(78)

    def menu():
        item = sni_item(session_bus.address, APP_ID)
        labels = [text for _id, text, visible in item.menu if visible] if item else []
        return labels if view.windows[0].menu_text in labels else None

    labels = wait_until(menu, 15, "the SNI menu with the window lines")
    # The plan, the forecast's "runs out first" line when there is one, then each window with its forecast.
    expected = ["Plan: Max 5x", *([view.forecast_line] if view.forecast_line else [])]
    for row in view.windows:
        expected += [row.menu_text, *([f"      {row.forecast_text}"] if row.forecast_text else [])]
    assert len(view.windows) == 2 and labels[:len(expected)] == expected, (labels, expected)
    assert labels[-1] == "Quit"
    for command in ("Refresh now", "Open usage page", "Notifications", "Send test notification", "Start at login"):
        assert command in labels
    assert "Show status" not in labels  # the hidden default action
    finish(sni_app)


@pytest.mark.sni
def test_sni_menu_click_on_quit_ends_the_app(session_bus, sni_app):
    wait_until(lambda: sni_item(session_bus.address, APP_ID), 15, "the SNI item")
    sni_click(session_bus.address, APP_ID, "Quit")
    sni_app.wait_for_event("action quit")
    assert sni_app.wait_exit() == 0
    assert sni_app.events()[-1] == "exited"
    assert "Traceback" not in sni_app.log()


@pytest.mark.sni
def test_sni_menu_click_on_refresh_runs_the_action(session_bus, sni_app):
    wait_until(lambda: sni_item(session_bus.address, APP_ID), 15, "the SNI item")
    sni_click(session_bus.address, APP_ID, "Refresh now")
    sni_app.wait_for_event("action refresh")
    finish(sni_app)
