"""The HTTP client of the usage endpoint: `GET {base}/api/oauth/usage` -> Reading, or a typed error.

Requests go only to the Anthropic API, or to a loopback URL that tests (and `--demo`-like setups)
put in CLAUDE_TRAY_API_URL. TLS is always verified. No message, log line or exception chain of
this module carries the token: every error that could hold request details is raised `from None`.
"""
from __future__ import annotations

import ipaddress
import json
import logging
import math
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from tray_monitor.credentials import (
    ENV_TOKEN,
    SOURCE_ENVIRONMENT,
    describe_source,
    not_signed_in,
    scope_missing_message,
    scope_missing_summary,
)
from tray_monitor.errors import (
    AuthExpired,
    BadResponse,
    ConfigError,
    MonitorError,
    RateLimited,
    ScopeMissing,
    ServerTrouble,
    Transient,
)
from tray_monitor.model import Credentials, Reading
from tray_monitor.parse import parse_usage

if TYPE_CHECKING:
    import ssl

    from tray_monitor.connection import Answer, Connect, Connection
    from tray_monitor.deadline import Deadline

log = logging.getLogger("tray_monitor.client")

DEFAULT_API_URL = "https://api.anthropic.com"
API_URL_VARIABLE = "CLAUDE_TRAY_API_URL"
USAGE_PATH = "/api/oauth/usage"
# Claude Code's own background reads leave out the `spend` block; nothing claude-tray shows comes
# from it (money is read from `extra_usage`; tests/test_client.py checks every recorded body).
BACKGROUND_QUERY = "?skip_spend=1"
ANTHROPIC_HOST = "api.anthropic.com"
# Sent as `claude-cli/<version> (external, cli)`, exactly what Claude Code sends to this endpoint
# (a generic agent is answered 429 at once). When `claude` is not on PATH: the newest release on
# the date beside it; tests/test_client.py fails once that date is more than 120 days old.
FALLBACK_CLAUDE_VERSION = "2.1.332"
FALLBACK_CLAUDE_VERSION_CHECKED = date(2026, 11, 30)
ACCEPT = "application/json, text/plain, */*"  # Claude Code's (axios') Accept header
OAUTH_BETA = "oauth-2025-04-20"  # required by the OAuth endpoints
VERSION_TIMEOUT = 5.0  # seconds for `claude --version` (a Node start-up)
MAX_BODY = 2 * 1024 * 1024  # bytes; real bodies are ~2 KB
# An HTTP header value: a token with anything else (a newline, a space) is corrupt and never sent.
_TOKEN_CHARS = re.compile(r"[\x21-\x7e]+")
#: Seconds for the whole request (connect, headers, body): the per-operation timeouts restart
#: with every byte a trickling server sends.
REQUEST_DEADLINE = 30.0


def api_base_url(env) -> str:
    """The API origin: https://api.anthropic.com, or CLAUDE_TRAY_API_URL when it is allowed.

    Plain http only to this computer (127.0.0.0/8, ::1, localhost); https only to
    api.anthropic.com or loopback, so the token never goes anywhere else.
    """
    raw = (env.environ.get(API_URL_VARIABLE) or "").strip()
    if not raw:
        return DEFAULT_API_URL
    refuse = ConfigError(
        f"{API_URL_VARIABLE}={raw[:100]!r} is not allowed: use https://{ANTHROPIC_HOST} or an "
        "http://127.0.0.1:PORT address on this computer, or unset it."
    )
    try:
        parts = urlsplit(raw)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        raise refuse from None
    if parts.scheme not in ("http", "https") or not host or parts.username or parts.password \
            or parts.query or parts.fragment:
        raise refuse
    if not (_is_loopback(host) or (parts.scheme == "https" and host == ANTHROPIC_HOST)):
        raise refuse
    return raw.rstrip("/")


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class InstalledClaude:
    """What `claude --version` said: `version` ("2.1.332") when it gave one, and `description`,
    the line `doctor` shows ("2.1.332 (Claude Code)", or why there is no version)."""

    version: str | None
    description: str


def installed_claude(environ: Mapping[str, str], run: Callable[..., subprocess.CompletedProcess[str]] = subprocess.run,
                     ) -> InstalledClaude | None:
    """Ask the Claude Code on PATH for its version; None when `claude` is not on PATH.
    The one place that runs `claude --version` (the client's User-Agent and `doctor`)."""
    executable = shutil.which("claude", path=environ.get("PATH"))
    if not executable:
        return None
    try:
        result = run([executable, "--version"], capture_output=True, text=True,
                     timeout=VERSION_TIMEOUT, check=False)
    except (OSError, subprocess.SubprocessError) as error:
        return InstalledClaude(None, f"unknown (`claude --version` failed: {type(error).__name__})")
    if result.returncode != 0:
        return InstalledClaude(None, f"unknown (`claude --version` exited {result.returncode})")
    lines = (result.stdout or "").strip().splitlines()
    match = re.search(r"\b(\d+\.\d+\.\d+)\b", lines[0]) if lines else None
    if not match:
        return InstalledClaude(None, "unknown (`claude --version` gave no version)")
    return InstalledClaude(match.group(1), lines[0][:100])


def claude_code_version(environ, run: Callable[..., subprocess.CompletedProcess] = subprocess.run) -> str:
    """The installed Claude Code's version, or a recent constant when it is not on PATH or does
    not give one in time."""
    found = installed_claude(environ, run)
    if found is None or found.version is None:
        log.debug("no version from `claude --version`; using %s", FALLBACK_CLAUDE_VERSION)
        return FALLBACK_CLAUDE_VERSION
    return found.version


def user_agent(version: str) -> str:
    """Claude Code sends this form to the usage endpoint (`claude-code/<v>` only to others)."""
    return f"claude-cli/{version} (external, cli)"


class UsageClient:
    def __init__(self, env, timeout: tuple[float, float] = (5.0, 20.0), *,
                 run: Callable[..., subprocess.CompletedProcess] = subprocess.run,
                 deadline: float = REQUEST_DEADLINE, background: bool = False,
                 connect: Connect | None = None):
        """`connect((host, port), timeout) -> socket`: socket.create_connection unless a test
        needs a failure loopback cannot make (DNS)."""
        self._env = env
        self._deadline = deadline
        self._timeout = timeout
        self._run = run
        self._connect = connect
        self._version: str | None = None  # cached for the process: one `claude --version`
        # Made at the first fetch, on the poller thread: the proxy settings are read once per
        # client, and the TLS context (the CA bundle, a few ms) is loaded once.
        self._connection: Connection | None = None
        self._tls: ssl.SSLContext | None = None
        # A refused CLAUDE_TRAY_API_URL surfaces on fetch (the tray shows the sentence) instead of
        # crashing construction; callers that want it early call api_base_url(env) themselves.
        try:
            self.url: str | None = api_base_url(env) + USAGE_PATH + (BACKGROUND_QUERY if background else "")
        except ConfigError as error:
            self.url, self._config_error = None, error
        self._host = urlsplit(self.url).hostname if self.url else None

    def user_agent(self) -> str:
        if self._version is None:
            self._version = claude_code_version(self._env.environ, self._run)
        return user_agent(self._version)

    def fetch(self, creds: Credentials) -> Reading:
        # The standard library's HTTP and TLS modules (about 10 ms) are imported at the first
        # fetch, on the poller thread, not before the tray icon first appears.
        from tray_monitor.connection import ACCEPT_ENCODING
        from tray_monitor.deadline import Deadline

        if self.url is None:
            raise ConfigError(str(self._config_error))
        connection = self._connection or self._open_connection(self.url)
        token = creds.access_token.strip() if isinstance(creds.access_token, str) else ""
        if not token or not _TOKEN_CHARS.fullmatch(token):
            # An empty bearer is answered 429 (not 401) and starts a long cooldown: never send it;
            # nor one that is not a header value (credentials.py already refuses those).
            raise not_signed_in(describe_source(creds.source))
        tls = self._tls_context() if connection.route.scheme == "https" else None
        route = connection.route
        target = _target(self.url)
        # The headers requests sent, in its order: Claude Code's, and its own Accept-Encoding.
        head = (f"GET {target} HTTP/1.1\r\n"
                f"Host: {route.authority}\r\n"
                f"User-Agent: {self.user_agent()}\r\n"
                f"Accept-Encoding: {ACCEPT_ENCODING}\r\n"
                f"Accept: {ACCEPT}\r\n"
                "Connection: keep-alive\r\n"
                f"Authorization: Bearer {token}\r\n"
                f"anthropic-beta: {OAUTH_BETA}\r\n"
                "Content-Type: application/json\r\n"  # Claude Code sends it on this GET too
                "\r\n").encode("ascii")
        deadline = Deadline(self._deadline)
        failure: MonitorError | None = None
        try:
            return self._exchange(connection, head, tls, deadline, creds)
        except MonitorError as error:
            failure = error
        if deadline.passed():
            # Whatever the timed-out socket made of it (a reset, half a body), it is the deadline.
            failure = Transient(f"{self._host} did not finish answering within {self._deadline:g} s: "
                                "trying again later.",
                                summary=f"Usage endpoint too slow (no answer in {self._deadline:g} s)")
        raise failure

    def _open_connection(self, url: str) -> Connection:
        from tray_monitor.connection import Connection, UnsupportedProxy, route_for

        try:
            route = route_for(url, loopback=_is_loopback(self._host or ""))
        except UnsupportedProxy as error:
            message = str(error)
        else:
            self._connection = Connection(route, self._timeout, self._connect)
            return self._connection
        raise ConfigError(message)  # outside the except block: nothing chained

    def _tls_context(self) -> ssl.SSLContext:
        """Always verified. A CA bundle from the injected environment as requests took it from
        os.environ (a proxy that inspects HTTPS, trustme in tests; empty values ignored), else
        certifi's, the bundle requests used. Loaded once; a failure is retried at the next fetch."""
        if self._tls is not None:
            return self._tls
        import ssl

        environ = self._env.environ
        bundle = environ.get("REQUESTS_CA_BUNDLE") or environ.get("CURL_CA_BUNDLE")
        failure: MonitorError | None = None
        try:
            if not bundle:
                import certifi

                bundle = certifi.where()
            if os.path.isdir(bundle):
                context = ssl.create_default_context(capath=bundle)
            else:
                context = ssl.create_default_context(cafile=bundle)
        except ssl.SSLError:  # a file that holds no certificate
            failure = self._tls_failure()
        except OSError:
            failure = ConfigError(
                "The CA bundle named by REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE cannot be read: "
                "fix the path or unset the variable."
            )
        if failure is not None:
            raise failure
        # As urllib3 set it up: TLS 1.2 at least, HTTP/1.1 by ALPN, no session tickets to keep.
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.set_alpn_protocols(["http/1.1"])
        context.options |= ssl.OP_NO_TICKET
        self._tls = context
        return context

    def _tls_failure(self) -> Transient:
        return Transient(
            f"TLS verification failed for {self._host}: if a proxy inspects HTTPS, set "
            "REQUESTS_CA_BUNDLE to its certificate; otherwise check the network (captive portal?)."
        )

    def _exchange(self, connection: Connection, head: bytes, tls: ssl.SSLContext | None, deadline: Deadline,
                  creds: Credentials) -> Reading:
        import http.client
        import ssl

        answer: Answer | None = None
        failure: MonitorError | None = None
        try:
            answer = connection.request(head, deadline, tls)
        except TimeoutError:
            failure = Transient(f"{self._host} did not answer in time: trying again later.")
        except ssl.SSLError:  # a certificate refused, or any TLS failure before the answer's headers
            failure = self._tls_failure()
        except (OSError, http.client.HTTPException):
            # DNS failure, connection refused or reset, proxy errors, not HTTP.
            failure = Transient(f"Cannot reach {self._host}: check the network connection; trying again later.")
        if failure is not None:
            # Raised outside the except block: no standard-library exception (whose frames and
            # arguments may hold the request) is even the (suppressed) __context__.
            raise failure
        assert answer is not None  # request() returned or failure was set
        with answer:
            status = answer.status
            if status == 200:
                body = self._decode(self._read_body(answer))
                if _anthropic_error_type(body) == "rate_limit_error":
                    # An in-band rate limit: Claude Code's own words for it.
                    raise RateLimited(f"{self._host} is temporarily limiting requests to the usage page, "
                                      "not your usage limit: waiting before asking again.",
                                      retry_after=self._retry_after(answer),
                                      summary="Usage page limiting requests (not your usage limit)")
                return parse_usage(body, self._env.clock.now())
            if status == 403:
                self._raise_for_403(answer, creds)
            self._raise_for_status(answer, creds)
            raise BadResponse(f"{self._host} answered HTTP {status} for the usage request: trying again later.")

    def _read_body(self, answer: Answer) -> bytes:
        import http.client
        import zlib

        from tray_monitor.connection import BodyTooLarge

        failure: MonitorError | None = None
        try:
            return answer.read_body(MAX_BODY)
        except BodyTooLarge:
            failure = BadResponse(f"{self._host} answered with an oversized body: trying again later.")
        except zlib.error:
            failure = BadResponse(f"{self._host} answered with a body that cannot be decoded: trying again later.")
        except (OSError, http.client.HTTPException, ValueError):
            # Fewer bytes than Content-Length, a reset or a read timeout mid-body: the network,
            # not the server's data, so it is retried like any connection failure.
            failure = Transient(f"The connection to {self._host} broke off mid-answer: trying again later.")
        raise failure  # outside the except block: nothing chained (see _exchange)

    def _decode(self, body: bytes) -> object:
        try:
            return json.loads(body.decode("utf-8-sig"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            pass  # HTML from a gateway, or JSON cut short
        raise BadResponse(f"{self._host} answered with something that is not JSON: trying again later.")

    def _raise_for_status(self, answer: Answer, creds: Credentials) -> None:
        status = answer.status
        if status == 401:
            if creds.source == SOURCE_ENVIRONMENT:
                raise AuthExpired(f"The token in {ENV_TOKEN} was rejected: set a new one or unset it and run `claude`.")
            raise AuthExpired("Claude Code login expired: run `claude` to refresh it.")
        if status == 429:
            # The endpoint's own per-token limiter, never an auth failure.
            raise RateLimited(f"{self._host} is rate-limiting usage requests: waiting before asking again.",
                              retry_after=self._retry_after(answer))
        if status >= 500:
            raise ServerTrouble(f"{self._host} answered HTTP {status} (a server problem): trying again later.", status)

    def _raise_for_403(self, answer: Answer, creds: Credentials) -> None:
        """Decided from the body, as Claude Code does. Only a permission_error about the scope
        ("OAuth token does not meet scope requirement user:profile", a setup-token) is "no scope";
        a 403 that is not an Anthropic JSON error at all (a proxy or firewall page, an empty body)
        is a rate limit: Retry-After, else the usual 5 minutes."""
        try:
            body: object = json.loads(self._read_body(answer).decode("utf-8-sig"))
        except (BadResponse, UnicodeDecodeError, ValueError, RecursionError):
            body = None  # HTML, empty, oversized: not Anthropic's answer
        error_type = _anthropic_error_type(body)
        if error_type is None:
            raise RateLimited(f"{self._host} answered HTTP 403 without an Anthropic error (a proxy or "
                              "firewall page?): treated as a rate limit, waiting before asking again.",
                              retry_after=self._retry_after(answer),
                              summary="Blocked (HTTP 403, not from Anthropic; a proxy?)")
        message = body["error"].get("message") if isinstance(body, dict) else None
        if error_type == "permission_error" and isinstance(message, str) \
                and re.search(r"scope|user:profile", message, re.IGNORECASE):
            raise ScopeMissing(scope_missing_message(creds), summary=scope_missing_summary(creds))
        raise BadResponse(f"{self._host} refused the usage request (HTTP 403, {error_type}): trying again later.")

    def _retry_after(self, answer: Answer) -> float | None:
        return parse_retry_after(answer.headers.get("Retry-After"), self._env.clock.now())


def _target(url: str) -> str:
    """The request target: the URL's path and query."""
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def _anthropic_error_type(body: object) -> str | None:
    """`error.type` of an Anthropic JSON error (`{"type": "error", "error": {"type": ...}}`, or
    without the outer type as the 429 sends it); None for anything else. Only a plain name is
    returned, so server text never reaches a message."""
    error = body.get("error") if isinstance(body, dict) else None
    kind = error.get("type") if isinstance(error, dict) else None
    if isinstance(kind, str) and re.fullmatch(r"[A-Za-z0-9_]{1,40}", kind):
        return kind
    return None


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait, only when the header gives a positive value (delta-seconds or an HTTP
    date); the endpoint often sends `Retry-After: 0`, which means nothing useful."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None or when.tzinfo is None:
            return None
        seconds = (when - now).total_seconds()
    if not math.isfinite(seconds) or seconds <= 0:
        return None
    return seconds
