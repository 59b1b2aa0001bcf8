"""A small threaded HTTP CONNECT proxy on 127.0.0.1, for the client's proxy tests.

    with ConnectProxy(upstream=("127.0.0.1", api.port), credentials="user:secret") as proxy:
        ...https_proxy=proxy.url...
        assert proxy.connects == [("api.anthropic.com:443", "Basic ...")]

Every CONNECT is tunnelled to `upstream`, whatever host it names: the proxy stands in for a proxy
and its DNS at once, so a client aimed at https://api.anthropic.com reaches a loopback server (with
a certificate for that name) and nothing leaves this computer. With `credentials` ("user:password")
a CONNECT without exactly those is answered 407. `trickle`: seconds between single bytes of the
"200" answer (a proxy too slow for the request's deadline). Anything but CONNECT is answered 405.
"""
from __future__ import annotations

import base64
import socket
import threading

from tests.relay import cut, pipe


class ConnectProxy:
    def __init__(self, upstream: tuple[str, int], credentials: str | None = None, trickle: float = 0.0):
        self.upstream = upstream
        self.credentials = credentials
        self.trickle = trickle
        self.connects: list[tuple[str, str | None]] = []  # (target, Proxy-Authorization or None)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._stopping = threading.Event()
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    def url_with(self, userinfo: str) -> str:
        return f"http://{userinfo}@127.0.0.1:{self.port}"

    def __enter__(self) -> ConnectProxy:
        threading.Thread(target=self._accept, name="connect-proxy", daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._stopping.set()
        for sock in [self._listener, *self._sockets]:
            cut(sock)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self._sockets.append(client)
            threading.Thread(target=self._serve, args=(client,), name="connect-proxy-client", daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            data = client.recv(4096)
            if not data:
                client.close()
                return
            head += data
        lines = head.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:])}
        if method != "CONNECT":
            client.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            client.close()
            return
        authorization = headers.get("proxy-authorization")
        self.connects.append((target, authorization))
        if self.credentials is not None and authorization != \
                "Basic " + base64.b64encode(self.credentials.encode("latin-1")).decode():
            client.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"t\"\r\n"
                           b"Content-Length: 0\r\nConnection: close\r\n\r\n")
            client.close()
            return
        upstream = socket.create_connection(self.upstream, timeout=5)
        upstream.settimeout(None)
        with self._lock:
            self._sockets.append(upstream)
        answer = b"HTTP/1.1 200 Connection established\r\n\r\n"
        if self.trickle:
            for index in range(len(answer)):
                if self._stopping.wait(self.trickle):
                    return
                try:
                    client.sendall(answer[index:index + 1])
                except OSError:
                    return
        else:
            client.sendall(answer)
        threading.Thread(target=pipe, args=(upstream, client), name="connect-proxy-pipe", daemon=True).start()
        pipe(client, upstream)
