"""MANUAL CHECK, NOT PART OF CI (tests/run.sh does not run it; pytest does not collect it):
claude-tray in KDE Plasma's own system tray, in a headless KWin Wayland session.

Plasma is too heavy for CI (about 370 packages, plasmashell alone 260 MB RSS), so this is run by
hand when the SNI backend or the menu changes. Debian 12 packages beyond the CI ones:

    apt-get install -y --no-install-recommends kwin-wayland plasma-workspace plasma-desktop qtwayland5

(proven with KWin / Plasma 5.27.5, as root)

Run from a checkout with the dev venv:  .venv/bin/python tests/manual/kde_sni_check.py

What it proves, with our app started the way a user starts it (no CLAUDE_TRAY_BACKEND) against the
loopback fake API in a temporary HOME with fake credentials (never the real ~/.claude):
  1. Plasma's StatusNotifierWatcher (kded5's module) registers our item;
  2. the menu read back over D-Bus (GetLayout) equals the app's own menu;
  3. the panel's tray draws our icon: the pixels match render_icon's picture of 78 % (not 87 %);
  4. a right click on it opens Plasma's menu with one row per entry, and "Refresh now" picked
     there sends one request to the server (the icon then shows 91 %);
  5. plasmashell restarting brings the icon back (the watcher stays in kded5: no new registration);
  6. "Quit" picked in Plasma's menu ends the app (exit 0), the icon leaves, the app logged no error.
Screenshots: tests/artifacts/kde-*.png (look at them); logs: tests/artifacts/kde-*.log.

How (the traps, Plasma 5.27 on Debian 12):
- /usr/bin/kwin_wayland carries the file capability cap_sys_resource; where that capability is not
  in the bounding set (containers) exec fails with EPERM ("Operation not permitted"): we run a
  copy of it, which has no capabilities.
- `kwin_wayland --virtual --width 1024 --height 768 --no-lockscreen --no-global-shortcuts`,
  with KWIN_SCREENSHOT_NO_PERMISSION_CHECKS=1 (KWin's ScreenShot2 D-Bus API for anyone) and
  KWIN_WAYLAND_NO_PERMISSION_CHECKS=1 (its org_kde_kwin_fake_input Wayland protocol for our pointer).
- The watcher lives in kded5 (module statusnotifierwatcher), plasmashell needs kactivitymanagerd
  ("Aborting shell load: The activity manager daemon (kactivitymanagerd) is not running"), and Qt
  needs qtwayland5 (else "Could not find the Qt platform plugin wayland"). All on a private
  session bus plus a private "system" bus, started by us (the private buses activate nothing).
- The default layout (plasma-desktop's org.kde.plasma.desktop shell) puts a 44 px panel at the
  bottom with the system tray at its right; a new item is the tray's first (the others move right).
- Figures seen (3 runs): 78 % drawn from our 22 px pixmap, mean difference 0.01 (another percent
  22.3); 91 % (NeedsAttention) 0.01-4.0 depending on the frame (Plasma animates such items),
  another percent 84-88; icon back 2.5 s after the new plasmashell took its name. Nothing to fix:
  Plasma re-reads the whole menu (the labels were right at once, unlike GNOME's extension).
"""
from __future__ import annotations

import argparse
import os
import shutil
import struct
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.desktop_bus import stop_session_bus  # noqa: E402
from tests.desktop_hosts import find_icon  # noqa: E402
from tests.desktop_x import ARTIFACTS, bus_name_has_owner, start_program, stop_process, wait_until  # noqa: E402
from tests.host_checks import APP_ID, menu_rows, no_errors  # noqa: E402
from tests.manual.manual_session import (  # noqa: E402
    SCREEN,
    WATCHER,
    app_world,
    look,
    menu_opened,
    missing,
    quit_from_menu,
    refresh_from_menu,
    report,
    save,
    session_dirs,
    session_env,
    start_app,
    start_buses,
)
from tests.wlptr import Wayland, _string  # noqa: E402

PANEL = 44  # Plasma 5.27's default panel, at the bottom
KAMD = "/usr/lib/x86_64-linux-gnu/libexec/kactivitymanagerd"
BTN_LEFT, BTN_RIGHT = 0x110, 0x111


class FakeInput:
    """org_kde_kwin_fake_input (KWin's own Wayland protocol): absolute pointer motion, buttons."""

    def __init__(self, display: str):
        self.wl = Wayland(display)
        self.wl.request(1, 1, struct.pack("<I", 2))  # get_registry -> 2
        self.wl.request(1, 0, struct.pack("<I", 3))  # sync -> 3
        names: dict[str, tuple[int, int]] = {}
        for obj, opcode, body in self.wl.events():
            if obj == 2 and opcode == 0:
                name, length = struct.unpack_from("<II", body)
                interface = body[8:8 + length - 1].decode()
                names[interface] = (name, struct.unpack_from("<I", body, 8 + ((length + 3) & ~3))[0])
            elif obj == 3:
                break
        if "org_kde_kwin_fake_input" not in names:
            raise AssertionError("KWin offers no org_kde_kwin_fake_input (KWIN_WAYLAND_NO_PERMISSION_CHECKS=1?)")
        name, version = names["org_kde_kwin_fake_input"]
        self.wl.request(2, 0, struct.pack("<I", name) + _string("org_kde_kwin_fake_input")
                        + struct.pack("<II", min(version, 4), 4))
        self.wl.request(4, 0, _string("claude-tray manual check") + _string("moves the pointer"))  # authenticate

    def move(self, x: float, y: float) -> None:
        self.wl.request(4, 9, struct.pack("<ii", int(x * 256), int(y * 256)))  # pointer_motion_absolute
        time.sleep(0.2)

    def click(self, x: float, y: float, button: int = BTN_LEFT) -> None:
        self.move(x, y)
        time.sleep(0.2)
        for state in (1, 0):
            self.wl.request(4, 2, struct.pack("<II", button, state))
            time.sleep(0.3)

    def park(self) -> None:
        self.move(SCREEN[0] // 2, SCREEN[1] // 3)

    def close(self) -> None:
        self.wl.sock.close()


def screenshot(address: str):
    """The whole screen through KWin's org.kde.KWin.ScreenShot2 (raw pixels written to a pipe)."""
    from jeepney import DBusAddress, new_method_call
    from jeepney.io.blocking import open_dbus_connection
    from PIL import Image

    read, write = os.pipe()
    chunks: list[bytes] = []

    def reader() -> None:
        with os.fdopen(read, "rb") as pipe:
            chunks.append(pipe.read())

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        with open_dbus_connection(bus=address, enable_fds=True) as connection:
            shot = DBusAddress("/org/kde/KWin/ScreenShot2", "org.kde.KWin.ScreenShot2", "org.kde.KWin.ScreenShot2")
            reply = connection.send_and_get_reply(new_method_call(
                shot, "CaptureArea", "iiuua{sv}h", (0, 0, *SCREEN, {}, write)), timeout=20)
    finally:
        os.close(write)
        thread.join(20)
    if reply.header.message_type.name != "method_return":
        raise AssertionError(f"ScreenShot2: {reply.body}")
    info = {k: v[1] for k, v in reply.body[0].items()}
    image = Image.frombuffer("RGBA", (info["width"], info["height"]), chunks[0], "raw", "BGRA", info["stride"], 1)
    return image.convert("RGB")


def tray_part(shot):
    """The panel right of the task bar, left of the clock (the clock changes each minute)."""
    return shot.crop((SCREEN[0] // 2, SCREEN[1] - PANEL, SCREEN[0] - 170, SCREEN[1]))


TRAY_LEFT = SCREEN[0] // 2


def tray(address: str, empty, percent: float, neighbour: float, timeout: float = 10) -> dict:
    """Wait until the tray shows render_icon's picture of `percent` (and not of `neighbour`)."""
    from PIL import Image

    def grab():
        shot = screenshot(address)
        return shot, tray_part(shot)

    def locate(part):
        changed = find_icon(empty, part)
        if changed is None:
            return None
        # a new item is the tray's first: the others move right, so what changed reaches further;
        # ours is the square at its left, over the panel's plain background
        side = changed[3] - changed[1]
        box = (changed[0], changed[1], changed[0] + side, changed[3])
        return box, Image.new("RGB", part.size, empty.getpixel((max(0, changed[0] - 3), changed[1])))

    return look(grab, locate, percent, neighbour, "the tray", timeout, interval=0.3)


def rows_of(closed, opened) -> tuple[int, list[int]]:
    """The open menu's text rows (x, [y]) above the bottom panel: both pictures turned upside down
    so the panel is at the top, as tests/host_checks.menu_rows expects."""
    from PIL import Image

    def flipped(image):
        return image.transpose(Image.Transpose.FLIP_TOP_BOTTOM).crop((0, PANEL, *SCREEN))

    x, rows = menu_rows(flipped(closed), flipped(opened), 0)
    return x, sorted(SCREEN[1] - 1 - PANEL - y for y in rows)


def check(address: str, pointer: FakeInput, desktop: dict, workdir: Path, saw: dict, restart_plasma) -> None:
    pointer.park()
    time.sleep(0.5)
    empty = tray_part(screenshot(address))
    with app_world(workdir, address, desktop, "kde-app.log") as (api, world):
        app, props, _layout, shown = start_app(world, address, saw, "Plasma's watcher")
        saw["registered"] = props["item"].bus_name

        seen = tray(address, empty, 78.0, 87.0)
        saw["icon 78%"] = {k: seen[k] for k in ("mad", "neighbour_mad", "size", "source", "filter", "box")}
        saw["screenshot 78%"] = str(save(seen["shot"], "kde-panel-78"))
        box = seen["box"]
        centre = (TRAY_LEFT + (box[0] + box[2]) // 2, SCREEN[1] - PANEL + (box[1] + box[3]) // 2)

        def opened_menu(closed):
            return menu_opened(lambda: screenshot(address), closed, (0, 0, SCREEN[0], SCREEN[1] - PANEL))

        closed = screenshot(address)
        pointer.click(*centre, button=BTN_RIGHT)
        opened = wait_until(opened_menu(closed), 5, "Plasma's menu to open")
        time.sleep(0.5)  # Plasma fades its menus in
        opened = screenshot(address)
        saw["screenshot menu"] = str(save(opened, "kde-menu"))
        x, rows = rows_of(closed, opened)
        saw["menu rows on screen"] = len(rows)
        assert len(rows) == len(shown), (rows, shown)
        refresh_from_menu(api, world, lambda: pointer.click(x, rows[shown.index("Refresh now")]))
        pointer.park()
        seen = tray(address, empty, 91.0, 78.0)
        saw["icon 91%"] = {k: seen[k] for k in ("mad", "neighbour_mad", "size", "source", "filter")}
        saw["screenshot 91%"] = str(save(seen["shot"], "kde-panel-91"))

        restart_plasma()
        started = time.monotonic()
        seen = tray(address, empty, 91.0, 78.0, timeout=60)
        saw["icon back after the new plasmashell took its D-Bus name (s; its panel loads meanwhile)"] = round(
            time.monotonic() - started, 1)
        box = seen["box"]
        centre = (TRAY_LEFT + (box[0] + box[2]) // 2, SCREEN[1] - PANEL + (box[1] + box[3]) // 2)

        closed = screenshot(address)
        pointer.click(*centre, button=BTN_RIGHT)
        wait_until(opened_menu(closed), 5, "Plasma's menu to open again")
        time.sleep(0.5)
        x, rows = rows_of(closed, screenshot(address))
        assert len(rows) == len(shown), (rows, shown)
        code = quit_from_menu(app, address, lambda: pointer.click(x, rows[shown.index("Quit")]))
        pointer.park()
        wait_until(lambda: find_icon(empty, tray_part(screenshot(address))) is None, 10,
                   "the icon to leave the tray")
        from tests.desktop_x import sni_item

        assert sni_item(address, APP_ID) is None
        no_errors(world, app)
        saw["app exit"] = code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.parse_args(argv)
    if missing(("kwin_wayland", "plasmashell", "kded5", "dbus-daemon"), KAMD,
               "kwin-wayland plasma-workspace plasma-desktop qtwayland5"):
        return 2
    workdir, runtime = session_dirs("claude-tray-kde-")
    kwin = workdir / "kwin_wayland"
    shutil.copy(shutil.which("kwin_wayland") or "", kwin)  # a copy has no file capabilities
    started = []
    bus = system = pointer = None
    plasma: dict = {}
    saw: dict = {}
    ok = False
    try:
        bus, system = start_buses(workdir)
        display = str(runtime / "wayland-kde")
        env = session_env(bus, system, runtime, workdir, XDG_CURRENT_DESKTOP="KDE", KDE_FULL_SESSION="true",
                          KDE_SESSION_VERSION="5", KWIN_SCREENSHOT_NO_PERMISSION_CHECKS="1",
                          KWIN_WAYLAND_NO_PERMISSION_CHECKS="1")
        started.append(start_program("kwin", [str(kwin), "--virtual", "--width", str(SCREEN[0]), "--height",
                                              str(SCREEN[1]), "--no-lockscreen", "--no-global-shortcuts",
                                              "--socket", "wayland-kde"], env, workdir, cwd=str(workdir)))
        wait_until(lambda: Path(display).exists() and bus_name_has_owner(bus.address, "org.kde.KWin"), 60, "KWin")
        qt = {**env, "WAYLAND_DISPLAY": display, "QT_QPA_PLATFORM": "wayland"}
        started.append(start_program("kded5", ["kded5"], qt, workdir, cwd=str(workdir)))
        started.append(start_program("kactivitymanagerd", [KAMD], qt, workdir, cwd=str(workdir)))
        wait_until(lambda: bus_name_has_owner(bus.address, WATCHER)
                   and bus_name_has_owner(bus.address, "org.kde.ActivityManager"), 60,
                   "kded5's StatusNotifierWatcher and kactivitymanagerd")

        def start_plasma() -> None:
            plasma["program"] = start_program("plasmashell", ["plasmashell", "--no-respawn"], qt, workdir,
                                              cwd=str(workdir))
            wait_until(lambda: bus_name_has_owner(bus.address, "org.kde.plasmashell"), 60, "plasmashell")

        def restart_plasma() -> None:
            stop_process(plasma["program"].process)
            start_plasma()

        start_plasma()
        time.sleep(8)  # the panel and its tray load after the name (QML)
        pointer = FakeInput(display)
        check(bus.address, pointer, {"WAYLAND_DISPLAY": display}, workdir, saw, restart_plasma)
        ok = True
    except AssertionError as exc:
        saw["FAILED"] = str(exc)[-4000:]
        if bus is not None:
            try:
                saw["screenshot at failure"] = str(save(screenshot(bus.address), "kde-failure"))
            except Exception as shot_error:  # the failure may be that KWin is gone
                saw["screenshot at failure"] = repr(shot_error)
    finally:
        if pointer is not None:
            pointer.close()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        for program in [plasma.get("program"), *reversed(started)]:
            if program is not None:
                stop_process(program.process)
                (ARTIFACTS / f"kde-{program.name}.log").write_text(program.log())
        for b in (system, bus):
            if b is not None:
                stop_session_bus(b)
        shutil.rmtree(workdir, ignore_errors=True)
    return report(["kwin-wayland", "plasma-workspace", "plasma-desktop"], saw, ok)


if __name__ == "__main__":
    sys.exit(main())
