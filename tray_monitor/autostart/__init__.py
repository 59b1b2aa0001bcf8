"""Start at login: one small class per OS behind one interface, chosen by `make_autostart(env)`.

The policy lives here, once, for every OS:
- `enable()` / `disable()` are idempotent and remember the user's wish in preferences.json.
- A user who deleted the entry by hand is not overruled: `status()` then says "removed by hand" and
  nothing but an explicit `enable()` writes it again. Likewise an entry the desktop marked as turned
  off (GNOME's startup settings, Windows Task Manager) stays off.
- The entry follows the app: `follow()` (called at tray start) rewrites an existing entry whose
  command is not this install's; it never creates one. `status()` says when the entry points to a
  program that no longer exists.

Each OS class only knows how to read, write and remove its entry (`_read`, `_write`, `_remove`).
Importing this package, or any platform module, needs neither pywin32 nor pyobjc.
"""
from __future__ import annotations

import logging
import ntpath
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from tray_monitor.errors import MonitorError
from tray_monitor.settings import load_preferences, save_preference

log = logging.getLogger(__name__)

#: The name used for the entry on every OS (desktop file, registry value, LaunchAgent label suffix).
ENTRY_NAME = "claude-tray"


class AutostartFailed(MonitorError):
    """The login entry could not be written or removed (permissions, read-only home, registry)."""


@dataclass(frozen=True)
class Entry:
    """What an OS entry says: the command it runs and whether the desktop will run it."""

    command: tuple[str, ...]
    active: bool = True  # False when the desktop's own settings turned it off


@dataclass(frozen=True)
class AutostartStatus:
    #: "enabled" | "other_install" | "missing_target" | "turned_off" | "removed_by_hand" |
    #: "disabled" | "unavailable" | "error"
    state: str
    enabled: bool  # the app will start at login (the menu's check mark)
    location: str  # the entry's file path or registry key, for the user to look at
    command: tuple[str, ...] | None  # what the entry runs, None when there is no entry
    message: str  # one sentence, with the command that fixes it when something is off

    def describe(self) -> str:
        """What `claude-tray autostart status` prints: the sentence, then what the entry runs."""
        if not self.command:
            return self.message
        return f"{self.message}\nCommand: {' '.join(self.command)}"


def launch_command(
    platform: str,
    executable: str | None = None,
    frozen: bool | None = None,
    exists: Callable[[str], bool] = os.path.exists,
    is_executable: Callable[[str], bool] = lambda p: os.access(p, os.X_OK),
) -> tuple[str, ...]:
    """The absolute command that starts this very install of the tray app, without a console.

    `sys.executable` is made absolute but NOT resolved: in a venv (and so in a pipx install) it is
    a symlink, and its target, the base interpreter, does not have our package.
    """
    executable = executable if executable is not None else sys.executable
    frozen = getattr(sys, "frozen", False) if frozen is None else frozen
    if platform == "win32":
        exe = ntpath.abspath(executable) if os.name == "nt" else executable
        if frozen:
            return (exe,)  # the PyInstaller build is windowed: no console
        # pythonw.exe sits next to python.exe (also in a venv's Scripts\) and opens no console window.
        pythonw = ntpath.join(ntpath.dirname(exe), "pythonw.exe")
        return (pythonw if exists(pythonw) else exe, "-m", "tray_monitor")
    exe = os.path.abspath(executable)
    if frozen:
        return (exe,)
    script = os.path.join(os.path.dirname(exe), ENTRY_NAME)  # the console script of a venv/pipx install
    if exists(script) and is_executable(script):
        return (script,)
    return (exe, "-m", "tray_monitor")


def launch_workdir(command: Sequence[str]) -> str | None:
    """For the `python -m tray_monitor` form: the directory holding the package. `-m` puts the
    working directory on sys.path, so a run from a source checkout (not pip-installed) still finds
    the package at login. None for a console script or a frozen build, which need no directory."""
    if tuple(command[1:3]) != ("-m", "tray_monitor"):
        return None
    import tray_monitor

    return os.path.dirname(os.path.dirname(os.path.abspath(tray_monitor.__file__)))


class Autostart:
    """The policy shared by every OS. Subclasses implement `_read`, `_write`, `_remove`."""

    available = True
    location = ""

    def __init__(self, env, command: Sequence[str] | None = None, exists: Callable[[str], bool] = os.path.exists):
        self.env = env
        self.command = tuple(command) if command is not None else launch_command(env.platform)
        self._exists = exists

    # --- per OS
    def _read(self) -> Entry | None:
        raise NotImplementedError

    def _write(self, command: tuple[str, ...]) -> None:
        raise NotImplementedError

    def _remove(self) -> None:
        raise NotImplementedError

    def _program(self, command: tuple[str, ...]) -> str:
        """The file the entry runs (a wrapper like `sh -c` is looked through by `_read`)."""
        return command[0] if command else ""

    def _target_exists(self, program: str) -> bool:
        return self._exists(program)

    # --- the interface
    def enable(self) -> AutostartStatus:
        """Write (or rewrite) the entry for this install; the user asked for it explicitly."""
        self._guard(self._write, self.command)
        self._remember(True)
        return self.status()

    def disable(self) -> AutostartStatus:
        if self._guard(self._read) is not None:
            self._guard(self._remove)
        self._remember(False)
        return self.status()

    def follow(self) -> AutostartStatus:
        """Point an existing, active entry at this install when the app has moved. Never creates one."""
        entry = self._guard(self._read)
        if entry is not None and entry.active and entry.command != self.command:
            log.info("autostart entry pointed at %s; updating it to this install", entry.command[:1])
            self._guard(self._write, self.command)
        return self.status()

    def status(self) -> AutostartStatus:
        where = self.location
        try:
            entry = self._guard(self._read)
        except AutostartFailed as exc:  # never raise from status: the menu asks it for a check mark
            return AutostartStatus("error", False, where, None, exc.message)
        if entry is None:
            prefs, _ = load_preferences(self.env)
            if prefs.get("autostart") is True:
                return AutostartStatus(
                    "removed_by_hand", False, where, None,
                    f"The login entry {where} was removed by hand, so claude-tray does not start at login; "
                    "run `claude-tray autostart enable` to add it again.",
                )
            return AutostartStatus(
                "disabled", False, where, None,
                "claude-tray does not start at login; run `claude-tray autostart enable` to change that.",
            )
        program = self._program(entry.command)
        if not program:
            return AutostartStatus(
                "missing_target", False, where, entry.command,
                f"The login entry {where} is damaged; run `claude-tray autostart enable` to rewrite it, "
                "or `disable` to remove it.",
            )
        if not self._target_exists(program):
            return AutostartStatus(
                "missing_target", False, where, entry.command,
                f"The login entry {where} runs {program}, which no longer exists; run "
                "`claude-tray autostart enable` to point it at this install, or `disable` to remove it.",
            )
        if not entry.active:
            return AutostartStatus(
                "turned_off", False, where, entry.command,
                f"The login entry {where} was turned off in the desktop's startup settings; run "
                "`claude-tray autostart enable` to turn it back on.",
            )
        if entry.command != self.command:
            return AutostartStatus(
                "other_install", True, where, entry.command,
                f"Starts at login, but from another install ({program}); run "
                "`claude-tray autostart enable` to start this one instead.",
            )
        return AutostartStatus(
            "enabled", True, where, entry.command, f"Starts at login ({where})."
        )

    # --- helpers
    def _remember(self, wanted: bool) -> None:
        try:
            save_preference(self.env, "autostart", wanted)
        except OSError as exc:
            # The entry itself is what makes the app start; only "removed by hand" detection is lost.
            log.warning("could not remember the autostart choice: %s", exc)

    def _guard(self, action, *args):
        try:
            return action(*args)
        except AutostartFailed:
            raise
        except OSError as exc:
            raise AutostartFailed(
                f"Could not change the login entry {self.location}: {exc.strerror or exc}."
            ) from None


class NoAutostart(Autostart):
    """Fallback where no start-at-login mechanism is known: says so, changes nothing."""

    available = False

    def __init__(self, env, reason: str = "this platform"):
        self.env = env
        self.command = ()
        self.reason = reason

    def enable(self) -> AutostartStatus:
        return self.status()

    def disable(self) -> AutostartStatus:
        return self.status()

    def follow(self) -> AutostartStatus:
        return self.status()

    def status(self) -> AutostartStatus:
        return AutostartStatus(
            "unavailable", False, "", None,
            f"Start at login is not supported on {self.reason}; use your desktop's startup settings.",
        )


def make_autostart(env) -> Autostart:
    """The autostart for `env.platform`; a do-nothing one where there is none."""
    if env.platform == "darwin":
        from tray_monitor.autostart.macos import LaunchAgentAutostart

        return LaunchAgentAutostart(env)
    if env.platform == "win32":
        try:
            import winreg  # noqa: F401  (present on every Windows Python)
        except ImportError:
            return NoAutostart(env, "this Python (no winreg)")
        from tray_monitor.autostart.windows import RegistryAutostart

        return RegistryAutostart(env)
    if env.platform.startswith(("linux", "freebsd", "openbsd", "netbsd")):
        from tray_monitor.autostart.linux import XdgAutostart

        return XdgAutostart(env)
    return NoAutostart(env, env.platform)
