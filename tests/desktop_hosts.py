"""Real StatusNotifierItem hosts for tests, each on its own private bus, started once per test module:

- `xfce_host`: xfce4-panel 4.18's systray plugin (its own StatusNotifierWatcher) under Xvfb.
- `sway_host`: waybar's tray module (its own watcher) in a headless sway: a real Wayland session.
- `lxqt_host`: lxqt-panel 1.2's statusnotifier plugin (Qt, libdbusmenu-qt; its own watcher) under Xvfb.

Both give an `PanelHost`: `.bus` (the private session bus), `.app_env()` (what an app on that desktop
gets: DISPLAY or WAYLAND_DISPLAY, the bus), `.screenshot()` (PIL RGB), `.move(x, y)` / `.click(x, y,
button)` (a real pointer), `.restart()` (the panel crashing and coming back), `.run_as` (the user an
app there must run as). Every process is started here and stopped by its PID in a finally.

Traps these rigs handle (see the notes at the top of each fixture):
- xfce4-panel reads its layout from xfconfd. We start xfconfd ourselves on the private bus (which
  activates nothing) with XDG_CONFIG_HOME pointing at a panel file of ours; otherwise the panel reads
  ~/.config and opens its first-start dialog.
- sway 1.7 refuses to run as root ("Unable to drop root"). Under root the whole Wayland chain (sway,
  waybar, the app) runs as `nobody`, with Debian's /usr/bin/python3 and PYTHONPATH at the venv's
  site-packages (a pyenv or /root interpreter is not executable by nobody; when nobody cannot read
  the repo or the venv, `unprivileged_python` copies what is needed into a directory the test owns).
- a headless sway has no pointer: tests/wlptr.py adds a zwlr_virtual_pointer_v1 device.

Icon pixels: `find_icon(before, after)` finds the item as the difference between the bar before
the item appeared and after, and `match_icon` compares that region with an expected RGBA image
scaled to every plausible slot size, composited over the bar's own background.
"""
from __future__ import annotations

import contextlib
import grp
import io
import os
import pwd
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.desktop_bus import SessionBus, start_session_bus, stop_session_bus
from tests.desktop_x import (
    REPO,
    Started,
    base_env,
    bus_name_has_owner,
    grab,
    missing_programs,
    require,
    start_program,
    start_xvfb,
    stop_process,
    wait_until,
)

WATCHER = "org.kde.StatusNotifierWatcher"
XFCONFD = next(iter(sorted(Path("/usr/lib").glob("*/xfce4/xfconf/xfconfd"))), Path("xfconfd"))
UNPRIVILEGED = "nobody"

XFCE_PANEL_XML = """<?xml version="1.0" encoding="UTF-8"?>
<channel name="xfce4-panel" version="1.0">
  <property name="configver" type="int" value="2"/>
  <property name="panels" type="array">
    <value type="int" value="1"/>
    <property name="panel-1" type="empty">
      <property name="position" type="string" value="p=6;x=0;y=0"/>
      <property name="length" type="uint" value="100"/>
      <property name="position-locked" type="bool" value="true"/>
      <property name="size" type="uint" value="32"/>
      <property name="plugin-ids" type="array"><value type="int" value="1"/></property>
    </property>
  </property>
  <property name="plugins" type="empty">
    <property name="plugin-1" type="string" value="systray"/>
  </property>
</channel>
"""

SWAY_OUTPUT = (800, 600)  # tall enough for the whole menu (forecast lines, Usage history…)
SWAY_CONFIG = f"""output HEADLESS-1 resolution {SWAY_OUTPUT[0]}x{SWAY_OUTPUT[1]} bg #202020 solid_color
default_border none
"""
WAYBAR_CONFIG = """{"layer": "top", "position": "top", "height": 32, "modules-left": ["tray"],
 "tray": {"icon-size": 24, "spacing": 4}}
"""
WAYBAR_CSS = """* { font-family: "DejaVu Sans"; font-size: 13px; }
window#waybar { background: #e0e0e0; }
"""
BAR_HEIGHT = 32  # both panels are 32 px high, at the top of the screen


# ----------------------------------------------------------------------------- running as another user


@dataclass(frozen=True)
class RunAs:
    """How to run the app as another user: that user's interpreter and PYTHONPATH, and Popen's
    user/group arguments (the PID is the program's own: no runuser/sudo wrapper in between)."""

    user: str
    python: str
    pythonpath: str

    @property
    def popen(self) -> dict:
        entry = pwd.getpwnam(self.user)
        return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}

    def give(self, path: Path) -> None:
        """Hand `path` (recursively) to the user."""
        entry = pwd.getpwnam(self.user)
        for root, dirs, files in os.walk(path):
            for name in [root, *(os.path.join(root, n) for n in dirs + files)]:
                os.lchown(name, entry.pw_uid, entry.pw_gid)


def _can_import_as(user: str, python: str, pythonpath: str) -> bool:
    entry = pwd.getpwnam(user)
    code = "import PIL.Image, jeepney, tray_monitor.app"
    try:
        done = subprocess.run([python, "-c", code], env=base_env(PYTHONPATH=pythonpath, HOME="/"),
                              capture_output=True, timeout=60, user=entry.pw_uid, group=entry.pw_gid,
                              extra_groups=[], cwd="/")
    except OSError:
        return False
    return done.returncode == 0


def unprivileged_python(workdir: Path, user: str = UNPRIVILEGED) -> RunAs:
    """Debian's python3 (the venv's own interpreter may live under /root) with the venv's packages
    and this repo on PYTHONPATH. When `user` cannot read them where they are, copy them into
    `workdir`, which the test owns and removes."""
    python = "/usr/bin/python3"
    version = subprocess.run([python, "-c", "import sys; print(sys.version_info[:2])"], capture_output=True,
                             text=True, timeout=30).stdout.strip() if Path(python).exists() else ""
    if version != str(sys.version_info[:2]):
        require([f"{python} with Python {sys.version_info.major}.{sys.version_info.minor} "
                 "(the venv's compiled packages must load in it)"], "running the app as an unprivileged user")
    site = sysconfig.get_paths()["purelib"]
    pythonpath = os.pathsep.join([str(REPO), site])
    if _can_import_as(user, python, pythonpath):
        return RunAs(user, python, pythonpath)
    copy = workdir / "python-path"
    shutil.copytree(REPO / "tray_monitor", copy / "tray_monitor", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(site, copy / "site-packages", symlinks=True,
                    ignore=shutil.ignore_patterns("__pycache__", "PyInstaller", "hypothesis", "_pytest", "pip"))
    pythonpath = os.pathsep.join([str(copy), str(copy / "site-packages")])
    run_as = RunAs(user, python, pythonpath)
    run_as.give(copy)
    if not _can_import_as(user, python, pythonpath):
        raise AssertionError(f"{user} cannot import the app even from a copy in {copy}")
    return run_as


def private_dir(prefix: str, owner: str | None = None) -> Path:
    """A fresh directory under the system temp dir (pytest's tmp_path is 0700 root: another user
    cannot enter it), owned by `owner` when given."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    if owner:
        entry = pwd.getpwnam(owner)
        os.chown(path, entry.pw_uid, grp.getgrgid(entry.pw_gid).gr_gid)
    return path


# ----------------------------------------------------------------------------- the host object


@dataclass
class PanelHost:
    name: str
    workdir: Path
    bus: SessionBus
    desktop_env: dict  # DISPLAY or WAYLAND_DISPLAY/XDG_RUNTIME_DIR of this desktop
    _start: Callable[[], Started]
    _screenshot: Callable[[], object]
    _pointer: Callable[[str], None]
    run_as: RunAs | None = None
    program: Started | None = None
    restarts: int = 0
    extra: dict = field(default_factory=dict)

    def app_env(self) -> dict:
        return {**self.desktop_env, **self.bus.env}

    def watcher_up(self) -> bool:
        return bus_name_has_owner(self.bus.address, WATCHER)

    def start(self) -> None:
        self.program = self._start()
        try:
            wait_until(lambda: self.program.process.poll() is None and self.watcher_up(), 30,
                       f"{self.name} to own {WATCHER}")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.name} log:\n{self.program.log()[-3000:]}") from None

    def stop(self) -> None:
        if self.program is not None:
            stop_process(self.program.process)
            self.program = None
        wait_until(lambda: not self.watcher_up(), 10, f"{WATCHER} to leave with {self.name}")

    def restart(self) -> None:
        """The panel crashing (TERM) and starting again; returns once the new watcher is up."""
        self.stop()
        self.restarts += 1
        self.start()

    def screenshot(self):
        return self._screenshot()

    def bar(self):
        """The panel strip at the top of the screen."""
        shot = self.screenshot()
        return shot.crop((0, 0, shot.width, BAR_HEIGHT))

    def move(self, x: int, y: int) -> None:
        self._pointer(f"move {x} {y}")

    def click(self, x: int, y: int, button: int = 1) -> None:
        self._pointer(f"move {x} {y}")
        time.sleep(0.3)  # menus highlight the row under the pointer first (GTK on Wayland needs it)
        self._pointer(f"click {button}")

    def park(self) -> None:
        """The pointer to the bottom right corner: off the bar (grim's pictures show the cursor),
        so no tooltip or hover highlight either."""
        shot = self.screenshot()
        self.move(shot.width - 1, shot.height - 1)

    def log(self) -> str:
        return self.program.log() if self.program else ""


@contextlib.contextmanager
def running(host: PanelHost):
    """The panel started (its watcher up), then stopped (the watcher gone); if anything fails on
    the way (the start, the test, the stop), the panel's process is still stopped by its PID."""
    try:
        host.start()
        yield host
        host.stop()
    finally:
        if host.program is not None:
            stop_process(host.program.process)


# ----------------------------------------------------------------------------- xfce4-panel under Xvfb


def _xdotool(display_env: dict, command: str) -> None:
    words = command.split()
    if words[0] == "move":
        argv = ["xdotool", "mousemove", words[1], words[2]]
    elif words[0] == "click":
        # press and release 0.3 s apart: some panels open the menu on release and close it again
        # when the release comes at once
        argv = ["xdotool", "mousedown", words[1], "sleep", "0.3", "mouseup", words[1]]
    else:
        raise ValueError(command)
    subprocess.run(argv, env=base_env(**display_env), check=True, timeout=10)


@contextlib.contextmanager
def x11_panel(workdir: Path, name: str, argv: list[str], env: dict, helper: tuple[list[str], str] | None = None):
    """A panel under its own 640x400 Xvfb (room for the whole menu under it) on its own bus, as a
    started PanelHost; `helper` = (argv, bus name) of a service the panel needs first, started
    here because the private bus activates nothing. Everything stopped by PID on the way out."""
    started: list[Started] = []
    x = bus = None
    try:
        x = start_xvfb(workdir, "640x400")
        bus = start_session_bus(workdir / "bus")
        if helper is not None:
            started.append(start_program(Path(helper[0][0]).name, helper[0], base_env(**bus.env, **env), workdir))
            wait_until(lambda: bus_name_has_owner(bus.address, helper[1]), 10, f"{helper[1]} on the private bus")

        def start_panel() -> Started:
            return start_program(name, argv, base_env(**x.env, **bus.env, **env), workdir)

        with running(PanelHost(name, workdir, bus, dict(x.env), start_panel, lambda: grab(x),
                               lambda command: _xdotool(x.env, command), extra={"x": x})) as host:
            yield host
    finally:
        for program in reversed(started):
            stop_process(program.process)
        if bus is not None:
            stop_session_bus(bus)
        if x is not None:
            stop_process(x.program.process)


@pytest.fixture(scope="module")
def xfce_host(tmp_path_factory):
    """xfce4-panel with only the systray plugin. It reads its layout from xfconfd, started by us
    with XDG_CONFIG_HOME at our panel file (else: ~/.config and the first-start dialog)."""
    require(missing_programs("Xvfb", "dbus-daemon", "xfce4-panel", "xdotool") +
            ([] if XFCONFD.exists() else ["xfconf"]), "the xfce4-panel tray host")
    workdir = tmp_path_factory.mktemp("xfce")
    config = workdir / "config"
    (config / "xfce4/xfconf/xfce-perchannel-xml").mkdir(parents=True)
    (config / "xfce4/xfconf/xfce-perchannel-xml/xfce4-panel.xml").write_text(XFCE_PANEL_XML)
    xdg = {"HOME": str(workdir), "XDG_CONFIG_HOME": str(config), "XDG_CACHE_HOME": str(workdir / "cache"),
           "XDG_DATA_HOME": str(workdir / "data")}
    with x11_panel(workdir, "xfce4-panel", ["xfce4-panel", "--disable-wm-check"], xdg,
                   helper=([str(XFCONFD)], "org.xfce.Xfconf")) as host:
        yield host


LXQT_PANEL_CONF = """[General]
__userfile__=true
panels=panel1

[panel1]
plugins=statusnotifier
position=Top
panelSize=32
iconSize=22
alignment=-1

[statusnotifier]
type=statusnotifier
"""


@pytest.fixture(scope="module")
def lxqt_host(tmp_path_factory):
    """lxqt-panel with only the statusnotifier plugin. Its menu opens on button release (the
    pointer's click presses and releases 0.3 s apart), and Qt reads the menu's interface from
    Introspect before anything else."""
    require(missing_programs("Xvfb", "dbus-daemon", "lxqt-panel", "xdotool"), "the lxqt-panel tray host")
    workdir = tmp_path_factory.mktemp("lxqt")
    (workdir / "config/lxqt").mkdir(parents=True)
    (workdir / "config/lxqt/panel.conf").write_text(LXQT_PANEL_CONF)
    xdg = {"HOME": str(workdir), "XDG_CONFIG_HOME": str(workdir / "config"), "XDG_CACHE_HOME": str(workdir / "cache"),
           "XDG_DATA_HOME": str(workdir / "data"), "QT_QPA_PLATFORM": "xcb"}
    with x11_panel(workdir, "lxqt-panel", ["lxqt-panel"], xdg) as host:
        yield host


# ----------------------------------------------------------------------------- waybar in headless sway


@pytest.fixture(scope="module")
def sway_host():
    """sway 1.7 on the headless wlroots backend (pixman renderer, one 800x600 output) with waybar's
    tray at the top, a bus of its own and a virtual pointer; as root, all of it runs as `nobody`."""
    require(missing_programs("dbus-daemon", "sway", "swaymsg", "waybar", "grim"), "the waybar tray host in sway")
    user = UNPRIVILEGED if os.getuid() == 0 else None
    workdir = private_dir("claude-tray-sway-", owner=user)
    run_as = unprivileged_python(workdir) if user else None
    who = run_as.popen if run_as else {}
    runtime = workdir / "xdg"
    runtime.mkdir(mode=0o700)
    (workdir / "sway.conf").write_text(SWAY_CONFIG)
    (workdir / "waybar.json").write_text(WAYBAR_CONFIG)
    (workdir / "waybar.css").write_text(WAYBAR_CSS)
    home = workdir / "home"
    home.mkdir()
    if run_as:
        run_as.give(workdir)
    user_env = {"HOME": str(home), "XDG_RUNTIME_DIR": str(runtime), "XDG_CONFIG_HOME": str(home / ".config")}
    started: list[Started] = []
    bus = pointer = None
    try:
        bus = start_session_bus(workdir / "bus")
        sway = start_program(
            "sway", ["sway", "-c", str(workdir / "sway.conf")],
            base_env(**bus.env, **user_env, WLR_BACKENDS="headless", WLR_LIBINPUT_NO_DEVICES="1",
                     WLR_RENDERER="pixman", WLR_HEADLESS_OUTPUTS="1"),
            workdir, cwd=str(workdir), **who)
        started.append(sway)

        def sockets():
            if sway.process.poll() is not None:
                raise AssertionError(f"sway exited: {sway.log()[-2000:]}")
            return sorted(runtime.glob("wayland-?")) and sorted(runtime.glob("sway-ipc.*.sock"))

        wait_until(sockets, 20, "sway's Wayland and IPC sockets")
        # absolute paths: an app keeps its own XDG_RUNTIME_DIR and still finds the session
        desktop = {"WAYLAND_DISPLAY": str(sorted(runtime.glob("wayland-?"))[0]),
                   "SWAYSOCK": str(sorted(runtime.glob("sway-ipc.*.sock"))[0])}

        def start_waybar() -> Started:
            return start_program(
                "waybar", ["waybar", "-c", str(workdir / "waybar.json"), "-s", str(workdir / "waybar.css")],
                base_env(**{**bus.env, **user_env, **desktop}, GDK_BACKEND="wayland"), workdir, cwd=str(workdir), **who)

        pointer = subprocess.Popen(
            [sys.executable, str(REPO / "tests" / "wlptr.py"), *map(str, SWAY_OUTPUT)],
            env=base_env(**desktop), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True)
        answer = pointer.stdout.readline().strip()
        if answer != "ready":
            rest = answer + "\n" + (pointer.stdout.read() if pointer.wait(5) is not None else "")
            raise AssertionError(f"tests/wlptr.py did not create a virtual pointer: {rest}")

        def point(command: str) -> None:
            words = command.split()
            if words[0] == "click":  # X button numbers to Linux input codes (BTN_LEFT, BTN_RIGHT)
                command = f"click {272 if words[1] == '1' else 273}"
            pointer.stdin.write(command + "\n")
            pointer.stdin.flush()
            answer = pointer.stdout.readline().strip()
            if not answer.startswith("done"):
                raise AssertionError(f"virtual pointer: {command!r} -> {answer!r}")
            time.sleep(0.1)

        def shoot():
            from PIL import Image

            png = subprocess.run(["grim", "-"], env=base_env(**desktop), capture_output=True, check=True,
                                 timeout=20).stdout
            return Image.open(io.BytesIO(png)).convert("RGB")

        with running(PanelHost("waybar", workdir, bus, desktop, start_waybar, shoot, point, run_as=run_as,
                               extra={"sway": sway})) as host:
            yield host
    finally:
        if pointer is not None:
            pointer.stdin.close()
            stop_process(pointer)
            pointer.stdout.close()
        for program in reversed(started):
            stop_process(program.process)
        if bus is not None:
            stop_session_bus(bus)
        shutil.rmtree(workdir, ignore_errors=True)


# ----------------------------------------------------------------------------- gtk-sni-tray-standalone


@pytest.fixture
def gtk_host(sni_tray, session_bus, xvfb, desktop_workdir):
    """The session's gtk-sni-tray-standalone (tests/desktop_x.py `sni_tray`, bar at the bottom) seen
    as an PanelHost, for checks written for every host (screenshots, the bus); no restart here."""

    def no_restart() -> Started:
        raise AssertionError("gtk_host does not restart the session's gtk-sni-tray-standalone")

    return PanelHost("gtk-sni-tray", desktop_workdir, session_bus, dict(xvfb.env), no_restart, lambda: grab(xvfb),
                   lambda command: _xdotool(xvfb.env, command))


# ----------------------------------------------------------------------------- finding and matching the icon


def find_icon(before, after, threshold: int = 24) -> tuple[int, int, int, int] | None:
    """The bounding box (left, top, right, bottom) of what changed between two pictures of the bar."""
    from PIL import ImageChops

    mask = ImageChops.difference(before, after).convert("L").point(lambda v: 255 if v > threshold else 0)
    return mask.getbbox()


_FILTERS = ("BILINEAR", "LANCZOS", "BICUBIC", "BOX")


def match_icon(shot, before, box, expected, slack: int = 4) -> dict:
    """How close the screen region around `box` is to `expected` (RGBA) scaled to a slot of side s,
    for s from the box's larger side to that plus `slack` (the icon's transparent margin does not
    differ from the bar), at every offset that covers the box, with several scaling filters.
    Returns the best {mad, size, left, top, filter}; mad = mean absolute RGB difference (0..255)."""
    from PIL import Image

    from tests.desktop_x import mean_abs_diff

    left, top, right, bottom = box
    side = max(right - left, bottom - top)
    best: dict = {"mad": 1e9}
    for size in range(side, side + slack + 1):
        scaled = {f: expected.resize((size, size), getattr(Image, f)) for f in _FILTERS}
        for x0 in range(max(0, right - size), left + 1):
            for y0 in range(max(0, bottom - size), top + 1):
                region = (x0, y0, x0 + size, y0 + size)
                if region[2] > shot.width or region[3] > shot.height:
                    continue
                seen = shot.crop(region)
                for name, image in scaled.items():
                    drawn = before.crop(region).convert("RGBA")
                    drawn.alpha_composite(image)
                    mad = mean_abs_diff(seen, drawn)
                    if mad < best["mad"]:
                        best = {"mad": round(mad, 2), "size": size, "left": x0, "top": y0, "filter": name}
    return best

