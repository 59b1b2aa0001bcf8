"""Never understate: generated bodies whose windows all have readable percents.

For any body built from windows with readable percents, in any accepted encoding (a JSON number, a
numeric string, in `limits[]` or as a flat key) and with any Unicode names, every window appears
exactly once, under an id that is unique and does not depend on the other windows, and the icon
shows the window the rule names: among the active windows (all when none is) the most severe, then
the highest, and never a non-critical one while any window is critical.
"""
from __future__ import annotations

import math
import unicodedata
from datetime import datetime, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tray_monitor.fmt import format_percent, percent_number
from tray_monitor.icon import percent_label
from tray_monitor.parse import MAX_PERCENT, parse_usage
from tray_monitor.state import MonitorState
from tray_monitor.view import view

NOW = datetime(2026, 9, 1, 12, 0, tzinfo=timezone.utc)
RANK = {"normal": 0, "warning": 1, "critical": 2}


def identity(name: str) -> str:
    """Two names are the same window when a person would read them as the same (documented rule)."""
    return " ".join(unicodedata.normalize("NFKC", name).casefold().split())


percents = st.one_of(
    st.integers(0, 100), st.floats(0, 100, allow_nan=False), st.floats(100, MAX_PERCENT, allow_nan=False),
    st.sampled_from([0, 74.99, 75, 89.9, 90, 99.6, 100, 104.2]),
)
names = st.text(min_size=1, max_size=16).filter(lambda n: identity(n) != "")
severities = st.sampled_from([None, "normal", "warning", "critical"])


@st.composite
def encoded(draw, percent):
    """The percent as the server might send it: a number or a numeric string."""
    if draw(st.booleans()):
        return int(percent) if float(percent).is_integer() and draw(st.booleans()) else percent
    text = repr(float(percent)) if draw(st.booleans()) else str(percent)
    return draw(st.sampled_from([text, f" {text} ", f"{text}%"]))


@st.composite
def bodies(draw):
    """(body, expected windows as (percent, active, severity, single-window body))."""
    body: dict = {"limits": []}
    expected = []

    def add(percent, active, severity, flat_key=None, limit=None):
        single: dict = {"limits": []}
        if limit is not None:
            row = dict(limit, percent=draw(encoded(percent)), is_active=active)
            if severity is not None:
                row["severity"] = severity
            body["limits"].append(row)
            single["limits"].append(row)
        else:
            value = {"utilization": draw(encoded(percent)), "resets_at": None}
            body[flat_key] = value
            single[flat_key] = value
        expected.append((float(percent), active, severity, single))

    for key, kind in (("five_hour", "session"), ("seven_day", "weekly_all")):
        if draw(st.booleans()):
            percent, active, severity = draw(percents), draw(st.booleans()), draw(severities)
            if draw(st.booleans()):
                add(percent, active, severity, limit={"kind": kind})
            else:
                add(percent, False, None, flat_key=key)
    seen: set[str] = set()
    for name in draw(st.lists(names, max_size=6)):
        # Flat keys spell spaces as "_", so a flat name must not hold one (it would be another name).
        flat = "_" not in name and draw(st.booleans())
        key_identity = identity(name)
        if key_identity in seen:
            continue
        seen.add(key_identity)
        percent, active, severity = draw(percents), draw(st.booleans()), draw(severities)
        if flat:
            add(percent, False, None, flat_key="seven_day_" + name)
        else:
            part = draw(st.sampled_from(["model", "surface"]))
            add(percent, active, severity, limit={"kind": "weekly_scoped", "scope": {part: {"display_name": name}}})
    if not expected:
        add(draw(percents), False, None, flat_key="five_hour")
    return body, expected


def severity(percent: float, server: str | None) -> str:
    by_percent = "critical" if percent >= 90 else "warning" if percent >= 75 else "normal"
    return max(server or "normal", by_percent, key=RANK.__getitem__)


@given(bodies())
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
def test_every_readable_window_appears_once_under_a_unique_stable_id(case):
    body, expected = case
    reading = parse_usage(body, NOW)
    assert reading.skipped == 0
    assert len(reading.windows) == len(expected)
    assert sorted(w.percent for w in reading.windows) == sorted(p for p, *_ in expected)
    ids = [w.id for w in reading.windows]
    assert len(set(ids)) == len(ids)
    for percent, _active, _severity, single in expected:
        # The id a window gets alone is the id it gets among the others: stable from poll to poll
        # whatever else the server sends.
        alone = parse_usage(single, NOW).windows
        assert len(alone) == 1
        assert reading.window(alone[0].id).percent == percent


@given(bodies())
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
def test_the_icon_shows_the_most_severe_active_window_and_never_hides_a_critical_one(case):
    body, expected = case
    icon = view(MonitorState(reading=parse_usage(body, NOW), interval=120), NOW).icon
    weighted = [(RANK[severity(p, s)], p) for p, active, s, _ in expected if active] or \
               [(RANK[severity(p, s)], p) for p, _active, s, _ in expected]
    rank, percent = max(weighted)
    worst_rank, worst_percent = max((RANK[severity(p, s)], p) for p, _active, s, _ in expected)
    if worst_rank == RANK["critical"] and rank < worst_rank:
        rank, percent = worst_rank, worst_percent
    assert icon.state == "ok"
    assert (RANK[icon.severity], icon.percent) == (rank, percent)


@given(st.floats(0, MAX_PERCENT, allow_nan=False))
def test_percent_text_never_rounds_up_into_a_threshold_it_has_not_reached(p):
    shown = percent_number(p)
    assert format_percent(p) == f"{shown}%"
    assert shown <= p + 1e-6 and p - shown < 1
    for threshold in (75, 90, 100):
        if p < threshold - 1e-6:
            assert shown < threshold
    label = percent_label(p)
    assert label == ("full" if p >= 100 else str(shown))
    assert math.isfinite(shown)
