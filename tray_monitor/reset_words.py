"""How every front end words a window's reset (pure: no I/O, no clock of its own).

One vocabulary: "resets in" a countdown, "at" a clock time, and where both are shown the countdown
first, the clock after it in parentheses. The menu, `status`, `watch`, the panels (through the
view), the tooltip, the popups and the forecast's lines all word a reset through `reset_text`;
It sits below `view` and `forecast_view`, so both use it without an import cycle.
"""
from __future__ import annotations

from datetime import datetime
from typing import Literal

from tray_monitor.fmt import format_clock, format_countdown

#: How a reset is worded where it appears: "row" in the menu, `status` and `watch`; "sentence" in a
#: popup's body; "clock" next to another clock time (the forecast's "runs out first: 15:40, resets
#: at 16:40", the run-out popup) and in the tooltip (a clock time changes with a reading, a
#: countdown every minute: each change has the tray host read the tooltip again); "short" in the
#: tooltip once the reset has passed ("resets now").
ResetForm = Literal["row", "short", "sentence", "clock"]

RESET_UNKNOWN_TEXT = "reset time unknown"


def reset_text(resets_at: datetime | None, now: datetime, seconds: bool = False,
               form: ResetForm = "row", unknown: bool = False) -> str:
    """row: "resets in 2h 11m (14:00)" ("2h 11m 05s" with seconds, for `watch`), "resets now
    (14:00)"; short: "resets in 2h 11m", "resets now"; sentence: "Resets in 2h 11m (14:00).",
    "Resets now (14:00)."; clock: "resets at 14:00". "not started" ("Not started yet.") while the
    server sends resets_at null (the window begins with the first message); "reset time unknown"
    ("Reset time unknown.") when the server sent one that could not be read.
    """
    if resets_at is None:
        if unknown:
            return "Reset time unknown." if form == "sentence" else RESET_UNKNOWN_TEXT
        return "Not started yet." if form == "sentence" else "not started"
    if form == "clock":
        return f"resets at {format_clock(resets_at, now)}"
    countdown = format_countdown(resets_at - now, seconds=seconds)
    # "now": the window has reset; the next poll (scheduled just after resets_at) brings new numbers.
    text = "resets now" if countdown == "now" else f"resets in {countdown}"
    if form == "short":
        return text
    text = f"{text} ({format_clock(resets_at, now)})"
    return f"R{text[1:]}." if form == "sentence" else text
