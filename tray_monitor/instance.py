"""One tray per user, and the local control channel (`claude-tray refresh | quit`).

Everything lives in `env.runtime_dir` (mode 0700; on Linux $XDG_RUNTIME_DIR/claude-tray):
- `claude-tray.lock`: held with `fcntl.flock` (POSIX) or `msvcrt.locking` (Windows) for the tray's
  lifetime; the OS drops the lock when the process dies, so a crash never leaves a false "running".
- Linux/macOS: a Unix domain socket `claude-tray.sock` (mode 0600) that only this user can reach.
- Windows (or a runtime path too long for a socket address): a TCP socket bound to 127.0.0.1 only,
  on a random port, written with a random token to `claude-tray.port` (0600); a command must carry
  the token, so another local user who finds the port cannot drive the tray.
No port is ever open to the network.

Protocol: one line in ("refresh", or "<token> refresh" over TCP), one line out, then close.
"""
from __future__ import annotations

import errno
import hmac
import json
import logging
import os
import secrets
import select
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from tray_monitor import runtime
from tray_monitor.errors import MonitorError

fcntl: ModuleType | None
msvcrt: ModuleType | None
try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None
try:  # Windows
    import msvcrt
except ImportError:
    msvcrt = None

log = logging.getLogger("tray_monitor.instance")

LOCK_NAME = "claude-tray.lock"
SOCKET_NAME = runtime.SOCKET_NAME
PORT_FILE_NAME = runtime.PORT_FILE_NAME
THREAD_NAME = "claude-tray-control"
MAX_UNIX_PATH = runtime.MAX_UNIX_PATH
MAX_LINE = 1024  # a command
MAX_REPLY = 64 * 1024  # an answer (`view` returns the whole tray view as JSON)


class InstanceNotRunning(MonitorError):
    def __init__(self, message: str = "claude-tray is not running; start it with `claude-tray`."):
        super().__init__(message)


class InstanceNotResponding(MonitorError):
    """The tray holds the lock but did not answer in time."""


class ControlError(MonitorError):
    """The running tray answered, but with an error (an unknown command, a failing handler)."""


class InstanceSetupFailed(MonitorError):
    """The runtime directory, lock file or control socket cannot be created."""


def _setup_failed(what: str, path: Path, exc: OSError) -> InstanceSetupFailed:
    return InstanceSetupFailed(f"claude-tray cannot create its {what} {path} ({exc.strerror or exc}); "
                               f"check that {path.parent} exists and belongs to you.")


def runtime_dir(env) -> Path:
    """The runtime directory, created 0700 (it is ours alone: tighten it if it was looser)."""
    path = Path(env.runtime_dir)
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        if env.platform != "win32" and (path.stat().st_mode & 0o777) != 0o700:
            os.chmod(path, 0o700)
    except OSError as exc:
        raise _setup_failed("runtime directory", path, exc) from None
    return path


def socket_path(env) -> Path:
    return Path(env.runtime_dir) / SOCKET_NAME


def port_file(env) -> Path:
    return Path(env.runtime_dir) / PORT_FILE_NAME


def transport_for(env) -> str:
    """"unix" or "tcp"; server and client decide alike, from the same environment."""
    if env.platform == "win32" or not hasattr(socket, "AF_UNIX"):
        return "tcp"
    if len(os.fsencode(str(socket_path(env)))) > MAX_UNIX_PATH:
        return "tcp"
    return "unix"


# The lock ----------------------------------------------------------------------------------------

class InstanceLock:
    def __init__(self, env):
        self._env = env
        self._fd: int | None = None

    @property
    def path(self) -> Path:
        return Path(self._env.runtime_dir) / LOCK_NAME

    def acquire(self) -> bool:
        """True when this process now holds the lock; False when another claude-tray holds it."""
        if self._fd is not None:
            return True
        runtime_dir(self._env)
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise _setup_failed("lock file", self.path, exc) from None
        try:
            _lock_fd(fd)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK, errno.EDEADLK):
                return False
            raise
        # The pid is for people reading the directory; the lock itself is what counts.
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            _unlock_fd(fd)
        finally:
            os.close(fd)

    def __enter__(self) -> InstanceLock:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def _lock_fd(fd: int) -> None:
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    elif msvcrt is not None:  # pragma: no cover - Windows
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
    else:  # pragma: no cover
        raise OSError(errno.ENOSYS, "no file locking on this platform")


def _unlock_fd(fd: int) -> None:
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_UN)
    elif msvcrt is not None:  # pragma: no cover - Windows
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)


# The server --------------------------------------------------------------------------------------

class ControlServer:
    """Answers commands from `send_command` on its own thread; start it after taking the lock.

    `handlers` maps a command to a function returning one sentence for the user; they run on the
    control thread, so they must return quickly (e.g. `poller.request_refresh`, `tray.stop`).
    `stop()` waits for a reply being sent to finish, so call it before the process exits.
    """

    def __init__(self, env, handlers: dict[str, Callable[[], str]], transport: str | None = None,
                 arg_handlers: dict[str, Callable[[str], str]] | None = None):
        self._env = env
        self._handlers = dict(handlers)
        # Commands that carry one argument after a space ("statusline {json}").
        self._arg_handlers = dict(arg_handlers or {})
        self._handlers.setdefault("ping", lambda: "pong")
        self._transport = transport or transport_for(env)
        self._listener: socket.socket | None = None
        self._wake_r: socket.socket | None = None
        self._wake_w: socket.socket | None = None
        self._token: str | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    @property
    def transport(self) -> str:
        return self._transport

    def start(self) -> None:
        runtime_dir(self._env)
        try:
            if self._transport == "unix":
                self._listener = self._bind_unix()
            else:
                self._listener = self._bind_tcp()
            self._listener.listen(4)
        except OSError as exc:
            if self._listener is not None:
                self._listener.close()
                self._listener = None
            where = socket_path(self._env) if self._transport == "unix" else port_file(self._env)
            raise _setup_failed("control socket", where, exc) from None
        self._wake_r, self._wake_w = socket.socketpair()
        self._thread = threading.Thread(target=self._serve, name=THREAD_NAME, daemon=True)
        self._thread.start()

    def _bind_unix(self) -> socket.socket:
        path = socket_path(self._env)
        # We hold the instance lock, so a socket file left here is from a tray that died.
        if path.exists() or path.is_symlink():
            log.info("removing a stale control socket %s", path)
            path.unlink()
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            listener.bind(str(path))
            os.chmod(path, 0o600)
        except OSError:
            listener.close()
            raise
        return listener

    def _bind_tcp(self) -> socket.socket:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            listener.bind(("127.0.0.1", 0))  # loopback only, any free port
            self._token = secrets.token_hex(16)
            port = listener.getsockname()[1]
            _write_private(port_file(self._env), json.dumps({"port": port, "token": self._token,
                                                             "pid": os.getpid()}))
        except OSError:
            listener.close()
            raise
        return listener

    def stop(self, timeout: float = 2.0) -> None:
        if self._thread is None:
            return  # never started: the socket file there (if any) is another tray's
        self._stopping.set()
        if self._wake_w is not None:
            try:
                self._wake_w.send(b"x")
            except OSError:
                pass
        if self._thread is not threading.current_thread():
            self._thread.join(timeout)
        self._thread = None
        for sock in (self._listener, self._wake_r, self._wake_w):
            if sock is not None:
                sock.close()
        self._listener = self._wake_r = self._wake_w = None
        leftover = socket_path(self._env) if self._transport == "unix" else port_file(self._env)
        try:
            leftover.unlink()
        except FileNotFoundError:
            pass

    def _serve(self) -> None:
        listener, wake_r = self._listener, self._wake_r
        assert listener is not None and wake_r is not None  # start() made both before this thread
        while not self._stopping.is_set():
            try:
                readable, _, _ = select.select([listener, wake_r], [], [])
                if self._stopping.is_set() or listener not in readable:
                    continue
                conn, _ = listener.accept()
            except (OSError, ValueError):  # ValueError: closed by stop() after its join timed out
                if self._stopping.is_set():
                    return
                log.exception("the control socket failed; carrying on")
                continue
            with conn:
                try:
                    self._answer(conn)
                except Exception:
                    # A client that hangs up or sends garbage must not end the control thread.
                    log.exception("a control command could not be answered")

    def _answer(self, conn: socket.socket) -> None:
        conn.settimeout(2.0)
        line = _read_line(conn)
        conn.sendall((self._dispatch(line).replace("\n", " ") + "\n").encode("utf-8"))

    def _dispatch(self, line: str) -> str:
        command = line.strip()
        if self._transport == "tcp":
            token, _, command = command.partition(" ")
            if self._token is None or not hmac.compare_digest(token.encode(), self._token.encode()):
                return "error: not authorised"
        handler = self._handlers.get(command)
        if handler is None:
            name, _, argument = command.partition(" ")
            with_argument = self._arg_handlers.get(name)
            if with_argument is not None:
                handler = lambda: with_argument(argument)  # noqa: E731
                command = name
        if handler is None:
            known = ", ".join(sorted([*self._handlers, *self._arg_handlers]))
            return f"error: unknown command {command[:40]!r}; known: {known}"
        try:
            return str(handler())
        except Exception as exc:
            log.exception("the %r command failed", command)
            return f"error: {command} failed: {exc}"


def _read_line(conn: socket.socket, limit: int = MAX_LINE) -> str:
    data = b""
    while b"\n" not in data and len(data) < limit:
        chunk = conn.recv(limit)
        if not chunk:
            break
        data += chunk
    return data.split(b"\n", 1)[0].decode("utf-8", errors="replace")


def _write_private(path: Path, text: str) -> None:
    """Atomic and readable by the user alone (temporary file, then os.replace)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


# The client --------------------------------------------------------------------------------------

def send_command(env, command: str, timeout: float = 2.0) -> str:
    """Send one command to the running tray and return its one-line answer.

    Raises InstanceNotRunning (no tray), InstanceNotResponding (no answer in time) or ControlError.
    """
    if transport_for(env) == "unix":
        path = socket_path(env)
        if not path.exists():
            raise InstanceNotRunning()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        address: str | tuple[str, int] = str(path)
        line = command
    else:
        try:
            info = json.loads(port_file(env).read_text(encoding="utf-8"))
            address = ("127.0.0.1", int(info["port"]))
            line = f"{info['token']} {command}"
        except (OSError, ValueError, KeyError, TypeError):
            raise InstanceNotRunning() from None
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    with sock:
        sock.settimeout(timeout)
        try:
            sock.connect(address)
        except (ConnectionRefusedError, FileNotFoundError):
            # A socket file or port file left by a tray that died: nobody listens.
            raise InstanceNotRunning() from None
        try:
            sock.sendall((line + "\n").encode("utf-8"))
            reply = _read_line(sock, MAX_REPLY)
        except TimeoutError:
            raise InstanceNotResponding(
                f"claude-tray is running but did not answer within {timeout:g} s; "
                "if it hangs, end it and start `claude-tray` again."
            ) from None
        except OSError as exc:
            raise InstanceNotResponding(
                f"The connection to claude-tray broke ({exc.strerror or exc}); try again."
            ) from None
    if not reply:
        raise InstanceNotResponding("claude-tray closed the connection without answering; try again.")
    if reply.startswith("error:"):
        raise ControlError(f"claude-tray answered: {reply[len('error:'):].strip()}")
    return reply
