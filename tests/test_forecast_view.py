"""forecast_view: how run-out clocks are worded. Rounded to a step that grows with the distance,
always down (a shown run-out is never later than the projection by a step or more), and kept while
new projections stay within a step of the one it was rounded from, so a poll that changes nothing a
person would read differently changes no title, tooltip or menu text (issue 12/14's idle CPU: each
changed title or tooltip is a D-Bus signal and the host reading it back)."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tray_monitor.forecast import Forecast
from tray_monitor.forecast_view import (
    RUNOUT_STEPS,
    Outlook,
    ShownRunOut,
    binding_line,
    keep_runouts,
    outlook_text,
    rounded_runout,
    runout_step,
    tooltip_clause,
)
from tray_monitor.model import Reading, UsageWindow
from tray_monitor.state import MonitorState, PollScheduled, PollSucceeded, step
from tray_monitor.view import view

UTC = timezone.utc
NOON = datetime(2026, 9, 9, 12, 0, tzinfo=UTC)  # a Wednesday


@pytest.fixture(autouse=True)
def utc(local_time_zone):
    """The clocks below are written in UTC: the local zone is UTC (unless a test pins another)."""
    local_time_zone("UTC")
RESETS = NOON + timedelta(days=6)  # far enough that every generated run-out is before it


def outlook(runs_out_at: datetime, percent: float = 64.0, window_id: str = "five_hour") -> Outlook:
    return Outlook(window_id, "Current session", percent, Forecast(1.3, 130.0, runs_out_at, RESETS), None)


def texts(o: Outlook, now: datetime, shown: tuple[ShownRunOut, ...]) -> tuple[str, str | None, str | None]:
    """Everything a person reads of a run-out: the menu row, the menu's top line, the tooltip."""
    return outlook_text(o, now, shown), binding_line((o,), now, shown), tooltip_clause((o,), None, now, shown)


# The bands: (lowest distance, step) for each.
BANDS = [(timedelta(0), RUNOUT_STEPS[0][1])] + [(below, nxt[1]) for (below, _), nxt in
                                                 zip(RUNOUT_STEPS, [*RUNOUT_STEPS[1:], (None, runout_step(timedelta(days=9)))],
                                                     strict=True)]


def test_the_step_grows_with_the_distance():
    assert [runout_step(timedelta(minutes=m)) for m in (-5, 0, 9, 10, 59, 60, 359, 360, 1439, 1440, 8000)] == [
        timedelta(minutes=m) for m in (1, 1, 1, 5, 5, 15, 15, 30, 30, 60, 60)]


def test_rounding_is_down_on_the_local_clock(local_time_zone):
    local_time_zone("Asia/Kathmandu")  # UTC+5:45: the local quarter hours are not UTC's
    at = datetime(2026, 9, 9, 9, 52, 30, tzinfo=UTC)  # 15:37:30 in Kathmandu
    assert rounded_runout(at, timedelta(minutes=15)).strftime("%H:%M") == "15:30"
    assert rounded_runout(at, timedelta(hours=1)).strftime("%H:%M") == "15:00"
    assert rounded_runout(at, timedelta(minutes=1)).strftime("%H:%M:%S") == "15:37:00"
    assert rounded_runout(at, timedelta(minutes=15)) <= at


def test_a_run_out_three_hours_away_reads_to_the_quarter_hour_and_one_minutes_away_to_the_minute():
    assert outlook_text(outlook(NOON + timedelta(hours=3, minutes=14)), NOON) == "pace 1.3x · runs out 15:00"
    assert outlook_text(outlook(NOON + timedelta(minutes=7, seconds=50)), NOON) == "pace 1.3x · runs out 12:07"
    assert tooltip_clause((outlook(NOON + timedelta(minutes=44)),), None, NOON) == \
        "session limit 64% · out at 12:40, resets at Tue 12:00"


@st.composite
def drift_in_one_band(draw):
    """A first projection at a distance inside one band, then readings whose projections stay less
    than that band's step from the first and whose distances stay inside the band."""
    index = draw(st.integers(0, len(BANDS) - 1))
    low, step = BANDS[index]
    high = BANDS[index + 1][0] if index + 1 < len(BANDS) else timedelta(days=5)
    first_distance = timedelta(seconds=draw(st.integers(int(low.total_seconds()), int(high.total_seconds()) - 1)))
    first = NOON + first_distance
    later = []
    for _ in range(draw(st.integers(1, 12))):
        drift = timedelta(seconds=draw(st.integers(-int(step.total_seconds()) + 1, int(step.total_seconds()) - 1)))
        distance = timedelta(seconds=draw(st.integers(int(low.total_seconds()), int(high.total_seconds()) - 1)))
        later.append((first + drift, first + drift - distance))  # (projection, now)
    return first, later


@settings(max_examples=300, deadline=None)
@given(drift_in_one_band())
def test_a_projection_drifting_by_less_than_the_step_changes_no_text(case):
    first, later = case
    shown = keep_runouts((outlook(first),), NOON)
    before = texts(outlook(first), NOON, shown)
    for projected, now in later:
        shown = keep_runouts((outlook(projected),), now, shown)
        # formatted at one moment: "today" or a weekday depends on the clock, not on the forecast
        assert texts(outlook(projected), NOON, shown) == before


@settings(max_examples=300, deadline=None)
@given(st.integers(0, len(BANDS) - 1), st.floats(0, 0.999), st.floats(1.0, 3.0), st.booleans())
def test_a_projection_moving_by_a_step_or_more_changes_the_text(index, where, by, earlier):
    low, step = BANDS[index]
    high = BANDS[index + 1][0] if index + 1 < len(BANDS) else timedelta(days=4)
    first = NOON + low + (high - low) * where
    moved = first + (-1 if earlier else 1) * step * by
    if runout_step(moved - NOON) != step:
        moved = first + (1 if earlier else -1) * step * by  # stay in the band: move the other way
    if runout_step(moved - NOON) != step:
        return  # a band narrower than the move both ways (the first one, 0-10 min, moved by 3 min twice)
    shown = keep_runouts((outlook(first),), NOON)
    before = texts(outlook(first), NOON, shown)
    shown = keep_runouts((outlook(moved),), NOON, shown)
    after = texts(outlook(moved), NOON, shown)
    assert all(a != b for a, b in zip(before, after, strict=True)), (before, after)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.tuples(st.integers(-600, 3 * 86400), st.integers(0, 600)), min_size=1, max_size=30))
def test_a_shown_run_out_is_never_a_step_later_than_the_projection(moves):
    """Whatever the readings do, what is shown is earlier than the projection or later by less than
    its step (and never more than two steps earlier)."""
    now, shown = NOON, ()
    for ahead, wait in moves:
        now += timedelta(seconds=wait)
        projected = now + timedelta(seconds=ahead)
        shown = keep_runouts((outlook(projected),), now, shown)
        (kept,) = shown
        assert kept.shown - projected < kept.step
        assert projected - kept.shown < 2 * kept.step
        assert kept.step <= runout_step(projected - now) or kept.step <= runout_step((projected - now) / 1.25)


def test_a_run_out_coming_near_is_worded_more_finely():
    """Near its band's edge a shown clock takes the finer step (it does not wait for the drift)."""
    at = NOON + timedelta(hours=1, minutes=10)
    shown = keep_runouts((outlook(at),), NOON)
    assert outlook_text(outlook(at), NOON, shown).endswith("13:00")  # 70 min: quarter hours
    now = NOON + timedelta(minutes=15)  # 55 min to go: five minutes
    shown = keep_runouts((outlook(at),), now, shown)
    assert outlook_text(outlook(at), now, shown).endswith("13:10")


def test_a_window_that_no_longer_runs_out_is_forgotten():
    shown = keep_runouts((outlook(NOON + timedelta(hours=2)),), NOON)
    on_track = replace(outlook(NOON), forecast=Forecast(0.8, 80.0, None, RESETS))
    assert keep_runouts((on_track,), NOON, shown) == ()
    assert keep_runouts((outlook(NOON + timedelta(hours=2), percent=100.0),), NOON, shown) == ()


# ----------------------------------------------------------------------------- through state and view


def test_steady_polls_at_an_unchanged_percent_keep_the_title_tooltip_and_menu():
    """The tray's case: a reading a minute, the same 30 % an hour into the session, so the
    projection moves on with the clock (it moved the tooltip's "out at 14:20" to "14:23" at the next
    poll before). The tooltip and the forecast's menu words change once the projection has moved
    by a step, not with each poll."""
    from tray_monitor.forecast_view import outlooks

    session_resets = NOON + timedelta(hours=4)

    def poll(state: MonitorState, at: datetime) -> MonitorState:
        window = UsageWindow("five_hour", "Current session", 30.0, session_resets, kind="session")
        state, _ = step(state, PollSucceeded(Reading((window,), None, at)), at)
        state, _ = step(state, PollScheduled(at + timedelta(minutes=1)), at)
        return state

    state = MonitorState(interval=60)
    seen, projected = [], []
    for minute in range(0, 30):
        at = NOON + timedelta(minutes=minute)
        state = poll(state, at)
        v = view(state, at)
        assert "out at" in v.tooltip, v.tooltip
        seen.append((v.tooltip, v.forecast_line, v.windows[0].forecast_text.split(" · ")[1]))
        (o,) = outlooks(state.reading, state.history, at)
        projected.append(o.forecast.runs_out_at)
    changes = sum(1 for a, b in zip(seen, seen[1:], strict=False) if a != b)
    drift = projected[-1] - projected[0]
    assert drift > timedelta(minutes=60)  # the projection moved at every poll: 3.3 min a minute
    assert len(set(projected)) == len(projected)
    # ... the words once per quarter hour of it (the run-out is 2-4 h away). (The menu row's pace,
    # "pace 1.4x", is not counted: it falls with the time at an unchanged percent, a change a
    # person reads, and it is in no title or tooltip.)
    assert changes <= drift / timedelta(minutes=15) + 1, seen
    assert changes < len(seen) / 3, seen
