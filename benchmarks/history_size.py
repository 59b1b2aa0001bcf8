"""The usage history's size after a simulated 90 days of polling at the default interval.

    .venv/bin/python -m benchmarks.history_size [--days 90] [--users 5] [--chart FILE.png]

Feeds every poll of simulated users (benchmarks/usage_sim.py, the tray left on day and night, a
poll every 120 s: the most readings a user can produce) through the real HistoryStore, as the
tray does, into a temporary directory; prints per user the readings offered, the rows stored, the
file size (after a WAL checkpoint) and the time one `record` takes. `--chart` also draws the last
7 days of the first user.
Measurements, not tests: nothing here fails a build.
"""
from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.usage_sim import simulate_user
from tray_monitor.history import MAX_BYTES, HistoryStore
from tray_monitor.model import ExtraUsage, Reading, UsageWindow
from tray_monitor.state import MonitorState
from tray_monitor.view import view


def readings(seed: int, days: int):
    run = simulate_user(seed, weeks=(days + 6) // 7, always_on=True)
    first = run.polls[0].at
    spent = 0.0
    for poll in run.polls:
        if (poll.at - first).days >= days:
            break
        spent += 0.01 if poll.percents["five_hour"] >= 100 else 0.0  # extra usage while the session is full
        yield Reading((
            UsageWindow("five_hour", "Session (5h)", poll.percents["five_hour"], poll.resets["five_hour"],
                        kind="session"),
            UsageWindow("seven_day", "Weekly", poll.percents["seven_day"], poll.resets["seven_day"], kind="weekly"),
        ), ExtraUsage(True, round(spent, 2), 50.0, "USD", spent * 2), poll.at)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--users", type=int, default=5)
    parser.add_argument("--chart", type=Path)
    args = parser.parse_args(argv)
    print(f"{args.days} simulated days, a poll every 120 s day and night; bound {MAX_BYTES / 1024 / 1024:.0f} MiB")
    print(f"{'user':>5} {'readings':>9} {'rows':>7} {'file KiB':>9} {'record() median':>16} {'p99':>8} "
          f"{'digest()':>9} {'+profiles':>10} {'view()':>8}")
    for seed in range(args.users):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "history.sqlite3"
            store = HistoryStore(path)
            timings = []
            offered = 0
            last = None
            for reading in readings(seed, args.days):
                t0 = time.perf_counter()
                store.record(reading)
                timings.append(time.perf_counter() - t0)
                offered += 1
                last = reading
            # what each poll adds after record(): the digest (this cycle's readings; the usual-hours
            # profiles only every 6 h) and one view with the forecasts
            assert last is not None
            fresh = HistoryStore(path)
            t0 = time.perf_counter()
            digest = fresh.digest(last.fetched_at, timezone.utc)  # first call: with the profiles
            with_profiles = time.perf_counter() - t0
            t0 = time.perf_counter()
            for _ in range(20):
                digest = fresh.digest(last.fetched_at, timezone.utc)
            digest_time = (time.perf_counter() - t0) / 20
            state = MonitorState(reading=last, history=digest)
            t0 = time.perf_counter()
            for _ in range(200):
                view(state, last.fetched_at)
            view_time = (time.perf_counter() - t0) / 200
            store.close()
            conn = sqlite3.connect(path)
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            rows = conn.execute("SELECT count(*) FROM window_readings").fetchone()[0]
            rows += conn.execute("SELECT count(*) FROM extra_usage").fetchone()[0]
            conn.close()
            timings.sort()
            print(f"{seed:>5} {offered:>9} {rows:>7} {path.stat().st_size / 1024:>9.0f} "
                  f"{statistics.median(timings) * 1e6:>13.0f} us {timings[int(len(timings) * 0.99)] * 1e6:>5.0f} us "
                  f"{digest_time * 1e3:>6.1f} ms {with_profiles * 1e3:>7.0f} ms {view_time * 1e3:>5.2f} ms")
            if args.chart and seed == 0 and last is not None:
                from tray_monitor.chart import render_chart

                render_chart(store.windows(last.fetched_at.replace(year=2000)), last.fetched_at, timezone.utc).save(
                    args.chart)
                print(f"chart of user 0's last 7 days: {args.chart}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
