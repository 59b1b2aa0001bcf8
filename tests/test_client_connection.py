"""The client's connection (tray_monitor/connection.py, deadline.py) against real loopback servers:
a CONNECT proxy with and without credentials, no_proxy, TLS verified with trustme certificates,
keep-alive and its one retry, the overall deadline against trickling servers, and any answer at all
(hypothesis) giving one typed error, never a traceback.

Nothing leaves this computer: the client is aimed at https://api.anthropic.com only with a `connect`
that sends api.anthropic.com:443 to a loopback server (the DNS stand-in) and refuses any other
address that is not loopback, so a broken proxy route fails here instead of reaching the Internet.
"""
from __future__ import annotations

import base64
import gzip
import json
import socket
import ssl
import threading
import time

import pytest
import trustme
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.connect_proxy import ConnectProxy
from tests.fakeapi import FakeApi, Response, usage_fixture
from tests.test_client import CREDS, PROXY_VARIABLES, TOKEN, make_env
from tray_monitor.client import UsageClient
from tray_monitor.errors import ConfigError, MonitorError, Transient
from tray_monitor.model import Reading

ANTHROPIC = ("api.anthropic.com", 443)


@pytest.fixture(autouse=True)
def no_proxy_variables(monkeypatch):
    """Each test sets the proxy variables it means; none leaks in from the machine."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def authority():
    return trustme.CA()


@pytest.fixture
def anthropic_api(authority):
    """A loopback HTTPS server with a certificate for api.anthropic.com from `authority`."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("api.anthropic.com").configure_cert(context)
    with FakeApi(ssl_context=context) as api:
        yield api


@pytest.fixture
def bundle(tmp_path, authority):
    path = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(path))
    return path


class LoopbackOnly:
    """socket.create_connection, with api.anthropic.com:443 sent to `port` on 127.0.0.1 and any
    other address that is not loopback refused. Records the addresses asked for."""

    def __init__(self, port: int | None = None):
        self.port = port
        self.asked: list[tuple[str, int]] = []

    def __call__(self, address, timeout):
        self.asked.append(address)
        if address == ANTHROPIC and self.port is not None:
            address = ("127.0.0.1", self.port)
        if address[0] not in ("127.0.0.1", "::1", "localhost"):
            raise ConnectionRefusedError(111, f"test: no connection to {address} from a test")
        return socket.create_connection(address, timeout)


def anthropic_client(tmp_path, bundle, connect, **kwargs) -> UsageClient:
    return UsageClient(make_env(tmp_path, REQUESTS_CA_BUNDLE=str(bundle)), connect=connect, **kwargs)


# -- the proxy -------------------------------------------------------------------------------------


def test_https_goes_through_the_proxys_connect_tunnel_and_reuses_it(tmp_path, anthropic_api, bundle, monkeypatch):
    with ConnectProxy(("127.0.0.1", anthropic_api.port)) as proxy:
        monkeypatch.setenv("https_proxy", proxy.url)
        connect = LoopbackOnly()  # nothing but the proxy may be reached
        client = anthropic_client(tmp_path, bundle, connect)
        for _ in range(2):
            assert client.fetch(CREDS).window("five_hour").percent == 48.0
    assert proxy.connects == [("api.anthropic.com:443", None)]  # one tunnel, kept alive
    assert connect.asked == [("127.0.0.1", proxy.port)]
    first, second = anthropic_api.requests
    assert first.headers["host"] == "api.anthropic.com"  # the default port is not named
    assert first.headers["authorization"] == f"Bearer {TOKEN}"
    assert "proxy-authorization" not in first.headers  # the proxy's credentials stay with the proxy
    assert first.peer == second.peer


def test_the_proxys_credentials_from_its_url_are_sent_as_basic_auth(tmp_path, anthropic_api, bundle, monkeypatch):
    with ConnectProxy(("127.0.0.1", anthropic_api.port), credentials="us@er:p:ss w") as proxy:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url_with("us%40er:p%3Ass%20w"))
        client = anthropic_client(tmp_path, bundle, LoopbackOnly())
        assert client.fetch(CREDS).window("five_hour") is not None
    expected = "Basic " + base64.b64encode(b"us@er:p:ss w").decode()
    assert proxy.connects == [("api.anthropic.com:443", expected)]


def test_all_proxy_is_used_too_and_a_refusing_proxy_is_one_sentence_without_its_password(
        tmp_path, anthropic_api, bundle, monkeypatch):
    with ConnectProxy(("127.0.0.1", anthropic_api.port), credentials="user:right") as proxy:
        monkeypatch.setenv("all_proxy", proxy.url_with("user:WRONG-PASSWORD"))
        with pytest.raises(Transient) as caught:
            anthropic_client(tmp_path, bundle, LoopbackOnly()).fetch(CREDS)
    assert caught.value.message == ("Cannot reach api.anthropic.com: check the network connection; "
                                    "trying again later.")
    assert "WRONG-PASSWORD" not in repr(caught.value) and caught.value.__context__ is None
    assert len(proxy.connects) == 1 and anthropic_api.requests == []


@pytest.mark.parametrize("no_proxy", ["api.anthropic.com", ".anthropic.com", "anthropic.com", "*",
                                      "localhost, api.anthropic.com"])
def test_no_proxy_naming_the_host_goes_direct(tmp_path, anthropic_api, bundle, monkeypatch, no_proxy):
    with ConnectProxy(("127.0.0.1", anthropic_api.port)) as proxy:
        monkeypatch.setenv("https_proxy", proxy.url)
        monkeypatch.setenv("no_proxy", no_proxy)
        connect = LoopbackOnly(anthropic_api.port)
        assert anthropic_client(tmp_path, bundle, connect).fetch(CREDS).window("five_hour") is not None
    assert proxy.connects == []
    assert connect.asked == [ANTHROPIC]


def test_no_proxy_naming_another_host_still_uses_the_proxy(tmp_path, anthropic_api, bundle, monkeypatch):
    with ConnectProxy(("127.0.0.1", anthropic_api.port)) as proxy:
        monkeypatch.setenv("https_proxy", proxy.url)
        monkeypatch.setenv("no_proxy", "example.com,thropic.com")
        anthropic_client(tmp_path, bundle, LoopbackOnly()).fetch(CREDS)
    assert len(proxy.connects) == 1


@pytest.mark.parametrize("proxy", ["socks5://user:SECRET@127.0.0.1:1080", "https://127.0.0.1:3128"])
def test_a_proxy_that_is_not_http_is_one_sentence_naming_its_scheme(tmp_path, bundle, monkeypatch, proxy):
    monkeypatch.setenv("https_proxy", proxy)
    connect = LoopbackOnly()
    with pytest.raises(ConfigError) as caught:
        anthropic_client(tmp_path, bundle, connect).fetch(CREDS)
    scheme = proxy.split(":", 1)[0]
    assert caught.value.message == (f"The proxy set for https is {scheme}://127.0.0.1: claude-tray connects "
                                    "through http:// proxies only.")
    assert "SECRET" not in repr(caught.value) and caught.value.__context__ is None
    assert connect.asked == []


def test_a_proxy_without_a_scheme_is_taken_as_http(tmp_path, anthropic_api, bundle, monkeypatch):
    with ConnectProxy(("127.0.0.1", anthropic_api.port)) as proxy:
        monkeypatch.setenv("https_proxy", f"127.0.0.1:{proxy.port}")
        anthropic_client(tmp_path, bundle, LoopbackOnly()).fetch(CREDS)
    assert len(proxy.connects) == 1


# -- TLS -------------------------------------------------------------------------------------------


def test_a_certificate_from_another_authority_is_refused_with_the_tls_sentence(tmp_path, anthropic_api):
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    with pytest.raises(Transient) as caught:
        anthropic_client(tmp_path, other, LoopbackOnly(anthropic_api.port)).fetch(CREDS)
    assert caught.value.message == (
        "TLS verification failed for api.anthropic.com: if a proxy inspects HTTPS, set REQUESTS_CA_BUNDLE to "
        "its certificate; otherwise check the network (captive portal?).")
    assert caught.value.__context__ is None
    assert anthropic_api.requests == []


def test_a_certificate_for_another_name_is_refused(tmp_path, authority, bundle):
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("api.anthropic.com.evil.example").configure_cert(context)
    with FakeApi(ssl_context=context) as api:
        with pytest.raises(Transient, match="TLS verification failed for api.anthropic.com"):
            anthropic_client(tmp_path, bundle, LoopbackOnly(api.port)).fetch(CREDS)
        assert api.requests == []


def test_curl_ca_bundle_and_a_folder_of_certificates_are_honoured(tmp_path, anthropic_api, authority):
    folder = tmp_path / "certs"
    folder.mkdir()
    pem = folder / "ca.pem"
    authority.cert_pem.write_to_path(str(pem))
    # a c_rehash-style folder: the certificate under its subject hash
    import subprocess

    subject_hash = subprocess.run(["openssl", "x509", "-hash", "-noout", "-in", str(pem)], capture_output=True,
                                  text=True, check=True).stdout.strip()
    (folder / f"{subject_hash}.0").write_bytes(pem.read_bytes())
    for environ in ({"CURL_CA_BUNDLE": str(pem)}, {"REQUESTS_CA_BUNDLE": str(folder)}):
        client = UsageClient(make_env(tmp_path, **environ), connect=LoopbackOnly(anthropic_api.port))
        assert client.fetch(CREDS).window("five_hour") is not None
    assert len(anthropic_api.requests) == 2


def test_a_ca_bundle_without_certificates_is_the_tls_sentence(tmp_path, anthropic_api):
    empty = tmp_path / "empty.pem"
    empty.write_text("not a certificate\n")
    with pytest.raises(Transient, match="TLS verification failed"):
        anthropic_client(tmp_path, empty, LoopbackOnly(anthropic_api.port)).fetch(CREDS)


# -- keep-alive ------------------------------------------------------------------------------------


def test_the_connection_is_kept_between_polls(fake_api, tmp_path):
    client = UsageClient(make_env(tmp_path, CLAUDE_TRAY_API_URL=fake_api.url))
    for _ in range(3):
        client.fetch(CREDS)
    assert len({r.peer for r in fake_api.requests}) == 1


def test_a_connection_the_server_closed_while_idle_is_replaced_without_a_failed_request(tmp_path):
    with FakeApi(idle_timeout=0.2) as api:
        client = UsageClient(make_env(tmp_path, CLAUDE_TRAY_API_URL=api.url))
        client.fetch(CREDS)
        time.sleep(0.5)  # the server has closed the kept connection meanwhile
        client.fetch(CREDS)
        assert len(api.requests) == 2  # no request lost on the closed one
        assert len({r.peer for r in api.requests}) == 2


def test_a_kept_connection_closed_across_the_request_is_retried_once_on_a_new_one(fake_api, tmp_path):
    """The server hangs up as the request arrives on a kept connection (its idle close crossing
    it): not one byte of an answer, so the GET goes once more on a new connection."""
    client = UsageClient(make_env(tmp_path, CLAUDE_TRAY_API_URL=fake_api.url))
    fake_api.queue(Response(200, usage_fixture("seed-2025-11")), Response(close=True))
    client.fetch(CREDS)
    assert client.fetch(CREDS).window("five_hour").percent == 48.0  # the default answer, on the retry
    first, closed, retried = fake_api.requests
    assert first.peer == closed.peer != retried.peer


def test_the_retry_happens_once_only(fake_api, tmp_path):
    client = UsageClient(make_env(tmp_path, CLAUDE_TRAY_API_URL=fake_api.url))
    fake_api.queue(Response(200, usage_fixture("seed-2025-11")), Response(close=True), Response(close=True))
    client.fetch(CREDS)
    with pytest.raises(Transient, match="Cannot reach 127.0.0.1"):
        client.fetch(CREDS)
    assert len(fake_api.requests) == 3


def test_a_new_connection_closed_without_an_answer_is_not_retried(fake_api, tmp_path):
    fake_api.queue(Response(close=True))
    with pytest.raises(Transient, match="Cannot reach 127.0.0.1"):
        UsageClient(make_env(tmp_path, CLAUDE_TRAY_API_URL=fake_api.url)).fetch(CREDS)
    assert len(fake_api.requests) == 1


def test_an_answer_cut_short_on_a_kept_connection_is_not_retried(fake_api, tmp_path):
    """Bytes of an answer came back: the request reached the server, so it is not sent again."""
    client = UsageClient(make_env(tmp_path, CLAUDE_TRAY_API_URL=fake_api.url))
    fake_api.queue(Response(200, usage_fixture("seed-2025-11")), Response(200, usage_fixture("overage"), truncate=True))
    client.fetch(CREDS)
    with pytest.raises(Transient, match="broke off mid-answer"):
        client.fetch(CREDS)
    assert len(fake_api.requests) == 2
    client.fetch(CREDS)  # and the next poll opens a new connection
    assert len({r.peer for r in fake_api.requests}) == 2


@pytest.mark.parametrize("response", [Response(401), Response(503), Response(200, b"<html>")])
def test_after_an_error_answer_the_next_poll_works(fake_api, tmp_path, response):
    client = UsageClient(make_env(tmp_path, CLAUDE_TRAY_API_URL=fake_api.url))
    fake_api.queue(response)
    with pytest.raises(MonitorError):
        client.fetch(CREDS)
    assert isinstance(client.fetch(CREDS), Reading)


def test_a_gzip_answer_on_a_kept_connection_leaves_it_usable(fake_api, tmp_path):
    client = UsageClient(make_env(tmp_path, CLAUDE_TRAY_API_URL=fake_api.url))
    fake_api.queue(Response(200, gzip.compress(usage_fixture("seed-2025-11")), {"Content-Encoding": "gzip"}))
    assert client.fetch(CREDS).window("five_hour").percent == 78.0
    assert client.fetch(CREDS).window("five_hour").percent == 48.0
    assert len({r.peer for r in fake_api.requests}) == 1


def test_a_gzip_bomb_is_an_oversized_body(fake_api, tmp_path):
    bomb = gzip.compress(b"[" + b" " * (3 * 1024 * 1024) + b"]")  # 3 KB that unpack to 3 MB
    fake_api.respond(200, bomb, {"Content-Encoding": "gzip"})
    with pytest.raises(MonitorError, match="oversized"):
        UsageClient(make_env(tmp_path, CLAUDE_TRAY_API_URL=fake_api.url)).fetch(CREDS)


# -- the deadline ----------------------------------------------------------------------------------


def assert_cut_at_the_deadline(client: UsageClient, started: float, seconds: float = 1.0) -> None:
    with pytest.raises(Transient, match=f"did not finish answering within {seconds:g} s") as caught:
        client.fetch(CREDS)
    elapsed = time.monotonic() - started
    assert seconds <= elapsed < seconds + 1.0, elapsed
    assert caught.value.__context__ is None


def test_a_proxy_trickling_its_answer_to_connect_is_cut_at_the_deadline(tmp_path, anthropic_api, bundle, monkeypatch):
    with ConnectProxy(("127.0.0.1", anthropic_api.port), trickle=0.1) as proxy:
        monkeypatch.setenv("https_proxy", proxy.url)
        client = anthropic_client(tmp_path, bundle, LoopbackOnly(), deadline=1.0)
        assert_cut_at_the_deadline(client, time.monotonic())


def test_a_server_that_never_completes_the_tls_handshake_is_cut_at_the_deadline(tmp_path, bundle):
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts (the backlog), never speaks
        client = anthropic_client(tmp_path, bundle, LoopbackOnly(silent.getsockname()[1]), deadline=1.0)
        assert_cut_at_the_deadline(client, time.monotonic())


@pytest.mark.parametrize("body_only", [False, True], ids=["headers", "body"])
def test_a_trickle_over_a_tunnel_is_cut_at_the_deadline(tmp_path, authority, bundle, monkeypatch, body_only):
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("api.anthropic.com").configure_cert(context)
    with FakeApi(ssl_context=context) as api, ConnectProxy(("127.0.0.1", api.port)) as proxy:
        api.default = Response(200, usage_fixture("overage"), trickle=0.1, trickle_body_only=body_only)
        monkeypatch.setenv("https_proxy", proxy.url)
        client = anthropic_client(tmp_path, bundle, LoopbackOnly(), deadline=1.0)
        assert_cut_at_the_deadline(client, time.monotonic())


# -- any answer at all -----------------------------------------------------------------------------


class RawServer:
    """Answers each connection with `answer` (bytes, sent at once), then closes it."""

    def __init__(self):
        self.answer = b""
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True, name="raw-server").start()

    def _serve(self) -> None:
        while True:
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            with sock:
                try:
                    sock.settimeout(5)
                    request = b""
                    while b"\r\n\r\n" not in request:
                        data = sock.recv(4096)
                        if not data:
                            break
                        request += data
                    sock.sendall(self.answer)
                    sock.shutdown(socket.SHUT_WR)
                except OSError:
                    pass

    def close(self) -> None:
        self._listener.close()


@pytest.fixture(scope="module")
def raw_server():
    server = RawServer()
    yield server
    server.close()


_HEADER_NAMES = st.sampled_from(["Content-Length", "Transfer-Encoding", "Content-Encoding", "Retry-After",
                                 "Content-Type", "Connection", "X-Any"])
_HEADER_VALUES = st.one_of(
    st.sampled_from(["chunked", "gzip", "deflate", "gzip, deflate", "br", "identity", "close", "keep-alive",
                     "0", "5", "-1", "99999999999999999999", "120", "Wed, 21 Oct 2015 07:28:00 GMT"]),
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=30),
)
_BODIES = st.one_of(
    st.binary(max_size=300),
    st.sampled_from([usage_fixture("overage"), gzip.compress(usage_fixture("overage")), b"0\r\n\r\n",
                     b"5\r\nhello\r\n0\r\n\r\n", b"zz\r\n", json.dumps({"error": {"type": "rate_limit_error"}}).encode()]),
    st.builds(lambda payload: json.dumps(payload).encode(),
              st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=10),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner,
                                                                                        max_size=3),
                           max_leaves=10)),
)


@st.composite
def _answers(draw) -> bytes:
    status = draw(st.one_of(st.integers(100, 599), st.sampled_from([200, 401, 403, 429, 500])))
    status_line = draw(st.sampled_from([f"HTTP/1.1 {status} Any", f"HTTP/1.0 {status}", f"HTTP/1.1 {status}"]))
    headers = draw(st.lists(st.tuples(_HEADER_NAMES, _HEADER_VALUES), max_size=5))
    body = draw(_BODIES)
    head = status_line + "\r\n" + "".join(f"{name}: {value}\r\n" for name, value in headers) + "\r\n"
    return head.encode("latin-1") + body


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(answer=st.one_of(_answers(), st.binary(max_size=200)))
def test_any_answer_is_a_reading_or_one_typed_error_never_a_traceback(tmp_path, raw_server, answer):
    raw_server.answer = answer
    client = UsageClient(make_env(tmp_path, CLAUDE_TRAY_API_URL=raw_server.url), timeout=(2.0, 2.0), deadline=3.0)
    try:
        reading = client.fetch(CREDS)
    except MonitorError as error:
        assert error.__context__ is None and error.__cause__ is None
        assert TOKEN not in repr(error) and "\n" not in error.message
        assert "did not" not in error.message  # every answer ends at once: no timeout, no deadline
    else:
        assert isinstance(reading, Reading)


# -- what a poll does not do (issue 12's poll CPU) -------------------------------------------------


def test_a_fetch_starts_no_thread(tmp_path, anthropic_api, bundle, monkeypatch):
    """The deadline needs no timer thread: a fetch over TLS, a cut-off one included, starts none."""
    started = []
    original, here = threading.Thread.start, threading.current_thread()

    def start(thread):  # the servers start threads of their own: only this thread's count
        if threading.current_thread() is here:
            started.append(thread.name)
        original(thread)

    monkeypatch.setattr(threading.Thread, "start", start)
    client = anthropic_client(tmp_path, bundle, LoopbackOnly(anthropic_api.port), deadline=1.0)
    anthropic_api.queue(Response(200, usage_fixture("overage")),
                        Response(200, usage_fixture("overage"), trickle=0.1, trickle_body_only=True))
    client.fetch(CREDS)
    with pytest.raises(Transient, match="did not finish answering within 1 s"):
        client.fetch(CREDS)
    assert started == []


def test_the_tls_context_and_its_ca_bundle_are_loaded_once_per_client(tmp_path, anthropic_api, bundle, monkeypatch):
    """Loading certifi's bundle costs about 17 ms of CPU: once, not at every poll or connection."""
    created = []
    original = ssl.create_default_context
    monkeypatch.setattr(ssl, "create_default_context", lambda *a, **k: created.append(k) or original(*a, **k))
    anthropic_api.default = Response(200, usage_fixture("overage"), {"Connection": "close"})  # a new one each time
    client = anthropic_client(tmp_path, bundle, LoopbackOnly(anthropic_api.port))
    for _ in range(3):
        client.fetch(CREDS)
    assert created == [{"cafile": str(bundle)}]
    assert len({r.peer for r in anthropic_api.requests}) == 3
