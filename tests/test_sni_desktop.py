"""Our own StatusNotifierItem backend (tray_monitor/tray/sni.py) end to end: the real `claude-tray`
under gtk-sni-tray-standalone (Xvfb, private bus, no PyGObject used by the app), read back over
D-Bus as a host reads it, and on screen. Also the backend choice: XEmbed under trayer when no
watcher runs, and a host that appears after the app.

How a test reaches the item: bus name org.kde.StatusNotifierItem-<pid>-1, objects
/StatusNotifierItem and /MenuBar, stable menu ids (tray/sni.py COMMAND_IDS)."""
from __future__ import annotations

import re
import time

import pytest

from tests.desktop_bus import FakeWatcher, start_session_bus, stop_session_bus
from tests.desktop_x import (
    SNI_ITEM_PATH,
    SNI_MENU_PATH,
    SniHost,
    grab,
    mean_abs_diff,
    pixmap_image,
    screenshot,
    sni_bus_name,
    sni_call,
    sni_items,
    sni_menu_rows,
    sni_properties,
    wait_docked,
    wait_until,
)
from tests.test_app_desktop import quit_cleanly, serve, spec_of, usage_requests
from tray_monitor.icon import render_icon
from tray_monitor.tray import APP_ID
from tray_monitor.tray.sni import COMMAND_IDS, PIXMAP_SIZES

pytestmark = pytest.mark.desktop

MENU = "com.canonical.dbusmenu"


def start_sni(world, xvfb, bus, session: float = 78.0, **env: str):
    world.with_desktop(xvfb.display, bus.env)  # no PYSTRAY_BACKEND: the app chooses
    world.login()
    serve(world, session)
    app = world.start_tray(**env)
    view = world.wait_view(lambda v: v["status"] == "ok", what="the first reading")
    assert view["backend"] == "sni", view
    return app, view


def registered(address: str, pid: int) -> bool:
    return any(item.bus_name == sni_bus_name(pid) for item in sni_items(address))


def wait_item(address: str, pid: int, expect=lambda props: True, timeout: float = 10, what: str = "the item"):
    name = sni_bus_name(pid)

    def check():
        if not registered(address, pid):
            return None
        props = sni_properties(address, name)
        return props if expect(props) else None

    return wait_until(check, timeout, what)


def expected_menu(view: dict) -> list[str]:
    return [text for text in view["menu"] if text != "Show status"]


def test_icon_tooltip_and_menu_over_dbus_are_the_view_and_the_pixels_are_render_icon(
        claude_tray_world, xvfb, session_bus, sni_tray):
    world = claude_tray_world
    app, view = start_sni(world, xvfb, session_bus)
    assert "tray: StatusNotifierItem via org.kde.StatusNotifierWatcher" in app.log()
    name = sni_bus_name(app.process.pid)
    props = wait_item(session_bus.address, app.process.pid,
                      lambda p: p["ToolTip"][2] == view["tooltip"], what="the item with the served tooltip")
    assert (props["Id"], props["Category"], props["Menu"], props["ItemIsMenu"]) == (
        APP_ID, "ApplicationStatus", SNI_MENU_PATH, False)
    assert props["Title"] == view["tooltip"] and props["Status"] == "Active"  # 78 %: warning, not critical

    # IconPixmap: every size is render_icon's image, byte for byte
    spec = spec_of(view)
    assert sorted(w for w, _h, _d in props["IconPixmap"]) == sorted(PIXMAP_SIZES)
    for width, height, data in props["IconPixmap"]:
        assert len(data) == 4 * width * height
        assert pixmap_image(width, height, data).tobytes() == render_icon(spec, size=width).tobytes()

    # the menu as a host reads it: the view's lines, info lines greyed, check marks as in the view
    rows = sni_menu_rows(session_bus.address, name)
    labels = [r["label"] for r in rows if r["type"] != "separator"]
    assert labels == expected_menu(view)
    for row in rows:
        if row["type"] == "separator":
            continue
        assert row["enabled"] == (row["id"] in COMMAND_IDS.values()), row
    assert {r["label"]: r["toggle"] for r in rows if r["toggle"] is not None} == {
        "Notifications": 1, "Start at login": 1 if view["checked"]["Start at login"] else 0}
    # the tooltip's body: the info lines, a reset as its clock time (it changes with a reading, not
    # with the minute): "resets in 2h 11m (14:00)" in the menu is "resets at 14:00" there; the
    # menu's "Updated 14:02" is not in it (it changes with every poll)
    assert props["ToolTip"][3].splitlines() == [re.sub(r"resets in [^(]+\(([^)]+)\)", r"resets at \1", r["label"])
                                                for r in rows if r["type"] != "separator" and not r["enabled"]
                                                and not r["label"].startswith("Updated ")]
    assert "resets in " not in props["ToolTip"][3] and "resets at " in props["ToolTip"][3], props["ToolTip"]

    # on screen: gtk-sni-tray (--size 48) draws our 48 px pixmap 1:1 at the bottom left
    expected = render_icon(spec, size=48)

    def drawn():
        shot = grab(xvfb)
        best = min(((mean_abs_diff(_over(expected, shot.getpixel((x0, y0))), shot.crop((x0, y0, x0 + 48, y0 + 48))),
                     x0, y0) for x0, y0 in _candidates(shot)), default=(999, 0, 0))
        return best if best[0] < 3 else None

    diff, x0, y0 = wait_until(drawn, 10, "gtk-sni-tray to draw the 48 px icon")
    shot = grab(xvfb)
    neighbour = render_icon(spec_of({**view, "icon": {**view["icon"], "percent": 79.0}}), size=48)
    other = mean_abs_diff(_over(neighbour, shot.getpixel((x0, y0))), shot.crop((x0, y0, x0 + 48, y0 + 48)))
    assert other - diff > 0.5, (diff, other)  # the comparison can tell 78 from 79
    screenshot(xvfb, "sni-app-78")
    quit_cleanly(world, app)
    wait_until(lambda: not registered(session_bus.address, app.process.pid), 5, "the item to leave the watcher")


def _candidates(shot):
    """Top-left corners where gtk-sni-tray (--bottom --beginning) may put the first 48 px icon."""
    width, height = shot.size
    for y0 in range(max(0, height - 64), height - 47):
        for x0 in range(0, 16):
            yield x0, y0


def _over(image, background):
    from PIL import Image

    canvas = Image.new("RGB", image.size, background[:3])
    canvas.paste(image, (0, 0), image)
    return canvas


def test_refresh_now_by_event_and_by_event_group_each_makes_a_request(claude_tray_world, xvfb, session_bus, sni_tray):
    world = claude_tray_world
    app, _ = start_sni(world, xvfb, session_bus)
    name = sni_bus_name(app.process.pid)
    wait_item(session_bus.address, app.process.pid)
    before = usage_requests(world.api)
    serve(world, 83.0)
    sni_call(session_bus.address, name, SNI_MENU_PATH, MENU, "Event", "isvu",
             (COMMAND_IDS["refresh"], "clicked", ("i", 0), 0))
    world.wait_view(lambda v: v["icon"]["percent"] == 83.0, what="the refreshed 83 %")
    assert usage_requests(world.api) == before + 1
    wait_item(session_bus.address, app.process.pid, lambda p: "83%" in p["ToolTip"][2], what="the new tooltip")

    time.sleep(31)  # a refresh within 30 s of the last is coalesced (schedule.py): wait it out
    serve(world, 91.0)
    errors = sni_call(session_bus.address, name, SNI_MENU_PATH, MENU, "EventGroup", "a(isvu)",
                      ([(COMMAND_IDS["refresh"], "clicked", ("s", ""), 0)],))
    assert errors == ([],)
    world.wait_view(lambda v: v["icon"]["percent"] == 91.0, what="the refreshed 91 %")
    assert usage_requests(world.api) == before + 2
    props = wait_item(session_bus.address, app.process.pid, lambda p: p["Status"] == "NeedsAttention",
                      what="Status NeedsAttention at 91 % (critical)")
    assert "91%" in props["Title"]
    quit_cleanly(world, app)


def test_toggles_flip_over_dbus_and_persist_across_a_restart(claude_tray_world, xvfb, session_bus, sni_tray):
    world = claude_tray_world
    app, _ = start_sni(world, xvfb, session_bus)
    name = sni_bus_name(app.process.pid)
    wait_item(session_bus.address, app.process.pid)

    def toggle(label):
        return next(r["toggle"] for r in sni_menu_rows(session_bus.address, name) if r["label"] == label)

    assert toggle("Notifications") == 1
    sni_call(session_bus.address, name, SNI_MENU_PATH, MENU, "EventGroup", "a(isvu)",
             ([(COMMAND_IDS["toggle_notifications"], "clicked", ("i", 0), 0)],))
    wait_until(lambda: toggle("Notifications") == 0, 5, "the Notifications check mark to clear")
    world.wait_view(lambda v: v["checked"]["Notifications"] is False, what="the view's check mark")
    quit_cleanly(world, app)

    second = world.start_tray()
    world.wait_view(lambda v: v["status"] == "ok", what="the second start's reading")
    wait_item(session_bus.address, second.process.pid)
    assert toggle_of(session_bus.address, second.process.pid, "Notifications") == 0
    quit_cleanly(world, second)


def toggle_of(address, pid, label):
    return next(r["toggle"] for r in sni_menu_rows(address, sni_bus_name(pid)) if r["label"] == label)


def test_unknown_methods_and_bad_menu_ids_get_errors_and_the_item_keeps_answering(
        claude_tray_world, xvfb, session_bus, sni_tray):
    world = claude_tray_world
    app, view = start_sni(world, xvfb, session_bus)
    name = sni_bus_name(app.process.pid)
    wait_item(session_bus.address, app.process.pid)
    address = session_bus.address
    calls = [
        (SNI_ITEM_PATH, "org.kde.StatusNotifierItem", "Frobnicate", None, (), "UnknownMethod"),
        (SNI_MENU_PATH, MENU, "Event", "isvu", (9999, "clicked", ("i", 0), 0), "InvalidArgs"),
        (SNI_MENU_PATH, MENU, "EventGroup", "a(isvu)", ([(9999, "clicked", ("i", 0), 0)],), "InvalidArgs"),
        (SNI_MENU_PATH, MENU, "GetLayout", "iias", (9999, -1, []), "InvalidArgs"),
        (SNI_MENU_PATH, MENU, "GetProperty", "is", (9999, "label"), "InvalidArgs"),
        (SNI_ITEM_PATH, "org.freedesktop.DBus.Properties", "Get", "ss", ("org.kde.StatusNotifierItem", "Nope"),
         "UnknownProperty"),
        (SNI_ITEM_PATH, "org.freedesktop.DBus.Properties", "Set", "ssv",
         ("org.kde.StatusNotifierItem", "Title", ("s", "x")), "PropertyReadOnly"),
        ("/Elsewhere", "org.kde.StatusNotifierItem", "Activate", "ii", (0, 0), "UnknownObject"),
    ]
    for path, interface, member, signature, body, error in calls:
        with pytest.raises(RuntimeError, match=error):
            sni_call(address, name, path, interface, member, signature, body)
    # a group with one bad id clicks the good one and names the bad one
    assert sni_call(address, name, SNI_MENU_PATH, MENU, "EventGroup", "a(isvu)",
                    ([(9999, "clicked", ("i", 0), 0), (COMMAND_IDS["send_test_notification"], "clicked", ("i", 0), 0)],)
                    ) == ([9999],)
    assert sni_call(address, name, "/", "org.freedesktop.DBus.Peer", "Ping") == ()
    assert "<node" in sni_call(address, name, SNI_MENU_PATH, "org.freedesktop.DBus.Introspectable", "Introspect")[0]
    assert [r["label"] for r in sni_menu_rows(address, name) if r["type"] != "separator"] == expected_menu(view)
    quit_cleanly(world, app)
    assert "Traceback" not in app.log()


def test_a_host_restart_brings_the_item_back_within_two_seconds_and_a_second_start_adds_none(
        claude_tray_world, xvfb, session_bus, sni_tray: SniHost):
    world = claude_tray_world
    app, _ = start_sni(world, xvfb, session_bus)
    wait_item(session_bus.address, app.process.pid)

    second = world.cli(timeout=20)
    assert second.returncode == 0 and "already running" in second.stderr, second.stderr
    assert sum(1 for i in sni_items(session_bus.address) if i.id == APP_ID) == 1

    sni_tray.restart()  # returns once the new watcher owns its name
    began = time.monotonic()
    wait_until(lambda: registered(session_bus.address, app.process.pid), 5, "the item to register again")
    took = time.monotonic() - began
    print(f"the item registered again {took:.2f} s after the new watcher took its name")
    assert took < 2.0, f"the item came back after {took:.1f}s"
    assert sum(1 for i in sni_items(session_bus.address) if i.id == APP_ID) == 1
    quit_cleanly(world, app)


def test_without_a_watcher_the_app_docks_in_an_xembed_tray(claude_tray_world, xvfb, xembed_tray, desktop_workdir):
    """No StatusNotifierWatcher on its bus, trayer on the display: XEmbed through pystray, as before."""
    world = claude_tray_world
    bus = start_session_bus(desktop_workdir / "bus-no-watcher", "dbus-no-watcher")
    try:
        world.with_desktop(xvfb.display, bus.env)
        world.login()
        serve(world, 78.0)
        app = world.start_tray()
        view = world.wait_view(lambda v: v["status"] == "ok", what="the first reading")
        assert view["backend"] == "xorg"
        assert "tray: XEmbed via the tray manager on" in app.log()
        assert "Gdk" not in app.log()  # pystray was told its backend: Gtk was never tried (issue 16 item 6)
        wait_docked(xvfb, APP_ID)
        quit_cleanly(world, app)
    finally:
        stop_session_bus(bus)


def test_with_no_host_the_app_says_so_once_and_takes_a_host_that_appears_later(
        claude_tray_world, xvfb, desktop_workdir):
    """Login: the app starts before the panel. It keeps polling, says once that no tray runs, and
    registers with the watcher that appears 10 s later."""
    world = claude_tray_world
    bus = start_session_bus(desktop_workdir / "bus-late", "dbus-late")
    host = SniHost(xvfb, bus.address, bus.env, desktop_workdir / "late-host")
    (desktop_workdir / "late-host").mkdir(exist_ok=True)
    try:
        world.with_desktop(None, bus.env)  # Wayland-like: no DISPLAY for the app, only the bus
        world.login()
        serve(world, 78.0)
        app = world.start_tray(WAYLAND_DISPLAY="wayland-test")
        view = world.wait_view(lambda v: v["status"] == "ok", what="a reading while no tray runs")
        assert view["backend"] == "waiting"
        wait_until(lambda: "no system tray is running" in app.log(), 10, "the no-tray sentence")
        time.sleep(10 - 5)
        host.start()
        began = time.monotonic()
        wait_until(lambda: registered(bus.address, app.process.pid), 5, "the item to register with the late host")
        assert time.monotonic() - began < 3
        assert world.view()["backend"] == "sni"
        assert app.log().count("no system tray is running") == 1
        quit_cleanly(world, app)
    finally:
        if host.program is not None:
            host.stop()
        stop_session_bus(bus)


def test_the_session_bus_going_away_is_said_once_and_polling_goes_on(claude_tray_world, xvfb, desktop_workdir):
    world = claude_tray_world
    bus = start_session_bus(desktop_workdir / "bus-dies", "dbus-dies")
    host = SniHost(xvfb, bus.address, bus.env, desktop_workdir / "dies-host")
    (desktop_workdir / "dies-host").mkdir(exist_ok=True)
    host.start()
    try:
        app, _ = start_sni(world, xvfb, bus)
        wait_item(bus.address, app.process.pid)
        stop_session_bus(bus)
        wait_until(lambda: "the session bus is gone" in app.log(), 10, "the bus-gone sentence")
        before = usage_requests(world.api)
        assert world.control("refresh")  # the control channel and the poller still work
        wait_until(lambda: usage_requests(world.api) > before, 10, "a request after the bus went away")
        time.sleep(6)  # at least one reconnect attempt
        assert app.log().count("the session bus is gone") == 1
        assert app.process.poll() is None
        quit_cleanly(world, app)
    finally:
        if host.program is not None:
            from tests.desktop_x import stop_process

            stop_process(host.program.process)


def test_a_left_click_activate_refreshes_then_pops_up_the_status(
        claude_tray_world, xvfb, session_bus, sni_tray, notification_daemon):
    world = claude_tray_world
    app, _ = start_sni(world, xvfb, session_bus)
    wait_item(session_bus.address, app.process.pid)
    notification_daemon.clear()
    before = usage_requests(world.api)
    # No wait: only manual refreshes are coalesced (schedule.request_refresh), the first poll is not one.
    serve(world, 64.0)
    sni_call(session_bus.address, sni_bus_name(app.process.pid), SNI_ITEM_PATH, "org.kde.StatusNotifierItem",
             "Activate", "ii", (10, 10))
    wait_until(lambda: usage_requests(world.api) == before + 1, 20, "the click's request")
    popups = wait_until(lambda: [p for p in notification_daemon.history() if "64%" in (p["body"] or "")], 20,
                        "the status popup with the refreshed 64 %")
    assert "No menu" not in popups[0]["body"] and "shows no menu" not in popups[0]["body"]  # SNI has a menu
    quit_cleanly(world, app)


class RefusingWatcher(FakeWatcher):
    """A StatusNotifierWatcher that answers every registration with an error (a broken or
    policy-restricted panel)."""

    def __init__(self, address: str):
        super().__init__(address)
        self.registrations = 0

    def answer(self, message):
        from jeepney import HeaderFields, new_error

        if message.header.fields.get(HeaderFields.member) == "RegisterStatusNotifierItem":
            self.registrations += 1
        return new_error(message, "org.freedesktop.DBus.Error.AccessDenied", "s", ("no items here",))


def test_a_watcher_that_refuses_registration_is_retried_then_said_once(claude_tray_world, xvfb, desktop_workdir):
    world = claude_tray_world
    bus = start_session_bus(desktop_workdir / "bus-refuses", "dbus-refuses")
    watcher = RefusingWatcher(bus.address)
    watcher.start()
    try:
        app, _ = start_sni(world, xvfb, bus)
        wait_until(lambda: "refused the icon" in app.log(), 25, "the refused-registration sentence")
        assert watcher.registrations == 7  # the first try and REGISTER_RETRIES (6)
        assert app.log().count("refused the icon") == 1
        assert "AccessDenied" in app.log()
        assert app.process.poll() is None  # it keeps running: polling, notifications, `watch`
        quit_cleanly(world, app)
    finally:
        watcher.stop()
        stop_session_bus(bus)
