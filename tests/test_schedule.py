"""The pure poll schedule: each rule, and the bound on requests that each fault can cause."""
from __future__ import annotations

import math
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from tray_monitor import schedule as sch
from tray_monitor.errors import (
    AuthExpired,
    BadResponse,
    ConfigError,
    CredentialsNotFound,
    CredentialsUnreadable,
    RateLimited,
    ScopeMissing,
    Transient,
)
from tray_monitor.model import Reading, UsageWindow

T0 = datetime(2026, 9, 1, 12, 0, tzinfo=timezone.utc)
M0 = 1000.0


def reading(*resets_in: float | None, at: datetime = T0) -> Reading:
    windows = tuple(
        UsageWindow(id=f"w{i}", label=f"W{i}", percent=10.0,
                    resets_at=None if r is None else at + timedelta(seconds=r))
        for i, r in enumerate(resets_in)
    )
    return Reading(windows=windows, extra_usage=None, fetched_at=at)


def wall(mono: float) -> datetime:
    """Wall time that moves with monotonic time (no jump)."""
    return T0 + timedelta(seconds=mono - M0)


def fresh(interval: float = 120) -> sch.Schedule:
    return sch.new_schedule(interval, M0, T0)


def succeed(s: sch.Schedule, mono: float, r: Reading | None = None) -> sch.Schedule:
    return sch.poll_succeeded(sch.poll_started(s), r or reading(), mono, wall(mono))


def fail(s: sch.Schedule, error, mono: float, fingerprint: object = "fp1") -> sch.Schedule:
    return sch.poll_failed(sch.poll_started(s), error, mono, fingerprint)


def test_first_poll_is_due_at_once():
    assert sch.due_in(fresh(), M0, T0) == 0


@pytest.mark.parametrize("asked, used", [(120, 120), (300, 300), (10, 60), (59.9, 60), ("x", 120),
                                         (float("nan"), 120), (float("inf"), 120), (None, 120)])
def test_interval_is_clamped_to_at_least_60_seconds(asked, used):
    assert sch.new_schedule(asked, M0, T0).interval == used


def test_a_shorter_minimum_is_possible_for_the_demo_only_when_asked():
    assert sch.new_schedule(5, M0, T0, min_interval=1).interval == 5


def test_success_schedules_the_next_poll_one_interval_later():
    s = succeed(fresh(), M0)
    assert sch.due_in(s, M0, T0) == 120
    assert sch.due_in(s, M0 + 119, wall(M0 + 119)) == 1
    assert sch.due_in(s, M0 + 121, wall(M0 + 121)) == 0


def test_nothing_is_due_while_a_request_is_in_flight():
    s = sch.poll_started(fresh())
    assert math.isinf(sch.due_in(s, M0 + 500, wall(M0 + 500)))


def test_429_without_retry_after_waits_5_minutes_doubling_up_to_30():
    s = fresh()
    waits = []
    mono = M0
    for _ in range(6):
        s = fail(s, RateLimited("slow down"), mono)
        wait = sch.due_in(s, mono, wall(mono))
        waits.append(wait)
        mono += wait
    assert waits == [300, 600, 1200, 1800, 1800, 1800]


@pytest.mark.parametrize("retry_after", [None, 0, -5])
def test_429_with_a_retry_after_of_zero_or_less_is_treated_as_absent(retry_after):
    s = fail(fresh(), RateLimited("slow down", retry_after=retry_after), M0)
    assert sch.due_in(s, M0, T0) == 300


def test_429_honours_a_positive_retry_after():
    s = fail(fresh(), RateLimited("slow down", retry_after=900), M0)
    assert sch.due_in(s, M0, T0) == 900


def test_429_retry_after_shorter_than_the_interval_waits_the_interval():
    s = fail(fresh(), RateLimited("slow down", retry_after=1), M0)
    assert sch.due_in(s, M0, T0) == 120


def test_429_retry_after_of_a_day_is_capped_at_an_hour():
    s = fail(fresh(), RateLimited("slow down", retry_after=86400), M0)
    assert sch.due_in(s, M0, T0) == 3600


def test_a_success_after_429_clears_the_cooldown_and_the_doubling():
    s = fail(fresh(), RateLimited("slow down"), M0)
    s = succeed(s, M0 + 300)
    assert s.cooldown_until_mono is None and s.failure_kind is None
    s = fail(s, RateLimited("slow down"), M0 + 420)
    assert sch.due_in(s, M0 + 420, wall(M0 + 420)) == 300


@pytest.mark.parametrize("error", [Transient("502"), BadResponse("html"), ValueError("a bug")])
def test_transient_failures_back_off_30_seconds_doubling_up_to_the_interval(error):
    s = fresh()
    waits, mono = [], M0
    for _ in range(5):
        s = fail(s, error, mono)
        wait = sch.due_in(s, mono, wall(mono))
        waits.append(wait)
        mono += wait
    assert waits == [30, 60, 120, 120, 120]


def test_transient_backoff_never_exceeds_a_short_demo_interval():
    s = sch.new_schedule(5, M0, T0, min_interval=1)
    s = fail(s, Transient("502"), M0)
    assert sch.due_in(s, M0, T0) == 5


@pytest.mark.parametrize("error", [AuthExpired("expired"), CredentialsNotFound("none"), ScopeMissing("scope"),
                                   CredentialsUnreadable("corrupt"), ConfigError("bad url")])
def test_login_problems_send_nothing_until_the_store_changes(error):
    s = fail(fresh(), error, M0, fingerprint="before")
    assert s.waiting_for_store
    assert math.isinf(sch.due_in(s, M0 + 10 * 3600, wall(M0 + 10 * 3600)))
    assert sch.next_poll_wall(s, M0, T0) is None
    unchanged = sch.store_checked(s, "before", M0 + 60)
    assert math.isinf(sch.due_in(unchanged, M0 + 60, wall(M0 + 60)))
    changed = sch.store_checked(s, "after", M0 + 65)
    assert not changed.waiting_for_store
    assert sch.due_in(changed, M0 + 65, wall(M0 + 65)) == 0


def test_store_check_while_not_waiting_changes_nothing():
    s = succeed(fresh(), M0)
    assert sch.store_checked(s, "anything", M0 + 1) == s


def test_a_window_reset_passing_polls_5_seconds_after_resets_at():
    s = succeed(fresh(), M0, reading(None, 90, 4000))
    assert sch.due_in(s, M0, T0) == 95


def test_a_reset_poll_is_never_sooner_than_60_seconds_after_the_last_request():
    s = succeed(fresh(), M0, reading(2))
    assert sch.due_in(s, M0, T0) == 60


def test_a_resets_at_already_past_does_not_cause_a_poll():
    s = succeed(fresh(), M0, reading(-30))
    assert s.reset_poll_at is None
    assert sch.due_in(s, M0, T0) == 120


def test_reset_poll_does_not_break_into_a_429_cooldown():
    s = succeed(fresh(), M0, reading(200))
    s = fail(s, RateLimited("slow down"), M0 + 120)
    assert sch.due_in(s, M0 + 120, wall(M0 + 120)) == 300


def test_next_poll_wall_estimates_the_retry_time():
    s = fail(fresh(), Transient("502"), M0)
    assert sch.next_poll_wall(s, M0, T0) == T0 + timedelta(seconds=30)


# Clock jumps -------------------------------------------------------------------------------------

def test_small_wall_drift_is_not_a_jump():
    s = succeed(fresh(), M0)
    s2, jump = sch.observe_clocks(s, M0 + 10, wall(M0 + 10) + timedelta(seconds=30))
    assert jump == 0
    assert sch.due_in(s2, M0 + 10, wall(M0 + 10)) == 110


def test_first_observation_only_records_the_offset():
    s = replace(fresh(), wall_offset=None)
    s2, jump = sch.observe_clocks(s, M0, T0)
    assert jump == 0 and s2.wall_offset is not None


def test_waking_from_sleep_polls_5_seconds_later():
    s = succeed(fresh(), M0)
    # The machine slept 2 hours: monotonic moved 10 s, the wall clock 2 h 10 s.
    now_wall = wall(M0 + 10) + timedelta(hours=2)
    s2, jump = sch.observe_clocks(s, M0 + 10, now_wall)
    assert jump == pytest.approx(7200)
    assert sch.due_in(s2, M0 + 10, now_wall) == pytest.approx(5)


def test_clock_set_back_polls_soon_too():
    s = succeed(fresh(), M0)
    now_wall = wall(M0 + 10) - timedelta(hours=1)
    s2, jump = sch.observe_clocks(s, M0 + 10, now_wall)
    assert jump == pytest.approx(-3600)
    assert sch.due_in(s2, M0 + 10, now_wall) == pytest.approx(5)


def test_sleep_counts_against_a_429_cooldown():
    s = fail(fresh(), RateLimited("slow down"), M0)  # 300 s cooldown
    # Slept 4 minutes, 10 s of monotonic time later: 50 s of cooldown remain.
    now_wall = wall(M0 + 10) + timedelta(seconds=240)
    s2, _ = sch.observe_clocks(s, M0 + 10, now_wall)
    assert sch.due_in(s2, M0 + 10, now_wall) == pytest.approx(50)


def test_sleeping_longer_than_the_cooldown_ends_it():
    s = fail(fresh(), RateLimited("slow down"), M0)
    now_wall = wall(M0 + 10) + timedelta(hours=8)
    s2, _ = sch.observe_clocks(s, M0 + 10, now_wall)
    assert s2.cooldown_until_mono is None
    assert sch.due_in(s2, M0 + 10, now_wall) == pytest.approx(5)


def test_clock_set_back_does_not_shorten_a_429_cooldown():
    s = fail(fresh(), RateLimited("slow down"), M0)
    now_wall = wall(M0 + 10) - timedelta(hours=1)
    s2, _ = sch.observe_clocks(s, M0 + 10, now_wall)
    assert sch.due_in(s2, M0 + 10, now_wall) == pytest.approx(290)


def test_waking_while_waiting_for_the_store_sends_nothing():
    s = fail(fresh(), AuthExpired("expired"), M0)
    now_wall = wall(M0 + 10) + timedelta(hours=2)
    s2, _ = sch.observe_clocks(s, M0 + 10, now_wall)
    assert math.isinf(sch.due_in(s2, M0 + 10, now_wall))


# Manual refresh ----------------------------------------------------------------------------------

def test_refresh_polls_at_once():
    s = succeed(fresh(), M0)
    s, outcome = sch.request_refresh(s, M0 + 40)
    assert outcome == sch.REFRESH_ACCEPTED
    assert sch.due_in(s, M0 + 40, wall(M0 + 40)) == 0


def test_two_refreshes_within_30_seconds_are_coalesced_into_one():
    s = succeed(fresh(), M0)
    s, first = sch.request_refresh(s, M0 + 40)
    s = succeed(s, M0 + 41)
    s, second = sch.request_refresh(s, M0 + 60)
    assert (first, second) == (sch.REFRESH_ACCEPTED, sch.REFRESH_COALESCED)
    assert sch.due_in(s, M0 + 60, wall(M0 + 60)) == pytest.approx(101)
    s, third = sch.request_refresh(s, M0 + 71)
    assert third == sch.REFRESH_ACCEPTED


def test_refresh_right_after_a_scheduled_poll_is_honoured():
    s = succeed(fresh(), M0)
    s = succeed(s, M0 + 120)  # the scheduled poll
    s, outcome = sch.request_refresh(s, M0 + 121)
    assert outcome == sch.REFRESH_ACCEPTED
    assert sch.due_in(s, M0 + 121, wall(M0 + 121)) == 0


def test_refresh_during_a_429_cooldown_is_not_sent():
    s = fail(fresh(), RateLimited("slow down"), M0)
    s2, outcome = sch.request_refresh(s, M0 + 100)
    assert outcome == sch.REFRESH_COOLING_DOWN
    assert sch.due_in(s2, M0 + 100, wall(M0 + 100)) == 200


def test_refresh_after_a_429_cooldown_is_accepted():
    s = fail(fresh(), RateLimited("slow down"), M0)
    _, outcome = sch.request_refresh(s, M0 + 300)
    assert outcome == sch.REFRESH_ACCEPTED


def test_refresh_while_a_request_is_in_flight_is_answered_by_that_request():
    _, outcome = sch.request_refresh(sch.poll_started(fresh()), M0)
    assert outcome == sch.REFRESH_IN_FLIGHT


def test_refresh_while_waiting_for_login_sends_nothing():
    s = fail(fresh(), AuthExpired("expired"), M0)
    s2, outcome = sch.request_refresh(s, M0 + 100)
    assert outcome == sch.REFRESH_WAITING_FOR_LOGIN
    assert math.isinf(sch.due_in(s2, M0 + 100, wall(M0 + 100)))


def test_refresh_during_transient_backoff_tries_at_once():
    s = fail(fresh(), Transient("502"), M0)
    s, outcome = sch.request_refresh(s, M0 + 5)
    assert outcome == sch.REFRESH_ACCEPTED
    assert sch.due_in(s, M0 + 5, wall(M0 + 5)) == 0


@pytest.mark.parametrize("retry_after", [None, 90.0, 3600.0, 86400.0])
def test_a_crashed_429_keeps_the_cooldown_the_server_asked_for(retry_after):
    """poll_crashed (the bookkeeping of a poll raised) after a 429: never sooner than Retry-After
    (capped as poll_failed caps it), the first 429 backoff, or one interval (a soak with injected
    faults saw a request 300 s into a 3600 s cooldown)."""
    s = sch.poll_started(sch.new_schedule(120, 1000.0, datetime(2026, 3, 3, tzinfo=timezone.utc)))
    crashed = sch.poll_crashed(s, RateLimited("429", retry_after=retry_after), 1000.0, "fp")
    wanted = max(sch.RATE_LIMIT_FIRST_BACKOFF, 120, min(retry_after or 0, sch.RETRY_AFTER_CAP))
    assert crashed.cooldown_until_mono == crashed.next_poll_mono == 1000.0 + wanted
    assert not crashed.in_flight
