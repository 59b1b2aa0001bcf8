"""What several logins cost the tray (issue 15), per call, in-process:

    .venv/bin/python -m benchmarks.accounts_costs [--repeat 2000]

- `render_icon` with and without the other-login mark (the corner dot), at the sizes the tray
  draws (16-64 px, colour and template), median microseconds per image;
- `SettingsFilesCheck.changed()`: the two stat() calls the tray makes after each view of the
  default login (how a hand-edited settings.toml reaches a running tray);
- the combined view of 1, 2 and 3 logins (`MonitorGroup.view()` over real monitors), which the
  tray computes whenever any login's view changes; with one login its own view is handed through.

Measurements, not tests: nothing here fails a build.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def median_us(call, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2000)
    repeat = parser.parse_args().repeat

    from tests.envs import temp_env
    from tests.fakeapi import usage_fixture
    from tray_monitor.alerts import AlertMemory
    from tray_monitor.clock import FakeClock
    from tray_monitor.icon import render_icon
    from tray_monitor.model import IconSpec
    from tray_monitor.monitor import Monitor
    from tray_monitor.notifier import NullNotifier
    from tray_monitor.parse import parse_usage
    from tray_monitor.state import MonitorState, PollSucceeded
    from tray_monitor.tray_accounts import AccountPart, MonitorGroup, SettingsFilesCheck

    print(f"render_icon, median us per image ({repeat} runs; plain -> with the mark)")
    for template in (False, True):
        for size in (16, 22, 24, 32, 48, 64):
            def draw(mark: bool, size: int = size, template: bool = template) -> None:
                render_icon(IconSpec("ok", 42, 30, "normal", mark), size, template=template)

            plain = median_us(lambda: draw(False), repeat)
            marked = median_us(lambda: draw(True), repeat)
            print(f"  {'template' if template else 'colour':8} {size:3d} px: {plain:7.1f} -> {marked:7.1f}"
                  f"  (+{marked - plain:.1f})")

    with tempfile.TemporaryDirectory() as folder:
        env = temp_env(Path(folder))
        check = SettingsFilesCheck(env)
        print(f"SettingsFilesCheck.changed(), no change: {median_us(check.changed, repeat):.1f} us")

        now = datetime.now(timezone.utc)
        reading = parse_usage(json.loads(usage_fixture("small-2026-03")), now)
        clock = FakeClock(now)
        monitors = []
        for _ in range(3):
            monitor = Monitor(MonitorState(interval=120, alert_memory=AlertMemory()), clock, NullNotifier(), None)
            monitor.handle(PollSucceeded(reading, "Max 5x"))
            monitors.append(monitor)
        for count in (1, 2, 3):
            group = MonitorGroup([AccountPart(f"a{i}", f"a{i}", m, None) for i, m in enumerate(monitors[:count])])
            print(f"combined view of {count} login{'s' if count > 1 else ''}: "
                  f"{median_us(group.view, max(200, repeat // 10)):.0f} us")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
