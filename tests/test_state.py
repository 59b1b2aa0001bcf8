"""The pure state machine: what each event does to the state, and which effects it asks for."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from tray_monitor.alerts import AlertMemory, AlertSettings, Notification
from tray_monitor.errors import AuthExpired, RateLimited, ScopeMissing, Transient
from tray_monitor.forecast import HistoryDigest, Sample
from tray_monitor.model import Reading, UsageWindow
from tray_monitor.state import (
    HistoryLoaded,
    MonitorState,
    NotificationsToggled,
    Notify,
    PollFailed,
    PollScheduled,
    PollSucceeded,
    RecordReading,
    SaveAlertMemory,
    Tick,
    step,
)

NOW = datetime(2026, 9, 1, 12, 0, tzinfo=timezone.utc)


def reading(percent: float = 40.0, at: datetime = NOW) -> Reading:
    window = UsageWindow(id="five_hour", label="Session (5h)", percent=percent,
                         resets_at=at + timedelta(hours=2), kind="session")
    return Reading(windows=(window,), extra_usage=None, fetched_at=at)


class RecordingEvaluate:
    """Stands in for alerts.evaluate: records its calls, answers with a scripted result."""

    def __init__(self, memory: AlertMemory | None = None, notes: tuple[Notification, ...] = ()):
        self.calls = []
        self.memory = memory
        self.notes = notes

    def __call__(self, memory, reading, status, settings, now):
        self.calls.append((memory, reading, status, settings, now))
        return (self.memory if self.memory is not None else memory), self.notes


NOTE = Notification(key="window:five_hour", summary="Session at 90%", body="resets in 2h", urgency="critical")
CHANGED_MEMORY = AlertMemory(login_worked=True)


def test_defaults_match_the_contract():
    s = MonitorState()
    assert (s.reading, s.problem, s.plan, s.last_attempt_at, s.next_poll_at) == (None,) * 5
    assert s.interval == 120 and s.pinned_window is None and s.notifications_enabled
    assert s.alert_memory == AlertMemory() and s.alert_settings == AlertSettings()


def test_success_stores_the_reading_and_plan_and_clears_the_problem():
    start = MonitorState(problem=Transient("502"))
    r = reading()
    state, _ = step(start, PollSucceeded(r, "Max 5x"), NOW, evaluate=RecordingEvaluate())
    assert state.reading is r and state.plan == "Max 5x"
    assert state.problem is None and state.last_attempt_at == NOW


def test_failure_keeps_the_last_good_reading_and_records_the_problem():
    r = reading()
    start = MonitorState(reading=r, plan="Pro")
    error = RateLimited("slow down")
    state, _ = step(start, PollFailed(error), NOW, evaluate=RecordingEvaluate())
    assert state.reading is r and state.plan == "Pro"
    assert state.problem is error and state.last_attempt_at == NOW


@pytest.mark.parametrize("event, status", [
    (PollSucceeded(reading()), "ok"),
    (PollFailed(AuthExpired("expired")), "expired"),
    (PollFailed(ScopeMissing("scope")), "no_scope"),
    (PollFailed(RateLimited("slow")), "rate_limited"),
    (PollFailed(Transient("502")), "error"),
])
def test_every_poll_outcome_is_judged_by_alerts_with_its_status(event, status):
    evaluate = RecordingEvaluate()
    settings = AlertSettings(thresholds=(50,))
    last = reading(12)
    start = MonitorState(reading=last, alert_settings=settings)
    step(start, event, NOW, evaluate=evaluate)
    (memory, seen_reading, seen_status, seen_settings, seen_now), = evaluate.calls
    expected_reading = event.reading if isinstance(event, PollSucceeded) else last
    assert (seen_reading, seen_status, seen_settings, seen_now) == (expected_reading, status, settings, NOW)
    assert memory == start.alert_memory


def test_due_notifications_become_notify_effects():
    _, effects = step(MonitorState(), PollSucceeded(reading(91)), NOW, evaluate=RecordingEvaluate(notes=(NOTE,)))
    assert Notify(NOTE) in effects


def test_changed_alert_memory_is_kept_and_saved():
    state, effects = step(MonitorState(), PollSucceeded(reading()), NOW,
                          evaluate=RecordingEvaluate(memory=CHANGED_MEMORY))
    assert state.alert_memory == CHANGED_MEMORY
    assert effects[1:] == (SaveAlertMemory(CHANGED_MEMORY),)


def test_unchanged_alert_memory_is_not_saved():
    _, effects = step(MonitorState(), PollSucceeded(reading()), NOW, evaluate=RecordingEvaluate())
    assert effects == (RecordReading(reading()),)  # the history, not the alert memory


def test_notifications_off_sends_nothing_but_memory_still_advances():
    start = MonitorState(notifications_enabled=False)
    state, effects = step(start, PollSucceeded(reading(91)), NOW,
                          evaluate=RecordingEvaluate(memory=CHANGED_MEMORY, notes=(NOTE,)))
    assert effects[1:] == (SaveAlertMemory(CHANGED_MEMORY),)
    assert state.alert_memory == CHANGED_MEMORY


def test_toggling_notifications_changes_the_flag_only():
    start = MonitorState(reading=reading())
    state, effects = step(start, NotificationsToggled(False), NOW, evaluate=RecordingEvaluate())
    assert state == replace(start, notifications_enabled=False) and effects == ()


def test_poll_scheduled_records_the_retry_estimate():
    at = NOW + timedelta(minutes=5)
    state, effects = step(MonitorState(), PollScheduled(at), NOW)
    assert state.next_poll_at == at and effects == ()
    state, _ = step(state, PollScheduled(None), NOW)
    assert state.next_poll_at is None


def test_tick_changes_no_state_and_asks_alerts_nothing():
    evaluate = RecordingEvaluate(notes=(NOTE,))
    start = MonitorState(reading=reading())
    state, effects = step(start, Tick(), NOW, evaluate=evaluate)
    assert state == start and effects == () and evaluate.calls == []


def test_an_unknown_event_is_a_programming_error():
    with pytest.raises(TypeError):
        step(MonitorState(), "refresh", NOW)


def test_with_the_real_alerts_crossing_a_threshold_notifies_once():
    state, effects = step(MonitorState(), PollSucceeded(reading(20)), NOW)
    assert not any(isinstance(e, Notify) for e in effects)
    state, effects = step(state, PollSucceeded(reading(80)), NOW + timedelta(minutes=2))
    notes = [e.notification for e in effects if isinstance(e, Notify)]
    assert [n.key for n in notes] == ["window:five_hour"]
    assert any(isinstance(e, SaveAlertMemory) for e in effects)
    _, effects = step(state, PollSucceeded(reading(81)), NOW + timedelta(minutes=4))
    assert not any(isinstance(e, Notify) for e in effects)


def test_with_the_real_alerts_a_lost_login_after_a_success_notifies_once():
    state, _ = step(MonitorState(), PollSucceeded(reading(20)), NOW)
    state, effects = step(state, PollFailed(AuthExpired("expired")), NOW)
    assert [e.notification.key for e in effects if isinstance(e, Notify)] == ["login"]
    _, effects = step(state, PollFailed(AuthExpired("expired")), NOW)
    assert not any(isinstance(e, Notify) for e in effects)


def test_a_reading_is_recorded_in_the_history_but_never_a_simulated_one():
    _, effects = step(MonitorState(), PollSucceeded(reading()), NOW, evaluate=RecordingEvaluate())
    assert effects[0] == RecordReading(reading())
    _, effects = step(MonitorState(simulated=True), PollSucceeded(reading()), NOW, evaluate=RecordingEvaluate())
    assert not any(isinstance(e, RecordReading) for e in effects)
    _, effects = step(MonitorState(), PollFailed(Transient("down")), NOW, evaluate=RecordingEvaluate())
    assert not any(isinstance(e, RecordReading) for e in effects)


def test_loaded_history_is_kept_in_the_state():
    digest = HistoryDigest(samples=(("five_hour", (Sample(NOW, 5.0, None),)),))
    state, effects = step(MonitorState(), HistoryLoaded(digest), NOW)
    assert state.history == digest and effects == ()


def test_a_threshold_and_a_run_out_in_one_reading_are_one_popup_and_the_run_out_is_remembered():
    state, _ = step(MonitorState(), PollSucceeded(reading(20)), NOW)
    # 80 % with 2 h of 5 left: the threshold (75 %) and "runs out at ..." are due together
    state, effects = step(state, PollSucceeded(reading(80)), NOW + timedelta(minutes=2))
    notes = [e.notification for e in effects if isinstance(e, Notify)]
    assert len(notes) == 1 and "runs out at" in notes[0].body
    assert state.alert_memory.window("five_hour").runout
    _, effects = step(state, PollSucceeded(reading(85)), NOW + timedelta(minutes=4))
    assert not any(isinstance(e, Notify) for e in effects)


def test_the_run_out_popup_is_off_with_one_setting():
    start = MonitorState(alert_settings=AlertSettings(thresholds=(100,), notify_runout=False))
    state, _ = step(start, PollSucceeded(reading(20)), NOW)
    _, effects = step(state, PollSucceeded(reading(80)), NOW + timedelta(minutes=2))
    assert not any(isinstance(e, Notify) for e in effects)
