"""What one steady poll costs on the poller thread, step by step, and what it makes the tray send.

    .venv/bin/python benchmarks/steady_poll.py --tree before=DIR [--tree after=DIR2] [--polls 40] [--rounds 3]

Each tree (a `tray_monitor` package in DIR, e.g. `git archive REF tray_monitor | tar -x -C DIR`;
without --tree: this checkout's) runs in its own child process, the trees alternating round by
round, all against one loopback usage server (tests/fakeapi.py) answering the same recorded body
with its reset times moved ahead (the session resets in 2 h 11 min, the weekly window in 3 d 4 h:
as benchmarks/bench.py --resets future), as a user's idle tray sees it: the same numbers at every
poll. The child wires the tray's parts as app.tray does for one login: the real UsageSource and
UsageClient (HTTP to the server), the alert store and usage history (SQLite in a temporary data
dir), the Monitor, the Poller (no jitter, no idle stretch: a request every 60 s), the shared reading
publisher (reading.json) and the StatusNotifierItem backend (tray/sni.py) fed with look_of(view) as
the tray adapter does, not connected to a bus: it decides and counts its signals as it would send
them (`_signal` is counted). The clock is a FakeClock moved 60 s per poll, so a run of 40 polls
takes seconds, not 40 minutes.

Per poll, `time.thread_time_ns` (CPU time of the poller thread: here the main thread) around each
step: the source's read (credential store check + HTTP fetch + parse), `state.step` (alerts, the
forecast's run-out memory), `view`, the history record, the shared reading file, the tray (look_of +
SniBackend.show: its pixmaps when the icon changes, the signals), and the whole `step_once`. The
first polls (start, history preload) are left out: medians over the steady ones. Half a minute
after each poll the session's countdown turns a minute: the poller's tick (a view, the tray's new
menu countdowns) is measured the same way. `--history-days 30` starts each child with 30 days of a
simulated user's readings in its history (the forecast's usual-hours profile learned).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WARMUP = 4  # polls left out: the first reading, the history preload, caches


# ----------------------------------------------------------------------------- the child


def learned_history(history, now, days: int) -> None:
    """`days` of a simulated user's readings (benchmarks/usage_sim.py, user 0, as
    benchmarks/history_size.py feeds them), moved so that they end an hour before `now`: the
    forecast then has a learned usual-hours profile, as after a week or more of use."""
    from dataclasses import replace
    from datetime import timedelta

    from benchmarks.history_size import readings

    stored = list(readings(0, days))
    shift = now - timedelta(hours=1) - stored[-1].fetched_at
    for r in stored:
        history.record(replace(r, fetched_at=r.fetched_at + shift, windows=tuple(
            replace(w, resets_at=w.resets_at + shift if w.resets_at else None) for w in r.windows)))


def child(api_url: str, home: Path, polls: int, history_days: int = 0) -> dict:
    from datetime import datetime, timezone

    from tray_monitor import state as state_module
    from tray_monitor.alert_store import AlertStore, alert_store_path
    from tray_monitor.clock import FakeClock
    from tray_monitor.environment import Environment
    from tray_monitor.history import HistoryStore, history_path
    from tray_monitor.monitor import Monitor
    from tray_monitor.notifier import NullNotifier
    from tray_monitor.poller import Poller
    from tray_monitor.state import MonitorState
    from tray_monitor.tray.menu import look_of
    from tray_monitor.tray.sni import SniBackend
    from tray_monitor.tray_reading import ReadingPublisher, reading_path

    clock = FakeClock(datetime.now(timezone.utc))
    env = Environment(environ={"CLAUDE_TRAY_API_URL": api_url, "HOME": str(home), "PATH": os.environ.get("PATH", "")},
                      home=home, platform="linux", config_dir=home / "config", data_dir=home / "data",
                      log_dir=home / "log", runtime_dir=home / "run", clock=clock)
    for d in (env.config_dir, env.data_dir, env.log_dir):
        d.mkdir(parents=True, exist_ok=True)
    env.runtime_dir.mkdir(mode=0o700, parents=True, exist_ok=True)

    from tray_monitor.app import _usage_source

    current: dict[str, int] = {}

    def timed(name: str, fn):
        def wrapper(*args, **kwargs):
            t0 = time.thread_time_ns()
            try:
                return fn(*args, **kwargs)
            finally:
                current[name] = current.get(name, 0) + time.thread_time_ns() - t0
        return wrapper

    source = _usage_source(env, None, background=True)
    source.read = timed("read (store + fetch + parse)", source.read)
    alert_store = AlertStore(alert_store_path(env), clock=clock)
    history = HistoryStore(history_path(env), clock=clock)
    if history_days:
        learned_history(history, clock.now(), history_days)
    monitor = Monitor(MonitorState(interval=60, alert_memory=alert_store.load()), clock, NullNotifier(), alert_store,
                      step_fn=timed("state.step", state_module.step), history=history)
    if hasattr(monitor, "_view_at"):  # the whole view, or at a tick the last one's countdowns turned
        monitor._view_at = timed("view", monitor._view_at)
    else:  # a tree from before Monitor._view_at (wrapping _view_fn there would end the short way)
        monitor._view_fn = timed("view", monitor._view_fn)
    monitor._record = timed("history record", monitor._record)

    backend = SniBackend(env)
    signals: list[str] = []
    backend._signal = lambda path, iface, member, signature, body: signals.append(member)
    last_look = [None]

    def tray_show(v) -> None:  # TrayAdapter._publish_locked: the backend hears only of a changed look
        look = look_of(v, False)
        if look != last_look[0]:
            last_look[0] = look
            backend.show(look)

    publisher = ReadingPublisher(env, monitor)
    monitor.subscribe(timed("tray (look + SNI show)", tray_show))
    monitor.subscribe(timed("shared reading file", publisher.on_view))
    poller = Poller(source, monitor, clock)
    file_writes = [0]
    real_replace = os.replace

    def counting_replace(a, b, *args, **kwargs):
        if str(b) == str(reading_path(env)):
            file_writes[0] += 1
        return real_replace(a, b, *args, **kwargs)

    os.replace = counting_replace

    def iteration(kind: str) -> dict:
        current.clear()
        del signals[:]
        writes_before = file_writes[0]
        t0 = time.thread_time_ns()
        poller.step_once()
        current[f"step_once (whole {kind})"] = time.thread_time_ns() - t0
        return {"ns": dict(current), "signals": list(signals), "file_writes": file_writes[0] - writes_before}

    per_poll, per_tick = [], []
    for _ in range(polls):
        per_poll.append(iteration("poll"))
        # Half a minute on: the session's countdown has turned a minute (its reset is 2 h 11 min
        # 7 s ahead): the poller's tick, a view with new menu countdowns and nothing else new.
        clock.advance(30)
        per_tick.append(iteration("tick"))
        clock.advance(30)
    return {"polls": per_poll, "ticks": per_tick}


# ----------------------------------------------------------------------------- the parent


def run_child(tree: Path, api_url: str, polls: int, history_days: int = 0) -> dict:
    from tests.fakeapi import write_credentials

    with tempfile.TemporaryDirectory(prefix="steady-poll-") as tmp:
        home = Path(tmp)
        write_credentials(home / ".claude", "max-linux")
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPATH"] = os.pathsep.join([str(tree), str(ROOT)])
        out = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", "--api", api_url,
                              "--home", str(home), "--polls", str(polls), "--history-days", str(history_days)],
                             env=env, cwd=tmp, capture_output=True, text=True, check=False)
        if out.returncode != 0:
            raise SystemExit(f"the child for {tree} failed:\n{out.stderr[-3000:]}")
        return json.loads(out.stdout.splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", action="append", default=[], metavar="LABEL=DIR",
                        help="a tray_monitor package in DIR (default: this checkout's, as 'this')")
    parser.add_argument("--polls", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3, help="children per tree, alternating (default 3)")
    parser.add_argument("--history-days", type=int, default=0,
                        help="start with this many days of a simulated user's history (a learned profile)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--api", help=argparse.SUPPRESS)
    parser.add_argument("--home", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.api, args.home, args.polls, args.history_days)))
        return 0

    sys.path.insert(0, str(ROOT))
    from benchmarks.bench import live_usage_body
    from tests.fakeapi import FakeApi, Response

    trees = [(label, Path(d).resolve()) for label, d in (t.split("=", 1) for t in args.tree)] or [("this", ROOT)]
    for label, tree in trees:
        if not (tree / "tray_monitor" / "__init__.py").exists():
            raise SystemExit(f"{label}: no tray_monitor package in {tree}")
    api = FakeApi(Response(200, live_usage_body(), {"Content-Type": "application/json"})).start()
    polls: dict[str, list[dict]] = {label: [] for label, _ in trees}
    ticks: dict[str, list[dict]] = {label: [] for label, _ in trees}
    try:
        for round_no in range(args.rounds):
            order = trees if round_no % 2 == 0 else trees[::-1]
            for label, tree in order:
                got = run_child(tree, api.url, args.polls, args.history_days)
                polls[label].extend(got["polls"][WARMUP:])
                ticks[label].extend(got["ticks"][WARMUP:])
    finally:
        api.stop()
    print(f"per tree: {args.rounds} children x {args.polls - WARMUP} steady polls, each followed by a minute tick "
          f"30 s later (the first {WARMUP} of each child left out); CPU of the poller thread (thread_time_ns)")
    for kind, results in (("poll", polls), ("tick", ticks)):
        print()
        report(kind, trees, results)
    return 0


def report(kind: str, trees: list[tuple[str, Path]], results: dict[str, list[dict]]) -> None:
    print(f"median per {kind}")
    steps = sorted({name for each in results.values() for p in each for name in p["ns"]},
                   key=lambda n: (n.startswith("step_once"), n))
    header = "| step | " + " | ".join(label for label, _ in trees) + " |"
    print(header)
    print("|" + "---|" * (len(trees) + 1))
    for name in steps:
        cells = []
        for label, _ in trees:
            values = [p["ns"].get(name, 0) / 1e6 for p in results[label]]
            cells.append(f"{statistics.median(values):.3f} ms (p90 {sorted(values)[int(0.9 * (len(values) - 1))]:.3f})")
        print(f"| {name} | " + " | ".join(cells) + " |")
    print()
    print(f"signals the SNI item would send (total over all steady {kind}s / {kind}s)")
    members = sorted({m for each in results.values() for p in each for m in p["signals"]})
    print("| signal | " + " | ".join(label for label, _ in trees) + " |")
    print("|" + "---|" * (len(trees) + 1))
    for member in members or ["(none)"]:
        cells = []
        for label, _ in trees:
            total = sum(p["signals"].count(member) for p in results[label])
            cells.append(f"{total} / {len(results[label])}")
        print(f"| {member} | " + " | ".join(cells) + " |")
    cells = [f"{sum(p['file_writes'] for p in results[label])} / {len(results[label])}" for label, _ in trees]
    print("| reading.json rewritten | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    raise SystemExit(main())
