"""The login popup of a second login that expires while the real tray runs (issue 15), on Xvfb +
a tray host + dunst against the loopback server: it names the login in its title and its folder in
what to run (`claude` alone would log in the default login), and the menu says the same."""
from __future__ import annotations

import pytest

from tests.logins import TOKENS, login
from tests.test_accounts_desktop import WORK_LABEL, add_logins, body, section, session_line
from tests.test_app_notifications import popups, wait_popups
from tests.test_app_notifications import xorg_world as xorg_world

pytestmark = pytest.mark.desktop


def test_a_second_login_expiring_while_running_is_told_to_run_claude_on_its_folder(xorg_world, notification_daemon):
    world = xorg_world
    add_logins(world, ("work",))
    world.api.per_token({TOKENS["default"]: body(20.0), TOKENS["work"]: body(30.0)})
    first = world.start_tray("--interval", "600")
    world.wait_view(lambda v: "default · Max 5x" in v["menu"], what="the default login's section")
    world.cli("refresh")  # the work login's first poll is half an interval away: ask now
    world.wait_view(lambda v: session_line(v, f"{WORK_LABEL} · Max 5x", 30), timeout=30, what="work's reading")
    # The login worked (its alert memory says so); it lapses while the tray is away (a second
    # refresh within 30 s would be coalesced), and the next tray's first poll of it finds it expired.
    assert world.cli("quit").returncode == 0
    first.process.wait(timeout=15)
    notification_daemon.clear()
    login(world.home / ".claude-work", TOKENS["work"], expires_in=-3600)
    world.start_tray("--interval", "600")
    world.wait_view(lambda v: "default · Max 5x" in v["menu"], what="the default login's section again")
    world.cli("refresh")
    advice = "Login expired — run CLAUDE_CONFIG_DIR=~/.claude-work claude in a terminal"
    view = world.wait_view(lambda v: advice in section(v, WORK_LABEL), timeout=40, what="work's advice in the menu")
    assert session_line(view, "default · Max 5x", 20)
    shown = wait_popups(notification_daemon, 1, timeout=20)
    login_popups = [p for p in shown if p[2] == f"{WORK_LABEL}: Claude login expired"]
    assert len(login_popups) == 1, shown
    assert login_popups[0][3].startswith("Run CLAUDE_CONFIG_DIR=~/.claude-work claude in a terminal to sign in again")
    assert not any("Run claude in a terminal" in p[3] for p in popups(notification_daemon))
    assert world.api.wrong_tokens == []
