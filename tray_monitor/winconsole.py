"""Windows: output for commands typed into a console, from a program built without one (shell).

The Windows build is windowed (no console flashes up at login), and `pythonw.exe`, which the login
entry runs, is too. In both, `sys.stdout` and `sys.stderr` are None: `claude-tray.exe status`
typed into cmd or PowerShell would print nothing, and anything that writes to them would fail.
So, before anything prints, a missing stream is replaced:
- typed into a console: the process attaches to that console (AttachConsole(ATTACH_PARENT_PROCESS))
  and writes to it through "CONOUT$" (Python opens it as a Unicode console stream);
- started at login or from Explorer (no console to attach to): the stream goes to os.devnull, so
  writing is harmless; the log file has everything.
A stream that exists (a console build, `python.exe`, output redirected to a file or pipe) is kept.

One thing the program cannot change: cmd does not wait for a windowed program, so the prompt may
come back before the output. `start /wait claude-tray.exe status` waits (README).
"""
from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TextIO

ATTACH_PARENT_PROCESS = 0xFFFFFFFF  # (DWORD)-1: the console of the process that started us


def _kernel32() -> Any:
    import ctypes

    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]  # Windows only
    kernel32.AttachConsole.argtypes = (ctypes.c_uint32,)  # DWORD dwProcessId
    kernel32.AttachConsole.restype = ctypes.c_int  # BOOL
    return kernel32


def console_streams(
    platform: str,
    stdout: TextIO | None,
    stderr: TextIO | None,
    kernel32: Callable[[], Any] = _kernel32,
    opener: Callable[..., TextIO] = open,
) -> tuple[TextIO | None, TextIO | None]:
    """The (stdout, stderr) to use. Unchanged off Windows or when both exist; never raises."""
    if platform != "win32" or (stdout is not None and stderr is not None):
        return stdout, stderr
    replacement: TextIO | None = None
    try:
        if kernel32().AttachConsole(ATTACH_PARENT_PROCESS):
            replacement = opener("CONOUT$", "w", encoding="utf-8", errors="replace")
    except Exception:
        replacement = None
    if replacement is None:
        try:
            replacement = opener(os.devnull, "w", encoding="utf-8")
        except OSError:
            return stdout, stderr
    return (stdout if stdout is not None else replacement), (stderr if stderr is not None else replacement)
