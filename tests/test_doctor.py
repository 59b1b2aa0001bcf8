from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from tests.envs import temp_env
from tests.fakeapi import Response, error_fixture, fake_claude_bin, write_credentials
from tray_monitor.autostart import AutostartStatus
from tray_monitor.client import UsageClient
from tray_monitor.clock import FakeClock
from tray_monitor.credentials import CredentialStore
from tray_monitor.doctor import (
    FAIL,
    INFO,
    NOTIFICATIONS,
    OK,
    SKIP,
    SNI_WATCHER,
    WARN,
    Check,
    Probes,
    bus_names_owned,
    check_backend,
    check_tray_host,
    claude_version,
    doctor_checks,
    module_available,
    run_doctor,
    typelib_available,
    x_tray_owned,
)
from tray_monitor.environment import Environment

TOKEN_FRAGMENT = "FIXTURE-ACCESS-TOKEN"


class FakeAutostart:
    def __init__(self, state="disabled", message="claude-tray does not start at login."):
        self._status = AutostartStatus(state, state == "enabled", "/x", None, message)

    def status(self):
        return self._status


def healthy_probes(**overrides) -> Probes:
    """A desktop where everything is present: an X tray, an SNI watcher, a notification daemon."""
    values = dict(
        x_tray_owned=lambda display: True,
        bus_names_owned=lambda address, names: {name: True for name in names},
        claude_version=lambda environ: "2.1.99 (Claude Code)",
        module_available=lambda name: True,
        typelib_available=lambda namespace, version: True,
        make_autostart=lambda env: FakeAutostart("enabled", "Starts at login (/x)."),
        running_tray=lambda env: False,
    )
    values.update(overrides)
    return Probes(**values)


def make_env(tmp_path: Path, api_url: str | None = None, platform: str = "linux", **environ) -> Environment:
    base = {"DISPLAY": ":5", "DBUS_SESSION_BUS_ADDRESS": "unix:path=/nonexistent"}
    if api_url:
        base["CLAUDE_TRAY_API_URL"] = api_url
    base.update(environ)
    return temp_env(tmp_path, {k: v for k, v in base.items() if v is not None}, platform,
                    home=tmp_path / "home", clock=FakeClock())


def signed_in(env: Environment, fixture: str = "max-linux", expires_in: float = 3 * 3600) -> Path:
    return write_credentials(env.home / ".claude", fixture, expires_in=expires_in, now=env.clock.now())


def run(env: Environment, offline: bool = False, probes: Probes | None = None, client="default"):
    if client == "default":
        client = UsageClient(env)
    code = run_doctor(env, CredentialStore(env), client, offline=offline, probes=probes or healthy_probes())
    out = env.stdout.getvalue()
    return code, checks_in(out), out


def checks_in(out: str) -> dict[str, str]:
    """Each check's whole entry as one line of text: its first line has the level in columns 0-3
    and the name in columns 6-18; the finding's and the fix's further lines start with spaces."""
    entries: dict[str, str] = {}
    name = None
    for line in out.splitlines():
        if line[:4].strip() in (OK, WARN, FAIL, SKIP, INFO):
            name = line[6:19].strip()
            entries[name] = line.rstrip()
        elif line.startswith(" ") and name is not None:
            entries[name] += " " + line.strip()
        else:
            name = None
    return entries


def level_of(lines: dict, name: str) -> str:
    return lines[name].split()[0]


# ----------------------------------------------------------------------------- whole runs


def test_healthy_setup_passes_with_exit_zero_and_never_prints_the_token(tmp_path, fake_api):
    env = make_env(tmp_path, fake_api.url)
    signed_in(env)
    code, lines, out = run(env)
    assert code == 0, out
    for name in ("credentials", "expiry", "scopes", "claude code", "config", "tray backend", "tray host",
                 "notifications", "autostart", "usage request"):
        assert level_of(lines, name) == OK, lines[name]
    assert "Max 5x plan" in lines["credentials"] and "valid for 3h" in lines["expiry"]
    assert "answered:" in lines["usage request"]
    assert "Everything claude-tray needs is in place." in out
    assert TOKEN_FRAGMENT not in out and "sk-ant" not in out
    assert len(fake_api.requests) == 1


def test_no_credentials_fails_with_the_fix_and_skips_the_request(tmp_path, fake_api):
    env = make_env(tmp_path, fake_api.url)
    code, lines, out = run(env)
    assert code == 1
    assert level_of(lines, "credentials") == FAIL and "fix: run claude and log in" in lines["credentials"]
    assert ".credentials.json" in lines["credentials"] and "--demo" in lines["credentials"]
    assert level_of(lines, "usage request") == SKIP
    assert fake_api.requests == []
    assert "problem(s) to fix" in out


def test_expired_login_fails_with_the_fix(tmp_path, fake_api):
    env = make_env(tmp_path, fake_api.url)
    signed_in(env, expires_in=-3600)
    code, lines, _ = run(env)
    assert code == 1
    assert level_of(lines, "expiry") == FAIL and "fix: run claude in a terminal" in lines["expiry"]
    assert level_of(lines, "usage request") == SKIP and fake_api.requests == []


def test_corrupt_credentials_file_fails_without_a_traceback(tmp_path, fake_api):
    env = make_env(tmp_path, fake_api.url)
    path = signed_in(env)
    path.write_text('{"claudeAiOauth": {"accessToken": "sk-ant-oat01-half')
    code, lines, out = run(env)
    assert code == 1 and level_of(lines, "credentials") == FAIL
    assert "Traceback" not in out and "sk-ant" not in out


def test_token_without_usage_scope_fails_on_scopes(tmp_path, fake_api):
    env = make_env(tmp_path, fake_api.url)
    signed_in(env, "inference-only")
    code, lines, _ = run(env)
    assert code == 1
    assert level_of(lines, "scopes") == FAIL and "user:profile" in lines["scopes"]
    assert fake_api.requests == []


def test_environment_token_has_unknown_expiry_and_the_scopes_claude_code_oauth_scopes_lists(tmp_path, fake_api):
    env = make_env(tmp_path, fake_api.url, CLAUDE_CODE_OAUTH_TOKEN="sk-ant-oat01-ENVTOKEN",
                   CLAUDE_CODE_OAUTH_SCOPES="user:inference user:profile")
    code, lines, out = run(env)
    assert level_of(lines, "expiry") == INFO and level_of(lines, "scopes") == OK
    assert "CLAUDE_CODE_OAUTH_TOKEN" in lines["credentials"] and "ENVTOKEN" not in out
    assert code == 0


def test_environment_token_without_user_profile_in_claude_code_oauth_scopes_fails_with_no_request(tmp_path, fake_api):
    env = make_env(tmp_path, fake_api.url, CLAUDE_CODE_OAUTH_TOKEN="sk-ant-oat01-ENVTOKEN")
    code, lines, out = run(env)
    assert level_of(lines, "scopes") == FAIL
    assert "CLAUDE_CODE_OAUTH_SCOPES does not list user:profile" in lines["scopes"] and "ENVTOKEN" not in out
    assert code == 1 and fake_api.requests == []


def test_server_answering_429_is_a_warning_with_the_cooldown(tmp_path, fake_api):
    fake_api.queue(Response(429, error_fixture("429-rate-limited.json"), {"Retry-After": "600"}))
    env = make_env(tmp_path, fake_api.url)
    signed_in(env)
    code, lines, _ = run(env)
    assert level_of(lines, "usage request") == WARN
    assert "rate-limited" in lines["usage request"] and "retry in 10m" in lines["usage request"]
    assert code == 0  # nothing is broken: it only has to wait


def test_a_429_is_remembered_so_the_next_doctor_does_not_ask_again_during_the_wait(tmp_path, fake_api):
    """A 429 met by doctor (or by the tray, or `status`) is written down; asking again during the
    wait would only prolong it, so the next doctor says when it is fine and sends nothing."""
    fake_api.queue(Response(429, error_fixture("429-rate-limited.json"), {"Retry-After": "600"}))
    env = make_env(tmp_path, fake_api.url)
    signed_in(env)
    run(env)
    assert len(fake_api.requests) == 1
    env.clock.advance(60)
    code, lines, _ = run(env)
    assert len(fake_api.requests) == 1
    assert level_of(lines, "usage request") == WARN and "not sent" in lines["usage request"]
    assert "asking again is fine in 9m" in lines["usage request"]
    assert code == 0
    env.clock.advance(540)
    _, lines, _ = run(env)
    assert len(fake_api.requests) == 2 and level_of(lines, "usage request") == OK


def test_server_answering_429_without_retry_after_still_explains_the_backoff(tmp_path, fake_api):
    fake_api.queue(Response(429, error_fixture("429-rate-limited.json")))
    env = make_env(tmp_path, fake_api.url)
    signed_in(env)
    _, lines, _ = run(env)
    assert level_of(lines, "usage request") == WARN and "backs off by itself" in lines["usage request"]


def test_server_answering_401_fails_the_request(tmp_path, fake_api):
    fake_api.default = Response(401, error_fixture("401-invalid-token.json"))
    env = make_env(tmp_path, fake_api.url)
    signed_in(env)
    code, lines, _ = run(env)
    assert code == 1 and level_of(lines, "usage request") == FAIL


def test_offline_skips_the_live_request(tmp_path, fake_api):
    env = make_env(tmp_path, fake_api.url)
    signed_in(env)
    code, lines, _ = run(env, offline=True)
    assert code == 0 and level_of(lines, "usage request") == SKIP and fake_api.requests == []


def test_refused_api_url_fails_with_the_clients_sentence(tmp_path):
    env = make_env(tmp_path, "http://example.com:8080")
    signed_in(env)
    for offline in (False, True):
        code, lines, _ = run(replace(env, stdout=io.StringIO()), client=None, offline=offline)
        assert code == 1 and level_of(lines, "usage request") == FAIL
        assert "CLAUDE_TRAY_API_URL" in lines["usage request"]


def test_missing_client_with_an_acceptable_url_still_fails_clearly(tmp_path):
    env = make_env(tmp_path)
    signed_in(env)
    _, lines, _ = run(env, client=None)
    assert level_of(lines, "usage request") == FAIL and "no client" in lines["usage request"]


def test_bad_config_is_a_warning_naming_the_key(tmp_path, fake_api):
    env = make_env(tmp_path, fake_api.url)
    signed_in(env)
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "settings.toml").write_text("interval = 5\n")
    code, lines, _ = run(env, offline=True)
    assert code == 0 and level_of(lines, "config") == WARN and "'interval'" in lines["config"]


def test_no_display_and_no_bus_fail_the_tray_with_fixes(tmp_path, fake_api):
    env = make_env(tmp_path, fake_api.url, DISPLAY=None, DBUS_SESSION_BUS_ADDRESS=None)
    signed_in(env)
    code, lines, _ = run(env, probes=healthy_probes(module_available=lambda name: name == "Xlib"))
    assert code == 1
    assert level_of(lines, "tray backend") == FAIL and "no DISPLAY" in lines["tray backend"]
    assert level_of(lines, "tray host") == FAIL and "DISPLAY is not set" in lines["tray host"]
    assert "inside your desktop session" in lines["tray host"]
    assert level_of(lines, "notifications") == WARN and "DBUS_SESSION_BUS_ADDRESS" in lines["notifications"]


def test_unreachable_bus_and_display_are_named_not_raised(tmp_path, fake_api):
    env = make_env(tmp_path, fake_api.url, DISPLAY=":4242", DBUS_SESSION_BUS_ADDRESS=f"unix:path={tmp_path}/no.sock")
    signed_in(env)
    probes = Probes(claude_version=lambda environ: "2.1.99", make_autostart=lambda env: FakeAutostart(),
                    module_available=lambda name: name == "Xlib")  # the real X, D-Bus and control probes
    code, lines, out = run(env, probes=probes, offline=True)
    assert code == 1 and "Traceback" not in out
    assert "cannot open X display :4242" in lines["tray host"]
    assert "session bus unreachable" in lines["tray host"]
    assert level_of(lines, "notifications") == WARN and "session bus unreachable" in lines["notifications"]


def test_missing_notification_daemon_is_only_a_warning(tmp_path, fake_api):
    env = make_env(tmp_path, fake_api.url)
    signed_in(env)
    probes = healthy_probes(bus_names_owned=lambda address, names: {n: n != NOTIFICATIONS for n in names})
    code, lines, _ = run(env, probes=probes, offline=True)
    assert code == 0 and level_of(lines, "notifications") == WARN and "dunst" in lines["notifications"]


def test_claude_code_missing_is_a_warning(tmp_path, fake_api):
    env = make_env(tmp_path, fake_api.url)
    signed_in(env)
    code, lines, _ = run(env, probes=healthy_probes(claude_version=lambda environ: None), offline=True)
    assert code == 0 and level_of(lines, "claude code") == WARN


def test_autostart_removed_by_hand_is_a_warning(tmp_path, fake_api):
    env = make_env(tmp_path, fake_api.url)
    signed_in(env)
    probes = healthy_probes(make_autostart=lambda env: FakeAutostart("removed_by_hand", "removed by hand"))
    _, lines, _ = run(env, probes=probes, offline=True)
    assert level_of(lines, "autostart") == WARN and "removed by hand" in lines["autostart"]


def test_autostart_probe_that_breaks_does_not_hide_the_other_checks(tmp_path, fake_api):
    env = make_env(tmp_path, fake_api.url)
    signed_in(env)

    def broken(env):
        raise RuntimeError("registry on fire")

    code, lines, _ = run(env, probes=healthy_probes(make_autostart=broken), offline=True)
    assert level_of(lines, "autostart") == WARN and "registry on fire" in lines["autostart"]
    assert "usage request" in lines and code == 0


def test_default_autostart_probe_reads_the_real_entry(tmp_path, fake_api):
    env = make_env(tmp_path, fake_api.url, XDG_CONFIG_HOME=str(tmp_path / "xdg"))
    signed_in(env)
    probes = healthy_probes()
    probes.make_autostart = None
    _, lines, _ = run(env, probes=probes, offline=True)
    assert level_of(lines, "autostart") == INFO and "does not start at login" in lines["autostart"]


# ----------------------------------------------------------------------------- backend and tray host


def backend_of(tmp_path, platform="linux", available=lambda name: True, sni=False, xembed=True, **environ):
    environ = {"DBUS_SESSION_BUS_ADDRESS": "unix:path=/bus", **environ}
    env = make_env(tmp_path, platform=platform, **environ)
    return check_backend(env, healthy_probes(module_available=available, x_tray_owned=lambda display: xembed,
                                             bus_names_owned=lambda address, names: {n: sni for n in names}))


def test_backend_is_sni_when_a_watcher_runs_and_needs_no_pygobject(tmp_path):
    check, backend = backend_of(tmp_path, available=lambda name: False, sni=True)
    assert backend == "sni" and check.level == OK
    assert "StatusNotifierItem via org.kde.StatusNotifierWatcher" in check.detail and "with a menu" in check.detail


def test_backend_is_xembed_under_an_xembed_tray_and_says_how_to_get_a_menu_without_pip_extras(tmp_path):
    check, backend = backend_of(tmp_path, sni=False, xembed=True)
    assert backend == "xembed" and check.level == WARN and "XEmbed" in check.detail
    assert "StatusNotifierItem" in check.fix and "AppIndicator" in check.fix
    assert "pip install" not in check.fix and "[gtk]" not in check.fix


def test_backend_waits_when_no_tray_runs_and_says_what_to_do(tmp_path):
    check, backend = backend_of(tmp_path, sni=False, xembed=False)
    assert backend == "wait" and check.level == WARN and "claude-tray watch" in check.fix


def test_backend_forced_by_the_environment_is_reported(tmp_path):
    check, backend = backend_of(tmp_path, PYSTRAY_BACKEND="gtk")
    assert backend == "gtk" and "PYSTRAY_BACKEND" in check.detail
    check, backend = backend_of(tmp_path, CLAUDE_TRAY_BACKEND="appindicator", sni=True)
    assert backend == "appindicator" and "CLAUDE_TRAY_BACKEND=appindicator" in check.detail


def test_a_forced_gtk_backend_without_pygobject_fails_and_the_fix_is_to_unset_it(tmp_path):
    check, backend = backend_of(tmp_path, available=lambda name: False, CLAUDE_TRAY_BACKEND="gtk")
    assert backend is None and check.level == FAIL and "PyGObject is not installed" in check.detail
    assert check.fix.startswith("unset CLAUDE_TRAY_BACKEND") and "[gtk]" not in check.fix


def test_backend_fails_without_any_graphical_session(tmp_path):
    env = make_env(tmp_path, platform="linux", DISPLAY=None, DBUS_SESSION_BUS_ADDRESS=None)
    check, backend = check_backend(env, healthy_probes())
    assert backend is None and check.level == FAIL and "claude-tray watch" in check.fix


def test_macos_backend_needs_pyobjc(tmp_path):
    assert backend_of(tmp_path, "darwin")[1] == "darwin"
    check, backend = backend_of(tmp_path, "darwin", available=lambda name: False)
    assert backend is None and "pyobjc" in check.detail and "pip install ." in check.fix


def test_windows_backend_and_tray_host_are_always_there(tmp_path):
    env = make_env(tmp_path, platform="win32")
    assert check_backend(env, healthy_probes())[1] == "win32"
    assert check_tray_host(env, "win32", healthy_probes()).level == OK


def hosts(xembed: bool, sni: bool) -> Probes:
    return healthy_probes(x_tray_owned=lambda display: xembed,
                          bus_names_owned=lambda address, names: {n: sni for n in names})


def test_an_x_only_backend_cannot_use_a_statusnotifier_only_panel(tmp_path):
    check = check_tray_host(make_env(tmp_path), "gtk", hosts(xembed=False, sni=True))
    assert check.level == FAIL and "StatusNotifierWatcher" in check.detail and "unset" in check.fix


def test_sni_backend_finds_its_watcher(tmp_path):
    assert check_tray_host(make_env(tmp_path), "sni", hosts(xembed=False, sni=True)).level == OK


def test_appindicator_falls_back_to_an_xembed_tray(tmp_path):
    assert check_tray_host(make_env(tmp_path), "appindicator", hosts(xembed=True, sni=False)).level == OK


def test_no_tray_host_at_all_names_the_gnome_extension(tmp_path):
    check = check_tray_host(make_env(tmp_path), "wait", hosts(xembed=False, sni=False))
    assert check.level == FAIL and "AppIndicator" in check.fix


def test_tray_host_is_not_judged_for_a_forced_unusual_backend(tmp_path):
    assert check_tray_host(make_env(tmp_path), "dummy", hosts(xembed=False, sni=False)).level == INFO


def test_check_lines_show_level_name_finding_and_the_fix_on_its_own_line():
    assert Check("config", WARN, "bad", "edit it").lines(80) == ["warn  config        bad", "      fix: edit it"]


# ----------------------------------------------------------------------------- real probes


def test_x_probe_sees_a_real_xembed_tray_host(xembed_tray, xvfb):
    assert x_tray_owned(xvfb.display) is True


def test_x_probe_raises_for_a_display_that_does_not_exist():
    with pytest.raises(Exception):  # noqa: B017 - whatever python-xlib raises for it
        x_tray_owned(":4243")


@pytest.fixture
def private_bus(tmp_path):
    """A private dbus-daemon (stopped by PID), and a jeepney connection that owns a test name."""
    import shutil

    if shutil.which("dbus-daemon") is None:
        pytest.skip("dbus-daemon is not installed")
    socket = tmp_path / "bus.sock"
    process = subprocess.Popen(
        ["dbus-daemon", "--session", "--nofork", "--nopidfile", f"--address=unix:path={socket}", "--print-address=1"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        address = process.stdout.readline().strip()
        assert address, "dbus-daemon printed no address"
        yield address
    finally:
        process.terminate()
        process.wait(10)


def test_bus_probe_sees_which_names_have_an_owner_on_a_real_bus(private_bus):
    from jeepney.bus_messages import message_bus
    from jeepney.io.blocking import open_dbus_connection

    with open_dbus_connection(bus=private_bus) as owner:
        owner.send_and_get_reply(message_bus.RequestName(NOTIFICATIONS), timeout=5)
        owned = bus_names_owned(private_bus, [NOTIFICATIONS, SNI_WATCHER])
    assert owned == {NOTIFICATIONS: True, SNI_WATCHER: False}


def test_bus_probe_raises_for_a_bus_that_is_not_there(tmp_path):
    with pytest.raises(Exception):  # noqa: B017 - whatever jeepney raises for it
        bus_names_owned(f"unix:path={tmp_path}/none.sock", [NOTIFICATIONS])


def test_claude_version_runs_the_claude_on_path(tmp_path):
    fake = fake_claude_bin(tmp_path, version="2.1.99")
    assert claude_version({"PATH": str(fake.path.parent)}) == "2.1.99 (Claude Code)"
    assert fake.calls() == [["--version"]]


def test_claude_version_is_none_when_claude_is_not_installed(tmp_path):
    assert claude_version({"PATH": str(tmp_path)}) is None


def test_claude_version_reports_a_failing_claude(tmp_path):
    fake = fake_claude_bin(tmp_path, exit_code=3)
    assert claude_version({"PATH": str(fake.path.parent)}) == "unknown (`claude --version` exited 3)"


def test_claude_version_reports_a_claude_that_cannot_start(tmp_path):
    fake = fake_claude_bin(tmp_path)

    def cannot_start(*args, **kwargs):
        raise subprocess.TimeoutExpired(args[0], 5)

    assert claude_version({"PATH": str(fake.path.parent)}, run=cannot_start).startswith("unknown (")


def test_module_and_typelib_probes_answer_without_raising(monkeypatch):
    assert module_available("json") is True
    assert module_available("no_such_module_for_doctor") is False
    assert module_available("no_such_package.sub") is False
    assert typelib_available("NoSuchNamespace", "9.9") is False
    monkeypatch.setitem(sys.modules, "gi", None)  # PyGObject not installed
    assert typelib_available("Gtk", "3.0") is False


def test_doctor_checks_are_listed_in_a_stable_order(tmp_path):
    env = make_env(tmp_path)
    names = [c.name for c in doctor_checks(env, CredentialStore(env), None, offline=True, probes=healthy_probes())]
    assert names == ["credentials", "claude code", "config", "tray backend", "tray host", "notifications",
                     "autostart", "running tray", "usage request"]


def test_running_tray_is_reported_from_its_control_channel(tmp_path):
    from tray_monitor.doctor import check_running, running_tray

    env = make_env(tmp_path)
    assert running_tray(env) is False  # nothing listens in this test's runtime dir
    assert "not running" in check_running(env, healthy_probes()).detail
    assert "is running" in check_running(env, healthy_probes(running_tray=lambda env: True)).detail


def test_running_tray_answers_ping_on_a_real_control_server(tmp_path):
    from tray_monitor import instance
    from tray_monitor.doctor import running_tray

    env = make_env(tmp_path)
    server = instance.ControlServer(env, {"ping": lambda: "pong"})
    server.start()
    try:
        assert running_tray(env) is True
    finally:
        server.stop()



def test_doctor_on_a_real_desktop_finds_the_tray_and_the_notification_daemon(
        xvfb, xembed_tray, session_bus, notification_daemon, tmp_path, fake_api):
    """Xvfb + trayer + a private bus with dunst: the real X and D-Bus probes see both hosts."""
    env = make_env(tmp_path, fake_api.url, DISPLAY=xvfb.display, DBUS_SESSION_BUS_ADDRESS=session_bus.address)
    signed_in(env)
    probes = Probes(claude_version=lambda environ: "2.1.99 (Claude Code)",
                    make_autostart=lambda env: FakeAutostart())
    code, lines, out = run(env, probes=probes)
    assert level_of(lines, "tray host") == OK, out
    assert level_of(lines, "notifications") == OK, out
    assert level_of(lines, "tray backend") in (OK, WARN)  # sni when a watcher runs (OK), else xembed (WARN)
    assert code == 0, out


# ----------------------------------------------------------------------------- the layout (issue 16)

#: A check's first line (verdict, name), a line of its finding (under the finding), a fix line and
#: the fix's further lines (under the fix's text).
LEVEL_OR_INDENT = re.compile(r"^(?:(?:ok  |warn|FAIL|skip|info)  \S| {20}\S| {6}fix: \S| {11}\S)")


def run_real_doctor(tmp_path, columns: int, cwd=None, **environ) -> subprocess.CompletedProcess:
    """`claude-tray doctor --offline` as a process, in a fresh HOME without a login or a desktop."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "DBUS_SESSION_BUS_ADDRESS", "PYSTRAY_BACKEND")}
    home = tmp_path / f"home{columns}"
    home.mkdir(exist_ok=True)
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), XDG_DATA_HOME=str(home / ".data"),
               XDG_STATE_HOME=str(home / ".state"), XDG_RUNTIME_DIR=str(tmp_path), CLAUDE_CONFIG_DIR=str(home / ".claude"),
               COLUMNS=str(columns), PYTHONPATH=str(Path(__file__).resolve().parents[1]), **environ)
    return subprocess.run([sys.executable, "-m", "tray_monitor", "doctor", "--offline"], env=env, cwd=cwd or tmp_path,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("columns", [100, 80, 60, 40])
def test_doctor_as_a_real_process_keeps_its_columns_and_puts_each_fix_on_its_own_line(tmp_path, columns):
    """At 80 columns its 150-200 character lines wrapped mid-word across the verdict column, with
    the fix glued on ("not on PATH Fix: install...")."""
    done = run_real_doctor(tmp_path, columns)
    assert done.returncode == 1 and done.stderr == "", done
    body, _, summary = done.stdout.partition("\n\n")
    for line in body.splitlines():
        too_long = len(line) > columns - 1
        assert not too_long or " " not in line.strip(), f"{line!r} is wider than {columns - 1}"
        if columns >= 50:
            assert LEVEL_OR_INDENT.match(line), f"{line!r} breaks the verdict column"
    entries = checks_in(done.stdout)
    assert "Fix:" not in done.stdout and "`" not in done.stdout
    assert set(entries) >= {"credentials", "claude code", "tray backend", "tray host", "usage request"}
    for entry in entries.values():
        if entry.split()[0] in (FAIL, WARN):
            assert " fix: " in entry or "(see " in entry, entry  # a fix, or where it is
    assert "No Claude Code login found in" in entries["credentials"]
    assert summary.strip().startswith("3 problem(s) to fix")


@hypothesis_settings(max_examples=150, deadline=None)
@given(words=st.lists(st.text(alphabet="abcdefghij/._-`'", min_size=1, max_size=30), min_size=1, max_size=40),
       fix_words=st.lists(st.text(alphabet="abcdefgh-/", min_size=1, max_size=12), max_size=20),
       width=st.integers(min_value=20, max_value=140))
def test_a_check_wraps_at_spaces_only_and_within_the_width(words, fix_words, width):
    check = Check("notifications", WARN, " ".join(words), " ".join(fix_words) or None)
    lines = check.lines(width)
    assert lines[0].startswith("warn  notifications")
    for line in lines:  # longer only for one word that alone is longer than the line
        assert len(line) <= width or " " not in line.strip().removeprefix("fix: "), (line, width)
    text = " ".join(" ".join(lines).split())
    expected = " ".join(["warn", "notifications", *words] + (["fix:", *fix_words] if fix_words else []))
    assert text == expected  # every word whole, in order


def test_every_command_doctor_prints_as_a_fix_runs_as_written_from_anywhere(tmp_path):
    """From a clone the venv's bin is not on PATH: "start it with `claude-tray`" did not run.
    Each "claude-tray ..." command in a fix is the command of this very install."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = run_real_doctor(tmp_path, 200, cwd=elsewhere)
    entries = checks_in(done.stdout)
    start = entries["running tray"].split("fix: start it: ", 1)[1]
    demo = entries["credentials"].split("or try claude-tray without a login: ", 1)[1]
    assert demo == f"{start} --demo"
    version = subprocess.run(f"{start} --version", shell=True, cwd=elsewhere, capture_output=True, text=True,
                             env={"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path)}, timeout=60)
    assert version.returncode == 0 and version.stdout.startswith("claude-tray "), version


def test_a_running_tray_next_to_a_shell_without_a_display_is_not_a_tray_failure(tmp_path, fake_api):
    """`doctor` over ssh said "running and answers" beside a FAILed tray host: the tray checks were
    made from a shell that cannot see the desktop the tray runs in."""
    env = make_env(tmp_path, fake_api.url, DISPLAY=None, DBUS_SESSION_BUS_ADDRESS=None)
    signed_in(env)
    code, lines, out = run(env, offline=True, probes=healthy_probes(running_tray=lambda env: True))
    assert level_of(lines, "tray backend") == SKIP and level_of(lines, "tray host") == SKIP, out
    assert "this shell has no display" in lines["tray host"]
    assert level_of(lines, "running tray") == INFO and code == 0, out


def test_a_running_tray_without_a_tray_host_on_this_display_is_a_warning_with_the_hosts_fix(tmp_path, fake_api):
    env = make_env(tmp_path, fake_api.url)
    signed_in(env)
    probes = healthy_probes(running_tray=lambda env: True, x_tray_owned=lambda display: False,
                            bus_names_owned=lambda address, names: {n: n == NOTIFICATIONS for n in names})
    code, lines, out = run(env, offline=True, probes=probes)
    assert level_of(lines, "tray host") == FAIL and code == 1, out
    assert level_of(lines, "running tray") == WARN and "no tray host" in lines["running tray"]
    assert "AppIndicator and KStatusNotifierItem" in lines["running tray"]


def test_a_backend_waiting_for_a_missing_tray_host_is_one_problem_told_once(tmp_path, fake_api):
    """The backend's "none yet" and the tray host's "none found" repeated the same finding and
    the same long fix; the problem is told (and fixed) under tray host, the backend points there."""
    env = make_env(tmp_path, fake_api.url)
    signed_in(env)
    probes = healthy_probes(x_tray_owned=lambda display: False,
                            bus_names_owned=lambda address, names: {n: n == NOTIFICATIONS for n in names})
    code, lines, out = run(env, offline=True, probes=probes)
    assert level_of(lines, "tray backend") == WARN and level_of(lines, "tray host") == FAIL, out
    assert "(see tray host)" in lines["tray backend"] and "fix:" not in lines["tray backend"]
    assert "fix: start a panel whose tray speaks StatusNotifierItem" in lines["tray host"]
    assert out.count("start a panel") == 1 and code == 1
