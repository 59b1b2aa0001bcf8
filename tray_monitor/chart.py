"""`claude-tray history --chart FILE.png`: each window's percent over the last days, drawn with
Pillow (pure: records in, an image out).

What it shows: one stepped line per window (the history stores a reading when something changed,
so a value holds until the next one; at a reset it drops to 0), a small triangle on the top edge
at each reset in the window's colour, the notification thresholds as dashed lines, and the periods
when any window was at 100 % shaded. Legible at 1200x600; `scale=2` draws the same at 2400x1200.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, tzinfo

from PIL import Image, ImageDraw, ImageFont

from tray_monitor.history import WindowRecord
from tray_monitor.history_report import label_for

WIDTH, HEIGHT = 1200, 600
BACKGROUND = (255, 255, 255)
AXIS = (60, 60, 60)
GRID = (228, 228, 228)
TEXT = (30, 30, 30)
THRESHOLD = (150, 150, 150)
LIMIT = (200, 40, 40)  # the 100 % line
FULL_SHADE = (253, 224, 224)  # periods at 100 %
#: Series colours: distinguishable with the common colour-vision deficiencies (Okabe-Ito).
SERIES = ((0, 114, 178), (230, 159, 0), (0, 158, 115), (204, 121, 167), (86, 180, 233), (213, 94, 0))

_LEFT, _RIGHT, _TOP, _BOTTOM = 64, 56, 64, 48


def series_colour(index: int) -> tuple[int, int, int]:
    return SERIES[index % len(SERIES)]


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow built without FreeType: the small bitmap font
        return ImageFont.load_default()


def _steps(records: Sequence[WindowRecord], start: datetime, end: datetime) -> list[tuple[datetime, float]]:
    """(time, percent) corners of the stepped line between start and end."""
    points: list[tuple[datetime, float]] = []
    for i, r in enumerate(records):
        until = records[i + 1].at if i + 1 < len(records) else end
        value = r.percent if r.resets_at is not None else 0.0
        segment = [(r.at, value)]
        if r.resets_at is not None and r.resets_at < until:
            segment += [(r.resets_at, value), (r.resets_at, 0.0)]
        segment.append((until, segment[-1][1]))
        points.extend(segment)
    clipped = []
    for t, v in points:
        if t < start:
            clipped = [(start, v)]
        elif t <= end:
            clipped.append((t, v))
    return clipped


def _full_periods(steps: list[tuple[datetime, float]]) -> list[tuple[datetime, datetime]]:
    periods = []
    since = None
    for t, v in steps:
        if v >= 100 and since is None:
            since = t
        elif v < 100 and since is not None:
            periods.append((since, t))
            since = None
    if since is not None and steps:
        periods.append((since, steps[-1][0]))
    return periods


def render_chart(records: Sequence[WindowRecord], now: datetime, tz: tzinfo, days: int = 7,
                 thresholds: Sequence[int] = (75, 90, 100), scale: int = 1) -> Image.Image:
    s = scale
    image = Image.new("RGB", (WIDTH * s, HEIGHT * s), BACKGROUND)
    draw = ImageDraw.Draw(image)
    small, title_font = _font(13 * s), _font(17 * s)
    start = now - timedelta(days=days)
    left, right, top, bottom = _LEFT * s, (WIDTH - _RIGHT) * s, _TOP * s, (HEIGHT - _BOTTOM) * s

    by_window: dict[str, list[WindowRecord]] = {}
    for r in sorted(records, key=lambda r: r.at):
        by_window.setdefault(r.window_id, []).append(r)
    order = sorted(by_window, key=lambda w: ({"five_hour": 0, "seven_day": 1}.get(w, 2), w))
    steps = {w: _steps(by_window[w], start, now) for w in order}
    peak = max((v for pts in steps.values() for _, v in pts), default=0.0)
    y_max = 110.0 if peak <= 110 else min(150.0, float(int(peak / 10) + 1) * 10)

    def x(t: datetime) -> float:
        return left + (t - start) / (now - start) * (right - left)

    def y(p: float) -> float:
        return bottom - min(max(p, 0.0), y_max) / y_max * (bottom - top)

    # periods at 100 % (behind everything)
    for pts in steps.values():
        for a, b in _full_periods(pts):
            draw.rectangle([x(a), top, max(x(b), x(a) + s), bottom], fill=FULL_SHADE)

    # grid and axes: a line per day at local midnight, per 25 %
    day = start.astimezone(tz).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    label_every = 1 if days <= 14 else (days + 13) // 14
    n = 0
    while day < now:
        draw.line([x(day), top, x(day), bottom], fill=GRID, width=s)
        if n % label_every == 0:
            text = f"{day:%a %d}" if days <= 14 else f"{day:%d %b}"
            draw.text((x(day) + 4 * s, bottom + 8 * s), text, fill=TEXT, font=small)
        day = (day + timedelta(days=1, hours=2)).replace(hour=0)  # safe across DST changes
        n += 1
    for p in range(0, int(y_max) + 1, 25):
        draw.line([left, y(p), right, y(p)], fill=GRID, width=s)
        draw.text((left - 8 * s, y(p)), f"{p}%", fill=TEXT, font=small, anchor="rm")
    for t in sorted(set(thresholds)):
        colour = LIMIT if t >= 100 else THRESHOLD
        for x0 in range(int(left), int(right), 12 * s):  # dashed
            draw.line([x0, y(t), min(x0 + 7 * s, right), y(t)], fill=colour, width=s)
        draw.text((right + 6 * s, y(t)), f"{t}%", fill=colour, font=small, anchor="lm")
    draw.line([left, top, left, bottom], fill=AXIS, width=s)
    draw.line([left, bottom, right, bottom], fill=AXIS, width=s)

    # the series and their resets
    for i, window_id in enumerate(order):
        colour = series_colour(i)
        pts = steps[window_id]
        if len(pts) >= 2:
            draw.line([(x(t), y(v)) for t, v in pts], fill=colour, width=2 * s, joint="curve")
        resets = sorted({r.resets_at for r in by_window[window_id] if r.resets_at is not None})
        last = None
        for reset in resets:
            if start <= reset <= now and (last is None or reset - last > timedelta(minutes=5)):
                cx = x(reset)
                draw.polygon([(cx - 5 * s, top - 9 * s), (cx + 5 * s, top - 9 * s), (cx, top - 1 * s)], fill=colour)
                last = reset

    # title and legend
    draw.text((left, 12 * s), f"Claude usage, last {days} day{'s' if days != 1 else ''}", fill=TEXT,
              font=title_font)
    lx = left + 300 * s
    for i, window_id in enumerate(order):
        colour = series_colour(i)
        draw.line([lx, 22 * s, lx + 22 * s, 22 * s], fill=colour, width=3 * s)
        label = label_for(window_id)
        draw.text((lx + 28 * s, 22 * s), label, fill=TEXT, font=small, anchor="lm")
        lx += 28 * s + int(draw.textlength(label, font=small)) + 24 * s
    draw.rectangle([lx, 15 * s, lx + 18 * s, 29 * s], fill=FULL_SHADE)
    draw.text((lx + 24 * s, 22 * s), "at 100 %", fill=TEXT, font=small, anchor="lm")
    lx += 24 * s + int(draw.textlength("at 100 %", font=small)) + 24 * s
    draw.polygon([(lx, 17 * s), (lx + 10 * s, 17 * s), (lx + 5 * s, 26 * s)], fill=AXIS)
    draw.text((lx + 16 * s, 22 * s), "reset", fill=TEXT, font=small, anchor="lm")
    if not order:
        draw.text(((left + right) / 2, (top + bottom) / 2), "No usage history yet", fill=THRESHOLD,
                  font=title_font, anchor="mm")
    return image
