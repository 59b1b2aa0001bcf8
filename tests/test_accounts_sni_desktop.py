"""Several logins in the real tray read back as a panel reads them (issue 15): our own
StatusNotifierItem backend under gtk-sni-tray-standalone (Xvfb, private bus), the menu and tooltip
over D-Bus, the icon's pixels, popups from the real dunst, against the loopback server answering
per token (a token sent as another login's gets a 401 and is recorded). Logins added and removed
with `claude-tray accounts add/remove` reach the running tray without a restart."""
from __future__ import annotations

import json

import pytest

from tests.desktop_x import pixmap_image, sni_bus_name, sni_menu_rows, sni_properties, wait_until
from tests.logins import TOKENS, login
from tests.test_accounts_desktop import WORK_LABEL, add_logins, assert_no_token, body, section, session_line
from tests.test_app_notifications import popups
from tray_monitor.icon import render_icon
from tray_monitor.model import IconSpec

pytestmark = pytest.mark.desktop


@pytest.fixture
def sni_world(claude_tray_world, xvfb, session_bus, sni_tray, notification_daemon):
    """A user whose tray runs on its own StatusNotifierItem backend, next to dunst."""
    world = claude_tray_world.with_desktop(xvfb.display, session_bus.env)
    world.extra_env["CLAUDE_TRAY_BACKEND"] = "sni"
    notification_daemon.clear()
    return world


def threshold_popups_only(world) -> None:
    """Threshold popups only (the run-out popup, issue 14, is tested on its own), kept with the
    accounts add_logins listed."""
    settings = world.home / ".config" / "claude-tray" / "settings.toml"
    settings.parent.mkdir(parents=True, exist_ok=True)
    text = settings.read_text() if settings.exists() else ""
    settings.write_text("notify_runout = false\n" + text)


def menu_over_dbus(world, app) -> list[str]:
    return [r["label"] for r in sni_menu_rows(world_bus(world), sni_bus_name(app.process.pid))
            if r["type"] != "separator"]


def world_bus(world) -> str:
    return world.extra_env["DBUS_SESSION_BUS_ADDRESS"]


def spec_of(view: dict) -> IconSpec:
    icon = view["icon"]
    return IconSpec(icon["state"], icon["percent"], icon["weekly_percent"], icon["severity"], icon["other_critical"])


def pixmaps_are(props: dict, spec: IconSpec) -> bool:
    return all(pixmap_image(w, h, data).tobytes() == render_icon(spec, size=w).tobytes()
               for w, h, data in props["IconPixmap"])


def assert_no_token_in(world, daemon, *outputs) -> None:
    """The canary over dunst, the log, the data files, the tray's own output, and every command's."""
    assert_no_token(world, daemon)
    texts = [t for done in outputs for t in (done.stdout, done.stderr)]
    texts += [p.read_bytes().decode("utf-8", "replace") for p in (world.home / ".config").rglob("*") if p.is_file()]
    for token in TOKENS.values():
        assert not any(token.split("-ACCT")[1] in text for text in texts)


def watch_first_line(world, *args: str) -> str:
    """The first line a `claude-tray watch ...` prints, then Ctrl+C."""
    import select
    import signal
    import subprocess
    import sys

    process = subprocess.Popen([sys.executable, "-m", "tray_monitor", *args], env=world.env(),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    ready = select.select([process.stdout], [], [], 20)[0]
    line = process.stdout.readline() if ready else ""
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=10)
    assert "Traceback" not in err, err
    return line


def quit_tray(world, app) -> None:
    assert world.control("quit") == "quitting"
    assert app.wait_exit(15) == 0
    assert "Traceback" not in app.log(), app.log()


HEADERS = {"default": "default · Max 5x", "work": f"{WORK_LABEL} · Max 5x", "play": "play · Max 5x"}


def all_read(view: dict, percents: dict[str, int]) -> bool:
    return all(session_line(view, HEADERS[name], percent) for name, percent in percents.items())


def test_three_logins_over_dbus_each_section_its_own_numbers_the_icon_marked_popups_named_once_each(
        sni_world, session_bus, notification_daemon):
    """default 40 %, work 95 % (the icon's), play 92 %: the menu a panel reads has a section per
    login with that login's numbers, the tooltip names work, the icon is work's 95 with the dot
    for play's critical window (pixels = render_icon), and each critical login pops up once,
    named: not again after a restart and another round of polls (alert memory per login)."""
    world, daemon = sni_world, notification_daemon
    add_logins(world, ("work", "play"))
    threshold_popups_only(world)
    percents = {"default": 40, "work": 95, "play": 92}
    world.api.per_token({TOKENS[n]: body(float(p)) for n, p in percents.items()})

    app = world.start_tray("--interval", "600")
    world.wait_view(lambda v: "default · Max 5x" in v["menu"], what="the default login's section")
    world.cli("refresh")  # the others' first polls are a share of the interval away: ask now
    view = world.wait_view(lambda v: all_read(v, percents), timeout=30, what="every login's section")

    labels = wait_until(lambda: (lambda got: got if got == [t for t in view["menu"] if t != "Show status"]
                                 else None)(menu_over_dbus(world, app)), 10, "the D-Bus menu to be the view's")
    for name, percent in percents.items():
        lines = section({"menu": labels}, HEADERS[name])
        sessions = [line for line in lines if line.startswith("Current session: ")]
        assert len(sessions) == 1 and sessions[0].startswith(f"Current session: {percent}%"), (name, labels)
    assert [line for line in labels if line.endswith("in the icon")] == [
        line for line in section({"menu": labels}, HEADERS["work"]) if line.endswith("in the icon")]
    assert labels.count("Refresh now") == 1 and labels[-1] == "Quit"  # the commands once

    props = sni_properties(world_bus(world), sni_bus_name(app.process.pid))
    assert props["ToolTip"][2] == view["tooltip"] and view["tooltip"].startswith(f"{WORK_LABEL}: ")
    assert view["icon"]["percent"] == 95.0 and view["icon"]["other_critical"] is True
    assert pixmaps_are(props, spec_of(view))
    assert props["Status"] == "NeedsAttention"

    def named_popups():
        got = popups(daemon)
        return got if len(got) >= 2 else None

    first = wait_until(named_popups, 15, "the two logins' popups")

    # `status` reads every login from the running tray: no request of its own.
    asked = [world.api.count(TOKENS[n]) for n in percents]
    every = json.loads(world.cli("status", "--json").stdout)
    assert [a["from_tray"] for a in every["accounts"]] == [True, True, True]
    assert [a["windows"][0]["percent"] for a in every["accounts"]] == [40.0, 95.0, 92.0]
    one = json.loads(world.cli("status", "--json", "--account", "play").stdout)
    assert one["from_tray"] and one["account"]["name"] == "play" and one["windows"][0]["percent"] == 92.0
    bar = json.loads(world.cli("status", "--format", "waybar", "--account", "work").stdout)
    assert "95%" in bar["text"]
    followed = watch_first_line(world, "watch", "--format", "waybar", "--account", "play")
    assert "92%" in json.loads(followed)["text"]  # `watch` follows the tray's reading of play too
    assert [world.api.count(TOKENS[n]) for n in percents] == asked
    quit_tray(world, app)

    # Again: a new process, the same numbers; nothing new to say.
    app = world.start_tray("--interval", "600")
    world.wait_view(lambda v: "default · Max 5x" in v["menu"], what="the default login's section again")
    world.cli("refresh")
    world.wait_view(lambda v: all_read(v, percents), timeout=30, what="every login read again")
    quit_tray(world, app)

    shown = popups(daemon)
    assert shown == first and len(shown) == 2, shown
    summaries = sorted(summary for _, _, summary, _ in shown)
    assert summaries == sorted([f"{WORK_LABEL}: Current session at 95%", "play: Current session at 92%"]), shown
    assert all(urgency == "critical" for _, urgency, _, _ in shown), shown
    # Each login's own token, none as another's: per run, default's poll at start and the refresh,
    # the others' refresh (their first scheduled polls were 200 and 400 s away).
    assert [world.api.count(TOKENS[n]) for n in percents] == [4, 2, 2]
    assert world.api.wrong_tokens == []
    assert_no_token(world, daemon)


def test_accounts_add_and_remove_reach_the_running_tray_and_a_deleted_folder_is_said(
        sni_world, session_bus, notification_daemon):
    """One login: the menu as it always was. `accounts add work DIR` while the tray runs: work's
    section appears with its own reading at once (its first request goes out then), over D-Bus
    too. `accounts add play` and then deleting play's folder: play says the folder is gone, sending
    nothing. `accounts remove work`: its section, its mark and its name leave the menu, icon and
    tooltip, and its poller stops (no more requests with its token)."""
    world, daemon = sni_world, notification_daemon
    login(world.claude_dir, TOKENS["default"])
    login(world.home / ".claude-work", TOKENS["work"])
    (world.home / ".claude-work" / ".claude.json").write_text(json.dumps({"oauthAccount": {"emailAddress": WORK_LABEL}}))
    login(world.home / ".claude-play", TOKENS["play"])
    threshold_popups_only(world)
    world.api.per_token({TOKENS["default"]: body(40.0), TOKENS["work"]: body(95.0), TOKENS["play"]: body(20.0)})

    app = world.start_tray("--interval", "600")
    alone = world.wait_view(lambda v: v["status"] == "ok", timeout=30, what="the one login's reading")
    assert alone["menu"][0] == "Plan: Max 5x" and not alone["tooltip"].startswith("default")  # as always
    wait_until(lambda: menu_over_dbus(world, app)[0] == "Plan: Max 5x", 10, "the plan line first over D-Bus")

    added = world.cli("accounts", "add", "work", "~/.claude-work")
    assert added.returncode == 0, added.stderr
    assert "The running claude-tray follows at once (logins: default, work; added work)." in added.stdout, added.stdout
    view = world.wait_view(lambda v: session_line(v, HEADERS["work"], 95), timeout=20, what="work's section")
    assert session_line(view, "default · Max 5x", 40) and view["tooltip"].startswith(f"{WORK_LABEL}: ")
    wait_until(lambda: HEADERS["work"] in menu_over_dbus(world, app), 10, "work's header over D-Bus")
    wait_until(lambda: popups(daemon), 10, "work's popup")
    assert [summary for _, _, summary, _ in popups(daemon)] == [f"{WORK_LABEL}: Current session at 95%"]

    assert world.cli("accounts", "add", "play", "~/.claude-play").returncode == 0
    view = world.wait_view(lambda v: session_line(v, HEADERS["play"], 20), timeout=20, what="play's section")
    assert view["icon"]["percent"] == 95.0 and not view["icon"]["other_critical"]  # play is calm
    play_requests = world.api.count(TOKENS["play"])
    for path in sorted((world.home / ".claude-play").rglob("*"), reverse=True):  # the folder deleted
        path.unlink() if path.is_file() else path.rmdir()
    (world.home / ".claude-play").rmdir()
    world.cli("refresh")
    world.wait_view(lambda v: any(line.startswith("~/.claude-play does not exist") for line in
                                  section(v, HEADERS["play"])), timeout=40, what="play saying its folder is gone")
    assert world.api.count(TOKENS["play"]) == play_requests

    work_requests = world.api.count(TOKENS["work"])
    removed = world.cli("accounts", "remove", "work")
    assert removed.returncode == 0, removed.stderr
    assert "(logins: default, play; removed work)" in removed.stdout, removed.stdout
    view = world.view()  # at once: the reply came after the tray changed
    assert all(WORK_LABEL not in line for line in view["menu"]) and WORK_LABEL not in view["tooltip"]
    assert view["icon"]["percent"] == 40.0 and not view["icon"]["other_critical"]
    wait_until(lambda: HEADERS["work"] not in menu_over_dbus(world, app), 10, "work gone from the D-Bus menu")
    props = sni_properties(world_bus(world), sni_bus_name(app.process.pid))
    assert WORK_LABEL not in props["ToolTip"][2] and pixmaps_are(props, spec_of(view))
    assert world.cli("accounts", "remove", "play").returncode == 0
    alone = world.view()
    assert alone["menu"][0] == "Plan: Max 5x" and "play" not in " ".join(alone["menu"])  # one login: as always
    assert world.cli("refresh").returncode == 0
    quit_tray(world, app)  # joins the pollers: no request of the removed logins is still on its way
    assert world.api.count(TOKENS["work"]) == work_requests
    assert world.api.wrong_tokens == []
    assert_no_token_in(world, daemon, added, removed)


def test_a_hand_edited_settings_toml_reaches_the_running_tray_at_its_next_poll(sni_world, notification_daemon):
    """No command told the tray: the login listed in settings.toml by hand appears after the
    default login's next poll (here a `claude-tray refresh`), with its own reading; taken out of
    the file again, it goes when the tray is next told to look (the `accounts` command)."""
    world, daemon = sni_world, notification_daemon
    login(world.claude_dir, TOKENS["default"])
    login(world.home / ".claude-play", TOKENS["play"])
    world.api.per_token({TOKENS["default"]: body(40.0), TOKENS["play"]: body(20.0)})
    app = world.start_tray("--interval", "600")
    world.wait_view(lambda v: v["status"] == "ok", timeout=30, what="the one login's reading")
    settings = world.home / ".config" / "claude-tray" / "settings.toml"
    settings.parent.mkdir(parents=True, exist_ok=True)
    settings.write_text('accounts = [{ name = "play", config_dir = "~/.claude-play" }]\n')
    assert world.api.count(TOKENS["play"]) == 0
    outputs = [world.cli("refresh")]
    world.wait_view(lambda v: session_line(v, HEADERS["play"], 20), timeout=20, what="play from settings.toml")
    wait_until(lambda: HEADERS["play"] in menu_over_dbus(world, app), 10, "play's header over D-Bus")
    settings.write_text("")
    # The next poll of the default login is minutes away now (a refresh within 30 s is coalesced):
    # the control command `accounts add/remove` send reads the file at once. The tray's own check
    # (after a view of the default login, e.g. at a minute tick) may have read it first: then the
    # command finds nothing left to remove.
    assert world.control("accounts") in ("logins: default; removed play", "logins: default")
    assert "play" not in " ".join(world.view()["menu"])
    wait_until(lambda: HEADERS["play"] not in menu_over_dbus(world, app), 10, "play's header gone over D-Bus")
    quit_tray(world, app)
    assert world.api.wrong_tokens == []
    assert_no_token_in(world, daemon, *outputs)


def test_an_icon_pinned_to_a_calm_login_carries_the_mark_and_asks_for_attention_when_another_is_critical(
        sni_world, notification_daemon):
    """icon_account pins the calm default login (40 %); work at 95 % is critical: the icon shows 40
    with the corner dot (pixels = render_icon), and the item's Status is NeedsAttention, so a panel
    that hides calm items still shows it."""
    world = sni_world
    add_logins(world, ("work",))
    settings = world.home / ".config" / "claude-tray" / "settings.toml"
    settings.write_text('icon_account = "default"\n' + settings.read_text())
    world.api.per_token({TOKENS["default"]: body(40.0), TOKENS["work"]: body(95.0)})
    app = world.start_tray("--interval", "600")
    world.wait_view(lambda v: "default · Max 5x" in v["menu"], what="the default login's section")
    world.cli("refresh")
    view = world.wait_view(lambda v: all_read(v, {"default": 40, "work": 95}), timeout=30, what="both logins")
    assert view["icon"]["percent"] == 40.0 and view["icon"]["other_critical"] is True
    assert view["tooltip"].startswith("default: ")
    props = wait_until(lambda: (lambda p: p if p["Status"] == "NeedsAttention" else None)(
        sni_properties(world_bus(world), sni_bus_name(app.process.pid))), 10, "Status NeedsAttention")
    assert pixmaps_are(props, spec_of(view))
    quit_tray(world, app)
    assert world.api.wrong_tokens == []


def test_over_dbus_a_429_holds_back_only_its_login_an_expired_one_says_so_the_other_reads(
        sni_world, notification_daemon):
    """Three logins: default reads 20 %, work's login expired, play gets a 429 (Retry-After 900).
    Each section over D-Bus says its own state; a second refresh sends nothing for the others
    (play waits out its own 429, work has nothing to send); any popup names its login, none twice."""
    from tests.fakeapi import Response, error_fixture

    world, daemon = sni_world, notification_daemon
    add_logins(world, ("work", "play"), expired=("work",))
    threshold_popups_only(world)
    world.api.per_token({TOKENS[n]: body(20.0) for n in ("default", "work", "play")})
    world.api.queue_for(TOKENS["play"], Response(429, error_fixture("429-rate-limited.json"), {"Retry-After": "900"}))
    app = world.start_tray("--interval", "600")
    world.wait_view(lambda v: "default · Max 5x" in v["menu"], what="the default login's section")
    world.cli("refresh")
    world.wait_view(lambda v: any("Rate limited" in line for line in section(v, "play")), timeout=30,
                    what="play rate limited")

    def sections_over_dbus():
        labels = {"menu": menu_over_dbus(world, app)}
        got = {"default": section(labels, HEADERS["default"]), "work": section(labels, WORK_LABEL),
               "play": section(labels, "play")}
        return got if got["play"] and any("Rate limited" in line for line in got["play"]) else None

    got = wait_until(sections_over_dbus, 10, "the three sections over D-Bus")
    assert any(line.startswith("Current session: 20%") for line in got["default"]), got
    assert any("Login expired" in line for line in got["work"]), got
    assert not any(line.startswith("Current session") for line in got["work"] + got["play"]), got

    asked = [world.api.count(TOKENS[n]) for n in ("default", "work", "play")]
    assert asked[1:] == [0, 1]
    reply = world.cli("refresh").stdout  # one sentence per login
    assert reply.startswith("default: ") and f"{WORK_LABEL}: " in reply and "play: " in reply, reply
    assert f"{WORK_LABEL}: Waiting for a new Claude login: run `CLAUDE_CONFIG_DIR=~/.claude-work claude`" in reply
    quit_tray(world, app)  # joins the pollers: a request the refresh sent has been counted
    assert [world.api.count(TOKENS[n]) for n in ("work", "play")] == [0, 1]
    shown = popups(daemon)
    assert all(s.split(": ")[0] in (WORK_LABEL, "play", "default") for _, _, s, _ in shown), shown
    assert len({s for _, _, s, _ in shown}) == len(shown), shown  # nothing twice
    assert world.api.wrong_tokens == []
    assert_no_token(world, daemon)
