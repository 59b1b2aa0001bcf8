"""The real `claude-tray` (python -m tray_monitor) end to end, as a new user meets it: a real tray host
under Xvfb (trayer for pystray's xorg backend, gtk-sni-tray-standalone for the appindicator backend),
a private session bus with dunst, and the usage endpoint played by a loopback FakeApi.

What we assert is what the user sees: the pixels of the docked icon (xorg), the PNG the
StatusNotifierItem points at and the menu read over D-Bus (SNI), the popups in dunst's history,
the requests that reached the server, and how the process ends. `world.view()` (the tray's `view`
control command) is used to wait for a state and to name the icon it claims to show; the served
percent is checked independently of it.

Timing facts of the product that shape these tests (tray_monitor/schedule.py): the first request
goes out at start; a manual refresh within 30 s of the last accepted one is coalesced (no request);
a 429 without Retry-After means no request for 5 minutes, refresh included; a failed connection is
retried after 30 s; an expired login sends nothing until the login file changes (checked every 5 s).
"""
from __future__ import annotations

import re
import subprocess
import time
from datetime import datetime, timedelta, timezone

import pytest

from tests import desktop_x
from tests.desktop_x import (
    ARTIFACTS,
    base_env,
    find_tray_icon,
    require_appindicator,
    screenshot,
    sni_click,
    sni_item,
    wait_docked,
    wait_until,
)
from tests.fakeapi import FakeApi, Response, error_fixture
from tray_monitor.model import IconSpec
from tray_monitor.tray import APP_ID

pytestmark = pytest.mark.desktop

USAGE_PATH = "/api/oauth/usage?skip_spend=1"  # the tray's reads are background reads


# ----------------------------------------------------------------------------- what we serve


def resets_in(hours: float, minutes: float = 0) -> datetime:
    """A server-style resets_at: on a whole minute, with the API's microsecond noise."""
    moment = datetime.now(timezone.utc) + timedelta(hours=hours, minutes=minutes)
    return moment.replace(second=0, microsecond=1100)


def usage(session: float, weekly: float, session_resets: datetime | None = None,
          weekly_resets: datetime | None = None) -> Response:
    """A usage body in the shape of the 2026 endpoint with resets in the future (the recorded
    fixtures' resets lie in the past, which every front end shows as "resets now")."""
    session_resets = session_resets or resets_in(2, 11)
    weekly_resets = weekly_resets or resets_in(75)
    return Response.json({
        "five_hour": {"utilization": session, "resets_at": session_resets.isoformat()},
        "seven_day": {"utilization": weekly, "resets_at": weekly_resets.isoformat()},
        "seven_day_opus": None,
        "seven_day_sonnet": None,
        "iguana_necktie": None,
    })


def serve(world, session: float, weekly: float = 40.0, **resets) -> Response:
    response = usage(session, weekly, **resets)
    world.api.default = response
    return response


def usage_requests(api: FakeApi) -> int:
    return sum(1 for r in api.requests if r.path == USAGE_PATH)


def start(world, xvfb, bus, backend: str, session: float = 78.0):
    world.with_desktop(xvfb.display, bus.env, backend)
    world.login()
    serve(world, session)
    app = world.start_tray()
    view = world.wait_view(lambda v: v["status"] == "ok", what="the first reading")
    # Independent of the tray's own account: the icon carries the binding (highest) window we served.
    assert view["icon"] == {"state": "ok", "percent": session, "weekly_percent": 40.0, "severity": _severity(session),
                            "other_critical": False}  # one login: no other login's mark
    return app, view


def _severity(percent: float) -> str:
    # Without a server severity: warning from 75 %, critical from 90 % (the contract's rule).
    return "critical" if percent >= 90 else "warning" if percent >= 75 else "normal"


def spec_of(view: dict) -> IconSpec:
    icon = view["icon"]
    return IconSpec(state=icon["state"], percent=icon["percent"], weekly_percent=icon["weekly_percent"],
                    severity=icon["severity"], other_critical=icon["other_critical"])


def quit_cleanly(world, app) -> None:
    """`claude-tray quit` from another process: exit 0 and no traceback in output or log."""
    done = world.cli("quit")
    assert done.returncode == 0, done.stderr
    assert app.wait_exit(15) == 0
    assert "Traceback" not in app.log(), app.log()
    log = world.log_path.read_text() if world.log_path.exists() else ""
    assert "Traceback" not in log, log


# ----------------------------------------------------------------------------- xorg pixels


def wait_xorg_shows(xvfb, spec: IconSpec, neighbour: IconSpec, timeout: float = 10):
    return desktop_x.wait_xorg_shows(xvfb, APP_ID, spec, neighbour, timeout)


def with_percent(spec: IconSpec, percent: float) -> IconSpec:
    return IconSpec(state=spec.state, percent=percent, weekly_percent=spec.weekly_percent,
                    severity=_severity(percent))


def xorg_icon_windows(xvfb) -> int:
    """How many X windows carry our tray icon's WM_CLASS (pystray: "<name>SystemTrayIcon")."""
    connection = xvfb.connect()
    try:
        count = 0
        stack = [connection.screen().root]
        while stack:
            window = stack.pop()
            try:
                wm_class = window.get_wm_class()
                stack.extend(window.query_tree().children)
            except Exception:  # a window that vanished while we walk
                continue
            if wm_class and wm_class[0] == f"{APP_ID}SystemTrayIcon":
                count += 1
        return count
    finally:
        connection.close()


# ----------------------------------------------------------------------------- xorg (XEmbed)


def test_xorg_icon_docks_shows_the_served_percent_and_follows_a_refresh(
        claude_tray_world, xvfb, xembed_tray, session_bus):
    world = claude_tray_world
    app, view = start(world, xvfb, session_bus, "xorg", session=78.0)
    assert view["backend"] == "xorg"

    icon = wait_docked(xvfb, APP_ID)
    assert icon.docked and icon.viewable and icon.width >= 16
    spec = spec_of(view)
    _, pixels = wait_xorg_shows(xvfb, spec, neighbour=with_percent(spec, 79.0))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)  # git-ignored: absent in a fresh clone
    pixels.resize((pixels.width * 4, pixels.height * 4)).save(ARTIFACTS / "app-xorg-78-icon.png")
    screenshot(xvfb, "app-xorg-78")
    assert usage_requests(world.api) == 1

    serve(world, 83.0)
    done = world.cli("refresh")
    assert done.returncode == 0 and "Refreshing now" in done.stdout, (done.stdout, done.stderr)
    view = world.wait_view(lambda v: v["icon"]["percent"] == 83.0, what="the refreshed reading")
    assert usage_requests(world.api) == 2
    wait_xorg_shows(xvfb, spec_of(view), neighbour=spec)  # and no longer the 78
    screenshot(xvfb, "app-xorg-83")
    # pystray asks the host to dock again on every image update unless the adapter stops it;
    # trayer then re-embeds the icon in a new socket each time, and 1 in 3 later starts of
    # claude-tray got a 1 px wide (invisible) slot. The icon must stay where it was docked.
    assert find_tray_icon(xvfb, APP_ID).parent == icon.parent

    quit_cleanly(world, app)
    wait_until(lambda: find_tray_icon(xvfb, APP_ID) is None, 5, "the icon to leave the tray")


def test_xorg_left_click_asks_the_server_and_pops_up_the_status(
        claude_tray_world, xvfb, xembed_tray, session_bus, notification_daemon):
    """pystray 0.19.5's xorg window gets no clicks without ButtonPressMask (the adapter adds it);
    the default action refreshes and shows the whole status as a notification."""
    world = claude_tray_world
    app, view = start(world, xvfb, session_bus, "xorg", session=78.0)
    icon = wait_docked(xvfb, APP_ID)
    wait_xorg_shows(xvfb, spec_of(view), neighbour=with_percent(spec_of(view), 79.0))
    notification_daemon.clear()
    session_resets = resets_in(2, 11)
    serve(world, 81.0, session_resets=session_resets)

    subprocess.run(["xdotool", "mousemove", str(icon.x + icon.width // 2), str(icon.y + icon.height // 2),
                    "click", "1"], env=base_env(**xvfb.env), check=True, timeout=10)

    world.wait_view(lambda v: v["icon"]["percent"] == 81.0, what="the clicked refresh's reading")
    assert usage_requests(world.api) == 2
    popups = wait_until(lambda: [n for n in notification_daemon.history() if n["appname"] == "claude-tray"],
                        10, "the status popup in dunst")
    assert len(popups) == 1, popups
    popup = popups[0]
    assert popup["summary"].startswith("Claude:")
    # Every window with its percent and reset time, as in the menu, from the refresh the click
    # started (regression: the popup used to be built before that refresh came back, showing 78).
    assert re.search(r"^Current session: 81% · resets in 2h 1\dm " + clock_pattern(session_resets) + " · in the icon$",
                     popup["body"], re.M), popup
    assert re.search(r"^Current week \(all models\): 40% · resets in 3d \d+h \(", popup["body"], re.M), popup
    assert popup["urgency"] == "low"
    quit_cleanly(world, app)


def test_xorg_left_click_without_a_login_pops_up_a_title_and_a_different_plain_instruction(
        claude_tray_world, xvfb, xembed_tray, session_bus, notification_daemon):
    """Issue 16: the signed-out click popup had the same sentence as title and body, with the
    command in Markdown backticks (shown literally); a first start with no login names --demo."""
    world = claude_tray_world.with_desktop(xvfb.display, session_bus.env, "xorg")
    app = world.start_tray()  # no world.login(): a new user without Claude Code's login
    world.wait_view(lambda v: v["status"] == "signed_out", what="the signed-out tray")
    icon = wait_docked(xvfb, APP_ID)
    notification_daemon.clear()
    subprocess.run(["xdotool", "mousemove", str(icon.x + icon.width // 2), str(icon.y + icon.height // 2),
                    "click", "1"], env=base_env(**xvfb.env), check=True, timeout=10)
    popups = wait_until(lambda: [n for n in notification_daemon.history() if n["appname"] == "claude-tray"],
                        10, "the status popup in dunst")
    popup = popups[0]
    assert popup["summary"] == "Not signed in to Claude Code", popup
    assert popup["body"].startswith("No Claude Code login — install Claude Code and run claude"), popup
    assert "claude-tray --demo" in popup["body"] and "`" not in popup["body"], popup
    assert usage_requests(world.api) == 0
    quit_cleanly(world, app)


def test_second_start_exits_at_once_and_adds_no_second_icon(claude_tray_world, xvfb, xembed_tray, session_bus):
    """Autostart plus a click on the launcher: the second one must not put a second icon up."""
    world = claude_tray_world
    app, _ = start(world, xvfb, session_bus, "xorg")
    wait_docked(xvfb, APP_ID)
    assert xorg_icon_windows(xvfb) == 1

    began = time.monotonic()
    second = world.cli(timeout=20)
    took = time.monotonic() - began
    assert second.returncode == 0, second.stderr
    assert "already running" in second.stderr
    assert "Traceback" not in second.stderr + second.stdout
    assert took < 15, f"the second start took {took:.1f}s"  # a hang guard, not a benchmark
    assert xorg_icon_windows(xvfb) == 1
    assert app.process.poll() is None  # the first one keeps running
    quit_cleanly(world, app)


def test_with_no_tray_at_start_it_waits_and_docks_in_a_tray_that_starts_10_s_later(claude_tray_world, tmp_path):
    """A panel that starts after us at login: no watcher and no XEmbed tray at start (a display and a
    bus of this test's own), trayer 10 s later. It says once that no tray runs, then once what it
    took, and the icon docks showing the served percent."""
    from tests.desktop_bus import start_session_bus, stop_session_bus
    from tests.desktop_x import missing_programs, require, start_trayer, start_xvfb, stop_process
    from tray_monitor.tray.choice import NO_TRAY_SENTENCE

    require(missing_programs("Xvfb", "trayer"), "a virtual X screen and an XEmbed tray host")
    world = claude_tray_world
    x = start_xvfb(tmp_path)
    bus = start_session_bus(tmp_path / "bus")
    trayer = None
    try:
        world.with_desktop(x.display, bus.env)  # no backend forced: the app chooses
        world.login()
        serve(world, 78.0)
        app = world.start_tray()
        began = time.monotonic()
        view = world.wait_view(lambda v: v["status"] == "ok", what="the first reading")
        assert view["backend"] == "waiting", view
        wait_until(lambda: NO_TRAY_SENTENCE in app.log(), 10, "the sentence that no tray is running")
        time.sleep(max(0.0, 10 - (time.monotonic() - began)))
        trayer = start_trayer(x, tmp_path)
        spec = spec_of(view)
        desktop_x.wait_xorg_shows(x, APP_ID, spec, neighbour=with_percent(spec, 79.0), timeout=10)
        assert world.view()["backend"] == "xorg"
        said = app.log()
        assert said.count(NO_TRAY_SENTENCE) == 1, said
        took = [line for line in said.splitlines() if "tray: XEmbed via the tray manager" in line]
        assert len(took) == 1 and said.index(NO_TRAY_SENTENCE) < said.index(took[0]), said
        quit_cleanly(world, app)
    finally:
        world.stop_all()
        if trayer is not None:
            stop_process(trayer.process)
        stop_session_bus(bus)
        stop_process(x.program.process)


def test_without_a_graphical_session_the_tray_says_to_use_watch(claude_tray_world):
    world = claude_tray_world
    world.login()
    done = world.cli()  # no DISPLAY, no WAYLAND_DISPLAY, no PYSTRAY_BACKEND
    assert done.returncode == 1
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "claude-tray watch" in lines[0]
    assert "Traceback" not in done.stderr
    assert usage_requests(world.api) == 0  # nothing asked for a tray that cannot show


# ----------------------------------------------------------------------------- survival (xorg)


def test_a_429_keeps_the_last_percent_and_sends_nothing_during_the_cooldown(
        claude_tray_world, xvfb, xembed_tray, session_bus):
    world = claude_tray_world
    app, view = start(world, xvfb, session_bus, "xorg", session=78.0)
    world.api.default = Response(429, error_fixture("429-rate-limited.json"))  # no Retry-After: 5 min

    assert "Refreshing now" in world.cli("refresh").stdout
    limited_at = datetime.now(timezone.utc)
    view = world.wait_view(lambda v: v["status"] == "rate_limited", what="the 429 to show")
    # Without Retry-After the endpoint is left alone for 5 minutes, and the menu says until when.
    retry_clocks = {clock_text(limited_at + timedelta(minutes=5, seconds=s)) for s in (-30, 0, 30, 60)}
    assert any(f"retrying at {c}" in line for c in retry_clocks for line in view["menu"]), view["menu"]
    assert view["icon"]["state"] == "stale" and view["icon"]["percent"] == 78.0
    assert any("78%" in line for line in view["menu"]), view["menu"]
    assert usage_requests(world.api) == 2
    wait_xorg_shows(xvfb, spec_of(view), neighbour=with_percent(spec_of(view), 79.0))
    screenshot(xvfb, "app-xorg-429")

    again = world.cli("refresh")
    assert again.returncode == 0 and "slow down" in again.stdout, again.stdout
    time.sleep(2)  # a request would be sent at once (refresh) or never: give it the chance
    assert usage_requests(world.api) == 2
    assert world.view()["status"] == "rate_limited"
    quit_cleanly(world, app)


def test_an_expired_login_sends_nothing_until_claude_writes_a_new_one(
        claude_tray_world, xvfb, xembed_tray, session_bus):
    world = claude_tray_world
    app, start_view = start(world, xvfb, session_bus, "xorg", session=78.0)

    world.login(expires_in=-60)  # Claude Code's login ran out (expiresAt in the past)
    world.cli("refresh")
    view = world.wait_view(lambda v: v["status"] == "expired", what="the expired login to show")
    assert view["icon"]["state"] == "signed_out"
    assert any("claude" in line for line in view["menu"]), view["menu"]  # says to run `claude`
    assert any("78%" in line for line in view["menu"]), view["menu"]  # the last reading is kept
    again = world.cli("refresh")
    assert "run `claude`" in again.stdout, again.stdout
    time.sleep(6)  # longer than the 5 s login-store check
    assert usage_requests(world.api) == 1  # the refused login never went out
    wait_xorg_shows(xvfb, IconSpec(state="signed_out"), neighbour=spec_of(start_view))
    screenshot(xvfb, "app-xorg-expired")

    serve(world, 64.0)
    world.login()  # the user ran `claude`: a fresh token
    asked = time.monotonic()
    view = world.wait_view(lambda v: v["status"] == "ok" and v["icon"]["percent"] == 64.0, timeout=15,
                           what="a fresh login to be picked up")
    assert time.monotonic() - asked < 10  # the store is checked every 5 s, not at the next 2-minute poll
    assert usage_requests(world.api) == 2
    wait_xorg_shows(xvfb, spec_of(view), neighbour=with_percent(spec_of(view), 65.0))
    quit_cleanly(world, app)


def test_a_server_restart_shows_stale_then_recovers_on_the_same_address(
        claude_tray_world, xvfb, xembed_tray, session_bus):
    world = claude_tray_world
    app, view = start(world, xvfb, session_bus, "xorg", session=78.0)
    port = world.api.port

    # The server goes down: the kept-alive connection is dropped, new ones are refused.
    world.api.default = Response(close=True)
    world.api.stop()
    world.cli("refresh")
    view = world.wait_view(lambda v: v["status"] == "stale", what="the refused connection to show")
    assert view["icon"]["state"] == "stale" and view["icon"]["percent"] == 78.0
    assert any("78%" in line for line in view["menu"]), view["menu"]
    wait_xorg_shows(xvfb, spec_of(view), neighbour=with_percent(spec_of(view), 79.0))
    screenshot(xvfb, "app-xorg-server-down")

    restarted = FakeApi(port=port).start()
    try:
        world.api = restarted
        serve(world, 86.0)
        # A refresh within 30 s of the last one is coalesced; the failed request is retried after
        # 30 s anyway. Either way the tray comes back without a restart of its own.
        again = world.cli("refresh")
        assert again.returncode == 0, again
        assert "less than 30 s ago" in again.stdout or "Refreshing now" in again.stdout, again.stdout
        view = world.wait_view(lambda v: v["status"] == "ok", timeout=40, what="the restarted server to be used")
        assert view["icon"]["percent"] == 86.0
        assert usage_requests(restarted) == 1
        wait_xorg_shows(xvfb, spec_of(view), neighbour=with_percent(spec_of(view), 87.0))
        quit_cleanly(world, app)
    finally:
        restarted.stop()


# ----------------------------------------------------------------------------- SNI (appindicator)


def sni_png(address: str):
    from PIL import Image

    item = sni_item(address, APP_ID)
    if item is None or item.status != "Active" or not item.icon_name:
        return None
    with Image.open(item.icon_name) as png:
        return item, png.convert("RGBA")


def sni_shows(address: str, expected) -> bool:
    found = sni_png(address)
    return bool(found) and found[1].tobytes() == expected.tobytes()


def sni_menu_labels(address: str) -> list[str]:
    item = sni_item(address, APP_ID)
    return [text for _id, text, visible in item.menu if visible] if item else []


def clock_text(moment: datetime) -> str:
    """A time as the menu writes it: local "14:00", or "Tue 14:00" when not today."""
    local = moment.astimezone()
    day = "" if local.date() == datetime.now().astimezone().date() else local.strftime("%a") + " "
    return f"{day}{local.strftime('%H:%M')}"


def clock_pattern(moment: datetime) -> str:
    """The reset time in a menu line, as a regular expression: "(14:00)" or "(Tue 14:00)"."""
    return re.escape(f"({clock_text(moment)})")


@pytest.mark.sni
def test_sni_item_shows_the_served_percent_lists_the_windows_refreshes_and_quits(
        claude_tray_world, xvfb, session_bus, sni_tray):
    require_appindicator()
    from tray_monitor.icon import render_icon

    world = claude_tray_world
    session_resets, weekly_resets = resets_in(2, 11), resets_in(75)
    world.with_desktop(xvfb.display, session_bus.env, "appindicator")
    world.login()
    world.api.default = usage(78.0, 40.0, session_resets, weekly_resets)
    app = world.start_tray()
    view = world.wait_view(lambda v: v["status"] == "ok", timeout=30, what="the first reading")
    assert view["backend"] == "appindicator"
    assert view["icon"] == {"state": "ok", "percent": 78.0, "weekly_percent": 40.0, "severity": "warning",
                            "other_critical": False}

    # The appindicator backend shows the PNG pystray wrote: our 64 px colour rendering, alpha kept.
    expected = render_icon(spec_of(view), size=64)
    neighbour = render_icon(with_percent(spec_of(view), 79.0), size=64)
    assert expected.tobytes() != neighbour.tobytes()
    item, shown = wait_until(lambda: sni_png(session_bus.address), 20, "the SNI item with its icon")
    assert shown.size == (64, 64)  # the adapter's DEFAULT_ICON_SIZE; the host scales it to its bar
    wait_until(lambda: sni_shows(session_bus.address, expected), 10, "the SNI icon to be the rendering of 78%")
    assert item.id == APP_ID

    labels = wait_until(lambda: [t for t in sni_menu_labels(session_bus.address) if "%" in t and "resets" in t],
                        10, "the window lines in the SNI menu")
    session_lines = [t for t in labels if t.startswith("Current session: 78%")]
    weekly_lines = [t for t in labels if t.startswith("Current week (all models): 40%")]
    assert len(labels) == 2 and len(session_lines) == 1 and len(weekly_lines) == 1, labels
    # The icon's number (78, the session: the highest) is named in the menu (issue 16).
    assert re.fullmatch(r"Current session: 78% · resets in 2h 1\dm " + clock_pattern(session_resets) + " · in the icon",
                        session_lines[0]), session_lines
    assert re.fullmatch(r"Current week \(all models\): 40% · resets in 3d \d+h " + clock_pattern(weekly_resets),
                        weekly_lines[0]), weekly_lines
    all_labels = sni_menu_labels(session_bus.address)
    assert all_labels[0] == "Plan: Max 5x" and all_labels[-1] == "Quit", all_labels
    open_sni_menu_for_screenshot(xvfb, "app-sni-78-menu")

    serve(world, 91.0, session_resets=session_resets, weekly_resets=weekly_resets)
    sni_click(session_bus.address, APP_ID, "Refresh now")
    view = world.wait_view(lambda v: v["icon"]["percent"] == 91.0, what="the menu refresh's reading")
    assert view["icon"]["severity"] == "critical"
    assert usage_requests(world.api) == 2
    expected = render_icon(spec_of(view), size=64)
    wait_until(lambda: sni_shows(session_bus.address, expected), 10, "the SNI icon to be the rendering of 91%")
    wait_until(lambda: any(t.startswith("Current session: 91%") for t in sni_menu_labels(session_bus.address)),
               10, "the menu to show 91%")
    screenshot(xvfb, "app-sni-91")

    sni_click(session_bus.address, APP_ID, "Quit")
    assert app.wait_exit(20) == 0
    assert "Traceback" not in app.log(), app.log()
    wait_until(lambda: sni_item(session_bus.address, APP_ID) is None, 10, "the item to leave the host")


def open_sni_menu_for_screenshot(xvfb, name: str) -> None:
    """For the picture only: right-click the item in gtk-sni-tray-standalone's bar (at the bottom
    of the screen, our item first) so the menu it built from dbusmenu is on the screenshot, then
    close it with Escape. The press and release are one instant `click`, so GTK does not take the
    release as a pick of the entry that opens under the pointer."""
    env = base_env(**xvfb.env)
    found = subprocess.run(["xdotool", "search", "--onlyvisible", "--class", "gtk-sni-tray"],
                           env=env, capture_output=True, text=True, timeout=10).stdout.split()
    bars = []
    for window in found:
        geometry = subprocess.run(["xdotool", "getwindowgeometry", "--shell", window], env=env,
                                  capture_output=True, text=True, timeout=10).stdout
        values = dict(line.split("=", 1) for line in geometry.split() if "=" in line)
        if int(values.get("WIDTH", 0)) > 100:
            bars.append((int(values["X"]), int(values["Y"]), int(values["HEIGHT"])))
    if bars:
        x, y, height = bars[0]
        subprocess.run(["xdotool", "mousemove", str(x + height // 2), str(y + height // 2), "click", "3"],
                       env=env, timeout=10)
        time.sleep(1)  # GTK maps and draws the menu asynchronously
    screenshot(xvfb, name)
    subprocess.run(["xdotool", "key", "Escape"], env=env, timeout=10)
    time.sleep(0.3)


@pytest.mark.sni
def test_the_start_at_login_check_mark_follows_the_command_line_at_once(
        claude_tray_world, xvfb, session_bus, sni_tray):
    require_appindicator()
    """Regression: after `claude-tray autostart enable` in a terminal the running tray's menu kept
    its old check mark until a restart. The command now tells the tray, which redraws it."""
    world = claude_tray_world
    world.with_desktop(xvfb.display, session_bus.env, "appindicator")
    world.login()
    world.api.default = usage(50.0, 20.0, resets_in(2, 11), resets_in(75))
    app = world.start_tray()
    world.wait_view(lambda v: v["status"] == "ok", timeout=30, what="the first reading")

    def check_mark():
        item = sni_item(session_bus.address, APP_ID)
        return item.checked.get("Start at login") if item else None

    wait_until(lambda: check_mark() == 0, 10, "an unchecked Start at login in the SNI menu")
    for action, mark in (("enable", 1), ("disable", 0)):
        done = world.cli("autostart", action)
        assert done.returncode == 0, done
        wait_until(lambda mark=mark: check_mark() == mark, 5, f"the check mark after `claude-tray autostart {action}`")
        view = world.wait_view(lambda v, mark=mark: v["checked"]["Start at login"] is bool(mark), timeout=5,
                               what=f"the tray's own menu after {action}")
        assert view["checked"]["Notifications"] is True
    assert usage_requests(world.api) == 1  # telling the tray sends nothing to the server
    sni_click(session_bus.address, APP_ID, "Quit")
    assert app.wait_exit(20) == 0
    assert "Traceback" not in app.log(), app.log()
