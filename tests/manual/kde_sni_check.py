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

from tests.apprun import ClaudeTrayWorld  # noqa: E402
from tests.desktop_bus import start_session_bus, stop_session_bus  # noqa: E402
from tests.desktop_hosts import find_icon, match_icon, private_dir  # noqa: E402
from tests.desktop_x import (  # noqa: E402
    ARTIFACTS,
    base_env,
    bus_name_has_owner,
    start_program,
    stop_process,
    wait_until,
)
from tests.fakeapi import FakeApi  # noqa: E402
from tests.host_checks import (  # noqa: E402
    APP_ID,
    QUIT,
    argb_of,
    item_props,
    menu_event,
    menu_layout,
    menu_rows,
    no_errors,
    spec_for,
    usage,
    usage_requests,
)
from tests.wlptr import Wayland, _string  # noqa: E402

SCREEN = (1024, 768)
PANEL = 44  # Plasma 5.27's default panel, at the bottom
WATCHER = "org.kde.StatusNotifierWatcher"
KAMD = "/usr/lib/x86_64-linux-gnu/libexec/kactivitymanagerd"
BTN_LEFT, BTN_RIGHT = 0x110, 0x111
MATCH, GAP = 5.0, 2.0


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


def look(address: str, empty, percent: float, neighbour: float, timeout: float = 10) -> dict:
    from PIL import Image

    from tray_monitor.icon import render_icon

    last: dict = {}

    def shows():
        shot = screenshot(address)
        part = tray_part(shot)
        changed = find_icon(empty, part)
        if changed is None:
            return None
        # a new item is the tray's first: the others move right, so what changed reaches further;
        # ours is the square at its left, over the panel's plain background
        side = changed[3] - changed[1]
        box = (changed[0], changed[1], changed[0] + side, changed[3])
        plain = Image.new("RGB", part.size, empty.getpixel((max(0, changed[0] - 3), changed[1])))
        best = min((dict(match_icon(part, plain, box, render_icon(spec_for(percent), size=s)), source=s)
                    for s in (16, 22, 24, 32, 48)), key=lambda m: m["mad"])
        other = match_icon(part, plain, box, render_icon(spec_for(neighbour), size=best["source"]))
        last.clear()
        last.update(best, neighbour_mad=other["mad"], box=box)
        good = best["mad"] < MATCH and other["mad"] - best["mad"] > GAP
        return dict(last, shot=shot) if good else None

    try:
        return wait_until(shows, timeout, f"the tray to draw the icon of {percent}%", interval=0.3)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; last look: {last}") from None


def rows_of(closed, opened) -> tuple[int, list[int]]:
    """The open menu's text rows (x, [y]) above the bottom panel: both pictures turned upside down
    so the panel is at the top, as tests/host_checks.menu_rows expects."""
    from PIL import Image

    def flipped(image):
        return image.transpose(Image.Transpose.FLIP_TOP_BOTTOM).crop((0, PANEL, *SCREEN))

    x, rows = menu_rows(flipped(closed), flipped(opened), 0)
    return x, sorted(SCREEN[1] - 1 - PANEL - y for y in rows)


def save(image, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    image.save(path)
    return path


def check(address: str, pointer: FakeInput, desktop: dict, workdir: Path, saw: dict, restart_plasma) -> None:
    pointer.park()
    time.sleep(0.5)
    empty = tray_part(screenshot(address))
    with FakeApi() as api:
        world = ClaudeTrayWorld(workdir / "world", api)
        world.home.mkdir(parents=True)
        world.extra_env.update({**desktop, "DBUS_SESSION_BUS_ADDRESS": address})
        world.login()
        api.default = usage(78.0)
        try:
            app = world.start_tray()
            view = world.wait_view(lambda v: v["status"] == "ok", timeout=30, what="the first reading")
            assert view["backend"] == "sni", view
            wait_until(lambda: "StatusNotifierItem" in app.log(), 5, "the start line naming the backend")
            saw["start line"] = next(line for line in app.log().splitlines() if "StatusNotifierItem" in line)

            props = wait_until(lambda: item_props(address), 10, "our item on Plasma's watcher")
            saw["registered"] = props["item"].bus_name
            layout = menu_layout(address)
            shown = [r["label"] for r in layout if r["visible"] and r["type"] != "separator"]
            assert shown == view["menu"], (shown, view["menu"])
            saw["menu"] = shown
            from tray_monitor.icon import render_icon

            for width, _height, data in props["IconPixmap"]:
                assert data == argb_of(render_icon(spec_for(78.0), size=width)), width

            seen = look(address, empty, 78.0, 87.0)
            saw["icon 78%"] = {k: seen[k] for k in ("mad", "neighbour_mad", "size", "source", "filter", "box")}
            saw["screenshot 78%"] = str(save(seen["shot"], "kde-panel-78"))
            box = seen["box"]
            centre = (TRAY_LEFT + (box[0] + box[2]) // 2, SCREEN[1] - PANEL + (box[1] + box[3]) // 2)

            def opened_menu(closed):
                def opened():
                    shot = screenshot(address)
                    above = (0, 0, SCREEN[0], SCREEN[1] - PANEL)
                    changed = find_icon(closed.crop(above), shot.crop(above))
                    return shot if changed and changed[3] - changed[1] > 60 else None
                return opened

            closed = screenshot(address)
            pointer.click(*centre, button=BTN_RIGHT)
            opened = wait_until(opened_menu(closed), 5, "Plasma's menu to open")
            time.sleep(0.5)  # Plasma fades its menus in
            opened = screenshot(address)
            saw["screenshot menu"] = str(save(opened, "kde-menu"))
            x, rows = rows_of(closed, opened)
            saw["menu rows on screen"] = len(rows)
            assert len(rows) == len(shown), (rows, shown)
            api.default = usage(91.0)
            before = usage_requests(world)
            pointer.click(x, rows[shown.index("Refresh now")])
            wait_until(lambda: usage_requests(world) == before + 1, 10, "the menu's refresh to reach the server")
            world.wait_view(lambda v: v["icon"]["percent"] == 91.0, what="the refreshed reading")
            pointer.park()
            seen = look(address, empty, 91.0, 78.0)
            saw["icon 91%"] = {k: seen[k] for k in ("mad", "neighbour_mad", "size", "source", "filter")}
            saw["screenshot 91%"] = str(save(seen["shot"], "kde-panel-91"))

            restart_plasma()
            started = time.monotonic()
            seen = look(address, empty, 91.0, 78.0, timeout=60)
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
            pointer.click(x, rows[shown.index("Quit")])
            try:
                code = app.wait_exit(15)
            except AssertionError:
                menu_event(address, QUIT)
                raise
            assert code == 0, app.log()[-3000:]
            pointer.park()
            wait_until(lambda: find_icon(empty, tray_part(screenshot(address))) is None, 10,
                       "the icon to leave the tray")
            from tests.desktop_x import sni_item

            assert sni_item(address, APP_ID) is None
            no_errors(world, app)
            saw["app exit"] = code
        finally:
            world.stop_all()
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            (ARTIFACTS / "kde-app.log").write_text(
                "\n".join(a.log() for a in world.apps)
                + (world.log_path.read_text() if world.log_path.exists() else ""))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.parse_args(argv)
    missing = [p for p in ("kwin_wayland", "plasmashell", "kded5", "dbus-daemon") if shutil.which(p) is None]
    if missing or not Path(KAMD).exists():
        print("needs: apt-get install -y --no-install-recommends kwin-wayland plasma-workspace plasma-desktop "
              f"qtwayland5 (missing: {', '.join(missing) or KAMD})", file=sys.stderr)
        return 2
    workdir = private_dir("claude-tray-kde-")
    runtime = workdir / "xdg"
    runtime.mkdir(mode=0o700)
    kwin = workdir / "kwin_wayland"
    shutil.copy(shutil.which("kwin_wayland") or "", kwin)  # a copy has no file capabilities
    started = []
    bus = system = pointer = None
    plasma: dict = {}
    saw: dict = {}
    ok = False
    try:
        bus = start_session_bus(workdir / "bus")
        system = start_session_bus(workdir / "system", name="system")
        display = str(runtime / "wayland-kde")
        env = base_env(**bus.env, DBUS_SYSTEM_BUS_ADDRESS=system.address, XDG_RUNTIME_DIR=str(runtime),
                       HOME=str(workdir), XDG_CONFIG_HOME=str(workdir / "config"),
                       XDG_DATA_HOME=str(workdir / "data"), XDG_CACHE_HOME=str(workdir / "cache"),
                       XDG_SESSION_TYPE="wayland", XDG_CURRENT_DESKTOP="KDE", KDE_FULL_SESSION="true",
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
    import subprocess

    versions = subprocess.run(["dpkg-query", "-W", "kwin-wayland", "plasma-workspace", "plasma-desktop"],
                              capture_output=True, text=True).stdout
    print("versions:", " ".join(versions.split()))
    for key, value in saw.items():
        print(f"{key}: {value}")
    print("RESULT:", "PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
