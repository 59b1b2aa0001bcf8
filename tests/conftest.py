"""Test isolation for every test: no test may see the real ~/.claude, the user's settings, or a
real display/bus it did not start. Fixture modules of other files are imported at the bottom."""
from __future__ import annotations

import os
import time

import pytest

# Variables that would point a test at the real user's world.
_REAL_WORLD = (
    "CLAUDE_CODE_OAUTH_TOKEN",
    "CLAUDE_CONFIG_DIR",
    "CLAUDE_SECURESTORAGE_CONFIG_DIR",
    "CLAUDE_TRAY_API_URL",
    "DISPLAY",
    "WAYLAND_DISPLAY",
    "DBUS_SESSION_BUS_ADDRESS",
    "XDG_CONFIG_HOME",
    "XDG_DATA_HOME",
    "XDG_STATE_HOME",
    "XDG_CACHE_HOME",
    "XDG_RUNTIME_DIR",
)


def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist (tests/run.sh: -n 2 --dist loadfile --no-loadscope-reorder) the modules
    with a desktop or slow test go first: they are the long ones (mostly waiting on real time:
    retry delays, demo steps, the 60 s minimum interval), and the many short unit-test modules then
    fill both workers to the end, so no long module starts last and runs alone. A plain serial
    run keeps pytest's order (unit tests first: quick feedback)."""
    if not hasattr(config, "workerinput"):  # not an xdist worker
        return
    long_modules = {item.nodeid.split("::", 1)[0] for item in items
                    if item.get_closest_marker("desktop") or item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.nodeid.split("::", 1)[0] not in long_modules)  # stable sort


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory, monkeypatch):
    """A fresh HOME and XDG tree for each test; the real one is never reachable."""
    home = tmp_path_factory.mktemp("home")
    for name in _REAL_WORLD:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local/share"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / ".local/state"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    runtime = home / ".run"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    monkeypatch.setenv("PYSTRAY_BACKEND", os.environ.get("TEST_PYSTRAY_BACKEND", "dummy"))
    monkeypatch.setenv("NO_AT_BRIDGE", "1")
    return home


@pytest.fixture
def local_time_zone(monkeypatch):
    """Call with a zone name ("Europe/Berlin") to pin the local time zone for one test. Afterwards
    both TZ and the C library's zone are what they were: a bare `delenv("TZ")` once left the test
    process in UTC while the children it started kept the caller's TZ, so their clocks differed."""

    def pin(name: str) -> None:
        monkeypatch.setenv("TZ", name)
        time.tzset()

    yield pin
    monkeypatch.undo()
    time.tzset()


# Fixture modules (one line each; owned by the files they name):
from tests.apprun import claude_tray_world  # noqa: F401,E402
from tests.desktop_bus import notification_daemon, session_bus  # noqa: F401,E402
from tests.desktop_hosts import gtk_host, lxqt_host, sway_host, xfce_host  # noqa: F401,E402
from tests.desktop_x import desktop_workdir, sni_tray, start_app, xembed_tray, xvfb  # noqa: F401,E402
from tests.fakeapi import fake_api  # noqa: F401,E402
from tests.host_checks import host_world  # noqa: F401,E402
