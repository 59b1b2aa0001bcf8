"""A poller that cannot wedge (issue 9): whatever raises while a poll is in flight ends that poll as a
failure, logged once with its traceback (redacted), clears "in flight", and polling goes on.

Once, a reset time in year 9999 raised OverflowError between `poll_started` and the outcome:
"in flight" stayed set, `watch` said "Waiting for the first reading" forever and no request was
ever sent again. Here an exception is injected at every step of a poll, one step per test.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

import pytest

from tray_monitor import schedule as sch
from tray_monitor import state as state_module
from tray_monitor.clock import FakeClock
from tray_monitor.logs import RedactingFormatter
from tray_monitor.model import Credentials, Reading, UsageWindow
from tray_monitor.monitor import Monitor
from tray_monitor.poller import Poller
from tray_monitor.state import MonitorState, PollFailed

T0 = datetime(2026, 9, 1, 12, 0, tzinfo=timezone.utc)
TOKEN = "sk-ant-oat01-wedgeSECRETtoken"
CREDS = Credentials(access_token=TOKEN, source="test")


class Boom(RuntimeError):
    pass


class Source:
    min_interval = sch.MIN_INTERVAL

    def __init__(self, clock, resets_at=None):
        self.clock, self.reads, self.resets_at = clock, 0, resets_at

    def read(self):
        self.reads += 1
        now = self.clock.now()
        window = UsageWindow("five_hour", "Current session", 30.0, self.resets_at or now + timedelta(hours=2))
        return Reading((window,), None, now), CREDS

    def store_fingerprint(self):
        return "v1"


class NullNotifier:
    def send(self, notification):
        pass


def world(monkeypatch, step, resets_at=None):
    """A real Monitor (state.step, view, alerts) around the poller; `step` names where to raise."""
    clock = FakeClock(T0)
    source = Source(clock, resets_at)
    monitor = Monitor(MonitorState(interval=60), clock, NullNotifier(), None)
    calls = {"n": 0}

    def once(real):
        def wrapper(*args, **kwargs):
            calls["n"] += 1
            if calls["n"] == 1:
                raise Boom(f"injected at {step}: Authorization: Bearer {TOKEN}")
            return real(*args, **kwargs)
        return wrapper

    targets = {
        "read": (source, "read"),
        "poll_succeeded": (sch, "poll_succeeded"),
        "next_poll_wall": (sch, "next_poll_wall"),
        "step": (state_module, "step"),
        "view": None,
        "clock.now": None,
    }
    poller_kwargs = {}
    if step == "view":
        import tray_monitor.view as view_module
        monkeypatch.setattr(view_module, "view", once(view_module.view))
    elif step == "clock.now":
        pass  # wrapped below, after the poller took its first readings
    elif step == "plan_of":
        poller_kwargs["plan_of"] = once(lambda creds: "Max")
    elif step == "activity":
        poller_kwargs["activity"] = once(lambda: None)
    else:
        holder, name = targets[step]
        monkeypatch.setattr(holder, name, once(getattr(holder, name)))
    if step == "step":
        monitor._step = state_module.step  # Monitor bound the original at construction
    poller = Poller(source, monitor, clock, 60, **poller_kwargs)
    if step == "clock.now":
        real_now = clock.now
        seen = {"n": 0}

        def now():
            seen["n"] += 1
            if seen["n"] == 4:  # inside the poll, after poll_started
                raise Boom(f"clock failed; Bearer {TOKEN}")
            return real_now()
        monkeypatch.setattr(clock, "now", now)
    return poller, clock, source, monitor


STEPS = ["read", "poll_succeeded", "next_poll_wall", "step", "view", "plan_of", "activity", "clock.now"]


@pytest.mark.parametrize("step", STEPS)
def test_an_exception_at_any_step_of_a_poll_ends_it_as_a_failure_and_polling_goes_on(monkeypatch, caplog, step):
    poller, clock, source, monitor = world(monkeypatch, step)
    with caplog.at_level(logging.INFO, logger="tray_monitor"):
        wait = poller.step_once()  # no exception escapes the loop body
    assert poller.schedule.in_flight is False
    assert 0 <= wait <= 60
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) <= 1  # logged once (a guarded step logs it itself and goes on)
    for record in errors:
        assert record.exc_info is not None
        text = RedactingFormatter("%(message)s").format(record)
        assert TOKEN not in text and "Boom" in text
    # Polling goes on: within two minutes another request is made, and it succeeds.
    reads_before = source.reads
    for _ in range(200):
        clock.advance(max(poller.step_once(), 0.5))
        if source.reads > reads_before and monitor.state.problem is None and monitor.state.reading is not None:
            break
    assert source.reads > reads_before, "polling stopped after the exception"
    assert monitor.state.reading is not None and monitor.state.problem is None
    assert clock.monotonic() - 1000.0 <= 130


def test_a_crashed_poll_reaches_the_front_ends_as_a_failure(monkeypatch):
    poller, clock, source, monitor = world(monkeypatch, "poll_succeeded")
    seen = []
    monitor.subscribe(seen.append)
    poller.step_once()
    assert isinstance(monitor.state.problem, Exception) and "unexpectedly" in str(monitor.state.problem)
    assert seen and seen[-1].status == "error" and seen[-1].next_poll_at is not None


@pytest.mark.parametrize("resets_at", [datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone.utc),
                                       datetime(1, 1, 1, 0, 0, tzinfo=timezone.utc)])
def test_a_reset_at_either_end_of_the_calendar_never_wedges_the_poller(monkeypatch, resets_at):
    poller, clock, source, monitor = world(monkeypatch, "activity", resets_at)
    for _ in range(20):
        clock.advance(max(poller.step_once(), 0.5))
    assert poller.schedule.in_flight is False
    assert source.reads >= 2
    assert monitor.state.reading is not None


def test_poll_failed_of_an_unexpected_error_backs_off_like_a_transient_one():
    s = sch.poll_started(sch.new_schedule(60, 1000.0, T0))
    s = sch.poll_failed(s, Boom("x"), 1000.0, None)
    assert s.in_flight is False and sch.due_in(s, 1000.0, T0) == 30.0


@pytest.mark.parametrize("retry_after", [1e11, 1e300, float("inf"), 2.5e11])
def test_an_absurd_retry_after_is_capped_before_any_arithmetic(retry_after):
    from tray_monitor.errors import RateLimited

    s = sch.poll_started(sch.new_schedule(60, 1000.0, T0))
    s = sch.poll_failed(s, RateLimited("429", retry_after=retry_after), 1000.0, None)
    assert sch.due_in(s, 1000.0, T0) == sch.RETRY_AFTER_CAP
    assert sch.next_poll_wall(s, 1000.0, T0) == T0 + timedelta(seconds=sch.RETRY_AFTER_CAP)


@pytest.mark.parametrize("now_wall", [datetime(9999, 12, 31, 23, 0, tzinfo=timezone.utc),
                                      datetime(1, 1, 1, 0, 30, tzinfo=timezone.utc)])
def test_waits_near_either_end_of_the_calendar_never_overflow(now_wall):
    s = sch.new_schedule(1e300, 1000.0, now_wall)
    assert s.interval == sch.MAX_WAIT
    reading = Reading((UsageWindow("five_hour", "Current session", 5.0, now_wall + timedelta(minutes=59)),),
                      None, now_wall)
    s = sch.poll_succeeded(sch.poll_started(s), reading, 1000.0, now_wall)
    assert sch.next_poll_wall(s, 1000.0, now_wall) is None or sch.next_poll_wall(s, 1000.0, now_wall) >= now_wall
    assert isinstance(PollFailed, type)
