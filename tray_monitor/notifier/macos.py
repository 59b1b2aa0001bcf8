"""macOS: `osascript -e 'display notification ...'`, which needs no compiled extension (pyobjc).

The popup is attributed to "Script Editor" and cannot be replaced; macOS groups it anyway.
"""
from __future__ import annotations

import subprocess
from collections.abc import Callable

from tray_monitor.alerts import Notification
from tray_monitor.notifier.base import FailureLog

OSASCRIPT = "/usr/bin/osascript"  # absolute: never whatever "osascript" is first on PATH
_RUN_TIMEOUT = 10.0


def applescript_string(text: str) -> str:
    """A double-quoted AppleScript string literal: backslash and quote escaped; line breaks and
    tabs become spaces (a banner shows one line, and -e takes one line of script)."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    for control in ("\r\n", "\r", "\n", "\t"):
        escaped = escaped.replace(control, " ")
    return f'"{escaped}"'


class OsascriptNotifier:
    name = "osascript"
    replaces = False

    def __init__(self, run: Callable[..., subprocess.CompletedProcess] = subprocess.run,
                 osascript: str = OSASCRIPT):
        self._run = run
        self._osascript = osascript
        self._failures = FailureLog(self.name)

    def argv(self, n: Notification) -> list[str]:
        script = f"display notification {applescript_string(n.body)} with title {applescript_string(n.summary)}"
        return [self._osascript, "-e", script]

    def send(self, n: Notification) -> None:
        try:
            result = self._run(self.argv(n), capture_output=True, text=True, timeout=_RUN_TIMEOUT, check=False)
            if result.returncode != 0:
                reason = (result.stderr or "").strip().splitlines()[:1] or [f"exit status {result.returncode}"]
                raise RuntimeError(reason[0])
            self._failures.succeeded()
        except (OSError, subprocess.SubprocessError, RuntimeError) as exc:
            self._failures.failed(exc)
