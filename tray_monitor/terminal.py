"""The terminal front end: `status`, `status --json` and the live `watch` screen.

It receives its adapters (source, monitor, poller, environment) from `app.py` and constructs none.
All texts come from `view.py`; this module only lays them out to fit the console. Widths are
terminal columns (fmt.text_width: East Asian wide = 2, combining = 0), never code points, and every
line passes `fmt.strip_unprintable` on its way out: server text was cleaned when it was parsed,
this is the second lock on the same door.
"""
from __future__ import annotations

import json
import logging
import os
import queue
import re
import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Any

from tray_monitor.errors import MonitorError
from tray_monitor.fmt import (
    fit_width,
    format_clock,
    format_countdown,
    pad_width,
    strip_unprintable,
    text_bar,
    text_width,
    wrap_width,
)
from tray_monitor.forecast import HistoryDigest
from tray_monitor.forecast_view import binding_id, binding_line, forecast_json, outlooks
from tray_monitor.login_command import DEFAULT_COMMAND
from tray_monitor.model import Reading
from tray_monitor.reset_words import reset_text
from tray_monitor.view import (
    View,
    WindowRow,
    extra_usage_text,
    plan_text,
    problem_message,
    severity_of,
    skipped_text,
    window_rows,
)

log = logging.getLogger("tray_monitor.terminal")

# ANSI/VT100 sequences for redrawing in place.
HIDE_CURSOR = "\x1b[?25l"
SHOW_CURSOR = "\x1b[?25h"
HOME = "\x1b[H"
CLEAR_SCREEN = "\x1b[2J"
CLEAR_LINE_END = "\x1b[K"
CLEAR_SCREEN_END = "\x1b[J"

#: Widest the text gets, even on a wide console (long bars are not easier to read).
STATUS_MAX_WIDTH = 50
WATCH_MAX_WIDTH = 56

EXIT_INTERRUPTED = 130

#: Without a wakeup socket (CtrlC.pause), how soon the live `watch` notices Ctrl+C or a stop.
CTRL_C_NOTICED_WITHIN = 0.25
#: How often `watch` into a pipe or for a panel (one line per change, all day in a bar) looks for
#: Ctrl+C or a stop between views: as before CtrlC, no more wake-ups than that.
FOLLOW_WAKE_EVERY = 0.5

#: `watch` into a pipe waits this long for the rest of one poll's views before printing a block.
COALESCE_SECONDS = 0.2  # the shell convention for "ended by SIGINT"


@dataclass(frozen=True)
class Charset:
    full: str
    empty: str
    horizontal: str
    vertical: str
    top_left: str
    top_right: str
    bottom_left: str
    bottom_right: str
    tee_left: str
    tee_right: str
    unicode: bool
    colour: bool = False  # ANSI colours by severity (use_colour decides: --color, NO_COLOR, a terminal)


UNICODE = Charset("█", "░", "─", "│", "┌", "┐", "└", "┘", "├", "┤", True)
ASCII = Charset("#", "-", "-", "|", "+", "+", "+", "+", "+", "+", False)

# Texts from view.py use a few typographic characters; a console that cannot encode them
# (a cp437 Windows console, LANG=C on an old system) gets these instead of a UnicodeEncodeError.
_ASCII_TEXT = str.maketrans({"—": "-", "·": "-", "…": ".", "€": "EUR ", "£": "GBP ", "¥": "JPY ", "₹": "INR "})


#: Severity as text, so it reads without colour (a pipe, NO_COLOR, a colour-blind reader): after
#: the percent, "78% !" from 75 %, "93% !!" from 90 % (view.severity_of).
SEVERITY_MARKS = {"normal": "", "warning": " !", "critical": " !!"}
#: And as colour on a colour terminal: amber-ish yellow, bold red (the icon's colours).
SEVERITY_SGR = {"warning": "\x1b[33m", "critical": "\x1b[1;31m"}
RESET_SGR = "\x1b[0m"
COLOR_CHOICES = ("auto", "always", "never")


def use_colour(mode: str, stream, environ) -> bool:
    """--color: "always", "never", or "auto" = a terminal, unless NO_COLOR is set (no-color.org:
    any non-empty value) or TERM is "dumb"."""
    if mode == "always":
        return True
    if mode == "never":
        return False
    return _is_terminal(stream) and not environ.get("NO_COLOR") and environ.get("TERM") != "dumb"


def paint(lines: list[str], first: int, styles: list[str | None], margin: int = 0) -> list[str]:
    """Colour lines[first + i] by styles[i] (a severity), inside `margin` columns of box border on
    each side. Done last, after every width was counted: escape codes take no columns."""
    out = list(lines)
    for offset, style in enumerate(styles):
        index = first + offset
        sgr = SEVERITY_SGR.get(style or "")
        if sgr is None or index >= len(out) or len(out[index]) <= 2 * margin:
            continue
        line = out[index]
        end = len(line) - margin
        out[index] = line[:margin] + sgr + line[margin:end] + RESET_SGR + line[end:]
    return out


def charset_for(stream) -> Charset:
    encoding = getattr(stream, "encoding", None) or "ascii"
    try:
        "█░─│┌┐└┘├┤—·…€".encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return ASCII
    return UNICODE


def printable(text: str, charset: Charset) -> str:
    text = strip_unprintable(text)
    if charset.unicode:
        return text
    return text.translate(_ASCII_TEXT).encode("ascii", "replace").decode("ascii")


def fit(text: str, width: int) -> str:
    """Cut `text` to `width` terminal columns, marking the cut with an ellipsis."""
    return fit_width(text, width)


def console_size(env) -> tuple[int, int]:
    """Columns and rows of the console (COLUMNS/LINES win, as shutil does), 80x24 when unknown."""
    size = shutil.get_terminal_size((80, 24))
    try:
        columns = int(env.environ.get("COLUMNS", "")) if env.environ.get("COLUMNS") else None
    except ValueError:
        columns = None
    if columns is None and hasattr(env.stdout, "fileno"):
        try:
            columns = os.get_terminal_size(env.stdout.fileno()).columns or None
        except (OSError, ValueError):
            # Not a console (a pipe, a captured stream): keep shutil's answer.
            columns = None
    return (columns or size.columns), size.lines


# ----------------------------------------------------------------------------- layout


def window_lines(
    rows: Iterable[WindowRow], width: int, now: datetime, seconds: bool, charset: Charset, compact: bool = False,
    styles: list[str | None] | None = None,
) -> list[str]:
    """Per window: label and percent with its severity mark, a bar, the reset countdown, then a
    blank line. `compact` (a console too short for that) leaves out the bar and the blank line.
    `seconds` ticks only countdowns under a day. `styles`, when given, receives each line's
    severity (label and bar lines) or None, for `paint`."""
    lines: list[str] = []
    marks: list[str | None] = []
    for index, row in enumerate(rows):
        if index and not compact:
            lines.append("")
            marks.append(None)
        percent = row.percent_text + SEVERITY_MARKS.get(row.severity, "")
        marks += [row.severity] if compact else [row.severity, row.severity]
        marks.append(None)
        label = fit(printable(row.label, charset), max(1, width - len(percent) - 1))
        gap = " " * max(1, width - text_width(label) - len(percent))
        lines.append(fit(f"{label}{gap}{percent}", width))
        if not compact:
            lines.append(text_bar(row.percent, width, full=charset.full, empty=charset.empty))
        resets = reset_text(row.resets_at, now, seconds=seconds and _within_a_day(row.resets_at, now),
                            unknown=row.reset_unknown)
        if row.locked_reason:
            resets += " · locked"
        lines.append(fit(resets, width))
        if row.forecast_text:
            lines.append(fit(row.forecast_text, width))
            marks.append(None)
    if styles is not None:
        styles[:] = marks
    return [printable(line, charset) for line in lines]


def _within_a_day(resets_at: datetime | None, now: datetime) -> bool:
    """A weekly countdown need not tick every second ("3d 4h" is enough); the session's does."""
    return resets_at is not None and resets_at - now < timedelta(days=1)


#: A login's command (login_command.py): kept whole on one line when it fits, since broken at its
#: space "CLAUDE_CONFIG_DIR=~/.claude-work" and "claude" read as two things and copy badly.
_LOGIN_COMMAND = re.compile(r"((?:\$env:)?CLAUDE_CONFIG_DIR=\S+) (claude)\b")
_GLUE = "\ue000"  # one column, not a space: wrap_width does not break there


def wrap_text(text: str, width: int) -> list[str]:
    """Wrap at the text's own joints first ("Updated 14:02 · next 14:04" and
    "Rate limited ... — retrying at 14:20", whose mark the break replaces), then at spaces, by terminal columns;
    a login's command (`CLAUDE_CONFIG_DIR=~/.claude-work claude`) stays on one line when it fits."""
    if text_width(text) <= width:
        return [text]
    parts: list[str] = []
    for piece in text.split(" · "):
        # The line break replaces the dash: "— retrying at 14:20" on a line of its own read as a
        # new item rather than the end of the sentence above it.
        parts.extend(piece.split(" — "))
    lines: list[str] = []
    for part in parts:
        glued = _LOGIN_COMMAND.sub(
            lambda m: m.group(1) + _GLUE + m.group(2) if text_width(m.group(0)) <= width else m.group(0), part)
        lines.extend(line.replace(_GLUE, " ") for line in wrap_width(glued, width) or [""])
    return lines


def footer_lines(texts: Iterable[str | None], width: int, charset: Charset) -> list[str]:
    lines: list[str] = []
    for text in texts:
        if text:
            lines.extend(wrap_text(printable(text, charset), width))
    return lines


def title_text(plan: str | None, status: str) -> str:
    title = "Claude usage"
    if plan:
        title += f" · {plan}"
    if status not in ("ok", "loading"):
        title += " · stale" if status in ("stale", "rate_limited") else f" · {status.replace('_', ' ')}"
    return title


def boxed(title: str, sections: list[list[str]], width: int, charset: Charset) -> list[str]:
    """A box `width` characters wide around the sections (separated by a rule)."""
    c = charset
    if width < 6:  # too narrow for borders: the content alone, cut to fit
        return [fit(line, width) for line in [title, *(line for section in sections for line in section)]]
    inner = width - 4
    head = f"{c.horizontal} {fit(printable(title, c), width - 5)} "
    lines = [c.top_left + head + c.horizontal * (width - 2 - text_width(head)) + c.top_right]
    shown = [s for s in sections if s]
    for index, section in enumerate(shown):
        if index:
            lines.append(c.tee_left + c.horizontal * (width - 2) + c.tee_right)
        for line in section:
            lines.append(f"{c.vertical} {pad_width(fit(line, inner), inner)} {c.vertical}")
    lines.append(c.bottom_left + c.horizontal * (width - 2) + c.bottom_right)
    return lines


def watch_screen(v: View, now: datetime, columns: int, rows_available: int, charset: Charset,
                 note: str | None = None, label: str | None = None) -> list[str]:
    """The live screen for one moment: countdowns with seconds, never wider than `columns` - 1
    (writing the last column makes some consoles wrap) nor taller than `rows_available` - 1.
    `note` says where the numbers come from when it is not this process's own request (then the
    next poll time, which is the tray's business, is left out). `label` names the login in the
    title (`watch --account NAME` of another login than the default)."""
    width = max(1, min(columns - 1, WATCH_MAX_WIDTH))
    height = max(1, rows_available - 1)
    inner = max(1, width - 4)
    updated = v.updated_text
    if v.status == "ok" and v.next_poll_at is not None and note is None:
        updated += f" · next {format_clock(v.next_poll_at, now)}"
    footer = footer_lines((v.forecast_line, *v.notes, v.extra_usage_text, updated, note, v.message), inner, charset)
    title = _titled(title_text(v.plan, v.status), label)
    styles: list[str | None] = []
    windows = window_lines(v.windows, inner, now, True, charset, styles=styles)
    chrome = 4 if windows else 3  # top, rule between sections, bottom, "Ctrl+C to quit"
    if len(windows) + len(footer) + chrome > height:
        windows = window_lines(v.windows, inner, now, True, charset, compact=True, styles=styles)
    room = height - len(footer) - chrome
    if len(windows) > room:
        # Keep the footer (age, retry time, what to do): it matters most when something is wrong.
        windows = windows[: max(0, room - 1)] + ["…" if charset.unicode else "..."]
        styles = styles[: max(0, room - 1)]
    lines = boxed(title, [windows, footer], width, charset)
    lines.append(fit(" Ctrl+C to quit", width))
    screen = [fit(line, width) for line in lines][:height]
    if charset.colour and width >= 6:  # the windows' lines follow the top border, inside the box
        screen = paint(screen, 1, styles, margin=2)
    return screen


# ----------------------------------------------------------------------------- watch, several logins

#: A login's box is never narrower than this when several stand side by side on a wide console
#: (two at 80 columns); below it they stack, one above the other.
BOX_MIN_WIDTH = 38

#: How much each login's box shows, most first: "full" as the one-login screen (label and
#: percent, bar, reset, forecast); "compact" without the bars; "brief" without the forecasts and
#: with one footer line (what to do when something is wrong, else when the numbers are from);
#: "tight" one line per window ("Current session   78% ! 2h 11m 05s") and that footer line;
#: "single" the fullest window alone, or what to do (wrapped: the command in it must stay whole);
#: "line" as "single" with what to do cut to one line, so every login keeps its title.
DETAILS = ("full", "compact", "brief", "tight", "single", "line")
_SEVERITY_ORDER = {"normal": 0, "warning": 1, "critical": 2}


def box_title(header: str, status: str) -> str:
    """"me@work.example · Max 5x · stale": the login (View.sections' header) and its state."""
    return title_text(None, status).replace("Claude usage", header, 1)


def tight_window_lines(rows: Iterable[WindowRow], width: int, now: datetime, charset: Charset,
                       styles: list[str | None] | None = None) -> list[str]:
    """One line a window: "Current session   78% ! 2h 11m 05s" (the countdown with seconds under a day)."""
    lines: list[str] = []
    marks: list[str | None] = []
    for row in rows:
        if row.resets_at is None:
            left = reset_text(None, now, unknown=row.reset_unknown)
        else:
            left = format_countdown(row.resets_at - now, seconds=_within_a_day(row.resets_at, now))
        right = f"{row.percent_text}{SEVERITY_MARKS.get(row.severity, '')} {left}"
        label = fit(printable(row.label, charset), max(1, width - text_width(right) - 1))
        gap = " " * max(1, width - text_width(label) - text_width(right))
        lines.append(printable(fit(f"{label}{gap}{right}", width), charset))
        marks.append(row.severity)
    if styles is not None:
        styles[:] = marks
    return lines


def login_box(header: str, v: View, now: datetime, width: int, charset: Charset, detail: str,
              note: str | None = None) -> list[str]:
    """One login's box, `width` columns wide, at a level of `detail` (DETAILS)."""
    inner = max(1, width - 4)
    updated = v.updated_text
    if v.status == "ok" and v.next_poll_at is not None and note is None:
        updated += f" · next {format_clock(v.next_poll_at, now)}"
    styles: list[str | None] = []
    windows: list[str]
    footer: list[str]
    if detail in ("single", "line"):
        fullest = max(v.windows, key=lambda r: (_SEVERITY_ORDER.get(r.severity, 0), r.percent), default=None)
        if (v.message or fullest is None) and detail == "line":
            windows, footer = [], [printable(fit(v.message or updated, inner), charset)]
        elif v.message or fullest is None:  # what to do is worth its lines
            windows, footer = [], footer_lines((v.message or updated,), inner, charset)
        else:
            windows, footer = tight_window_lines((fullest,), inner, now, charset, styles), []
    elif detail == "tight":
        windows = tight_window_lines(v.windows, inner, now, charset, styles)
        footer = footer_lines((v.message or note or updated,), inner, charset)
    elif detail == "brief":
        rows = tuple(replace(row, forecast_text="") for row in v.windows)
        windows = window_lines(rows, inner, now, True, charset, compact=True, styles=styles)
        footer = footer_lines((v.message or note or updated,), inner, charset)
    else:
        windows = window_lines(v.windows, inner, now, True, charset, compact=detail == "compact", styles=styles)
        footer = footer_lines((v.forecast_line, *v.notes, v.extra_usage_text, updated, note, v.message), inner,
                              charset)
    lines = boxed(box_title(header, v.status), [windows, footer], width, charset)
    if charset.colour and width >= 6:
        lines = paint(lines, 1, styles, margin=2)
    return lines


def logins_screen(sections: tuple[tuple[str, View], ...], now: datetime, columns: int, rows_available: int,
                  charset: Charset, notes: tuple[str | None, ...] = ()) -> list[str]:
    """`watch` with several logins: each login's box (View.sections: its header and own view),
    side by side while each gets BOX_MIN_WIDTH columns, else stacked; never wider than `columns` - 1
    nor taller than `rows_available` - 1. The boxes show as much as fits (DETAILS); when even one
    line a login does not fit, the screen ends with "…" where it is full. `notes[i]` says where
    login i's numbers come from when not from this process (the running tray's)."""
    width_total = max(1, columns - 1)
    height = max(1, rows_available - 1)
    count = len(sections)
    across = max(1, min(count, (width_total + 1) // (BOX_MIN_WIDTH + 1)))
    width = max(1, min(WATCH_MAX_WIDTH, (width_total - (across - 1)) // across))
    room = height - 1  # the "Ctrl+C to quit" line
    note_of = [notes[i] if i < len(notes) else None for i in range(count)]

    boxes: list[list[str]] = []
    for detail in DETAILS:  # the most detailed that fits; the last one whatever happens
        boxes = [login_box(header, v, now, width, charset, detail, note_of[i])
                 for i, (header, v) in enumerate(sections)]
        if _stacked_height(boxes, across) <= room:
            break
    lines: list[str] = []
    for start in range(0, count, across):
        row = boxes[start:start + across]
        for index in range(max(len(box) for box in row)):
            # Every box line is exactly `width` columns (boxed pads it), colour codes aside.
            lines.append(" ".join(box[index] if index < len(box) else " " * width for box in row).rstrip())
    if len(lines) > room:
        lines = lines[: max(0, room - 1)] + ["…" if charset.unicode else "..."]
    lines.append(fit(" Ctrl+C to quit", width_total))
    return lines[:height]


def _stacked_height(boxes: list[list[str]], across: int) -> int:
    return sum(max(len(box) for box in boxes[start:start + across]) for start in range(0, len(boxes), across))


def block_lines(v: View, now: datetime, columns: int, charset: Charset, note: str | None = None,
                label: str | None = None) -> list[str]:
    """One plain block (no box, no cursor movement) for a console that is not a terminal; `label`
    names the login in the title, as `status` does with several."""
    width = max(20, min(columns - 1, STATUS_MAX_WIDTH))
    styles: list[str | None] = []
    windows = window_lines(v.windows, width, now, False, charset, styles=styles)
    footer = footer_lines((v.forecast_line, *v.notes, v.extra_usage_text, v.updated_text, note, v.message), width,
                          charset)
    lines = [printable(fit(_titled(title_text(v.plan, v.status), label), width), charset), *windows]
    if windows:
        lines.append("")
    return paint(lines + footer, 1, styles) if charset.colour else lines + footer


# ----------------------------------------------------------------------------- status


def reading_json(reading: Reading, plan: str | None, now: datetime | None = None,
                 history: HistoryDigest | None = None) -> dict:
    """The `status --json` object (README: "status --json"). Its keys are stable; `skipped_windows`
    counts windows the server sent that could not be read (0 when all were). With `now`, each
    window also carries its `forecast` and the object the `binding` window id (forecast_view)."""
    extra = reading.extra_usage
    ahead = {o.window_id: o for o in outlooks(reading, history or HistoryDigest(), now)} if now else {}
    data = {
        "status": "ok",
        "plan": plan,
        "updated_at": _iso(reading.fetched_at),
        "message": None,
        "skipped_windows": reading.skipped,
        "notices": list(reading.notices),
        "windows": [
            {
                "id": w.id,
                "label": w.label,
                "percent": w.percent,  # raw: may exceed 100 in overage
                "resets_at": _iso(w.resets_at),
                "severity": severity_of(w),
                "active": w.active,
                **({"forecast": forecast_json(ahead[w.id])} if w.id in ahead else {}),
            }
            for w in reading.windows
        ],
        "extra_usage": None
        if extra is None
        else {
            "enabled": extra.enabled,
            "used": extra.used,
            "limit": extra.limit,
            "currency": extra.currency,
            "percent": extra.percent,
            "decimal_places": extra.places,
            "disabled_reason": extra.disabled_reason,
        },
    }
    if now is not None:
        items = tuple(ahead.values())
        data["binding"] = binding_id(items) if any(o.forecast is not None for o in items) else None
    return data


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    try:
        return moment.isoformat()
    except (OverflowError, ValueError):  # never seen; the object is printed whatever happens
        return None


def failure_json(error: MonitorError, message: str) -> dict:
    return {
        "status": error.status,
        "plan": None,
        "updated_at": None,
        "message": message,
        "skipped_windows": 0,
        "notices": [],
        "windows": [],
        "extra_usage": None,
        "from_tray": False,
    }


def print_failure_json(error: MonitorError, env, now: datetime | None = None, account: dict | None = None,
                       claude: str = DEFAULT_COMMAND) -> int:
    """A command that failed before it could read (e.g. a bad API URL): the same stable JSON
    object on stdout and the sentence on stderr; returns the exit code 1. `claude`: the login's
    command in the advice (login_command.py)."""
    message = problem_message(error, None, now or env.clock.now(), polling=False, claude=claude)
    data = failure_json(error, message)
    if account is not None:
        data["account"] = account
    env.stdout.write(json.dumps(data) + "\n")
    env.stdout.flush()
    _say(env, message)
    return 1


def _unexpected_json(env, now: datetime | Callable[[], datetime], account: AccountJson | None) -> int:
    """`status --json` always prints its object: an unexpected exception (logged with its
    traceback, redacted) is reported as an "error" object, exit 1."""
    log.exception("status --json failed unexpectedly")
    try:
        moment = now() if callable(now) else now
    except Exception:
        moment = datetime.now(timezone.utc)
    error = MonitorError("Reading usage failed unexpectedly; see the log.")
    return print_failure_json(error, env, moment, account)


def _say(env, message: str) -> None:
    env.stderr.write(f"claude-tray: {printable(message, charset_for(env.stderr))}\n")
    env.stderr.flush()


def run_status(source, env, as_json: bool, now: datetime | Callable[[], datetime], simulated: bool = False,
               plan: str | None = None, origin: str | None = None, account: AccountJson | None = None,
               history: HistoryDigest | None = None, claude: str = DEFAULT_COMMAND) -> int:
    """One reading, printed; 0 with a reading, 1 without (the reason and the fix on stderr).

    `now` may be a clock function: it is then read after the request, so countdowns start from
    the moment the numbers arrived. `simulated` (--demo) marks the title and the JSON. A source
    that returns no credentials (the running tray's shared reading) names the `plan` itself, and
    `origin` ("from the running tray, 40 s ago") says where the numbers came from. `account`
    (`status --account NAME` of another login than the default) names it in the title and the JSON,
    and `claude` is that login's command in the advice (login_command.py)."""
    from tray_monitor.credentials import plan_label

    out = env.stdout
    try:
        reading, creds = source.read()
    except MonitorError as error:
        now = now() if callable(now) else now
        if as_json:
            return print_failure_json(error, env, now, account, claude)
        _say(env, problem_message(error, None, now, polling=False, claude=claude))
        return 1
    except Exception:
        if not as_json:
            raise  # the command line names it in one sentence (cli.py)
        return _unexpected_json(env, now, account)
    now = now() if callable(now) else now
    if creds is not None:
        plan = plan_label(creds)
    if as_json:
        try:
            data = reading_json(reading, plan, now, history)
            data["from_tray"] = origin is not None
            if simulated:
                data["simulated"] = True
            if account is not None:
                data["account"] = account
            text = json.dumps(data)
        except Exception:
            return _unexpected_json(env, now, account)
        out.write(text + "\n")
        out.flush()
        return 0
    charset = charset_for(out)
    columns, _ = console_size(env)
    width = max(20, min(columns - 1, STATUS_MAX_WIDTH))
    label = account["label"] if account is not None else None
    out.write("\n".join(status_block(reading, plan, now, width, charset, simulated, origin, label, history)) + "\n")
    out.flush()
    return 0


def status_block(reading: Reading, plan: str | None, now: datetime, width: int, charset: Charset,
                 simulated: bool = False, origin: str | None = None, label: str | None = None,
                 history: HistoryDigest | None = None) -> list[str]:
    """`status`'s lines for one reading: the title (with the account's label when there are
    several), each window with its forecast, the limit that runs out first, then the extra usage
    and when the numbers are from."""
    ahead = outlooks(reading, history or HistoryDigest(), now)
    windows = window_lines(window_rows(reading, now, ahead=ahead), width, now, False, charset)
    footer = footer_lines(
        (binding_line(ahead, now), skipped_text(reading.skipped), *reading.notices,
         extra_usage_text(reading.extra_usage),
         f"Updated {format_clock(reading.fetched_at, now)}" + (f" · {origin}" if origin else "")), width, charset
    )
    lines = [printable(fit(_titled(title_text(plan_text(plan, simulated), "ok"), label), width), charset)]
    lines += windows or ["The usage endpoint listed no limits."]
    return [*lines, "", *footer]


def _titled(title: str, label: str | None) -> str:
    """"Claude usage · me@work.example · Max 5x": the account right after the product's name."""
    return title.replace("Claude usage", f"Claude usage · {label}", 1) if label else title


#: `account` in `status --json` with several logins: {"name", "label", "config_dir"}.
AccountJson = dict


@dataclass(frozen=True)
class AccountStatus:
    """One account's outcome for `status`: a reading (and its plan), or the error."""
    account: AccountJson
    reading: Reading | None
    plan: str | None
    error: MonitorError | None
    origin: str | None = None  # "from the running tray, 40 s ago"
    history: HistoryDigest | None = None  # this login's own stored readings, for its forecast
    claude: str = DEFAULT_COMMAND  # the login's command in the advice (login_command.py)


def _status_object(result: AccountStatus, now: datetime) -> dict:
    if result.reading is not None:
        data = reading_json(result.reading, result.plan, now, result.history)
        data["from_tray"] = result.origin is not None
        return data
    assert result.error is not None
    return failure_json(result.error, problem_message(result.error, None, now, polling=False, claude=result.claude))


def print_accounts_status(results: list[AccountStatus], env, as_json: bool, now: datetime) -> int:
    """`status` with several logins: 0 when every one was read, else 1.

    JSON: the first (the default login's) object at the top level exactly as with one login, plus
    `accounts`, the same objects for every login, each with `account` {name, label, config_dir}.
    Text: one block per login, its label in the title; a failed login's block says what to do."""
    out = env.stdout
    if as_json:
        objects = [{**_status_object(r, now), "account": r.account} for r in results]
        top = {k: v for k, v in objects[0].items() if k != "account"}
        out.write(json.dumps({**top, "accounts": objects}) + "\n")
        out.flush()
        return 0 if all(r.reading is not None for r in results) else 1
    charset = charset_for(out)
    columns, _ = console_size(env)
    width = max(20, min(columns - 1, STATUS_MAX_WIDTH))
    blocks: list[list[str]] = []
    for r in results:
        label = r.account["label"]
        if r.reading is not None:
            blocks.append(status_block(r.reading, r.plan, now, width, charset, origin=r.origin, label=label,
                                       history=r.history))
            continue
        assert r.error is not None
        title = printable(fit(_titled(title_text(None, r.error.status), label), width), charset)
        message = problem_message(r.error, None, now, polling=False, claude=r.claude)
        blocks.append([title, *footer_lines((message,), width, charset)])
    out.write("\n\n".join("\n".join(block) for block in blocks) + "\n")
    out.flush()
    return 0 if all(r.reading is not None for r in results) else 1


# ----------------------------------------------------------------------------- watch


def _enable_windows_vt(stream) -> bool:
    """Windows 10+ consoles understand ANSI only after ENABLE_VIRTUAL_TERMINAL_PROCESSING is set."""
    try:
        import ctypes
        import msvcrt

        kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
        handle = msvcrt.get_osfhandle(stream.fileno())  # type: ignore[attr-defined]
        mode = ctypes.c_uint32()
        if not kernel32.GetConsoleMode(handle, ctypes.byref(mode)):
            return False
        return bool(kernel32.SetConsoleMode(handle, mode.value | 0x0004))
    except (ImportError, AttributeError, OSError, ValueError):
        return False


def _is_terminal(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def run_watch(monitor, poller, env, stop: threading.Event, colour: str = "auto", note: str | None = None,
              label: str | None = None, notes: tuple[str | None, ...] = ()) -> int:
    """The live view until Ctrl+C (130) or `stop` is set (0). Starts and stops the poller.

    On a terminal the screen is redrawn in place every second (the countdowns tick locally while
    the poller asks the API at its own pace); otherwise one block is printed per poll outcome.
    `colour` is --color: "auto" (a terminal without NO_COLOR), "always" or "never".
    Several logins (`monitor` a tray_accounts.MonitorGroup, `poller` its PollerGroup): the view
    has one section per login, each drawn in its own box (`logins_screen`), each login's block
    printed when its own outcome changes; `notes[i]` is login i's `note`. `label` names the one
    login shown when it is not the default (`watch --account NAME`)."""
    out = env.stdout
    live = _is_terminal(out)
    if live and env.platform == "win32":
        live = _enable_windows_vt(out)
    charset = charset_for(out)
    if use_colour(colour, out, env.environ) and (live or colour == "always"):
        charset = replace(charset, colour=True)
    try:
        with CtrlC() as ctrl_c:
            done = lambda: stop.is_set() or ctrl_c.seen  # noqa: E731
            if live:
                _watch_live(monitor, poller, env, done, charset, note, label, notes, ctrl_c.pause)
            else:
                _watch_blocks(monitor, poller, env, done, charset, note, label, notes)
        return EXIT_INTERRUPTED if ctrl_c.seen else 0
    except KeyboardInterrupt:  # before the handler was in place, or off the main thread
        return EXIT_INTERRUPTED
    finally:
        poller.stop()


class CtrlC:
    """While in a `with`, Ctrl+C (SIGINT) on the main thread is noted in `seen` instead of raised as
    KeyboardInterrupt wherever that thread happens to be: raised inside a lock's `with` (in
    Event.wait, queue.get) it can leave the lock released twice, a RuntimeError in place of a quiet
    exit. `pause` sleeps until a deadline or a Ctrl+C, whichever comes first: the signal also
    writes a byte to a socket it waits on (signal.set_wakeup_fd), so the live screen wakes no more
    often than it redraws. Elsewhere nothing changes."""

    def __init__(self) -> None:
        self.seen = False
        self._previous: Any = None
        self._installed = False
        self._wakeup: Any = None  # (reader, writer) sockets while the wakeup fd is ours
        self._previous_fd = -1

    def _note(self, signum: int, frame: Any) -> None:
        self.seen = True  # nothing else: a signal handler must not take a lock the main thread may hold

    def __enter__(self) -> CtrlC:
        if threading.current_thread() is threading.main_thread():
            try:
                self._previous = signal.signal(signal.SIGINT, self._note)
                self._installed = True
            except (ValueError, OSError):  # no signals here (an embedded interpreter)
                return self
            try:
                import socket

                reader, writer = socket.socketpair()
                reader.setblocking(False)
                writer.setblocking(False)
                self._previous_fd = signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
                self._wakeup = (reader, writer)
            except (ValueError, OSError):  # then `pause` sleeps in short steps
                self._wakeup = None
        return self

    def __exit__(self, *exc: object) -> None:
        if self._wakeup is not None:
            signal.set_wakeup_fd(self._previous_fd)
            for end in self._wakeup:
                end.close()
            self._wakeup = None
        if self._installed:
            signal.signal(signal.SIGINT, self._previous if self._previous is not None else signal.default_int_handler)

    def pause(self, seconds: float, done: Callable[[], bool]) -> None:
        """Wait up to `seconds`; back early on Ctrl+C. `done` (a stop asked by a test or a caller)
        is looked at within CTRL_C_NOTICED_WITHIN when there is no wakeup socket, else at the end."""
        if self._wakeup is None:
            _pause(done, seconds)
            return
        import select

        reader = self._wakeup[0]
        if select.select([reader], [], [], max(0.0, seconds))[0]:
            try:
                reader.recv(64)
            except OSError:
                pass


def _watch_live(monitor, poller, env, done: Callable[[], bool], charset: Charset, note: str | None = None,
                label: str | None = None, notes: tuple[str | None, ...] = (),
                pause: Callable[[float, Callable[[], bool]], None] | None = None) -> None:
    pause = pause or (lambda seconds, done_: _pause(done_, seconds))
    out = env.stdout
    clock = env.clock
    out.write(HIDE_CURSOR + CLEAR_SCREEN + HOME)
    out.flush()
    try:
        poller.start()
        while not done():
            now = clock.now()
            columns, rows = console_size(env)
            v = monitor.view()
            if v.sections:
                screen = logins_screen(v.sections, now, columns, rows, charset, notes)
            else:
                screen = watch_screen(v, now, columns, rows, charset, note, label)
            out.write(HOME + "".join(line + CLEAR_LINE_END + "\n" for line in screen) + CLEAR_SCREEN_END)
            out.flush()
            # Wake just after the next whole second, when a "05s" countdown turns to "04s".
            pause(1.0 - (now.timestamp() % 1.0) + 0.02, done)
    finally:
        # First thing on the way out, also on Ctrl+C: give the user their cursor back.
        try:
            out.write(SHOW_CURSOR)
            out.flush()
        except (OSError, ValueError):
            pass  # the terminal is gone (closed pty, hung-up ssh): nothing left to restore


def _watch_blocks(monitor, poller, env, done: Callable[[], bool], charset: Charset, note: str | None = None,
                  label: str | None = None, notes: tuple[str | None, ...] = ()) -> None:
    out = env.stdout
    last_keys: dict[int, tuple] = {}

    def print_block(v: View) -> None:
        # One block per poll outcome: the monitor also sends views for schedule changes and ticks.
        # Several logins: a block for each login whose own outcome changed, its label in the title.
        sections = v.sections or ((None, v),)
        columns, _ = console_size(env)
        for index, (header, own) in enumerate(sections):
            key = (own.updated_at, own.status, own.message)
            if own.status == "loading" or key == last_keys.get(index):
                continue
            last_keys[index] = key
            if header is None:
                block = block_lines(own, env.clock.now(), columns, charset, note, label)
            else:
                own_note = notes[index] if index < len(notes) else None
                block = block_lines(replace(own, plan=None), env.clock.now(), columns, charset, own_note, header)
            out.write("\n".join(block) + "\n\n")
        out.flush()

    _follow_views(monitor, poller, done, print_block)


def _pause(done: Callable[[], bool], seconds: float) -> None:
    """Sleep up to `seconds`, in steps short enough to notice `done` (a stop, a Ctrl+C) soon: a
    signal handler that raises nothing does not cut a sleep or a wait short (PEP 475)."""
    end = time.monotonic() + seconds
    while not done():
        left = end - time.monotonic()
        if left <= 0:
            return
        time.sleep(min(left, CTRL_C_NOTICED_WITHIN))


def _follow_views(monitor, poller, done: Callable[[], bool], show: Callable[[View], None]) -> None:
    """Start the poller and hand every new view to `show` (on this thread) until `done()`."""
    views: queue.Queue = queue.Queue()
    unsubscribe = monitor.subscribe(views.put)
    try:
        poller.start()
        while not done():
            try:
                latest = views.get(timeout=FOLLOW_WAKE_EVERY)
            except queue.Empty:
                continue
            # A poll reports its outcome and then its next time as two events; print their sum.
            try:
                while True:
                    latest = views.get(timeout=COALESCE_SECONDS)
            except queue.Empty:
                pass
            show(latest)
        while not views.empty():  # outcomes that arrived just before the stop
            show(views.get_nowait())
    finally:
        if callable(unsubscribe):
            unsubscribe()


# ----------------------------------------------------------------------------- panels


def print_panel(env, fmt: str, v: View, origin: str | None = None) -> int:
    """One panel block (panels.py) for `status --format waybar|i3blocks|polybar`; exit 0 even
    without a reading: a panel shows the state ("Claude: signed out") instead of hiding."""
    from tray_monitor.panels import render

    env.stdout.write(render(fmt, v, origin) + "\n")
    env.stdout.flush()
    return 0


def run_watch_panel(monitor, poller, env, stop: threading.Event, fmt: str) -> int:
    """`watch --format waybar`: one line per change, for a panel's continuous mode."""
    from tray_monitor.panels import render

    out = env.stdout
    last: str | None = None

    def print_line(v: View) -> None:
        nonlocal last
        if v.status == "loading":
            return
        line = render(fmt, v)
        if line != last:
            last = line
            out.write(line + "\n")
            out.flush()

    try:
        with CtrlC() as ctrl_c:
            _follow_views(monitor, poller, lambda: stop.is_set() or ctrl_c.seen, print_line)
        return EXIT_INTERRUPTED if ctrl_c.seen else 0
    except KeyboardInterrupt:  # before the handler was in place, or off the main thread
        return EXIT_INTERRUPTED
    finally:
        poller.stop()
