"""Our SQLite files (alert memory, usage history): created private, damage told from a passing
failure, a damaged file moved aside with one warning."""
from __future__ import annotations

import logging
import os
import sqlite3
from datetime import datetime
from pathlib import Path

log = logging.getLogger("tray_monitor.sqlite_files")


def connect_private(path: Path, timeout: float) -> sqlite3.Connection:
    """Open (creating if needed) a database only the user can read: 0600 in a 0700 directory."""
    directory = path.parent
    if not directory.exists():
        directory.mkdir(parents=True, mode=0o700)
    if not path.exists():
        # Create the file with the user's permissions only, before SQLite opens it (SQLite
        # gives its journal and WAL files the same mode).
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    # isolation_level=None: the caller issues BEGIN/COMMIT itself, so the schema is in the transaction.
    return sqlite3.connect(path, timeout=timeout, isolation_level=None)


def is_corrupt(exc: sqlite3.Error) -> bool:
    """Damage (not a database, malformed pages, our tables missing) versus a passing condition
    (locked, read-only, disk full), which must not cost the user their data."""
    if getattr(exc, "sqlite_errorname", None) in ("SQLITE_CORRUPT", "SQLITE_NOTADB"):  # Python >= 3.11
        return True
    text = str(exc).lower()
    return any(sign in text for sign in ("not a database", "malformed", "no such table", "no such column"))


def move_aside(path: Path, exc: Exception, now: datetime, what: str) -> Path | None:
    """Rename a damaged file to `<name>.corrupt-<timestamp>` and say so once; None if it could not."""
    aside = path.with_name(f"{path.name}.corrupt-{now.strftime('%Y%m%dT%H%M%S')}")
    try:
        os.replace(path, aside)
    except OSError as move_error:
        log.warning("The %s %s is damaged (%s) and could not be moved aside (%s).", what, path, exc, move_error)
        return None
    for suffix in ("-wal", "-shm"):  # WAL leftovers belong to the damaged file, not to a new one
        try:
            os.replace(f"{path}{suffix}", f"{aside}{suffix}")
        except OSError:
            pass
    log.warning("The %s %s was damaged (%s); moved it to %s and started afresh.", what, path, exc, aside.name)
    return aside
