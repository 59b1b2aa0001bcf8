"""One HTTP/1.1 connection to the usage endpoint, on http.client and ssl (shell).

What requests did for the client, in the few parts it used (a poll costs a third of the CPU):
- the route, decided once per client: direct, or through the HTTP proxy that urllib.request's
  getproxies()/proxy_bypass() name for the URL (https_proxy, all_proxy, no_proxy; on macOS and
  Windows the system settings), via a CONNECT tunnel, with Basic credentials from the proxy URL.
  A loopback URL never goes through a proxy;
- the connection is kept between polls and reused while the server keeps it open. A kept
  connection the server closed meanwhile is found closed before it is used (a read-ready socket),
  or, when the close crosses the request, the request goes once more on a new connection, only if
  not one byte of an answer came back (GET is idempotent);
- every socket operation is bounded by the request's Deadline (deadline.py);
- the body: read up to a limit, Content-Length checked, gzip/deflate decoded (the Accept-Encoding
  requests sent).
Errors are the standard library's (OSError and its TimeoutError, ssl.SSLError, http.client's
HTTPException, zlib.error) plus the few below; client.py turns them into sentences.
"""
from __future__ import annotations

import base64
import http.client
import io
import select
import socket
import ssl
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from tray_monitor.deadline import Deadline, DeadlineReader

ACCEPT_ENCODING = "gzip, deflate"  # what requests sent (without brotli or zstandard installed)
MAX_HEAD = 65536  # bytes of a proxy's CONNECT answer
DEFAULT_PORTS = {"http": 80, "https": 443}


class ProxyRefused(ConnectionError):
    """The proxy answered CONNECT with something other than 200 (407: credentials wanted)."""


class UnsupportedProxy(ValueError):
    """The proxy named for the URL is not an http:// one (socks5://, https://): its message names
    the scheme and host only, never credentials."""


class BodyTooLarge(Exception):
    pass


class BodyCutShort(ConnectionError):
    """Fewer bytes than Content-Length before the server closed the connection."""


@dataclass(frozen=True)
class Route:
    scheme: str  # "http" or "https"
    host: str
    port: int
    proxy: tuple[str, int] | None = None  # (host, port) of an http:// proxy, reached by CONNECT
    proxy_authorization: str | None = None  # "Basic ..." from the proxy URL's user:password

    @property
    def authority(self) -> str:
        """host[:port] as the Host header names it ([::1] bracketed; no default port)."""
        return self._bracketed if DEFAULT_PORTS.get(self.scheme) == self.port else self.tunnel_target

    @property
    def tunnel_target(self) -> str:
        """host:port as CONNECT names it."""
        return f"{self._bracketed}:{self.port}"

    @property
    def _bracketed(self) -> str:
        return f"[{self.host}]" if ":" in self.host else self.host


def route_for(url: str, loopback: bool) -> Route:
    """Direct, or through the proxy the system names for `url`. Raises UnsupportedProxy."""
    import urllib.request

    parts = urlsplit(url)
    host = parts.hostname or ""
    route = Route(parts.scheme, host, parts.port or DEFAULT_PORTS[parts.scheme])
    if loopback:
        return route
    proxies = urllib.request.getproxies()
    proxy = proxies.get(parts.scheme) or proxies.get("all")
    if not proxy:
        return route
    try:
        bypass = urllib.request.proxy_bypass(host)
    except (TypeError, OSError):  # requests' own guard (a failing DNS lookup on macOS)
        bypass = False
    if bypass:
        return route
    if "://" not in proxy:
        proxy = "http://" + proxy  # "proxy:3128": requests took it as http
    try:
        proxy_parts = urlsplit(proxy)
        proxy_host, proxy_port = proxy_parts.hostname, proxy_parts.port
    except ValueError:
        proxy_host, proxy_port = None, None
    scheme = proxy_parts.scheme.lower() if proxy_host else ""
    if scheme != "http" or not proxy_host:
        shown = f"{scheme}://{proxy_host}" if proxy_host else "an address that cannot be read"
        raise UnsupportedProxy(f"The proxy set for {parts.scheme} is {shown}: claude-tray connects through "
                               "http:// proxies only.")
    authorization = None
    if proxy_parts.username is not None:
        pair = f"{unquote(proxy_parts.username)}:{unquote(proxy_parts.password or '')}"
        authorization = "Basic " + base64.b64encode(pair.encode("latin-1", "replace")).decode("ascii")
    return Route(route.scheme, route.host, route.port, (proxy_host, proxy_port or 80), authorization)


class _Source:
    """What http.client.HTTPResponse reads from: our deadline-bound file instead of the socket's."""

    def __init__(self, reader: DeadlineReader):
        self._file: io.BufferedIOBase = io.BufferedReader(reader)

    def makefile(self, mode: str) -> io.BufferedIOBase:
        return self._file


Connect = Callable[[tuple[str, int], float], socket.socket]


def _connect(address: tuple[str, int], timeout: float) -> socket.socket:
    return socket.create_connection(address, timeout)


class Connection:
    """The one connection of a UsageClient: opened when needed, kept between polls."""

    def __init__(self, route: Route, timeouts: tuple[float, float], connect: Connect | None = None):
        self.route = route
        self._connect_timeout, self._read_timeout = timeouts
        self._connect = connect or _connect
        self._lock = threading.Lock()  # fetches from two threads each take their own socket
        self._idle: socket.socket | None = None

    def request(self, head: bytes, deadline: Deadline, tls: ssl.SSLContext | None) -> Answer:
        """Send `head` (request line and headers of a GET) and read the answer's status line and
        headers. Raises OSError (TimeoutError, ssl.SSLError, ConnectionError) or HTTPException."""
        sock = self._take_idle()
        if sock is not None:
            answer = self._send(sock, head, deadline, retry_if_closed=True)
            if answer is not None:
                return answer
        sock = self._open(deadline, tls)
        answer = self._send(sock, head, deadline, retry_if_closed=False)
        assert answer is not None
        return answer

    def _send(self, sock: socket.socket, head: bytes, deadline: Deadline, retry_if_closed: bool) -> Answer | None:
        reader = DeadlineReader(sock, deadline, self._read_timeout)
        try:
            sock.settimeout(deadline.timeout(self._read_timeout))
            sock.sendall(head)
            response = http.client.HTTPResponse(_Source(reader), method="GET")  # type: ignore[arg-type]
            response.begin()
        except TimeoutError:
            sock.close()
            raise
        except (OSError, http.client.HTTPException):
            sock.close()
            if retry_if_closed and reader.received == 0:
                return None  # closed while our request crossed it: once more, on a new connection
            raise
        return Answer(self, sock, response)

    def _take_idle(self) -> socket.socket | None:
        with self._lock:
            sock, self._idle = self._idle, None
        if sock is None:
            return None
        try:
            # Readable while idle: the server closed it (or sent what nobody asked for).
            closed = bool(select.select([sock], [], [], 0)[0]) \
                or (isinstance(sock, ssl.SSLSocket) and sock.pending() > 0)
        except (OSError, ValueError):
            closed = True
        if closed:
            sock.close()
            return None
        return sock

    def keep(self, sock: socket.socket) -> None:
        with self._lock:
            other, self._idle = self._idle, sock  # a second thread's socket, if any, is closed
        if other is not None:
            other.close()

    def _open(self, deadline: Deadline, tls: ssl.SSLContext | None) -> socket.socket:
        route = self.route
        sock = self._connect(route.proxy or (route.host, route.port), deadline.timeout(self._connect_timeout))
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as urllib3 did
            if route.proxy is not None:
                self._tunnel(sock, deadline)
            if tls is not None:
                # The whole handshake is bounded by the socket's timeout (CPython's do_handshake).
                sock.settimeout(deadline.timeout(self._connect_timeout))
                sock = tls.wrap_socket(sock, server_hostname=route.host)
        except BaseException:
            sock.close()
            raise
        return sock

    def _tunnel(self, sock: socket.socket, deadline: Deadline) -> None:
        route = self.route
        target = route.tunnel_target
        lines = [f"CONNECT {target} HTTP/1.1", f"Host: {target}"]
        if route.proxy_authorization:
            lines.append(f"Proxy-Authorization: {route.proxy_authorization}")
        sock.settimeout(deadline.timeout(self._read_timeout))
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        # Read exactly the proxy's answer: the TLS handshake's bytes follow it on the same socket.
        reader = DeadlineReader(sock, deadline, self._read_timeout)
        answer = bytearray()
        chunk = bytearray(4096)
        while b"\r\n\r\n" not in answer:
            if len(answer) > MAX_HEAD:
                raise ProxyRefused("the proxy's answer to CONNECT is too long")
            count = reader.readinto(chunk)
            if not count:
                raise ProxyRefused("the proxy closed the connection")
            answer += chunk[:count]
        head, _, extra = bytes(answer).partition(b"\r\n\r\n")
        status = head.split(b"\r\n", 1)[0].split(None, 2)
        if extra or len(status) < 2 or not status[0].startswith(b"HTTP/") or status[1] != b"200":
            raise ProxyRefused("the proxy did not open a tunnel")


class Answer:
    """An answer whose status line and headers are read; its body is read once, or not at all."""

    def __init__(self, connection: Connection, sock: socket.socket, response: http.client.HTTPResponse):
        self._connection = connection
        self._sock = sock
        self._response = response
        self.status = response.status
        self.headers = response.msg
        self._complete = False

    def read_body(self, limit: int) -> bytes:
        """The decoded body, at most `limit` bytes (BodyTooLarge beyond). Raises BodyCutShort,
        zlib.error (cannot be decoded), OSError or HTTPException."""
        response = self._response
        declared = response.length
        if declared is not None and declared > limit:
            raise BodyTooLarge
        chunks: list[bytes] = []
        size = 0
        while chunk := response.read(65536):
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge
            chunks.append(chunk)
        if response.length:  # http.client stops at the connection's end without a word
            raise BodyCutShort
        body = b"".join(chunks)
        encodings = [e.strip() for e in (self.headers.get("Content-Encoding") or "").lower().split(",")]
        for encoding in reversed(encodings):
            if encoding in ("gzip", "x-gzip", "deflate"):
                body = _decompress(body, encoding, limit)
        self._complete = True
        return body

    def close(self) -> None:
        """Keep the connection for the next poll when the answer was read to its end and the server
        keeps it open; otherwise close it."""
        if self._complete and not self._response.will_close:
            self._connection.keep(self._sock)
        else:
            self._sock.close()
        self._response.close()

    def __enter__(self) -> Answer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _decompress(data: bytes, encoding: str, limit: int) -> bytes:
    """gzip (every member) or deflate (zlib-wrapped, or raw as some servers send it), at most
    `limit` bytes out (a small body cannot unpack into gigabytes). Raises zlib.error."""
    if encoding == "deflate":
        try:
            return _inflate(data, zlib.MAX_WBITS, limit)
        except zlib.error:
            return _inflate(data, -zlib.MAX_WBITS, limit)
    out = b""
    first = True
    while data:
        decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            out += decompressor.decompress(data, limit + 1 - len(out))
        except zlib.error:
            if first:
                raise
            break  # bytes after the last gzip member: ignored, as urllib3 did
        if len(out) > limit or decompressor.unconsumed_tail:
            raise BodyTooLarge
        data, first = (decompressor.unused_data if decompressor.eof else b""), False
    return out


def _inflate(data: bytes, wbits: int, limit: int) -> bytes:
    decompressor = zlib.decompressobj(wbits)
    out = decompressor.decompress(data, limit + 1)
    if len(out) > limit or decompressor.unconsumed_tail:
        raise BodyTooLarge
    return out
