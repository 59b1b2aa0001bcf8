"""The tray icon: a thin adapter that shows a `View` through pystray.

It holds no policy. It draws `view.icon`, writes `view.tooltip` as the title, rebuilds the whole menu
from the view on every change (never patches single items), and forwards clicks to `TrayActions`.

Backend quirks handled here (pystray 0.19.5):
- importing pystray with no display raises `Xlib.error.DisplayNameError` (not ImportError), so pystray
  is imported lazily and any failure becomes `NoGraphicalSession`;
- `tray_monitor.icon` (PIL.ImageFont) is imported BEFORE pystray: with the gtk/appindicator backends,
  Gtk loaded first binds the system FreeType and `ImageDraw.text()` silently draws nothing;
- xorg: no menu, the icon window lacks ButtonPressMask (a left click never arrives), WM_NAME is
  latin-1 (a `·` in the title kills the update), alpha is dropped (draw opaque), the first dock
  request is sometimes lost and never retried, and a restarted tray host is never re-joined;
- darwin: the NSImage is never marked as a template (dark menu bars hide a black icon).
"""
from __future__ import annotations

import importlib
import logging
import os
import queue
import select
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tray_monitor.errors import ConfigError

log = logging.getLogger(__name__)

APP_ID = "claude-tray"  # pystray name: X WM_CLASS "claude-traySystemTrayIcon", SNI Id "claude-tray"
DEFAULT_ICON_SIZE = 64
#: The xorg dock guard reacts to X events (reparenting, resizing, a new tray host's MANAGER message);
#: this is only its safety net. Polling every 10 s cost more idle CPU than the 60 s poll itself.
DOCK_CHECK_INTERVAL = 300.0
FIRST_DOCK_TIMEOUT = 1.0  # seconds to wait for the tray host to embed us before asking again
FIRST_DOCK_ATTEMPTS = 5
#: A view re-reads the "Start at login" state at most this often (an entry removed by hand).
AUTOSTART_RECHECK_EVERY = 300.0
XORG_UNSTICK_EVERY = 0.25  # seconds a pystray call may wait before we flush X for it (_UnstickingLock)


class NoGraphicalSession(ConfigError):
    """No display or no tray backend: the tray cannot start, the terminal view still works."""


@dataclass(frozen=True)
class TrayActions:
    """What the menu and the icon click do. Every callback runs on the adapter's action thread,
    never on the tray's event thread, so it may take a lock or call `TrayAdapter.show`."""

    refresh: Callable[[], str]  # answers a sentence (poller.request_refresh), unused by the menu
    show_status: Callable[[], None]  # the default action (left click): show the full status
    open_usage_page: Callable[[], object]  # webbrowser.open's bool is not used
    quit: Callable[[], None]
    toggle_notifications: Callable[[bool], None]  # called with the NEW value
    send_test_notification: Callable[[], None]
    toggle_autostart: Callable[[bool], None]  # called with the NEW value
    autostart_enabled: Callable[[], bool]


@dataclass(frozen=True)
class MenuEntry:
    """One line of the tray menu as plain data, so menus compare by value."""

    text: str
    action: str | None = None  # a TrayActions field name, None for an information line
    checked: bool | None = None  # None = not a checkbox
    default: bool = False
    visible: bool = True

    @property
    def is_separator(self) -> bool:
        return self.text == "-"


SEPARATOR = MenuEntry("-")


def menu_entries(view: Any, autostart_on: bool) -> tuple[MenuEntry, ...]:
    """The whole menu for a view: information lines first, then commands."""
    info: list[MenuEntry] = []
    if view is not None:
        if view.plan:
            info.append(MenuEntry(f"Plan: {view.plan}"))
        info.extend(MenuEntry(row.menu_text) for row in view.windows)
        if view.extra_usage_text:
            info.append(MenuEntry(view.extra_usage_text))
        if view.message:
            info.append(MenuEntry(view.message))
        if view.updated_text:
            info.append(MenuEntry(view.updated_text))
    else:
        info.append(MenuEntry("Loading…"))
    notifications_on = True if view is None else bool(view.notifications_enabled)
    return (
        *info,
        SEPARATOR,
        MenuEntry("Refresh now", "refresh"),
        MenuEntry("Open usage page", "open_usage_page"),
        SEPARATOR,
        MenuEntry("Notifications", "toggle_notifications", checked=notifications_on),
        MenuEntry("Send test notification", "send_test_notification"),
        MenuEntry("Start at login", "toggle_autostart", checked=autostart_on),
        SEPARATOR,
        MenuEntry("Quit", "quit"),
        # Left click on xorg/gtk runs the default item; hidden so it is not a menu line too.
        MenuEntry("Show status", "show_status", default=True, visible=False),
    )


_LATIN1_REPLACEMENTS = {"·": "-", "…": "...", "–": "-", "—": "-", "’": "'", "“": '"', "”": '"'}


def latin1_safe(text: str) -> str:
    """pystray's xorg backend writes the title as WM_NAME, a latin-1 STRING: anything outside
    latin-1 raises inside its event thread and the icon stops updating."""
    out = []
    for ch in text:
        ch = _LATIN1_REPLACEMENTS.get(ch, ch)
        try:
            ch.encode("latin-1")
        except UnicodeEncodeError:
            ch = "?"
        out.append(ch)
    return "".join(out)


def backend_name(env) -> str | None:
    """The pystray backend the user forced with PYSTRAY_BACKEND, else None (pystray's own choice)."""
    return env.environ.get("PYSTRAY_BACKEND") or None


def load_backend(env):
    """The pystray backend module (has `Icon`), or NoGraphicalSession saying what to run instead."""
    forced = backend_name(env)
    if env.platform.startswith("linux") and forced != "dummy":
        if not (env.environ.get("DISPLAY") or env.environ.get("WAYLAND_DISPLAY")):
            raise NoGraphicalSession(
                "No graphical session (DISPLAY is not set), so there is no tray to show an icon in; "
                "run `claude-tray watch` to see your usage in this terminal."
            )
    # FreeType trap: PIL.ImageFont must be loaded before pystray may load Gtk.
    import tray_monitor.icon  # noqa: F401

    try:
        pystray = importlib.import_module("pystray")
        if forced:
            return importlib.import_module(f"pystray._{forced}")
        return importlib.import_module(pystray.Icon.__module__)
    except Exception as exc:  # DisplayNameError, Xlib ConnectionClosedError, ImportError, ValueError
        raise NoGraphicalSession(
            f"The system tray is not available ({type(exc).__name__}: {exc}); "
            "run `claude-tray watch` to see your usage in this terminal."
        ) from exc


class TrayAdapter:
    """Shows views in the system tray. `show` may be called from any thread; `run` blocks the
    main thread (macOS requires it) until `stop`."""

    def __init__(self, env, actions: TrayActions, *, backend=None, render=None, name: str = APP_ID):
        self._env = env
        self._actions = actions
        self._backend = backend if backend is not None else load_backend(env)
        if render is None:
            from tray_monitor.icon import render_icon as render
        self._render = render
        base = importlib.import_module("pystray._base")
        self._Menu, self._MenuItem = base.Menu, base.MenuItem

        module = getattr(self._backend, "__name__", "")
        self.backend = module.rsplit("._", 1)[-1]  # "xorg", "appindicator", "gtk", "darwin", ...
        self._is_xorg = self.backend == "xorg"
        self._template = self.backend == "darwin"  # menu-bar images are templates: only alpha counts

        # guards the caches below and every pystray call; on xorg it also un-sticks python-xlib
        self._state_lock = _UnstickingLock(self._flush_stranded_x_requests) if self._is_xorg else threading.Lock()
        self._view = None
        self._icon_key: tuple | None = None  # (spec, size) last rendered
        self._image_bytes: bytes | None = None
        self._title: str | None = None
        self._menu: tuple[MenuEntry, ...] | None = None
        self._autostart_query_failed = False
        self._autostart_checked_mono = 0.0
        self._autostart_on = self._query_autostart()
        self.slot_size: tuple[int, int] | None = None  # xorg: the tray's slot (w, h), learnt after docking
        self.redraw_count = 0  # icon image assignments (benchmark: unchanged views cost nothing)
        self.title_updates = 0
        self.menu_updates = 0

        self._stopping = threading.Event()
        self._action_queue: queue.Queue = queue.Queue()
        self._action_thread: threading.Thread | None = None
        self._dock_guard: threading.Thread | None = None
        self._guard_wake: tuple[int, int] | None = None  # pipe: stop() wakes the guard's select()

        loading = self._spec_loading()
        image = self._render_image(loading, self._icon_size())
        self._icon_key = (loading, self._icon_size(), self.slot_size)
        self._image_bytes = image.tobytes()
        self._menu = menu_entries(None, self._autostart_on)
        self._title = self._safe_title("Claude usage: loading…")
        try:
            self.icon = self._backend.Icon(name, image, self._title, menu=self._pystray_menu(self._menu))
        except Exception as exc:  # the X server went away between import and now, Gtk init, ...
            raise NoGraphicalSession(
                f"The system tray could not be created ({type(exc).__name__}: {exc}); "
                "run `claude-tray watch` to see your usage in this terminal."
            ) from exc
        if self._is_xorg:
            _enable_xorg_clicks(self.icon)
            _dock_only_when_undocked(self.icon)
            _quiet_lost_tray_errors()
        if self._template:
            _mark_darwin_images_as_template(self.icon)
        if hasattr(self.icon, "_finalize"):
            _tolerate_missing_notification_daemon(self.icon)

    # ------------------------------------------------------------------ public
    @property
    def has_menu(self) -> bool:
        return bool(getattr(self.icon, "HAS_MENU", False))

    def show(self, view) -> None:
        """Show a view; touches the icon, title and menu only where they changed. The "Start at
        login" check mark (the view does not carry it) is read again with a view at most every
        AUTOSTART_RECHECK_EVERY seconds, so a login entry removed by hand shows within minutes
        without reading two files at every countdown minute; `claude-tray autostart` tells the
        tray at once (`recheck_autostart`)."""
        autostart_on = None
        if self._env.clock.monotonic() - self._autostart_checked_mono >= AUTOSTART_RECHECK_EVERY:
            autostart_on = self._query_autostart()
        with self._state_lock:
            if self._stopping.is_set():
                return  # pystray's xorg loop is gone: an update would wait for it forever
            self._view = view
            if autostart_on is not None:
                self._autostart_on = autostart_on
            self._apply_locked(view)

    def recheck_autostart(self) -> str:
        """`claude-tray autostart enable|disable` changed the entry: redraw the check mark now."""
        autostart_on = self._query_autostart()
        with self._state_lock:
            if not self._stopping.is_set():
                self._autostart_on = autostart_on
                self._update_menu_locked()
        return "Start at login: " + ("on" if autostart_on else "off")

    @property
    def menu_shown(self) -> tuple[tuple[str, bool | None], ...]:
        """What the menu holds now, as (text, checked) for each visible entry: read back by tests
        and `claude-tray`'s control command `view`."""
        with self._state_lock:
            entries = self._menu or ()
        return tuple((e.text, e.checked) for e in entries if e.visible and not e.is_separator)

    def run(self, on_ready: Callable[[], None] | None = None) -> None:
        """Block in the tray's event loop (main thread). `on_ready` runs once the icon is visible,
        on pystray's setup thread."""
        if self._stopping.is_set():
            return  # stopped before the loop started (quit during start-up)
        self._start_action_thread()

        def setup(icon) -> None:
            with self._state_lock:
                icon.visible = True
                if self._is_xorg:
                    # xorg writes WM_NAME only at window creation and on a title change while
                    # visible: a view shown before `run` would leave "loading" as the tooltip
                    icon._update_title()
            if self._is_xorg:
                self._guard_wake = os.pipe()
                self._dock_guard = threading.Thread(
                    target=self._guard_docking, name="claude-tray-dockguard", daemon=True
                )
                self._dock_guard.start()
            if on_ready is not None:
                try:
                    on_ready()
                except Exception:
                    log.exception("the tray's on_ready callback failed")

        self.icon.run(setup)

    def stop(self) -> None:
        """Leave `run`; safe from any thread and more than once."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        self._action_queue.put(None)
        if self._guard_wake is not None:
            try:
                os.write(self._guard_wake[1], b"x")
                os.close(self._guard_wake[1])
            except OSError:
                pass
        with self._state_lock:  # let a running update finish before the event loop goes away
            try:
                self.icon.stop()
            except Exception:
                log.exception("stopping the tray icon failed")
            self._flush_stranded_x_requests()

    # ------------------------------------------------------------------ drawing
    def _spec_loading(self):
        from tray_monitor.model import IconSpec

        return IconSpec(state="loading")

    def _icon_size(self) -> int:
        return min(self.slot_size) if self.slot_size else DEFAULT_ICON_SIZE

    def _render_image(self, spec, size: int):
        image = self._render(spec, size=size, template=self._template, opaque=self._is_xorg)
        if self._is_xorg and self.slot_size and self.slot_size != image.size:
            image = fit_to_slot(image, *self.slot_size)
        return image

    def _safe_title(self, text: str) -> str:
        return latin1_safe(text) if self._is_xorg else text

    def _apply_locked(self, view) -> None:
        if view is not None:
            self._update_image_locked(view.icon)
            title = self._safe_title(view.tooltip)
            if title != self._title:
                self._title = title
                self.icon.title = title
                self.title_updates += 1
        self._update_menu_locked()
        self._flush_stranded_x_requests()

    def _flush_stranded_x_requests(self) -> None:
        """python-xlib (threaded) race: a request queued by pystray's event thread while another
        thread is finishing a flush is left unsent, and the event thread then waits in select()
        for ever (seen as `stop()` not ending the loop in about 1 of 4 runs: the DestroyWindow
        never left). Flushing again from our side, once no pystray call is in flight, sends it."""
        if not self._is_xorg:
            return
        try:
            self.icon._display.flush()
        except Exception:
            log.debug("flushing the X connection failed", exc_info=True)

    def _update_image_locked(self, spec, force: bool = False) -> None:
        key = (spec, self._icon_size(), self.slot_size)
        if key == self._icon_key and not force:
            return
        image = self._render_image(spec, key[1])
        data = image.tobytes()
        self._icon_key = key
        if data == self._image_bytes and not force:
            return  # a different spec can draw the same pixels (78.2 % vs 78.4 %)
        self._image_bytes = data
        self.icon.icon = image
        self.redraw_count += 1

    def _update_menu_locked(self) -> None:
        entries = menu_entries(self._view, self._autostart_on)
        if entries == self._menu:
            return
        self._menu = entries
        if self._is_xorg:
            # xorg shows no menu: a click runs the hidden default item, whose action never changes,
            # so the first Menu stays. A new one would still cost a round trip through pystray's X
            # event thread at every countdown minute (idle CPU, docs/benchmarks.md).
            return
        menu = self._pystray_menu(entries)
        try:
            self.icon.menu = menu
        except NotImplementedError:
            # the dummy backend implements no menu; keep it so a default click still works
            self.icon._menu = menu
        self.menu_updates += 1

    def _pystray_menu(self, entries: tuple[MenuEntry, ...]):
        items = []
        for entry in entries:
            if entry.is_separator:
                items.append(self._Menu.SEPARATOR)
                continue
            action = self._menu_callback(entry) if entry.action else None
            checked = (lambda _item, value=entry.checked: value) if entry.checked is not None else None
            items.append(
                self._MenuItem(
                    entry.text,
                    action,
                    checked=checked,
                    default=entry.default,
                    visible=entry.visible,
                    enabled=entry.action is not None,
                )
            )
        return self._Menu(*items)

    def _menu_callback(self, entry: MenuEntry):
        name = entry.action
        assert name is not None  # _pystray_menu asks only for entries with an action
        if entry.checked is not None:
            new_value = not entry.checked
            return lambda _icon, _item: self._enqueue(name, new_value)
        if name == "show_status":
            # the default action: fetch now and show the whole status as a notification
            def refresh_then_show(_icon, _item) -> None:
                self._enqueue("refresh")
                self._enqueue("show_status")

            return refresh_then_show
        return lambda _icon, _item: self._enqueue(name)

    # ------------------------------------------------------------------ actions
    def _enqueue(self, name: str, *args) -> None:
        """Menu callbacks run on the tray's event thread; actions may call `show`, which on xorg
        waits for that same thread. So actions run on their own thread, in click order."""
        if self._action_thread is None:
            self._run_action(name, args)  # not running yet (tests, or before `run`)
        else:
            self._action_queue.put((name, args))

    def _start_action_thread(self) -> None:
        if self._action_thread is None:
            self._action_thread = threading.Thread(
                target=self._action_loop, name="claude-tray-actions", daemon=True
            )
            self._action_thread.start()

    def _action_loop(self) -> None:
        while True:
            job = self._action_queue.get()
            if job is None:
                return
            self._run_action(*job)

    def _run_action(self, name: str, args: tuple) -> None:
        try:
            getattr(self._actions, name)(*args)
        except Exception:
            log.exception("tray action %s failed", name)
        if name == "toggle_autostart":
            self.recheck_autostart()  # the view does not carry autostart: ask again, redraw the check mark

    def _query_autostart(self) -> bool:
        self._autostart_checked_mono = self._env.clock.monotonic()
        try:
            return bool(self._actions.autostart_enabled())
        except Exception:
            if not self._autostart_query_failed:  # asked with every view: say it once
                self._autostart_query_failed = True
                log.exception("could not read the autostart state")
            return False

    # ------------------------------------------------------------------ xorg dock guard
    def _guard_docking(self) -> None:
        """xorg only: make sure the icon is and stays docked, from our own X connection so the
        tray's event thread is never blocked. First quickly (a lost first request), then whenever
        X reports a change: our window reparented or resized, or a new tray host announcing itself
        (MANAGER on the root window: the host restarted, or started after us). Idle, it sleeps in
        select() without waking; DOCK_CHECK_INTERVAL is a safety net."""
        assert self._guard_wake is not None  # setup() makes the pipe before starting this thread
        try:
            from Xlib import display as xdisplay

            connection = xdisplay.Display(self._env.environ.get("DISPLAY"))
        except Exception:
            log.exception("dock guard: cannot open a second X connection; guard disabled")
            return
        try:
            checker = XembedDockChecker(connection, self.icon._window.id)
            for attempt in range(FIRST_DOCK_ATTEMPTS):
                if self._stopping.wait(0) or checker.wait_docked(FIRST_DOCK_TIMEOUT, self._stopping):
                    break
                log.info("tray icon not docked after %.1fs, asking again (%d)", FIRST_DOCK_TIMEOUT, attempt + 1)
                self._redock()
            checker.watch()
            while not self._stopping.is_set():
                self._check_dock_once(checker)
                checker.wait_for_change(DOCK_CHECK_INTERVAL, self._guard_wake[0])
        except Exception:
            if not self._stopping.is_set():
                log.exception("dock guard stopped")
        finally:
            connection.close()
            os.close(self._guard_wake[0])

    def _check_dock_once(self, checker: XembedDockChecker) -> None:
        if not checker.is_docked():
            if checker.tray_owner_exists():
                log.info("tray icon not docked but a tray host exists, asking again")
                self._redock()
            return
        size = checker.slot_size()
        if size and size != self.slot_size:
            with self._state_lock:
                self.slot_size = size  # draw at the slot size: no blurry rescale by the backend
                if self._view is not None:
                    self._update_image_locked(self._view.icon)
                    self._flush_stranded_x_requests()

    def _redock(self) -> None:
        # re-assigning the image makes pystray send a new SYSTEM_TRAY_REQUEST_DOCK
        with self._state_lock:
            if self._stopping.is_set():
                return
            self.icon.icon = self.icon.icon
            self.redraw_count += 1
            self._flush_stranded_x_requests()


class XembedDockChecker:
    """Facts about our xorg icon window, read over a separate X connection."""

    def __init__(self, connection, window_id: int):
        self._x = connection
        self._window = connection.create_resource_object("window", window_id)
        self._root = connection.screen().root
        self._tray_atom = connection.intern_atom(f"_NET_SYSTEM_TRAY_S{connection.get_default_screen()}")

    def is_docked(self) -> bool:
        """Docked = reparented away from the root window and mapped by the host."""
        from Xlib import X

        if self._window.query_tree().parent.id == self._root.id:
            return False
        return self._window.get_attributes().map_state == X.IsViewable

    def wait_docked(self, timeout: float, stopping: threading.Event) -> bool:
        for _ in range(max(1, int(timeout / 0.05))):
            if self.is_docked():
                return True
            if stopping.wait(0.05):
                return False
        return self.is_docked()

    def watch(self) -> None:
        """Ask X for the events that can change our docking: StructureNotify on our window
        (ReparentNotify, ConfigureNotify, Map/Unmap) and on the root window, where a new tray host
        sends its MANAGER client message (System Tray Protocol)."""
        from Xlib import X

        self._window.change_attributes(event_mask=X.StructureNotifyMask)
        self._root.change_attributes(event_mask=X.StructureNotifyMask)
        self._x.flush()

    def wait_for_change(self, timeout: float, wake_fd: int) -> None:
        """Block until an event arrives (then consume all of them), `wake_fd` is readable, or
        `timeout` passes. python-xlib may already hold events read during a reply: check first."""
        if self._x.pending_events() == 0:
            select.select([self._x.fileno(), wake_fd], [], [], timeout)
        while self._x.pending_events():
            self._x.next_event()

    def tray_owner_exists(self) -> bool:
        from Xlib import X

        return self._x.get_selection_owner(self._tray_atom) != X.NONE

    def slot_size(self) -> tuple[int, int] | None:
        geometry = self._window.get_geometry()
        return (geometry.width, geometry.height) if min(geometry.width, geometry.height) >= 8 else None


def fit_to_slot(image, width: int, height: int):
    """A square icon centred in a non-square xorg slot (trayer gives 24 x 64), the rest filled
    with the plate's colour: pystray would otherwise stretch it and the digits with it."""
    from PIL import Image

    canvas = Image.new(image.mode, (width, height), image.getpixel((0, 0)))
    canvas.paste(image, ((width - image.width) // 2, (height - image.height) // 2))
    return canvas


class _UnstickingLock:
    """The adapter's state lock on xorg: while it is held, a helper thread flushes the icon's X
    connection every XORG_UNSTICK_EVERY seconds.

    Why: pystray's xorg backend runs each icon, title and stop request on its event thread; the
    calling thread sends a ClientMessage, flushes and waits for it. python-xlib (threaded) loses a
    wake-up there: when that flush leaves `send_and_recv` by its "data to read, but another thread
    receives" exit, it does not wake the event thread, which meanwhile queued a request of its own
    (get_geometry, redrawing on Expose) and waits for the sender to finish. Both then wait for
    ever: the tray hung at start or on Quit in about 1 of 10 starts under trayer. Any later flush
    from a third thread reads the pending reply and wakes the event thread. Idle (lock free), the
    helper sleeps on an Event: no wake-ups."""

    def __init__(self, flush: Callable[[], None], every: float | None = None):
        self._lock = threading.Lock()
        self._flush = flush
        self._every = XORG_UNSTICK_EVERY if every is None else every
        self._held = threading.Event()
        self._released = threading.Event()
        self._helper: threading.Thread | None = None

    def __enter__(self) -> _UnstickingLock:
        self._lock.acquire()
        self._released.clear()
        self._held.set()
        if self._helper is None:
            self._helper = threading.Thread(target=self._unstick, name="claude-tray-xflush", daemon=True)
            self._helper.start()
        return self

    def __exit__(self, *exc) -> None:
        self._held.clear()
        self._released.set()
        self._lock.release()

    def _unstick(self) -> None:
        while True:
            self._held.wait()
            if not self._released.wait(self._every):
                self._flush()  # never raises: _flush_stranded_x_requests logs at debug


def _dock_only_when_undocked(icon) -> None:
    """pystray's xorg backend sends SYSTEM_TRAY_REQUEST_DOCK again on every image update, even when
    embedded: the host then re-embeds the icon (a visible flicker per update, and under trayer it
    once left the icon 1 x 1 px). Ask only when the window is not embedded (first start, lost
    request, host restarted). Runs on pystray's event thread, so it may use its connection."""
    original = icon._dock_window

    def dock_window() -> None:
        try:
            embedded = icon._window.query_tree().parent.id != icon._display.screen().root.id
        except Exception:  # the window is being destroyed: let pystray decide
            embedded = False
        if icon._systray_manager is not None and embedded:
            return
        original()

    icon._dock_window = dock_window


class _LostTrayFilter(logging.Filter):
    """pystray's xorg backend logs "Failed to dock icon" with a traceback whenever no tray host
    exists (the panel restarts, or starts after us). That is expected and the dock guard handles
    it: keep one line at INFO instead of an error traceback in the user's log."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.getMessage() == "Failed to dock icon":
            record.levelno, record.levelname = logging.INFO, "INFO"
            record.exc_info, record.exc_text = None, None
            record.msg, record.args = "no system tray host yet; the icon docks when one appears", ()
        return True


def _quiet_lost_tray_errors() -> None:
    pystray_log = logging.getLogger("pystray._base")
    if not any(isinstance(f, _LostTrayFilter) for f in pystray_log.filters):
        pystray_log.addFilter(_LostTrayFilter())


def _enable_xorg_clicks(icon) -> None:
    """pystray 0.19.5 creates its xorg window without ButtonPressMask, so its click handler never
    runs (pystray issue #151). Add the mask so a left click reaches the default action."""
    from Xlib import X

    icon._window.change_attributes(event_mask=X.ExposureMask | X.StructureNotifyMask | X.ButtonPressMask)
    icon._display.flush()


def _tolerate_missing_notification_daemon(icon) -> None:
    """pystray's gtk/appindicator backends close their (never used) notification on the way out
    with a synchronous D-Bus call; with no notification daemon it raises GLib.GError out of
    `icon.run()`, so Quit ended in a traceback and exit code 1. Nothing is left to clean up then."""
    original = icon._finalize

    def finalize() -> None:
        try:
            original()
        except Exception as exc:
            log.info("tray clean-up on exit failed (%s); nothing left to close", exc)

    icon._finalize = finalize


def _mark_darwin_images_as_template(icon) -> None:
    """pystray 0.19.5's darwin backend builds a plain NSImage (template support is only proposed in
    pystray PR #176), so a black icon vanishes on a dark menu bar. Mark each new image a template."""
    original = icon._assert_image

    def assert_image_as_template() -> None:
        original()
        image = getattr(icon, "_icon_image", None)
        if image is not None and not image.isTemplate():
            image.setTemplate_(True)
            icon._status_item.button().setImage_(image)

    icon._assert_image = assert_image_as_template
