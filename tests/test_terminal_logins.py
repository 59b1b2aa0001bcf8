"""`watch` with several logins, its layout alone (terminal.logins_screen, pure): whatever the
console's size and the logins' states, never wider than columns - 1 nor taller than rows - 1, each
login's box titled with its header while one line a login fits, as much detail as fits (bars
first, one line a login last), colour taking no columns."""
from __future__ import annotations

import json
import re
import sys
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tray_monitor.accounts_view import AccountView, combined_view
from tray_monitor.alerts import AlertSettings
from tray_monitor.errors import AuthExpired, RateLimited
from tray_monitor.fmt import text_width
from tray_monitor.parse import parse_usage
from tray_monitor.state import MonitorState
from tray_monitor.terminal import ASCII, UNICODE, logins_screen, printable
from tray_monitor.view import View, view

NOW = datetime(2026, 9, 10, 15, 49, tzinfo=timezone.utc)
FIXTURES = Path(__file__).parent / "fixtures" / "usage"
SGR = re.compile(r"\x1b\[[0-9;]*m")


def reading(name: str):
    return parse_usage(json.loads((FIXTURES / name).read_text()), fetched_at=NOW - timedelta(minutes=1))


def login_view(kind: str) -> View:
    work = AlertSettings(claude_command="CLAUDE_CONFIG_DIR=~/.claude-work claude")
    if kind == "expired":
        return view(MonitorState(problem=AuthExpired("x"), alert_settings=work), NOW)
    if kind == "rate_limited":
        return view(MonitorState(reading=reading("overage.json"), plan="Max 5x", problem=RateLimited("x"),
                                 next_poll_at=NOW + timedelta(minutes=15)), NOW)
    if kind == "loading":
        return view(MonitorState(), NOW)
    return view(MonitorState(reading=reading(kind), plan="Max 20x", next_poll_at=NOW + timedelta(minutes=2)), NOW)


KINDS = ["expired", "rate_limited", "loading", "overage.json", "small-2026-03.json", "limits-2026-08.json"]
LABELS = ["default", "me@work.example", "a-very-long-organisation-name-indeed.example", "play"]


def sections_of(kinds: list[str]) -> tuple[tuple[str, View], ...]:
    combined = combined_view([AccountView(LABELS[i], LABELS[i], login_view(k)) for i, k in enumerate(kinds)])
    return combined.sections


@settings(max_examples=150, deadline=None)
@given(kinds=st.lists(st.sampled_from(KINDS), min_size=2, max_size=4), columns=st.integers(10, 200),
       rows=st.integers(2, 80), colour=st.booleans(), unicode=st.booleans())
def test_any_logins_on_any_console_stay_inside_it_and_keep_each_title_while_a_line_each_fits(
        kinds, columns, rows, colour, unicode):
    charset = replace(UNICODE if unicode else ASCII, colour=colour)
    sections = sections_of(kinds)
    screen = logins_screen(sections, NOW, columns, rows, charset)
    plain = [SGR.sub("", line) for line in screen]
    assert len(screen) <= rows - 1 or (rows <= 1 and len(screen) == 1)
    assert all(text_width(line) <= max(1, columns - 1) for line in plain), plain
    assert all("\x1b" not in line for line in screen) or colour
    across = max(1, min(len(kinds), columns // 39))
    if columns >= 40 and rows - 2 >= 3 * -(-len(kinds) // across):  # a box of one line each fits
        titles = "\n".join(plain)
        for header, _ in sections:
            assert printable(header[:8], charset) in titles


def test_the_most_detail_that_fits_bars_first_then_forecasts_then_one_line_a_window():
    sections = sections_of(["small-2026-03.json", "overage.json"])

    def shown(rows: int) -> str:
        return "\n".join(logins_screen(sections, NOW, 40, rows, UNICODE))

    tall, medium, short = shown(80), shown(30), shown(16)
    assert "█" in tall
    assert "█" not in medium and "resets in" in medium
    assert "resets in" not in short and re.search(r"Current session +\d+%( !+)? \d+h \d\dm \d\ds", short), short


def test_a_login_in_trouble_keeps_its_advice_when_only_one_line_fits():
    sections = sections_of(["overage.json", "expired"])
    screen = logins_screen(sections, NOW, 60, 10, UNICODE)
    assert len(screen) == 9 and "█" not in "".join(screen) and "resets in" not in "".join(screen)
    # Wrapped at its own joint and at spaces: the command stays whole on one line, ready to copy.
    assert [line.strip("│ ") for line in screen[4:7]] == [
        "Login expired", "run CLAUDE_CONFIG_DIR=~/.claude-work claude in a", "terminal"], screen


def test_side_by_side_from_two_boxes_of_38_columns():
    sections = sections_of(["small-2026-03.json", "overage.json", "limits-2026-08.json"])
    assert logins_screen(sections, NOW, 79, 60, UNICODE)[0].count("┌") == 2
    assert logins_screen(sections, NOW, 78, 60, UNICODE)[0].count("┌") == 2  # 38 + 1 + 38 columns
    assert logins_screen(sections, NOW, 77, 60, UNICODE)[0].count("┌") == 1
    assert logins_screen(sections, NOW, 160, 60, UNICODE)[0].count("┌") == 3
    assert max(len(line) for line in logins_screen(sections, NOW, 400, 60, UNICODE)) <= 3 * 56 + 2  # 56 at most


# ----------------------------------------------------------------------------- Ctrl+C


@pytest.mark.skipif(sys.platform == "win32", reason="os.kill(SIGINT) to itself is POSIX")
@pytest.mark.parametrize("terminal", [True, False])
@pytest.mark.parametrize("delay", [0.05, 0.3, 0.77, 1.2])
def test_ctrl_c_at_any_moment_ends_watch_with_130_and_puts_the_handler_back(terminal, delay):
    """A real SIGINT to this process while watch draws, waits or follows the monitor: exit 130, the
    poller stopped, the cursor shown, Python's own Ctrl+C handling back afterwards."""
    import io
    import os
    import signal
    import threading

    from tray_monitor.clock import FakeClock
    from tray_monitor.environment import Environment
    from tray_monitor.monitor import Monitor
    from tray_monitor.terminal import SHOW_CURSOR, run_watch

    class Out(io.StringIO):
        encoding = "utf-8"

        def isatty(self) -> bool:
            return terminal

    class Poller:
        started = stopped = False

        def start(self) -> None:
            self.started = True

        def stop(self) -> None:
            self.stopped = True

    class Null:
        def send(self, notification) -> None: ...

        def save(self, memory) -> None: ...

    monitor = Monitor(MonitorState(reading=reading("overage.json"), plan="Max 5x"), FakeClock(NOW), Null(), Null())
    env = Environment.from_os(environ={"COLUMNS": "40"}, stdout=Out(), stderr=Out(), clock=FakeClock(NOW))
    poller = Poller()
    # Python's own handling as this process started: default_int_handler, or SIG_IGN for a job
    # started in the background by a non-interactive shell (`cmd &`), which Python keeps
    before = signal.getsignal(signal.SIGINT)
    timer = threading.Timer(delay, os.kill, (os.getpid(), signal.SIGINT))
    started = time.monotonic()
    timer.start()
    try:
        code = run_watch(monitor, poller, env, threading.Event())
    finally:
        timer.cancel()
    assert code == 130 and poller.started and poller.stopped
    assert time.monotonic() - started < delay + 1.0
    assert signal.getsignal(signal.SIGINT) is before
    if terminal:
        assert env.stdout.getvalue().endswith(SHOW_CURSOR)


# ----------------------------------------------------------------------------- the login command kept whole


@pytest.mark.parametrize("command", ["CLAUDE_CONFIG_DIR=~/.claude-work claude",
                                     '$env:CLAUDE_CONFIG_DIR="$HOME\\.claude-work"; claude'])
@settings(max_examples=40, deadline=None)
@given(width=st.integers(10, 80), before=st.sampled_from(["Login expired — run", "log in there with", "run"]))
def test_a_login_command_stays_on_one_line_whenever_it_fits(command, width, before):
    from tray_monitor.fmt import text_width as columns
    from tray_monitor.terminal import wrap_text

    text = f"{before} {command} in a terminal, or stop reading it: claude-tray accounts remove work"
    lines = wrap_text(text, width)
    assert all(columns(line) <= width for line in lines)
    assert re.sub(r"\s|—", "", "".join(lines)) == re.sub(r"\s|—", "", text)  # nothing lost or added
    if columns(command) <= width:
        assert any(command in line for line in lines), lines
