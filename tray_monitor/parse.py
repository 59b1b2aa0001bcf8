"""The usage endpoint's JSON body -> one `Reading` (pure: no I/O, no threads, no requests).

The endpoint is undocumented and changes shape, so every part is optional: an unknown or malformed
window is skipped (with a debug line on the "tray_monitor.parse" logger) and the rest is still shown.
Only a body with nothing usable at all is a `BadResponse`, so the caller keeps its last good reading
instead of blanking the display.
"""
from __future__ import annotations

import logging
import math
import re
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any

from tray_monitor.errors import BadResponse
from tray_monitor.model import ExtraUsage, Reading, Severity, UsageWindow, WindowKind, is_severity

log = logging.getLogger("tray_monitor.parse")

SESSION_ID = "five_hour"
WEEKLY_ID = "seven_day"
SCOPED_PREFIX = "seven_day_"

# Keys of the body that hold something other than a usage window.
_NOT_WINDOWS = frozenset({"limits", "extra_usage", "spend"})

# Suffixes of flat `seven_day_*` keys whose plain humanised name would read wrong.
_SCOPED_NAMES = {"oauth_apps": "OAuth apps"}

# Display order: session, weekly, per-model/product weeklies, anything else (codename windows).
_KIND_ORDER = {"session": 0, "weekly": 1, "weekly_scoped": 2, "other": 3}

_ISO_DATETIME = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?"
    r"\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?$"
)


class _Malformed(Exception):
    """One window (or the extra-usage block) is unusable; skip it, keep the rest."""


def parse_usage(body: object, fetched_at: datetime) -> Reading:
    """Turn a decoded JSON body into a de-duplicated, ordered Reading; raises BadResponse."""
    if not isinstance(body, dict):
        raise BadResponse(
            f"The usage endpoint answered with a JSON {_json_type(body)} instead of an object: "
            "claude-tray keeps the last reading and tries again later."
        )

    windows: dict[str, UsageWindow] = {}
    order: list[str] = []

    # limits[] (mid-2026 on) is preferred: it carries severity and is_active, and per-model caps
    # such as "Fable" appear only there.
    limits = body.get("limits")
    if isinstance(limits, list):
        for index, item in enumerate(limits):
            try:
                window = _window_from_limit(item)
            except _Malformed as why:
                log.debug("skipping limits[%d]: %s", index, why)
                continue
            if window.id in windows:
                log.debug("skipping limits[%d]: %s already shown", index, window.id)
                continue
            windows[window.id] = window
            order.append(window.id)
    elif limits is not None:
        log.debug("ignoring limits: a JSON %s, not a list", _json_type(limits))

    for key, value in body.items():
        if key in _NOT_WINDOWS or not isinstance(key, str) or value is None:
            continue
        if not _looks_like_window(key, value):
            continue  # member_dashboard_available, seven_day_breakdown, ...: not a window
        try:
            window = _window_from_flat(key, value)
        except _Malformed as why:
            log.debug("skipping %s: %s", key, why)
            continue
        if window.id in windows:
            # The same window as a limits[] entry (session = five_hour, weekly_all = seven_day,
            # a scoped "Opus" = seven_day_opus): keep the limits[] one, but the flat object is
            # the only one that carries locked_reason.
            kept = windows[window.id]
            if kept.locked_reason is None and window.locked_reason is not None:
                windows[window.id] = replace(kept, locked_reason=window.locked_reason)
            continue
        windows[window.id] = window
        order.append(window.id)

    ordered = tuple(
        sorted((windows[i] for i in order), key=lambda w: _KIND_ORDER.get(w.kind, 3))
    )  # sorted() is stable: within a kind, the server's order is kept

    extra_usage = _extra_usage(body)

    if not ordered:
        # Decision for a body with no usable window (every window null or malformed): show it only
        # when extra usage is switched on, because pay-as-you-go credit is then the one thing the
        # user can act on. Otherwise it is most likely a transient glitch (a brand-new account
        # still gets `five_hour` with utilization 0 and resets_at null), so it is a BadResponse and
        # the caller keeps the last good reading rather than blanking the display.
        if extra_usage is None or not extra_usage.enabled:
            raise BadResponse(
                "The usage endpoint answered without any usage window: "
                "claude-tray keeps the last reading and tries again later."
            )
    return Reading(windows=ordered, extra_usage=extra_usage, fetched_at=fetched_at)


# -- windows ---------------------------------------------------------------------------------------


def _is_window_key(key: str) -> bool:
    return key in (SESSION_ID, WEEKLY_ID) or key.startswith(SCOPED_PREFIX)


def _looks_like_window(key: str, value: object) -> bool:
    """Codename keys count only as objects with a `utilization`. A known window key counts in any
    shape, so a broken one is logged, except objects that are clearly something else
    (`seven_day_breakdown` is a table with rows, no utilization, no resets_at)."""
    if isinstance(value, dict):
        return "utilization" in value or (_is_window_key(key) and "resets_at" in value)
    return _is_window_key(key)


def _window_from_flat(key: str, value: object) -> UsageWindow:
    if not isinstance(value, dict):
        raise _Malformed(f"a JSON {_json_type(value)}, not an object")
    percent = _percent(value.get("utilization"), "utilization")
    resets_at = _resets_at(value.get("resets_at"))
    kind: WindowKind
    if key == SESSION_ID:
        kind, label = "session", "Session (5h)"
    elif key == WEEKLY_ID:
        kind, label = "weekly", "Weekly"
    elif key.startswith(SCOPED_PREFIX) and len(key) > len(SCOPED_PREFIX):
        suffix = key[len(SCOPED_PREFIX):]
        kind, label = "weekly_scoped", "Weekly · " + _SCOPED_NAMES.get(suffix, humanise(suffix))
    else:
        # Codename keys (nimbus_quill, tangelo, ...): a real window once it has numbers; shown
        # under its humanised key rather than dropped.
        kind, label = "other", humanise(key)
    return UsageWindow(
        id=key,
        label=label,
        percent=percent,
        resets_at=resets_at,
        severity=_severity(value.get("severity")),
        active=value.get("is_active") is True,
        locked_reason=_locked_reason(value.get("locked_reason")),
        kind=kind,
    )


def _window_from_limit(item: object) -> UsageWindow:
    if not isinstance(item, dict):
        raise _Malformed(f"a JSON {_json_type(item)}, not an object")
    kind = item.get("kind")
    if not isinstance(kind, str) or not kind:
        raise _Malformed("no kind")
    percent = _percent(item.get("percent"), "percent")
    resets_at = _resets_at(item.get("resets_at"))
    scope_name = _scope_display_name(item.get("scope"))
    our_kind: WindowKind
    if kind == "session":
        window_id, label, our_kind = SESSION_ID, "Session (5h)", "session"
    elif kind == "weekly_all":
        window_id, label, our_kind = WEEKLY_ID, "Weekly", "weekly"
    elif kind == "weekly_scoped":
        if scope_name is None:
            raise _Malformed("weekly_scoped without scope.model.display_name")
        # The same id as the flat key, so a scoped "Opus" and seven_day_opus are one window.
        window_id = SCOPED_PREFIX + slug(scope_name)
        label, our_kind = "Weekly · " + scope_name, "weekly_scoped"
    else:
        # A kind we have not seen yet: show it under its name rather than drop real numbers.
        window_id = slug(kind) + ("_" + slug(scope_name) if scope_name else "")
        label = humanise(kind) + (" · " + scope_name if scope_name else "")
        our_kind = "other"
    if not slug(kind):
        raise _Malformed(f"no usable name for kind {kind!r}")
    return UsageWindow(
        id=window_id,
        label=label,
        percent=percent,
        resets_at=resets_at,
        severity=_severity(item.get("severity")),
        active=item.get("is_active") is True,
        locked_reason=_locked_reason(item.get("locked_reason")),
        kind=our_kind,
    )


def _scope_display_name(scope: object) -> str | None:
    if not isinstance(scope, dict):
        return None
    model = scope.get("model")
    if not isinstance(model, dict):
        return None
    name = model.get("display_name")
    if isinstance(name, str) and name.strip() and slug(name):
        return " ".join(name.split())
    return None


def _percent(value: object, field: str) -> float:
    # Percentages 0..100, never fractions; above 100 in overage is kept raw. bool is an int in
    # Python, but `true` is not a percentage.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _Malformed(f"{field} is {_json_type(value)}, not a number")
    try:
        number = float(value)
    except OverflowError:  # a huge JSON integer
        raise _Malformed(f"{field} out of range") from None
    if not math.isfinite(number) or number < 0:
        raise _Malformed(f"{field} {number} is not a percentage")
    return number


def _severity(value: object) -> Severity | None:
    return value if is_severity(value) else None


def _locked_reason(value: object) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _resets_at(value: object) -> datetime | None:
    """None = the window has not started ("not started"); a malformed value skips the window
    because showing "not started" for it would be wrong."""
    if value is None:
        return None
    if isinstance(value, str):
        parsed = parse_timestamp(value)
        if parsed is None:
            raise _Malformed(f"resets_at {value[:40]!r} is not an ISO-8601 time")
        return parsed
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        # Epoch seconds, as the statusline feed sends them; tolerated here too.
        try:
            return datetime.fromtimestamp(float(value), tz=timezone.utc)
        except (OverflowError, OSError, ValueError):
            raise _Malformed("resets_at out of range") from None
    raise _Malformed(f"resets_at is {_json_type(value)}")


def parse_timestamp(text: str) -> datetime | None:
    """ISO-8601 with `Z`, an offset, and any number of fraction digits (Python 3.10's
    fromisoformat accepts neither `Z` nor 7+ digits). No offset = UTC. None if unparseable."""
    match = _ISO_DATETIME.match(text.strip())
    if not match:
        return None
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    tz = timezone.utc
    if offset and offset not in ("Z", "z"):
        sign = -1 if offset[0] == "-" else 1
        digits = offset[1:].replace(":", "")
        hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
        if hours > 23 or minutes > 59:
            return None
        tz = timezone(sign * timedelta(hours=hours, minutes=minutes))
    try:
        return datetime(int(year), int(month), int(day), int(hour), int(minute),
                        int(second or 0), micro, tzinfo=tz)
    except ValueError:  # month 13, second 61, ...
        return None


# -- extra usage -----------------------------------------------------------------------------------


def _extra_usage(body: dict[str, Any]) -> ExtraUsage | None:
    """`extra_usage` (money in minor units / 10**decimal_places), else the same money in `spend`."""
    spend = None
    try:
        spend = _from_spend(body.get("spend"))
    except _Malformed as why:
        log.debug("skipping spend: %s", why)
    try:
        extra = _from_extra_usage(body.get("extra_usage"))
    except _Malformed as why:
        log.debug("skipping extra_usage: %s", why)
        extra = None
    if extra is None:
        return spend
    if extra.currency is None and spend is not None and spend.currency is not None:
        extra = ExtraUsage(extra.enabled, extra.used, extra.limit, spend.currency, extra.percent)
    return extra


def _from_extra_usage(value: object) -> ExtraUsage | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _Malformed(f"a JSON {_json_type(value)}, not an object")
    enabled = value.get("is_enabled")
    if not isinstance(enabled, bool):
        raise _Malformed("is_enabled is not true/false")
    places = value.get("decimal_places")
    if isinstance(places, bool) or not isinstance(places, int) or not 0 <= places <= 8:
        places = 2  # the documented default
    used = _money(value.get("used_credits"), places)
    limit = _money(value.get("monthly_limit"), places)
    percent = _optional_percent(value.get("utilization"))
    if percent is None and used is not None and limit:
        percent = used / limit * 100
    return ExtraUsage(enabled=enabled, used=used, limit=limit,
                      currency=_currency(value.get("currency")), percent=percent)


def _from_spend(value: object) -> ExtraUsage | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _Malformed(f"a JSON {_json_type(value)}, not an object")
    used, used_currency = _amount(value.get("used"))
    limit, limit_currency = _amount(value.get("limit"))
    enabled = value.get("enabled")
    if not isinstance(enabled, bool):
        raise _Malformed("enabled is not true/false")
    percent = _optional_percent(value.get("percent"))
    if percent is None and used is not None and limit:
        percent = used / limit * 100
    return ExtraUsage(enabled=enabled, used=used, limit=limit,
                      currency=used_currency or limit_currency, percent=percent)


def _amount(value: object) -> tuple[float | None, str | None]:
    """`{amount_minor, currency, exponent}` -> (major units, currency)."""
    if not isinstance(value, dict):
        return None, None
    exponent = value.get("exponent")
    if isinstance(exponent, bool) or not isinstance(exponent, int) or not 0 <= exponent <= 8:
        exponent = 2
    return _money(value.get("amount_minor"), exponent), _currency(value.get("currency"))


def _money(minor: object, places: int) -> float | None:
    if isinstance(minor, bool) or not isinstance(minor, (int, float)):
        return None
    try:
        amount = float(minor) / 10**places
    except OverflowError:
        return None
    return amount if math.isfinite(amount) else None


def _optional_percent(value: object) -> float | None:
    try:
        return _percent(value, "percent")
    except _Malformed:
        return None


def _currency(value: object) -> str | None:
    if isinstance(value, str) and re.fullmatch(r"[A-Za-z]{3}", value):
        return value.upper()
    return None


# -- names -----------------------------------------------------------------------------------------


def humanise(key: str) -> str:
    """"nimbus_quill" -> "Nimbus quill"."""
    words = " ".join(key.replace("_", " ").replace("-", " ").split())
    return words[:1].upper() + words[1:]


def slug(name: str) -> str:
    """"Opus" -> "opus", "OAuth apps" -> "oauth_apps" (the flat key's spelling)."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__
