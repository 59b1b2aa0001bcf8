"""What claude-tray tells a user with several logins to do (issue 15): the "run claude" advice of a
login other than the default names its folder (`CLAUDE_CONFIG_DIR=~/.claude-work claude`) in
`status`, its JSON, the view (menu, tooltip, watch) and the popups, the default's is unchanged;
a deleted folder, a folder without a login and an unknown `--account` are one sentence each."""
from __future__ import annotations

import json
import shutil
import string
from datetime import datetime, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fakeapi import FakeApi, Response, usage_fixture
from tests.logins import FOLDERS, TOKENS, logins_env
from tray_monitor import app
from tray_monitor.alerts import AlertMemory, AlertSettings, evaluate
from tray_monitor.errors import AuthExpired, CredentialsNotFound, ScopeMissing
from tray_monitor.state import MonitorState
from tray_monitor.view import view

WORK = "CLAUDE_CONFIG_DIR=~/.claude-work claude"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def api():
    with FakeApi() as server:
        server.per_token({TOKENS[n]: Response(200, usage_fixture("small-2026-03")) for n in TOKENS})
        yield server


def status(env, **kw) -> tuple[int, str, str]:
    code = app.status(env, kw.pop("as_json", False), **kw)
    return code, env.stdout.getvalue(), env.stderr.getvalue()


def test_an_expired_second_login_is_told_to_run_claude_on_its_folder_the_default_as_before(api, tmp_path):
    env = logins_env(tmp_path, ("default", "work"), api.url, expired=("default", "work"))
    code, out, err = status(env)
    assert code == 1 and err == ""
    blocks = out.split("\n\n")
    assert blocks[0] == "Claude usage - default - expired\nLogin expired - run claude in a terminal"
    assert blocks[1].startswith("Claude usage - work - expired\n")
    assert " ".join(blocks[1].splitlines()[1:]) == f"Login expired - run {WORK} in a terminal"
    data = json.loads(status(logins_env(tmp_path, (), api.url), as_json=True)[1])
    assert [a["message"] for a in data["accounts"]] == ["Login expired — run claude in a terminal",
                                                        f"Login expired — run {WORK} in a terminal"]
    assert api.requests == []


def test_account_of_a_second_login_alone_names_its_folder_in_json_and_on_stderr(api, tmp_path):
    env = logins_env(tmp_path, ("default", "work"), api.url, expired=("work",))
    code, out, err = status(env, as_json=True, account="work")
    assert code == 1 and json.loads(out)["message"] == f"Login expired — run {WORK} in a terminal"
    assert err == f"claude-tray: Login expired - run {WORK} in a terminal\n"
    text_env = logins_env(tmp_path, (), api.url)
    assert status(text_env, account="work")[2] == f"claude-tray: Login expired - run {WORK} in a terminal\n"


def test_a_listed_folder_without_a_login_says_to_log_in_there(api, tmp_path):
    env = logins_env(tmp_path, ("default", "work"), api.url)
    (tmp_path / FOLDERS["work"] / ".credentials.json").unlink()
    code, out, err = status(env, account="work")
    assert (code, out) == (1, "")
    assert err == f"claude-tray: No Claude Code login - run {WORK} and log in\n"
    assert api.count(TOKENS["work"]) == 0


@pytest.mark.parametrize("origin", ["settings", "added"])
def test_a_deleted_folder_is_one_sentence_naming_both_ways_out(api, tmp_path, origin):
    env = logins_env(tmp_path, ("default", "work") if origin == "settings" else ("default",), api.url)
    if origin == "added":
        (tmp_path / ".claude-work").mkdir()
        assert app.accounts(env, "add", "work", "~/.claude-work") == 0
    shutil.rmtree(tmp_path / FOLDERS["work"])
    run_env = logins_env(tmp_path, (), api.url)
    code, out, err = status(run_env)
    assert code == 1 and err == ""
    stop = ("claude-tray accounts remove work" if origin == "added"
            else "take account 'work' out of settings.toml")
    work_block = out[out.index("Claude usage - work"):].splitlines()
    assert work_block[0] == "Claude usage - work - signed out"
    assert " ".join(work_block[1:]) == (f"~/.claude-work does not exist - log in there with {WORK}, or stop "
                                        f"reading it: {stop}")
    table_env = logins_env(tmp_path, (), api.url)
    app.accounts(table_env, None)
    assert "folder missing" in next(line for line in table_env.stdout.getvalue().splitlines()
                                    if line.startswith("work "))
    assert api.count(TOKENS["work"]) == 0 and api.count(TOKENS["default"]) == 1


# Whatever is typed after --account: one sentence naming the accounts there are, no traceback.
GARBAGE = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40).filter(
    lambda t: t not in ("default", "work"))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=GARBAGE)
def test_any_unknown_account_name_is_one_printable_sentence_listing_the_known_ones(api, tmp_path, name):
    env = logins_env(tmp_path, ("default", "work"), api.url)
    code, out, err = status(env, account=name)
    assert (code, out) == (1, "")
    assert err.startswith("claude-tray: There is no account ") and err.endswith(
        ": the accounts are default, work.\n")
    assert err.count("\n") == 1 and all(c in string.printable or c.isprintable() for c in err.rstrip("\n"))
    assert "\x1b" not in err and "Traceback" not in err
    assert api.requests == []


# ----------------------------------------------------------------------------- the view and the popups


@pytest.mark.parametrize("problem, message", [
    (AuthExpired("x"), f"Login expired — run {WORK} in a terminal"),
    (CredentialsNotFound("x"), f"No Claude Code login — run {WORK} and log in"),
    (ScopeMissing("x"), f"This login cannot read usage (setup token) — log in with {WORK}"),
])
def test_the_view_of_another_login_words_its_advice_with_its_command(problem, message):
    state = MonitorState(problem=problem, alert_settings=AlertSettings(claude_command=WORK))
    shown = view(state, NOW)
    assert shown.message == message and message in shown.tooltip


@pytest.mark.parametrize("problem, message", [
    (AuthExpired("x"), "Login expired — run claude in a terminal"),
    (CredentialsNotFound("x"), "No Claude Code login — install Claude Code and run claude, or try claude-tray --demo"),
    (ScopeMissing("x"), "This login cannot read usage (setup token) — log in with claude"),
])
def test_the_default_logins_advice_is_unchanged(problem, message):
    assert view(MonitorState(problem=problem), NOW).message == message


@pytest.mark.parametrize("status_, words", [("expired", f"Run {WORK} in a terminal to sign in again"),
                                            ("no_scope", f"Run {WORK} in a terminal and log in there instead")])
def test_the_login_popups_of_another_login_name_its_command(status_, words):
    _, notes = evaluate(AlertMemory(login_worked=True), None, status_, AlertSettings(claude_command=WORK), NOW)
    assert len(notes) == 1 and words in notes[0].body
    _, plain = evaluate(AlertMemory(login_worked=True), None, status_, AlertSettings(), NOW)
    assert "Run claude in a terminal" in plain[0].body


def test_an_unknown_account_in_json_still_prints_the_object(api, tmp_path):
    env = logins_env(tmp_path, ("default", "work"), api.url)
    code, out, err = status(env, as_json=True, account="nobody")
    data = json.loads(out)
    assert code == 1 and data["status"] == "error" and data["windows"] == []
    assert data["message"] == "There is no account 'nobody': the accounts are default, work."
    assert err == "claude-tray: There is no account 'nobody': the accounts are default, work.\n"
    assert api.requests == []


@pytest.mark.parametrize("fmt", ["waybar", "i3blocks", "polybar"])
def test_an_unknown_account_in_a_panel_format_shows_the_error_state_and_says_why(api, tmp_path, fmt):
    env = logins_env(tmp_path, ("default", "work"), api.url)
    code, out, err = status(env, fmt=fmt, account="nobody")
    assert code == 1 and err == "claude-tray: There is no account 'nobody': the accounts are default, work.\n"
    assert out.count("\n") in (1, 2, 3) and "Claude: error" in out
    if fmt == "waybar":
        block = json.loads(out)
        assert block["class"] == "error" and "There is no account 'nobody'" in block["tooltip"]
    assert api.requests == []


def test_doctor_says_a_missing_folder_once_with_both_ways_out(api, tmp_path):
    from tests.test_doctor import healthy_probes

    env = logins_env(tmp_path, ("default", "work"), api.url)
    shutil.rmtree(tmp_path / FOLDERS["work"])
    code = app.doctor(env, offline=True, probes=healthy_probes())
    lines = env.stdout.getvalue().splitlines()
    work_at = next(i for i, line in enumerate(lines) if line.endswith("work (~/.claude-work)"))
    found = [i for i, line in enumerate(lines) if i > work_at and "credentials" in line]
    assert code == 1 and len(found) == 1 and lines[found[0]].startswith("FAIL")
    said = [lines[found[0]].split("credentials", 1)[1].strip()]
    for line in lines[found[0] + 1:]:  # wrapped under it
        if not line.startswith(" "):
            break
        said.append(line.strip())
    assert " ".join(said) == (
        f"~/.claude-work does not exist — log in there with {WORK}, or stop reading it: take account 'work' out "
        "of settings.toml")
    assert api.requests == []
