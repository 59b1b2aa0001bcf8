"""What every front end shows, built from the monitor state (pure: plain values in and out).

`view(state, now)` is the only place that turns state into text: the tray's tooltip and menu,
the icon spec, and the terminal's rows all come from here, so they never disagree.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from tray_monitor.errors import (
    AuthExpired,
    BadResponse,
    CredentialsNotFound,
    FolderMissing,
    MonitorError,
    RateLimited,
    ScopeMissing,
    ServerTrouble,
    Transient,
)
from tray_monitor.fmt import format_clock, format_money, format_percent
from tray_monitor.forecast import HistoryDigest
from tray_monitor.forecast_view import (
    RUNOUT_STEPS,
    Outlook,
    ShownRunOut,
    binding_id,
    binding_line,
    outlook_text,
    outlooks,
    tooltip_clause,
)
from tray_monitor.login_command import DEFAULT_COMMAND
from tray_monitor.model import (
    ExtraUsage,
    IconSpec,
    IconState,
    Reading,
    Severity,
    Status,
    UsageWindow,
)
from tray_monitor.reset_words import reset_text
from tray_monitor.schedule import RETRY_AFTER_CAP
from tray_monitor.window_names import scoped_name

if TYPE_CHECKING:  # state.py imports alerts; the view needs only its field names
    from tray_monitor.state import MonitorState

#: Percent thresholds for the severity when the server did not send one.
WARNING_PERCENT = 75
CRITICAL_PERCENT = 90

#: A reading older than this many poll intervals is shown as stale even without a failure
#: (the poller is stuck, or the machine slept and has not polled yet); see _stale_from.
STALE_AFTER_INTERVALS = 2

#: Windows keeps a tray tooltip in NOTIFYICONDATA.szTip, 128 UTF-16 units with the final NUL;
#: pystray's win32 backend fails on a longer title, so the view never makes one.
MAX_TOOLTIP = 127



@dataclass(frozen=True)
class WindowRow:
    id: str
    label: str
    percent: float
    percent_text: str  # "78%"
    severity: Severity
    active: bool
    resets_at: datetime | None
    reset_text: str  # "resets in 2h 11m (14:00)" | "not started"
    menu_text: str  # "Session (5h): 78% · resets in 2h 11m (14:00)", + " · in the icon" for its window
    locked_reason: str | None
    in_icon: bool = False  # the window whose percent the icon shows (named when there are several)
    reset_unknown: bool = False
    forecast_text: str = ""  # "pace 1.3x · runs out 15:40" | "on track" | "" (not enough data)
    # menu_text with the reset as a clock time ("... · resets at 14:00"), for the SNI tooltip's body:
    # it then changes with a reading, not every minute (each change has the host read it again)
    clock_text: str = ""


@dataclass(frozen=True)
class View:
    status: Status
    icon: IconSpec
    tooltip: str  # one line, unicode (the tray adapter makes it latin-1-safe)
    plan: str | None
    windows: tuple[WindowRow, ...]
    extra_usage_text: str | None  # None = the server said nothing about extra usage
    updated_text: str  # "Updated 14:02" | "Last reading 9 min ago" (the reason is `message`)
    message: str | None  # what to do about the current problem, None when all is well
    updated_at: datetime | None
    next_poll_at: datetime | None
    notifications_enabled: bool
    skipped: int = 0  # windows the server sent that could not be read
    notes: tuple[str, ...] = ()  # menu lines after the windows: the skipped count, server notices
    # Several logins (accounts_view.combined_view): (header line, that login's own view) per login,
    # shown as one menu section each; empty with one login, whose menu is as it always was.
    sections: tuple[tuple[str, View], ...] = ()
    forecast_line: str | None = None  # "Session runs out first: 15:40, resets 16:40"
    binding: str | None = None  # the id of the window that runs out first (forecast.binding)


# ----------------------------------------------------------------------------- windows


_SEVERITY_RANK: dict[Severity, int] = {"normal": 0, "warning": 1, "critical": 2}


def severity_of(window: UsageWindow) -> Severity:
    """The more severe of the server's severity (limits[] carries one) and the percent's
    (`severity_for_percent`): a window at 95 % is critical whatever the server says, and one the
    server calls critical is critical at any percent."""
    by_percent = severity_for_percent(window.percent)
    if window.severity is None:
        return by_percent
    return max(window.severity, by_percent, key=_SEVERITY_RANK.__getitem__)


def severity_for_percent(percent: float) -> Severity:
    """The one rule for a percent: warning from 75 %, critical from 90 %."""
    if percent >= CRITICAL_PERCENT:
        return "critical"
    if percent >= WARNING_PERCENT:
        return "warning"
    return "normal"


#: Marks the icon's window in the menu (and the click popup): the icon shows one number, and with
#: several windows nothing else said which one it is.
IN_ICON = "in the icon"


def window_row(window: UsageWindow, now: datetime, in_icon: bool = False, forecast_text: str = "") -> WindowRow:
    percent_text = format_percent(window.percent)
    resets = reset_text(window.resets_at, now, unknown=window.reset_unknown)
    head = f"{window.label}: {percent_text}"
    dollars = dollars_text(window)
    if dollars:
        head += f" · {dollars}"
    tail = " · locked" if window.locked_reason else ""
    if in_icon:
        tail += f" · {IN_ICON}"
    passed = window.resets_at is not None and window.resets_at <= now
    at = resets if passed else reset_text(window.resets_at, now, form="clock", unknown=window.reset_unknown)
    return WindowRow(
        id=window.id,
        label=window.label,
        percent=window.percent,
        percent_text=percent_text,
        severity=severity_of(window),
        active=window.active,
        resets_at=window.resets_at,
        reset_text=resets,
        menu_text=f"{head} · {resets}{tail}",
        locked_reason=window.locked_reason,
        in_icon=in_icon,
        reset_unknown=window.reset_unknown,
        forecast_text=forecast_text,
        clock_text=f"{head} · {at}{tail}",
    )


def dollars_text(window: UsageWindow) -> str | None:
    """A credit row's money: "$12.00 of $30.00", "$12.00 used", None without any."""
    if window.used_dollars is None and window.limit_dollars is None:
        return None
    used = format_money(window.used_dollars, "USD") if window.used_dollars is not None else None
    if window.limit_dollars is not None and window.limit_dollars >= 0:
        return f"{used or '?'} of {format_money(window.limit_dollars, 'USD')}"
    return f"{used} used" if used else None


def skipped_text(skipped: int) -> str | None:
    """The line every front end shows when the server sent windows that could not be read."""
    if skipped <= 0:
        return None
    if skipped == 1:
        return "1 more limit could not be read (see the log)"
    return f"{skipped} more limits could not be read (see the log)"


def window_rows(reading: Reading | None, now: datetime, icon_window: str | None = None,
                history: HistoryDigest | None = None,
                ahead: tuple[Outlook, ...] | None = None,
                shown: tuple[ShownRunOut, ...] = ()) -> tuple[WindowRow, ...]:
    """Every window's row with its forecast (from `history`, the stored readings, or `ahead`, the
    forecasts already made; the run-out clocks `shown` so far, forecast_view.keep_runouts);
    `icon_window` (an id) is marked as the icon's when there are several."""
    if reading is None:
        return ()
    if ahead is None:
        ahead = outlooks(reading, history or HistoryDigest(), now)
    texts = {o.window_id: outlook_text(o, now, shown) for o in ahead}
    several = len(reading.windows) > 1
    # the forecast passed in, not added with dataclasses.replace: a view is worked out at every
    # countdown minute, and replace() was a fifth of it
    return tuple(window_row(w, now, in_icon=several and w.id == icon_window, forecast_text=texts.get(w.id, ""))
                 for w in reading.windows)


def binding_window(reading: Reading | None, pinned: str | None) -> UsageWindow | None:
    """The window the icon shows.

    The pinned one (settings.icon_window) if present; otherwise, among the windows the server
    marks active (all windows when none is), the most severe, then the highest (first on ties).
    Either way a critical window is never hidden: when the choice is not critical and another
    window is, the icon shows the most severe, highest of all windows instead.
    """
    if reading is None or not reading.windows:
        return None

    def weight(w: UsageWindow) -> tuple[int, float]:
        return _SEVERITY_RANK[severity_of(w)], w.percent

    chosen = reading.window(pinned) if pinned else None
    if chosen is None:
        active = [w for w in reading.windows if w.active]
        chosen = max(active or reading.windows, key=weight)
    if severity_of(chosen) != "critical":
        worst = max(reading.windows, key=weight)
        if severity_of(worst) == "critical":
            return worst
    return chosen


def short_name(window: UsageWindow) -> str:
    """The tooltip's name for a window: "session", "weekly", "Fable weekly", "Nimbus quill"."""
    if window.kind == "session" or window.id == "five_hour":
        return "session"
    if window.kind == "weekly" or window.id == "seven_day":
        return "weekly"
    name = scoped_name(window.label)
    return f"{name} weekly" if name != window.label else window.label


def extra_usage_text(extra: ExtraUsage | None) -> str | None:
    """ "Extra usage: $12.34 of $50.00 (24%)", "Extra usage: ¥1,250 (Unlimited)", "Extra usage: off
    (out of usage credits)"; None when the server said nothing. Amounts carry the currency's own
    digits (`ExtraUsage.places`); no limit (null or negative) means no percent."""
    if extra is None:
        return None
    if not extra.enabled:
        return f"Extra usage: off ({extra.disabled_reason})" if extra.disabled_reason else "Extra usage: off"
    if extra.used is None:
        return "Extra usage: on (Unlimited)" if extra.limit is None else "Extra usage: on"
    used = format_money(extra.used, extra.currency, extra.places)
    if extra.limit is None or extra.limit < 0:
        return f"Extra usage: {used} (Unlimited)"
    percent = extra.percent
    if percent is None and extra.limit > 0:
        percent = extra.used / extra.limit * 100
    text = f"Extra usage: {used} of {format_money(extra.limit, extra.currency, extra.places)}"
    if percent is not None:
        text += f" ({format_percent(percent)})"
    return text


# ----------------------------------------------------------------------------- status and texts


def _stale_from(state: MonitorState, reading: Reading) -> datetime:
    """When a reading with no failure after it turns stale: STALE_AFTER_INTERVALS intervals after
    it was read, and never before the poll it waits for is an interval overdue. An idle stretch
    (schedule.success_wait: up to 10 min between requests while nothing changes and Claude Code is
    idle) schedules the next poll late on purpose; that alone must not mark the icon stale."""
    interval = timedelta(seconds=max(state.interval, 1.0))
    stale_from = reading.fetched_at + STALE_AFTER_INTERVALS * interval
    if state.next_poll_at is not None:
        stale_from = max(stale_from, state.next_poll_at + interval)
    return stale_from


def derive_status(state: MonitorState, now: datetime) -> Status:
    """One of model.STATUSES. Login problems win over a kept reading (the user must act); a failed
    fetch with a reading kept is "stale" (429 is "rate_limited"); without one it is "error"."""
    problem = state.problem
    reading = state.reading
    if problem is not None:
        status = problem.status
        if status in ("signed_out", "expired", "no_scope", "rate_limited"):
            return status
        return "stale" if reading is not None else "error"
    if reading is None:
        return "loading"
    if now > _stale_from(state, reading):
        return "stale"
    return "ok"


def _retry_clause(next_poll_at: datetime | None, now: datetime) -> str:
    if next_poll_at is None:
        return "retrying soon"
    return f"retrying at {format_clock(next_poll_at, now)}"


def problem_message(
    problem: MonitorError, next_poll_at: datetime | None, now: datetime, polling: bool = True,
    claude: str = DEFAULT_COMMAND,
) -> str:
    """What to do about a failed poll, one sentence. `polling` False is a one-shot `status`: nothing
    retries by itself, so a passing failure is told with the error's own sentence instead.
    `claude` is the login's command (login_command.py): `claude` for the default login, else one
    naming its CLAUDE_CONFIG_DIR folder."""
    if isinstance(problem, AuthExpired):
        return f"Login expired — run {claude} in a terminal"
    if isinstance(problem, FolderMissing):
        return problem.message
    if isinstance(problem, CredentialsNotFound):
        if claude != DEFAULT_COMMAND:  # another login's folder: installing and the demo are beside the point
            return f"No Claude Code login — run {claude} and log in"
        return "No Claude Code login — install Claude Code and run claude, or try claude-tray --demo"
    if isinstance(problem, ScopeMissing):
        return problem.summary or f"This login cannot read usage (setup token) — log in with {claude}"
    if isinstance(problem, RateLimited):
        limited = problem.summary or "Rate limited by the usage endpoint"
        if not polling:
            if problem.retry_after:
                # Capped before any arithmetic: a Retry-After of 1e11 s once overflowed here.
                wait = min(float(problem.retry_after), RETRY_AFTER_CAP)
                again = format_clock(now + timedelta(seconds=wait), now)
                return f"{limited} — try again after {again}"
            return f"{limited} — try again in a few minutes"
        return f"{limited} — {_retry_clause(next_poll_at, now)}"
    if polling:
        if isinstance(problem, ServerTrouble):  # not "Offline": the user's network is fine
            return f"Usage service error (HTTP {problem.http_status}) — {_retry_clause(next_poll_at, now)}"
        if isinstance(problem, Transient):
            return f"{problem.summary or 'Offline'} — {_retry_clause(next_poll_at, now)}"
        if isinstance(problem, BadResponse):
            return f"Unexpected answer from the usage endpoint — {_retry_clause(next_poll_at, now)}"
    return (problem.summary if polling else None) or problem.message


def age_text(age: timedelta) -> str:
    """ "less than a minute ago", "9 min ago", "2 h 5 min ago", "3 days ago"."""
    minutes = int(age.total_seconds() // 60)
    if minutes < 1:
        return "less than a minute ago"
    if minutes < 60:
        return f"{minutes} min ago"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min ago" if minutes else f"{hours} h ago"
    days = hours // 24
    return "1 day ago" if days == 1 else f"{days} days ago"


def _updated_text(status: str, state: MonitorState, now: datetime) -> str:
    reading = state.reading
    if reading is None:
        return "Waiting for the first reading" if status == "loading" else "No reading yet"
    if status == "ok":
        return f"Updated {format_clock(reading.fetched_at, now)}"
    # Why it is old and when it is retried is the message line, shown right above this one.
    return f"Last reading {age_text(now - reading.fetched_at)}"


def _summary(window: UsageWindow, now: datetime) -> str:
    """ "session limit 78% · resets at 16:40" (the tooltip's core: which window the icon's number is).
    A clock time, not a countdown: the tooltip and the title then change only when a reading or a
    reset does, not every minute (each change has the host read them again); "resets now" once it
    has passed, until the next reading. The menu's rows keep the countdown."""
    text = f"{short_name(window)} limit {format_percent(window.percent)}"
    passed = window.resets_at is not None and window.resets_at <= now
    return f"{text} · {reset_text(window.resets_at, now, form='short' if passed else 'clock')}"


#: How the demo marks what it shows (menu header, watch title, tooltip): it must never pass for a
#: real account next to a real login.
SIMULATED = "simulated demo"


def plan_text(plan: str | None, simulated: bool) -> str | None:
    """The plan as shown ("Max 5x"); in the demo "Max 5x · simulated demo" (also without a plan)."""
    if not simulated:
        return plan
    return f"{plan} · {SIMULATED}" if plan else SIMULATED


def _tooltip(status: str, state: MonitorState, binding: UsageWindow | None, message: str | None, now: datetime,
             ahead: tuple[Outlook, ...] = ()) -> str:
    text = _tooltip_text(status, state, binding, message, now, ahead)
    return text.replace("Claude", f"Claude ({SIMULATED})", 1) if state.simulated else text


def _tooltip_text(status: str, state: MonitorState, binding: UsageWindow | None, message: str | None,
                  now: datetime, ahead: tuple[Outlook, ...] = ()) -> str:
    if status == "loading":
        return "Claude: loading usage…"
    if status in ("signed_out", "expired", "no_scope") or binding is None:
        # The user must act (or there is nothing to show): the instruction is the whole tooltip.
        return f"Claude: {message}" if message else "Claude: no usage data"
    summary = f"Claude: {_summary(binding, now)}"
    if status == "ok":
        # Where it is heading, when a limit runs out before its reset (the pinned one, if any)
        runs_out = tooltip_clause(ahead, state.pinned_window, now, state.runouts_shown)
        return f"Claude: {runs_out}" if runs_out else summary
    assert state.reading is not None  # a binding window comes from a reading
    age = age_text(now - state.reading.fetched_at)
    if status == "rate_limited":
        return f"{summary} · rate limited, last reading {age}"
    if isinstance(state.problem, ServerTrouble):
        return f"{summary} · service error, last reading {age}"
    if isinstance(state.problem, Transient):
        return f"{summary} · offline, last reading {age}"
    if state.problem is not None:
        return f"{summary} · update failed, last reading {age}"
    return f"{summary} · last reading {age}"


def _cap(text: str, limit: int) -> str:
    # Counted in UTF-16 units as Windows does: every character we produce is in the BMP but an
    # emoji in a label from the server would count twice.
    if len(text.encode("utf-16-le")) // 2 <= limit:
        return text
    out = ""
    for ch in text:
        if len((out + ch + "…").encode("utf-16-le")) // 2 > limit:
            break
        out += ch
    return out + "…"


_ICON_STATES: dict[Status, IconState] = {
    "loading": "loading",
    "ok": "ok",
    "stale": "stale",
    "signed_out": "signed_out",
    "expired": "signed_out",
    "no_scope": "no_scope",
    "error": "error",
}


def _icon(status: Status, reading: Reading | None, binding: UsageWindow | None) -> IconSpec:
    icon_state: IconState
    if status == "rate_limited":
        # A 429 is a pause, not a fault: with numbers kept the icon shows them as stale.
        icon_state = "stale" if binding is not None else "error"
    else:
        icon_state = _ICON_STATES[status]
    if icon_state not in ("ok", "stale") or binding is None:
        return IconSpec(state=icon_state)
    weekly = reading.window("seven_day") if reading is not None else None
    weekly_percent = weekly.percent if weekly is not None and weekly.id != binding.id else None
    return IconSpec(
        state=icon_state,
        percent=binding.percent,
        weekly_percent=weekly_percent,
        severity=severity_of(binding),
    )


def _notes(reading: Reading | None) -> tuple[str, ...]:
    if reading is None:
        return ()
    skipped = skipped_text(reading.skipped)
    return ((skipped,) if skipped else ()) + tuple(reading.notices)


def view(state: MonitorState, now: datetime) -> View:
    status = derive_status(state, now)
    reading = state.reading
    binding = binding_window(reading, state.pinned_window)
    message = (problem_message(state.problem, state.next_poll_at, now, claude=state.alert_settings.claude_command)
               if state.problem is not None else None)
    icon = _icon(status, reading, binding)
    ahead = outlooks(reading, state.history, now) if status in ("ok", "stale", "rate_limited") else ()
    return View(
        status=status,
        icon=icon,
        tooltip=_cap(_tooltip(status, state, binding, message, now, ahead), MAX_TOOLTIP),
        plan=plan_text(state.plan, state.simulated),
        windows=window_rows(reading, now, binding.id if binding is not None and icon.percent is not None else None,
                            ahead=ahead, shown=state.runouts_shown),
        extra_usage_text=extra_usage_text(reading.extra_usage) if reading is not None else None,
        updated_text=_updated_text(status, state, now),
        message=message,
        updated_at=reading.fetched_at if reading is not None else None,
        next_poll_at=state.next_poll_at,
        notifications_enabled=state.notifications_enabled,
        skipped=reading.skipped if reading is not None else 0,
        notes=_notes(reading),
        forecast_line=binding_line(ahead, now, state.runouts_shown),
        binding=binding_id(ahead) if any(o.forecast is not None for o in ahead) else None,
    )


# ----------------------------------------------------------------------------- when it changes


def next_text_change(state: MonitorState, now: datetime) -> datetime | None:
    """The next moment `view(state, t)` may read differently with no new event, so the poller
    redraws exactly then instead of on a fixed beat: a countdown reaching its next minute (they
    round up, so "2h 11m" turns "2h 10m" when 2 h 10 min are left), the reading turning stale, the
    age of a kept reading reaching its next minute, and local midnight (clock texts gain or lose
    their weekday). None when nothing shown depends on time (the poller still checks now and then).
    """
    reading = state.reading
    if reading is None:
        return None
    moments: list[datetime | None] = [_next_local_midnight(now)]
    for window in reading.windows:
        if window.resets_at is not None:
            moments.append(_next_countdown_step(window.resets_at, now))
    if derive_status(state, now) == "ok":
        moments.append(_stale_from(state, reading))
    else:  # "Last reading 9 min ago" is shown
        age = (now - reading.fetched_at).total_seconds()
        moments.append(reading.fetched_at + timedelta(seconds=60 * (int(age // 60) + 1)))
    upcoming = [m for m in moments if m is not None and m > now]
    return min(upcoming) if upcoming else None


#: the finest step of a datetime: "right after" a moment
_TICK_OF_TIME = timedelta(microseconds=1)
#: _next_countdown_step rounds to the millisecond: within this of its moment a row is worked out
_NEAR_A_TURN = timedelta(milliseconds=2)


def countdowns_only_until(state: MonitorState, now: datetime) -> datetime | None:
    """The end (exclusive) of the stretch from `now` over which `view(state, t)` differs from
    `view(state, now)` in its rows' countdowns alone (WindowRow.reset_text and menu_text), so a
    minute tick of an unchanged state can take `with_countdowns` instead of a whole view. It ends
    at the first of: a reset passing ("resets now", the forecasts' moment), the reading turning
    stale, local midnight (clock texts gain or lose their weekday), a run-out clock's rounding step
    changing (forecast_view.RUNOUT_STEPS) or its moment. None when there is no such stretch: no
    reading, not "ok" (a kept reading's age is shown), the clock before the reading's time."""
    reading = state.reading
    if reading is None or now < reading.fetched_at or derive_status(state, now) != "ok":
        return None
    at = [_next_local_midnight(now)]  # a text changes at these moments
    after = [_stale_from(state, reading)]  # and right after these (stale when `now > stale_from`)
    at.extend(w.resets_at for w in reading.windows if w.resets_at is not None)
    for outlook in outlooks(reading, state.history, now):
        fc = outlook.forecast
        if fc is None:
            continue
        at.append(fc.resets_at)
        if fc.runs_out_at is not None:
            at.append(fc.runs_out_at)
            after.extend(fc.runs_out_at - below for below, _ in RUNOUT_STEPS)  # runout_step: `until < below`
    at.extend(moment + _TICK_OF_TIME for moment in after)
    return min(m for m in at if m > now)  # midnight is always ahead


def with_countdowns(last: View, reading: Reading, since: datetime, now: datetime) -> View:
    """`view(state, now)` from `last`, the view of the same `state` (whose reading is `reading`) at
    `since`, when `now` is in the `countdowns_only_until(state, since)` stretch: only the rows whose
    countdown has turned since then are worked out again (a weekly one turns by the hour), their
    forecast texts and icon marks kept. `last` itself when none has."""
    rows = []
    for w, row in zip(reading.windows, last.windows, strict=True):
        if w.resets_at is not None:
            turns = _next_countdown_step(w.resets_at, since)
            # near the moment (its seconds are rounded to the millisecond) the row is worked out anyway
            if turns is not None and now >= turns - _NEAR_A_TURN:
                row = window_row(w, now, in_icon=row.in_icon, forecast_text=row.forecast_text)
        rows.append(row)
    turned = tuple(rows)
    return last if turned == last.windows else replace(last, windows=turned)


def _next_countdown_step(resets_at: datetime, now: datetime) -> datetime | None:
    left = round((resets_at - now).total_seconds(), 3)  # as format_countdown reads it
    if left <= 0:
        return None  # "now" from here on
    minutes_shown = -(-left // 60)  # rounded up
    if minutes_shown >= 1440:
        # "3d 4h": a day or more is shown in whole hours, so the text turns with the hour, not the
        # minute (a weekly window would otherwise tick the tray once a minute for nothing).
        return now + timedelta(seconds=left - 60 * (60 * (minutes_shown // 60) - 1))
    return now + timedelta(seconds=left - 60 * (minutes_shown - 1))


def _next_local_midnight(now: datetime) -> datetime:
    local = now.astimezone()
    tomorrow = (local + timedelta(days=1)).date()
    return datetime(tomorrow.year, tomorrow.month, tomorrow.day, tzinfo=local.tzinfo)
