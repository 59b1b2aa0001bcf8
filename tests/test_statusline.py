"""`claude-tray statusline`: recorded Claude Code payloads in, one line out, exit 0 whatever comes.

In-process tests call `statusline.main` with a fixed `now`; the last ones run the real command as
Claude Code does (a process, the payload on stdin) and check what it imports.
"""
from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tray_monitor import statusline, view
from tray_monitor.environment import Environment
from tray_monitor.instance import ControlServer
from tray_monitor.runtime import READING_FILE_NAME

FIXTURES = Path(__file__).parent / "fixtures" / "statusline"
REPO = Path(__file__).resolve().parent.parent
#: 2h 11m before the fixtures' five_hour resets_at (1764512400 = 2025-11-30 14:20 UTC).
NOW = 1764512400 - (2 * 3600 + 11 * 60)
ANSI = re.compile(r"\x1b\[[0-9;]*m")


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def raw(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def run(stdin: bytes | str, *args: str, now: float = NOW, environ: dict | None = None) -> tuple[str, str, int]:
    out, err = io.StringIO(), io.StringIO()
    data = stdin.encode() if isinstance(stdin, str) else stdin
    env = dict(os.environ if environ is None else environ)
    code = statusline.main(list(args), stdin=io.BytesIO(data), stdout=out, stderr=err, environ=env, now=now)
    return out.getvalue(), err.getvalue(), code


def runtime_dir() -> Path:
    return Path(os.environ["XDG_RUNTIME_DIR"]) / "claude-tray"


def write_shared(windows: list[dict], now: float = NOW) -> None:
    directory = runtime_dir()
    directory.mkdir(parents=True, exist_ok=True)
    fetched = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(now - 60))
    for window in windows:
        window.setdefault("fetched_at", fetched)
    (directory / READING_FILE_NAME).write_text(json.dumps({"status": "ok", "windows": windows}))


# ----------------------------------------------------------------------------- the payloads


def test_epoch_payload_prints_session_and_weekly_with_countdowns():
    out, err, code = run(raw("cc-2.1.332-epoch.json"), "--color", "never")
    assert code == 0 and err == ""
    assert out == "Session 23% (2h 11m) · Week 41% (4d 13h)\n"


def test_iso_resets_at_reads_the_same_as_epoch_seconds():
    assert run(raw("cc-iso.json"), "--color", "never") == run(raw("cc-2.1.332-epoch.json"), "--color", "never")


@pytest.mark.parametrize("value", [1764512400, 1764512400.0, "1764512400", 1764512400000, "2025-11-30T14:20:00Z",
                                   "2025-11-30T14:20:00.000412+00:00", "2025-11-30T15:20:00+01:00",
                                   "2025-11-30T14:20:00"])
def test_every_resets_at_encoding_names_the_same_moment(value):
    assert statusline.epoch_of(value) == pytest.approx(1764512400, abs=0.001)


@pytest.mark.parametrize("value", [None, True, "soon", "", float("nan"), float("inf"), -5, 12, [], {}, "2025-13-40T00:00"])
def test_garbage_resets_at_is_no_time(value):
    assert statusline.epoch_of(value) is None


def test_missing_rate_limits_says_not_known_yet():
    out, _, code = run(raw("cc-no-rate-limits.json"), "--color", "never")
    assert (out, code) == ("Claude usage: not known yet\n", 0)


@pytest.mark.parametrize("stdin, line", [
    (b"", "Claude usage: no input"),
    (b"   \n", "Claude usage: no input"),
    (FIXTURES.joinpath("garbage.txt").read_bytes(), "Claude usage: unreadable input"),
    (b"[1, 2, 3]", "Claude usage: unreadable input"),
    (b'{"rate_limits": "soon"}', "Claude usage: not known yet"),
    (b'{"rate_limits": {"five_hour": {"used_percentage": "lots"}}}', "Claude usage: not known yet"),
])
def test_bad_input_still_prints_a_line_and_exits_0(stdin, line):
    assert run(stdin, "--color", "never")[0::2] == (line + "\n", 0)


def test_capped_100_is_critical_and_red():
    out, _, _ = run(raw("cc-capped.json"), "--color", "always")
    assert out.startswith("\x1b[31mSession 100% (2h 11m)\x1b[0m")


def test_a_gateway_spend_limit_does_not_disturb_the_two_windows():
    assert run(raw("cc-gateway-spend.json"), "--color", "never")[0] == "Session 23% (2h 11m) · Week 41% (4d 13h)\n"


def test_a_window_whose_reset_passed_says_reset_not_its_old_percent():
    out, _, _ = run(raw("cc-2.1.332-epoch.json"), "--color", "never", now=1764512400 + 5)
    assert out.startswith("Session reset · Week 41%")


# ----------------------------------------------------------------------------- the line


def test_colours_follow_severity_and_the_view_thresholds():
    assert (statusline.WARNING_PERCENT, statusline.CRITICAL_PERCENT) == (view.WARNING_PERCENT, view.CRITICAL_PERCENT)
    out, _, _ = run(raw("cc-2.1.332-epoch.json"), "--color", "always")
    assert "\x1b[32mSession 23%" in out  # normal: green
    payload = json.loads(raw("cc-2.1.332-epoch.json"))
    payload["rate_limits"]["seven_day"]["used_percentage"] = 80
    assert "\x1b[33mWeek 80%" in run(json.dumps(payload), "--color", "always")[0]  # warning: yellow


def test_auto_colour_is_on_for_claude_code_and_off_with_no_color():
    environ = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR", "CLICOLOR_FORCE")}
    assert "\x1b[" in run(raw("cc-2.1.332-epoch.json"), environ=environ)[0]
    assert "\x1b[" not in run(raw("cc-2.1.332-epoch.json"), environ={**environ, "NO_COLOR": "1"})[0]
    assert "\x1b[" not in run(raw("cc-2.1.332-epoch.json"), "--color", "never", environ=environ)[0]


def test_narrow_widths_pick_shorter_forms():
    payload = raw("cc-2.1.332-epoch.json")
    assert run(payload, "--color", "never", "--width", "36")[0] == "Session 23% 2h 11m · Week 41% 4d 13h\n"
    assert run(payload, "--color", "never", "--width", "30")[0] == "5h 23% 2h11m · 7d 41% 4d13h\n"
    assert run(payload, "--color", "never", "--width", "16")[0] == "5h 23% · 7d 41%\n"
    assert run(payload, "--color", "never", "--width", "12")[0] == "5h 23% · 7d…\n"


def test_a_per_model_window_near_its_cap_comes_from_the_trays_reading():
    write_shared([
        {"id": "five_hour", "label": "Session (5h)", "percent": 20, "resets_at": "2025-11-30T14:20:00+00:00"},
        {"id": "seven_day_fable", "label": "Weekly · Fable", "percent": 92, "resets_at": "2025-12-01T12:00:00+00:00"},
        {"id": "seven_day_sonnet", "label": "Weekly · Sonnet", "percent": 40, "resets_at": None},
    ])
    out, _, _ = run(raw("cc-2.1.332-epoch.json"), "--color", "never")
    # Claude Code's own session value wins over the tray's; Sonnet (40 %) is not near its cap.
    assert out == "Session 23% 2h 11m · Week 41% 4d 13h · Fable 92% 23h 51m\n"  # 61 columns in ( )
    assert len(out.rstrip("\n")) <= 60


def test_without_rate_limits_the_trays_reading_fills_in_but_not_an_old_one():
    write_shared([{"id": "five_hour", "label": "Session (5h)", "percent": 55.4,
                   "resets_at": "2025-11-30T14:20:00+00:00"}])
    assert run(raw("cc-no-rate-limits.json"), "--color", "never")[0] == "Session 55% (2h 11m)\n"
    write_shared([{"id": "five_hour", "label": "Session (5h)", "percent": 55.4, "resets_at": None}],
                 now=NOW - 2 * statusline.SHARED_MAX_AGE)
    assert run(raw("cc-no-rate-limits.json"), "--color", "never")[0] == "Claude usage: not known yet\n"


def test_the_files_mtime_confirms_an_old_reading_only_when_the_tray_says_it_does():
    """A tray that does not rewrite its file for an idle poll sets the mtime to the endpoint's last
    answer and says so (`mtime_is_endpoint_at`); an older tray's file was written at any change (a
    failed poll too), so its mtime confirms nothing and `fetched_at` alone counts."""
    old = NOW - 2 * statusline.SHARED_MAX_AGE
    write_shared([{"id": "seven_day_fable", "label": "Weekly · Fable", "percent": 92, "resets_at": None}], now=old)
    shared = runtime_dir() / READING_FILE_NAME
    os.utime(shared, (NOW - 120, NOW - 120))  # the endpoint answered two minutes ago
    assert "Fable" not in run(raw("cc-2.1.332-epoch.json"), "--color", "never")[0]  # an older tray's file
    doc = json.loads(shared.read_text())
    shared.write_text(json.dumps({**doc, "mtime_is_endpoint_at": True}))
    os.utime(shared, (NOW - 120, NOW - 120))
    assert "Fable 92%" in run(raw("cc-2.1.332-epoch.json"), "--color", "never")[0]
    os.utime(shared, (old, old))  # not confirmed since
    assert "Fable" not in run(raw("cc-2.1.332-epoch.json"), "--color", "never")[0]


def test_the_trays_reading_of_another_login_is_not_shown(tmp_path):
    write_shared([{"id": "seven_day_fable", "label": "Weekly · Fable", "percent": 92, "resets_at": None}])
    shared = runtime_dir() / READING_FILE_NAME
    doc = json.loads(shared.read_text())
    shared.write_text(json.dumps({**doc, "config_dir": str(tmp_path / "other-login")}))
    assert "Fable" not in run(raw("cc-2.1.332-epoch.json"), "--color", "never")[0]
    shared.write_text(json.dumps({**doc, "config_dir": os.path.realpath(os.path.join(os.environ["HOME"], ".claude"))}))
    assert "Fable 92%" in run(raw("cc-2.1.332-epoch.json"), "--color", "never")[0]


def test_a_corrupt_shared_reading_is_ignored():
    runtime_dir().mkdir(parents=True, exist_ok=True)
    (runtime_dir() / READING_FILE_NAME).write_text('{"windows": [1, {"id": 3}, {"id": "x", "percent": "y"}]}')
    assert run(raw("cc-2.1.332-epoch.json"), "--color", "never")[0].startswith("Session 23%")


windows = st.fixed_dictionaries({}, optional={
    "used_percentage": st.one_of(st.floats(allow_nan=True), st.integers(-10, 10**6), st.text(max_size=5), st.none()),
    "resets_at": st.one_of(st.integers(-10**12, 10**13), st.floats(), st.text(max_size=30), st.none()),
})
payloads = st.one_of(
    st.binary(max_size=200),
    st.builds(lambda five, seven, extra: json.dumps({"rate_limits": {"five_hour": five, "seven_day": seven, **extra}}).encode(),
              st.one_of(windows, st.integers(), st.none()), st.one_of(windows, st.text(max_size=5)),
              st.dictionaries(st.text(max_size=5), st.integers(), max_size=2)),
)


@settings(max_examples=300, deadline=None)
@given(stdin=payloads, width=st.integers(10, 120))
def test_any_input_gives_exit_0_and_one_line_within_the_width(stdin, width):
    out, err, code = run(stdin, "--color", "always", "--width", str(width))
    assert code == 0 and err == ""
    assert out.endswith("\n") and out.count("\n") == 1
    assert len(ANSI.sub("", out.rstrip("\n"))) <= width


def test_a_bad_option_still_prints_the_line():
    out, err, code = run(raw("cc-2.1.332-epoch.json"), "--colour", "never")
    assert code == 0 and out.startswith("\x1b[32mSession 23%") or out.startswith("Session 23%")
    assert "unknown option '--colour'" in err


# ----------------------------------------------------------------------------- --then


def test_then_runs_the_previous_statusline_with_the_same_stdin_and_appends_its_first_line():
    previous = f"{sys.executable} -c \"import sys, json; p = json.load(sys.stdin); print(p['model']['display_name'], p['cwd']); print('second line')\""
    out, _, code = run(raw("cc-2.1.332-epoch.json"), "--color", "never", "--then", previous)
    assert code == 0
    assert out == "Session 23% (2h 11m) · Week 41% (4d 13h) | Fable /home/u/src/app\n"


@pytest.mark.parametrize("previous", ["exit 3", "true", "definitely-not-a-command-xyz 2>/dev/null"])
def test_a_failing_or_silent_then_command_leaves_our_line_alone(previous):
    out, _, code = run(raw("cc-2.1.332-epoch.json"), "--color", "never", "--then", previous)
    assert (out, code) == ("Session 23% (2h 11m) · Week 41% (4d 13h)\n", 0)


# ----------------------------------------------------------------------------- feeding the tray


def test_the_rate_limits_go_to_the_running_tray_and_nothing_else_is_sent(tmp_path):
    env = Environment.from_os()
    received: list[str] = []
    server = ControlServer(env, {}, arg_handlers={"statusline": lambda arg: (received.append(arg), "taken")[1]})
    server.start()
    try:
        run(raw("cc-2.1.332-epoch.json"), "--color", "never")
        run(raw("cc-no-rate-limits.json"), "--color", "never")  # nothing to hand over
        run(b"garbage", "--color", "never")
    finally:
        server.stop()
    assert len(received) == 1
    body = json.loads(received[0])
    assert body == {"at": NOW, "windows": {"five_hour": [23.5, 1764512400.0], "seven_day": [41.2, 1764900000.0]},
                    "config_dir": os.path.realpath(os.path.join(os.environ["HOME"], ".claude"))}
    assert set(json.loads(raw("cc-2.1.332-epoch.json"))) - {"rate_limits"} and "session_id" not in received[0]


def test_a_tray_that_does_not_answer_costs_at_most_the_timeout():
    import socket

    directory = runtime_dir()
    directory.mkdir(parents=True, exist_ok=True)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(directory / "claude-tray.sock"))
    listener.listen(1)  # accepts the connection, never answers
    try:
        started = time.monotonic()
        out, _, code = run(raw("cc-2.1.332-epoch.json"), "--color", "never")
        elapsed = time.monotonic() - started
    finally:
        listener.close()
    assert code == 0 and out.startswith("Session 23%")
    assert elapsed < statusline.TRAY_TIMEOUT + 0.5


# ----------------------------------------------------------------------------- the real command


def shifted(name: str, seconds_from_now: float) -> bytes:
    """A fixture whose five_hour resets `seconds_from_now` after the real now."""
    payload = json.loads(raw(name))
    if "rate_limits" in payload:
        payload["rate_limits"]["five_hour"]["resets_at"] = int(time.time() + seconds_from_now)
        payload["rate_limits"]["seven_day"]["resets_at"] = int(time.time() + 3 * 86400 + 3600)
    return json.dumps(payload).encode()


def real_statusline(stdin: bytes, *args: str, importtime: bool = False) -> subprocess.CompletedProcess:
    flags = ["-X", "importtime"] if importtime else []
    return subprocess.run([sys.executable, *flags, "-m", "tray_monitor", "statusline", *args], input=stdin,
                          capture_output=True, env=os.environ.copy(), cwd=REPO, timeout=30)


@pytest.mark.parametrize("name", ["cc-2.1.332-epoch.json", "cc-iso.json", "cc-no-rate-limits.json", "garbage.txt"])
def test_the_real_command_prints_one_line_and_exits_0(name):
    stdin = shifted(name, 2 * 3600 + 11 * 60 + 30) if name.endswith(".json") else raw(name)
    done = real_statusline(stdin, "--color", "never")
    assert done.returncode == 0 and done.stderr == b""
    line = done.stdout.decode()
    assert line.count("\n") == 1
    if name == "cc-2.1.332-epoch.json":
        assert line.startswith("Session 23% (2h 1")


def test_the_real_command_imports_no_http_client_pillow_pystray_logging_or_argparse():
    # with a per-model window near its cap in the tray's reading, so its naming path runs too
    write_shared([{"id": "seven_day_fable", "label": "Current week (Fable)", "percent": 92, "resets_at": None}],
                 now=time.time())
    done = real_statusline(shifted("cc-2.1.332-epoch.json", 3600), importtime=True)
    assert b"Fable 92%" in done.stdout
    assert done.returncode == 0
    imported = {line.split("|")[-1].strip() for line in done.stderr.decode().splitlines() if line.startswith("import time:")}
    assert "tray_monitor.statusline" in imported
    for heavy in ("http.client", "ssl", "PIL", "pystray", "logging", "argparse", "tray_monitor.cli", "tray_monitor.app",
                  "tray_monitor.parse", "platformdirs", "dataclasses", "unicodedata"):
        assert heavy not in imported, f"{heavy} is imported on the statusline's path"


def test_the_cli_lists_the_statusline_command_and_takes_it_after_a_leading_option():
    done = subprocess.run([sys.executable, "-m", "tray_monitor", "--debug", "statusline", "--color", "never"],
                          input=b"", capture_output=True, cwd=REPO, timeout=30)
    assert (done.returncode, done.stdout) == (0, b"Claude usage: no input\n")
    helped = subprocess.run([sys.executable, "-m", "tray_monitor", "--help"], capture_output=True, text=True, cwd=REPO)
    assert "statusline" in helped.stdout


def test_help_explains_the_options():
    out, _, code = run(b"", "--help")
    assert code == 0 and "--then CMD" in out and "install" in out

