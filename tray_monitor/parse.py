"""The usage endpoint's JSON body -> one `Reading` (pure: no I/O, no threads, no requests).

The endpoint is undocumented and changes shape, so every part is optional. What is shown follows
three rules:
- never understate: every window whose percent can be read is shown (numbers and numeric strings,
  flat keys and `limits[]` rows, names in any script); a window's unreadable reset time makes only
  the reset time unknown, never the window disappear;
- never silent: a window that is there but cannot be read (its percent is not a number, negative,
  or above 10 000) is counted in `Reading.skipped`, which every front end shows;
- one id per window: unique and stable for any name (see `window_id`), so two names never merge
  and alert memory / the pinned icon window follow the same window from poll to poll.
A body without any of the keys a reading has (Claude Code's own test) is an in-band error, and a
body with nothing usable at all is a `BadResponse`: the caller keeps its last good reading
instead of blanking the display.
"""
from __future__ import annotations

import hashlib
import logging
import math
import re
import unicodedata
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from functools import partial
from typing import Any

from tray_monitor.errors import BadResponse, InBandError
from tray_monitor.fmt import clean_text
from tray_monitor.model import ExtraUsage, Reading, Severity, UsageWindow, WindowKind, is_severity

log = logging.getLogger("tray_monitor.parse")

SESSION_ID = "five_hour"
WEEKLY_ID = "seven_day"
SCOPED_PREFIX = "seven_day_"

#: Window names as Claude Code's own `/usage` shows them, so the two can be compared line by line.
SESSION_LABEL = "Current session"
WEEKLY_LABEL = "Current week (all models)"
SCOPED_LABEL = "Current week ({})"
CINDER_COVE_LABEL = "Claude Code and Cowork credit"

#: Keys of which a reading carries at least one (what Claude Code 2.1.332 itself accepts as a
#: reading); anything else is an error answered in-band with HTTP 200.
READING_KEYS = frozenset({SESSION_ID, WEEKLY_ID, "limits", "extra_usage", "cinder_cove", "wattle_ember",
                          "promo_credits"})

# Keys of the body that hold something other than a usage window.
_NOT_WINDOWS = frozenset({"limits", "extra_usage", "spend", "promo_credits"})

# Suffixes of flat `seven_day_*` keys whose plain humanised name would read wrong (Claude Code
# says "Current week (Sonnet only)").
SCOPED_NAMES = {"oauth_apps": "OAuth apps", "sonnet": "Sonnet only"}

# Display order: session, weekly, per-model/product weeklies, credits, anything else.
_KIND_ORDER = {"session": 0, "weekly": 1, "weekly_scoped": 2, "credit": 3, "other": 4}

#: A percent above this is not a percent (1e308 was once printed as a 309-digit number).
MAX_PERCENT = 10_000.0
#: Epoch numbers at or above this are milliseconds (10^11 s is the year 5138).
EPOCH_MS_FROM = 1e11
#: A reset time further than this from the reading is treated as unknown: no window lasts years,
#: and every later computation (local time, countdowns, the next poll) stays far from year 1/9999.
MAX_RESET_DISTANCE = timedelta(days=3660)

_NUMBER = re.compile(r"\s*\+?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\s*%?\s*")
_EPOCH_TEXT = re.compile(r"\s*\d{9,16}(?:\.\d+)?\s*")
_ISO_DATETIME = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?"
    r"\s*(Z|z|[+-]\d{2}(?::?\d{2})?|UTC|utc|GMT|gmt)?$"
)
_PLAIN_NAME = re.compile(r"[a-z0-9]+(?: [a-z0-9]+)*")


class _Malformed(Exception):
    """One window (or the extra-usage block) is unusable; skip it, keep the rest."""


class _NoNumber(Exception):
    """The server sent a window without a number (utilization null): hidden, as Claude Code does."""


def parse_usage(body: object, fetched_at: datetime) -> Reading:
    """Turn a decoded JSON body into a de-duplicated, ordered Reading; raises BadResponse."""
    if not isinstance(body, dict):
        raise BadResponse(
            f"The usage endpoint answered with a JSON {_json_type(body)} instead of an object: "
            "claude-tray keeps the last reading and tries again later."
        )
    if not any(isinstance(key, str) and (key in READING_KEYS or key.startswith(SCOPED_PREFIX)) for key in body):
        raise _in_band_error(body)

    found = _Windows()

    # limits[] (mid-2026 on) is preferred: it carries severity and is_active, and per-model caps
    # such as "Fable" appear only there.
    limits = body.get("limits")
    if isinstance(limits, list):
        for index, item in enumerate(limits):
            found.take(f"limits[{index}]", partial(_window_from_limit, item, fetched_at), from_limits=True)
    elif limits is not None:
        log.info("ignoring limits: a JSON %s, not a list", _json_type(limits))

    for key, value in body.items():
        if key in _NOT_WINDOWS or not isinstance(key, str) or value is None:
            continue
        if not _looks_like_window(key, value):
            continue  # member_dashboard_available, seven_day_breakdown, ...: not a window
        found.take(key, partial(_window_from_flat, key, value, fetched_at), from_limits=False)

    notices: list[str] = []
    promos = body.get("promo_credits")
    if isinstance(promos, list):
        for index, item in enumerate(promos):
            found.take(f"promo_credits[{index}]", partial(_window_from_promo, item, fetched_at),
                       from_limits=False, distinct=True)
            notice = _text(item.get("notice")) if isinstance(item, dict) else None
            if notice and notice not in notices:
                notices.append(notice)
    elif promos is not None:
        found.skip("promo_credits", f"a JSON {_json_type(promos)}, not a list")

    ordered = tuple(sorted(found.windows.values(), key=lambda w: _KIND_ORDER.get(w.kind, 4)))
    # sorted() is stable: within a kind, the server's order is kept

    extra_usage = _extra_usage(body)

    if not ordered:
        # Decision for a body with no usable window (every window null or unreadable): show it only
        # when extra usage is switched on, because pay-as-you-go credit is then the one thing the
        # user can act on. Otherwise it is most likely a transient glitch (a brand-new account
        # still gets `five_hour` with utilization 0 and resets_at null), so it is a BadResponse and
        # the caller keeps the last good reading rather than blanking the display.
        if extra_usage is None or not extra_usage.enabled:
            unread = f" ({found.skipped} could not be read)" if found.skipped else ""
            raise BadResponse(
                f"The usage endpoint answered without any usage window{unread}: "
                "claude-tray keeps the last reading and tries again later."
            )
    return Reading(windows=ordered, extra_usage=extra_usage, fetched_at=fetched_at,
                   skipped=found.skipped, notices=tuple(notices))


def _in_band_error(body: dict[str, Any]) -> InBandError:
    error = body.get("error")
    kind = None
    if isinstance(error, dict):
        kind = _text(error.get("type"), limit=60)
    elif isinstance(error, str):
        kind = _text(error, limit=60)
    if kind or "error" in body:
        return InBandError(f"The usage endpoint answered with an error instead of a reading ({kind or 'no type'}): "
                           "trying again later.")
    return InBandError("The usage endpoint answered without any usage data: trying again later.")


class _Windows:
    """The windows found so far, by id, in the server's order, and the count of unreadable ones."""

    def __init__(self) -> None:
        self.windows: dict[str, UsageWindow] = {}
        self.skipped = 0
        self._from_limits: set[str] = set()

    def skip(self, where: str, why: object) -> None:
        self.skipped += 1
        log.info("could not read %s: %s", where, why)

    def take(self, where: str, build: Callable[[], UsageWindow], from_limits: bool, distinct: bool = False) -> None:
        try:
            window = build()
        except _NoNumber:
            log.debug("%s has no number; hidden", where)
            return
        except _Malformed as why:
            self.skip(where, why)
            return
        kept = self.windows.get(window.id)
        if kept is None:
            self.windows[window.id] = window
            if from_limits:
                self._from_limits.add(window.id)
            return
        if distinct or (from_limits and window.kind == "other"):
            # Rows of a kind we do not know (and credit rows) are never merged: the same name twice
            # is shown twice, numbered in the server's order.
            number = 2
            while f"{window.id}~{number}" in self.windows:
                number += 1
            window = replace(window, id=f"{window.id}~{number}")
            self.windows[window.id] = window
            return
        # The same window twice: limits[] and its flat key (session = five_hour, weekly_all =
        # seven_day, a scoped "Opus" = seven_day_opus), or a row repeated. Keep the first one's
        # fields (limits[] carries severity and is_active), but never the lower number, and the
        # flat object is the only one that carries locked_reason.
        merged = kept
        if window.percent > kept.percent:
            merged = replace(merged, percent=window.percent, resets_at=window.resets_at,
                             reset_unknown=window.reset_unknown)
        if merged.locked_reason is None and window.locked_reason is not None:
            merged = replace(merged, locked_reason=window.locked_reason)
        if window.active and not merged.active:
            merged = replace(merged, active=True)
        self.windows[window.id] = merged


# -- windows ---------------------------------------------------------------------------------------


def _is_window_key(key: str) -> bool:
    return key in (SESSION_ID, WEEKLY_ID, "cinder_cove", "wattle_ember") or key.startswith(SCOPED_PREFIX)


def _looks_like_window(key: str, value: object) -> bool:
    """Codename keys count only as objects with a `utilization`. A known window key counts in any
    shape, so a broken one is counted, except objects that are clearly something else
    (`seven_day_breakdown` is a table with rows, no utilization, no resets_at)."""
    if isinstance(value, dict):
        return "utilization" in value or (_is_window_key(key) and "resets_at" in value)
    return _is_window_key(key)


def _window_from_flat(key: str, value: object, fetched_at: datetime) -> UsageWindow:
    if not isinstance(value, dict):
        raise _Malformed(f"a JSON {_json_type(value)}, not an object")
    percent = _percent(value.get("utilization"), "utilization")
    resets_at, reset_unknown = _resets_at(value.get("resets_at"), fetched_at)
    used_dollars = limit_dollars = None
    kind: WindowKind
    if key == SESSION_ID:
        window_id, kind, label = SESSION_ID, "session", SESSION_LABEL
    elif key == WEEKLY_ID:
        window_id, kind, label = WEEKLY_ID, "weekly", WEEKLY_LABEL
    elif key.startswith(SCOPED_PREFIX) and len(key) > len(SCOPED_PREFIX):
        suffix = key[len(SCOPED_PREFIX):]
        name = SCOPED_NAMES.get(suffix) or humanise(suffix) or "unnamed"
        window_id = SCOPED_PREFIX + window_id_for(suffix.replace("_", " "))
        kind, label = "weekly_scoped", SCOPED_LABEL.format(name)
    elif key in ("cinder_cove", "wattle_ember"):
        # Credit rows Claude Code shows with their own names (wattle_ember: its `label`) and dollars.
        window_id, kind = key, "credit"
        label = CINDER_COVE_LABEL if key == "cinder_cove" else (_text(value.get("label")) or humanise(key))
        used_dollars, limit_dollars = _dollars(value.get("used_dollars")), _dollars(value.get("limit_dollars"))
    else:
        # Codename keys (nimbus_quill, tangelo, ...): a real window once it has numbers; shown
        # under its humanised key rather than dropped.
        window_id, kind, label = window_id_for(key.replace("_", " ")), "other", humanise(key) or "Unnamed limit"
    return UsageWindow(
        id=window_id,
        label=label,
        percent=percent,
        resets_at=resets_at,
        severity=_severity(value.get("severity")),
        active=value.get("is_active") is True,
        locked_reason=_locked_reason(value.get("locked_reason")),
        kind=kind,
        reset_unknown=reset_unknown,
        used_dollars=used_dollars,
        limit_dollars=limit_dollars,
    )


def _window_from_limit(item: object, fetched_at: datetime) -> UsageWindow:
    if not isinstance(item, dict):
        raise _Malformed(f"a JSON {_json_type(item)}, not an object")
    percent = _percent(item.get("percent"), "percent")
    resets_at, reset_unknown = _resets_at(item.get("resets_at"), fetched_at)
    kind = item.get("kind")
    scope_name = _scope_display_name(item.get("scope"))
    our_kind: WindowKind
    if kind == "session":
        window_id, label, our_kind = SESSION_ID, SESSION_LABEL, "session"
    elif kind == "weekly_all":
        window_id, label, our_kind = WEEKLY_ID, WEEKLY_LABEL, "weekly"
    elif kind == "weekly_scoped" and scope_name is not None:
        # The same id as the flat key, so a scoped "Opus" and seven_day_opus are one window.
        window_id = SCOPED_PREFIX + window_id_for(scope_name)
        label, our_kind = SCOPED_LABEL.format(_text(scope_name) or "unnamed"), "weekly_scoped"
    else:
        # A kind we have not seen yet (or a scoped row without a name): show it under its name
        # rather than drop real numbers.
        kind_name = kind if isinstance(kind, str) and kind.strip() else "limit"
        window_id = window_id_for(kind_name.replace("_", " "))
        label = humanise(kind_name) or "Limit"
        if scope_name is not None:
            window_id += "." + window_id_for(scope_name)
            label += f" ({_text(scope_name) or 'unnamed'})"
        our_kind = "other"
    return UsageWindow(
        id=window_id,
        label=label,
        percent=percent,
        resets_at=resets_at,
        severity=_severity(item.get("severity")),
        active=item.get("is_active") is True,
        locked_reason=_locked_reason(item.get("locked_reason")),
        kind=our_kind,
        reset_unknown=reset_unknown,
    )


def _window_from_promo(item: object, fetched_at: datetime) -> UsageWindow:
    """A `promo_credits[]` row: {label, utilization, resets_at, used_dollars, limit_dollars, notice}."""
    if not isinstance(item, dict):
        raise _Malformed(f"a JSON {_json_type(item)}, not an object")
    percent = _percent(item.get("utilization"), "utilization")
    resets_at, reset_unknown = _resets_at(item.get("resets_at"), fetched_at)
    label = _text(item.get("label")) or "Promotional credit"
    return UsageWindow(
        id="promo_" + window_id_for(label),
        label=label,
        percent=percent,
        resets_at=resets_at,
        severity=_severity(item.get("severity")),
        kind="credit",
        reset_unknown=reset_unknown,
        used_dollars=_dollars(item.get("used_dollars")),
        limit_dollars=_dollars(item.get("limit_dollars")),
    )


def _scope_display_name(scope: object) -> str | None:
    """`scope.model.display_name`, else `scope.surface.display_name` (a row scoped to a product,
    e.g. Claude Code, rather than a model); the raw text (ids are made from it, labels clean it)."""
    if not isinstance(scope, dict):
        return None
    for part in ("model", "surface"):
        holder = scope.get(part)
        if isinstance(holder, dict):
            name = holder.get("display_name")
            if isinstance(name, str) and name.strip():
                return name
    return None


def window_id_for(name: str) -> str:
    """A window id for a name in any script, unique per name and the same on every poll.

    Names are compared as a person would: Unicode-normalised (NFKC), case-folded, runs of spaces
    collapsed. A plain name (letters a-z, digits, single spaces) keeps its readable slug, the
    spelling of the flat key ("Opus" -> "opus", "OAuth apps" -> "oauth_apps"), so a scoped limit
    and its flat key stay one window and ids written by earlier versions stay valid. Any other name
    gets the slug of its ASCII letters and digits plus a hash of the whole name after a "-"
    ("X-2" -> "x_2-…", "Opus α" -> "opus-…", "ファブル" -> "name-…"). A plain slug never holds a
    "-", so the two families never collide, and two different names collide only if their
    SHA-256 agree in the first 40 bits.
    """
    identity = " ".join(unicodedata.normalize("NFKC", name).casefold().split())
    if _PLAIN_NAME.fullmatch(identity):
        return identity.replace(" ", "_")
    digest = hashlib.sha256(identity.encode("utf-8", "surrogatepass")).hexdigest()[:10]
    return f"{slug(identity) or 'name'}-{digest}"


def _percent(value: object, field: str) -> float:
    """Percentages 0..100, never fractions; above 100 in overage is kept raw; a numeric string
    ("78", "47.5", "78%") is the number it spells."""
    if value is None:
        raise _NoNumber()
    if isinstance(value, str) and _NUMBER.fullmatch(value):
        value = value.strip().rstrip("%")
        try:
            number = float(value)
        except (ValueError, OverflowError):
            raise _Malformed(f"{field} {value[:20]!r} is not a number") from None
    elif isinstance(value, bool) or not isinstance(value, (int, float)):
        # bool is an int in Python, but `true` is not a percentage.
        raise _Malformed(f"{field} is {_json_type(value)}, not a number")
    else:
        try:
            number = float(value)
        except OverflowError:  # a huge JSON integer
            raise _Malformed(f"{field} out of range") from None
    if not math.isfinite(number) or number < 0 or number > MAX_PERCENT:
        raise _Malformed(f"{field} {number:.6g} is not a percentage")
    return number


def _severity(value: object) -> Severity | None:
    return value if is_severity(value) else None


def _locked_reason(value: object) -> str | None:
    return _text(value) or None


def _text(value: object, limit: int | None = None) -> str | None:
    """Server text, safe to show anywhere (fmt.clean_text); None when not a string or empty."""
    if not isinstance(value, str):
        return None
    cleaned = clean_text(value) if limit is None else clean_text(value, limit)
    return cleaned or None


def _dollars(value: object) -> float | None:
    if isinstance(value, str) and _NUMBER.fullmatch(value) and "%" not in value:
        value = float(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) and abs(number) < 1e15 else None


def _resets_at(value: object, fetched_at: datetime | None) -> tuple[datetime | None, bool]:
    """(resets_at, unknown). None without `unknown` = the window has not started ("not
    started"); a value that cannot be read, or lies years away from the reading, makes only the
    reset time unknown, never the window disappear."""
    if value is None:
        return None, False
    parsed = parse_timestamp(value) if isinstance(value, (str, int, float)) else None
    if parsed is None:
        log.info("resets_at %.40r cannot be read; shown as unknown", value)
        return None, True
    if fetched_at is not None and abs(parsed - fetched_at) > MAX_RESET_DISTANCE:
        log.info("resets_at %s is years away from now; shown as unknown", parsed.isoformat())
        return None, True
    return parsed, False


def parse_timestamp(value: str | int | float) -> datetime | None:
    """A point in time the way servers write one, None if unreadable.

    ISO-8601 with `Z`/`z`, an offset or a trailing "UTC", `T`/`t`/space, any number of fraction
    digits (Python 3.10's fromisoformat accepts neither `Z` nor 7+ digits); a date alone is its
    midnight; no offset = UTC. Epoch numbers (also as strings) are seconds, or milliseconds from
    10^11 on. The result is aware and at least a day away from year 1 and year 9999, so any later
    arithmetic in any time zone stays in range."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and _EPOCH_TEXT.fullmatch(value):
        value = float(value)
    if isinstance(value, (int, float)):
        try:
            seconds = float(value)
        except OverflowError:
            return None
        if not math.isfinite(seconds):
            return None
        if abs(seconds) >= EPOCH_MS_FROM:
            seconds /= 1000.0
        try:
            parsed = datetime.fromtimestamp(seconds, tz=timezone.utc)
        except (OverflowError, OSError, ValueError):
            return None
        return parsed if _in_safe_range(parsed) else None
    match = _ISO_DATETIME.match(value.strip())
    if not match:
        return None
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    tz = timezone.utc
    if offset and offset[0] in "+-":
        sign = -1 if offset[0] == "-" else 1
        digits = offset[1:].replace(":", "")
        hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
        if hours > 23 or minutes > 59:
            return None
        tz = timezone(sign * timedelta(hours=hours, minutes=minutes))
    try:
        parsed = datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0),
                          int(second or 0), micro, tzinfo=tz)
    except ValueError:  # month 13, second 61, ...
        return None
    return parsed if _in_safe_range(parsed) else None


_SAFE_MIN = datetime(1, 1, 3, tzinfo=timezone.utc)
_SAFE_MAX = datetime(9999, 12, 29, tzinfo=timezone.utc)


def _in_safe_range(moment: datetime) -> bool:
    try:
        return _SAFE_MIN <= moment <= _SAFE_MAX
    except OverflowError:  # comparing needs UTC, which an offset can push out of range
        return False


# -- extra usage -----------------------------------------------------------------------------------

#: Currencies whose amounts Claude Code shows as sent (no minor unit) when `decimal_places` is
#: missing; every other amount it divides by 100.
ZERO_DECIMAL_CURRENCIES = frozenset({"JPY", "KRW", "VND"})

#: `extra_usage.disabled_reason` in the words Claude Code uses.
_DISABLED_REASONS = {
    "out_of_credits": "out of usage credits",
    "spend_limit_reached": "monthly spend limit reached",
    "monthly_limit_reached": "monthly spend limit reached",
    "monthly_spend_limit_reached": "monthly spend limit reached",
    "user_disabled": "usage credits are off",
    "disabled": "usage credits are off",
    "credits_disabled": "usage credits are off",
}


def _extra_usage(body: dict[str, Any]) -> ExtraUsage | None:
    """`extra_usage`, money in minor units. The `spend` block (the same money) is not read: Claude
    Code reads extra_usage only, and its background reads leave `spend` out (?skip_spend=1)."""
    try:
        return _from_extra_usage(body.get("extra_usage"))
    except _Malformed as why:
        log.info("could not read extra_usage: %s", why)
        return None


def _from_extra_usage(value: object) -> ExtraUsage | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _Malformed(f"a JSON {_json_type(value)}, not an object")
    enabled = value.get("is_enabled")
    if not isinstance(enabled, bool):
        raise _Malformed("is_enabled is not true/false")
    currency = _currency(value.get("currency"))
    places = value.get("decimal_places")
    if isinstance(places, bool) or not isinstance(places, int) or not 0 <= places <= 8:
        # Claude Code's rule without decimal_places: zero-decimal currencies as sent, else / 100.
        places = 0 if currency in ZERO_DECIMAL_CURRENCIES else 2
    used = _money(value.get("used_credits"), places)
    limit = _money(value.get("monthly_limit"), places)
    if limit is not None and limit < 0:
        limit = None  # a negative limit is no limit (it once printed "-5000%")
    try:
        percent: float | None = _percent(value.get("utilization"), "utilization")
    except (_Malformed, _NoNumber):
        percent = None
    if percent is None and used is not None and limit:
        percent = used / limit * 100
        if not math.isfinite(percent) or not 0 <= percent <= MAX_PERCENT:
            percent = None
    if limit is None:
        percent = None  # no limit, no percent
    return ExtraUsage(enabled=enabled, used=used, limit=limit, currency=currency, percent=percent,
                      places=places, disabled_reason=_disabled_reason(value))


def _disabled_reason(value: dict[str, Any]) -> str | None:
    reason = value.get("disabled_reason")
    if isinstance(reason, str) and reason.strip():
        key = reason.strip().lower()
        return _DISABLED_REASONS.get(key) or humanise(reason).lower() or None
    if value.get("spend_limit_reached") is True:
        return _DISABLED_REASONS["spend_limit_reached"]
    if value.get("user_disabled") is True:
        return _DISABLED_REASONS["user_disabled"]
    return None


def _money(minor: object, places: int) -> float | None:
    if isinstance(minor, str) and _NUMBER.fullmatch(minor) and "%" not in minor:
        minor = float(minor)
    if isinstance(minor, bool) or not isinstance(minor, (int, float)):
        return None
    try:
        amount = float(minor) / 10**places
    except OverflowError:
        return None
    return amount if math.isfinite(amount) and abs(amount) < 1e15 else None


def _currency(value: object) -> str | None:
    if isinstance(value, str) and re.fullmatch(r"[A-Za-z]{3}", value):
        return value.upper()
    return None


# -- names -----------------------------------------------------------------------------------------


def humanise(key: str) -> str:
    """"nimbus_quill" -> "Nimbus quill" (made safe to show: fmt.clean_text)."""
    words = " ".join(clean_text(key).replace("_", " ").replace("-", " ").split())
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
