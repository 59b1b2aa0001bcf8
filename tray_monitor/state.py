"""The monitor's state and the one function that changes it (pure: no threads, no I/O).

`step(state, event, now) -> (state, effects)`: the poller and the menu report what happened as
events; `step` decides what the state becomes and which side effects are due (desktop popups,
saving the alert memory). The shell (`monitor.Monitor`) carries the effects out.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime

from tray_monitor import alerts
from tray_monitor.alerts import AlertMemory, AlertSettings, Notification
from tray_monitor.errors import MonitorError
from tray_monitor.forecast import HistoryDigest
from tray_monitor.forecast_view import ShownRunOut, keep_runouts, outlooks
from tray_monitor.model import Reading
from tray_monitor.schedule import DEFAULT_INTERVAL
from tray_monitor.shared_reading import FedReading, with_reading


@dataclass(frozen=True)
class MonitorState:
    reading: Reading | None = None  # the last good reading, kept through failures (shown as stale)
    problem: MonitorError | None = None  # why the last attempt failed; None after a success
    plan: str | None = None  # "Pro", "Max 5x", ... from the credentials of the last success
    last_attempt_at: datetime | None = None
    next_poll_at: datetime | None = None  # wall-clock estimate for "retrying at"; None = waiting for login
    # Seconds between polls: the one place it is kept (--interval or the settings, via app.py).
    # The poller's schedule reads it; the view turns a reading stale after STALE_AFTER_INTERVALS
    # of them; the shared reading publishes it. `watch` following a tray holds the tray's here.
    interval: float = DEFAULT_INTERVAL
    pinned_window: str | None = None  # settings.icon_window: the window the icon shows
    notifications_enabled: bool = True
    alert_memory: AlertMemory = field(default_factory=AlertMemory)
    alert_settings: AlertSettings = field(default_factory=AlertSettings)
    simulated: bool = False  # --demo: every front end marks what it shows as simulated
    history: HistoryDigest = field(default_factory=HistoryDigest)  # what the forecast knows of the past
    # `reading` is what every front end shows: the endpoint's last answer merged with the newer
    # session/weekly values Claude Code's statusline handed over (shared_reading.merge).
    endpoint_reading: Reading | None = None
    statusline: FedReading | None = None
    statusline_ids: frozenset[str] = frozenset()  # the windows of `reading` taken from the statusline
    # The run-out clocks the front ends show (forecast_view.keep_runouts): rounded, and kept while
    # new readings move the projection by less than their step, so an unchanged percent does not
    # change the tray's title and tooltip with every poll.
    runouts_shown: tuple[ShownRunOut, ...] = ()


# Events ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PollSucceeded:
    reading: Reading
    plan: str | None = None


@dataclass(frozen=True)
class StatuslineRead:
    """Claude Code's statusline handed over the session and weekly windows (no request made)."""

    fed: FedReading


@dataclass(frozen=True)
class PollFailed:
    error: MonitorError


@dataclass(frozen=True)
class Tick:
    """Time passed: countdowns and "updated 3 min ago" may read differently now."""


@dataclass(frozen=True)
class NotificationsToggled:
    enabled: bool


@dataclass(frozen=True)
class PollScheduled:
    next_poll_at: datetime | None


@dataclass(frozen=True)
class HistoryLoaded:
    """The stored readings the forecast needs, read back after a reading was recorded."""

    history: HistoryDigest


Event = PollSucceeded | PollFailed | Tick | NotificationsToggled | PollScheduled | HistoryLoaded | StatuslineRead


# Effects -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Notify:
    notification: Notification


@dataclass(frozen=True)
class SaveAlertMemory:
    memory: AlertMemory


@dataclass(frozen=True)
class RecordReading:
    """Add a reading to the usage history (never a simulated one)."""

    reading: Reading


Effect = Notify | SaveAlertMemory | RecordReading

Evaluate = Callable[..., "tuple[AlertMemory, tuple[Notification, ...]]"]


def step(state: MonitorState, event: Event, now: datetime,
         evaluate: Evaluate = alerts.evaluate) -> tuple[MonitorState, tuple[Effect, ...]]:
    if isinstance(event, PollSucceeded):
        state = with_reading(state, event.reading, state.statusline)
        state = _shown(replace(state, problem=None, plan=event.plan, last_attempt_at=now), now)
        state, effects = _alert(state, "ok", now, evaluate)
        state, effects = _runout(state, now, effects)
        return state, (*_record(state), *effects)
    if isinstance(event, StatuslineRead):
        return _statusline_read(state, event.fed, now, evaluate)
    if isinstance(event, PollFailed):
        # The last good reading stays: the display shows it with its age instead of going blank.
        state = replace(state, problem=event.error, last_attempt_at=now)
        return _alert(state, event.error.status, now, evaluate)
    if isinstance(event, NotificationsToggled):
        return replace(state, notifications_enabled=event.enabled), ()
    if isinstance(event, PollScheduled):
        return replace(state, next_poll_at=event.next_poll_at), ()
    if isinstance(event, HistoryLoaded):
        # Fresh history can move a forecast: the run-out popup is judged again (once per cycle).
        return _runout(_shown(replace(state, history=event.history), now), now, ())
    if isinstance(event, Tick):
        # Alerts judge poll outcomes only, so a tick changes nothing but "now" (the view's job).
        return state, ()
    raise TypeError(f"not a monitor event: {event!r}")


#: Problems a statusline reading cannot cure: the login needs the user whatever the numbers say.
_LOGIN_PROBLEMS = ("signed_out", "expired", "no_scope")


def _statusline_read(state: MonitorState, fed: FedReading, now: datetime,
                     evaluate: Evaluate) -> tuple[MonitorState, tuple[Effect, ...]]:
    """A fresh reading of the session and weekly windows: shown at once, judged by the same alerts
    as a poll (each threshold still fires once per window cycle, whoever brought the number)."""
    before = state
    state = with_reading(state, state.endpoint_reading, fed)
    if not state.statusline_ids:
        return state, ()  # nothing newer than the endpoint's answer (or capped below it)
    state = _shown(state, now)
    if state.problem is not None and state.problem.status not in _LOGIN_PROBLEMS:
        # Offline, rate limited, a server error: the numbers are fresh again all the same. The
        # schedule still holds its back-off; its next answer says how the endpoint is doing.
        state = replace(state, problem=None)
    state, effects = _alert(state, "ok", now, evaluate)
    # Only the windows were judged: the login popups stay as the endpoint's last answer left them.
    memory = replace(state.alert_memory, login_alert=before.alert_memory.login_alert,
                     login_worked=before.alert_memory.login_worked)
    if memory != state.alert_memory:
        state = replace(state, alert_memory=memory)
        effects = tuple(e if not isinstance(e, SaveAlertMemory) else SaveAlertMemory(memory) for e in effects)
    state, effects = _runout(state, now, effects)
    return state, (*_record(state), *effects)


def _shown(state: MonitorState, now: datetime) -> MonitorState:
    """The run-out clocks shown for the state's reading, given those shown so far."""
    shown = keep_runouts(outlooks(state.reading, state.history, now), now, state.runouts_shown)
    return state if shown == state.runouts_shown else replace(state, runouts_shown=shown)


def _runout(state: MonitorState, now: datetime,
            effects: tuple[Effect, ...]) -> tuple[MonitorState, tuple[Effect, ...]]:
    """The run-out popup: a window projected to run out well before its reset, soon
    (alerts.evaluate_runout), added to `effects`; when a threshold popup of the same window is
    already due, its text joins that one (one popup per window and reading)."""
    if state.reading is None or state.problem is not None or not state.alert_settings.notify_runout:
        return state, effects
    shown = {k.window_id: k.shown for k in state.runouts_shown}
    runouts = tuple(
        alerts.RunOut(o.window_id, o.label, o.percent, o.forecast.pace, o.forecast.runs_out_at, o.forecast.resets_at,
                      shown_at=shown.get(o.window_id))
        for o in outlooks(state.reading, state.history, now)
        if o.forecast is not None and o.forecast.runs_out_at is not None
    )
    memory, notes = alerts.evaluate_runout(state.alert_memory, runouts, state.alert_settings, now)
    if memory == state.alert_memory:
        return state, effects
    merged: list[Effect] = [e for e in effects if not isinstance(e, SaveAlertMemory)]
    for note in notes if state.notifications_enabled else ():
        same = next((i for i, e in enumerate(merged) if isinstance(e, Notify) and e.notification.key == note.key), None)
        if same is None:
            merged.append(Notify(note))
        else:
            first = merged[same]
            assert isinstance(first, Notify)
            merged[same] = Notify(replace(first.notification, body=f"{first.notification.body} {note.summary}."))
    merged.append(SaveAlertMemory(memory))
    return replace(state, alert_memory=memory), tuple(merged)


def _record(state: MonitorState) -> tuple[Effect, ...]:
    """The reading shown (the endpoint's merged with the statusline's) goes into the usage
    history; a simulated one never does."""
    if state.simulated or state.reading is None:
        return ()
    return (RecordReading(state.reading),)


def _alert(state: MonitorState, status: str, now: datetime,
           evaluate: Evaluate) -> tuple[MonitorState, tuple[Effect, ...]]:
    memory, notes = evaluate(state.alert_memory, state.reading, status, state.alert_settings, now)
    effects: list[Effect] = []
    # The memory advances even while notifications are off, so switching them on later does not
    # flood the desktop with old news.
    if state.notifications_enabled:
        effects.extend(Notify(n) for n in notes)
    if memory != state.alert_memory:
        effects.append(SaveAlertMemory(memory))
        state = replace(state, alert_memory=memory)
    return state, tuple(effects)
