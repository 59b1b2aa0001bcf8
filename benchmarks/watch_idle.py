"""CPU that `claude-tray watch` uses while it just shows the screen (redraws each second, no poll due).

    .venv/bin/python benchmarks/watch_idle.py [--seconds 30] [--logins 1] [--tree DIR ...]

Runs `python -m tray_monitor watch` on a pseudo-terminal (80x24) for `--seconds`, against a loopback
server answering 200 for every login (so one poll each at the start, then none: the interval is
600 s), in a temporary HOME with `--logins` logins (1 to 3); then Ctrl+C. Prints the CPU the
process used (its threads' time on a CPU, /proc/PID/task/*/schedstat) after its first 5 s
(start-up and first polls), per minute of idle showing. `--tree` runs the code of another
checkout (its directory first on PYTHONPATH), e.g. an older commit exported with `git archive`,
for a before/after figure; the runs alternate.
A measurement, not a test.
"""
from __future__ import annotations

import argparse
import fcntl
import os
import pty
import select
import statistics
import struct
import sys
import tempfile
import termios
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.fakeapi import FakeApi, Response
from tests.logins import TOKENS, login

WARM_UP = 5.0


def world(root: Path, logins: int, api_url: str) -> dict:
    home = root / "home"
    names = ["default", "work", "play"][:logins]
    login(home / ".claude", TOKENS["default"])
    for name in names[1:]:
        login(home / f".claude-{name}", TOKENS[name])
    config = home / ".config" / "claude-tray"
    config.mkdir(parents=True, exist_ok=True)
    entries = ", ".join(f'{{ name = "{n}", config_dir = "~/.claude-{n}" }}' for n in names[1:])
    (config / "settings.toml").write_text(f"interval = 600\naccounts = [{entries}]\n")
    run = home / ".run"
    run.mkdir(mode=0o700, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "CLAUDE_CONFIG_DIR",
                                                             "CLAUDE_CODE_OAUTH_TOKEN", "PYTHONDONTWRITEBYTECODE")}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), XDG_DATA_HOME=str(home / ".local/share"),
               XDG_STATE_HOME=str(home / ".local/state"), XDG_CACHE_HOME=str(home / ".cache"),
               XDG_RUNTIME_DIR=str(run), CLAUDE_TRAY_API_URL=api_url, TERM="xterm")
    return env


def cpu_of_one_run(tree: Path, seconds: float, logins: int, api_url: str) -> float:
    """CPU seconds used by the watch between WARM_UP and WARM_UP + seconds (two runs' difference
    would double the noise: one run, CPU sampled from /proc at both moments)."""
    with tempfile.TemporaryDirectory(prefix="watch-idle-") as root:
        env = world(Path(root), logins, api_url)
        env["PYTHONPATH"] = str(tree)
        pid, fd = pty.fork()
        if pid == 0:
            try:
                fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
                os.chdir(tree)
                os.execve(sys.executable, [sys.executable, "-m", "tray_monitor", "watch"], env)
            finally:
                os._exit(127)
        try:
            drain(fd, WARM_UP)
            start = proc_cpu(pid)
            drain(fd, seconds)
            used = proc_cpu(pid) - start
            os.write(fd, b"\x03")
            drain(fd, 2.0)
        finally:
            os.waitpid(pid, 0)
            os.close(fd)
    return used


def drain(fd: int, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            if select.select([fd], [], [], 0.1)[0]:
                os.read(fd, 65536)
        except OSError:
            return


def proc_cpu(pid: int) -> float:
    """Seconds on a CPU of the process's live threads (/proc/PID/task/*/schedstat, in ns): finer than
    utime/stime's 10 ms ticks; its threads (the poller's) live as long as the watch."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (OSError, ValueError, IndexError):  # a thread that just ended
            continue
    return total / 1e9


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--logins", type=int, default=1, choices=(1, 2, 3))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tree", type=Path, action="append", default=[], help="another checkout to compare")
    args = parser.parse_args()
    trees = [REPO, *args.tree]
    resets = datetime.now(timezone.utc) + timedelta(hours=2)
    body = Response.json({"five_hour": {"utilization": 40, "resets_at": resets.isoformat()},
                          "seven_day": {"utilization": 20, "resets_at": (resets + timedelta(days=3)).isoformat()}})
    results: dict[Path, list[float]] = {tree: [] for tree in trees}
    with FakeApi(default=body) as api:
        for _ in range(args.rounds):
            for tree in trees:
                results[tree].append(cpu_of_one_run(tree, args.seconds, args.logins, api.url))
    print(f"claude-tray watch idle CPU: {args.logins} login(s), 80x24 pty, {args.seconds:.0f} s after a "
          f"{WARM_UP:.0f} s start, {args.rounds} rounds alternating, load {os.getloadavg()[0]:.2f}")
    for tree, values in results.items():
        per_minute = [v * 60.0 / args.seconds * 1000 for v in values]
        print(f"  {str(tree):40} ms CPU per minute: median {statistics.median(per_minute):6.1f}  "
              f"all {', '.join(f'{v:.0f}' for v in per_minute)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
