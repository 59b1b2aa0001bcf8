"""forecast.py: pace, projected percent, run-out time and the binding limit, on hand-written
sequences and on the usage simulator (benchmarks/usage_sim.py)."""
from __future__ import annotations

import statistics
from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks import backtest
from benchmarks.usage_sim import simulate_user
from tray_monitor.forecast import (
    PROFILE_MIN_DAYS,
    REASON_JUST_STARTED,
    REASON_NO_USE,
    REASON_NOT_STARTED,
    REASON_RESET_DUE,
    REASON_UNKNOWN_LENGTH,
    SESSION_LENGTH,
    Sample,
    WindowNow,
    activity_profile,
    binding,
    flat_profile,
    forecast_window,
    naive_forecast,
)

START = datetime(2026, 3, 3, 9, 0, tzinfo=timezone.utc)  # a Tuesday
RESET = START + SESSION_LENGTH


def steady(rate_per_hour: float, until: timedelta, start: datetime = START, resets_at: datetime = RESET,
           every: timedelta = timedelta(minutes=2)) -> list[Sample]:
    samples, t = [], timedelta(0)
    while t <= until:
        samples.append(Sample(start + t, rate_per_hour * t.total_seconds() / 3600, resets_at))
        t += every
    return samples


def session(percent: float, at: timedelta, history: list[Sample], **kw):
    return forecast_window("five_hour", "session", percent, RESET, START + at, history, **kw)


def test_steady_use_lands_where_the_line_says():
    history = steady(30, timedelta(hours=2))  # 30 points an hour: 60 % after 2 h of 5
    result = session(60, timedelta(hours=2), history)
    assert result.reason is None and result.forecast is not None
    assert abs(result.forecast.pace - 1.5) < 1e-9  # 60 % used in 40 % of the window
    assert abs(result.forecast.projected_percent - 150) < 0.5
    expected = START + timedelta(hours=2) + timedelta(hours=40 / 30)
    assert result.forecast.runs_out_at is not None
    assert abs(result.forecast.runs_out_at - expected) < timedelta(minutes=1)


def test_a_pace_below_one_does_not_run_out():
    result = session(20, timedelta(hours=2), steady(10, timedelta(hours=2)))
    assert result.forecast is not None
    assert result.forecast.runs_out_at is None
    assert abs(result.forecast.projected_percent - 50) < 0.5
    assert abs(result.forecast.pace - 0.5) < 1e-9


def test_a_burst_then_idle_projects_less_than_the_straight_line():
    # 40 points in the first half hour, then nothing for 2.5 h: the user stopped.
    history = [Sample(START + timedelta(minutes=m), min(40.0, 40 * m / 30), RESET) for m in range(0, 181, 2)]
    result = session(40, timedelta(hours=3), history)
    assert result.forecast is not None and result.forecast.runs_out_at is None
    straight = 40 + 40 / 3 * 2  # used / elapsed, continued for the 2 h left
    assert 40 <= result.forecast.projected_percent < straight


def test_a_burst_just_now_lifts_only_the_near_term():
    history = steady(10, timedelta(hours=2)) + [Sample(START + timedelta(hours=2, minutes=10), 50, RESET)]
    result = session(50, timedelta(hours=2, minutes=10), history)
    calm = session(21.7, timedelta(hours=2, minutes=10), steady(10, timedelta(hours=2, minutes=10)))
    assert result.forecast is not None and calm.forecast is not None
    assert result.forecast.projected_percent > calm.forecast.projected_percent
    # the burst's rate (~90 points an hour) is not carried to the reset: that would be ~300 %
    assert result.forecast.projected_percent < 50 + 90 * (5 - 2 - 1 / 6)


def test_a_window_that_just_reset_ignores_the_previous_cycle():
    old_reset = START
    old = steady(20, timedelta(hours=5), start=START - SESSION_LENGTH, resets_at=old_reset)  # ended at 100 %
    assert session(3, timedelta(minutes=10), old).reason == REASON_JUST_STARTED
    now_history = steady(12, timedelta(minutes=40))
    with_old = session(8, timedelta(minutes=40), old + now_history)
    without = session(8, timedelta(minutes=40), now_history)
    assert with_old == without
    assert with_old.forecast is not None and with_old.forecast.runs_out_at is None


def test_over_100_percent_says_when_it_ran_out():
    history = steady(40, timedelta(hours=2, minutes=40))  # 100 % at 2 h 30 min
    result = session(104, timedelta(hours=2, minutes=40), history + [Sample(START + timedelta(hours=2, minutes=40), 104, RESET)])
    assert result.forecast is not None
    assert result.forecast.runs_out_at == START + timedelta(hours=2, minutes=30)
    assert result.forecast.pace > 1
    assert result.forecast.projected_percent >= 104


def test_over_100_percent_without_history_ran_out_by_now():
    result = session(100, timedelta(hours=4), [])
    assert result.forecast is not None and result.forecast.runs_out_at == START + timedelta(hours=4)


def test_at_the_limit_in_the_first_minutes_it_says_when_it_ran_out():
    """Too young a cycle to extrapolate, but 100 % is a fact: the window ran out (and is the
    binding limit) rather than having "not enough data"."""
    history = [Sample(START + timedelta(minutes=m), p, RESET) for m, p in ((2, 40), (6, 100), (9, 103))]
    result = session(103, timedelta(minutes=10), history)
    assert result.forecast is not None and result.reason is None
    assert result.forecast.runs_out_at == START + timedelta(minutes=6)
    assert result.forecast.projected_percent == 103
    assert result.forecast.pace == (103 / 100) / (10 / 300)
    assert session(99, timedelta(minutes=10), history[:1]).reason == REASON_JUST_STARTED
    weekly = forecast_window("seven_day", "weekly", 100, START + timedelta(days=7), START + timedelta(hours=1), [])
    assert weekly.forecast is not None and weekly.forecast.runs_out_at == START + timedelta(hours=1)


def test_a_window_that_never_started_has_no_forecast():
    result = forecast_window("five_hour", "session", 0, None, START, [])
    assert result.forecast is None and result.reason == REASON_NOT_STARTED


def test_no_use_in_the_cycle_is_not_enough_data():
    result = session(0, timedelta(hours=2), steady(0, timedelta(hours=2)))
    assert result.forecast is None and result.reason == REASON_NO_USE


def test_unknown_length_and_passed_reset_have_reasons():
    assert forecast_window("tangelo", "other", 50, RESET, START, []).reason == REASON_UNKNOWN_LENGTH
    assert session(50, timedelta(hours=5), []).reason == REASON_RESET_DUE


def test_without_history_the_cycle_average_is_used():
    result = session(60, timedelta(hours=2), [])
    assert result.forecast is not None
    assert result.forecast.runs_out_at == naive_forecast(60, RESET, START + timedelta(hours=2), SESSION_LENGTH)


def test_weekly_windows_are_seven_days_long():
    resets = START + timedelta(days=7)
    result = forecast_window("seven_day", "weekly", 50, resets, START + timedelta(days=3, hours=12), [])
    assert result.forecast is not None and abs(result.forecast.pace - 1.0) < 1e-9


def test_binding_is_the_first_to_run_out_else_the_highest_heading():
    now = START + timedelta(hours=2)
    soon = session(60, timedelta(hours=2), steady(30, timedelta(hours=2))).forecast
    weekly = forecast_window("seven_day", "weekly", 90, now + timedelta(days=1), now, []).forecast
    assert soon is not None and weekly is not None and soon.runs_out_at and weekly.runs_out_at
    assert soon.runs_out_at < weekly.runs_out_at
    assert binding([WindowNow("seven_day", 90, weekly), WindowNow("five_hour", 60, soon)]) == "five_hour"
    calm = session(20, timedelta(hours=2), steady(10, timedelta(hours=2))).forecast  # heading to 50 %
    assert binding([WindowNow("five_hour", 20, calm), WindowNow("seven_day", 40, None)]) == "five_hour"
    assert binding([WindowNow("five_hour", 20, calm), WindowNow("seven_day", 70, None)]) == "seven_day"
    assert binding([]) is None


def office_hours(days: int) -> list[Sample]:
    """Weekdays 09:00-17:00, 12 points an hour, on a weekly window."""
    samples, total = [], 0.0
    begin = datetime(2026, 3, 2, tzinfo=timezone.utc)  # Monday
    resets = begin + timedelta(days=days + 7)
    for d in range(days):
        day = begin + timedelta(days=d)
        if day.weekday() >= 5:
            continue
        for minute in range(9 * 60, 17 * 60, 2):
            total += 12 / 30
            samples.append(Sample(day + timedelta(minutes=minute), total, resets))
    return samples


def test_the_profile_learns_office_hours():
    samples = office_hours(14)
    profile = activity_profile(samples, samples[-1].at, timezone.utc)
    tuesday = datetime(2026, 3, 17, tzinfo=timezone.utc)
    assert profile.weight_at(tuesday.replace(hour=10)) > 3 * profile.weight_at(tuesday.replace(hour=3))
    assert profile.weight_at(tuesday.replace(hour=10)) > profile.weight_at(datetime(2026, 3, 21, 10, tzinfo=timezone.utc))
    assert profile.scale is not None and profile.scale > 0


def test_the_profile_is_flat_with_too_little_history():
    samples = office_hours(PROFILE_MIN_DAYS - 2)
    assert activity_profile(samples, samples[-1].at, timezone.utc) == flat_profile()
    assert activity_profile([], START, timezone.utc) == flat_profile()


def test_the_evening_after_office_hours_projects_little_more_use():
    samples = office_hours(14)
    profile = activity_profile(samples, datetime(2026, 3, 17, tzinfo=timezone.utc), timezone.utc)
    # Tuesday 17:00 of a session window that started at 13:00, 40 % used: the evening is idle.
    resets = datetime(2026, 3, 17, 18, tzinfo=timezone.utc)
    now = datetime(2026, 3, 17, 17, tzinfo=timezone.utc)
    hist = steady(10, timedelta(hours=4), start=resets - SESSION_LENGTH, resets_at=resets)
    learned = forecast_window("five_hour", "session", 40, resets, now, hist, profile=profile)
    plain = forecast_window("five_hour", "session", 40, resets, now, hist)
    assert learned.forecast is not None and plain.forecast is not None
    assert learned.forecast.projected_percent < plain.forecast.projected_percent


@settings(max_examples=200, deadline=None)
@given(
    steps=st.lists(st.floats(min_value=0, max_value=15, allow_nan=False), min_size=0, max_size=120),
    gap_minutes=st.integers(min_value=1, max_value=30),
    elapsed_minutes=st.integers(min_value=0, max_value=300),
)
def test_any_rising_sequence_gives_a_sane_forecast(steps, gap_minutes, elapsed_minutes):
    now = START + timedelta(minutes=elapsed_minutes)
    history, percent = [], 0.0
    for i, step in enumerate(steps):
        at = START + timedelta(minutes=i * gap_minutes)
        if at > now:
            break
        percent += step
        history.append(Sample(at, percent, RESET))
    result = forecast_window("five_hour", "session", percent, RESET, now, history)
    assert (result.forecast is None) != (result.reason is None)
    if result.forecast is not None:
        assert result.forecast.pace >= 0
        assert result.forecast.projected_percent >= percent - 1e-9
        if result.forecast.runs_out_at is not None:
            assert result.forecast.runs_out_at < RESET
            assert percent >= 100 or result.forecast.runs_out_at >= now


@settings(max_examples=200, deadline=None)
@given(
    rate=st.floats(min_value=0, max_value=60, allow_nan=False),
    read_minutes=st.integers(min_value=0, max_value=299),
    later_seconds=st.integers(min_value=0, max_value=5 * 3600),
)
def test_a_reading_forecasts_the_same_until_the_next_one(rate, read_minutes, later_seconds):
    """Projected from the moment of the reading (read_at): any later moment before the reset gives
    the same pace and run-out time, so the tray's tooltip and title stay put between readings (they
    drifted with the clock: the host read them again); at or after the reset, "reset due"."""
    read_at = START + timedelta(minutes=read_minutes)
    history = steady(rate, timedelta(minutes=read_minutes))
    percent = history[-1].percent
    at_reading = forecast_window("five_hour", "session", percent, RESET, read_at, history)
    later = read_at + timedelta(seconds=later_seconds)
    then = forecast_window("five_hour", "session", percent, RESET, later, history, read_at=read_at)
    if later >= RESET:
        assert (then.forecast, then.reason) == (None, REASON_RESET_DUE)
    else:
        assert then == at_reading


def test_a_reading_from_the_future_is_projected_from_now():
    """The wall clock set back below the reading's time: nothing is projected from the future."""
    now = START + timedelta(hours=2)
    history = steady(30, timedelta(hours=2))
    assert (forecast_window("five_hour", "session", 60, RESET, now, history, read_at=now + timedelta(minutes=9))
            == forecast_window("five_hour", "session", 60, RESET, now, history))


def test_on_simulated_users_it_beats_the_straight_line():
    """A small backtest (the full one is benchmarks/backtest.py): on 12 simulated users the
    median run-out error is below the naive one for both windows, pooled over 25/50/75 %."""
    points = []
    for seed in range(500, 512):
        points.extend(backtest.points_of(simulate_user(seed, weeks=4)))
    for window_id in ("five_hour", "seven_day"):
        chosen = [p for p in points if p.window_id == window_id]
        assert len(chosen) > 20
        mine = statistics.median(p.forecast_error.total_seconds() for p in chosen)
        naive = statistics.median(p.naive_error.total_seconds() for p in chosen)
        assert mine < naive, (window_id, mine, naive)


def test_the_simulator_is_realistic_enough_to_matter():
    run = simulate_user(7, weeks=3)
    sessions = [c for c in run.cycles if c.window_id == "five_hour"]
    assert len(sessions) > 10
    assert 0 < sum(c.ran_out_at is not None for c in sessions) < len(sessions)  # some run out, not all
    assert all(0 <= p.percents["five_hour"] <= 105 for p in run.polls)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(0.3, 3.0), min_size=48, max_size=48),
       st.integers(-12 * 4, 14 * 4),  # the offset in quarter hours (Nepal's +5:45 among them)
       st.floats(0, 400 * 86400), st.one_of(st.floats(0, 3600), st.floats(0, 20 * 86400)))
def test_a_fixed_offset_profiles_integral_is_the_hour_by_hour_sum(weights, quarters, start_s, span_s):
    """Profile.integral in a zone of one offset (the walk's) sums whole hours from the week's running
    totals; it must equal the weights summed hour by hour on the local clock (Profile.segments)."""
    from tray_monitor.forecast import Profile

    profile = Profile(tuple(weights), timezone(timedelta(minutes=15 * quarters)))
    start = datetime(2026, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=start_s)
    end = start + timedelta(seconds=span_s)
    by_hour = sum(w * (b - a).total_seconds() / 3600.0 for a, b, w in profile.segments(start, end))
    assert abs(profile.integral(start, end) - by_hour) <= 1e-9 * max(1.0, by_hour)
    assert profile.integral(end, start) == 0.0
