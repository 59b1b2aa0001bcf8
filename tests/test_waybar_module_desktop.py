"""The waybar module for real: a second waybar in the headless sway of tests/desktop_hosts.py runs
`claude-tray watch --format waybar` as its custom module while claude-tray's tray runs, and what it
draws is checked on screen (grim). The module's class colours its background (the CSS below), so
the screen shows the class waybar received: green for ok, red for critical once a statusline
reading says 95 %. And none of it sends a request: the module reads the running tray's reading."""
from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from tests.desktop_hosts import private_dir
from tests.desktop_x import ARTIFACTS, start_program, stop_process, wait_until
from tests.host_checks import usage, usage_requests

pytestmark = pytest.mark.desktop

GREEN, RED = (0, 200, 0), (220, 0, 0)
MODULE_CSS = """* { font-family: "DejaVu Sans"; font-size: 13px; }
window#waybar { background: #202020; }
#custom-claude { background: rgb(0, 200, 0); color: #000000; padding: 0 6px; }
#custom-claude.critical { background: rgb(220, 0, 0); }
"""


def module_config(python: str) -> str:
    return json.dumps({
        "layer": "top", "position": "bottom", "height": 28, "modules-left": ["custom/claude"],
        "custom/claude": {"exec": f"{python} -m tray_monitor watch --format waybar", "return-type": "json"},
    })


def pixels(image, colour) -> int:
    return sum(1 for p in image.get_flattened_data() if all(abs(a - b) <= 8 for a, b in zip(p, colour, strict=True)))


def test_the_waybar_module_shows_the_trays_class_on_screen_and_sends_no_request(host_world, sway_host):
    world = host_world(sway_host)
    world.login()
    world.api.default = usage(40.0)
    world.start_tray()
    world.wait_view(lambda v: v["status"] == "ok", timeout=30, what="the tray's first reading")
    before = usage_requests(world)

    workdir = private_dir("claude-tray-waybar-module-", owner=world.run_as.user if world.run_as else None)
    (workdir / "module.json").write_text(module_config(world.python))
    (workdir / "module.css").write_text(MODULE_CSS)
    if world.run_as:
        world.run_as.give(workdir)
    env = {**world.env(), **sway_host.desktop_env, "GDK_BACKEND": "wayland"}
    bar = start_program("waybar-module", ["waybar", "-c", str(workdir / "module.json"), "-s",
                                          str(workdir / "module.css")], env, workdir, cwd=str(workdir),
                        **(world.run_as.popen if world.run_as else {}))
    try:
        shot = wait_until(lambda: (lambda s: s if pixels(s, GREEN) > 200 else None)(sway_host.screenshot()), 30,
                          "the module drawn green (class ok)")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shot.save(ARTIFACTS / "waybar-module-ok.png")
        assert pixels(shot, RED) == 0
        stdin = json.dumps({"session_id": "s", "rate_limits": {
            "five_hour": {"used_percentage": 95.0, "resets_at": 4102444000},
            "seven_day": {"used_percentage": 41.0, "resets_at": 4102444000}}}).encode()
        done = subprocess.run([world.python, "-m", "tray_monitor", "statusline"], input=stdin, env=world.env(),
                              capture_output=True, timeout=30, cwd=str(workdir),
                              **(world.run_as.popen if world.run_as else {}))
        assert done.returncode == 0, done
        shot = wait_until(lambda: (lambda s: s if pixels(s, RED) > 200 else None)(sway_host.screenshot()), 30,
                          "the module drawn red (class critical) after the statusline's 95 %")
        shot.save(ARTIFACTS / "waybar-module-critical.png")
        assert pixels(shot, GREEN) == 0
    except AssertionError as error:
        raise AssertionError(f"{error}\nwaybar log:\n{bar.log()[-3000:]}") from None
    finally:
        stop_process(bar.process)
        shutil.rmtree(workdir, ignore_errors=True)
    assert usage_requests(world) == before  # the module and the statusline sent nothing
