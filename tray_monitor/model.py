"""Plain values that every part of claude-tray passes around (pure: no I/O, no threads).

A `Reading` is one successful answer of the usage endpoint, already parsed and de-duplicated.
`Credentials` is what was read from Claude Code's login store (never written back).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal, TypeGuard, get_args

# The vocabulary, decided here once. Literal types rather than Enums: the values travel as plain
# strings (status --json, the control socket's view, test assertions) and mypy checks every use.

#: How close a window is to its limit, in increasing order. The server may send its own; otherwise
#: view.severity_for_percent decides it from the percent.
Severity = Literal["normal", "warning", "critical"]
SEVERITIES: tuple[Severity, ...] = get_args(Severity)

#: What the front ends say about the monitor as a whole (View.status, status --json "status").
Status = Literal["loading", "ok", "stale", "signed_out", "expired", "no_scope", "rate_limited", "error"]
STATUSES: tuple[Status, ...] = get_args(Status)

#: What the icon draws (IconSpec.state): the statuses, with "expired" drawn as "signed_out" and
#: "rate_limited" as "stale" or "error" (view._icon decides).
IconState = Literal["loading", "ok", "stale", "signed_out", "no_scope", "error"]
ICON_STATES: tuple[IconState, ...] = get_args(IconState)

#: A popup's urgency (freedesktop notification urgency levels).
Urgency = Literal["low", "normal", "critical"]

#: What a usage window is, for ordering and naming: the 5-hour session, the weekly limit, a weekly
#: cap on one model or product, a credit row (cinder_cove, wattle_ember, promo_credits), or anything
#: else the server sends.
WindowKind = Literal["session", "weekly", "weekly_scoped", "credit", "other"]


def is_severity(value: object) -> TypeGuard[Severity]:
    return isinstance(value, str) and value in SEVERITIES


@dataclass(frozen=True)
class UsageWindow:
    """One usage limit: the 5-hour session, the weekly limit, a per-model weekly cap, ..."""

    id: str  # "five_hour", "seven_day", "seven_day_opus", "seven_day_fable", "nimbus_quill"
    label: str  # human: "Current session", "Current week (all models)", "Current week (Fable)"
    percent: float  # raw 0..100, may exceed 100 while in overage; never a fraction
    resets_at: datetime | None  # timezone-aware; None = not started yet (or unknown, see below)
    severity: Severity | None = None  # as the server said, else None
    active: bool = False  # the limit that binds now (limits[].is_active)
    locked_reason: str | None = None  # non-null when the server has locked this window
    kind: WindowKind = "other"
    reset_unknown: bool = False  # the server sent a resets_at that cannot be read: resets_at is None
    used_dollars: float | None = None  # credit rows (wattle_ember, promo_credits[]): money, in dollars
    limit_dollars: float | None = None


@dataclass(frozen=True)
class ExtraUsage:
    """Pay-as-you-go credit on top of the subscription, in major currency units."""

    enabled: bool
    used: float | None
    limit: float | None  # None = no monthly limit ("Unlimited"; also a negative limit)
    currency: str | None  # ISO code ("USD", "EUR") or None when the server did not say
    percent: float | None
    places: int = 2  # digits after the decimal point for this currency ("¥1,250": 0, "$12.34": 2)
    disabled_reason: str | None = None  # in words: "out of usage credits", ... (None = none given)


@dataclass(frozen=True)
class Reading:
    windows: tuple[UsageWindow, ...]
    extra_usage: ExtraUsage | None
    fetched_at: datetime  # wall clock, timezone-aware
    skipped: int = 0  # windows the server sent that could not be read (shown as a count, never silent)
    notices: tuple[str, ...] = ()  # texts the server attached to credit rows (promo_credits[].notice), once each

    def window(self, window_id: str) -> UsageWindow | None:
        return next((w for w in self.windows if w.id == window_id), None)


#: Treat a token as expired this long before its expiresAt (usage-api: refresh happens early).
EXPIRY_MARGIN = timedelta(minutes=5)


@dataclass(frozen=True)
class Credentials:
    access_token: str = field(repr=False)  # never printed, logged or written by us
    source: str  # "environment", "keychain", or the file path it came from
    expires_at: datetime | None = None  # None = unknown (environment token)
    scopes: tuple[str, ...] | None = None  # None = unknown
    subscription_type: str | None = None  # "pro" | "max" | "team" | "enterprise"
    rate_limit_tier: str | None = None  # "default_claude_max_5x", ...

    def __str__(self) -> str:  # never the token
        return f"Credentials(source={self.source})"

    def is_expired(self, now: datetime) -> bool:
        return self.expires_at is not None and now >= self.expires_at - EXPIRY_MARGIN

    @property
    def has_usage_scope(self) -> bool:
        """False only when the scopes are known and lack user:profile (a setup-token login)."""
        return self.scopes is None or "user:profile" in self.scopes


@dataclass(frozen=True)
class IconSpec:
    """Everything the tray icon shows; `icon.render_icon(spec, size)` draws it."""

    state: IconState
    percent: float | None = None  # the binding window's raw percent (may exceed 100)
    weekly_percent: float | None = None  # thin bar for the weekly window, None = no bar
    severity: Severity = "normal"
    # Several logins: another login than the one shown is critical (a corner dot, icon.py).
    other_critical: bool = False
