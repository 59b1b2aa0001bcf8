"""A minute tick of an unchanged state takes the last view with its countdowns turned
(view.with_countdowns, inside view.countdowns_only_until's stretch) instead of a whole view: it must
equal the whole view at every moment, for generated readings (forecasts that run out or not,
resets passing, stale readings), clocks and local zones (midnight, daylight saving changes)."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.test_monitor import RecordingNotifier
from tray_monitor.clock import FakeClock
from tray_monitor.model import Reading, UsageWindow
from tray_monitor.monitor import Monitor
from tray_monitor.parse import parse_usage
from tray_monitor.state import MonitorState, PollScheduled, PollSucceeded, Tick, step
from tray_monitor.view import countdowns_only_until, next_text_change, view, with_countdowns

#: the days around Europe's (29 March) and Chile's (5 April) daylight saving changes of 2026
START = datetime(2026, 3, 27, tzinfo=timezone.utc)
ZONES = ["UTC", "Europe/Berlin", "America/Santiago", "Australia/Lord_Howe", "Asia/Kolkata"]
KINDS = {"five_hour": ("Current session", "session", 5 * 3600),
         "seven_day": ("Current week (all models)", "weekly", 7 * 86400),
         "seven_day_sonnet": ("Current week (Sonnet only)", "weekly_scoped", 7 * 86400)}


@st.composite
def states(draw) -> MonitorState:
    fetched_at = START + timedelta(seconds=draw(st.integers(0, 12 * 86400)))
    ids = draw(st.lists(st.sampled_from(sorted(KINDS)), min_size=1, max_size=3, unique=True))
    windows = []
    for wid in ids:
        label, kind, length = KINDS[wid]
        left = draw(st.none() | st.floats(-600, length, allow_nan=False))
        windows.append(UsageWindow(id=wid, label=label, percent=draw(st.floats(0, 120, allow_nan=False)),
                                   resets_at=None if left is None else fetched_at + timedelta(seconds=left),
                                   kind=kind))  # type: ignore[arg-type]
    reading = Reading(windows=tuple(windows), extra_usage=None, fetched_at=fetched_at)
    # a long interval (settings.toml) keeps a reading fresh for hours: stretches across midnight
    interval = draw(st.sampled_from([60.0, 600.0, 3600.0, 4 * 3600.0]))
    state = MonitorState(interval=interval, pinned_window=draw(st.none() | st.sampled_from(ids)))
    state, _ = step(state, PollSucceeded(reading, "Max 5x"), fetched_at)
    next_poll = fetched_at + timedelta(seconds=draw(st.floats(30, 2 * interval, allow_nan=False)))
    state, _ = step(state, PollScheduled(next_poll), fetched_at)
    return state


#: seconds after the reading of the first view, then between the following moments
moments = st.tuples(st.floats(0, 3600, allow_nan=False),
                    st.lists(st.floats(0.001, 4 * 3600, allow_nan=False), min_size=1, max_size=12))


@pytest.mark.parametrize("zone", ZONES)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(state=states(), when=moments)
def test_turned_countdowns_equal_the_whole_view_at_every_moment_of_the_stretch(local_time_zone, zone, state, when):
    local_time_zone(zone)
    reading = state.reading
    assert reading is not None
    first, steps = when
    start = reading.fetched_at + timedelta(seconds=first)
    until = countdowns_only_until(state, start)
    last = view(state, start)
    now = start
    for seconds in steps:
        now += timedelta(seconds=seconds)
        if until is None or now >= until:
            return
        assert with_countdowns(last, reading, start, now) == view(state, now), now


@pytest.mark.parametrize("zone", ["UTC", "Asia/Kolkata"])
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(state=states(), first=st.floats(0, 3600, allow_nan=False),
       after=st.lists(st.sampled_from([0.0, 1e-6, 1e-3, 0.05, 0.5, 30.0]), min_size=1, max_size=20))
def test_turned_countdowns_equal_the_whole_view_at_and_right_after_each_change(local_time_zone, zone, state,
                                                                                first, after):
    """Where the poller ticks: at each moment next_text_change names (a countdown turning), or a
    hair after it (the poller's TICK_AFTER_CHANGE is 50 ms)."""
    local_time_zone(zone)
    reading = state.reading
    assert reading is not None
    start = reading.fetched_at + timedelta(seconds=first)
    until = countdowns_only_until(state, start)
    last = view(state, start)
    now = start
    for seconds in after:
        change = next_text_change(state, now)
        if until is None or change is None:
            return
        now = change + timedelta(seconds=seconds)
        if now >= until:
            return
        assert with_countdowns(last, reading, start, now) == view(state, now), now


def test_a_minute_tick_is_inside_the_stretch_with_the_live_body(local_time_zone):
    """The tray's usual idle case (a session resetting in 2 h 11 min, weekly windows in days):
    the next minutes' ticks take the short way (or this cut saves nothing)."""
    local_time_zone("Europe/Berlin")
    from benchmarks.bench import live_usage_body

    now = datetime.now(timezone.utc)
    reading = parse_usage(json.loads(live_usage_body()), now)
    state, _ = step(MonitorState(interval=60.0), PollSucceeded(reading, "Max 5x"), now)
    state, _ = step(state, PollScheduled(now + timedelta(seconds=60)), now)
    until = countdowns_only_until(state, now)
    assert until is not None and until > now + timedelta(seconds=90)
    turned = with_countdowns(view(state, now), reading, now, now + timedelta(seconds=61))
    assert turned == view(state, now + timedelta(seconds=61))
    assert turned.windows[0].menu_text != view(state, now).windows[0].menu_text  # a countdown turned


def test_no_stretch_without_a_reading_or_while_stale():
    now = START
    assert countdowns_only_until(MonitorState(), now) is None
    reading = Reading(windows=(UsageWindow("five_hour", "Current session", 40.0, now + timedelta(hours=2)),),
                      extra_usage=None, fetched_at=now)
    state, _ = step(MonitorState(interval=60.0), PollSucceeded(reading, None), now)
    assert countdowns_only_until(state, now - timedelta(seconds=1)) is None  # the clock set back
    assert countdowns_only_until(state, now + timedelta(minutes=10)) is None  # stale: its age is shown


@pytest.mark.parametrize("zone", ["UTC", "America/Santiago"])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(state=states(), when=moments)
def test_the_monitor_delivers_the_whole_view_after_every_tick(local_time_zone, zone, state, when):
    """Through Monitor.handle (what the tray gets): after each tick the last view delivered is the
    whole view of that moment, whichever way the monitor worked it out."""
    local_time_zone(zone)
    assert state.reading is not None
    first, steps = when
    clock = FakeClock(state.reading.fetched_at + timedelta(seconds=first))
    monitor = Monitor(state, clock, RecordingNotifier(), None)
    delivered: list = []
    monitor.subscribe(delivered.append)
    for seconds in (0.0, *steps):
        clock.advance(seconds)
        monitor.handle(Tick())
        assert delivered[-1] == view(monitor.state, clock.now()), clock.now()


def test_a_stretch_from_the_last_fresh_moment_ends_right_after_it():
    """Found by the generated cases: at exactly two intervals after the reading it is still "ok",
    a microsecond later "stale"; a stretch starting there must end right after it."""
    reading = Reading(windows=(UsageWindow("five_hour", "Current session", 0.0, None, kind="session"),),
                      extra_usage=None, fetched_at=START)
    state, _ = step(MonitorState(interval=60.0), PollSucceeded(reading, None), START)
    state, _ = step(state, PollScheduled(START + timedelta(seconds=30)), START)
    last_fresh = START + timedelta(seconds=120)
    assert view(state, last_fresh).status == "ok" and view(state, last_fresh + timedelta(microseconds=1)).status == "stale"
    assert countdowns_only_until(state, last_fresh) == last_fresh + timedelta(microseconds=1)
