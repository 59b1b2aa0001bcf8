"""tray_reading: the tray's published reading (a real file, a real control socket) and the readers'
side (fetch, freshness, the "from the running tray" wording, watch's TraySource)."""
from __future__ import annotations

import json
import os
import stat
from datetime import datetime, timedelta, timezone

import pytest

from tests.envs import temp_env
from tray_monitor.alerts import AlertMemory
from tray_monitor.clock import FakeClock
from tray_monitor.errors import Transient
from tray_monitor.instance import ControlServer
from tray_monitor.model import Reading, UsageWindow
from tray_monitor.monitor import Monitor
from tray_monitor.notifier import NullNotifier
from tray_monitor.state import MonitorState, PollFailed, PollScheduled, PollSucceeded, Tick
from tray_monitor.tray_reading import (
    ReadingPublisher,
    TrayGone,
    TraySource,
    fetch,
    is_fresh,
    origin_text,
    reading_path,
    remove_stale_file,
)

NOW = datetime(2026, 9, 1, 12, 0, tzinfo=timezone.utc)


def reading(percent: float, at: datetime = NOW) -> Reading:
    return Reading((UsageWindow("five_hour", "Session (5h)", percent, at + timedelta(hours=2), kind="session"),),
                   None, at)


@pytest.fixture
def tray(tmp_path):
    """A monitor with a publisher subscribed and the `reading` command served, as app.tray wires them."""
    clock = FakeClock(NOW)
    env = temp_env(tmp_path, clock=clock)
    monitor = Monitor(MonitorState(interval=120, alert_memory=AlertMemory()), clock, NullNotifier(), None)
    publisher = ReadingPublisher(env, monitor)
    monitor.subscribe(publisher.on_view)
    server = ControlServer(env, {"reading": publisher.current})
    server.start()
    yield env, clock, monitor, publisher
    server.stop()


def test_every_change_is_written_0600_and_read_back_by_fetch(tray):
    env, clock, monitor, _ = tray
    monitor.handle(PollSucceeded(reading(40.0), plan="Max 5x"))
    path = reading_path(env)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text())["windows"][0]["percent"] == 40.0
    shared = fetch(env)
    assert shared.reading.window("five_hour").percent == 40.0 and shared.plan == "Max 5x"
    assert [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")] == []  # atomic: no leftovers


def test_a_tick_that_changes_no_reading_does_not_rewrite_the_file(tray):
    env, clock, monitor, _ = tray
    monitor.handle(PollSucceeded(reading(40.0)))
    first = os.stat(reading_path(env)).st_mtime_ns
    os.utime(reading_path(env), ns=(first - 10**9, first - 10**9))
    clock.advance(61)
    monitor.handle(Tick())  # the countdown text changed; the reading did not
    assert os.stat(reading_path(env)).st_mtime_ns == first - 10**9


def test_freshness_follows_the_trays_own_staleness_rule(tray):
    env, clock, monitor, _ = tray
    monitor.handle(PollSucceeded(reading(40.0)))
    clock.advance(40)
    shared = fetch(env)
    assert is_fresh(shared, clock.now()) and origin_text(shared, clock.now()) == "from the running tray, 40 s ago"
    assert not is_fresh(shared, clock.now() + timedelta(seconds=240))  # older than 2 intervals
    assert origin_text(shared, clock.now() + timedelta(minutes=9)) == "from the running tray, 9 min ago"


def test_without_a_tray_fetch_is_none_and_watchs_source_says_so(tmp_path):
    env = temp_env(tmp_path)
    assert fetch(env) is None
    with pytest.raises(TrayGone):
        TraySource(env).read()


def test_watch_source_returns_the_trays_reading_and_plan_and_no_token(tray):
    env, clock, monitor, _ = tray
    monitor.handle(PollSucceeded(reading(55.0), plan="Pro"))
    source = TraySource(env)
    got, creds = source.read()
    assert got.window("five_hour").percent == 55.0 and source.plan == "Pro"
    assert creds.access_token == "" and source.min_interval < 60


def test_quit_and_a_dead_trays_leftover_remove_the_file(tray):
    env, _, monitor, publisher = tray
    monitor.handle(PollSucceeded(reading(40.0)))
    publisher.remove()
    assert not reading_path(env).exists()
    reading_path(env).write_text("{}")
    remove_stale_file(env)
    assert not reading_path(env).exists()


def test_an_unwritable_runtime_dir_is_logged_once_and_never_raises(tmp_path, caplog):
    clock = FakeClock(NOW)
    blocker = tmp_path / "file"
    blocker.write_text("")
    env = temp_env(tmp_path, clock=clock, runtime_dir=blocker / "run")  # a file where a folder must be
    monitor = Monitor(MonitorState(), clock, NullNotifier(), None)
    publisher = ReadingPublisher(env, monitor)
    monitor.subscribe(publisher.on_view)
    monitor.handle(PollSucceeded(reading(40.0)))
    monitor.handle(PollSucceeded(reading(41.0)))
    assert len([r for r in caplog.records if "shared reading could not be written" in r.getMessage()]) == 1


def test_fetch_of_a_named_login_asks_reading_name_and_an_unknown_one_is_none(tmp_path):
    """Several logins (issue 15): `reading NAME` answers that login's own document; a name the
    tray does not know (or an older tray) is no reading, and the caller asks the endpoint."""
    clock = FakeClock(NOW)
    env = temp_env(tmp_path, clock=clock)
    own = {name: Monitor(MonitorState(interval=120, alert_memory=AlertMemory()), clock, NullNotifier(), None)
           for name in ("default", "work")}
    own["default"].handle(PollSucceeded(reading(20), "Pro"))
    own["work"].handle(PollSucceeded(reading(70), "Max 5x"))

    def reading_of(name: str) -> str:
        if name not in own:
            return f"error: no login {name!r} in this tray"
        return ReadingPublisher(env, own[name]).current()

    server = ControlServer(env, {"reading": ReadingPublisher(env, own["default"]).current},
                           arg_handlers={"reading": reading_of})
    server.start()
    try:
        assert fetch(env).reading.windows[0].percent == 20
        work = fetch(env, account="work")
        assert work.reading.windows[0].percent == 70 and work.plan == "Max 5x"
        assert fetch(env, account="play") is None
    finally:
        server.stop()


def steady(percent: float, at: datetime) -> Reading:
    """A reading of the same session cycle taken at `at`."""
    return Reading((UsageWindow("five_hour", "Session (5h)", percent, NOW + timedelta(hours=2), kind="session"),),
                   None, at)


def test_an_answer_that_only_confirms_the_file_sets_its_mtime_and_writes_nothing(tray):
    """An idle poll (the same numbers, a newer answer) costs no rewrite (document, JSON, temporary
    file, rename: ~0.7 ms): the file stays as written and its mtime becomes the answer's time, which
    the statusline reads as when the endpoint's windows were last confirmed."""
    env, clock, monitor, _ = tray
    monitor.handle(PollSucceeded(steady(40.0, NOW)))
    path = reading_path(env)
    text, inode = path.read_text(), path.stat().st_ino
    assert json.loads(text)["mtime_is_endpoint_at"] is True
    assert path.stat().st_mtime_ns == int(NOW.timestamp()) * 10**9
    for minutes in (1, 2, 3):
        clock.advance(60)
        monitor.handle(PollSucceeded(steady(40.0, clock.now())), PollScheduled(clock.now() + timedelta(minutes=1)))
        assert path.read_text() == text and path.stat().st_ino == inode
        assert path.stat().st_mtime_ns == int((NOW + timedelta(minutes=minutes)).timestamp()) * 10**9
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # The `reading` command answers with the current times all the same.
    assert fetch(env).endpoint_at == clock.now()


def test_a_change_of_what_the_file_says_rewrites_it_with_the_endpoints_time_as_mtime(tray):
    env, clock, monitor, _ = tray
    monitor.handle(PollSucceeded(steady(40.0, NOW)))
    path = reading_path(env)
    clock.advance(60)
    monitor.handle(PollSucceeded(steady(41.0, clock.now())))
    assert json.loads(path.read_text())["windows"][0]["percent"] == 41.0
    answered = clock.now()
    clock.advance(60)
    monitor.handle(PollFailed(Transient("offline")))  # the status changes: written, numbers kept
    doc = json.loads(path.read_text())
    assert doc["status"] == "stale" and doc["windows"][0]["fetched_at"] == answered.isoformat()
    # written now, but its numbers were confirmed when the endpoint last answered
    assert path.stat().st_mtime_ns == int(answered.timestamp()) * 10**9


def test_a_file_removed_behind_the_trays_back_is_written_at_the_next_answer(tray):
    env, clock, monitor, _ = tray
    monitor.handle(PollSucceeded(steady(40.0, NOW)))
    reading_path(env).unlink()
    clock.advance(60)
    monitor.handle(PollSucceeded(steady(40.0, clock.now())))
    assert json.loads(reading_path(env).read_text())["endpoint_at"] == clock.now().isoformat()
    assert stat.S_IMODE(reading_path(env).stat().st_mode) == 0o600


def test_the_statusline_reads_a_file_confirmed_by_idle_polls_as_fresh(tray, monkeypatch):
    """Two hours of idle polls at the same numbers: the file still holds the first answer's
    `fetched_at`, the statusline still shows the tray's per-model window (its freshness is the mtime);
    once the tray stops confirming it, the window ages out as before (statusline.SHARED_MAX_AGE)."""
    from tray_monitor import statusline

    env, clock, monitor, _ = tray
    fable = UsageWindow("seven_day_fable", "Current week (Fable)", 92.0, NOW + timedelta(days=2), kind="weekly")

    def answer() -> Reading:
        return Reading((fable,), None, clock.now())

    monitor.handle(PollSucceeded(answer()))
    for _ in range(24):
        clock.advance(300)
        monitor.handle(PollSucceeded(answer()))
    shared, confirmed_at = statusline.read_shared(str(reading_path(env).parent))
    assert shared["windows"][0]["fetched_at"] == NOW.isoformat()  # not rewritten in two hours
    now = clock.now().timestamp()
    assert [s.name for s in statusline.segments({}, shared, now, None, confirmed_at)] == ["Fable"]
    later = now + statusline.SHARED_MAX_AGE + 60  # no answer since: too old
    assert statusline.segments({}, shared, later, None, confirmed_at) == []


def test_a_reading_turning_stale_by_time_alone_is_written(tray):
    """A tick leaves the monitor state as it was (the publisher then skips building the document)
    but the view's status can still change by time alone: that is written."""
    env, clock, monitor, _ = tray
    monitor.handle(PollSucceeded(steady(40.0, NOW)))
    clock.advance(60)
    monitor.handle(Tick())
    assert json.loads(reading_path(env).read_text())["status"] == "ok"
    clock.advance(240)  # older than two intervals of 120 s
    monitor.handle(Tick())
    assert json.loads(reading_path(env).read_text())["status"] == "stale"
