"""When to ask the usage endpoint next (pure: plain values in, plain values out; no threads, no I/O).

A `Schedule` is a frozen value; every function below returns a new one. Times are passed in:
`now_mono` (monotonic seconds) for all waiting, and the wall `now` where the server's own times
(`resets_at`) or sleep detection need it.

The rules (each one bounds how many requests a fault can cause; see tests/test_schedule.py):
- success: next request one `interval` later (default 120 s, never below 60 s: the endpoint rate-limits
  a token polled every 10 s within minutes, 60 s is tolerated);
- 429: the endpoint's own limiter. Honour Retry-After when > 0 (but not shorter than the interval, and
  at most an hour so a broken header cannot freeze the display for a day); without it wait 5 minutes,
  doubling up to 30 minutes. No request at all before the cooldown ends, not even a manual refresh;
- 5xx, timeouts, bad bodies: back off 30 s, doubling up to the interval;
- expired or rejected login, no login, token without the usage scope, unreadable store: send nothing
  until the credential store changes (its fingerprint, a cheap stat, is checked every 5 s), then ask at
  once. A 401 is therefore never retried in a loop;
- a window's `resets_at` passed: ask 5 s later, so the icon shows the new window promptly (never
  sooner than 60 s after the previous request, in case a server keeps moving `resets_at`);
- the machine slept or the clock was changed: ask 5 s after noticing (see `observe_clocks`);
- a statusline reading (Claude Code handed over the session and weekly windows, no request):
  the next request moves to one interval after it, but at most STATUSLINE_POLL_EVERY intervals
  after the last request, so per-model windows still refresh; never before the first request,
  during a failure streak, or over a pending manual refresh;
- polite polling: every wait after a success is jittered by +-10 %; after STRETCH_AFTER answers
  in a row that changed nothing while Claude Code showed no activity (no statusline reading, no
  transcript written since the previous request), the wait doubles, up to 10 minutes; any
  activity (or a menu opened) brings it back to the interval at once (`activity_seen`);
- manual refresh: at once, but refreshes within 30 s of the last accepted one are coalesced into it.
  Scheduled polls do not count, so a refresh right after a scheduled poll is still honoured.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import Enum

from tray_monitor.errors import (
    AuthExpired,
    ConfigError,
    CredentialsNotFound,
    CredentialsUnreadable,
    RateLimited,
    ScopeMissing,
)
from tray_monitor.model import Reading

DEFAULT_INTERVAL = 120.0
#: The usage endpoint rate-limits a token polled every 10 s within minutes; 60 s is tolerated.
#: The one definition: settings and the command line import it.
MIN_INTERVAL = 60
TRANSIENT_FIRST_BACKOFF = 30.0
RATE_LIMIT_FIRST_BACKOFF = 300.0
RATE_LIMIT_MAX_BACKOFF = 1800.0
RETRY_AFTER_CAP = 3600.0
REFRESH_COALESCE = 30.0
STORE_CHECK_EVERY = 5.0
WAKE_DELAY = 5.0
RESET_DELAY = 5.0
MIN_RESET_GAP = 60.0
#: While Claude Code's statusline hands over the session and weekly windows, the endpoint is asked
#: only for what the statusline cannot see (per-model windows, extra usage): each statusline
#: reading moves the next request to one interval after it, but never later than this many
#: intervals after the last request (10 min at the default 120 s).
STATUSLINE_POLL_EVERY = 5
#: Polite polling: every wait after a success is the interval times a factor drawn from
#: 1 +- JITTER (passed in), so several machines started together do not ask in lockstep.
JITTER = 0.10
#: After this many answers in a row that changed nothing, with no Claude Code activity seen since
#: the previous one, the wait doubles per further unchanged answer, up to MAX_IDLE_WAIT.
STRETCH_AFTER = 3
MAX_IDLE_WAIT = 600.0
#: A wall-minus-monotonic difference that moved by more than this means a sleep or a clock change.
CLOCK_JUMP = 60.0

# Failure kinds (what the current streak of failures is).
RATE_LIMITED = "rate_limited"
TRANSIENT = "transient"
WAITING_FOR_STORE = "waiting_for_store"

class RefreshOutcome(str, Enum):
    """What `request_refresh` did: code acts on this, people read `poller.describe_refresh`."""

    ACCEPTED = "accepted"  # a request goes out now
    COALESCED = "coalesced"  # one was accepted less than REFRESH_COALESCE s ago
    IN_FLIGHT = "in_flight"
    COOLING_DOWN = "cooling_down"  # a 429's wait lasts
    WAITING_FOR_LOGIN = "waiting_for_login"


REFRESH_ACCEPTED = RefreshOutcome.ACCEPTED
REFRESH_COALESCED = RefreshOutcome.COALESCED
REFRESH_IN_FLIGHT = RefreshOutcome.IN_FLIGHT
REFRESH_COOLING_DOWN = RefreshOutcome.COOLING_DOWN
REFRESH_WAITING_FOR_LOGIN = RefreshOutcome.WAITING_FOR_LOGIN

#: Errors that no request can fix: only a change of the credential store (the user runs `claude`).
_WAIT_FOR_STORE = (AuthExpired, CredentialsNotFound, ScopeMissing, CredentialsUnreadable, ConfigError)


@dataclass(frozen=True)
class Schedule:
    # The state's interval (MonitorState.interval, read when the poller is built) raised to the
    # source's floor; `watch` following a tray asks it more often than the tray's interval.
    interval: float = DEFAULT_INTERVAL
    next_poll_mono: float = 0.0  # when the next request is due (unused while waiting for the store)
    failure_kind: str | None = None  # None | RATE_LIMITED | TRANSIENT | WAITING_FOR_STORE
    backoff: float = 0.0  # the last wait of the current failure streak (0 = no streak)
    cooldown_until_mono: float | None = None  # 429: no request before this, refresh included
    store_fingerprint: object = None  # the store as it was when we started waiting for it to change
    last_poll_mono: float | None = None  # when the last request finished
    refresh_accepted_mono: float | None = None  # the last manual refresh that led to a request
    in_flight: bool = False
    reset_poll_at: datetime | None = None  # wall time: a window's resets_at + RESET_DELAY
    wall_offset: float | None = None  # wall minus monotonic seconds at the last observation
    floor: float = MIN_INTERVAL  # no jittered wait goes below this (the endpoint's tolerance)
    last_reading_key: tuple[object, ...] | None = None  # what the last answer said (to tell "unchanged")
    unchanged_polls: int = 0  # answers in a row that changed nothing, with no activity between

    @property
    def waiting_for_store(self) -> bool:
        return self.failure_kind == WAITING_FOR_STORE


def new_schedule(interval: float, now_mono: float, now_wall: datetime,
                 min_interval: float = MIN_INTERVAL) -> Schedule:
    """The first request is due at once."""
    return Schedule(interval=clamp_interval(interval, min_interval), next_poll_mono=now_mono,
                    wall_offset=_offset(now_mono, now_wall), floor=min_interval)


def clamp_interval(interval: float, min_interval: float = MIN_INTERVAL) -> float:
    try:
        value = float(interval)
    except (TypeError, ValueError, OverflowError):
        return DEFAULT_INTERVAL
    if math.isnan(value) or math.isinf(value):
        return DEFAULT_INTERVAL
    return min(max(value, min_interval), MAX_WAIT)


#: No wait, of any kind, is longer than this (a week): every wait is capped with `clamp_wait`
#: before any arithmetic, so no server value (Retry-After 1e11 s, a reset in year 9999) and no
#: setting can overflow a datetime or make Event.wait misbehave.
MAX_WAIT = 7 * 86400.0


def clamp_wait(seconds: float, longest: float = MAX_WAIT) -> float:
    """`seconds` within 0..`longest`; NaN and anything unreadable count as the longest wait."""
    try:
        value = float(seconds)
    except (TypeError, ValueError, OverflowError):
        return longest
    if math.isnan(value):
        return longest
    return min(max(value, 0.0), longest)


def _offset(now_mono: float, now_wall: datetime) -> float:
    return now_wall.timestamp() - now_mono


def observe_clocks(s: Schedule, now_mono: float, now_wall: datetime) -> tuple[Schedule, float]:
    """Notice a sleep or a clock change; returns (schedule, seconds the wall clock jumped, 0 if none).

    time.monotonic() does not advance while Linux or macOS is suspended (CLOCK_MONOTONIC,
    mach_absolute_time), so after waking the wall-minus-monotonic difference has grown by the time
    asleep. That time really passed for the server too, so a forward jump is subtracted from the
    429 cooldown (otherwise a 30-minute cooldown would last 30 minutes *after* an 8-hour night).
    A backward jump (the user set the clock back) shortens nothing. Either way the next request is
    due WAKE_DELAY seconds later (the network may need a moment after waking), but never inside an
    active cooldown, and nothing is sent while waiting for the store to change.
    On Windows time.monotonic() counts sleep, so no jump is seen and the overdue poll happens anyway.
    """
    offset = _offset(now_mono, now_wall)
    if s.wall_offset is None:
        return replace(s, wall_offset=offset), 0.0
    jump = offset - s.wall_offset
    s = replace(s, wall_offset=offset)
    if abs(jump) <= CLOCK_JUMP:
        return s, 0.0
    cooldown = s.cooldown_until_mono
    if cooldown is not None and jump > 0:
        cooldown -= jump
    if cooldown is not None and cooldown <= now_mono:
        cooldown = None
    soon = now_mono + WAKE_DELAY
    if cooldown is not None:
        soon = max(soon, cooldown)
    return replace(s, cooldown_until_mono=cooldown, next_poll_mono=min(s.next_poll_mono, soon)), jump


def due_in(s: Schedule, now_mono: float, now_wall: datetime) -> float:
    """Seconds until the next request may be sent (0 = now; inf = only when the store changes)."""
    if s.waiting_for_store or s.in_flight:
        return math.inf
    due = s.next_poll_mono
    if s.failure_kind is None and s.reset_poll_at is not None:
        reset_due = now_mono + (s.reset_poll_at - now_wall).total_seconds()
        if s.last_poll_mono is not None:
            reset_due = max(reset_due, s.last_poll_mono + MIN_RESET_GAP)
        due = min(due, reset_due)
    if s.cooldown_until_mono is not None:
        due = max(due, s.cooldown_until_mono)
    return max(0.0, due - now_mono)


def next_poll_wall(s: Schedule, now_mono: float, now_wall: datetime) -> datetime | None:
    """The wall-clock estimate of the next request, for "retrying at 14:05"; None = waiting for login."""
    seconds = due_in(s, now_mono, now_wall)
    if math.isinf(seconds):
        return None
    try:
        return now_wall + timedelta(seconds=clamp_wait(seconds))
    except OverflowError:  # a wall clock at the very end of the calendar
        return None


def poll_started(s: Schedule) -> Schedule:
    return replace(s, in_flight=True)


def _reading_key(reading: Reading) -> tuple[object, ...]:
    extra = reading.extra_usage
    return (tuple((w.id, w.percent, w.resets_at, w.locked_reason) for w in reading.windows),
            None if extra is None else (extra.enabled, extra.used, extra.limit))


def success_wait(s: Schedule, unchanged_polls: int, jitter: float = 1.0) -> float:
    """The wait after a success: the interval, doubled per unchanged answer beyond
    STRETCH_AFTER - 1 (up to MAX_IDLE_WAIT, never below the interval), times the jitter factor
    (never below the floor)."""
    wait = s.interval
    if unchanged_polls >= STRETCH_AFTER:
        wait = max(s.interval, min(s.interval * 2 ** (unchanged_polls - STRETCH_AFTER + 1), MAX_IDLE_WAIT))
    return max(wait * jitter, min(s.floor, s.interval))


def poll_succeeded(s: Schedule, reading: Reading, now_mono: float, now_wall: datetime,
                   jitter: float = 1.0, active: bool = False) -> Schedule:
    """`jitter`: a factor in 1 +- JITTER; `active`: Claude Code was used since the last request."""
    key = _reading_key(reading)
    unchanged = 0 if active or key != s.last_reading_key else s.unchanged_polls + 1
    return replace(
        s,
        in_flight=False,
        next_poll_mono=now_mono + success_wait(s, unchanged, jitter),
        last_reading_key=key,
        unchanged_polls=unchanged,
        failure_kind=None,
        backoff=0.0,
        cooldown_until_mono=None,
        store_fingerprint=None,
        last_poll_mono=now_mono,
        reset_poll_at=_next_reset_poll(reading, now_wall),
    )


def _next_reset_poll(reading: Reading, now_wall: datetime) -> datetime | None:
    # A resets_at already in the past (the server has not rolled the window over yet) is skipped,
    # so a lagging server does not make us ask again and again.
    upcoming = [w.resets_at for w in reading.windows if w.resets_at is not None and w.resets_at > now_wall]
    if not upcoming:
        return None
    try:
        return min(upcoming) + timedelta(seconds=RESET_DELAY)
    except OverflowError:  # a reset at the very end of the calendar: no reset poll, the interval rules
        return None


def poll_crashed(s: Schedule, error: BaseException, now_mono: float, fingerprint: object) -> Schedule:
    """A poll that ended in an unexpected exception (poller._poll_crashed): like `poll_failed` with
    the server's own answer when there was one, but never sooner than one interval (the request
    may have succeeded), and computed without any code that could fail the same way again."""
    if isinstance(error, _WAIT_FOR_STORE):
        return replace(s, in_flight=False, last_poll_mono=now_mono, reset_poll_at=None,
                       failure_kind=WAITING_FOR_STORE, backoff=0.0, store_fingerprint=fingerprint)
    if isinstance(error, RateLimited):
        # the server's Retry-After too (a number clamp_wait reads whatever it is): a crash inside
        # the bookkeeping of a 429 must not shorten the cooldown the server asked for
        asked = clamp_wait(error.retry_after, RETRY_AFTER_CAP) if error.retry_after is not None else 0.0
        wait = max(RATE_LIMIT_FIRST_BACKOFF, s.interval, asked)
        return replace(s, in_flight=False, last_poll_mono=now_mono, reset_poll_at=None,
                       failure_kind=RATE_LIMITED, backoff=wait, cooldown_until_mono=now_mono + wait,
                       next_poll_mono=now_mono + wait)
    return replace(s, in_flight=False, last_poll_mono=now_mono, reset_poll_at=None, failure_kind=TRANSIENT,
                   backoff=min(TRANSIENT_FIRST_BACKOFF, s.interval), next_poll_mono=now_mono + s.interval)


def poll_failed(s: Schedule, error: BaseException, now_mono: float, fingerprint: object) -> Schedule:
    """`fingerprint` is the store's fingerprint taken *before* the failed read, so a change that
    lands while the request is in flight still counts as a change."""
    s = replace(s, in_flight=False, last_poll_mono=now_mono, reset_poll_at=None)
    if isinstance(error, _WAIT_FOR_STORE):
        return replace(s, failure_kind=WAITING_FOR_STORE, backoff=0.0, store_fingerprint=fingerprint)
    if isinstance(error, RateLimited):
        if error.retry_after is not None and error.retry_after > 0:
            wait = max(clamp_wait(error.retry_after, RETRY_AFTER_CAP), min(s.interval, RETRY_AFTER_CAP))
        elif s.failure_kind == RATE_LIMITED:
            wait = min(max(s.backoff * 2, RATE_LIMIT_FIRST_BACKOFF), RATE_LIMIT_MAX_BACKOFF)
        else:
            wait = RATE_LIMIT_FIRST_BACKOFF
        return replace(s, failure_kind=RATE_LIMITED, backoff=wait,
                       cooldown_until_mono=now_mono + wait, next_poll_mono=now_mono + wait)
    # Transient, BadResponse, and anything unexpected: back off, but never beyond the interval.
    if s.failure_kind == TRANSIENT:
        wait = min(s.backoff * 2, s.interval)
    else:
        wait = min(TRANSIENT_FIRST_BACKOFF, s.interval)
    return replace(s, failure_kind=TRANSIENT, backoff=wait, next_poll_mono=now_mono + wait)


def store_checked(s: Schedule, fingerprint: object, now_mono: float) -> Schedule:
    """While waiting for the store: a changed fingerprint means a new login, so ask at once."""
    if not s.waiting_for_store or fingerprint == s.store_fingerprint:
        return s
    return replace(s, failure_kind=None, backoff=0.0, store_fingerprint=None, next_poll_mono=now_mono)


def request_refresh(s: Schedule, now_mono: float) -> tuple[Schedule, RefreshOutcome]:
    """A manual refresh (menu item or `claude-tray refresh`). Returns (schedule, outcome)."""
    if s.waiting_for_store:
        # Nothing is sent with a token the server already refused; the caller checks the store now.
        return s, REFRESH_WAITING_FOR_LOGIN
    if s.cooldown_until_mono is not None and now_mono < s.cooldown_until_mono:
        return s, REFRESH_COOLING_DOWN
    if s.in_flight:
        return s, REFRESH_IN_FLIGHT
    if s.refresh_accepted_mono is not None and now_mono - s.refresh_accepted_mono < REFRESH_COALESCE:
        return s, REFRESH_COALESCED
    return replace(s, next_poll_mono=now_mono, refresh_accepted_mono=now_mono), REFRESH_ACCEPTED


def statusline_seen(s: Schedule, now_mono: float) -> Schedule:
    """A statusline reading arrived: postpone the next request (see STATUSLINE_POLL_EVERY)."""
    s = replace(s, unchanged_polls=0)  # Claude Code is in use: no idle stretch
    if s.failure_kind is not None or s.in_flight or s.last_poll_mono is None:
        return s
    if s.refresh_accepted_mono is not None and s.refresh_accepted_mono >= s.last_poll_mono:
        return s  # a manual refresh is waiting for its request: it is not postponed
    latest = s.last_poll_mono + STATUSLINE_POLL_EVERY * s.interval
    return replace(s, next_poll_mono=max(s.next_poll_mono, min(now_mono + s.interval, latest)))


def activity_seen(s: Schedule, now_mono: float) -> Schedule:
    """Claude Code is in use (a transcript written, a statusline reading) or the menu was opened:
    a stretched wait ends at once, back to one interval after the last request."""
    if s.unchanged_polls == 0:
        return s
    s = replace(s, unchanged_polls=0)
    if s.failure_kind is not None or s.last_poll_mono is None:
        return s
    return replace(s, next_poll_mono=min(s.next_poll_mono, max(now_mono, s.last_poll_mono + s.interval)))
