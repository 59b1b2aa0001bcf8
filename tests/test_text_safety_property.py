"""Terminal safety and display width, for any text (issue 9, classes 8 and 9).

For any string: the cleaned text holds no control, bidi-override or other format character and no
escape sequence, and cut to a width it never takes more terminal columns than that width. For any
window names the server may send: every line of `status` stays inside 50 columns (or the console
less one), every line of `watch` inside the console less one, and the menu, tooltip and
notification texts hold nothing unprintable.
"""
from __future__ import annotations

import unicodedata
from datetime import datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.test_terminal import FakeSource, make_env
from tray_monitor.alerts import AlertMemory, AlertSettings, evaluate
from tray_monitor.fmt import char_width, clean_text, fit_width, text_width, wrap_width
from tray_monitor.parse import parse_usage
from tray_monitor.state import MonitorState
from tray_monitor.terminal import UNICODE, run_status, watch_screen
from tray_monitor.view import view

NOW = datetime(2026, 9, 10, 15, 49, tzinfo=timezone.utc)
UNPRINTABLE = {"Cc", "Cf", "Cs", "Cn", "Zl", "Zp"}

#: Text the way a hostile or broken server could send it: any code point, with escape sequences,
#: bidi overrides, wide and combining characters made likely.
nasty = st.lists(
    st.one_of(
        st.characters(),
        st.sampled_from(["\x1b", "\x1b[2J", "\x1b]0;title\x07", "\x9b", "\u202e", "\u2066", "\u200f", "\u0301",
                         "日", "ファ", "🦊", "\u200d", "\ufeff", "\n", "\t", "\x00", "\x7f", "[", ";", "\u3000"]),
    ),
    max_size=40,
).map("".join)


def columns_of(text: str) -> int:
    """The test's own count of terminal columns (as wcwidth): wide/fullwidth 2, marks and format 0."""
    total = 0
    for ch in text:
        if unicodedata.category(ch) in ("Mn", "Me", "Cf") or "\u1160" <= ch <= "\u11ff":
            continue
        total += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return total


def printable_only(text: str) -> bool:
    return "\x1b" not in text and not any(unicodedata.category(ch) in UNPRINTABLE for ch in text)


@given(nasty)
@settings(max_examples=500)
def test_cleaned_text_holds_no_control_bidi_or_format_character(text):
    cleaned = clean_text(text)
    assert printable_only(cleaned), repr(cleaned)
    assert cleaned == clean_text(cleaned)  # idempotent: cleaning twice changes nothing


@given(nasty, st.integers(0, 80))
@settings(max_examples=500)
def test_fitted_text_never_exceeds_its_width_in_terminal_columns(text, width):
    fitted = fit_width(clean_text(text), width)
    assert columns_of(fitted) <= width
    for line in wrap_width(clean_text(text), max(width, 2)):
        assert columns_of(line) <= max(width, 2)


def test_the_width_function_counts_wide_as_two_and_combining_as_zero():
    assert [char_width(c) for c in "a日🦊\u0301\u200b"] == [1, 2, 2, 0, 0]
    assert text_width("ファブル") == 8 and text_width("e\u0301") == 1


def body_with_names(names: list[str]) -> dict:
    return {
        "five_hour": {"utilization": 99.6, "resets_at": "2026-09-10T18:00:00Z"},
        "limits": [{"kind": "weekly_scoped", "percent": 50 + i, "resets_at": "2026-09-14T09:00:00Z", "is_active": i == 0,
                    "scope": {"model": {"display_name": name}}} for i, name in enumerate(names)],
        "extra_usage": {"is_enabled": False, "disabled_reason": names[0] if names else None},
        "wattle_ember": {"utilization": 5, "label": names[-1] if names else "x", "used_dollars": 1, "limit_dollars": 2},
        "promo_credits": [{"label": n, "utilization": 1, "notice": n} for n in names[:2]],
        **{f"seven_day_{n}": {"utilization": 3} for n in names[:2]},
    }


names_lists = st.lists(nasty.filter(lambda n: n.strip()), min_size=1, max_size=4)


@given(names_lists, st.integers(21, 90))
@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
def test_status_stays_inside_its_width_for_any_names(names, columns):
    reading = parse_usage(body_with_names(names), NOW - timedelta(minutes=1))
    env = make_env(columns=columns)
    assert run_status(FakeSource(reading), env, as_json=False, now=NOW) == 0
    out = env.stdout.getvalue()
    assert printable_only(out.replace("\n", ""))
    for line in out.splitlines():
        assert columns_of(line) <= min(columns - 1, 50), (columns, line)


@given(names_lists, st.integers(8, 90), st.integers(6, 40))
@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
def test_watch_stays_inside_the_console_for_any_names(names, columns, rows):
    reading = parse_usage(body_with_names(names), NOW - timedelta(minutes=1))
    v = view(MonitorState(reading=reading, interval=120), NOW)
    screen = watch_screen(v, NOW, columns, rows, UNICODE)
    assert len(screen) <= rows - 1
    for line in screen:
        assert printable_only(line)
        assert columns_of(line) <= columns - 1, (columns, line)


@given(names_lists)
@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
def test_menu_tooltip_and_notifications_hold_nothing_unprintable(names):
    reading = parse_usage(body_with_names(names), NOW - timedelta(minutes=1))
    v = view(MonitorState(reading=reading, interval=120), NOW)
    texts = [v.tooltip, *(row.menu_text for row in v.windows), *v.notes, v.extra_usage_text or ""]
    _memory, notes = evaluate(AlertMemory(), reading, "ok", AlertSettings(thresholds=(50, 75, 90, 100)), NOW)
    texts += [text for n in notes for text in (n.summary, n.body)]
    for text in texts:
        assert printable_only(text), repr(text)
