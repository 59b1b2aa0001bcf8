"""One overall deadline for an HTTP request made with `requests` (shell): connect, headers and body.

requests' timeouts apply to each socket operation, so a server that trickles one byte at a time
restarts them forever. Here every socket a request opens (and the one a reused connection reads
from) is watched; when the deadline passes, a timer thread shuts it down (`shutdown(SHUT_RDWR)`),
which makes the blocked read return at once in the requesting thread, for plain and TLS sockets
alike. The caller then sees `deadline.expired` and reports a transient failure.

    session.mount("https://", DeadlineAdapter())
    with RequestDeadline(30.0) as deadline:
        response = session.get(...); body = response.content
    if deadline.expired: ...

DNS resolution is outside any socket and stays bounded by the system resolver only.
"""
from __future__ import annotations

import socket
import threading
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

_current = threading.local()  # the RequestDeadline of the request running on this thread


class RequestDeadline:
    def __init__(self, seconds: float):
        self.seconds = seconds
        self.expired = False
        self._lock = threading.Lock()
        self._watched: list[socket.socket] = []  # our own duplicates of the request's sockets
        self._timer: threading.Timer | None = None

    def __enter__(self) -> RequestDeadline:
        _current.deadline = self
        self._timer = threading.Timer(self.seconds, self._expire)
        self._timer.name = "request-deadline"
        self._timer.daemon = True
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._timer is not None:
            self._timer.cancel()
        _current.deadline = None
        with self._lock:
            watched, self._watched = self._watched, []
            for duplicate in watched:
                duplicate.close()

    def watch(self, sock: socket.socket) -> None:
        """Shut `sock` down when the deadline passes (at once if it has passed already).

        A duplicate of its descriptor is kept, not the socket itself: TLS sockets cannot be
        dup()ed but their descriptor can, shutdown acts on the connection behind every
        descriptor, and closing our duplicate afterwards never closes the request's socket."""
        try:
            duplicate = socket.fromfd(sock.fileno(), sock.family, sock.type)
        except (OSError, ValueError):
            return  # already closed: nothing to interrupt
        with self._lock:
            if not self.expired:
                self._watched.append(duplicate)
                return
            _shut(duplicate)
        duplicate.close()

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for duplicate in self._watched:
                _shut(duplicate)


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # the peer closed it meanwhile


def _watch(connection: Any, sock: socket.socket | None) -> None:
    deadline = getattr(_current, "deadline", None)
    if deadline is None or sock is None or getattr(connection, "_watched_by", None) is deadline:
        return
    connection._watched_by = deadline
    deadline.watch(sock)


class _Watched:
    """Mixed into urllib3's connection classes."""

    sock: socket.socket | None

    def _new_conn(self) -> socket.socket:
        # The raw socket, before any TLS handshake: a trickled handshake is covered too.
        sock = super()._new_conn()  # type: ignore[misc]
        _watch(self, sock)
        return sock

    def getresponse(self, *args: Any, **kwargs: Any) -> Any:
        _watch(self, self.sock)  # a kept-alive connection opened by an earlier request
        return super().getresponse(*args, **kwargs)  # type: ignore[misc]


class _WatchedHTTPConnection(_Watched, HTTPConnection):
    pass


class _WatchedHTTPSConnection(_Watched, HTTPSConnection):
    pass


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


_POOLS = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}


class DeadlineAdapter(HTTPAdapter):
    """requests' adapter whose connections (direct or through an HTTP(S) proxy) are watched by
    the RequestDeadline active on the calling thread. SOCKS proxies keep their own connections."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **kwargs)
        if not proxy.lower().startswith("socks"):
            manager.pool_classes_by_scheme = _POOLS
        return manager
