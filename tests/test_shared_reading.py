"""shared_reading: the merge of the endpoint's answer and the statusline's two windows, the feed
message, and the published document read back; plus the state's StatuslineRead event and the
schedule rule that postpones the next request (they are the same behaviour, seen from the core)."""
from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tray_monitor import schedule as sch
from tray_monitor import statusline
from tray_monitor.alerts import AlertSettings, evaluate
from tray_monitor.errors import AuthExpired, RateLimited
from tray_monitor.model import ExtraUsage, Reading, UsageWindow
from tray_monitor.shared_reading import (
    BadFeed,
    FedReading,
    FedWindow,
    document,
    merge,
    parse_feed,
    reading_from_document,
    stamped,
)
from tray_monitor.state import MonitorState, Notify, PollSucceeded, SaveAlertMemory, StatuslineRead, step
from tray_monitor.view import view

NOW = datetime(2026, 9, 1, 12, 0, tzinfo=timezone.utc)
SESSION_RESETS = NOW + timedelta(hours=2)
WEEKLY_RESETS = NOW + timedelta(days=3)
EXTRA = ExtraUsage(enabled=True, used=12.5, limit=50.0, currency="USD", percent=25.0)


def endpoint(session: float = 40.0, weekly: float = 30.0, fable: float = 92.0, at: datetime = NOW) -> Reading:
    return Reading(
        windows=(
            UsageWindow("five_hour", "Session (5h)", session, SESSION_RESETS, severity="normal", active=True,
                        kind="session"),
            UsageWindow("seven_day", "Weekly", weekly, WEEKLY_RESETS, kind="weekly"),
            UsageWindow("seven_day_fable", "Weekly · Fable", fable, NOW + timedelta(days=1), kind="weekly_scoped"),
        ),
        extra_usage=EXTRA,
        fetched_at=at,
    )


def fed(session: float | None = 62.5, weekly: float | None = 31.0, after: float = 60,
        session_resets: datetime | None = SESSION_RESETS) -> FedReading:
    windows = []
    if session is not None:
        windows.append(FedWindow("five_hour", session, session_resets))
    if weekly is not None:
        windows.append(FedWindow("seven_day", weekly, WEEKLY_RESETS))
    return FedReading(NOW + timedelta(seconds=after), tuple(windows))


# ----------------------------------------------------------------------------- merge


def test_newer_statusline_values_replace_the_two_windows_and_keep_the_rest():
    merged, ids = merge(endpoint(), fed())
    assert ids == {"five_hour", "seven_day"}
    assert [(w.id, w.percent) for w in merged.windows] == [("five_hour", 62.5), ("seven_day", 31.0),
                                                            ("seven_day_fable", 92.0)]
    session = merged.window("five_hour")
    assert session.label == "Session (5h)" and session.active and session.severity is None  # old severity dropped
    assert merged.extra_usage == EXTRA and merged.fetched_at == NOW + timedelta(seconds=60)


def test_an_older_statusline_reading_loses_to_the_endpoints_answer():
    merged, ids = merge(endpoint(), fed(after=-5))
    assert merged == endpoint() and ids == frozenset()


def test_a_capped_100_never_replaces_a_higher_endpoint_value_of_the_same_cycle():
    merged, ids = merge(endpoint(session=104.0), fed(session=100.0, session_resets=SESSION_RESETS + timedelta(seconds=40)))
    assert merged.window("five_hour").percent == 104.0 and ids == {"seven_day"}


def test_a_capped_100_of_a_new_cycle_does_replace_the_old_overage():
    merged, ids = merge(endpoint(session=104.0), fed(session=100.0, session_resets=SESSION_RESETS + timedelta(hours=5)))
    assert merged.window("five_hour").percent == 100.0 and "five_hour" in ids


def test_without_an_endpoint_answer_the_statusline_alone_makes_a_reading():
    merged, ids = merge(None, fed(weekly=None))
    assert [(w.id, w.label, w.kind) for w in merged.windows] == [("five_hour", "Current session", "session")]
    assert merged.extra_usage is None and ids == {"five_hour"}


def test_a_statusline_without_resets_at_keeps_the_endpoints():
    merged, _ = merge(endpoint(), fed(session_resets=None))
    assert merged.window("five_hour").resets_at == SESSION_RESETS


percents = st.floats(0, 150, allow_nan=False)


@given(session=percents, statusline_percent=st.floats(0, 100), shift=st.integers(-10**6, 10**6))
def test_merge_never_loses_a_window_and_never_lowers_an_overage_by_capping(session, statusline_percent, shift):
    resets = SESSION_RESETS + timedelta(seconds=shift)
    merged, _ = merge(endpoint(session=session), fed(session=statusline_percent, session_resets=resets))
    assert {w.id for w in merged.windows} == {"five_hour", "seven_day", "seven_day_fable"}
    got = merged.window("five_hour").percent
    assert got in (session, statusline_percent)
    if statusline_percent >= 100 and session > statusline_percent and abs(shift) <= 300:
        assert got == session


# ----------------------------------------------------------------------------- the feed message


def test_the_statusline_message_round_trips():
    limits = {"five_hour": (62.5, SESSION_RESETS.timestamp()), "seven_day": (31.0, None)}
    message = statusline.feed_message(limits, NOW.timestamp())
    command, _, body = message.partition(" ")
    assert command == "statusline"
    assert parse_feed(body, NOW) == FedReading(NOW, (FedWindow("five_hour", 62.5, SESSION_RESETS),
                                                     FedWindow("seven_day", 31.0, None)))


@pytest.mark.parametrize("body", ["", "{", "[]", '{"windows": 3}', '{"windows": {}}',
                                  '{"windows": {"five_hour": [-1, 0]}}', '{"windows": {"five_hour": ["x", 0]}}',
                                  '{"windows": {"opus": [50, 0]}}'])
def test_a_bad_feed_is_one_sentence(body):
    with pytest.raises(BadFeed):
        parse_feed(body, NOW)


def test_a_feed_stamped_in_the_future_counts_as_now():
    body = json.dumps({"at": NOW.timestamp() + 3600, "windows": {"five_hour": [10, None]}})
    assert parse_feed(body, NOW).at == NOW


# ----------------------------------------------------------------------------- the state


def test_statusline_read_merges_and_alerts_once_per_cycle():
    state = MonitorState(alert_settings=AlertSettings(thresholds=(75, 90, 100)))
    state, _ = step(state, PollSucceeded(endpoint(session=50.0)), NOW)
    state, effects = step(state, StatuslineRead(fed(session=80.0)), NOW + timedelta(seconds=61))
    notes = [e.notification for e in effects if isinstance(e, Notify)]
    assert [n.key for n in notes] == ["window:five_hour"] and any(isinstance(e, SaveAlertMemory) for e in effects)
    assert state.reading.window("five_hour").percent == 80.0 and state.statusline_ids == {"five_hour", "seven_day"}
    state, effects = step(state, StatuslineRead(fed(session=81.0, after=90)), NOW + timedelta(seconds=91))
    assert not [e for e in effects if isinstance(e, Notify)]
    # the endpoint's older 50 % comes back (a dip), then the statusline's 80 % again: no second popup
    state, effects = step(state, PollSucceeded(endpoint(session=50.0, at=NOW + timedelta(seconds=120))), NOW)
    state, effects = step(state, StatuslineRead(fed(session=80.0, after=150)), NOW + timedelta(seconds=151))
    assert not [e for e in effects if isinstance(e, Notify)]


def test_statusline_read_clears_a_rate_limit_but_not_a_login_problem():
    state, _ = step(MonitorState(), PollSucceeded(endpoint()), NOW)
    limited = replace(state, problem=RateLimited(None))
    after, _ = step(limited, StatuslineRead(fed()), NOW + timedelta(seconds=61))
    assert after.problem is None and view(after, NOW + timedelta(seconds=61)).status == "ok"
    expired = replace(state, problem=AuthExpired("Login expired."), alert_memory=replace(state.alert_memory, login_alert="login_lost"))
    after, _ = step(expired, StatuslineRead(fed()), NOW + timedelta(seconds=61))
    assert isinstance(after.problem, AuthExpired)
    assert after.alert_memory.login_alert == "login_lost"  # the login popup is not re-armed by a statusline


def test_statusline_read_older_than_the_endpoint_changes_nothing():
    state, _ = step(MonitorState(), PollSucceeded(endpoint()), NOW)
    after, effects = step(state, StatuslineRead(fed(after=-30)), NOW)
    assert after.reading == state.reading and effects == ()


def test_the_alerts_are_the_real_ones():
    # RecordingEvaluate elsewhere; here the real evaluate decides, as in the tray.
    state = MonitorState()
    _, effects = step(state, StatuslineRead(fed(session=92.0)), NOW, evaluate)
    assert [e.notification.key for e in effects if isinstance(e, Notify)] == ["window:five_hour"]


# ----------------------------------------------------------------------------- the document


def test_the_document_names_each_windows_source_and_age_and_reads_back():
    state, _ = step(MonitorState(plan="Max 5x"), PollSucceeded(endpoint(), plan="Max 5x"), NOW)
    state, _ = step(state, StatuslineRead(fed()), NOW + timedelta(seconds=60))
    later = NOW + timedelta(seconds=70)
    doc = document(state, view(state, later), later)
    by_id = {w["id"]: w for w in doc["windows"]}
    assert by_id["five_hour"]["source"] == "statusline"
    assert by_id["five_hour"]["fetched_at"] == (NOW + timedelta(seconds=60)).isoformat()
    assert by_id["seven_day_fable"]["source"] == "endpoint" and by_id["seven_day_fable"]["fetched_at"] == NOW.isoformat()
    assert doc["status"] == "ok" and doc["plan"] == "Max 5x" and doc["extra_usage"]["used"] == 12.5
    back = reading_from_document(stamped(doc, later))
    assert back.reading.windows == tuple(replace(w, severity=by_id[w.id]["severity"]) for w in state.reading.windows)
    assert back.reading.extra_usage == EXTRA and back.plan == "Max 5x" and back.status == "ok"
    assert back.sources == {"five_hour": "statusline", "seven_day": "statusline", "seven_day_fable": "endpoint"}
    assert back.age(later) == timedelta(seconds=10) and back.endpoint_at == NOW


@pytest.mark.parametrize("text", ["", "nope", "[]", '{"version": 2, "windows": []}', '{"version": 1}'])
def test_a_document_that_is_not_one_is_refused(text):
    with pytest.raises(BadFeed):
        reading_from_document(text)


# ----------------------------------------------------------------------------- the schedule


def polled(interval: float = 120.0, at: float = 1000.0) -> sch.Schedule:
    s = sch.new_schedule(interval, at, NOW)
    s = sch.poll_started(s)
    return sch.poll_succeeded(s, endpoint(), at, NOW)


def test_a_statusline_reading_moves_the_next_request_to_one_interval_after_it():
    s = sch.statusline_seen(polled(), 1100.0)
    assert s.next_poll_mono == 1220.0


def test_a_steady_statusline_still_lets_a_request_through_every_five_intervals():
    s = polled()
    requests = 0
    now = 1000.0
    while now < 1000.0 + 3600:
        now += 20
        s = sch.statusline_seen(s, now)
        if sch.due_in(s, now, NOW) == 0:
            requests += 1
            s = sch.poll_succeeded(sch.poll_started(s), endpoint(), now, NOW)
    assert requests == 3600 // (sch.STATUSLINE_POLL_EVERY * 120)


@pytest.mark.parametrize("make", [
    lambda: sch.new_schedule(120, 1000.0, NOW),  # no request yet: the first one is not postponed
    lambda: sch.poll_failed(polled(), RateLimited(None), 1000.0, None),
    lambda: sch.request_refresh(polled(), 1050.0)[0],  # a manual refresh waits for its request
])
def test_a_statusline_reading_does_not_postpone(make):
    s = make()
    assert sch.statusline_seen(s, 1060.0) == s


def test_the_document_carries_the_skipped_count_notices_unknown_resets_and_money_digits():
    """A `status` answered from the running tray says what the tray's own view says (issue 9)."""
    reading = Reading(
        windows=(UsageWindow("five_hour", "Current session", 40.0, None, kind="session", reset_unknown=True),
                 UsageWindow("promo_launch", "Launch", 5.0, None, kind="credit", used_dollars=1.5, limit_dollars=30.0)),
        extra_usage=ExtraUsage(True, 1250.0, None, "JPY", None, places=0, disabled_reason=None),
        fetched_at=NOW, skipped=2, notices=("Ends soon",))
    state, _ = step(MonitorState(plan="Max 5x"), PollSucceeded(reading, plan="Max 5x"), NOW)
    back = reading_from_document(stamped(document(state, view(state, NOW), NOW), NOW)).reading
    assert (back.skipped, back.notices) == (2, ("Ends soon",))
    assert back.windows[0].reset_unknown is True
    assert (back.windows[1].used_dollars, back.windows[1].limit_dollars) == (1.5, 30.0)
    assert back.extra_usage == reading.extra_usage
