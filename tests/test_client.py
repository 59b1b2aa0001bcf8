"""UsageClient against a real loopback HTTP(S) server: headers, and every outcome's typed error."""
from __future__ import annotations

import email.utils
import gzip
import json
import logging
import os
import re
import socket
import ssl
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import pytest
import trustme
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fakeapi import FakeApi, Response, error_fixture, fake_claude_bin, usage_fixture, write_credentials
from tray_monitor.client import (
    FALLBACK_CLAUDE_VERSION,
    FALLBACK_CLAUDE_VERSION_CHECKED,
    UsageClient,
    api_base_url,
    claude_code_version,
    parse_retry_after,
)
from tray_monitor.clock import FakeClock
from tray_monitor.environment import Environment
from tray_monitor.errors import (
    AuthExpired,
    BadResponse,
    ConfigError,
    CredentialsNotFound,
    MonitorError,
    RateLimited,
    ScopeMissing,
    ServerTrouble,
    Transient,
)
from tray_monitor.model import Credentials
from tray_monitor.view import problem_message

REPO = Path(__file__).resolve().parent.parent
PROXY_VARIABLES = ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY",
                   "no_proxy", "NO_PROXY")
TOKEN = "sk-ant-oat01-CLIENT-TEST-TOKEN-123"
CREDS = Credentials(TOKEN, "~/.claude/.credentials.json", scopes=("user:profile",))


def make_env(home: Path, clock=None, **environ: str) -> Environment:
    environ.setdefault("PATH", str(home / "empty-bin"))  # no real `claude` unless a test adds one
    return Environment(environ=environ, home=home, platform="linux", config_dir=home / "cfg",
                       data_dir=home / "data", log_dir=home / "log", runtime_dir=home / "run",
                       clock=clock or FakeClock())


@pytest.fixture
def client_for(tmp_path):
    """A client pointed at a FakeApi; extra environment variables as keywords."""

    def build(api: FakeApi, timeout=(2.0, 5.0), **environ) -> UsageClient:
        return UsageClient(make_env(tmp_path, CLAUDE_TRAY_API_URL=api.url, **environ), timeout=timeout)

    return build


# -- the request -----------------------------------------------------------------------------------


def test_request_carries_bearer_beta_header_claude_cli_agent_and_accept(fake_api, client_for, tmp_path):
    claude = fake_claude_bin(tmp_path, "2.3.45")
    client = client_for(fake_api, PATH=str(claude.directory))
    reading = client.fetch(CREDS)
    assert reading.window("five_hour").percent == 48.0
    (request,) = fake_api.requests
    assert request.method == "GET"
    assert request.path == "/api/oauth/usage"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["anthropic-beta"] == "oauth-2025-04-20"
    assert request.headers["user-agent"] == "claude-cli/2.3.45 (external, cli)"
    assert request.headers["accept"] == "application/json, text/plain, */*"
    assert request.headers["content-type"] == "application/json"


def test_background_reads_leave_out_the_spend_block_as_claude_codes_own_do(fake_api, tmp_path):
    env = make_env(tmp_path, CLAUDE_TRAY_API_URL=fake_api.url)
    UsageClient(env, background=True).fetch(CREDS)
    UsageClient(env).fetch(CREDS)  # `status`, `doctor`: a person asked now
    assert [r.path for r in fake_api.requests] == ["/api/oauth/usage?skip_spend=1", "/api/oauth/usage"]


@pytest.mark.parametrize("name", sorted(p.name for p in (Path(__file__).parent / "fixtures" / "usage").glob("*.json")))
def test_nothing_shown_comes_from_the_spend_block_so_skipping_it_changes_no_reading(name):
    """Why background reads may send ?skip_spend=1: for every recorded body, the reading without
    `spend` (what the server then sends) equals the reading with it. If parse.py ever takes
    something from `spend`, this fails: then send the plain path again."""
    from tray_monitor.parse import parse_usage

    body = json.loads(usage_fixture(name))
    now = FakeClock().now()
    without = {key: value for key, value in body.items() if key != "spend"}
    assert parse_usage(without, now) == parse_usage(body, now)


@pytest.mark.parametrize("change", ["no extra_usage", "extra_usage without currency", "spend in another currency"])
def test_no_shape_of_the_spend_block_reaches_a_reading(change):
    """Beyond the recorded bodies: the shapes in which `spend` could have filled a gap."""
    from tray_monitor.parse import parse_usage

    body = json.loads(usage_fixture("limits-2026-08"))
    if change == "no extra_usage":
        del body["extra_usage"]
    elif change == "extra_usage without currency":
        del body["extra_usage"]["currency"]
    else:
        body["spend"]["used"] = {"amount_minor": 999, "currency": "JPY", "exponent": 0}
    now = FakeClock().now()
    without = {key: value for key, value in body.items() if key != "spend"}
    assert parse_usage(without, now) == parse_usage(body, now)


def test_reading_is_stamped_with_the_clock_time(fake_api, tmp_path):
    clock = FakeClock()
    client = UsageClient(make_env(tmp_path, clock, CLAUDE_TRAY_API_URL=fake_api.url))
    assert client.fetch(CREDS).fetched_at == clock.now()


def test_claude_version_is_asked_once_per_process(fake_api, client_for, tmp_path):
    claude = fake_claude_bin(tmp_path, "2.1.123")
    client = client_for(fake_api, PATH=str(claude.directory))
    client.fetch(CREDS)
    client.fetch(CREDS)
    assert claude.calls() == [["--version"]]
    assert {r.headers["user-agent"] for r in fake_api.requests} == {"claude-cli/2.1.123 (external, cli)"}


def test_without_claude_on_path_a_recent_constant_version_is_sent(fake_api, client_for):
    client_for(fake_api).fetch(CREDS)
    assert fake_api.requests[0].headers["user-agent"] == f"claude-cli/{FALLBACK_CLAUDE_VERSION} (external, cli)"


def test_the_fallback_claude_version_is_at_most_120_days_old():
    """The rule: FALLBACK_CLAUDE_VERSION_CHECKED is the day the constant was the newest Claude Code
    release. Four months on, the constant is stale: look up the newest release
    (`npm view @anthropic-ai/claude-code version`) and update both."""
    age = date.today() - FALLBACK_CLAUDE_VERSION_CHECKED
    assert age.days <= 120, (f"FALLBACK_CLAUDE_VERSION {FALLBACK_CLAUDE_VERSION} was checked "
                             f"{age.days} days ago: update it to the newest Claude Code release")


@pytest.mark.parametrize("output, exit_code", [("Claude Code\n", 0), ("2.1.5 (Claude Code)\n", 1), ("", 0)])
def test_a_claude_that_gives_no_version_means_the_constant(tmp_path, output, exit_code):
    claude = fake_claude_bin(tmp_path, output=output, exit_code=exit_code)
    assert claude_code_version({"PATH": str(claude.directory)}) == FALLBACK_CLAUDE_VERSION


def test_a_claude_that_hangs_or_cannot_start_means_the_constant(tmp_path):
    claude = fake_claude_bin(tmp_path, "9.9.9")

    def hanging(argv, **kwargs):
        raise subprocess.TimeoutExpired(argv, kwargs["timeout"])

    def broken(argv, **kwargs):
        raise PermissionError(13, "Permission denied")

    assert claude_code_version({"PATH": str(claude.directory)}, hanging) == FALLBACK_CLAUDE_VERSION
    assert claude_code_version({"PATH": str(claude.directory)}, broken) == FALLBACK_CLAUDE_VERSION
    assert claude_code_version({"PATH": str(claude.directory)}) == "9.9.9"


@pytest.mark.parametrize("token", ["", "   "])
def test_an_empty_token_is_never_sent(fake_api, client_for, token):
    with pytest.raises(CredentialsNotFound, match="run `claude` and log in"):
        client_for(fake_api).fetch(Credentials(token, "~/.claude/.credentials.json"))
    assert fake_api.requests == []


@given(before=st.text(alphabet="abcXYZ019-_.", min_size=1, max_size=8),
       bad=st.sampled_from(["\r\n", "\n", "\r", " ", "\t", "\x00", "\x7f", "é", "\u2028"]),
       after=st.text(alphabet="abcXYZ019-_.", min_size=1, max_size=8))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_a_token_that_is_not_a_header_value_is_never_sent(fake_api, client_for, before, bad, after):
    """A character inside the token that cannot stand in a header (a line break would start a
    header of its own) gives the not-signed-in sentence, without a request."""
    with pytest.raises(CredentialsNotFound, match="run `claude` and log in"):
        client_for(fake_api).fetch(Credentials(before + bad + after, "~/.claude/.credentials.json"))
    assert fake_api.requests == []


def test_redirects_are_not_followed(fake_api, client_for):
    fake_api.respond(302, b"", {"Location": "http://127.0.0.1:9/elsewhere"})
    with pytest.raises(BadResponse, match="HTTP 302"):
        client_for(fake_api).fetch(CREDS)
    assert len(fake_api.requests) == 1


# -- status codes ----------------------------------------------------------------------------------


def test_401_is_auth_expired(fake_api, client_for):
    fake_api.respond(401, error_fixture("401-invalid-token.json"))
    with pytest.raises(AuthExpired, match="run `claude` to refresh it"):
        client_for(fake_api).fetch(CREDS)


def test_401_for_an_environment_token_names_the_variable(fake_api, client_for):
    fake_api.respond(401, error_fixture("401-invalid-token.json"))
    with pytest.raises(AuthExpired, match="CLAUDE_CODE_OAUTH_TOKEN was rejected"):
        client_for(fake_api).fetch(Credentials(TOKEN, "environment"))


def test_403_is_scope_missing_with_its_own_sentence(fake_api, client_for):
    fake_api.respond(403, error_fixture("403-scope.json"))
    with pytest.raises(ScopeMissing, match="cannot read usage.*log in with `claude`"):
        client_for(fake_api).fetch(CREDS)


@pytest.mark.parametrize("body", [b"", b"<html><body>Access denied by your proxy</body></html>",
                                  error_fixture("502-html.html"), b"{}", b'{"error": "forbidden"}',
                                  b"[1, 2]", b"\xff\xfe"])
@pytest.mark.parametrize("header, expected", [(None, None), ("90", 90.0)])
def test_a_403_that_is_not_an_anthropic_error_is_a_rate_limit(fake_api, client_for, body, header, expected):
    """Claude Code treats a proxy or firewall page, or an empty 403, as a rate limit (Retry-After,
    else the 5 minutes the schedule gives a RateLimited without one), not as a missing scope."""
    fake_api.respond(403, body, {"Retry-After": header} if header else {"Content-Type": "text/html"})
    with pytest.raises(RateLimited, match=r"HTTP 403 without an Anthropic error.*treated as a rate limit") as caught:
        client_for(fake_api).fetch(CREDS)
    assert caught.value.retry_after == expected
    assert fake_api.requests[0].path == "/api/oauth/usage"


@pytest.mark.parametrize("payload", [
    {"type": "error", "error": {"type": "permission_error", "message": "Your organization has disabled this"}},
    {"type": "error", "error": {"type": "forbidden_error", "message": "scope requirement user:profile"}},
    {"type": "error", "error": {"type": "permission_error"}},
])
def test_a_403_anthropic_error_that_is_not_about_the_scope_is_a_refusal_not_no_scope(fake_api, client_for, payload):
    fake_api.respond(403, json.dumps(payload))
    with pytest.raises(BadResponse, match=r"refused the usage request \(HTTP 403, \w+_error\)") as caught:
        client_for(fake_api).fetch(CREDS)
    assert not isinstance(caught.value, (ScopeMissing, RateLimited))
    assert "organization" not in caught.value.message  # server text never reaches the sentence


_json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
                           max_leaves=8)


@st.composite
def _forbidden_bodies(draw):
    """Any 403 body: raw bytes, any JSON, or an Anthropic error of any type and message."""
    kind = draw(st.sampled_from(["bytes", "json", "anthropic"]))
    if kind == "bytes":
        return draw(st.binary(max_size=200))
    if kind == "json":
        return json.dumps(draw(_json_values)).encode()
    error = {"type": draw(st.sampled_from(["permission_error", "forbidden", "rate_limit_error", "x y"])),
             "message": draw(st.text(max_size=60) | st.sampled_from(["scope requirement user:profile", "nope"]))}
    return json.dumps({"type": "error", "error": error}).encode()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=_forbidden_bodies())
def test_any_403_is_no_scope_only_for_a_permission_error_about_the_scope_and_a_rate_limit_when_not_anthropic(
        fake_api, client_for, body):
    fake_api.respond(403, body)
    with pytest.raises(MonitorError) as caught:
        client_for(fake_api).fetch(CREDS)
    error = caught.value
    try:
        payload = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError):
        payload = None
    inner = payload.get("error") if isinstance(payload, dict) else None
    kind = inner.get("type") if isinstance(inner, dict) else None
    anthropic = isinstance(kind, str) and re.fullmatch(r"[A-Za-z0-9_]{1,40}", kind) is not None
    message = inner.get("message") if isinstance(inner, dict) else None
    about_scope = isinstance(message, str) and re.search("scope|user:profile", message, re.IGNORECASE) is not None
    if not anthropic:
        assert type(error) is RateLimited and "HTTP 403 without an Anthropic error" in error.message
    elif kind == "permission_error" and about_scope:
        assert type(error) is ScopeMissing
    else:
        assert type(error) is BadResponse and f"(HTTP 403, {kind})" in error.message
    assert "\n" not in error.message and error.__context__ is None


def test_a_200_whose_body_is_a_rate_limit_error_is_a_rate_limit_in_claude_codes_words(fake_api, client_for):
    fake_api.respond(200, error_fixture("429-rate-limited.json"), {"Retry-After": "45"})
    fake_api.respond(200, json.dumps({"type": "error", "error": {"type": "rate_limit_error"}}))
    client = client_for(fake_api)
    with pytest.raises(RateLimited, match="temporarily limiting requests to the usage page, not your usage limit") as first:
        client.fetch(CREDS)
    with pytest.raises(RateLimited) as second:
        client.fetch(CREDS)
    assert (first.value.retry_after, second.value.retry_after) == (45.0, None)
    assert [r.path for r in fake_api.requests] == ["/api/oauth/usage"] * 2
    now = FakeClock().now()
    assert problem_message(first.value, None, now) == (
        "Usage page limiting requests (not your usage limit) — retrying soon")
    assert problem_message(second.value, None, now, polling=False) == (
        "Usage page limiting requests (not your usage limit) — try again in a few minutes")


def test_the_menu_names_a_403_proxy_page_as_blocked_not_as_a_missing_scope(fake_api, client_for):
    fake_api.respond(403, b"<html>Forbidden by policy</html>", {"Content-Type": "text/html"})
    with pytest.raises(RateLimited) as caught:
        client_for(fake_api).fetch(CREDS)
    assert problem_message(caught.value, None, FakeClock().now()) == (
        "Blocked (HTTP 403, not from Anthropic; a proxy?) — retrying soon")


@pytest.mark.parametrize("header, expected", [("120", 120.0), ("2.5", 2.5), ("0", None), ("-3", None),
                                              ("soon", None), ("nan", None), ("inf", None), (None, None)])
def test_429_is_rate_limited_with_retry_after_only_when_positive(fake_api, client_for, header, expected):
    headers = {"Retry-After": header} if header is not None else {}
    fake_api.respond(429, error_fixture("429-rate-limited.json"), headers)
    with pytest.raises(RateLimited) as caught:
        client_for(fake_api).fetch(CREDS)
    assert caught.value.retry_after == expected


def test_retry_after_as_an_http_date_counts_from_the_clock():
    now = FakeClock().now()
    later = email.utils.format_datetime(now + timedelta(seconds=90), usegmt=True)
    earlier = email.utils.format_datetime(now - timedelta(seconds=90), usegmt=True)
    assert parse_retry_after(later, now) == 90.0
    assert parse_retry_after(earlier, now) is None
    assert parse_retry_after("Tue, 99 Foo 2026 99:99:99 GMT", now) is None
    assert parse_retry_after("Tue, 01 Sep 2026 12:01:30", now) is None  # no zone: cannot tell when


@pytest.mark.parametrize("status, body", [
    (500, b"{}"), (502, error_fixture("502-html.html")), (503, b""), (529, error_fixture("529-overloaded.json"))])
def test_server_errors_are_transient_server_trouble_with_the_status(fake_api, client_for, status, body):
    fake_api.respond(status, body)
    with pytest.raises(ServerTrouble, match=f"HTTP {status}") as raised:
        client_for(fake_api).fetch(CREDS)
    assert isinstance(raised.value, Transient)  # retried like a network failure
    assert raised.value.http_status == status


@pytest.mark.parametrize("status", [400, 404, 418])
def test_other_client_errors_are_bad_responses(fake_api, client_for, status):
    fake_api.respond(status, b"{}")
    with pytest.raises(BadResponse, match=f"HTTP {status}"):
        client_for(fake_api).fetch(CREDS)


# -- bodies ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("body", [error_fixture("502-html.html"), usage_fixture("overage")[:200], b"", b"\xff\xfe"])
def test_a_200_with_html_or_json_cut_short_is_a_bad_response(fake_api, client_for, body):
    fake_api.respond(200, body)
    with pytest.raises(BadResponse, match="not JSON"):
        client_for(fake_api).fetch(CREDS)


def test_a_200_with_json_that_holds_no_window_is_a_bad_response(fake_api, client_for):
    fake_api.respond(200, b"[]")
    with pytest.raises(BadResponse):
        client_for(fake_api).fetch(CREDS)


def test_an_oversized_body_is_a_bad_response(fake_api, client_for):
    fake_api.respond(200, b"[" + b" " * (2 * 1024 * 1024 + 10) + b"]")
    with pytest.raises(BadResponse, match="oversized"):
        client_for(fake_api).fetch(CREDS)


def test_a_body_that_cannot_be_decompressed_is_a_bad_response(fake_api, client_for):
    fake_api.respond(200, b"definitely not gzip", {"Content-Encoding": "gzip"})
    with pytest.raises(BadResponse, match="cannot be decoded"):
        client_for(fake_api).fetch(CREDS)


def test_a_gzip_body_is_accepted(fake_api, client_for):
    fake_api.respond(200, gzip.compress(usage_fixture("seed-2025-11")), {"Content-Encoding": "gzip"})
    assert client_for(fake_api).fetch(CREDS).window("five_hour").percent == 78.0


# -- the network failing ---------------------------------------------------------------------------


def test_a_connection_cut_mid_body_is_transient(fake_api, client_for):
    fake_api.queue(Response(200, usage_fixture("overage"), truncate=True))
    with pytest.raises(Transient, match="broke off mid-answer"):
        client_for(fake_api).fetch(CREDS)


def test_a_connection_closed_without_an_answer_is_transient(fake_api, client_for):
    fake_api.queue(Response(close=True))
    with pytest.raises(Transient, match="Cannot reach 127.0.0.1"):
        client_for(fake_api).fetch(CREDS)


def test_an_answer_slower_than_the_read_timeout_is_transient(fake_api, client_for):
    fake_api.queue(Response(200, usage_fixture("overage"), delay=3))
    with pytest.raises(Transient, match="did not answer in time"):
        client_for(fake_api, timeout=(2.0, 0.2)).fetch(CREDS)


@pytest.mark.parametrize("body_only", [False, True], ids=["headers-trickled", "body-trickled"])
def test_a_trickling_server_is_cut_off_at_the_overall_deadline(fake_api, tmp_path, body_only):
    """Each byte comes well inside the 5 s read timeout, which restarts with it; only the overall
    deadline (connect + headers + body) ends the request."""
    fake_api.queue(Response(200, usage_fixture("overage"), trickle=0.1, trickle_body_only=body_only))
    client = UsageClient(make_env(tmp_path, CLAUDE_TRAY_API_URL=fake_api.url), timeout=(2.0, 5.0), deadline=1.0)
    started = time.monotonic()
    with pytest.raises(Transient, match=r"127.0.0.1 did not finish answering within 1 s: trying again later") as caught:
        client.fetch(CREDS)
    elapsed = time.monotonic() - started
    assert 1.0 <= elapsed < 2.0, elapsed
    assert caught.value.__cause__ is None and caught.value.__context__ is None
    assert not isinstance(caught.value, ServerTrouble)
    assert TOKEN not in repr(caught.value)
    assert fake_api.requests[0].path == "/api/oauth/usage"
    # the menu does not say "Offline": the network is fine, the answer is too slow
    assert problem_message(caught.value, None, FakeClock().now()) == (
        "Usage endpoint too slow (no answer in 1 s) — retrying soon")


def test_the_deadline_also_covers_a_kept_alive_connection_and_the_next_answer_is_read(fake_api, tmp_path):
    client = UsageClient(make_env(tmp_path, CLAUDE_TRAY_API_URL=fake_api.url), timeout=(2.0, 5.0), deadline=1.0)
    fake_api.queue(Response(200, usage_fixture("seed-2025-11")),  # leaves a kept-alive connection
                   Response(200, usage_fixture("overage"), trickle=0.1, trickle_body_only=True))
    assert client.fetch(CREDS).window("five_hour").percent == 78.0
    started = time.monotonic()
    with pytest.raises(Transient, match="did not finish answering within 1 s"):
        client.fetch(CREDS)
    assert time.monotonic() - started < 2.0
    assert client.fetch(CREDS).window("five_hour").percent == 48.0  # the default answer, at once
    assert len(fake_api.requests) == 3


def test_connection_refused_is_transient(tmp_path):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = UsageClient(make_env(tmp_path, CLAUDE_TRAY_API_URL=f"http://127.0.0.1:{port}"))
    with pytest.raises(Transient, match="Cannot reach 127.0.0.1: check the network") as raised:
        client.fetch(CREDS)
    assert not isinstance(raised.value, ServerTrouble)  # the menu says "Offline" for this one only


def test_a_dns_failure_is_transient(tmp_path, monkeypatch):
    """Stands in for socket.create_connection where the failure cannot be made on loopback (DNS)."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    asked = []

    def unresolvable(address, timeout):
        asked.append((address, timeout))
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    client = UsageClient(make_env(tmp_path), connect=unresolvable)
    with pytest.raises(Transient, match="Cannot reach api.anthropic.com") as raised:
        client.fetch(CREDS)
    assert asked == [(("api.anthropic.com", 443), 5.0)]  # the connect timeout
    assert raised.value.__context__ is None


# -- TLS -------------------------------------------------------------------------------------------


@pytest.fixture
def tls_api():
    authority = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    with FakeApi(ssl_context=context) as api:
        yield api, authority


def test_tls_is_verified_against_an_unknown_authority(tls_api, tmp_path):
    api, _ = tls_api
    client = UsageClient(make_env(tmp_path, CLAUDE_TRAY_API_URL=api.url))
    with pytest.raises(Transient, match="TLS verification failed.*REQUESTS_CA_BUNDLE"):
        client.fetch(CREDS)
    assert api.requests == []  # the handshake failed before any header was sent


def test_a_trickling_server_over_tls_is_cut_off_at_the_deadline(tls_api, tmp_path):
    api, authority = tls_api
    bundle = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(bundle))
    api.queue(Response(200, usage_fixture("overage"), trickle=0.1))
    client = UsageClient(make_env(tmp_path, CLAUDE_TRAY_API_URL=api.url, REQUESTS_CA_BUNDLE=str(bundle)),
                         timeout=(2.0, 5.0), deadline=1.0)
    started = time.monotonic()
    with pytest.raises(Transient, match="did not finish answering within 1 s"):
        client.fetch(CREDS)
    assert time.monotonic() - started < 2.0


def test_tls_with_the_authority_in_requests_ca_bundle_succeeds(tls_api, tmp_path):
    api, authority = tls_api
    bundle = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(bundle))
    client = UsageClient(make_env(tmp_path, CLAUDE_TRAY_API_URL=api.url, REQUESTS_CA_BUNDLE=str(bundle)))
    assert client.fetch(CREDS).window("five_hour") is not None
    assert api.requests[0].headers["authorization"] == f"Bearer {TOKEN}"


# -- the token never leaks -------------------------------------------------------------------------


@pytest.mark.parametrize("response", [
    Response(401), Response(403), Response(403, error_fixture("403-scope.json")), Response(429),
    Response(200, error_fixture("429-rate-limited.json")), Response(502), Response(200, b"<html>"),
    Response(200, usage_fixture("overage"), truncate=True), Response(close=True), Response(404),
])
def test_no_error_text_chain_or_log_line_holds_the_token(fake_api, client_for, response, caplog):
    fake_api.queue(response)
    with caplog.at_level(logging.DEBUG):
        with pytest.raises(MonitorError) as caught:
            client_for(fake_api).fetch(CREDS)
    error = caught.value
    assert TOKEN not in str(error) and TOKEN not in repr(error)
    assert error.__cause__ is None and error.__context__ is None
    assert TOKEN not in caplog.text


# -- the base URL ----------------------------------------------------------------------------------


@pytest.mark.parametrize("value, expected", [
    (None, "https://api.anthropic.com"),
    ("", "https://api.anthropic.com"),
    ("http://127.0.0.1:8123", "http://127.0.0.1:8123"),
    ("http://127.5.6.7:8123/", "http://127.5.6.7:8123"),
    ("http://localhost:8123/prefix", "http://localhost:8123/prefix"),
    ("http://[::1]:8123", "http://[::1]:8123"),
    ("https://api.anthropic.com", "https://api.anthropic.com"),
    ("https://127.0.0.1:8443", "https://127.0.0.1:8443"),
])
def test_allowed_api_urls(tmp_path, value, expected):
    environ = {} if value is None else {"CLAUDE_TRAY_API_URL": value}
    assert api_base_url(make_env(tmp_path, **environ)) == expected


@pytest.mark.parametrize("value", [
    "http://api.anthropic.com",  # plain http off this computer
    "http://192.168.1.10:8123",
    "https://evil.example.com",
    "https://api.anthropic.com.evil.example",
    "ftp://127.0.0.1",
    "127.0.0.1:8123",
    "http://user:pw@127.0.0.1:8123",
    "http://127.0.0.1:8123/?x=1",
    "http://127.0.0.1:99999",
    "http://[::1",
])
def test_refused_api_urls_give_one_sentence(tmp_path, value):
    with pytest.raises(ConfigError, match="CLAUDE_TRAY_API_URL=.* is not allowed: use https://api.anthropic.com"):
        api_base_url(make_env(tmp_path, CLAUDE_TRAY_API_URL=value))


def test_a_client_with_a_refused_url_fails_each_fetch_with_the_sentence_and_sends_nothing(tmp_path):
    client = UsageClient(make_env(tmp_path, CLAUDE_TRAY_API_URL="http://example.com"))
    with pytest.raises(ConfigError, match="is not allowed"):
        client.fetch(CREDS)


def test_a_ca_bundle_path_that_does_not_exist_is_a_config_error(tmp_path):
    # requests checks the bundle before connecting, so no server is needed on this port
    client = UsageClient(make_env(tmp_path, CLAUDE_TRAY_API_URL="https://127.0.0.1:9",
                                  REQUESTS_CA_BUNDLE=str(tmp_path / "missing.pem")))
    with pytest.raises(ConfigError, match="REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE cannot be read"):
        client.fetch(CREDS)


# -- the deadline in the real program --------------------------------------------------------------


@pytest.mark.slow
def test_status_as_a_real_process_gives_up_on_a_server_sending_one_byte_a_second(fake_api, isolated_home):
    """`claude-tray status` against a server that sends its answer one byte per second: it ends
    at the 30 s deadline with one sentence (no traceback), instead of after minutes."""
    write_credentials(isolated_home / ".claude", "max-linux")
    fake_api.default = Response(200, usage_fixture("overage"), trickle=1.0)
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "tray_monitor", "status"], capture_output=True, text=True,
                          timeout=60, env=dict(os.environ, PYTHONPATH=str(REPO), CLAUDE_TRAY_API_URL=fake_api.url))
    elapsed = time.monotonic() - started
    assert 30.0 <= elapsed < 40.0, elapsed
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == "claude-tray: 127.0.0.1 did not finish answering within 30 s: trying again later.\n"
    assert len(fake_api.requests) == 1


# -- the environment is read once per client, not at every request (issue 12's poll CPU) ----------

def test_the_proxy_settings_are_read_once_per_client(client_for, tmp_path, monkeypatch):
    """For the Anthropic API (a loopback URL never asks): urllib's getproxies() once, at the first
    fetch; the following fetches reuse the route. (The proxy itself: tests/test_client_connection.py.)"""
    import urllib.request

    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    calls = []
    original = urllib.request.getproxies
    monkeypatch.setattr(urllib.request, "getproxies", lambda: calls.append(1) or original())

    def refused(address, timeout):
        raise ConnectionRefusedError(111, "Connection refused")

    client = UsageClient(make_env(tmp_path), connect=refused)
    for _ in range(3):
        with pytest.raises(Transient, match="Cannot reach api.anthropic.com"):
            client.fetch(CREDS)
    assert calls == [1]


def test_a_loopback_url_never_goes_through_a_proxy(fake_api, client_for, monkeypatch):
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    with FakeApi() as proxy:
        for name in ("http_proxy", "https_proxy", "all_proxy"):
            monkeypatch.setenv(name, proxy.url)
        client = client_for(fake_api)
        for _ in range(2):
            assert client.fetch(CREDS).window("five_hour").percent == 48.0
    assert proxy.requests == []
    assert len(fake_api.requests) == 2


def test_no_proxy_naming_the_host_still_bypasses_the_proxy(fake_api, client_for, monkeypatch):
    with FakeApi() as proxy:
        monkeypatch.setenv("http_proxy", proxy.url)
        monkeypatch.setenv("no_proxy", "127.0.0.1")
        client_for(fake_api).fetch(CREDS)
    assert proxy.requests == []
    assert len(fake_api.requests) == 1
