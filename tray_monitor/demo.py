"""`claude-tray --demo`: a simulated usage source (no network, no credentials).

It walks through what the tray can show, one step per read: 10 % -> 55 % -> 78 % (warning) ->
93 % (critical) -> 104 % (limit reached, extra usage) -> rate limited -> login expired (it "logs in
again" by itself 10 s later, as if the user had run `claude`) -> the session window resets -> and
round again. Polled every 5 s that is about 45 s per round.

Same two methods as `source.UsageSource`, so the poller, monitor and tray run unchanged.
"""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from tray_monitor.alerts import AlertMemory, Notification
from tray_monitor.clock import Clock
from tray_monitor.errors import AuthExpired, RateLimited
from tray_monitor.model import Credentials, ExtraUsage, Reading, UsageWindow
from tray_monitor.notifier.base import Notifier
from tray_monitor.parse import SCOPED_LABEL, SESSION_LABEL, WEEKLY_LABEL

#: The demo polls every DEMO_INTERVAL seconds; the poller lets a source declare a minimum below the
#: real endpoint's 60 s only because nothing here leaves the machine.
DEMO_INTERVAL = 5.0
#: Seconds after "login expired" until the simulated store changes (the user ran `claude`).
RELOGIN_AFTER = 10.0
#: The session window's resets_at, counted from the start of a round: it passes just before the
#: "reset" step, so the countdown visibly runs out first.
SESSION_RESETS_AFTER = timedelta(seconds=45)
WEEKLY_RESETS_AFTER = timedelta(days=3, hours=4)

DEMO_CREDENTIALS = Credentials(access_token="demo-not-a-token", source="demo", subscription_type="max",
                               rate_limit_tier="default_claude_max_5x")

# (session percent, weekly percent) or the name of a simulated failure.
STEPS: tuple[tuple[float, float] | str, ...] = (
    (10, 22),
    (55, 31),
    (78, 38),
    (93, 44),
    (104, 47),
    "rate_limited",
    "expired",
    "reset",
    (6, 49),
)


class DemoSource:
    min_interval = 1.0  # see DEMO_INTERVAL

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._step = 0
        self._session_resets_at: datetime | None = None
        self._weekly_resets_at: datetime | None = None
        self._login_generation = 0
        self._relogin_at: datetime | None = None

    def read(self) -> tuple[Reading, Credentials]:
        now = self._clock.now()
        if self._step == 0:
            self._session_resets_at = now + SESSION_RESETS_AFTER
            self._weekly_resets_at = now + WEEKLY_RESETS_AFTER
        step = STEPS[self._step]
        self._step = (self._step + 1) % len(STEPS)
        if step == "rate_limited":
            raise RateLimited("Demo: the usage endpoint is rate limiting this login (simulated); "
                              "claude-tray keeps the last reading and retries after 5 s.", retry_after=DEMO_INTERVAL)
        if step == "expired":
            self._relogin_at = now + timedelta(seconds=RELOGIN_AFTER)
            raise AuthExpired("Demo: the Claude login expired (simulated). For real you would run `claude`; "
                              f"the demo logs in again by itself in {RELOGIN_AFTER:g} s.")
        if step == "reset":
            # The session window rolled over: a new 5-hour window, nearly unused.
            self._session_resets_at = now + timedelta(hours=5)
            return self._reading(now, 2, 48), DEMO_CREDENTIALS
        assert not isinstance(step, str), step  # every named step returned or raised above
        session, weekly = step
        return self._reading(now, session, weekly), DEMO_CREDENTIALS

    def store_fingerprint(self) -> object:
        """Changes RELOGIN_AFTER seconds after the simulated expiry, as a real login would."""
        if self._relogin_at is not None and self._clock.now() >= self._relogin_at:
            self._relogin_at = None
            self._login_generation += 1
        return ("demo-login", self._login_generation)

    def _reading(self, now: datetime, session: float, weekly: float) -> Reading:
        full = session >= 100
        windows = (
            UsageWindow(id="five_hour", label=SESSION_LABEL, percent=float(session),
                        resets_at=self._session_resets_at, kind="session",
                        severity="critical" if full else None, active=session >= weekly),
            UsageWindow(id="seven_day", label=WEEKLY_LABEL, percent=float(weekly),
                        resets_at=self._weekly_resets_at, kind="weekly", active=weekly > session),
            UsageWindow(id="seven_day_opus", label=SCOPED_LABEL.format("Opus"), percent=float(round(weekly * 0.6)),
                        resets_at=self._weekly_resets_at, kind="weekly_scoped"),
        )
        extra = ExtraUsage(enabled=True, used=3.20 if full else 0.0, limit=50.0, currency="USD",
                           percent=6.4 if full else 0.0)
        return Reading(windows=windows, extra_usage=extra, fetched_at=now)


class DemoAlertStore:
    """Alert memory kept in memory only: the demo's simulated windows must not enter the real
    memory (a simulated 104 % would later look like a real window that just reset)."""

    def __init__(self) -> None:
        self.memory = AlertMemory()

    def load(self) -> AlertMemory:
        return self.memory

    def save(self, memory: AlertMemory) -> None:
        self.memory = memory


#: Every demo popup starts with this, so a simulated "login expired" or "limit reached" is never
#: taken for news about the user's real account.
DEMO_PREFIX = "Demo (simulated): "


class DemoNotifier:
    """Wraps the real notifier in --demo: every popup's title says it is simulated."""

    def __init__(self, notifier: Notifier):
        self._notifier = notifier

    @property
    def name(self) -> str:  # notifier.base.Notifier: as the wrapped one
        return self._notifier.name

    @property
    def replaces(self) -> bool:
        return self._notifier.replaces

    def send(self, notification: Notification) -> None:
        summary = notification.summary
        if "simulated" not in summary:  # the status popup's title is the tooltip, already marked
            summary = DEMO_PREFIX + summary
        self._notifier.send(replace(notification, summary=summary))
