"""The forecast in words and JSON for every front end (pure: plain values in and out).

`outlooks(reading, history, now)` runs forecast.py on each window of the reading with the stored
readings, projected from the moment of the reading (`fetched_at`): the run-out time moves when a
reading or a reset does, not with the clock; `outlook_text` gives the menu's words ("pace 1.3x ·
runs out 15:40", "on track", "" when there is not enough data: the front ends say nothing rather
than guess);
`binding_line` the top line naming the limit that runs out first; `forecast_json` the object
`status --json` carries per window (its `runs_out_at` exact: it is data, not words).

Every run-out clock a person reads is rounded (`runout_step`, `rounded_runout`): to the minute
within 10 minutes, 5 min within the hour, 15 min within 6 hours, 30 min within a day, the hour
beyond. The estimator's own error is far larger than any of these steps (docs/forecast.md: a
session's run-out is off by a median 12-36 min, a week's by 5-16 h), so a finer clock would claim a
precision the forecast does not have; and a projection that drifts by a minute with each reading
(idle use moves it later as time passes) would change the tray's title and tooltip with every poll.
Rounding is always toward earlier: a shown run-out is never later than the projection by the step
or more. `keep_runouts` adds hysteresis: the time shown stays while new projections stay within
one step of the one it was rounded from, so it does not flap between two neighbours; the memory of
what was shown is a value the caller keeps (`MonitorState.runouts_shown`) and passes back in.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
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


#: (distance to the run-out below which, step of the shown clock); beyond the last: RUNOUT_STEP_FAR.
RUNOUT_STEPS: tuple[tuple[timedelta, timedelta], ...] = (
    (timedelta(minutes=10), timedelta(minutes=1)),
    (timedelta(hours=1), timedelta(minutes=5)),
    (timedelta(hours=6), timedelta(minutes=15)),
    (timedelta(hours=24), timedelta(minutes=30)),
)
RUNOUT_STEP_FAR = timedelta(hours=1)
#: A shown clock keeps its finer step until the run-out is this much further away than the band's
#: edge: a run-out hovering at 60 min does not switch between 5- and 15-minute steps at each reading.
STEP_COARSEN_MARGIN = 1.25


def runout_step(until: timedelta) -> timedelta:
    """The precision a run-out `until` from now is worded at (see the module docstring)."""
    for below, step in RUNOUT_STEPS:
        if until < below:
            return step
    return RUNOUT_STEP_FAR


def rounded_runout(at: datetime, step: timedelta) -> datetime:
    """`at` rounded down to `step` (at most an hour) on the local clock: 15:53 to 15 min is 15:45."""
    minutes = max(1, step // timedelta(minutes=1))
    try:
        local = at.astimezone()
    except (OverflowError, ValueError, OSError):  # a moment the local zone cannot express: as it is
        return at
    return local.replace(minute=local.minute - local.minute % minutes, second=0, microsecond=0)


@dataclass(frozen=True)
class ShownRunOut:
    """The run-out clock a window's words show, and the projection it was rounded from."""

    window_id: str
    projected: datetime  # the projection it was rounded from (the hysteresis is around it)
    shown: datetime  # rounded down to `step`
    step: timedelta


def keep_runouts(items: tuple[Outlook, ...], now: datetime,
                 kept: tuple[ShownRunOut, ...] = ()) -> tuple[ShownRunOut, ...]:
    """The run-out clocks to show for `items` at `now`, given those shown before (`kept`): a kept
    one stays while the new projection is less than its step away from the projection it was
    rounded from and the run-out is not so near that it needs a finer step; otherwise the new
    projection is rounded down to the step its distance asks for. Windows that do not run out (or
    are already full) have none."""
    old = {k.window_id: k for k in kept}
    shown = []
    for o in items:
        fc = o.forecast
        if fc is None or fc.runs_out_at is None or o.percent >= 100:
            continue
        projected = fc.runs_out_at
        step = runout_step(projected - now)
        k = old.get(o.window_id)
        if k is not None and step > k.step and runout_step((projected - now) / STEP_COARSEN_MARGIN) <= k.step:
            step = k.step  # only just past the band's edge: keep the finer step
        if k is not None and step >= k.step and abs(projected - k.projected) < k.step:
            shown.append(k)
        else:
            shown.append(ShownRunOut(o.window_id, projected, rounded_runout(projected, step), step))
    return tuple(shown)


def _runout_clock(o: Outlook, now: datetime, shown: tuple[ShownRunOut, ...]) -> str:
    """The clock a person reads for `o`'s run-out: the kept one, else the projection rounded now."""
    fc = o.forecast
    assert fc is not None and fc.runs_out_at is not None
    at = next((k.shown for k in shown if k.window_id == o.window_id), None)
    if at is None:
        at = rounded_runout(fc.runs_out_at, runout_step(fc.runs_out_at - now))
    return format_clock(at, now)


def binding_id(items: tuple[Outlook, ...]) -> str | None:
    return binding([WindowNow(o.window_id, o.percent, o.forecast) for o in items])


def pace_text(pace: float) -> str:
    return f"pace {pace:.1f}x"


def outlook_text(o: Outlook, now: datetime, shown: tuple[ShownRunOut, ...] = ()) -> str:
    """ "pace 1.3x · runs out 15:40", "on track", or "" (no forecast, or already full: the row's
    100 % and the top line say it). The clock is `shown`'s for the window, else rounded now."""
    fc = o.forecast
    if fc is None or o.percent >= 100:
        return ""
    if fc.runs_out_at is not None:
        return f"{pace_text(fc.pace)} · runs out {_runout_clock(o, now, shown)}"
    return "on track"


def _short(o: Outlook) -> str:
    return {"five_hour": "Session", "seven_day": "Weekly limit"}.get(o.window_id, o.label)


def binding_line(items: tuple[Outlook, ...], now: datetime, shown: tuple[ShownRunOut, ...] = ()) -> str | None:
    """The menu's top line: "Session runs out first: 15:40, resets at 16:40"; "On track: no limit
    runs out before its reset" when none will; None without any forecast."""
    if not any(o.forecast is not None for o in items):
        return None
    chosen = next((o for o in items if o.window_id == binding_id(items)), None)
    if chosen is None or chosen.forecast is None or chosen.forecast.runs_out_at is None:
        return "On track: no limit runs out before its reset"
    fc = chosen.forecast
    resets = reset_text(fc.resets_at, now, form="clock")
    if chosen.percent >= 100:
        name = _short(chosen)  # "Weekly limit" is one already: not "Weekly limit limit reached"
        return f"{name if name.endswith(' limit') else name + ' limit'} reached, {resets}"
    return f"{_short(chosen)} runs out first: {_runout_clock(chosen, now, shown)}, {resets}"


def tooltip_clause(items: tuple[Outlook, ...], window_id: str | None, now: datetime,
                   shown: tuple[ShownRunOut, ...] = ()) -> str | None:
    """For the tooltip: "session limit 78% · out at 15:40, resets at 16:40" when that window (the binding
    limit, or the one the user pinned to the icon) runs out before its reset; else None (the
    tooltip keeps its plain form)."""
    chosen = next((o for o in items if o.window_id == (window_id or binding_id(items))), None)
    if chosen is None or chosen.forecast is None or chosen.forecast.runs_out_at is None or chosen.percent >= 100:
        return None
    fc = chosen.forecast
    name = {"five_hour": "session", "seven_day": "weekly"}.get(chosen.window_id, chosen.label)
    return (f"{name} limit {format_percent(chosen.percent)} · out at {_runout_clock(chosen, now, shown)}, "
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
