"""`claude-tray history`: the last cycles of each window from the stored readings (pure: records
in, a report, text lines and JSON out).

Per window and cycle: the peak, when it reached 100 % and how long it stayed there (until a
reading below 100 %, the reset, or now for the running cycle), and the extra usage spent during it
(the climbs of the extra-usage `used` amount between its stored readings). Then the limit hits of
this week and the last (weeks start on Monday, local time).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any

from tray_monitor.fmt import format_countdown, format_money, format_percent
from tray_monitor.forecast import CYCLE_TOLERANCE, window_length
from tray_monitor.history import SpendRecord, WindowRecord
from tray_monitor.parse import SCOPED_LABEL, SCOPED_NAMES, SESSION_LABEL, WEEKLY_LABEL, humanise

CYCLES_SHOWN = 5


@dataclass(frozen=True)
class CycleSummary:
    window_id: str
    resets_at: datetime
    peak: float
    hit_full_at: datetime | None  # first reading at or above 100 %
    at_full: timedelta  # how long it stayed at 100 % or more
    extra_spent: float | None  # None: no extra-usage readings in this cycle
    currency: str | None
    running: bool  # the current cycle (its reset is still ahead)


@dataclass(frozen=True)
class WindowHistory:
    window_id: str
    label: str
    cycles: tuple[CycleSummary, ...]  # newest first


@dataclass(frozen=True)
class HistoryReport:
    windows: tuple[WindowHistory, ...]
    hits_this_week: int
    hits_last_week: int


def label_for(window_id: str) -> str:
    """The window's name as parse.py gives it, from its id alone (the history stores ids)."""
    if window_id == "five_hour":
        return SESSION_LABEL
    if window_id == "seven_day":
        return WEEKLY_LABEL
    if window_id.startswith("seven_day_"):
        suffix = window_id[len("seven_day_"):]
        return SCOPED_LABEL.format(SCOPED_NAMES.get(suffix) or humanise(suffix))
    return humanise(window_id)


def _cycles(records: Sequence[WindowRecord]) -> list[list[WindowRecord]]:
    """Consecutive readings of one window with the same resets_at (within the server's jitter)."""
    cycles: list[list[WindowRecord]] = []
    for record in records:
        if record.resets_at is None:
            continue  # not started: between cycles
        if cycles and cycles[-1][0].resets_at is not None \
                and abs(record.resets_at - cycles[-1][0].resets_at) < CYCLE_TOLERANCE:
            cycles[-1].append(record)
        else:
            cycles.append([record])
    return cycles


def _spent(spend: Sequence[SpendRecord], start: datetime, end: datetime) -> tuple[float | None, str | None]:
    before = [s for s in spend if s.at < start]
    during = [s for s in spend if start <= s.at < end]
    if not during:
        return None, None
    last = before[-1].used if before else during[0].used
    total = 0.0
    for s in during:
        if s.used is not None and last is not None and s.used > last:
            total += s.used - last
        last = s.used if s.used is not None else last
    return total, during[-1].currency


def summarise(records: Sequence[WindowRecord], spend: Sequence[SpendRecord], now: datetime, tz: tzinfo,
              cycles_shown: int = CYCLES_SHOWN) -> HistoryReport:
    by_window: dict[str, list[WindowRecord]] = {}
    for record in sorted(records, key=lambda r: r.at):
        by_window.setdefault(record.window_id, []).append(record)
    spend = sorted(spend, key=lambda s: s.at)
    all_cycles: list[CycleSummary] = []
    windows = []
    for window_id, window_records in by_window.items():
        summaries = []
        for cycle in _cycles(window_records):
            resets_at = cycle[-1].resets_at
            assert resets_at is not None  # _cycles drops not-started readings
            end = min(resets_at, now)
            hit = next((r.at for r in cycle if r.percent >= 100), None)
            at_full = timedelta(0)
            since: datetime | None = None
            for r in cycle:
                if r.percent >= 100 and since is None:
                    since = r.at
                elif r.percent < 100 and since is not None:
                    at_full += r.at - since
                    since = None
            if since is not None:
                at_full += max(timedelta(0), end - since)
            length = window_length(window_id, "")
            start = resets_at - length if length is not None else cycle[0].at
            spent, currency = _spent(spend, start, end)
            summaries.append(CycleSummary(window_id, resets_at, max(r.percent for r in cycle), hit, at_full,
                                          spent, currency, resets_at > now))
        all_cycles.extend(summaries)
        windows.append(WindowHistory(window_id, label_for(window_id), tuple(reversed(summaries[-cycles_shown:]))))
    local_now = now.astimezone(tz)
    week_start = (local_now - timedelta(days=local_now.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
    hits = [c.hit_full_at for c in all_cycles if c.hit_full_at is not None]
    return HistoryReport(
        windows=tuple(sorted(windows, key=lambda w: _order(w.window_id))),
        hits_this_week=sum(week_start <= h <= now for h in hits),
        hits_last_week=sum(week_start - timedelta(days=7) <= h < week_start for h in hits),
    )


def _order(window_id: str) -> tuple[int, str]:
    return ({"five_hour": 0, "seven_day": 1}.get(window_id, 2 if window_id.startswith("seven_day") else 3), window_id)


def _when(dt: datetime, tz: tzinfo) -> str:
    local = dt.astimezone(tz)
    return f"{local:%a %d %b %H:%M}"


def report_lines(report: HistoryReport, tz: tzinfo) -> list[str]:
    if not report.windows:
        return ["No usage history yet: the tray records readings while it runs."]
    lines: list[str] = []
    for window in report.windows:
        lines.append(f"{window.label}: last {len(window.cycles)} cycle{'s' if len(window.cycles) != 1 else ''}")
        lines.append(f"  {'reset':<17} {'peak':>5}  {'reached 100 %':<17} {'at 100 %':>8}  extra usage")
        for c in window.cycles:
            reset = _when(c.resets_at, tz) + ("*" if c.running else " ")
            hit = _when(c.hit_full_at, tz) if c.hit_full_at else "-"
            held = format_countdown(c.at_full) if c.hit_full_at else "-"
            spent = format_money(c.extra_spent, c.currency) if c.extra_spent is not None else "-"
            lines.append(f"  {reset:<17} {format_percent(c.peak):>5}  {hit:<17} {held:>8}  {spent}")
        lines.append("")
    lines.append(f"Limit hits: {report.hits_this_week} this week, {report.hits_last_week} last week."
                 + ("  (* = the running cycle)" if any(c.running for w in report.windows for c in w.cycles) else ""))
    return lines


def report_json(report: HistoryReport) -> dict[str, Any]:
    def iso(dt: datetime | None) -> str | None:
        return None if dt is None else dt.isoformat()

    return {
        "windows": [
            {"id": w.window_id, "label": w.label, "cycles": [
                {"resets_at": iso(c.resets_at), "running": c.running, "peak": c.peak,
                 "reached_100_at": iso(c.hit_full_at), "seconds_at_100": int(c.at_full.total_seconds()),
                 "extra_usage_spent": None if c.extra_spent is None else round(c.extra_spent, 2),
                 "currency": c.currency}
                for c in w.cycles]}
            for w in report.windows
        ],
        "limit_hits": {"this_week": report.hits_this_week, "last_week": report.hits_last_week},
    }
