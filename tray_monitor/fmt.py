"""Text building blocks shared by every front end (pure: no I/O, no clock of its own).

Clock times are shown in the local time zone (the process's TZ); callers pass `now` explicitly.
Weekday and month names are fixed English abbreviations rather than `%a`, so output does not
depend on the C locale and tests are deterministic.
"""
from __future__ import annotations

import math
from datetime import datetime, timedelta

_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

# Currencies with a symbol that is placed before the amount; others get their ISO code after it.
_CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "INR": "₹"}

BAR_FULL = "█"
BAR_EMPTY = "░"


def format_countdown(delta: timedelta, seconds: bool = False) -> str:
    """"2h 11m", "45m", "3d 4h"; with seconds "2h 11m 05s", "3d 4h 11m 05s", "45s"; "now" when due.

    Rounds up (to the minute, or to the second), so a countdown never reads "0m" while time is
    left and reaches "now" only when the moment has come. The server's resets_at carries
    microsecond noise (18:00:00.000412); it is dropped first, so 18:00 seen from 15:49 is "2h 11m".
    """
    total = round(delta.total_seconds(), 3)
    if not math.isfinite(total) or total <= 0:
        return "now"
    if seconds:
        left = math.ceil(total)
        days, rest = divmod(left, 86400)
        hours, rest = divmod(rest, 3600)
        minutes, secs = divmod(rest, 60)
        if days:
            return f"{days}d {hours}h {minutes:02d}m {secs:02d}s"
        if hours:
            return f"{hours}h {minutes:02d}m {secs:02d}s"
        if minutes:
            return f"{minutes}m {secs:02d}s"
        return f"{secs}s"
    left_minutes = math.ceil(total / 60)
    days, rest = divmod(left_minutes, 1440)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m"


def format_clock(dt: datetime, now: datetime) -> str:
    """Local "14:00" when `dt` is today, "Tue 14:00" within six days, else "3 Nov 14:00"."""
    local = dt.astimezone()
    today = now.astimezone().date()
    hhmm = f"{local.hour:02d}:{local.minute:02d}"
    if local.date() == today:
        return hhmm
    if abs((local.date() - today).days) <= 6:
        return f"{_WEEKDAYS[local.weekday()]} {hhmm}"
    return f"{local.day} {_MONTHS[local.month - 1]} {hhmm}"


def format_percent(p: float | None) -> str:
    """"78%", "104%" (overage is shown as sent, never clamped); "?%" when unknown."""
    if p is None or not math.isfinite(p):
        return "?%"
    # Round half up: Python's round() would turn 0.5 into "0%".
    return f"{math.floor(p + 0.5)}%"


def text_bar(p: float | None, width: int, full: str = BAR_FULL, empty: str = BAR_EMPTY) -> str:
    """A bar of exactly `width` characters. Only the drawing is clamped to 0..100 (overage exists).

    A full bar means "at the limit": below 100 % the last cell stays empty even when rounding
    would fill it.
    """
    width = max(0, width)
    if p is None or not math.isfinite(p):
        return empty * width
    fraction = min(max(p, 0.0), 100.0) / 100.0
    filled = math.floor(fraction * width + 0.5)
    if p < 100 and filled == width and width > 0:
        filled = width - 1
    return full * filled + empty * (width - filled)


def format_money(amount: float | None, currency: str | None) -> str:
    """"$12.34", "€40.00", "12.34 CHF", "12.34" when the server named no currency."""
    if amount is None or not math.isfinite(amount):
        return "?"
    number = f"{amount:,.2f}"
    code = (currency or "").upper()
    if code in _CURRENCY_SYMBOLS:
        return f"{_CURRENCY_SYMBOLS[code]}{number}"
    if code:
        return f"{number} {code}"
    return number
