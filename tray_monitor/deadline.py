"""One overall deadline for an HTTP request (shell): connect, TLS handshake, headers and body.

A socket's timeout applies to each operation, so a server that trickles one byte at a time restarts
it forever. Here every operation of a request is given the smaller of its own timeout and the time
left until the request's deadline: connecting, the TLS handshake (CPython bounds a whole handshake
by the socket's timeout), and each read of the status line, headers and body (`DeadlineReader`, the
raw file http.client reads the answer from). No thread: when the deadline passes, the read that is
waiting times out, and `deadline.passed()` tells the caller why.

    deadline = Deadline(30.0)
    sock = socket.create_connection(address, timeout=deadline.timeout(5.0))
    answer = io.BufferedReader(DeadlineReader(sock, deadline, 20.0))
    ...
    if deadline.passed(): ...

DNS resolution is outside any socket and stays bounded by the system resolver only.
"""
from __future__ import annotations

import io
import socket
import time


class Deadline:
    def __init__(self, seconds: float):
        self.seconds = seconds
        self._ends_at = time.monotonic() + seconds

    def timeout(self, operation: float) -> float:
        """The timeout for the next socket operation: `operation`, or less when the deadline is
        nearer; TimeoutError at once when it has passed."""
        left = self._ends_at - time.monotonic()
        if left <= 0:
            raise TimeoutError("the request's deadline passed")
        return min(operation, left)

    def passed(self) -> bool:
        return time.monotonic() >= self._ends_at


class DeadlineReader(io.RawIOBase):
    """A socket's receiving side as a raw file, each read bounded by the deadline. Closing it
    leaves the socket open (the connection may be kept alive). `received` counts the bytes read:
    a kept-alive connection that gave none may be retried on a new one."""

    def __init__(self, sock: socket.socket, deadline: Deadline, read_timeout: float):
        super().__init__()
        self._sock = sock
        self._deadline = deadline
        self._read_timeout = read_timeout
        self.received = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # a writable buffer (memoryview, bytearray)
        self._sock.settimeout(self._deadline.timeout(self._read_timeout))
        count = self._sock.recv_into(buffer)
        self.received += count
        return count
