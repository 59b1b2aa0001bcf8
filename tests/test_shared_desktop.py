"""One reading for every tool, end to end: the real tray (xorg backend on trayer under Xvfb, dunst
on a private bus), the real `claude-tray statusline` fed Claude Code payloads, and the loopback
usage server counting requests.

What is checked is what a user would see or pay: the tray's view after a statusline run, the
shared reading file (mode, sources, no token), what `status`, `status --format waybar|i3blocks|
polybar` and `watch --format waybar` print, the requests that reached the server (none from
them while a tray runs), the popups in dunst's history (a statusline reading alerts exactly
once), and that a statusline reading postpones the tray's next request.
"""
from __future__ import annotations

import json
import os
import queue
import stat
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest

from tests.desktop_x import REPO, wait_until
from tests.fakeapi import Response
from tests.test_app_notifications import (
    popups,
    wait_popups,
    xorg_world,  # noqa: F401 - a fixture, used through tray_world
)
from tray_monitor.runtime import READING_FILE_NAME

pytestmark = pytest.mark.desktop

USAGE_PATH = "/api/oauth/usage"


def resets_in(hours: float) -> datetime:
    return (datetime.now(timezone.utc) + timedelta(hours=hours)).replace(second=0, microsecond=1100)


SESSION_RESETS = resets_in(2.2)
WEEKLY_RESETS = resets_in(75)


def serve(world, session: float, weekly: float = 30.0, fable: float | None = None) -> None:
    body: dict = {
        "five_hour": {"utilization": session, "resets_at": SESSION_RESETS.isoformat()},
        "seven_day": {"utilization": weekly, "resets_at": WEEKLY_RESETS.isoformat()},
    }
    if fable is not None:
        body["limits"] = [
            {"kind": "session", "percent": session, "resets_at": SESSION_RESETS.isoformat(), "scope": None},
            {"kind": "weekly_all", "percent": weekly, "resets_at": WEEKLY_RESETS.isoformat(), "scope": None},
            {"kind": "weekly_scoped", "percent": fable, "resets_at": resets_in(30).isoformat(),
             "scope": {"model": {"id": "claude-fable-5", "display_name": "Fable"}}},
        ]
    world.api.default = Response.json(body)


def usage_requests(world) -> list:
    return [r for r in world.api.requests if r.path.partition("?")[0] == USAGE_PATH]  # ?skip_spend=1 from the tray


def requests_seen(world) -> int:
    return len(usage_requests(world))


def payload(session: float, weekly: float = 30.0) -> bytes:
    """Claude Code 2.1.332's statusline input (epoch-second resets_at)."""
    return json.dumps({
        "session_id": "0d4c5d0e", "cwd": "/home/u/src", "model": {"id": "claude-fable-5", "display_name": "Fable"},
        "version": "2.1.332",
        "rate_limits": {"five_hour": {"used_percentage": session, "resets_at": int(SESSION_RESETS.timestamp())},
                        "seven_day": {"used_percentage": weekly, "resets_at": int(WEEKLY_RESETS.timestamp())}},
    }).encode()


def statusline(world, stdin: bytes, *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "tray_monitor", "statusline", "--color", "never", *args],
                          input=stdin, capture_output=True, env=world.env(), cwd=REPO, timeout=30)
    assert done.returncode == 0 and done.stderr == b"", done
    return done.stdout.decode()


def session_percent(view: dict) -> float | None:
    line = next((m for m in view["menu"] if m.startswith("Current session: ")), None)
    return float(line.split(": ")[1].split("%")[0]) if line else None


@pytest.fixture
def tray_world(request):
    """A signed-in user (canary token) whose tray runs on the xorg backend next to dunst."""
    return request.getfixturevalue("xorg_world")


def start(world, *args: str, session: float = 40.0, fable: float | None = None):
    serve(world, session, fable=fable)
    app = world.start_tray(*args)
    world.wait_view(lambda v: v["status"] == "ok" and session_percent(v) == round(session), what="the first reading")
    return app


# ----------------------------------------------------------------------------- the tests


def test_statusline_feeds_the_tray_and_every_other_tool_reads_it_without_a_request(tray_world):
    world = tray_world
    app = start(world, "--interval", "600", fable=92.0)
    before = requests_seen(world)

    line = statusline(world, payload(62.5))
    assert line.startswith("Session 62% ") and "Fable 92%" in line, line  # Fable: only the endpoint knows it; percents round down
    view = world.wait_view(lambda v: session_percent(v) == 62, what="the statusline's session percent")
    assert view["icon"]["percent"] == 92.0  # the binding window is still the endpoint's Fable one

    shared = world.home / ".run" / "claude-tray" / READING_FILE_NAME
    assert stat.S_IMODE(shared.stat().st_mode) == 0o600
    doc = json.loads(shared.read_text())
    sources = {w["id"]: w["source"] for w in doc["windows"]}
    assert sources["five_hour"] == "statusline" and sources["seven_day"] == "statusline"
    assert sources["seven_day_fable"] == "endpoint"
    assert world.token[len("sk-ant-oat01-"):] not in shared.read_text()

    status = world.cli("status")
    assert status.returncode == 0 and "Current session" in status.stdout and "62%" in status.stdout
    assert "from the running tray, " in status.stdout and " s ago" in status.stdout
    as_json = json.loads(world.cli("status", "--json").stdout)
    assert as_json["from_tray"] is True and as_json["windows"][0]["percent"] == 62.5

    waybar = json.loads(world.cli("status", "--format", "waybar").stdout)
    assert waybar["text"] == "5h 62% · 7d 30% · Fable 92%"
    assert waybar["class"] == "critical" and waybar["percentage"] == 92 and waybar["alt"] == "critical"
    assert "from the running tray" in waybar["tooltip"]
    assert world.cli("status", "--format", "i3blocks").stdout.splitlines() == [
        "5h 62% · 7d 30% · Fable 92%", "5h 62% 7d 30% Fable 92%", "#E06C75"]
    assert world.cli("status", "--format", "polybar").stdout == "%{F#E06C75}5h 62% · 7d 30% · Fable 92%%{F-}\n"

    watcher = subprocess.Popen([sys.executable, "-m", "tray_monitor", "watch", "--format", "waybar"],
                               stdout=subprocess.PIPE, env=world.env(), cwd=REPO, text=True)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in watcher.stdout], daemon=True).start()
    try:
        first = json.loads(lines.get(timeout=20))
        statusline(world, payload(71.0))  # a change: watch prints a new line within its 5 s beat
        deadline = time.monotonic() + 20
        texts = []
        while time.monotonic() < deadline and not any(t.startswith("5h 71% ") for t in texts):
            texts.append(json.loads(lines.get(timeout=max(0.1, deadline - time.monotonic())))["text"])
    finally:
        watcher.terminate()
        watcher.wait(10)
    assert first["text"].startswith("5h 62% ") and texts[-1].startswith("5h 71% "), texts

    assert requests_seen(world) == before, "status, watch, panels or the statusline sent a request"
    assert world.control("quit") == "quitting"
    assert app.wait_exit(15) == 0
    assert not shared.exists()  # a quit tray leaves no reading to be taken for live


def test_an_alert_from_a_statusline_reading_fires_exactly_once(tray_world, notification_daemon):
    world = tray_world
    start(world, "--interval", "600", session=50.0)
    assert popups(notification_daemon) == []
    statusline(world, payload(80.0))
    [popup] = wait_popups(notification_daemon, 1)
    assert "75%" in popup[2] + popup[3] or "80%" in popup[2] + popup[3], popup
    for percent in (80.4, 81.0, 80.0):  # more turns in the same window cycle
        statusline(world, payload(percent))
    world.wait_view(lambda v: session_percent(v) == 80, what="the last statusline reading")
    done = world.cli("refresh")  # the endpoint still says 50 %: a dip, then the statusline's 81 % again
    assert done.returncode == 0
    world.wait_view(lambda v: session_percent(v) == 50, what="the endpoint's reading")
    statusline(world, payload(81.0))
    world.wait_view(lambda v: session_percent(v) == 81, what="the statusline's reading again")
    time.sleep(1.0)  # a second popup would arrive within this
    assert len(popups(notification_daemon)) == 1, popups(notification_daemon)


def test_a_statusline_of_another_login_does_not_feed_the_tray(tray_world, tmp_path):
    world = tray_world
    start(world, "--interval", "600", session=40.0)
    other = tmp_path / "other-claude-login"
    other.mkdir()
    done = subprocess.run([sys.executable, "-m", "tray_monitor", "statusline", "--color", "never"],
                          input=payload(77.0), capture_output=True, env=world.env(CLAUDE_CONFIG_DIR=str(other)),
                          cwd=REPO, timeout=30)
    assert done.returncode == 0 and done.stdout.decode().startswith("Session 77% ")  # its own numbers shown
    time.sleep(1.0)  # a taken reading shows within this (the tray takes it at once)
    assert session_percent(world.view()) == 40
    statusline(world, payload(41.0))  # the same from this login's session: taken
    world.wait_view(lambda v: session_percent(v) == 41, what="this login's statusline reading")


def test_a_capped_100_never_replaces_the_endpoints_higher_overage(tray_world):
    world = tray_world
    start(world, "--interval", "600", session=104.0)
    statusline(world, payload(100.0))
    time.sleep(1.0)
    assert session_percent(world.view()) == 104


def test_status_fresh_asks_the_tray_to_poll_and_shows_its_new_answer(tray_world):
    world = tray_world
    start(world, "--interval", "600", session=40.0)
    before = requests_seen(world)
    serve(world, 55.0)
    done = world.cli("status", "--fresh")
    assert done.returncode == 0 and "55%" in done.stdout and "from the running tray" in done.stdout, done
    assert requests_seen(world) == before + 1  # the tray's request, none of its own


def test_without_a_tray_status_asks_the_endpoint_itself(tray_world):
    world = tray_world
    serve(world, 33.0)
    done = world.cli("status", "--format", "waybar")
    assert json.loads(done.stdout)["text"] == "5h 33% · 7d 30%"
    assert requests_seen(world) == 1


def test_statusline_readings_postpone_the_trays_next_request(tray_world):
    """--interval 60 (the minimum): without a statusline the tray asks again 60-66 s after its first
    request (the interval, jittered up to +10 %); each statusline run moves that to one interval
    after the run, so with runs 5, 10 and 15 s after the first request the second request comes
    one interval after the LAST run (~75 s), not at ~66 s (no postponement) nor one interval after
    an earlier run (~65 s, ~70 s), nor at the cap (5 intervals after the first request).

    The server's and the test's times are both time.monotonic() (one system-wide clock): the tray
    takes a statusline reading only after the run started, so the postponed request cannot come
    before that start + 60 s."""
    world = tray_world
    interval = 60.0
    start(world, "--interval", str(int(interval)), session=20.0)
    first = requests_seen(world)
    first_at = usage_requests(world)[-1].at
    runs: list[tuple[float, float]] = []  # (start, end) of each statusline run
    percent = 21.0
    for offset in (5.0, 10.0, 15.0):
        time.sleep(max(0.0, first_at + offset - time.monotonic()))
        began = time.monotonic()
        statusline(world, payload(percent))
        runs.append((began, time.monotonic()))
        percent += 1.0
    assert requests_seen(world) == first
    view = world.view()
    assert view["status"] == "ok" and session_percent(view) == percent - 1.0
    assert os.path.exists(world.home / ".run" / "claude-tray" / READING_FILE_NAME)
    last_began, last_ended = runs[-1]
    assert last_began > first_at + interval * 0.1 + 3  # else "postponed" could not be told from the jitter
    deadline = last_ended + interval + 15  # the poller waits exactly; 15 s for a loaded machine
    wait_until(lambda: requests_seen(world) > first, deadline - time.monotonic(),
               "the postponed request, one interval after the last run")
    second_at = usage_requests(world)[first].at
    assert second_at >= last_began + interval, (second_at - first_at, [(b - first_at, e - first_at) for b, e in runs])
