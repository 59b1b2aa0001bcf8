"""Open a file with the desktop's own viewer: xdg-open (Linux), open (macOS), os.startfile (Windows)."""
from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger("tray_monitor.viewer")


def open_file(path: Path, platform: str, popen: Callable[..., object] = subprocess.Popen) -> bool:
    """Start the viewer and return at once (never waits for it); False, logged, when none could start."""
    try:
        if platform == "win32":
            os.startfile(str(path))  # type: ignore[attr-defined]  # Windows only
            return True
        command = ["open", str(path)] if platform == "darwin" else ["xdg-open", str(path)]
        popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
              start_new_session=True)
        return True
    except OSError as error:
        log.warning("Could not open %s with the desktop's viewer: %s", path, error)
        return False
