"""reset_text: every front end's words for a reset, one vocabulary in every form ("resets in" a
countdown, "at" a clock time, the countdown first and the clock after it in parentheses)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tray_monitor.fmt import format_clock, format_countdown
from tray_monitor.reset_words import reset_text

UTC = timezone.utc
NOW = datetime(2026, 9, 10, 11, 49, 0, 500000, tzinfo=UTC)
RESETS = datetime(2026, 9, 10, 14, 0, 0, 1100, tzinfo=UTC)  # 2h 11m after NOW


@pytest.fixture(autouse=True)
def utc(local_time_zone):
    local_time_zone("UTC")


@pytest.mark.parametrize("form, expected", [
    ("row", "resets in 2h 11m (14:00)"),
    ("short", "resets in 2h 11m"),
    ("sentence", "Resets in 2h 11m (14:00)."),
    ("clock", "resets at 14:00"),
])
def test_each_form_words_the_same_reset(form, expected):
    assert reset_text(RESETS, NOW, form=form) == expected


@pytest.mark.parametrize("form, expected", [
    ("row", "resets now (14:00)"),
    ("short", "resets now"),
    ("sentence", "Resets now (14:00)."),
    ("clock", "resets at 14:00"),
])
def test_a_passed_reset_reads_now_in_every_form_but_the_clock_one(form, expected):
    assert reset_text(RESETS, RESETS + timedelta(seconds=30), form=form) == expected


@pytest.mark.parametrize("form, not_started, unknown", [
    ("row", "not started", "reset time unknown"),
    ("short", "not started", "reset time unknown"),
    ("sentence", "Not started yet.", "Reset time unknown."),
    ("clock", "not started", "reset time unknown"),
])
def test_no_reset_time(form, not_started, unknown):
    assert reset_text(None, NOW, form=form) == not_started
    assert reset_text(None, NOW, form=form, unknown=True) == unknown


@given(ahead=st.floats(-86400, 30 * 86400, allow_nan=False), seconds=st.booleans())
def test_the_forms_differ_only_in_what_they_leave_out(ahead, seconds):
    resets = NOW + timedelta(seconds=ahead)
    row = reset_text(resets, NOW, seconds=seconds)
    short = reset_text(resets, NOW, seconds=seconds, form="short")
    countdown = format_countdown(resets - NOW, seconds=seconds)
    clock = format_clock(resets, NOW)
    assert short == ("resets now" if countdown == "now" else f"resets in {countdown}")
    assert row == f"{short} ({clock})"
    assert reset_text(resets, NOW, seconds=seconds, form="sentence") == f"R{row[1:]}."
    assert reset_text(resets, NOW, form="clock") == f"resets at {clock}"
