"""Usage history on disk: SQLite in the platform data directory (`history.sqlite3`).

What is kept: per window, every reading that changed something (percent, cycle, severity), and the
extra-usage spend when it changed. A change that follows an unchanged stretch is stored together
with the last unchanged reading before it, so a climb is placed within one poll interval (the
forecast's usual-hours profile needs that) while a quiet day costs nothing.

Bounds: rows older than `KEEP` (90 days) are deleted, and the file is kept under `MAX_BYTES` (4 MiB)
by deleting the oldest rows first (tests/test_history.py checks both; benchmarks/history_size.py
measures a simulated 90 days).

Like the alert memory: the file is the user's alone (0600 in a 0700 directory), WAL so readers
(`claude-tray history`) never block the writer, one transaction per write, a damaged file moved
aside with one warning, and every other failure (disk full, locked) logged once and swallowed:
the poller calls `record` and must carry on. The demo never gets a store (app.py).
"""
from __future__ import annotations

import logging
import sqlite3
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from pathlib import Path

from tray_monitor.alerts import cycle_of
from tray_monitor.forecast import PROFILE_DAYS, HistoryDigest, Profile, Sample, activity_profile
from tray_monitor.model import ExtraUsage, Reading, UsageWindow
from tray_monitor.sqlite_files import connect_private, is_corrupt, move_aside

log = logging.getLogger("tray_monitor.history")

FILE_NAME = "history.sqlite3"
SCHEMA_VERSION = 1
KEEP = timedelta(days=90)
MAX_BYTES = 4 * 1024 * 1024
#: When the file is over MAX_BYTES, delete this share of the oldest rows at a time.
PRUNE_SHARE = 0.1
#: The usual-hours profile changes slowly: recomputed at most this often.
PROFILE_REFRESH = timedelta(hours=6)
#: How often (in writes) rows older than KEEP are deleted (the size bound is checked at every write).
PRUNE_EVERY = 50

_SCHEMA_STATEMENTS = (
    """CREATE TABLE IF NOT EXISTS window_readings (
        at REAL NOT NULL,          -- epoch seconds (UTC) of the reading
        window_id TEXT NOT NULL,
        percent REAL NOT NULL,
        resets_at REAL,            -- epoch seconds; NULL: the window has not started
        severity TEXT
    )""",
    "CREATE INDEX IF NOT EXISTS window_readings_by_time ON window_readings (window_id, at)",
    """CREATE TABLE IF NOT EXISTS extra_usage (
        at REAL NOT NULL,
        enabled INTEGER NOT NULL,
        used REAL,
        monthly_limit REAL,
        currency TEXT
    )""",
    "CREATE INDEX IF NOT EXISTS extra_usage_by_time ON extra_usage (at)",
)


@dataclass(frozen=True)
class WindowRecord:
    at: datetime
    window_id: str
    percent: float
    resets_at: datetime | None
    severity: str | None


@dataclass(frozen=True)
class SpendRecord:
    at: datetime
    enabled: bool
    used: float | None
    limit: float | None
    currency: str | None


def history_path(env) -> Path:
    return Path(env.data_dir) / FILE_NAME


def _epoch(when: datetime | None) -> float | None:
    return None if when is None else when.timestamp()


def _time(epoch: float | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, timezone.utc)


def _key(window: UsageWindow) -> tuple[float, datetime | None, str | None]:
    """What counts as a change of a window: its percent, its cycle (resets_at to the minute:
    the server's microsecond jitter is not a change) and its severity."""
    return (window.percent, cycle_of(window.resets_at), window.severity)


def _spend_key(extra: ExtraUsage) -> tuple[bool, float | None, float | None, str | None]:
    return (extra.enabled, extra.used, extra.limit, extra.currency)


class HistoryStore:
    def __init__(self, path: Path, clock=None, busy_timeout: float = 5.0, max_bytes: int = MAX_BYTES,
                 keep: timedelta = KEEP):
        self.path = Path(path)
        self._clock = clock
        self._busy_timeout = busy_timeout
        self.max_bytes = max_bytes
        self.keep = keep
        self._stored: dict[str, tuple] | None = None  # window id -> _key of its last stored row
        self._unstored: dict[str, WindowRecord] = {}  # the last reading that changed nothing
        self._stored_spend: tuple | None = None
        self._writes = 0
        self._failure_logged = False
        self._profiles: tuple[datetime, tuple[tuple[str, Profile], ...]] | None = None
        self._conn: sqlite3.Connection | None = None
        self._inode: int | None = None
        self._write_lock = threading.Lock()

    # ------------------------------------------------------------ writing (poller thread)

    def record(self, reading: Reading) -> int:
        """Store what changed in this reading; returns the number of rows written (0 on failure).
        One writer thread (the poller's); readers use their own connections."""
        with self._write_lock:
            return self._record_guarded(reading)

    def close(self) -> None:
        with self._write_lock:
            self._disconnect()

    def _record_guarded(self, reading: Reading) -> int:
        try:
            return self._record(reading)
        except sqlite3.Error as exc:
            self._disconnect()
            if is_corrupt(exc):
                self._move_aside(exc)
                self._stored = None
                try:
                    return self._record(reading)
                except (sqlite3.Error, OSError) as again:
                    self._warn_once(again)
            else:  # disk full, locked, read-only: keep running, try again next time
                self._warn_once(exc)
        except OSError as exc:
            self._warn_once(exc)
        return 0

    def _connection(self) -> sqlite3.Connection:
        """Kept open between readings: closing the last connection checkpoints the WAL (a sync
        and a rewrite) every poll; open, SQLite checkpoints every 1000 pages."""
        if self._conn is not None and _inode(self.path) != self._inode:  # deleted or replaced under us
            self._disconnect()
        if self._conn is None:
            conn = connect_private(self.path, self._busy_timeout)
            self._inode = _inode(self.path)
            # WAL with NORMAL: no fsync per reading; a power cut may lose the last readings, never
            # the file's consistency (a history can spare two minutes, the disk can spare the writes).
            conn.execute("PRAGMA synchronous=NORMAL")
            self._conn = conn
            self._stored = None
        return self._conn

    def _disconnect(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except sqlite3.Error:
                pass
            self._conn = None

    def _record(self, reading: Reading) -> int:
        conn = self._connection()
        if self._stored is None:
            self._ensure_schema(conn)
            self._stored, self._stored_spend = self._last_stored(conn)
        rows: list[tuple] = []
        changed: dict[str, tuple] = {}
        for window in reading.windows:
            key = _key(window)
            record = WindowRecord(reading.fetched_at, window.id, window.percent, window.resets_at, window.severity)
            if self._stored.get(window.id) == key:
                self._unstored[window.id] = record
                continue
            before = self._unstored.pop(window.id, None)
            if before is not None:
                rows.append(_row(before))
            rows.append(_row(record))
            changed[window.id] = key
        extra = reading.extra_usage
        spend = None
        if extra is not None and _spend_key(extra) != self._stored_spend:
            spend = (reading.fetched_at.timestamp(), int(extra.enabled), extra.used, extra.limit, extra.currency)
        if not rows and spend is None:
            return 0
        self._writes += 1
        prune = self._writes % PRUNE_EVERY == 1
        # One transaction: a crash or a full disk leaves the history as it was, never half a reading.
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany("INSERT INTO window_readings VALUES (?, ?, ?, ?, ?)", rows)
            if spend is not None:
                conn.execute("INSERT INTO extra_usage VALUES (?, ?, ?, ?, ?)", spend)
            if prune:
                self._drop_old(conn, reading.fetched_at)
            self._bound_size(conn)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        self._stored.update(changed)
        if spend is not None and extra is not None:
            self._stored_spend = _spend_key(extra)
        return len(rows) + (spend is not None)

    def _ensure_schema(self, conn: sqlite3.Connection) -> None:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version not in (0, SCHEMA_VERSION):
            raise sqlite3.DatabaseError(f"no such table: history schema {version} is not {SCHEMA_VERSION}")
        conn.execute("PRAGMA journal_mode=WAL")  # kept in the file: readers never block the poller
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _SCHEMA_STATEMENTS:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def _last_stored(self, conn: sqlite3.Connection) -> tuple[dict[str, tuple], tuple | None]:
        stored: dict[str, tuple] = {}
        for _at, window_id, percent, resets_at, severity in conn.execute(
                "SELECT max(at), window_id, percent, resets_at, severity FROM window_readings GROUP BY window_id"):
            stored[window_id] = (percent, cycle_of(_time(resets_at)), severity)
        row = conn.execute("SELECT enabled, used, monthly_limit, currency FROM extra_usage "
                           "ORDER BY at DESC LIMIT 1").fetchone()
        spend = None if row is None else (bool(row[0]), row[1], row[2], row[3])
        return stored, spend

    def _drop_old(self, conn: sqlite3.Connection, now: datetime) -> None:
        cutoff = (now - self.keep).timestamp()
        conn.execute("DELETE FROM window_readings WHERE at < ?", (cutoff,))
        conn.execute("DELETE FROM extra_usage WHERE at < ?", (cutoff,))

    def _bound_size(self, conn: sqlite3.Connection) -> None:
        """Oldest rows first, at every write (two cheap PRAGMAs). Freed pages are reused by later
        writes, so the file stops growing at max_bytes."""
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        for _ in range(20):
            pages = conn.execute("PRAGMA page_count").fetchone()[0]
            free = conn.execute("PRAGMA freelist_count").fetchone()[0]
            if (pages - free) * page_size <= self.max_bytes:
                return
            count = conn.execute("SELECT count(*) FROM window_readings").fetchone()[0]
            drop = max(1, int(count * PRUNE_SHARE))
            conn.execute("DELETE FROM window_readings WHERE rowid IN "
                         "(SELECT rowid FROM window_readings ORDER BY at LIMIT ?)", (drop,))
            oldest = conn.execute("SELECT min(at) FROM window_readings").fetchone()[0]
            if oldest is not None:
                conn.execute("DELETE FROM extra_usage WHERE at < ?", (oldest,))

    def _warn_once(self, exc: Exception) -> None:
        if not self._failure_logged:
            self._failure_logged = True
            log.warning("Could not write the usage history %s (%s); it will be retried quietly.", self.path, exc)
        else:
            log.debug("usage history still not writable: %s", exc)

    def _move_aside(self, exc: Exception) -> None:
        now = self._clock.now() if self._clock is not None else datetime.now(timezone.utc)
        move_aside(self.path, exc, now, "usage history")

    # ------------------------------------------------------------ reading (any thread, any process)

    def windows(self, since: datetime, window_id: str | None = None) -> list[WindowRecord]:
        """Stored window readings from `since` on, oldest first ([] when there is no history)."""
        query = "SELECT at, window_id, percent, resets_at, severity FROM window_readings WHERE at >= ?"
        args: tuple = (since.timestamp(),)
        if window_id is not None:
            query += " AND window_id = ?"
            args += (window_id,)
        rows = self._select(query + " ORDER BY at", args)
        return [WindowRecord(_time(at) or since, wid, percent, _time(resets), severity)
                for at, wid, percent, resets, severity in rows]

    def digest(self, now: datetime, tz: tzinfo | None = None) -> HistoryDigest:
        """What the forecast needs: this cycle's readings per window (8 days back covers a weekly
        cycle) and each window's usual hours (28 days, recomputed at most every PROFILE_REFRESH)."""
        recent = self.windows(now - timedelta(days=8))
        by_window: dict[str, list[Sample]] = {}
        for r in recent:
            by_window.setdefault(r.window_id, []).append(Sample(r.at, r.percent, r.resets_at))
        if self._profiles is None or now - self._profiles[0] >= PROFILE_REFRESH or now < self._profiles[0]:
            month: dict[str, list[Sample]] = {}
            for r in self.windows(now - timedelta(days=PROFILE_DAYS)):
                month.setdefault(r.window_id, []).append(Sample(r.at, r.percent, r.resets_at))
            # tz None: local time with each reading's own offset (not today's, across a DST change)
            self._profiles = (now, tuple(sorted((wid, activity_profile(samples, now, tz))
                                                for wid, samples in month.items())))
        return HistoryDigest(tuple(sorted((wid, tuple(samples)) for wid, samples in by_window.items())),
                             self._profiles[1])

    def spend(self, since: datetime) -> list[SpendRecord]:
        rows = self._select("SELECT at, enabled, used, monthly_limit, currency FROM extra_usage "
                            "WHERE at >= ? ORDER BY at", (since.timestamp(),))
        return [SpendRecord(_time(at) or since, bool(enabled), used, limit, currency)
                for at, enabled, used, limit, currency in rows]

    def _select(self, query: str, args: tuple) -> list[tuple]:
        if not self.path.exists():
            return []
        try:
            conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=self._busy_timeout)
        except sqlite3.Error as exc:
            log.warning("Could not read the usage history %s (%s).", self.path, exc)
            return []
        try:
            if conn.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
                return []
            return list(conn.execute(query, args))
        except sqlite3.Error as exc:
            log.warning("Could not read the usage history %s (%s).", self.path, exc)
            return []
        finally:
            conn.close()


def _inode(path: Path) -> int | None:
    try:
        return path.stat().st_ino
    except OSError:
        return None


def _row(record: WindowRecord) -> tuple:
    return (record.at.timestamp(), record.window_id, record.percent, _epoch(record.resets_at), record.severity)
