"""Several logins in one tray (issue 15), shell half: each login has its own monitor (state, alert
memory, history) and poller (schedule, back-off, 429 wait); these groups stand in for the one
monitor and poller where the tray needs them all (TrayController, the control channel).

`MonitorGroup.view()` is `accounts_view.combined_view` of every login's own view; a listener hears
the combined view whenever any login's changes. `PollerGroup` refreshes every login; the pollers'
first requests are spread over the interval (`first_poll_offsets`), so the logins never poll in
lockstep (a refresh asks every login at once). `NamedNotifier` puts the
login's label in each popup's title (and its key, so two logins' popups never replace each other).
"""
from __future__ import annotations

import logging
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


class MonitorGroup:
    def __init__(self, parts: list[AccountPart], pinned: str | None = None):
        self._parts = parts
        self._pinned = pinned

    def view(self) -> Any:
        return combined_view([AccountView(p.name, p.label, p.monitor.view()) for p in self._parts], self._pinned)

    def subscribe(self, listener: Callable[[Any], None]) -> Callable[[], None]:
        unsubscribes = [p.monitor.subscribe(lambda _own_view: listener(self.view())) for p in self._parts]

        def unsubscribe() -> None:
            for each in unsubscribes:
                each()

        return unsubscribe

    def handle(self, event: Any, *more: Any) -> None:
        """An event for every login (the Notifications toggle)."""
        for part in self._parts:
            part.monitor.handle(event, *more)


class PollerGroup:
    """The logins' pollers as one. Each was built with its first request a share of the interval
    later than the one before (`first_poll_offsets`), so their polls stay spread over it."""

    def __init__(self, parts: list[AccountPart]):
        self._parts = parts

    def start(self) -> None:
        for part in self._parts:
            part.poller.start()

    def stop(self) -> None:
        for part in self._parts:
            part.poller.stop()

    def refresh(self) -> RefreshOutcome:
        """Every login asked to poll now; "accepted" when any request goes out."""
        outcomes = [part.poller.refresh() for part in self._parts]
        return RefreshOutcome.ACCEPTED if RefreshOutcome.ACCEPTED in outcomes else outcomes[0]

    def request_refresh(self) -> str:
        """`claude-tray refresh`: one sentence per login."""
        return "; ".join(f"{part.label}: {part.poller.request_refresh()}" for part in self._parts)

    def activity_seen(self) -> None:
        for part in self._parts:
            part.poller.activity_seen()


class NamedNotifier:
    """A login's popups carry its label in the title and its name in the key."""

    def __init__(self, inner: Any, name: str, label: str):
        self._inner = inner
        self._name = name
        self._label = label

    def send(self, notification: Any) -> None:
        self._inner.send(replace(notification, key=f"{self._name}:{notification.key}",
                                 summary=named_summary(self._label, notification.summary)))

    def __getattr__(self, attribute: str) -> Any:  # capabilities and the rest: the real notifier's
        return getattr(self._inner, attribute)
