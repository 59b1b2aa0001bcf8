"""Run the real `claude-tray` as a user would, in a private world, for end-to-end tests.

`ClaudeTrayWorld` is one user's machine: a temporary HOME with XDG folders, a Claude Code login in
its own CLAUDE_CONFIG_DIR, the loopback API server as CLAUDE_TRAY_API_URL, and (for tray tests)
the private X display and session bus. `world.start_tray()` runs `python -m tray_monitor` in it;
`world.view()` asks the running tray what it shows (the `view` control command: status, icon spec,
tooltip, menu lines, redraw count); `world.cli("status", "--json")` runs any other command there.

Fixture: `claude_tray_world(fake_api)` (headless; add DISPLAY/bus with `world.with_desktop(...)`).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.desktop_x import REPO, App, base_env, stop_process, wait_until
from tests.fakeapi import FakeApi, write_credentials


@dataclass
class ClaudeTrayWorld:
    root: Path
    api: FakeApi
    extra_env: dict = field(default_factory=dict)
    apps: list = field(default_factory=list)
    #: tests/desktop_hosts.RunAs: run every claude-tray process of this world as another user (the
    #: Wayland rig: sway refuses root); `root` must then be a directory that user can enter.
    run_as: Any = None

    # -- the user's files -------------------------------------------------------------------------
    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def claude_dir(self) -> Path:
        return self.home / ".claude-config"

    @property
    def credentials_path(self) -> Path:
        return self.claude_dir / ".credentials.json"

    def login(self, fixture: str | dict = "max-linux", expires_in: float | None = 8 * 3600) -> Path:
        """Claude Code's login, written the way Claude Code writes it (temporary file, rename)."""
        return write_credentials(self.claude_dir, fixture, expires_in=expires_in)

    @property
    def data_dir(self) -> Path:
        return self.home / ".local/share/claude-tray"

    @property
    def log_path(self) -> Path:
        return self.home / ".local/state/claude-tray/log/claude-tray.log"

    def env(self, **extra: str) -> dict:
        for sub in (".config", ".local/share", ".local/state", ".cache"):
            (self.home / sub).mkdir(parents=True, exist_ok=True)
        runtime = self.home / ".run"
        runtime.mkdir(mode=0o700, exist_ok=True)
        env = base_env(
            HOME=str(self.home),
            XDG_CONFIG_HOME=str(self.home / ".config"),
            XDG_DATA_HOME=str(self.home / ".local/share"),
            XDG_STATE_HOME=str(self.home / ".local/state"),
            XDG_CACHE_HOME=str(self.home / ".cache"),
            XDG_RUNTIME_DIR=str(runtime),
            CLAUDE_CONFIG_DIR=str(self.claude_dir),
            CLAUDE_TRAY_API_URL=self.api.url,
            # No `claude` on PATH here: the User-Agent falls back to the built-in version.
            PATH=os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep) if p),
        )
        env.update(self.extra_env)
        env.update(extra)
        if self.run_as is not None:
            env["PYTHONPATH"] = self.run_as.pythonpath
            self.run_as.give(self.root)
        return env

    @property
    def python(self) -> str:
        return self.run_as.python if self.run_as is not None else sys.executable

    @property
    def _popen(self) -> dict:
        return self.run_as.popen if self.run_as is not None else {}

    def with_desktop(self, display: str | None = None, bus_env: dict | None = None,
                     backend: str | None = None) -> ClaudeTrayWorld:
        if display:
            self.extra_env["DISPLAY"] = display
        if bus_env:
            self.extra_env.update(bus_env)
        if backend:
            self.extra_env["PYSTRAY_BACKEND"] = backend
        return self

    # -- running it -------------------------------------------------------------------------------
    def start_tray(self, *args: str, name: str | None = None, **env: str) -> App:
        """`claude-tray [args]` in the background; its output goes to a log file."""
        from tests.desktop_x import _start_with_stdin

        name = name or f"claude-tray-{len(self.apps)}"
        workdir = self.root / "apps"
        workdir.mkdir(exist_ok=True)
        program = _start_with_stdin(name, [self.python, "-m", "tray_monitor", *args], self.env(**env), workdir,
                                    **self._popen)
        app = App(program, workdir / f"{name}.status")
        self.apps.append(app)
        return app

    def cli(self, *args: str, timeout: float = 30, **env: str) -> subprocess.CompletedProcess:
        return subprocess.run([self.python, "-m", "tray_monitor", *args], env=self.env(**env), cwd=self._cwd,
                              capture_output=True, text=True, timeout=timeout, **self._popen)

    def control(self, command: str, timeout: float = 5) -> str:
        """One control command to the running tray, from a separate process as a user would."""
        code = ("import sys; from tray_monitor import instance; from tray_monitor.environment import Environment;"
                f"print(instance.send_command(Environment.from_os(), {command!r}, timeout={timeout}))")
        done = subprocess.run([self.python, "-c", code], env=self.env(), cwd=self._cwd,
                              capture_output=True, text=True, timeout=timeout + 10, **self._popen)
        if done.returncode != 0:
            raise AssertionError(f"control {command!r} failed: {done.stderr.strip()[-500:]}")
        return done.stdout.strip()

    def view(self) -> dict:
        return json.loads(self.control("view"))

    def wait_view(self, predicate, timeout: float = 20, what: str = "the tray view") -> dict:
        """Poll the tray's view until `predicate(view)` is true; fail with the last view seen."""
        seen: list = []

        def check():
            seen[:] = [self.view()]
            return seen[0] if predicate(seen[0]) else None

        try:
            return wait_until(check, timeout, what, interval=0.2)
        except AssertionError as exc:
            last = seen[0] if seen else None
            logs = "\n".join(app.log()[-3000:] for app in self.apps)
            raise AssertionError(f"{exc}\nlast view: {last}\napp output:\n{logs}") from None

    @property
    def _cwd(self) -> Path:
        return self.root if self.run_as is not None else REPO

    def stop_all(self) -> None:
        for app in self.apps:
            try:
                app.process.stdin.close()
            except OSError:
                pass
            stop_process(app.process, timeout=10)


@pytest.fixture
def claude_tray_world(tmp_path, fake_api):
    world = ClaudeTrayWorld(tmp_path / "world", fake_api)
    world.home.mkdir(parents=True)
    try:
        yield world
    finally:
        world.stop_all()
