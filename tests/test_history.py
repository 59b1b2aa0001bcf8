"""history.py: a real SQLite file, under faults (damage, a full disk, two writers)."""
from __future__ import annotations

import logging
import os
import sqlite3
import stat
import subprocess
import sys
import textwrap
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tray_monitor.clock import FakeClock
from tray_monitor.history import KEEP, MAX_BYTES, PRUNE_EVERY, HistoryStore, history_path
from tray_monitor.model import ExtraUsage, Reading, UsageWindow

T0 = datetime(2026, 3, 3, 9, 0, tzinfo=timezone.utc)
RESET = T0 + timedelta(hours=3)
REPO = Path(__file__).resolve().parent.parent


def reading(at: datetime, session: float, weekly: float = 10.0, jitter_us: int = 0,
            spent: float | None = None, window_prefix: str = "") -> Reading:
    windows = (
        UsageWindow(f"{window_prefix}five_hour", "Session (5h)", session, RESET + timedelta(microseconds=jitter_us),
                    kind="session"),
        UsageWindow(f"{window_prefix}seven_day", "Weekly", weekly, T0 + timedelta(days=4), kind="weekly"),
    )
    extra = None if spent is None else ExtraUsage(True, spent, 50.0, "USD", spent * 2)
    return Reading(windows, extra, at)


@pytest.fixture
def path(tmp_path):
    return tmp_path / "data" / "history.sqlite3"


def rows(path: Path) -> list[tuple]:
    conn = sqlite3.connect(path)
    try:
        return list(conn.execute("SELECT at, window_id, percent FROM window_readings ORDER BY at, window_id"))
    finally:
        conn.close()


def test_only_readings_that_change_something_are_stored(path):
    store = HistoryStore(path)
    assert store.record(reading(T0, 10)) == 2
    # the same numbers (and resets_at jitter of microseconds) are not a change
    for minute in range(2, 20, 2):
        assert store.record(reading(T0 + timedelta(minutes=minute), 10, jitter_us=minute * 37)) == 0
    # a climb is stored with the last unchanged reading before it
    assert store.record(reading(T0 + timedelta(minutes=20), 14)) == 2
    session = [r for r in rows(path) if r[1] == "five_hour"]
    assert [(datetime.fromtimestamp(at, timezone.utc) - T0, p) for at, _, p in session] == [
        (timedelta(0), 10), (timedelta(minutes=18), 10), (timedelta(minutes=20), 14)]
    assert len([r for r in rows(path) if r[1] == "seven_day"]) == 1


def test_a_restarted_store_knows_what_it_stored(path):
    HistoryStore(path).record(reading(T0, 10))
    assert HistoryStore(path).record(reading(T0 + timedelta(minutes=2), 10)) == 0


def test_severity_and_cycle_changes_are_stored(path):
    store = HistoryStore(path)
    store.record(reading(T0, 10))
    flagged = Reading((UsageWindow("five_hour", "Session (5h)", 10, RESET, severity="critical"),), None,
                      T0 + timedelta(minutes=2))
    assert store.record(flagged) == 1
    reset = Reading((UsageWindow("five_hour", "Session (5h)", 10, RESET + timedelta(hours=5), severity="critical"),),
                    None, T0 + timedelta(minutes=4))
    assert store.record(reset) == 1


def test_extra_usage_spend_is_stored_when_it_changes(path):
    store = HistoryStore(path)
    store.record(reading(T0, 10, spent=1.5))
    store.record(reading(T0 + timedelta(minutes=2), 10, spent=1.5))
    store.record(reading(T0 + timedelta(minutes=4), 10, spent=2.25))
    assert [(s.used, s.currency) for s in store.spend(T0)] == [(1.5, "USD"), (2.25, "USD")]


def test_the_file_is_private_and_in_wal_mode(path):
    HistoryStore(path).record(reading(T0, 10))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


def test_reading_back_by_window_and_time(path):
    store = HistoryStore(path)
    for minute in range(0, 60, 2):
        store.record(reading(T0 + timedelta(minutes=minute), minute / 2))
    records = store.windows(T0 + timedelta(minutes=30), "five_hour")
    assert records[0].at == T0 + timedelta(minutes=30) and records[-1].percent == 29
    assert all(r.window_id == "five_hour" and r.resets_at == RESET for r in records)
    assert HistoryStore(path.with_name("absent.sqlite3")).windows(T0) == []


def test_rows_older_than_90_days_are_deleted(path):
    store = HistoryStore(path)
    old = T0 - KEEP - timedelta(days=1)
    store.record(reading(old, 5, spent=1.0))
    for i in range(PRUNE_EVERY + 1):  # the bounds are checked every PRUNE_EVERY writes
        store.record(reading(T0 + timedelta(minutes=2 * i), i % 100))
    assert store.windows(old - timedelta(days=1))[0].at >= T0 - KEEP
    assert store.spend(old - timedelta(days=1)) == []


def test_the_file_stays_under_its_size_bound(path):
    bound = 48 * 1024
    store = HistoryStore(path, max_bytes=bound)
    for i in range(3000):  # every reading changes both windows: ~6,000 rows, far over the bound
        store.record(reading(T0 + timedelta(minutes=2 * i), i % 100, weekly=(i // 7) % 100))
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    live = (conn.execute("PRAGMA page_count").fetchone()[0] - conn.execute("PRAGMA freelist_count").fetchone()[0])
    page = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    assert live * page <= bound
    assert path.stat().st_size <= bound * 1.5  # freed pages are reused, the file stops growing
    kept = store.windows(T0)
    assert kept[-1].at == T0 + timedelta(minutes=2 * 2999)  # the newest are kept, the oldest went
    assert kept[0].at > T0
    assert MAX_BYTES == 4 * 1024 * 1024  # the bound the README and docs state


def test_a_damaged_file_is_moved_aside_with_one_warning(path, caplog):
    path.parent.mkdir(parents=True)
    path.write_bytes(b"this is not a database" * 200)
    store = HistoryStore(path, clock=FakeClock(T0))
    with caplog.at_level(logging.WARNING):
        assert store.record(reading(T0, 10)) == 2
    assert [r.message for r in caplog.records if "damaged" in r.message] != []
    assert len(caplog.records) == 1
    assert (path.parent / "history.sqlite3.corrupt-20260303T090000").exists()
    assert len(store.windows(T0)) == 2


def test_a_damaged_file_while_running_is_moved_aside(path, caplog):
    store = HistoryStore(path, clock=FakeClock(T0))
    store.record(reading(T0, 10))
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    path.write_bytes(b"garbage" * 1000)
    with caplog.at_level(logging.WARNING):
        store.record(reading(T0 + timedelta(minutes=2), 11))
    assert any("damaged" in r.message for r in caplog.records)
    assert [r.percent for r in store.windows(T0, "five_hour")] == [11]


def test_a_reader_of_a_damaged_file_gets_nothing_and_a_warning(path, caplog):
    path.parent.mkdir(parents=True)
    path.write_bytes(b"garbage" * 1000)
    with caplog.at_level(logging.WARNING):
        assert HistoryStore(path).windows(T0) == []
    assert "Could not read the usage history" in caplog.text
    assert path.exists()  # only the writer moves a file aside


WRITER = textwrap.dedent("""
    import logging, resource, signal, sys
    from datetime import datetime, timedelta, timezone
    sys.path.insert(0, {repo!r})
    from tests.test_history import reading, T0
    from tray_monitor.history import HistoryStore
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(message)s")
    limit, prefix, count, start = {limit!r}, {prefix!r}, {count!r}, {start!r}
    if limit:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    store = HistoryStore({path!r}, busy_timeout=10)
    written = sum(store.record(reading(T0 + timedelta(minutes=2 * i), i % 100, weekly=i % 97,
                                       window_prefix=prefix)) > 0 for i in range(start, start + count))
    print(written)
""")


def run_writer(path: Path, limit: int = 0, prefix: str = "", count: int = 300, start: int = 0) -> subprocess.Popen:
    code = WRITER.format(repo=str(REPO), path=str(path), limit=limit, prefix=prefix, count=count, start=start)
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_a_full_disk_loses_new_readings_only_and_warns_once(path):
    first = run_writer(path, count=50)
    first.communicate(timeout=60)
    before = rows(path)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    size = path.stat().st_size
    full = run_writer(path, limit=size + 8192, count=3000, start=50)  # room for a few pages, not for 3000 readings
    out, err = full.communicate(timeout=120)
    assert full.returncode == 0, err
    assert err.count("Could not write the usage history") == 1, err
    assert "Traceback" not in err
    assert int(out) < 3000  # some writes failed...
    after = rows(path)
    assert after[:len(before)] == before  # ... and what was stored before is intact
    assert sqlite3.connect(path).execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_two_processes_writing_at_once_lose_nothing(path):
    HistoryStore(path).record(reading(T0, 0))  # the schema, so both start from the same file
    a = run_writer(path, prefix="a_", count=300)
    b = run_writer(path, prefix="b_", count=300)
    out_a, err_a = a.communicate(timeout=120)
    out_b, err_b = b.communicate(timeout=120)
    assert (a.returncode, b.returncode) == (0, 0), err_a + err_b
    assert "Could not" not in err_a + err_b
    assert (int(out_a), int(out_b)) == (300, 300)
    stored = rows(path)
    for prefix in ("a_", "b_"):
        assert len([r for r in stored if r[1] == f"{prefix}five_hour"]) == 300
    assert sqlite3.connect(path).execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_history_path_is_in_the_data_directory(tmp_path):
    from tests.envs import temp_env

    env = temp_env(tmp_path)
    assert history_path(env) == Path(env.data_dir) / "history.sqlite3"
    assert not os.path.exists(history_path(env))


@pytest.fixture
def central_european_time(monkeypatch):
    """The process's local time is CET/CEST (a POSIX rule: no tz database needed)."""
    import time

    if not hasattr(time, "tzset"):
        pytest.skip("time.tzset is POSIX only")
    monkeypatch.setenv("TZ", "CET-1CEST,M3.5.0,M10.5.0/3")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_usual_hours_keep_their_local_hour_across_a_daylight_saving_change(path, central_european_time):
    """Four weeks of 09:00-17:00 weekdays in Berlin, three before the clocks went forward
    (29 March 2026) and one after: the profile read a week later puts the work at 09-17 local.
    With today's offset for every reading (as before), the three earlier weeks moved to 10-18."""
    store = HistoryStore(path)
    monday = datetime(2026, 3, 9)  # local, naive: made aware in the local zone of each day below
    for day in range(26):
        date = monday + timedelta(days=day)
        if date.weekday() >= 5:
            continue
        week_start = (monday + timedelta(days=7 * (day // 7))).astimezone(timezone.utc)
        for slot in range(48):  # every 10 min from 09:00 to 16:50 local, 0.4 points each (96 % a week)
            at = (date + timedelta(hours=9, minutes=10 * slot)).astimezone(timezone.utc)
            percent = round(0.4 * (48 * date.weekday() + slot), 1)
            window = UsageWindow("seven_day", "Weekly", percent, week_start + timedelta(days=7), kind="weekly")
            store.record(Reading((window,), None, at))
    now = datetime(2026, 4, 4, 12, 0).astimezone(timezone.utc)
    profile = HistoryStore(path).digest(now).profile_for("seven_day")
    assert profile is not None and not profile.flat

    def weight(hour: int) -> float:  # on a weekday after the change (CEST), at hh:30 local
        return profile.weight_at(datetime(2026, 4, 1, hour, 30).astimezone(timezone.utc))

    assert [round(weight(h), 2) for h in (8, 17)] == [0.3, 0.3]  # the floor: no work then
    assert min(weight(h) for h in range(9, 17)) > 1.5
