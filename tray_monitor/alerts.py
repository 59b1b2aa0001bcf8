"""Which desktop notifications are due, de-duplicated per window cycle (pure: no I/O, no clock).

`evaluate(memory, reading, status, settings, now)` returns the new `AlertMemory` and the
notifications that are due. It always returns what is due; whether notifications are switched
on is decided by the caller (the memory still advances while they are off, so switching them
on later does not flood the desktop with old news).

Window cycles. A usage window (the 5-hour session, the weekly limit, ...) restarts at its
`resets_at`. The server sends `resets_at` with microsecond jitter between readings
(`...00.001100` vs `...00.001438`), so a cycle is identified by `resets_at` rounded to the
minute, and a `resets_at` that moved by less than `CYCLE_TOLERANCE` counts as the same cycle.
A window whose `resets_at` is null has not started; "not started" is a cycle state of its own.
A reset is a cycle change to a later `resets_at` (or to "not started").

Per window and cycle we remember the highest threshold already notified, the highest percent
seen, and whether a server-flagged (critical / locked) state was reported. A threshold fires
once per cycle; when several are crossed between two readings only the highest fires; a dip
below a threshold and a climb back does not fire again.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any

from tray_monitor.fmt import format_clock, format_countdown, format_percent
from tray_monitor.model import Reading, Urgency, UsageWindow
from tray_monitor.reset_words import reset_text
from tray_monitor.view import View, severity_of

#: resets_at values closer than this are the same cycle (server jitter; a real reset moves
#: resets_at by hours: the session window is 5 h long, the weekly one 7 days).
CYCLE_TOLERANCE = timedelta(minutes=5)
#: "Session limit reset" is announced only for windows that reached this percent.
RESET_ANNOUNCE_FROM = 90.0
#: A reset noticed later than this after the old resets_at (the machine was off or asleep)
#: is old news and is not announced.
RESET_NEWS_LIMIT = timedelta(hours=1)
#: Windows absent from readings are forgotten this long after their cycle ended.
FORGET_AFTER = timedelta(days=1)

URGENCY_LOW: Urgency = "low"
URGENCY_NORMAL: Urgency = "normal"
URGENCY_CRITICAL: Urgency = "critical"

#: Notification texts name commands plainly: desktops show Markdown backticks literally.
#: `{claude}` is the login's own command (login_command.py): `claude`, or with CLAUDE_CONFIG_DIR.
LOGIN_AGAIN = "Run {claude} in a terminal to sign in again; the tray picks up the new login by itself."

#: Poll outcomes (View.status) that mean "the login needs the user"; they share one popup.
_LOGIN_LOST = ("expired", "signed_out")


@dataclass(frozen=True)
class AlertSettings:
    thresholds: tuple[int, ...] = (75, 90, 100)
    notify_reset: bool = True
    notify_runout: bool = True  # "runs out at 15:40", once per window cycle
    runout_lead: int = 30  # minutes: only a run-out this much before the reset is news
    runout_within: int = 60  # minutes: ... and only once it is this close
    # How this login is logged in again (login_command.py), named by the login popups and by
    # view.py's advice: "claude" for the default login.
    claude_command: str = "claude"


@dataclass(frozen=True)
class Notification:
    key: str  # same key replaces the previous popup: "window:<id>", "login", "test"
    summary: str
    body: str
    urgency: Urgency


@dataclass(frozen=True)
class WindowMemory:
    """What was already notified for one window in its current cycle."""

    cycle: datetime | None  # resets_at rounded to the minute (UTC); None = not started
    notified_level: int = 0  # highest threshold notified in this cycle, 0 = none
    peak: float = 0.0  # highest percent seen in this cycle
    flagged: bool = False  # severity "critical" was seen this cycle (reported or covered)
    locked: bool = False  # a locked_reason was seen (and reported) this cycle
    runout: bool = False  # "runs out at ..." was notified this cycle


@dataclass(frozen=True)
class AlertMemory:
    """Everything evaluate() needs to remember; persisted by `alert_store.AlertStore`."""

    windows: tuple[tuple[str, WindowMemory], ...] = ()  # (window id, memory), sorted by id
    login_alert: str | None = None  # "login_lost" | "no_scope": the login popup already shown
    login_worked: bool = False  # a poll succeeded once; "login expired" needs this first
    _by_id: dict[str, WindowMemory] = field(default_factory=dict, init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_id", dict(self.windows))

    def window(self, window_id: str) -> WindowMemory | None:
        return self._by_id.get(window_id)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": 1,
            "windows": {
                window_id: {
                    "cycle": memo.cycle.isoformat() if memo.cycle else None,
                    "notified_level": memo.notified_level,
                    "peak": memo.peak,
                    "flagged": memo.flagged,
                    "locked": memo.locked,
                    "runout": memo.runout,
                }
                for window_id, memo in self.windows
            },
            "login_alert": self.login_alert,
            "login_worked": self.login_worked,
        }

    @classmethod
    def from_dict(cls, data: object) -> AlertMemory:
        """Lenient: an entry that does not make sense is dropped (worst case: one repeated popup)."""
        if not isinstance(data, dict):
            return cls()
        windows = []
        raw_windows = data.get("windows")
        for window_id, raw in (raw_windows.items() if isinstance(raw_windows, dict) else ()):
            memo = _window_memory_from_dict(raw)
            if isinstance(window_id, str) and memo is not None:
                windows.append((window_id, memo))
        login_alert = data.get("login_alert")
        return cls(
            windows=tuple(sorted(windows)),
            login_alert=login_alert if login_alert in ("login_lost", "no_scope") else None,
            login_worked=data.get("login_worked") is True,
        )


def _window_memory_from_dict(raw: object) -> WindowMemory | None:
    if not isinstance(raw, dict):
        return None
    try:
        cycle = raw.get("cycle")
        cycle = None if cycle is None else datetime.fromisoformat(cycle)
        if cycle is not None and cycle.tzinfo is None:
            return None
        level = raw.get("notified_level", 0)
        peak = raw.get("peak", 0.0)
        if isinstance(level, bool) or not isinstance(level, int):
            return None
        if isinstance(peak, bool) or not isinstance(peak, (int, float)):
            return None
        return WindowMemory(cycle=cycle, notified_level=level, peak=float(peak),
                            flagged=raw.get("flagged") is True, locked=raw.get("locked") is True,
                            runout=raw.get("runout") is True)
    except (TypeError, ValueError):  # cycle is not an ISO string
        return None


def cycle_of(resets_at: datetime | None) -> datetime | None:
    """The cycle identity: resets_at in UTC, rounded to the nearest minute (server jitter)."""
    if resets_at is None:
        return None
    try:
        utc = resets_at.astimezone(timezone.utc)
        floored = utc.replace(second=0, microsecond=0)
        return floored + timedelta(minutes=1) if utc - floored >= timedelta(seconds=30) else floored
    except OverflowError:  # the last minute of year 9999 (or an offset past year 1): as it is
        return resets_at


def same_cycle(old: datetime | None, new: datetime | None) -> bool:
    if old is None or new is None:
        return old is None and new is None
    return abs(new - old) < CYCLE_TOLERANCE


def evaluate(
    memory: AlertMemory,
    reading: Reading | None,
    status: str,
    settings: AlertSettings,
    now: datetime,
) -> tuple[AlertMemory, tuple[Notification, ...]]:
    """The new memory and the notifications due after one poll outcome.

    `status` is the outcome of the poll ("ok", "expired", "signed_out", "no_scope",
    "rate_limited", "error"). Windows are judged only on "ok": on a failure `reading` is the
    last good one, which holds no news.
    """
    if status == "ok":
        notes: list[Notification] = []
        if reading is not None:
            memory, notes = _evaluate_windows(memory, reading, settings, now)
        # Back to normal re-arms the login popups.
        return replace(memory, login_alert=None, login_worked=True), tuple(notes)
    if status in _LOGIN_LOST:
        if memory.login_worked and memory.login_alert != "login_lost":
            notice = _login_lost_notification(status, settings.claude_command)
            return replace(memory, login_alert="login_lost"), (notice,)
        return memory, ()
    if status == "no_scope":
        if memory.login_alert != "no_scope":
            return replace(memory, login_alert="no_scope"), (_no_scope_notification(settings.claude_command),)
        return memory, ()
    # rate_limited, error: transient, nothing to tell the user by popup (the icon shows it).
    return memory, ()


def _evaluate_windows(memory: AlertMemory, reading: Reading, settings: AlertSettings,
                      now: datetime) -> tuple[AlertMemory, list[Notification]]:
    thresholds = sorted({t for t in settings.thresholds if t > 0})
    updated: dict[str, WindowMemory] = {}
    notes: list[Notification] = []
    for window in reading.windows:
        old = memory.window(window.id)
        new_memo, note = _evaluate_window(old, window, reading, thresholds, settings, now)
        updated[window.id] = new_memo
        if note is not None:
            notes.append(note)
    for window_id, memo in memory.windows:
        # Keep windows missing from this reading (a null window comes back later in the same
        # cycle), until their cycle is long over.
        if window_id not in updated and memo.cycle is not None and memo.cycle + FORGET_AFTER > now:
            updated[window_id] = memo
    return replace(memory, windows=tuple(sorted(updated.items()))), notes


def _evaluate_window(old: WindowMemory | None, window: UsageWindow, reading: Reading, thresholds: list[int],
                     settings: AlertSettings, now: datetime) -> tuple[WindowMemory, Notification | None]:
    cycle = cycle_of(window.resets_at)
    critical = window.severity == "critical"
    locked = window.locked_reason is not None
    level = max((t for t in thresholds if window.percent >= t), default=0)

    reset_note: Notification | None = None
    if old is not None and same_cycle(old.cycle, cycle):
        base = old
    else:
        if old is not None and _is_announced_reset(old, cycle, window, settings, now):
            reset_note = _reset_notification(window, now)
        base = WindowMemory(cycle=cycle)

    threshold_due = level > base.notified_level
    # The server knows better than our thresholds: a "critical" limit is reported even below
    # them (once, unless a threshold popup already told the user this cycle), a lock always.
    critical_due = critical and not base.flagged and base.notified_level == 0
    locked_due = locked and not base.locked
    memo = WindowMemory(
        cycle=cycle,  # the latest value, so slow drift never adds up to a false reset
        notified_level=max(level, base.notified_level),
        peak=max(base.peak, window.percent),
        flagged=base.flagged or critical,
        locked=base.locked or locked,
        runout=base.runout,
    )
    if threshold_due or critical_due or locked_due:
        # One popup per window and reading; it replaces a reset popup of the same window.
        return memo, _threshold_notification(window, reading, level, now)
    return memo, reset_note


@dataclass(frozen=True)
class RunOut:
    """What evaluate_runout needs of one window's forecast (forecast_view.Outlook, plainly)."""

    window_id: str
    label: str
    percent: float
    pace: float
    runs_out_at: datetime  # the projection: the popup's decision is made on it
    resets_at: datetime
    shown_at: datetime | None = None  # the clock the tray shows for it (rounded), for the words


def evaluate_runout(memory: AlertMemory, runouts: tuple[RunOut, ...], settings: AlertSettings,
                    now: datetime) -> tuple[AlertMemory, tuple[Notification, ...]]:
    """One popup per window cycle when a window is projected to run out more than `runout_lead`
    minutes before its reset and the run-out is less than `runout_within` minutes away. The memory
    is the threshold alerts' (same cycle identity: `evaluate` runs first and resets it per cycle)."""
    if not settings.notify_runout:
        return memory, ()
    windows = dict(memory.windows)
    notes = []
    for r in runouts:
        memo = windows.get(r.window_id)
        if memo is None or not same_cycle(memo.cycle, cycle_of(r.resets_at)) or memo.runout or r.percent >= 100:
            continue
        early = r.resets_at - r.runs_out_at > timedelta(minutes=settings.runout_lead)
        near = timedelta(0) <= r.runs_out_at - now < timedelta(minutes=settings.runout_within)
        if early and near:
            windows[r.window_id] = replace(memo, runout=True)
            notes.append(_runout_notification(r, now))
    if not notes:
        return memory, ()
    return replace(memory, windows=tuple(sorted(windows.items()))), tuple(notes)


def _runout_notification(r: RunOut, now: datetime) -> Notification:
    early = format_countdown(r.resets_at - r.runs_out_at)
    return Notification(
        key=f"window:{r.window_id}",
        summary=f"{r.label} runs out at {format_clock(r.shown_at or r.runs_out_at, now)}",
        body=f"At this pace ({r.pace:.1f}x, now {format_percent(r.percent)}) the limit is reached "
             f"{early} before it {reset_text(r.resets_at, now, form='clock')}.",
        urgency=URGENCY_NORMAL,
    )


def _is_announced_reset(old: WindowMemory, cycle: datetime | None, window: UsageWindow, settings: AlertSettings,
                        now: datetime) -> bool:
    if not settings.notify_reset or old.cycle is None or old.peak < RESET_ANNOUNCE_FROM:
        return False
    moved_later = cycle is None or cycle > old.cycle
    return moved_later and window.percent < old.peak and now - old.cycle <= RESET_NEWS_LIMIT


# ---------------------------------------------------------------- texts


def _threshold_notification(window: UsageWindow, reading: Reading, level: int, now: datetime) -> Notification:
    percent = format_percent(window.percent)
    blocked = window.percent >= 100 or window.locked_reason is not None
    if window.percent >= 100:
        summary = f"{window.label} limit reached: {percent}"
    else:
        summary = f"{window.label} at {percent}"
    parts = []
    if window.locked_reason is not None:
        parts.append(f"Locked by Anthropic ({window.locked_reason.replace('_', ' ')}).")
    elif window.severity == "critical" and level == 0:
        parts.append("Anthropic marks this limit as critical.")
    parts.append(reset_text(window.resets_at, now, form="sentence"))
    if blocked:
        extra = reading.extra_usage
        if extra is not None and extra.enabled:
            parts.append("Until then, usage is billed as extra usage.")
        else:
            parts.append("Work with Claude pauses until then.")
    # The urgency follows the icon: critical (red) from 90 % or when the server says so, so a
    # popup is never calmer than the icon that prompted it.
    critical = blocked or severity_of(window) == "critical"
    return Notification(
        key=f"window:{window.id}",
        summary=summary,
        body=" ".join(parts),
        urgency=URGENCY_CRITICAL if critical else URGENCY_NORMAL,
    )


def _reset_notification(window: UsageWindow, now: datetime) -> Notification:
    if window.resets_at is None:
        body = "The full limit is available again."
    else:
        # "it next resets in 4h 58m (19:00)": the *next* reset, said so (a bare "Resets in …" right
        # after "limit reset" read as if this reset were still to come)
        body = f"The full limit is available again; it next {reset_text(window.resets_at, now)}."
    return Notification(
        key=f"window:{window.id}",
        summary=f"{window.label} limit reset — back to {format_percent(window.percent)}",
        body=body,
        urgency=URGENCY_LOW,
    )


def _login_lost_notification(status: str, claude: str) -> Notification:
    if status == "expired":
        summary = "Claude login expired"
    else:
        summary = "Not signed in to Claude Code"
    return Notification(
        key="login",
        summary=summary,
        body=LOGIN_AGAIN.format(claude=claude),
        urgency=URGENCY_NORMAL,
    )


def _no_scope_notification(claude: str) -> Notification:
    return Notification(
        key="login",
        summary="This Claude login cannot read usage",
        body="It is a token from claude setup-token, which cannot read usage. "
        f"Run {claude} in a terminal and log in there instead.",
        urgency=URGENCY_NORMAL,
    )


#: The status popup's title when there are no numbers to show: the instruction (view.message) is
#: then the body, so title and body never say the same sentence twice.
_STATUS_TITLES = {
    "loading": "Claude usage: loading",
    "signed_out": "Not signed in to Claude Code",
    "expired": "Claude login expired",
    "no_scope": "This Claude login cannot read usage",
    "rate_limited": "Claude usage: rate limited",
    "error": "Claude usage unavailable",
}


def status_notification(view: View) -> Notification:
    """What a left click on an icon without a menu shows: the whole status as one popup."""
    lines = [row.menu_text for row in view.windows]
    if view.extra_usage_text:
        lines.append(view.extra_usage_text)
    lines.append(view.message or view.updated_text)
    summary = view.tooltip if view.windows else _STATUS_TITLES.get(view.status, "Claude usage")
    return Notification(key="status", summary=summary, body="\n".join(lines), urgency=URGENCY_LOW)


def make_test_notification() -> Notification:
    """What the menu's "Send test notification" sends."""
    return Notification(
        key="test",
        summary="claude-tray notifications work",
        body="You will be told here before you run out of Claude usage.",
        urgency=URGENCY_LOW,
    )
