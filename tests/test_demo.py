"""The demo source: the states it walks through, and a full round through the real core."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tray_monitor.clock import FakeClock
from tray_monitor.demo import DEMO_INTERVAL, RELOGIN_AFTER, STEPS, DemoAlertStore, DemoSource
from tray_monitor.errors import AuthExpired, RateLimited
from tray_monitor.monitor import Monitor
from tray_monitor.poller import Poller
from tray_monitor.state import MonitorState

T0 = datetime(2026, 9, 1, 12, 0, tzinfo=timezone.utc)


def session_percents(source, clock, n):
    out = []
    for _ in range(n):
        try:
            reading, _ = source.read()
            out.append(reading.window("five_hour").percent)
        except (RateLimited, AuthExpired) as exc:
            out.append(type(exc).__name__)
        clock.advance(DEMO_INTERVAL)
    return out


def test_the_demo_walks_from_10_percent_to_full_then_failures_then_a_reset():
    clock = FakeClock(T0)
    assert session_percents(DemoSource(clock), clock, len(STEPS)) == [
        10, 55, 78, 93, 104, "RateLimited", "AuthExpired", 2, 6]


def test_the_demo_starts_over_after_a_round():
    clock = FakeClock(T0)
    source = DemoSource(clock)
    session_percents(source, clock, len(STEPS))
    assert session_percents(source, clock, 2) == [10, 55]


def test_the_demo_rate_limit_asks_for_a_short_retry():
    clock = FakeClock(T0)
    source = DemoSource(clock)
    session_percents(source, clock, 5)
    with pytest.raises(RateLimited) as caught:
        source.read()
    assert caught.value.retry_after == DEMO_INTERVAL


def test_the_demo_logs_in_again_by_itself_after_expiry():
    clock = FakeClock(T0)
    source = DemoSource(clock)
    session_percents(source, clock, 6)
    before = source.store_fingerprint()
    with pytest.raises(AuthExpired):
        source.read()
    clock.advance(RELOGIN_AFTER - 1)
    assert source.store_fingerprint() == before
    clock.advance(1)
    assert source.store_fingerprint() != before


def test_the_reset_moves_the_session_window_to_a_new_5_hour_cycle():
    clock = FakeClock(T0)
    source = DemoSource(clock)
    first, _ = source.read()
    old_reset = first.window("five_hour").resets_at
    session_percents(source, clock, 6)
    reset, creds = source.read()
    assert reset.window("five_hour").resets_at - clock.now() == timedelta(hours=5)
    assert reset.window("five_hour").resets_at > old_reset
    assert creds.source == "demo"


def test_the_demo_credentials_are_not_a_real_token_and_never_print_it():
    clock = FakeClock(T0)
    _, creds = DemoSource(clock).read()
    assert not creds.access_token.startswith("sk-ant-")
    assert creds.access_token not in repr(creds) and creds.access_token not in str(creds)


def test_a_full_demo_round_through_the_real_core_takes_about_a_minute():
    class Silent:
        def send(self, n):
            self.sent = getattr(self, "sent", []) + [n]

    clock = FakeClock(T0)
    notifier = Silent()
    store = DemoAlertStore()
    monitor = Monitor(MonitorState(interval=DEMO_INTERVAL, alert_memory=store.load()), clock, notifier, store)
    statuses = []
    monitor.subscribe(lambda v: statuses.append(v.status) if not statuses or statuses[-1] != v.status else None)
    poller = Poller(DemoSource(clock), monitor, clock, DEMO_INTERVAL)
    assert poller.interval == DEMO_INTERVAL
    while clock.monotonic() - 1000 < 60:
        clock.advance(max(poller.step_once(), 0.001))
    assert statuses[:4] == ["ok", "rate_limited", "expired", "ok"]
    summaries = [n.summary for n in notifier.sent]
    assert any("Current session at 78%" in s for s in summaries)
    assert any("limit reached" in s for s in summaries)
    assert any("login expired" in s for s in summaries)
    assert any("reset" in s for s in summaries)
    assert store.load().window("five_hour") is not None  # kept in memory, nothing on disk


def test_the_demo_alert_store_starts_empty_and_writes_no_file(tmp_path, monkeypatch):
    from tray_monitor.alerts import AlertMemory

    monkeypatch.chdir(tmp_path)
    store = DemoAlertStore()
    assert store.load() == AlertMemory()
    store.save(AlertMemory(login_worked=True))
    assert store.load() == AlertMemory(login_worked=True)
    assert list(tmp_path.iterdir()) == []


def test_every_demo_popup_title_says_it_is_simulated_once():
    from tray_monitor.alerts import Notification
    from tray_monitor.demo import DemoNotifier

    class Recorder:
        def __init__(self):
            self.sent = []

        def send(self, notification):
            self.sent.append(notification)

    recorder = Recorder()
    demo = DemoNotifier(recorder)
    demo.send(Notification("login", "Claude login expired", "Run claude in a terminal.", "normal"))
    demo.send(Notification("status", "Claude (simulated demo): session 10%", "Session (5h): 10%", "low"))
    assert [(n.summary, n.body) for n in recorder.sent] == [
        ("Demo (simulated): Claude login expired", "Run claude in a terminal."),
        ("Claude (simulated demo): session 10%", "Session (5h): 10%"),
    ]
