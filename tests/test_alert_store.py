"""AlertStore against real files and a real SQLite database."""
from __future__ import annotations

import logging
import os
import sqlite3
import stat
from datetime import datetime, timezone

import pytest

from tray_monitor import sqlite_files
from tray_monitor.alert_store import AlertStore, alert_store_path
from tray_monitor.alerts import AlertMemory, WindowMemory
from tray_monitor.clock import FakeClock
from tray_monitor.environment import Environment

UTC = timezone.utc
CLOCK = FakeClock(datetime(2026, 9, 10, 12, 30, 5, tzinfo=UTC))
MEMORY = AlertMemory(
    windows=(
        ("five_hour", WindowMemory(cycle=datetime(2026, 9, 10, 14, 0, tzinfo=UTC), notified_level=90, peak=92.5)),
        ("nimbus_quill", WindowMemory(cycle=None)),
        ("seven_day", WindowMemory(cycle=datetime(2026, 9, 14, 9, 0, tzinfo=UTC), notified_level=0, peak=71.0,
                                   flagged=True, locked=True)),
    ),
    login_alert="login_lost",
    login_worked=True,
)


@pytest.fixture
def path(tmp_path):
    return tmp_path / "data" / "claude-tray" / "alerts.sqlite3"


def test_saved_memory_is_loaded_back_by_a_new_store(path):
    AlertStore(path).save(MEMORY)
    assert AlertStore(path).load() == MEMORY


def test_saving_again_replaces_the_previous_memory(path):
    store = AlertStore(path)
    store.save(MEMORY)
    store.save(AlertMemory(windows=(("five_hour", WindowMemory(cycle=None, peak=3.0)),)))
    assert store.load() == AlertMemory(windows=(("five_hour", WindowMemory(cycle=None, peak=3.0)),))


def test_file_is_private_to_the_user_in_a_private_directory(path):
    AlertStore(path).save(MEMORY)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_loading_before_anything_was_saved_gives_an_empty_memory_and_creates_no_file(path):
    assert AlertStore(path).load() == AlertMemory()
    assert not path.exists()


def test_an_empty_database_file_gives_an_empty_memory(path):
    path.parent.mkdir(parents=True)
    path.touch()
    assert AlertStore(path).load() == AlertMemory()


def test_path_is_in_the_data_directory(tmp_path):
    env = Environment.from_os(data_dir=tmp_path / "d")
    assert alert_store_path(env) == tmp_path / "d" / "alerts.sqlite3"


def test_corrupt_file_is_moved_aside_with_one_warning_and_a_fresh_memory_starts(path, caplog):
    path.parent.mkdir(parents=True)
    path.write_bytes(b"this is not SQLite at all" * 100)
    store = AlertStore(path, clock=CLOCK)
    with caplog.at_level(logging.WARNING, logger="tray_monitor.alert_store"):
        assert store.load() == AlertMemory()
    aside = path.with_name("alerts.sqlite3.corrupt-20260910T123005")
    assert aside.read_bytes() == b"this is not SQLite at all" * 100
    assert len(caplog.records) == 1 and "moved it to alerts.sqlite3.corrupt-20260910T123005" in caplog.text
    store.save(MEMORY)
    assert store.load() == MEMORY


def test_saving_over_a_corrupt_file_moves_it_aside_and_saves(path):
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\x00garbage" * 600)
    AlertStore(path, clock=CLOCK).save(MEMORY)
    assert path.with_name("alerts.sqlite3.corrupt-20260910T123005").exists()
    assert AlertStore(path).load() == MEMORY


def test_a_database_without_our_tables_is_treated_as_damaged(path):
    path.parent.mkdir(parents=True)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 1")
    conn.close()
    assert AlertStore(path, clock=CLOCK).load() == AlertMemory()
    assert path.with_name("alerts.sqlite3.corrupt-20260910T123005").exists()


def test_a_database_from_another_version_is_left_alone_and_read_as_empty(path, caplog):
    AlertStore(path).save(MEMORY)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 7")
    conn.close()
    assert AlertStore(path).load() == AlertMemory()
    assert "another version" in caplog.text and path.exists()


def _hold_write_lock(path):
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    return holder


def test_a_locked_database_is_neither_moved_nor_fatal_when_saving(path, caplog):
    AlertStore(path).save(MEMORY)
    holder = _hold_write_lock(path)
    try:
        AlertStore(path, busy_timeout=0).save(AlertMemory())
    finally:
        holder.close()
    assert "Could not save the alert memory" in caplog.text
    assert AlertStore(path).load() == MEMORY  # the previous memory survived


def test_a_locked_database_is_neither_moved_nor_fatal_when_loading(path, caplog):
    AlertStore(path).save(MEMORY)
    holder = _hold_write_lock(path)
    try:
        assert AlertStore(path, busy_timeout=0).load() == AlertMemory()
    finally:
        holder.close()
    assert "Could not read the alert memory" in caplog.text
    assert AlertStore(path).load() == MEMORY


def test_a_failed_write_rolls_back_and_keeps_the_previous_memory(path, caplog):
    AlertStore(path).save(MEMORY)
    unbindable = AlertMemory(windows=(("five_hour", WindowMemory(cycle=None, peak=object())),))
    AlertStore(path).save(unbindable)
    assert "Could not save the alert memory" in caplog.text
    assert AlertStore(path).load() == MEMORY


def test_a_data_directory_that_cannot_be_created_is_logged_not_raised(tmp_path, caplog):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the data directory should be")
    AlertStore(blocker / "alerts.sqlite3").save(MEMORY)
    assert "Could not save the alert memory" in caplog.text


def test_a_corrupt_file_that_cannot_be_moved_aside_is_logged_not_raised(path, caplog, monkeypatch):
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a database" * 100)

    def refuse(src, dst):
        raise PermissionError(13, "Permission denied", str(src))

    monkeypatch.setattr(sqlite_files.os, "replace", refuse)
    store = AlertStore(path, clock=CLOCK)
    assert store.load() == AlertMemory()
    store.save(MEMORY)  # the second attempt fails again: logged as well
    assert "could not be moved aside" in caplog.text
    assert "Could not save the alert memory" in caplog.text


def test_corrupt_file_name_uses_the_current_time_without_a_clock(path):
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a database" * 100)
    AlertStore(path).load()
    assert [p.name.startswith("alerts.sqlite3.corrupt-") for p in path.parent.iterdir()] == [True]
    assert os.listdir(path.parent)[0][-15:-7].isdigit()


def test_a_version_1_file_is_read_and_upgraded_in_place(path):
    path.parent.mkdir(parents=True)
    conn = sqlite3.connect(path)
    conn.executescript("""
        CREATE TABLE window_alerts (window_id TEXT PRIMARY KEY, cycle TEXT, notified_level INTEGER NOT NULL,
                                    peak REAL NOT NULL, flagged INTEGER NOT NULL, locked INTEGER NOT NULL);
        CREATE TABLE login_alert (id INTEGER PRIMARY KEY CHECK (id = 1), notified TEXT, worked INTEGER NOT NULL);
        INSERT INTO window_alerts VALUES ('five_hour', '2026-09-01T14:00:00+00:00', 90, 91.0, 0, 0);
        PRAGMA user_version = 1;
    """)
    conn.close()
    store = AlertStore(path, clock=CLOCK)
    memory = store.load()
    assert memory.window("five_hour").notified_level == 90 and not memory.window("five_hour").runout
    from dataclasses import replace as dc_replace

    marked = dc_replace(memory, windows=(("five_hour", dc_replace(memory.window("five_hour"), runout=True)),))
    store.save(marked)
    assert store.load() == marked
    assert not list(path.parent.glob("*.corrupt-*"))
