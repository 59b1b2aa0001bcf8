"""Several logins in one real tray (issue 15), on Xvfb + a tray host + dunst, against the loopback
server answering per token: each login's section in the menu (read back over the control
channel), the icon and tooltip following the binding login, popups naming their login, a 429 or
an expired login holding back only its own account, and no token anywhere."""
from __future__ import annotations

import json

import pytest

from tests.fakeapi import Response, error_fixture
from tests.logins import TOKENS, login
from tests.test_app_notifications import popups
from tests.test_app_notifications import xorg_world as xorg_world
from tests.test_shared_desktop import SESSION_RESETS, WEEKLY_RESETS

pytestmark = pytest.mark.desktop

WORK_LABEL = "me@work.example"


def body(session: float, weekly: float = 30.0) -> Response:
    return Response.json({"five_hour": {"utilization": session, "resets_at": SESSION_RESETS.isoformat()},
                          "seven_day": {"utilization": weekly, "resets_at": WEEKLY_RESETS.isoformat()}})


def add_logins(world, names: tuple[str, ...], expired: tuple[str, ...] = ()) -> None:
    """The default login (the world's CLAUDE_CONFIG_DIR) plus one folder per name, listed in settings."""
    login(world.claude_dir, TOKENS["default"])
    entries = []
    for name in names:
        folder = world.home / f".claude-{name}"
        login(folder, TOKENS[name], expires_in=-3600 if name in expired else 8 * 3600)
        entries.append(f'{{ name = "{name}", config_dir = "~/.claude-{name}" }}')
    (world.home / ".claude-work").mkdir(exist_ok=True)
    (world.home / ".claude-work" / ".claude.json").write_text(json.dumps({"oauthAccount": {"emailAddress": WORK_LABEL}}))
    settings = world.home / ".config" / "claude-tray" / "settings.toml"
    settings.parent.mkdir(parents=True, exist_ok=True)
    settings.write_text(f"accounts = [{', '.join(entries)}]\n")


def section(view: dict, header: str) -> list[str]:
    """The menu lines under a login's header, up to the next login's header or the commands. A
    header is the login's label, with " · <plan>" once a reading brought the plan."""
    menu = view["menu"]
    if header not in menu:
        return []
    headers = {"default", WORK_LABEL, "play"}
    lines = []
    for line in menu[menu.index(header) + 1:]:
        if line == "Refresh now" or line.split(" · ")[0] in headers:
            break
        lines.append(line)
    return lines


def session_line(view: dict, header: str, percent: int) -> bool:
    return any(line.startswith(f"Current session: {percent}%") for line in section(view, header))


def assert_no_token(world, daemon) -> None:
    secrets = [t.split("-ACCT")[1] for t in TOKENS.values()]
    texts = [str(e) for e in daemon.history()]
    texts += [p.read_bytes().decode("utf-8", "replace") for p in
              [world.log_path, *world.data_dir.rglob("*"), *(world.root / "apps").glob("*.log")] if p.is_file()]
    for secret in secrets:
        assert not any(secret in text for text in texts)


def test_two_logins_side_by_side_icon_follows_the_binding_one_popups_name_it(xorg_world, notification_daemon):
    world = xorg_world
    add_logins(world, ("work",))
    world.api.per_token({TOKENS["default"]: body(40.0), TOKENS["work"]: body(95.0)})
    world.start_tray("--interval", "600")
    world.wait_view(lambda v: "default · Max 5x" in v["menu"], what="the default login's section")
    world.cli("refresh")  # the work login's first poll is half an interval away: ask now
    view = world.wait_view(lambda v: session_line(v, f"{WORK_LABEL} · Max 5x", 95), timeout=30,
                           what="the work login's section")
    assert session_line(view, "default · Max 5x", 40)
    in_icon = [line for line in view["menu"] if line.endswith("in the icon")]
    assert len(in_icon) == 1 and in_icon[0].startswith("Current session: 95%")  # the work login's, alone
    assert view["icon"]["percent"] == 95.0 and view["icon"]["severity"] == "critical"
    assert view["tooltip"].startswith(f"{WORK_LABEL}: ")
    shown = popups(notification_daemon)
    assert shown and all(summary.startswith(f"{WORK_LABEL}: ") for _, _, summary, _ in shown), shown
    assert world.api.count(TOKENS["default"]) >= 1 and world.api.count(TOKENS["work"]) >= 1
    assert world.api.wrong_tokens == []
    assert_no_token(world, notification_daemon)


def test_three_logins_one_expired_one_rate_limited_hold_back_only_themselves(xorg_world, notification_daemon):
    world = xorg_world
    add_logins(world, ("work", "play"), expired=("work",))
    world.api.per_token({TOKENS[n]: body(20.0 + i) for i, n in enumerate(("default", "work", "play"))})
    world.api.queue_for(TOKENS["play"], Response(429, error_fixture("429-rate-limited.json"), {"Retry-After": "900"}))
    world.start_tray("--interval", "600")
    world.wait_view(lambda v: "default · Max 5x" in v["menu"], what="the default login's section")
    world.cli("refresh")
    view = world.wait_view(lambda v: any("Rate limited" in line for line in section(v, "play")),
                           timeout=30, what="the play login rate limited")
    # the advice names the login's folder: `claude` alone would log in the default one
    assert "Login expired — run CLAUDE_CONFIG_DIR=~/.claude-work claude in a terminal" in section(view, WORK_LABEL), \
        view["menu"]
    assert session_line(view, "default · Max 5x", 20)
    world.cli("refresh")  # play waits out its 429; the others are free to ask
    status = json.loads(world.cli("status", "--json").stdout)
    assert [a["status"] for a in status["accounts"]] == ["ok", "expired", "rate_limited"]
    assert world.api.count(TOKENS["play"]) == 1 and world.api.count(TOKENS["work"]) == 0
    assert world.api.wrong_tokens == []
    assert_no_token(world, notification_daemon)


def test_a_login_added_to_a_listed_folder_while_running_is_picked_up_and_a_removed_one_is_said(
        xorg_world, notification_daemon):
    world = xorg_world
    add_logins(world, ("play",))
    play_credentials = world.home / ".claude-play" / ".credentials.json"
    play_credentials.unlink()  # the folder is listed, nobody logged in there yet
    world.api.per_token({TOKENS["default"]: body(20.0), TOKENS["play"]: body(61.0)})
    world.start_tray("--interval", "600")
    world.wait_view(lambda v: "default · Max 5x" in v["menu"], what="the default login's section")
    done = world.cli("refresh")
    assert done.returncode == 0, (done.stdout, done.stderr)
    world.wait_view(lambda v: "No Claude Code login — run CLAUDE_CONFIG_DIR=~/.claude-play claude and log in" in section(v, "play"),
                    timeout=30, what="the play login missing")
    login(world.home / ".claude-play", TOKENS["play"])  # `CLAUDE_CONFIG_DIR=~/.claude-play claude` logs in
    world.wait_view(lambda v: session_line(v, "play · Max 5x", 61), timeout=30, what="the new login's reading")
    requests = world.api.count(TOKENS["play"])
    play_credentials.unlink()  # logged out there: said at once by status, without a request; the tray
    # notices at that login's next poll (a refresh right after its poll is coalesced, as for one login)
    gone = json.loads(world.cli("status", "--json", "--account", "play").stdout)
    assert gone["status"] == "signed_out" and gone["account"]["name"] == "play"
    assert world.api.count(TOKENS["play"]) == requests
    assert session_line(world.view(), "default · Max 5x", 20)
    assert world.api.count(TOKENS["play"]) >= 1 and world.api.wrong_tokens == []
    assert_no_token(world, notification_daemon)
