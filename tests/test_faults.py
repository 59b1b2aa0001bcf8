"""Faults: the real `claude-tray` against the loopback server and real files (issue 6).

Each fault is checked for what the user sees (the tray's `view`: status, icon, menu lines; and
`status --json`) and for what goes over the wire (the FakeApi's recorded requests: count and
spacing). For every fault the process stays alive, the last good reading stays (marked), the next
good response restores "ok" within one poll, and the token (a canary) leaks nowhere
(tests/test_secrets.py helpers, checked after every real-process test).

How it runs, and why it is fast enough:
- `status --json`, one process per case, no tray: every response and credential fault (cheap).
- The running tray: one process per fault, ALL STARTED AT ONCE (the `fleet`, a module fixture, one
  thread per scenario). A tray accepts one manual refresh per 30 s and retries a failure 30 s
  later, so faults in sequence would cost 30 s each; in parallel the whole fleet takes ~35 s.
  Each scenario is then one test that waits for its own thread. The store-waiting faults (401,
  403, every credential fault) chain in one process each: a changed store is asked at once.
- Wall-clock jumps (sleep: +3 h; clock set back 1 h) and a reset passing cannot be made in a real
  process without libfaketime: they run a real Poller and a real Monitor with a FakeClock and a
  fake source (the bottom of this file), as do the per-hour bounds.

Requests per hour each fault can cause (interval 120 s; asserted at the bottom with a FakeClock,
and within the observed time in the real process):

  fault                                     no user action   refresh every 1 s
  healthy 200                                 30 (+1/reset)     120
  5xx / 502 HTML / 529                        32                120
  body cut / empty / not JSON / closed        32                120
  10 s stall past the 20 s read timeout       27                120 (each request takes 20 s)
  connection refused                          32                120
  429 Retry-After absent or 0                  4                  4
  429 Retry-After 120                         30                 30
  429 Retry-After 3600                         1                  1
  429 met by `status`/`doctor` (the wait is kept in the data folder; the tray and every command
  honour it)                                   as above, counted across all claude-tray processes
  401 (same token after re-read)               1                  1  then 0 until the store changes
  403 scope                                    1                  1  then 0 until the store changes
  credentials missing / deleted / half-written / not JSON / mcpOAuth only / empty token /
  expired / permission denied                  0                  0  (1 attempt per store change)
  wall clock jumps (sleep, clock change)      +1 per jump
"""
from __future__ import annotations

import json
import os
import re
import shutil
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests.apprun import ClaudeTrayWorld
from tests.desktop_bus import start_session_bus, stop_session_bus
from tests.desktop_x import (
    App,
    _start_with_stdin,
    find_tray_icon,
    start_trayer,
    start_xvfb,
    stop_process,
    wait_docked,
)
from tests.fakeapi import FakeApi, Response, error_fixture, usage_fixture
from tests.relay import cut, pipe
from tests.test_secrets import (
    assert_no_canary,
    assert_store_untouched,
    canary_payload,
    canary_token,
    clean_env,
    make_world,
    remember_store,
    run_cli,
    status_json,
    write_login,
)
from tray_monitor import instance
from tray_monitor.environment import Environment
from tray_monitor.fmt import format_clock
from tray_monitor.parse import parse_usage

HOUR = 3600.0
TRANSIENT_RETRY = 30.0  # schedule.TRANSIENT_FIRST_BACKOFF: the first retry after a 5xx/timeout/bad body
REFRESH_COALESCE = 30.0  # schedule.REFRESH_COALESCE
STORE_CHECK = 5.0  # schedule.STORE_CHECK_EVERY
SLOWDOWN = "The usage endpoint asked us to slow down; not asking again before "
WAITING_FOR_LOGIN = "Waiting for a new Claude login"


def usage_body(five_hour: float, weekly: float) -> bytes:
    """A usage answer with windows that reset in the future (no reset poll during a test)."""
    now = datetime.now(timezone.utc)
    return json.dumps({
        "five_hour": {"utilization": five_hour, "resets_at": (now + timedelta(hours=3)).isoformat()},
        "seven_day": {"utilization": weekly, "resets_at": (now + timedelta(days=4)).isoformat()},
        "seven_day_opus": None,
    }).encode()


def good(five_hour: float) -> Response:
    return Response(200, usage_body(five_hour, 30.0))


BEFORE, AFTER = 80.0, 85.0  # 80% crosses the 75% threshold: a real notification reaches dunst


def error_response(status: int, name: str, **headers) -> Response:
    content_type = "text/html" if name.endswith(".html") else "application/json"
    return Response(status, error_fixture(name), {"Content-Type": content_type, **headers})


def api_error(status: int, kind: str, message: str) -> Response:
    return Response.json({"type": "error", "error": {"type": kind, "message": message}}, status=status)


# ----------------------------------------------------------------------------- a port that can refuse


class Gate:
    """A loopback port in front of a FakeApi that can refuse connections (nothing listens) and
    come back on the same port. `down()` also cuts open keep-alive connections."""

    def __init__(self, target_port: int):
        self.target_port = target_port
        self._listener: socket.socket | None = None
        self._connections: list[socket.socket] = []
        self._lock = threading.Lock()
        self.port = 0
        self.up()
        self.url = f"http://127.0.0.1:{self.port}"

    def up(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True, name="gate").start()

    def down(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            connections, self._connections = self._connections, []
        if listener is not None:
            cut(listener)  # Linux: close() alone leaves a blocked accept() listening
        for connection in connections:
            cut(connection)

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # closed by down()
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._connections += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=pipe, args=(a, b), daemon=True, name="gate-pipe").start()


# ----------------------------------------------------------------------------- talking to the tray


def control(world: ClaudeTrayWorld, command: str, timeout: float = 5) -> str:
    """A control command over the tray's own channel, from this process (cheap: the fleet polls
    many trays at once; tests/apprun.py's `world.control` starts a process per call)."""
    return instance.send_command(Environment.from_os(clean_env(world)), command, timeout=timeout)


def view(world: ClaudeTrayWorld) -> dict:
    return json.loads(control(world, "view"))


def wait_view(world: ClaudeTrayWorld, predicate: Callable[[dict], bool], what: str, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    last, error = None, None
    while time.monotonic() < deadline:
        try:
            last = view(world)
            if predicate(last):
                return last
        except Exception as exc:  # the tray is still starting up
            error = exc
        for app in world.apps:
            if app.process.poll() is not None:
                raise AssertionError(f"claude-tray exited ({app.process.returncode}) waiting for {what}:\n"
                                     f"{app.log()[-3000:]}")
        time.sleep(0.3)
    logs = "\n".join(app.log()[-3000:] for app in world.apps)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}\nlast view: {last}\n"
                         f"last error: {error!r}\napp output:\n{logs}")


def shows(percent: float, status: str = "ok") -> Callable[[dict], bool]:
    return lambda v: v["status"] == status and v["icon"]["percent"] == percent


def menu_line(v: dict, prefix: str) -> str:
    found = [line for line in v["menu"] if line.startswith(prefix)]
    assert found, f"no menu line starting {prefix!r} in {v['menu']}"
    return found[0]


def assert_kept(v: dict, percent: float, message: str) -> str:
    """The last good reading is still shown with its age, under one line that starts with
    `message` and says why it is old (and when it is retried: said once, not on both lines).
    Returns that line."""
    assert menu_line(v, "Current session: ").startswith(f"Current session: {percent:.0f}%")
    updated = menu_line(v, "Last reading")
    assert re.fullmatch(r"Last reading (less than a minute|\d+ min) ago", updated), updated
    why = v["menu"][v["menu"].index(updated) - 1]
    assert why.startswith(message), (message, v["menu"])
    return why


def clock_texts(seen_at: datetime, delay: float, slack: float = 2.0) -> set[str]:
    """The retry time as the app shows it when it was `delay` seconds after `seen_at`: "HH:MM",
    or "Thu 00:04" when it falls after midnight, allowing the minute (and the day, as seen from
    the app's own now) to turn within `slack` seconds."""
    return {
        format_clock(seen_at + timedelta(seconds=delay + s), seen_at + timedelta(seconds=t))
        for s in (-slack, 0, slack)
        for t in (-slack, 0)
    }


def start_tray(world: ClaudeTrayWorld, prefix: tuple = ()) -> App:
    workdir = world.root / "apps"
    workdir.mkdir(exist_ok=True)
    name = f"tray-{len(world.apps)}"
    program = _start_with_stdin(name, [*prefix, sys.executable, "-m", "tray_monitor"], clean_env(world), workdir)
    app = App(program, workdir / f"{name}.status")
    world.apps.append(app)
    return app


def finish(world: ClaudeTrayWorld, app: App) -> None:
    """Still alive after the fault, quits cleanly, printed no traceback."""
    assert app.process.poll() is None, f"claude-tray died:\n{app.log()}"
    assert control(world, "quit") == "quitting"
    assert app.wait_exit(15) == 0
    assert "Traceback" not in app.log(), app.log()


def no_privilege_prefix() -> tuple:
    """root reads a chmod 000 file anyway: drop the capabilities that let it (setpriv), so a
    permission refusal is real. Empty for a normal user."""
    if os.geteuid() != 0:
        return ()
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: a permission refusal cannot be made")
    return ("setpriv", "--bounding-set=-dac_override,-dac_read_search", "--")


# ----------------------------------------------------------------------------- status --json, per response


@pytest.fixture
def world(tmp_path, fake_api):
    """A private user world for one CLI test. After the test (and its processes) end: the token is
    in no file the app wrote, and Claude Code's store is exactly as the test left it."""
    w = make_world(tmp_path / "w", fake_api)
    yield w
    w.stop_all()
    assert_no_canary(w)
    assert_store_untouched(w)


def _retry_after(value: str | None) -> Response:
    headers = {} if value is None else {"Retry-After": value}
    return error_response(429, "429-rate-limited.json", **headers)


HTTP_CASES = {
    # name: (response, status --json "status", words in the message)
    "401": (error_response(401, "401-invalid-token.json"), "expired", "run claude"),
    "403 scope": (error_response(403, "403-scope.json"), "no_scope", "claude"),
    "429 Retry-After 0": (_retry_after("0"), "rate_limited", "Rate limited"),
    "429 Retry-After 120": (_retry_after("120"), "rate_limited", "Rate limited"),
    "429 Retry-After 3600": (_retry_after("3600"), "rate_limited", "Rate limited"),
    "429 no Retry-After": (_retry_after(None), "rate_limited", "Rate limited"),
    "500": (api_error(500, "api_error", "Internal server error"), "error", "HTTP 500"),
    "502 HTML page": (error_response(502, "502-html.html"), "error", "HTTP 502"),
    "529 overloaded": (error_response(529, "529-overloaded.json"), "error", "HTTP 529"),
    "body cut in half": (Response(200, usage_body(40, 30), truncate=True), "error", "broke off"),
    "empty body": (Response(200, b""), "error", "not JSON"),
    "200 not JSON": (Response(200, b"<html><body>Welcome</body></html>", {"Content-Type": "text/html"}),
                     "error", "not JSON"),
    "closed without an answer": (Response(close=True), "error", "Cannot reach"),
}


@pytest.mark.parametrize("case", list(HTTP_CASES))
def test_status_json_for_each_response_fault_names_it_with_one_request(world, case):
    response, expected_status, words = HTTP_CASES[case]
    world.api.queue(response)
    write_login(world)
    payload, done = status_json(world)
    assert done.returncode == 1
    assert payload["status"] == expected_status
    assert payload["windows"] == [] and payload["updated_at"] is None
    assert words in payload["message"], payload["message"]
    assert payload["message"] in done.stderr  # the same sentence for a human, on stderr
    # One request: a 401 re-reads the store and, the token being the same, does not ask again.
    assert len(world.api.requests) == 1
    assert world.api.requests[0].headers["authorization"] == f"Bearer {canary_token(1)}"
    assert_no_canary(world, done.stdout, done.stderr)
    assert_store_untouched(world)


def test_status_json_with_connection_refused_says_so_and_exits_1(world):
    gate = Gate(world.api.port)
    gate.down()
    write_login(world)
    payload, done = status_json(world, CLAUDE_TRAY_API_URL=gate.url)
    assert done.returncode == 1
    assert payload["status"] == "error"
    assert payload["message"].startswith("Cannot reach 127.0.0.1")
    assert world.api.requests == []
    assert_no_canary(world, done.stdout, done.stderr)


@pytest.mark.parametrize("fixture", sorted(p.stem for p in (Path(__file__).parent / "fixtures/usage").glob("*.json")))
def test_status_json_shows_every_recorded_usage_body_as_parsed(world, fixture):
    body = usage_fixture(fixture)
    world.api.queue(Response(200, body))
    write_login(world)
    payload, done = status_json(world)
    assert done.returncode == 0, done.stderr
    expected = parse_usage(json.loads(body), datetime.now(timezone.utc))
    assert payload["status"] == "ok"
    assert [(w["id"], w["percent"]) for w in payload["windows"]] == [(w.id, w.percent) for w in expected.windows]
    assert len(world.api.requests) == 1
    assert_no_canary(world, done.stdout, done.stderr)
    assert_store_untouched(world)


def _half_written(world: ClaudeTrayWorld) -> None:
    """Claude Code caught mid-write (a non-atomic writer): half the bytes, in place."""
    world.claude_dir.mkdir(parents=True, exist_ok=True)
    path = world.claude_dir / ".credentials.json"
    data = json.dumps(canary_payload()).encode()
    path.write_bytes(data[: len(data) // 2])
    remember_store(world)


def _not_json(world: ClaudeTrayWorld) -> None:
    world.claude_dir.mkdir(parents=True, exist_ok=True)
    path = world.claude_dir / ".credentials.json"
    path.write_text("this is not JSON\n")
    remember_store(world)


CREDENTIAL_CASES = {
    # name: (make the store, status --json "status", words in the message)
    "file missing": (lambda w: (w.claude_dir.mkdir(parents=True), remember_store(w)), "signed_out", "claude"),
    "half-written": (_half_written, "error", ".credentials.json"),
    "not JSON": (_not_json, "error", ".credentials.json"),
    "mcpOAuth only": (lambda w: write_login(w, "mcp-only"), "signed_out", "claude"),
    "empty token": (lambda w: write_login(w, "empty-token"), "signed_out", "claude"),
    "expired": (lambda w: write_login(w, expires_in=-3600), "expired", "run claude"),
    "permission denied": (lambda w: write_login(w, mode=0o000), "error", "permission denied"),
}


@pytest.mark.parametrize("case", list(CREDENTIAL_CASES))
def test_status_json_for_each_credential_fault_sends_nothing(world, case):
    make_store, expected_status, words = CREDENTIAL_CASES[case]
    make_store(world)
    prefix = no_privilege_prefix() if case == "permission denied" else ()
    payload, done = status_json(world, prefix=prefix)
    assert done.returncode == 1
    assert payload["status"] == expected_status
    assert words in payload["message"], payload["message"]
    assert world.api.requests == []  # nothing is sent without a usable login
    assert_no_canary(world, done.stdout, done.stderr)
    assert_store_untouched(world)


# ----------------------------------------------------------------------------- the fleet: running trays


@dataclass
class Context:
    """What scenarios share: the desktop, and a place for their own X servers and buses."""

    display: str
    bus_env: dict
    workdir: Path


@dataclass
class Run:
    name: str
    world: ClaudeTrayWorld
    script: Callable
    error: str | None = None
    cleanup: list = field(default_factory=list)
    thread: threading.Thread | None = None

    def go(self, context: Context) -> None:
        try:
            self.script(self.world, context, self)
        except BaseException:
            self.error = traceback.format_exc()


@pytest.mark.parametrize("retry_after, wait", [("120", 120), (None, 300)], ids=["Retry-After 120", "no Retry-After"])
def test_a_second_status_during_a_429s_wait_sends_nothing_and_says_when_to_try(world, retry_after, wait):
    """The wait a 429 asks for is kept in the data folder; every claude-tray command honours it."""
    world.api.queue(_retry_after(retry_after))
    write_login(world)
    first, _ = status_json(world)
    seen_at = datetime.now(timezone.utc)
    assert first["status"] == "rate_limited" and len(world.api.requests) == 1
    second = run_cli(world, "status")
    assert second.returncode == 1 and second.stdout == ""
    assert len(world.api.requests) == 1
    again = second.stderr.strip().rsplit("Rate limited by the usage endpoint — try again after ", 1)[1]
    assert again in clock_texts(seen_at, wait, slack=3)
    assert_no_canary(world, second.stdout, second.stderr)


def transient(fault: Response, message: str, first: Response | None = None) -> Callable:
    """good -> refresh -> `fault` -> (the retry comes by itself 30 s later) -> good. `first`: the
    first good answer, when it must differ."""

    def script(world, context, run):
        world.api.queue(first or good(BEFORE), fault)
        world.api.default = good(AFTER)
        write_login(world)
        app = start_tray(world)
        wait_view(world, shows(BEFORE), "the first reading")
        assert len(world.api.requests) == 1
        assert control(world, "refresh") == "Refreshing now."
        v = wait_view(world, lambda v: v["status"] == "stale", "the fault to show")
        failed_at = datetime.now(timezone.utc)
        assert v["icon"] == {**v["icon"], "state": "stale", "percent": BEFORE}
        retry_at = assert_kept(v, BEFORE, f"{message} — retrying at ").rsplit("retrying at ", 1)[1]
        assert retry_at in clock_texts(failed_at, TRANSIENT_RETRY, slack=3)
        assert len(world.api.requests) == 2
        wait_view(world, shows(AFTER), "the retry to restore the normal state", timeout=TRANSIENT_RETRY + 20)
        requests = world.api.requests
        assert len(requests) == 3
        assert requests[2].at - requests[1].at >= TRANSIENT_RETRY - 0.5  # not hammered
        finish(world, app)

    return script


def rate_limited_by_another_command(world, context, run):
    """Another claude-tray command meets the 429 while the tray runs: the tray's next refresh sends
    nothing and shows the same wait, as if it had met the 429 itself. (`status` no longer asks the
    endpoint while the tray has a fresh reading, so `doctor`, which always asks, meets it.)"""
    world.api.queue(good(BEFORE), _retry_after("600"))
    world.api.default = good(AFTER)
    write_login(world)
    app = start_tray(world)
    wait_view(world, shows(BEFORE), "the first reading")
    cli = run_cli(world, "status")
    assert cli.returncode == 0 and "from the running tray" in cli.stdout, cli
    assert len(world.api.requests) == 1  # status read the tray's reading: no request of its own
    cli = run_cli(world, "doctor")
    seen_at = datetime.now(timezone.utc)
    assert "rate-limited by the endpoint; retry in 10m" in cli.stdout, cli
    assert len(world.api.requests) == 2
    assert control(world, "refresh") == "Refreshing now."
    v = wait_view(world, lambda v: v["status"] == "rate_limited", "the remembered 429 to show")
    why = assert_kept(v, BEFORE, "Rate limited by the usage endpoint — retrying at ")
    assert why.rsplit("retrying at ", 1)[1] in clock_texts(seen_at, 600, slack=3)
    assert control(world, "refresh").startswith(SLOWDOWN)
    time.sleep(1.0)
    assert len(world.api.requests) == 2
    finish(world, app)


def refused(world, context, run):
    """The server goes away (nothing listens on the port), then comes back."""
    gate = Gate(world.api.port)
    run.cleanup.append(gate.down)
    world.extra_env["CLAUDE_TRAY_API_URL"] = gate.url
    world.api.queue(good(BEFORE))
    world.api.default = good(AFTER)
    write_login(world)
    app = start_tray(world)
    wait_view(world, shows(BEFORE), "the first reading")
    gate.down()
    assert control(world, "refresh") == "Refreshing now."
    v = wait_view(world, lambda v: v["status"] == "stale", "connection refused to show")
    assert_kept(v, BEFORE, "Offline — retrying at ")
    gate.up()
    wait_view(world, shows(AFTER), "the retry after the server came back", timeout=TRANSIENT_RETRY + 20)
    assert len(world.api.requests) == 2
    finish(world, app)


def stall(world, context, run):
    """The server answers 30 s late, 10 s past the client's 20 s read timeout. Meanwhile the tray
    keeps showing the last reading and answers; a second refresh does not send a second request."""
    world.api.queue(good(BEFORE), Response(200, usage_body(AFTER, 30), delay=30.0))
    world.api.default = good(AFTER)
    write_login(world)
    app = start_tray(world)
    wait_view(world, shows(BEFORE), "the first reading")
    assert control(world, "refresh") == "Refreshing now."
    refreshed = time.monotonic()
    wait_view(world, lambda v: len(world.api.requests) == 2, "the stalled request to arrive", timeout=10)
    assert view(world)["status"] == "ok"  # during the stall: the reading is still fresh
    assert control(world, "refresh").startswith("A request is already in flight")
    v = wait_view(world, lambda v: v["status"] == "stale", "the read timeout", timeout=30)
    assert_kept(v, BEFORE, "Offline — retrying at ")
    assert len(world.api.requests) == 2
    # The next accepted refresh (30 s after the last) asks again; the server answers at once now.
    time.sleep(max(0.0, refreshed + REFRESH_COALESCE + 0.5 - time.monotonic()))
    assert control(world, "refresh") == "Refreshing now."
    wait_view(world, shows(AFTER), "the next good answer")
    assert len(world.api.requests) == 3
    finish(world, app)


def rate_limited(retry_after: str | None, cooldown: float) -> Callable:
    """good -> refresh -> 429: the reading stays (icon "stale"), the menu tells when we ask again,
    and no refresh sends anything before then. (Recovery takes >= 120 s: FakeClock tests below.)"""

    def script(world, context, run):
        world.api.queue(good(BEFORE), _retry_after(retry_after))
        world.api.default = good(AFTER)
        write_login(world)
        app = start_tray(world)
        wait_view(world, shows(BEFORE), "the first reading")
        assert control(world, "refresh") == "Refreshing now."
        v = wait_view(world, lambda v: v["status"] == "rate_limited", "the 429 to show")
        limited_at = datetime.now(timezone.utc)
        assert v["icon"]["state"] == "stale" and v["icon"]["percent"] == BEFORE
        why = assert_kept(v, BEFORE, "Rate limited by the usage endpoint — retrying at ")
        retry_at = why.rsplit("retrying at ", 1)[1]
        assert retry_at in clock_texts(limited_at, cooldown, slack=3)
        for _ in range(3):
            assert control(world, "refresh").startswith(SLOWDOWN)
        cli = run_cli(world, "refresh")  # as a user types it
        assert cli.returncode == 0 and cli.stdout.startswith(SLOWDOWN), cli
        cli = run_cli(world, "status")  # its own process: the tray's wait is honoured, nothing sent
        assert cli.returncode == 1, cli
        assert cli.stderr.strip().rsplit("try again after ", 1)[1] in clock_texts(limited_at, cooldown, slack=3)
        time.sleep(1.0)
        assert len(world.api.requests) == 2
        assert view(world)["status"] == "rate_limited"
        finish(world, app)

    return script


def rejected_then_unscoped(world, context, run):
    """401, then (after a new login) 403, then (after another) good: one request per login,
    nothing between logins however often the user refreshes."""
    world.api.queue(good(BEFORE), error_response(401, "401-invalid-token.json"))
    world.api.default = good(AFTER)
    write_login(world, n=1)
    app = start_tray(world)
    wait_view(world, shows(BEFORE), "the first reading")
    assert control(world, "refresh") == "Refreshing now."
    v = wait_view(world, lambda v: v["status"] == "expired", "the 401 to show")
    assert "Login expired — run claude in a terminal" in v["menu"]
    assert_kept(v, BEFORE, "Login expired — run claude in a terminal")
    for _ in range(3):
        assert control(world, "refresh").startswith(WAITING_FOR_LOGIN)
    time.sleep(STORE_CHECK + 1)  # a store check passes: unchanged, so nothing is sent
    assert len(world.api.requests) == 2

    world.api.queue(error_response(403, "403-scope.json"))
    write_login(world, n=2)  # Claude Code wrote a new login
    v = wait_view(world, lambda v: v["status"] == "no_scope", "the 403 after the new login", timeout=STORE_CHECK + 10)
    assert_kept(v, BEFORE, "This login cannot read usage")
    assert len(world.api.requests) == 3
    assert world.api.requests[2].headers["authorization"] == f"Bearer {canary_token(2)}"
    assert control(world, "refresh").startswith(WAITING_FOR_LOGIN)

    write_login(world, n=3)
    wait_view(world, shows(AFTER), "the good answer for the next login", timeout=STORE_CHECK + 10)
    assert len(world.api.requests) == 4
    assert world.api.requests[3].headers["authorization"] == f"Bearer {canary_token(3)}"
    finish(world, app)


def credential_faults(world, context, run):
    """One running tray through every credential fault, each picked up from the store without a
    restart; the CLI agrees with the tray at each step; not one request until a usable login."""
    prefix = no_privilege_prefix()
    world.api.queue(good(BEFORE))
    world.api.default = good(AFTER)
    path = write_login(world, n=1)
    app = start_tray(world, prefix=prefix)
    wait_view(world, shows(BEFORE), "the first reading")

    def step(make_store, tray_status: str, cli_status: str, words: str, timeout: float = STORE_CHECK + 10):
        make_store()
        v = wait_view(world, lambda v: v["status"] == tray_status, f"{tray_status} ({words})", timeout=timeout)
        assert_kept(v, BEFORE, "")
        assert any(words in line for line in v["menu"]), (words, v["menu"])
        payload, done = status_json(world, prefix=prefix)
        assert payload["status"] == cli_status and words in payload["message"], payload
        assert_no_canary(world, done.stdout, done.stderr)
        assert len(world.api.requests) == 1, "a request was sent without a usable login"

    def delete():
        path.unlink()
        remember_store(world)

    # Deleted while running: noticed at the next poll, here a manual refresh.
    step(lambda: (delete(), control(world, "refresh")), "signed_out", "signed_out", "No Claude Code login")
    step(lambda: _half_written(world), "stale", "error", ".credentials.json")
    step(lambda: write_login(world, "mcp-only"), "signed_out", "signed_out", "No Claude Code login")
    step(lambda: _not_json(world), "stale", "error", ".credentials.json")
    step(lambda: write_login(world, "empty-token"), "signed_out", "signed_out", "No Claude Code login")
    step(lambda: write_login(world, n=1, mode=0o000), "stale", "error", "permission denied")
    step(lambda: write_login(world, n=1, expires_in=-3600), "expired", "expired", "Login expired")
    # Rewritten atomically with a new token: used at once, without a restart.
    write_login(world, n=2)
    wait_view(world, shows(AFTER), "the new login to be used", timeout=STORE_CHECK + 10)
    assert len(world.api.requests) == 2
    assert world.api.requests[1].headers["authorization"] == f"Bearer {canary_token(2)}"
    finish(world, app)


def missing_at_start(world, context, run):
    """No login when the tray starts: it says what to do, sends nothing, and picks up the login."""
    world.claude_dir.mkdir(parents=True)
    remember_store(world)
    world.api.default = good(BEFORE)
    app = start_tray(world)
    v = wait_view(world, lambda v: v["status"] == "signed_out", "signed out")
    assert v["icon"]["state"] == "signed_out"
    assert "No Claude Code login — install Claude Code and run claude, or try claude-tray --demo" in v["menu"]
    assert control(world, "refresh").startswith(WAITING_FOR_LOGIN)
    time.sleep(STORE_CHECK + 1)
    assert world.api.requests == []
    write_login(world)
    wait_view(world, shows(BEFORE), "the login to be picked up", timeout=STORE_CHECK + 10)
    assert len(world.api.requests) == 1
    finish(world, app)


def no_notification_daemon(world, context, run):
    """A session bus where nobody owns org.freedesktop.Notifications: crossing 75% and then 90%
    cannot be shown as popups, and the tray carries on."""
    bus = start_session_bus(context.workdir / f"bus-{run.name.replace(' ', '-')}", "nodaemon")
    run.cleanup.append(lambda: stop_session_bus(bus))
    world.with_desktop(context.display, bus.env, "xorg")
    world.api.queue(good(BEFORE))
    world.api.default = good(92.0)
    write_login(world)
    app = start_tray(world)
    wait_view(world, shows(BEFORE), "the first reading")
    assert control(world, "refresh") == "Refreshing now."
    wait_view(world, shows(92.0), "the next reading")
    assert len(world.api.requests) == 2
    finish(world, app)


def tray_host_late_and_restarting(world, context, run):
    """On an X display of its own: no tray host at start (it appears 10 s later), then the host
    restarts while the app runs. The icon docks each time; polling never depends on it."""
    from tray_monitor.tray import APP_ID

    workdir = context.workdir / "late-host"
    workdir.mkdir()
    x = start_xvfb(workdir)
    run.cleanup.append(lambda: stop_process(x.program.process))
    world.with_desktop(x.display, context.bus_env, "xorg")
    world.api.default = good(BEFORE)
    write_login(world)
    started = time.monotonic()
    app = start_tray(world)
    wait_view(world, shows(BEFORE), "the first reading without a tray host")
    time.sleep(max(0.0, started + 10 - time.monotonic()))
    assert app.process.poll() is None
    icon = find_tray_icon(x, APP_ID)
    assert icon is None or not icon.docked
    host = start_trayer(x, x.workdir)
    run.cleanup.append(lambda: stop_process(host.process))
    wait_docked(x, APP_ID, timeout=20)

    stop_process(host.process)  # the panel crashes...
    time.sleep(1.0)
    assert app.process.poll() is None
    host = start_trayer(x, x.workdir)  # ...and comes back
    run.cleanup.append(lambda: stop_process(host.process))
    wait_docked(x, APP_ID, timeout=20)
    assert view(world)["status"] == "ok"
    assert len(world.api.requests) == 1  # tray host events cause no request
    finish(world, app)


SCENARIOS: dict[str, Callable] = {
    "500": transient(api_error(500, "api_error", "Internal server error"), "Usage service error (HTTP 500)"),
    "502 HTML page": transient(error_response(502, "502-html.html"), "Usage service error (HTTP 502)"),
    "529 overloaded": transient(error_response(529, "529-overloaded.json"), "Usage service error (HTTP 529)"),
    "body cut in half": transient(Response(200, usage_body(40, 30), truncate=True), "Offline"),
    "empty body": transient(Response(200, b""), "Unexpected answer from the usage endpoint"),
    "200 not JSON": transient(Response(200, b"<html>Welcome</html>", {"Content-Type": "text/html"}),
                              "Unexpected answer from the usage endpoint"),
    # On a new connection: the client sends a GET once more when a kept-alive one is closed before
    # any answer (the server's idle close crossing the request), which would hide this fault.
    "closed mid-response": transient(Response(close=True), "Offline",
                                     first=Response(200, usage_body(BEFORE, 30.0), {"Connection": "close"})),
    "connection refused": refused,
    "stall past the read timeout": stall,
    "429 Retry-After 0": rate_limited("0", 300),
    "429 Retry-After 120": rate_limited("120", 120),
    "429 Retry-After 3600": rate_limited("3600", 3600),
    "429 without Retry-After": rate_limited(None, 300),
    "429 met by `claude-tray doctor`": rate_limited_by_another_command,
    "401 then 403": rejected_then_unscoped,
    "credential faults": credential_faults,
    "credentials missing at start": missing_at_start,
    "no notification daemon": no_notification_daemon,
    "tray host late and restarting": tray_host_late_and_restarting,
}


@pytest.fixture(scope="module")
def fleet(tmp_path_factory, xvfb, xembed_tray, session_bus, notification_daemon):
    """Every scenario's tray started at once, each driven by its own thread."""
    root = tmp_path_factory.mktemp("fleet")
    context = Context(xvfb.display, session_bus.env, root)
    runs: dict[str, Run] = {}
    apis = []
    try:
        for index, (name, script) in enumerate(SCENARIOS.items()):
            api = FakeApi().start()
            apis.append(api)
            world = make_world(root / f"s{index}", api)
            world.with_desktop(xvfb.display, session_bus.env, "xorg")
            runs[name] = Run(name, world, script)
        for run in runs.values():
            run.thread = threading.Thread(target=run.go, args=(context,), name=f"fault-{run.name}", daemon=True)
            run.thread.start()
        yield runs
    finally:
        for run in runs.values():
            run.world.stop_all()
            for cleanup in reversed(run.cleanup):
                try:
                    cleanup()
                except Exception:
                    pass
        for api in apis:
            api.stop()


@pytest.mark.desktop
@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_a_running_tray_survives_the_fault_keeps_the_reading_and_recovers(fleet, scenario, notification_daemon):
    run = fleet[scenario]
    run.thread.join(180)
    assert not run.thread.is_alive(), f"scenario {scenario!r} still running after 180 s"
    assert run.error is None, run.error
    # dunst is shared by the whole fleet: read its history once nothing is being notified any more.
    for other in fleet.values():
        other.thread.join(180)
    assert_no_canary(run.world, daemon=notification_daemon)
    assert_store_untouched(run.world)


# ----------------------------------------------------------------------------- time: real Poller + Monitor, FakeClock
#
# A real process cannot have its wall clock moved without libfaketime (not installed, and it would
# move the clock of every thread of the test too), so sleep, clock changes and resets run here: the
# real Poller and the real Monitor (state.step, alerts, view), a FakeClock and a scripted source.

from tray_monitor.clock import FakeClock  # noqa: E402
from tray_monitor.errors import (  # noqa: E402
    AuthExpired,
    BadResponse,
    CredentialsUnreadable,
    RateLimited,
    ScopeMissing,
    Transient,
)
from tray_monitor.model import Credentials, Reading, UsageWindow  # noqa: E402
from tray_monitor.monitor import Monitor  # noqa: E402
from tray_monitor.poller import Poller  # noqa: E402
from tray_monitor.schedule import MIN_INTERVAL  # noqa: E402
from tray_monitor.state import MonitorState  # noqa: E402

T0 = datetime(2026, 9, 1, 12, 0, tzinfo=timezone.utc)
CREDS = Credentials(access_token="not-a-real-token", source="test", subscription_type="max",
                    rate_limit_tier="default_claude_max_5x")
WAKE_DELAY = 5.0  # schedule.WAKE_DELAY


def session_reading(now: datetime, percent: float, resets_at: datetime) -> Reading:
    window = UsageWindow(id="five_hour", label="Current session", percent=percent, resets_at=resets_at)
    return Reading(windows=(window,), extra_usage=None, fetched_at=now)


class ScriptedSource:
    """`outcome(now)` -> a Reading, or an exception to raise. `network` counts reads that reached
    the endpoint (errors in `offline` are raised before any request, as UsageSource does);
    `takes` seconds pass on the clock during each request (a stall)."""

    min_interval = MIN_INTERVAL

    def __init__(self, clock: FakeClock, outcome, offline=(), takes: float = 0.0):
        self.clock, self.outcome, self.offline, self.takes = clock, outcome, offline, takes
        self.reads: list[float] = []
        self.network = 0
        self.fingerprint = 1

    def read(self):
        self.reads.append(self.clock.monotonic())
        result = self.outcome(self.clock.now())
        if not (isinstance(result, BaseException) and isinstance(result, self.offline)):
            self.network += 1
            self.clock.advance(self.takes)
        if isinstance(result, BaseException):
            raise result
        return result, CREDS

    def store_fingerprint(self):
        return self.fingerprint


class RecordingNotifier:
    def __init__(self):
        self.sent = []

    def send(self, notification) -> None:
        self.sent.append(notification)


def simulated(outcome, **source_kwargs):
    clock = FakeClock(T0)
    source = ScriptedSource(clock, outcome, **source_kwargs)
    notifier = RecordingNotifier()
    monitor = Monitor(MonitorState(interval=120), clock, notifier, None)
    return Poller(source, monitor, clock, 120), clock, source, monitor, notifier


def run_for(poller: Poller, clock: FakeClock, seconds: float, every=None, step: float | None = None) -> None:
    """The poller's loop for `seconds` of fake time; `every()` before each iteration, and at
    most `step` seconds between iterations when given."""
    end = clock.monotonic() + seconds
    for _ in range(200_000):
        if clock.monotonic() >= end:
            return
        if every:
            every()
        wait = poller.step_once()
        if step is not None:
            wait = min(wait, step)
        clock.advance(max(min(wait, end - clock.monotonic()), 0.001))
    raise AssertionError("the loop does not advance")


def rows(monitor: Monitor) -> list[str]:
    return [row.menu_text for row in monitor.view().windows]


def test_waking_after_3_hours_of_sleep_marks_the_reading_old_then_asks_once_5_seconds_later():
    resets = T0 + timedelta(hours=2)

    def api(now):  # the session window rolled over while the machine slept
        return session_reading(now, 40.0, resets) if now < resets else session_reading(now, 3.0, resets + timedelta(hours=5))

    poller, clock, source, monitor, _ = simulated(api)
    run_for(poller, clock, 10)
    assert monitor.view().status == "ok" and len(source.reads) == 1

    clock.jump_wall(3 * HOUR)  # suspended: CLOCK_MONOTONIC did not move
    asleep = monitor.view()
    assert asleep.status == "stale"
    assert asleep.updated_text == "Last reading 3 h ago"
    assert rows(monitor)[0].startswith("Current session: 40%")  # kept, not dropped

    noticed = clock.monotonic()
    run_for(poller, clock, WAKE_DELAY + 1)
    assert [round(t - noticed, 1) for t in source.reads[1:]] == [WAKE_DELAY]
    awake = monitor.view()
    assert awake.status == "ok"
    assert rows(monitor)[0].startswith("Current session: 3%")
    # No catching up on the missed polls: the next hour is ordinary (one per 120 s).
    before = len(source.reads)
    run_for(poller, clock, HOUR)
    assert len(source.reads) - before == 30


def test_the_clock_set_back_1_hour_asks_once_5_seconds_later_and_shows_sane_times():
    resets = T0 + timedelta(hours=2)
    poller, clock, source, monitor, _ = simulated(lambda now: session_reading(now, 40.0, resets))
    run_for(poller, clock, 10)
    clock.jump_wall(-HOUR)
    just_after = monitor.view()  # the reading now seems to come from the future
    assert just_after.status == "ok"
    assert just_after.windows[0].reset_text.startswith("resets in 3h")
    noticed = clock.monotonic()
    run_for(poller, clock, WAKE_DELAY + 1)
    assert [round(t - noticed, 1) for t in source.reads[1:]] == [WAKE_DELAY]
    assert monitor.view().updated_text == f"Updated {format_clock(clock.now() - timedelta(seconds=1), clock.now())}"
    before = len(source.reads)
    run_for(poller, clock, HOUR)
    assert len(source.reads) - before == 30


def test_a_reset_passing_asks_5_seconds_after_it_and_shows_the_new_window():
    resets = T0 + timedelta(seconds=200)

    def api(now):
        return session_reading(now, 92.0, resets) if now < resets else session_reading(now, 0.0, resets + timedelta(hours=5))

    poller, clock, source, monitor, notifier = simulated(api)
    run_for(poller, clock, 201)
    assert [round(t - 1000) for t in source.reads] == [0, 120]
    assert monitor.view().windows[0].reset_text.startswith("resets now")
    assert rows(monitor)[0].startswith("Current session: 92%")
    run_for(poller, clock, 10)
    assert [round(t - 1000) for t in source.reads] == [0, 120, 205]
    assert rows(monitor)[0].startswith("Current session: 0%")
    assert monitor.view().status == "ok"
    keys = [n.key for n in notifier.sent]
    # 90% reached (one popup for the reading), then the reset of a window that reached 90%.
    assert keys == ["window:five_hour", "window:five_hour"], notifier.sent
    assert "reset" in (notifier.sent[1].summary + notifier.sent[1].body).lower(), notifier.sent[1]


def _stall(now):
    return Transient("api.anthropic.com did not answer in time: trying again later.")


# name: (outcome, what the source does, max requests in an hour without user action, with a refresh every second)
HOURLY_BOUNDS = {
    "healthy 200": (lambda now: session_reading(now, 40.0, now + timedelta(hours=4)), {}, 30, 120),
    "5xx": (lambda now: Transient("HTTP 502"), {}, 32, 120),
    "bad body": (lambda now: BadResponse("not JSON"), {}, 32, 120),
    "stall past the read timeout": (_stall, {"takes": 20.0}, 27, 120),
    "429 without Retry-After": (lambda now: RateLimited("slow down"), {}, 4, 4),
    "429 Retry-After 120": (lambda now: RateLimited("slow down", retry_after=120), {}, 30, 30),
    "429 Retry-After 3600": (lambda now: RateLimited("slow down", retry_after=3600), {}, 1, 1),
    "401 after the re-read": (lambda now: AuthExpired("expired"), {}, 1, 1),
    "403 scope": (lambda now: ScopeMissing("no scope"), {}, 1, 1),
    "credentials unreadable": (lambda now: CredentialsUnreadable("bad file"), {"offline": (CredentialsUnreadable,)}, 0, 0),
}


@pytest.mark.parametrize("fault", list(HOURLY_BOUNDS))
def test_requests_per_hour_each_fault_can_cause(fault):
    outcome, source_kwargs, quiet_max, spammed_max = HOURLY_BOUNDS[fault]
    poller, clock, source, monitor, _ = simulated(outcome, **source_kwargs)
    run_for(poller, clock, HOUR)
    assert source.network == quiet_max

    poller, clock, source, monitor, _ = simulated(outcome, **source_kwargs)
    run_for(poller, clock, HOUR, every=poller.request_refresh, step=1.0)
    assert source.network == spammed_max
    gaps = [b - a for a, b in zip(source.reads, source.reads[1:], strict=False)]
    assert not gaps or min(gaps) >= min(REFRESH_COALESCE, TRANSIENT_RETRY)  # never a burst


def test_a_broken_login_rewritten_every_minute_is_read_each_time_but_never_sent():
    """Claude Code rewriting a still-unusable store: one read per change, zero requests."""
    poller, clock, source, monitor, _ = simulated(lambda now: CredentialsUnreadable("half-written"),
                                                   offline=(CredentialsUnreadable,))

    def rewrite_every_minute():
        source.fingerprint = int((clock.monotonic() - 1000) // 60) + 1

    run_for(poller, clock, HOUR, every=rewrite_every_minute)
    assert source.network == 0
    assert 59 <= len(source.reads) <= 61
    assert monitor.view().status == "error"
