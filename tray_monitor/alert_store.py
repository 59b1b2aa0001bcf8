"""AlertMemory on disk: SQLite in the platform data directory, so a restart does not repeat popups.

The file is the user's alone (0600 in a 0700 directory). A damaged database is moved aside
(`alerts.sqlite3.corrupt-<timestamp>`) with one warning and a fresh memory starts: the worst case
is one repeated popup, never a crash. Every failure is logged and swallowed; the poller calls
`save` and must carry on.
"""
from __future__ import annotations

import logging
import sqlite3
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tray_monitor.alerts import AlertMemory
from tray_monitor.sqlite_files import connect_private, is_corrupt, move_aside

if TYPE_CHECKING:
    from tray_monitor.clock import Clock
    from tray_monitor.environment import Environment

log = logging.getLogger("tray_monitor.alert_store")

FILE_NAME = "alerts.sqlite3"
SCHEMA_VERSION = 2  # 2: window_alerts.runout (the run-out popup, once per cycle)

_SCHEMA_STATEMENTS = (
    """CREATE TABLE IF NOT EXISTS window_alerts (
        window_id TEXT PRIMARY KEY,
        cycle TEXT,                       -- resets_at rounded to the minute, ISO (NULL: not started)
        notified_level INTEGER NOT NULL,  -- highest threshold notified in this cycle
        peak REAL NOT NULL,
        flagged INTEGER NOT NULL,
        locked INTEGER NOT NULL,
        runout INTEGER NOT NULL DEFAULT 0
    )""",
    """CREATE TABLE IF NOT EXISTS login_alert (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        notified TEXT,
        worked INTEGER NOT NULL
    )""",
)


def alert_store_path(env: Environment) -> Path:
    return Path(env.data_dir) / FILE_NAME


class AlertStore:
    def __init__(self, path: Path, clock: Clock | None = None, busy_timeout: float = 5.0):
        self.path = Path(path)
        self._clock = clock  # only for the timestamp of a corrupt file's new name
        self._busy_timeout = busy_timeout  # seconds to wait for another process's lock

    def load(self) -> AlertMemory:
        if not self.path.exists():
            return AlertMemory()
        try:
            return self._read()
        except sqlite3.Error as exc:
            if is_corrupt(exc):
                self._move_aside(exc)
            else:  # locked by another process, cannot open: leave the file alone
                log.warning("Could not read the alert memory %s (%s); starting with an empty one.", self.path, exc)
        return AlertMemory()

    def save(self, memory: AlertMemory) -> None:
        try:
            self._write(memory)
        except sqlite3.Error as exc:
            if is_corrupt(exc):
                self._move_aside(exc)
                self._save_once_more(memory)
            else:  # locked, read-only, disk full: keep running, try again next time
                log.warning("Could not save the alert memory %s (%s).", self.path, exc)
        except OSError as exc:
            log.warning("Could not save the alert memory %s (%s).", self.path, exc)

    # ------------------------------------------------------------ internals

    def _connect(self) -> sqlite3.Connection:
        # A new connection per call: load and save run on different threads, and both are rare.
        return connect_private(self.path, self._busy_timeout)

    def _read(self) -> AlertMemory:
        conn = self._connect()
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version == 0:  # an empty file: nothing saved yet
                return AlertMemory()
            if version not in (1, SCHEMA_VERSION):
                log.warning("The alert memory %s is from another version; starting with an empty one.", self.path)
                return AlertMemory()
            runout = "runout" if version >= 2 else "0"  # version 1 had no run-out popup
            windows = {
                window_id: {"cycle": cycle, "notified_level": level, "peak": peak,
                            "flagged": bool(flagged), "locked": bool(locked), "runout": bool(ran_out)}
                for window_id, cycle, level, peak, flagged, locked, ran_out in conn.execute(
                    f"SELECT window_id, cycle, notified_level, peak, flagged, locked, {runout} FROM window_alerts")
            }
            login = conn.execute("SELECT notified, worked FROM login_alert WHERE id = 1").fetchone()
        finally:
            conn.close()
        data: dict[str, Any] = {"windows": windows}
        if login is not None:
            data.update(login_alert=login[0], login_worked=bool(login[1]))
        return AlertMemory.from_dict(data)

    def _write(self, memory: AlertMemory) -> None:
        data = memory.to_dict()
        conn = self._connect()
        try:
            # One transaction: a crash or a full disk leaves the previous memory, never half of one.
            conn.execute("BEGIN IMMEDIATE")
            try:
                if conn.execute("PRAGMA user_version").fetchone()[0] == 1:
                    conn.execute("ALTER TABLE window_alerts ADD COLUMN runout INTEGER NOT NULL DEFAULT 0")
                for statement in _SCHEMA_STATEMENTS:
                    conn.execute(statement)
                conn.execute("DELETE FROM window_alerts")
                conn.executemany(
                    "INSERT INTO window_alerts VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [(window_id, w["cycle"], w["notified_level"], w["peak"], int(w["flagged"]), int(w["locked"]),
                      int(w["runout"]))
                     for window_id, w in data["windows"].items()],
                )
                conn.execute("INSERT OR REPLACE INTO login_alert VALUES (1, ?, ?)",
                             (data["login_alert"], int(data["login_worked"])))
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        finally:
            conn.close()

    def _save_once_more(self, memory: AlertMemory) -> None:
        try:
            self._write(memory)
        except (sqlite3.Error, OSError) as exc:
            log.warning("Could not save the alert memory %s (%s).", self.path, exc)

    def _move_aside(self, exc: Exception) -> None:
        now = self._clock.now() if self._clock is not None else datetime.now(timezone.utc)
        move_aside(self.path, exc, now, "alert memory")
