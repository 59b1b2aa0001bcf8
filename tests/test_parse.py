"""parse_usage: every recorded body shape -> the right windows, in order, never twice."""
from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta, timezone

import pytest

from tests.fakeapi import usage_fixture
from tray_monitor.errors import BadResponse
from tray_monitor.parse import humanise, parse_timestamp, parse_usage, slug

NOW = datetime(2026, 9, 1, 12, 0, tzinfo=timezone.utc)


def fixture(name: str) -> dict:
    return json.loads(usage_fixture(name))


def summary(reading) -> list[tuple[str, str, float]]:
    return [(w.id, w.label, w.percent) for w in reading.windows]


# -- every recorded body ---------------------------------------------------------------------------


def test_seed_body_gives_the_session_window_only():
    reading = parse_usage(fixture("seed-2025-11"), NOW)
    assert summary(reading) == [("five_hour", "Session (5h)", 78.0)]
    assert reading.windows[0].resets_at == datetime(2025, 11, 13, 4, 0, tzinfo=timezone.utc)
    assert reading.windows[0].severity is None
    assert reading.extra_usage is None
    assert reading.fetched_at == NOW


def test_small_body_gives_session_weekly_and_sonnet_with_extra_usage_in_major_units():
    reading = parse_usage(fixture("small-2026-03"), NOW)
    assert summary(reading) == [
        ("five_hour", "Session (5h)", 48.0),
        ("seven_day", "Weekly", 64.0),
        ("seven_day_sonnet", "Weekly · Sonnet", 2.0),
    ]
    assert [w.kind for w in reading.windows] == ["session", "weekly", "weekly_scoped"]
    extra = reading.extra_usage
    assert extra.enabled is True
    assert extra.limit == 10.0  # 1000 minor units, 2 decimal places by default
    assert extra.used == 0.0
    assert extra.currency is None


def test_limits_body_prefers_limits_and_shows_each_window_once():
    reading = parse_usage(fixture("limits-2026-08"), NOW)
    assert summary(reading) == [
        ("five_hour", "Session (5h)", 10.0),
        ("seven_day", "Weekly", 29.0),
        ("seven_day_fable", "Weekly · Fable", 32.0),
    ]
    fable = reading.window("seven_day_fable")
    assert fable.active is True and fable.severity == "normal" and fable.kind == "weekly_scoped"
    assert reading.window("five_hour").active is False
    assert fable.resets_at == datetime(2026, 8, 6, 19, 0, 0, 1438, tzinfo=timezone.utc)
    extra = reading.extra_usage
    assert (extra.enabled, extra.used, extra.limit, extra.currency, extra.percent) == (False, 0.0, 40.0, "EUR", 0.0)


def test_overage_keeps_the_raw_percent_above_100_and_the_server_severity():
    reading = parse_usage(fixture("overage"), NOW)
    session = reading.window("five_hour")
    assert session.percent == 104.0
    assert session.severity == "critical"
    assert session.active is True
    extra = reading.extra_usage
    assert (extra.used, extra.limit, extra.currency, extra.percent) == (12.34, 50.0, "USD", 24.68)


def test_scoped_cap_body_shows_the_codename_window_under_its_humanised_key():
    reading = parse_usage(fixture("scoped-cap-2026-09"), NOW)
    assert summary(reading) == [
        ("five_hour", "Session (5h)", 2.0),
        ("seven_day", "Weekly", 59.0),
        ("seven_day_fable", "Weekly · Fable", 100.0),
        ("nimbus_quill", "Nimbus quill", 0.0),
    ]
    assert reading.window("nimbus_quill").resets_at is None
    assert reading.window("nimbus_quill").kind == "other"
    # seven_day_breakdown is a table, not a window
    assert reading.window("seven_day_breakdown") is None


def test_unused_window_has_no_reset_time():
    reading = parse_usage(fixture("unused-window"), NOW)
    assert reading.window("five_hour").resets_at is None
    assert reading.window("five_hour").percent == 0.0
    assert reading.window("seven_day").resets_at == datetime(2026, 11, 29, 7, 0, 0, 120, tzinfo=timezone.utc)


# -- de-duplication and order ----------------------------------------------------------------------


def test_flat_seven_day_opus_and_a_scoped_opus_limit_are_one_window_with_the_limits_numbers():
    body = {
        "seven_day_opus": {"utilization": 40.0, "resets_at": None, "locked_reason": "plan_cap"},
        "limits": [{"kind": "weekly_scoped", "percent": 41, "severity": "normal", "resets_at": None,
                    "scope": {"model": {"id": "m", "display_name": "Opus"}}, "is_active": False}],
    }
    reading = parse_usage(body, NOW)
    assert summary(reading) == [("seven_day_opus", "Weekly · Opus", 41.0)]
    assert reading.windows[0].locked_reason == "plan_cap"  # only the flat object carries it


def test_order_is_session_weekly_scoped_then_others_whatever_the_body_order():
    body = {
        "tangelo": {"utilization": 5},
        "seven_day_oauth_apps": {"utilization": 1, "resets_at": None},
        "seven_day": {"utilization": 2, "resets_at": None},
        "five_hour": {"utilization": 3, "resets_at": None},
    }
    assert [w.id for w in parse_usage(body, NOW).windows] == [
        "five_hour", "seven_day", "seven_day_oauth_apps", "tangelo"]
    assert parse_usage(body, NOW).window("seven_day_oauth_apps").label == "Weekly · OAuth apps"


def test_two_limits_for_the_same_window_keep_the_first():
    body = {"limits": [{"kind": "session", "percent": 10}, {"kind": "session", "percent": 90}]}
    assert summary(parse_usage(body, NOW)) == [("five_hour", "Session (5h)", 10.0)]


def test_an_unknown_limit_kind_with_a_percent_is_shown_rather_than_dropped():
    body = {"limits": [{"kind": "daily_scoped", "percent": 12,
                        "scope": {"model": {"display_name": "Haiku"}}}]}
    assert summary(parse_usage(body, NOW)) == [("daily_scoped_haiku", "Daily scoped · Haiku", 12.0)]


# -- malformed parts are skipped, the rest is shown ------------------------------------------------


@pytest.mark.parametrize("bad_window", [
    {"utilization": "50", "resets_at": None},
    {"utilization": True, "resets_at": None},
    {"utilization": float("nan"), "resets_at": None},
    {"utilization": float("inf"), "resets_at": None},
    {"utilization": -3, "resets_at": None},
    {"utilization": 10**400, "resets_at": None},
    {"utilization": 50, "resets_at": "next tuesday"},
    {"utilization": 50, "resets_at": "2026-13-01T00:00:00Z"},
    {"utilization": 50, "resets_at": [2026]},
    {"utilization": 50, "resets_at": 1e300},
    {"resets_at": None},
    "fifty percent",
    42,
])
def test_a_malformed_window_is_skipped_with_a_debug_line_and_the_rest_still_shown(bad_window, caplog):
    body = {"five_hour": {"utilization": 20, "resets_at": None}, "seven_day": bad_window}
    with caplog.at_level(logging.DEBUG, logger="tray_monitor.parse"):
        reading = parse_usage(body, NOW)
    assert [w.id for w in reading.windows] == ["five_hour"]
    assert any("seven_day" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("bad_limit", [
    "session",
    {"percent": 5},
    {"kind": "", "percent": 5},
    {"kind": "session", "percent": None},
    {"kind": "session", "percent": False},
    {"kind": "weekly_scoped", "percent": 5, "scope": None},
    {"kind": "weekly_scoped", "percent": 5, "scope": {"model": "Opus"}},
    {"kind": "weekly_scoped", "percent": 5, "scope": {"model": {"display_name": " ・ "}}},
    {"kind": "___", "percent": 5},
])
def test_a_malformed_limit_is_skipped_and_the_flat_windows_still_shown(bad_limit, caplog):
    body = {"five_hour": {"utilization": 20, "resets_at": None}, "limits": [bad_limit]}
    with caplog.at_level(logging.DEBUG, logger="tray_monitor.parse"):
        reading = parse_usage(body, NOW)
    assert summary(reading) == [("five_hour", "Session (5h)", 20.0)]
    assert any("limits[0]" in r.getMessage() for r in caplog.records)


def test_limits_that_is_not_a_list_is_ignored(caplog):
    body = {"five_hour": {"utilization": 20}, "limits": {"kind": "session"}}
    with caplog.at_level(logging.DEBUG, logger="tray_monitor.parse"):
        assert summary(parse_usage(body, NOW)) == [("five_hour", "Session (5h)", 20.0)]
    assert any("not a list" in r.getMessage() for r in caplog.records)


def test_unknown_severity_and_non_boolean_is_active_are_ignored():
    body = {"limits": [{"kind": "session", "percent": 80, "severity": "catastrophic", "is_active": "yes"}]}
    window = parse_usage(body, NOW).windows[0]
    assert window.severity is None and window.active is False


def test_codename_keys_without_numbers_and_other_keys_are_not_windows():
    body = {"five_hour": {"utilization": 1}, "tangelo": None, "iguana_necktie": {"enabled": True},
            "member_dashboard_available": False, "note": "hello"}
    assert [w.id for w in parse_usage(body, NOW).windows] == ["five_hour"]


# -- nothing usable --------------------------------------------------------------------------------


@pytest.mark.parametrize("body", [None, [], "usage", 3, True, [{"five_hour": {"utilization": 1}}]])
def test_a_body_that_is_not_an_object_is_a_bad_response(body):
    with pytest.raises(BadResponse, match="not an object|instead of an object"):
        parse_usage(body, NOW)


def test_an_empty_object_is_a_bad_response():
    with pytest.raises(BadResponse, match="without any usage window"):
        parse_usage({}, NOW)


def test_an_all_null_body_with_disabled_extra_usage_is_a_bad_response_so_the_last_reading_stays():
    body = {k: None for k in ("five_hour", "seven_day", "seven_day_opus", "tangelo")}
    body["extra_usage"] = {"is_enabled": False, "monthly_limit": None, "used_credits": None}
    with pytest.raises(BadResponse):
        parse_usage(body, NOW)


def test_an_all_null_body_with_enabled_extra_usage_is_a_reading_without_windows():
    body = {"five_hour": None, "seven_day": None,
            "extra_usage": {"is_enabled": True, "monthly_limit": 2000, "used_credits": 500, "currency": "usd"}}
    reading = parse_usage(body, NOW)
    assert reading.windows == ()
    assert (reading.extra_usage.used, reading.extra_usage.limit, reading.extra_usage.currency) == (5.0, 20.0, "USD")
    assert reading.extra_usage.percent == 25.0  # computed when the server gives no utilization


# -- extra usage and spend -------------------------------------------------------------------------


def test_extra_usage_honours_decimal_places():
    body = {"five_hour": {"utilization": 1},
            "extra_usage": {"is_enabled": True, "monthly_limit": 5000, "used_credits": 1500,
                            "decimal_places": 3, "currency": "EUR"}}
    extra = parse_usage(body, NOW).extra_usage
    assert (extra.used, extra.limit) == (1.5, 5.0)


def test_spend_is_used_when_extra_usage_is_missing():
    body = {"five_hour": {"utilization": 1},
            "spend": {"used": {"amount_minor": 250, "currency": "GBP", "exponent": 2},
                      "limit": {"amount_minor": 1000, "currency": "GBP", "exponent": 2},
                      "percent": 25, "enabled": True}}
    extra = parse_usage(body, NOW).extra_usage
    assert (extra.enabled, extra.used, extra.limit, extra.currency, extra.percent) == (True, 2.5, 10.0, "GBP", 25.0)


def test_spend_lends_its_currency_to_extra_usage_without_one():
    body = {"five_hour": {"utilization": 1},
            "extra_usage": {"is_enabled": True, "monthly_limit": 1000, "used_credits": 0},
            "spend": {"used": {"amount_minor": 0, "currency": "EUR"}, "enabled": True}}
    assert parse_usage(body, NOW).extra_usage.currency == "EUR"


@pytest.mark.parametrize("extra, spend", [
    ("on", None),
    ({"is_enabled": "yes"}, None),
    (None, ["spend"]),
    (None, {"used": {"amount_minor": 1}, "enabled": None}),
])
def test_malformed_extra_usage_or_spend_is_skipped_and_the_windows_still_shown(extra, spend, caplog):
    body = {"five_hour": {"utilization": 1}, "extra_usage": extra, "spend": spend}
    with caplog.at_level(logging.DEBUG, logger="tray_monitor.parse"):
        reading = parse_usage(body, NOW)
    assert reading.extra_usage is None
    assert reading.window("five_hour") is not None
    assert any("skipping" in r.getMessage() for r in caplog.records)


def test_nonsense_money_values_become_unknown_not_errors():
    body = {"five_hour": {"utilization": 1},
            "extra_usage": {"is_enabled": True, "monthly_limit": "lots", "used_credits": 10**400,
                            "decimal_places": True, "utilization": -1, "currency": "dollars"}}
    extra = parse_usage(body, NOW).extra_usage
    assert (extra.enabled, extra.used, extra.limit, extra.currency, extra.percent) == (True, None, None, None, None)


# -- timestamps and names --------------------------------------------------------------------------


@pytest.mark.parametrize("text, expected", [
    ("2026-08-04T16:20:00.001100+00:00", datetime(2026, 8, 4, 16, 20, 0, 1100, tzinfo=timezone.utc)),
    ("2026-08-04T16:20:00Z", datetime(2026, 8, 4, 16, 20, tzinfo=timezone.utc)),
    ("2026-08-04T16:20:00.1234567891Z", datetime(2026, 8, 4, 16, 20, 0, 123456, tzinfo=timezone.utc)),
    ("2026-08-04T18:20:00+02:00", datetime(2026, 8, 4, 16, 20, tzinfo=timezone.utc)),
    ("2026-08-04T11:20-0500", datetime(2026, 8, 4, 16, 20, tzinfo=timezone.utc)),
    ("2026-08-04 16:20:00", datetime(2026, 8, 4, 16, 20, tzinfo=timezone.utc)),
])
def test_timestamps_with_z_offsets_and_any_fraction_parse_to_aware_times(text, expected):
    parsed = parse_timestamp(text)
    assert parsed == expected
    assert parsed.tzinfo is not None


@pytest.mark.parametrize("text", ["", "tomorrow", "2026-08-04", "2026-02-30T00:00:00Z", "2026-08-04T16:20:00+25:00"])
def test_unparseable_timestamps_give_none(text):
    assert parse_timestamp(text) is None


def test_epoch_seconds_reset_time_is_accepted():
    reading = parse_usage({"five_hour": {"utilization": 5, "resets_at": 1_788_000_000}}, NOW)
    assert reading.windows[0].resets_at == datetime.fromtimestamp(1_788_000_000, tz=timezone.utc)


def test_names_are_humanised_and_slugged_like_the_flat_keys():
    assert humanise("nimbus_quill") == "Nimbus quill"
    assert slug("OAuth apps") == "oauth_apps"
    assert slug("Claude Opus 4.5") == "claude_opus_4_5"


def test_fetched_at_is_kept_as_given():
    when = NOW + timedelta(minutes=3)
    assert parse_usage(fixture("seed-2025-11"), when).fetched_at == when
