"""Issue 9, each class through the real process: `claude-tray status`, `status --json` and `watch` on
a pseudo-terminal, against the loopback usage server (tests/fakeapi.py), in a private HOME.

Each test sends one hostile body (or header) and checks what a person would see.
"""
from __future__ import annotations

import json
import os
import re
import select
import sys
import time
import unicodedata

import pytest

from tests.fakeapi import Response
from tray_monitor.fmt import text_width

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals and TZ are POSIX")

FUTURE = "2027-01-20T10:00:00Z"


def body_with(**windows) -> dict:
    return {"five_hour": {"utilization": 12.0, "resets_at": None}, **windows}


def status(world, body, *args, tz="UTC", headers=None, status_code=200):
    world.login()
    world.api.default = Response.json(body, status=status_code, headers=headers or {})
    return world.cli("status", *args, TZ=tz, COLUMNS="80")


def status_json(world, body, **kw) -> dict:
    done = status(world, body, "--json", **kw)
    assert "Traceback" not in done.stderr
    return json.loads(done.stdout)


def no_unprintable(text: str) -> bool:
    return not any(unicodedata.category(ch) in ("Cc", "Cf") and ch != "\n" for ch in text)


# -- 1. never understate ---------------------------------------------------------------------------


def test_numeric_strings_unicode_names_and_colliding_names_all_show(claude_tray_world):
    body = body_with(seven_day={"utilization": "47.5", "resets_at": FUTURE}, limits=[
        {"kind": "weekly_scoped", "percent": "78", "scope": {"model": {"display_name": "Фейбл"}}, "is_active": True},
        {"kind": "weekly_scoped", "percent": 30, "scope": {"model": {"display_name": "Opus α"}}},
        {"kind": "weekly_scoped", "percent": 31, "scope": {"model": {"display_name": "Opus β"}}},
        {"kind": "weekly_scoped", "percent": 40, "scope": {"model": {"display_name": "X 2"}}},
        {"kind": "weekly_scoped", "percent": 41, "scope": {"model": {"display_name": "X-2"}}},
    ])
    data = status_json(claude_tray_world, body)
    assert [(w["label"], w["percent"]) for w in data["windows"]] == [
        ("Current session", 12.0), ("Current week (all models)", 47.5), ("Current week (Фейбл)", 78.0),
        ("Current week (Opus α)", 30.0), ("Current week (Opus β)", 31.0), ("Current week (X 2)", 40.0),
        ("Current week (X-2)", 41.0)]
    assert len({w["id"] for w in data["windows"]}) == 7
    assert data["skipped_windows"] == 0


@pytest.mark.parametrize("resets_at", [1_800_000_000_000, "1800000000", "2027-01-20", "2027-01-20t10:00:00z",
                                       "2027-01-20T10:00:00 UTC"])
def test_a_reset_time_in_another_spelling_keeps_the_window(claude_tray_world, resets_at):
    done = status(claude_tray_world, body_with(seven_day={"utilization": 64, "resets_at": resets_at}))
    assert done.returncode == 0, done.stderr
    assert "Current week (all models)" in done.stdout and "64%" in done.stdout
    assert "resets in" in done.stdout.split("Current week (all models)")[1]


def test_an_unreadable_window_is_counted_in_status_and_json(claude_tray_world):
    body = body_with(seven_day={"utilization": 1e308, "resets_at": None},
                     seven_day_opus={"utilization": "lots"}, tangelo={"utilization": -4},
                     seven_day_sonnet={"utilization": 5, "resets_at": "whenever"})
    data = status_json(claude_tray_world, body)
    assert data["skipped_windows"] == 3
    assert [w["id"] for w in data["windows"]] == ["five_hour", "seven_day_sonnet"]
    text = status(claude_tray_world, body).stdout
    assert "3 more limits could not be read (see the log)" in text
    assert "reset time unknown" in text  # the sonnet window stays, only its reset is unknown
    assert "e+307" not in text and "100000" not in text


# -- 4. times and waits clamp, never overflow -----------------------------------------------------


@pytest.mark.parametrize("tz", ["Pacific/Kiritimati", "Pacific/Pago_Pago", "Asia/Tokyo", "America/New_York"])
@pytest.mark.parametrize("resets_at", ["9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59+14:00",
                                       253402300799000])
def test_dates_at_both_ends_of_the_calendar_in_any_zone_never_overflow(claude_tray_world, tz, resets_at):
    body = body_with(seven_day={"utilization": 50, "resets_at": resets_at})
    done = status(claude_tray_world, body, tz=tz)
    assert done.returncode == 0, done.stderr
    assert "reset time unknown" in done.stdout and "Traceback" not in done.stderr
    assert status_json(claude_tray_world, body, tz=tz)["windows"][1]["resets_at"] is None


@pytest.mark.parametrize("retry_after", ["100000000000", "1e11", "Fri, 31 Dec 9999 23:59:59 GMT"])
@pytest.mark.parametrize("tz", ["Pacific/Kiritimati", "Pacific/Pago_Pago"])
def test_an_absurd_retry_after_still_prints_the_json_object(claude_tray_world, retry_after, tz):
    done = status(claude_tray_world, {"error": {"type": "rate_limit_error"}}, "--json", tz=tz,
                  headers={"Retry-After": retry_after}, status_code=429)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    data = json.loads(done.stdout)
    assert data["status"] == "rate_limited" and data["skipped_windows"] == 0
    assert "unexpected error" not in done.stderr


# -- 5, 6. money and percent text ------------------------------------------------------------------


@pytest.mark.parametrize("extra, text", [
    ({"is_enabled": True, "used_credits": 1250, "monthly_limit": 5000, "currency": "JPY"},
     "Extra usage: ¥1,250 of ¥5,000 (25%)"),
    ({"is_enabled": True, "used_credits": 12345, "monthly_limit": 50000, "currency": "KWD", "decimal_places": 3},
     "Extra usage: 12.345 KWD of 50.000 KWD"),
    ({"is_enabled": True, "used_credits": 1234, "monthly_limit": -5000, "currency": "USD"},
     "Extra usage: $12.34 (Unlimited)"),
    ({"is_enabled": True, "used_credits": 1234, "monthly_limit": None, "currency": "USD"},
     "Extra usage: $12.34 (Unlimited)"),
    ({"is_enabled": False, "disabled_reason": "out_of_credits", "monthly_limit": None, "currency": "EUR"},
     "Extra usage: off (out of usage credits)"),
])
def test_money_in_the_currencys_own_digits(claude_tray_world, extra, text):
    done = status(claude_tray_world, body_with(extra_usage=extra))
    assert text in done.stdout, done.stdout
    assert "%" not in text or "-5000%" not in done.stdout


def test_money_in_the_json_is_in_major_units_for_a_zero_decimal_currency(claude_tray_world):
    extra = {"is_enabled": True, "used_credits": 1250, "monthly_limit": 5000, "currency": "JPY"}
    money = status_json(claude_tray_world, body_with(extra_usage=extra))["extra_usage"]
    assert (money["used"], money["limit"], money["decimal_places"]) == (1250.0, 5000.0, 0)


def test_99_6_percent_reads_99_not_100(claude_tray_world):
    done = status(claude_tray_world, {"five_hour": {"utilization": 99.6, "resets_at": FUTURE}})
    assert "99%" in done.stdout and "100%" not in done.stdout


# -- 8, 9. terminal safety and display width -------------------------------------------------------

OUR_COLOURS = re.compile(r"\x1b\[[0-9;]*m")
HOSTILE = "Evil\x1b]0;pwned\x07\x1b[2J\u202eemaN ファブル・モデル名前がとても長い 🦊🦊🦊 e\u0301\u0301"


def test_server_text_never_reaches_the_terminal_raw_and_status_stays_inside_50_columns(claude_tray_world):
    body = body_with(limits=[{"kind": "weekly_scoped", "percent": 64, "scope": {"model": {"display_name": HOSTILE}}}],
                     **{"seven_day_\x1b[31mred": {"utilization": 3}})
    done = status(claude_tray_world, body)
    assert done.returncode == 0, done.stderr
    assert "\x1b" not in done.stdout and "\u202e" not in done.stdout and no_unprintable(done.stdout)
    assert max(text_width(line) for line in done.stdout.splitlines()) <= 50
    assert "Current week (Evil" in done.stdout and "64%" in done.stdout


def run_watch_in_pty(world, columns=40, rows=30, timeout=20.0, until="resets in", **env_extra):
    import fcntl
    import pty
    import struct
    import termios

    env = world.env(**env_extra)
    env.pop("COLUMNS", None)
    env.pop("LINES", None)
    pid, fd = pty.fork()
    if pid == 0:
        try:
            fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
            os.execve(sys.executable, [sys.executable, "-m", "tray_monitor", "watch"], env)
        finally:
            os._exit(127)
    output = b""
    end = time.monotonic() + timeout
    try:
        while time.monotonic() < end and until not in output.decode("utf-8", "replace"):
            ready, _, _ = select.select([fd], [], [], 0.05)
            if ready:
                try:
                    chunk = os.read(fd, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                output += chunk
        time.sleep(1.2)  # one more redraw
        try:
            while select.select([fd], [], [], 0.1)[0]:
                output += os.read(fd, 65536)
        except OSError:
            pass
        os.write(fd, b"\x03")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            done, status_ = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            try:
                if select.select([fd], [], [], 0.05)[0]:
                    output += os.read(fd, 65536)
            except OSError:
                pass
        else:
            os.kill(pid, 9)
            _, status_ = os.waitpid(pid, 0)
    finally:
        os.close(fd)
    return output.decode("utf-8", "replace"), os.waitstatus_to_exitcode(status_)


def screens(output: str) -> list[list[str]]:
    found = []
    for frame in output.split("\x1b[H")[1:]:
        text = frame.split("\x1b[J")[0]
        found.append([line.replace("\x1b[K", "") for line in text.split("\r\n") if line.replace("\x1b[K", "")])
    return [s for s in found if s]


def test_watch_keeps_server_text_inert_and_every_row_inside_40_columns(claude_tray_world):
    world = claude_tray_world
    world.login()
    world.api.default = Response.json(body_with(
        seven_day={"utilization": 99.6, "resets_at": FUTURE},
        limits=[{"kind": "weekly_scoped", "percent": 64, "resets_at": FUTURE,
                 "scope": {"model": {"display_name": HOSTILE}}}]))
    output, code = run_watch_in_pty(world, until="Current week (Evil")
    assert code in (0, 130)
    frames = screens(output)
    assert frames, output[-2000:]
    for frame in frames:
        for line in frame:
            line = OUR_COLOURS.sub("", line)  # watch colours rows by severity itself
            assert text_width(line) <= 39, line
            assert "\x1b" not in line and "\u202e" not in line and no_unprintable(line)
    last = "\n".join(frames[-1])
    assert "Current week (Evil" in last and "99%" in last and "100%" not in last


@pytest.mark.parametrize("tz", ["Pacific/Kiritimati", "Pacific/Pago_Pago"])
def test_watch_shows_a_year_9999_reset_as_unknown_and_keeps_polling(claude_tray_world, tz):
    world = claude_tray_world
    world.login()
    world.api.default = Response.json(body_with(seven_day={"utilization": 50, "resets_at": "9999-12-31T23:59:59Z"}))
    output, code = run_watch_in_pty(world, until="reset time unknown", TZ=tz)
    assert code in (0, 130)
    assert "reset time unknown" in output and "Waiting for the first reading" not in screens(output)[-1][1:]
    assert "unexpected error" not in output
