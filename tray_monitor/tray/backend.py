"""The small interface every tray backend implements (tray/sni.py, tray/xembed.py).

A backend draws a `Look` and reports clicks; it holds no policy and never calls an action itself.
The adapter (tray/__init__.py) calls `show` only when the look changed, from any thread.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from tray_monitor.errors import ConfigError
from tray_monitor.tray.menu import Look, MenuEntry

APP_ID = "claude-tray"  # SNI Id, and pystray's name: X WM_CLASS "claude-traySystemTrayIcon"


class NoGraphicalSession(ConfigError):
    """No display or no tray backend: the tray cannot start, the terminal view still works."""


class TrayBackend(Protocol):
    name: str  # "sni", "xorg", "appindicator", "gtk", "darwin", "win32", "dummy"
    redraw_count: int  # icon images sent to the host (benchmark: unchanged views cost nothing)
    on_click: Callable[[MenuEntry], None]  # set by the adapter; called with the entry clicked
    on_menu_open: Callable[[], None]  # set by the adapter; the menu is about to show (where a host says so)

    @property
    def has_menu(self) -> bool:
        """False: a left click is all there is (pystray xorg)."""

    @property
    def notifier_icon(self) -> Any:
        """A pystray Icon that can also show notifications (Windows), else None."""

    def show(self, look: Look) -> None:
        """Put `look` on the panel (icon, tooltip, menu), touching only what changed."""

    def run(self, on_ready: Callable[[], None]) -> None:
        """Block (on the main thread) until `stop`; `on_ready` once, on another thread."""

    def stop(self) -> None:
        """Leave `run`; safe from any thread and more than once."""
