"""What the manual desktop checks (tests/manual/gnome_sni_check.py, kde_sni_check.py) share: the
private buses and session environment, the app started against the loopback fake API, the icon
matched against render_icon's picture, the menu's "Refresh now" and "Quit", and the report.
Each check keeps only what is its desktop's own (how it starts, screenshots, points and clicks)."""
from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.apprun import ClaudeTrayWorld  # noqa: E402
from tests.desktop_bus import start_session_bus  # noqa: E402
from tests.desktop_hosts import find_icon, match_icon, private_dir  # noqa: E402
from tests.desktop_x import ARTIFACTS, base_env, wait_until  # noqa: E402
from tests.fakeapi import FakeApi  # noqa: E402
from tests.host_checks import (  # noqa: E402
    QUIT,
    argb_of,
    item_props,
    menu_event,
    menu_layout,
    spec_for,
    usage,
    usage_requests,
)

SCREEN = (1024, 768)
WATCHER = "org.kde.StatusNotifierWatcher"
#: the icon matches our rendering when the mean abs RGB difference is below MATCH and the
#: rendering of another percent is at least GAP further away (as tests/host_checks.py)
MATCH, GAP = 5.0, 2.0


def missing(programs: tuple[str, ...], path: str, install: str) -> bool:
    """Say what to install (and return True) when a program or `path` is missing."""
    absent = [p for p in programs if shutil.which(p) is None]
    if not absent and Path(path).exists():
        return False
    print(f"needs: apt-get install -y --no-install-recommends {install} (missing: {', '.join(absent) or path})",
          file=sys.stderr)
    return True


def session_dirs(prefix: str) -> tuple[Path, Path]:
    """A private work directory and its XDG_RUNTIME_DIR (mode 0700)."""
    workdir = private_dir(prefix)
    runtime = workdir / "xdg"
    runtime.mkdir(mode=0o700)
    return workdir, runtime


def start_buses(workdir: Path):
    """A private session bus and a private "system" bus (the shells ask logind & co. through it)."""
    return start_session_bus(workdir / "bus"), start_session_bus(workdir / "system", name="system")


def session_env(bus, system, runtime: Path, workdir: Path, **more: str) -> dict:
    """The desktop's environment: both private buses, HOME and the XDG directories in `workdir`."""
    return base_env(**bus.env, DBUS_SYSTEM_BUS_ADDRESS=system.address, XDG_RUNTIME_DIR=str(runtime),
                    HOME=str(workdir), XDG_CONFIG_HOME=str(workdir / "config"),
                    XDG_DATA_HOME=str(workdir / "data"), XDG_CACHE_HOME=str(workdir / "cache"),
                    XDG_SESSION_TYPE="wayland", **more)


def save(image, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    image.save(path)
    return path


def look(grab: Callable, locate: Callable, percent: float, neighbour: float, what: str,
         timeout: float = 10, interval: float = 0.2) -> dict:
    """Wait until the desktop shows render_icon's picture of `percent` (and not of `neighbour`).
    grab() -> (screenshot, the part of it with the tray); locate(part) -> (the icon's box in the
    part, the part without our icon) or None while no icon is there."""
    from tray_monitor.icon import render_icon

    last: dict = {}

    def shows():
        shot, part = grab()
        found = locate(part)
        if found is None:
            return None
        box, background = found
        best = min((dict(match_icon(part, background, box, render_icon(spec_for(percent), size=s)), source=s)
                    for s in (16, 22, 24, 32, 48)), key=lambda m: m["mad"])
        other = match_icon(part, background, box, render_icon(spec_for(neighbour), size=best["source"]))
        last.clear()
        last.update(best, neighbour_mad=other["mad"], box=box)
        good = best["mad"] < MATCH and other["mad"] - best["mad"] > GAP
        return dict(last, shot=shot) if good else None

    try:
        return wait_until(shows, timeout, f"{what} to draw the icon of {percent}%", interval=interval)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; last look: {last}") from None


def menu_opened(grab: Callable, closed, area: tuple[int, int, int, int]) -> Callable:
    """A wait_until condition: the screenshot once a menu (taller than 60 px) opened in `area`."""
    def opened():
        shot = grab()
        changed = find_icon(closed.crop(area), shot.crop(area))
        return shot if changed and changed[3] - changed[1] > 60 else None
    return opened


@contextmanager
def app_world(workdir: Path, address: str, desktop: dict, log_name: str) -> Iterator[tuple[FakeApi, ClaudeTrayWorld]]:
    """The loopback fake API (answering 78 %) and a temporary HOME with fake credentials, on the
    desktop's bus; at the end every app stopped and their output with the log file in
    tests/artifacts/`log_name`."""
    with FakeApi() as api:
        world = ClaudeTrayWorld(workdir / "world", api)
        world.home.mkdir(parents=True)
        world.extra_env.update({**desktop, "DBUS_SESSION_BUS_ADDRESS": address})
        world.login()
        api.default = usage(78.0)
        try:
            yield api, world
        finally:
            world.stop_all()
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            (ARTIFACTS / log_name).write_text(
                "\n".join(a.log() for a in world.apps)
                + (world.log_path.read_text() if world.log_path.exists() else ""))


def start_app(world: ClaudeTrayWorld, address: str, saw: dict, watcher: str):
    """The app started as a user starts it; it must pick StatusNotifierItem on its own, register on
    `watcher`, offer its own menu over D-Bus (GetLayout) and the pixmaps of render_icon's 78 %.
    Returns (app, its item's properties, the menu layout, the labels shown)."""
    app = world.start_tray()
    view = world.wait_view(lambda v: v["status"] == "ok", timeout=30, what="the first reading")
    assert view["backend"] == "sni", view
    wait_until(lambda: "StatusNotifierItem" in app.log(), 5, "the start line naming the backend")
    saw["start line"] = next(line for line in app.log().splitlines() if "StatusNotifierItem" in line)
    props = wait_until(lambda: item_props(address), 10, f"our item on {watcher}")
    layout = menu_layout(address)
    shown = [r["label"] for r in layout if r["visible"] and r["type"] != "separator"]
    assert shown == view["menu"], (shown, view["menu"])
    saw["menu"] = shown
    from tray_monitor.icon import render_icon

    for width, _height, data in props["IconPixmap"]:
        assert data == argb_of(render_icon(spec_for(78.0), size=width)), width
    return app, props, layout, shown


def refresh_from_menu(api: FakeApi, world: ClaudeTrayWorld, pick: Callable[[], None]) -> None:
    """The server now answers 91 %; `pick` picks "Refresh now" in the desktop's menu: one request
    reaches the server and the app shows 91 %."""
    api.default = usage(91.0)
    before = usage_requests(world)
    pick()
    wait_until(lambda: usage_requests(world) == before + 1, 10, "the menu's refresh to reach the server")
    world.wait_view(lambda v: v["icon"]["percent"] == 91.0, what="the refreshed reading")


def quit_from_menu(app, address: str, pick: Callable[[], None]) -> int:
    """`pick` picks "Quit" in the desktop's menu: the app ends with 0 (ended over D-Bus if not)."""
    pick()
    try:
        code = app.wait_exit(15)
    except AssertionError:
        menu_event(address, QUIT)
        raise
    assert code == 0, app.log()[-3000:]
    return code


def report(packages: list[str], saw: dict, ok: bool, log: str = "") -> int:
    """The packages' versions, what was seen, `log`'s end on a failure, PASS or FAIL (the exit code)."""
    versions = subprocess.run(["dpkg-query", "-W", *packages], capture_output=True, text=True).stdout
    print("versions:", " ".join(versions.split()))
    for key, value in saw.items():
        print(f"{key}: {value}")
    if not ok and log:
        print(log)
    print("RESULT:", "PASS" if ok else "FAIL")
    return 0 if ok else 1

