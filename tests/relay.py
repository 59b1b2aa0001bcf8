"""Socket plumbing of the tests' loopback relays (tests/connect_proxy.py's CONNECT proxy and
tests/test_faults.py's Gate): copy bytes one way until a side ends, and cut a socket for good."""
from __future__ import annotations

import socket


def shut(sock: socket.socket) -> None:
    """Shut both directions (wakes a thread blocked in recv() or accept() on Linux, where close()
    alone does not); a socket already gone is fine."""
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def cut(sock: socket.socket) -> None:
    shut(sock)
    sock.close()


def pipe(source: socket.socket, sink: socket.socket) -> None:
    """Copy source to sink until either ends, then shut both (the other direction's pipe ends too)."""
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        shut(source)
        shut(sink)
