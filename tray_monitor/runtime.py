"""Where the running tray can be found, for processes that must start fast (the statusline).

Light on purpose: only `os`, `sys`, `json` and `socket` (paths are plain strings: pathlib alone
costs milliseconds), so `claude-tray statusline` (run by Claude
Code on every turn) pays no more than it needs. `instance.py` (the server and the full client) and
`environment.py` use the same names and the same directory rule.
"""
from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping  # already loaded by the interpreter: no cost

APP_NAME = "claude-tray"
SOCKET_NAME = "claude-tray.sock"
PORT_FILE_NAME = "claude-tray.port"
#: The running tray's current reading, rewritten after every change (shared_reading.py).
READING_FILE_NAME = "reading.json"
#: sun_path holds 104 bytes on macOS, 108 on Linux; beyond this the TCP transport is used instead.
MAX_UNIX_PATH = 100


def runtime_dir_for(environ: Mapping[str, str], platform: str | None = None) -> str:
    """The runtime directory without building a whole Environment: $XDG_RUNTIME_DIR/claude-tray on
    Linux when that exists (a private tmpfs), else "run" in the user's cache directory. The same
    rule as `Environment.from_os`."""
    platform = platform or sys.platform
    runtime = environ.get("XDG_RUNTIME_DIR") if platform == "linux" else None
    if runtime and os.path.isdir(runtime):
        return os.path.join(runtime, APP_NAME)
    return os.path.join(user_cache_dir(environ, platform), "run")


def user_cache_dir(environ: Mapping[str, str], platform: str) -> str:
    """platformdirs' user_cache_dir for claude-tray, computed here on Linux and macOS: importing
    platformdirs costs the statusline ~10 ms (it pulls in tempfile, shutil, bz2, lzma). Windows
    asks platformdirs itself (the known-folder API). tests/test_runtime.py holds them equal."""
    return _user_dir(environ, platform, "XDG_CACHE_HOME", "~/.cache", "~/Library/Caches", "user_cache_dir")


def user_config_dir(environ: Mapping[str, str], platform: str) -> str:
    """platformdirs' user_config_dir (settings.toml), as user_cache_dir: for `statusline --account`."""
    return _user_dir(environ, platform, "XDG_CONFIG_HOME", "~/.config", "~/Library/Application Support",
                     "user_config_dir")


def user_data_dir(environ: Mapping[str, str], platform: str) -> str:
    """platformdirs' user_data_dir (preferences.json), as user_cache_dir: for `statusline --account`."""
    return _user_dir(environ, platform, "XDG_DATA_HOME", "~/.local/share", "~/Library/Application Support",
                     "user_data_dir")


def _user_dir(environ: Mapping[str, str], platform: str, variable: str, unix: str, macos: str, kind: str) -> str:
    if platform == "darwin" or platform.startswith(("linux", "freebsd", "openbsd", "netbsd")):
        base = environ.get(variable, "")  # honoured on macOS too (platformdirs 4.x)
        if not base.startswith("/"):
            base = os.path.expanduser(macos if platform == "darwin" else unix)
        return os.path.join(base, APP_NAME)
    import platformdirs

    return str(getattr(platformdirs, kind)(APP_NAME, appauthor=False))


def claude_config_dir(environ: Mapping[str, str]) -> str:
    """The Claude Code config folder a process belongs to ($CLAUDE_CONFIG_DIR, else ~/.claude), as a
    real path: a statusline from a session of another login must not feed this login's tray."""
    folder = environ.get("CLAUDE_CONFIG_DIR") or os.path.join(environ.get("HOME") or os.path.expanduser("~"),
                                                              ".claude")
    return os.path.realpath(folder)


def uses_unix_socket(runtime_dir: str, platform: str) -> bool:
    if platform == "win32":
        return False
    import socket

    if not hasattr(socket, "AF_UNIX"):
        return False
    return len(os.fsencode(os.path.join(runtime_dir, SOCKET_NAME))) <= MAX_UNIX_PATH


def quick_command(runtime_dir: str, platform: str, command: str, timeout: float) -> str | None:
    """Send one command line to the running tray and return its reply line; None when no tray
    runs, it does not answer within `timeout`, or anything else goes wrong. Never raises: the
    statusline must print its line whatever happens here."""
    if platform != "win32" and not os.path.exists(os.path.join(runtime_dir, SOCKET_NAME)) \
            and not os.path.exists(os.path.join(runtime_dir, PORT_FILE_NAME)):
        return None  # no tray runs: not even the socket module is needed
    import socket

    try:
        if uses_unix_socket(runtime_dir, platform):
            path = os.path.join(runtime_dir, SOCKET_NAME)
            if not os.path.exists(path):
                return None
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            address: str | tuple[str, int] = path
            line = command
        else:
            with open(os.path.join(runtime_dir, PORT_FILE_NAME), encoding="utf-8") as f:
                info = json.load(f)
            address = ("127.0.0.1", int(info["port"]))
            line = f"{info['token']} {command}"
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        with sock:
            sock.settimeout(timeout)
            sock.connect(address)
            sock.sendall((line + "\n").encode("utf-8"))
            data = b""
            while b"\n" not in data and len(data) < 256 * 1024:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        return data.split(b"\n", 1)[0].decode("utf-8", errors="replace") or None
    except (OSError, ValueError, KeyError, TypeError):
        return None
