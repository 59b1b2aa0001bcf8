"""`claude-tray --demo` through its whole round (55 % ... 104 %, rate limited, login expired, reset,
back to the first step) under each StatusNotifierItem host at once: gtk-sni-tray-standalone,
xfce4-panel and lxqt-panel under Xvfb, waybar in a headless sway. The item stays on every host at
every step, the app quits from the menu with exit 0, and nothing in its output or log is a
traceback or an ERROR line. All four side by side: one round (about 50 s) for the four hosts.
gtk-sni-tray-standalone shares the session bus with dunst, so there the demo's popups are really
shown (and may not log an error either)."""
from __future__ import annotations

import pytest

from tests.host_checks import demo_rounds

pytestmark = pytest.mark.desktop


def test_the_demo_goes_round_under_every_sni_host_without_an_error(
        host_world, gtk_host, xfce_host, lxqt_host, sway_host, notification_daemon):
    demo_rounds([(host_world(host), host, name) for host, name in
                 ((gtk_host, "gtk"), (xfce_host, "xfce"), (lxqt_host, "lxqt"), (sway_host, "waybar"))])
