"""Notifications end to end: the real `claude-tray` process, a real notification daemon.

The tray runs as a user runs it (tests/apprun.py: a private HOME, Claude Code's login in its own
CLAUDE_CONFIG_DIR, the loopback FakeApi as the usage endpoint) under Xvfb with a private session bus
and dunst (tests/desktop_bus.py). What the user gets is read back from dunst's own history
(summary, body, app name, urgency), never from our sender's return value.

How the usage is stepped. Manual refreshes within 30 s of the last accepted one are coalesced
(tray_monitor/schedule.py, REFRESH_COALESCE) and scheduled polls are at least 60 s apart, so one tray
process answers exactly two quick polls: the one at start and the first `claude-tray refresh`.
Each step of the walk is therefore one tray run ("start, refresh, quit") on the same data dir;
the restarts are not a trick, they are the rule under test (alert memory survives a restart).
Every poll the tray makes is counted at the FakeApi, so a run that asked more often than
intended fails.

Sync points. The tray updates its state (what `view` reports) just before it carries out the
popups of that step, so a popup that is due is awaited in dunst's history; a popup that must NOT
come is checked after the tray has quit (Poller.stop joins the poll thread, so a popup being sent
at that moment has reached dunst before the process exits).
"""
from __future__ import annotations

import json
import re
import secrets
from datetime import datetime, timedelta, timezone

import pytest

from tests.desktop_x import sni_click, sni_item, wait_until
from tests.fakeapi import Response, credentials_fixture, error_fixture, usage_fixture
from tray_monitor.fmt import format_clock, format_countdown

pytestmark = pytest.mark.desktop

APP_NAME = "claude-tray"
#: A recognisable token: if any part of it reaches a popup, the log or our files, the test sees it.
CANARY_PREFIX = "sk-ant-oat01-CANARY-"


# ----------------------------------------------------------------------------- the user's world


def canary_token() -> str:
    return CANARY_PREFIX + secrets.token_hex(24)


def login_with(world, token: str) -> None:
    payload = credentials_fixture("max-linux")
    payload["claudeAiOauth"]["accessToken"] = token
    world.login(payload)


def server_time(moment: datetime) -> str:
    """resets_at as the server writes it: microsecond noise and an offset."""
    return moment.replace(microsecond=1100).isoformat()


def usage_body(session_percent: float, session_resets_at: datetime) -> Response:
    """The recorded small-2026-03 body with the session (five_hour) window set as given; the
    weekly windows stay below every threshold, with resets_at in the future like a live account."""
    body = json.loads(usage_fixture("small-2026-03"))
    body["five_hour"] = {"utilization": session_percent, "resets_at": server_time(session_resets_at)}
    week = session_resets_at + timedelta(days=3)
    body["seven_day"]["resets_at"] = server_time(week)
    body["seven_day_sonnet"]["resets_at"] = server_time(week + timedelta(hours=1))
    return Response.json(body)


def future_minute(hours: float) -> datetime:
    return (datetime.now(timezone.utc) + timedelta(hours=hours)).replace(second=0, microsecond=0)


# ----------------------------------------------------------------------------- what the user sees


def resets_sentence(resets_at: datetime, now: datetime) -> str:
    return f"Resets in {format_countdown(resets_at - now)} ({format_clock(resets_at, now)})."


class Moment:
    """The wall-clock span in which the tray wrote a popup: a countdown ("in 2h 59m") is exact
    only to the minute the tray computed it in, so a text is expected as it read at the start
    or at the end of the span (one value, or two across a minute boundary)."""

    def __init__(self) -> None:
        self.start = datetime.now(timezone.utc)
        self.end: datetime | None = None

    def close(self) -> Moment:
        self.end = datetime.now(timezone.utc)
        return self

    def texts(self, make) -> set:
        return {make(self.start), make(self.end or datetime.now(timezone.utc))}


def popups(daemon) -> list[tuple]:
    """dunst's history, oldest first, as (appname, urgency, summary, body)."""
    return [(e["appname"], e["urgency"], e["summary"], e["body"]) for e in reversed(daemon.history())]


def wait_popups(daemon, count: int, timeout: float = 10) -> list[tuple]:
    return wait_until(lambda: (lambda p: p if len(p) >= count else None)(popups(daemon)), timeout,
                      f"{count} notifications in dunst's history")


def assert_popup(popup: tuple, urgency: str, summary: str, bodies: set) -> None:
    appname, got_urgency, got_summary, got_body = popup
    assert (appname, got_urgency, got_summary) == (APP_NAME, urgency, summary), popup
    assert got_body in bodies, f"{got_body!r} is none of {bodies!r}"


def assert_no_token(world, daemon, token: str) -> None:
    """The canary token (or its distinctive part) is nowhere the user or a bug report can see."""
    secret = token[len(CANARY_PREFIX):]
    for entry in daemon.history():
        for value in entry.values():
            assert secret not in str(value) and "CANARY" not in str(value), entry
    for path in [world.log_path, *world.data_dir.rglob("*"), *(world.root / "apps").glob("*.log")]:
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path


# ----------------------------------------------------------------------------- running the tray


def threshold_popups_only(world) -> None:
    """These walks are about the threshold popups: the run-out popup (issue 14; it would join
    them, at 80 % with 3 h left) is switched off with its one setting, and tested on its own."""
    folder = world.home / ".config" / "claude-tray"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "settings.toml").write_text("notify_runout = false\n")


def start_and_wait(world, predicate, what: str):
    app = world.start_tray("--interval", "600")
    world.wait_view(predicate, timeout=30, what=what)
    return app


def session_at(percent: float):
    """The tray shows a good reading whose session line reads `percent`."""
    line = f"Current session: {percent}%"
    return lambda v: v["status"] == "ok" and any(m.startswith(line + " ") for m in v["menu"])


def refresh(world, predicate, what: str) -> None:
    done = world.cli("refresh")
    assert (done.returncode, done.stdout.strip()) == (0, "Refreshing now."), done
    world.wait_view(predicate, timeout=20, what=what)


def quit_tray(world, app) -> None:
    assert world.control("quit") == "quitting"
    assert app.wait_exit(15) == 0
    assert "Traceback" not in app.log(), app.log()


# ----------------------------------------------------------------------------- the tests


@pytest.fixture
def xorg_world(claude_tray_world, xvfb, xembed_tray, session_bus, notification_daemon):
    """A signed-in user (canary token) whose tray runs on the xorg backend next to dunst."""
    world = claude_tray_world.with_desktop(xvfb.display, session_bus.env, "xorg")
    world.token = canary_token()
    login_with(world, world.token)
    notification_daemon.clear()
    return world


def test_usage_walk_60_80_95_100_reset_gives_exactly_the_promised_popups_across_refreshes_and_restarts(
        xorg_world, notification_daemon):
    threshold_popups_only(xorg_world)
    world, api, daemon = xorg_world, xorg_world.api, notification_daemon
    session = future_minute(3)
    next_session = session + timedelta(hours=5)
    expected: list = []  # (urgency, summary, bodies) in the order they must arrive

    def check(requests: int) -> None:
        got = popups(daemon)
        assert len(got) == len(expected), got
        for popup, (urgency, summary, bodies) in zip(got, expected, strict=False):
            assert_popup(popup, urgency, summary, bodies)
        assert len(api.requests) == requests

    # Run 1: 60 % at start (no threshold), 80 % on refresh: "at 80%" (threshold 75).
    api.queue(usage_body(60, session), usage_body(80, session))
    app = start_and_wait(world, session_at(60), "60% at start")
    moment = Moment()
    refresh(world, session_at(80), "80% after refresh")
    wait_popups(daemon, 1)
    moment.close()
    expected.append(("normal", "Current session at 80%", moment.texts(lambda now: resets_sentence(session, now))))
    quit_tray(world, app)
    check(requests=2)

    # Run 2: a restart still at 80 % repeats nothing, and neither does a refresh with the same data.
    api.queue(usage_body(80, session), usage_body(80, session))
    app = start_and_wait(world, session_at(80), "80% after restart")
    refresh(world, session_at(80), "80% after refresh")
    quit_tray(world, app)
    check(requests=4)

    # Run 3: 95 % at start: "at 95%" (threshold 90, the 75 one is not repeated); then 102 % on
    # refresh: limit reached, critical, and extra usage is enabled in this account.
    api.queue(usage_body(95, session), usage_body(102, session))
    moment = Moment()
    app = start_and_wait(world, session_at(95), "95% at start")
    wait_popups(daemon, 2)
    moment.close()
    expected.append(("critical", "Current session at 95%", moment.texts(lambda now: resets_sentence(session, now))))
    moment = Moment()
    refresh(world, session_at(102), "102% after refresh")
    wait_popups(daemon, 3)
    moment.close()
    expected.append(("critical", "Current session limit reached: 102%", moment.texts(
        lambda now: resets_sentence(session, now) + " Until then, usage is billed as extra usage.")))
    quit_tray(world, app)
    check(requests=6)

    # Run 4: a restart at 102 % repeats nothing; the window then resets (a later resets_at, 3 %).
    api.queue(usage_body(102, session), usage_body(3, next_session))
    app = start_and_wait(world, session_at(102), "102% after restart")
    moment = Moment()
    refresh(world, session_at(3), "3% after the reset")
    wait_popups(daemon, 4)
    moment.close()
    expected.append(("low", "Current session limit reset — back to 3%", moment.texts(
        lambda now: f"The full limit is available again; it next resets in "
               f"{format_countdown(next_session - now)} ({format_clock(next_session, now)}).")))
    quit_tray(world, app)
    check(requests=8)

    # Run 5: the reset is not announced again after a restart.
    api.queue(usage_body(3, next_session))
    app = start_and_wait(world, session_at(3), "3% after restart")
    quit_tray(world, app)
    check(requests=9)

    assert {r.headers["authorization"] for r in api.requests} == {f"Bearer {world.token}"}
    assert_no_token(world, daemon, world.token)


def expired_401() -> Response:
    return Response(401, error_fixture("401-invalid-token.json"))


def test_fresh_data_dir_at_92_gives_one_popup_and_an_expired_login_is_announced_once(xorg_world, notification_daemon):
    threshold_popups_only(xorg_world)
    world, api, daemon = xorg_world, xorg_world.api, notification_daemon
    session = future_minute(2)

    # A first start at 92 %: one popup for the highest threshold crossed, not one per threshold.
    api.queue(usage_body(92, session), expired_401())
    moment = Moment()
    app = start_and_wait(world, session_at(92), "92% at start")
    wait_popups(daemon, 1)
    moment.close()

    # The token stops working (revoked, or Claude Code rotated it elsewhere): one popup.
    refresh(world, lambda v: v["status"] == "expired", "the expired login")
    wait_popups(daemon, 2)
    # A refresh now sends nothing: the server already refused this token.
    done = world.cli("refresh")
    assert done.stdout.startswith("Waiting for a new Claude login: run `claude` to sign in"), done
    quit_tray(world, app)
    assert len(api.requests) == 2

    # Restarted while still expired: the login popup is not repeated. Then the user runs `claude`
    # (a new token lands in the store): the tray picks it up by itself, the 92 % is not repeated.
    new_token = canary_token()
    api.queue(expired_401(), usage_body(92, session))
    app = start_and_wait(world, lambda v: v["status"] == "expired", "the expired login after restart")
    login_with(world, new_token)
    world.wait_view(session_at(92), timeout=20, what="92% with the new login")
    quit_tray(world, app)
    assert len(api.requests) == 4
    assert [r.headers["authorization"] for r in api.requests] == [f"Bearer {world.token}"] * 3 + [f"Bearer {new_token}"]

    got = popups(daemon)
    assert len(got) == 2, got
    assert_popup(got[0], "critical", "Current session at 92%", moment.texts(lambda now: resets_sentence(session, now)))
    assert_popup(got[1], "normal", "Claude login expired",
                 {"Run claude in a terminal to sign in again; the tray picks up the new login by itself."})
    assert_no_token(world, daemon, world.token)
    assert_no_token(world, daemon, new_token)


# ----------------------------------------------------------------------------- the menu (SNI)


def menu_checkbox(address: str, label: str) -> bool | None:
    """The dbusmenu toggle-state of a checkbox entry (what the panel draws): True, False, or None
    while the item or entry is not there."""
    from jeepney import DBusAddress, new_method_call
    from jeepney.io.blocking import open_dbus_connection

    item = sni_item(address, APP_NAME)
    if item is None or not item.menu_path:
        return None
    menu = DBusAddress(item.menu_path, bus_name=item.bus_name, interface="com.canonical.dbusmenu")
    with open_dbus_connection(bus=address) as connection:
        reply = connection.send_and_get_reply(new_method_call(menu, "GetLayout", "iias", (0, -1, [])), timeout=5)
    _revision, layout = reply.body
    for _signature, (_id, props, _children) in layout[2]:
        if props.get("label", ("s", ""))[1].replace("_", "") == label:
            state = props.get("toggle-state", ("i", -1))[1]
            return None if state == -1 else bool(state)
    return None


@pytest.fixture
def sni_world(claude_tray_world, xvfb, session_bus, sni_tray, notification_daemon):
    """A signed-in user (canary token) whose tray runs on its own StatusNotifierItem backend (a real
    menu, no PyGObject) under gtk-sni-tray-standalone."""
    world = claude_tray_world.with_desktop(xvfb.display, session_bus.env)
    world.extra_env["CLAUDE_TRAY_BACKEND"] = "sni"
    world.token = canary_token()
    login_with(world, world.token)
    notification_daemon.clear()
    return world


def test_menu_test_notification_and_the_notifications_toggle_which_silences_popups_and_survives_a_restart(
        sni_world, session_bus, notification_daemon):
    world, api, daemon, bus = sni_world, sni_world.api, notification_daemon, session_bus.address
    threshold_popups_only(world)
    session = future_minute(4)
    preferences = world.data_dir / "preferences.json"

    api.queue(usage_body(60, session), usage_body(80, session))
    app = start_and_wait(world, session_at(60), "60% at start")
    wait_until(lambda: menu_checkbox(bus, "Notifications") is True, 15, "the checked Notifications entry")

    sni_click(bus, APP_NAME, "Send test notification")
    wait_popups(daemon, 1)

    # Off: remembered in preferences.json, the checkbox follows, and 80 % (threshold 75) stays silent.
    sni_click(bus, APP_NAME, "Notifications")
    wait_until(lambda: menu_checkbox(bus, "Notifications") is False, 10, "the unchecked Notifications entry")
    assert json.loads(preferences.read_text()) == {"notifications": False}
    refresh(world, session_at(80), "80% after refresh")
    quit_tray(world, app)
    assert len(popups(daemon)) == 1

    # Still off after a restart: 95 % (threshold 90) is silent too.
    api.queue(usage_body(95, session), usage_body(100, session))
    app = start_and_wait(world, session_at(95), "95% after restart")
    wait_until(lambda: menu_checkbox(bus, "Notifications") is False, 15, "the entry still unchecked after restart")
    # On again: what happened while off is not replayed, the next threshold (100 %) pops up.
    sni_click(bus, APP_NAME, "Notifications")
    wait_until(lambda: menu_checkbox(bus, "Notifications") is True, 10, "the checked Notifications entry")
    assert json.loads(preferences.read_text()) == {"notifications": True}
    moment = Moment()
    refresh(world, session_at(100), "100% after refresh")
    wait_popups(daemon, 2)
    moment.close()
    quit_tray(world, app)
    assert len(api.requests) == 4

    got = popups(daemon)
    assert len(got) == 2, got
    assert_popup(got[0], "low", "claude-tray notifications work",
                 {"You will be told here before you run out of Claude usage."})
    assert_popup(got[1], "critical", "Current session limit reached: 100%", moment.texts(
        lambda now: resets_sentence(session, now) + " Until then, usage is billed as extra usage."))
    assert_no_token(world, daemon, world.token)


# ----------------------------------------------------------------------------- the demo (issue 16)


def test_demo_tray_marks_its_tooltip_menu_and_every_popup_as_simulated(
        claude_tray_world, xvfb, xembed_tray, session_bus, notification_daemon):
    """A simulated "limit reached" or "login expired" read like real news to a user who also has a
    real login: in --demo every popup's title, the tooltip and the menu's first line say so."""
    world = claude_tray_world.with_desktop(xvfb.display, session_bus.env, "xorg")
    notification_daemon.clear()
    app = world.start_tray("--demo")  # no login at all: the demo needs none
    view = world.wait_view(lambda v: v["status"] == "ok", what="the demo's first reading")
    assert view["tooltip"].startswith("Claude (simulated demo): "), view
    assert view["menu"][0] == "Plan: Max 5x · simulated demo", view
    # It opens on "22", the weekly, while the session is 10 %: the tooltip and the menu say which
    # window the icon's number is (the walk moves on every 5 s, so read whichever step is shown).
    marked = [line for line in view["menu"] if line.endswith(" · in the icon")]
    assert len(marked) == 1, view
    label, percent = re.match(r"(.+?): (\d+)% · ", marked[0]).groups()
    assert float(percent) == view["icon"]["percent"], view
    short = {"Current session": "session", "Current week (all models)": "weekly"}.get(label, label)
    assert view["tooltip"].startswith(f"Claude (simulated demo): {short} limit {percent}% · ")
    # The walk reaches 78 % (warning) and 93 % (critical) 10 and 15 s after the start (one demo
    # step per read, every 5 s). Both popups have the session window's key, so the 93 % one carries
    # the 78 % one's replaces_id: it must find the 78 % one already closed (tests/desktop_bus.py,
    # NotificationDaemon._all_history), or dunst replaces it in place and never lists it.
    got = wait_popups(notification_daemon, 2, timeout=30)
    quit_tray(world, app)
    assert [(p[1], p[2]) for p in got[:2]] == [("normal", "Demo (simulated): Current session at 78%"),
                                               ("critical", "Demo (simulated): Current session at 93%")], got
    assert all(p[2].startswith("Demo (simulated): ") for p in popups(notification_daemon))
    assert len(world.api.requests) == 0
    # Simulated readings never enter the usage history (issue 14): no history file, no alert memory.
    assert not list(world.data_dir.glob("*.sqlite3*")), sorted(world.data_dir.iterdir())


def test_a_session_heading_to_run_out_early_notifies_once_and_status_json_shows_the_forecast(
        xorg_world, notification_daemon):
    """Issue 14: 70 % two hours into the session (3 h left) runs out in about 50 min, more than
    30 min before the reset and less than 60 min away: one "runs out at" popup; a refresh at 72 %
    does not repeat it. `status --json` (the tray's shared reading) carries the forecast and names
    the session as binding; the readings went into the history file (never the demo's)."""
    world, api, daemon = xorg_world, xorg_world.api, notification_daemon
    session = future_minute(3)
    api.queue(usage_body(70, session), usage_body(72, session))
    app = start_and_wait(world, session_at(70), "70% at start")
    view = world.view()
    assert any(line.startswith("Session runs out first: ") for line in view["menu"]), view["menu"]
    assert any(line.strip().startswith("pace 1.") and " · runs out " in line for line in view["menu"]), view["menu"]
    assert "· out at " in view["tooltip"], view["tooltip"]
    (popup,) = wait_popups(daemon, 1)
    assert popup[2].startswith("Current session runs out at "), popup
    assert "before it resets at" in popup[3], popup

    status = world.cli("status", "--json")
    data = json.loads(status.stdout)
    session_window = next(w for w in data["windows"] if w["id"] == "five_hour")
    assert data["binding"] == "five_hour"
    assert session_window["forecast"]["reason"] is None
    assert datetime.fromisoformat(session_window["forecast"]["runs_out_at"]) < session

    refresh(world, session_at(72), "72% after refresh")
    quit_tray(world, app)
    assert len(popups(daemon)) == 1  # once per cycle
    assert (world.data_dir / "history.sqlite3").exists()
