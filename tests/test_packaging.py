from __future__ import annotations

import importlib.util
import json
import os
import plistlib
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fakeapi import write_credentials

REPO = Path(__file__).resolve().parent.parent
PACKAGING = REPO / "packaging"
sys.path.insert(0, str(PACKAGING))
import spec_config as cfg  # noqa: E402

BUILD_BINARY = os.environ.get("CLAUDE_TRAY_BUILD_BINARY") == "1"


class Recorder:
    """Stands in for PyInstaller's Analysis/PYZ/EXE/COLLECT/BUNDLE: records what the spec asks for."""

    built: list = []

    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs
        self.pure = self.scripts = self.binaries = self.datas = []
        Recorder.built.append((type(self).__name__, self))


def run_spec(monkeypatch, platform: str) -> dict:
    Recorder.built = []
    kinds = {name: type(name, (Recorder,), {}) for name in ("Analysis", "PYZ", "EXE", "COLLECT", "BUNDLE")}
    monkeypatch.setattr(sys, "platform", platform)
    namespace = {"SPECPATH": str(PACKAGING), "__name__": "__main__", **kinds}
    exec(compile((PACKAGING / "claude-tray.spec").read_text(), "claude-tray.spec", "exec"), namespace)
    return {name: obj for name, obj in Recorder.built}


def test_linux_spec_builds_one_windowed_file_with_assets_and_hidden_backends(monkeypatch):
    built = run_spec(monkeypatch, "linux")
    assert set(built) == {"Analysis", "PYZ", "EXE"}  # one file: no COLLECT, no BUNDLE
    analysis = built["Analysis"].kwargs
    assert (str(REPO / "tray_monitor" / "assets"), "tray_monitor/assets") in analysis["datas"]
    hidden = analysis["hiddenimports"]
    assert {"pystray._xorg", "tray_monitor.tray.sni", "tray_monitor.tray.xembed", "tray_monitor.autostart.linux",
            "tray_monitor.notifier"} <= set(hidden)
    assert not set(cfg.GTK_BACKENDS) & set(hidden)  # no GTK: the menu is our own StatusNotifierItem's
    assert any(name.startswith("plyer.platforms.linux") for name in hidden)
    assert built["Analysis"].args[0] == [str(PACKAGING / "claude_tray_main.py")]
    assert built["EXE"].kwargs["name"] == "claude-tray" and built["EXE"].kwargs["console"] is False


def test_macos_spec_builds_a_menu_bar_only_app_bundle(monkeypatch):
    built = run_spec(monkeypatch, "darwin")
    assert {"EXE", "COLLECT", "BUNDLE"} <= set(built)
    bundle = built["BUNDLE"].kwargs
    assert bundle["name"] == "Claude Tray.app" and bundle["info_plist"]["LSUIElement"] is True
    assert "pystray._darwin" in built["Analysis"].kwargs["hiddenimports"]


@pytest.mark.parametrize("platform, backend", [("linux", "pystray._xorg"), ("linux", "pystray._appindicator"),
                                               ("linux", "pystray._gtk"), ("darwin", "pystray._darwin"),
                                               ("win32", "pystray._win32")])
def test_each_os_declares_its_lazily_imported_pystray_backends(platform, backend):
    assert backend in cfg.hidden_imports(platform, [])


def test_freebsd_builds_like_linux():
    assert cfg.hidden_imports("freebsd14", []) == cfg.hidden_imports("linux", [])


def test_declared_hidden_imports_exist_so_none_is_stale():
    names = cfg.OWN_LAZY_MODULES + cfg.PYSTRAY_BACKENDS["linux"] + list(cfg.PLYER_PLATFORM.values())
    names += [n for n in cfg.PYSTRAY_BACKENDS["darwin"] + cfg.PYSTRAY_BACKENDS["win32"]]
    for name in names:
        # find_spec of a submodule imports its parent package only (pystray's __init__ needs a display)
        parent, _, leaf = name.rpartition(".")
        if parent.startswith("pystray"):
            assert (Path(importlib.util.find_spec("pystray._base").origin).parent
                    / (parent.removeprefix("pystray").lstrip(".").replace(".", "/")) / f"{leaf}.py").exists(), name
        else:
            assert importlib.util.find_spec(name) is not None, name


def test_version_comes_from_the_package():
    from tray_monitor import __version__

    assert cfg.app_version(REPO) == __version__


def test_app_version_without_a_version_line_stops_the_build(tmp_path):
    (tmp_path / "tray_monitor").mkdir()
    (tmp_path / "tray_monitor" / "__init__.py").write_text('"""no version"""\n')
    with pytest.raises(SystemExit):
        cfg.app_version(tmp_path)


def test_app_icon_prefers_the_largest_png_and_native_formats(tmp_path):
    assets = tmp_path / "tray_monitor" / "assets"
    assets.mkdir(parents=True)
    assert cfg.app_icon(tmp_path, "linux") is None
    for size in (16, 256, 64):
        (assets / f"claude-tray-{size}.png").write_bytes(b"png")
    assert cfg.app_icon(tmp_path, "linux").endswith("claude-tray-256.png")
    (assets / "claude-tray.ico").write_bytes(b"ico")
    assert cfg.app_icon(tmp_path, "win32").endswith("claude-tray.ico")
    assert cfg.app_icon(tmp_path, "darwin").endswith("claude-tray-256.png")


def test_macos_info_plist_is_menu_bar_only_and_versioned():
    plist = cfg.info_plist(REPO, "1.2.3")
    assert plist["LSUIElement"] is True
    assert plist["CFBundleShortVersionString"] == "1.2.3" and plist["CFBundleVersion"] == "1.2.3"
    assert plist["CFBundleIdentifier"] == cfg.BUNDLE_ID
    assert "@VERSION@" not in plistlib.dumps(plist).decode()


def test_linux_desktop_entry_is_a_valid_application_entry():
    from tray_monitor.autostart.linux import read_desktop_entry, split_exec

    keys = read_desktop_entry((PACKAGING / "linux" / "claude-tray.desktop").read_text())
    assert keys["Type"] == "Application" and keys["Name"] == "Claude Tray"
    assert split_exec(keys["Exec"]) == ("claude-tray",) and keys["Terminal"] == "false"
    assert keys["Categories"].endswith(";") and keys["Icon"] == "claude-tray"
    try:
        import gi

        gi.require_version("Gio", "2.0")
        from gi.repository import GLib
    except (ImportError, ValueError):
        return
    key_file = GLib.KeyFile()  # GLib's own parser: what GNOME and XFCE menus read
    assert key_file.load_from_file(str(PACKAGING / "linux" / "claude-tray.desktop"), GLib.KeyFileFlags.NONE)
    assert key_file.get_string("Desktop Entry", "Exec") == "claude-tray"


def test_build_script_is_executable_bash_with_valid_syntax():
    script = PACKAGING / "build-binary.sh"
    assert os.access(script, os.X_OK)
    assert subprocess.run(["bash", "-n", str(script)], capture_output=True).returncode == 0


def test_build_script_says_what_to_do_without_pyinstaller(tmp_path):
    python = tmp_path / "python"
    python.write_text("#!/bin/sh\nexit 1\n")
    python.chmod(0o755)
    result = subprocess.run([str(PACKAGING / "build-binary.sh")], env={**os.environ, "PYTHON": str(python)},
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and "pip install pyinstaller" in result.stderr


def test_entry_script_runs_the_same_main_as_the_console_script():
    source = (PACKAGING / "claude_tray_main.py").read_text()
    assert "from tray_monitor.launch import main" in source and "raise SystemExit(main())" in source
    # launch.main: `statusline` straight to its light module, everything else to cli.main
    assert 'claude-tray = "tray_monitor.launch:main"' in (REPO / "pyproject.toml").read_text()


@pytest.fixture(scope="module")
def built_binary() -> Path:
    """dist/claude-tray, built once for the tests below with the interpreter running the tests."""
    if not BUILD_BINARY:
        pytest.skip("slow (about a minute): set CLAUDE_TRAY_BUILD_BINARY=1 to build the binary")
    build = subprocess.run([str(PACKAGING / "build-binary.sh")], cwd=REPO, capture_output=True, text=True, timeout=900,
                           env={**os.environ, "PYTHON": sys.executable})
    assert build.returncode == 0, build.stdout[-2000:] + build.stderr[-4000:]
    return REPO / "dist" / "claude-tray"


def binary_env(home: Path, api_url: str, tmp_path: Path, **extra: str) -> dict:
    write_credentials(home / ".claude", "max-linux")
    return {
        "PATH": "/usr/bin:/bin", "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local/share"), "XDG_STATE_HOME": str(home / ".local/state"),
        "XDG_CACHE_HOME": str(home / ".cache"), "CLAUDE_TRAY_API_URL": api_url, "TMPDIR": str(tmp_path),
        **extra,
    }


def test_built_binary_answers_version_and_status_json_against_the_loopback_server(built_binary, fake_api, tmp_path):
    from tray_monitor import __version__

    env = binary_env(tmp_path / "home", fake_api.url, tmp_path)
    version = subprocess.run([str(built_binary), "--version"], env=env, capture_output=True, text=True, timeout=120)
    assert version.returncode == 0 and __version__ in version.stdout, version.stderr
    status = subprocess.run([str(built_binary), "status", "--json"], env=env, capture_output=True, text=True,
                            timeout=120)
    assert status.returncode == 0, status.stderr
    payload = json.loads(status.stdout)
    assert payload and "FIXTURE" not in status.stdout
    assert len(fake_api.requests) == 1


def test_built_binary_holds_no_gtk(built_binary):
    """Issue 12: the Linux menu needs no PyGObject, so the binary carries neither gi nor libgtk."""
    from PyInstaller.archive.readers import CArchiveReader

    names = list(CArchiveReader(str(built_binary)).toc)
    assert any(name.startswith("libpython") for name in names), names[:20]  # the table is the real one
    assert not [n for n in names if "libgtk" in n or "libgirepository" in n or n.startswith("gi/")], names


@pytest.mark.desktop
def test_built_binary_shows_its_icon_and_full_menu_through_an_sni_host(
        built_binary, fake_api, tmp_path, xvfb, session_bus, sni_tray):
    """The binary's own StatusNotifierItem (tray/sni.py, no GTK inside): the item registers with the
    host, and its menu lists the windows and commands."""
    from tests.desktop_x import sni_click, sni_item, stop_process, wait_until
    from tray_monitor.tray import APP_ID

    env = binary_env(tmp_path / "home", fake_api.url, tmp_path, **{"NO_AT_BRIDGE": "1", **xvfb.env, **session_bus.env})
    log = (tmp_path / "binary.log").open("w")
    process = subprocess.Popen([str(built_binary)], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        def menu():
            item = sni_item(session_bus.address, APP_ID)
            labels = [text for _id, text, visible in item.menu if visible] if item else []
            return labels if any(t.startswith("Current session: ") for t in labels) else None

        labels = wait_until(menu, 60, "the binary's SNI item with its window lines")
        assert labels[0].startswith("Plan: ") and labels[-1] == "Quit", labels
        for command in ("Refresh now", "Open usage page", "Notifications", "Start at login"):
            assert command in labels, labels
        assert sni_item(session_bus.address, APP_ID).checked.get("Notifications") == 1
        sni_click(session_bus.address, APP_ID, "Quit")
        assert process.wait(30) == 0
    finally:
        if process.poll() is None:
            stop_process(process)
        log.close()
    output = (tmp_path / "binary.log").read_text(errors="replace")
    assert "tray: StatusNotifierItem" in output, output[-3000:]
    assert "Traceback" not in output and "FIXTURE" not in output, output[-3000:]


def test_linux_build_with_gtk_bundles_it_without_icon_themes_or_translations(monkeypatch):
    """They were 5,973 of the single file's 6,284 entries, unpacked at every start (2.6-5 s to
    `--version`); pystray's gtk/appindicator menus need neither."""
    monkeypatch.setenv("CLAUDE_TRAY_GTK", "1")
    analysis = run_spec(monkeypatch, "linux")["Analysis"].kwargs
    assert analysis["hooksconfig"] == {"gi": {"icons": [], "themes": [], "languages": []}}
    assert "pystray._appindicator" in analysis["hiddenimports"] and "gi" not in analysis["excludes"]
    assert run_spec(monkeypatch, "darwin")["Analysis"].kwargs["hooksconfig"] == {}


def test_linux_build_leaves_gtk_out_by_default(monkeypatch):
    assert cfg.bundle_gtk({}) is False and cfg.bundle_gtk({"CLAUDE_TRAY_GTK": "1"}) is True
    assert cfg.bundle_gtk({"CLAUDE_TRAY_GTK": "0"}) is False
    slim = cfg.hidden_imports("linux", [], gtk=False)
    assert "pystray._xorg" in slim and not set(cfg.GTK_BACKENDS) & set(slim)
    assert "gi" in cfg.excludes("linux", gtk=False) and "gi" not in cfg.excludes("linux", gtk=True)
    assert "gi" not in cfg.excludes("darwin", gtk=False)
    monkeypatch.delenv("CLAUDE_TRAY_GTK", raising=False)
    analysis = run_spec(monkeypatch, "linux")["Analysis"].kwargs
    assert "gi" in analysis["excludes"] and "pystray._gtk" not in analysis["hiddenimports"]
    assert analysis["hooksconfig"] == {}
