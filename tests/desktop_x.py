"""Real X desktop pieces for tests: Xvfb, an XEmbed tray host (trayer), a StatusNotifierItem host
(gtk-sni-tray-standalone) and a runner for the app under test, plus helpers to look at them.

Everything is started per test session, on a display Xvfb picks itself (-displayfd: other jobs
share this machine) and stopped by PID in a finally. Nothing here touches os.environ: each
subprocess gets its environment explicitly, and helpers take the display / bus address.

Missing tools skip the test with the reason; CLAUDE_TRAY_REQUIRE_DESKTOP=1 (set by .ci/run and
tests/run.sh when the packages are installed) turns those skips into failures.

The private session bus comes from tests/desktop_bus.py (`session_bus`: `.address`, `.env`).
"""
from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "tests" / "artifacts"
REQUIRE_DESKTOP = "CLAUDE_TRAY_REQUIRE_DESKTOP"
TRAY_HEIGHT = 64  # trayer's height in px: icons get a slot of about this size


# ----------------------------------------------------------------------------- skip or fail


def require(missing: list[str], what: str) -> None:
    """Skip (or, in CI, fail) when the pieces a desktop test needs are not installed."""
    if not missing:
        return
    reason = f"{what} needs {', '.join(missing)} (Debian: see tests/run.sh)"
    if os.environ.get(REQUIRE_DESKTOP) == "1":
        pytest.fail(f"{reason}; {REQUIRE_DESKTOP}=1 makes this a failure")
    pytest.skip(reason)


def missing_programs(*names: str) -> list[str]:
    return [name for name in names if shutil.which(name) is None]


def python_can(code: str) -> bool:
    """Whether the test's interpreter can run `code` (e.g. import gi and the AppIndicator typelib)."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60).returncode == 0


def wait_until(predicate: Callable[[], object], timeout: float, what: str, interval: float = 0.05):
    """Poll `predicate` until it returns something truthy; fail naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            result = predicate()
            if result:
                return result
        except Exception as exc:  # a window that vanished mid-walk, a bus not up yet
            last_error = exc
        if time.monotonic() > deadline:
            detail = f" (last error: {last_error!r})" if last_error else ""
            raise AssertionError(f"timed out after {timeout}s waiting for {what}{detail}")
        time.sleep(interval)


# ----------------------------------------------------------------------------- processes


def stop_process(process: subprocess.Popen, timeout: float = 5.0) -> int | None:
    """TERM, then KILL after `timeout`; always reaps. By PID only, never by name."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)
    return process.returncode


@dataclass
class Started:
    """A background program started by a fixture."""

    name: str
    process: subprocess.Popen
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def start_program(name: str, argv: list[str], env: dict, workdir: Path, **popen) -> Started:
    log_path = workdir / f"{name}.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, **popen)
    return Started(name, process, log_path)


def base_env(**extra: str) -> dict:
    """A child environment without the real user's display, bus or Claude login."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "DBUS_SESSION_BUS_ADDRESS", "XAUTHORITY",
                        "CLAUDE_CODE_OAUTH_TOKEN", "CLAUDE_CONFIG_DIR", "PYSTRAY_BACKEND")}
    env["NO_AT_BRIDGE"] = "1"  # GTK programs would otherwise spawn an accessibility bus
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    env.update(extra)
    return env


# ----------------------------------------------------------------------------- X server


@dataclass
class XServer:
    display: str  # ":N", chosen by Xvfb
    program: Started
    workdir: Path

    @property
    def env(self) -> dict:
        return {"DISPLAY": self.display}

    def connect(self):
        from Xlib import display

        return display.Display(self.display)


def start_xvfb(workdir: Path, screen: str = "640x300") -> XServer:
    read_fd, write_fd = os.pipe()
    try:
        program = start_program(
            "xvfb",
            ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", f"{screen}x24", "-nolisten", "tcp", "-noreset"],
            base_env(), workdir, pass_fds=(write_fd,),
        )
        os.close(write_fd)
        write_fd = -1
        number = b""
        deadline = time.monotonic() + 15
        while not number.endswith(b"\n"):
            ready, _, _ = select.select([read_fd], [], [], max(0.0, deadline - time.monotonic()))
            chunk = os.read(read_fd, 16) if ready else b""
            if not chunk:
                stop_process(program.process)
                raise AssertionError(f"Xvfb did not report a display number: {program.log()}")
            number += chunk
    finally:
        os.close(read_fd)
        if write_fd >= 0:
            os.close(write_fd)
    return XServer(f":{int(number)}", program, workdir)


def tray_selection_owned(x: XServer) -> bool:
    from Xlib import X

    connection = x.connect()
    try:
        atom = connection.intern_atom(f"_NET_SYSTEM_TRAY_S{connection.get_default_screen()}")
        return connection.get_selection_owner(atom) != X.NONE
    finally:
        connection.close()


def start_trayer(x: XServer, workdir: Path) -> Started:
    program = start_program(
        "trayer",
        ["trayer", "--edge", "top", "--align", "left", "--widthtype", "pixel", "--width", "200",
         "--height", str(TRAY_HEIGHT), "--tint", "0x336699", "--transparent", "true", "--alpha", "0"],
        base_env(**x.env), workdir,
    )
    try:
        wait_until(lambda: tray_selection_owned(x), 10, "trayer to own _NET_SYSTEM_TRAY_S0")
    except AssertionError:
        stop_process(program.process)
        raise
    return program


@pytest.fixture(scope="session")
def desktop_workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("desktop")


@pytest.fixture(scope="session")
def xvfb(desktop_workdir) -> XServer:
    require(missing_programs("Xvfb"), "a virtual X screen")
    server = start_xvfb(desktop_workdir)
    try:
        yield server
    finally:
        stop_process(server.program.process)


@dataclass
class XembedTray:
    """The running tray host; `restart()` replaces it (a panel that crashed or logged in late)."""

    x: XServer
    workdir: Path
    program: Started | None = None

    def start(self) -> None:
        self.program = start_trayer(self.x, self.workdir)

    def stop(self) -> None:
        if self.program is not None:
            stop_process(self.program.process)
            self.program = None
        wait_until(lambda: not tray_selection_owned(self.x), 5, "the tray selection to be released")

    def restart(self) -> None:
        self.stop()
        self.start()


@pytest.fixture(scope="session")
def xembed_tray(xvfb, desktop_workdir) -> XembedTray:
    """trayer: a real XEmbed system tray (what pystray's xorg and gtk backends dock into)."""
    require(missing_programs("trayer"), "an XEmbed tray host")
    tray = XembedTray(xvfb, desktop_workdir)
    tray.start()
    try:
        yield tray
    finally:
        if tray.program is not None:
            stop_process(tray.program.process)


# ----------------------------------------------------------------------------- SNI host


def require_appindicator() -> None:
    """pystray's appindicator backend needs PyGObject and the AyatanaAppIndicator typelib in the
    venv; our own SNI backend (tray/sni.py) needs neither."""
    if not python_can("import gi; gi.require_version('Gtk', '3.0'); "
                      "gi.require_version('AyatanaAppIndicator3', '0.1')"):
        require(["PyGObject in the venv with gir1.2-gtk-3.0 and gir1.2-ayatanaappindicator3-0.1"],
                "the appindicator backend")


WATCHER = "org.kde.StatusNotifierWatcher"


@dataclass
class SniHost:
    """gtk-sni-tray-standalone --watcher on the private bus; `restart()` replaces it (a panel restart)."""

    x: XServer
    bus_address: str
    bus_env: dict
    workdir: Path
    program: Started | None = None
    size: int = 48

    def start(self, attempts: int = 3) -> None:
        """Once in a while (seen once in a few test runs) gtk-sni-tray-standalone 0.1.8 starts but
        never takes the watcher name: a second start then works. That is the host, not the item.
        It can also take the watcher name and then exit ("Pattern match failure in do expression at
        app/Main.hs:177": its `Just host <- Host.build` found the host registration failing, once in
        about 15 starts here): so the host counts as up once the watcher says a host is registered
        and the process still runs; before, a test then met a bus without any watcher."""
        for attempt in range(attempts):
            self.program = start_program(
                "sni-tray",
                ["gtk-sni-tray-standalone", "--watcher", "--bottom", "--beginning", "--size", str(self.size),
                 "--color", "#2e7d32"],
                base_env(**self.x.env, **self.bus_env), self.workdir,
            )
            try:
                wait_until(lambda: bus_name_has_owner(self.bus_address, WATCHER) and host_registered(self.bus_address),
                           10, f"gtk-sni-tray-standalone to own {WATCHER} and register as its host")
                time.sleep(0.2)  # the failed registration ends the process right after
                if self.program.process.poll() is not None or not bus_name_has_owner(self.bus_address, WATCHER):
                    raise AssertionError(f"gtk-sni-tray-standalone exited after it started: {self.program.log()[-300:]}")
                return
            except AssertionError:
                self.stop()
                if attempt == attempts - 1:
                    raise

    def stop(self) -> None:
        if self.program is not None:
            stop_process(self.program.process)
            self.program = None
        wait_until(lambda: not bus_name_has_owner(self.bus_address, WATCHER), 5, f"{WATCHER} to be released")

    def restart(self) -> None:
        self.stop()
        self.start()


@pytest.fixture(scope="session")
def sni_tray(xvfb, session_bus, desktop_workdir) -> SniHost:
    """gtk-sni-tray-standalone --watcher: a real StatusNotifierItem host and watcher (what KDE,
    GNOME's AppIndicator extension, XFCE and Wayland bars speak), on the private bus."""
    require(missing_programs("gtk-sni-tray-standalone"), "a StatusNotifierItem host")
    host = SniHost(xvfb, session_bus.address, session_bus.env, desktop_workdir)
    host.start()
    try:
        yield host
    finally:
        if host.program is not None:
            stop_process(host.program.process)


# ----------------------------------------------------------------------------- the app under test


@dataclass
class App:
    """A program under test started with a status file it appends event lines to."""

    program: Started
    status_path: Path
    stdin_lines: list[str] = field(default_factory=list)

    @property
    def process(self) -> subprocess.Popen:
        return self.program.process

    def events(self) -> list[str]:
        return self.status_path.read_text().splitlines() if self.status_path.exists() else []

    def wait_for_event(self, prefix: str, timeout: float = 10) -> str:
        def found():
            if self.process.poll() is not None and not any(e.startswith(prefix) for e in self.events()):
                raise AssertionError(f"app exited ({self.process.returncode}); log:\n{self.program.log()}")
            return next((e for e in reversed(self.events()) if e.startswith(prefix)), None)

        try:
            return wait_until(found, timeout, f"event {prefix!r}")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\nevents: {self.events()}\nlog:\n{self.program.log()}") from None

    def send(self, line: str) -> None:
        self.stdin_lines.append(line)
        self.process.stdin.write((line + "\n").encode())
        self.process.stdin.flush()

    def wait_exit(self, timeout: float = 15) -> int:
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.send_signal(signal.SIGUSR1)  # faulthandler: dump all stacks to the log
            time.sleep(0.5)
            raise AssertionError(f"app did not exit within {timeout}s; log:\n{self.program.log()}") from None

    def log(self) -> str:
        return self.program.log()


@pytest.fixture
def start_app(desktop_workdir, request):
    """Factory: start_app(argv, env) -> App. The app's env gets CLAUDE_TRAY_TEST_STATUS (the status
    file path) so any command can report events; every app is stopped by PID after the test."""
    apps: list[App] = []

    def start(argv: list[str], env: dict, name: str | None = None) -> App:
        name = name or f"{request.node.name}-{len(apps)}"
        workdir = desktop_workdir / "apps"
        workdir.mkdir(exist_ok=True)
        status_path = workdir / f"{name}.status"
        status_path.unlink(missing_ok=True)
        env = {**env, "CLAUDE_TRAY_TEST_STATUS": str(status_path)}
        program = _start_with_stdin(name, argv, env, workdir)
        app = App(program, status_path)
        apps.append(app)
        return app

    try:
        yield start
    finally:
        for app in apps:
            try:
                app.process.stdin.close()
            except OSError:
                pass
            stop_process(app.process, timeout=10)


def _start_with_stdin(name: str, argv: list, env: dict, workdir: Path, **popen) -> Started:
    log_path = workdir / f"{name}.log"
    popen.setdefault("cwd", REPO if not popen.get("user") else workdir)
    with log_path.open("ab") as log:
        process = subprocess.Popen([str(a) for a in argv], env=env, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.PIPE, **popen)
    return Started(name, process, log_path)


def tray_driver_argv(*extra: str) -> list[str]:
    """tests/tray_driver.py, which writes its events to $CLAUDE_TRAY_TEST_STATUS."""
    return [sys.executable, str(REPO / "tests" / "tray_driver.py"), *extra]


# ----------------------------------------------------------------------------- XEmbed helpers


@dataclass(frozen=True)
class TrayIconWindow:
    window: int
    parent: int
    docked: bool  # reparented away from the root window
    viewable: bool
    x: int
    y: int
    width: int
    height: int
    title: str | None


def _walk(window):
    yield window
    try:
        children = window.query_tree().children
    except Exception:  # windows come and go while we walk (tray sockets, popups)
        return
    for child in children:
        yield from _walk(child)


def find_tray_icon(x: XServer, app_name: str) -> TrayIconWindow | None:
    """pystray's xorg window carries WM_CLASS "<name>SystemTrayIcon"."""
    from Xlib import X

    connection = x.connect()
    try:
        root = connection.screen().root
        for window in _walk(root):
            try:
                wm_class = window.get_wm_class()
                if not wm_class or wm_class[0] != f"{app_name}SystemTrayIcon":
                    continue
                geometry = window.get_geometry()
                origin = root.translate_coords(window, 0, 0)
                parent = window.query_tree().parent
                return TrayIconWindow(
                    window=window.id, parent=parent.id, docked=parent.id != root.id,
                    viewable=window.get_attributes().map_state == X.IsViewable,
                    x=origin.x, y=origin.y, width=geometry.width, height=geometry.height,
                    title=window.get_wm_name(),
                )
            except Exception:
                continue
        return None
    finally:
        connection.close()


def wait_docked(x: XServer, app_name: str, timeout: float = 10) -> TrayIconWindow:
    def docked():
        found = find_tray_icon(x, app_name)
        return found if found and found.docked and found.viewable else None

    return wait_until(docked, timeout, f"{app_name}'s icon to dock in the tray")


def grab(x: XServer, left: int = 0, top: int = 0, width: int | None = None, height: int | None = None):
    """The screen's pixels (RGB) from the X server itself."""
    from PIL import Image
    from Xlib import X

    connection = x.connect()
    try:
        root = connection.screen().root
        geometry = root.get_geometry()
        width, height = width or geometry.width, height or geometry.height
        raw = root.get_image(left, top, width, height, X.ZPixmap, 0xFFFFFFFF)
        return Image.frombytes("RGB", (width, height), raw.data, "raw", "BGRX")
    finally:
        connection.close()


def grab_icon(x: XServer, icon: TrayIconWindow):
    return grab(x, icon.x, icon.y, icon.width, icon.height)


def as_xorg_shows(image, width: int, height: int):
    """What pystray's xorg backend puts on screen: the image resized with LANCZOS and pasted onto
    an RGB canvas (alpha dropped)."""
    from PIL import Image

    canvas = Image.new("RGB", (width, height))
    canvas.paste(image.resize((width, height), Image.LANCZOS))
    return canvas


def mean_abs_diff(a, b) -> float:
    """Mean absolute difference over R, G and B (0 = identical). RGB on purpose: a difference of
    RGBA images' getbbox() would look at alpha only."""
    from PIL import ImageChops, ImageStat

    return sum(ImageStat.Stat(ImageChops.difference(a.convert("RGB"), b.convert("RGB"))).mean) / 3


#: Mean abs diff (0..255) below which the screen shows exactly our rendering, and the margin by which
#: a neighbouring rendering must be further away (78 vs 79 at 24 px differ by about 0.9 in a 24 x 62 slot).
MATCH = 0.5
NEIGHBOUR_GAP = 0.5


def xorg_expected(spec, width: int, height: int):
    """`spec`'s icon as it reaches the screen on pystray's xorg backend: the adapter draws it opaque
    at the slot's short side and centres it in the slot; pystray pastes it onto an RGB canvas."""
    from tray_monitor.icon import render_icon
    from tray_monitor.tray.xembed import fit_to_slot

    drawn = fit_to_slot(render_icon(spec, size=min(width, height), opaque=True), width, height)
    return as_xorg_shows(drawn, width, height)


def wait_xorg_shows(x: XServer, app_name: str, spec, neighbour, timeout: float = 10):
    """Wait until the docked icon's pixels are the rendering of `spec` and clearly not that of
    `neighbour` (so the comparison can tell the two apart); returns (icon window, pixels)."""
    last: dict = {}

    def shows():
        icon = find_tray_icon(x, app_name)
        if not (icon and icon.docked and icon.viewable):
            return None
        pixels = grab_icon(x, icon)
        diff = mean_abs_diff(pixels, xorg_expected(spec, icon.width, icon.height))
        other = mean_abs_diff(pixels, xorg_expected(neighbour, icon.width, icon.height))
        last.update(icon=icon, diff=diff, neighbour=other)
        return (icon, pixels) if diff < MATCH and other - diff > NEIGHBOUR_GAP else None

    try:
        return wait_until(shows, timeout, f"the tray icon to show {spec}")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; last look: {last}") from None


def screenshot(x: XServer, name: str) -> Path:
    """Save the whole screen to tests/artifacts/<name>.png (look at it)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    grab(x).save(path)
    return path


# ----------------------------------------------------------------------------- SNI helpers (jeepney)


def _call(connection, message):
    reply = connection.send_and_get_reply(message, timeout=5)
    if reply.header.message_type.name == "error":
        raise RuntimeError(f"D-Bus error {reply.header.fields}: {reply.body}")
    return reply.body


def bus_name_has_owner(address: str, name: str) -> bool:
    from jeepney import DBusAddress, new_method_call
    from jeepney.io.blocking import open_dbus_connection

    bus = DBusAddress("/org/freedesktop/DBus", bus_name="org.freedesktop.DBus", interface="org.freedesktop.DBus")
    with open_dbus_connection(bus=address) as connection:
        return bool(_call(connection, new_method_call(bus, "NameHasOwner", "s", (name,)))[0])


def host_registered(address: str) -> bool:
    """The watcher's IsStatusNotifierHostRegistered."""
    from jeepney import DBusAddress, Properties
    from jeepney.io.blocking import open_dbus_connection

    watcher = DBusAddress("/StatusNotifierWatcher", bus_name=WATCHER, interface=WATCHER)
    with open_dbus_connection(bus=address) as connection:
        return bool(_call(connection, Properties(watcher).get("IsStatusNotifierHostRegistered"))[0][1])


def _find_item_path(connection, bus_name: str, path: str = "/") -> str | None:
    """The object path that implements org.kde.StatusNotifierItem (the Haskell watcher registers
    bus names only)."""
    import xml.etree.ElementTree as ElementTree

    from jeepney import DBusAddress, new_method_call

    address = DBusAddress(path, bus_name=bus_name, interface="org.freedesktop.DBus.Introspectable")
    node = ElementTree.fromstring(_call(connection, new_method_call(address, "Introspect"))[0])
    if any(i.get("name") == "org.kde.StatusNotifierItem" for i in node.findall("interface")):
        return path
    for child in node.findall("node"):
        found = _find_item_path(connection, bus_name, path.rstrip("/") + "/" + child.get("name"))
        if found:
            return found
    return None


@dataclass(frozen=True)
class SniItem:
    id: str
    title: str
    status: str
    icon_name: str  # pystray's appindicator backend: the path of the PNG it wrote
    bus_name: str
    menu_path: str
    menu: tuple[tuple[int, str, bool], ...]  # (dbusmenu id, label, visible) of the top level
    checked: dict = field(default_factory=dict)  # label -> dbusmenu toggle-state (1 on, 0 off) of check items
    tooltip_title: str = ""  # ToolTip (icon name, pixmaps, title, text): its title


def sni_items(address: str) -> list[SniItem]:
    from jeepney import DBusAddress, Properties, new_method_call
    from jeepney.io.blocking import open_dbus_connection

    watcher = DBusAddress("/StatusNotifierWatcher", bus_name="org.kde.StatusNotifierWatcher",
                          interface="org.kde.StatusNotifierWatcher")
    items = []
    with open_dbus_connection(bus=address) as connection:
        registered = _call(connection, Properties(watcher).get("RegisteredStatusNotifierItems"))[0][1]
        for entry in registered:
            if "/" in entry and not entry.startswith("/"):
                bus_name, path = entry.split("/", 1)
                bus_name = bus_name.removesuffix("@")  # GNOME's extension lists "name@/path"
                path = "/" + path
            else:
                bus_name, path = entry, _find_item_path(connection, entry)
            if path is None:
                continue
            item = DBusAddress(path, bus_name=bus_name, interface="org.kde.StatusNotifierItem")
            props = {k: v[1] for k, v in _call(connection, Properties(item).get_all())[0].items()}
            menu_entries: tuple = ()
            checked: dict = {}
            if props.get("Menu"):
                menu = DBusAddress(props["Menu"], bus_name=bus_name, interface="com.canonical.dbusmenu")
                _revision, layout = _call(connection, new_method_call(menu, "GetLayout", "iias", (0, -1, [])))
                menu_entries = tuple(
                    (child[1][0], child[1][1].get("label", ("s", ""))[1].replace("_", ""),
                     child[1][1].get("visible", ("b", True))[1])
                    for child in layout[2]
                )
                checked = {
                    child[1][1].get("label", ("s", ""))[1].replace("_", ""): child[1][1]["toggle-state"][1]
                    for child in layout[2] if "toggle-type" in child[1][1] and "toggle-state" in child[1][1]
                }
            items.append(SniItem(
                id=props.get("Id", ""), title=props.get("Title", ""), status=props.get("Status", ""),
                icon_name=props.get("IconName", ""), bus_name=bus_name, menu_path=props.get("Menu", ""),
                menu=menu_entries, checked=checked,
                tooltip_title=props["ToolTip"][2] if len(props.get("ToolTip") or ()) > 2 else "",
            ))
    return items


def sni_item(address: str, item_id: str) -> SniItem | None:
    return next((i for i in sni_items(address) if i.id == item_id), None)


def sni_click(address: str, item_id: str, label: str) -> None:
    """Send dbusmenu Event(id, "clicked"): what a host does when the user picks a menu entry.
    Ids change after every menu update, so the entry is looked up by label each time."""
    from jeepney import DBusAddress, new_method_call
    from jeepney.io.blocking import open_dbus_connection

    item = sni_item(address, item_id)
    if item is None:
        raise AssertionError(f"no StatusNotifierItem {item_id!r}")
    entry_id = next((i for i, text, _visible in item.menu if text == label), None)
    if entry_id is None:
        raise AssertionError(f"menu entry {label!r} not in {[text for _, text, _ in item.menu]}")
    menu = DBusAddress(item.menu_path, bus_name=item.bus_name, interface="com.canonical.dbusmenu")
    with open_dbus_connection(bus=address) as connection:
        _call(connection, new_method_call(menu, "Event", "isvu", (entry_id, "clicked", ("i", 0), 0)))


# ----------------------------------------------------------------------------- our own SNI item (tray/sni.py)

SNI_ITEM_PATH, SNI_MENU_PATH = "/StatusNotifierItem", "/MenuBar"


def sni_bus_name(pid: int) -> str:
    """The bus name tray/sni.py takes: org.kde.StatusNotifierItem-<pid>-1 (see /work/wt/sni-api.md)."""
    return f"org.kde.StatusNotifierItem-{pid}-1"


def sni_call(address: str, bus_name: str, path: str, interface: str, member: str,
             signature: str | None = None, body: tuple = ()):
    """One method call to the item; returns the reply body, raises RuntimeError with the D-Bus error."""
    from jeepney import DBusAddress, new_method_call
    from jeepney.io.blocking import open_dbus_connection

    target = DBusAddress(path, bus_name=bus_name, interface=interface)
    with open_dbus_connection(bus=address) as connection:
        return _call(connection, new_method_call(target, member, signature, body))


def sni_properties(address: str, bus_name: str) -> dict:
    """Every org.kde.StatusNotifierItem property, unwrapped."""
    body = sni_call(address, bus_name, SNI_ITEM_PATH, "org.freedesktop.DBus.Properties", "GetAll", "s",
                    ("org.kde.StatusNotifierItem",))
    return {k: v[1] for k, v in body[0].items()}


def sni_menu_rows(address: str, bus_name: str) -> list[dict]:
    """The menu as a host reads it (GetLayout(0, -1, [])): one dict per row with id, label
    (mnemonic underscores removed), enabled, type, toggle."""
    _revision, root = sni_call(address, bus_name, SNI_MENU_PATH, "com.canonical.dbusmenu", "GetLayout", "iias",
                               (0, -1, []))
    rows = []
    for _signature, (item_id, props, _children) in root[2]:
        value = {k: v[1] for k, v in props.items()}
        rows.append({
            "id": item_id,
            "label": value.get("label", "").replace("__", "\0").replace("_", "").replace("\0", "_"),
            "enabled": value.get("enabled", True),
            "type": value.get("type", "standard"),
            "toggle": value.get("toggle-state") if value.get("toggle-type") == "checkmark" else None,
        })
    return rows


def pixmap_image(width: int, height: int, data: bytes):
    """An IconPixmap entry (ARGB32, network byte order) as an RGBA image."""
    from PIL import Image

    a, r, g, b = Image.frombytes("RGBA", (width, height), bytes(data)).split()
    return Image.merge("RGBA", (r, g, b, a))
