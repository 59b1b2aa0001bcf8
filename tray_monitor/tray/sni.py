"""The Linux tray with a menu from pip alone: an org.kde.StatusNotifierItem with a
com.canonical.dbusmenu menu, spoken over jeepney on the session bus.

What hosts really call (KDE, GNOME's AppIndicator extension, xfce4-panel, lxqt-panel, waybar,
gtk-sni-tray) and why each rule below exists:
- one thread (the one in `run`) receives and answers every call; replies to our own calls are
  matched by serial, never waited for: some watchers call the item back before they answer
  RegisterStatusNotifierItem (lxqt-panel), so a blocking call there would wait for its time-out;
- every method call gets an answer (an empty return or a D-Bus error): a host that gets none
  waits 25 s;
- the watcher may own its name before it exports its object (gtk-sni-tray): registration is
  retried, and done again whenever a new watcher owner appears (a panel restart);
- both Event and EventGroup click items (three of four hosts use EventGroup only); lxqt needs
  Introspect on the menu object, and sends Event(0, "opened"/"closed"), which is not a click;
- waybar re-reads the whole menu after every LayoutUpdated: it is sent only when the menu's
  structure changed; new labels, enabled or check marks of the same ids are an ItemsPropertiesUpdated;
  GNOME's AppIndicator extension re-reads only the type of ids it holds after LayoutUpdated: their
  changed properties go with it as an ItemsPropertiesUpdated (`kept_items_change`);
- GNOME's extension reads IconAccessibleDesc after every NewIcon (its accessible name): we have it;
- hosts fetch properties after NewIcon / NewToolTip / NewTitle, nothing is pushed with them.

The pure parts (`argb_pixmap`, `menu_items`, `menu_change`, `kept_items_change`, `layout`) are tested on their own.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tray_monitor.tray import sni_wire
from tray_monitor.tray.backend import APP_ID
from tray_monitor.tray.choice import NO_TRAY_SENTENCE, SNI_WATCHER
from tray_monitor.tray.menu import Look, MenuEntry, default_entry

log = logging.getLogger(__name__)

ITEM_PATH = "/StatusNotifierItem"
MENU_PATH = "/MenuBar"
WATCHER_PATH = "/StatusNotifierWatcher"
ITEM_IFACE = "org.kde.StatusNotifierItem"
MENU_IFACE = "com.canonical.dbusmenu"
PROPS_IFACE = "org.freedesktop.DBus.Properties"
INTRO_IFACE = "org.freedesktop.DBus.Introspectable"
PEER_IFACE = "org.freedesktop.DBus.Peer"
#: Hosts scale the largest pixmap down (xfce 22 px, waybar 24 px slots) or take an exact size
#: (gtk-sni-tray --size 48): send the common slot sizes, drawn for each.
PIXMAP_SIZES = (16, 22, 24, 32, 48)
#: Seconds between registration attempts after an error (the watcher not exported yet, or refusing).
REGISTER_RETRIES = (0.2, 0.5, 1.0, 2.0, 4.0, 8.0)
RECONNECT_EVERY = 5.0  # seconds between attempts to reach a session bus that went away
NO_HOST_AFTER = 5.0  # seconds without a watcher before saying so once
DROPPED_LOOK_AFTER = 0.5  # seconds after the watcher says our item left before asking its list
DROPS_AGAIN = 5  # registrations again after a watcher dropped us, per watcher

# Stable dbusmenu ids (a test or a host can click by id across updates): info lines count from 1.
COMMAND_IDS = {"refresh": 100, "open_usage_page": 101, "toggle_notifications": 102,
               "send_test_notification": 103, "toggle_autostart": 104, "quit": 105, "open_history": 106}
FIRST_SEPARATOR_ID = 200
ROOT_ID = 0

ERR_UNKNOWN_METHOD = "org.freedesktop.DBus.Error.UnknownMethod"
ERR_UNKNOWN_OBJECT = "org.freedesktop.DBus.Error.UnknownObject"
ERR_UNKNOWN_PROPERTY = "org.freedesktop.DBus.Error.UnknownProperty"
ERR_READ_ONLY = "org.freedesktop.DBus.Error.PropertyReadOnly"
ERR_INVALID_ARGS = "org.freedesktop.DBus.Error.InvalidArgs"


# ----------------------------------------------------------------------------- pure parts


def argb_pixmap(image) -> tuple[int, int, bytes]:
    """(width, height, pixels) for IconPixmap: A, R, G, B per pixel in network byte order, rows
    top to bottom. Pillow has no "ARGB" packer for RGBA, and "BGRA" is little-endian ARGB."""
    from PIL import Image

    red, green, blue, alpha = image.convert("RGBA").split()
    return (image.width, image.height, Image.merge("RGBA", (alpha, red, green, blue)).tobytes())


def _label(text: str) -> str:
    return text.replace("_", "__")  # "_" marks a mnemonic in dbusmenu labels


@dataclass(frozen=True)
class MenuItems:
    """The dbusmenu tree (one level under the root): id -> properties, the children's order, and
    the entry each id stands for."""

    props: dict[int, dict[str, tuple[str, Any]]]
    order: tuple[int, ...]
    entries: dict[int, MenuEntry] = field(default_factory=dict)


def menu_items(entries: tuple[MenuEntry, ...]) -> MenuItems:
    props: dict[int, dict[str, tuple[str, Any]]] = {ROOT_ID: {"children-display": ("s", "submenu")}}
    order: list[int] = []
    by_id: dict[int, MenuEntry] = {}
    info_id, separator_id, other_id = 1, FIRST_SEPARATOR_ID, 150
    for entry in entries:
        if not entry.visible:
            continue  # the default entry: a left click (Activate), not a line
        if entry.is_separator:
            item_id, separator_id = separator_id, separator_id + 1
            props[item_id] = {"type": ("s", "separator")}
        elif entry.action is None:
            item_id, info_id = info_id, info_id + 1
            props[item_id] = {"label": ("s", _label(entry.text)), "enabled": ("b", False)}
        else:
            item_id = COMMAND_IDS.get(entry.action, 0)
            if not item_id or item_id in props:
                item_id, other_id = other_id, other_id + 1
            props[item_id] = {"label": ("s", _label(entry.text)), "enabled": ("b", True)}
            if entry.checked is not None:
                props[item_id]["toggle-type"] = ("s", "checkmark")
                props[item_id]["toggle-state"] = ("i", 1 if entry.checked else 0)
        order.append(item_id)
        by_id[item_id] = entry
    return MenuItems(props, tuple(order), by_id)


#: Properties a host takes from ItemsPropertiesUpdated (libdbusmenu-glib/-gtk, libdbusmenu-qt,
#: gtk-sni-tray): a change of only these keeps the layout; anything else is a new LayoutUpdated.
UPDATABLE_PROPERTIES = frozenset({"label", "enabled", "toggle-state"})


def menu_change(old: MenuItems, new: MenuItems) -> tuple[bool, list[tuple[int, dict]]]:
    """(layout changed, [(id, changed properties)]): a new LayoutUpdated when ids, order, the set of
    properties of an item, or any property outside UPDATABLE_PROPERTIES changed; else
    ItemsPropertiesUpdated with the changed values (the countdown's minute tick relabels a line:
    hosts then skip re-reading the whole menu with GetLayout + GetGroupProperties)."""
    if old.order != new.order:
        return True, []
    updates = []
    for item_id in new.order:
        before, after = old.props.get(item_id, {}), new.props[item_id]
        if before == after:
            continue
        if before.keys() != after.keys():
            return True, []
        changed = {k: v for k, v in after.items() if before[k] != v}
        if changed.keys() - UPDATABLE_PROPERTIES:
            return True, []
        updates.append((item_id, changed))
    return False, updates


def kept_items_change(old: MenuItems, new: MenuItems) -> tuple[list[tuple[int, dict]], list[tuple[int, list[str]]]]:
    """The ItemsPropertiesUpdated (changed, removed) that goes with a LayoutUpdated: the new
    properties of the ids in both menus. GNOME's AppIndicator extension (46, dbusMenu.js) re-reads
    only "type" and "children-display" with GetLayout for ids it already holds, so without this it
    kept "Waiting for the first reading" as the first line after the first reading came."""
    changed, removed = [], []
    for item_id in new.order:
        if item_id not in old.props:
            continue  # a new id: hosts read all its properties (GetLayout, GetGroupProperties)
        before, after = old.props[item_id], new.props[item_id]
        values = {k: v for k, v in after.items() if before.get(k) != v}
        if values:
            changed.append((item_id, values))
        if before.keys() - after.keys():
            removed.append((item_id, sorted(before.keys() - after.keys())))
    return changed, removed


def layout(items: MenuItems, parent: int, depth: int, names: list[str]) -> tuple:
    """GetLayout's (id, properties, children) for `parent`; depth -1 = all, 0 = no children;
    empty `names` = every property."""
    wanted = set(names)
    props = {k: v for k, v in items.props[parent].items() if not wanted or k in wanted}
    children = [] if depth == 0 or parent != ROOT_ID else [
        ("(ia{sv}av)", layout(items, child, depth - 1, names)) for child in items.order
    ]
    return (parent, props, children)


def item_properties(look: Look | None, pixmaps: list, status: str) -> dict[str, tuple[str, Any]]:
    tooltip = look.tooltip if look else ""
    description = "\n".join(look.info_lines) if look else ""
    return {
        "Category": ("s", "ApplicationStatus"),
        "Id": ("s", APP_ID),
        "Title": ("s", tooltip),
        "Status": ("s", status),
        "WindowId": ("i", 0),
        "IconName": ("s", ""),
        "IconThemePath": ("s", ""),
        "IconPixmap": ("a(iiay)", pixmaps),
        "OverlayIconName": ("s", ""),
        "OverlayIconPixmap": ("a(iiay)", []),
        "AttentionIconName": ("s", ""),
        # hosts that swap to the attention icon when Status is NeedsAttention (KDE, GNOME's
        # extension) would otherwise show nothing: it is the same, already critical, drawing
        "AttentionIconPixmap": ("a(iiay)", pixmaps),
        "AttentionMovieName": ("s", ""),
        # the percent goes in the title: lxqt shows the title only, gtk-sni-tray "title: description"
        "ToolTip": ("(sa(iiay)ss)", ("", [], tooltip, description)),
        "ItemIsMenu": ("b", False),  # left click = Activate, right click = the menu
        "Menu": ("o", MENU_PATH),
        # Ayatana's screen-reader text of the icon; GNOME's extension reads it after every NewIcon
        # (an UnknownProperty error there is a JS ERROR in the shell's log at each redraw)
        "IconAccessibleDesc": ("s", tooltip),
        "AttentionAccessibleDesc": ("s", tooltip),
    }


#: Answered with an empty return: a host's left click (Activate), middle click, its own menu
#: request, the wheel, and KDE Plasma 6 on Wayland handing over an activation token before Activate.
ITEM_METHODS = ("Activate", "SecondaryActivate", "ContextMenu", "Scroll", "ProvideXdgActivationToken")

MENU_PROPERTIES = {"Version": ("u", 3), "TextDirection": ("s", "ltr"), "Status": ("s", "normal"),
                   "IconThemePath": ("as", [])}


class DBusError(Exception):
    def __init__(self, name: str, text: str):
        super().__init__(text)
        self.name = name


# ----------------------------------------------------------------------------- the backend


class SniBackend:
    """`run` owns the connection's receiving side; `show` may be called from any thread and only
    sends signals (jeepney's threading connection locks its sends)."""

    name = "sni"
    has_menu = True
    notifier_icon = None

    def __init__(self, env, render: Callable | None = None, *, bus: str | None = None,
                 say: Callable[[str], None] | None = None):
        if render is None:
            from tray_monitor.icon import render_icon

            render = render_icon
        self._render: Callable[..., Any] = render
        self._bus = bus or env.environ.get("DBUS_SESSION_BUS_ADDRESS") or "SESSION"
        self._say = say or (lambda text: log.info("%s", text))
        self.bus_name = f"org.kde.StatusNotifierItem-{os.getpid()}-1"
        self.on_click: Callable[[MenuEntry], None] = lambda entry: None
        self.on_menu_open: Callable[[], None] = lambda: None

        self._lock = threading.Lock()  # guards the published state below
        self._look: Look | None = None
        self._pixmaps: list = []
        self._status = "Active"
        self._items = menu_items(())
        self._revision = 1
        self.redraw_count = 0
        self.title_updates = 0
        self.menu_updates = 0  # LayoutUpdated sent
        self.toggle_updates = 0  # ItemsPropertiesUpdated sent (labels, check marks)

        self._stopping = threading.Event()
        self._conn: Any = None
        # loop-thread state
        self._pending: dict[int, Callable] = {}  # serial of our call -> its reply handler
        self._timers: list[tuple[float, Callable[[], None]]] = []
        self._watcher: str | None = None
        self._attempt = 0
        self.registered = threading.Event()
        self._said_no_host = False
        self._said_bus_gone = False
        self._drops = 0
        # after a watcher dropped us (see _on_unregistered), for good: GNOME re-enables its
        # extensions (a new watcher) at every screen unlock, and would drop us again each time
        self._by_unique_name = False

    # ------------------------------------------------------------------ showing (any thread)
    def show(self, look: Look) -> None:
        with self._lock:
            old = self._look
            self._look = look
            signals: list[tuple] = []
            if old is None or look.icon != old.icon:
                pixmaps = [argb_pixmap(self._render(look.icon, size=size)) for size in PIXMAP_SIZES]
                if pixmaps != self._pixmaps:
                    self._pixmaps = pixmaps
                    self.redraw_count += 1
                    signals.append((ITEM_PATH, ITEM_IFACE, "NewIcon", None, ()))
                    signals.append((ITEM_PATH, ITEM_IFACE, "NewAttentionIcon", None, ()))
                # Another login critical (issue 15) asks for attention too: a panel that hides calm
                # items then still shows this one, with the corner dot saying why.
                attention = look.icon.severity == "critical" or look.icon.other_critical
                status = "NeedsAttention" if attention else "Active"
                if status != self._status:
                    self._status = status
                    signals.append((ITEM_PATH, ITEM_IFACE, "NewStatus", "s", (status,)))
            if old is None or look.tooltip != old.tooltip:
                self.title_updates += 1
                signals.append((ITEM_PATH, ITEM_IFACE, "NewTitle", None, ()))
            if old is None or (look.tooltip, look.info_lines) != (old.tooltip, old.info_lines):
                signals.append((ITEM_PATH, ITEM_IFACE, "NewToolTip", None, ()))
            items = menu_items(look.menu)
            relayout, updates = menu_change(self._items, items)
            kept, removed = kept_items_change(self._items, items) if relayout else ([], [])
            self._items = items
            if relayout or updates:
                self._revision += 1
            if relayout:
                self.menu_updates += 1
                if kept or removed:  # first: GNOME's extension applies them to the items it holds
                    signals.append((MENU_PATH, MENU_IFACE, "ItemsPropertiesUpdated", "a(ia{sv})a(ias)",
                                    (kept, removed)))
                signals.append((MENU_PATH, MENU_IFACE, "LayoutUpdated", "ui", (self._revision, ROOT_ID)))
            elif updates:
                self.toggle_updates += 1
                signals.append((MENU_PATH, MENU_IFACE, "ItemsPropertiesUpdated", "a(ia{sv})a(ias)", (updates, [])))
            for signal in signals:
                self._signal(*signal)

    def _signal(self, path: str, iface: str, member: str, signature: str | None, body: tuple) -> None:
        conn = self._conn
        if conn is None:
            return  # not connected: hosts read everything when the item registers
        try:
            conn.send(sni_wire.signal(path, iface, member, signature, body))
        except OSError as exc:  # the bus went away: the loop notices and says so
            log.debug("signal %s not sent: %s", member, exc)

    # ------------------------------------------------------------------ the loop (run's thread)
    def run(self, on_ready: Callable[[], None]) -> None:
        """Connect, register, answer hosts until `stop`. A lost bus is said once and tried again
        every RECONNECT_EVERY seconds: the app keeps polling and notifying meanwhile. `on_ready`
        runs once on its own thread after the first attempt to connect, whatever its outcome."""
        from jeepney.io.threading import ReceiveStopped, open_dbus_connection

        ready = threading.Thread(target=_guarded(on_ready), name="claude-tray-ready", daemon=True)
        while not self._stopping.is_set():
            try:
                conn = open_dbus_connection(bus=self._bus)
            except Exception as exc:  # no address, socket gone, auth refused
                self._bus_lost(exc)
                conn = None
            if conn is not None:
                if self._said_bus_gone:
                    log.info("tray: the session bus is back; registering the icon again")
                    self._said_bus_gone = False
                if self._serve(conn, ready) is ReceiveStopped:
                    break
            if not ready.is_alive() and ready.ident is None:
                ready.start()
            self._stopping.wait(RECONNECT_EVERY)

    def _serve(self, conn, ready: threading.Thread):
        """Answer on `conn` until stopped (returns ReceiveStopped) or the bus is lost (None)."""
        from jeepney.io.threading import ReceiveStopped

        with self._lock:
            self._conn = conn
        self._pending.clear()
        self._timers.clear()
        self._attempt = 0
        try:
            if self._stopping.is_set():  # stop() came while we connected: it could not interrupt us
                return ReceiveStopped
            self._start()
            if ready.ident is None:
                ready.start()
            while not self._stopping.is_set():
                timeout = self._run_due_timers()
                try:
                    message = conn.receive(timeout=timeout)
                except TimeoutError:
                    continue
                try:
                    self._handle(message)
                except OSError:
                    raise  # the bus went away while we answered
                except Exception:  # a bug in one answer must not take the icon down
                    log.exception("tray: handling a D-Bus message failed; carrying on")
            return ReceiveStopped
        except ReceiveStopped:
            return ReceiveStopped
        except Exception as exc:  # the bus closed (ConnectionResetError, OSError, EOF)
            if self._stopping.is_set():
                return ReceiveStopped
            self._bus_lost(exc)
            return None
        finally:
            with self._lock:
                self._conn = None
            self.registered.clear()
            try:
                conn.close()
            except OSError:
                pass

    def stop(self) -> None:
        self._stopping.set()
        conn = self._conn
        if conn is not None:
            try:
                conn.interrupt()
            except OSError:
                pass

    def _bus_lost(self, exc: Exception) -> None:
        if not self._said_bus_gone:
            self._said_bus_gone = True
            self._say(f"tray: the session bus is gone ({type(exc).__name__}: {exc}), so the icon is too; "
                      "claude-tray keeps polling and will show it again when the bus is back.")
        else:
            log.debug("session bus still unreachable: %s", exc)

    def _run_due_timers(self) -> float | None:
        now = time.monotonic()
        due = [t for t in self._timers if t[0] <= now]
        for timer in due:
            self._timers.remove(timer)
            timer[1]()
        if not self._timers:
            return None
        return max(0.0, min(t[0] for t in self._timers) - time.monotonic())

    def _later(self, seconds: float, action: Callable[[], None]) -> None:
        self._timers.append((time.monotonic() + seconds, action))

    def _call(self, address, member: str, signature: str | None, body: tuple, on_reply: Callable) -> None:
        from jeepney import new_method_call

        conn = self._conn
        serial = next(conn.outgoing_serial)
        self._pending[serial] = on_reply
        conn.send(new_method_call(address, member, signature, body), serial=serial)

    def _start(self) -> None:
        """Take our name, watch for watchers coming and going, then ask for the current one. The
        match rule goes out before GetNameOwner: no watcher can appear unseen between the two."""
        from jeepney import MatchRule, message_bus

        self._call(message_bus, "RequestName", "su", (self.bus_name, 4), self._on_name)  # 4 = DO_NOT_QUEUE
        rule = MatchRule(type="signal", sender="org.freedesktop.DBus", interface="org.freedesktop.DBus",
                         member="NameOwnerChanged", path="/org/freedesktop/DBus")
        rule.add_arg_condition(0, SNI_WATCHER)
        self._call(message_bus, "AddMatch", "s", (rule.serialise(),), lambda reply: None)
        dropped = MatchRule(type="signal", interface=SNI_WATCHER, member="StatusNotifierItemUnregistered",
                            path=WATCHER_PATH)
        self._call(message_bus, "AddMatch", "s", (dropped.serialise(),), lambda reply: None)
        self._call(message_bus, "GetNameOwner", "s", (SNI_WATCHER,), self._on_watcher_owner)
        self._later(NO_HOST_AFTER, self._check_host)

    def _on_name(self, reply) -> None:
        if _is_error(reply) or reply.body[0] not in (1, 4):  # 1 primary owner, 4 already owner
            log.warning("tray: could not take the bus name %s (%s); hosts may not find the icon",
                        self.bus_name, reply.body)

    def _on_watcher_owner(self, reply) -> None:
        if _is_error(reply):
            self._watcher = None
            log.info("tray: no %s yet; the icon registers when one appears", SNI_WATCHER)
            return
        self._new_watcher(reply.body[0])

    def _new_watcher(self, owner: str | None) -> None:
        self._watcher = owner or None
        self._attempt = 0
        self._drops = 0
        self._timers = [t for t in self._timers if t[1] != self._register]
        self.registered.clear()
        if owner:
            self._register()

    def _check_host(self) -> None:
        if self._watcher is None and not self._said_no_host:
            self._said_no_host = True
            self._say(NO_TRAY_SENTENCE)

    def _register(self) -> None:
        from jeepney import DBusAddress

        if not self._watcher:
            return
        watcher = DBusAddress(WATCHER_PATH, bus_name=SNI_WATCHER, interface=SNI_WATCHER)
        service = self._conn.unique_name if self._by_unique_name else self.bus_name
        self._call(watcher, "RegisterStatusNotifierItem", "s", (service,), self._on_registered)

    def _on_registered(self, reply) -> None:
        if not _is_error(reply):
            if self._attempt:
                log.info("tray: registered with %s after %d retries", SNI_WATCHER, self._attempt)
            self._attempt = 0
            self.registered.set()
            return
        from jeepney import HeaderFields

        error = reply.header.fields.get(HeaderFields.error_name, "?")
        if self._attempt < len(REGISTER_RETRIES) and self._watcher:
            log.debug("tray: registration refused (%s), retry %d", error, self._attempt + 1)
            self._later(REGISTER_RETRIES[self._attempt], self._register)
            self._attempt += 1
        else:
            self._say(f"tray: {SNI_WATCHER} refused the icon ({error}: {' '.join(map(str, reply.body))}); "
                      "it is tried again when the panel restarts. Notifications still work.")

    def _on_unregistered(self, sender: str | None, service: str) -> None:
        """The watcher says an item left. Ours, while we run: GNOME's AppIndicator extension (46 on
        GNOME 43) drops an item registered by a well-known name in some starts and re-enables (a
        race between its name watcher and its proxy set-up: "While initalizing proxy ... Argument
        two may not be null"; in 7 of about 38 runs here); the icon is then gone for good. Look again
        shortly and, when the watcher no longer lists us, register again by our unique name (the
        extension watches no name for those: no race); at most DROPS_AGAIN times per watcher."""
        if sender != self._watcher or not self._ours(service) or not self.registered.is_set():
            return
        self._later(DROPPED_LOOK_AFTER, self._look_still_registered)

    def _ours(self, entry: str) -> bool:
        """A watcher's entry for our item: our name, or our unique name, with or without a path
        ("name/path" from most watchers, "name@path" from GNOME's extension)."""
        name = entry.split("/", 1)[0].split("@", 1)[0]
        return name in (self.bus_name, getattr(self._conn, "unique_name", None))

    def _look_still_registered(self) -> None:
        from jeepney import DBusAddress

        if not self._watcher:
            return
        properties = DBusAddress(WATCHER_PATH, bus_name=SNI_WATCHER, interface=PROPS_IFACE)
        self._call(properties, "Get", "ss", (SNI_WATCHER, "RegisteredStatusNotifierItems"), self._on_still_registered)

    def _on_still_registered(self, reply) -> None:
        if _is_error(reply) or any(self._ours(entry) for entry in reply.body[0][1]):
            return
        if self._drops >= DROPS_AGAIN:
            log.info("tray: %s dropped the icon again; not registering it once more", SNI_WATCHER)
            return
        self._drops += 1
        log.info("tray: %s dropped the icon while claude-tray runs; registering it again by the "
                 "connection's unique name", SNI_WATCHER)
        self.registered.clear()
        self._by_unique_name = True
        self._register()

    # ------------------------------------------------------------------ incoming messages
    def _handle(self, message) -> None:
        from jeepney import HeaderFields, MessageFlag, MessageType, new_error

        header = message.header
        kind = header.message_type
        if kind in (MessageType.method_return, MessageType.error):
            handler = self._pending.pop(header.fields.get(HeaderFields.reply_serial), None)
            if handler is not None:
                handler(message)
            return
        if kind == MessageType.signal:
            if header.fields.get(HeaderFields.member) == "NameOwnerChanged" and message.body[0] == SNI_WATCHER:
                old, new = message.body[1], message.body[2]
                log.info("tray: %s owner %s -> %s", SNI_WATCHER, old or "none", new or "none")
                self._new_watcher(new)
            elif header.fields.get(HeaderFields.member) == "StatusNotifierItemUnregistered" and message.body:
                self._on_unregistered(header.fields.get(HeaderFields.sender), message.body[0])
            return
        if kind != MessageType.method_call:
            return
        fields = header.fields
        try:
            signature, body = self._dispatch(fields.get(HeaderFields.path), fields.get(HeaderFields.interface),
                                             fields.get(HeaderFields.member), message.body)
            reply = sni_wire.method_return(header.serial, fields.get(HeaderFields.sender), signature, body)
        except DBusError as error:
            reply = new_error(message, error.name, "s", (str(error),))
        except Exception as exc:  # a bug here must not leave the host waiting 25 s
            log.exception("tray: answering %s failed", fields.get(HeaderFields.member))
            reply = new_error(message, "org.freedesktop.DBus.Error.Failed", "s", (str(exc),))
        if not header.flags & MessageFlag.no_reply_expected:
            self._conn.send(reply)

    def _dispatch(self, path: str, iface: str | None, member: str, args: tuple) -> tuple[str | None, tuple]:
        if member == "Introspect" and iface in (INTRO_IFACE, None):
            return "s", (introspection(path),)
        if iface == PEER_IFACE:
            if member == "Ping":
                return None, ()
            if member == "GetMachineId":
                return "s", (_machine_id(),)
        if path == ITEM_PATH:
            if iface == PROPS_IFACE or (iface is None and member in ("Get", "GetAll", "Set")):
                with self._lock:
                    props = item_properties(self._look, self._pixmaps, self._status)
                return _properties(ITEM_IFACE, props, member, args)
            if iface in (ITEM_IFACE, None) and member in ITEM_METHODS:
                if member == "Activate":
                    with self._lock:
                        entry = default_entry(self._look.menu) if self._look else None
                    if entry is not None:
                        self.on_click(entry)
                return None, ()
        elif path == MENU_PATH:
            if iface == PROPS_IFACE or (iface is None and member in ("Get", "GetAll", "Set")):
                return _properties(MENU_IFACE, MENU_PROPERTIES, member, args)
            if iface in (MENU_IFACE, None):
                return self._menu_call(member, args)
        elif path not in ("/", None):
            raise DBusError(ERR_UNKNOWN_OBJECT, f"no object at {path}")
        raise DBusError(ERR_UNKNOWN_METHOD, f"no method {iface}.{member} at {path}")

    def _menu_call(self, member: str, args: tuple) -> tuple[str | None, tuple]:
        with self._lock:
            items, revision = self._items, self._revision
        if member == "GetLayout":
            parent, depth, names = args
            if parent not in items.props:
                raise DBusError(ERR_INVALID_ARGS, f"no menu item {parent}")
            return "u(ia{sv}av)", (revision, layout(items, parent, depth, names))
        if member == "GetGroupProperties":
            ids, names = args
            wanted = set(names)
            return "a(ia{sv})", ([(i, {k: v for k, v in items.props[i].items() if not wanted or k in wanted})
                                  for i in (ids or list(items.props)) if i in items.props],)
        if member == "GetProperty":
            item_id, name = args
            if name not in items.props.get(item_id, {}):
                raise DBusError(ERR_INVALID_ARGS, f"no property {name} on menu item {item_id}")
            return "v", (items.props[item_id][name],)
        if member == "Event":
            item_id, event, _data, _timestamp = args
            if item_id not in items.props:
                raise DBusError(ERR_INVALID_ARGS, f"no menu item {item_id}")
            self._menu_event(items, item_id, event)
            return None, ()
        if member == "EventGroup":
            unknown = [event[0] for event in args[0] if event[0] not in items.props]
            if args[0] and len(unknown) == len(args[0]):
                raise DBusError(ERR_INVALID_ARGS, f"no menu items {unknown}")
            for item_id, event, _data, _timestamp in args[0]:
                if item_id in items.props:
                    self._menu_event(items, item_id, event)
            return "ai", (unknown,)
        if member == "AboutToShow":
            if args and args[0] == 0:
                self.on_menu_open()  # the root menu: a person is looking (schedule.activity_seen)
            return "b", (False,)
        if member == "AboutToShowGroup":
            if 0 in args[0]:
                self.on_menu_open()
            return "aiai", ([], [i for i in args[0] if i not in items.props])
        raise DBusError(ERR_UNKNOWN_METHOD, f"no method {MENU_IFACE}.{member}")

    def _menu_event(self, items: MenuItems, item_id: int, event: str) -> None:
        # Event data differ by host (("i", 0) from GTK hosts, ("s", "") from lxqt): ignored.
        entry = items.entries.get(item_id)
        if event == "opened" and item_id == 0:
            self.on_menu_open()  # lxqt says so with an event instead of AboutToShow
        if event == "clicked" and entry is not None and entry.action is not None:
            self.on_click(entry)


def _properties(iface: str, props: dict, member: str, args: tuple) -> tuple[str, tuple]:
    if member == "GetAll":
        # "" = every interface (some clients); another interface has none of ours (xfce asks)
        return "a{sv}", (props if args[0] in (iface, "") else {},)
    if member == "Get":
        if args[1] not in props:
            raise DBusError(ERR_UNKNOWN_PROPERTY, f"no property {args[1]}")
        return "v", (props[args[1]],)
    if member == "Set":
        raise DBusError(ERR_READ_ONLY, "the tray's properties are read-only")
    raise DBusError(ERR_UNKNOWN_METHOD, f"no method {PROPS_IFACE}.{member}")


def _is_error(reply) -> bool:
    from jeepney import MessageType

    return reply.header.message_type == MessageType.error


def _machine_id() -> str:
    for path in ("/etc/machine-id", "/var/lib/dbus/machine-id"):
        try:
            with open(path) as file:
                return file.read().strip()
        except OSError:
            continue
    raise DBusError("org.freedesktop.DBus.Error.FileNotFound", "no machine id on this system")


def _guarded(function: Callable[[], None]) -> Callable[[], None]:
    def run() -> None:
        try:
            function()
        except Exception:
            log.exception("the tray's on_ready callback failed")

    return run


# ----------------------------------------------------------------------------- introspection


def _xml_properties(props: dict) -> str:
    return "".join(f'  <property name="{k}" type="{v[0]}" access="read"/>\n' for k, v in props.items())


_HEAD = ('<!DOCTYPE node PUBLIC "-//freedesktop//DTD D-BUS Object Introspection 1.0//EN" '
         '"http://www.freedesktop.org/standards/dbus/1.0/introspect.dtd">\n<node>\n')
_STANDARD = """ <interface name="org.freedesktop.DBus.Properties">
  <method name="Get"><arg type="s" direction="in"/><arg type="s" direction="in"/>
   <arg type="v" direction="out"/></method>
  <method name="GetAll"><arg type="s" direction="in"/><arg type="a{sv}" direction="out"/></method>
  <method name="Set"><arg type="s" direction="in"/><arg type="s" direction="in"/><arg type="v" direction="in"/></method>
  <signal name="PropertiesChanged"><arg type="s"/><arg type="a{sv}"/><arg type="as"/></signal>
 </interface>
 <interface name="org.freedesktop.DBus.Introspectable">
  <method name="Introspect"><arg type="s" direction="out"/></method>
 </interface>
 <interface name="org.freedesktop.DBus.Peer">
  <method name="Ping"/>
  <method name="GetMachineId"><arg type="s" direction="out"/></method>
 </interface>
"""
_XY = '<arg name="x" type="i" direction="in"/><arg name="y" type="i" direction="in"/>'
_ITEM_XML = (_HEAD + _STANDARD + f' <interface name="{ITEM_IFACE}">\n'
             + _xml_properties(item_properties(None, [], "Active")) +
             f"""  <method name="ContextMenu">{_XY}</method>
  <method name="Activate">{_XY}</method>
  <method name="SecondaryActivate">{_XY}</method>
  <method name="ProvideXdgActivationToken"><arg name="token" type="s" direction="in"/></method>
  <method name="Scroll"><arg name="delta" type="i" direction="in"/>
   <arg name="orientation" type="s" direction="in"/></method>
  <signal name="NewTitle"/><signal name="NewIcon"/><signal name="NewAttentionIcon"/>
  <signal name="NewOverlayIcon"/><signal name="NewToolTip"/>
  <signal name="NewStatus"><arg name="status" type="s"/></signal>
 </interface>
</node>""")
_MENU_XML = (_HEAD + _STANDARD + f' <interface name="{MENU_IFACE}">\n' + _xml_properties(MENU_PROPERTIES) + """\
  <method name="GetLayout"><arg type="i" name="parentId" direction="in"/>
   <arg type="i" name="recursionDepth" direction="in"/>
   <arg type="as" name="propertyNames" direction="in"/><arg type="u" name="revision" direction="out"/>
   <arg type="(ia{sv}av)" name="layout" direction="out"/></method>
  <method name="GetGroupProperties"><arg type="ai" name="ids" direction="in"/>
   <arg type="as" name="propertyNames" direction="in"/>
   <arg type="a(ia{sv})" name="properties" direction="out"/></method>
  <method name="GetProperty"><arg type="i" name="id" direction="in"/><arg type="s" name="name" direction="in"/>
   <arg type="v" name="value" direction="out"/></method>
  <method name="Event"><arg type="i" name="id" direction="in"/><arg type="s" name="eventId" direction="in"/>
   <arg type="v" name="data" direction="in"/><arg type="u" name="timestamp" direction="in"/></method>
  <method name="EventGroup"><arg type="a(isvu)" name="events" direction="in"/>
   <arg type="ai" name="idErrors" direction="out"/></method>
  <method name="AboutToShow"><arg type="i" name="id" direction="in"/>
   <arg type="b" name="needUpdate" direction="out"/></method>
  <method name="AboutToShowGroup"><arg type="ai" name="ids" direction="in"/>
   <arg type="ai" name="updatesNeeded" direction="out"/>
   <arg type="ai" name="idErrors" direction="out"/></method>
  <signal name="ItemsPropertiesUpdated"><arg type="a(ia{sv})" name="updatedProps"/>
   <arg type="a(ias)" name="removedProps"/></signal>
  <signal name="LayoutUpdated"><arg type="u" name="revision"/><arg type="i" name="parent"/></signal>
  <signal name="ItemActivationRequested"><arg type="i" name="id"/><arg type="u" name="timestamp"/></signal>
 </interface>
</node>""")
_ROOT_XML = _HEAD + _STANDARD + f' <node name="{ITEM_PATH[1:]}"/>\n <node name="{MENU_PATH[1:]}"/>\n</node>'


def introspection(path: str | None) -> str:
    """Introspect for our objects; "/" lists both (tools given only a bus name walk from there)."""
    return {ITEM_PATH: _ITEM_XML, MENU_PATH: _MENU_XML, "/": _ROOT_XML}.get(path or "/", _HEAD + "</node>")
