"""claude-tray on waybar's tray in a headless sway: a real Wayland session, no DISPLAY. The same
checks as on xfce4-panel (tests/host_checks.py full_check), with grim for the screen and a virtual
pointer for the clicks. As root the compositor, the bar and the app run as `nobody`."""
from __future__ import annotations

import pytest

from tests.host_checks import full_check

pytestmark = pytest.mark.desktop


def test_claude_tray_on_waybar_in_sway(host_world, sway_host):
    world = host_world(sway_host)
    assert "DISPLAY" not in world.env()
    full_check(world, sway_host, "waybar")
