from __future__ import annotations

import logging
import os
import plistlib
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.envs import temp_env
from tray_monitor.autostart import (
    AutostartFailed,
    NoAutostart,
    launch_command,
    launch_workdir,
    make_autostart,
)
from tray_monitor.autostart.linux import (
    XdgAutostart,
    autostart_dir,
    escape_value,
    quote_exec_arg,
    read_desktop_entry,
    split_exec,
    unescape_value,
)
from tray_monitor.autostart.macos import LABEL, LAUNCHCTL, LaunchAgentAutostart
from tray_monitor.autostart.windows import (
    APPROVED_KEY,
    RUN_KEY,
    RegistryAutostart,
    RunKey,
    format_command,
    parse_command,
)
from tray_monitor.environment import Environment
from tray_monitor.settings import load_preferences, preferences_path


def make_env(tmp_path: Path, platform: str = "linux", **environ) -> Environment:
    return temp_env(tmp_path, {"XDG_CONFIG_HOME": str(tmp_path / "xdg"), **environ}, platform,
                    home=tmp_path / "home")


@pytest.fixture
def env(tmp_path):
    return make_env(tmp_path)


@pytest.fixture
def program(tmp_path) -> Path:
    """An installed console script, as a venv or pipx puts it next to its python."""
    path = tmp_path / "venv" / "bin" / "claude-tray"
    path.parent.mkdir(parents=True)
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(0o755)
    return path


# ----------------------------------------------------------------------------- launch command


def test_launch_command_is_the_console_script_next_to_the_venv_python(program):
    python = program.parent / "python"
    python.symlink_to(sys.executable)
    assert launch_command("linux", executable=str(python), frozen=False) == (str(program),)


def test_launch_command_keeps_the_venv_python_symlink_unresolved(tmp_path):
    # The symlink's target (the base interpreter) does not have our package installed.
    python = tmp_path / "venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.symlink_to(sys.executable)
    assert launch_command("linux", executable=str(python), frozen=False) == (str(python), "-m", "tray_monitor")


def test_launch_command_ignores_a_console_script_that_is_not_executable(program):
    program.chmod(0o644)
    python = str(program.parent / "python")
    assert launch_command("linux", executable=python, frozen=False) == (python, "-m", "tray_monitor")


def test_launch_command_of_a_frozen_build_is_the_executable_itself(tmp_path):
    exe = str(tmp_path / "claude-tray")
    assert launch_command("linux", executable=exe, frozen=True) == (exe,)
    assert launch_command("darwin", executable=exe, frozen=True) == (exe,)


def test_launch_command_is_absolute_even_from_a_relative_executable(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    command = launch_command("linux", executable="bin/python", frozen=False)
    assert command == (str(tmp_path / "bin" / "python"), "-m", "tray_monitor")


def test_windows_launch_command_uses_pythonw_to_avoid_a_console_window():
    command = launch_command(
        "win32", executable="C:\\App\\venv\\Scripts\\python.exe", frozen=False,
        exists=lambda p: p == "C:\\App\\venv\\Scripts\\pythonw.exe",
    )
    assert command == ("C:\\App\\venv\\Scripts\\pythonw.exe", "-m", "tray_monitor")


def test_windows_launch_command_falls_back_to_python_without_pythonw():
    command = launch_command("win32", executable="C:\\Py\\python.exe", frozen=False, exists=lambda p: False)
    assert command == ("C:\\Py\\python.exe", "-m", "tray_monitor")


def test_windows_launch_command_of_a_frozen_build_is_the_exe():
    assert launch_command("win32", executable="C:\\Apps\\claude-tray.exe", frozen=True) == ("C:\\Apps\\claude-tray.exe",)


# ----------------------------------------------------------------------------- factory


def test_factory_picks_one_class_per_os(tmp_path):
    assert isinstance(make_autostart(make_env(tmp_path, "linux")), XdgAutostart)
    assert isinstance(make_autostart(make_env(tmp_path, "darwin")), LaunchAgentAutostart)


def test_factory_falls_back_to_do_nothing_where_winreg_is_missing(tmp_path):
    autostart = make_autostart(make_env(tmp_path, "win32"))  # this is Linux: no winreg module
    assert isinstance(autostart, NoAutostart) and autostart.available is False


def test_do_nothing_autostart_reports_unavailable_and_changes_nothing(tmp_path):
    env = make_env(tmp_path, "sunos5")
    autostart = make_autostart(env)
    assert autostart.available is False
    for action in (autostart.enable, autostart.disable, autostart.follow, autostart.status):
        status = action()
        assert status.state == "unavailable" and status.enabled is False
        assert "not supported on sunos5" in status.message
    assert not (tmp_path / "data").exists() and not (tmp_path / "xdg").exists()


# ----------------------------------------------------------------------------- Linux (real files)


def test_xdg_entry_is_in_xdg_config_home_autostart(env, tmp_path):
    assert XdgAutostart(env).path == tmp_path / "xdg" / "autostart" / "claude-tray.desktop"


def test_relative_xdg_config_home_is_ignored_as_the_spec_says(tmp_path):
    env = make_env(tmp_path, XDG_CONFIG_HOME="relative/dir")
    assert autostart_dir(env) == tmp_path / "home" / ".config" / "autostart"


def test_enable_writes_an_entry_that_runs_this_install_after_a_delay(env, program):
    autostart = XdgAutostart(env, command=(str(program),))
    status = autostart.enable()
    assert status.state == "enabled" and status.enabled and status.command == (str(program),)
    keys = read_desktop_entry(autostart.path.read_text())
    assert keys["Type"] == "Application" and keys["Terminal"] == "false"
    assert keys["TryExec"] == str(program)
    assert split_exec(keys["Exec"]) == ("sh", "-c", 'sleep 5; exec "$0" "$@"', str(program))
    assert load_preferences(env)[0] == {"autostart": True}


def test_enable_is_idempotent(env, program):
    autostart = XdgAutostart(env, command=(str(program),))
    autostart.enable()
    first = autostart.path.read_bytes()
    assert autostart.enable().state == "enabled"
    assert autostart.path.read_bytes() == first
    assert [p.name for p in autostart.path.parent.iterdir()] == ["claude-tray.desktop"]


def test_disable_removes_the_entry_and_twice_is_harmless(env, program):
    autostart = XdgAutostart(env, command=(str(program),))
    autostart.enable()
    assert autostart.disable().state == "disabled"
    assert not autostart.path.exists()
    status = autostart.disable()
    assert status.state == "disabled" and not status.enabled
    assert load_preferences(env)[0] == {"autostart": False}


def test_status_without_any_entry_says_disabled(env, program):
    status = XdgAutostart(env, command=(str(program),)).status()
    assert status.state == "disabled" and "autostart enable" in status.message


def test_entry_deleted_by_hand_is_reported_and_never_recreated_silently(env, program):
    autostart = XdgAutostart(env, command=(str(program),))
    autostart.enable()
    autostart.path.unlink()  # the user removed it in their desktop's startup settings
    status = autostart.status()
    assert status.state == "removed_by_hand" and not status.enabled
    assert "removed by hand" in status.message
    assert autostart.follow().state == "removed_by_hand"  # what the tray calls at start
    assert not autostart.path.exists()
    assert autostart.enable().state == "enabled"  # only an explicit enable brings it back


def test_entry_turned_off_in_gnome_startup_settings_is_respected(env, program):
    autostart = XdgAutostart(env, command=(str(program),))
    autostart.enable()
    text = autostart.path.read_text().replace("X-GNOME-Autostart-enabled=true", "X-GNOME-Autostart-enabled=false")
    autostart.path.write_text(text)
    assert autostart.status().state == "turned_off"
    assert autostart.follow().state == "turned_off"
    assert autostart.path.read_text() == text
    assert autostart.enable().state == "enabled"


def test_hidden_entry_counts_as_turned_off(env, program):
    autostart = XdgAutostart(env, command=(str(program),))
    autostart.enable()
    autostart.path.write_text(autostart.path.read_text() + "Hidden=true\n")
    status = autostart.status()
    assert status.state == "turned_off" and not status.enabled


def test_status_says_when_the_entry_points_to_a_program_that_no_longer_exists(env, program, tmp_path):
    old = tmp_path / "old-venv" / "bin" / "claude-tray"
    XdgAutostart(env, command=(str(old),)).enable()
    status = XdgAutostart(env, command=(str(program),)).status()
    assert status.state == "missing_target" and not status.enabled
    assert str(old) in status.message and "no longer exists" in status.message


def test_entry_follows_the_app_when_it_moves(env, program, tmp_path):
    other = tmp_path / "other" / "claude-tray"
    other.parent.mkdir()
    shutil.copy(program, other)
    XdgAutostart(env, command=(str(other),)).enable()
    here = XdgAutostart(env, command=(str(program),))
    assert here.status().state == "other_install"
    assert here.follow().state == "enabled"
    assert here.status().command == (str(program),)


def test_follow_also_repairs_an_entry_whose_program_vanished(env, program, tmp_path):
    XdgAutostart(env, command=(str(tmp_path / "gone" / "claude-tray"),)).enable()
    assert XdgAutostart(env, command=(str(program),)).follow().state == "enabled"


def test_hand_written_entry_naming_a_program_on_path_is_found(env, program, monkeypatch):
    monkeypatch.setenv("PATH", str(program.parent))
    autostart = XdgAutostart(env, command=(str(program),))
    autostart.path.parent.mkdir(parents=True)
    autostart.path.write_text("[Desktop Entry]\nType=Application\nName=x\nExec=claude-tray %U\n")
    status = autostart.status()
    assert status.state == "other_install" and status.command == ("claude-tray",)


def test_damaged_entry_is_reported_and_enable_rewrites_it(env, program):
    autostart = XdgAutostart(env, command=(str(program),))
    autostart.path.parent.mkdir(parents=True)
    autostart.path.write_bytes(b"\xff\xfe garbage")
    status = autostart.status()
    assert status.state == "missing_target" and "damaged" in status.message
    assert autostart.enable().state == "enabled"


def test_unwritable_autostart_dir_raises_one_clear_sentence(env, program, tmp_path):
    (tmp_path / "xdg").mkdir()
    (tmp_path / "xdg" / "autostart").write_text("a file where the directory should be")
    with pytest.raises(AutostartFailed) as caught:
        XdgAutostart(env, command=(str(program),)).enable()
    assert "claude-tray.desktop" in caught.value.message and "Traceback" not in caught.value.message


def test_status_of_an_unreadable_entry_is_an_error_state_not_an_exception(env, program):
    autostart = XdgAutostart(env, command=(str(program),))
    autostart.path.mkdir(parents=True)  # a directory where the file should be
    status = autostart.status()
    assert status.state == "error" and not status.enabled and str(autostart.path) in status.message


def test_failing_to_remember_the_choice_does_not_fail_enable(env, program, tmp_path, caplog):
    (tmp_path / "data").write_text("a file where the data directory should be")
    with caplog.at_level(logging.WARNING):
        status = XdgAutostart(env, command=(str(program),)).enable()
    assert status.state == "enabled"
    assert "could not remember the autostart choice" in caplog.text


def test_entry_without_delay_runs_the_program_directly(env, program):
    autostart = XdgAutostart(env, command=(str(program), "-m", "x"), delay=0)
    autostart.enable()
    assert split_exec(read_desktop_entry(autostart.path.read_text())["Exec"]) == (str(program), "-m", "x")


NASTY_PATHS = [
    "/opt/My Apps/claude-tray",
    '/home/o\'brien/"quoted"/claude-tray',
    "/home/u/$HOME/`x`/50%/claude-tray",
    "/home/u/back\\slash/claude-tray",
]


@pytest.mark.parametrize("path", NASTY_PATHS)
def test_exec_quoting_round_trips_awkward_paths(env, path):
    autostart = XdgAutostart(env, command=(path, "-m", "tray_monitor"), exists=lambda p: True)
    autostart.enable()
    assert autostart.status().command == (path, "-m", "tray_monitor")


def test_exec_quoting_follows_the_spec_examples():
    assert quote_exec_arg("/usr/bin/app") == "/usr/bin/app"
    assert quote_exec_arg("a b") == '"a b"'
    assert quote_exec_arg('say "hi" $x') == '"say \\"hi\\" \\$x"'
    assert quote_exec_arg("100%") == "100%%"
    assert quote_exec_arg("") == '""'
    assert escape_value('"a\\b"') == '"a\\\\b"'
    assert unescape_value("a\\sb\\\\c\\n") == "a b\\c\n"
    assert split_exec('app "" %f 100%%') == ("app", "", "100%")


def _glib():
    try:
        import gi as gi_module

        gi_module.require_version("Gio", "2.0")
        from gi.repository import Gio, GLib
    except (ImportError, ValueError):
        pytest.skip("PyGObject with Gio is not installed")
    return Gio, GLib


@pytest.mark.parametrize("nasty", NASTY_PATHS)
def test_glib_parses_our_entry_into_the_same_arguments(env, nasty, tmp_path):
    """GLib is what GNOME, XFCE and most autostart runners use to read and launch entries."""
    Gio, GLib = _glib()
    path = str(tmp_path) + nasty  # GLib skips an entry whose TryExec is missing: make it real
    Path(path).parent.mkdir(parents=True)
    Path(path).write_text("#!/bin/sh\n")
    Path(path).chmod(0o755)
    autostart = XdgAutostart(env, command=(path, "-m", "tray_monitor"), exists=lambda p: True)
    autostart.enable()
    info = Gio.DesktopAppInfo.new_from_filename(str(autostart.path))
    assert info is not None, "GLib rejected the desktop entry"
    assert info.get_name() == "Claude Tray"
    ok, argv = GLib.shell_parse_argv(info.get_commandline().replace("%%", "%"))
    assert ok and tuple(argv) == autostart.exec_args((path, "-m", "tray_monitor"))


def test_entry_exec_really_runs_the_command_when_launched_like_a_desktop_does(env, tmp_path):
    """`gio launch` runs the entry's Exec through GLib: the quoting, the sh wrapper and the delay."""
    _glib()
    gio = shutil.which("gio")
    if gio is None:
        pytest.skip("gio (libglib2.0-bin) is not installed")
    marker = tmp_path / "dir with space" / "started"
    marker.parent.mkdir()
    script = "import sys, pathlib; pathlib.Path(sys.argv[1]).write_text(' '.join(sys.argv[2:]))"
    command = (sys.executable, "-c", script, str(marker), "a b", "$HOME")
    autostart = XdgAutostart(env, command=command, delay=1)
    autostart.enable()
    subprocess.run([gio, "launch", str(autostart.path)], check=True, timeout=20,
                   env={**os.environ, "NO_AT_BRIDGE": "1"})
    deadline = time.monotonic() + 15
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert marker.read_text() == "a b $HOME"


# ----------------------------------------------------------------------------- macOS (recorded launchctl)


class RecordingRunner:
    def __init__(self, loaded: bool = False, fail_with: Exception | None = None, returncode: int = 0):
        self.calls: list[list[str]] = []
        self.loaded = loaded
        self.fail_with = fail_with
        self.returncode = returncode

    def __call__(self, argv, **kwargs):
        self.calls.append(list(argv))
        if self.fail_with:
            raise self.fail_with
        verb = argv[1]
        if verb == "print":
            return subprocess.CompletedProcess(argv, 0 if self.loaded else 113, "", "Could not find service")
        if verb == "bootstrap":
            self.loaded = True
        if verb == "bootout":
            self.loaded = False
        return subprocess.CompletedProcess(argv, self.returncode, "", "boom" if self.returncode else "")


def mac(tmp_path, runner, program=None, **environ):
    env = make_env(tmp_path, "darwin", **environ)
    command = (str(program),) if program else ("/Applications/Claude Tray.app/Contents/MacOS/claude-tray",)
    return LaunchAgentAutostart(env, command=command, run=runner, uid=501, exists=lambda p: True)


def test_launch_agent_plist_runs_at_load_without_keepalive(tmp_path):
    autostart = mac(tmp_path, RecordingRunner())
    autostart.enable()
    assert autostart.path == tmp_path / "home" / "Library" / "LaunchAgents" / f"{LABEL}.plist"
    plist = plistlib.loads(autostart.path.read_bytes())
    assert plist["Label"] == LABEL
    assert plist["ProgramArguments"] == ["/Applications/Claude Tray.app/Contents/MacOS/claude-tray"]
    assert plist["RunAtLoad"] is True
    assert "KeepAlive" not in plist  # the app has a Quit item


def test_enable_bootstraps_the_agent_into_the_gui_domain(tmp_path):
    runner = RecordingRunner(loaded=False)
    autostart = mac(tmp_path, runner)
    assert autostart.enable().state == "enabled"
    assert runner.calls == [
        [LAUNCHCTL, "print", f"gui/501/{LABEL}"],
        [LAUNCHCTL, "bootstrap", "gui/501", str(autostart.path)],
    ]


def test_enable_of_a_loaded_agent_does_not_bootstrap_again(tmp_path):
    runner = RecordingRunner(loaded=True)
    mac(tmp_path, runner).enable()
    assert runner.calls == [[LAUNCHCTL, "print", f"gui/501/{LABEL}"]]


def test_disable_boots_the_agent_out_and_removes_the_plist(tmp_path):
    runner = RecordingRunner(loaded=False)
    autostart = mac(tmp_path, runner)
    autostart.enable()
    runner.calls.clear()
    assert autostart.disable().state == "disabled"
    assert not autostart.path.exists()
    assert runner.calls == [[LAUNCHCTL, "print", f"gui/501/{LABEL}"], [LAUNCHCTL, "bootout", f"gui/501/{LABEL}"]]


def test_disable_from_the_launchd_started_app_does_not_boot_itself_out(tmp_path):
    runner = RecordingRunner(loaded=True)
    autostart = mac(tmp_path, runner, XPC_SERVICE_NAME=LABEL)
    autostart.enable()
    runner.calls.clear()
    autostart.disable()
    assert not autostart.path.exists()
    assert runner.calls == []  # bootout would kill this very process


def test_missing_launchctl_still_writes_the_agent_for_the_next_login(tmp_path, caplog):
    runner = RecordingRunner(fail_with=FileNotFoundError(2, "No such file", LAUNCHCTL))
    autostart = mac(tmp_path, runner)
    with caplog.at_level(logging.WARNING):
        assert autostart.enable().state == "enabled"
    assert autostart.path.exists() and "launchctl" in caplog.text


def test_failing_launchctl_is_logged_not_raised(tmp_path, caplog):
    runner = RecordingRunner(loaded=False, returncode=5)
    with caplog.at_level(logging.WARNING):
        assert mac(tmp_path, runner).enable().state == "enabled"
    assert "bootstrap" in caplog.text and "boom" in caplog.text


def test_damaged_plist_is_reported_as_damaged(tmp_path):
    autostart = mac(tmp_path, RecordingRunner())
    autostart.path.parent.mkdir(parents=True)
    autostart.path.write_bytes(b"<plist><dict><key>Label")
    status = autostart.status()
    assert status.state == "missing_target" and "damaged" in status.message


def test_plist_marked_disabled_counts_as_turned_off(tmp_path):
    autostart = mac(tmp_path, RecordingRunner())
    autostart.enable()
    plist = plistlib.loads(autostart.path.read_bytes())
    autostart.path.write_bytes(plistlib.dumps({**plist, "Disabled": True}))
    assert autostart.status().state == "turned_off"


def test_macos_plist_deleted_by_hand_is_reported(tmp_path):
    autostart = mac(tmp_path, RecordingRunner())
    autostart.enable()
    autostart.path.unlink()
    assert autostart.status().state == "removed_by_hand"


# ----------------------------------------------------------------------------- Windows (recorded winreg)


class FakeKey:
    def __init__(self, path):
        self.path = path

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class FakeWinreg:
    """Just the winreg surface RunKey uses, recording each call."""

    HKEY_CURRENT_USER = "HKCU"
    KEY_QUERY_VALUE = 0x1
    KEY_SET_VALUE = 0x2
    REG_SZ = 1
    REG_BINARY = 3

    def __init__(self):
        self.keys: dict[str, dict[str, tuple[object, int]]] = {RUN_KEY: {}}
        self.calls: list[tuple] = []

    def OpenKey(self, root, path, reserved, access):
        self.calls.append(("OpenKey", root, path, access))
        if path not in self.keys:
            raise FileNotFoundError(2, "The system cannot find the file specified")
        return FakeKey(path)

    def CreateKeyEx(self, root, path, reserved, access):
        self.calls.append(("CreateKeyEx", root, path, access))
        self.keys.setdefault(path, {})
        return FakeKey(path)

    def QueryValueEx(self, key, name):
        self.calls.append(("QueryValueEx", key.path, name))
        try:
            return self.keys[key.path][name]
        except KeyError:
            raise FileNotFoundError(2, "The system cannot find the file specified") from None

    def SetValueEx(self, key, name, reserved, kind, value):
        self.calls.append(("SetValueEx", key.path, name, reserved, kind, value))
        self.keys[key.path][name] = (value, kind)

    def DeleteValue(self, key, name):
        self.calls.append(("DeleteValue", key.path, name))
        if name not in self.keys[key.path]:
            raise FileNotFoundError(2, "The system cannot find the file specified")
        del self.keys[key.path][name]


PYTHONW = "C:\\Users\\Ann Lee\\pipx\\venvs\\claude-tray\\Scripts\\pythonw.exe"


def windows(tmp_path, fake, exists=lambda p: True):
    env = make_env(tmp_path, "win32")
    return RegistryAutostart(
        env, command=(PYTHONW, "-m", "tray_monitor"), registry=RunKey(fake), exists=exists
    )


def test_enable_sets_a_quoted_run_value_under_hkcu(tmp_path):
    fake = FakeWinreg()
    status = windows(tmp_path, fake).enable()
    assert ("SetValueEx", RUN_KEY, "claude-tray", 0, FakeWinreg.REG_SZ, f'"{PYTHONW}" -m tray_monitor') in fake.calls
    assert ("CreateKeyEx", "HKCU", RUN_KEY, FakeWinreg.KEY_SET_VALUE) in fake.calls
    assert status.state == "enabled" and status.command == (PYTHONW, "-m", "tray_monitor")
    assert status.location.startswith("HKEY_CURRENT_USER\\Software\\Microsoft\\Windows\\CurrentVersion\\Run")


def test_disable_deletes_the_run_value(tmp_path):
    fake = FakeWinreg()
    autostart = windows(tmp_path, fake)
    autostart.enable()
    assert autostart.disable().state == "disabled"
    assert ("DeleteValue", RUN_KEY, "claude-tray") in fake.calls
    assert fake.keys[RUN_KEY] == {}


def test_deleting_a_value_that_is_already_gone_is_harmless(tmp_path):
    fake = FakeWinreg()
    RunKey(fake).delete(RUN_KEY, "claude-tray")
    RunKey(fake).delete("Software\\Nowhere", "claude-tray")
    assert ("DeleteValue", RUN_KEY, "claude-tray") in fake.calls


def test_run_value_removed_by_hand_is_reported(tmp_path):
    fake = FakeWinreg()
    autostart = windows(tmp_path, fake)
    autostart.enable()
    del fake.keys[RUN_KEY]["claude-tray"]
    assert autostart.status().state == "removed_by_hand"


def test_task_manager_disable_counts_as_turned_off_and_enable_clears_it(tmp_path):
    fake = FakeWinreg()
    autostart = windows(tmp_path, fake)
    autostart.enable()
    fake.keys[APPROVED_KEY] = {"claude-tray": (b"\x03\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00", 3)}
    assert autostart.status().state == "turned_off"
    assert autostart.follow().state == "turned_off"
    assert autostart.enable().state == "enabled"
    assert ("DeleteValue", APPROVED_KEY, "claude-tray") in fake.calls


def test_task_manager_enabled_marker_counts_as_enabled(tmp_path):
    fake = FakeWinreg()
    autostart = windows(tmp_path, fake)
    autostart.enable()
    fake.keys[APPROVED_KEY] = {"claude-tray": (b"\x02" + b"\x00" * 11, 3)}
    assert autostart.status().state == "enabled"


def test_windows_status_says_when_pythonw_is_gone(tmp_path):
    fake = FakeWinreg()
    autostart = windows(tmp_path, fake, exists=lambda p: False)
    autostart.enable()
    status = autostart.status()
    assert status.state == "missing_target" and PYTHONW in status.message


def test_registry_access_denied_raises_one_clear_sentence(tmp_path):
    fake = FakeWinreg()

    def denied(*args):
        raise PermissionError(13, "Access is denied")

    fake.CreateKeyEx = denied
    with pytest.raises(AutostartFailed) as caught:
        windows(tmp_path, fake).enable()
    assert "Access is denied" in caught.value.message and "HKEY_CURRENT_USER" in caught.value.message


def test_windows_command_round_trips():
    assert format_command(("C:\\a b\\x.exe",)) == '"C:\\a b\\x.exe"'
    assert parse_command('"C:\\a b\\pythonw.exe" -m tray_monitor') == ("C:\\a b\\pythonw.exe", "-m", "tray_monitor")
    assert parse_command("C:\\x\\app.exe --quiet") == ("C:\\x\\app.exe", "--quiet")
    assert parse_command('"C:\\unterminated') == ("C:\\unterminated",)


def test_platform_modules_import_on_linux_without_winreg_or_pyobjc():
    code = "import tray_monitor.autostart.windows, tray_monitor.autostart.macos, tray_monitor.autostart.linux"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "winreg" not in sys.modules or sys.platform == "win32"


def test_preferences_live_in_the_data_dir(env, program):
    XdgAutostart(env, command=(str(program),)).enable()
    assert preferences_path(env).exists()


def test_desktops_skip_our_entry_once_its_program_is_gone(env, tmp_path):
    """TryExec: after the app moved, GLib-based sessions silently skip the stale entry at login."""
    Gio, _ = _glib()
    program = tmp_path / "gone" / "claude-tray"
    program.parent.mkdir()
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    autostart = XdgAutostart(env, command=(str(program),))
    autostart.enable()
    assert Gio.DesktopAppInfo.new_from_filename(str(autostart.path)) is not None
    program.unlink()
    with pytest.raises(TypeError):  # PyGObject's way of saying the constructor returned NULL
        Gio.DesktopAppInfo.new_from_filename(str(autostart.path))


def test_status_description_shows_the_sentence_and_the_command(env, program):
    autostart = XdgAutostart(env, command=(str(program),))
    assert autostart.status().describe() == autostart.status().message
    text = autostart.enable().describe()
    assert text.splitlines() == [f"Starts at login ({autostart.path}).", f"Command: {program}"]


def _pids_with_marker(marker: str) -> list[int]:
    """Processes whose environment carries this test's unique marker (to stop them by PID)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if f"CLAUDE_TRAY_TEST_MARKER={marker}".encode() in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def test_entry_launched_like_a_desktop_session_starts_the_tray_icon(xembed_tray, xvfb, tmp_path, fake_api):
    """The whole chain at login: our entry -> GLib's launcher -> sh delay -> this install -> docked icon."""
    import uuid

    from tests.desktop_x import base_env, wait_docked, wait_until
    from tests.fakeapi import write_credentials

    _glib()
    gio = shutil.which("gio")
    if gio is None:
        pytest.skip("gio (libglib2.0-bin) is not installed")
    home = tmp_path / "home"
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    write_credentials(home / ".claude", "max-linux")
    env = make_env(tmp_path, XDG_CONFIG_HOME=str(home / ".config"))
    autostart = XdgAutostart(env, delay=1)  # the real launch command of this install; 1 s keeps the test short
    autostart.enable()
    marker = uuid.uuid4().hex
    child_env = base_env(
        **xvfb.env, HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local/share"), XDG_STATE_HOME=str(home / ".local/state"),
        XDG_CACHE_HOME=str(home / ".cache"), XDG_RUNTIME_DIR=str(runtime), PYSTRAY_BACKEND="xorg",
        CLAUDE_TRAY_API_URL=fake_api.url, CLAUDE_TRAY_TEST_MARKER=marker,
    )
    # No PYTHONPATH, as at login: a `python -m tray_monitor` entry must find the package by itself.
    child_env.pop("PYTHONPATH", None)
    repo = Path(__file__).resolve().parent.parent
    output = tmp_path / "launched-app.out"  # the app inherits gio's stdout/stderr
    with output.open("wb") as sink:
        subprocess.run([gio, "launch", str(autostart.path)], env=child_env, check=True, timeout=30,
                       stdout=sink, stderr=subprocess.STDOUT)

    def story() -> str:
        logs = [output, *sorted((home / ".local/state").rglob("*.log"))]
        return "\n".join(f"--- {p}\n{p.read_text(errors='replace')[-3000:]}" for p in logs if p.is_file())

    try:
        try:
            icon = wait_docked(xvfb, "claude-tray", timeout=40)
            assert icon.docked and icon.viewable
            pids = _pids_with_marker(marker)
            assert pids, "the app is not running"
            cmdline = Path(f"/proc/{pids[0]}/cmdline").read_bytes().split(b"\0")
            args = [c.decode() for c in cmdline if c]
            # A console script (pip install puts bin/claude-tray beside python) runs as
            # "<interpreter> <script> ...": the kernel puts its shebang interpreter first.
            started = args[1:] if Path(args[0]).name.startswith("python") and len(args) > 1 and \
                args[1] == autostart.command[0] else args
            assert started[: len(autostart.command)] == list(autostart.command)
            wait_until(lambda: fake_api.requests, 20, "the started app to poll the usage endpoint")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{story()}") from None
    finally:
        subprocess.run([sys.executable, "-m", "tray_monitor", "quit"], env=child_env, cwd=repo,
                       capture_output=True, timeout=30)
        for grace in (15, 2):  # the second sweep catches a start still inside its sh delay
            deadline = time.monotonic() + grace
            while _pids_with_marker(marker) and time.monotonic() < deadline:
                time.sleep(0.1)
            for pid in _pids_with_marker(marker):  # the quit command failed: stop it by its PID
                try:
                    os.kill(pid, 9)
                except ProcessLookupError:
                    pass



def test_python_m_entry_runs_in_the_directory_that_holds_the_package(env, tmp_path):
    """A source checkout is not on sys.path at login; `-m` adds the working directory to it."""
    repo = str(Path(__file__).resolve().parent.parent)
    python_m = (sys.executable, "-m", "tray_monitor")
    assert launch_workdir(python_m) == repo
    autostart = XdgAutostart(env, command=python_m)
    autostart.enable()
    assert read_desktop_entry(autostart.path.read_text())["Path"] == repo
    plist = plistlib.loads(plistlib.dumps(mac(tmp_path, RecordingRunner()).plist(python_m)))
    assert plist["WorkingDirectory"] == repo


def test_console_script_and_frozen_entries_need_no_working_directory(env, program):
    assert launch_workdir((str(program),)) is None
    autostart = XdgAutostart(env, command=(str(program),))
    autostart.enable()
    assert "Path" not in read_desktop_entry(autostart.path.read_text())
    assert "WorkingDirectory" not in LaunchAgentAutostart(env, command=(str(program),), run=RecordingRunner(), uid=1).plist((str(program),))
