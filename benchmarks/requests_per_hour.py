"""Requests per hour to the usage endpoint, per regime, from the tray's own poll loop.

    .venv/bin/python benchmarks/requests_per_hour.py [--hours 1] [--interval 120] [--feed-every 20]

The real `Poller` (its schedule, its statusline intake) and the real `Monitor` run on a FakeClock
for `--hours` simulated hours, against a source that counts reads and answers a reading whose
windows reset beyond the run (so reset polls do not blur the comparison; a real session window
adds one request per reset, i.e. per 5 h). A real hour per regime is not practical in a test run,
so time is simulated: the loop does exactly what the tray's thread does, only the waiting is
skipped. tests/test_shared_desktop.py checks the statusline regime against the real tray in real
time (a statusline every 10 s holds the tray's request back).

Regimes:
- statusline: Claude Code's statusline hands over a reading every `--feed-every` seconds;
- idle: no statusline, nobody working;
- active: no statusline, Claude Code working (writing transcripts) all hour.
Each regime runs from the tray's start; the idle one is also shown for its second hour (the
stretch to 10 minutes has then settled), which is what a machine left alone pays.
Before issue 13 every regime cost 3600 / interval = 30 requests per hour at the default 120 s.
"""
from __future__ import annotations

import argparse
import random
from datetime import timedelta

from tray_monitor.alerts import AlertMemory
from tray_monitor.clock import FakeClock
from tray_monitor.model import Credentials, Reading, UsageWindow
from tray_monitor.monitor import Monitor
from tray_monitor.notifier import NullNotifier
from tray_monitor.poller import Poller
from tray_monitor.schedule import JITTER, MIN_INTERVAL
from tray_monitor.shared_reading import FedReading, FedWindow
from tray_monitor.state import MonitorState


class CountingSource:
    min_interval = MIN_INTERVAL

    def __init__(self, clock: FakeClock, hours: float):
        self.clock = clock
        self.reads = 0
        self.far = clock.now() + timedelta(hours=hours + 200)

    def read(self) -> tuple[Reading, Credentials]:
        self.reads += 1
        windows = (UsageWindow("five_hour", "Session (5h)", 40.0, self.far, kind="session"),
                   UsageWindow("seven_day", "Weekly", 30.0, self.far, kind="weekly"))
        return Reading(windows, None, self.clock.now()), Credentials(access_token="x", source="bench")

    def store_fingerprint(self) -> object:
        return None


class Activity:
    """What the poller may ask about Claude Code's activity (none, or writing all the time)."""

    def __init__(self, clock: FakeClock, active: bool):
        self.clock, self.active = clock, active

    def __call__(self) -> float | None:
        return self.clock.now().timestamp() if self.active else None  # "a transcript written just now"


def run(regime: str, hours: float, interval: float, feed_every: float, seed: int = 13) -> int:
    clock = FakeClock()
    source = CountingSource(clock, hours)
    monitor = Monitor(MonitorState(interval=interval, alert_memory=AlertMemory()), clock, NullNotifier(), None)
    # As app.tray builds it: jittered waits, the transcript activity check (here scripted).
    poller = Poller(source, monitor, clock, interval, jitter=JITTER, rng=random.Random(seed),
                    activity=Activity(clock, regime == "active"))
    end = clock.monotonic() + hours * 3600
    next_feed = clock.monotonic() + feed_every if regime == "statusline" else float("inf")
    while clock.monotonic() < end:
        if clock.monotonic() >= next_feed:
            far = source.far
            poller.feed_statusline(FedReading(clock.now(), (FedWindow("five_hour", 41.0, far),
                                                            FedWindow("seven_day", 30.0, far))))
            next_feed += feed_every
        wait = poller.step_once()
        clock.advance(max(0.01, min(wait, next_feed - clock.monotonic(), end - clock.monotonic())))
    return source.reads


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=1.0)
    parser.add_argument("--interval", type=float, default=120.0)
    parser.add_argument("--feed-every", type=float, default=20.0)
    args = parser.parse_args()
    print(f"requests per hour to the usage endpoint (interval {args.interval:g} s, simulated {args.hours:g} h, "
          f"statusline every {args.feed_every:g} s)")
    print(f"{'regime':40} {'requests/h':>10}   before issue 13")
    before = 3600 / args.interval
    for regime, label in (("statusline", "statusline feeding the tray"), ("idle", "idle (no statusline, no work)"),
                          ("active", "active without a statusline")):
        reads = run(regime, args.hours, args.interval, args.feed_every)
        print(f"{label:40} {reads / args.hours:10.1f}   {before:.0f}")
        if regime == "idle":
            second = run(regime, args.hours + 1, args.interval, args.feed_every) - reads
            print(f"{'idle, the hour after that':40} {second:10.1f}   {before:.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
