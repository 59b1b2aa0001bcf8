"""The terminal front end: `status`, `status --json`, and `watch` (in a real pseudo-terminal)."""
from __future__ import annotations

import io
import json
import logging
import os
import re
import select
import sys
import textwrap
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tray_monitor.clock import FakeClock
from tray_monitor.environment import Environment
from tray_monitor.errors import (
    AuthExpired,
    BadResponse,
    ConfigError,
    CredentialsNotFound,
    CredentialsUnreadable,
    RateLimited,
    ScopeMissing,
    Transient,
)
from tray_monitor.model import Credentials, ExtraUsage, Reading, UsageWindow
from tray_monitor.monitor import Monitor
from tray_monitor.parse import parse_usage
from tray_monitor.state import MonitorState, PollFailed, PollScheduled, PollSucceeded, Tick
from tray_monitor.terminal import (
    ASCII,
    SHOW_CURSOR,
    UNICODE,
    charset_for,
    console_size,
    run_status,
    run_watch,
    watch_screen,
    wrap_text,
)
from tray_monitor.view import view

UTC = timezone.utc
NOW = datetime(2026, 9, 10, 15, 49, tzinfo=UTC)  # 17:49 in Berlin
FIXTURES = Path(__file__).parent / "fixtures" / "usage"
REPO = Path(__file__).resolve().parent.parent
MAX_CREDS = Credentials("sk-ant-oat01-test", "test", subscription_type="max", rate_limit_tier="default_claude_max_5x")


@pytest.fixture(autouse=True)
def berlin(local_time_zone):
    local_time_zone("Europe/Berlin")


class Utf8Out(io.StringIO):
    encoding = "utf-8"


class AsciiOut(io.StringIO):
    encoding = "ascii"


def make_env(columns=80, stdout=None, clock=None, platform="linux", **environ):
    return Environment.from_os(
        environ={"COLUMNS": str(columns), **environ},
        stdout=stdout if stdout is not None else Utf8Out(),
        stderr=Utf8Out(),
        clock=clock or FakeClock(NOW),
        platform=platform,
    )


class FakeSource:
    """A source whose read() returns one reading or raises one error (the status command reads once)."""

    def __init__(self, outcome, creds=MAX_CREDS):
        self.outcome, self.creds, self.reads = outcome, creds, 0

    def read(self):
        self.reads += 1
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome, self.creds


def fixture_reading(name, fetched_at=NOW - timedelta(minutes=1)):
    return parse_usage(json.loads((FIXTURES / name).read_text()), fetched_at=fetched_at)


FIXTURE_NAMES = sorted(p.name for p in FIXTURES.glob("*.json"))

# ----------------------------------------------------------------------------- status


def test_status_prints_every_window_with_bar_reset_plan_and_time():
    env = make_env(columns=80)
    code = run_status(FakeSource(fixture_reading("overage.json")), env, as_json=False, now=NOW)
    assert code == 0
    # The run-out time is projected from the reading (a minute before NOW), not from NOW: Sat 01:59,
    # shown to the hour (a day and more away: forecast_view.runout_step), rounded down.
    assert env.stdout.getvalue() == textwrap.dedent(
        """\
        Claude usage · Max 5x
        Current session                            104% !!
        ██████████████████████████████████████████████████
        resets in 2h 11m (20:00)

        Current week (all models)                      71%
        ████████████████████████████████████░░░░░░░░░░░░░░
        resets in 3d 17h (Mon 11:00)
        pace 1.5x · runs out Sat 01:00

        Session limit reached, resets at 20:00
        Extra usage: $12.34 of $50.00 (24%)
        Updated 17:48
        """
    )
    assert env.stderr.getvalue() == ""


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_status_shows_every_window_of_every_recorded_body(name):
    reading = fixture_reading(name)
    env = make_env(columns=80)
    assert run_status(FakeSource(reading), env, as_json=False, now=NOW) == 0
    out = env.stdout.getvalue()
    for window in reading.windows:
        assert window.label in out
    assert out.count("resets in") + out.count("not started") + out.count("resets now") == len(reading.windows)
    assert "Updated 17:48" in out


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_status_json_of_every_recorded_body_is_the_stable_object(name):
    reading = fixture_reading(name)
    env = make_env()
    assert run_status(FakeSource(reading), env, as_json=True, now=NOW) == 0
    data = json.loads(env.stdout.getvalue())
    assert set(data) == {"status", "plan", "updated_at", "message", "skipped_windows", "notices", "windows", "extra_usage",
                         "from_tray", "binding"}
    assert data["binding"] is None or data["binding"] in [w.id for w in reading.windows]
    assert data["status"] == "ok" and data["plan"] == "Max 5x" and data["message"] is None
    assert datetime.fromisoformat(data["updated_at"]) == reading.fetched_at
    assert [w["id"] for w in data["windows"]] == [w.id for w in reading.windows]
    assert data["skipped_windows"] == reading.skipped == 0 and data["notices"] == []
    for item, window in zip(data["windows"], reading.windows, strict=False):
        assert set(item) == {"id", "label", "percent", "resets_at", "severity", "active", "forecast"}
        assert set(item["forecast"]) == {"pace", "projected_percent", "runs_out_at", "reason"}
        assert (item["forecast"]["pace"] is None) == (item["forecast"]["reason"] is not None)
        assert item["percent"] == window.percent
        assert item["active"] == window.active
        assert item["severity"] in ("normal", "warning", "critical")
        if window.resets_at is None:
            assert item["resets_at"] is None
        else:
            parsed = datetime.fromisoformat(item["resets_at"])
            assert parsed.utcoffset() is not None and parsed == window.resets_at
    if reading.extra_usage is None:
        assert data["extra_usage"] is None
    else:
        assert set(data["extra_usage"]) == {"enabled", "used", "limit", "currency", "percent", "decimal_places",
                                            "disabled_reason"}


def test_status_json_keeps_overage_percent_raw_and_extra_usage_in_major_units():
    env = make_env()
    run_status(FakeSource(fixture_reading("overage.json")), env, as_json=True, now=NOW)
    data = json.loads(env.stdout.getvalue())
    assert data["windows"][0]["forecast"]["runs_out_at"] is not None  # tests below look at the forecast
    del data["windows"][0]["forecast"]
    assert data["windows"][0] == {
        "id": "five_hour",
        "label": "Current session",
        "percent": 104.0,
        "resets_at": "2026-09-10T18:00:00.000412+00:00",
        "severity": "critical",
        "active": True,
    }
    assert data["extra_usage"] == {"enabled": True, "used": 12.34, "limit": 50.0, "currency": "USD", "percent": 24.68,
                                   "decimal_places": 2, "disabled_reason": None}


FAILURES = [
    (CredentialsNotFound("No login at ~/.claude/.credentials.json."), "signed_out",
     "No Claude Code login — install Claude Code and run claude, or try claude-tray --demo"),
    (AuthExpired("The login expired."), "expired", "Login expired — run claude in a terminal"),
    (ScopeMissing("403 scope"), "no_scope", "This login cannot read usage (setup token) — log in with claude"),
    (RateLimited("429", retry_after=None), "rate_limited",
     "Rate limited by the usage endpoint — try again in a few minutes"),
    (RateLimited("429", retry_after=1800), "rate_limited",
     "Rate limited by the usage endpoint — try again after 18:19"),
    (Transient("Could not reach https://api.anthropic.com: timed out; check the network."), "error",
     "Could not reach https://api.anthropic.com: timed out; check the network."),
    (BadResponse("The usage endpoint answered with HTML instead of JSON."), "error",
     "The usage endpoint answered with HTML instead of JSON."),
    (CredentialsUnreadable("~/.claude/.credentials.json is not valid JSON."), "error",
     "~/.claude/.credentials.json is not valid JSON."),
    (ConfigError("CLAUDE_TRAY_API_URL must be https."), "error", "CLAUDE_TRAY_API_URL must be https."),
]


@pytest.mark.parametrize("error, status, message", FAILURES, ids=[f"{type(f[0]).__name__}-{i}" for i, f in enumerate(FAILURES)])
def test_status_failure_exits_1_with_one_sentence_on_stderr(error, status, message):
    env = make_env()
    assert run_status(FakeSource(error), env, as_json=False, now=NOW) == 1
    assert env.stdout.getvalue() == ""
    assert env.stderr.getvalue() == f"claude-tray: {message}\n"


@pytest.mark.parametrize("error, status, message", FAILURES, ids=[f"{type(f[0]).__name__}-{i}" for i, f in enumerate(FAILURES)])
def test_status_json_failure_still_prints_the_object(error, status, message):
    env = make_env()
    assert run_status(FakeSource(error), env, as_json=True, now=NOW) == 1
    assert json.loads(env.stdout.getvalue()) == {
        "status": status,
        "plan": None,
        "updated_at": None,
        "message": message,
        "skipped_windows": 0,
        "notices": [],
        "windows": [],
        "extra_usage": None,
        "from_tray": False,
    }


def test_status_never_prints_the_token():
    env = make_env()
    run_status(FakeSource(fixture_reading("overage.json")), env, as_json=True, now=NOW)
    run_status(FakeSource(fixture_reading("overage.json")), env, as_json=False, now=NOW)
    assert "sk-ant" not in env.stdout.getvalue() + env.stderr.getvalue()


def test_status_fits_a_40_column_console():
    reading = Reading(
        (UsageWindow("seven_day_x", "Weekly · A model with an extremely long display name", 12.0,
                     NOW + timedelta(days=2), kind="weekly_scoped"),),
        ExtraUsage(True, 1234.5, 5000.0, "CHF", None),
        NOW,
    )
    env = make_env(columns=40)
    run_status(FakeSource(reading), env, as_json=False, now=NOW)
    lines = env.stdout.getvalue().splitlines()
    assert max(len(line) for line in lines) <= 39
    assert "Weekly · A model with an extremely… 12%" in lines
    assert "Extra usage: 1,234.50 CHF of 5,000.00" in lines and "CHF (24%)" in lines


def test_status_of_a_reading_without_windows_says_so():
    env = make_env()
    assert run_status(FakeSource(Reading((), None, NOW)), env, as_json=False, now=NOW) == 0
    assert "The usage endpoint listed no limits." in env.stdout.getvalue()


def test_status_on_an_ascii_console_uses_ascii_bars_and_punctuation():
    env = make_env(columns=60, stdout=AsciiOut())
    run_status(FakeSource(fixture_reading("limits-2026-08.json")), env, as_json=False, now=NOW)
    out = env.stdout.getvalue()
    out.encode("ascii")  # would raise on any character the console cannot show
    assert "Current week (Fable)" in out and "#" in out


def test_status_failure_on_an_ascii_console_is_still_one_readable_sentence():
    env = Environment.from_os(environ={}, stdout=AsciiOut(), stderr=AsciiOut(), clock=FakeClock(NOW))
    run_status(FakeSource(AuthExpired("x")), env, as_json=False, now=NOW)
    assert env.stderr.getvalue() == "claude-tray: Login expired - run claude in a terminal\n"


# ----------------------------------------------------------------------------- layout helpers


def test_charset_follows_the_stream_encoding():
    assert charset_for(Utf8Out()) is UNICODE
    assert charset_for(AsciiOut()) is ASCII

    class Unknown(io.StringIO):
        encoding = "no-such-codec"

    assert charset_for(Unknown()) is ASCII


def test_console_size_prefers_columns_then_the_console():
    assert console_size(make_env(columns=40))[0] == 40


def test_console_size_ignores_a_bad_columns_value_and_a_stream_without_a_console():
    env = Environment.from_os(environ={"COLUMNS": "wide"}, stdout=Utf8Out(), clock=FakeClock(NOW))
    columns, rows = console_size(env)
    assert columns > 0 and rows > 0


def test_wrap_text_breaks_at_the_texts_own_joints():
    assert wrap_text("Last reading 9 min ago · next 18:20 · a long clause", 35) == [
        "Last reading 9 min ago",
        "next 18:20",
        "a long clause",
    ]
    assert wrap_text("Rate limited by the usage endpoint — retrying at 18:20", 35) == [
        "Rate limited by the usage endpoint",
        "retrying at 18:20",
    ]
    assert wrap_text("short", 35) == ["short"]


def many_windows_view(count=8, **state):
    windows = tuple(
        UsageWindow(f"w{i}", f"Window {i}", 10.0 * i, NOW + timedelta(hours=i + 1)) for i in range(count)
    )
    return view(MonitorState(reading=Reading(windows, None, NOW), **state), NOW)


def test_watch_screen_on_a_short_console_drops_the_bars_but_keeps_every_window():
    lines = watch_screen(many_windows_view(), NOW, 40, 24, UNICODE)
    assert len(lines) <= 23
    assert not any("░" in line for line in lines)
    assert all(any(f"Window {i}" in line for line in lines) for i in range(8))


def test_watch_screen_on_a_tiny_console_keeps_the_age_and_the_retry_time():
    v = many_windows_view(problem=RateLimited("429"), next_poll_at=NOW + timedelta(minutes=31))
    lines = watch_screen(v, NOW + timedelta(minutes=9), 40, 12, UNICODE)
    assert len(lines) <= 11
    text = "\n".join(lines)
    assert "Last reading" in text and "retrying at 18:20" in text
    assert "…" in text  # the cut windows are marked


@pytest.mark.parametrize("columns", [40, 30, 12, 5, 2])
def test_watch_screen_never_reaches_the_last_column(columns):
    lines = watch_screen(many_windows_view(2), NOW, columns, 40, UNICODE)
    assert max(len(line) for line in lines) <= max(1, columns - 1)


def test_watch_screen_before_the_first_reading_says_it_is_waiting():
    lines = watch_screen(view(MonitorState(), NOW), NOW, 40, 24, ASCII)
    assert any("Waiting for the first reading" in line for line in lines)
    assert lines[0].startswith("+- Claude usage ")


# ----------------------------------------------------------------------------- watch, not a terminal


class ScriptedPoller:
    """Reports polls (each a list of events) to the monitor from its own thread, then ends the
    watch. Before the next poll it waits until the watch printed the previous one (`printed(n)`)."""

    def __init__(self, monitor, polls, stop_event, printed=lambda n: True):
        self.monitor, self.polls, self.stop_event, self.printed = monitor, polls, stop_event, printed
        self.started = self.stopped = False

    def start(self):
        self.started = True

        def run():
            for number, events in enumerate(self.polls, start=1):
                for event in events:
                    self.monitor.handle(event)
                deadline = time.monotonic() + 5
                while not self.printed(number) and time.monotonic() < deadline:
                    self.stop_event.wait(0.01)
            self.stop_event.set()

        threading.Thread(target=run, name="scripted-poller").start()

    def stop(self):
        self.stopped = True


class NullNotifier:
    def send(self, notification):
        pass


class NullAlertStore:
    def save(self, memory):
        pass


def test_watch_without_a_terminal_prints_one_plain_block_per_poll():
    clock = FakeClock(NOW)
    monitor = Monitor(MonitorState(), clock, NullNotifier(), NullAlertStore())
    reading = fixture_reading("overage.json", fetched_at=NOW)
    stop = threading.Event()
    polls = [
        [PollSucceeded(reading, "Max 5x"), PollScheduled(NOW + timedelta(minutes=2))],
        [Tick()],  # changes nothing that a block shows: no block
        [PollFailed(RateLimited("429")), PollScheduled(NOW + timedelta(minutes=31))],
    ]
    env = make_env(columns=80, clock=clock)
    poller = ScriptedPoller(monitor, polls, stop, printed=lambda n: env.stdout.getvalue().count("Claude usage") >= min(n, 2))
    assert run_watch(monitor, poller, env, stop) == 0
    out = env.stdout.getvalue()
    assert "\x1b" not in out  # no cursor movement into a file or pipe
    blocks = re.split(r"\n\n(?=Claude usage)", out.strip("\n"))
    assert [b.splitlines()[0] for b in blocks] == ["Claude usage · Max 5x", "Claude usage · Max 5x · stale"]
    assert "Updated 17:49" in blocks[0]
    assert "resets in 2h 11m (20:00)" in blocks[0]
    assert "Last reading less than a minute ago" in blocks[1]
    assert "Rate limited by the usage endpoint\nretrying at 18:20" in blocks[1]
    assert poller.started and poller.stopped


def test_watch_ctrl_c_exits_130_and_stops_the_poller():
    class InterruptedPoller:
        stopped = False

        def start(self):
            raise KeyboardInterrupt

        def stop(self):
            self.stopped = True

    monitor = Monitor(MonitorState(), FakeClock(NOW), NullNotifier(), NullAlertStore())
    poller = InterruptedPoller()
    assert run_watch(monitor, poller, make_env(), threading.Event()) == 130
    assert poller.stopped


class FakeTerminal(Utf8Out):
    def isatty(self):
        return True


def test_watch_on_windows_without_vt_support_falls_back_to_blocks():
    # Here msvcrt is missing, exactly like a console where VT mode cannot be switched on.
    stop = threading.Event()
    stop.set()
    monitor = Monitor(MonitorState(), FakeClock(NOW), NullNotifier(), NullAlertStore())
    env = make_env(stdout=FakeTerminal(), platform="win32")
    assert run_watch(monitor, ScriptedPoller(monitor, [], stop), env, stop) == 0
    assert "\x1b" not in env.stdout.getvalue()


def test_watch_on_a_terminal_that_went_away_still_ends_cleanly():
    class VanishingTerminal(FakeTerminal):
        def write(self, text):
            if text == SHOW_CURSOR:
                raise OSError("input/output error")
            return super().write(text)

    stop = threading.Event()
    stop.set()
    monitor = Monitor(MonitorState(), FakeClock(NOW), NullNotifier(), NullAlertStore())
    env = make_env(stdout=VanishingTerminal())
    assert run_watch(monitor, ScriptedPoller(monitor, [], stop), env, stop) == 0


def test_watch_treats_a_closed_stream_as_not_a_terminal():
    stream = Utf8Out()
    stream.close()
    from tray_monitor.terminal import _is_terminal

    assert _is_terminal(stream) is False
    assert _is_terminal(object()) is False


# ----------------------------------------------------------------------------- watch in a real pty

DRIVER = r'''
import sys, threading
from datetime import timedelta
from tray_monitor.clock import SystemClock
from tray_monitor.environment import Environment
from tray_monitor.errors import RateLimited
from tray_monitor.model import Credentials, ExtraUsage, Reading, UsageWindow
from tray_monitor.monitor import Monitor
from tray_monitor.poller import Poller
from tray_monitor.state import MonitorState
from tray_monitor.terminal import run_watch

clock = SystemClock()
now = clock.now()
reading = Reading(
    windows=(
        UsageWindow("five_hour", "Current session", 78.0, now + timedelta(hours=2, minutes=11, seconds=5), kind="session"),
        UsageWindow("seven_day", "Current week (all models)", 29.0, now + timedelta(days=3, hours=4), kind="weekly"),
        UsageWindow("seven_day_fable", "Current week (Fable with a very long model name indeed)", 100.0,
                    now + timedelta(days=3, hours=4), severity="critical", active=True, kind="weekly_scoped"),
    ),
    extra_usage=ExtraUsage(True, 12.34, 50.0, "USD", 24.68),
    fetched_at=now,
)


class FakeSource:
    min_interval = 1.0  # a simulated source may be asked every second (the real one: 60 s)

    def __init__(self, mode):
        self.mode, self.calls = mode, 0

    def read(self):
        self.calls += 1
        if self.mode == "rate_limited" and self.calls > 1:
            raise RateLimited("The usage endpoint answered 429.")
        return reading, Credentials("t", "test", subscription_type="max", rate_limit_tier="default_claude_max_5x")

    def store_fingerprint(self):
        return 1


class Null:
    def send(self, n): pass
    def save(self, m): pass


mode = sys.argv[1]
interval = 1.0 if mode == "rate_limited" else 60.0
monitor = Monitor(MonitorState(interval=interval), clock, Null(), Null())
poller = Poller(FakeSource(mode), monitor, clock, interval=interval)
sys.exit(run_watch(monitor, poller, Environment.from_os(), threading.Event()))
'''


def run_in_pty(tmp_path, mode, until, columns=40, rows=24, timeout=15.0, argv=None, **env_extra):
    """Run the watch driver (or `argv`) on a pseudo-terminal of the given size; read until
    `until(output)` is true, press Ctrl+C, and return (output, exit code)."""
    import fcntl
    import pty
    import struct
    import termios

    driver = tmp_path / "watch_driver.py"
    driver.write_text(DRIVER)
    env = {**os.environ, "PYTHONPATH": str(REPO), "TZ": "Europe/Berlin", **env_extra}
    env.pop("COLUMNS", None)
    env.pop("LINES", None)
    if "NO_COLOR" not in env_extra:
        env.pop("NO_COLOR", None)
    argv = argv or [sys.executable, str(driver), mode]
    pid, fd = pty.fork()
    if pid == 0:  # the child: size its terminal before anything reads it, then run the driver
        try:
            fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
            os.execve(argv[0], argv, env)
        finally:
            os._exit(127)
    output = b""

    def read_for(seconds, stop_when=None):
        nonlocal output
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            ready, _, _ = select.select([fd], [], [], 0.05)
            if ready:
                try:
                    chunk = os.read(fd, 65536)
                except OSError:  # the child closed the terminal (it exited)
                    return False
                if not chunk:
                    return False
                output += chunk
                if stop_when is not None and stop_when(output.decode("utf-8", "replace")):
                    return True
        return True

    try:
        read_for(timeout, until)
        os.write(fd, b"\x03")  # Ctrl+C, delivered by the terminal as SIGINT
        read_for(5.0)
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(fd)
    return output.decode("utf-8", "replace"), os.waitstatus_to_exitcode(status)


SGR = re.compile(r"\x1b\[[0-9;]*m")


def frames(output, colours=False):
    """The screens drawn, as lists of lines (each frame starts at the cursor-home sequence);
    colour codes removed unless `colours`."""
    screens = []
    for frame in output.split("\x1b[H")[1:]:
        text = frame.split("\x1b[J")[0]
        if not colours:
            text = SGR.sub("", text)
        screens.append([line.replace("\x1b[K", "") for line in text.split("\r\n") if line.replace("\x1b[K", "")])
    return [s for s in screens if s]


def countdowns(output):
    return re.findall(r"resets in (2h 11m \d\ds)", output)


@pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")
def test_watch_in_a_terminal_draws_a_ticking_box_within_40_columns_and_exits_cleanly_on_ctrl_c(tmp_path):
    output, code = run_in_pty(tmp_path, "ok", until=lambda out: len(set(countdowns(out))) >= 2)
    assert code in (130, 0)
    assert "Traceback" not in output
    assert output.startswith("\x1b[?25l")  # the cursor is hidden while drawing
    assert output.rstrip().endswith(SHOW_CURSOR)  # ... and shown again on the way out
    assert len(set(countdowns(output))) >= 2  # the countdown ticks between two draws
    screen = frames(output)[-1]
    assert screen[0].startswith("┌─ Claude usage · Max 5x ")
    assert any(line.startswith("└") for line in screen)
    assert "│ Current week (Fable with a… 100% !! │" in screen
    assert any("Extra usage: $12.34 of $50.00 (24%)" in line for line in screen)
    for frame in frames(output):
        assert max(len(line) for line in frame) <= 39, frame


@pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")
def test_watch_keeps_the_last_reading_on_screen_marked_stale_when_rate_limited(tmp_path):
    output, code = run_in_pty(tmp_path, "rate_limited", until=lambda out: "retrying at" in out.split("\x1b[H")[-1])
    assert code in (130, 0)
    assert "Traceback" not in output
    screen = frames(output)[-1]
    text = "\n".join(screen)
    assert screen[0].startswith("┌─ Claude usage · Max 5x · stale ")
    assert "Current session" in text and "78%" in text
    assert "Last reading less than a minute ago" in text
    # The retry time is said once, under why; it names the weekday when it falls after midnight.
    assert re.search(r"Rate limited by the usage endpoint\s*│\n│ retrying at (\w{3} )?\d\d:\d\d", text)
    assert text.count("retrying at") == 1
    assert max(len(line) for line in screen) <= 39


def test_status_reads_a_clock_function_after_the_request():
    clock = FakeClock(NOW)

    class SlowSource(FakeSource):
        def read(self):
            clock.advance(60)  # the request took a minute
            return super().read()

    env = make_env()
    run_status(SlowSource(fixture_reading("overage.json")), env, as_json=False, now=clock.now)
    assert "resets in 2h 10m (20:00)" in env.stdout.getvalue()


def test_status_failure_with_a_clock_function_still_prints_the_sentence():
    env = make_env()
    assert run_status(FakeSource(AuthExpired("x")), env, as_json=True, now=FakeClock(NOW).now) == 1
    assert json.loads(env.stdout.getvalue())["status"] == "expired"


def test_a_failure_before_any_read_prints_the_same_json_and_sentence():
    from tray_monitor.terminal import print_failure_json

    env = make_env()
    assert print_failure_json(ConfigError("CLAUDE_TRAY_API_URL must use https."), env) == 1
    assert json.loads(env.stdout.getvalue()) == {
        "status": "error",
        "plan": None,
        "updated_at": None,
        "message": "CLAUDE_TRAY_API_URL must use https.",
        "skipped_windows": 0,
        "notices": [],
        "windows": [],
        "extra_usage": None,
        "from_tray": False,
    }
    assert env.stderr.getvalue() == "claude-tray: CLAUDE_TRAY_API_URL must use https.\n"


# ----------------------------------------------------------------------------- severity (issue 16)


def severities_served(world) -> None:
    """A signed-in user at 93 % of the session (critical), 78 % of the week (warning) and 10 % of
    Opus (normal), the week resetting in 3 days (a countdown longer than a day)."""
    from tests.fakeapi import Response

    soon, later = datetime.now(timezone.utc) + timedelta(hours=2), datetime.now(timezone.utc) + timedelta(days=3)
    world.login()
    world.api.default = Response.json({
        "five_hour": {"utilization": 93.0, "resets_at": soon.isoformat()},
        "seven_day": {"utilization": 78.0, "resets_at": later.isoformat()},
        "seven_day_opus": {"utilization": 10.0, "resets_at": later.isoformat()},
    })


def watch_in_pty(tmp_path, world, *options, **env):
    argv = [sys.executable, "-m", "tray_monitor", "watch", *options]
    output, code = run_in_pty(tmp_path, None, until=lambda out: "Opus" in out and "resets in 3d" in out,
                              columns=60, argv=argv, **{**world.env(), **env})
    assert code in (0, 130) and "Traceback" not in output, output
    return output


@pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")
def test_watch_on_a_colour_terminal_colours_each_window_by_severity_and_marks_it_in_text(tmp_path, claude_tray_world):
    """93 % looked like 10 % apart from the digits: now bold red "93% !!", yellow "78% !", plain 10%."""
    severities_served(claude_tray_world)
    output = watch_in_pty(tmp_path, claude_tray_world)
    screen = frames(output, colours=True)[-1]
    text = "\n".join(screen)
    assert re.search(r"│ \x1b\[1;31mCurrent session +93% !!\x1b\[0m │", text), text
    assert re.search(r"│ \x1b\[1;31m█+░+\x1b\[0m │", text), text  # its bar too
    assert re.search(r"│ \x1b\[33mCurrent week \(all models\) +78% !\x1b\[0m │", text), text
    assert re.search(r"│ Current week \(Opus\) +10% +│", text), text  # normal: no colour, no mark
    # A countdown longer than a day does not tick every second; the session's does.
    assert re.search(r"resets in 3d \d+h \(", text) and not re.search(r"resets in 3d \d+h \d+m", text), text
    assert re.search(r"resets in 1h 59m \d\ds", text) or re.search(r"resets in 2h 00m 00s", text), text
    plain = frames(output)[-1]
    assert max(len(line) for line in plain) <= 59  # colour takes no columns


@pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")
@pytest.mark.parametrize("options, env", [((), {"NO_COLOR": "1"}), (("--color", "never"), {}),
                                          ((), {"TERM": "dumb"})])
def test_watch_without_colour_still_marks_the_severity_in_text(tmp_path, claude_tray_world, options, env):
    severities_served(claude_tray_world)
    output = watch_in_pty(tmp_path, claude_tray_world, *options, **env)
    assert not SGR.search(output), output
    text = "\n".join(frames(output)[-1])
    assert "93% !! │" in text and "78% ! │" in text and "10% │" in text


def test_watch_into_a_pipe_has_colour_only_when_asked_for_always(claude_tray_world):
    import signal
    import subprocess

    severities_served(claude_tray_world)
    blocks = {}
    for option in ("auto", "always"):
        process = subprocess.Popen([sys.executable, "-m", "tray_monitor", "watch", "--color", option],
                                   env=claude_tray_world.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True)
        try:
            block = [process.stdout.readline() for _ in range(4)]
        finally:
            process.send_signal(signal.SIGINT)
            process.communicate(timeout=20)
        blocks[option] = "".join(block)
    assert not SGR.search(blocks["auto"]) and "93% !!" in blocks["auto"]
    assert "\x1b[1;31mCurrent session" in blocks["always"] and "93% !!\x1b[0m" in blocks["always"]


@pytest.mark.parametrize("width", range(12, 60))
def test_a_wrapped_problem_line_never_starts_with_its_dash(width):
    """At 80 columns and narrower the rate-limit line wrapped into "— retrying at 14:20"."""
    for text in ("Rate limited by the usage endpoint — retrying at 18:20",
                 "Usage service error (HTTP 529) — retrying at Tue 09:05",
                 "Offline — retrying soon", "No Claude Code login — install Claude Code and run claude"):
        lines = wrap_text(text, width)
        assert not any(line.lstrip().startswith("—") for line in lines), lines
        joined = " ".join(" ".join(lines).split())
        assert joined in (text, text.replace(" —", "")), lines  # the break replaces the dash


@pytest.mark.parametrize("broken", ["read", "json"])
def test_status_json_always_prints_its_object_even_after_an_unexpected_exception(broken, caplog):
    """`status --json` once printed nothing at all when an OverflowError escaped (issue 9)."""
    class Broken:
        def read(self):
            if broken == "read":
                raise OverflowError("date value out of range")
            window = UsageWindow("five_hour", "Current session", 5.0, None)
            return Reading((window,), ExtraUsage(True, 1.0, 2.0, "USD", None, places=object()), NOW), MAX_CREDS  # type: ignore[arg-type]

    env = make_env()
    with caplog.at_level(logging.ERROR, logger="tray_monitor.terminal"):
        assert run_status(Broken(), env, as_json=True, now=NOW) == 1
    data = json.loads(env.stdout.getvalue())
    assert data["status"] == "error" and data["windows"] == [] and data["skipped_windows"] == 0
    assert "unexpectedly" in data["message"]
    assert len([r for r in caplog.records if r.exc_info]) == 1


def test_status_json_carries_each_windows_forecast_and_the_binding_window():
    env = make_env()
    assert run_status(FakeSource(fixture_reading("overage.json")), env, as_json=True, now=NOW) == 0
    data = json.loads(env.stdout.getvalue())
    session, weekly = data["windows"]
    assert data["binding"] == "five_hour"  # already at 104 %: it ran out first
    assert weekly["forecast"]["pace"] == 1.51 and weekly["forecast"]["reason"] is None
    runs_out = datetime.fromisoformat(weekly["forecast"]["runs_out_at"])
    assert NOW < runs_out < datetime.fromisoformat(weekly["resets_at"])
    assert weekly["forecast"]["projected_percent"] > 100
    assert session["forecast"]["runs_out_at"] is not None


def test_status_json_says_why_there_is_no_forecast():
    reading = Reading((UsageWindow("five_hour", "Current session", 0.0, None, kind="session"),), None, NOW)
    env = make_env()
    assert run_status(FakeSource(reading), env, as_json=True, now=NOW) == 0
    data = json.loads(env.stdout.getvalue())
    assert data["windows"][0]["forecast"] == {"pace": None, "projected_percent": None, "runs_out_at": None,
                                              "reason": "not started"}
    assert data["binding"] is None
