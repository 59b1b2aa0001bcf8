"""One reading for every tool (pure: plain values in, plain values out; no threads, no I/O).

Two producers, one reading:
- the usage endpoint (the poller): every window, extra usage; it costs a request;
- Claude Code's statusline input (`claude-tray statusline` hands it to the tray): the session
  and weekly windows only, free, fresh on every turn, percent capped at 100.
`merge` combines them: the statusline's two windows replace the endpoint's when they are newer,
except that a capped 100 never replaces a higher endpoint value of the same cycle (overage is
real); per-model windows and extra usage always stay from the endpoint.

Every consumer reads the result: the running tray publishes `document(...)` as `reading.json`
in the runtime dir and answers the `reading` control command with it; `status`, `watch`, the
panel formats and the statusline read it back (`reading_from_document`) instead of asking the
endpoint themselves. The document never holds a token (nothing here ever sees one).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, get_args

from tray_monitor.model import ExtraUsage, Reading, UsageWindow, WindowKind
from tray_monitor.parse import SESSION_LABEL, WEEKLY_LABEL

if TYPE_CHECKING:
    from tray_monitor.state import MonitorState
    from tray_monitor.view import View

SESSION_ID = "five_hour"
WEEKLY_ID = "seven_day"
#: What the statusline can carry, with the label and kind parse.py gives the same windows.
FED_WINDOWS: dict[str, tuple[str, WindowKind]] = {SESSION_ID: (SESSION_LABEL, "session"),
                                                  WEEKLY_ID: (WEEKLY_LABEL, "weekly")}
#: resets_at values closer than this are the same window cycle (as alerts.CYCLE_TOLERANCE).
SAME_CYCLE = timedelta(minutes=5)
#: A statusline reading stamped further ahead than this is taken as stamped now (clock skew).
FUTURE_SLACK = timedelta(seconds=60)
DOCUMENT_VERSION = 1
#: Set in documents whose file's mtime is the endpoint's last answer (tray_reading.ReadingPublisher).
#: A reader uses the mtime only then: an older tray wrote the file at any change (a failed poll
#: too), so its mtime says when it was written, not when its numbers were confirmed.
MTIME_IS_ENDPOINT_AT = "mtime_is_endpoint_at"
SOURCE_ENDPOINT = "endpoint"
SOURCE_STATUSLINE = "statusline"


@dataclass(frozen=True)
class FedWindow:
    id: str  # SESSION_ID or WEEKLY_ID
    percent: float  # as Claude Code sent it: rounded to 0.1, capped at 100
    resets_at: datetime | None


@dataclass(frozen=True)
class FedReading:
    """The two windows one statusline run handed over, and when."""

    at: datetime
    windows: tuple[FedWindow, ...]
    config_dir: str | None = None  # the Claude Code login they belong to (None: not said)


class BadFeed(ValueError):
    """The statusline's message could not be read (one sentence)."""


def _epoch(value: object) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    from tray_monitor.parse import parse_timestamp

    # The same reading of a time as the endpoint's: None far from year 1 and 9999 (no overflow later).
    return parse_timestamp(value)


def parse_feed(text: str, now: datetime) -> FedReading:
    """The `statusline {json}` control message (statusline.feed_message) as a FedReading."""
    try:
        body = json.loads(text)
    except ValueError:
        raise BadFeed("the statusline reading is not JSON") from None
    if not isinstance(body, dict) or not isinstance(body.get("windows"), dict):
        raise BadFeed("the statusline reading has no windows")
    at = _epoch(body.get("at")) or now
    if at > now + FUTURE_SLACK:
        at = now
    windows = []
    for window_id in FED_WINDOWS:
        pair = body["windows"].get(window_id)
        if not isinstance(pair, list) or len(pair) != 2:
            continue
        percent = pair[0]
        if isinstance(percent, bool) or not isinstance(percent, (int, float)) or not math.isfinite(percent) \
                or percent < 0:
            continue
        windows.append(FedWindow(window_id, float(percent), _epoch(pair[1])))
    if not windows:
        raise BadFeed("the statusline reading has no usable window")
    config_dir = body.get("config_dir") if isinstance(body.get("config_dir"), str) else None
    return FedReading(at, tuple(windows), config_dir)


def _same_cycle(a: datetime | None, b: datetime | None) -> bool:
    if a is None or b is None:
        return a is b
    return abs(a - b) <= SAME_CYCLE


def merge(endpoint: Reading | None, fed: FedReading | None) -> tuple[Reading | None, frozenset[str]]:
    """The reading every front end shows, and the ids of the windows taken from the statusline."""
    if fed is None or (endpoint is not None and fed.at <= endpoint.fetched_at):
        return endpoint, frozenset()  # the endpoint's answer is the newer one
    windows = list(endpoint.windows) if endpoint is not None else []
    taken: set[str] = set()
    for new in fed.windows:
        index = next((i for i, w in enumerate(windows) if w.id == new.id), None)
        old = windows[index] if index is not None else None
        resets_at = new.resets_at if new.resets_at is not None else (old.resets_at if old else None)
        same_cycle = old is not None and _same_cycle(old.resets_at, resets_at)
        if old is not None and same_cycle and new.percent >= 100 and old.percent > new.percent:
            continue  # Claude Code caps at 100; the endpoint's overage value of this cycle is the truer one
        label, kind = FED_WINDOWS[new.id]
        window = UsageWindow(
            id=new.id,
            label=old.label if old is not None else label,
            percent=new.percent,
            resets_at=resets_at,
            severity=None,  # the server's severity belonged to its own (older) percent
            active=old.active if old is not None else False,
            locked_reason=old.locked_reason if old is not None and same_cycle else None,
            kind=old.kind if old is not None else kind,
        )
        if index is None:
            windows.insert(len([w for w in windows if w.id in FED_WINDOWS]), window)
        else:
            windows[index] = window
        taken.add(new.id)
    if not taken:
        return endpoint, frozenset()
    fetched_at = max(endpoint.fetched_at, fed.at) if endpoint is not None else fed.at
    if endpoint is not None:  # its skipped count and notices stay with it
        return replace(endpoint, windows=tuple(windows), fetched_at=fetched_at), frozenset(taken)
    return Reading(tuple(windows), None, fetched_at), frozenset(taken)


# ----------------------------------------------------------------------------- the document


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def document(state: MonitorState, v: View, now: datetime) -> dict[str, Any]:
    """What the running tray publishes: every window with its source and the time its value was
    read, extra usage, status and message. `written_at` is left to the writer (`stamped`), so two
    documents of the same reading compare equal."""
    from tray_monitor.view import severity_of

    reading = state.reading
    endpoint_at = state.endpoint_reading.fetched_at if state.endpoint_reading is not None else None
    statusline_at = state.statusline.at if state.statusline is not None else None
    windows = []
    if reading is not None:
        for w in reading.windows:
            fed = w.id in state.statusline_ids and statusline_at is not None
            windows.append({
                "id": w.id,
                "label": w.label,
                "kind": w.kind,
                "percent": w.percent,
                "resets_at": _iso(w.resets_at),
                "severity": severity_of(w),
                "active": w.active,
                "locked_reason": w.locked_reason,
                "reset_unknown": w.reset_unknown,
                "used_dollars": w.used_dollars,
                "limit_dollars": w.limit_dollars,
                "source": SOURCE_STATUSLINE if fed else SOURCE_ENDPOINT,
                "fetched_at": _iso(statusline_at if fed else (endpoint_at or reading.fetched_at)),
            })
    extra = reading.extra_usage if reading is not None else None
    return {
        "version": DOCUMENT_VERSION,
        MTIME_IS_ENDPOINT_AT: True,
        "status": v.status,
        "message": v.message,
        "plan": state.plan,
        "updated_at": _iso(reading.fetched_at) if reading is not None else None,
        "endpoint_at": _iso(endpoint_at),
        "statusline_at": _iso(statusline_at),
        "next_poll_at": _iso(state.next_poll_at),
        "interval": state.interval,
        "simulated": state.simulated,
        "windows": windows,
        "skipped_windows": reading.skipped if reading is not None else 0,
        "notices": list(reading.notices) if reading is not None else [],
        "extra_usage": None if extra is None else {
            "enabled": extra.enabled, "used": extra.used, "limit": extra.limit,
            "currency": extra.currency, "percent": extra.percent,
            "decimal_places": extra.places, "disabled_reason": extra.disabled_reason,
        },
    }


#: The document's times that move when a new endpoint answer only confirms what it says.
_ENDPOINT_TIMES = ("updated_at", "endpoint_at", "next_poll_at")


def _what_it_says(doc: dict[str, Any]) -> dict[str, Any]:
    """The document without the endpoint's times (its answer's time, the next poll's, and the
    `fetched_at` of the windows it gave)."""
    windows = doc.get("windows")
    return {**{k: v for k, v in doc.items() if k not in _ENDPOINT_TIMES},
            "windows": [{**w, "fetched_at": None} if isinstance(w, dict) and w.get("source") == SOURCE_ENDPOINT else w
                        for w in windows] if isinstance(windows, list) else windows}


def says_the_same(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """`new` says what `old` says: only the endpoint's times moved (a new answer with the same
    numbers, or just a new next-poll time). The shared file is then not rewritten
    (tray_reading.ReadingPublisher): a newer `endpoint_at` is carried by the file's mtime alone."""
    return _what_it_says(old) == _what_it_says(new)


def stamped(doc: dict[str, Any], now: datetime) -> str:
    return json.dumps({**doc, "written_at": now.isoformat()}, ensure_ascii=False)


@dataclass(frozen=True)
class SharedReading:
    """A document read back by another process."""

    reading: Reading | None
    status: str
    message: str | None
    plan: str | None
    interval: float
    sources: dict[str, str]  # window id -> "endpoint" | "statusline"
    next_poll_at: datetime | None
    endpoint_at: datetime | None = None  # when the endpoint last answered the tray
    simulated: bool = False

    def age(self, now: datetime) -> timedelta | None:
        return now - self.reading.fetched_at if self.reading is not None else None


def _time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def _float(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def reading_from_document(text: str) -> SharedReading:
    """The tray's document back as values; raises BadFeed when it is not one."""
    from tray_monitor.model import is_severity

    try:
        doc = json.loads(text)
    except ValueError:
        raise BadFeed("the running tray's reading is not JSON") from None
    if not isinstance(doc, dict) or doc.get("version") != DOCUMENT_VERSION or not isinstance(doc.get("windows"), list):
        raise BadFeed("the running tray's reading has an unknown shape")
    updated_at = _time(doc.get("updated_at"))
    windows: list[UsageWindow] = []
    sources: dict[str, str] = {}
    for item in doc["windows"]:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            continue
        percent = _float(item.get("percent"))
        if percent is None:
            continue
        severity = item.get("severity")
        windows.append(UsageWindow(
            id=item["id"],
            label=item["label"] if isinstance(item.get("label"), str) else item["id"],
            percent=percent,
            resets_at=_time(item.get("resets_at")),
            # the tray's severity already folds in the server's own; keep it as the server's
            severity=severity if is_severity(severity) else None,
            active=item.get("active") is True,
            locked_reason=item["locked_reason"] if isinstance(item.get("locked_reason"), str) else None,
            kind=item["kind"] if item.get("kind") in get_args(WindowKind) else "other",
            reset_unknown=item.get("reset_unknown") is True,
            used_dollars=_float(item.get("used_dollars")),
            limit_dollars=_float(item.get("limit_dollars")),
        ))
        source = item.get("source")
        sources[item["id"]] = source if isinstance(source, str) and source == SOURCE_STATUSLINE else SOURCE_ENDPOINT
    extra = doc.get("extra_usage")
    extra_usage = None
    if isinstance(extra, dict):
        extra_usage = ExtraUsage(
            enabled=extra.get("enabled") is True,
            used=_float(extra.get("used")),
            limit=_float(extra.get("limit")),
            currency=extra["currency"] if isinstance(extra.get("currency"), str) else None,
            percent=_float(extra.get("percent")),
            places=places if type(places := extra.get("decimal_places")) is int and 0 <= places <= 8 else 2,
            disabled_reason=extra["disabled_reason"] if isinstance(extra.get("disabled_reason"), str) else None,
        )
    skipped = doc.get("skipped_windows")
    notices = doc.get("notices")
    reading = Reading(tuple(windows), extra_usage, updated_at,
                      skipped=skipped if type(skipped) is int and skipped > 0 else 0,
                      notices=tuple(n for n in notices if isinstance(n, str)) if isinstance(notices, list) else (),
                      ) if updated_at is not None else None
    status = doc.get("status")
    if not isinstance(status, str):
        status = "error"
    return SharedReading(
        reading=reading,
        status=status,
        message=doc["message"] if isinstance(doc.get("message"), str) else None,
        plan=doc["plan"] if isinstance(doc.get("plan"), str) else None,
        interval=_float(doc.get("interval")) or 120.0,
        sources=sources,
        next_poll_at=_time(doc.get("next_poll_at")),
        endpoint_at=_time(doc.get("endpoint_at")),
        simulated=doc.get("simulated") is True,
    )


def with_reading(state: MonitorState, endpoint: Reading | None, fed: FedReading | None) -> MonitorState:
    """The state with both producers' latest values and their merge."""
    reading, ids = merge(endpoint, fed)
    return replace(state, endpoint_reading=endpoint, statusline=fed, reading=reading, statusline_ids=ids)
