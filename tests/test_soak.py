"""Soak: the real poller loop body, monitor, state.step, view, alerts and icon, driven by a FakeClock
through 10 000 polls of a seeded random mix of readings and every typed fault (issue 6).

No threads and no sleeps: `Poller.step_once()` is the whole loop body and returns how long the real
thread would wait; the fake clock jumps by exactly that. Around it the "world" does what users and
machines do, at random but reproducibly (seeded): the user clicks Refresh (sometimes while a
request is in flight), logs in again with `claude` (the store's fingerprint changes), the laptop
sleeps (the wall clock jumps ahead). The source records every request and checks the request rules
at the moment a request is made, so a breach fails at the poll that breaks it.

Invariants checked throughout:
- no exception escapes `step_once` (a bug inside the loop would end polling in the real thread);
- at most one request in flight (a Refresh during a request is answered "in flight", never sent);
- nothing inside a 429 cooldown: 5 min without Retry-After, else max(Retry-After, interval);
- nothing after a login failure (401/expired, signed out, no scope, unreadable store, bad config)
  until the store's fingerprint changes;
- spacing: a request not caused by an accepted Refresh or a wake from sleep comes at least 30 s
  after the previous one, and at least 60 s after a success;
- every View the tray would get is renderable (`render_icon` on its spec) and has a known status;
- memory: the alert memory holds at most one entry per window id ever seen, and a tracemalloc
  snapshot after 10 000 polls differs from the one after 1 000 by less than a small bound.
"""
from __future__ import annotations

import gc
import logging
import random
import tracemalloc
from datetime import datetime, timedelta, timezone

import pytest

from tray_monitor.alerts import AlertSettings
from tray_monitor.clock import FakeClock
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
from tray_monitor.icon import render_icon
from tray_monitor.model import Credentials, ExtraUsage, Reading, UsageWindow
from tray_monitor.monitor import Monitor
from tray_monitor.poller import Poller
from tray_monitor.schedule import MIN_INTERVAL
from tray_monitor.state import MonitorState, PollFailed, PollSucceeded

SEED = 20261125
POLLS = 10_000
INTERVAL = 60.0  # the shortest allowed: the most polls per simulated hour
T0 = datetime(2026, 9, 1, 12, 0, tzinfo=timezone.utc)
#: Growth allowed between the snapshots after 1 000 and 10 000 polls. The state itself is a few
#: KiB; a leak of even 100 bytes per poll would show as ~900 KB.
MEMORY_GROWTH_BOUND = 64 * 1024

WINDOW_IDS = ("five_hour", "seven_day", "seven_day_opus", "seven_day_fable", "nimbus_quill")
VIEW_STATUSES = {"loading", "ok", "stale", "signed_out", "expired", "no_scope", "rate_limited", "error"}
ICON_STATES = {"loading", "ok", "stale", "signed_out", "no_scope", "error"}

#: Outcomes that only a change of the login store can fix (schedule: wait for the store).
LOGIN_FAILURES = (AuthExpired, CredentialsNotFound, ScopeMissing, CredentialsUnreadable, ConfigError)

CREDS = Credentials(access_token="sk-ant-oat01-soak", source="soak", subscription_type="max",
                    rate_limit_tier="default_claude_max_5x")


class RuleBroken(AssertionError):
    pass


#: A login failure whose fingerprint check failed: any readable store differs from it.
FAILED_CHECK = object()


class SoakSource:
    """The poller's source: answers each read at random and checks the request rules on the spot.

    Keeps O(1) bookkeeping (counters and the previous request only), so its own memory does not
    grow with the number of polls."""

    min_interval = MIN_INTERVAL

    def __init__(self, clock: FakeClock, rng: random.Random):
        self.clock = clock
        self.rng = rng
        self.poller: Poller | None = None
        self.fingerprint = 0
        self.requests = 0
        self.broken: str | None = None
        self.last_check_failed = False
        self.outcomes: dict[str, int] = {}
        self.in_flight = False
        self.cycles: dict[str, tuple] = {}  # window id -> (resets_at, percent) of its current cycle
        self.cycles_started = 0
        self.refresh_replies_in_flight: dict[str, int] = {}
        # What the previous request allows for the next one.
        self.prev_wall: datetime | None = None
        self.prev_kind: str | None = None
        self.min_gap = 0.0  # seconds of real (wall) time the next request must wait at least
        self.blocked_fingerprint: object = None  # login failure: no request while the store is this
        self.cooldown_gap = 0.0  # 429: no request, refresh or not, before this many seconds
        self.excused = False  # an accepted refresh or a wake since the previous request

    # What the poller calls -----------------------------------------------------------------------

    def store_fingerprint(self) -> object:
        self.last_check_failed = self.rng.random() < 0.0005
        if self.last_check_failed:
            raise OSError("stat failed")  # a flaky store check: never a reason to send anything
        return self.fingerprint

    def read(self):
        try:
            self._check_rules()
        except RuleBroken as broken:
            # The poller turns any exception from the source into a Transient (and carries on), so
            # a breach is also kept here for the driver to fail on after the step.
            self.broken = str(broken)
            raise
        self.in_flight = True
        try:
            if self.rng.random() < 0.05:
                # The user clicks Refresh while this request is in flight: answered, never sent.
                reply = self.poller.request_refresh()
                self.refresh_replies_in_flight[reply] = self.refresh_replies_in_flight.get(reply, 0) + 1
            # The request takes a moment.
            self.clock.advance(self.rng.choice((0.05, 0.3, 1.0, 4.0)))
            kind, result = self._answer()
        finally:
            self.in_flight = False
        self.requests += 1
        self.outcomes[kind] = self.outcomes.get(kind, 0) + 1
        self._remember(kind, result)
        if isinstance(result, BaseException):
            raise result
        return result, CREDS

    # The rules -----------------------------------------------------------------------------------

    def _check_rules(self) -> None:
        if self.in_flight:
            raise RuleBroken("a second request while one was in flight")
        if self.prev_wall is None:
            return
        # + 1 ms: the wall clock is a datetime (whole microseconds), the schedule counts in floats.
        gap = (self.clock.now() - self.prev_wall).total_seconds() + 0.001
        where = f"request {self.requests + 1}, {gap:.1f} s after a {self.prev_kind!r} answer"
        if self.blocked_fingerprint is not None and self.fingerprint == self.blocked_fingerprint:
            raise RuleBroken(f"{where}: sent again although the login store did not change")
        if gap < self.cooldown_gap:
            raise RuleBroken(f"{where}: inside the 429 cooldown of {self.cooldown_gap:.0f} s")
        if not self.excused and gap < self.min_gap:
            raise RuleBroken(f"{where}: closer than {self.min_gap:.0f} s")

    def _remember(self, kind: str, result) -> None:
        self.prev_wall, self.prev_kind, self.excused = self.clock.now(), kind, False
        # A login failure or a 429 has its own rule (below); a new login is asked about at once.
        self.blocked_fingerprint, self.cooldown_gap, self.min_gap = None, 0.0, 0.0
        if isinstance(result, LOGIN_FAILURES):
            # The poller takes the fingerprint just before the request. If that check failed, the
            # store counts as changed once it is readable again: one more attempt, by design
            # (poller._UNKNOWN). Otherwise nothing until the store really changes.
            self.blocked_fingerprint = FAILED_CHECK if self.last_check_failed else self.fingerprint
        elif isinstance(result, RateLimited):
            # Retry-After is honoured but never shorter than the interval, nor longer than an hour.
            self.cooldown_gap = 300.0 if result.retry_after is None else min(max(result.retry_after, INTERVAL), 3600)
        elif isinstance(result, Reading):
            self.min_gap = 60.0  # the interval, or a window reset passing (never within 60 s)
        else:
            self.min_gap = 30.0  # the first back-off after a 5xx, timeout, bad body or bug

    # The random answers --------------------------------------------------------------------------

    def _answer(self):
        r = self.rng.random()
        if r < 0.55:
            return "ok", self._reading()
        if r < 0.62:
            retry_after = self.rng.choice((None, None, 1.0, 45.0, 400.0, 7200.0))
            return "429", RateLimited("The usage endpoint asked us to slow down.", retry_after=retry_after)
        if r < 0.72:
            return "5xx", Transient("The usage endpoint answered 502; retrying shortly.")
        if r < 0.77:
            return "bad body", BadResponse("The usage endpoint sent a body that is not JSON.")
        if r < 0.80:
            return "bug", RuntimeError("an unexpected bug in the source")
        if r < 0.84:
            return "401", AuthExpired("The Claude login has expired: run `claude` to sign in again.")
        if r < 0.87:
            return "signed out", CredentialsNotFound("No Claude Code login found: run `claude` to sign in.")
        if r < 0.90:
            return "no scope", ScopeMissing("This token cannot read usage: sign in with `claude`.")
        if r < 0.95:
            return "unreadable", CredentialsUnreadable("The login file is half-written; trying again.")
        return "config", ConfigError("CLAUDE_TRAY_API_URL is not a loopback http URL.")

    def _reading(self) -> Reading:
        """Windows live through cycles as on the real server: the percent mostly climbs, resets_at
        stays put (with microsecond jitter) until it passes, then a new cycle starts at 0 %."""
        rng, now = self.rng, self.clock.now()
        windows = []
        for window_id in rng.sample(WINDOW_IDS, rng.randint(1, len(WINDOW_IDS))):
            resets_at, percent = self.cycles.get(window_id, (now, 0.0))
            server_lags = resets_at is not None and resets_at <= now and rng.random() < 0.3
            if (resets_at is None and rng.random() < 0.2) or (resets_at is not None and resets_at <= now
                                                              and not server_lags):
                # A new cycle; some windows have not started yet (resets_at null until first use).
                resets_at = None if rng.random() < 0.15 else now + timedelta(seconds=rng.uniform(600, 5 * 3600))
                percent = 0.0
                self.cycles_started += 1
            percent = max(0.0, percent + rng.choice((0.0, 0.5, 3.0, 9.0, 20.0, -1.0)))
            self.cycles[window_id] = (resets_at, percent)
            if resets_at is not None and rng.random() < 0.5:
                resets_at += timedelta(microseconds=rng.randint(1, 999))  # the server's jitter
            windows.append(UsageWindow(
                id=window_id, label=window_id.replace("_", " ").title(), percent=percent, resets_at=resets_at,
                severity=rng.choice((None, None, None, "normal", "warning", "critical")),
                active=rng.random() < 0.3,
                locked_reason="limit reached" if percent >= 100 and rng.random() < 0.5 else None,
                kind="session" if window_id == "five_hour" else "weekly",
            ))
        extra = None
        if rng.random() < 0.3:
            extra = ExtraUsage(enabled=rng.random() < 0.8, used=round(rng.uniform(0, 50), 2),
                               limit=rng.choice((None, 50.0)), currency=rng.choice((None, "USD", "EUR")),
                               percent=round(rng.uniform(0, 100), 1))
        return Reading(windows=tuple(windows), extra_usage=extra, fetched_at=now)


class CountingNotifier:
    def __init__(self):
        self.window_popups = 0
        self.login_popups = 0

    def send(self, notification) -> None:
        assert notification.summary and notification.urgency in ("low", "normal", "critical")
        if notification.key.startswith("window:"):
            self.window_popups += 1
        else:
            assert notification.key == "login", notification.key
            self.login_popups += 1


class LastAlertStore:
    def __init__(self):
        self.saves = 0
        self.memory = None

    def save(self, memory) -> None:
        self.saves += 1
        self.memory = memory


class ViewChecker:
    """Subscribed to the monitor like the tray: every view it receives must be drawable."""

    def __init__(self):
        self.views = 0
        self.renders = 0
        self.icon_states: set[str] = set()
        self._last_icon = None  # kept to one spec: the checker's own memory must not grow

    def __call__(self, view) -> None:
        assert view.status in VIEW_STATUSES, view.status
        assert view.icon.state in ICON_STATES, view.icon.state
        assert view.tooltip and len(view.tooltip) <= 127
        self.views += 1
        # Drawn whenever the spec changes, as the tray redraws (render_icon depends on the spec alone).
        if view.icon != self._last_icon:
            image = render_icon(view.icon, 64)
            assert image.size == (64, 64) and image.mode == "RGBA"
            self._last_icon = view.icon
            self.renders += 1
            self.icon_states.add(view.icon.state)


class SoakWorld:
    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.clock = FakeClock(T0)
        self.source = SoakSource(self.clock, random.Random(seed + 1))
        self.notifier = CountingNotifier()
        self.alert_store = LastAlertStore()
        state = MonitorState(interval=INTERVAL, alert_settings=AlertSettings(thresholds=(50, 75, 90, 100)))
        self.monitor = Monitor(state, self.clock, self.notifier, self.alert_store)
        self.checker = ViewChecker()
        self.monitor.subscribe(self.checker)
        self.poller = Poller(self.source, self.monitor, self.clock, INTERVAL)
        self.source.poller = self.poller
        self.steps = 0
        self.refreshes: dict[str, int] = {}
        self.sleeps = 0
        self.logins = 0
        self.max_alert_windows = 0

    def run_until(self, polls: int) -> None:
        source, rng = self.source, self.rng
        while source.requests < polls:
            wait = self.poller.step_once()  # an exception here fails the test: nothing may escape
            if source.broken:
                raise RuleBroken(source.broken)
            self.steps += 1
            assert self.steps < 40 * POLLS, "the loop stopped making progress"
            assert wait >= 0
            if self.poller.schedule.in_flight:
                raise RuleBroken("the schedule still shows a request in flight between steps")
            self.max_alert_windows = max(self.max_alert_windows, len(self.monitor.state.alert_memory.windows))
            self._world_acts(max(wait, 0.001), rng)

    def _world_acts(self, wait: float, rng: random.Random) -> None:
        """Time passes until the poller's next wake-up, unless something happens first."""
        r = rng.random()
        if r < 0.04:
            # The user clicks Refresh partway through the wait.
            self.clock.advance(rng.uniform(0, wait))
            reply = self.poller.request_refresh()
            kind = reply[:40]  # the cooldown reply holds a time: count by its fixed start
            self.refreshes[kind] = self.refreshes.get(kind, 0) + 1
            if reply == "Refreshing now.":
                self.source.excused = True
            return
        if self.source.blocked_fingerprint is not None and r < 0.15:
            # The user runs `claude` and logs in again: the store changes.
            self.clock.advance(rng.uniform(0, wait))
            self.source.fingerprint += 1
            self.logins += 1
            return
        if r < 0.055:
            # The laptop sleeps: only the wall clock moves (CLOCK_MONOTONIC stops while suspended).
            self.clock.jump_wall(rng.choice((90.0, 1800.0, 8 * 3600.0)))
            self.sleeps += 1
            self.source.excused = True  # a wake asks again 5 s after noticing, by design
            return
        self.clock.advance(wait)
        if self.source.blocked_fingerprint is not None and rng.random() < 0.01:
            self.source.fingerprint += 1  # a login can also land at any moment of a long wait
            self.logins += 1


@pytest.fixture
def quiet_tray_monitor_logs():
    """The loop logs every simulated bug and failure; pytest's log capture (which also hooks
    non-propagating loggers) would keep ~10 000 records in memory and look like a leak. A filter on
    each of the package's loggers counts the records by level and drops them before any handler."""
    class CountAndDrop(logging.Filter):
        def __init__(self):
            super().__init__()
            self.by_level: dict[str, int] = {}

        def filter(self, record):
            self.by_level[record.levelname] = self.by_level.get(record.levelname, 0) + 1
            return False

    counter = CountAndDrop()
    loggers = [logging.getLogger(name) for name in ("tray_monitor.poller", "tray_monitor.monitor")]
    saved = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.INFO)
        lg.addFilter(counter)
    try:
        yield counter
    finally:
        for lg, level in zip(loggers, saved, strict=False):
            lg.removeFilter(counter)
            lg.setLevel(level)


@pytest.mark.slow  # ~27 s: the quick loop skips it (-m "not slow"); tests/run.sh and CI run it
def test_10000_polls_of_random_faults_keep_every_rule_and_memory_stays_flat(quiet_tray_monitor_logs):
    world = SoakWorld(SEED)
    world.run_until(1_000)  # warm-up: caches, interned strings, the alert memory of every window
    gc.collect()
    # Tracing from here on (it triples the run time): the snapshot at 1 000 holds nothing yet, so
    # the difference is exactly what was allocated after poll 1 000 and is still alive at 10 000.
    tracemalloc.start()
    try:
        after_1000 = tracemalloc.take_snapshot()
        world.run_until(POLLS)
        gc.collect()
        after_10000 = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()

    source = world.source
    growth = sum(stat.size_diff for stat in after_10000.compare_to(after_1000, "filename"))
    top = "\n".join(str(s) for s in after_10000.compare_to(after_1000, "lineno")[:5])
    assert growth < MEMORY_GROWTH_BOUND, f"memory grew by {growth} bytes from poll 1 000 to 10 000:\n{top}"

    # The mix really was a mix: every kind of answer came many times, and so did the world's acts.
    assert source.requests == POLLS
    assert set(source.outcomes) == {"ok", "429", "5xx", "bad body", "bug", "401", "signed out",
                                    "no scope", "unreadable", "config"}
    assert min(source.outcomes.values()) > 100, source.outcomes
    assert world.refreshes.get("Refreshing now.", 0) > 100, world.refreshes
    assert world.refreshes.get("Waiting for a new Claude login: run `cla", 0) > 10, world.refreshes
    assert world.refreshes.get("The usage endpoint asked us to slow down", 0) > 10, world.refreshes
    assert source.refresh_replies_in_flight == {
        "A request is already in flight; its result will show in a moment.":
            sum(source.refresh_replies_in_flight.values())}
    assert world.logins > 100 and world.sleeps > 100

    # Alert memory: bounded by the windows that exist, not by the number of cycles seen.
    assert 0 < world.max_alert_windows <= len(WINDOW_IDS)
    assert len(str(world.alert_store.memory.to_dict())) < 4096
    # Popups stayed per cycle: per window and cycle at most one per threshold (4 here), one for
    # the server's critical flag, one for a lock, one for the reset; the login popup at most once
    # per lost login.
    assert 0 < world.notifier.window_popups <= 7 * source.cycles_started, (world.notifier.window_popups,
                                                                          source.cycles_started)
    login_losses = sum(source.outcomes[k] for k in ("401", "signed out", "no scope"))
    assert 0 < world.notifier.login_popups <= login_losses
    assert world.checker.views > POLLS  # every poll and many ticks reached the "tray"
    assert world.checker.renders > 1000  # the icon changed often and was drawn each time
    # (Once a reading exists a fault shows it as stale, so "error" and "loading" cannot recur.)
    assert {"ok", "stale", "signed_out", "no_scope"} <= world.checker.icon_states
    # The simulated bugs were logged as bugs; nothing else was.
    assert quiet_tray_monitor_logs.by_level.get("ERROR", 0) >= source.outcomes["bug"]


class InjectedFault(RuntimeError):
    """An exception no code expected, raised at random inside a poll (issue 9: the poller wedged)."""


class FlakyMonitor:
    """The monitor as the poller sees it, failing at random before or after it steps an event."""

    def __init__(self, monitor: Monitor, rng: random.Random, rate: float, counts: dict[str, int]):
        self._monitor, self._rng, self._rate, self._counts = monitor, rng, rate, counts

    def handle(self, *events):
        if not any(isinstance(e, (PollSucceeded, PollFailed)) for e in events):
            return self._monitor.handle(*events)  # a tick is not a poll (the thread's loop logs those)
        if self._rng.random() < self._rate:
            self._counts["monitor.handle before"] = self._counts.get("monitor.handle before", 0) + 1
            raise InjectedFault("before stepping")
        self._monitor.handle(*events)
        if self._rng.random() < self._rate:
            self._counts["monitor.handle after"] = self._counts.get("monitor.handle after", 0) + 1
            raise InjectedFault("after stepping")

    def next_text_change(self, now):
        return self._monitor.next_text_change(now)


INJECTED_POLLS = 3_000


def test_random_exceptions_at_every_step_of_a_poll_never_wedge_the_poller(quiet_tray_monitor_logs, monkeypatch):
    """An exception injected at random at each step of a poll (the schedule's bookkeeping, the plan
    name, the monitor before and after it steps the outcome, besides the source's own "bug"
    answers): no exception escapes the loop body, "in flight" is clear after every step, every
    request rule of the soak still holds, and polling goes on to the last request."""
    from tray_monitor import schedule as sch

    rng = random.Random(SEED + 7)
    rate = 0.03
    counts: dict[str, int] = {}

    def flaky(name, real):
        def wrapper(*args, **kwargs):
            if rng.random() < rate:
                counts[name] = counts.get(name, 0) + 1
                raise InjectedFault(name)
            return real(*args, **kwargs)
        return wrapper

    for name in ("poll_succeeded", "poll_failed", "next_poll_wall"):
        monkeypatch.setattr(sch, name, flaky(f"schedule.{name}", getattr(sch, name)))
    world = SoakWorld(SEED + 3)
    world.poller = Poller(world.source, FlakyMonitor(world.monitor, rng, rate, counts), world.clock, INTERVAL,
                          plan_of=flaky("plan_of", lambda creds: "Max 5x"))
    world.source.poller = world.poller
    world.run_until(INJECTED_POLLS)  # raises on any broken rule, escaped exception or stuck loop

    assert world.source.requests == INJECTED_POLLS
    assert set(counts) == {"schedule.poll_succeeded", "schedule.poll_failed", "schedule.next_poll_wall",
                           "plan_of", "monitor.handle before", "monitor.handle after"}, counts
    assert min(counts.values()) > 10, counts
    assert world.checker.views > INJECTED_POLLS // 2  # the front ends kept getting views
