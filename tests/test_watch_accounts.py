"""`watch` with two and three logins (issue 15): the real `claude-tray watch` on a pseudo-terminal
against the loopback server answering per token. Each login in its own box within 40 columns (side
by side on a wide console), redrawn in place, a clean exit on Ctrl+C; each login polled with its
own token and its own 429 wait; `--account NAME` shows one; into a pipe one block per login."""
from __future__ import annotations

import json
import re
import select
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import pytest

from tests.apprun import ClaudeTrayWorld
from tests.fakeapi import Response, error_fixture
from tests.logins import TOKENS, login
from tests.test_terminal import frames, run_in_pty
from tray_monitor.fmt import text_width

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")

WORK_LABEL = "me@work.example"
SESSION_RESETS = datetime.now(timezone.utc) + timedelta(hours=2, minutes=11)  # at import: less by the time a test runs
WEEKLY_RESETS = datetime.now(timezone.utc) + timedelta(days=3, hours=4)
PERCENTS = {"default": 21.0, "work": 62.0, "play": 93.0}
SLOW_DOWN = Response(429, error_fixture("429-rate-limited.json"), {"Retry-After": "900"})


def body(session: float, weekly: float = 30.0) -> Response:
    return Response.json({"five_hour": {"utilization": session, "resets_at": SESSION_RESETS.isoformat()},
                          "seven_day": {"utilization": weekly, "resets_at": WEEKLY_RESETS.isoformat()}})


def add_logins(world: ClaudeTrayWorld, names: tuple[str, ...]) -> None:
    """The default login (the world's CLAUDE_CONFIG_DIR) plus one folder per name, listed in settings;
    the work folder's .claude.json names its email (the label)."""
    login(world.claude_dir, TOKENS["default"])
    for name in names:
        login(world.home / f".claude-{name}", TOKENS[name])
    (world.home / ".claude-work").mkdir(exist_ok=True)
    (world.home / ".claude-work" / ".claude.json").write_text(json.dumps({"oauthAccount": {"emailAddress": WORK_LABEL}}))
    settings = world.home / ".config" / "claude-tray" / "settings.toml"
    settings.parent.mkdir(parents=True, exist_ok=True)
    entries = ", ".join(f'{{ name = "{n}", config_dir = "~/.claude-{n}" }}' for n in names)
    settings.write_text(f"accounts = [{entries}]\n")
    world.api.per_token({TOKENS[n]: body(PERCENTS[n]) for n in ("default", *names)})


def run_watch(world: ClaudeTrayWorld, tmp_path, *args: str, columns: int = 40, rows: int = 60, until,
              timeout: float = 25.0):
    """`claude-tray watch ARGS` on a pseudo-terminal of the given size (test_terminal's runner) until
    `until(last screen)` holds; Ctrl+C; (output, exit code)."""
    env = world.env()
    for name in ("COLUMNS", "LINES", "NO_COLOR"):
        env.pop(name, None)

    def done(output: str) -> bool:
        shown = complete(output)
        return bool(shown) and until(shown[-1])

    return run_in_pty(tmp_path, None, done, columns=columns, rows=rows, timeout=timeout,
                      argv=[sys.executable, "-m", "tray_monitor", "watch", *args], **env)


def complete(output: str) -> list[list[str]]:
    """The screens drawn to the end (Ctrl+C may cut the last one short), colour codes removed."""
    return frames("".join("\x1b[H" + part for part in output.split("\x1b[H")[1:] if "\x1b[J" in part))


def boxes(screen: list[str]) -> dict[str, list[str]]:
    """Stacked boxes by title (the text after "┌─ " up to the border's run of "─")."""
    found: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in screen:
        if line.startswith("┌─ "):
            current = found.setdefault(line[3:].rstrip("─┐").rstrip(), [])
        elif current is not None and line.startswith("│"):
            current.append(line.strip("│ "))
    return found


def session_line(lines: list[str], percent: float) -> bool:
    return any(re.fullmatch(rf"Current session +{round(percent)}%( !+)?", line) for line in lines)


def assert_clean(output: str, code: int) -> None:
    assert code in (0, 130), output[-2000:]
    assert "Traceback" not in output and "unexpected error" not in output
    assert output.startswith("\x1b[?25l") and output.rstrip().endswith("\x1b[?25h")  # the cursor back
    for token in TOKENS.values():
        assert token not in output and token.split("-ACCT")[1][:12] not in output


def test_three_logins_each_in_its_own_box_within_40_columns_a_429_holding_back_only_its_own(
        claude_tray_world, tmp_path):
    world = claude_tray_world
    add_logins(world, ("work", "play"))
    world.api.queue_for(TOKENS["play"], SLOW_DOWN)

    def all_shown(screen):
        shown = boxes(screen)
        return (session_line(shown.get("default · Max 5x", []), PERCENTS["default"])
                and session_line(shown.get(f"{WORK_LABEL} · Max 5x", []), PERCENTS["work"])
                and any("Rate limited" in line for line in shown.get("play · stale", [])))

    output, code = run_watch(world, tmp_path, columns=40, rows=60, until=all_shown)
    assert_clean(output, code)
    drawn = complete(output)
    assert all_shown(drawn[-1]), "\n".join(drawn[-1])
    for frame in drawn:
        assert max(text_width(line) for line in frame) <= 39, frame
        assert len(frame) <= 59
    assert list(boxes(drawn[-1])) == ["default · Max 5x", f"{WORK_LABEL} · Max 5x", "play · stale"]
    assert drawn[-1][-1] == " Ctrl+C to quit"
    # Each login asked with its own token; play's 429 asked once and then waited, the others not held back.
    assert world.api.count(TOKENS["default"]) >= 1 and world.api.count(TOKENS["work"]) >= 1
    assert world.api.count(TOKENS["play"]) == 1 and world.api.wrong_tokens == []
    # The wait is play's alone, kept beside its 429 file for the next process.
    waits = sorted(p.name for p in (world.home / ".local/share/claude-tray").glob("rate-limit*.json"))
    assert len(waits) == 1 and waits[0] != "rate-limit.json", waits


def test_two_logins_fit_an_80x24_console_side_by_side_with_bars(claude_tray_world, tmp_path):
    world = claude_tray_world
    add_logins(world, ("work",))

    def both(screen):
        rows = [line.split("│") for line in screen]  # side by side: "", left, " ", right, ""
        return (any(len(r) == 5 and session_line([r[1].strip()], PERCENTS["default"]) for r in rows)
                and any(len(r) == 5 and session_line([r[3].strip()], PERCENTS["work"]) for r in rows))

    output, code = run_watch(world, tmp_path, columns=80, rows=24, until=both)
    assert_clean(output, code)
    screen = complete(output)[-1]
    assert len(screen) <= 23 and max(text_width(line) for line in screen) <= 79
    top = screen[0]
    assert top.count("┌─ ") == 2 and "default · Max 5x" in top and WORK_LABEL in top, "\n".join(screen)
    assert any(line.count("█") and line.count("│") == 4 for line in screen)  # both boxes keep their bars


def test_two_logins_on_a_40x24_console_stack_and_fit_by_dropping_the_bars_first(claude_tray_world, tmp_path):
    world = claude_tray_world
    add_logins(world, ("work",))

    def both(screen):
        shown = boxes(screen)
        return (session_line(shown.get("default · Max 5x", []), PERCENTS["default"])
                and session_line(shown.get(f"{WORK_LABEL} · Max 5x", []), PERCENTS["work"]))

    output, code = run_watch(world, tmp_path, columns=40, rows=24, until=both)
    assert_clean(output, code)
    for frame in complete(output):
        assert len(frame) <= 23 and max(text_width(line) for line in frame) <= 39, frame
    screen = complete(output)[-1]
    assert both(screen), "\n".join(screen)
    assert screen[-1] == " Ctrl+C to quit"
    # No bars, no forecasts; each window's reset with its ticking countdown, each login's update time.
    assert not any("█" in line for line in screen)
    for lines in boxes(screen).values():
        assert sum(bool(re.fullmatch(r"resets in [12]h \d\dm \d\ds \(\d\d:\d\d\)", line)) for line in lines) == 1
        assert any(line.startswith("Updated ") for line in lines)


def test_account_shows_one_login_in_todays_box_and_asks_only_with_its_token(claude_tray_world, tmp_path):
    world = claude_tray_world
    add_logins(world, ("work", "play"))
    output, code = run_watch(world, tmp_path, "--account", "work", columns=40, rows=30,
                              until=lambda s: any(re.match(r"│ Current session +62%", line) for line in s))
    assert_clean(output, code)
    screen = complete(output)[-1]
    assert screen[0].startswith(f"┌─ Claude usage · {WORK_LABEL[:10]}"), screen[0]
    assert sum(line.startswith("┌") for line in screen) == 1
    assert [world.api.count(TOKENS[n]) for n in ("default", "work", "play")] == [0, 1, 0]


@pytest.mark.parametrize("name", ["nobody", "", "\x1b[31mred", "work/../play"])
def test_an_unknown_account_is_one_sentence_and_no_request(claude_tray_world, name):
    world = claude_tray_world
    add_logins(world, ("work",))
    done = world.cli("watch", "--account", name)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.startswith("claude-tray: There is no account ")
    assert done.stderr.endswith(": the accounts are default, work.\n") and done.stderr.count("\n") == 1
    assert "\x1b" not in done.stderr and world.api.requests == []


def test_into_a_pipe_each_login_prints_its_own_block_named(claude_tray_world):
    world = claude_tray_world
    add_logins(world, ("work",))
    process = subprocess.Popen([sys.executable, "-m", "tray_monitor", "watch"], env=world.env(COLUMNS="60"),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    end = time.monotonic() + 25
    assert process.stdout is not None
    while time.monotonic() < end and sum(line.startswith("Claude usage") for line in lines) < 2:
        if select.select([process.stdout], [], [], 0.2)[0]:
            lines.append(process.stdout.readline().rstrip("\n"))
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=10)
    titles = [line for line in lines if line.startswith("Claude usage")]
    assert sorted(titles) == sorted(["Claude usage - default - Max 5x", f"Claude usage - {WORK_LABEL} - Max 5x"]) \
        or sorted(titles) == sorted(["Claude usage · default · Max 5x", f"Claude usage · {WORK_LABEL} · Max 5x"]), lines
    assert "Traceback" not in err and process.returncode in (0, 130)


def test_watch_format_waybar_with_account_follows_that_login_alone(claude_tray_world):
    world = claude_tray_world
    add_logins(world, ("work", "play"))
    process = subprocess.Popen([sys.executable, "-m", "tray_monitor", "watch", "--format", "waybar", "--account",
                                "play"], env=world.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    ready = select.select([process.stdout], [], [], 20)[0]
    line = process.stdout.readline() if ready else ""
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=10)
    data = json.loads(line)
    assert data["text"].startswith(f"5h {round(PERCENTS['play'])}%") and data["class"] == "critical", data
    assert "Traceback" not in err
    assert [world.api.count(TOKENS[n]) for n in ("default", "work", "play")] == [0, 0, 1]


def test_watch_format_waybar_with_an_unknown_account_prints_the_error_block_and_ends(claude_tray_world):
    world = claude_tray_world
    add_logins(world, ("work",))
    done = world.cli("watch", "--format", "waybar", "--account", "nobody", timeout=20)
    assert done.returncode == 1
    assert done.stderr == "claude-tray: There is no account 'nobody': the accounts are default, work.\n"
    block = json.loads(done.stdout)
    assert block["class"] == "error" and block["text"] == "Claude: error" and world.api.requests == []
