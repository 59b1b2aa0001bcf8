"""One way for tests to build an `Environment` whose every path lies under a temporary folder."""
from __future__ import annotations

import io
from pathlib import Path

from tray_monitor.environment import Environment


def temp_env(root: Path, environ: dict | None = None, platform: str = "linux", **overrides) -> Environment:
    """Config, data, log and runtime folders under `root`; HOME is `root` unless overridden;
    stdout and stderr are StringIO so a test can read what a command printed."""
    values = dict(
        environ=dict(environ or {}),
        home=root,
        platform=platform,
        config_dir=root / "config",
        data_dir=root / "data",
        log_dir=root / "log",
        runtime_dir=root / "run",
        stdout=io.StringIO(),
        stderr=io.StringIO(),
    )
    values.update(overrides)
    return Environment(**values)
