"""A simulator of realistic Claude Code use, for backtesting tray_monitor.forecast.

One simulated user over some weeks:
- days: a weekday is worked with probability 0.95, a weekend day 0.3; a work day starts around
  08:30 (sd 45 min) and lasts 8.5 h (sd 1.5 h) with a lunch break (45-75 min) and, with
  probability 0.25, an evening session (20:00-22:30); nights are idle;
- within working hours, active blocks (log-normal, median 40 min) alternate with pauses
  (exponential, mean 12 min; a meeting of 30-90 min with probability 0.15);
- intensity = the user's base x a day factor (AR(1) in log, phi 0.7: project phases and
  deadline weeks persist for days) x a block factor (log-normal, sd 0.5); in an active minute a
  request is sent with probability 0.6, costing exponential(1) x intensity, and 1 % of requests
  are bursts 15 times larger (a big context, a long agent run);
- limits: the session window starts at the first request with no window running and resets 5 h
  later (so it resets in the middle of work); the weekly window resets at a fixed weekly time.
  A request while either window is at 100 % is refused (no extra usage), so the user waits;
- polling: the tray polls every 120 s (+-5 s) while the machine is on: from 10 min before the
  day starts to up to an hour after it ends (30 % of users leave it on day and night); the API
  reports whole percents.

Pure Python, seeded: the same seed gives the same weeks.
"""
from __future__ import annotations

import math
import random
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

SESSION = timedelta(hours=5)
WEEK = timedelta(days=7)
SESSION_CAP = 100.0  # usage units that fill the session window
WEEK_CAP = 900.0  # ... and the weekly one (about nine full sessions)
POLL = 120.0


@dataclass
class Cycle:
    window_id: str
    start: datetime
    resets_at: datetime
    ran_out_at: datetime | None = None  # the exact time the window reached 100 %, if it did


@dataclass
class Poll:
    at: datetime
    percents: dict[str, float]  # window id -> whole percent
    resets: dict[str, datetime | None]


@dataclass
class UserRun:
    polls: list[Poll] = field(default_factory=list)
    cycles: list[Cycle] = field(default_factory=list)

    def poll_times(self) -> list[datetime]:
        return [p.at for p in self.polls]


def _minutes(rng: random.Random, day: datetime, start_h: float, end_h: float) -> list[tuple[datetime, datetime]]:
    """Active blocks between start_h and end_h (hours of the day)."""
    blocks = []
    t = day + timedelta(hours=start_h)
    end = day + timedelta(hours=end_h)
    while t < end:
        length = timedelta(minutes=max(5.0, rng.lognormvariate(math.log(40), 0.6)))
        blocks.append((t, min(t + length, end)))
        t += length
        pause = rng.uniform(30, 90) if rng.random() < 0.15 else rng.expovariate(1 / 12)
        t += timedelta(minutes=pause)
    return blocks


def simulate_user(seed: int, weeks: int = 6, base: float | None = None, always_on: bool | None = None) -> UserRun:
    rng = random.Random(seed)
    begin = datetime(2026, 3, 2, tzinfo=timezone.utc)  # a Monday
    base = base if base is not None else rng.lognormvariate(math.log(0.65), 0.45)
    on_all_day = rng.random() < 0.3
    always_on = on_all_day if always_on is None else always_on
    week_anchor = begin + timedelta(days=rng.randrange(7), hours=rng.randrange(24))

    # 1. the requests a user would send, day by day (before limits refuse some)
    requests: list[tuple[datetime, float]] = []
    machine_on: list[tuple[datetime, datetime]] = []
    log_day = 0.0
    for d in range(weeks * 7):
        day = begin + timedelta(days=d)
        log_day = 0.7 * log_day + rng.gauss(0, 0.35)
        weekend = day.weekday() >= 5
        if rng.random() > (0.3 if weekend else 0.95):
            continue
        start_h = rng.gauss(8.5, 0.75) + (2 if weekend else 0)
        end_h = start_h + max(2.0, rng.gauss(4 if weekend else 8.5, 1.5))
        lunch = rng.uniform(12, 13.5)
        spans = [(start_h, min(lunch, end_h)), (lunch + rng.uniform(0.75, 1.25), end_h)]
        if rng.random() < 0.25:
            spans.append((rng.uniform(20, 21), rng.uniform(21.5, 22.5)))
        for a, b in spans:
            if b <= a:
                continue
            for block_start, block_end in _minutes(rng, day, a, b):
                intensity = base * math.exp(log_day) * rng.lognormvariate(0, 0.5)
                t = block_start
                while t < block_end:
                    if rng.random() < 0.6:
                        cost = rng.expovariate(1.0) * intensity
                        if rng.random() < 0.01:
                            cost *= 15
                        requests.append((t, cost))
                    t += timedelta(minutes=1)
        machine_on.append((day + timedelta(hours=start_h - 1 / 6),
                           day + timedelta(hours=max(b for _, b in spans) + rng.uniform(0, 1))))
    if always_on:
        machine_on = [(begin, begin + timedelta(days=weeks * 7))]

    requests.sort(key=lambda r: r[0])

    # 2. the limits: which requests go through, and the trace of both windows
    run = UserRun()
    session: Cycle | None = None
    session_used = 0.0
    week_start = week_anchor - WEEK * math.ceil((week_anchor - begin) / WEEK)
    week = Cycle("seven_day", week_start, week_start + WEEK)
    run.cycles.append(week)
    week_used = 0.0
    # (time, session percent, session resets_at, weekly percent, weekly resets_at) after each change
    trace: list[tuple[datetime, float, datetime | None, float, datetime]] = []
    for at, cost in requests:
        while at >= week.resets_at:
            week = Cycle("seven_day", week.resets_at, week.resets_at + WEEK)
            run.cycles.append(week)
            week_used = 0.0
            trace.append((week.start, _pct(session_used, SESSION_CAP) if session else 0.0,
                          session.resets_at if session else None, 0.0, week.resets_at))
        if session is not None and at >= session.resets_at:
            trace.append((session.resets_at, 0.0, None, _pct(week_used, WEEK_CAP), week.resets_at))
            session = None
        if session is None:
            session = Cycle("five_hour", at, at + SESSION)
            run.cycles.append(session)
            session_used = 0.0
        if session_used >= SESSION_CAP or week_used >= WEEK_CAP:
            continue  # refused: the user waits for a reset
        session_used += cost
        week_used += cost
        if session_used >= SESSION_CAP and session.ran_out_at is None:
            session.ran_out_at = at
        if week_used >= WEEK_CAP and week.ran_out_at is None:
            week.ran_out_at = at
        trace.append((at, _pct(session_used, SESSION_CAP), session.resets_at,
                      _pct(week_used, WEEK_CAP), week.resets_at))

    # 3. what the tray saw: a poll every 2 minutes while the machine was on
    trace.sort(key=lambda row: row[0])
    times = [t[0] for t in trace]
    for on, off in machine_on:
        t = on
        while t < off:
            i = bisect_right(times, t) - 1
            if i < 0:
                s_pct, s_reset, w_pct, w_reset = 0.0, None, 0.0, week_start + WEEK
            else:
                _, s_pct, s_reset, w_pct, w_reset = trace[i]
            if s_reset is not None and t >= s_reset:
                s_pct, s_reset = 0.0, None
            while t >= w_reset:
                w_pct, w_reset = 0.0, w_reset + WEEK
            run.polls.append(Poll(t, {"five_hour": float(round(s_pct)), "seven_day": float(round(w_pct))},
                                  {"five_hour": s_reset, "seven_day": w_reset}))
            t += timedelta(seconds=POLL + rng.uniform(-5, 5))
    run.polls.sort(key=lambda p: p.at)
    return run


def _pct(used: float, cap: float) -> float:
    return min(used, cap * 1.05) / cap * 100.0
