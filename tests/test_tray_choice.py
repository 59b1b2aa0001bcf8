"""tray/choice.py: which backend, and why, from the environment and the hosts running."""
from __future__ import annotations

import pytest

from tray_monitor.tray.choice import BackendChoice, Hosts, choose_backend, find_hosts

X = {"DISPLAY": ":5", "DBUS_SESSION_BUS_ADDRESS": "unix:path=/x"}


def hosts(sni=None, xembed=None):
    asked = []

    def probe():
        asked.append(True)
        return Hosts(sni=sni, xembed=xembed)

    probe.asked = asked
    return probe


@pytest.mark.parametrize("value, expected", [
    ("sni", BackendChoice("sni", "StatusNotifierItem (CLAUDE_TRAY_BACKEND=sni)")),
    ("xembed", BackendChoice("pystray", "pystray xorg (CLAUDE_TRAY_BACKEND=xembed)", "xorg")),
    ("GTK", BackendChoice("pystray", "pystray gtk (CLAUDE_TRAY_BACKEND=gtk)", "gtk")),
    ("appindicator", BackendChoice("pystray", "pystray appindicator (CLAUDE_TRAY_BACKEND=appindicator)",
                                   "appindicator")),
])
def test_claude_tray_backend_forces_a_backend_without_probing(value, expected):
    probe = hosts(sni=False, xembed=False)
    assert choose_backend({"CLAUDE_TRAY_BACKEND": value, "PYSTRAY_BACKEND": "dummy"}, "linux", probe) == expected
    assert probe.asked == []


def test_pystray_backend_forces_pystray_and_an_unknown_claude_tray_backend_is_named():
    choice = choose_backend({"CLAUDE_TRAY_BACKEND": "kde", "PYSTRAY_BACKEND": "xorg"}, "linux", hosts())
    assert (choice.kind, choice.pystray_backend) == ("pystray", "xorg")
    assert "CLAUDE_TRAY_BACKEND=kde ignored" in choice.reason


@pytest.mark.parametrize("platform", ["darwin", "win32"])
def test_macos_and_windows_keep_pystray(platform):
    probe = hosts(sni=True)
    assert choose_backend({}, platform, probe).kind == "pystray"
    assert probe.asked == []


def test_linux_prefers_a_watcher_then_an_xembed_tray_then_waits():
    assert choose_backend(X, "linux", hosts(sni=True, xembed=True)).label == "sni"
    xembed = choose_backend(X, "linux", hosts(sni=False, xembed=True))
    assert (xembed.kind, xembed.pystray_backend, xembed.label) == ("pystray", "xorg", "xembed")
    assert "XEmbed via the tray manager on :5" in xembed.reason
    assert choose_backend(X, "linux", hosts(sni=False, xembed=False)).kind == "wait"


def test_wayland_without_display_uses_sni_or_waits_and_no_session_at_all_is_none():
    wayland = {"WAYLAND_DISPLAY": "wayland-0", "DBUS_SESSION_BUS_ADDRESS": "unix:path=/x"}
    assert choose_backend(wayland, "linux", hosts(sni=True)).kind == "sni"
    assert choose_backend(wayland, "linux", hosts(sni=False)).kind == "wait"
    assert choose_backend({"DBUS_SESSION_BUS_ADDRESS": "unix:path=/x"}, "linux", hosts(sni=True)).kind == "sni"
    none = choose_backend({}, "linux", hosts())
    assert none.kind == "none" and "claude-tray watch" in none.reason


def test_find_hosts_asks_x_only_without_a_watcher_and_treats_probe_errors_as_unknown():
    asked = []

    def x_probe(display):
        asked.append(display)
        return True

    assert find_hosts(X, lambda address: True, x_probe) == Hosts(sni=True, xembed=None)
    assert asked == []

    def broken(address):
        raise OSError("no such socket")

    assert find_hosts(X, broken, x_probe) == Hosts(sni=None, xembed=True)
    assert find_hosts({}, broken, x_probe) == Hosts(sni=None, xembed=None)
