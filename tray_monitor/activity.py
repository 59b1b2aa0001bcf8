"""Is Claude Code being used? The newest write to its transcripts, cheaply (shell: file system).

Claude Code appends every turn to a transcript, `<config>/projects/<project>/<session>.jsonl`
($CLAUDE_CONFIG_DIR, else ~/.claude). A store holds thousands of them, and the poller asks on
every wake-up, so a full scan (one stat per file) each time is too slow. Instead:
- the projects folder and each project folder are stat-ed every time: a new project creates a
  folder, and a new session a file, which changes the mtime of the folder holding it, which is
  then scanned again;
- the most recently written transcripts (`HOT`) are stat-ed every time: appending to a file
  changes only its own mtime, and the session being worked in is among the newest;
- every `FULL_SCAN_EVERY` checks everything is scanned once more (a resumed old session).
benchmarks/activity_bench.py times it on 5,000 transcripts.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

HOT = 16
FULL_SCAN_EVERY = 30
TRANSCRIPT_SUFFIX = ".jsonl"


def projects_dir(environ: Mapping[str, str], home: Path) -> Path:
    config = environ.get("CLAUDE_CONFIG_DIR")
    return (Path(config) if config else home / ".claude") / "projects"


def _mtime(path: str) -> float | None:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return None


class TranscriptActivity:
    """`latest()`: the newest transcript write seen (epoch seconds), or None without transcripts."""

    def __init__(self, root: Path | str, hot: int = HOT, full_scan_every: int = FULL_SCAN_EVERY):
        self._root = str(root)
        self._hot_size = hot
        self._full_scan_every = full_scan_every
        self._checks = 0
        self._root_mtime: float | None = None  # a new project folder changes it
        self._folders: dict[str, float] = {}  # project folder -> its mtime at the last scan
        self._hot: dict[str, float] = {}  # newest transcripts -> their mtime
        self._latest: float | None = None

    def latest(self) -> float | None:
        if self._checks % self._full_scan_every == 0:
            self._full_scan()
        else:
            self._quick_check()
        self._checks += 1
        return self._latest

    def _note(self, path: str, mtime: float) -> None:
        if self._latest is None or mtime > self._latest:
            self._latest = mtime
        self._hot[path] = mtime
        if len(self._hot) > self._hot_size:
            del self._hot[min(self._hot, key=self._hot.__getitem__)]

    def _scan_folder(self, folder: str) -> None:
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    if entry.name.endswith(TRANSCRIPT_SUFFIX):
                        try:
                            self._note(entry.path, entry.stat().st_mtime)
                        except OSError:
                            pass
        except OSError:
            pass

    def _full_scan(self) -> None:
        self._folders = {}
        self._root_mtime = _mtime(self._root)
        try:
            with os.scandir(self._root) as entries:
                folders = [e.path for e in entries if e.is_dir(follow_symlinks=False)]
        except OSError:
            return
        for folder in folders:
            mtime = _mtime(folder)
            if mtime is not None:
                self._folders[folder] = mtime
                self._scan_folder(folder)

    def _quick_check(self) -> None:
        if _mtime(self._root) != self._root_mtime:
            self._full_scan()  # a new project folder (or the store appeared)
            return
        for folder, seen in list(self._folders.items()):
            mtime = _mtime(folder)
            if mtime is not None and mtime != seen:
                self._folders[folder] = mtime
                self._scan_folder(folder)  # a new (or removed) session file
        for path in list(self._hot):
            mtime = _mtime(path)
            if mtime is None:
                del self._hot[path]
            elif mtime != self._hot[path]:
                self._note(path, mtime)
