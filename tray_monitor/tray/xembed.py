"""pystray as a tray backend: XEmbed on Linux (where a tray speaks nothing else), and macOS / Windows.

pystray 0.19.5 (its last release, 2023) needs these fixes here; each names its upstream report, if
any, and the test that proves it (tests/test_tray.py unless said otherwise):
- import: with no display, importing pystray raises Xlib's DisplayNameError, not ImportError, so it
  is imported lazily and any failure becomes NoGraphicalSession
  (test_a_backend_that_fails_to_import_becomes_no_graphical_session, ..._does_not_import_pystray);
  and importing it with PYSTRAY_BACKEND unset tries Gtk first, which prints Gdk-CRITICAL with no
  display: the chosen backend is named before the import (test_loading_xorg_never_imports_gi).
- FreeType: `tray_monitor.icon` (PIL.ImageFont) is imported BEFORE pystray: Gtk loaded first binds
  the system FreeType and ImageDraw.text() draws nothing (test_icon_module_is_imported_before_pystray).
- xorg, no ButtonPressMask on the icon window, so a left click never arrives (pystray #151;
  test_xorg_window_gets_button_press_so_left_clicks_arrive, desktop: test_xorg_left_click_runs_refresh_and_show_status).
- xorg, WM_NAME is a latin-1 STRING: a `·` in the title raises in pystray's event thread and the
  icon stops updating (no upstream issue; test_xorg_title_is_latin1_safe, desktop:
  test_xorg_title_with_non_latin1_characters_is_set_and_the_icon_keeps_updating).
- xorg, alpha is dropped (black corners): draw opaque (test_xorg_icon_is_drawn_opaque_and_other_backends_keep_alpha).
- xorg, a dock request on every image update makes the host re-embed (flicker, once 1 x 1 px):
  dock only when undocked (no upstream issue; test_xorg_asks_to_dock_only_while_not_embedded).
- xorg, the first dock request is sometimes lost and never retried, and a restarted tray host is
  never re-joined (pystray #186): the dock guard (desktop:
  test_xorg_icon_docks_again_after_the_tray_host_restarts).
- xorg, "Failed to dock icon" tracebacks while no host exists become one INFO line
  (test_pystray_lost_tray_error_becomes_one_info_line).
- xorg, a python-xlib lost wake-up hangs update or stop in about 1 of 10 starts: _UnstickingLock
  (test_xorg_update_stuck_on_a_lost_x_wakeup_is_freed_by_a_flush_from_another_thread).
- xorg, a non-square slot (trayer: 24 x 64) stretches the icon: fit_to_slot
  (desktop: test_xorg_icon_docks_and_shows_the_percent_then_the_next_one).
- gtk/appindicator, closing the unused notification with no notification daemon raises out of
  run() (no upstream issue; test_run_ends_cleanly_when_the_gtk_clean_up_finds_no_notification_daemon).
- darwin, the NSImage is never a template: a black icon vanishes on a dark menu bar (pystray PR
  #176, unreleased; test_darwin_images_are_marked_as_templates_each_time_pystray_builds_one).
"""
from __future__ import annotations

import importlib
import logging
import os
import select
import sys
import threading
from collections.abc import Callable

from tray_monitor.tray.backend import APP_ID, NoGraphicalSession
from tray_monitor.tray.menu import Look, MenuEntry

log = logging.getLogger(__name__)

DEFAULT_ICON_SIZE = 64
#: The xorg dock guard reacts to X events (reparenting, resizing, a new tray host's MANAGER message);
#: this is only its safety net. Polling every 10 s cost more idle CPU than the 60 s poll itself.
DOCK_CHECK_INTERVAL = 300.0
FIRST_DOCK_TIMEOUT = 1.0  # seconds to wait for the tray host to embed us before asking again
FIRST_DOCK_ATTEMPTS = 5
XORG_UNSTICK_EVERY = 0.25  # seconds a pystray call may wait before we flush X for it (_UnstickingLock)

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


def load_backend(env, name: str | None = None):
    """The pystray backend module (has `Icon`): `name` ("xorg", "gtk", ...), else PYSTRAY_BACKEND,
    else pystray's own choice; or NoGraphicalSession saying what to run instead."""
    forced = name or env.environ.get("PYSTRAY_BACKEND") or None
    if env.platform.startswith("linux") and forced != "dummy":
        if not (env.environ.get("DISPLAY") or env.environ.get("WAYLAND_DISPLAY")):
            raise NoGraphicalSession(
                "No graphical session (DISPLAY is not set), so there is no tray to show an icon in; "
                "run `claude-tray watch` to see your usage in this terminal."
            )
    # FreeType trap: PIL.ImageFont must be loaded before pystray may load Gtk.
    import tray_monitor.icon  # noqa: F401

    try:
        if forced and "pystray" not in sys.modules:
            # pystray picks a backend while it is imported, trying Gtk first unless PYSTRAY_BACKEND
            # names one: Gtk with no display prints "Gdk-CRITICAL" on stderr even when xorg is wanted.
            os.environ["PYSTRAY_BACKEND"] = forced
        pystray = importlib.import_module("pystray")
        if forced:
            return importlib.import_module(f"pystray._{forced}")
        return importlib.import_module(pystray.Icon.__module__)
    except Exception as exc:  # DisplayNameError, Xlib ConnectionClosedError, ImportError, ValueError
        raise NoGraphicalSession(
            f"The system tray is not available ({type(exc).__name__}: {exc}); "
            "run `claude-tray watch` to see your usage in this terminal."
        ) from exc


class PystrayBackend:
    """A `TrayBackend` over one pystray Icon. `show` may be called from any thread; `run` blocks
    the main thread (macOS requires it) until `stop`."""

    def __init__(self, env, module, *, render=None, name: str = APP_ID):
        self._env = env
        if render is None:
            from tray_monitor.icon import render_icon as render
        self._render = render
        base = importlib.import_module("pystray._base")
        self._Menu, self._MenuItem = base.Menu, base.MenuItem
        self.on_click: Callable[[MenuEntry], None] = lambda entry: None
        self.on_menu_open: Callable[[], None] = lambda: None  # pystray does not say when its menu opens

        self.name = getattr(module, "__name__", "").rsplit("._", 1)[-1]  # "xorg", "appindicator", ...
        self._is_xorg = self.name == "xorg"
        self._template = self.name == "darwin"  # menu-bar images are templates: only alpha counts

        # guards the caches below and every pystray call; on xorg it also un-sticks python-xlib
        self._state_lock = _UnstickingLock(self._flush_stranded_x_requests) if self._is_xorg else threading.Lock()
        self._spec = None
        self._icon_key: tuple | None = None  # (spec, size, slot) last rendered
        self._image_bytes: bytes | None = None
        self._title: str | None = None
        self._menu: tuple[MenuEntry, ...] | None = None
        self.slot_size: tuple[int, int] | None = None  # xorg: the tray's slot (w, h), learnt after docking
        self.redraw_count = 0  # icon image assignments (benchmark: unchanged views cost nothing)
        self.title_updates = 0
        self.menu_updates = 0

        self._lost_tray: _LostTrayFilter | None = None
        self._stopping = threading.Event()
        self._dock_guard: threading.Thread | None = None
        self._guard_wake: tuple[int, int] | None = None  # pipe: stop() wakes the guard's select()

        from tray_monitor.tray.menu import look_of

        loading = look_of(None, False)
        image = self._render_image(loading.icon, self._icon_size())
        self._spec = loading.icon
        self._icon_key = (loading.icon, self._icon_size(), self.slot_size)
        self._image_bytes = image.tobytes()
        self._menu = loading.menu
        self._title = self._safe_title(loading.tooltip)
        try:
            self.icon = module.Icon(name, image, self._title, menu=self._pystray_menu(self._menu))
        except Exception as exc:  # the X server went away between import and now, Gtk init, ...
            raise NoGraphicalSession(
                f"The system tray could not be created ({type(exc).__name__}: {exc}); "
                "run `claude-tray watch` to see your usage in this terminal."
            ) from exc
        if self._is_xorg:
            _enable_xorg_clicks(self.icon)
            _dock_only_when_undocked(self.icon)
            self._lost_tray = _quiet_lost_tray_errors()
        if self._template:
            _mark_darwin_images_as_template(self.icon)
        if hasattr(self.icon, "_finalize"):
            _tolerate_missing_notification_daemon(self.icon)

    @property
    def has_menu(self) -> bool:
        return bool(getattr(self.icon, "HAS_MENU", False))

    @property
    def notifier_icon(self):
        return self.icon

    def show(self, look: Look) -> None:
        with self._state_lock:
            if self._stopping.is_set():
                return  # pystray's xorg loop is gone: an update would wait for it forever
            self._spec = look.icon
            self._update_image_locked(look.icon)
            title = self._safe_title(look.tooltip)
            if title != self._title:
                self._title = title
                self.icon.title = title
                self.title_updates += 1
            self._update_menu_locked(look.menu)
            self._flush_stranded_x_requests()

    def run(self, on_ready: Callable[[], None]) -> None:
        """Block in pystray's event loop. `on_ready` runs once the icon is visible, on pystray's
        setup thread."""
        if self._stopping.is_set():
            return  # stopped before the loop started (quit during start-up)

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
        if self._stopping.is_set():
            return
        self._stopping.set()
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
    def _icon_size(self) -> int:
        return min(self.slot_size) if self.slot_size else DEFAULT_ICON_SIZE

    def _render_image(self, spec, size: int):
        image = self._render(spec, size=size, template=self._template, opaque=self._is_xorg)
        if self._is_xorg and self.slot_size and self.slot_size != image.size:
            image = fit_to_slot(image, *self.slot_size)
        return image

    def _safe_title(self, text: str) -> str:
        return latin1_safe(text) if self._is_xorg else text

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

    def _update_menu_locked(self, entries: tuple[MenuEntry, ...]) -> None:
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
        # pystray counts the callback's parameters (icon, item): no defaulted extra one allowed
        return lambda _icon, _item: self.on_click(entry)

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
        if self._lost_tray is not None:
            self._lost_tray.said = False  # docked: the next time without a host is said again
        size = checker.slot_size()
        if size and size != self.slot_size:
            with self._state_lock:
                self.slot_size = size  # draw at the slot size: no blurry rescale by the backend
                if self._spec is not None:
                    self._update_image_locked(self._spec)
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
    exists (the panel restarts, or starts after us), and again at every redraw meanwhile. That is
    expected and the dock guard handles it: one INFO line per time without a host, not an error
    traceback per redraw (test_pystray_lost_tray_error_becomes_one_info_line)."""

    def __init__(self) -> None:
        super().__init__()
        self.said = False  # the dock guard clears it when the icon is docked again

    def filter(self, record: logging.LogRecord) -> bool:
        if record.getMessage() != "Failed to dock icon":
            return True
        if self.said:
            return False
        self.said = True
        record.levelno, record.levelname = logging.INFO, "INFO"
        record.exc_info, record.exc_text = None, None
        record.msg, record.args = "no system tray host yet; the icon docks when one appears", ()
        return True


def _quiet_lost_tray_errors() -> _LostTrayFilter:
    pystray_log = logging.getLogger("pystray._base")
    for existing in pystray_log.filters:
        if isinstance(existing, _LostTrayFilter):
            existing.said = False  # a new icon: its first time without a host is said
            return existing
    added = _LostTrayFilter()
    pystray_log.addFilter(added)
    return added


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
