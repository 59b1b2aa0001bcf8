"""A tiny tray app for the real-desktop tests: a TrayAdapter showing a hand-made reading.

    python tests/tray_driver.py [--status FILE] [--percent 78] [--run-for 60]

Shows the view for --percent, then reads commands on stdin, one per line:
    show <percent>   show the view for another percent      -> "shown <percent> redraws=<n>"
    title <text>     show the same view with another tooltip -> "titled"
    stop             leave the tray loop
Every event is one line appended to the status file: "ready backend=<name> has_menu=<bool>",
"action <name> [<args>]", "exited". Quit in the menu stops the tray. `kill -USR1 <pid>` dumps the
stacks of every thread to stderr (the xorg backend's stop hung once in about 90 runs upstream).
"""
from __future__ import annotations

import argparse
import faulthandler
import os
import signal
import sys
import threading
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

NOW = datetime(2026, 9, 1, 12, 0, tzinfo=timezone.utc)


def make_view(percent: float):
    """The View the driver shows for a percent: a five-hour window (binding) and a weekly one."""
    from tray_monitor.model import Reading, UsageWindow
    from tray_monitor.state import MonitorState
    from tray_monitor.view import view

    reading = Reading(
        windows=(
            UsageWindow("five_hour", "Session (5h)", percent, NOW + timedelta(hours=2, minutes=11),
                        active=True, kind="session"),
            UsageWindow("seven_day", "Weekly", 40.0, NOW + timedelta(days=3, hours=4), kind="weekly"),
        ),
        extra_usage=None,
        fetched_at=NOW,
    )
    state = MonitorState(reading=reading, plan="Max 5x", last_attempt_at=NOW, next_poll_at=NOW + timedelta(minutes=2))
    return view(state, NOW)


def main(argv: list[str] | None = None) -> int:
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    parser = argparse.ArgumentParser()
    default_status = os.environ.get("CLAUDE_TRAY_TEST_STATUS")  # set by the start_app fixture
    parser.add_argument("--status", type=Path, default=default_status, required=default_status is None)
    parser.add_argument("--percent", type=float, default=78)
    parser.add_argument("--run-for", type=float, default=60, help="stop by itself after this many seconds")
    args = parser.parse_args(argv)

    status_lock = threading.Lock()

    def event(line: str) -> None:
        with status_lock, args.status.open("a", encoding="utf-8") as status:
            status.write(line + "\n")

    from tray_monitor.environment import Environment
    from tray_monitor.tray import NoGraphicalSession, TrayActions, TrayAdapter

    holder: dict = {}

    def action(name: str, then=None):
        def run(*values):
            event(" ".join(["action", name, *map(str, values)]))
            if then:
                then()
        return run

    actions = TrayActions(
        refresh=action("refresh"),
        show_status=action("show_status"),
        open_usage_page=action("open_usage_page"),
        quit=action("quit", then=lambda: holder["tray"].stop()),
        toggle_notifications=action("toggle_notifications"),
        send_test_notification=action("send_test_notification"),
        toggle_autostart=action("toggle_autostart"),
        autostart_enabled=lambda: False,
    )
    try:
        tray = TrayAdapter(Environment.from_os(), actions)
    except NoGraphicalSession as exc:
        print(exc, file=sys.stderr)
        event("no-graphical-session")
        return 2
    holder["tray"] = tray
    current = make_view(args.percent)
    tray.show(current)

    def commands() -> None:
        nonlocal current
        for line in sys.stdin:
            verb, _, rest = line.strip().partition(" ")
            if verb == "show":
                current = make_view(float(rest))
                tray.show(current)
                event(f"shown {rest} redraws={tray.redraw_count}")
            elif verb == "title":
                tray.show(replace(current, tooltip=rest))
                event("titled")
            elif verb == "stop":
                break
        tray.stop()

    def ready() -> None:
        event(f"ready backend={tray.backend} has_menu={tray.has_menu}")
        threading.Thread(target=commands, name="driver-stdin", daemon=True).start()

    timer = threading.Timer(args.run_for, tray.stop)
    timer.daemon = True
    timer.start()
    tray.run(ready)
    timer.cancel()
    event("exited")
    return 0


if __name__ == "__main__":
    sys.exit(main())
