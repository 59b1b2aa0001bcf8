"""How long `claude-tray statusline` takes, from process start to exit, as Claude Code runs it.

    .venv/bin/python benchmarks/statusline_bench.py [--runs 40] [--with-tray] [--venv DIR]

Runs, alternating, `--runs` times each:
- floor: `python -c pass` (the interpreter alone: nothing can be faster than this);
- module: `python -m tray_monitor statusline` with a recorded payload on stdin;
- script: the installed `claude-tray statusline` (the console script settings.json points at),
  when it is next to this Python;
- account: `python -m tray_monitor statusline --account work`, a settings.toml listing that login
  (several logins, issue 15: the account's folder is looked up in settings.toml and preferences.json);
each in a fresh process with its own temporary runtime dir. `--with-tray` also answers the
statusline's control message from a socket in that dir (as the running tray does), so the
round trip to the tray is counted. Prints median, p90 and min in milliseconds, then the imports
of one run with their cumulative times (`python -X importtime`), largest first.
A measurement, not a test: the target is a median of at most 50 ms for the module and script.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PAYLOAD = REPO / "tests" / "fixtures" / "statusline" / "cc-2.1.332-epoch.json"
TARGET_MS = 50.0


def payload() -> bytes:
    body = json.loads(PAYLOAD.read_text())
    body["rate_limits"]["five_hour"]["resets_at"] = int(time.time() + 7860)
    body["rate_limits"]["seven_day"]["resets_at"] = int(time.time() + 4 * 86400)
    return json.dumps(body).encode()


def fake_tray(runtime: Path, stop: threading.Event) -> threading.Thread:
    runtime.mkdir(parents=True, exist_ok=True)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(runtime / "claude-tray.sock"))
    listener.listen(8)
    listener.settimeout(0.2)

    def serve() -> None:
        with listener:
            while not stop.is_set():
                try:
                    conn, _ = listener.accept()
                except TimeoutError:
                    continue
                with conn:
                    conn.recv(4096)
                    conn.sendall(b"taken\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return thread


def time_one(argv: list[str], stdin: bytes, env: dict) -> tuple[float, float]:
    """(wall ms from start to exit, CPU ms the process used: user + system)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(argv, input=stdin, capture_output=True, env=env)
    elapsed = (time.perf_counter() - started) * 1000
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{argv} failed: {done.stderr.decode()[-500:]}")
    cpu = (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000
    return elapsed, cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--with-tray", action="store_true")
    parser.add_argument("--venv", type=Path, help="also time a regular (not editable) install in this venv, "
                        "e.g. after `python3 -m venv V && V/bin/pip install --no-deps .`")
    args = parser.parse_args()

    stdin = payload()
    work = Path(tempfile.mkdtemp(prefix="statusline-bench-"))
    runtime_root = work / "run"
    runtime_root.mkdir(mode=0o700)
    config_home = work / "config"
    (config_home / "claude-tray").mkdir(parents=True)
    (config_home / "claude-tray" / "settings.toml").write_text(
        'accounts = [{ name = "work", config_dir = "~/.claude-work" }]\n', encoding="utf-8")
    env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime_root), "HOME": str(work), "NO_COLOR": "1",
           "XDG_CONFIG_HOME": str(config_home), "XDG_DATA_HOME": str(work / "data")}
    stop = threading.Event()
    if args.with_tray:
        fake_tray(runtime_root / "claude-tray", stop)

    commands = {
        "floor (python -c pass)": [sys.executable, "-c", "pass"],
        "python -m tray_monitor statusline": [sys.executable, "-m", "tray_monitor", "statusline"],
        "... statusline --account work": [sys.executable, "-m", "tray_monitor", "statusline", "--account", "work"],
    }
    script = Path(sys.executable).parent / "claude-tray"
    if script.exists():
        commands["claude-tray statusline"] = [str(script), "statusline"]

    if args.venv is not None:
        # An editable install adds its import finder to every start (pathlib, urllib.parse, ...):
        # a user's pipx/pip install has none.
        commands["floor, that venv's python"] = [str(args.venv / "bin" / "python"), "-c", "pass"]
        commands["claude-tray statusline (regular install)"] = [str(args.venv / "bin" / "claude-tray"), "statusline"]
    times: dict[str, list[float]] = {name: [] for name in commands}
    cpu: dict[str, list[float]] = {name: [] for name in commands}
    for argv in commands.values():  # one warm-up each (page cache, .pyc files)
        time_one(argv, stdin, env)
    for _ in range(args.runs):
        for name, argv in commands.items():
            wall, used = time_one(argv, stdin, env)
            times[name].append(wall)
            cpu[name].append(used)
    stop.set()

    line = subprocess.run(commands["python -m tray_monitor statusline"], input=stdin, capture_output=True,
                          env=env).stdout.decode().strip()
    print(f"claude-tray statusline benchmark: {platform.python_implementation()} {platform.python_version()}, "
          f"{platform.machine()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}, "
          f"{args.runs} runs each, tray {'answering' if args.with_tray else 'not running'}")
    print(f"line printed: {line}")
    print("wall = ms from process start to exit; cpu = ms of CPU it used (user + system), which the other")
    print("processes on a loaded machine do not inflate as much")
    print(f"{'command':36} {'median':>7} {'p90':>7} {'min':>7} | {'cpu med':>7} {'cpu min':>7}")
    for name, values in times.items():
        values.sort()
        p90 = values[min(len(values) - 1, int(len(values) * 0.9))]
        verdict = ""
        if "floor" not in name:
            verdict = "  PASS" if statistics.median(values) <= TARGET_MS else "  MISS"
        print(f"{name:36} {statistics.median(values):7.1f} {p90:7.1f} {values[0]:7.1f} | "
              f"{statistics.median(cpu[name]):7.1f} {min(cpu[name]):7.1f}{verdict}")

    trace = subprocess.run([sys.executable, "-X", "importtime", "-m", "tray_monitor", "statusline"], input=stdin,
                           capture_output=True, env=env).stderr.decode().splitlines()
    rows = []
    for row in trace:
        if row.startswith("import time:") and "|" in row:
            self_us, cumulative, name = (part.strip() for part in row.replace("import time:", "").split("|"))
            if cumulative.isdigit():
                rows.append((int(cumulative), int(self_us), name))
    names = {name.strip() for _, _, name in rows}
    print(f"\n-X importtime: {len(rows)} modules imported; largest cumulative first (us):")
    for cumulative, self_us, name in sorted(rows, reverse=True)[:12]:
        print(f"  {cumulative:7d} {self_us:7d}  {name}")
    for heavy in ("requests", "PIL", "pystray", "logging", "argparse", "platformdirs"):
        print(f"  {heavy:12} {'IMPORTED' if heavy in names else 'not imported'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
