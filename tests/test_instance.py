"""Single instance and the control channel, over real sockets in a temporary runtime directory."""
from __future__ import annotations

import json
import shutil
import socket
import stat
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tray_monitor.environment import Environment
from tray_monitor.instance import (
    ControlError,
    ControlServer,
    InstanceLock,
    InstanceNotResponding,
    InstanceNotRunning,
    port_file,
    send_command,
    socket_path,
    transport_for,
)

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes and AF_UNIX")


@pytest.fixture
def tmp_path():
    """A short temporary directory in place of pytest's: a Unix socket path holds at most
    MAX_UNIX_PATH bytes, and pytest's tmp_path grows with the test's name and, under pytest-xdist,
    the worker's (.../popen-gw1/...). A test here picks its transport (platform, runtime=) itself;
    it must not get TCP by accident because its own name is long."""
    path = Path(tempfile.mkdtemp(prefix="ct-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def make_env(tmp_path: Path, platform: str = sys.platform, runtime: Path | None = None) -> Environment:
    return Environment(environ={}, home=tmp_path, platform=platform, config_dir=tmp_path / "config",
                       data_dir=tmp_path / "data", log_dir=tmp_path / "log",
                       runtime_dir=runtime or tmp_path / "run" / "claude-tray")


@pytest.fixture(params=["unix", "tcp"])
def env(request, tmp_path):
    """Every control test runs over the Unix socket and over the loopback-TCP (Windows) transport."""
    return make_env(tmp_path, platform=sys.platform if request.param == "unix" else "win32")


@contextmanager
def serving(env: Environment, handlers: dict | None = None) -> Iterator[ControlServer]:
    """A started ControlServer, stopped at the end."""
    control = ControlServer(env, handlers or {})
    control.start()
    try:
        yield control
    finally:
        control.stop()


@pytest.fixture
def server(env):
    calls = []
    handlers = {"refresh": lambda: calls.append("refresh") or "Refreshing now.",
                "quit": lambda: calls.append("quit") or "Quitting."}
    with serving(env, handlers) as control:
        control.calls = calls
        yield control


# The lock ----------------------------------------------------------------------------------------

def test_a_second_holder_cannot_take_the_lock(tmp_path):
    env = make_env(tmp_path)
    first, second = InstanceLock(env), InstanceLock(env)
    assert first.acquire()
    assert first.acquire()  # asking again while holding it is fine
    assert not second.acquire()
    first.release()
    assert second.acquire()
    second.release()


def test_the_lock_is_released_by_the_context_manager(tmp_path):
    env = make_env(tmp_path)
    with InstanceLock(env) as lock:
        assert lock.acquire()
        assert not InstanceLock(env).acquire()
    assert InstanceLock(env).acquire()


def test_the_runtime_directory_is_private_and_the_lock_file_holds_the_pid(tmp_path):
    import os

    env = make_env(tmp_path)
    env.runtime_dir.mkdir(parents=True, mode=0o755)
    os.chmod(env.runtime_dir, 0o755)
    lock = InstanceLock(env)
    assert lock.acquire()
    assert stat.S_IMODE(env.runtime_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE(lock.path.stat().st_mode) == 0o600
    assert lock.path.read_text().strip() == str(os.getpid())
    lock.release()
    lock.release()  # twice is harmless


def test_a_lock_error_other_than_held_elsewhere_is_raised(tmp_path, monkeypatch):
    import errno

    from tray_monitor import instance

    def broken(fd):
        raise OSError(errno.ENOLCK, "no locks available")

    monkeypatch.setattr(instance, "_lock_fd", broken)
    with pytest.raises(OSError):
        InstanceLock(make_env(tmp_path)).acquire()


# The control channel -----------------------------------------------------------------------------

def test_refresh_quit_and_ping_round_trip(env, server):
    assert send_command(env, "ping") == "pong"
    assert send_command(env, "refresh") == "Refreshing now."
    assert send_command(env, "quit") == "Quitting."
    assert server.calls == ["refresh", "quit"]


def test_the_control_thread_is_named(server):
    assert "claude-tray-control" in [t.name for t in threading.enumerate()]


def test_an_unknown_command_is_a_clear_error(env, server):
    with pytest.raises(ControlError, match="unknown command 'dance'"):
        send_command(env, "dance")


def test_a_failing_handler_is_reported_and_the_server_keeps_serving(env):
    def broken():
        raise RuntimeError("poller gone")

    with serving(env, {"refresh": broken}):
        with pytest.raises(ControlError, match="refresh failed: poller gone"):
            send_command(env, "refresh")
        assert send_command(env, "ping") == "pong"


def test_a_client_that_hangs_up_without_a_command_does_not_stop_the_server(env, server):
    if server.transport == "unix":
        raw = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        raw.connect(str(socket_path(env)))
    else:
        raw = socket.create_connection(("127.0.0.1", json.loads(port_file(env).read_text())["port"]))
    raw.close()
    assert send_command(env, "ping") == "pong"


def test_no_instance_is_a_clear_sentence(env):
    with pytest.raises(InstanceNotRunning) as caught:
        send_command(env, "refresh")
    assert str(caught.value) == "claude-tray is not running; start it with `claude-tray`."


def test_stop_removes_the_socket_or_port_file(env, server):
    leftover = socket_path(env) if server.transport == "unix" else port_file(env)
    assert leftover.exists()
    server.stop()
    assert not leftover.exists()
    with pytest.raises(InstanceNotRunning):
        send_command(env, "ping")


def test_the_unix_socket_is_private(tmp_path):
    env = make_env(tmp_path)
    with serving(env) as control:
        assert control.transport == "unix"
        assert stat.S_IMODE(socket_path(env).stat().st_mode) == 0o600
        assert stat.S_IMODE(env.runtime_dir.stat().st_mode) == 0o700


def test_a_stale_socket_file_means_not_running_and_is_replaced_on_start(tmp_path):
    env = make_env(tmp_path)
    env.runtime_dir.mkdir(parents=True, mode=0o700)
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(str(socket_path(env)))  # a tray that died left its socket file behind
    dead.close()
    with pytest.raises(InstanceNotRunning):
        send_command(env, "ping")
    with serving(env):
        assert send_command(env, "ping") == "pong"


def test_a_stale_port_file_means_not_running(tmp_path):
    env = make_env(tmp_path, platform="win32")
    env.runtime_dir.mkdir(parents=True)
    with socket.socket() as probe:  # a port nobody listens on any more
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    port_file(env).write_text(json.dumps({"port": port, "token": "x"}))
    with pytest.raises(InstanceNotRunning):
        send_command(env, "ping")


@pytest.mark.parametrize("content", ["", "not json", "[]", '{"port": "x", "token": "t"}'])
def test_a_corrupt_port_file_means_not_running(tmp_path, content):
    env = make_env(tmp_path, platform="win32")
    env.runtime_dir.mkdir(parents=True)
    port_file(env).write_text(content)
    with pytest.raises(InstanceNotRunning):
        send_command(env, "ping")


def test_tcp_listens_on_loopback_only_and_needs_the_token(tmp_path):
    env = make_env(tmp_path, platform="win32")
    with serving(env) as control:
        info = json.loads(port_file(env).read_text())
        assert stat.S_IMODE(port_file(env).stat().st_mode) == 0o600
        assert control._listener.getsockname()[0] == "127.0.0.1"
        with socket.create_connection(("127.0.0.1", info["port"]), timeout=2) as raw:
            raw.sendall(b"wrong-token ping\n")
            assert raw.recv(100) == b"error: not authorised\n"


def test_a_tray_that_accepts_but_never_answers_is_reported(tmp_path):
    env = make_env(tmp_path)
    env.runtime_dir.mkdir(parents=True, mode=0o700)
    mute = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    mute.bind(str(socket_path(env)))
    mute.listen(1)  # the kernel accepts the connection; nobody ever replies
    try:
        with pytest.raises(InstanceNotResponding, match="did not answer within 0.2 s"):
            send_command(env, "ping", timeout=0.2)
    finally:
        mute.close()


def test_a_tray_that_closes_without_answering_is_reported(tmp_path):
    env = make_env(tmp_path)
    env.runtime_dir.mkdir(parents=True, mode=0o700)
    rude = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    rude.bind(str(socket_path(env)))
    rude.listen(1)
    rude.settimeout(10)  # a client that never connects fails the test instead of hanging it

    def hang_up():
        try:
            conn, _ = rude.accept()
        except TimeoutError:
            return
        conn.close()

    t = threading.Thread(target=hang_up)
    t.start()
    try:
        with pytest.raises(InstanceNotResponding):
            send_command(env, "ping")
    finally:
        t.join()
        rude.close()


def test_a_broken_connection_is_reported_as_not_responding(tmp_path, monkeypatch):
    env = make_env(tmp_path)
    control = ControlServer(env, {})
    control.start()
    real_sendall = socket.socket.sendall

    def reset(self, data):
        raise ConnectionResetError(104, "Connection reset by peer")

    monkeypatch.setattr(socket.socket, "sendall", reset)
    try:
        with pytest.raises(InstanceNotResponding, match="connection to claude-tray broke"):
            send_command(env, "ping")
    finally:
        monkeypatch.setattr(socket.socket, "sendall", real_sendall)
        control.stop()


def test_a_runtime_path_too_long_for_a_socket_uses_loopback_tcp(tmp_path):
    deep = tmp_path / ("x" * 120) / "claude-tray"
    env = make_env(tmp_path, runtime=deep)
    assert transport_for(env) == "tcp"
    with serving(env):
        assert send_command(env, "ping") == "pong"


def test_the_default_transport_here_is_the_unix_socket(tmp_path):
    assert transport_for(make_env(tmp_path)) == "unix"
    assert transport_for(make_env(tmp_path, platform="win32")) == "tcp"


def test_stopping_a_server_that_never_started_leaves_another_trays_socket_alone(env, server):
    ControlServer(env, {}).stop()
    assert send_command(env, "ping") == "pong"


def test_an_unwritable_runtime_directory_is_one_clear_sentence(tmp_path):
    import os

    from tray_monitor.instance import InstanceSetupFailed

    if os.geteuid() == 0:
        # root ignores directory permissions: a file where the directory should be fails for anyone
        (tmp_path / "run").write_text("not a directory")
        env = make_env(tmp_path, runtime=tmp_path / "run" / "claude-tray")
    else:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        env = make_env(tmp_path, runtime=locked / "claude-tray")
    with pytest.raises(InstanceSetupFailed, match="cannot create its runtime directory .* belongs to you"):
        InstanceLock(env).acquire()
    with pytest.raises(InstanceSetupFailed):
        ControlServer(env, {}).start()


def test_a_lock_file_that_cannot_be_opened_is_one_clear_sentence(tmp_path):
    from tray_monitor.instance import LOCK_NAME, InstanceSetupFailed

    env = make_env(tmp_path)
    (env.runtime_dir / LOCK_NAME).mkdir(parents=True)  # a directory where the lock file goes
    with pytest.raises(InstanceSetupFailed, match="cannot create its lock file"):
        InstanceLock(env).acquire()


def test_a_control_socket_that_cannot_be_bound_is_one_clear_sentence(tmp_path, monkeypatch):
    from tray_monitor.instance import InstanceSetupFailed

    def refuse(self, address):
        raise OSError(98, "Address already in use")

    for platform in (sys.platform, "win32"):
        env = make_env(tmp_path, platform=platform)
        monkeypatch.setattr(socket.socket, "bind", refuse)
        try:
            with pytest.raises(InstanceSetupFailed, match="cannot create its control socket"):
                ControlServer(env, {}).start()
        finally:
            monkeypatch.undo()


def test_a_failing_accept_is_logged_and_the_server_keeps_serving(tmp_path, monkeypatch, caplog):
    import logging

    env = make_env(tmp_path)
    real_accept = socket.socket.accept
    failures = []

    def accept_failing_once(self):
        if not failures:
            failures.append(1)
            real_accept(self)[0].close()  # take the connection off the queue, then fail
            raise OSError(24, "Too many open files")
        return real_accept(self)

    monkeypatch.setattr(socket.socket, "accept", accept_failing_once)
    with serving(env):
        with caplog.at_level(logging.ERROR, logger="tray_monitor.instance"):
            with pytest.raises(InstanceNotResponding):
                send_command(env, "ping")
            assert send_command(env, "ping") == "pong"
        assert "the control socket failed; carrying on" in caplog.text
