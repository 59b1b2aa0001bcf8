"""The tray: how a view reaches a panel.

    monitor.view() ──> TrayAdapter.show(view)                 this file: knows no backend
                         look_of(view) = Look(icon spec, tooltip, menu entries)    (tray/menu.py)
                         unchanged look? stop here
                         backend.show(look)                    (tray/backend.py: the interface)
                           ├─ SniBackend      StatusNotifierItem + dbusmenu over jeepney (tray/sni.py)
                           └─ PystrayBackend  XEmbed on Linux, macOS, Windows        (tray/xembed.py)
    a click on the panel ──> backend.on_click(entry) ──> the action thread ──> TrayActions

Which backend: tray/choice.py (`choose_backend`, shared with `claude-tray doctor`).
"""
from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

from tray_monitor.tray.backend import APP_ID, NoGraphicalSession, TrayBackend
from tray_monitor.tray.choice import NO_TRAY_SENTENCE, BackendChoice, choose_backend, find_hosts
from tray_monitor.tray.menu import SEPARATOR, Look, MenuEntry, TrayActions, look_of, menu_entries

__all__ = ["APP_ID", "SEPARATOR", "BackendChoice", "Look", "MenuEntry", "NoGraphicalSession", "TrayActions",
           "TrayAdapter", "TrayBackend", "choose_backend", "menu_entries", "open_backend"]

log = logging.getLogger(__name__)

#: A view re-reads the "Start at login" state at most this often (an entry removed by hand).
AUTOSTART_RECHECK_EVERY = 300.0
HOST_POLL_EVERY = 1.0  # seconds between looks for a tray host while none is running
NO_HOST_AFTER = 5.0  # seconds without any tray host before saying so once


def open_backend(env, choice: BackendChoice, render=None, say: Callable[[str], None] | None = None) -> TrayBackend:
    """The backend `choice` names (kind "sni" or "pystray")."""
    if choice.kind == "sni":
        from tray_monitor.tray.sni import SniBackend

        return SniBackend(env, render, say=say)
    from tray_monitor.tray.xembed import PystrayBackend, load_backend

    return PystrayBackend(env, load_backend(env, choice.pystray_backend), render=render)


class TrayAdapter:
    """Shows views in the system tray. `show` may be called from any thread; `run` blocks the
    main thread until `stop`. Without a `backend` it picks one (`choose_backend`); with no tray
    host running yet it waits in `run` for the first to appear."""

    def __init__(self, env, actions: TrayActions, *, backend: TrayBackend | None = None,
                 say: Callable[[str], None] | None = None):
        self._env = env
        self._actions = actions
        self._say = say or (lambda text: log.info("%s", text))  # the app also prints it
        self.choice: BackendChoice | None = None
        if backend is None:
            self.choice = choose_backend(env.environ, env.platform, lambda: find_hosts(env.environ))
            if self.choice.kind == "none":
                raise NoGraphicalSession(self.choice.reason)
            self._say(f"tray: {self.choice.reason}")
            if self.choice.kind != "wait":
                backend = open_backend(env, self.choice, say=self._say)
        self._lock = threading.Lock()  # guards the look and the backend slot
        self._backend: TrayBackend | None = None
        self._view = None
        self._look: Look | None = None
        self._autostart_query_failed = False
        self._autostart_checked_mono = 0.0
        self._autostart_on = self._query_autostart()

        self._stopping = threading.Event()
        self._action_queue: queue.Queue = queue.Queue()
        self._action_thread: threading.Thread | None = None
        if backend is not None:
            self._attach(backend)

    # ------------------------------------------------------------------ public
    @property
    def backend(self) -> str:
        """The backend's name ("sni", "xorg", "appindicator", ...), "waiting" before a host appears."""
        return self._backend.name if self._backend is not None else "waiting"

    @property
    def tray_backend(self) -> TrayBackend | None:
        return self._backend

    @property
    def has_menu(self) -> bool:
        return bool(self._backend is not None and self._backend.has_menu)

    @property
    def notifier_icon(self):
        """A pystray Icon that can show notifications itself (Windows), else None."""
        return getattr(self._backend, "notifier_icon", None)

    @property
    def redraw_count(self) -> int:
        return self._backend.redraw_count if self._backend is not None else 0

    def show(self, view) -> None:
        """Show a view; the backend hears of it only when the look changed. The "Start at login"
        check mark (the view does not carry it) is read again with a view at most every
        AUTOSTART_RECHECK_EVERY seconds, so a login entry removed by hand shows within minutes
        without reading two files at every countdown minute; `claude-tray autostart` tells the
        tray at once (`recheck_autostart`)."""
        autostart_on = None
        if self._env.clock.monotonic() - self._autostart_checked_mono >= AUTOSTART_RECHECK_EVERY:
            autostart_on = self._query_autostart()
        with self._lock:
            if self._stopping.is_set():
                return
            self._view = view
            if autostart_on is not None:
                self._autostart_on = autostart_on
            self._publish_locked()

    def recheck_autostart(self) -> str:
        """`claude-tray autostart enable|disable` changed the entry: redraw the check mark now."""
        autostart_on = self._query_autostart()
        with self._lock:
            if not self._stopping.is_set():
                self._autostart_on = autostart_on
                self._publish_locked()
        return "Start at login: " + ("on" if autostart_on else "off")

    @property
    def menu_shown(self) -> tuple[tuple[str, bool | None], ...]:
        """What the menu holds now, as (text, checked) for each visible entry: read back by tests
        and `claude-tray`'s control command `view`."""
        with self._lock:
            entries = self._look.menu if self._look else menu_entries(None, self._autostart_on)
        return tuple((e.text, e.checked) for e in entries if e.visible and not e.is_separator)

    def run(self, on_ready: Callable[[], None] | None = None) -> None:
        """Block in the backend's event loop (main thread). `on_ready` runs once, on another
        thread: when the backend is up, or at once while waiting for a tray host."""
        if self._stopping.is_set():
            return  # stopped before the loop started (quit during start-up)
        ready = _once(on_ready)
        self._start_action_thread()
        if self._backend is None:
            threading.Thread(target=ready, name="claude-tray-ready", daemon=True).start()
            backend = self._wait_for_host()
            if backend is None:
                return
            self._attach(backend)
        assert self._backend is not None
        self._backend.run(ready)

    def stop(self) -> None:
        """Leave `run`; safe from any thread and more than once."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        self._action_queue.put(None)
        with self._lock:
            backend = self._backend
        if backend is not None:
            backend.stop()

    # ------------------------------------------------------------------ internals
    def _attach(self, backend: TrayBackend) -> None:
        backend.on_click = self._clicked
        backend.on_menu_open = lambda: self._enqueue("menu_opened")
        with self._lock:
            self._backend = backend
            self._look = None  # the new backend has shown nothing yet
            self._publish_locked()

    def _publish_locked(self) -> None:
        if self._backend is None:
            return  # waiting for a tray host: the look is worked out when one appears
        look = look_of(self._view, self._autostart_on)
        if look == self._look:
            return
        self._look = look
        self._backend.show(look)

    def _wait_for_host(self) -> TrayBackend | None:
        """No tray host at start (a panel that starts after us at login): look every
        HOST_POLL_EVERY seconds and take the first that appears; say once after NO_HOST_AFTER."""
        monotonic = self._env.clock.monotonic
        started = monotonic()
        said = False
        failures: set[str] = set()  # each reason an appeared host could not be used, said once
        while not self._stopping.wait(HOST_POLL_EVERY):
            choice = choose_backend(self._env.environ, self._env.platform, lambda: find_hosts(self._env.environ))
            if choice.kind in ("sni", "pystray"):
                try:
                    backend = open_backend(self._env, choice, say=self._say)
                except NoGraphicalSession as error:
                    if error.message not in failures:
                        failures.add(error.message)
                        self._say(f"tray: {error.message}")
                    continue  # the poller goes on; another host may yet appear
                self.choice = choice
                self._say(f"tray: {choice.reason}")
                return backend
            if not said and monotonic() - started >= NO_HOST_AFTER:
                said = True
                self._say(NO_TRAY_SENTENCE)
        return None

    def _clicked(self, entry: MenuEntry) -> None:
        """From a backend's event thread: queue what the entry does."""
        if entry.action is None:
            return  # an information line
        if entry.checked is not None:
            self._enqueue(entry.action, not entry.checked)
        elif entry.action == "show_status":
            # the default action (left click): fetch now, then show the whole status
            self._enqueue("refresh")
            self._enqueue("show_status")
        else:
            self._enqueue(entry.action)

    def _enqueue(self, name: str, *args) -> None:
        """Actions may call `show`, which on xorg waits for the tray's event thread that delivered
        the click: so they run on their own thread, in click order."""
        if self._action_thread is None:
            self._run_action(name, args)  # not running yet (tests, or before `run`)
        else:
            self._action_queue.put((name, args))

    def _start_action_thread(self) -> None:
        if self._action_thread is None:
            self._action_thread = threading.Thread(target=self._action_loop, name="claude-tray-actions", daemon=True)
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


def _once(function: Callable[[], None] | None) -> Callable[[], None]:
    done = threading.Lock()

    def run() -> None:
        if function is None or not done.acquire(blocking=False):
            return
        try:
            function()
        except Exception:
            log.exception("the tray's on_ready callback failed")

    return run
