"""Several Claude logins (issue 15): the accounts, their folders, labels, login states, and the
`claude-tray accounts` command. Every login here lives in a temporary HOME, never ~/.claude."""
from __future__ import annotations

import hashlib
import json
import stat
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from tests.envs import temp_env
from tests.fakeapi import credentials_fixture, fake_security_bin
from tests.logins import TOKENS, login, write_toml
from tray_monitor import accounts as acc
from tray_monitor.app import accounts as accounts_command
from tray_monitor.settings import Settings, load_settings, preferences_path, settings_from_mapping


def run(env, action=None, name=None, folder=None, discover=False) -> tuple[int, str, str]:
    code = accounts_command(env, action, name, folder, discover=discover)
    return code, env.stdout.getvalue(), env.stderr.getvalue()


@pytest.fixture
def env(tmp_path):
    return temp_env(tmp_path)


# ----------------------------------------------------------------------------- which accounts


def test_without_settings_there_is_only_the_default_login_as_today(env):
    accounts, warnings = acc.load_accounts(env)
    assert warnings == []
    assert [(a.name, a.config_dir, a.origin) for a in accounts] == [("default", env.home / ".claude", "default")]


def test_the_default_account_follows_claude_config_dir_like_the_credentials_module(tmp_path):
    env = temp_env(tmp_path, {"CLAUDE_CONFIG_DIR": str(tmp_path / "elsewhere")})
    assert acc.load_accounts(env)[0][0].config_dir == tmp_path / "elsewhere"


def test_settings_accounts_are_read_with_the_home_expanded(env):
    write_toml(env, 'accounts = [{ name = "work", config_dir = "~/.claude-work" },'
                    ' { name = "play", config_dir = "/srv/claude-play" }]\n')
    accounts, warnings = acc.load_accounts(env)
    assert warnings == [] and env.loaded_settings[1] == []
    assert [(a.name, a.config_dir, a.origin) for a in accounts[1:]] == [
        ("work", env.home / ".claude-work", "settings"), ("play", Path("/srv/claude-play"), "settings")]


@pytest.mark.parametrize("value", [
    '"~/.claude-work"',
    '[{ name = "work" }]',
    '[{ name = "work", config_dir = "~/w", extra = 1 }]',
    '[{ name = "default", config_dir = "~/w" }]',
    '[{ name = "a/b", config_dir = "~/w" }]',
    '[{ name = "w", config_dir = "~/w" }, { name = "w", config_dir = "~/v" }]',
    '[{ name = "w", config_dir = "" }]',
    '[{ name = "w", config_dir = 3 }]',
    '["work"]',
])
def test_a_bad_accounts_setting_means_the_default_login_and_one_warning(env, value):
    write_toml(env, f"accounts = {value}\n")
    settings, warnings = load_settings(env)
    assert settings.accounts == () and len(warnings) == 1
    assert "'accounts'" in warnings[0] and "only the default login is read" in warnings[0]


@hypothesis_settings(max_examples=150, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
                        st.sampled_from(["name", "config_dir", "x"]), inner, max_size=3), max_leaves=8))
def test_any_accounts_value_gives_accounts_or_one_warning_never_an_exception(value):
    values, warnings = settings_from_mapping({"accounts": value}, "settings.toml")
    assert len(warnings) <= 1
    for name, folder in values.get("accounts", ()):
        assert isinstance(name, str) and isinstance(folder, str) and folder


def test_a_folder_read_twice_is_one_account_with_a_warning(env):
    write_toml(env, 'accounts = [{ name = "again", config_dir = "~/.claude" }]\n')
    accounts, warnings = acc.load_accounts(env)
    assert [a.name for a in accounts] == ["default"]
    assert warnings == ["settings.toml: account 'again' is ignored: "
                        f"{env.home / '.claude'} is already read as account 'default'."]


# ----------------------------------------------------------------------------- each account's login


def test_each_account_reads_its_own_folder_and_never_the_default_token(tmp_path):
    env = temp_env(tmp_path, {"CLAUDE_CODE_OAUTH_TOKEN": TOKENS["default"],
                              "CLAUDE_CODE_OAUTH_SCOPES": "user:profile"})
    login(tmp_path / ".claude-work", TOKENS["work"])
    write_toml(env, 'accounts = [{ name = "work", config_dir = "~/.claude-work" }, '
                    '{ name = "empty", config_dir = "~/.claude-empty" }]\n')
    default, work, empty = acc.load_accounts(env)[0]
    assert acc.credential_store(env, default).load().access_token == TOKENS["default"]
    assert acc.credential_store(env, work).load().access_token == TOKENS["work"]
    # never created (or deleted): said as such
    assert acc.login_state(acc.credential_store(env, empty), env.clock.now()).state == "folder missing"


def test_on_macos_each_folder_reads_claude_codes_hashed_keychain_item(tmp_path):
    folder = tmp_path / ".claude-work"
    folder.mkdir()
    service = "Claude Code-credentials-" + hashlib.sha256(str(folder).encode()).hexdigest()[:8]
    payload = credentials_fixture("max-linux")
    payload["claudeAiOauth"]["accessToken"] = TOKENS["work"]
    security = fake_security_bin(tmp_path, {service: json.dumps(payload),
                                            "Claude Code-credentials": json.dumps(credentials_fixture("max-linux"))})
    env = temp_env(tmp_path, {"USER": "me"}, platform="darwin")
    work = acc.Account("work", folder, "settings")
    store = acc.credential_store(env, work, security_path=str(security.path))
    assert store.load().access_token == TOKENS["work"]
    assert [call[call.index("-s") + 1] for call in security.calls()] == [service]


def test_login_states_name_expired_and_logged_in_with_the_plan(env, tmp_path):
    login(tmp_path / "a", TOKENS["work"], "max-linux")
    login(tmp_path / "b", TOKENS["play"], "pro-minimal", expires_in=-3600)
    now = env.clock.now()
    a = acc.login_state(acc.credential_store(env, acc.Account("a", tmp_path / "a", "added")), now)
    b = acc.login_state(acc.credential_store(env, acc.Account("b", tmp_path / "b", "added")), now)
    assert (a.state, a.plan, a.ok) == ("logged in", "Max 5x", True)
    assert (b.state, b.plan, b.ok) == ("expired", "Pro", False)


# ----------------------------------------------------------------------------- labels


@pytest.mark.parametrize("content, label", [
    ({"oauthAccount": {"emailAddress": "me@work.example", "organizationName": "Work Ltd"}}, "me@work.example"),
    ({"oauthAccount": {"organizationName": "Work Ltd"}}, "Work Ltd"),
    ({"oauthAccount": {"emailAddress": ""}}, "work"),
    ({"projects": {}}, "work"),
    ("{half", "work"),
])
def test_the_label_is_the_folders_own_oauth_account_else_the_name(env, tmp_path, content, label):
    folder = tmp_path / ".claude-work"
    folder.mkdir()
    path = folder / ".claude.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    before = (path.read_bytes(), path.stat().st_mtime_ns)
    assert acc.account_label(env, acc.Account("work", folder, "added")) == label
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before  # read-only


def test_the_default_label_comes_from_the_home_claude_json(env):
    (env.home / ".claude.json").write_text(json.dumps({"oauthAccount": {"emailAddress": "me@home.example"}}))
    assert acc.account_label(env, acc.load_accounts(env)[0][0]) == "me@home.example"


@hypothesis_settings(max_examples=200, deadline=None)
@given(st.binary(max_size=64) | st.builds(lambda v: json.dumps({"oauthAccount": v}).encode(),
                                          st.dictionaries(st.text(max_size=14), st.text(max_size=10)
                                                          | st.integers(), max_size=3)))
def test_any_claude_json_gives_a_printable_label_or_none(raw):
    label = acc.label_from_claude_json(raw)
    assert label is None or (label.strip() and label.isprintable())


# ----------------------------------------------------------------------------- the command


def test_add_records_the_account_in_a_private_preferences_file_and_lists_it(env, tmp_path):
    login(tmp_path / ".claude", TOKENS["default"])
    login(tmp_path / ".claude-work", TOKENS["work"], "pro-minimal")
    (tmp_path / ".claude-work" / ".claude.json").write_text(json.dumps({"oauthAccount": {"emailAddress": "w@x.y"}}))
    code, out, err = run(env, "add", "work", "~/.claude-work")
    assert (code, err) == (0, "")
    assert out == "Account 'work' added: ~/.claude-work (logged in).\n"
    prefs = preferences_path(env)
    assert stat.S_IMODE(prefs.stat().st_mode) == 0o600 or sys.platform == "win32"
    assert json.loads(prefs.read_text())["accounts"] == {"work": str(tmp_path / ".claude-work")}
    listing = temp_env(tmp_path)
    assert run(listing)[0] == 0
    rows = [line.split() for line in listing.stdout.getvalue().splitlines()]
    assert rows == [["NAME", "LABEL", "PLAN", "LOGIN", "FOLDER", "FROM"],
                    ["default", "default", "Max", "5x", "logged", "in", "~/.claude", "default"],
                    ["work", "w@x.y", "Pro", "logged", "in", "~/.claude-work", "accounts", "add"]]
    for token in TOKENS.values():
        assert token not in listing.stdout.getvalue() + out + prefs.read_text()


@pytest.mark.parametrize("name, folder, problem", [
    ("bad/name", "~/.claude-work", "cannot be an account name"),
    ("default", "~/.claude-work", "is taken"),
    ("work", "~/missing", "is not a folder"),
    ("again", "~/.claude", "is already read as account 'default'"),
])
def test_add_refuses_with_one_sentence(env, tmp_path, name, folder, problem):
    (tmp_path / ".claude").mkdir()
    (tmp_path / ".claude-work").mkdir()
    code, out, err = run(env, "add", name, folder)
    assert code == 1 and out == "" and problem in err and err.count("\n") == 1
    assert not preferences_path(env).exists()


def test_add_of_a_folder_without_login_says_how_to_log_in_there(env, tmp_path):
    (tmp_path / ".claude-new").mkdir()
    code, out, err = run(env, "add", "new", str(tmp_path / ".claude-new"))
    assert code == 0 and "(not logged in)" in out
    assert err == "claude-tray: to log in there, run: CLAUDE_CONFIG_DIR=~/.claude-new claude\n"  # the home as ~


def test_remove_forgets_an_added_account_and_leaves_its_login_alone(env, tmp_path):
    credentials = login(tmp_path / ".claude-work", TOKENS["work"])
    before = credentials.read_bytes()
    assert run(env, "add", "work", "~/.claude-work")[0] == 0
    second = temp_env(tmp_path)
    assert run(second, "remove", "work")[:2] == (0, "Account 'work' removed (its login in ~/.claude-work is "
                                                    "untouched).\n")
    assert [a.name for a in acc.load_accounts(temp_env(tmp_path))[0]] == ["default"]
    assert credentials.read_bytes() == before


@pytest.mark.parametrize("name, problem", [("default", "cannot be removed"), ("work", "remove it there"),
                                           ("nobody", "There is no account 'nobody'")])
def test_remove_refuses_the_default_a_settings_account_and_an_unknown_name(env, name, problem):
    write_toml(env, 'accounts = [{ name = "work", config_dir = "~/.claude-work" }]\n')
    code, _, err = run(env, "remove", name)
    assert code == 1 and problem in err


def test_discover_offers_folders_holding_a_login_and_adds_nothing(env, tmp_path):
    login(tmp_path / ".claude", TOKENS["default"])
    login(tmp_path / ".claude-work", TOKENS["work"])
    login(tmp_path / ".claude_play", TOKENS["play"], expires_in=-60)  # expired still holds a login
    (tmp_path / ".claude-empty").mkdir()
    (tmp_path / ".claude.json").write_text("{}")
    write_toml(env, 'accounts = [{ name = "p", config_dir = "~/.claude_play" }]\n')
    code, out, _ = run(env, discover=True)
    assert code == 0
    assert out.endswith("Folders holding a login that no account reads (add one to read it too):\n"
                        "  claude-tray accounts add work ~/.claude-work\n")
    assert not preferences_path(env).exists()
    assert TOKENS["work"] not in out


def test_discover_says_so_when_there_is_nothing_to_offer(env):
    assert run(env, discover=True)[1].endswith("\nNo other ~/.claude* folder holds a login.\n")


@pytest.mark.parametrize("folder, name", [(".claude-work", "work"), (".claude_2", "2"), (".claude", "claude"),
                                          (".claude-default", "other"), (".claude-a b", "a-b")])
def test_suggested_names(folder, name):
    assert acc.suggested_name(Path("/h") / folder) == name


def test_a_malformed_added_entry_is_ignored_with_a_warning(env):
    prefs = preferences_path(env)
    prefs.parent.mkdir(parents=True)
    prefs.write_text(json.dumps({"accounts": {"ok": "/srv/ok", "rel": "relative/dir", "x y": "/srv/z"}}))
    accounts, warnings = acc.load_accounts(env)
    assert [a.name for a in accounts] == ["default", "ok"]
    assert len(warnings) == 2 and all("is not a name and a folder" in w for w in warnings)


def test_settings_default_has_no_extra_accounts():
    assert Settings().accounts == ()
