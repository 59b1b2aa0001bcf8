"""macOS: a LaunchAgent, `~/Library/LaunchAgents/<label>.plist`, written with plistlib.

RunAtLoad starts it at login. No KeepAlive: the app has a Quit item, and KeepAlive would start it
again the moment the user quits.

launchd reads ~/Library/LaunchAgents at every login by itself; `launchctl` only makes the change
take effect in the current session. The launchd 2 syntax (macOS 10.10+):
`launchctl bootstrap gui/<uid> <plist>` loads (and, with RunAtLoad, starts; the single-instance lock
makes that second copy exit), `launchctl bootout gui/<uid>/<label>` unloads and stops the job,
`launchctl print gui/<uid>/<label>` exits 0 when it is loaded. bootstrap of a loaded job fails
("5: Input/output error"), so it is only run when `print` says the job is not loaded.
A launchctl failure is logged, not raised: the plist on disk is what counts at the next login.
"""
from __future__ import annotations

import logging
import os
import plistlib
import subprocess
from pathlib import Path

from tray_monitor.autostart import ENTRY_NAME, Autostart, Entry, launch_workdir
from tray_monitor.settings import write_private_file

log = logging.getLogger(__name__)

LABEL = f"com.github.{ENTRY_NAME}"
LAUNCHCTL = "/bin/launchctl"  # absolute: a login shell's PATH is not ours to trust


class LaunchAgentAutostart(Autostart):
    def __init__(self, env, command=None, run=subprocess.run, uid: int | None = None, **kwargs):
        super().__init__(env, command, **kwargs)
        self.path = Path(env.home) / "Library" / "LaunchAgents" / f"{LABEL}.plist"
        self.location = str(self.path)
        self._run = run
        self.uid = uid if uid is not None else os.getuid()

    def plist(self, command: tuple[str, ...]) -> dict:
        plist = {
            "Label": LABEL,
            "ProgramArguments": list(command),
            "RunAtLoad": True,
            "ProcessType": "Interactive",  # a UI app: do not throttle it like a background daemon
            "LimitLoadToSessionType": "Aqua",  # only in a graphical login, not over ssh
        }
        workdir = launch_workdir(command)
        if workdir:
            plist["WorkingDirectory"] = workdir
        return plist

    def _read(self) -> Entry | None:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            plist = plistlib.loads(data)
            args = plist.get("ProgramArguments") or [plist.get("Program", "")]
            command = tuple(str(a) for a in args)
            active = not plist.get("Disabled", False)
        except Exception:  # plistlib raises several types for damaged files (InvalidFileException, ExpatError, ...)
            return Entry(command=(), active=True)  # shows as "runs nothing that exists": enable rewrites it
        return Entry(command=command, active=active)

    def _write(self, command: tuple[str, ...]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_private_file(self.path, plistlib.dumps(self.plist(command)).decode("utf-8"))
        if not self._loaded():
            self._launchctl("bootstrap", f"gui/{self.uid}", str(self.path))

    def _remove(self) -> None:
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass
        # launchd sets XPC_SERVICE_NAME to the label in the jobs it starts. When that job is us,
        # bootout would kill this very app as the user unticks "Start at login": removing the
        # plist is enough, launchd forgets the job at logout.
        if self.env.environ.get("XPC_SERVICE_NAME") == LABEL:
            return
        if self._loaded():
            self._launchctl("bootout", f"gui/{self.uid}/{LABEL}")

    def _loaded(self) -> bool:
        result = self._launchctl("print", f"gui/{self.uid}/{LABEL}", quiet=True)
        return result is not None and result.returncode == 0

    def _launchctl(self, *args: str, quiet: bool = False):
        argv = [LAUNCHCTL, *args]
        try:
            result = self._run(argv, capture_output=True, text=True, timeout=15)
        except (OSError, subprocess.SubprocessError) as exc:
            log.warning("%s failed: %s", " ".join(argv), exc)
            return None
        if result.returncode != 0 and not quiet:
            log.warning("%s exited %s: %s", " ".join(argv), result.returncode, (result.stderr or "").strip())
        return result
