"""claude-tray on lxqt-panel 1.2's statusnotifier (Qt and libdbusmenu-qt, under Xvfb): the same
checks as on xfce4-panel and waybar (tests/host_checks.py full_check). Qt is the odd host out: it
reads the menu's interface through Introspect, clicks with Event (not EventGroup), and sends
Event(0, "opened"/"closed") for the menu itself."""
from __future__ import annotations

import pytest

from tests.host_checks import full_check

pytestmark = pytest.mark.desktop


def test_claude_tray_on_lxqt_panel(host_world, lxqt_host):
    full_check(host_world(lxqt_host), lxqt_host, "lxqt")
