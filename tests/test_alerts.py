"""alerts.evaluate: which notifications are due, with their exact texts, over sequences of readings."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from tray_monitor.alerts import (
    AlertMemory,
    AlertSettings,
    Notification,
    WindowMemory,
    cycle_of,
    evaluate,
    make_test_notification,
    same_cycle,
)
from tray_monitor.fmt import format_percent
from tray_monitor.model import ExtraUsage, Reading, UsageWindow

UTC = timezone.utc
# 14:00 with the server's microsecond jitter; the next session cycle is 5 h later.
RESETS = datetime(2026, 9, 10, 14, 0, 0, 1100, tzinfo=UTC)
NEXT_RESETS = datetime(2026, 9, 10, 19, 0, 0, 412, tzinfo=UTC)
NOW = datetime(2026, 9, 10, 11, 49, 0, 500000, tzinfo=UTC)  # 2h 11m before RESETS
DEFAULTS = AlertSettings()


@pytest.fixture(autouse=True)
def utc_local_time(local_time_zone):
    """format_clock shows local time: pin the zone so the texts are exact."""
    local_time_zone("UTC")


def session(percent, resets_at=RESETS, severity=None, locked_reason=None):
    return UsageWindow(id="five_hour", label="Session (5h)", percent=percent, resets_at=resets_at,
                       severity=severity, locked_reason=locked_reason, kind="session")


def weekly(percent, resets_at=datetime(2026, 9, 14, 9, 0, 0, 433, tzinfo=UTC), severity=None):
    return UsageWindow(id="seven_day", label="Weekly", percent=percent, resets_at=resets_at,
                       severity=severity, kind="weekly")


def reading(*windows, extra=None, at=NOW):
    return Reading(windows=tuple(windows), extra_usage=extra, fetched_at=at)


def run(steps, memory=AlertMemory(), settings=DEFAULTS):
    """Feed (reading, status, now) steps; return the final memory and every notification, in order."""
    sent = []
    for rd, status, now in steps:
        memory, notes = evaluate(memory, rd, status, settings, now)
        sent.extend(notes)
    return memory, sent


def ok(*windows, at=NOW, extra=None):
    return (reading(*windows, extra=extra, at=at), "ok", at)


def summaries(notes):
    return [n.summary for n in notes]


# ---------------------------------------------------------------- thresholds


def test_rising_usage_fires_each_threshold_once_with_exact_texts():
    _, sent = run([ok(session(60)), ok(session(80)), ok(session(95)), ok(session(96))])
    assert sent == [
        Notification("window:five_hour", "Session (5h) at 80%", "Resets in 2h 11m (14:00).", "normal"),
        Notification("window:five_hour", "Session (5h) at 95%", "Resets in 2h 11m (14:00).", "critical"),
    ]


def test_jumping_several_thresholds_at_once_fires_only_the_highest():
    _, sent = run([ok(session(10)), ok(session(100))])
    assert sent == [
        Notification(
            "window:five_hour",
            "Session (5h) limit reached: 100%",
            "Resets in 2h 11m (14:00). Work with Claude pauses until then.",
            "critical",
        )
    ]


def test_dip_below_a_threshold_and_back_in_the_same_cycle_does_not_fire_again():
    _, sent = run([ok(session(91)), ok(session(70)), ok(session(92)), ok(session(76))])
    assert summaries(sent) == ["Session (5h) at 91%"]


def test_below_all_thresholds_nothing_fires():
    memory, sent = run([ok(session(74.4)), ok(weekly(12))])
    assert sent == []
    assert memory.window("five_hour").notified_level == 0


def test_microsecond_jitter_of_resets_at_is_the_same_cycle():
    jittered = RESETS + timedelta(microseconds=338) + timedelta(seconds=20)
    _, sent = run([ok(session(91)), ok(session(93, resets_at=jittered))])
    assert summaries(sent) == ["Session (5h) at 91%"]


def test_overage_above_100_percent_is_reported_as_sent_and_mentions_extra_usage_when_enabled():
    extra = ExtraUsage(enabled=True, used=12.34, limit=50.0, currency="USD", percent=24.68)
    _, sent = run([ok(session(104), extra=extra)])
    assert sent == [
        Notification(
            "window:five_hour",
            "Session (5h) limit reached: 104%",
            "Resets in 2h 11m (14:00). Until then, usage is billed as extra usage.",
            "critical",
        )
    ]


def test_each_window_has_its_own_key_and_cycle():
    _, sent = run([ok(session(80), weekly(91))])
    assert [(n.key, n.summary) for n in sent] == [
        ("window:five_hour", "Session (5h) at 80%"),
        ("window:seven_day", "Weekly at 91%"),
    ]
    assert sent[1].body == "Resets in 3d 21h (Mon 09:00)."


def test_thresholds_come_from_the_settings():
    _, sent = run([ok(session(55)), ok(session(65))], settings=AlertSettings(thresholds=(50, 60)))
    assert summaries(sent) == ["Session (5h) at 55%", "Session (5h) at 65%"]


def test_resets_text_says_now_when_the_reset_moment_has_come():
    _, sent = run([ok(session(90), at=RESETS)])
    assert sent[0].body == "Resets now (14:00)."


def test_window_that_has_not_started_says_so():
    _, sent = run([ok(session(80, resets_at=None))])
    assert sent[0].body == "Not started yet."


# ---------------------------------------------------------------- server-flagged windows


def test_critical_severity_below_thresholds_is_reported_once():
    _, sent = run([ok(session(50, severity="critical")), ok(session(52, severity="critical"))])
    assert sent == [
        Notification(
            "window:five_hour",
            "Session (5h) at 50%",
            "Anthropic marks this limit as critical. Resets in 2h 11m (14:00).",
            "critical",  # as the icon: red
        )
    ]


def test_critical_severity_after_a_threshold_popup_in_the_same_cycle_adds_nothing():
    _, sent = run([ok(session(91, severity="warning")), ok(session(93, severity="critical"))])
    assert summaries(sent) == ["Session (5h) at 91%"]


def test_locked_reason_is_reported_even_below_thresholds_and_says_work_pauses():
    steps = [ok(session(80)), ok(session(81, locked_reason="usage_limit")), ok(session(82, locked_reason="usage_limit"))]
    _, sent = run(steps)
    assert sent[1] == Notification(
        "window:five_hour",
        "Session (5h) at 81%",
        "Locked by Anthropic (usage limit). Resets in 2h 11m (14:00). Work with Claude pauses until then.",
        "critical",
    )
    assert len(sent) == 2


# ---------------------------------------------------------------- resets


def test_reset_after_reaching_90_percent_announces_back_to_zero():
    after = RESETS + timedelta(minutes=2)
    _, sent = run([ok(session(93)), ok(session(0, resets_at=NEXT_RESETS), at=after)])
    assert sent[-1] == Notification(
        "window:five_hour",
        "Session (5h) limit reset — back to 0%",
        "The full limit is available again; it next resets in 4h 58m (19:00).",
        "low",
    )


def test_reset_to_a_window_that_has_not_started_is_announced_too():
    after = RESETS + timedelta(minutes=2)
    _, sent = run([ok(session(93)), ok(session(0, resets_at=None), at=after)])
    assert sent[-1].summary == "Session (5h) limit reset — back to 0%"
    assert sent[-1].body == "The full limit is available again."


def test_reset_below_90_percent_is_not_announced_and_thresholds_rearm():
    after = RESETS + timedelta(minutes=2)
    steps = [ok(session(80)), ok(session(3, resets_at=NEXT_RESETS), at=after), ok(session(77, resets_at=NEXT_RESETS), at=after)]
    _, sent = run(steps)
    assert summaries(sent) == ["Session (5h) at 80%", "Session (5h) at 77%"]


def test_reset_is_not_announced_when_switched_off():
    after = RESETS + timedelta(minutes=2)
    steps = [ok(session(95)), ok(session(0, resets_at=NEXT_RESETS), at=after)]
    _, sent = run(steps, settings=AlertSettings(notify_reset=False))
    assert summaries(sent) == ["Session (5h) at 95%"]


def test_reset_noticed_hours_later_is_old_news_and_not_announced():
    much_later = RESETS + timedelta(hours=3)
    _, sent = run([ok(session(95)), ok(session(0, resets_at=NEXT_RESETS), at=much_later)])
    assert summaries(sent) == ["Session (5h) at 95%"]


def test_resets_at_moving_earlier_is_a_new_cycle_but_not_a_reset():
    earlier = RESETS - timedelta(hours=1)
    memory, sent = run([ok(session(95)), ok(session(20, resets_at=earlier))])
    assert summaries(sent) == ["Session (5h) at 95%"]
    assert memory.window("five_hour") == WindowMemory(cycle=cycle_of(earlier), notified_level=0, peak=20)


def test_threshold_popup_wins_over_reset_popup_in_the_same_reading():
    after = RESETS + timedelta(minutes=2)
    _, sent = run([ok(session(95)), ok(session(80, resets_at=NEXT_RESETS), at=after)])
    assert summaries(sent) == ["Session (5h) at 95%", "Session (5h) at 80%"]


# ---------------------------------------------------------------- persistence across restarts


def test_restart_with_persisted_memory_does_not_repeat_the_popup():
    memory, first = run([ok(session(92))])
    restored = AlertMemory.from_dict(memory.to_dict())
    _, second = run([ok(session(92.5))], memory=restored)
    assert summaries(first) == ["Session (5h) at 92%"] and second == []


def test_fresh_start_at_92_percent_tells_the_user_once():
    _, sent = run([ok(session(92)), ok(session(92))])
    assert summaries(sent) == ["Session (5h) at 92%"]


def test_memory_round_trips_through_a_dict():
    memory, _ = run([ok(session(92, severity="critical"), weekly(50)), (None, "expired", NOW)])
    assert AlertMemory.from_dict(memory.to_dict()) == memory


@pytest.mark.parametrize(
    "data",
    [
        None,
        [],
        {"windows": []},
        {"windows": {"five_hour": "x"}},
        {"windows": {"five_hour": {"cycle": "not a date"}}},
        {"windows": {"five_hour": {"cycle": 5}}},
        {"windows": {"five_hour": {"cycle": "2026-09-10T14:00:00"}}},  # no zone
        {"windows": {"five_hour": {"cycle": None, "notified_level": "90"}}},
        {"windows": {"five_hour": {"cycle": None, "notified_level": 90, "peak": True}}},
        {"login_alert": "something else", "login_worked": "yes"},
    ],
)
def test_memory_from_a_malformed_dict_drops_what_makes_no_sense(data):
    assert AlertMemory.from_dict(data) == AlertMemory()


def test_windows_missing_from_a_reading_are_kept_until_their_cycle_is_long_over():
    memory, _ = run([ok(session(92), weekly(10))])
    memory, sent = run([ok(weekly(11))], memory=memory)
    assert memory.window("five_hour") is not None
    memory, _ = run([ok(weekly(11), at=RESETS + timedelta(days=2))], memory=memory)
    assert memory.window("five_hour") is None
    assert sent == []


# ---------------------------------------------------------------- login


def test_expiry_after_ok_notifies_once_and_ok_rearms():
    steps = [ok(session(10)), (reading(session(10)), "expired", NOW), (None, "expired", NOW),
             (None, "signed_out", NOW), ok(session(10)), (None, "expired", NOW)]
    _, sent = run(steps)
    expected = Notification("login", "Claude login expired",
                            "Run claude in a terminal to sign in again; the tray picks up the new login by itself.",
                            "normal")
    assert sent == [expected, expected]


def test_signed_out_after_having_worked_notifies():
    _, sent = run([ok(session(10)), (None, "signed_out", NOW)])
    assert summaries(sent) == ["Not signed in to Claude Code"]


def test_signed_out_before_anything_ever_worked_is_silent():
    _, sent = run([(None, "signed_out", NOW), (None, "expired", NOW)])
    assert sent == []


def test_missing_usage_scope_notifies_once_even_without_a_previous_success():
    _, sent = run([(None, "no_scope", NOW), (None, "no_scope", NOW), (None, "error", NOW)])
    assert sent == [
        Notification(
            "login",
            "This Claude login cannot read usage",
            "It is a token from claude setup-token, which cannot read usage. "
            "Run claude in a terminal and log in there instead.",
            "normal",
        )
    ]


def test_transient_failures_neither_notify_nor_judge_the_stale_reading():
    memory, _ = run([ok(session(60))])
    after, sent = run([(reading(session(99)), "rate_limited", NOW), (reading(session(99)), "error", NOW)], memory=memory)
    assert sent == [] and after == memory


def test_login_texts_never_contain_a_token():
    memory, sent = run([ok(session(10)), (None, "expired", NOW), (None, "no_scope", NOW)])
    assert sent and all("sk-ant" not in n.summary + n.body for n in sent)


# ---------------------------------------------------------------- helpers


def test_cycle_identity_rounds_to_the_nearest_minute_in_utc():
    local = timezone(timedelta(hours=2))
    assert cycle_of(datetime(2026, 9, 23, 14, 59, 59, 593033, tzinfo=local)) == datetime(2026, 9, 23, 13, 0, tzinfo=UTC)
    assert cycle_of(datetime(2026, 9, 23, 13, 0, 29, tzinfo=UTC)) == datetime(2026, 9, 23, 13, 0, tzinfo=UTC)
    assert cycle_of(None) is None


def test_same_cycle_treats_not_started_as_its_own_state():
    t = datetime(2026, 9, 23, 13, 0, tzinfo=UTC)
    assert same_cycle(None, None)
    assert not same_cycle(None, t) and not same_cycle(t, None)
    assert same_cycle(t, t + timedelta(minutes=4))
    assert not same_cycle(t, t + timedelta(minutes=5))


def test_the_test_notification_has_its_own_key():
    assert make_test_notification().key == "test"


# ---------------------------------------------------------------- properties


@hypothesis_settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(min_value=0, max_value=130, allow_nan=False), min_size=1, max_size=30),
       st.sets(st.integers(min_value=1, max_value=120), min_size=1, max_size=5))
def test_within_one_cycle_each_threshold_fires_at_most_once_and_levels_only_rise(percents, thresholds):
    settings = AlertSettings(thresholds=tuple(thresholds))
    memory, sent = run([ok(session(p)) for p in percents], settings=settings)
    fired_at = [p for p, before, after in _levels(percents, sorted(thresholds)) if after > before]
    assert len(sent) == len(fired_at) <= len(thresholds)
    assert summaries(sent) == [
        f"Session (5h) {'limit reached: ' if p >= 100 else 'at '}{format_percent(p)}" for p in fired_at
    ]
    assert memory.window("five_hour").peak == max(percents)


def _levels(percents, thresholds):
    """(percent, level notified before, level after) for each reading: the model of the rule."""
    level = 0
    for p in percents:
        reached = max((t for t in thresholds if p >= t), default=0)
        yield p, level, max(level, reached)
        level = max(level, reached)


def test_memory_is_hashable_and_compares_by_value():
    a, _ = run([ok(session(92))])
    b, _ = run([ok(session(92))])
    assert a == b and hash(a) == hash(b)


# ---------------------------------------------------------------- what the desktop shows (issue 16)


@hypothesis_settings(max_examples=200, deadline=None)
@given(percent=st.floats(min_value=0, max_value=130, allow_nan=False),
       server=st.sampled_from([None, "normal", "warning", "critical"]))
def test_a_threshold_popup_is_critical_exactly_when_the_icon_is_red_or_the_limit_is_reached(percent, server):
    """The icon turned red at 90 % while its popup came at normal urgency (a desktop then lets it
    time out like any other): the popup's urgency now follows the icon's severity."""
    from tray_monitor.state import MonitorState
    from tray_monitor.view import view

    window = session(percent, severity=server)
    _, sent = run([ok(window)], settings=AlertSettings(thresholds=(1, 75, 90, 100)))
    icon = view(MonitorState(reading=reading(window), interval=120), NOW).icon
    for note in sent:
        red = icon.severity == "critical" or percent >= 100
        assert (note.urgency == "critical") == red, (note, icon)


def every_notification() -> list[Notification]:
    from tray_monitor.alerts import status_notification
    from tray_monitor.errors import AuthExpired, CredentialsNotFound, RateLimited, ScopeMissing, Transient
    from tray_monitor.state import MonitorState
    from tray_monitor.view import view

    extra = ExtraUsage(enabled=True, used=3.2, limit=50.0, currency="USD", percent=6.4)
    _, sent = run([ok(session(60), weekly(20)), ok(session(80, locked_reason="usage_limit"), weekly(93)),
                   ok(session(104), weekly(93), extra=extra),
                   ok(session(3, resets_at=NEXT_RESETS), weekly(93), at=RESETS + timedelta(minutes=1)),
                   (None, "expired", NOW), (None, "no_scope", NOW), ok(session(3)), (None, "signed_out", NOW)])
    kept = reading(session(42), weekly(10))
    states = [MonitorState(), MonitorState(reading=kept)] + [
        MonitorState(reading=r, problem=p) for r in (None, kept)
        for p in (AuthExpired("x"), CredentialsNotFound("x"), ScopeMissing("x"), RateLimited("x", 60), Transient("x"))]
    return [*sent, make_test_notification(), *(status_notification(view(s, NOW)) for s in states)]


def test_no_notification_shows_markdown_backticks_or_repeats_its_title_as_its_body():
    """Desktops show `claude` with its backticks; and the signed-out click popup had its one
    sentence as both title and body."""
    notes = every_notification()
    assert len(notes) > 15
    for note in notes:
        assert "`" not in note.summary + note.body, note
        assert note.body and note.summary.strip() not in note.body, note


# ---------------------------------------------------------------- the run-out popup (forecast)

def _runout_memory(resets_at, runout=False):
    from tray_monitor.alerts import WindowMemory, cycle_of

    return AlertMemory(windows=(("five_hour", WindowMemory(cycle=cycle_of(resets_at), runout=runout)),))


def test_a_run_out_well_before_the_reset_and_soon_notifies_once_per_cycle():
    from tray_monitor.alerts import RunOut, evaluate_runout

    now = datetime(2026, 3, 3, 12, 0, tzinfo=timezone.utc)
    resets = now + timedelta(hours=2)
    soon = RunOut("five_hour", "Session (5h)", 70, 1.4, now + timedelta(minutes=40), resets)
    memory, notes = evaluate_runout(_runout_memory(resets), (soon,), AlertSettings(), now)
    assert [n.summary for n in notes] == ["Session (5h) runs out at 12:40"]
    assert "1h 20m before it resets at 14:00" in notes[0].body and "1.4x" in notes[0].body
    again, notes = evaluate_runout(memory, (soon,), AlertSettings(), now + timedelta(minutes=2))
    assert notes == () and again == memory
    # a new cycle arms it again
    later = resets + timedelta(hours=5)
    _, notes = evaluate_runout(_runout_memory(later), (RunOut("five_hour", "Session (5h)", 70, 1.4,
                               later - timedelta(hours=1), later),), AlertSettings(), later - timedelta(hours=1, minutes=30))
    assert len(notes) == 1


def test_a_run_out_too_far_ahead_or_too_close_to_the_reset_or_switched_off_is_quiet():
    from tray_monitor.alerts import RunOut, evaluate_runout

    now = datetime(2026, 3, 3, 12, 0, tzinfo=timezone.utc)
    resets = now + timedelta(hours=3)
    memory = _runout_memory(resets)
    far = RunOut("five_hour", "Session (5h)", 50, 1.2, now + timedelta(minutes=90), resets)  # > 60 min away
    late = RunOut("five_hour", "Session (5h)", 50, 1.2, resets - timedelta(minutes=20), resets)  # < 30 min early
    assert evaluate_runout(memory, (far,), AlertSettings(), now)[1] == ()
    assert evaluate_runout(memory, (late,), AlertSettings(), resets - timedelta(minutes=50))[1] == ()
    soon = RunOut("five_hour", "Session (5h)", 50, 1.2, now + timedelta(minutes=30), resets)
    assert evaluate_runout(memory, (soon,), AlertSettings(notify_runout=False), now)[1] == ()
    assert evaluate_runout(memory, (soon,), AlertSettings(runout_within=20), now)[1] == ()
    assert len(evaluate_runout(memory, (soon,), AlertSettings(), now)[1]) == 1


def test_the_run_out_mark_survives_the_threshold_evaluation_and_a_round_trip():
    from tray_monitor.alerts import WindowMemory, cycle_of

    resets = datetime(2026, 3, 3, 14, 0, tzinfo=timezone.utc)
    memory = AlertMemory(windows=(("five_hour", WindowMemory(cycle=cycle_of(resets), runout=True)),))
    window = UsageWindow("five_hour", "Session (5h)", 50, resets, kind="session")
    memory, _ = evaluate(memory, Reading((window,), None, resets - timedelta(hours=1)), "ok", AlertSettings(),
                         resets - timedelta(hours=1))
    assert memory.window("five_hour").runout
    assert AlertMemory.from_dict(memory.to_dict()) == memory
