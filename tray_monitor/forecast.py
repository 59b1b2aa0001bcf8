"""Where each usage window is heading: pace, percent at reset, run-out time, the binding limit
(pure: plain values in and out, no clock, no I/O).

The estimator ("recent, then average"). For a window with a known reset, in its current cycle:

- the *cycle rate* is what the naive projection uses: percent used / time elapsed since the
  cycle began (`resets_at - length`);
- the *recent rate* is the climb over the last `lookback` (30 min for the 5-hour session, 24 h
  for the weekly windows, so a night or a lunch break is inside it rather than dominating it),
  measured from the readings of this cycle (history), never below 0 (a transient dip);
- the projection continues at the recent rate for the next `horizon` (30 min / 12 h) and at the
  cycle rate after that: what you are doing now says most about the next hour, the cycle's average says
  more about the rest of it. A burst lifts only the near term; an idle gap lowers only the near
  term; with history shorter than half a lookback (the tray just started) the recent rate is not
  known and the cycle rate is used throughout.

Not enough data (the forecast is None, with a reason, and front ends say nothing):
- the window has not started (no `resets_at`), its length is unknown, or its reset has passed;
- the cycle is younger than `MIN_SPAN_SHARE` of the window (5 %: 15 min of a session, 8.4 h of a
  week): a rate measured over a few minutes is mostly noise (unless the window is at 100 % already:
  then when it ran out is known, and nothing is projected beyond the percent);
- less than `MIN_CHANGE` (1 point) was used this cycle: nothing to extrapolate.

`pace` is the issue's definition and independent of the estimator: used share / elapsed share
(1.0x lands exactly at 100 % at the reset).
"""
from __future__ import annotations

import functools
import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo

SESSION_LENGTH = timedelta(hours=5)
WEEK_LENGTH = timedelta(days=7)

#: A forecast needs the cycle to have run for this share of the window (see module docstring).
MIN_SPAN_SHARE = 0.05
#: ... and at least this many points used in the cycle.
MIN_CHANGE = 1.0
#: resets_at values closer than this are the same cycle (server jitter; alerts.CYCLE_TOLERANCE).
CYCLE_TOLERANCE = timedelta(minutes=5)

REASON_NOT_STARTED = "not started"
REASON_UNKNOWN_LENGTH = "unknown window length"
REASON_RESET_DUE = "reset due"
REASON_JUST_STARTED = "not enough data: the window just started"
REASON_NO_USE = "not enough data: no use this cycle yet"


@dataclass(frozen=True)
class Sample:
    """One stored reading of one window (history row)."""

    at: datetime
    percent: float
    resets_at: datetime | None


@dataclass(frozen=True)
class Forecast:
    pace: float  # used share / elapsed share; 1.0 = exactly 100 % at the reset
    projected_percent: float  # at the reset, by the estimator (may exceed 100: what it would be)
    runs_out_at: datetime | None  # when 100 % is reached, if before the reset (past if already out)
    resets_at: datetime

    @property
    def runs_out(self) -> bool:
        return self.runs_out_at is not None


@dataclass(frozen=True)
class WindowForecast:
    window_id: str
    forecast: Forecast | None
    reason: str | None  # why forecast is None


def window_length(window_id: str, kind: str) -> timedelta | None:
    """The session is 5 hours, the weekly windows (all models or one) 7 days; others unknown."""
    if kind == "session" or window_id == "five_hour":
        return SESSION_LENGTH
    if kind in ("weekly", "weekly_scoped") or window_id.startswith("seven_day"):
        return WEEK_LENGTH
    return None


def lookback_for(length: timedelta) -> timedelta:
    """The span the recent level is measured over: 30 min of a session; a day of a longer window
    (so a night is inside it rather than all of it)."""
    return timedelta(minutes=30) if length <= timedelta(days=1) else timedelta(hours=24)


def horizon_for(length: timedelta) -> timedelta:
    """How long the recent level is assumed to last before the cycle's level takes over
    (chosen on the backtest's training seeds, see docs/forecast.md)."""
    return timedelta(minutes=30) if length <= timedelta(days=1) else timedelta(hours=12)


def prior_for(length: timedelta) -> timedelta:
    """How much the user's usual level counts, in weighted hours of this cycle's own readings."""
    return PRIOR_SESSION if length <= timedelta(days=1) else PRIOR_WEEK


PRIOR_SESSION = timedelta(hours=2)
PRIOR_WEEK = timedelta(hours=48)


def _same_cycle(a: datetime | None, b: datetime) -> bool:
    return a is not None and abs(a - b) < CYCLE_TOLERANCE


def _percent_at(samples: Sequence[Sample], when: datetime) -> float | None:
    """The last reading at or before `when` (samples sorted by time), None if none."""
    found: float | None = None
    for sample in samples:
        if sample.at > when:
            break
        found = sample.percent
    return found


@dataclass(frozen=True)
class Profile:
    """When this user usually works: 48 relative rates, hours 0-23 of a weekday then of a weekend
    day, in the time zone `tz` (the user's local one). A flat profile (all 1) means "no idea"."""

    weights: tuple[float, ...]
    tz: tzinfo
    scale: float | None = None  # this window's usual points per weighted hour; None = unknown

    def weight_at(self, when: datetime) -> float:
        return self.weights[_hour_of(when.astimezone(self.tz))]

    @property
    def flat(self) -> bool:
        return all(w == 1.0 for w in self.weights)

    def integral(self, start: datetime, end: datetime) -> float:
        """Weighted hours between start and end."""
        if self.flat:
            return max(0.0, (end - start).total_seconds() / 3600.0)
        if isinstance(self.tz, timezone) and start < end:
            return self._integral_fixed_offset(start, end)
        return sum(w * (b - a).total_seconds() / 3600.0 for a, b, w in self.segments(start, end))

    def _integral_fixed_offset(self, start: datetime, end: datetime) -> float:
        """`integral` in a zone of one fixed offset (the walk's, activity_profile's `walk_tz`),
        where the week's 168 hours repeat: the whole hours summed from the week's running totals,
        not one by one (a cycle's integral spans up to a week of hours at every reading)."""
        offset = self.tz.utcoffset(None)
        assert offset is not None
        first = start.timestamp() + offset.total_seconds()  # seconds on the local clock since 1970
        last = end.timestamp() + offset.total_seconds()
        week = _week_weights(self.weights)
        h0, h1 = int(first // 3600), int(last // 3600)
        if h0 == h1:
            return week[h0 % 168] * (last - first) / 3600.0
        total = week[h0 % 168] * ((h0 + 1) * 3600 - first) / 3600.0 + week[h1 % 168] * (last - h1 * 3600) / 3600.0
        whole = h1 - h0 - 1  # the hours h0 + 1 .. h1 - 1
        sums = _week_sums(self.weights)
        begin = (h0 + 1) % 168
        weeks, rest = divmod(whole, 168)
        total += weeks * sums[168]
        if begin + rest <= 168:
            total += sums[begin + rest] - sums[begin]
        else:
            total += sums[168] - sums[begin] + sums[begin + rest - 168]
        return total

    def segments(self, start: datetime, end: datetime) -> Iterator[tuple[datetime, datetime, float]]:
        if self.flat:  # one piece: the view runs this on every redraw
            if start < end:
                yield start, end, 1.0
            return
        t = start
        weights = self.weights
        while t < end:
            # one conversion per hour, for both the hour's end and its weight (weight_at converted
            # again: a third of a learned forecast's time, ~0.15 ms a reading)
            local = t.astimezone(self.tz)
            next_hour = t + timedelta(minutes=60 - local.minute, seconds=-local.second,
                                      microseconds=-local.microsecond)
            b = min(end, next_hour)
            yield t, b, weights[_hour_of(local)]
            t = b


@functools.lru_cache(maxsize=8)
def _week_weights(weights: tuple[float, ...]) -> tuple[float, ...]:
    """The weight of each hour of the week counted from 1970-01-01 00:00 (a Thursday), local."""
    return tuple(weights[(24 if (3 + hour // 24) % 7 >= 5 else 0) + hour % 24] for hour in range(168))


@functools.lru_cache(maxsize=8)
def _week_sums(weights: tuple[float, ...]) -> tuple[float, ...]:
    """Running totals of _week_weights: sums[k] = the first k hours' weights."""
    return (0.0, *itertools.accumulate(_week_weights(weights)))


def _hour_of(local: datetime) -> int:
    """A local time's place in a Profile's 48 weights: hours 0-23 of a weekday, then of a weekend day."""
    return (24 if local.weekday() >= 5 else 0) + local.hour


def flat_profile() -> Profile:
    return Profile(tuple([1.0] * 48), timezone.utc)


#: activity_profile needs this much history and use to say anything; below it, a flat profile.
PROFILE_MIN_DAYS = 7
PROFILE_MIN_POINTS = 20.0
#: ... looks back this far; and keeps this share of the flat profile, so an hour that was always
#: idle still counts a little (the user may work late once).
PROFILE_DAYS = 28
PROFILE_FLOOR = 0.3
#: a climb between two readings further apart than this cannot be placed in an hour.
PROFILE_MAX_GAP = timedelta(minutes=30)


def activity_profile(samples: Sequence[Sample], now: datetime, tz: tzinfo | None) -> Profile:
    """The user's usual hours from stored readings of one window (the weekly one sees all use).
    `tz` None: the system's local time, each reading at the offset it had then (a reading from
    before a daylight-saving change keeps its hour); the profile then walks the coming days at
    today's offset (cheap on every redraw; a change within the week ahead shifts the rest by an hour)."""
    recent = sorted((s for s in samples if now - timedelta(days=PROFILE_DAYS) <= s.at <= now), key=lambda s: s.at)
    if not recent or recent[-1].at - recent[0].at < timedelta(days=PROFILE_MIN_DAYS):
        return flat_profile()
    totals = [0.0] * 48
    for a, b in itertools.pairwise(recent):
        if b.at - a.at > PROFILE_MAX_GAP or b.resets_at is None or not _same_cycle(a.resets_at, b.resets_at):
            continue
        if b.percent > a.percent:
            local = b.at.astimezone(tz)
            totals[(24 if local.weekday() >= 5 else 0) + local.hour] += b.percent - a.percent
    if sum(totals) < PROFILE_MIN_POINTS:
        return flat_profile()
    per_day = [t / 5.0 for t in totals[:24]] + [t / 2.0 for t in totals[24:]]  # 5 weekdays, 2 weekend days
    mean = (5 * sum(per_day[:24]) + 2 * sum(per_day[24:])) / (7 * 24)
    span_hours = (recent[-1].at - recent[0].at).total_seconds() / 3600.0
    walk_tz = tz if tz is not None else now.astimezone().tzinfo or timezone.utc
    return Profile(tuple((1 - PROFILE_FLOOR) * v / mean + PROFILE_FLOOR for v in per_day), walk_tz,
                   scale=sum(totals) / span_hours)


def forecast_window(
    window_id: str,
    kind: str,
    percent: float,
    resets_at: datetime | None,
    now: datetime,
    history: Iterable[Sample] = (),
    length: timedelta | None = None,
    profile: Profile | None = None,
    read_at: datetime | None = None,
) -> WindowForecast:
    """The forecast of one window from its current reading, its stored readings and the user's usual hours.

    `read_at` is when `percent` was read (default `now`): the projection starts there, so the same
    reading gives the same pace and run-out time at any later moment (nothing is known of the use
    since; projecting from `now` made the run-out time drift with the clock). `now` only decides
    whether the reset has passed."""
    if resets_at is None:
        return WindowForecast(window_id, None, REASON_NOT_STARTED)
    length = length or window_length(window_id, kind)
    if length is None:
        return WindowForecast(window_id, None, REASON_UNKNOWN_LENGTH)
    if resets_at <= now:
        return WindowForecast(window_id, None, REASON_RESET_DUE)
    now = min(read_at, now) if read_at is not None else now  # a clock set back: never project from the future
    start = resets_at - length
    elapsed = now - start
    cycle = sorted(
        (s for s in history if start <= s.at <= now and _same_cycle(s.resets_at, resets_at)),
        key=lambda s: s.at,
    )
    if elapsed < length * MIN_SPAN_SHARE:
        if percent < 100:
            return WindowForecast(window_id, None, REASON_JUST_STARTED)
        # At the limit in the cycle's first minutes: when it ran out is a fact, not an extrapolation
        # (the binding limit, "limit reached"); a cycle this young projects nothing beyond it.
        pace = (percent / 100.0) / (max(elapsed, timedelta(seconds=1)) / length)
        return WindowForecast(window_id, Forecast(pace, percent, _ran_out_at(cycle, now), resets_at), None)
    if percent < MIN_CHANGE:
        return WindowForecast(window_id, None, REASON_NO_USE)

    profile = profile or flat_profile()
    pace = (percent / 100.0) / (elapsed / length)
    # points per weighted hour; shrunk toward the user's usual level while the cycle is young
    prior = prior_for(length) / timedelta(hours=1) if profile.scale is not None else 0.0
    cycle_level = (percent + (profile.scale or 0.0) * prior) / max(profile.integral(start, now) + prior, 1e-9)
    recent_level = _recent_level(cycle, percent, now, length, profile)
    near_end = min(resets_at, now + horizon_for(length)) if recent_level is not None else now
    projected, runs_out_at = _walk(percent, now, near_end, resets_at, recent_level or 0.0, cycle_level, profile)
    if percent >= 100:
        runs_out_at = _ran_out_at(cycle, now)
    return WindowForecast(window_id, Forecast(pace, projected, runs_out_at, resets_at), None)


def _ran_out_at(cycle: Sequence[Sample], now: datetime) -> datetime:
    """A window at or over 100 %: the first stored reading of the cycle at 100 % or more, else now."""
    return next((s.at for s in cycle if s.percent >= 100), now)


def _recent_level(cycle: Sequence[Sample], percent: float, now: datetime, length: timedelta,
                  profile: Profile) -> float | None:
    """Points per weighted hour over the last lookback (None when history covers less than half of it)."""
    lookback = lookback_for(length)
    if not cycle:
        return None
    since = now - lookback
    base = _percent_at(cycle, since)
    if base is None:
        since = cycle[0].at
        if now - since < lookback / 2:
            return None
        base = cycle[0].percent
    return max(0.0, percent - base) / max(profile.integral(since, now), 1e-9)


def _walk(percent: float, now: datetime, near_end: datetime, resets_at: datetime, recent_level: float,
          cycle_level: float, profile: Profile) -> tuple[float, datetime | None]:
    """Project hour by hour to the reset: recent level until near_end, cycle level after.
    Returns the percent at the reset and when 100 % is crossed (None if not before the reset)."""
    level_now = percent
    runs_out_at: datetime | None = None
    for a, b, weight in profile.segments(now, resets_at):
        if a < near_end < b:  # split the segment where the recent level hands over
            pieces = [(a, near_end, recent_level), (near_end, b, cycle_level)]
        else:
            pieces = [(a, b, recent_level if a < near_end else cycle_level)]
        for pa, pb, level in pieces:
            rate = level * weight  # points per hour
            added = rate * (pb - pa).total_seconds() / 3600.0
            if runs_out_at is None and level_now < 100.0 <= level_now + added and rate > 0:
                runs_out_at = pa + timedelta(hours=(100.0 - level_now) / rate)
            level_now += added
    return level_now, runs_out_at


def naive_forecast(percent: float, resets_at: datetime, now: datetime, length: timedelta) -> datetime | None:
    """The baseline: used / elapsed, linear to the reset. The run-out time, None if not before the reset."""
    elapsed = now - (resets_at - length)
    if percent >= 100:
        return now
    if percent <= 0 or elapsed <= timedelta(0):
        return None
    rate = percent / elapsed.total_seconds()
    out = now + timedelta(seconds=(100.0 - percent) / rate)
    return out if out < resets_at else None


@dataclass(frozen=True)
class HistoryDigest:
    """What the forecast needs of the stored readings: per window, this cycle's readings (the
    last 8 days) and the user's usual hours. Empty = no history (the forecast still works from
    the current reading alone)."""

    samples: tuple[tuple[str, tuple[Sample, ...]], ...] = ()
    profiles: tuple[tuple[str, Profile], ...] = ()

    def samples_for(self, window_id: str) -> tuple[Sample, ...]:
        return next((s for wid, s in self.samples if wid == window_id), ())

    def profile_for(self, window_id: str) -> Profile | None:
        return next((p for wid, p in self.profiles if wid == window_id), None)


@dataclass(frozen=True)
class WindowNow:
    """What `binding` needs of a window: its id, current percent and forecast."""

    window_id: str
    percent: float
    forecast: Forecast | None


def binding(windows: Sequence[WindowNow]) -> str | None:
    """The window that runs out first; when none will, the one heading highest (projected percent
    at its reset, or the current percent where there is no forecast). None without windows."""
    running_out = [(w.forecast.runs_out_at, i, w.window_id) for i, w in enumerate(windows)
                   if w.forecast is not None and w.forecast.runs_out_at is not None]
    if running_out:
        return min(running_out)[2]
    if not windows:
        return None

    def heading(w: WindowNow) -> float:
        return w.forecast.projected_percent if w.forecast is not None else w.percent

    return max(windows, key=heading).window_id
