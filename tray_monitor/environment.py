"""The outside world as one injectable object (environment variables, home, paths, stdio, clock).

Tests build an `Environment` with temporary directories instead of patching globals; the
composition root builds the real one with `Environment.from_os()`.
"""
from __future__ import annotations

import functools
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from tray_monitor.clock import Clock, SystemClock
from tray_monitor.runtime import APP_NAME, runtime_dir_for

if TYPE_CHECKING:
    from tray_monitor.settings import Settings


@dataclass(frozen=True)
class Environment:
    environ: Mapping[str, str]
    home: Path
    platform: str  # sys.platform: "linux", "darwin", "win32"
    config_dir: Path  # settings.toml
    data_dir: Path  # alert memory (SQLite)
    log_dir: Path  # rotating log
    runtime_dir: Path  # single-instance lock and control socket
    stdout: TextIO = field(default=sys.stdout, repr=False)
    stderr: TextIO = field(default=sys.stderr, repr=False)
    clock: Clock = field(default_factory=SystemClock, repr=False)
    cache_dir: Path | None = None  # things we can draw again (the usage chart); None = data_dir/cache

    @property
    def cache_path(self) -> Path:
        return self.cache_dir if self.cache_dir is not None else self.data_dir / "cache"

    @functools.cached_property
    def loaded_settings(self) -> tuple[Settings, list[str]]:
        """The settings file with the menu's remembered toggles on top, and its warnings: read once,
        at first use, then shared by the command line (the interval) and the composition root."""
        from tray_monitor.settings import load_settings

        return load_settings(self)

    @classmethod
    def from_os(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Environment:
        """Paths from platformdirs (which honours XDG_* on Linux), read at call time, not import."""
        import platformdirs

        environ = dict(os.environ if environ is None else environ)
        dirs = platformdirs.PlatformDirs(APP_NAME, appauthor=False)
        values: dict[str, Any] = dict(
            environ=environ,
            home=Path(environ.get("HOME") or Path.home()),
            platform=sys.platform,
            config_dir=Path(dirs.user_config_dir),
            data_dir=Path(dirs.user_data_dir),
            log_dir=Path(dirs.user_log_dir),
            # $XDG_RUNTIME_DIR/claude-tray on Linux when it exists (a private tmpfs), else a folder in
            # the cache directory; not platformdirs' user_runtime_dir, which warns and points at
            # /run/user/<uid> even where that does not exist (ssh sessions, containers).
            runtime_dir=Path(runtime_dir_for(environ)),
            cache_dir=Path(dirs.user_cache_dir),
        )
        values.update(overrides)
        return cls(**values)
