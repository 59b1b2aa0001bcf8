"""The poller, driven step by step with a FakeClock and a fake source (no threads, no sleeps),
plus one real-thread test of stop() and request_refresh().

Request bounds over one simulated hour (interval 120 s), asserted below:
  healthy 200                 30 requests (+1 per window reset passing)
  429 without Retry-After      4 (cooldowns 5, 10, 20, 30 min)
  429 with Retry-After: 1     30 (never faster than the interval)
  5xx every time              32 (30 s, 60 s, then every 120 s)
  401 after the re-read        1 (then nothing until the store changes)
  expired by expiresAt         0 network requests
  refresh spammed every 1 s  120 (one per 30 s coalescing window)
"""
from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from tests.envs import temp_env
from tray_monitor import schedule as sch
from tray_monitor.clock import FakeClock, SystemClock
from tray_monitor.errors import (
    AuthExpired,
    CredentialsNotFound,
    MonitorError,
    RateLimited,
    ScopeMissing,
    Transient,
)
from tray_monitor.model import Credentials, Reading, UsageWindow
from tray_monitor.poller import THREAD_NAME, TICK_AFTER_CHANGE, TICK_AT_MOST_EVERY, WAKE_EVERY, Poller
from tray_monitor.state import MonitorState, PollFailed, PollScheduled, PollSucceeded, Tick

T0 = datetime(2026, 9, 1, 12, 0, tzinfo=timezone.utc)
HOUR = 3600.0
CREDS = Credentials(access_token="sk-ant-oat01-test", source="test", subscription_type="max",
                    rate_limit_tier="default_claude_max_5x")


def reading_at(now: datetime, resets_in: float | None = 2 * HOUR) -> Reading:
    window = UsageWindow(id="five_hour", label="Session (5h)", percent=30.0,
                         resets_at=None if resets_in is None else now + timedelta(seconds=resets_in))
    return Reading(windows=(window,), extra_usage=None, fetched_at=now)


class FakeSource:
    """Answers each read with `outcome(clock)` (a Reading, or an exception to raise).

    `network` counts reads that would have reached the endpoint: a login already expired by its
    expiresAt (`offline_errors`) fails before any request, as UsageSource does."""

    min_interval = sch.MIN_INTERVAL

    def __init__(self, clock, outcome, offline_errors=()):
        self.clock = clock
        self.outcome = outcome
        self.offline_errors = offline_errors
        self.reads = []
        self.network = 0
        self.fingerprint = "store-v1"

    def read(self):
        self.reads.append(self.clock.monotonic())
        result = self.outcome(self.clock)
        if isinstance(result, BaseException):
            if not isinstance(result, self.offline_errors):
                self.network += 1
            raise result
        self.network += 1
        return result, CREDS

    def store_fingerprint(self):
        return self.fingerprint


class RecordingMonitor:
    def __init__(self):
        self.events = []

    def handle(self, *events):
        self.events.extend(events)

    def next_text_change(self, now):
        return None  # no view: ticks come TICK_AT_MOST_EVERY apart

    def of(self, kind):
        return [e for e in self.events if isinstance(e, kind)]


def ok(clock):
    return reading_at(clock.now())


def always(error):
    return lambda clock: error


def make(outcome, interval=120, **kwargs):
    clock = FakeClock(T0)
    source = FakeSource(clock, outcome, **kwargs)
    monitor = RecordingMonitor()
    return Poller(source, monitor, clock, interval), clock, source, monitor


def run_for(poller, clock, seconds, every=None):
    """Run the loop body for `seconds` of fake time; `every(t)` is called before each step."""
    end = clock.monotonic() + seconds
    steps = 0
    while clock.monotonic() < end:
        if every:
            every(clock.monotonic())
        wait = poller.step_once()
        steps += 1
        assert steps < 100_000, "the loop does not advance"
        clock.advance(max(min(wait, end - clock.monotonic()), 0.001))


def offsets(source):
    return [round(t - 1000.0) for t in source.reads]


# Bounds over a simulated hour -------------------------------------------------------------------

def test_healthy_polling_asks_every_interval():
    poller, clock, source, monitor = make(ok)
    run_for(poller, clock, HOUR)
    assert len(source.reads) == 30
    assert offsets(source)[:3] == [0, 120, 240]
    assert monitor.of(PollSucceeded)[0].plan == "Max 5x"


def test_a_window_reset_passing_adds_one_poll_5_seconds_later():
    poller, clock, source, _ = make(lambda c: reading_at(c.now(), resets_in=(T0 + timedelta(seconds=200) - c.now()).total_seconds()))
    run_for(poller, clock, HOUR)
    assert offsets(source)[:4] == [0, 120, 205, 325]
    assert len(source.reads) == 31


def test_429_without_retry_after_bounds_an_hour_to_4_requests():
    poller, clock, source, monitor = make(always(RateLimited("slow down")))
    run_for(poller, clock, HOUR)
    assert offsets(source) == [0, 300, 900, 2100]
    scheduled = monitor.of(PollScheduled)[0].next_poll_at
    assert scheduled == T0 + timedelta(seconds=300)


def test_429_with_a_tiny_retry_after_never_polls_faster_than_the_interval():
    poller, clock, source, _ = make(always(RateLimited("slow down", retry_after=1)))
    run_for(poller, clock, HOUR)
    assert len(source.reads) == 30


def test_5xx_every_time_bounds_an_hour_to_32_requests():
    poller, clock, source, monitor = make(always(Transient("502 Bad Gateway")))
    run_for(poller, clock, HOUR)
    assert offsets(source)[:5] == [0, 30, 90, 210, 330]
    assert len(source.reads) == 32
    assert all(isinstance(e.error, Transient) for e in monitor.of(PollFailed))


def test_401_after_the_reread_is_never_retried():
    poller, clock, source, monitor = make(always(AuthExpired("Claude login expired; run `claude`.")))
    run_for(poller, clock, HOUR)
    assert source.network == 1
    assert monitor.of(PollScheduled)[-1].next_poll_at is None


def test_expired_by_expires_at_sends_no_request_at_all():
    poller, clock, source, _ = make(always(AuthExpired("expired")), offline_errors=(AuthExpired,))
    run_for(poller, clock, HOUR)
    assert source.network == 0 and len(source.reads) == 1


@pytest.mark.parametrize("error", [CredentialsNotFound("no login"), ScopeMissing("no scope")])
def test_signed_out_and_no_scope_wait_for_the_store_too(error):
    poller, clock, source, _ = make(always(error))
    run_for(poller, clock, HOUR)
    assert len(source.reads) == 1


def test_refresh_spam_is_coalesced_to_one_request_per_30_seconds():
    poller, clock, source, _ = make(ok)
    end = clock.monotonic() + HOUR
    while clock.monotonic() < end:  # a refresh every second, each waking the loop (request_refresh sets it)
        poller.request_refresh()
        poller.step_once()
        clock.advance(1.0)
    assert len(source.reads) == 120
    gaps = [b - a for a, b in zip(source.reads, source.reads[1:], strict=False)]
    assert min(gaps) >= 30


# Single behaviours ------------------------------------------------------------------------------

def test_a_store_change_after_expiry_fetches_within_5_seconds():
    state = {"expired": True}
    poller, clock, source, monitor = make(
        lambda c: AuthExpired("expired") if state["expired"] else reading_at(c.now()))
    run_for(poller, clock, 100)
    assert len(source.reads) == 1
    state["expired"] = False
    source.fingerprint = "store-v2"  # the user ran `claude`
    changed_at = clock.monotonic()
    run_for(poller, clock, 10)
    assert len(source.reads) == 2
    assert source.reads[1] - changed_at <= sch.STORE_CHECK_EVERY
    assert isinstance(monitor.events[-2], PollSucceeded)


def test_a_login_written_while_the_failing_request_was_in_flight_is_noticed():
    def expire_and_rotate(clock):
        source.fingerprint = "store-v2"  # Claude Code refreshed during our request
        return AuthExpired("expired")

    poller, clock, source, _ = make(expire_and_rotate)
    run_for(poller, clock, 10)
    assert len(source.reads) == 2


def test_waking_from_sleep_polls_soon():
    poller, clock, source, _ = make(ok)
    run_for(poller, clock, 10)
    clock.jump_wall(2 * HOUR)  # the machine slept; monotonic time did not move
    run_for(poller, clock, WAKE_EVERY + sch.WAKE_DELAY)
    assert offsets(source) == [0, 15]


def test_refresh_right_after_a_scheduled_poll_is_honoured():
    poller, clock, source, _ = make(ok)
    run_for(poller, clock, 121)  # scheduled polls at 0 and 120
    assert poller.request_refresh() == "Refreshing now."
    poller.step_once()
    assert offsets(source) == [0, 120, 121]


def test_two_refreshes_within_30_seconds_send_one_request():
    poller, clock, source, _ = make(ok)
    poller.step_once()
    clock.advance(10)
    assert poller.request_refresh() == "Refreshing now."
    poller.step_once()
    clock.advance(10)
    assert "less than 30 s ago" in poller.request_refresh()
    poller.step_once()
    assert len(source.reads) == 2


def test_refresh_during_a_429_cooldown_is_not_sent():
    poller, clock, source, _ = make(always(RateLimited("slow down")))
    poller.step_once()
    clock.advance(60)
    reply = poller.request_refresh()
    assert reply.startswith("The usage endpoint asked us to slow down; not asking again before ")
    poller.step_once()
    assert len(source.reads) == 1


def test_refresh_while_waiting_for_login_checks_the_store_and_sends_nothing():
    poller, clock, source, _ = make(always(AuthExpired("expired")))
    poller.step_once()
    assert "run `claude`" in poller.request_refresh()
    poller.step_once()
    assert len(source.reads) == 1


def tick_times(poller, clock, monitor, seconds):
    """Mono offsets (from the start) of the ticks the poller sends within `seconds`."""
    times = []
    original = monitor.handle

    def handle(*events):
        if any(isinstance(e, Tick) for e in events):
            times.append(round(clock.monotonic() - 1000.0, 2))
        original(*events)

    monitor.handle = handle
    run_for(poller, clock, seconds)
    return times


def test_without_a_known_change_a_tick_comes_every_60_seconds_between_polls():
    poller, clock, _, monitor = make(ok)
    assert tick_times(poller, clock, monitor, 119) == [TICK_AT_MOST_EVERY]


def test_ticks_come_right_after_the_moments_the_monitor_says_a_text_changes():
    """Countdowns turn on their own second (a reset at hh:mm:05 turns them at :05 each minute):
    the view is computed right then, not up to 30 s late, and once a minute instead of twice."""
    poller, clock, _, monitor = make(ok)
    monitor.next_text_change = lambda now: now + timedelta(seconds=(5 - now.second) % 60 or 60)
    times = tick_times(poller, clock, monitor, 119)
    assert times == [5 + TICK_AFTER_CHANGE, 65 + TICK_AFTER_CHANGE]


def test_the_loop_wakes_at_least_once_a_minute_and_the_tick_is_that_wake_up():
    """A sleep or a clock change is noticed within WAKE_EVERY (a minute), and idle the loop wakes
    only for a tick or a poll: no separate safety wake-up between two ticks (it came every 30 s)."""
    poller, clock, source, monitor = make(ok)
    monitor.next_text_change = lambda now: None  # ticks TICK_AT_MOST_EVERY apart
    waits = []
    poller.step_once()
    clock.advance(poller.step_once())
    for _ in range(20):
        before = len(monitor.of(Tick)) + len(source.reads)
        waits.append(poller.step_once())
        assert len(monitor.of(Tick)) + len(source.reads) > before, clock.monotonic()  # it did something
        clock.advance(waits[-1])
    assert max(waits) <= WAKE_EVERY == TICK_AT_MOST_EVERY == 60


def test_a_failing_change_estimate_is_logged_and_ticks_fall_back_to_every_60_seconds(caplog):
    poller, clock, _, monitor = make(ok)

    def broken(now):
        raise ValueError("bug")

    monitor.next_text_change = broken
    assert tick_times(poller, clock, monitor, 119 + 120) == [TICK_AT_MOST_EVERY, 180.0]
    assert caplog.text.count("could not tell when the view changes next") == 1


def test_poll_scheduled_tells_the_monitor_when_it_will_retry():
    poller, clock, _, monitor = make(always(Transient("502")))
    poller.step_once()
    assert monitor.of(PollScheduled)[0].next_poll_at == T0 + timedelta(seconds=30)


def test_an_unexpected_exception_from_the_source_is_backed_off_like_a_failure_but_not_called_offline(caplog):
    poller, clock, source, monitor = make(always(KeyError("bug")))
    with caplog.at_level(logging.ERROR, logger="tray_monitor.poller"):
        poller.step_once()
    (failed,) = monitor.of(PollFailed)
    assert type(failed.error) is MonitorError and "unexpectedly" in failed.error.message
    assert not isinstance(failed.error, Transient)  # Transient reads "Offline" in the menu
    assert "reading usage failed unexpectedly" in caplog.text
    assert poller.schedule.failure_kind == sch.TRANSIENT


def test_a_failing_fingerprint_counts_as_unchanged_and_is_logged_once(caplog):
    poller, clock, source, _ = make(always(AuthExpired("expired")))

    def broken():
        raise OSError("stat failed")

    source.store_fingerprint = broken
    with caplog.at_level(logging.ERROR, logger="tray_monitor.poller"):
        run_for(poller, clock, 60)
    assert len(source.reads) == 1
    assert caplog.text.count("could not check the credential store") == 1


def test_a_fingerprint_failing_only_while_waiting_sends_nothing():
    poller, clock, source, _ = make(always(AuthExpired("expired")))
    poller.step_once()

    def broken():
        raise OSError("stat failed")

    source.store_fingerprint = broken
    run_for(poller, clock, 60)
    assert len(source.reads) == 1


def test_a_store_readable_again_after_a_failed_check_gets_one_attempt():
    poller, clock, source, _ = make(always(AuthExpired("expired")))

    def broken():
        raise OSError("stat failed")

    source.store_fingerprint = broken
    poller.step_once()
    del source.store_fingerprint  # the class's working method again
    run_for(poller, clock, 60)
    assert len(source.reads) == 2


def test_a_failing_plan_label_leaves_the_plan_empty(caplog):
    clock = FakeClock(T0)
    monitor = RecordingMonitor()

    def broken_plan(creds):
        raise ValueError("odd tier")

    poller = Poller(FakeSource(clock, ok), monitor, clock, 120, plan_of=broken_plan)
    with caplog.at_level(logging.ERROR, logger="tray_monitor.poller"):
        poller.step_once()
    assert monitor.of(PollSucceeded)[0].plan is None and "could not name the plan" in caplog.text


def test_the_interval_is_at_least_60_seconds_for_a_real_source():
    poller, *_ = make(ok, interval=5)
    assert poller.interval == 60


def test_a_simulated_source_may_declare_a_shorter_minimum():
    clock = FakeClock(T0)
    source = FakeSource(clock, ok)
    source.min_interval = 1
    assert Poller(source, RecordingMonitor(), clock, 5).interval == 5


def test_without_an_interval_it_polls_at_the_one_the_monitor_state_holds():
    # The tray: --interval (or the settings) is kept in MonitorState only; the schedule reads it.
    clock = FakeClock(T0)
    monitor = RecordingMonitor()
    monitor.state = MonitorState(interval=300)
    poller = Poller(FakeSource(clock, ok), monitor, clock)
    assert poller.interval == 300
    poller.step_once()
    clock.advance(299)
    poller.step_once()
    assert len(monitor.of(PollSucceeded)) == 1
    clock.advance(1)
    poller.step_once()
    assert len(monitor.of(PollSucceeded)) == 2


def test_a_result_arriving_after_stop_is_dropped():
    poller, clock, source, monitor = make(lambda c: (poller.stop(), reading_at(c.now()))[1])
    poller.step_once()
    assert len(source.reads) == 1 and monitor.events == []


# One real thread ---------------------------------------------------------------------------------

class ThreadSource:
    min_interval = sch.MIN_INTERVAL

    def __init__(self):
        self.reads = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.read_done = threading.Condition()

    def read(self):
        with self.read_done:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        now = datetime.now(timezone.utc)
        with self.read_done:
            self.in_flight -= 1
            self.reads += 1
            self.read_done.notify_all()
        return reading_at(now), CREDS

    def store_fingerprint(self):
        return "v1"

    def wait_for_reads(self, n, timeout=5.0):
        with self.read_done:
            return self.read_done.wait_for(lambda: self.reads >= n, timeout)


def test_real_thread_reads_at_once_refreshes_on_request_and_stops_immediately():
    source = ThreadSource()
    poller = Poller(source, RecordingMonitor(), SystemClock(), 120)
    poller.start()
    try:
        assert source.wait_for_reads(1)
        thread = next(t for t in threading.enumerate() if t.name == THREAD_NAME)
        assert thread.daemon
        assert poller.request_refresh() == "Refreshing now."
        assert source.wait_for_reads(2)
    finally:
        poller.stop(timeout=1.0)
    assert not thread.is_alive()
    assert source.max_in_flight == 1


def test_real_thread_keeps_going_after_an_exception_in_the_loop(caplog):
    class FlakyMonitor(RecordingMonitor):
        def handle(self, *events):
            if not self.events:
                self.events.append("boom")
                raise RuntimeError("listener bug")
            super().handle(*events)

    source = ThreadSource()
    poller = Poller(source, FlakyMonitor(), SystemClock(), 120, error_pause=0.01)
    with caplog.at_level(logging.ERROR, logger="tray_monitor.poller"):
        poller.start()
        try:
            assert source.wait_for_reads(1)
            poller.request_refresh()
            assert source.wait_for_reads(2)
        finally:
            poller.stop()
    assert "a poll failed unexpectedly" in caplog.text  # the poll ends as a failure; the loop goes on


# Through the real source, client and monitor, against the loopback fake API ---------------------

@pytest.fixture
def live(tmp_path, fake_api):
    from tests.fakeapi import write_credentials
    from tray_monitor.client import UsageClient
    from tray_monitor.credentials import CredentialStore
    from tray_monitor.monitor import Monitor
    from tray_monitor.source import UsageSource
    from tray_monitor.state import MonitorState

    class Live:
        clock = FakeClock()
        api = fake_api
        env = temp_env(tmp_path, {"CLAUDE_TRAY_API_URL": fake_api.url, "PATH": str(tmp_path / "no-bin")},
                       clock=clock)
        monitor = Monitor(MonitorState(), clock, RecordingNotifier(), RecordingStore())
        views = []

        def login(self, name):
            write_credentials(tmp_path / ".claude", name, now=self.clock.now())

        def poller(self):
            self.monitor.subscribe(self.views.append)
            source = UsageSource(CredentialStore(self.env), UsageClient(self.env), self.clock)
            return Poller(source, self.monitor, self.clock, 120)

    return Live()


class RecordingNotifier:
    def __init__(self):
        self.sent = []

    def send(self, n):
        self.sent.append(n)


class RecordingStore:
    def save(self, memory):
        pass


def test_live_401_is_sent_once_per_token_and_a_new_login_is_used_within_5_seconds(live):
    from tests.fakeapi import Response, error_fixture, usage_fixture

    live.login("max-linux")
    live.api.default = Response(401, error_fixture("401-invalid-token.json"))
    poller = live.poller()
    run_for(poller, live.clock, HOUR)
    assert len(live.api.requests) == 1
    assert live.views[-1].status == "expired"

    live.api.default = Response(200, usage_fixture("small-2026-03"))
    live.login("pro-minimal")  # the user ran `claude`
    run_for(poller, live.clock, sch.STORE_CHECK_EVERY + 1)
    assert len(live.api.requests) == 2
    assert live.views[-1].status == "ok" and live.views[-1].plan == "Pro"


def test_live_429_retry_after_header_is_honoured(live):
    from tests.fakeapi import Response, error_fixture, usage_fixture

    live.login("max-linux")
    live.api.queue(Response(429, error_fixture("429-rate-limited.json"), headers={"Retry-After": "600"}))
    live.api.default = Response(200, usage_fixture("small-2026-03"))
    poller = live.poller()
    run_for(poller, live.clock, 599)
    assert len(live.api.requests) == 1
    assert live.views[-1].status == "rate_limited"
    run_for(poller, live.clock, 2)
    assert len(live.api.requests) == 2 and live.views[-1].status == "ok"


# Any mix of faults ------------------------------------------------------------------------------

OUTCOMES = st.sampled_from(["ok", "429", "429-retry-after", "5xx", "401"])


@hsettings(max_examples=60, deadline=None)
@given(outcomes=st.lists(OUTCOMES, min_size=1, max_size=40),
       refresh_at=st.lists(st.integers(min_value=0, max_value=3599), max_size=30))
def test_no_mix_of_faults_and_refreshes_breaks_the_request_rules(outcomes, refresh_at):
    """Whatever the endpoint answers and whenever the user refreshes:
    - nothing is sent inside a 429 cooldown (5 min, or Retry-After but at least the interval);
    - nothing is sent after a 401 while the store is unchanged;
    - a request not asked for by a refresh comes at least 30 s after the previous one;
    - so an hour holds at most 120 refresh-driven + 120 other requests."""
    script = iter(outcomes)
    answers = []

    def outcome(clock):
        kind = next(script, "ok")
        answers.append(kind)
        return {"ok": reading_at(clock.now()), "429": RateLimited("slow down"),
                "429-retry-after": RateLimited("slow down", retry_after=400),
                "5xx": Transient("502"), "401": AuthExpired("expired")}[kind]

    poller, clock, source, _ = make(outcome)
    pending = sorted(set(refresh_at))
    refreshed_at = []

    def maybe_refresh(t):
        while pending and pending[0] <= t - 1000:
            pending.pop(0)
            if poller.request_refresh() == "Refreshing now.":
                refreshed_at.append(t)

    run_for(poller, clock, HOUR, every=maybe_refresh)
    reads = source.reads
    for i in range(1, len(reads)):
        previous, gap = answers[i - 1], reads[i] - reads[i - 1]
        assert previous != "401", "a request after a 401 without a store change"
        if previous == "429":
            assert gap >= 300
        if previous == "429-retry-after":
            assert gap >= 400
        if not any(reads[i - 1] < r <= reads[i] for r in refreshed_at):
            assert gap >= 30
    assert len(reads) <= 240


@pytest.mark.parametrize("outcome", [ok, always(Transient("502"))], ids=["success", "failure"])
def test_after_poll_runs_once_after_each_poll_and_never_after_a_tick(outcome):
    """app.py looks at the settings files again there (README: a hand-edited settings.toml is
    noticed at the next poll); the minute ticks in between do not pay for it."""
    clock = FakeClock(T0)
    source = FakeSource(clock, outcome)
    monitor = RecordingMonitor()
    seen = []  # per call: the reads so far and the last event the monitor had
    poller = Poller(source, monitor, clock, 120,
                    after_poll=lambda: seen.append((len(source.reads), type(monitor.events[-1]))))
    run_for(poller, clock, 600)
    assert len(monitor.of(Tick)) >= 4  # ticks came between the polls
    assert seen == [(n, PollScheduled) for n in range(1, len(source.reads) + 1)]


def test_a_failing_after_poll_is_logged_once_and_polling_goes_on(caplog):
    clock = FakeClock(T0)
    source = FakeSource(clock, ok)

    def broken():
        raise OSError("bug")

    poller = Poller(source, RecordingMonitor(), clock, 120, after_poll=broken)
    run_for(poller, clock, 600)
    assert len(source.reads) == 5
    assert caplog.text.count("the after-poll check failed") == 1
