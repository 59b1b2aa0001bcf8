"""`claude-tray statusline install | uninstall` on real settings.json files in a temporary
CLAUDE_CONFIG_DIR (or HOME/.claude): other keys and their order kept, an existing statusLine
chained and restored, a backup first, and refusals that change nothing."""
from __future__ import annotations

import io
import json
import os
import stat
import subprocess
from pathlib import Path

import pytest

from tray_monitor import statusline
from tray_monitor.statusline_install import BACKUP_SUFFIX, chained_command, is_ours

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).parent / "fixtures" / "statusline"

EXISTING = {
    "$schema": "https://json.schemastore.org/claude-code-settings.json",
    "model": "opus",
    "permissions": {"allow": ["Bash(npm run test:*)"], "deny": []},
    "statusLine": {"type": "command", "command": "~/.claude/statusline.sh 'a b'", "padding": 0},
    "env": {"ÜBER": "ja"},
    "hooks": {},
}


@pytest.fixture
def claude_dir(tmp_path, monkeypatch) -> Path:
    directory = tmp_path / "claude-config"
    directory.mkdir()
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(directory))
    return directory


def cmd(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = statusline.main(["install" if args[0] == "install" else "uninstall", *args[1:]],
                           stdout=out, stderr=err, environ=dict(os.environ))
    return code, out.getvalue(), err.getvalue()


def write(path: Path, settings: object) -> str:
    text = json.dumps(settings, indent=2, ensure_ascii=False) + "\n"
    path.write_text(text, encoding="utf-8")
    return text


def backups(directory: Path) -> list[Path]:
    return sorted(directory.glob(f"settings.json{BACKUP_SUFFIX}*"))


def test_install_chains_an_existing_statusline_in_place_keeping_every_other_key_and_the_order(claude_dir):
    path = claude_dir / "settings.json"
    original = write(path, EXISTING)
    os.chmod(path, 0o640)
    code, out, err = cmd("install")
    assert (code, err) == (0, "")
    new = json.loads(path.read_text(encoding="utf-8"))
    assert list(new) == list(EXISTING)  # same keys, same order
    assert {k: v for k, v in new.items() if k != "statusLine"} == {k: v for k, v in EXISTING.items() if k != "statusLine"}
    line = new["statusLine"]
    assert line["type"] == "command" and line["padding"] == 0
    assert is_ours(line["command"])
    assert chained_command(line["command"]) == EXISTING["statusLine"]["command"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o640  # the file's own mode is kept
    [saved] = backups(claude_dir)
    assert saved.read_text(encoding="utf-8") == original
    assert "then the previous one" in out and str(saved) in out


def test_uninstall_restores_the_previous_statusline_exactly(claude_dir):
    path = claude_dir / "settings.json"
    write(path, EXISTING)
    cmd("install")
    code, out, _ = cmd("uninstall")
    assert code == 0 and "previous statusLine is back" in out
    assert json.loads(path.read_text(encoding="utf-8")) == EXISTING
    assert list(json.loads(path.read_text(encoding="utf-8"))) == list(EXISTING)
    assert len(backups(claude_dir)) == 2  # one before each change


def test_install_without_a_statusline_adds_one_and_uninstall_removes_it(claude_dir):
    path = claude_dir / "settings.json"
    plain = {"model": "sonnet", "includeCoAuthoredBy": False}
    write(path, plain)
    assert cmd("install", "--width", "50")[0] == 0
    new = json.loads(path.read_text())
    assert list(new) == ["model", "includeCoAuthoredBy", "statusLine"]
    assert chained_command(new["statusLine"]["command"]) is None
    assert new["statusLine"]["command"].endswith("statusline --width 50")
    assert cmd("uninstall")[0] == 0
    assert json.loads(path.read_text()) == plain


def test_install_creates_a_missing_settings_file_under_home_without_claude_config_dir(monkeypatch, isolated_home):
    monkeypatch.delenv("CLAUDE_CONFIG_DIR", raising=False)
    code, out, _ = cmd("install")
    path = isolated_home / ".claude" / "settings.json"
    assert code == 0 and str(path) in out
    assert list(json.loads(path.read_text())) == ["statusLine"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_installing_twice_changes_nothing_the_second_time(claude_dir):
    path = claude_dir / "settings.json"
    write(path, EXISTING)
    cmd("install")
    once = path.read_text()
    code, out, _ = cmd("install")
    assert code == 0 and "already" in out and path.read_text() == once
    assert len(backups(claude_dir)) == 1


@pytest.mark.parametrize("content", ['{"model": "opus",}', "not json", "[1, 2]", '"text"', b"\xff\xfe{}"])
def test_an_unparseable_file_is_refused_with_one_sentence_and_left_alone(claude_dir, content):
    path = claude_dir / "settings.json"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    before = path.read_bytes()
    for action in ("install", "uninstall"):
        code, out, err = cmd(action)
        assert code == 1 and out == ""
        assert err.count("\n") == 1 and str(path) in err and "nothing was changed" in err
    assert path.read_bytes() == before and backups(claude_dir) == []


def test_a_read_only_file_is_refused_and_left_alone(claude_dir):
    path = claude_dir / "settings.json"
    write(path, EXISTING)
    os.chmod(path, 0o444)
    before = path.read_bytes()
    code, _, err = cmd("install")
    assert code == 1 and "read-only" in err and err.count("\n") == 1
    assert path.read_bytes() == before and backups(claude_dir) == []


def test_uninstall_refuses_a_statusline_the_user_changed_since(claude_dir):
    path = claude_dir / "settings.json"
    write(path, EXISTING)
    cmd("install")
    changed = {**json.loads(path.read_text()), "statusLine": {"type": "command", "command": "my-new-line"}}
    text = write(path, changed)
    code, _, err = cmd("uninstall")
    assert code == 1 and "not claude-tray's" in err
    assert path.read_text() == text


def test_uninstall_without_the_install_record_recovers_the_previous_command_from_then(claude_dir, isolated_home):
    path = claude_dir / "settings.json"
    write(path, EXISTING)
    cmd("install")
    for record in isolated_home.rglob("statusline-install.json"):
        record.unlink()
    assert cmd("uninstall")[0] == 0
    assert json.loads(path.read_text())["statusLine"] == {"type": "command", "command": EXISTING["statusLine"]["command"]}


def test_install_takes_no_then_of_its_own(claude_dir):
    code, _, err = cmd("install", "--then", "x")
    assert code == 1 and "--then is set by install" in err
    assert not (claude_dir / "settings.json").exists()


def test_the_installed_command_runs_ours_then_the_previous_line(claude_dir, tmp_path):
    """The whole chain as Claude Code runs it: the installed command through a shell, payload on stdin."""
    previous = tmp_path / "old statusline.sh"
    previous.write_text("#!/bin/sh\nprintf 'old line\\nsecond\\n'\n")
    previous.chmod(0o755)
    path = claude_dir / "settings.json"
    write(path, {"statusLine": {"type": "command", "command": f"'{previous}'"}})
    assert cmd("install", "--color", "never")[0] == 0
    command = json.loads(path.read_text())["statusLine"]["command"]
    done = subprocess.run(command, shell=True, input=b"", capture_output=True, timeout=30, cwd=REPO,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert (done.returncode, done.stdout) == (0, b"Claude usage: no input | old line\n")
