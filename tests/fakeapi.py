"""A scripted usage endpoint on 127.0.0.1, plus helpers for credentials and fake executables.

    def test_something(fake_api, tmp_path):
        fake_api.queue(Response(200, usage_fixture("small-2026-03")))   # answered in order,
        fake_api.default = Response(429, error_fixture("429-rate-limited.json"))  # then this
        env = ...environ={"CLAUDE_TRAY_API_URL": fake_api.url}...
        ...
        assert fake_api.requests[0].headers["anthropic-beta"] == "oauth-2025-04-20"

Works for subprocess tests too: put `fake_api.url` into the child's CLAUDE_TRAY_API_URL.

Several logins: `fake_api.per_token({token: Response, ...})` answers each bearer token from its own
queue (`queue_for(token, ...)`) and then its own default; a request with any other token (or none)
gets a 401 and is kept in `wrong_tokens`. `count(token)` = requests that carried it.
Fault behaviours per response: `delay` (seconds before answering), `truncate` (full
Content-Length, half the body, then close), `close` (close without any answer), `trickle` (one
byte every `trickle` seconds, from the status line on or only the body). A queued callable
`(RecordedRequest) -> Response` is called when its request arrives.
"""
from __future__ import annotations

import json
import os
import socket
import ssl
import stat
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


@dataclass(frozen=True)
class Response:
    status: int = 200
    body: bytes = b""
    headers: dict = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering
    truncate: bool = False  # send the full Content-Length but only half the body, then close
    close: bool = False  # close the connection without an answer
    trickle: float = 0.0  # seconds between single bytes of the whole answer (status line, headers, body)
    trickle_body_only: bool = False  # with trickle: status line and headers at once, the body byte by byte

    @classmethod
    def json(cls, payload: object, status: int = 200, **kwargs) -> Response:
        return cls(status, json.dumps(payload).encode(), **kwargs)


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict  # header names lower-cased
    at: float  # time.monotonic() when it arrived
    peer: tuple = ()  # the client's (address, port): one per connection


def bearer_token(request: RecordedRequest) -> str | None:
    value = request.headers.get("authorization", "")
    return value[len("Bearer "):] if value.startswith("Bearer ") else None


def usage_fixture(name: str) -> bytes:
    """A recorded usage body, by file name with or without `.json`."""
    return (FIXTURES / "usage" / _with_json(name)).read_bytes()


def error_fixture(name: str) -> bytes:
    """A recorded error body: "401-invalid-token.json", "502-html.html", ..."""
    return (FIXTURES / "errors" / name).read_bytes()


def credentials_fixture(name: str) -> dict:
    return json.loads((FIXTURES / "credentials" / _with_json(name)).read_text())


def _with_json(name: str) -> str:
    return name if "." in name else name + ".json"


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        # A client that hangs up (timeouts, the truncate/close behaviours) is expected here.
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class FakeApi:
    """A threaded HTTP server on 127.0.0.1 (free port) that answers every request with the next
    queued Response, or `default` when the queue is empty, and records every request."""

    def __init__(self, default: Response | None = None, ssl_context: ssl.SSLContext | None = None,
                 host: str = "127.0.0.1", port: int = 0, idle_timeout: float | None = None):
        self.default = default or Response(200, usage_fixture("small-2026-03"),
                                           {"Content-Type": "application/json"})
        self.requests: list[RecordedRequest] = []
        self._queue: deque[Response] = deque()
        self._token_defaults: dict[str, Response] | None = None  # per_token(): one answer per login
        self._token_queues: dict[str, deque[Response]] = {}
        self.wrong_tokens: list[str | None] = []  # per_token(): requests whose token was none of them
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        # port: 0 = a free one; a fixed one brings a stopped server back at the same address
        # idle_timeout: seconds a kept-alive connection may wait for its next request before the
        # server closes it, as real servers do (None: kept until the client closes it)
        self._server = _QuietServer((host, port), self._handler_class(idle_timeout))
        self._server.daemon_threads = True
        self._server.block_on_close = False
        scheme = "http"
        if ssl_context is not None:
            self._server.socket = ssl_context.wrap_socket(self._server.socket, server_side=True)
            scheme = "https"
        self.port = self._server.server_address[1]
        self.url = f"{scheme}://{host}:{self.port}"
        # A short poll interval: shutdown() waits for it, once per test.
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        name="fake-api", daemon=True)

    def start(self) -> FakeApi:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes delayed answers
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def __enter__(self) -> FakeApi:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def queue(self, *responses: Response | Callable[[RecordedRequest], Response]) -> None:
        with self._lock:
            self._queue.extend(responses)

    def respond(self, status: int = 200, body: bytes | str = b"", headers: dict | None = None, **kwargs) -> None:
        """Queue one response."""
        if isinstance(body, str):
            body = body.encode()
        self.queue(Response(status, body, dict(headers or {}), **kwargs))

    def per_token(self, defaults: dict[str, Response]) -> None:
        """Answer per bearer token from now on: its queue first, then `defaults[token]`."""
        with self._lock:
            self._token_defaults = dict(defaults)
            self._token_queues = {token: deque() for token in defaults}

    def queue_for(self, token: str, *responses: Response) -> None:
        with self._lock:
            self._token_queues[token].extend(responses)

    def count(self, token: str) -> int:
        """How many requests carried this bearer token."""
        with self._lock:
            return sum(1 for r in self.requests if bearer_token(r) == token)

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._queue)

    def _next(self, request: RecordedRequest) -> Response:
        with self._lock:
            self.requests.append(request)
            if self._token_defaults is not None:
                token = bearer_token(request)
                if token not in self._token_defaults:
                    self.wrong_tokens.append(token)
                    return Response(401, error_fixture("401-invalid-token.json"))
                assert token is not None
                queued = self._token_queues[token]
                return queued.popleft() if queued else self._token_defaults[token]
            response = self._queue.popleft() if self._queue else self.default
        # A queued callable decides when the request arrives (e.g. rotate the login, then 401).
        return response(request) if callable(response) else response

    def _handler_class(self, idle_timeout: float | None):
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, Content-Length, like the real server
            timeout = idle_timeout

            def log_message(self, format, *args):  # noqa: A002 - the base class names it; quiet: pytest shows failures
                pass

            def _answer(self):
                request = RecordedRequest(self.command, self.path,
                                          {k.lower(): v for k, v in self.headers.items()}, time.monotonic(),
                                          tuple(self.client_address))
                response = api._next(request)
                if response.delay and api._stopping.wait(response.delay):
                    self.close_connection = True
                    return
                if response.close:
                    self.close_connection = True
                    self._hang_up()
                    return
                if response.trickle:
                    self._trickle(response)
                    return
                self.send_response(response.status)
                headers = {k.lower(): v for k, v in response.headers.items()}
                if "content-type" not in headers:
                    self.send_header("Content-Type", "application/json")
                for name, value in response.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(response.body)))
                if response.truncate:
                    self.send_header("Connection", "close")
                self.end_headers()
                if response.truncate:
                    self.wfile.write(response.body[: len(response.body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    self._hang_up()
                    return
                if self.command != "HEAD":
                    self.wfile.write(response.body)

            def _trickle(self, response):
                self.close_connection = True
                head = (f"HTTP/1.1 {response.status} Answer\r\nContent-Type: application/json\r\n"
                        + "".join(f"{k}: {v}\r\n" for k, v in response.headers.items())
                        + f"Content-Length: {len(response.body)}\r\n\r\n").encode()
                slow = response.body if response.trickle_body_only else head + response.body
                try:
                    if response.trickle_body_only:
                        self.wfile.write(head)
                        self.wfile.flush()
                    for index in range(len(slow)):
                        if api._stopping.wait(response.trickle):
                            return
                        self.wfile.write(slow[index:index + 1])
                        self.wfile.flush()
                except OSError:
                    pass  # the client gave up: what the trickle is for

            def _hang_up(self):
                try:
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

            do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = _answer

        return Handler


@pytest.fixture
def fake_api():
    """A started FakeApi; stopped after the test."""
    with FakeApi() as api:
        yield api


# -- credentials -----------------------------------------------------------------------------------


def write_credentials(directory: Path | str, name_or_dict: str | dict, expires_in: float | timedelta | None = 8 * 3600,
                      now: datetime | None = None, mode: int = 0o600) -> Path:
    """Write `<directory>/.credentials.json` from a fixture name ("max-linux") or a dict, the way
    Claude Code does (temporary file, then rename). `expires_in` (seconds or timedelta, relative to
    `now`, default the real now) replaces the fixture's expiresAt; None keeps it."""
    payload = credentials_fixture(name_or_dict) if isinstance(name_or_dict, str) else json.loads(json.dumps(name_or_dict))
    oauth = payload.get("claudeAiOauth")
    if expires_in is not None and isinstance(oauth, dict):
        if isinstance(expires_in, (int, float)):
            expires_in = timedelta(seconds=expires_in)
        moment = (now or datetime.now(timezone.utc)) + expires_in
        oauth["expiresAt"] = int(moment.timestamp() * 1000)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / ".credentials.json"
    temporary = directory / f".credentials.json.tmp-{os.getpid()}-{threading.get_ident()}"
    temporary.write_text(json.dumps(payload))
    os.chmod(temporary, mode)
    os.replace(temporary, target)
    return target


# -- fake executables ------------------------------------------------------------------------------


@dataclass(frozen=True)
class FakeBin:
    path: Path  # the executable; put `path.parent` on PATH, or pass `path` where a path is taken
    log: Path  # one JSON line per call: its argv (without argv[0])

    @property
    def directory(self) -> Path:
        return self.path.parent

    def calls(self) -> list[list[str]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines() if line]


def _write_script(path: Path, body: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!{sys.executable}\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def fake_claude_bin(tmp_path: Path, version: str | None = "2.1.99", exit_code: int = 0,
                    output: str | None = None) -> FakeBin:
    """An executable `claude` in `tmp_path/claude-bin` that prints "<version> (Claude Code)"
    (or `output`) for --version and records each call."""
    path = Path(tmp_path) / "claude-bin" / "claude"
    log = path.parent / "claude.calls"
    text = output if output is not None else f"{version} (Claude Code)\n"
    _write_script(path, f"""import json, sys
with open({str(log)!r}, "a") as f:
    f.write(json.dumps(sys.argv[1:]) + "\\n")
sys.stdout.write({text!r})
sys.exit({exit_code})
""")
    return FakeBin(path, log)


def fake_security_bin(tmp_path: Path, items: dict[str, str | bytes] | None = None, exit_code: int | None = None,
                      hex_encode: bool = False) -> FakeBin:
    """An executable standing in for /usr/bin/security: `find-generic-password -s SERVICE ... -w`
    prints `items[SERVICE]` (hex-encoded if asked) and exits 0, else exits 44 (not found).
    `exit_code` forces that exit status for every call (36 = keychain locked, ...)."""
    path = Path(tmp_path) / "security-bin" / "security"
    log = path.parent / "security.calls"
    store = path.parent / "security.items.json"
    values = {}
    for service, value in (items or {}).items():
        raw = value.encode() if isinstance(value, str) else value
        values[service] = raw.hex() if hex_encode else raw.decode("utf-8", "surrogateescape")
    path.parent.mkdir(parents=True, exist_ok=True)
    store.write_text(json.dumps(values))
    _write_script(path, f"""import json, sys
argv = sys.argv[1:]
with open({str(log)!r}, "a") as f:
    f.write(json.dumps(argv) + "\\n")
forced = {exit_code!r}
if forced is not None:
    sys.stderr.write("security: forced failure\\n")
    sys.exit(forced)
items = json.load(open({str(store)!r}))
service = argv[argv.index("-s") + 1] if "-s" in argv else None
if argv[:1] != ["find-generic-password"] or service not in items:
    sys.stderr.write("security: SecKeychainSearchCopyNext: The specified item could not be found in the keychain.\\n")
    sys.exit(44)
sys.stdout.write(items[service] + "\\n")
""")
    return FakeBin(path, log)
