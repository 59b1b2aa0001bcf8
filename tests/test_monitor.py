"""The monitor: state under a lock, effects carried out, listeners told only about changed views."""
from __future__ import annotations

import logging
import threading
from dataclasses import replace
from datetime import datetime, timedelta, timezone

from tray_monitor.alerts import AlertMemory, Notification
from tray_monitor.clock import FakeClock
from tray_monitor.errors import AuthExpired, Transient
from tray_monitor.model import Reading, UsageWindow
from tray_monitor.monitor import Monitor
from tray_monitor.state import (
    MonitorState,
    NotificationsToggled,
    Notify,
    PollFailed,
    PollSucceeded,
    SaveAlertMemory,
    Tick,
)
from tray_monitor.view import View

T0 = datetime(2026, 9, 1, 12, 0, tzinfo=timezone.utc)
NOTE = Notification(key="window:five_hour", summary="Session at 90%", body="b", urgency="critical")


def reading(percent: float) -> Reading:
    window = UsageWindow(id="five_hour", label="Session (5h)", percent=percent,
                         resets_at=T0 + timedelta(hours=2), kind="session")
    return Reading(windows=(window,), extra_usage=None, fetched_at=T0)


class RecordingNotifier:
    def __init__(self, fail: bool = False):
        self.sent = []
        self.fail = fail

    def send(self, n):
        self.sent.append(n)
        if self.fail:
            raise RuntimeError("dbus went away")


class RecordingStore:
    def __init__(self, fail: bool = False):
        self.saved = []
        self.fail = fail

    def save(self, memory):
        self.saved.append(memory)
        if self.fail:
            raise OSError("disk full")


def percent_view(state, now):
    """A tiny stand-in for view.view: only what these tests look at."""
    percent = state.reading.windows[0].percent if state.reading else None
    return ("view", percent, type(state.problem).__name__, state.notifications_enabled)


def scripted_step(effects):
    def step(state, event, now):
        if isinstance(event, PollSucceeded):
            return replace(state, reading=event.reading), tuple(effects)
        return state, ()
    return step


def make(view_fn=percent_view, notifier=None, store=None, step_fn=None, state=None):
    kwargs = {} if step_fn is None else {"step_fn": step_fn}
    return Monitor(state or MonitorState(), FakeClock(T0), notifier or RecordingNotifier(),
                   store or RecordingStore(), view_fn=view_fn, **kwargs)


def test_listeners_get_the_new_view_after_an_event():
    monitor = make()
    seen = []
    monitor.subscribe(seen.append)
    monitor.handle(PollSucceeded(reading(40)))
    assert seen == [("view", 40, "NoneType", True)]
    assert monitor.state.reading.windows[0].percent == 40


def test_an_unchanged_view_is_not_sent_again():
    monitor = make()
    seen = []
    monitor.subscribe(seen.append)
    monitor.handle(PollSucceeded(reading(40)))
    monitor.handle(Tick())
    monitor.handle(PollSucceeded(reading(40)))
    assert len(seen) == 1
    monitor.handle(PollSucceeded(reading(41)))
    assert len(seen) == 2


def test_unsubscribed_listeners_hear_nothing():
    monitor = make()
    seen = []
    unsubscribe = monitor.subscribe(seen.append)
    unsubscribe()
    unsubscribe()  # twice is harmless
    monitor.handle(PollSucceeded(reading(40)))
    assert seen == []


def test_a_failing_listener_does_not_stop_the_others(caplog):
    monitor = make()
    seen = []

    def broken(view):
        raise RuntimeError("tray gone")

    monitor.subscribe(broken)
    monitor.subscribe(seen.append)
    with caplog.at_level(logging.ERROR, logger="tray_monitor.monitor"):
        monitor.handle(PollSucceeded(reading(40)))
    assert seen and "listener failed" in caplog.text


def test_notify_effects_reach_the_notifier_and_memory_is_saved():
    memory = AlertMemory(login_worked=True)
    notifier, store = RecordingNotifier(), RecordingStore()
    monitor = make(notifier=notifier, store=store,
                   step_fn=scripted_step([Notify(NOTE), SaveAlertMemory(memory)]))
    monitor.handle(PollSucceeded(reading(91)))
    assert notifier.sent == [NOTE] and store.saved == [memory]


def test_a_raising_notifier_is_logged_once_and_the_monitor_carries_on(caplog):
    notifier = RecordingNotifier(fail=True)
    monitor = make(notifier=notifier, step_fn=scripted_step([Notify(NOTE)]))
    seen = []
    monitor.subscribe(seen.append)
    with caplog.at_level(logging.ERROR, logger="tray_monitor.monitor"):
        monitor.handle(PollSucceeded(reading(91)))
        monitor.handle(PollSucceeded(reading(92)))
    assert len(notifier.sent) == 2 and len(seen) == 2
    assert caplog.text.count("could not be delivered") == 1


def test_a_failing_alert_store_is_logged_once_and_the_monitor_carries_on(caplog):
    store = RecordingStore(fail=True)
    monitor = make(store=store, step_fn=scripted_step([SaveAlertMemory(AlertMemory())]))
    with caplog.at_level(logging.ERROR, logger="tray_monitor.monitor"):
        monitor.handle(PollSucceeded(reading(91)))
        monitor.handle(PollSucceeded(reading(92)))
    assert len(store.saved) == 2 and caplog.text.count("could not be saved") == 1
    assert monitor.state.reading.windows[0].percent == 92


def test_an_unknown_effect_is_logged_and_ignored(caplog):
    monitor = make(step_fn=scripted_step(["mystery"]))
    with caplog.at_level(logging.WARNING, logger="tray_monitor.monitor"):
        monitor.handle(PollSucceeded(reading(10)))
    assert "unknown effect" in caplog.text


def test_view_is_computed_from_the_current_state():
    monitor = make()
    monitor.handle(PollSucceeded(reading(33)))
    assert monitor.view() == ("view", 33, "NoneType", True)


def test_a_listener_may_report_an_event_itself_without_deadlock():
    monitor = make()
    seen = []

    def reentrant(view):
        seen.append(view)
        if view[3]:
            monitor.handle(NotificationsToggled(False))

    monitor.subscribe(reentrant)
    monitor.handle(PollSucceeded(reading(40)))
    assert seen[-1] == ("view", 40, "NoneType", False)


def test_events_from_many_threads_all_land_and_the_last_view_is_the_final_state():
    monitor = make()
    seen = []
    monitor.subscribe(seen.append)
    threads = [threading.Thread(target=monitor.handle, args=(PollSucceeded(reading(p)),)) for p in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    final = monitor.state.reading.windows[0].percent
    assert seen[-1] == ("view", final, "NoneType", True)


def test_with_the_real_view_and_alerts_a_login_loss_notifies_and_the_view_says_expired():
    notifier, store = RecordingNotifier(), RecordingStore()
    monitor = Monitor(MonitorState(), FakeClock(T0), notifier, store)
    seen = []
    monitor.subscribe(seen.append)
    monitor.handle(PollSucceeded(reading(40), "Max 5x"))
    monitor.handle(PollFailed(AuthExpired("Your Claude login expired; run `claude`.")))
    assert all(isinstance(v, View) for v in seen)
    assert [v.status for v in seen] == ["ok", "expired"]
    assert [n.key for n in notifier.sent] == ["login"]
    assert store.saved  # the login popup is remembered across restarts


def test_with_the_real_view_a_tick_that_changes_no_text_sends_nothing():
    clock = FakeClock(T0)
    monitor = Monitor(MonitorState(), clock, RecordingNotifier(), RecordingStore())
    seen = []
    monitor.subscribe(seen.append)
    monitor.handle(PollSucceeded(reading(40)))
    monitor.handle(Tick())
    assert len(seen) == 1
    clock.advance(61)
    monitor.handle(Tick())
    assert len(seen) == 2  # the countdown moved by a minute


def test_a_transient_failure_keeps_the_reading_visible():
    monitor = make()
    monitor.handle(PollSucceeded(reading(40)))
    monitor.handle(PollFailed(Transient("502")))
    assert monitor.view() == ("view", 40, "Transient", True)


def test_several_events_handled_together_reach_listeners_as_one_view():
    monitor = make()
    seen = []
    monitor.subscribe(seen.append)
    monitor.handle(PollSucceeded(reading(40)), NotificationsToggled(False))
    assert seen == [("view", 40, "NoneType", False)]


def test_without_an_alert_store_memory_is_kept_in_state_only(caplog):
    memory = AlertMemory(login_worked=True)
    monitor = Monitor(MonitorState(), FakeClock(T0), RecordingNotifier(), None, view_fn=percent_view,
                      step_fn=scripted_step([SaveAlertMemory(memory)]))
    with caplog.at_level(logging.WARNING, logger="tray_monitor.monitor"):
        monitor.handle(PollSucceeded(reading(40)))
    assert caplog.text == ""


def test_a_reading_goes_into_the_history_on_the_reporting_thread_and_back_into_the_state(tmp_path):
    from tray_monitor.history import HistoryStore

    store = HistoryStore(tmp_path / "history.sqlite3")
    threads = []
    real_record = store.record

    def record(r):
        threads.append(threading.current_thread().name)
        return real_record(r)

    store.record = record  # type: ignore[method-assign]
    monitor = Monitor(MonitorState(), FakeClock(T0), RecordingNotifier(), RecordingStore(), history=store)
    poller = threading.Thread(target=monitor.handle, args=(PollSucceeded(reading(40)),), name="claude-tray-poller")
    poller.start()
    poller.join()
    assert threads == ["claude-tray-poller"]
    assert [s.percent for s in monitor.state.history.samples_for("five_hour")] == [40]


def test_a_failing_history_is_logged_once_and_the_monitor_carries_on(caplog):
    class Broken:
        def record(self, r):
            raise RuntimeError("unexpected")

        def digest(self, now):
            raise RuntimeError("unexpected too")

    monitor = Monitor(MonitorState(), FakeClock(T0), RecordingNotifier(), RecordingStore(), history=Broken())
    monitor.handle(PollSucceeded(reading(40)))
    monitor.handle(PollSucceeded(reading(41)))
    assert monitor.state.reading is not None and monitor.state.reading.windows[0].percent == 41
    assert caplog.text.count("the usage history could not be updated") == 1


def test_an_unchanged_reading_costs_no_history_read_back(tmp_path):
    from tray_monitor.history import HistoryStore

    store = HistoryStore(tmp_path / "history.sqlite3")
    digests = []
    real_digest = store.digest
    store.digest = lambda now: digests.append(now) or real_digest(now)  # type: ignore[method-assign]
    monitor = Monitor(MonitorState(), FakeClock(T0), RecordingNotifier(), RecordingStore(), history=store)
    monitor.handle(PollSucceeded(reading(40)))  # read once before the first reading, once after storing it
    assert len(digests) == 2
    monitor.handle(PollSucceeded(reading(40)))  # nothing changed: nothing stored, nothing read back
    assert len(digests) == 2
    monitor.handle(PollSucceeded(reading(41)))
    assert len(digests) == 3


def test_the_first_reading_after_a_start_is_judged_with_the_stored_history(tmp_path):
    """A tray started at 74 % two hours into the session: from the reading alone (37 points an
    hour) it runs out in 42 min, 2 h 18 min before the reset: a run-out popup. The history the
    tray wrote before (74 % for the last 40 min: idle) says otherwise, and the first reading is
    judged with it: no popup, and the state's forecast is the history's."""
    from tray_monitor.alerts import AlertSettings
    from tray_monitor.forecast import forecast_window
    from tray_monitor.history import HistoryStore

    resets_at = T0 + timedelta(hours=3)

    def at(percent: float, when: datetime) -> Reading:
        window = UsageWindow(id="five_hour", label="Current session", percent=percent, resets_at=resets_at,
                             kind="session")
        return Reading(windows=(window,), extra_usage=None, fetched_at=when)

    store = HistoryStore(tmp_path / "history.sqlite3")
    for percent, ago in ((10, 110), (60, 60), (74, 40)):
        store.record(at(percent, T0 - timedelta(minutes=ago)))
    store.close()
    settings = AlertSettings()

    def popup_due(samples) -> bool:
        fc = forecast_window("five_hour", "session", 74, resets_at, T0, samples).forecast
        assert fc is not None
        return (fc.runs_out_at is not None and resets_at - fc.runs_out_at > timedelta(minutes=settings.runout_lead)
                and fc.runs_out_at - T0 < timedelta(minutes=settings.runout_within))

    stored = HistoryStore(tmp_path / "history.sqlite3").digest(T0).samples_for("five_hour")
    assert popup_due(()) and not popup_due(stored)  # the case is one where the history decides

    notifier = RecordingNotifier()
    monitor = Monitor(MonitorState(alert_settings=settings), FakeClock(T0), notifier, RecordingStore(),
                      history=HistoryStore(tmp_path / "history.sqlite3"))
    monitor.handle(PollSucceeded(at(74, T0)))
    assert notifier.sent == []
    assert monitor.state.history.samples_for("five_hour") == stored
