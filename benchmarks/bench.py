"""claude-tray against the floor (benchmarks/floor_app.py), in one run on one machine.

    .venv/bin/python benchmarks/bench.py [--backend sni] [--idle 120] [--interval 60] [--starts 5]
                                         [--resets future|past] [--json FILE]

Starts its own Xvfb and a real XEmbed tray host (trayer), one loopback usage server (tests/fakeapi.py,
answering every request with the same recorded body; `--resets future`, the default, moves its reset
times ahead as a user sees them, so claude-tray's countdowns tick; `past` keeps the recorded ones,
already passed, so its texts never change between polls), then:
1. start -> docked, `--starts` times each, alternating: from Popen until the icon window is
   reparented into the tray and viewable (X polled every 10 ms); the median counts;
2. one long run of both side by side at the same poll interval against the same server:
   RSS 30 s after start (/proc/PID/status VmRSS), then an idle window of `--idle` seconds:
   CPU (utime+stime from /proc/PID/stat, and the finer on-CPU time summed over the threads'
   /proc/PID/task/TID/schedstat), requests each app's own server saw,
   icon redraws (claude-tray: `redraws` of its `view` control command, asked just outside the
   window; floor: its stats file), threads (/proc/PID/status).
`--backend sni` adds a third app to the same run: claude-tray on its StatusNotifierItem backend
(CLAUDE_TRAY_BACKEND=sni) with gtk-sni-tray-standalone as the host, on a private session bus and the
same Xvfb (its bar at the bottom). "Docked" is then "shown": the host's bar differs from its empty
self (X polled every 10 ms). Each app has its own loopback server, so requests are counted per app.
`--variant LABEL=ENV=VALUE[,ENV=VALUE]` adds one more SNI app with extra environment (e.g.
`--variant no-history=CLAUDE_TRAY_BENCH_NO_HISTORY=1`, issue 14's A/B), `--variant-tree LABEL=DIR`
one that runs the `tray_monitor` package found in DIR (another commit, `git archive REF | tar -x -C
DIR`): an A/B of two versions of the code in the same run, against the same host, at the same moments.
`--rounds N` repeats the idle window N times back to back (all apps running throughout): the CPU
figures are per round, with the median and the spread.
CPU is the process CPU clock (clock_getcpuclockid: utime+stime at ns resolution, ended threads
included; a request's deadline timer thread ends within the poll) and, as before, the schedstat sum
over the live threads.
Prints a table with the ratios claude-tray / floor and PASS/MISS per target (issues 6 and 12).
Measurements, not tests: nothing here fails a build.
"""
from __future__ import annotations

import argparse
import ctypes
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from itertools import pairwise
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.apprun import ClaudeTrayWorld
from tests.desktop_bus import start_session_bus, stop_session_bus
from tests.desktop_x import (
    base_env,
    bus_name_has_owner,
    find_tray_icon,
    grab,
    start_program,
    start_trayer,
    start_xvfb,
    stop_process,
)
from tests.fakeapi import FakeApi, Response, usage_fixture

HZ = os.sysconf("SC_CLK_TCK")
FLOOR = REPO / "benchmarks" / "floor_app.py"
RSS_AT = 30.0
TARGETS = {"start_docked_s": 1.3, "rss_kb_30s": 1.15, "cpu_sched_ms": 1.5}


# ----------------------------------------------------------------------------- /proc

def cpu_ticks_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / HZ  # utime, stime


def sched_ms(pid: int) -> float:
    """On-CPU time of all threads, ns resolution (utime+stime tick at 1/CLK_TCK = 10 ms)."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            total += int(Path(f"/proc/{pid}/task/{tid}/schedstat").read_text().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            pass  # a thread ended while we looked
    return total / 1e6


_libc = ctypes.CDLL(None, use_errno=True)


def process_cpu_ms(pid: int) -> float:
    """The process's CPU time (user + system, every thread, ended ones too), ns resolution."""
    clock = ctypes.c_int()
    if _libc.clock_getcpuclockid(pid, ctypes.byref(clock)) != 0:
        raise ProcessLookupError(pid)
    return time.clock_gettime(clock.value) * 1e3


def status_field(pid: int, name: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1])
    raise KeyError(name)


# ----------------------------------------------------------------------------- the two apps

class ClaudeTray:
    name = "claude-tray"
    x_name = "claude-tray"  # pystray name: WM_CLASS "claude-traySystemTrayIcon"

    def __init__(self, world: ClaudeTrayWorld, interval: int, x=None):
        self.world, self.interval, self.x = world, interval, x
        self.process = None

    def shown(self) -> bool:
        found = find_tray_icon(self.x, self.x_name)
        return bool(found and found.docked and found.viewable and found.width > 1)

    def start(self) -> None:
        self.process = self.world.start_tray("--interval", str(self.interval)).process

    def redraws(self) -> int:
        return self.world.view()["redraws"]

    def alive(self) -> bool:
        """Its first poll reached the tray: the app is not stuck behind the docked icon."""
        return self.world.view()["status"] == "ok"

    def stop(self) -> None:
        stop_process(self.process, timeout=10)
        self.world.apps.clear()


class ClaudeTraySni(ClaudeTray):
    """claude-tray on the StatusNotifierItem backend; shown = the SNI host's bar changed."""

    name = "claude-tray-sni"

    def __init__(self, world: ClaudeTrayWorld, interval: int, x, bar: tuple[int, int, int, int]):
        super().__init__(world, interval, x)
        self.bar = bar
        self.empty = grab(x, *bar).tobytes()

    def shown(self) -> bool:
        return grab(self.x, *self.bar).tobytes() != self.empty


class Variant(ClaudeTraySni):
    """One more claude-tray on SNI: `--variant` (extra environment) or `--variant-tree` (other code)."""

    def __init__(self, name: str, *args):
        super().__init__(*args)
        self.name = name


class Floor:
    name = "floor"
    x_name = "floor"

    def __init__(self, api: FakeApi, env: dict, interval: int, workdir: Path, x=None):
        self.api, self.env, self.interval, self.workdir, self.x = api, env, interval, workdir, x
        self.process = None
        self.stats = workdir / "floor-stats.json"

    def start(self) -> None:
        self.stats.unlink(missing_ok=True)
        self.process = start_program("floor", [sys.executable, str(FLOOR), self.api.url, str(self.interval),
                                               str(self.stats)], self.env, self.workdir).process

    def redraws(self) -> int:
        return json.loads(self.stats.read_text())["redraws"] if self.stats.exists() else 0

    def alive(self) -> bool:
        """Its first poll was drawn (stats are written after the redraw returned)."""
        return self.stats.exists() and json.loads(self.stats.read_text())["redraws"] >= 1

    shown = ClaudeTray.shown

    def stop(self) -> None:
        stop_process(self.process, timeout=10)


DOCK_TIMEOUT = 10.0
ALIVE_TIMEOUT = 10.0  # after docking, until the first poll shows


def _eventually(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return True
        except (OSError, ValueError, KeyError, AssertionError):
            pass  # the control socket is not up yet (world.view asserts), a stats file half-replaced
        time.sleep(0.1)
    return False
START_ATTEMPTS = 3


def wait_docked(app, started: float, timeout: float = DOCK_TIMEOUT) -> float | None:
    """Seconds from `started` until the icon is shown (XEmbed: its window sits in the tray; SNI: the
    host drew it), polled every 10 ms; None when not within `timeout` (plain pystray on xorg can hang
    at start: a python-xlib lost wake-up, see the XEmbed backend's _UnstickingLock)."""
    while time.monotonic() - started < timeout:
        if app.process.poll() is not None:
            raise SystemExit(f"{app.name} exited with {app.process.returncode} before docking")
        if app.shown():
            return time.monotonic() - started
        time.sleep(0.01)
    return None


def start_docked(app, hung: dict) -> tuple[float, float]:
    """Start `app` until it docks; returns (start time, seconds to docked). A start that does not
    dock within DOCK_TIMEOUT is counted in `hung`, stopped and tried again."""
    for _ in range(START_ATTEMPTS):
        t0 = time.monotonic()
        app.start()
        seconds = wait_docked(app, t0)
        if seconds is not None and _eventually(app.alive, ALIVE_TIMEOUT):
            return t0, seconds
        hung[app.name] += 1
        print(f"{app.name} did not dock, or docked but showed no poll, within {DOCK_TIMEOUT} s; "
              "starting it again", file=sys.stderr)
        app.stop()
        time.sleep(0.5)
    raise SystemExit(f"{app.name} did not dock in {START_ATTEMPTS} starts")


# ----------------------------------------------------------------------------- the run


def live_usage_body() -> bytes:
    """The recorded body with its reset times moved into the future (a session window resetting in
    2 h 11 min, weekly ones in days), as a user sees it: claude-tray's countdowns then change every
    minute and it pays for redrawing them, which the floor (a bare number) does not have."""
    body = json.loads(usage_fixture("small-2026-03"))
    now = datetime.now(timezone.utc)
    for key, value in body.items():
        if isinstance(value, dict) and value.get("resets_at"):
            ahead = timedelta(hours=2, minutes=11, seconds=7) if key == "five_hour" else timedelta(days=3, hours=4)
            value["resets_at"] = (now + ahead).isoformat()
    return json.dumps(body).encode()


# ----------------------------------------------------------------------------- the run

SNI_BAR_HEIGHT = 60  # gtk-sni-tray-standalone --size 48 at the bottom of the screen: its bar's strip


def start_sni_host(x, workdir: Path, attempts: int = 3):
    """A private session bus and gtk-sni-tray-standalone (the watcher and host) on it, bar at the bottom.
    The host now and then exits at start (it calls its own watcher before that is exported:
    UnknownObject): it is started again, up to `attempts` times."""
    bus = start_session_bus(workdir / "bus")
    for attempt in range(1, attempts + 1):
        host = start_program("sni-host", ["gtk-sni-tray-standalone", "--watcher", "--bottom", "--beginning",
                                          "--size", "48"], base_env(**x.env, **bus.env), workdir)
        deadline = time.monotonic() + 20
        while not bus_name_has_owner(bus.address, "org.kde.StatusNotifierWatcher"):
            if time.monotonic() > deadline or host.process.poll() is not None:
                break
            time.sleep(0.05)
        else:
            time.sleep(1.0)  # its bar mapped and drawn: the "empty" picture must not be a half-drawn one
            if host.process.poll() is None:
                return bus, host
        stop_process(host.process)
        print(f"gtk-sni-tray-standalone did not start (attempt {attempt}): {host.log()[-300:]}", file=sys.stderr)
        time.sleep(1.0)
    stop_session_bus(bus)
    raise SystemExit(f"gtk-sni-tray-standalone did not start in {attempts} attempts")


def measure(args) -> dict:
    workdir = Path(tempfile.mkdtemp(prefix="claude-tray-bench-"))
    x = start_xvfb(workdir)
    trayer = bus = sni_host = None
    apis: list[FakeApi] = []
    apps = []
    try:
        trayer = start_trayer(x, workdir)
        body = live_usage_body() if args.resets == "future" else usage_fixture("small-2026-03")

        def api() -> FakeApi:  # one server per app: requests are counted per server
            apis.append(FakeApi(Response(200, body, {"Content-Type": "application/json"})).start())
            return apis[-1]

        world = ClaudeTrayWorld(workdir / "world", api()).with_desktop(x.display, None, "xorg")
        world.home.mkdir(parents=True)
        world.login()
        apps = [ClaudeTray(world, args.interval, x)]
        if "sni" in args.backend:
            bus, sni_host = start_sni_host(x, workdir)
            sni_world = ClaudeTrayWorld(workdir / "world-sni", api(), extra_env={"CLAUDE_TRAY_BACKEND": "sni"})
            sni_world.with_desktop(x.display, bus.env)
            sni_world.home.mkdir(parents=True)
            sni_world.login()
            screen = grab(x)
            apps.append(ClaudeTraySni(sni_world, args.interval, x,
                                      (0, screen.height - SNI_BAR_HEIGHT, screen.width, SNI_BAR_HEIGHT)))
            for label, extra in variants(args):
                variant_world = ClaudeTrayWorld(workdir / f"world-{label}", api(),
                                                extra_env={"CLAUDE_TRAY_BACKEND": "sni", **extra})
                variant_world.with_desktop(x.display, bus.env)
                variant_world.home.mkdir(parents=True)
                variant_world.login()
                apps.append(Variant(label, variant_world, args.interval, x, apps[-1].bar))
        apps.append(Floor(api(), base_env(**x.env, PYSTRAY_BACKEND="xorg"), args.interval, workdir, x))

        # 1. start -> docked, rotating the order so none always runs on a warmer cache.
        starts = {app.name: [] for app in apps}
        hung = {app.name: 0 for app in apps}
        for i in range(args.starts):
            for app in apps[i % len(apps):] + apps[:i % len(apps)]:
                starts[app.name].append(start_docked(app, hung)[1])
                app.stop()
                time.sleep(0.5)
        print(f"start->docked runs: {json.dumps({k: [round(v, 3) for v in s] for k, s in starts.items()})}",
              file=sys.stderr)

        # 2. one long run, side by side.
        started = {}
        for app in apps:
            started[app.name] = start_docked(app, hung)[0]
        rss30 = {}
        for app in apps:
            time.sleep(max(0.0, started[app.name] + RSS_AT - time.monotonic()))
            rss30[app.name] = status_field(app.process.pid, "VmRSS")
        # Counted just outside the window: asking claude-tray costs it a little CPU.
        redraws0 = {app.name: app.redraws() for app in apps}
        time.sleep(1.0)

        def cpu_now() -> dict:
            return {app.name: (cpu_ticks_s(app.process.pid), sched_ms(app.process.pid), process_cpu_ms(app.process.pid))
                    for app in apps}

        cpu0 = cpu_now()
        requests0 = {app.name: len(app_api(app).requests) for app in apps}
        w0 = time.monotonic()
        rounds: dict[str, list[tuple[float, float]]] = {app.name: [] for app in apps}
        round_requests: dict[str, list[int]] = {app.name: [] for app in apps}
        round_redraws: dict[str, list[int]] = {app.name: [] for app in apps}
        seen = dict(requests0)
        drawn = dict(redraws0)
        before = cpu0
        for number in range(args.rounds):
            print(f"idle window {number + 1} of {args.rounds} ({args.idle:.0f} s) started", file=sys.stderr)
            time.sleep(args.idle)
            after = cpu_now()
            for app in apps:
                rounds[app.name].append((round(after[app.name][2] - before[app.name][2], 2),
                                         round(after[app.name][1] - before[app.name][1], 2)))
                count = len(app_api(app).requests)
                round_requests[app.name].append(count - seen[app.name])
                seen[app.name] = count
            before = after
            if args.rounds > 1:  # asking claude-tray costs it a little CPU: between rounds, not inside one
                for app in apps:
                    count = app.redraws()
                    round_redraws[app.name].append(count - drawn[app.name])
                    drawn[app.name] = count
                before = cpu_now()
        window = (time.monotonic() - w0) / args.rounds
        cpu1 = before
        threads = {app.name: status_field(app.process.pid, "Threads") for app in apps}
        rss_end = {app.name: status_field(app.process.pid, "VmRSS") for app in apps}
        time.sleep(1.0)
        redraws1 = {app.name: app.redraws() for app in apps}

        results = {}
        for app in apps:
            requests = app_api(app).requests
            mine = [r.at for r in requests if r.at >= started[app.name]]
            gaps = [round(b - a, 2) for a, b in pairwise(mine)]
            results[app.name] = {
                "start_docked_s": statistics.median(starts[app.name]) if starts[app.name] else 0.0,
                "start_docked_runs_s": [round(v, 3) for v in starts[app.name]],
                "rss_kb_30s": rss30[app.name],
                "rss_kb_end": rss_end[app.name],
                "cpu_s": round((cpu1[app.name][0] - cpu0[app.name][0]) / args.rounds, 3),
                "cpu_sched_ms": round(statistics.median(r[1] for r in rounds[app.name]), 1),
                "cpu_process_ms": round(statistics.median(r[0] for r in rounds[app.name]), 1),
                "cpu_process_rounds_ms": [r[0] for r in rounds[app.name]],
                "cpu_sched_rounds_ms": [r[1] for r in rounds[app.name]],
                "requests_rounds": round_requests[app.name],
                "redraws_rounds": round_redraws[app.name],
                "requests_in_window": round((len(requests) - requests0[app.name]) / args.rounds, 1),
                "request_gaps_s": gaps,
                "redraws_in_window": redraws1[app.name] - redraws0[app.name],
                "redraws_total": redraws1[app.name],
                "threads": threads[app.name],
                "hung_starts": hung[app.name],
            }
        return {"window_s": round(window, 1), "interval_s": args.interval, "rounds": args.rounds, "results": results,
                "machine": machine_facts()}
    finally:
        for app in apps:
            if app.process is not None and app.process.poll() is None:
                app.stop()
        for server in apis:
            server.stop()
        if sni_host is not None:
            stop_process(sni_host.process)
        if bus is not None:
            stop_session_bus(bus)
        if trayer is not None:
            stop_process(trayer.process)
        stop_process(x.program.process)
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


def variants(args) -> list[tuple[str, dict]]:
    """(label, extra environment) of each --variant and --variant-tree."""
    found = []
    for spec in args.variant:
        label, _, pairs = spec.partition("=")
        found.append((label, dict(pair.split("=", 1) for pair in pairs.split(",") if pair)))
    for spec in args.variant_tree:
        label, _, folder = spec.partition("=")
        if not (Path(folder) / "tray_monitor" / "__init__.py").is_file():
            raise SystemExit(f"--variant-tree {spec}: no tray_monitor package in {folder}")
        # PYTHONSAFEPATH: `python -m` runs in the repository (tests/apprun.py), whose folder would
        # otherwise come first on sys.path and shadow the tree's package.
        found.append((label, {"PYTHONPATH": str(Path(folder).resolve()), "PYTHONSAFEPATH": "1"}))
    return found


def app_api(app) -> FakeApi:
    return app.world.api if isinstance(app, ClaudeTray) else app.api


def machine_facts() -> dict:
    from importlib.metadata import version

    import PIL
    import requests

    return {
        "nproc": os.cpu_count(),
        "cpu": next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                     if line.startswith("model name")), platform.processor()),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "pystray": version("pystray"), "Pillow": PIL.__version__, "requests": requests.__version__,
        "python-xlib": version("python-xlib"),
        "loadavg_at_end": os.getloadavg(),
    }


# ----------------------------------------------------------------------------- the table

def table(data: dict) -> str:
    results = data["results"]
    floor = results["floor"]
    names = [n for n in results if n != "floor"]  # claude-tray (xorg), then claude-tray-sni if measured
    interval, window = data["interval_s"], data["window_s"]
    rows = []

    def ratio_row(label, key, fmt, target=None):
        cells, ratios, verdicts = [], [], []
        for name in names:
            a, b = results[name][key], floor[key]
            cells.append(fmt(a))
            if not b:  # too short a window for the coarse counters: no ratio to judge
                ratios.append("n/a")
                continue
            ratios.append(f"{a / b:.2f}x")
            if target is not None:
                verdicts.append("PASS" if a / b <= target else "MISS")
        rows.append((label, *cells, fmt(floor[key]), " / ".join(ratios), f"<= {target}x" if target else "",
                     " / ".join(verdicts)))

    ratio_row("start -> shown (median)", "start_docked_s", lambda v: f"{v:.3f} s", TARGETS["start_docked_s"])
    ratio_row("RSS 30 s after start", "rss_kb_30s", lambda v: f"{v / 1024:.1f} MiB", TARGETS["rss_kb_30s"])
    per = f" (median of {data['rounds']})" if data.get("rounds", 1) > 1 else ""
    ratio_row(f"CPU over {window:.0f} s idle, process clock{per}", "cpu_process_ms", lambda v: f"{v:.1f} ms",
              TARGETS["cpu_sched_ms"])
    ratio_row(f"CPU over {window:.0f} s idle (schedstat){per}", "cpu_sched_ms", lambda v: f"{v:.1f} ms",
              TARGETS["cpu_sched_ms"])
    ratio_row(f"CPU over {window:.0f} s idle (utime+stime)", "cpu_s", lambda v: f"{v:.2f} s")
    ratio_row("RSS at the end of the window", "rss_kb_end", lambda v: f"{v / 1024:.1f} MiB")
    ratio_row("threads", "threads", str)

    def one_per_interval(r):
        return (window // interval <= r["requests_in_window"] <= -(-window // interval)
                and all(abs(g - interval) <= 2 for g in r["request_gaps_s"]))

    def plain_row(label, key, target, verdict=None):
        rows.append((label, *(str(results[n][key]) for n in names), str(floor[key]), "", target,
                     " / ".join(("PASS" if verdict(results[n]) else "MISS") for n in names) if verdict else ""))

    plain_row(f"requests in the window ({interval} s interval)", "requests_in_window", "one per interval",
              one_per_interval)
    plain_row("icon redraws in the window", "redraws_in_window", "0 (nothing changed)",
              lambda r: r["redraws_in_window"] == 0)
    plain_row("icon redraws since start", "redraws_total", "")
    plain_row("starts stuck (not shown or no first poll in 10 s)", "hung_starts", "")

    head = ("measure", *names, "floor", "ratio", "target", "")
    widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(len(head))]
    def line(r):
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=False)) + " |"
    out = [line(head), "|" + "|".join("-" * (w + 2) for w in widths) + "|"] + [line(r) for r in rows]
    out.append("")
    for key, label in (("cpu_process_rounds_ms", "CPU per round, process clock (ms)"),
                       ("cpu_sched_rounds_ms", "CPU per round, schedstat (ms)"),
                       ("requests_rounds", "requests per round"), ("redraws_rounds", "icon redraws per round"),
                       ("request_gaps_s", "request gaps (s)"), ("start_docked_runs_s", "start -> shown runs (s)")):
        out.append(f"{label}: " + "; ".join(f"{n} {results[n][key]}" for n in [*names, "floor"]))
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--idle", type=float, default=120.0, help="idle window in seconds (default 120)")
    parser.add_argument("--interval", type=int, default=60, help="poll interval of both apps (default 60, the minimum)")
    parser.add_argument("--starts", type=int, default=5, help="start->docked runs per app (default 5)")
    parser.add_argument("--resets", choices=("future", "past"), default="future",
                        help="serve reset times ahead (countdowns tick, the default) or the recorded past ones")
    parser.add_argument("--backend", action="append", choices=("xorg", "sni"), default=["xorg"],
                        help="sni: also claude-tray on its StatusNotifierItem backend (gtk-sni-tray-standalone "
                             "as the host), beside xorg and the floor in the same run")
    parser.add_argument("--variant", action="append", default=[], metavar="LABEL=ENV=VALUE[,ENV=VALUE]",
                        help="one more claude-tray on SNI with extra environment (implies --backend sni)")
    parser.add_argument("--variant-tree", action="append", default=[], metavar="LABEL=DIR",
                        help="one more claude-tray on SNI running the tray_monitor package in DIR "
                             "(implies --backend sni)")
    parser.add_argument("--rounds", type=int, default=1, help="idle windows back to back (default 1)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    args = parser.parse_args()
    if args.variant or args.variant_tree:
        args.backend.append("sni")
    needed = ["Xvfb", "trayer"] + (["dbus-daemon", "gtk-sni-tray-standalone"] if "sni" in args.backend else [])
    missing = [p for p in needed if shutil.which(p) is None]
    if missing:
        print(f"The benchmark needs {', '.join(missing)} (Debian: apt-get install xvfb trayer dbus "
              "haskell-gtk-sni-tray-utils).", file=sys.stderr)
        return 2
    data = measure(args)
    print(table(data))
    print(f"reset times served: {args.resets}")
    facts = data["machine"]
    print(f"\nmachine: {facts['nproc']} CPUs ({facts['cpu']}), Linux {facts['kernel']}, Python {facts['python']}, "
          f"pystray {facts['pystray']}, Pillow {facts['Pillow']}, requests {facts['requests']}, "
          f"python-xlib {facts['python-xlib']}; load average at the end {facts['loadavg_at_end']}")
    if args.json:
        args.json.write_text(json.dumps({**data, "resets": args.resets}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
