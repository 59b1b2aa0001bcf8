"""`claude-tray statusline --account NAME` (issue 15): the fast lookup (account_lookup.py) finds the
folder the tray itself matches a statusline feed against, for generated settings.toml and
preferences.json lists (bad ones included); the feed carries that folder; an unknown or garbage
name is one sentence and the line still printed, handed to no login; the path stays light."""
from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import platformdirs.macos
import platformdirs.unix
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tray_monitor import account_lookup, runtime, statusline
from tray_monitor import settings as settings_module
from tray_monitor.accounts import account_env, load_accounts
from tray_monitor.environment import Environment
from tray_monitor.instance import ControlServer

FIXTURES = Path(__file__).parent / "fixtures" / "statusline"
REPO = Path(__file__).resolve().parent.parent
NOW = 1764512400 - (2 * 3600 + 11 * 60)


def home() -> Path:
    return Path(os.environ["HOME"])


def write_settings(text: str) -> None:
    path = Path(runtime.user_config_dir(os.environ, sys.platform)) / "settings.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def write_added(added: object) -> None:
    path = Path(runtime.user_data_dir(os.environ, sys.platform)) / "preferences.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"accounts": added}), encoding="utf-8")


def tray_folders() -> dict[str, str]:
    """What the tray compares a statusline's folder with, per account (app.tray's take_statusline)."""
    env = Environment.from_os()
    accounts, _ = load_accounts(env)
    return {a.name: runtime.claude_config_dir(account_env(env, a).environ) for a in accounts}


def test_the_name_rule_is_the_settings_own():
    assert account_lookup.ACCOUNT_NAME.pattern == settings_module.ACCOUNT_NAME.pattern
    assert account_lookup.DEFAULT_ACCOUNT == settings_module.DEFAULT_ACCOUNT
    assert account_lookup.SETTINGS_FILE == settings_module.SETTINGS_FILE
    assert account_lookup.PREFERENCES_FILE == settings_module.PREFERENCES_FILE


@pytest.mark.parametrize("platform, dirs", [("linux", platformdirs.unix.Unix), ("darwin", platformdirs.macos.MacOS)])
@pytest.mark.parametrize("base", [None, "", "relative/x", "/somewhere/else"])
@pytest.mark.parametrize("variable, kind", [("XDG_CONFIG_HOME", "user_config_dir"), ("XDG_DATA_HOME", "user_data_dir")])
def test_the_config_and_data_dirs_are_platformdirs_own(monkeypatch, platform, dirs, base, variable, kind):
    if base is None:
        monkeypatch.delenv(variable, raising=False)
    else:
        monkeypatch.setenv(variable, base)
    assert getattr(runtime, kind)(os.environ, platform) == getattr(dirs("claude-tray", appauthor=False), kind)


NAMES = st.sampled_from(["work", "play", "default", "w", "bad name", "", "x" * 40, "-dash", "ok.2"])
FOLDERS = st.sampled_from(["~/.claude-work", "~/.claude-play", "~/.claude", "~", "/opt/claude-x", "relative/dir",
                           "~/.claude-work/", "  ~/.claude-spaced  ", ""])
ENTRY = st.one_of(st.fixed_dictionaries({"name": NAMES, "config_dir": FOLDERS}),
                  st.just({"name": "extra"}), st.just("not a table"))
SETTINGS = st.one_of(st.lists(ENTRY, max_size=4).map(lambda entries: "accounts = " + toml_list(entries) + "\n"),
                     st.just("accounts = 3\n"), st.just("accounts = [\n"), st.just(""), st.just("interval = 300\n"))
ADDED = st.one_of(st.dictionaries(NAMES, st.one_of(FOLDERS.map(lambda f: f.replace("~", "/home/h")),
                                                   st.integers(), st.just("/opt/claude-added")), max_size=3),
                  st.just([]), st.just("x"))


def toml_list(entries: list) -> str:
    def one(entry) -> str:
        if isinstance(entry, str):
            return json.dumps(entry)
        return "{ " + ", ".join(f"{k} = {json.dumps(v)}" for k, v in entry.items()) + " }"

    return "[" + ", ".join(one(e) for e in entries) + "]"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(settings_text=SETTINGS, added=ADDED, config_dir=st.sampled_from([None, "", "~/.claude-work", "/opt/cc"]))
def test_the_fast_lookup_finds_the_folders_the_tray_matches_against(monkeypatch, settings_text, added, config_dir):
    if config_dir is None:
        monkeypatch.delenv("CLAUDE_CONFIG_DIR", raising=False)
    else:
        monkeypatch.setenv("CLAUDE_CONFIG_DIR", config_dir.replace("~", str(home())))
    write_settings(settings_text)
    write_added(added)
    assert account_lookup.account_folders(os.environ, sys.platform) == tray_folders()


# ----------------------------------------------------------------------------- the statusline


def run(*args: str, stdin: bytes | None = None) -> tuple[str, str, int]:
    out, err = io.StringIO(), io.StringIO()
    data = (FIXTURES / "cc-2.1.332-epoch.json").read_bytes() if stdin is None else stdin
    code = statusline.main(list(args), stdin=io.BytesIO(data), stdout=out, stderr=err, environ=dict(os.environ),
                           now=NOW)
    return out.getvalue(), err.getvalue(), code


@pytest.fixture
def tray_feeds():
    env = Environment.from_os()
    received: list[dict] = []
    server = ControlServer(env, {}, arg_handlers={"statusline": lambda arg: (received.append(json.loads(arg)),
                                                                             "taken")[1]})
    server.start()
    try:
        yield received
    finally:
        server.stop()


def test_account_hands_the_numbers_over_as_that_logins(tray_feeds):
    (home() / ".claude-work").mkdir()
    write_settings('accounts = [{ name = "work", config_dir = "~/.claude-work" }]\n')
    out, err, code = run("--color", "never", "--account", "work")
    assert (out, err, code) == ("Session 23% (2h 11m) · Week 41% (4d 13h)\n", "", 0)
    run("--color", "never", "--account=default")
    assert [feed["config_dir"] for feed in tray_feeds] == [os.path.realpath(home() / ".claude-work"),
                                                          os.path.realpath(home() / ".claude")]
    assert [feed["config_dir"] for feed in tray_feeds] == [tray_folders()["work"], tray_folders()["default"]]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.text(max_size=30).filter(lambda n: n not in ("default", "work")))
def test_an_unknown_account_is_one_sentence_and_the_line_is_handed_to_no_login(tray_feeds, name):
    write_settings('accounts = [{ name = "work", config_dir = "~/.claude-work" }]\n')
    out, err, code = run("--color", "never", "--account", name)
    assert code == 0 and out == "Session 23% (2h 11m) · Week 41% (4d 13h)\n"
    assert err.startswith("claude-tray statusline: there is no account ") and err.count("\n") == 1
    assert err.endswith(": the accounts are default, work (this line is handed to no login).\n")
    assert "\x1b" not in err.replace("\\x1b", "")
    assert tray_feeds == []


def test_account_without_a_value_is_the_usual_option_sentence():
    out, err, code = run("--color", "never", "--account")
    # still a line (the options' defaults: colour on for Claude Code's payload)
    assert code == 0 and re.sub(r"\x1b\[[0-9;]*m", "", out) == "Session 23% (2h 11m) · Week 41% (4d 13h)\n"
    assert err == "claude-tray statusline: --account needs a value; see `claude-tray statusline --help`.\n"


def test_the_account_path_stays_light():
    write_settings('accounts = [{ name = "work", config_dir = "~/.claude-work" }]\n')
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "tray_monitor", "statusline", "--account", "work"],
                          input=(FIXTURES / "cc-2.1.332-epoch.json").read_bytes(), capture_output=True,
                          env=os.environ.copy(), cwd=REPO, timeout=30)
    assert done.returncode == 0 and b"Session" in done.stdout and done.stderr.count(b"claude-tray") == 0
    imported = {line.split("|")[-1].strip() for line in done.stderr.decode().splitlines()
                if line.startswith("import time:")}
    assert "tray_monitor.account_lookup" in imported
    for heavy in ("tray_monitor.settings", "tray_monitor.accounts", "tray_monitor.credentials", "platformdirs",
                  "logging", "argparse", "dataclasses", "http.client", "ssl", "PIL"):
        assert heavy not in imported, f"{heavy} is imported on the statusline --account path"


def test_logins_added_with_accounts_add_alone_need_no_toml_parser():
    write_settings("interval = 300\n")
    (home() / ".claude-work").mkdir()
    write_added({"work": str(home() / ".claude-work")})
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "tray_monitor", "statusline", "--account", "work"],
                          input=b"{}", capture_output=True, env=os.environ.copy(), cwd=REPO, timeout=30)
    assert done.returncode == 0 and b"claude-tray statusline" not in done.stderr
    assert not [line for line in done.stderr.decode().splitlines() if line.endswith("| tomllib")]
