"""Status bar formats: waybar, i3blocks, polybar (pure: a View in, text out).

`claude-tray status --format waybar|i3blocks|polybar` prints one of these once (panels that run a
command every N seconds); `claude-tray watch --format waybar` prints one waybar line per change
(waybar's continuous mode). While a tray runs both read its shared reading and cost no request.

The short text names the session and weekly windows ("5h 24% · 7d 41%") and adds a per-model
window once it is near its cap ("Fable 92%"), as the statusline does. The class/colour follows
the binding window's severity while the reading is fresh, "stale" when it is old or the endpoint
is rate limiting, "error" when there is nothing to show (signed out, no reading yet, a failure).
"""
from __future__ import annotations

import json
import math

from tray_monitor.model import IconSpec
from tray_monitor.view import WARNING_PERCENT, View, WindowRow
from tray_monitor.window_names import scoped_name

FORMATS = ("waybar", "i3blocks", "polybar")

#: One colour per class, for i3blocks and polybar (waybar styles classes in its own CSS).
COLOURS = {"ok": None, "warning": "#E5C07B", "critical": "#E06C75", "stale": "#888888", "error": "#E06C75"}


def panel_class(v: View) -> str:
    """ok | warning | critical | stale | error."""
    if v.status == "ok":
        severity = v.icon.severity
        return "ok" if severity == "normal" else severity
    if v.status in ("stale", "rate_limited") and v.windows:
        return "stale"
    return "error"


def _short(row: WindowRow) -> str:
    if row.id == "five_hour":
        return f"5h {row.percent_text}"
    if row.id == "seven_day":
        return f"7d {row.percent_text}"
    name = scoped_name(row.label)
    return f"{name} {row.percent_text}"


def short_text(v: View) -> str:
    """ "5h 24% · 7d 41%", plus the fullest other window at 75 % or more; the message's first words
    when there are no windows."""
    main = [r for r in v.windows if r.id in ("five_hour", "seven_day")]
    others = [r for r in v.windows if r.id not in ("five_hour", "seven_day") and r.percent >= WARNING_PERCENT]
    parts = [_short(r) for r in main]
    if others:
        parts.append(_short(max(others, key=lambda r: r.percent)))
    if not parts and v.windows:  # neither session nor weekly: the binding one
        parts.append(_short(max(v.windows, key=lambda r: r.percent)))
    if not parts:
        return "Claude: " + ("loading" if v.status == "loading" else v.status.replace("_", " "))
    text = " · ".join(parts)
    return text + " (stale)" if v.status in ("stale", "rate_limited") else text


def tooltip_text(v: View, origin: str | None = None) -> str:
    lines = [row.menu_text for row in v.windows]
    if v.extra_usage_text:
        lines.append(v.extra_usage_text)
    updated = v.updated_text + (f" ({origin})" if origin else "")
    lines.append(updated)
    if v.message:
        lines.append(v.message)
    return "\n".join(lines)


def _percentage(icon: IconSpec) -> int:
    if icon.percent is None or not math.isfinite(icon.percent):
        return 0
    return int(min(max(icon.percent, 0.0), 100.0) + 0.5)


def waybar(v: View, origin: str | None = None) -> str:
    """One JSON object on one line: text, tooltip, class, percentage (0..100, for format-icons), alt."""
    cls = panel_class(v)
    return json.dumps({
        "text": short_text(v),
        "tooltip": tooltip_text(v, origin),
        "class": cls,
        "percentage": _percentage(v.icon),
        "alt": cls,
    }, ensure_ascii=False)


def i3blocks(v: View, origin: str | None = None) -> str:
    """full_text, short_text and colour lines (i3blocks' legacy text protocol)."""
    colour = COLOURS[panel_class(v)]
    lines = [short_text(v), short_text(v).replace(" · ", " ")]
    if colour:
        lines.append(colour)
    return "\n".join(lines)


def polybar(v: View, origin: str | None = None) -> str:
    """One line; the colour as polybar's %{F#rrggbb}...%{F-} format tag."""
    colour = COLOURS[panel_class(v)]
    text = short_text(v).replace("%{", "% {")  # never a format tag by accident
    return f"%{{F{colour}}}{text}%{{F-}}" if colour else text


def render(fmt: str, v: View, origin: str | None = None) -> str:
    return {"waybar": waybar, "i3blocks": i3blocks, "polybar": polybar}[fmt](v, origin)

