"""panels: waybar / i3blocks / polybar blocks from a View, for each state a panel can be in."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from tray_monitor import panels
from tray_monitor.errors import AuthExpired, RateLimited
from tray_monitor.model import Reading, UsageWindow
from tray_monitor.state import MonitorState
from tray_monitor.view import view

NOW = datetime(2026, 9, 1, 12, 0, tzinfo=timezone.utc)


def reading(session: float = 24.0, weekly: float = 41.0, fable: float | None = None,
            at: datetime = NOW) -> Reading:
    windows = [UsageWindow("five_hour", "Session (5h)", session, NOW + timedelta(hours=2), kind="session"),
               UsageWindow("seven_day", "Weekly", weekly, NOW + timedelta(days=3), kind="weekly")]
    if fable is not None:
        windows.append(UsageWindow("seven_day_fable", "Weekly · Fable", fable, NOW + timedelta(days=1),
                                   kind="weekly_scoped"))
    return Reading(tuple(windows), None, at)


def v(**state):
    return view(MonitorState(**state), NOW)


@pytest.mark.parametrize("state, text, cls, percentage", [
    (dict(reading=reading()), "5h 24% · 7d 41%", "ok", 41),
    (dict(reading=reading(80.0)), "5h 80% · 7d 41%", "warning", 80),
    (dict(reading=reading(50.0, fable=92.0)), "5h 50% · 7d 41% · Fable 92%", "critical", 92),
    (dict(reading=reading(50.0, fable=60.0)), "5h 50% · 7d 41%", "ok", 60),  # Fable not near its cap
    (dict(reading=reading(104.0)), "5h 104% · 7d 41%", "critical", 100),  # overage shown, bar clamped
    (dict(reading=reading(at=NOW - timedelta(hours=1))), "5h 24% · 7d 41% (stale)", "stale", 41),
    (dict(reading=reading(), problem=RateLimited(None)), "5h 24% · 7d 41% (stale)", "stale", 41),
    (dict(problem=AuthExpired("Login expired.")), "Claude: expired", "error", 0),
    (dict(), "Claude: loading", "error", 0),
])
def test_waybar_block_for_each_state(state, text, cls, percentage):
    block = json.loads(panels.waybar(v(**state), "from the running tray, 40 s ago"))
    assert set(block) == {"text", "tooltip", "class", "percentage", "alt"}
    assert (block["text"], block["class"], block["percentage"], block["alt"]) == (text, cls, percentage, cls)
    assert "\n" not in panels.waybar(v(**state))  # one line: waybar reads line by line


def test_the_tooltip_lists_every_window_and_where_the_numbers_came_from():
    tooltip = json.loads(panels.waybar(v(reading=reading(fable=92.0)), "from the running tray, 40 s ago"))["tooltip"]
    lines = tooltip.splitlines()
    assert lines[0].startswith("Session (5h): 24% · resets in 2h 0m")
    assert lines[2].startswith("Weekly · Fable: 92%")
    assert lines[-1].startswith("Updated ") and lines[-1].endswith(" (from the running tray, 40 s ago)")


def test_i3blocks_gives_full_short_and_colour_lines():
    assert panels.i3blocks(v(reading=reading(80.0))).splitlines() == ["5h 80% · 7d 41%", "5h 80% 7d 41%", "#E5C07B"]
    assert panels.i3blocks(v(reading=reading())).splitlines() == ["5h 24% · 7d 41%", "5h 24% 7d 41%"]


def test_polybar_wraps_the_colour_in_its_format_tag():
    assert panels.polybar(v(reading=reading(95.0))) == "%{F#E06C75}5h 95% · 7d 41%%{F-}"
    assert panels.polybar(v(reading=reading())) == "5h 24% · 7d 41%"


def test_claude_codes_own_window_names_give_the_short_model_name():
    fable = UsageWindow("seven_day_fable", "Current week (Fable)", 93.0, NOW + timedelta(days=1), kind="weekly_scoped")
    r = reading()
    state = dict(reading=Reading((*r.windows, fable), None, NOW))
    assert json.loads(panels.waybar(v(**state)))["text"] == "5h 24% · 7d 41% · Fable 93%"
