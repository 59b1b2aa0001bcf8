"""How long the poller's Claude Code activity check takes on a big transcript store.

    .venv/bin/python benchmarks/activity_bench.py [--transcripts 5000] [--projects 100] [--checks 2000]

Builds `--transcripts` transcript files in `--projects` project folders (a temporary
~/.claude/projects), then calls `TranscriptActivity.latest()` `--checks` times while a simulated
Claude Code appends to one transcript every 10 checks and starts a new session every 200; prints
median, p90, p99 and max in milliseconds (full scans included, every FULL_SCAN_EVERY checks), and
that every write was seen. The target is a median of at most 1 ms.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

from tray_monitor.activity import FULL_SCAN_EVERY, TranscriptActivity

TARGET_MS = 1.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transcripts", type=int, default=5000)
    parser.add_argument("--projects", type=int, default=100)
    parser.add_argument("--checks", type=int, default=2000)
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="activity-bench-")) / "projects"
    old = time.time() - 30 * 86400
    files = []
    for index in range(args.transcripts):
        folder = root / f"-home-u-src-project{index % args.projects}"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{index:08x}-session.jsonl"
        path.write_text('{"type":"user"}\n')
        os.utime(path, (old, old))
        files.append(path)
    activity = TranscriptActivity(root)
    activity.latest()  # the first call scans everything (at start-up, not at each poll)
    timings, missed = [], 0
    current = files[len(files) // 2]
    for check in range(args.checks):
        wrote = None
        if check % 200 == 0:
            current = root / f"-home-u-src-project{check % args.projects}" / f"new-{check}.jsonl"
        if check % 10 == 0:
            with open(current, "a") as f:
                f.write('{"type":"assistant"}\n')
            wrote = current.stat().st_mtime
        started = time.perf_counter()
        latest = activity.latest()
        timings.append((time.perf_counter() - started) * 1000)
        if wrote is not None and (latest is None or latest < wrote):
            missed += 1
    timings.sort()
    median = statistics.median(timings)
    print(f"activity check: {args.transcripts} transcripts in {args.projects} projects, {args.checks} checks "
          f"(a full scan every {FULL_SCAN_EVERY}); {platform.python_implementation()} {platform.python_version()}, "
          f"load {os.getloadavg()[0]:.2f}")
    print(f"median {median:.3f} ms   p90 {timings[int(len(timings) * 0.9)]:.3f} ms   "
          f"p99 {timings[int(len(timings) * 0.99)]:.3f} ms   max {timings[-1]:.3f} ms   "
          f"{'PASS' if median <= TARGET_MS else 'MISS'} (target median <= {TARGET_MS:g} ms)")
    print(f"writes seen at the next check: {args.checks // 10 - missed} of {args.checks // 10}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
