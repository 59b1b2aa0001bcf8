"""Polite polling (schedule.py + poller.py): jittered waits, the idle stretch up to 10 minutes, and
activity (a transcript written, a statusline reading, the menu) ending it at once. The poller runs
on a FakeClock with a counting source: each test is an hour or more of the tray's own loop."""
from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tray_monitor import schedule as sch
from tray_monitor.alerts import AlertMemory
from tray_monitor.clock import FakeClock
from tray_monitor.model import Credentials, Reading, UsageWindow
from tray_monitor.monitor import Monitor
from tray_monitor.notifier import NullNotifier
from tray_monitor.poller import Poller
from tray_monitor.shared_reading import FedReading, FedWindow
from tray_monitor.state import MonitorState

NOW = datetime(2026, 9, 1, 12, 0, tzinfo=timezone.utc)
FAR = NOW + timedelta(days=30)


def reading(percent: float, at: datetime = NOW) -> Reading:
    return Reading((UsageWindow("five_hour", "Session (5h)", percent, FAR, kind="session"),), None, at)


class Source:
    min_interval = sch.MIN_INTERVAL

    def __init__(self, clock: FakeClock):
        self.clock = clock
        self.percent = 10.0
        self.reads: list[float] = []

    def read(self):
        self.reads.append(self.clock.monotonic())
        return reading(self.percent, self.clock.now()), Credentials(access_token="t", source="test")

    def store_fingerprint(self):
        return None


class Transcripts:
    """The activity checker: the newest transcript write, set by the test."""

    def __init__(self):
        self.latest: float | None = None

    def __call__(self) -> float | None:
        return self.latest


def loop(poller: Poller, clock: FakeClock, until: float, each=None) -> None:
    """The poller thread's loop without its waiting: step, then let the time pass."""
    while clock.monotonic() < until:
        if each is not None:
            each()
        wait = poller.step_once()
        clock.advance(max(0.05, min(wait, until - clock.monotonic(), 10.0)))


def make(jitter: float = 0.0, seed: int = 1):
    clock = FakeClock(NOW)
    source = Source(clock)
    transcripts = Transcripts()
    monitor = Monitor(MonitorState(alert_memory=AlertMemory()), clock, NullNotifier(), None)
    poller = Poller(source, monitor, clock, 120, jitter=jitter, rng=random.Random(seed), activity=transcripts)
    return clock, source, transcripts, poller


def gaps(reads: list[float]) -> list[float]:
    return [round(b - a) for a, b in zip(reads, reads[1:], strict=False)]


# ----------------------------------------------------------------------------- the rules (pure)


@given(unchanged=st.integers(0, 50), jitter=st.floats(0.9, 1.1), interval=st.floats(60, 900))
def test_a_wait_is_within_10_percent_of_its_step_and_never_beyond_the_bounds(unchanged, jitter, interval):
    s = sch.new_schedule(interval, 0.0, NOW)
    wait = sch.success_wait(s, unchanged, jitter)
    base = max(s.interval, min(s.interval * 2 ** max(0, unchanged - sch.STRETCH_AFTER + 1), sch.MAX_IDLE_WAIT))
    assert 0.9 * base - 1e-9 <= wait <= 1.1 * base + 1e-9
    assert wait >= sch.MIN_INTERVAL
    if unchanged < sch.STRETCH_AFTER:
        assert base == s.interval


def test_an_answer_that_changed_or_activity_since_resets_the_count():
    s = sch.new_schedule(120, 0.0, NOW)
    for i in range(4):
        s = sch.poll_succeeded(sch.poll_started(s), reading(10.0), i * 100.0, NOW)
    assert s.unchanged_polls == 3
    assert sch.poll_succeeded(sch.poll_started(s), reading(11.0), 500.0, NOW).unchanged_polls == 0
    assert sch.poll_succeeded(sch.poll_started(s), reading(10.0), 500.0, NOW, active=True).unchanged_polls == 0


def test_activity_ends_a_stretch_at_once():
    s = sch.new_schedule(120, 0.0, NOW)
    for i in range(6):
        s = sch.poll_succeeded(sch.poll_started(s), reading(10.0), i * 10.0, NOW)
    assert s.next_poll_mono - 50.0 == sch.MAX_IDLE_WAIT
    woken = sch.activity_seen(s, 60.0)
    assert woken.next_poll_mono == 170.0 and woken.unchanged_polls == 0  # one interval after the last request
    late = sch.activity_seen(s, 400.0)
    assert late.next_poll_mono == 400.0  # already more than an interval since: ask now


# ----------------------------------------------------------------------------- the poller, an hour at a time


def test_idle_the_wait_stretches_after_three_unchanged_answers_up_to_10_minutes():
    clock, source, _, poller = make()
    loop(poller, clock, clock.monotonic() + 2 * 3600)
    assert gaps(source.reads)[:7] == [120, 120, 120, 240, 480, 600, 600]
    start = source.reads[0]
    second_hour = [t for t in source.reads if start + 3600 <= t < start + 7200]
    assert len(second_hour) == 6  # before: 30


def test_active_claude_code_keeps_the_interval():
    clock, source, transcripts, poller = make()

    def working():
        transcripts.latest = clock.now().timestamp()  # a transcript written just now

    loop(poller, clock, clock.monotonic() + 3600, each=working)
    assert set(gaps(source.reads)) == {120}
    assert len(source.reads) == 30


def test_a_transcript_written_during_a_stretch_brings_the_next_request_at_once():
    clock, source, transcripts, poller = make()
    loop(poller, clock, clock.monotonic() + 1100)  # stretched: the last wait was 480 s, now 600
    last = source.reads[-1]
    assert gaps(source.reads)[-1] == 480
    clock.advance(200)  # > one interval after the last request
    transcripts.latest = clock.now().timestamp()
    loop(poller, clock, clock.monotonic() + 1)
    assert source.reads[-1] > last and source.reads[-1] - clock.monotonic() > -2  # asked at once


def test_a_statusline_reading_counts_as_activity():
    clock, source, _, poller = make()
    loop(poller, clock, clock.monotonic() + 1100)
    stretched = poller.schedule.unchanged_polls
    assert stretched >= sch.STRETCH_AFTER
    poller.feed_statusline(FedReading(clock.now(), (FedWindow("five_hour", 10.0, FAR),)))
    loop(poller, clock, clock.monotonic() + 1)
    assert poller.schedule.unchanged_polls == 0


def test_opening_the_menu_ends_a_stretch():
    clock, source, _, poller = make()
    loop(poller, clock, clock.monotonic() + 1100)
    count = len(source.reads)
    clock.advance(200)
    poller.activity_seen()
    loop(poller, clock, clock.monotonic() + 1)
    assert len(source.reads) == count + 1


def test_jitter_spreads_the_waits_by_up_to_10_percent_and_averages_out():
    clock, source, transcripts, poller = make(jitter=sch.JITTER, seed=7)

    def working():
        transcripts.latest = clock.now().timestamp()

    loop(poller, clock, clock.monotonic() + 6 * 3600, each=working)
    waits = [b - a for a, b in zip(source.reads, source.reads[1:], strict=False)]
    assert min(waits) >= 108 - 1 and max(waits) <= 132 + 1
    assert len(set(round(w) for w in waits)) > 10  # not in lockstep
    assert 28 <= len(source.reads) / 6 <= 32


def test_without_an_activity_checker_nothing_stretches():
    clock = FakeClock(NOW)
    source = Source(clock)
    poller = Poller(source, Monitor(MonitorState(), clock, NullNotifier(), None), clock, 120)
    loop(poller, clock, clock.monotonic() + 3600)
    assert set(gaps(source.reads)) == {120}


def test_a_failing_activity_checker_is_logged_once_and_counts_as_no_activity(caplog):
    clock, source, _, _ = make()

    def broken():
        raise OSError("gone")

    poller = Poller(source, Monitor(MonitorState(), clock, NullNotifier(), None), clock, 120, activity=broken)
    loop(poller, clock, clock.monotonic() + 1800)
    assert len([r for r in caplog.records if "activity" in r.getMessage()]) == 1
    assert 240 in gaps(source.reads)


@pytest.mark.parametrize("feed_every, per_hour", [(20, 6)])
def test_statusline_feeding_every_20_s_costs_6_requests_an_hour(feed_every, per_hour):
    clock, source, _, poller = make(jitter=sch.JITTER)
    next_feed = [clock.monotonic()]

    def feed():
        if clock.monotonic() >= next_feed[0]:
            poller.feed_statusline(FedReading(clock.now(), (FedWindow("five_hour", 10.0, FAR),)))
            next_feed[0] += feed_every

    loop(poller, clock, clock.monotonic() + 3600, each=feed)
    assert len(source.reads) == per_hour


# ----------------------------------------------------------------------------- the menu


def test_every_way_a_panel_says_the_menu_opens_reaches_the_poller(tmp_path):
    """SNI hosts call AboutToShow(0) or AboutToShowGroup([0, ...]); lxqt sends Event(0, "opened").
    The adapter hands it to the controller, which tells the poller (Poller.activity_seen)."""
    from tests.envs import temp_env
    from tray_monitor.tray.sni import MENU_IFACE, MENU_PATH, SniBackend

    backend = SniBackend(temp_env(tmp_path, {}), lambda *a, **k: None, bus="unix:path=/nonexistent")
    opened: list[int] = []
    backend.on_menu_open = lambda: opened.append(1)
    backend._dispatch(MENU_PATH, MENU_IFACE, "AboutToShow", (0,))
    backend._dispatch(MENU_PATH, MENU_IFACE, "AboutToShowGroup", ([0, 3],))
    backend._dispatch(MENU_PATH, MENU_IFACE, "Event", (0, "opened", ("s", ""), 0))
    backend._dispatch(MENU_PATH, MENU_IFACE, "AboutToShow", (5,))  # a submenu: not the menu opening
    assert len(opened) == 3


def test_the_controller_turns_a_menu_opening_into_activity(tmp_path):
    from tests.envs import temp_env
    from tray_monitor.tray_controller import TrayController

    clock, source, _, poller = make()
    loop(poller, clock, clock.monotonic() + 1100)
    count = len(source.reads)
    controller = TrayController(temp_env(tmp_path), autostart=None)
    controller.bind(monitor=None, poller=poller, notifier=None, tray=None)
    clock.advance(200)
    controller.actions().menu_opened()
    loop(poller, clock, clock.monotonic() + 1)
    assert len(source.reads) == count + 1
