"""What the PyInstaller spec builds, per OS, as plain data (tested in tests/test_packaging.py).

Kept apart from `claude-tray.spec` so the choices can be checked without running PyInstaller.
"""
from __future__ import annotations

import plistlib
import re
from pathlib import Path

APP_NAME = "claude-tray"
BUNDLE_ID = "com.github.claude-tray"

# pystray picks its backend at import time by name (`from . import _xorg`), and plyer loads
# `plyer.platforms.<os>.notification` with importlib: PyInstaller's import scan sees neither.
PYSTRAY_BACKENDS = {
    "linux": ["pystray._appindicator", "pystray._gtk", "pystray._xorg", "pystray._util.gtk",
              "pystray._util.notify_dbus"],
    "darwin": ["pystray._darwin"],
    "win32": ["pystray._win32", "pystray._util.win32"],
}
PLYER_PLATFORM = {"linux": "plyer.platforms.linux", "darwin": "plyer.platforms.macosx", "win32": "plyer.platforms.win"}

# Our own lazily imported modules: the factories import the per-OS class only when it is chosen.
OWN_LAZY_MODULES = [
    "tray_monitor.notifier",
    "tray_monitor.autostart.linux",
    "tray_monitor.autostart.macos",
    "tray_monitor.autostart.windows",
    "tray_monitor.app",
    "tray_monitor.tray.sni",
    "tray_monitor.tray.xembed",
    "tray_monitor.doctor",
    "tray_monitor.settings",
    "tray_monitor.tray.sni",  # the Linux tray with a menu (jeepney): chosen at run time
    "tray_monitor.tray.xembed",  # pystray: XEmbed on Linux, macOS, Windows
]

# Never needed at run time; keeps the single file small.
EXCLUDES = ["tkinter", "pytest", "hypothesis", "trustme", "_pytest", "IPython", "numpy"]


def platform_key(platform: str) -> str:
    if platform.startswith("linux") or "bsd" in platform:
        return "linux"
    return platform


#: pystray modules that need PyGObject (and so bring GTK, ~55 MB, into the Linux binary).
GTK_BACKENDS = ("pystray._appindicator", "pystray._gtk", "pystray._util.gtk")


def bundle_gtk(environ) -> bool:
    """Linux: the tray and its menu come from our own StatusNotifierItem backend (tray/sni.py, pure
    Python over jeepney) and pystray's xorg backend for XEmbed-only trays: no GTK. CLAUDE_TRAY_GTK=1
    bundles PyGObject + GTK again, for PYSTRAY_BACKEND=gtk|appindicator only. Measured (docs/
    benchmarks.md): without GTK the binary is about half the size and starts faster."""
    return environ.get("CLAUDE_TRAY_GTK", "0") == "1"


#: What PyInstaller's GObject hooks collect from /usr/share with GTK. By default every icon theme and
#: every translation: 5,648 icon files and 325 catalogs of the binary's 6,284 entries, all unpacked
#: at each start of the single file. The tray menu is our own text and check marks, drawn by the GTK
#: theme compiled into libgtk: it needs no icon theme and no translation.
GI_HOOKS_CONFIG = {"icons": [], "themes": [], "languages": []}


def hooks_config(platform: str, gtk: bool = True) -> dict:
    return {"gi": GI_HOOKS_CONFIG} if gtk and platform_key(platform) == "linux" else {}


def hidden_imports(platform: str, own_modules: list[str], gtk: bool = True) -> list[str]:
    key = platform_key(platform)
    backends = [b for b in PYSTRAY_BACKENDS.get(key, []) if gtk or b not in GTK_BACKENDS]
    return [*backends, *own_modules]


def excludes(platform: str, gtk: bool = True) -> list[str]:
    return EXCLUDES + ([] if gtk or platform_key(platform) != "linux" else ["gi"])


def app_version(root: Path) -> str:
    text = (root / "tray_monitor" / "__init__.py").read_text(encoding="utf-8")
    match = re.search(r'^__version__\s*=\s*"([^"]+)"', text, re.M)
    if not match:
        raise SystemExit("tray_monitor/__init__.py has no __version__")
    return match.group(1)


def app_icon(root: Path, platform: str) -> str | None:
    """The largest app icon PNG made by `python -m tray_monitor.icon app-icons` (PyInstaller turns a
    PNG into .ico / .icns itself with Pillow), or None before the icons exist."""
    assets = root / "tray_monitor" / "assets"
    for ext in ((".ico",) if platform == "win32" else (".icns",) if platform == "darwin" else ()):
        if (assets / f"{APP_NAME}{ext}").is_file():
            return str(assets / f"{APP_NAME}{ext}")
    pngs = sorted(assets.glob(f"{APP_NAME}-*.png"), key=lambda p: int(re.sub(r"\D", "", p.stem) or 0))
    return str(pngs[-1]) if pngs else None


def info_plist(root: Path, version: str) -> dict:
    """The macOS Info.plist from the template, with the version filled in. LSUIElement: menu bar only."""
    template = (root / "packaging" / "macos" / "Info.plist").read_text(encoding="utf-8")
    return plistlib.loads(template.replace("@VERSION@", version).encode("utf-8"))
