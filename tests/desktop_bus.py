"""A private D-Bus session bus and a real notification daemon (dunst) for tests.

`session_bus` (session-scoped): a `dbus-daemon` of our own on a socket in a temporary directory;
`.address` and `.env` (DBUS_SESSION_BUS_ADDRESS, NO_AT_BRIDGE=1) for subprocesses.
`notification_daemon` (session-scoped): dunst on that bus and on the `xvfb` display of
tests/desktop_x.py (dunst 1.9 aborts without an X display); `.history()` reads back what it
received, `.clear()` forgets it. Everything is stopped by PID in a finally. Nothing here touches
os.environ. Missing programs skip (or, with CLAUDE_TRAY_REQUIRE_DESKTOP=1, fail) the test.
"""
from __future__ import annotations

import json
import select
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.desktop_x import (
    Started,
    base_env,
    bus_name_has_owner,
    missing_programs,
    require,
    start_program,
    stop_process,
    wait_until,
)

NOTIFICATIONS = "org.freedesktop.Notifications"

# A session bus WITHOUT service directories: nothing is D-Bus-activated behind our back (the
# system's dunst.service would start a second, display-less dunst when ours is not up yet).
# `allow user="*"`: the Wayland rig's compositor and app run as another user than the test.
_BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>{listen}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""

# dunst's history does not record the urgency, but it does keep the formatted message: a format
# per urgency level makes it readable ("[critical] summary | body").
_DUNSTRC = """[global]
    font = DejaVu Sans 8
    notification_limit = 0
    history_length = 500
    stack_duplicates = false
    idle_threshold = 0
    show_indicators = no
[urgency_low]
    format = "[low] %s | %b"
[urgency_normal]
    format = "[normal] %s | %b"
[urgency_critical]
    format = "[critical] %s | %b"
"""


@dataclass
class SessionBus:
    address: str
    program: Started

    @property
    def env(self) -> dict:
        return {"DBUS_SESSION_BUS_ADDRESS": self.address, "NO_AT_BRIDGE": "1"}


class FakeWatcher:
    """A StatusNotifierWatcher of our own on `address`, on its own thread and connection: it takes
    the watcher's name and answers each method call with `answer(message)` (subclasses say how)."""

    NAME = "org.kde.StatusNotifierWatcher"

    def __init__(self, address: str):
        import threading

        from jeepney.io.blocking import open_dbus_connection

        self.connection = open_dbus_connection(bus=address)
        self._lock = threading.Lock()
        self._stop = False
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def start(self) -> None:
        from jeepney import message_bus, new_method_call

        reply = self.connection.send_and_get_reply(
            new_method_call(message_bus, "RequestName", "su", (self.NAME, 4)), timeout=5)
        assert reply.body == (1,), reply.body
        self._thread.start()

    def answer(self, message):
        raise NotImplementedError

    def _serve(self) -> None:
        from jeepney import MessageType

        while not self._stop:
            try:
                message = self.connection.receive(timeout=0.2)
            except TimeoutError:
                continue
            except Exception:
                return
            if message.header.message_type != MessageType.method_call:
                continue
            with self._lock:
                reply = self.answer(message)
            self.connection.send(reply)

    def stop(self) -> None:
        self._stop = True
        self._thread.join(2)
        self.connection.close()


def start_session_bus(workdir: Path, name: str = "dbus") -> SessionBus:
    """dbus-daemon --nofork listening on <workdir>/<name>.sock; its address is the first line it prints."""
    require(missing_programs("dbus-daemon"), "a private D-Bus session bus")
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / f"{name}.conf"
    config.write_text(_BUS_CONFIG.format(listen=f"unix:path={workdir / (name + '.sock')}"))
    log_path = workdir / f"{name}.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            ["dbus-daemon", f"--config-file={config}", "--nofork", "--nopidfile", "--print-address=1"],
            env=base_env(), stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL,
        )
    program = Started(name, process, log_path)
    try:
        ready, _, _ = select.select([process.stdout], [], [], 10)
        address = process.stdout.readline().decode().strip() if ready else ""
        if not address:
            raise AssertionError(f"dbus-daemon printed no address: {program.log()}")
    except BaseException:
        stop_process(process)
        process.stdout.close()
        raise
    return SessionBus(address, program)


def stop_session_bus(bus: SessionBus) -> None:
    stop_process(bus.program.process)
    bus.program.process.stdout.close()


@pytest.fixture(scope="session")
def session_bus(desktop_workdir):
    bus = start_session_bus(desktop_workdir / "bus")
    try:
        yield bus
    finally:
        stop_session_bus(bus)


@dataclass
class NotificationDaemon:
    bus: SessionBus
    program: Started
    _forgotten: frozenset = frozenset()  # history ids hidden by clear()

    def dunstctl(self, *args: str) -> str:
        result = subprocess.run(["dunstctl", *args], env=base_env(**self.bus.env), capture_output=True,
                                text=True, timeout=10, check=True)
        return result.stdout

    def count(self, which: str = "displayed") -> int:
        """"displayed", "waiting" or "history"."""
        return int(self.dunstctl("count", which).strip())

    def history(self) -> list[dict]:
        """Every notification received since clear(), newest first: {id, appname, summary, body,
        urgency, icon_path, timeout}. Closes the open ones first: dunst's history holds closed
        ones only."""
        return [e for e in self._all_history() if e["id"] not in self._forgotten]

    def clear(self) -> None:
        """Close everything and forget what was received so far. (dunst 1.9's dunstctl has no
        history-clear; ids only grow, so hiding the ids seen now is equivalent.)"""
        self._forgotten = frozenset(e["id"] for e in self._all_history())

    def _all_history(self) -> list[dict]:
        # close-all again on every try: a popup that arrives just after one close-all would
        # otherwise stay open (a "normal" one for 10 s), and a popup with the same replaces_id
        # (the app's next popup of that window) replaces it in place: dunst never puts a
        # replaced notification in its history. With one close-all and a 5 s wait, the demo's
        # 78 % popup (93 % follows 5 s later) went missing now and then.
        def all_closed() -> bool:
            self.dunstctl("close-all")
            return self.count("displayed") == 0 and self.count("waiting") == 0

        wait_until(all_closed, 5, "dunst to close every notification")
        entries = json.loads(self.dunstctl("history"))["data"][0]
        return [_history_entry(e) for e in entries]


def _history_entry(entry: dict) -> dict:
    value = {key: field["data"] for key, field in entry.items()}
    message = value.get("message", "")
    urgency = message[1:message.index("]")] if message.startswith("[") and "]" in message else None
    return {
        "id": value.get("id"),
        "appname": value.get("appname"),
        "summary": value.get("summary"),
        "body": value.get("body"),
        "urgency": urgency,
        "icon_path": value.get("icon_path"),
        "timeout": value.get("timeout"),
    }


@pytest.fixture(scope="session")
def notification_daemon(xvfb, session_bus, desktop_workdir):
    require(missing_programs("dunst", "dunstctl"), "a real notification daemon")
    workdir = desktop_workdir / "dunst"
    workdir.mkdir(exist_ok=True)
    config = workdir / "dunstrc"
    config.write_text(_DUNSTRC)
    # HOME/XDG_CONFIG_HOME in the workdir: dunst must not read a user's dunstrc drop-ins.
    env = base_env(**xvfb.env, **session_bus.env, HOME=str(workdir), XDG_CONFIG_HOME=str(workdir))
    program = start_program("dunst", ["dunst", "-config", str(config)], env, workdir)
    try:
        try:
            wait_until(lambda: program.process.poll() is None
                       and bus_name_has_owner(session_bus.address, NOTIFICATIONS), 10, f"dunst to own {NOTIFICATIONS}")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\ndunst log:\n{program.log()}") from None
        daemon = NotificationDaemon(session_bus, program)
        daemon.clear()
        yield daemon
    finally:
        stop_process(program.process)

