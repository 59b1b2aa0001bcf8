"""What the tray shows for a view, as plain values every backend reads: the menu entries, the
actions they call, and the `Look` (icon spec, tooltip, menu) handed to a backend. Pure: no pystray,
no D-Bus, no threads."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, cached_property
from typing import Any

from tray_monitor.model import IconSpec


@dataclass(frozen=True)
class TrayActions:
    """What the menu and the icon click do. Every callback runs on the adapter's action thread,
    never on the tray's event thread, so it may take a lock or call `TrayAdapter.show`."""

    refresh: Callable[[], Any]  # the menu does not use what it answers
    show_status: Callable[[], None]  # the default action (left click): show the full status
    open_usage_page: Callable[[], object]  # webbrowser.open's bool is not used
    quit: Callable[[], None]
    toggle_notifications: Callable[[bool], None]  # called with the NEW value
    send_test_notification: Callable[[], None]
    toggle_autostart: Callable[[bool], None]  # called with the NEW value
    autostart_enabled: Callable[[], bool]
    menu_opened: Callable[[], None] = lambda: None  # the menu is about to show: a person is there
    open_history: Callable[[], object] | None = None  # "Usage history…": draw the chart, open it


@dataclass(frozen=True)
class MenuEntry:
    """One line of the tray menu as plain data, so menus compare by value."""

    text: str
    action: str | None = None  # a TrayActions field name, None for an information line
    checked: bool | None = None  # None = not a checkbox
    default: bool = False
    visible: bool = True
    tooltip_text: str | None = None  # an information line as a tooltip shows it, None = `text`, "" = not there

    @property
    def is_separator(self) -> bool:
        return self.text == "-"

    @property
    def is_info(self) -> bool:
        return self.action is None and not self.is_separator


SEPARATOR = MenuEntry("-")


def menu_entries(view: Any, autostart_on: bool) -> tuple[MenuEntry, ...]:
    """The whole menu for a view: information lines first, then commands."""
    info: list[MenuEntry] = []
    sections = getattr(view, "sections", ())
    if sections:  # several logins: a header line (label · plan), then that login's own lines
        for index, (header, section) in enumerate(sections):
            if index:
                info.append(SEPARATOR)
            info.append(MenuEntry(header))
            info.extend(_info_lines(section, plan=False))
    elif view is not None:
        info.extend(_info_lines(view, plan=True))
    else:
        info.append(MenuEntry("Loading…"))
    notifications_on = True if view is None else bool(view.notifications_enabled)
    return (*info, *_commands(notifications_on, bool(autostart_on)))


@cache  # four menus' worth: the commands are the same at every countdown minute
def _commands(notifications_on: bool, autostart_on: bool) -> tuple[MenuEntry, ...]:
    return (
        SEPARATOR,
        MenuEntry("Refresh now", "refresh"),
        MenuEntry("Open usage page", "open_usage_page"),
        MenuEntry("Usage history…", "open_history"),
        SEPARATOR,
        MenuEntry("Notifications", "toggle_notifications", checked=notifications_on),
        MenuEntry("Send test notification", "send_test_notification"),
        MenuEntry("Start at login", "toggle_autostart", checked=autostart_on),
        SEPARATOR,
        MenuEntry("Quit", "quit"),
        # Left click runs the default item (SNI: Activate; xorg/gtk: pystray's default); hidden so
        # it is not a menu line too.
        MenuEntry("Show status", "show_status", default=True, visible=False),
    )


def _info_lines(view: Any, plan: bool) -> list[MenuEntry]:
    """One login's information lines: its plan (unless a section header names it), windows, notes,
    extra usage, what to do, when updated."""
    lines: list[MenuEntry] = []
    if plan and view.plan:
        lines.append(MenuEntry(f"Plan: {view.plan}"))
    forecast_line = getattr(view, "forecast_line", None)
    if forecast_line:  # where it is heading: the limit that runs out first
        lines.append(MenuEntry(forecast_line))
    for row in view.windows:
        lines.append(MenuEntry(row.menu_text, tooltip_text=getattr(row, "clock_text", "") or None))
        if getattr(row, "forecast_text", ""):
            lines.append(MenuEntry(f"      {row.forecast_text}"))
    lines.extend(MenuEntry(note) for note in getattr(view, "notes", ()))  # skipped count, server notices
    if view.extra_usage_text:
        lines.append(MenuEntry(view.extra_usage_text))
    if view.message:
        lines.append(MenuEntry(view.message))
    if view.updated_text:
        # In the menu, not in the tooltip's body (tooltip_text ""): "Updated 14:02" changes with
        # every poll, and each change of the body has the host read the tooltip again over D-Bus
        # (issue 12's idle CPU). A stale reading is said by the icon and the tooltip's own line.
        lines.append(MenuEntry(view.updated_text, tooltip_text=""))
    return lines


def default_entry(entries: tuple[MenuEntry, ...]) -> MenuEntry | None:
    return next((e for e in entries if e.default), None)


@dataclass(frozen=True)
class Look:
    """Everything a backend puts on the panel for one view. Backends get only this."""

    icon: IconSpec
    tooltip: str
    menu: tuple[MenuEntry, ...]

    @cached_property  # compared at every show and read by each host's Get ToolTip: worked out once
    def info_lines(self) -> tuple[str, ...]:
        """The menu's information lines as a tooltip's body shows them: resets as clock times
        ("resets at 14:00"), so the body changes with a reading, not with every minute's countdown;
        without the lines that are the menu's alone ("Updated 14:02")."""
        return tuple(e.text if e.tooltip_text is None else e.tooltip_text
                     for e in self.menu if e.is_info and e.visible and e.tooltip_text != "")


LOADING_LOOK_TOOLTIP = "Claude usage: loading…"


def look_of(view: Any, autostart_on: bool) -> Look:
    """The look for a view (None before the first one: "loading")."""
    if view is None:
        return Look(IconSpec(state="loading"), LOADING_LOOK_TOOLTIP, menu_entries(None, autostart_on))
    return Look(view.icon, view.tooltip, menu_entries(view, autostart_on))
