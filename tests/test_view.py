"""view(state, now): every text the tray and the terminal show, for every state.

Local time is Europe/Berlin (UTC+2 in September) so the tests see that clock times are local.
`now` is 2026-09-10 15:49 UTC = 17:49 local.
"""
from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tray_monitor.errors import (
    AuthExpired,
    BadResponse,
    ConfigError,
    CredentialsNotFound,
    CredentialsUnreadable,
    RateLimited,
    ScopeMissing,
    ServerTrouble,
    Transient,
)
from tray_monitor.model import ExtraUsage, IconSpec, Reading, UsageWindow
from tray_monitor.parse import parse_usage
from tray_monitor.state import MonitorState
from tray_monitor.view import age_text, binding_window, derive_status, extra_usage_text, next_text_change, view

UTC = timezone.utc
NOW = datetime(2026, 9, 10, 15, 49, tzinfo=UTC)
FIXTURES = Path(__file__).parent / "fixtures" / "usage"


@pytest.fixture(autouse=True)
def berlin(local_time_zone):
    local_time_zone("Europe/Berlin")


def session(percent=78.0, resets_at=NOW + timedelta(hours=2, minutes=11), **kw):
    return UsageWindow("five_hour", "Current session", percent, resets_at, kind="session", **kw)


def weekly(percent=29.0, resets_at=datetime(2026, 9, 14, 9, 0, tzinfo=UTC), **kw):
    return UsageWindow("seven_day", "Current week (all models)", percent, resets_at, kind="weekly", **kw)


def fable(percent=32.0, **kw):
    return UsageWindow(
        "seven_day_fable", "Current week (Fable)", percent, datetime(2026, 9, 14, 9, 0, tzinfo=UTC), kind="weekly_scoped", **kw
    )


def reading(*windows, age=timedelta(minutes=2), extra=None):
    return Reading(windows=windows or (session(), weekly()), extra_usage=extra, fetched_at=NOW - age)


def state(**kw):
    return MonitorState(**kw)


NINE_MIN = timedelta(minutes=9)
RETRY = NOW + timedelta(minutes=5)  # 17:54 local


# ----------------------------------------------------------------------------- each state


def test_loading_before_the_first_poll():
    v = view(state(), NOW)
    assert v.status == "loading"
    assert v.icon == IconSpec(state="loading")
    assert v.tooltip == "Claude: loading usage…"
    assert v.updated_text == "Waiting for the first reading"
    assert v.message is None
    assert v.windows == ()
    assert v.extra_usage_text is None
    assert v.updated_at is None


def test_ok_shows_the_binding_window_in_the_tooltip_and_every_window_in_the_menu():
    r = reading(extra=ExtraUsage(True, 12.34, 50.0, "USD", 24.68))
    v = view(state(reading=r, plan="Max 5x", interval=120), NOW)
    assert v.status == "ok"
    # 78 % after 2 h 47 min of 5 h (the reading is 2 min old: the projection starts there): at that
    # pace the session runs out before its reset, at 18:34: 47 min away, shown to 5 min, rounded down
    assert v.tooltip == "Claude: session limit 78% · out at 18:30, resets at 20:00"
    assert v.forecast_line == "Session runs out first: 18:30, resets at 20:00"
    assert v.binding == "five_hour"
    assert v.windows[0].forecast_text == "pace 1.4x · runs out 18:30"
    assert [row.menu_text for row in v.windows] == [
        "Current session: 78% · resets in 2h 11m (20:00) · in the icon",
        "Current week (all models): 29% · resets in 3d 17h (Mon 11:00)",
    ]
    assert v.windows[0].reset_text == "resets in 2h 11m (20:00)"
    assert v.windows[0].percent_text == "78%"
    assert v.windows[0].severity == "warning"
    assert v.extra_usage_text == "Extra usage: $12.34 of $50.00 (24%)"  # 24.68 %: rounded down
    assert v.updated_text == "Updated 17:47"
    assert v.updated_at == NOW - timedelta(minutes=2)
    assert v.message is None
    assert v.plan == "Max 5x"
    assert v.icon == IconSpec(state="ok", percent=78.0, weekly_percent=29.0, severity="warning")


def test_a_reading_older_than_two_intervals_is_stale_without_a_failure():
    v = view(state(reading=reading(age=NINE_MIN), interval=120), NOW)
    assert v.status == "stale"
    assert v.icon.state == "stale" and v.icon.percent == 78.0
    assert v.tooltip == "Claude: session limit 78% · resets at 20:00 · last reading 9 min ago"
    assert v.updated_text == "Last reading 9 min ago"
    assert v.message is None


def test_a_reading_exactly_two_intervals_old_is_still_ok():
    assert derive_status(state(reading=reading(age=timedelta(seconds=240)), interval=120), NOW) == "ok"
    assert derive_status(state(reading=reading(age=timedelta(seconds=241)), interval=120), NOW) == "stale"


def test_offline_with_a_kept_reading_is_stale_with_the_retry_time():
    s = state(reading=reading(age=NINE_MIN), problem=Transient("Could not reach api.anthropic.com."), next_poll_at=RETRY)
    v = view(s, NOW)
    assert v.status == "stale"
    assert v.icon.state == "stale" and v.icon.percent == 78.0
    assert v.message == "Offline — retrying at 17:54"
    assert v.updated_text == "Last reading 9 min ago"
    assert v.tooltip == "Claude: session limit 78% · resets at 20:00 · offline, last reading 9 min ago"
    assert len(v.windows) == 2  # the last reading stays on screen


def test_offline_without_a_reading_is_an_error():
    v = view(state(problem=Transient("Could not reach api.anthropic.com."), next_poll_at=RETRY), NOW)
    assert v.status == "error"
    assert v.icon == IconSpec(state="error")
    assert v.message == "Offline — retrying at 17:54"
    assert v.tooltip == "Claude: Offline — retrying at 17:54"
    assert v.updated_text == "No reading yet"


def test_rate_limited_with_a_reading_keeps_it_and_the_icon_is_stale():
    retry = NOW + timedelta(minutes=31)  # 18:20 local
    s = state(reading=reading(age=NINE_MIN), problem=RateLimited("429", retry_after=None), next_poll_at=retry)
    v = view(s, NOW)
    assert v.status == "rate_limited"
    assert v.icon == IconSpec(state="stale", percent=78.0, weekly_percent=29.0, severity="warning")
    assert v.message == "Rate limited by the usage endpoint — retrying at 18:20"
    assert v.updated_text == "Last reading 9 min ago"
    assert v.tooltip == "Claude: session limit 78% · resets at 20:00 · rate limited, last reading 9 min ago"


def test_rate_limited_without_a_reading():
    v = view(state(problem=RateLimited("429"), next_poll_at=NOW + timedelta(minutes=31)), NOW)
    assert v.status == "rate_limited"
    assert v.icon == IconSpec(state="error")
    assert v.tooltip == "Claude: Rate limited by the usage endpoint — retrying at 18:20"
    assert v.updated_text == "No reading yet"
    assert v.windows == ()


def test_signed_out_says_to_install_and_run_claude():
    v = view(state(problem=CredentialsNotFound("No file at ~/.claude/.credentials.json.")), NOW)
    assert v.status == "signed_out"
    assert v.icon == IconSpec(state="signed_out")
    assert v.message == "No Claude Code login — install Claude Code and run claude, or try claude-tray --demo"
    assert v.tooltip == "Claude: No Claude Code login — install Claude Code and run claude, or try claude-tray --demo"
    assert v.updated_text == "No reading yet"


def test_expired_keeps_the_last_reading_and_says_to_run_claude():
    v = view(state(reading=reading(age=NINE_MIN), problem=AuthExpired("expired"), next_poll_at=RETRY), NOW)
    assert v.status == "expired"
    assert v.icon == IconSpec(state="signed_out")  # the icon has one "log in" look for both
    assert v.message == "Login expired — run claude in a terminal"
    assert v.tooltip == "Claude: Login expired — run claude in a terminal"
    assert v.updated_text == "Last reading 9 min ago"
    assert [row.id for row in v.windows] == ["five_hour", "seven_day"]


def test_no_scope_says_the_setup_token_cannot_read_usage():
    v = view(state(problem=ScopeMissing("403")), NOW)
    assert v.status == "no_scope"
    assert v.icon == IconSpec(state="no_scope")
    assert v.message == "This login cannot read usage (setup token) — log in with claude"
    assert v.tooltip == "Claude: This login cannot read usage (setup token) — log in with claude"


def test_bad_response_with_a_reading_is_stale():
    v = view(state(reading=reading(age=NINE_MIN), problem=BadResponse("HTML"), next_poll_at=RETRY), NOW)
    assert v.status == "stale"
    assert v.message == "Unexpected answer from the usage endpoint — retrying at 17:54"
    assert v.updated_text == "Last reading 9 min ago"
    assert v.tooltip == "Claude: session limit 78% · resets at 20:00 · update failed, last reading 9 min ago"


def test_unreadable_credentials_show_the_errors_own_sentence():
    problem = CredentialsUnreadable("~/.claude/.credentials.json is not valid JSON; run `claude` to log in again.")
    v = view(state(problem=problem, next_poll_at=RETRY), NOW)
    assert v.status == "error"
    assert v.icon == IconSpec(state="error")
    assert v.message == problem.message
    assert v.tooltip == f"Claude: {problem.message}"


def test_config_error_shows_its_own_sentence():
    problem = ConfigError("CLAUDE_TRAY_API_URL must be https, or http on 127.0.0.1.")
    assert view(state(problem=problem), NOW).message == problem.message


def test_unknown_retry_time_says_retrying_soon():
    v = view(state(reading=reading(age=NINE_MIN), problem=Transient("x"), next_poll_at=None), NOW)
    assert v.message == "Offline — retrying soon"
    assert v.updated_text == "Last reading 9 min ago"


def test_retry_on_another_day_names_the_weekday():
    v = view(state(problem=RateLimited("429"), next_poll_at=NOW + timedelta(days=1)), NOW)
    assert v.message == "Rate limited by the usage endpoint — retrying at Fri 17:49"


def test_plain_fields_pass_through():
    v = view(state(reading=reading(), plan="Pro", next_poll_at=RETRY, notifications_enabled=False), NOW)
    assert (v.plan, v.next_poll_at, v.notifications_enabled) == ("Pro", RETRY, False)


# ----------------------------------------------------------------------------- windows


def test_a_window_not_started_says_so():
    r = reading(session(percent=0.0, resets_at=None), weekly(percent=12.0))
    v = view(state(reading=r), NOW)
    assert v.windows[0].reset_text == "not started"
    assert v.windows[0].menu_text == "Current session: 0% · not started"
    assert v.tooltip == "Claude: weekly limit 12% · resets at Mon 11:00"  # the fullest window binds


def test_the_binding_window_not_started_says_so_in_the_tooltip():
    r = reading(session(percent=0.0, resets_at=None))
    assert view(state(reading=r), NOW).tooltip == "Claude: session limit 0% · not started"


def test_a_reset_time_that_has_passed_reads_resets_now():
    r = reading(session(resets_at=NOW - timedelta(seconds=5)))
    v = view(state(reading=r), NOW)
    assert v.windows[0].reset_text == "resets now (17:48)"
    assert v.tooltip == "Claude: session limit 78% · resets now"


def test_a_scoped_cap_is_named_by_its_model_in_the_tooltip():
    r = reading(session(percent=2.0), weekly(percent=59.0), fable(percent=100.0, active=True, severity="critical"))
    v = view(state(reading=r), NOW)
    assert v.tooltip == "Claude: Fable weekly limit 100% · resets at Mon 11:00"
    assert v.icon == IconSpec(state="ok", percent=100.0, weekly_percent=59.0, severity="critical")


def test_a_locked_window_says_locked_in_the_menu():
    r = reading(session(percent=100.0, locked_reason="usage_limit"))
    row = view(state(reading=r), NOW).windows[0]
    assert row.menu_text == "Current session: 100% · resets in 2h 11m (20:00) · locked"
    assert row.locked_reason == "usage_limit"


def test_overage_percent_is_shown_as_sent():
    row = view(state(reading=reading(session(percent=104.0))), NOW).windows[0]
    assert (row.percent, row.percent_text, row.severity) == (104.0, "104%", "critical")


@pytest.mark.parametrize("percent, severity", [(74.9, "normal"), (75, "warning"), (89.9, "warning"), (90, "critical")])
def test_severity_from_the_percent_when_the_server_sent_none(percent, severity):
    assert view(state(reading=reading(session(percent=percent))), NOW).windows[0].severity == severity


@pytest.mark.parametrize("percent, server, severity", [
    (95.0, "normal", "critical"), (10.0, "critical", "critical"), (80.0, "normal", "warning"),
    (10.0, "warning", "warning"), (92.0, "warning", "critical"),
])
def test_the_more_severe_of_the_servers_severity_and_the_percents_wins(percent, server, severity):
    row = view(state(reading=reading(session(percent=percent, severity=server))), NOW).windows[0]
    assert row.severity == severity


def test_weekly_bar_is_left_out_when_the_weekly_window_binds():
    r = reading(session(percent=10.0), weekly(percent=80.0))
    assert view(state(reading=r), NOW).icon == IconSpec(state="ok", percent=80.0, weekly_percent=None, severity="warning")


def test_a_reading_without_windows_shows_no_usage_data():
    r = Reading(windows=(), extra_usage=None, fetched_at=NOW)
    v = view(state(reading=r), NOW)
    assert v.tooltip == "Claude: no usage data"
    assert v.icon == IconSpec(state="ok")


# ----------------------------------------------------------------------------- binding window


def test_binding_window_prefers_the_pinned_one():
    r = reading(session(percent=10.0), weekly(percent=50.0), fable(percent=89.0, active=True))
    assert binding_window(r, "five_hour").id == "five_hour"


def test_a_critical_window_is_never_hidden_behind_the_pinned_one():
    r = reading(session(percent=10.0), weekly(percent=50.0), fable(percent=90.0))
    assert binding_window(r, "five_hour").id == "seven_day_fable"


def test_among_active_windows_the_most_severe_wins_not_the_first():
    r = reading(session(percent=10.0, active=True, severity="normal"), weekly(percent=60.0),
                fable(percent=95.0, active=True, severity="critical"))
    assert binding_window(r, None).id == "seven_day_fable"
    v = view(state(reading=r), NOW)
    assert (v.icon.percent, v.icon.severity) == (95.0, "critical")


def test_among_active_windows_of_one_severity_the_highest_wins():
    r = reading(session(percent=10.0, active=True), weekly(percent=60.0), fable(percent=40.0, active=True))
    assert binding_window(r, None).id == "seven_day_fable"


def test_a_critical_window_is_not_hidden_behind_a_normal_active_one():
    r = reading(session(percent=10.0, active=True, severity="normal"), weekly(percent=91.0))
    assert binding_window(r, None).id == "seven_day"
    r = reading(session(percent=10.0, active=True, severity="normal"), weekly(percent=30.0, severity="critical"))
    assert binding_window(r, None).id == "seven_day"


def test_a_warning_window_does_not_displace_the_active_one():
    r = reading(session(percent=10.0, active=True), weekly(percent=80.0))
    assert binding_window(r, None).id == "five_hour"


def test_binding_window_falls_back_to_the_active_one_when_the_pinned_is_absent():
    r = reading(session(percent=10.0), weekly(percent=50.0), fable(percent=30.0, active=True))
    assert binding_window(r, "seven_day_opus").id == "seven_day_fable"


def test_binding_window_without_active_is_the_fullest():
    r = reading(session(percent=10.0), weekly(percent=50.0), fable(percent=30.0))
    assert binding_window(r, None).id == "seven_day"


def test_binding_window_of_nothing_is_none():
    assert binding_window(None, None) is None
    assert binding_window(Reading((), None, NOW), "five_hour") is None


def test_pinned_window_decides_the_tooltip_and_icon():
    r = reading(session(percent=10.0), weekly(percent=50.0))
    v = view(state(reading=r, pinned_window="five_hour"), NOW)
    assert v.tooltip.startswith("Claude: session limit 10%")
    assert v.icon.percent == 10.0


# ----------------------------------------------------------------------------- extra usage


@pytest.mark.parametrize(
    "extra, text",
    [
        (None, None),
        (ExtraUsage(False, 0.0, 40.0, "EUR", 0.0), "Extra usage: off"),
        (ExtraUsage(True, 12.34, 50.0, "USD", 24.68), "Extra usage: $12.34 of $50.00 (24%)"),
        (ExtraUsage(True, 1250.0, 5000.0, "JPY", 25.0, places=0), "Extra usage: ¥1,250 of ¥5,000 (25%)"),
        (ExtraUsage(True, 12.345, 50.0, "KWD", None, places=3), "Extra usage: 12.345 KWD of 50.000 KWD (24%)"),
        (ExtraUsage(True, 1250.0, None, "KRW", None, places=0), "Extra usage: 1,250 KRW (Unlimited)"),
        (ExtraUsage(True, 12.34, -50.0, "USD", None), "Extra usage: $12.34 (Unlimited)"),
        (ExtraUsage(False, None, None, None, None, disabled_reason="out of usage credits"),
         "Extra usage: off (out of usage credits)"),
        (ExtraUsage(True, 10.0, 40.0, "EUR", None), "Extra usage: €10.00 of €40.00 (25%)"),
        (ExtraUsage(True, 0.0, 10.0, None, 0.0), "Extra usage: 0.00 of 10.00 (0%)"),
        (ExtraUsage(True, 3.5, None, "USD", None), "Extra usage: $3.50 (Unlimited)"),
        (ExtraUsage(True, 3.5, 0.0, "USD", None), "Extra usage: $3.50 of $0.00"),
        (ExtraUsage(True, None, None, None, None), "Extra usage: on (Unlimited)"),
        (ExtraUsage(True, None, 10.0, None, None), "Extra usage: on"),
    ],
)
def test_extra_usage_text(extra, text):
    assert extra_usage_text(extra) == text


# ----------------------------------------------------------------------------- ages and fixtures


@pytest.mark.parametrize(
    "age, text",
    [
        (timedelta(seconds=59), "less than a minute ago"),
        (timedelta(minutes=9, seconds=30), "9 min ago"),
        (timedelta(hours=2), "2 h ago"),
        (timedelta(hours=2, minutes=5), "2 h 5 min ago"),
        (timedelta(days=1, hours=3), "1 day ago"),
        (timedelta(days=3), "3 days ago"),
    ],
)
def test_age_text(age, text):
    assert age_text(age) == text


@pytest.mark.parametrize("fixture", sorted(p.name for p in FIXTURES.glob("*.json")))
def test_every_recorded_body_gives_a_row_per_window_and_a_one_line_tooltip(fixture):
    body = json.loads((FIXTURES / fixture).read_text())
    r = parse_usage(body, fetched_at=NOW)
    v = view(state(reading=r), NOW)
    assert v.status == "ok"
    assert [row.id for row in v.windows] == [w.id for w in r.windows]
    assert v.tooltip.startswith("Claude: ") and "\n" not in v.tooltip
    for row in v.windows:
        assert row.menu_text.startswith(f"{row.label}: {row.percent_text} · ")


def test_view_is_a_frozen_value():
    v = view(state(), NOW)
    with pytest.raises(dataclasses.FrozenInstanceError):
        v.status = "ok"  # type: ignore[misc]


def test_a_long_tooltip_is_cut_to_what_a_windows_tray_tooltip_holds():
    problem = CredentialsUnreadable("/home/someone/" + "very-long-directory-name/" * 8 + ".credentials.json is not JSON.")
    tooltip = view(state(problem=problem), NOW).tooltip
    assert len(tooltip) == 127 and tooltip.endswith("…")
    assert tooltip.startswith("Claude: /home/someone/very-long-directory-name/")


def test_a_tooltip_is_cut_by_utf16_units_so_an_emoji_label_counts_twice():
    label = "\U0001F600" * 70  # 140 UTF-16 units
    r = reading(UsageWindow("codename", label, 5.0, None))
    tooltip = view(state(reading=r), NOW).tooltip
    assert len(tooltip.encode("utf-16-le")) // 2 <= 127 and tooltip.endswith("…")


def test_a_kept_reading_with_an_unreadable_login_says_it_waits_for_the_fix_not_a_retry():
    """Regression: with a reading kept and the credentials file corrupt, the menu said "update
    failed, retrying soon" although the poller sends nothing until the file changes."""
    problem = CredentialsUnreadable("~/.claude/.credentials.json is not valid JSON; run `claude` to log in again.")
    v = view(state(reading=reading(age=NINE_MIN), problem=problem, next_poll_at=None), NOW)
    assert v.message == problem.message
    assert v.updated_text == "Last reading 9 min ago"
    assert "retrying" not in v.updated_text and "retrying" not in v.message


@pytest.mark.parametrize("problem", [RateLimited("429"), Transient("x"), BadResponse("HTML"), AuthExpired("expired")])
def test_a_kept_reading_says_why_and_when_once_not_on_both_lines(problem):
    """Regression: the menu read "Rate limited by the usage endpoint — retrying at 18:20" and then
    "Last reading 9 min ago · rate limited, retrying at 18:20". The message says why and when;
    the line under it says only how old the numbers are."""
    v = view(state(reading=reading(age=NINE_MIN), problem=problem, next_poll_at=RETRY), NOW)
    assert v.updated_text == "Last reading 9 min ago"
    lines = [v.message, v.updated_text]
    assert sum("retrying at" in line for line in lines) == (0 if isinstance(problem, AuthExpired) else 1)


def test_a_server_error_is_not_called_offline():
    """Regression: HTTP 500/502/529 read "Offline" although the user's network was fine."""
    problem = ServerTrouble("api.anthropic.com answered HTTP 529 (a server problem): trying again later.", 529)
    v = view(state(reading=reading(age=NINE_MIN), problem=problem, next_poll_at=RETRY), NOW)
    assert v.status == "stale" and v.icon.state == "stale"
    assert v.message == "Usage service error (HTTP 529) — retrying at 17:54"
    assert v.tooltip == "Claude: session limit 78% · resets at 20:00 · service error, last reading 9 min ago"
    assert view(state(problem=problem, next_poll_at=RETRY), NOW).message == v.message  # no reading yet


# ----------------------------------------------------------------------------- next_text_change


def test_the_next_change_of_a_countdown_is_when_its_minute_turns():
    # 2h 11m 05.000412s left: it reads "2h 12m" (rounded up) until 2h 11m are left, 5 s from now.
    resets = NOW + timedelta(hours=2, minutes=11, seconds=5, microseconds=412)
    s = state(reading=reading(session(resets_at=resets), age=timedelta(seconds=20)), interval=120)
    change = next_text_change(s, NOW)
    assert change == NOW + timedelta(seconds=5)
    assert view(s, change - timedelta(milliseconds=2)).windows[0].reset_text.startswith("resets in 2h 12m")
    assert view(s, change).windows[0].reset_text.startswith("resets in 2h 11m")


def test_a_countdown_of_days_next_changes_when_its_hour_turns_not_its_minute():
    # 3d 4h 10m 05s left reads "3d 4h" (minutes rounded up, then hidden) until 3d 3h 59m are left:
    # 11 min 5 s from now.
    resets = NOW + timedelta(days=3, hours=4, minutes=10, seconds=5, microseconds=412)
    s = state(reading=reading(session(resets_at=resets), age=timedelta(seconds=20)), interval=3600)
    change = next_text_change(s, NOW)
    assert change == NOW + timedelta(minutes=11, seconds=5)
    assert view(s, change - timedelta(milliseconds=2)).windows[0].reset_text.startswith("resets in 3d 4h")
    assert view(s, change).windows[0].reset_text.startswith("resets in 3d 3h")
    # one day and a few minutes: "1d 0h" until it reads "23h 59m"
    resets = NOW + timedelta(days=1, minutes=3)
    s = state(reading=reading(session(resets_at=resets), age=timedelta(seconds=20)), interval=3600)
    change = next_text_change(s, NOW)
    assert change == NOW + timedelta(minutes=4)
    assert view(s, change - timedelta(milliseconds=2)).windows[0].reset_text.startswith("resets in 1d 0h")
    assert view(s, change).windows[0].reset_text.startswith("resets in 23h 59m")


def test_an_ok_reading_next_changes_when_it_turns_stale_if_nothing_else_comes_first():
    s = state(reading=reading(session(resets_at=None), age=timedelta(seconds=30)), interval=120)
    assert next_text_change(s, NOW) == NOW - timedelta(seconds=30) + timedelta(seconds=240)
    assert view(s, NOW + timedelta(seconds=209)).status == "ok"
    assert view(s, NOW + timedelta(seconds=211)).status == "stale"


@pytest.mark.parametrize("wait", [240, 480, 600])
def test_an_idle_stretch_keeps_the_reading_ok_until_its_poll_is_an_interval_overdue(wait):
    # schedule.success_wait stretches the wait to 240, 480, 600 s while nothing changes: the
    # reading waits for that poll on purpose and stays "ok" (no stale mark on the icon) until the
    # poll is an interval late (it did not come: the poller is stuck or the machine slept).
    taken = NOW - timedelta(seconds=10)
    s = state(reading=Reading(windows=(session(resets_at=None),), extra_usage=None, fetched_at=taken),
              next_poll_at=taken + timedelta(seconds=wait), interval=120)
    stale_from = taken + timedelta(seconds=wait + 120)
    assert next_text_change(s, NOW) == stale_from
    assert view(s, stale_from - timedelta(milliseconds=1)).status == "ok"
    assert view(s, stale_from + timedelta(milliseconds=1)).status == "stale"


def test_a_poll_that_is_due_on_time_changes_nothing_about_staleness():
    taken = NOW - timedelta(seconds=10)
    s = state(reading=Reading(windows=(session(resets_at=None),), extra_usage=None, fetched_at=taken),
              next_poll_at=taken + timedelta(seconds=120), interval=120)
    assert next_text_change(s, NOW) == taken + timedelta(seconds=240)
    assert view(s, taken + timedelta(seconds=241)).status == "stale"


def test_a_kept_readings_age_changes_every_minute_after_it_was_taken():
    s = state(reading=reading(session(resets_at=None), age=timedelta(minutes=9, seconds=10)),
              problem=Transient("x"), next_poll_at=RETRY)
    assert next_text_change(s, NOW) == NOW + timedelta(seconds=50)


def test_at_local_midnight_clock_texts_change_day():
    late = datetime(2026, 9, 10, 21, 59, 30, tzinfo=UTC)  # 23:59:30 in Berlin
    s = state(reading=Reading(windows=(session(resets_at=None),), extra_usage=None, fetched_at=late),
              interval=3600)
    assert next_text_change(s, late) == datetime(2026, 9, 10, 22, 0, tzinfo=UTC)  # 00:00 in Berlin


def test_nothing_to_count_without_a_reading():
    assert next_text_change(state(), NOW) is None


@pytest.mark.parametrize("seed", range(40))
def test_the_view_does_not_change_before_the_predicted_moment(seed):
    """The poller redraws only at next_text_change: any change before it would be shown late."""
    import random

    rng = random.Random(seed)
    now = NOW + timedelta(seconds=rng.uniform(0, 86400))
    windows = tuple(
        session(resets_at=now + timedelta(seconds=rng.uniform(-100, 8 * 86400), microseconds=412))
        if rng.random() < 0.9 else session(resets_at=None)
        for _ in range(rng.randint(1, 3))
    )
    problem = rng.choice([None, None, Transient("x"), RateLimited("429"), AuthExpired("expired")])
    s = state(reading=Reading(windows=windows, extra_usage=None,
                              fetched_at=now - timedelta(seconds=rng.uniform(0, 3 * 3600))),
              problem=problem, next_poll_at=now + timedelta(seconds=rng.uniform(1, 7200)),
              interval=rng.choice([60, 120, 600]))
    change = next_text_change(s, now)
    assert change is not None and change > now
    shown = view(s, now)
    span = (change - now).total_seconds()
    for fraction in (0.0, 0.25, 0.5, 0.9, 0.999):
        assert view(s, now + timedelta(seconds=span * fraction)) == shown
    assert view(s, change - timedelta(milliseconds=1)) == shown


# ----------------------------------------------------------------------------- the demo (issue 16)


@pytest.mark.parametrize("kw", [
    {}, {"reading": reading(), "plan": "Max 5x"}, {"reading": reading(), "problem": AuthExpired("x")},
    {"problem": CredentialsNotFound("x")}, {"reading": reading(), "problem": RateLimited("x", 60)},
])
def test_a_simulated_state_marks_the_plan_line_and_the_tooltip_and_a_real_one_never_does(kw):
    simulated, real = view(state(simulated=True, **kw), NOW), view(state(**kw), NOW)
    assert simulated.tooltip == real.tooltip.replace("Claude", "Claude (simulated demo)", 1)
    assert simulated.plan == (f"{real.plan} · simulated demo" if real.plan else "simulated demo")
    assert "simulated" not in real.tooltip + str(real.plan)


# ----------------------------------------------------------------------------- the icon's window (issue 16)


@pytest.mark.parametrize("pinned, named, short", [(None, "Current session", "session"),
                                                  ("seven_day", "Current week (all models)", "weekly")])
def test_the_tooltip_and_the_menu_name_the_window_whose_number_the_icon_shows(pinned, named, short):
    """The demo opened on "22" (the weekly) while the session was 10 %, and nothing said which
    window the icon's number was."""
    v = view(state(reading=reading(), interval=120, pinned_window=pinned), NOW)
    marked = [row.menu_text for row in v.windows if row.menu_text.endswith(" · in the icon")]
    assert [row.label for row in v.windows if row.in_icon] == [named] and len(marked) == 1
    assert marked[0].startswith(named + ": ")
    assert v.tooltip.startswith(f"Claude: {short} limit {v.icon.percent:g}% · ")


def test_a_single_window_or_an_icon_without_a_number_marks_no_row():
    one = view(state(reading=reading(session()), interval=120), NOW)
    assert not any(row.in_icon for row in one.windows) and "in the icon" not in str(one.windows)
    expired = view(state(reading=reading(), problem=AuthExpired("x")), NOW)
    assert expired.icon.percent is None and not any(row.in_icon for row in expired.windows)


@pytest.mark.parametrize(("window_id", "kind", "label", "said"), [
    ("five_hour", "session", "Current session", "Session limit reached"),
    ("seven_day", "weekly", "Current week (all models)", "Weekly limit reached"),
    ("seven_day_opus", "weekly_scoped", "Current week (Opus only)", "Current week (Opus only) limit reached"),
])
def test_the_top_line_names_a_window_at_its_limit_once(window_id, kind, label, said):
    """The window at 100 % is the binding one (it ran out first); its name is said once, with "limit"
    once ("Weekly limit limit reached" was shown for the weekly window)."""
    from tray_monitor.fmt import format_clock
    from tray_monitor.forecast import HistoryDigest
    from tray_monitor.forecast_view import binding_line, outlooks

    resets_at = NOW + (timedelta(hours=2) if kind == "session" else timedelta(days=2))
    windows = (UsageWindow("five_hour", "Current session", 40, NOW + timedelta(hours=2), kind="session"),
               UsageWindow(window_id, label, 100, resets_at, kind=kind))
    r = Reading(windows=windows[1:] if window_id == "five_hour" else windows, extra_usage=None, fetched_at=NOW)
    assert binding_line(outlooks(r, HistoryDigest(), NOW), NOW) == f"{said}, resets at {format_clock(resets_at, NOW)}"


def test_a_session_at_its_limit_minutes_into_its_cycle_is_the_top_line_not_on_track():
    """10 min into the session at 103 % (too young a cycle to extrapolate) with the week on track:
    the top line said "On track: no limit runs out before its reset"."""
    from tray_monitor.fmt import format_clock
    from tray_monitor.forecast import HistoryDigest
    from tray_monitor.forecast_view import binding_line, outlooks

    session_resets = NOW + timedelta(hours=4, minutes=50)
    r = Reading(windows=(UsageWindow("five_hour", "Current session", 103, session_resets, kind="session"),
                         UsageWindow("seven_day", "Current week (all models)", 30, NOW + timedelta(days=4),
                                     kind="weekly")), extra_usage=None, fetched_at=NOW)
    assert binding_line(outlooks(r, HistoryDigest(), NOW), NOW) == (
        f"Session limit reached, resets at {format_clock(session_resets, NOW)}")


def test_the_forecast_of_the_same_reading_and_history_is_computed_once_until_a_reset_passes(monkeypatch):
    """A poll asks for the outlooks twice with the very same objects (the run-out popup in
    state.step, then the view) and every tick asks again: projected from the reading, the answer
    is the same until a window's reset passes, so it is computed once; any other value, a passed
    reset or a clock set back before the reading is computed."""
    from tray_monitor import forecast_view
    from tray_monitor.forecast import REASON_RESET_DUE, HistoryDigest

    r, history = reading(session(percent=40.0)), HistoryDigest()
    calls = []
    real = forecast_view.forecast_window

    def counting(*args, **kwargs):
        calls.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(forecast_view, "_last", None)
    monkeypatch.setattr(forecast_view, "forecast_window", counting)
    first = forecast_view.outlooks(r, history, NOW)
    assert forecast_view.outlooks(r, history, NOW) is first and len(calls) == 1
    later = NOW + timedelta(minutes=1)
    assert forecast_view.outlooks(r, history, later) is first and len(calls) == 1
    assert first == tuple(forecast_view.Outlook(o.window_id, o.label, o.percent, *_fresh(real, r, later))
                          for o in first)
    forecast_view.outlooks(reading(session(percent=40.0)), history, later)  # an equal but new reading
    forecast_view.outlooks(r, HistoryDigest(), later)  # an equal but new history
    forecast_view.outlooks(r, history, later)
    assert len(calls) == 4
    before_reset = r.windows[0].resets_at - timedelta(seconds=1)
    assert forecast_view.outlooks(r, history, before_reset) == first and len(calls) == 4
    after_reset = r.windows[0].resets_at + timedelta(seconds=1)
    assert [o.reason for o in forecast_view.outlooks(r, history, after_reset)] == [REASON_RESET_DUE]
    assert len(calls) == 5
    set_back = r.fetched_at - timedelta(minutes=5)
    forecast_view.outlooks(r, history, set_back)
    forecast_view.outlooks(r, history, set_back - timedelta(minutes=1))
    assert len(calls) == 7


def _fresh(forecast_window, r, now):
    w = r.windows[0]
    fc = forecast_window(w.id, w.kind, w.percent, w.resets_at, now, (), profile=None, read_at=r.fetched_at)
    return fc.forecast, fc.reason


@pytest.mark.parametrize("percent", [40.0, 78.0])  # on track / running out before the reset
def test_the_tooltip_and_its_body_change_with_a_reading_not_with_the_minute(percent):
    """Between two readings only the menu's countdowns move: the tooltip (the SNI title) and the
    lines of the tooltip's body read reset and run-out as clock times, so a host is not made to
    read them again every minute (issue 12's idle CPU)."""
    from tray_monitor.tray.menu import look_of

    st = state(reading=reading(session(percent=percent), weekly()), interval=300)
    first, later = view(st, NOW), view(st, NOW + timedelta(minutes=7))
    assert later.status == first.status == "ok"
    assert later.tooltip == first.tooltip and "resets at 20:00" in first.tooltip
    assert look_of(later, False).info_lines == look_of(first, False).info_lines
    assert [w.menu_text for w in later.windows] != [w.menu_text for w in first.windows]  # the countdowns
    assert [w.clock_text for w in first.windows] == [
        "Current session: 78% · resets at 20:00 · in the icon".replace("78%", f"{int(percent)}%"),
        "Current week (all models): 29% · resets at Mon 11:00"]
    assert view(state(reading=reading(session(percent=percent + 1), weekly()), interval=300), NOW).tooltip != first.tooltip
