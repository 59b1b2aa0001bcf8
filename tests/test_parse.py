"""parse_usage: every recorded body shape -> the right windows, in order, never twice."""
from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta, timezone

import pytest

from tests.fakeapi import usage_fixture
from tray_monitor.errors import BadResponse, InBandError
from tray_monitor.parse import humanise, parse_timestamp, parse_usage, slug

NOW = datetime(2026, 9, 1, 12, 0, tzinfo=timezone.utc)


def fixture(name: str) -> dict:
    return json.loads(usage_fixture(name))


def summary(reading) -> list[tuple[str, str, float]]:
    return [(w.id, w.label, w.percent) for w in reading.windows]


# -- every recorded body ---------------------------------------------------------------------------


def test_seed_body_gives_the_session_window_only():
    reading = parse_usage(fixture("seed-2025-11"), NOW)
    assert summary(reading) == [("five_hour", "Current session", 78.0)]
    assert reading.windows[0].resets_at == datetime(2025, 11, 13, 4, 0, tzinfo=timezone.utc)
    assert reading.windows[0].severity is None
    assert reading.extra_usage is None
    assert reading.fetched_at == NOW


def test_small_body_gives_session_weekly_and_sonnet_with_extra_usage_in_major_units():
    reading = parse_usage(fixture("small-2026-03"), NOW)
    assert summary(reading) == [
        ("five_hour", "Current session", 48.0),
        ("seven_day", "Current week (all models)", 64.0),
        ("seven_day_sonnet", "Current week (Sonnet only)", 2.0),  # Claude Code's name
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
        ("five_hour", "Current session", 10.0),
        ("seven_day", "Current week (all models)", 29.0),
        ("seven_day_fable", "Current week (Fable)", 32.0),
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
        ("five_hour", "Current session", 2.0),
        ("seven_day", "Current week (all models)", 59.0),
        ("seven_day_fable", "Current week (Fable)", 100.0),
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
    assert summary(reading) == [("seven_day_opus", "Current week (Opus)", 41.0)]
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
    assert parse_usage(body, NOW).window("seven_day_oauth_apps").label == "Current week (OAuth apps)"


def test_two_limits_for_the_same_window_keep_the_higher_number():
    body = {"limits": [{"kind": "session", "percent": 10}, {"kind": "session", "percent": 90}]}
    assert summary(parse_usage(body, NOW)) == [("five_hour", "Current session", 90.0)]


def test_a_flat_window_higher_than_its_limits_row_is_not_understated():
    body = {"five_hour": {"utilization": 95, "resets_at": None},
            "limits": [{"kind": "session", "percent": 10, "severity": "normal", "is_active": True}]}
    window = parse_usage(body, NOW).windows[0]
    assert (window.id, window.percent, window.active) == ("five_hour", 95.0, True)


def test_an_unknown_limit_kind_with_a_percent_is_shown_rather_than_dropped():
    body = {"limits": [{"kind": "daily_scoped", "percent": 12,
                        "scope": {"model": {"display_name": "Haiku"}}}]}
    assert summary(parse_usage(body, NOW)) == [("daily_scoped.haiku", "Daily scoped (Haiku)", 12.0)]


def test_rows_of_an_unknown_kind_never_overwrite_each_other():
    body = {"limits": [{"kind": "daily", "percent": 12}, {"kind": "daily", "percent": 7},
                       {"kind": "daily", "percent": 3}]}
    assert summary(parse_usage(body, NOW)) == [
        ("daily", "Daily", 12.0), ("daily~2", "Daily", 7.0), ("daily~3", "Daily", 3.0)]


def test_a_surface_scoped_limit_is_shown_under_the_surface_name():
    body = {"limits": [{"kind": "weekly_scoped", "percent": 44, "scope": {"model": None,
                        "surface": {"display_name": "Claude Code"}}}]}
    assert summary(parse_usage(body, NOW)) == [("seven_day_claude_code", "Current week (Claude Code)", 44.0)]


# -- malformed parts are skipped, the rest is shown ------------------------------------------------


@pytest.mark.parametrize("bad_window", [
    {"utilization": True, "resets_at": None},
    {"utilization": float("nan"), "resets_at": None},
    {"utilization": float("inf"), "resets_at": None},
    {"utilization": -3, "resets_at": None},
    {"utilization": 10**400, "resets_at": None},
    {"utilization": 1e308, "resets_at": None},
    {"utilization": 10_000.5, "resets_at": None},
    {"utilization": "fifty", "resets_at": None},
    {"utilization": "nan", "resets_at": None},
    {"utilization": [50], "resets_at": None},
    "fifty percent",
    42,
])
def test_a_window_whose_percent_cannot_be_read_is_skipped_counted_and_the_rest_still_shown(bad_window, caplog):
    body = {"five_hour": {"utilization": 20, "resets_at": None}, "seven_day": bad_window}
    with caplog.at_level(logging.INFO, logger="tray_monitor.parse"):
        reading = parse_usage(body, NOW)
    assert [w.id for w in reading.windows] == ["five_hour"]
    assert reading.skipped == 1
    assert any("seven_day" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("bad_reset", ["next tuesday", "2026-13-01T00:00:00Z", [2026], 1e300, True,
                                       "9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z", "2200-01-01T00:00:00Z"])
def test_a_reset_time_that_cannot_be_read_makes_only_the_reset_unknown(bad_reset):
    body = {"five_hour": {"utilization": 20, "resets_at": None}, "seven_day": {"utilization": 50, "resets_at": bad_reset}}
    reading = parse_usage(body, NOW)
    weekly = reading.window("seven_day")
    assert (weekly.percent, weekly.resets_at, weekly.reset_unknown) == (50.0, None, True)
    assert reading.skipped == 0


@pytest.mark.parametrize("text, expected", [
    (1_788_000_000_000, datetime.fromtimestamp(1_788_000_000, tz=timezone.utc)),  # epoch milliseconds
    ("1788000000", datetime.fromtimestamp(1_788_000_000, tz=timezone.utc)),  # epoch as a string
    ("1788000000000", datetime.fromtimestamp(1_788_000_000, tz=timezone.utc)),
    ("2026-09-04", datetime(2026, 9, 4, tzinfo=timezone.utc)),  # a date alone
    ("2026-09-04t16:20:00z", datetime(2026, 9, 4, 16, 20, tzinfo=timezone.utc)),  # lowercase t...z
    ("2026-09-04T16:20:00 UTC", datetime(2026, 9, 4, 16, 20, tzinfo=timezone.utc)),  # trailing UTC
    ("2026-09-04 16:20:00GMT", datetime(2026, 9, 4, 16, 20, tzinfo=timezone.utc)),
])
def test_reset_times_in_other_spellings_are_read(text, expected):
    reading = parse_usage({"five_hour": {"utilization": 5, "resets_at": text}}, NOW)
    assert reading.windows[0].resets_at == expected
    assert reading.windows[0].reset_unknown is False


@pytest.mark.parametrize("encoded, expected", [
    ("78", 78.0), ("47.5", 47.5), (" 78 ", 78.0), ("78%", 78.0), ("1e2", 100.0), (".5", 0.5), ("0", 0.0),
])
def test_a_percent_sent_as_a_numeric_string_is_that_number(encoded, expected):
    body = {"five_hour": {"utilization": encoded},
            "limits": [{"kind": "weekly_scoped", "percent": encoded, "scope": {"model": {"display_name": "Fable"}}}]}
    reading = parse_usage(body, NOW)
    assert [(w.id, w.percent) for w in reading.windows] == [("five_hour", expected), ("seven_day_fable", expected)]


def test_a_window_without_a_number_is_hidden_as_claude_code_does_and_not_counted():
    body = {"five_hour": {"utilization": 20}, "seven_day": {"utilization": None, "resets_at": None},
            "limits": [{"kind": "weekly_scoped", "percent": None, "scope": {"model": {"display_name": "Fable"}}}]}
    reading = parse_usage(body, NOW)
    assert [w.id for w in reading.windows] == ["five_hour"]
    assert reading.skipped == 0


@pytest.mark.parametrize("bad_limit", ["session", {"kind": "session", "percent": False},
                                       {"kind": "session", "percent": "lots"}, ["session", 5]])
def test_a_limit_that_cannot_be_read_is_skipped_counted_and_the_flat_windows_still_shown(bad_limit, caplog):
    body = {"five_hour": {"utilization": 20, "resets_at": None}, "limits": [bad_limit]}
    with caplog.at_level(logging.INFO, logger="tray_monitor.parse"):
        reading = parse_usage(body, NOW)
    assert summary(reading) == [("five_hour", "Current session", 20.0)]
    assert reading.skipped == 1
    assert any("limits[0]" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("odd_limit, label", [
    ({"percent": 5}, "Limit"),
    ({"kind": "", "percent": 5}, "Limit"),
    ({"kind": "___", "percent": 5}, "Limit"),
    ({"kind": "weekly_scoped", "percent": 5, "scope": None}, "Weekly scoped"),
    ({"kind": "weekly_scoped", "percent": 5, "scope": {"model": "Opus"}}, "Weekly scoped"),
    ({"kind": "weekly_scoped", "percent": 5, "scope": {"model": {"display_name": " ・ "}}}, "Current week (・)"),
])
def test_a_limit_with_a_readable_percent_but_an_odd_name_is_still_shown(odd_limit, label):
    body = {"five_hour": {"utilization": 20, "resets_at": None}, "limits": [odd_limit]}
    reading = parse_usage(body, NOW)
    assert [(w.label, w.percent) for w in reading.windows] == [("Current session", 20.0), (label, 5.0)]
    assert reading.skipped == 0


@pytest.mark.parametrize("names", [("Opus α", "Opus β"), ("X 2", "X-2"), ("Фейбл", "Опус"), ("ファブル", "オーパス"),
                                   ("Σ", "Ω"), ("Fable", "Fable 2")])
def test_two_names_that_reduce_to_the_same_letters_stay_two_windows(names):
    body = {"limits": [{"kind": "weekly_scoped", "percent": 10 + i, "is_active": True,
                        "scope": {"model": {"display_name": name}}} for i, name in enumerate(names)]}
    reading = parse_usage(body, NOW)
    assert [(w.label, w.percent) for w in reading.windows] == [
        (f"Current week ({names[0]})", 10.0), (f"Current week ({names[1]})", 11.0)]
    assert len({w.id for w in reading.windows}) == 2
    assert reading.window(parse_usage(body, NOW).windows[1].id).percent == 11.0  # stable from poll to poll


def test_credit_rows_are_shown_under_claude_codes_names_with_their_dollars():
    body = {"five_hour": {"utilization": 1},
            "cinder_cove": {"utilization": 30, "resets_at": None},
            "wattle_ember": {"utilization": "40", "label": "Team credit\u202e", "used_dollars": 12, "limit_dollars": 30},
            "promo_credits": [{"label": "Launch bonus", "utilization": 5, "resets_at": "2026-10-01T00:00:00Z",
                               "used_dollars": 1.5, "limit_dollars": 30, "notice": "Ends soon\x1b[2J"},
                              {"label": "Launch bonus", "utilization": 6, "notice": "Ends soon\x1b[2J"}]}
    reading = parse_usage(body, NOW)
    assert [(w.id, w.label, w.percent, w.used_dollars, w.limit_dollars) for w in reading.windows[1:]] == [
        ("cinder_cove", "Claude Code and Cowork credit", 30.0, None, None),
        ("wattle_ember", "Team credit", 40.0, 12.0, 30.0),
        ("promo_launch_bonus", "Launch bonus", 5.0, 1.5, 30.0),
        ("promo_launch_bonus~2", "Launch bonus", 6.0, None, None),
    ]
    assert reading.notices == ("Ends soon",)


def test_limits_that_is_not_a_list_is_ignored(caplog):
    body = {"five_hour": {"utilization": 20}, "limits": {"kind": "session"}}
    with caplog.at_level(logging.DEBUG, logger="tray_monitor.parse"):
        assert summary(parse_usage(body, NOW)) == [("five_hour", "Current session", 20.0)]
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


@pytest.mark.parametrize("body, words", [
    ({}, "without any usage data"),
    ({"nimbus_quill": {"utilization": 5}, "member_dashboard_available": False}, "without any usage data"),
    ({"error": {"type": "overloaded_error\x1b]0;x\x07", "message": "busy"}}, r"an error instead of a reading \(overloaded_error\)"),
    ({"type": "error", "error": "boom"}, r"an error instead of a reading \(boom\)"),
])
def test_a_body_without_any_key_of_a_reading_is_an_in_band_error(body, words):
    with pytest.raises(InBandError, match=words):
        parse_usage(body, NOW)


def test_known_keys_that_are_all_unreadable_are_a_bad_response_that_says_so():
    with pytest.raises(BadResponse, match=r"without any usage window \(2 could not be read\)"):
        parse_usage({"five_hour": {"utilization": "x"}, "seven_day": {"utilization": -1}}, NOW)


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


def test_spend_is_not_read_as_claude_code_reads_money_from_extra_usage_only():
    body = {"five_hour": {"utilization": 1},
            "spend": {"used": {"amount_minor": 250, "currency": "GBP", "exponent": 2},
                      "limit": {"amount_minor": 1000, "currency": "GBP", "exponent": 2},
                      "percent": 25, "enabled": True}}
    assert parse_usage(body, NOW).extra_usage is None


@pytest.mark.parametrize("extra", ["on", {"is_enabled": "yes"}, ["x"]])
def test_malformed_extra_usage_is_skipped_and_the_windows_still_shown(extra, caplog):
    body = {"five_hour": {"utilization": 1}, "extra_usage": extra}
    with caplog.at_level(logging.INFO, logger="tray_monitor.parse"):
        reading = parse_usage(body, NOW)
    assert reading.extra_usage is None
    assert reading.window("five_hour") is not None
    assert any("extra_usage" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("currency, places, used, limit, expected", [
    ("JPY", None, 1250, 5000, (1250.0, 5000.0, 0)),  # zero-decimal currency: as sent (Claude Code)
    ("KRW", None, 1250, None, (1250.0, None, 0)),
    ("VND", None, 1250, 5000, (1250.0, 5000.0, 0)),
    ("USD", None, 1234, 5000, (12.34, 50.0, 2)),  # every other currency: / 100
    (None, None, 1234, 5000, (12.34, 50.0, 2)),
    ("KWD", 3, 12345, 50000, (12.345, 50.0, 3)),  # decimal_places from the server wins
    ("JPY", 0, 1250, 5000, (1250.0, 5000.0, 0)),
    ("USD", 2, 1234, -5000, (12.34, None, 2)),  # a negative limit is no limit
])
def test_money_follows_the_currency_and_claude_codes_rule_without_decimal_places(currency, places, used, limit, expected):
    extra = {"is_enabled": True, "used_credits": used, "monthly_limit": limit, "currency": currency}
    if places is not None:
        extra["decimal_places"] = places
    money = parse_usage({"five_hour": {"utilization": 1}, "extra_usage": extra}, NOW).extra_usage
    assert (money.used, money.limit, money.places) == expected
    if expected[1] is None:
        assert money.percent is None  # no limit, no percent


@pytest.mark.parametrize("fields, words", [
    ({"disabled_reason": "out_of_credits"}, "out of usage credits"),
    ({"disabled_reason": "spend_limit_reached"}, "monthly spend limit reached"),
    ({"disabled_reason": None, "spend_limit_reached": True}, "monthly spend limit reached"),
    ({"disabled_reason": "user_disabled"}, "usage credits are off"),
    ({"disabled_reason": None, "user_disabled": True}, "usage credits are off"),
    ({"disabled_reason": "org_policy\u202e"}, "org policy"),
    ({"disabled_reason": None}, None),
])
def test_disabled_reason_is_in_words(fields, words):
    extra = {"is_enabled": False, "monthly_limit": None, "used_credits": None, **fields}
    body = {"five_hour": {"utilization": 1}, "extra_usage": extra}
    assert parse_usage(body, NOW).extra_usage.disabled_reason == words


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


@pytest.mark.parametrize("text", ["", "tomorrow", "2026-08", "2026-02-30T00:00:00Z", "2026-08-04T16:20:00+25:00",
                                  "0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00", "9999-12-31", -1e20])
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
