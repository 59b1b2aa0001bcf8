"""Which tray backend to use, and why: the one place that knows the order (doctor asks it too).

Linux and the BSDs: CLAUDE_TRAY_BACKEND (sni | xembed | gtk | appindicator), else PYSTRAY_BACKEND
(pystray's own switch), else a StatusNotifierItem when a StatusNotifierWatcher is on the session
bus (KDE, GNOME with the AppIndicator extension, XFCE, LXQt, waybar: a menu with pip alone), else
XEmbed through pystray when a tray manager owns _NET_SYSTEM_TRAY_S<n> (trayer, stalonetray: icon
only), else wait for either to appear. macOS and Windows: pystray.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

SNI_WATCHER = "org.kde.StatusNotifierWatcher"
BACKEND_VARIABLE = "CLAUDE_TRAY_BACKEND"
#: CLAUDE_TRAY_BACKEND value -> pystray backend module (None: ours, tray/sni.py)
FORCEABLE = {"sni": None, "xembed": "xorg", "gtk": "gtk", "appindicator": "appindicator"}
PROBE_TIMEOUT = 2.0

NO_TRAY_SENTENCE = (
    "no system tray is running, so there is no icon yet; notifications still work. "
    "See your usage with `claude-tray watch`, or start a panel with a tray "
    "(GNOME: the 'AppIndicator and KStatusNotifierItem Support' extension); the icon appears when one starts."
)
NO_SESSION_SENTENCE = (
    "No graphical session (no DISPLAY, no WAYLAND_DISPLAY and no StatusNotifierWatcher on the session bus), "
    "so there is no tray to show an icon in; run `claude-tray watch` to see your usage in this terminal."
)


@dataclass(frozen=True)
class Hosts:
    """What is running right now. None = could not be asked (no bus address, no DISPLAY)."""

    sni: bool | None  # an org.kde.StatusNotifierWatcher owns its name on the session bus
    xembed: bool | None  # an XEmbed tray manager owns _NET_SYSTEM_TRAY_S<screen>


@dataclass(frozen=True)
class BackendChoice:
    kind: str  # "sni" | "pystray" | "wait" (for a host to appear) | "none" (no graphical session)
    reason: str  # for the start line and doctor: "StatusNotifierItem via org.kde.StatusNotifierWatcher"
    pystray_backend: str | None = None  # kind "pystray": "xorg", "gtk", ...; None = pystray's own choice

    @property
    def label(self) -> str:
        """A short name: "sni", "xembed", "appindicator", "pystray", "wait", "none"."""
        if self.kind != "pystray":
            return self.kind
        return {"xorg": "xembed"}.get(self.pystray_backend or "", self.pystray_backend or "pystray")


def is_linux_like(platform: str) -> bool:
    return platform not in ("darwin", "win32", "cygwin")


def choose_backend(environ: Mapping[str, str], platform: str, hosts: Callable[[], Hosts]) -> BackendChoice:
    """The backend to start now. `hosts` is only called when the answer depends on it."""
    forced = (environ.get(BACKEND_VARIABLE) or "").strip().lower()
    ignored = ""
    if forced in FORCEABLE:
        if FORCEABLE[forced] is None:
            return BackendChoice("sni", f"StatusNotifierItem ({BACKEND_VARIABLE}=sni)")
        return BackendChoice("pystray", f"pystray {FORCEABLE[forced]} ({BACKEND_VARIABLE}={forced})", FORCEABLE[forced])
    if forced:
        ignored = f" ({BACKEND_VARIABLE}={forced} ignored: expected one of {', '.join(FORCEABLE)})"
    pystray_forced = environ.get("PYSTRAY_BACKEND")
    if pystray_forced:
        return BackendChoice("pystray", f"pystray {pystray_forced} (PYSTRAY_BACKEND={pystray_forced}){ignored}",
                             pystray_forced)
    if not is_linux_like(platform):
        native, where = ("darwin", "the menu bar") if platform == "darwin" else ("win32", "the notification area")
        return BackendChoice("pystray", f"pystray {native} ({where}){ignored}", native)
    found = hosts()
    if found.sni:
        return BackendChoice("sni", f"StatusNotifierItem via {SNI_WATCHER}{ignored}")
    display = environ.get("DISPLAY")
    if found.xembed:
        return BackendChoice("pystray", f"XEmbed via the tray manager on {display} (no {SNI_WATCHER} on the "
                             f"session bus; icon only, no menu){ignored}", "xorg")
    if not display and not environ.get("WAYLAND_DISPLAY") and not found.sni:
        return BackendChoice("none", NO_SESSION_SENTENCE)
    return BackendChoice("wait", f"no tray host yet (no {SNI_WATCHER} on the session bus"
                         f"{', no XEmbed tray on ' + display if display else ''}); waiting for one{ignored}")


# ----------------------------------------------------------------------------- probes


def sni_watcher_owned(address: str) -> bool:
    """Whether org.kde.StatusNotifierWatcher has an owner on the bus at `address` (raises if unreachable)."""
    from jeepney import DBusAddress, new_method_call
    from jeepney.io.blocking import open_dbus_connection

    bus = DBusAddress("/org/freedesktop/DBus", bus_name="org.freedesktop.DBus", interface="org.freedesktop.DBus")
    with open_dbus_connection(bus=address, auth_timeout=PROBE_TIMEOUT) as connection:
        reply = connection.send_and_get_reply(new_method_call(bus, "NameHasOwner", "s", (SNI_WATCHER,)),
                                              timeout=PROBE_TIMEOUT)
        return bool(reply.body and reply.body[0])


def xembed_tray_owned(display: str) -> bool:
    """Whether an XEmbed tray host owns `_NET_SYSTEM_TRAY_S<screen>` on `display` (raises if no X)."""
    from Xlib import X
    from Xlib import display as xdisplay

    connection = xdisplay.Display(display)
    try:
        atom = connection.intern_atom(f"_NET_SYSTEM_TRAY_S{connection.get_default_screen()}")
        return connection.get_selection_owner(atom) != X.NONE
    finally:
        connection.close()


def find_hosts(environ: Mapping[str, str], sni_probe: Callable[[str], bool] = sni_watcher_owned,
               xembed_probe: Callable[[str], bool] = xembed_tray_owned) -> Hosts:
    """Ask the session bus first (no X library loaded when a watcher answers), then X."""
    sni = _ask(sni_probe, environ.get("DBUS_SESSION_BUS_ADDRESS"))
    if sni:
        return Hosts(sni=True, xembed=None)
    return Hosts(sni=sni, xembed=_ask(xembed_probe, environ.get("DISPLAY")))


def _ask(probe: Callable[[str], bool], where: str | None) -> bool | None:
    if not where:
        return None
    try:
        return bool(probe(where))
    except Exception:  # jeepney: OSError, ValueError, TimeoutError; Xlib: its own error types
        return None
