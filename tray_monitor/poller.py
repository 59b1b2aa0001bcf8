"""The poller thread: asks `schedule` when, reads through the source, reports to the monitor.

One named daemon thread ("claude-tray-poller") runs `step_once()` in a loop and waits on an Event
(never time.sleep), so `stop()` is immediate and `request_refresh()` wakes it. Only this thread
reads, so there is never more than one request in flight. `step_once()` is the whole loop body:
tests drive it with a FakeClock and a fake source, without threads or sleeps.
"""
from __future__ import annotations

import logging
import math
import random
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Protocol

from tray_monitor import schedule as sch
from tray_monitor.clock import Clock
from tray_monitor.errors import MonitorError
from tray_monitor.fmt import format_clock
from tray_monitor.model import Credentials, Reading
from tray_monitor.shared_reading import FedReading
from tray_monitor.state import Event, MonitorState, PollFailed, PollScheduled, PollSucceeded, StatuslineRead, Tick

log = logging.getLogger("tray_monitor.poller")

THREAD_NAME = "claude-tray-poller"
#: A Tick (the view computed again) comes when the monitor says a text will change (a countdown's
#: minute, view.next_text_change), a hair after it, or after this long when it names no moment.
TICK_AT_MOST_EVERY = 60.0
#: The loop wakes at least this often to notice a sleep/wake or a clock change (Event.wait does not
#: count suspended time) and Claude Code's activity: within a minute of the resume or the change.
#: The same as the longest gap between ticks, so the tick serves as this wake-up and the loop wakes
#: once a minute when idle, not twice (it was 30 s: a second wake-up between two ticks, issue 12).
WAKE_EVERY = TICK_AT_MOST_EVERY
TICK_AFTER_CHANGE = 0.05
#: After an unexpected exception in the loop itself (a bug), pause this long before carrying on.
ERROR_PAUSE = 30.0

#: The store's fingerprint could not be taken. Recorded at a failed poll, any later real
#: fingerprint differs from it, so a store that becomes readable again gets one attempt.
_UNKNOWN = object()

#: What `request_refresh` answers when a request is on its way now.
REFRESH_ACCEPTED_REPLY = "Refreshing now."
REFRESH_IN_FLIGHT_REPLY = "A request is already in flight; its result will show in a moment."

_REFRESH_REPLIES = {
    sch.REFRESH_ACCEPTED: REFRESH_ACCEPTED_REPLY,
    sch.REFRESH_COALESCED: "A refresh was requested less than 30 s ago; its result is on the way or shown.",
    sch.REFRESH_IN_FLIGHT: REFRESH_IN_FLIGHT_REPLY,
    sch.REFRESH_WAITING_FOR_LOGIN: "Waiting for a new Claude login: run `claude` to sign in; "
                                   "the login store is being checked now.",
}


class ReadingSource(Protocol):
    """Where readings come from: source.UsageSource, or demo.DemoSource."""

    #: The shortest interval this source may be asked at: schedule.MIN_INTERVAL for the real
    #: endpoint; only a simulated source (the demo) declares a shorter one.
    min_interval: float

    def read(self) -> tuple[Reading, Credentials]:
        """One reading and the credentials that got it; raises a MonitorError otherwise."""
        ...

    def store_fingerprint(self) -> object:
        """A value that changes when the login store changes."""
        ...


class EventSink(Protocol):
    """Who hears what the poller learns: monitor.Monitor."""

    @property
    def state(self) -> MonitorState:
        """Read once, at construction, for its `interval` (unless the poller is given one)."""
        ...

    def handle(self, event: Event, *more: Event) -> None: ...

    def next_text_change(self, now: datetime) -> datetime | None:
        """When the view next reads differently by time alone (the poller ticks then)."""
        ...


def _default_plan_label(creds: Credentials) -> str | None:
    from tray_monitor.credentials import plan_label

    return plan_label(creds)


class Poller:
    def __init__(self, source: ReadingSource, monitor: EventSink, clock: Clock,
                 interval: float | None = None, *,
                 plan_of: Callable[[Credentials], str | None] = _default_plan_label,
                 error_pause: float = ERROR_PAUSE, jitter: float = 0.0, rng: random.Random | None = None,
                 activity: Callable[[], float | None] | None = None, first_poll_in: float = 0.0,
                 after_poll: Callable[[], None] | None = None):
        """`interval`: seconds between requests; None (the tray) reads the one the monitor's state
        holds (`MonitorState.interval`, from the command line or the settings); `watch` following a
        running tray passes its own, shorter one (the tray is asked every few seconds). The
        schedule keeps it, raised to the source's floor (`schedule.clamp_interval`).
        `jitter` (schedule.JITTER for the tray): each wait after a success is the interval times
        1 +- jitter. `activity`: the newest Claude Code transcript write (epoch seconds), asked at
        every wake-up (activity.TranscriptActivity.latest); without it the wait never stretches.
        `first_poll_in`: seconds before the first request (a refresh asks at once all the same).
        `after_poll`: called on this thread after each poll's outcome reached the monitor, never
        after a tick (app.py: the settings files looked at again, as the README promises)."""
        self._source = source
        self._jitter = jitter
        self._rng = rng or random.Random()
        self._activity = activity
        self._activity_failure_logged = False
        self._last_poll_epoch: float | None = None  # wall time of the last request, for "activity since"
        self._fed_since_poll = False
        self._monitor = monitor
        self._clock = clock
        self._plan_of = plan_of
        self._error_pause = error_pause
        self._lock = threading.Lock()  # guards _schedule (request_refresh runs on other threads)
        if interval is None:
            interval = monitor.state.interval
        self._schedule = sch.new_schedule(interval, clock.monotonic(), clock.now(), source.min_interval)
        if first_poll_in > 0:  # several logins: their polls spread over the interval (tray_accounts.py)
            self._schedule = replace(self._schedule, next_poll_mono=clock.monotonic() + first_poll_in)
        self._next_tick_mono: float | None = None  # None: tick at the next step
        self._fingerprint_failure_logged = False
        self._next_change_failure_logged = False
        self._after_poll = after_poll
        self._after_poll_failure_logged = False
        self._read_error: MonitorError | None = None  # what the source raised in the poll under way
        self._poll_fingerprint: object = _UNKNOWN  # the store before the poll under way
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._fed: FedReading | None = None  # a statusline reading not yet taken (feed_statusline)
        self._thread: threading.Thread | None = None

    @property
    def interval(self) -> float:
        return self._schedule.interval

    @property
    def schedule(self) -> sch.Schedule:
        with self._lock:
            return self._schedule

    # Thread control ------------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name=THREAD_NAME, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 1.0) -> None:
        """Returns at once: a request still in flight finishes on the daemon thread and is dropped."""
        self._stopped.set()
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def refresh(self) -> sch.RefreshOutcome:
        """Ask for a request now (menu item, left click); what happened, as a code."""
        with self._lock:
            self._schedule, outcome = sch.request_refresh(self._schedule, self._clock.monotonic())
        self._wake.set()
        return outcome

    def request_refresh(self) -> str:
        """Ask for a request now (`claude-tray refresh`); returns one sentence for the user."""
        return self.describe_refresh(self.refresh())

    def describe_refresh(self, outcome: sch.RefreshOutcome) -> str:
        if outcome == sch.REFRESH_COOLING_DOWN:
            with self._lock:
                cooldown_until = self._schedule.cooldown_until_mono
            assert cooldown_until is not None  # the schedule answers "cooling down" only with a deadline
            return self._cooldown_reply(cooldown_until - self._clock.monotonic())
        if outcome == sch.REFRESH_WAITING_FOR_LOGIN:
            # Another login than the default is logged in with its folder named (issue 15).
            settings = getattr(getattr(self._monitor, "state", None), "alert_settings", None)
            command = getattr(settings, "claude_command", "claude")
            return _REFRESH_REPLIES[outcome].replace("`claude`", f"`{command}`")
        return _REFRESH_REPLIES[outcome]

    def feed_statusline(self, fed: FedReading) -> str:
        """Claude Code's statusline handed over the session and weekly windows (control thread).
        The poller thread takes them at once, in order with its own polls."""
        with self._lock:
            self._fed = fed  # only the newest counts
        self._wake.set()
        return "taken"

    def _take_statusline(self) -> None:
        with self._lock:
            fed, self._fed = self._fed, None
            if fed is None:
                return
            now_mono = self._clock.monotonic()
            self._schedule = sch.statusline_seen(self._schedule, now_mono)
            self._fed_since_poll = True
            next_at = sch.next_poll_wall(self._schedule, now_mono, self._clock.now())
        self._monitor.handle(StatuslineRead(fed), PollScheduled(next_at))

    def _cooldown_reply(self, seconds: float) -> str:
        now = self._clock.now()
        at = format_clock(now + timedelta(seconds=max(0.0, seconds)), now)
        return f"The usage endpoint asked us to slow down; not asking again before {at}."

    def _run(self) -> None:
        while not self._stopped.is_set():
            self._wake.clear()  # before the step, so a refresh arriving during it is not lost
            try:
                wait = self.step_once()
            except Exception:
                # A bug in one iteration must not end polling for the rest of the session.
                log.exception("the poll loop failed; carrying on")
                wait = self._error_pause
            self._wake.wait(wait)

    # The loop body -------------------------------------------------------------------------------

    def step_once(self) -> float:
        """One iteration: notice clock jumps, check the store, poll when due, tick. Returns the
        seconds to wait before the next iteration."""
        now_mono, now_wall = self._clock.monotonic(), self._clock.now()
        with self._lock:
            self._schedule, jump = sch.observe_clocks(self._schedule, now_mono, now_wall)
        if jump:
            log.info("the wall clock jumped by %+.0f s (sleep or clock change); asking again soon", jump)
            self._next_tick_mono = None  # every countdown moved: redraw now

        self._take_statusline()
        self._check_activity(now_mono)

        if self.schedule.waiting_for_store:
            fingerprint = self._fingerprint()
            if fingerprint is not _UNKNOWN:  # a failed check is never a reason to send a request
                with self._lock:
                    self._schedule = sch.store_checked(self._schedule, fingerprint, now_mono)
            if not self.schedule.waiting_for_store:
                log.info("the credential store changed; asking for usage now")

        with self._lock:
            due = sch.due_in(self._schedule, now_mono, now_wall) <= 0 and not self._stopped.is_set()
            if due:
                self._schedule = sch.poll_started(self._schedule)
        if due:
            try:
                self._poll()  # its view is fresh: the next tick counts from here
            except Exception:
                # Whatever raised between poll_started and the poll's outcome (a bug, a value no
                # code expected): the poll ends as a failure, "in flight" is cleared, polling goes
                # on. Without this one exception left "in flight" set and no request ever again.
                self._poll_crashed()
            self._polled()
            self._plan_next_tick()
        elif self._next_tick_mono is None or now_mono >= self._next_tick_mono:
            self._monitor.handle(Tick())
            self._plan_next_tick()

        return self._wait_seconds()

    def _polled(self) -> None:
        if self._after_poll is None or self._stopped.is_set():
            return
        try:
            self._after_poll()
        except Exception:
            if not self._after_poll_failure_logged:  # after every poll: say it once
                self._after_poll_failure_logged = True
                log.exception("the after-poll check failed")

    def _active_since_poll(self) -> bool:
        """Claude Code wrote a transcript after the last request (False without a checker)."""
        if self._activity is None:
            return False
        try:
            latest = self._activity()
        except Exception:
            if not self._activity_failure_logged:  # asked at every wake-up: say it once
                self._activity_failure_logged = True
                log.exception("could not check Claude Code's activity")
            return False
        return latest is not None and (self._last_poll_epoch is None or latest > self._last_poll_epoch)

    def _check_activity(self, now_mono: float) -> None:
        if self._active_since_poll():
            with self._lock:
                self._schedule = sch.activity_seen(self._schedule, now_mono)

    def activity_seen(self) -> None:
        """The menu was opened (or another sign of a person): end an idle stretch at once."""
        with self._lock:
            self._schedule = sch.activity_seen(self._schedule, self._clock.monotonic())
        self._wake.set()

    def _plan_next_tick(self) -> None:
        now_mono, now_wall = self._clock.monotonic(), self._clock.now()
        delay = TICK_AT_MOST_EVERY
        try:
            moment = self._monitor.next_text_change(now_wall)
        except Exception:
            if not self._next_change_failure_logged:  # asked at every tick: say it once
                self._next_change_failure_logged = True
                log.exception("could not tell when the view changes next")
            moment = None
        if moment is not None:
            delay = min(delay, max(0.0, (moment - now_wall).total_seconds()) + TICK_AFTER_CHANGE)
        self._next_tick_mono = now_mono + delay

    def _poll(self) -> None:
        # Taken before the read: a login that lands while the request is in flight still counts
        # as a change afterwards.
        fingerprint = self._poll_fingerprint = self._fingerprint()
        self._read_error = None
        try:
            reading, creds = self._source.read()
        except Exception as exc:
            error = exc if isinstance(exc, MonitorError) else None
            self._read_error = error
            if error is None:
                log.exception("reading usage failed unexpectedly")
                # a bug, not the network: backed off like a failure (schedule.py), never called "Offline"
                error = MonitorError("Reading usage failed unexpectedly; see the log. Retrying shortly.")
            else:
                log.info("poll failed: %s", error)  # messages never hold the token
            with self._lock:
                self._schedule = sch.poll_failed(self._schedule, error, self._clock.monotonic(), fingerprint)
            event: PollFailed | PollSucceeded = PollFailed(error)
        else:
            # Without an activity checker nobody can tell idle from busy: never stretch.
            active = self._activity is None or self._fed_since_poll or self._active_since_poll()
            jitter = 1.0 + self._rng.uniform(-self._jitter, self._jitter) if self._jitter else 1.0
            with self._lock:
                self._schedule = sch.poll_succeeded(self._schedule, reading, self._clock.monotonic(),
                                                    self._clock.now(), jitter=jitter, active=active)
            event = PollSucceeded(reading, self._plan(creds))
        self._fed_since_poll = False
        self._last_poll_epoch = self._clock.now().timestamp()
        if self._stopped.is_set():
            return  # quitting: the front ends may be gone already
        with self._lock:
            next_at = sch.next_poll_wall(self._schedule, self._clock.monotonic(), self._clock.now())
        self._monitor.handle(event, PollScheduled(next_at))  # one view for both

    def _poll_crashed(self) -> None:
        """End the poll in flight as a failure after an unexpected exception (logged here, once,
        with its traceback; the log formatter redacts tokens)."""
        log.exception("a poll failed unexpectedly; it counts as a failed poll and polling goes on")
        # The server's own answer when there was one (a 429 keeps its cooldown), else a bug.
        error: MonitorError | None = self._read_error or MonitorError(
            "Reading usage failed unexpectedly; see the log. Retrying shortly.")
        now_mono = self._clock.monotonic()
        with self._lock:
            s = self._schedule
            if not s.in_flight:
                error = None  # the outcome was recorded; only telling the front ends failed
            else:
                assert error is not None
                try:
                    # The usual bookkeeping of the failure (a 429 keeps Retry-After, a login
                    # failure waits for the store), never sooner than one interval: the request
                    # itself may have succeeded.
                    failed = sch.poll_failed(s, error, now_mono, self._poll_fingerprint)
                    s = replace(failed, next_poll_mono=max(failed.next_poll_mono, now_mono + s.interval))
                except Exception:
                    s = sch.poll_crashed(s, error, now_mono, self._poll_fingerprint)
                self._schedule = s
        if error is None or self._stopped.is_set():
            return
        try:
            with self._lock:
                next_at = sch.next_poll_wall(self._schedule, self._clock.monotonic(), self._clock.now())
            self._monitor.handle(PollFailed(error), PollScheduled(next_at))
        except Exception:
            # The front ends cannot show even the failure (already logged above): the next tick
            # tries again, the next poll is scheduled.
            log.warning("the failed poll could not be shown either")

    def _plan(self, creds: Credentials) -> str | None:
        try:
            return self._plan_of(creds)
        except Exception:
            log.exception("could not name the plan")
            return None

    def _fingerprint(self) -> object:
        try:
            return self._source.store_fingerprint()
        except Exception:
            # Checked every 5 s while waiting, so a lasting failure is logged once.
            if not self._fingerprint_failure_logged:
                self._fingerprint_failure_logged = True
                log.exception("could not check the credential store")
            return _UNKNOWN

    def _wait_seconds(self) -> float:
        now_mono, now_wall = self._clock.monotonic(), self._clock.now()
        with self._lock:
            s = self._schedule
            wait = sch.due_in(s, now_mono, now_wall)
        next_tick = self._next_tick_mono if self._next_tick_mono is not None else now_mono
        wait = min(wait, max(0.0, next_tick - now_mono), WAKE_EVERY)
        if s.waiting_for_store:
            wait = min(wait, sch.STORE_CHECK_EVERY)
        return 0.0 if math.isinf(wait) else sch.clamp_wait(wait, WAKE_EVERY)  # NaN: wake later, never spin
