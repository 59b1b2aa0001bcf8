"""Backtest of the run-out forecast (tray_monitor.forecast) against the naive projection.

    .venv/bin/python -m benchmarks.backtest [--users 120] [--weeks 8] [--seed-base 1000] [--markdown]

Simulates `--users` users (benchmarks/usage_sim.py) and, for every cycle of the session and the
weekly window, asks both estimators at 25 / 50 / 75 % of the cycle (the first poll at or after that
moment, if the tray polled within 5 % of the window after it) when the window runs out, with only
what the tray had seen by then: the current reading and the stored readings of this cycle.

Error = |predicted - actual| run-out time, where "does not run out" counts as the reset time (so a
false alarm and a missed run-out both cost the distance to the reset). Points count where either
estimator or the truth has the window running out before its reset, and the window was not already
out: the same points for both estimators. Medians and 90th percentiles of that error are printed.

The estimator's constants were chosen on seeds 0-59; the default report uses seeds 1000-1119.
Measurements, not tests: nothing here fails a build (tests/test_forecast.py holds the tests).
"""
from __future__ import annotations

import argparse
import statistics
import sys
from bisect import bisect_left
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.usage_sim import SESSION, WEEK, UserRun, simulate_user
from tray_monitor.forecast import (
    Profile,
    Sample,
    activity_profile,
    forecast_window,
    naive_forecast,
)

FRACTIONS = (0.25, 0.5, 0.75)
LENGTHS = {"five_hour": SESSION, "seven_day": WEEK}
KINDS = {"five_hour": "session", "seven_day": "weekly"}


@dataclass(frozen=True)
class Point:
    window_id: str
    fraction: float
    naive_error: timedelta
    forecast_error: timedelta
    actually_ran_out: bool


def weekly_profiles(run: UserRun) -> dict[tuple[str, datetime], Profile]:
    """Each window's usual hours and level as the tray would know them each Monday: from that
    window's readings before that day (the app recomputes them daily; weekly keeps this quick)."""
    profiles: dict[tuple[str, datetime], Profile] = {}
    if not run.polls:
        return profiles
    first = run.polls[0].at.replace(hour=0, minute=0, second=0, microsecond=0)
    for window_id in LENGTHS:
        samples = [Sample(p.at, p.percents[window_id], p.resets[window_id]) for p in run.polls]
        monday = first - timedelta(days=first.weekday())
        while monday <= samples[-1].at:
            profiles[window_id, monday] = activity_profile([s for s in samples if s.at < monday], monday,
                                                           timezone.utc)
            monday += timedelta(days=7)
    return profiles


def points_of(run: UserRun, use_profile: bool = True) -> list[Point]:
    times = run.poll_times()
    points: list[Point] = []
    profiles = weekly_profiles(run) if use_profile else {}

    for cycle in run.cycles:
        length = LENGTHS[cycle.window_id]
        truth = cycle.ran_out_at or cycle.resets_at
        first = bisect_left(times, cycle.start)
        for fraction in FRACTIONS:
            target = cycle.start + length * fraction
            i = bisect_left(times, target)
            if i >= len(times) or times[i] > target + length * 0.05:
                continue  # the tray was not running then: nobody saw a forecast
            poll = run.polls[i]
            percent = poll.percents[cycle.window_id]
            if poll.resets[cycle.window_id] != cycle.resets_at or percent >= 100:
                continue
            history = [Sample(p.at, p.percents[cycle.window_id], p.resets[cycle.window_id])
                       for p in run.polls[first:i + 1]]
            day = poll.at.replace(hour=0, minute=0, second=0, microsecond=0)
            profile = profiles.get((cycle.window_id, day - timedelta(days=day.weekday())))
            result = forecast_window(cycle.window_id, KINDS[cycle.window_id], percent, cycle.resets_at,
                                     poll.at, history, profile=profile)
            mine = result.forecast.runs_out_at if result.forecast and result.forecast.runs_out_at else None
            naive = naive_forecast(percent, cycle.resets_at, poll.at, length)
            if cycle.ran_out_at is None and mine is None and naive is None:
                continue  # nothing at stake: all agree it does not run out
            points.append(Point(cycle.window_id, fraction,
                                abs((naive or cycle.resets_at) - truth),
                                abs((mine or cycle.resets_at) - truth),
                                cycle.ran_out_at is not None))
    return points


def p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]


def table(points: list[Point]) -> list[dict]:
    rows = []
    for window_id, unit, scale in (("five_hour", "min", 60.0), ("seven_day", "h", 3600.0)):
        for fraction in FRACTIONS:
            chosen = [p for p in points if p.window_id == window_id and p.fraction == fraction]
            if not chosen:
                continue
            naive = [p.naive_error.total_seconds() / scale for p in chosen]
            mine = [p.forecast_error.total_seconds() / scale for p in chosen]
            rows.append({"window": window_id, "at": f"{fraction:.0%}", "n": len(chosen),
                             "ran_out": sum(p.actually_ran_out for p in chosen), "unit": unit,
                             "naive_median": statistics.median(naive), "naive_p90": p90(naive),
                             "median": statistics.median(mine), "p90": p90(mine)})
    return rows


def render(rows: list[dict], markdown: bool) -> str:
    head = ("window", "at", "points", "ran out", "naive median", "naive p90", "forecast median", "forecast p90")
    lines = []
    if markdown:
        lines.append("| " + " | ".join(head) + " |")
        lines.append("|" + "---|" * len(head))
    else:
        lines.append("  ".join(f"{h:>15}" for h in head))
    for r in rows:
        u = r["unit"]
        cells = (r["window"], r["at"], str(r["n"]), str(r["ran_out"]),
                 f"{r['naive_median']:.0f} {u}" if u == "min" else f"{r['naive_median']:.1f} {u}",
                 f"{r['naive_p90']:.0f} {u}" if u == "min" else f"{r['naive_p90']:.1f} {u}",
                 f"{r['median']:.0f} {u}" if u == "min" else f"{r['median']:.1f} {u}",
                 f"{r['p90']:.0f} {u}" if u == "min" else f"{r['p90']:.1f} {u}")
        lines.append("| " + " | ".join(cells) + " |" if markdown else "  ".join(f"{c:>15}" for c in cells))
    return "\n".join(lines)


def run_backtest(users: int, weeks: int, seed_base: int) -> list[dict]:
    points: list[Point] = []
    for seed in range(seed_base, seed_base + users):
        points.extend(points_of(simulate_user(seed, weeks)))
    return table(points)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=120)
    parser.add_argument("--weeks", type=int, default=8)
    parser.add_argument("--seed-base", type=int, default=1000)
    parser.add_argument("--markdown", action="store_true", help="print the table for docs/forecast.md")
    args = parser.parse_args(argv)
    rows = run_backtest(args.users, args.weeks, args.seed_base)
    last_seed = args.seed_base + args.users - 1
    print(f"{args.users} simulated users x {args.weeks} weeks, seeds {args.seed_base}..{last_seed}")
    print(render(rows, args.markdown))
    beaten = all(r["median"] < r["naive_median"] and r["p90"] < r["naive_p90"] for r in rows)
    print("forecast beats naive on median and p90 at every point" if beaten
          else "forecast does NOT beat naive everywhere")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

