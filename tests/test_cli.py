"""cli.main: parsing, dispatch to app.py, and the promise of no traceback without --debug.

Dispatch tests put a recording stand-in for `tray_monitor.app` into sys.modules (cli imports it
lazily by name); the subprocess tests at the end run the real package as a user would.
"""
from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import types
from pathlib import Path

import pytest

from tray_monitor import __version__, cli
from tray_monitor.errors import ConfigError

REPO = Path(__file__).resolve().parent.parent


class RecordingApp(types.ModuleType):
    """Records which app function was called with what; `behaviour` makes it return or raise."""

    def __init__(self, behaviour=0):
        super().__init__("tray_monitor.app")
        self.calls = []
        self.behaviour = behaviour
        for name in ("tray", "status", "watch", "refresh", "quit", "autostart", "config", "doctor", "accounts"):
            setattr(self, name, self._recorder(name))

    def _recorder(self, name):
        def record(env, *args, **kwargs):
            self.calls.append((name, args, kwargs))
            if isinstance(self.behaviour, BaseException):
                raise self.behaviour
            return self.behaviour

        return record


@pytest.fixture(autouse=True)
def restore_logging():
    """cli.main configures the root logger and threading.excepthook for the process; put them
    back so later tests log where pytest expects."""
    root = logging.getLogger()
    handlers, level, hook = list(root.handlers), root.level, threading.excepthook
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    for handler in handlers:
        if handler not in root.handlers:
            root.addHandler(handler)
    root.setLevel(level)
    threading.excepthook = hook


@pytest.fixture
def app(monkeypatch):
    fake = RecordingApp()
    monkeypatch.setitem(sys.modules, "tray_monitor.app", fake)
    return fake


def write_settings(home: Path, text: str) -> None:
    path = home / ".config" / "claude-tray" / "settings.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


# ----------------------------------------------------------------------------- dispatch


@pytest.mark.parametrize(
    "argv, call",
    [
        (["status"], ("status", (False,), {"demo": False, "fmt": "text", "fresh": False, "account": None})),
        (["status", "--json"], ("status", (True,), {"demo": False, "fmt": "text", "fresh": False, "account": None})),
        (["status", "--format", "waybar", "--fresh"], ("status", (False,), {"demo": False, "fmt": "waybar", "fresh": True, "account": None})),
        (["watch", "--format", "waybar"], ("watch", (120,), {"demo": False, "colour": "auto", "fmt": "waybar", "fresh": False, "account": None})),
        (["status", "--demo"], ("status", (False,), {"demo": True, "fmt": "text", "fresh": False, "account": None})),
        (["status", "--account", "work", "--json"],
         ("status", (True,), {"demo": False, "fmt": "text", "fresh": False, "account": "work"})),
        (["watch", "--account", "work", "--format", "waybar"],
         ("watch", (120,), {"demo": False, "colour": "auto", "fmt": "waybar", "fresh": False, "account": "work"})),
        (["accounts"], ("accounts", (None, None, None), {"discover": False})),
        (["accounts", "--discover"], ("accounts", (None, None, None), {"discover": True})),
        (["accounts", "add", "work", "~/.claude-work"], ("accounts", ("add", "work", "~/.claude-work"), {"discover": False})),
        (["accounts", "remove", "work"], ("accounts", ("remove", "work", None), {"discover": False})),
        (["refresh"], ("refresh", (), {})),
        (["quit"], ("quit", (), {})),
        (["autostart", "enable"], ("autostart", ("enable",), {})),
        (["autostart", "disable"], ("autostart", ("disable",), {})),
        (["autostart", "status"], ("autostart", ("status",), {})),
        (["config"], ("config", (), {})),
        (["doctor"], ("doctor", (False,), {})),
        (["doctor", "--offline"], ("doctor", (True,), {})),
        (["watch", "--interval", "90"], ("watch", (90,), {"demo": False, "colour": "auto", "fmt": "text", "fresh": False, "account": None})),
        (["--interval", "90", "watch"], ("watch", (90,), {"demo": False, "colour": "auto", "fmt": "text", "fresh": False, "account": None})),
        (["--demo", "watch"], ("watch", (120,), {"demo": True, "colour": "auto", "fmt": "text", "fresh": False, "account": None})),
        (["watch", "--demo"], ("watch", (120,), {"demo": True, "colour": "auto", "fmt": "text", "fresh": False, "account": None})),
        ([], ("tray", (120,), {"demo": False})),
        (["--demo", "--interval", "300"], ("tray", (300,), {"demo": True})),
    ],
)
def test_each_command_calls_its_app_function(app, capsys, argv, call):
    assert cli.main(argv) == 0
    assert app.calls == [call]
    assert capsys.readouterr().err == ""


def test_the_app_functions_exit_code_is_the_exit_code(app):
    app.behaviour = 3
    assert cli.main(["status"]) == 3


def test_an_option_after_the_command_does_not_undo_one_before_it(app):
    cli.main(["--demo", "watch", "--interval", "90"])
    assert app.calls == [("watch", (90,), {"demo": True, "colour": "auto", "fmt": "text", "fresh": False, "account": None})]


def test_the_interval_comes_from_the_settings_file_when_not_given(app, isolated_home):
    write_settings(isolated_home, "interval = 300\n")
    cli.main(["watch"])
    cli.main([])
    assert [c[1] for c in app.calls] == [(300,), (300,)]


def test_an_interval_below_60_is_raised_with_one_warning(app, capsys):
    assert cli.main(["watch", "--interval", "10"]) == 0
    assert app.calls == [("watch", (60,), {"demo": False, "colour": "auto", "fmt": "text", "fresh": False, "account": None})]
    assert capsys.readouterr().err == (
        "claude-tray: --interval 10 is below the minimum of 60 seconds "
        "(the usage endpoint rate-limits fast pollers); using 60.\n"
    )


def test_interval_and_demo_on_a_command_that_does_not_poll_are_ignored_with_a_note(app, capsys):
    assert cli.main(["--demo", "doctor", "--interval", "90"]) == 0
    assert app.calls == [("doctor", (False,), {})]
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "claude-tray: --demo applies to the tray, status and watch only; doctor ignores it.",
        "claude-tray: --interval applies to the tray and `watch` only; ignored.",
    ]


@pytest.mark.parametrize(
    "argv", [["--bogus"], ["watch", "--interval", "soon"], ["autostart"], ["autostart", "maybe"], ["frobnicate"]]
)
def test_a_wrong_command_line_is_a_usage_error_with_exit_2(app, capsys, argv):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: claude-tray")
    assert "error:" in err and "Traceback" not in err
    assert app.calls == []


def test_help_and_version_exit_0(app, capsys):
    assert cli.main(["--help"]) == 0
    assert cli.main(["--version"]) == 0
    assert f"claude-tray {__version__}" in capsys.readouterr().out


# ----------------------------------------------------------------------------- the way out


def test_ctrl_c_anywhere_exits_130_quietly(app, capsys):
    app.behaviour = KeyboardInterrupt()
    assert cli.main(["watch"]) == 130
    assert capsys.readouterr().err == ""


def test_an_expected_error_at_the_top_is_its_one_sentence(app, capsys):
    app.behaviour = ConfigError("CLAUDE_TRAY_API_URL must use https (http only for 127.0.0.1).")
    assert cli.main(["status"]) == 1
    assert capsys.readouterr().err == "claude-tray: CLAUDE_TRAY_API_URL must use https (http only for 127.0.0.1).\n"


def test_an_unexpected_error_is_one_sentence_naming_the_log_which_has_the_traceback(app, capsys, isolated_home):
    app.behaviour = RuntimeError("boom at sk-ant-oat01-SECRETSECRET")
    assert cli.main(["status"]) == 1
    err = capsys.readouterr().err
    log_file = isolated_home / ".local/state/claude-tray/log/claude-tray.log"
    assert err == f"claude-tray hit an unexpected error: RuntimeError; details are in {log_file}\n"
    logged = log_file.read_text()
    assert "Traceback" in logged and "RuntimeError" in logged
    assert "SECRETSECRET" not in logged  # the log redacts tokens


def test_with_debug_the_traceback_reaches_stderr(app, capsys):
    app.behaviour = RuntimeError("boom")
    assert cli.main(["--debug", "status"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "RuntimeError: boom" in err
    assert err.splitlines()[-1].startswith("claude-tray hit an unexpected error: RuntimeError; details are in ")


def test_an_unwritable_log_directory_is_reported_and_the_command_still_runs(app, capsys, isolated_home):
    (isolated_home / ".local/state").mkdir(parents=True)
    (isolated_home / ".local/state/claude-tray").write_text("a file where a directory should be")
    assert cli.main(["status"]) == 0
    assert app.calls == [("status", (False,), {"demo": False, "fmt": "text", "fresh": False, "account": None})]
    assert "logging is off" in capsys.readouterr().err


def test_an_unexpected_error_without_a_log_says_to_use_debug(app, capsys, isolated_home):
    (isolated_home / ".local/state").mkdir(parents=True)
    (isolated_home / ".local/state/claude-tray").write_text("not a directory")
    app.behaviour = ValueError("bad")
    assert cli.main(["status"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[-1] == "claude-tray hit an unexpected error: ValueError; run it again with --debug for details"
    assert not any("Traceback" in line for line in err)


def test_an_unexpected_error_without_a_log_shows_the_traceback_with_debug(app, capsys, isolated_home):
    (isolated_home / ".local/state").mkdir(parents=True)
    (isolated_home / ".local/state/claude-tray").write_text("not a directory")
    app.behaviour = ValueError("bad")
    assert cli.main(["--debug", "status"]) == 1
    assert "Traceback" in capsys.readouterr().err


def test_a_closed_stdout_pipe_ends_quietly(app, capsys):
    app.behaviour = BrokenPipeError()
    assert cli.main(["status"]) == 1
    assert capsys.readouterr().err == ""


# ----------------------------------------------------------------------------- the real program


def run_cli(*args, env_extra=None):
    env = dict(os.environ, PYTHONPATH=str(REPO), **(env_extra or {}))
    return subprocess.run(
        [sys.executable, "-m", "tray_monitor", *args], capture_output=True, text=True, env=env, timeout=60
    )


def test_version_as_a_real_process():
    done = run_cli("--version")
    assert (done.returncode, done.stdout, done.stderr) == (0, f"claude-tray {__version__}\n", "")


def test_help_as_a_real_process_lists_every_command():
    done = run_cli("--help")
    assert done.returncode == 0
    for command in ("status", "watch", "refresh", "quit", "autostart", "config", "doctor"):
        assert command in done.stdout


def test_a_wrong_flag_as_a_real_process_is_a_usage_error():
    done = run_cli("--no-such-flag")
    assert done.returncode == 2
    assert "usage: claude-tray" in done.stderr and "Traceback" not in done.stderr


def test_status_json_without_a_login_as_a_real_process():
    # conftest gives this test an empty HOME: no Claude Code login anywhere.
    done = run_cli("status", "--json", env_extra={"XDG_RUNTIME_DIR": ""})
    assert done.returncode == 1
    assert json.loads(done.stdout) == {
        "status": "signed_out",
        "plan": None,
        "updated_at": None,
        "message": "No Claude Code login — install Claude Code and run claude, or try claude-tray --demo",
        "skipped_windows": 0,
        "notices": [],
        "windows": [],
        "extra_usage": None,
        "from_tray": False,
    }
    assert done.stderr == "claude-tray: No Claude Code login — install Claude Code and run claude, or try claude-tray --demo\n"


# ----------------------------------------------------------------------------- the demo (issue 16)


def test_status_demo_as_a_real_process_reads_the_simulation_marked_as_such_without_a_login():
    """It used to say "--demo ... ignored", then "No Claude Code login", exit 1. The API URL
    points at a closed port: the demo must not need (or try) the network."""
    closed = {"CLAUDE_TRAY_API_URL": "http://127.0.0.1:9"}
    done = run_cli("status", "--demo", env_extra=closed)
    assert (done.returncode, done.stderr) == (0, ""), done
    lines = done.stdout.splitlines()
    assert lines[0] == "Claude usage · Max 5x · simulated demo"
    assert lines[1].startswith("Current session") and lines[1].endswith("10%")
    as_json = run_cli("status", "--demo", "--json", env_extra=closed)
    assert as_json.returncode == 0, as_json
    data = json.loads(as_json.stdout)
    assert data["simulated"] is True and data["status"] == "ok"
    assert "simulated" not in json.loads(run_cli("status", "--json").stdout)  # a real run says nothing


def test_watch_demo_into_a_pipe_as_a_real_process_marks_its_header_simulated():
    env = dict(os.environ, PYTHONPATH=str(REPO), CLAUDE_TRAY_API_URL="http://127.0.0.1:9")
    process = subprocess.Popen([sys.executable, "-m", "tray_monitor", "watch", "--demo"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = process.stdout.readline()
    finally:
        process.send_signal(signal.SIGINT)
        _out, err = process.communicate(timeout=20)
    assert first.rstrip("\n") == "Claude usage · Max 5x · simulated demo"
    assert process.returncode == 130 and "Traceback" not in err, err


def test_help_says_where_demo_applies_and_how_to_try_it_without_a_login():
    done = run_cli("--help")
    text = " ".join(done.stdout.split())
    assert "claude-tray --demo (or status --demo, watch --demo) shows simulated usage" in text
    assert "--demo simulated usage, no login or network needed (the tray, status and watch)" in text
