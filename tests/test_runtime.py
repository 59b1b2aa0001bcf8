"""runtime.py: the runtime directory found without platformdirs, and the statusline's quick
client, against what Environment and the real control server use."""
from __future__ import annotations

import os

import platformdirs.macos
import platformdirs.unix
import pytest

from tray_monitor import runtime
from tray_monitor.environment import Environment
from tray_monitor.instance import ControlServer


@pytest.mark.parametrize("platform, dirs", [("linux", platformdirs.unix.Unix), ("darwin", platformdirs.macos.MacOS)])
@pytest.mark.parametrize("cache_home", [None, "", "  ", "relative/x", "/somewhere/cache"])
def test_the_cache_dir_is_platformdirs_own(monkeypatch, platform, dirs, cache_home):
    if cache_home is None:
        monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    else:
        monkeypatch.setenv("XDG_CACHE_HOME", cache_home)
    assert runtime.user_cache_dir(os.environ, platform) == dirs("claude-tray", appauthor=False).user_cache_dir


def test_without_xdg_runtime_dir_the_runtime_dir_is_in_the_cache_dir(monkeypatch, tmp_path):
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "c"))
    assert Environment.from_os().runtime_dir == tmp_path / "c" / "claude-tray" / "run"
    assert runtime.runtime_dir_for(os.environ, "linux") == str(tmp_path / "c" / "claude-tray" / "run")


def test_with_xdg_runtime_dir_both_agree():
    assert str(Environment.from_os().runtime_dir) == runtime.runtime_dir_for(os.environ, "linux")
    assert runtime.runtime_dir_for(os.environ, "linux") == os.path.join(os.environ["XDG_RUNTIME_DIR"], "claude-tray")


@pytest.mark.parametrize("transport", ["unix", "tcp"])
def test_quick_command_reaches_the_real_control_server(transport):
    env = Environment.from_os(platform="win32") if transport == "tcp" else Environment.from_os()
    server = ControlServer(env, {"ping": lambda: "pong"}, transport=transport,
                           arg_handlers={"echo": lambda arg: f"got {arg}"})
    server.start()
    try:
        platform = "win32" if transport == "tcp" else "linux"
        assert runtime.quick_command(str(env.runtime_dir), platform, "ping", 1.0) == "pong"
        assert runtime.quick_command(str(env.runtime_dir), platform, "echo a b", 1.0) == "got a b"
        assert runtime.quick_command(str(env.runtime_dir), platform, "nope", 1.0).startswith("error: unknown command")
    finally:
        server.stop()
    assert runtime.quick_command(str(env.runtime_dir), "linux", "ping", 1.0) is None  # no tray: None, no raise


def test_quick_command_without_a_runtime_dir_is_none(tmp_path):
    assert runtime.quick_command(str(tmp_path / "absent"), "linux", "ping", 1.0) is None
    assert runtime.quick_command(str(tmp_path / "absent"), "win32", "ping", 1.0) is None

