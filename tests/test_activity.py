"""activity: the newest transcript write, found without stat-ing every transcript every time."""
from __future__ import annotations

import os
import time
from pathlib import Path

from tray_monitor.activity import TranscriptActivity, projects_dir


def transcript(root: Path, project: str, name: str, age: float = 3600.0) -> Path:
    path = root / project / f"{name}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{}\n")
    moment = time.time() - age
    os.utime(path, (moment, moment))
    return path


def append(path: Path, at: float) -> None:
    with open(path, "a") as f:
        f.write("{}\n")
    os.utime(path, (at, at))


def test_the_projects_folder_follows_claude_config_dir(tmp_path):
    assert projects_dir({"CLAUDE_CONFIG_DIR": str(tmp_path / "c")}, tmp_path) == tmp_path / "c" / "projects"
    assert projects_dir({}, tmp_path) == tmp_path / ".claude" / "projects"


def test_no_store_is_no_activity(tmp_path):
    assert TranscriptActivity(tmp_path / "projects").latest() is None


def test_appends_new_sessions_and_new_projects_are_seen_at_the_next_check(tmp_path):
    root = tmp_path / "projects"
    files = [transcript(root, f"p{i % 5}", f"s{i}", age=86400 + i) for i in range(200)]
    activity = TranscriptActivity(root, hot=4, full_scan_every=1000)  # only the quick checks below
    first = activity.latest()
    assert first == max(f.stat().st_mtime for f in files)
    now = time.time()
    append(files[0], now - 100)  # the newest file: among the hot ones
    assert activity.latest() == now - 100
    new = transcript(root, "p3", "new-session", age=50)  # a new file changes its folder's mtime
    assert activity.latest() == new.stat().st_mtime
    other = transcript(root, "brand-new-project", "s", age=10)  # a new folder changes the root's mtime
    assert activity.latest() == other.stat().st_mtime
    append(new, now - 5)  # now hot
    assert activity.latest() == now - 5


def test_a_resumed_old_session_is_seen_by_the_next_full_scan(tmp_path):
    root = tmp_path / "projects"
    files = [transcript(root, "p", f"s{i}", age=86400 + i) for i in range(50)]
    activity = TranscriptActivity(root, hot=2, full_scan_every=3)
    activity.latest()
    coldest = files[-1]
    append(coldest, time.time())
    # appending changes neither the folder's mtime nor a hot file: within full_scan_every checks
    seen = [activity.latest() for _ in range(3)]
    assert seen[-1] == coldest.stat().st_mtime
