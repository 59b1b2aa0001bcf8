"""Text building blocks shared by every front end (pure: no I/O, no clock of its own).

Clock times are shown in the local time zone (the process's TZ); callers pass `now` explicitly.
Weekday and month names are fixed English abbreviations rather than `%a`, so output does not
depend on the C locale and tests are deterministic.

`claude-tray statusline` imports this module on every Claude Code turn and uses only the number and
countdown helpers, so what only the server-text and column helpers need is loaded on their first
call: the escape-sequence pattern is compiled then, and `unicodedata` imported (about 0.5 ms less
per statusline start).
"""
from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

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
    """Local "14:00" when `dt` is today, "Tue 14:00" within six days, else "3 Nov 14:00"; a moment
    that the local zone cannot express (year 1 west of UTC, year 9999 east of it) is shown in UTC."""
    try:
        local = dt.astimezone()
        today = now.astimezone().date()
    except (OverflowError, ValueError, OSError):
        local, today = dt.astimezone(timezone.utc), now.astimezone(timezone.utc).date()
        return f"{local.day} {_MONTHS[local.month - 1]} {local.year} {local.hour:02d}:{local.minute:02d} UTC"
    hhmm = f"{local.hour:02d}:{local.minute:02d}"
    if local.date() == today:
        return hhmm
    if abs((local.date() - today).days) <= 6:
        return f"{_WEEKDAYS[local.weekday()]} {hhmm}"
    return f"{local.day} {_MONTHS[local.month - 1]} {hhmm}"


def percent_number(p: float) -> int:
    """The whole percent every front end shows for `p`: rounded DOWN, so a number never reads as a
    limit or a threshold it has not reached (99.6 % is 99, 89.9 % is 89, never 100 or 90). The
    1e-9 absorbs float noise from the server's own arithmetic (28.999999999999996 is 29)."""
    return math.floor(p + 1e-9)


def format_percent(p: float | None) -> str:
    """"78%", "104%" (overage is shown as sent, never clamped), "99%" for 99.6 (`percent_number`);
    "?%" when unknown."""
    if p is None or not math.isfinite(p):
        return "?%"
    return f"{percent_number(p)}%"


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


def format_money(amount: float | None, currency: str | None, places: int = 2) -> str:
    """"$12.34", "¥1,250", "12.345 KWD", "12.34" when the server named no currency: `places` is the
    currency's own number of digits (parse.py decides it from decimal_places or the currency)."""
    if amount is None or not math.isfinite(amount):
        return "?"
    places = min(max(int(places), 0), 8)
    number = f"{amount:,.{places}f}"
    if number.startswith("-") and not number.strip("-0.,"):
        number = number[1:]  # "-0.00" after rounding is zero
    code = (currency or "").upper()
    if code in _CURRENCY_SYMBOLS:
        symbol = _CURRENCY_SYMBOLS[code]
        return f"-{symbol}{number[1:]}" if number.startswith("-") else f"{symbol}{number}"
    if code:
        return f"{number} {code}"
    return number


# ----------------------------------------------------------------------------- server text


# An ANSI/VT escape sequence as a whole (CSI "ESC [ ... final", OSC "ESC ] ... BEL|ESC \\", and
# two-byte escapes), also in its 8-bit C1 form, so no remnant such as "[2J" is left behind.
# Compiled on first use (by `re`'s own cache), not at import.
_ESCAPE_SEQUENCE = (
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"
    r"|(?:\x1b[\]PX^_]|[\x90\x9d\x98\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\\\|\x9c)?"
    r"|\x1b[ -/]*[0-~]?"
)
#: Unicode categories that are never printed as themselves: controls (C0, C1, DEL), format
#: characters (bidi overrides and isolates, zero-width joiners, BOM), surrogates, unassigned code
#: points (no width is known for them), line and paragraph separators.
_UNPRINTABLE = frozenset({"Cc", "Cf", "Cs", "Cn", "Zl", "Zp"})
_WHITESPACE_CONTROLS = frozenset("\t\n\r\v\f\x85")
#: Longest text kept from the server for one name or notice: enough for any real one, and a
#: 10 MB "display_name" is not carried through every view.
MAX_SERVER_TEXT = 300


def _without_escapes(text: str) -> str:
    """`text` with every escape sequence removed whole. Each one starts with ESC or a C1 control,
    neither printable, so printable text (nearly all of it) skips the regular expression."""
    if text.isprintable():
        return text
    import re

    return re.sub(_ESCAPE_SEQUENCE, "", text)


def strip_unprintable(text: str) -> str:
    """`text` without escape sequences and unprintable characters (see `clean_text`), spaces kept
    as they are: the last pass over a laid-out terminal line."""
    text = _without_escapes(text)
    if text.isprintable():
        return text
    import unicodedata

    return "".join(ch for ch in text
                   if ch == " " or (ch not in _WHITESPACE_CONTROLS and unicodedata.category(ch) not in _UNPRINTABLE))


def clean_text(text: str, limit: int = MAX_SERVER_TEXT) -> str:
    """Server text made safe for a terminal, a menu, a tooltip and a notification: escape sequences
    removed whole, every control, bidi-override/isolate and other format character removed
    (line breaks and tabs become spaces), runs of spaces collapsed, cut to `limit` characters."""
    import unicodedata

    text = _without_escapes(text)
    out = []
    for ch in text:
        if ch in _WHITESPACE_CONTROLS:
            out.append(" ")
        elif unicodedata.category(ch) not in _UNPRINTABLE:
            out.append(ch)
    cleaned = " ".join("".join(out).split())
    if len(cleaned) > limit:
        cleaned = cleaned[: limit - 1] + "…"
    return cleaned


def char_width(ch: str) -> int:
    """Terminal columns of one character, as wcwidth counts them: East Asian wide and fullwidth = 2,
    combining marks and other zero-width characters = 0, controls = 0 (they are never printed:
    `clean_text` removes them), everything else 1 (ambiguous-width characters too, as in a
    non-CJK locale)."""
    if ch < "\u0300":  # fast path: ASCII and Latin-1, minus the C0/C1 controls
        return 0 if ch < " " or "\x7f" <= ch < "\xa0" else 1
    import unicodedata

    category = unicodedata.category(ch)
    if category in ("Mn", "Me", "Cf", "Cc", "Cs", "Zl", "Zp") or "\u1160" <= ch <= "\u11ff":
        return 0  # combining marks, format characters, Hangul medial vowels and final consonants
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def text_width(text: str) -> int:
    """Terminal columns `text` takes."""
    return sum(char_width(ch) for ch in text)


def fit_width(text: str, width: int, ellipsis: str = "…") -> str:
    """`text` cut to at most `width` columns, the cut marked with `ellipsis`; a combining mark stays
    with its base character, and a wide character that would straddle the edge is left out."""
    if width <= 0:
        return ""
    if text_width(text) <= width:
        return text
    room = width - text_width(ellipsis)
    if room < 0:
        return fit_width(ellipsis, width, "")
    out, used = [], 0
    for ch in text:
        w = char_width(ch)
        if used + w > room:
            break
        out.append(ch)
        used += w
    return "".join(out) + ellipsis


def pad_width(text: str, width: int) -> str:
    """`text` padded with spaces to `width` columns (never cut)."""
    return text + " " * max(0, width - text_width(text))


def wrap_width(text: str, width: int) -> list[str]:
    """Greedy word wrap by terminal columns; a word wider than the line is broken by columns."""
    if width <= 0:
        return []
    lines: list[str] = []
    line = ""
    for word in text.split():
        while text_width(word) > width:
            if line:
                lines.append(line)
                line = ""
            head: list[str] = []
            used = 0
            for ch in word:
                w = char_width(ch)
                if used + w > width and head:
                    break
                head.append(ch)
                used += w
            lines.append("".join(head))
            word = word[len(head):]
        if not word:
            continue
        candidate = f"{line} {word}" if line else word
        if text_width(candidate) <= width:
            line = candidate
        else:
            lines.append(line)
            line = word
    if line or not lines:
        lines.append(line)
    return lines
