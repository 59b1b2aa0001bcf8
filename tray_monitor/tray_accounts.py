"""Several logins in one tray (issue 15), shell half: each login has its own monitor (state, alert
memory, history) and poller (schedule, back-off, 429 wait); these groups stand in for the one
monitor and poller where the tray needs them all (TrayController, the control channel).

`MonitorGroup.view()` is `accounts_view.combined_view` of every login's own view; a listener hears
the combined view whenever any login's changes. `PollerGroup` refreshes every login; the pollers'
first requests are spread over the interval (`first_poll_offsets`), so the logins never poll in
lockstep (a refresh asks every login at once). `TrayLogins` adds and removes logins while the tray
runs (`accounts add/remove`, an edited settings.toml). The tray always uses these groups: with one
login they hand its view and its replies through unchanged. `NamedNotifier` puts the
login's label in each popup's title (and its key, so two logins' popups never replace each other).
"""
from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from tray_monitor.accounts_view import AccountView, combined_view, named_summary
from tray_monitor.schedule import RefreshOutcome


def first_poll_offsets(count: int, interval: float) -> list[float]:
    """Seconds before each login's first request: 0, interval/n, 2*interval/n, ..."""
    return [index * interval / count for index in range(count)]

log = logging.getLogger("tray_monitor.tray_accounts")


@dataclass(frozen=True)
class AccountPart:
    name: str
    label: str
    monitor: Any  # monitor.Monitor
    poller: Any  # poller.Poller
    account: Any = None  # accounts.Account; None: the demo's simulated login


@dataclass
class _Subscription:
    listener: Callable[[Any], None]
    forward: Callable[[Any], None]
    undo: dict[Any, Callable[[], None]]  # per login's monitor


class MonitorGroup:
    """Every login's monitor as one. The logins may change while the tray runs (`replace`): each
    subscriber then follows the new ones, and hears the new combined view at once."""

    def __init__(self, parts: list[AccountPart], pinned: str | None = None):
        self._lock = threading.Lock()
        self._parts = list(parts)
        self._pinned = pinned
        self._subscriptions: list[_Subscription] = []

    @property
    def parts(self) -> list[AccountPart]:
        with self._lock:
            return list(self._parts)

    def view(self) -> Any:
        with self._lock:
            parts, pinned = list(self._parts), self._pinned
        return combined_view([AccountView(p.name, p.label, p.monitor.view()) for p in parts], pinned)

    def subscribe(self, listener: Callable[[Any], None]) -> Callable[[], None]:
        def forward(own_view: Any) -> None:
            with self._lock:
                alone = len(self._parts) == 1
            listener(own_view if alone else self.view())  # one login: its view as it is (no recompute)

        subscription = _Subscription(listener, forward, {})
        with self._lock:
            self._subscriptions.append(subscription)
            for part in self._parts:
                subscription.undo[part.monitor] = part.monitor.subscribe(forward)

        def unsubscribe() -> None:
            with self._lock:
                if subscription in self._subscriptions:
                    self._subscriptions.remove(subscription)
                undo = list(subscription.undo.values())
                subscription.undo.clear()
            for each in undo:
                each()

        return unsubscribe

    def replace(self, parts: list[AccountPart], pinned: str | None) -> None:
        """These logins from now on (a kept login keeps its monitor); every subscriber hears the
        new combined view."""
        undo: list[Callable[[], None]] = []
        with self._lock:
            monitors = {part.monitor for part in parts}
            for subscription in self._subscriptions:
                for gone in [m for m in subscription.undo if m not in monitors]:
                    undo.append(subscription.undo.pop(gone))
                for part in parts:
                    if part.monitor not in subscription.undo:
                        subscription.undo[part.monitor] = part.monitor.subscribe(subscription.forward)
            self._parts, self._pinned = list(parts), pinned
            listeners = [s.listener for s in self._subscriptions]
        for each in undo:
            each()
        combined = self.view()
        for listener in listeners:
            listener(combined)

    def handle(self, event: Any, *more: Any) -> None:
        """An event for every login (the Notifications toggle)."""
        for part in self.parts:
            part.monitor.handle(event, *more)


class PollerGroup:
    """The logins' pollers as one (those of `monitors`, as they are at each call). Each was built
    with its first request a share of the interval later than the one before
    (`first_poll_offsets`), so their polls stay spread over it."""

    def __init__(self, monitors: MonitorGroup | list[AccountPart]):
        self._monitors = monitors if isinstance(monitors, MonitorGroup) else MonitorGroup(monitors)
        self.started = False

    @property
    def _parts(self) -> list[AccountPart]:
        return self._monitors.parts

    def start(self) -> None:
        self.started = True
        for part in self._parts:
            part.poller.start()

    def stop(self) -> None:
        self.started = False
        for part in self._parts:
            part.poller.stop()

    def refresh(self) -> RefreshOutcome:
        """Every login asked to poll now; "accepted" when any request goes out."""
        outcomes = [part.poller.refresh() for part in self._parts]
        return RefreshOutcome.ACCEPTED if RefreshOutcome.ACCEPTED in outcomes else outcomes[0]

    def request_refresh(self) -> str:
        """`claude-tray refresh`: one sentence per login (one login: its sentence as it is)."""
        parts = self._parts
        if len(parts) == 1:
            return str(parts[0].poller.request_refresh())
        return "; ".join(f"{part.label}: {part.poller.request_refresh()}" for part in parts)

    def activity_seen(self) -> None:
        for part in self._parts:
            part.poller.activity_seen()


class TrayLogins:
    """The tray's logins while it runs. `update(accounts, pinned)` builds a part for each new login
    (`build(account, first_poll_in)`; started at once when the others run, its first request
    now), stops and drops the poller of each login no longer listed, relabels the rest (with
    several logins each is named by its label, with one by nothing) and hands the new combined
    view to the tray. Whoever notices a change calls it: the control command `accounts` (sent by
    `claude-tray accounts add/remove`) and the check of the settings files (app.py)."""

    def __init__(self, build: Callable[[Any, float], AccountPart], label_of: Callable[[Any], str],
                 monitors: MonitorGroup, pollers: PollerGroup):
        self._build = build
        self._label_of = label_of
        self._monitors = monitors
        self._pollers = pollers
        self._lock = threading.Lock()

    def label_for(self, name: str) -> str | None:
        """A login's label for its popups' titles, None while it is the only login."""
        parts = self._monitors.parts
        if len(parts) < 2:
            return None
        return next((p.label for p in parts if p.name == name), None)

    def update(self, accounts: list[Any], pinned: str | None, interval: float = 0.0) -> str:
        """`interval`: at the tray's start, the first polls are spread over it; a login added
        later asks at once (its phase is unrelated to the others')."""
        with self._lock:
            old = {_identity(p.account): p for p in self._monitors.parts}
            wanted = {_identity(a) for a in accounts}
            offsets = first_poll_offsets(len(accounts), interval) if not old else [0.0] * len(accounts)
            several = len(accounts) > 1
            parts: list[AccountPart] = []
            added: list[AccountPart] = []
            for account, offset in zip(accounts, offsets, strict=True):
                part = old.get(_identity(account))
                if part is None:
                    try:
                        part = self._build(account, offset)
                    except Exception:
                        log.exception("the login %r could not be added", getattr(account, "name", account))
                        continue
                    added.append(part)
                label = self._label_of(account) if several and account is not None else part.name
                parts.append(replace(part, label=label, account=account))
            removed = [p for key, p in old.items() if key not in wanted]
            if not parts:
                return "no login to show"
            self._monitors.replace(parts, pinned)
            for part in removed:
                part.poller.stop(timeout=0)  # a request in flight finishes on its daemon thread, unheard
            if self._pollers.started:
                for part in added:
                    part.poller.start()
        if old and (added or removed):
            log.info("logins now %s (added %s, removed %s)", [p.name for p in parts],
                     [p.name for p in added], [p.name for p in removed])
        said = ", ".join(p.name for p in parts)
        changes = [f"added {p.name}" for p in added if old] + [f"removed {p.name}" for p in removed]
        return f"logins: {said}" + (f"; {', '.join(changes)}" if changes else "")


class SettingsFilesCheck:
    """Whether settings.toml or preferences.json changed since the last look (their size, time
    and inode; a missing file counts as a state of its own). The first look only remembers."""

    def __init__(self, env: Any):
        from tray_monitor.settings import preferences_path, settings_path

        self._paths = (settings_path(env), preferences_path(env))
        self._seen = self._signature()

    def _signature(self) -> tuple[tuple[int, int, int] | None, ...]:
        seen: list[tuple[int, int, int] | None] = []
        for path in self._paths:
            try:
                stat = os.stat(path)
            except OSError:
                seen.append(None)
                continue
            seen.append((stat.st_mtime_ns, stat.st_size, stat.st_ino))
        return tuple(seen)

    def changed(self) -> bool:
        now = self._signature()
        if now == self._seen:
            return False
        self._seen = now
        return True


def _identity(account: Any) -> tuple[str, str] | None:
    """A login is the same while its name and folder are (a renamed or moved one is new)."""
    return None if account is None else (account.name, str(account.config_dir))


class NamedNotifier:
    """A login's popups carry its label in the title and its name in the key. `label`: a fixed
    one, or a function asked at each popup (TrayLogins.label_for: None while the login is alone,
    whose popups then go out as they always did)."""

    def __init__(self, inner: Any, name: str, label: str | Callable[[], str | None]):
        self._inner = inner
        self._name = name
        self._label = label

    def send(self, notification: Any) -> None:
        label = self._label() if callable(self._label) else self._label
        if label is None:
            self._inner.send(notification)
            return
        self._inner.send(replace(notification, key=f"{self._name}:{notification.key}",
                                 summary=named_summary(label, notification.summary)))

    def __getattr__(self, attribute: str) -> Any:  # capabilities and the rest: the real notifier's
        return getattr(self._inner, attribute)
