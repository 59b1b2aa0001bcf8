"""The forecast in words and JSON for every front end (pure: plain values in and out).

`outlooks(reading, history, now)` runs forecast.py on each window of the reading with the stored
readings, projected from the moment of the reading (`fetched_at`): the run-out time moves when a
reading or a reset does, not with the clock; `outlook_text` gives the menu's words ("pace 1.3x ·
runs out 15:40", "on track", "" when there is not enough data: the front ends say nothing rather
than guess);
`binding_line` the top line naming the limit that runs out first; `forecast_json` the object
`status --json` carries per window.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tray_monitor.fmt import format_clock, format_percent
from tray_monitor.forecast import Forecast, HistoryDigest, WindowNow, binding, forecast_window
from tray_monitor.model import Reading
from tray_monitor.reset_words import reset_text


@dataclass(frozen=True)
class Outlook:
    window_id: str
    label: str
    percent: float
    forecast: Forecast | None
    reason: str | None  # why there is no forecast


#: The last call's (reading, history, moment) and answer. A poll asks twice with the very same
#: values (state.step for the run-out popup, then the view), and every tick asks again; with a
#: learned usual-hours profile one answer walks the week hour by hour (about 0.5-1 ms). Both values
#: are immutable and the projection starts at the reading, so later moments give the same answer
#: until a window's reset passes: the moment is keyed by which resets have passed (or is the
#: moment itself while the clock reads before the reading: set back).
_last: tuple[Reading, HistoryDigest, object, tuple[Outlook, ...]] | None = None


def _moment(reading: Reading, now: datetime) -> object:
    if now < reading.fetched_at:
        return now
    return tuple(w.resets_at is not None and w.resets_at <= now for w in reading.windows)


def outlooks(reading: Reading | None, history: HistoryDigest, now: datetime) -> tuple[Outlook, ...]:
    global _last
    if reading is None:
        return ()
    last, moment = _last, _moment(reading, now)
    if last is not None and last[0] is reading and last[1] is history and last[2] == moment:
        return last[3]
    result = []
    for w in reading.windows:
        fc = forecast_window(w.id, w.kind, w.percent, w.resets_at, now, history.samples_for(w.id),
                             profile=history.profile_for(w.id), read_at=reading.fetched_at)
        result.append(Outlook(w.id, w.label, w.percent, fc.forecast, fc.reason))
    answer = tuple(result)
    _last = (reading, history, moment, answer)
    return answer


def binding_id(items: tuple[Outlook, ...]) -> str | None:
    return binding([WindowNow(o.window_id, o.percent, o.forecast) for o in items])


def pace_text(pace: float) -> str:
    return f"pace {pace:.1f}x"


def outlook_text(o: Outlook, now: datetime) -> str:
    """ "pace 1.3x · runs out 15:40", "on track", or "" (no forecast, or already full: the row's
    100 % and the top line say it)."""
    fc = o.forecast
    if fc is None or o.percent >= 100:
        return ""
    if fc.runs_out_at is not None:
        return f"{pace_text(fc.pace)} · runs out {format_clock(fc.runs_out_at, now)}"
    return "on track"


def _short(o: Outlook) -> str:
    return {"five_hour": "Session", "seven_day": "Weekly limit"}.get(o.window_id, o.label)


def binding_line(items: tuple[Outlook, ...], now: datetime) -> str | None:
    """The menu's top line: "Session runs out first: 15:40, resets at 16:40"; "On track: no limit
    runs out before its reset" when none will; None without any forecast."""
    if not any(o.forecast is not None for o in items):
        return None
    chosen = next((o for o in items if o.window_id == binding_id(items)), None)
    if chosen is None or chosen.forecast is None or chosen.forecast.runs_out_at is None:
        return "On track: no limit runs out before its reset"
    fc = chosen.forecast
    out_at = chosen.forecast.runs_out_at
    resets = reset_text(fc.resets_at, now, form="clock")
    if chosen.percent >= 100:
        name = _short(chosen)  # "Weekly limit" is one already: not "Weekly limit limit reached"
        return f"{name if name.endswith(' limit') else name + ' limit'} reached, {resets}"
    return f"{_short(chosen)} runs out first: {format_clock(out_at, now)}, {resets}"


def tooltip_clause(items: tuple[Outlook, ...], window_id: str | None, now: datetime) -> str | None:
    """For the tooltip: "session limit 78% · out at 15:40, resets at 16:40" when that window (the binding
    limit, or the one the user pinned to the icon) runs out before its reset; else None (the
    tooltip keeps its plain form)."""
    chosen = next((o for o in items if o.window_id == (window_id or binding_id(items))), None)
    if chosen is None or chosen.forecast is None or chosen.forecast.runs_out_at is None or chosen.percent >= 100:
        return None
    fc = chosen.forecast
    name = {"five_hour": "session", "seven_day": "weekly"}.get(chosen.window_id, chosen.label)
    return (f"{name} limit {format_percent(chosen.percent)} · out at {format_clock(chosen.forecast.runs_out_at, now)}, "
            f"{reset_text(fc.resets_at, now, form='clock')}")


def forecast_json(o: Outlook) -> dict[str, Any]:
    """Stable keys: the numbers, or nulls and the reason there is no forecast."""
    fc = o.forecast
    if fc is None:
        return {"pace": None, "projected_percent": None, "runs_out_at": None, "reason": o.reason}
    return {
        "pace": round(fc.pace, 2),
        "projected_percent": round(fc.projected_percent, 1),
        "runs_out_at": fc.runs_out_at.isoformat() if fc.runs_out_at is not None else None,
        "reason": None,
    }
