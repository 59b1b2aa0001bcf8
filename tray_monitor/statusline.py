"""`claude-tray statusline`: a Claude Code `statusLine` command that feeds the running tray.

Claude Code runs the statusLine command on every turn with one JSON object on stdin. Since 2.1.80
that object carries `rate_limits.five_hour` / `.seven_day` (`used_percentage` 0..100, rounded to
0.1 and capped at 100; `resets_at` in epoch seconds, older builds send ISO text), taken from the
session's own response headers. The field is absent before a session's first answer, right after
a reset and for API-key sessions; per-model windows are never in it.

This command
- hands those two windows to the running tray (`statusline <json>` on the control socket), which
  takes them as a fresh reading and postpones its own request to the usage endpoint;
- prints one line: session and weekly percent with their countdowns, plus the per-model window
  that only the endpoint knows (from the tray's shared reading) when it is near its cap;
- never makes a network request and never fails Claude Code: whatever the input, it prints a
  sensible line and exits 0.

It runs on every turn, so it must start fast: only `json`, `os`, `sys`, `time` and the small
`fmt`/`runtime` modules are imported here (no requests, Pillow, pystray, logging or argparse);
`tests/test_statusline.py` checks the list and `benchmarks/statusline_bench.py` times it.
"""
from __future__ import annotations

import json
import math
import os
import sys
import time

from tray_monitor import runtime
from tray_monitor.fmt import format_countdown, format_percent

#: The same thresholds as view.WARNING_PERCENT / CRITICAL_PERCENT (tests keep them equal);
#: view.py itself is too heavy to import on this path.
WARNING_PERCENT = 75
CRITICAL_PERCENT = 90
DEFAULT_WIDTH = 60
MIN_WIDTH = 10
#: How long the statusline waits for the running tray to take its reading (a local socket).
TRAY_TIMEOUT = 0.3
#: How long a chained statusline command (--then) may take.
THEN_TIMEOUT = 5.0
#: Values from the tray's shared reading older than this are not shown.
SHARED_MAX_AGE = 3600.0
#: stdin is one JSON object of a few KB; anything beyond this is not a statusline payload.
MAX_INPUT = 1 << 20
#: The control command that hands the tray a statusline reading (app.py answers it).
FEED_COMMAND = "statusline"
SESSION_ID = "five_hour"
WEEKLY_ID = "seven_day"

_ANSI = {"normal": "\x1b[32m", "warning": "\x1b[33m", "critical": "\x1b[31m"}
_ANSI_RESET = "\x1b[0m"
_SEPARATOR = " · "
_THEN_SEPARATOR = " | "

USAGE = """\
usage: claude-tray statusline [--color auto|always|never] [--width N] [--then CMD] [--account NAME]
       claude-tray statusline install [--color ...] [--width N]
       claude-tray statusline uninstall

A statusLine command for Claude Code: reads its JSON on stdin, hands the rate limits to the
running claude-tray (no request of its own), and prints one line.

  --color WHEN  ANSI colours by severity: auto (default; on for a terminal or Claude Code,
                off with NO_COLOR), always, never
  --width N     at most N columns for this line (default 60)
  --then CMD    also run CMD (a shell command) with the same stdin and append its first line
  --account NAME  the claude-tray account (`claude-tray accounts`) this session is logged in
                as; without it, the one of this session's CLAUDE_CONFIG_DIR

  install       set statusLine in Claude Code's settings.json to this command (an existing
                statusLine is kept, chained through --then); a backup is written first
  uninstall     put back the statusLine that was there before install
"""


class OptionError(ValueError):
    pass


class Options:
    __slots__ = ("color", "width", "then", "account")

    def __init__(self, color: str = "auto", width: int = DEFAULT_WIDTH, then: str | None = None,
                 account: str | None = None):
        self.color = color
        self.width = width
        self.then = then
        self.account = account


def parse_options(argv: list[str]) -> Options:
    """--color, --width, --then, --account (also as --opt=value). argparse costs milliseconds; four
    options do not need it."""
    options = Options()
    args = list(argv)
    while args:
        arg = args.pop(0)
        name, eq, value = arg.partition("=")
        if name not in ("--color", "--width", "--then", "--account"):
            raise OptionError(f"unknown option {arg!r}")
        if not eq:
            if not args:
                raise OptionError(f"{name} needs a value")
            value = args.pop(0)
        if name == "--color":
            if value not in ("auto", "always", "never"):
                raise OptionError(f"--color takes auto, always or never, not {value!r}")
            options.color = value
        elif name == "--width":
            try:
                options.width = max(MIN_WIDTH, int(value))
            except ValueError:
                raise OptionError(f"--width takes a number of columns, not {value!r}") from None
        elif name == "--then":
            options.then = value
        else:
            options.account = value  # looked up when the line is made (account_lookup.py)
    return options


# ----------------------------------------------------------------------------- the input (pure)


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


#: resets_at outside these years is garbage, not a time (epoch seconds 2000-01-01 .. 2100-01-01).
_EARLIEST, _LATEST = 946684800.0, 4102444800.0


def epoch_of(value: object) -> float | None:
    """resets_at as epoch seconds: a number (seconds; milliseconds are recognised by size), a
    numeric string, or ISO-8601 text (older Claude Code builds); None for anything else."""
    seconds = _number(value)
    if seconds is None and isinstance(value, str):
        text = value.strip()
        try:
            seconds = float(text)
        except ValueError:
            seconds = _iso_epoch(text)
        if seconds is not None and not math.isfinite(seconds):
            seconds = None
    if seconds is None:
        return None
    if seconds > _LATEST * 10:  # milliseconds
        seconds /= 1000.0
    return seconds if _EARLIEST <= seconds <= _LATEST else None


def _iso_epoch(text: str) -> float | None:
    from datetime import datetime, timezone

    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def rate_limits_from(payload: object) -> dict[str, tuple[float, float | None]]:
    """{window id: (percent, resets_at epoch or None)} for the windows the payload carries."""
    if not isinstance(payload, dict):
        return {}
    limits = payload.get("rate_limits")
    if not isinstance(limits, dict):
        return {}
    found: dict[str, tuple[float, float | None]] = {}
    for window_id in (SESSION_ID, WEEKLY_ID):
        entry = limits.get(window_id)
        if not isinstance(entry, dict):
            continue
        percent = _number(entry.get("used_percentage"))
        if percent is None or percent < 0:
            continue
        found[window_id] = (percent, epoch_of(entry.get("resets_at")))
    return found


def parse_input(raw: bytes) -> object:
    """The payload, or None when stdin held no JSON."""
    try:
        return json.loads(raw.decode("utf-8", errors="replace")) if raw.strip() else None
    except ValueError:
        return None


def feed_message(limits: dict[str, tuple[float, float | None]], now: float, config_dir: str | None = None) -> str:
    """The control line that hands the tray these windows (read by shared_reading.parse_feed);
    `config_dir` names the login they belong to (the tray ignores another login's)."""
    body: dict = {"at": now, "windows": {k: [p, r] for k, (p, r) in limits.items()}}
    if config_dir is not None:
        body["config_dir"] = config_dir
    return f"{FEED_COMMAND} {json.dumps(body, separators=(',', ':'))}"


# ----------------------------------------------------------------------------- the line (pure)


class Segment:
    __slots__ = ("name", "short", "percent", "resets_at")

    def __init__(self, name: str, short: str, percent: float, resets_at: float | None):
        self.name, self.short, self.percent, self.resets_at = name, short, percent, resets_at

    @property
    def severity(self) -> str:
        if self.percent >= CRITICAL_PERCENT:
            return "critical"
        if self.percent >= WARNING_PERCENT:
            return "warning"
        return "normal"

    def text(self, level: int, now: float) -> str:
        """level 0 "Session 23% (2h 11m)", 1 "Session 23% 2h 11m", 2 "5h 23% 2h11m", 3 "5h 23%"."""
        name = self.name if level < 2 else self.short
        if self.resets_at is not None and self.resets_at <= now:
            return f"{name} reset"  # the percent belongs to the window that just ended
        percent = format_percent(self.percent)
        if level >= 3 or self.resets_at is None:
            return f"{name} {percent}"
        from datetime import timedelta

        left = format_countdown(timedelta(seconds=self.resets_at - now))
        if level == 0:
            return f"{name} {percent} ({left})"
        if level == 1:
            return f"{name} {percent} {left}"
        return f"{name} {percent} {left.replace(' ', '')}"


def _shared_windows(shared: object, now: float, config_dir: str | None = None,
                    confirmed_at: float | None = None) -> dict[str, dict]:
    """The tray's shared reading's windows younger than SHARED_MAX_AGE, by id; none when the tray
    reads another login than this session's (`config_dir`). `confirmed_at` is the file's mtime,
    which a tray that says so (`mtime_is_endpoint_at`) sets to when the endpoint last answered (it
    does not rewrite the file for an answer that only confirms it): a window from the endpoint is
    then as young as the later of the two. An older tray's file is judged by `fetched_at` alone."""
    if not isinstance(shared, dict) or not isinstance(shared.get("windows"), list):
        return {}
    theirs = shared.get("config_dir")
    if config_dir is not None and isinstance(theirs, str) and theirs != config_dir:
        return {}
    fresh: dict[str, dict] = {}
    for window in shared["windows"]:
        if not isinstance(window, dict) or not isinstance(window.get("id"), str):
            continue
        at = epoch_of(window.get("fetched_at"))
        if at is not None and confirmed_at is not None and shared.get("mtime_is_endpoint_at") is True \
                and window.get("source") != "statusline":
            at = max(at, confirmed_at)
        if at is None or now - at > SHARED_MAX_AGE or _number(window.get("percent")) is None:
            continue
        fresh[window["id"]] = window
    return fresh


def _model_name(window: dict) -> str:
    label = window.get("label")
    if not isinstance(label, str):
        label = str(window["id"])
    from tray_monitor.window_names import scoped_name  # not parse.py: it would bring logging & co.

    return scoped_name(label)


def segments(limits: dict[str, tuple[float, float | None]], shared: object, now: float,
             config_dir: str | None = None, confirmed_at: float | None = None) -> list[Segment]:
    """Session and weekly (from Claude Code, else from the tray's reading), then the per-model
    window nearest its cap when it is at WARNING_PERCENT or more (only the endpoint knows it).
    `confirmed_at`: the shared file's mtime (_shared_windows)."""
    windows = _shared_windows(shared, now, config_dir, confirmed_at)
    found: list[Segment] = []
    for window_id, name, short in ((SESSION_ID, "Session", "5h"), (WEEKLY_ID, "Week", "7d")):
        if window_id in limits:
            percent, resets_at = limits[window_id]
        elif window_id in windows:
            percent, resets_at = float(windows[window_id]["percent"]), epoch_of(windows[window_id].get("resets_at"))
        else:
            continue
        found.append(Segment(name, short, percent, resets_at))
    others = [w for k, w in windows.items() if k not in (SESSION_ID, WEEKLY_ID)
              and float(w["percent"]) >= WARNING_PERCENT]
    if others:
        top = max(others, key=lambda w: float(w["percent"]))
        name = _model_name(top)
        found.append(Segment(name, name[:10], float(top["percent"]), epoch_of(top.get("resets_at"))))
    return found


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


def compose(parts: list[Segment], width: int, color: bool, now: float, fallback: str) -> str:
    """The most detailed form that fits `width` columns, coloured by severity when asked."""
    if not parts:
        return _fit(fallback, width)
    for level in range(4):
        texts = [p.text(level, now) for p in parts]
        if len(_SEPARATOR.join(texts)) <= width:
            break
    else:
        # Even the shortest form is too wide: cut the plain line (colour would split a sequence).
        return _fit(_SEPARATOR.join(texts), width)
    if color:
        texts = [f"{_ANSI[p.severity]}{t}{_ANSI_RESET}" for p, t in zip(parts, texts, strict=True)]
    return _SEPARATOR.join(texts)


def fallback_text(payload: object, raw: bytes) -> str:
    if not raw.strip():
        return "Claude usage: no input"
    if not isinstance(payload, dict):
        return "Claude usage: unreadable input"
    # Before a session's first answer, right after a reset, and for API-key sessions.
    return "Claude usage: not known yet"


def wants_color(option: str, payload: object, stdout, environ) -> bool:
    if option != "auto":
        return option == "always"
    if environ.get("NO_COLOR"):
        return False
    if environ.get("FORCE_COLOR") or environ.get("CLICOLOR_FORCE"):
        return True
    try:
        if stdout.isatty():
            return True
    except (AttributeError, ValueError):
        pass
    # Claude Code reads our stdout through a pipe and renders ANSI colours: recognise its payload.
    return isinstance(payload, dict) and ("session_id" in payload or "rate_limits" in payload)


# ----------------------------------------------------------------------------- the shell


def read_shared(runtime_dir: str) -> tuple[object, float | None]:
    """The tray's shared reading and the file's mtime (when the endpoint last confirmed it)."""
    try:
        with open(os.path.join(runtime_dir, runtime.READING_FILE_NAME), "rb") as f:
            return json.loads(f.read()), os.fstat(f.fileno()).st_mtime
    except (OSError, ValueError):
        return None, None


def run_then(command: str, raw: bytes) -> str | None:
    """The first line of another statusline command given the same stdin; None when it fails."""
    import subprocess

    try:
        done = subprocess.run(command, shell=True, input=raw, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, timeout=THEN_TIMEOUT)
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    lines = done.stdout.decode("utf-8", errors="replace").splitlines()
    return lines[0].rstrip() if lines and lines[0].strip() else None


def _read_stdin(stdin) -> bytes:
    try:
        if stdin.isatty():  # typed by hand: nothing will come
            return b""
        buffer = getattr(stdin, "buffer", stdin)
        data = buffer.read(MAX_INPUT)
        return data.encode("utf-8") if isinstance(data, str) else data
    except (OSError, ValueError, AttributeError):
        return b""


def statusline(options: Options, raw: bytes, environ, platform: str, now: float, stdout, stderr=None) -> str:
    """Everything but reading stdin and printing: feed the tray, read its reading, build the line.
    `--account NAME` names the login the session's numbers belong to; an unknown name is one
    sentence on `stderr`, and the line is then made from Claude Code's numbers alone (handed to no
    login, none of the tray's shown: whose they are is not known)."""
    payload = parse_input(raw)
    limits = rate_limits_from(payload)
    try:
        run_dir = runtime.runtime_dir_for(environ, platform)
    except Exception:  # no usable cache directory: no tray to talk to either
        run_dir = None
    config_dir = runtime.claude_config_dir(environ)
    if options.account is not None:
        from tray_monitor.account_lookup import UnknownAccount, account_folder

        try:
            config_dir = account_folder(options.account, environ, platform)
        except UnknownAccount as error:
            if stderr is not None:
                stderr.write(f"claude-tray statusline: {error} (this line is handed to no login).\n")
            run_dir = None
    if run_dir is not None and limits:
        runtime.quick_command(run_dir, platform, feed_message(limits, now, config_dir), TRAY_TIMEOUT)
    shared, confirmed_at = read_shared(run_dir) if run_dir is not None else (None, None)
    color = wants_color(options.color, payload, stdout, environ)
    line = compose(segments(limits, shared, now, config_dir, confirmed_at), options.width, color, now,
                   fallback_text(payload, raw))
    if options.then:
        chained = run_then(options.then, raw)
        if chained:
            line += _THEN_SEPARATOR + chained
    return line


def main(argv: list[str], stdin=None, stdout=None, stderr=None, environ=None, now: float | None = None) -> int:
    stdin, stdout, stderr = stdin or sys.stdin, stdout or sys.stdout, stderr or sys.stderr
    if argv[:1] in (["install"], ["uninstall"]):
        from tray_monitor.statusline_install import main as install_main

        return install_main(argv[0], argv[1:], stdout, stderr, environ if environ is not None else os.environ)
    if argv[:1] in (["-h"], ["--help"]):
        stdout.write(USAGE)
        return 0
    try:
        options = parse_options(argv)
    except OptionError as error:
        stderr.write(f"claude-tray statusline: {error}; see `claude-tray statusline --help`.\n")
        options = Options()  # still a line: a typo in settings.json must not blank Claude Code's
    try:
        line = statusline(options, _read_stdin(stdin), environ if environ is not None else os.environ,
                          sys.platform, time.time() if now is None else now, stdout, stderr)
    except Exception as error:  # never fail Claude Code: a line, and the reason on stderr
        stderr.write(f"claude-tray statusline: {type(error).__name__}: {error}\n")
        line = "Claude usage: unavailable"
    try:
        stdout.write(line + "\n")
        stdout.flush()
    except (OSError, ValueError):
        pass  # Claude Code stopped reading (a newer turn): nothing to do
    return 0
