"""Issue 14 end to end: the real `claude-tray` walking a sequence of readings served by the loopback
FakeApi, its forecast read back where a user meets it: the menu and tooltip of its own
StatusNotifierItem over D-Bus (under gtk-sni-tray-standalone, a real StatusNotifierWatcher host),
`status --json`, and the run-out popup in the real dunst's history.

The history. The readings of the first hours of the session are in the history file before the tray
starts (written with tray_monitor.history.HistoryStore, as an earlier tray run writes them: the
walk cannot wait hours of wall time); the tray adds its own readings to that file, and the test
reads them back. Every expected text and number is computed by forecast.forecast_window from the
file as it is then (the same data the tray had), at the wall-clock moments that bracket what the
tray computed: a clock ("runs out 15:40") or rounded figure is expected as it reads at the start or
at the end of that span (tests/test_app_notifications.Moment). A run-out clock is rounded down to
the step its distance asks for, and kept while later projections stay within a step of the one it
was rounded from (forecast_view.keep_runouts): so it is expected as one of the three clocks a step
apart around the projection's (`runout_clocks`).

The walk (one tray run answers two quick polls, the start and the first refresh; see
tests/test_app_notifications.py, so the walk restarts once, as its alert memory must survive):

- before: 5 % 170 min ago, 30 % 90 min ago, 44 % 40 min ago, 50 % 35 min ago (the session resets in
  2 h: 3 h of 5 h gone);
- run 1, start: 62 %: runs out before the reset, but less than `runout_lead` (30 min) before it: no popup;
- run 1, refresh: 72 %: the last half hour's climb runs it out in about 45 min, over an hour before
  the reset: one popup; menu, tooltip and `status --json` checked here;
- run 2, start (same cycle): 74 %, running out sooner still: no second popup (once per cycle);
- run 2, refresh: the session has reset (a later resets_at, its cycle an hour old) at 55 %: heading
  to run out within the hour again: one popup for the new cycle.
"""
from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone

import pytest
from PIL import Image

from tests.desktop_x import (
    SNI_MENU_PATH,
    sni_bus_name,
    sni_call,
    sni_items,
    sni_menu_rows,
    sni_properties,
    wait_until,
)
from tests.fakeapi import Response, usage_fixture
from tests.test_app_notifications import (
    APP_NAME,
    Moment,
    assert_no_token,
        canary_token,
    login_with,
    popups,
    quit_tray,
    refresh,
    session_at,
    start_and_wait,
    wait_popups,
)
from tray_monitor.alerts import AlertSettings
from tray_monitor.chart import HEIGHT, SERIES, WIDTH
from tray_monitor.fmt import format_clock, format_countdown, format_percent
from tray_monitor.forecast import Forecast, forecast_window
from tray_monitor.forecast_view import rounded_runout, runout_step
from tray_monitor.history import HistoryStore
from tray_monitor.model import Reading, UsageWindow
from tray_monitor.parse import SESSION_LABEL, parse_usage
from tray_monitor.view import binding_window

pytestmark = pytest.mark.desktop

def served(resets_at: datetime) -> datetime:
    """resets_at as the server writes it (microsecond noise), and as the tray then holds it."""
    return resets_at.replace(microsecond=1100)


class Usage:
    """The served body: small-2026-03 with the session window as given; the weekly windows keep one
    cycle for the whole walk (they reset days later)."""

    def __init__(self, week_resets_at: datetime):
        self.week = served(week_resets_at)

    def payload(self, session: float, session_resets_at: datetime) -> dict:
        body = json.loads(usage_fixture("small-2026-03"))
        body["five_hour"] = {"utilization": session, "resets_at": served(session_resets_at).isoformat()}
        body["seven_day"]["resets_at"] = self.week.isoformat()
        body["seven_day_sonnet"]["resets_at"] = (self.week + timedelta(hours=1)).isoformat()
        return body

    def body(self, session: float, session_resets_at: datetime) -> Response:
        return Response.json(self.payload(session, session_resets_at))

    def windows(self, session: float, session_resets_at: datetime) -> tuple[UsageWindow, ...]:
        """The windows as the tray holds them (parse.py on the same body)."""
        return parse_usage(self.payload(session, session_resets_at), datetime.now(timezone.utc)).windows


def seed_history(world, resets_at: datetime, now: datetime, points: tuple[tuple[int, float], ...]) -> None:
    """The session's earlier readings (minutes before now, percent), as the tray's HistoryStore writes them."""
    world.data_dir.mkdir(parents=True, exist_ok=True)
    store = HistoryStore(world.data_dir / "history.sqlite3")
    for minutes_ago, percent in points:
        window = UsageWindow(id="five_hour", label=SESSION_LABEL, percent=percent, resets_at=served(resets_at),
                             kind="session")
        assert store.record(Reading(windows=(window,), extra_usage=None,
                                    fetched_at=now - timedelta(minutes=minutes_ago))) == 1
    store.close()


def forecasts(world, windows: tuple[UsageWindow, ...], now: datetime,
              read_at: datetime | None = None) -> dict[str, Forecast | None]:
    """forecast.py's rule on the history file as it is, at `now`, for a reading taken at `read_at`
    (default `now`): the projection starts at the reading."""
    digest = HistoryStore(world.data_dir / "history.sqlite3").digest(now)
    return {w.id: forecast_window(w.id, w.kind, w.percent, w.resets_at, now, digest.samples_for(w.id),
                                  profile=digest.profile_for(w.id), read_at=read_at).forecast
            for w in windows}


def first_to_run_out(fcs: dict[str, Forecast | None]) -> str:
    """The binding rule the issue states, applied here: the window that runs out first (all of this
    walk's cases have one)."""
    out = {wid: fc.runs_out_at for wid, fc in fcs.items() if fc is not None and fc.runs_out_at is not None}
    assert out, fcs
    return min(out, key=lambda wid: out[wid])


def runout_clocks(fc: Forecast, now: datetime) -> set[str]:
    """The run-out clocks the tray may show for this projection: rounded down to its step, or the
    step before or after that (a clock kept from a projection less than a step away)."""
    assert fc.runs_out_at is not None
    step = runout_step(fc.runs_out_at - now)
    shown = rounded_runout(fc.runs_out_at, step)
    return {format_clock(shown + k * step, now) for k in (-1, 0, 1)}


def runout_popup(label: str, percent: float, fc: Forecast, now: datetime) -> set[tuple[str, str]]:
    """(summary, body) of the run-out popup, in the issue's words, with each clock it may show."""
    assert fc.runs_out_at is not None
    return {(f"{label} runs out at {clock}",
             f"At this pace ({fc.pace:.1f}x, now {format_percent(percent)}) the limit is reached "
             f"{format_countdown(fc.resets_at - fc.runs_out_at)} before it resets at {format_clock(fc.resets_at, now)}.")
            for clock in runout_clocks(fc, now)}


DEFAULTS = AlertSettings()


def popup_due(fc: Forecast | None, percent: float, now: datetime, settings: AlertSettings = DEFAULTS) -> bool:
    """The popup rule with the default settings: runs out more than runout_lead minutes before the
    reset, and less than runout_within minutes from now."""
    return (fc is not None and fc.runs_out_at is not None and percent < 100
            and fc.resets_at - fc.runs_out_at > timedelta(minutes=settings.runout_lead)
            and timedelta(0) <= fc.runs_out_at - now < timedelta(minutes=settings.runout_within))


@pytest.fixture
def sni_world(claude_tray_world, xvfb, session_bus, sni_tray, notification_daemon):
    """A signed-in user whose tray runs its own StatusNotifierItem under gtk-sni-tray-standalone,
    next to dunst."""
    world = claude_tray_world.with_desktop(xvfb.display, session_bus.env)
    world.extra_env["CLAUDE_TRAY_BACKEND"] = "sni"
    world.token = canary_token()
    login_with(world, world.token)
    # The desktop's viewer: an xdg-open that writes down what it was asked to open.
    stubs = world.root / "bin"
    stubs.mkdir()
    world.opened = world.root / "opened.txt"
    (stubs / "xdg-open").write_text(f'#!/bin/sh\necho "$1" >> "{world.opened}"\n')
    (stubs / "xdg-open").chmod(0o755)
    world.extra_env["PATH"] = os.pathsep.join([str(stubs), os.environ.get("PATH", "")])
    notification_daemon.clear()
    return world


def sni_menu(address: str, pid: int, expect: str) -> list[str]:
    """The menu's labels as a host reads them, once a row starting with `expect` is there."""
    def labels():
        rows = sni_menu_rows(address, sni_bus_name(pid))
        found = [r["label"] for r in rows if r["type"] != "separator"]
        return found if any(label.startswith(expect) for label in found) else None

    return wait_until(labels, 15, f"the SNI menu with {expect!r}")


def test_a_walk_shows_pace_run_out_and_the_binding_limit_everywhere_and_pops_up_once_per_cycle(
        sni_world, session_bus, notification_daemon):
    world, api, daemon, bus = sni_world, sni_world.api, notification_daemon, session_bus.address
    start = datetime.now(timezone.utc)
    session = (start + timedelta(hours=2)).replace(second=0, microsecond=0)
    usage = Usage(session + timedelta(days=3))
    seed_history(world, session, start, ((170, 5), (90, 30), (40, 44), (35, 50)))
    expected_popups: list = []

    # Run 1, start at 62 %: runs out before the reset, too close to it for a popup.
    api.queue(usage.body(62, session), usage.body(72, session))
    app = start_and_wait(world, session_at(62), "62% at start")
    t = datetime.now(timezone.utc)
    fc62 = forecasts(world, usage.windows(62, session), t)["five_hour"]
    assert fc62 is not None and fc62.runs_out_at is not None and fc62.runs_out_at < session
    assert not popup_due(fc62, 62, t), fc62

    # Run 1, refresh at 72 %: one popup.
    moment = Moment()
    refresh(world, session_at(72), "72% after refresh")
    wait_popups(daemon, 1)
    moment.close()
    windows = usage.windows(72, session)
    at = {when: forecasts(world, windows, when) for when in (moment.start, moment.end)}
    assert all(popup_due(fcs["five_hour"], 72, when) for when, fcs in at.items()), at
    expected_popups.append(("normal", set().union(*(runout_popup(SESSION_LABEL, 72, fcs["five_hour"], when)
                                                     for when, fcs in at.items()))))

    # The history holds what this tray wrote: the two readings it was served, at the times it read them.
    written = [(s.percent, s.at <= moment.end) for s in
               HistoryStore(world.data_dir / "history.sqlite3").digest(moment.end).samples_for("five_hour")
               if s.at > start]
    assert written == [(62, True), (72, True)], written

    # The menu over D-Bus (the item the host registered): the binding top line, and each window's
    # forecast under its line.
    wait_until(lambda: any(item.bus_name == sni_bus_name(app.process.pid) for item in sni_items(bus)), 15,
               "the tray's item registered with the StatusNotifierWatcher")
    read = Moment()
    labels = sni_menu(bus, app.process.pid, f"{SESSION_LABEL}: 72%")
    props = sni_properties(bus, sni_bus_name(app.process.pid))
    read.close()
    # The reading was taken during the refresh: its forecast is projected from then, however long
    # after it the menu is read.
    span = (moment.start, moment.end)
    at = {when: forecasts(world, windows, when) for when in span}
    assert {first_to_run_out(fcs) for fcs in at.values()} == {"five_hour"}
    (top,) = [label for label in labels if " runs out first: " in label]
    assert top in {f"Session runs out first: {clock}, resets at {format_clock(session, when)}"
                   for when, fcs in at.items() for clock in runout_clocks(fcs["five_hour"], when)}, labels
    for w in windows:
        row = labels.index(next(label for label in labels if label.startswith(f"{w.label}: ")))
        texts = set().union(*(outlooks_may_read(fcs[w.id], w.percent, when) for when, fcs in at.items()))
        if texts == {""}:  # not enough data: nothing is said, the next row follows
            assert not labels[row + 1].startswith("      "), (w.id, labels)
        else:
            assert labels[row + 1] in {f"      {text}" for text in texts}, (w.id, labels, texts)
    assert all(text.startswith("pace 1.") for text in outlooks_may_read(at[span[0]]["five_hour"], 72, span[0]))
    # ... and the window the icon shows (view.binding_window: the fullest one here) is marked.
    icon_window = binding_window(Reading(windows=windows, extra_usage=None, fetched_at=t), None)
    assert icon_window is not None
    assert [label for label in labels if label.endswith(" · in the icon")] == [
        next(label for label in labels if label.startswith(f"{icon_window.label}: "))], labels
    # The tooltip names the binding limit, its run-out time and its reset.
    assert props["ToolTip"][2] in {f"Claude: session limit 72% · out at {clock}, resets at {format_clock(session, when)}"
                                   for when, fcs in at.items() for clock in runout_clocks(fcs["five_hour"], when)
                                   }, props["ToolTip"]

    # status --json: per window its forecast, on top the binding window, from the same history file.
    ask = Moment()
    status = world.cli("status", "--json")
    ask.close()
    assert status.returncode == 0, status
    data = json.loads(status.stdout)
    assert data["from_tray"] is True
    # The forecast of the reading the tray holds, projected from the moment it was read.
    updated = datetime.fromisoformat(data["updated_at"])
    assert moment.start <= updated <= moment.end, (data["updated_at"], moment.start, moment.end)
    at = {when: forecasts(world, windows, when, read_at=updated) for when in (ask.start, ask.end)}
    assert data["binding"] == "five_hour" == first_to_run_out(at[ask.start]) == first_to_run_out(at[ask.end])
    assert [w["id"] for w in data["windows"]] == [w.id for w in windows]
    for window in data["windows"]:
        assert_forecast_json(window["forecast"], [fcs[window["id"]] for fcs in at.values()])

    # "Usage history…" draws the chart from this history into the cache and hands it to xdg-open.
    name = sni_bus_name(app.process.pid)  # this tray's own item, whatever else the watcher lists
    entry = next(r["id"] for r in sni_menu_rows(bus, name) if r["label"] == "Usage history…")
    sni_call(bus, name, SNI_MENU_PATH, "com.canonical.dbusmenu", "Event", "isvu", (entry, "clicked", ("i", 0), 0))
    opened = wait_until(lambda: world.opened.exists() and world.opened.read_text().splitlines(), 15,
                        "the chart handed to xdg-open")
    assert opened == [str(world.home / ".cache" / "claude-tray" / "usage-history.png")], opened
    with Image.open(opened[0]) as chart:
        assert (chart.format, chart.size) == ("PNG", (WIDTH, HEIGHT))
        plot = chart.convert("RGB").crop((66, 66, 1140, 550))  # the session's line is drawn in the plot
        assert SERIES[0] in {colour for _, colour in plot.getcolors(maxcolors=1_000_000)}
    quit_tray(world, app)
    assert len(popups(daemon)) == 1

    # Run 2, start at 74 % (same cycle, running out sooner still): no second popup. Then the session
    # resets (its new cycle an hour old) at 55 %: heading to run out within the hour: a new popup.
    new_session = (datetime.now(timezone.utc) + timedelta(hours=4)).replace(second=0, microsecond=0)
    api.queue(usage.body(74, session), usage.body(55, new_session))
    app = start_and_wait(world, session_at(74), "74% after restart")
    t = datetime.now(timezone.utc)
    assert popup_due(forecasts(world, usage.windows(74, session), t)["five_hour"], 74, t)  # if it were new
    moment = Moment()
    refresh(world, session_at(55), "55% in the new cycle")
    wait_popups(daemon, 2)
    moment.close()
    windows = usage.windows(55, new_session)
    at = {when: forecasts(world, windows, when) for when in (moment.start, moment.end)}
    assert all(popup_due(fcs["five_hour"], 55, when) for when, fcs in at.items()), at
    expected_popups.append(("normal", set().union(*(runout_popup(SESSION_LABEL, 55, fcs["five_hour"], when)
                                                     for when, fcs in at.items()))))
    quit_tray(world, app)

    got = popups(daemon)
    assert len(got) == len(expected_popups), got
    for (appname, urgency, summary, body), (want_urgency, texts) in zip(got, expected_popups, strict=True):
        assert (appname, urgency) == (APP_NAME, want_urgency), got
        assert (summary, body) in texts, (summary, body, texts)
    assert len(api.requests) == 4
    assert_no_token(world, daemon, world.token)


def outlooks_may_read(fc: Forecast | None, percent: float, now: datetime) -> set[str]:
    """The menu's words under a window (the issue's): "pace 1.3x · runs out 15:40" (with each
    clock it may show), "on track", or nothing when there is not enough data."""
    if fc is None or percent >= 100:
        return {""}
    if fc.runs_out_at is not None:
        return {f"pace {fc.pace:.1f}x · runs out {clock}" for clock in runout_clocks(fc, now)}
    return {"on track"}


def assert_forecast_json(got: dict, expected: list[Forecast | None]) -> None:
    """`status --json`'s forecast object against the rule's forecasts at the start and the end of
    the command (numbers rounded as documented: pace 2 places, projected percent 1)."""
    if all(fc is None for fc in expected):
        assert (got["pace"], got["projected_percent"], got["runs_out_at"]) == (None, None, None), got
        assert got["reason"], got
        return
    assert all(fc is not None for fc in expected) and got["reason"] is None, (got, expected)
    assert got["pace"] in {round(fc.pace, 2) for fc in expected if fc}, (got, expected)
    assert got["projected_percent"] in {round(fc.projected_percent, 1) for fc in expected if fc}, (got, expected)
    outs = [fc.runs_out_at for fc in expected if fc]
    if got["runs_out_at"] is None:
        assert outs == [None, None], (got, expected)
    else:
        when = datetime.fromisoformat(got["runs_out_at"])
        assert None not in outs and min(outs) <= when <= max(outs), (got, expected)  # type: ignore[type-var]
