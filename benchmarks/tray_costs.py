"""Where the SNI tray's idle CPU goes, per thread and per step, with live countdowns.

    .venv/bin/python benchmarks/tray_costs.py [--idle 120] [--rounds 2] [--warmup 45] [--interval 60]
                                              [--variant-tree LABEL=DIR] [--tree DIR] [--json FILE]

The real claude-tray (`python -m tray_monitor --interval 60`, CLAUDE_TRAY_BACKEND=sni) under
gtk-sni-tray-standalone --watcher on Xvfb with a private dbus-daemon, against a loopback usage
server (tests/fakeapi.py) serving reset times in the future (benchmarks/bench.py's world: the
session window's countdown turns every minute). With `--variant-tree LABEL=DIR` a second (third...)
claude-tray runs the `tray_monitor` package found in DIR (`git archive REF tray_monitor | tar -x -C
DIR`) beside it, against the same host at the same moments: an A/B in one run.

After `--warmup` seconds, `--rounds` idle windows of `--idle` seconds each; per app and window:
- the process CPU clock (clock_getcpuclockid: every thread, ended ones too) and, per thread,
  the on-CPU time and the number of times it ran (/proc/PID/task/TID/schedstat: fields 1 and 3,
  "wake-ups");
- per step, the calling thread's CPU (`time.thread_time_ns`) from benchmarks/tray_costs_probe/
  sitecustomize.py (on PYTHONPATH; snapshots by SIGUSR1 just outside each window): the poller's
  iterations by kind (poll / tick / nothing), the view, the tray adapter, the SNI backend's signals,
  and on the D-Bus thread each incoming message by member (receiving it, answering it);
- the bus traffic (`dbus-monitor --profile` on the private bus): the signals the app sent and the
  method calls it received, by member.
Nothing is asked of claude-tray over its control socket inside a window. PYTHONDONTWRITEBYTECODE is
dropped and the trees are precompiled (`compileall`) first. Measurements, not tests.
"""
from __future__ import annotations

import argparse
import compileall
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.bench import live_usage_body, process_cpu_ms, start_sni_host
from tests.apprun import ClaudeTrayWorld
from tests.desktop_bus import stop_session_bus
from tests.desktop_x import start_xvfb, stop_process
from tests.fakeapi import FakeApi, Response

PROBE = REPO / "benchmarks" / "tray_costs_probe"


def thread_stats(pid: int) -> dict[int, tuple[float, int]]:
    """TID -> (on-CPU ms, times run) from schedstat."""
    found = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            fields = Path(f"/proc/{pid}/task/{tid}/schedstat").read_text().split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        found[int(tid)] = (int(fields[0]) / 1e6, int(fields[2]))
    return found


def name_owner(address: str, name: str) -> str:
    from jeepney import DBusAddress, new_method_call
    from jeepney.io.blocking import open_dbus_connection

    bus = DBusAddress("/org/freedesktop/DBus", bus_name="org.freedesktop.DBus", interface="org.freedesktop.DBus")
    with open_dbus_connection(bus=address) as connection:
        return connection.send_and_get_reply(new_method_call(bus, "GetNameOwner", "s", (name,)), timeout=5).body[0]


class App:
    def __init__(self, label: str, workdir: Path, bus, x, interval: int, tree: Path | None):
        self.label = label
        self.api = FakeApi(Response(200, live_usage_body(), {"Content-Type": "application/json"})).start()
        self.probe_out = workdir / f"probe-{label}.jsonl"
        env = {"CLAUDE_TRAY_BACKEND": "sni", "CLAUDE_TRAY_PROBE_OUT": str(self.probe_out),
               "PYTHONPATH": os.pathsep.join([str(PROBE), str(tree or REPO)])}
        if tree is not None:
            env["PYTHONSAFEPATH"] = "1"  # `python -m` runs in the repository: its package must not shadow DIR's
        self.world = ClaudeTrayWorld(workdir / f"world-{label}", self.api, extra_env=env)
        self.world.with_desktop(x.display, bus.env)
        self.world.home.mkdir(parents=True)
        self.world.login()
        self.process = self.world.start_tray("--interval", str(interval)).process
        self.unique = ""

    def snapshot(self) -> None:
        """Ask the probe for its figures (one JSON line), and wait until it is written."""
        lines = self.probe_out.read_text().count("\n") if self.probe_out.exists() else 0
        os.kill(self.process.pid, signal.SIGUSR1)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if self.probe_out.exists() and self.probe_out.read_text().count("\n") > lines:
                return
            time.sleep(0.02)
        raise SystemExit(f"{self.label}: the probe wrote no snapshot (is {PROBE} on its PYTHONPATH?)")

    def snapshots(self) -> list[dict]:
        return [json.loads(line) for line in self.probe_out.read_text().splitlines()]

    def stop(self) -> None:
        stop_process(self.process, timeout=10)
        self.api.stop()


def read_profile(path: Path) -> list[list[str]]:
    rows = []
    for line in path.read_text(errors="replace").splitlines():
        if line and not line.startswith("#"):
            rows.append(line.split("\t"))
    return rows


def bus_traffic(rows: list[list[str]], start: float, end: float, names: set[str]) -> dict:
    """Signals sent by `names` and method calls to them, by member, between two wall times.
    dbus-monitor --profile: type, time, serial, sender, destination, [path, interface, member]."""
    signals, calls, replies = Counter(), Counter(), 0
    for row in rows:
        if len(row) < 5:
            continue
        kind, at, sender, destination = row[0], float(row[1]), row[3], row[4]
        if not start <= at <= end:
            continue
        member = row[7] if len(row) > 7 else ""
        if kind == "sig" and sender in names:
            signals[member] += 1
        elif kind == "mc" and destination in names:
            calls[f"{row[6].rsplit('.', 1)[-1]}.{member}"] += 1
        elif kind in ("mr", "err") and sender in names:
            replies += 1
    return {"signals": dict(signals), "calls": dict(calls), "replies": replies}


def probe_delta(before: dict, after: dict) -> dict[str, dict[str, list[int]]]:
    """thread -> name -> [calls, inclusive ns, exclusive ns] within the window."""
    old = {(r[0], r[1]): r[2:] for r in before["rows"]}
    out: dict[str, dict[str, list[int]]] = defaultdict(dict)
    for thread, name, *values in after["rows"]:
        base = old.get((thread, name), [0, 0, 0])
        diff = [a - b for a, b in zip(values, base, strict=True)]
        if diff[0]:
            out[thread][name] = diff
    return out


def measure(args) -> dict:
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    trees = {label: Path(folder).resolve() for label, _, folder in (v.partition("=") for v in args.variant_tree)}
    if args.tree is not None:
        args.tree = args.tree.resolve()
    for folder in [(args.tree or REPO) / "tray_monitor", PROBE, *(t / "tray_monitor" for t in trees.values())]:
        compileall.compile_dir(str(folder), quiet=1)
    workdir = Path(tempfile.mkdtemp(prefix="claude-tray-costs-"))
    x = start_xvfb(workdir)
    bus = host = monitor = None
    apps: list[App] = []
    try:
        bus, host = start_sni_host(x, workdir)
        profile = workdir / "bus-profile.tsv"
        with profile.open("w") as out:
            monitor = subprocess.Popen(["dbus-monitor", "--address", bus.address, "--profile"], stdout=out,
                                       stderr=subprocess.DEVNULL)
        apps.append(App("main" if not trees else "this", workdir, bus, x, args.interval, args.tree))
        for label, tree in trees.items():
            apps.append(App(label, workdir, bus, x, args.interval, tree))
        for app in apps:
            app.world.wait_view(lambda v: v.get("status") == "ok", timeout=30, what=f"{app.label}'s first poll")
            app.unique = name_owner(bus.address, f"org.kde.StatusNotifierItem-{app.process.pid}-1")
        time.sleep(max(0.0, args.warmup))
        rounds: dict[str, list[dict]] = {app.label: [] for app in apps}
        for number in range(args.rounds):
            for app in apps:
                app.snapshot()
            time.sleep(0.5)
            begin = {app.label: (process_cpu_ms(app.process.pid), thread_stats(app.process.pid),
                                 len(app.api.requests)) for app in apps}
            wall0 = time.time()
            print(f"window {number + 1} of {args.rounds} ({args.idle:.0f} s)", file=sys.stderr)
            time.sleep(args.idle)
            wall1 = time.time()
            end = {app.label: (process_cpu_ms(app.process.pid), thread_stats(app.process.pid),
                               len(app.api.requests)) for app in apps}
            time.sleep(0.2)
            for app in apps:
                app.snapshot()
            time.sleep(0.3)  # dbus-monitor's buffered output
            traffic_rows = read_profile(profile)
            for app in apps:
                snaps = app.snapshots()
                names = {t: tid for t, tid in snaps[-1]["threads"].items()}
                by_tid = {tid: t for t, tid in names.items()}
                cpu0, threads0, req0 = begin[app.label]
                cpu1, threads1, req1 = end[app.label]
                per_thread = {}
                for tid, (ms, runs) in threads1.items():
                    ms0, runs0 = threads0.get(tid, (0.0, 0))
                    per_thread[by_tid.get(tid, f"tid {tid} (ended or not Python)")] = (round(ms - ms0, 3), runs - runs0)
                rounds[app.label].append({
                    "cpu_ms": round(cpu1 - cpu0, 3),
                    "requests": req1 - req0,
                    "threads": per_thread,
                    "steps": probe_delta(snaps[-2], snaps[-1]),
                    "bus": bus_traffic(traffic_rows, wall0, wall1,
                                       {app.unique, f"org.kde.StatusNotifierItem-{app.process.pid}-1"}),
                })
        return {"idle_s": args.idle, "interval_s": args.interval, "rounds": rounds,
                "loadavg_at_end": os.getloadavg()}
    finally:
        for app in apps:
            app.stop()
        if monitor is not None:
            monitor.terminate()
            monitor.wait(5)
        if host is not None:
            stop_process(host.process)
        if bus is not None:
            stop_session_bus(bus)
        stop_process(x.program.process)


def ms(ns: int) -> str:
    return f"{ns / 1e6:.3f}"


def report(data: dict) -> str:
    out = [f"idle windows of {data['idle_s']:.0f} s, interval {data['interval_s']} s, reset times in the future; "
           f"load average at the end {tuple(round(v, 2) for v in data['loadavg_at_end'])}", ""]
    labels = list(data["rounds"])
    out.append("process CPU per window (ms), requests: " + "; ".join(
        f"{label} {[r['cpu_ms'] for r in data['rounds'][label]]} req {[r['requests'] for r in data['rounds'][label]]}"
        for label in labels))
    for label in labels:
        for number, window in enumerate(data["rounds"][label], 1):
            out.append("")
            out.append(f"== {label}, window {number}: {window['cpu_ms']:.2f} ms process CPU, "
                       f"{window['requests']} request(s)")
            out.append("  threads (schedstat: on-CPU ms, times run): " + "; ".join(
                f"{name} {v[0]:.2f} ms / {v[1]}" for name, v in sorted(window["threads"].items())))
            for thread, steps in sorted(window["steps"].items()):
                out.append(f"  thread {thread}: step  calls  inclusive ms  exclusive ms  (per call incl.)")
                for name, (calls, inclusive, exclusive) in sorted(steps.items(), key=lambda kv: -kv[1][1]):
                    out.append(f"    {name:<58} {calls:>4} {ms(inclusive):>9} {ms(exclusive):>9}"
                               f"   ({inclusive / calls / 1e6:.3f})")
            traffic = window["bus"]
            out.append(f"  bus: signals sent {traffic['signals']}; calls received {traffic['calls']}; "
                       f"replies/errors sent {traffic['replies']}")
    if len(labels) > 1:
        out.append("")
        out.append("side by side, medians over the windows:")
        for label in labels:
            windows = data["rounds"][label]
            cpu = statistics.median(w["cpu_ms"] for w in windows)
            out.append(f"  {label}: process CPU {cpu:.2f} ms per {data['idle_s']:.0f} s; " + _kinds(windows))
    else:
        out.append("")
        out.append("  " + _kinds(data["rounds"][labels[0]]))
    return "\n".join(out)


def _kinds(windows: list[dict]) -> str:
    """Poller iterations by kind: count and mean CPU, summed over the windows."""
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for w in windows:
        for name, (calls, inclusive, _exclusive) in w["steps"].get("claude-tray-poller", {}).items():
            if name.startswith("Poller.step_once["):
                totals[name[17:-1]][0] += calls
                totals[name[17:-1]][1] += inclusive
    return "poller iterations: " + ", ".join(f"{k} x{c} mean {t / c / 1e6:.3f} ms"
                                             for k, (c, t) in sorted(totals.items()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--idle", type=float, default=120.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--warmup", type=float, default=45.0, help="seconds after the first poll before measuring")
    parser.add_argument("--interval", type=int, default=60)
    parser.add_argument("--variant-tree", action="append", default=[], metavar="LABEL=DIR")
    parser.add_argument("--tree", type=Path, help="run the first app ('this') from the tray_monitor in DIR, "
                        "not this checkout's (which may then change during the run)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    data = measure(args)
    print(report(data))
    if args.json:
        args.json.write_text(json.dumps(data, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
