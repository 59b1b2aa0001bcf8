"""The one thread-safe channel from events to the front ends.

Any thread (the poller, the tray menu, the control socket) reports an event with `handle`; the
monitor runs the pure `state.step` under a lock, carries out the effects (popups, saving the alert
memory) after releasing it, and then tells subscribers (tray, watch) the new `View`, but only when
it differs from the last one sent, so a tick that changes no text redraws nothing.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from tray_monitor.alerts import AlertMemory
from tray_monitor.clock import Clock
from tray_monitor.forecast import HistoryDigest
from tray_monitor.model import Reading
from tray_monitor.state import (
    Effect,
    Event,
    HistoryLoaded,
    MonitorState,
    Notify,
    PollSucceeded,
    RecordReading,
    SaveAlertMemory,
    StatuslineRead,
    step,
)
from tray_monitor.view import View, countdowns_only_until, next_text_change, view, with_countdowns

if TYPE_CHECKING:
    from tray_monitor.notifier.base import Notifier

log = logging.getLogger("tray_monitor.monitor")

#: Read the history back at least this often even when nothing new was stored (the usual-hours
#: profile and the cycle's readings age).
DIGEST_REFRESH = timedelta(hours=1)


class AlertMemoryStore(Protocol):
    """Where the alert memory lasts: alert_store.AlertStore (SQLite), demo.DemoAlertStore (memory)."""

    def load(self) -> AlertMemory: ...

    def save(self, memory: AlertMemory) -> None: ...


class UsageHistoryStore(Protocol):
    """Where readings are kept: history.HistoryStore (SQLite). None for the demo."""

    def record(self, reading: Reading) -> int: ...

    def digest(self, now: datetime) -> HistoryDigest: ...


class Monitor:
    def __init__(self, state: MonitorState, clock: Clock, notifier: Notifier, alert_store: AlertMemoryStore | None,
                 view_fn: Callable | None = None, step_fn: Callable = step,
                 history: UsageHistoryStore | None = None):
        self._state = state
        self._clock = clock
        self._notifier = notifier
        self._alert_store = alert_store
        self._view_fn = view_fn or view
        self._step = step_fn
        self._lock = threading.Lock()  # guards _state, _seq, _listeners
        # Serialises deliveries so listeners see views in the order the events were stepped.
        # Re-entrant: a listener may itself report an event.
        self._delivery_lock = threading.RLock()
        self._seq = 0
        self._last_sent: View | None = None
        # (state, from, until, its view): a view of that very state between the two moments is that
        # view with its countdowns turned (view.countdowns_only_until); None: work the next one out
        self._countdowns: tuple[MonitorState, datetime, datetime, View] | None = None
        self._listeners: list[Callable] = []
        self._notify_failure_logged = False
        self._save_failure_logged = False
        self._history = history
        self._digest_at: datetime | None = None  # when the history was last read back
        self._history_preloaded = False
        self._history_failure_logged = False

    @property
    def state(self) -> MonitorState:
        with self._lock:
            return self._state

    def view(self) -> View:
        return self._view_fn(self.state, self._clock.now())

    def next_text_change(self, now: datetime) -> datetime | None:
        """When the view will read differently by time alone (view.next_text_change); the poller
        ticks then."""
        return next_text_change(self.state, now)

    def subscribe(self, listener: Callable) -> Callable[[], None]:
        """Call `listener(view)` on every changed View; returns a function that unsubscribes."""
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    def handle(self, event: Event, *more: Event) -> None:
        """Step one event (or several in order, e.g. a poll result and its next poll time, which
        then reach the listeners as one view instead of two)."""
        if not self._history_preloaded and isinstance(event, PollSucceeded | StatuslineRead):
            loaded = self._preload_history()
            if loaded is not None:
                event, more = loaded, (event, *more)
        with self._lock:
            now = self._clock.now()
            effects: list[Effect] = []
            for each in (event, *more):
                self._state, produced = self._step(self._state, each, now)
                effects.extend(produced)
            self._seq += 1
            seq = self._seq
            new_view = self._view_at(now)
            listeners = list(self._listeners)
        for effect in effects:
            self._carry_out(effect)
        with self._delivery_lock:
            with self._lock:
                newer_exists = seq != self._seq
            if newer_exists or new_view == self._last_sent:
                return  # a later event delivers its own (newer) view
            self._last_sent = new_view
            for listener in listeners:
                try:
                    listener(new_view)
                except Exception:
                    # One broken front end must not stop the others or the poller.
                    log.exception("a view listener failed")

    def _view_at(self, now: datetime) -> View:
        """The view of the current state (under self._lock). A minute tick (the state unchanged,
        only countdowns turning) turns the last view's countdowns instead of working all out again."""
        state = self._state
        known = self._countdowns
        if known is not None and known[0] is state and known[1] <= now < known[2]:
            assert state.reading is not None  # a stretch needs a reading
            return with_countdowns(known[3], state.reading, known[1], now)
        new_view = self._view_fn(state, now)
        until = countdowns_only_until(state, now) if self._view_fn is view else None
        self._countdowns = None if until is None else (state, now, until, new_view)
        return new_view

    def _carry_out(self, effect: Effect) -> None:
        if isinstance(effect, Notify):
            try:
                self._notifier.send(effect.notification)
            except Exception:
                # Notifier.send promises never to raise; if it does anyway, say so once, carry on.
                if not self._notify_failure_logged:
                    self._notify_failure_logged = True
                    log.exception("a desktop notification could not be delivered")
        elif isinstance(effect, SaveAlertMemory):
            if self._alert_store is None:
                return  # a front end that does not notify (watch) keeps no memory
            try:
                self._alert_store.save(effect.memory)
            except Exception:
                # Worst case after a restart: one popup repeated. Not worth stopping for.
                if not self._save_failure_logged:
                    self._save_failure_logged = True
                    log.exception("the alert memory could not be saved")
        elif isinstance(effect, RecordReading):
            self._record(effect.reading)
        else:
            log.warning("unknown effect %r ignored", type(effect).__name__)

    def _preload_history(self) -> HistoryLoaded | None:
        """The stored readings, read once before the first reading is judged (on the thread that
        reports it): otherwise the first forecast after a start, and the run-out popup it may
        fire (once per cycle), would ignore the history and see the current reading alone."""
        self._history_preloaded = True
        if self._history is None:
            return None
        try:
            now = self._clock.now()
            digest = self._history.digest(now)
        except Exception:
            if not self._history_failure_logged:
                self._history_failure_logged = True
                log.exception("the usage history could not be updated")
            return None
        self._digest_at = now
        return HistoryLoaded(digest)

    def _record(self, reading: Reading) -> None:
        """On the thread that reported the reading (the poller), never the tray's."""
        if self._history is None:
            return
        try:
            written = self._history.record(reading)
            now = self._clock.now()
            if written == 0 and self._digest_at is not None and now - self._digest_at < DIGEST_REFRESH:
                return  # nothing new stored: the forecast's inputs are as they were (idle costs ~6 us)
            digest = self._history.digest(now)
            self._digest_at = now
        except Exception:
            # HistoryStore logs and swallows its own failures; anything else: once, and carry on.
            if not self._history_failure_logged:
                self._history_failure_logged = True
                log.exception("the usage history could not be updated")
            return
        self.handle(HistoryLoaded(digest))
