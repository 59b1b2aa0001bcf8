"""claude-tray on xfce4-panel 4.18's tray (StatusNotifierItem, under Xvfb): the icon's pixels, the
tooltip, the menu read back over D-Bus, "Refresh now" picked in the panel's menu with the pointer,
the toggles, a second start, the panel restarting, quit. Checks: tests/host_checks.py full_check."""
from __future__ import annotations

import pytest

from tests.host_checks import full_check

pytestmark = pytest.mark.desktop


def test_claude_tray_on_xfce4_panel(host_world, xfce_host):
    full_check(host_world(xfce_host), xfce_host, "xfce")
