from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tray_monitor.fmt import format_clock, format_countdown, format_money, format_percent, text_bar


@pytest.fixture
def berlin(local_time_zone):
    """Local time is Europe/Berlin (UTC+1 in November, UTC+2 in summer)."""
    local_time_zone("Europe/Berlin")


@pytest.mark.parametrize(
    "delta, text",
    [
        (timedelta(hours=2, minutes=11), "2h 11m"),
        (timedelta(hours=2, minutes=10, seconds=1), "2h 11m"),  # rounds up: never "0m" with time left
        (timedelta(hours=2, minutes=11, microseconds=412), "2h 11m"),  # resets_at's microsecond noise
        (timedelta(hours=2, minutes=5), "2h 5m"),
        (timedelta(hours=3), "3h 0m"),
        (timedelta(minutes=45), "45m"),
        (timedelta(seconds=20), "1m"),
        (timedelta(days=3, hours=4, minutes=10), "3d 4h"),
        (timedelta(days=1), "1d 0h"),
        (timedelta(0), "now"),
        (timedelta(seconds=-30), "now"),
    ],
)
def test_countdown_without_seconds(delta, text):
    assert format_countdown(delta) == text


@pytest.mark.parametrize(
    "delta, text",
    [
        (timedelta(hours=2, minutes=11, seconds=5), "2h 11m 05s"),
        (timedelta(hours=2, minutes=11, seconds=4, milliseconds=1), "2h 11m 05s"),
        (timedelta(hours=2, minutes=11, seconds=5, microseconds=412), "2h 11m 05s"),  # resets_at noise
        (timedelta(minutes=3, seconds=0), "3m 00s"),
        (timedelta(seconds=45), "45s"),
        (timedelta(milliseconds=10), "1s"),
        (timedelta(days=3, hours=4, minutes=1, seconds=2), "3d 4h 01m 02s"),
        (timedelta(0), "now"),
        (timedelta(seconds=-1), "now"),
    ],
)
def test_countdown_with_seconds(delta, text):
    assert format_countdown(delta, seconds=True) == text


@given(st.integers(min_value=1, max_value=30 * 86400))
def test_countdown_with_seconds_changes_every_second(secs):
    assert format_countdown(timedelta(seconds=secs), seconds=True) != format_countdown(
        timedelta(seconds=secs + 1), seconds=True
    )


def test_clock_today_is_local_hours_and_minutes(berlin):
    now = datetime(2026, 11, 25, 9, 0, tzinfo=timezone.utc)
    assert format_clock(datetime(2026, 11, 25, 13, 0, tzinfo=timezone.utc), now) == "14:00"


def test_clock_another_day_names_the_weekday(berlin):
    now = datetime(2026, 11, 25, 9, 0, tzinfo=timezone.utc)  # Wednesday
    assert format_clock(datetime(2026, 11, 27, 13, 0, tzinfo=timezone.utc), now) == "Fri 14:00"
    assert format_clock(datetime(2026, 11, 24, 13, 0, tzinfo=timezone.utc), now) == "Tue 14:00"


def test_clock_is_today_by_local_date_not_utc_date(berlin):
    # 23:30 UTC is already tomorrow 00:30 in Berlin.
    now = datetime(2026, 11, 25, 23, 0, tzinfo=timezone.utc)  # 00:00 Thu local
    assert format_clock(datetime(2026, 11, 25, 23, 30, tzinfo=timezone.utc), now) == "00:30"


def test_clock_more_than_six_days_away_names_the_date(berlin):
    now = datetime(2026, 11, 25, 9, 0, tzinfo=timezone.utc)
    assert format_clock(datetime(2026, 12, 3, 13, 0, tzinfo=timezone.utc), now) == "3 Dec 14:00"


def test_clock_follows_summer_time(berlin):
    now = datetime(2026, 8, 4, 9, 0, tzinfo=timezone.utc)
    assert format_clock(datetime(2026, 8, 4, 16, 20, tzinfo=timezone.utc), now) == "18:20"


@pytest.mark.parametrize(
    "p, text",
    [(78, "78%"), (78.4, "78%"), (78.5, "78%"), (99.6, "99%"), (99.99, "99%"), (89.9, "89%"), (74.99, "74%"),
         (28.999999999999996, "29%"), (0.5, "0%"), (0, "0%"), (104.0, "104%"), (104.7, "104%"), (None, "?%"),
     (float("nan"), "?%")],
)
def test_percent(p, text):
    assert format_percent(p) == text


@pytest.mark.parametrize(
    "p, bar",
    [
        (0, "░░░░░░░░░░"),
        (50, "█████░░░░░"),
        (96, "█████████░"),  # rounds to full, but a full bar is kept for "at the limit"
        (100, "██████████"),
        (104, "██████████"),  # overage: only the drawing is clamped
        (-5, "░░░░░░░░░░"),
        (None, "░░░░░░░░░░"),
    ],
)
def test_text_bar(p, bar):
    assert text_bar(p, 10) == bar


def test_text_bar_with_ascii_cells():
    assert text_bar(30, 10, full="#", empty="-") == "###-------"


@given(st.floats(allow_nan=True, allow_infinity=True), st.integers(min_value=-3, max_value=200))
def test_text_bar_is_always_exactly_its_width(p, width):
    assert len(text_bar(p, width)) == max(0, width)


@pytest.mark.parametrize(
    "amount, currency, text",
    [
        (12.34, "USD", "$12.34"),
        (40, "EUR", "€40.00"),
        (40, "eur", "€40.00"),
        (1234.5, "GBP", "£1,234.50"),
        (5, "CHF", "5.00 CHF"),
        (5, None, "5.00"),
        (None, "USD", "?"),
    ],
)
def test_money(amount, currency, text):
    assert format_money(amount, currency) == text
