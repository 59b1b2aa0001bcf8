"""A watcher that drops our item while the app runs gets it registered again.

Seen on GNOME Shell 43.9 with the AppIndicator extension 46 (tests/manual/gnome_sni_check.py, 7 of
about 38 runs): a race in the extension's proxy set-up for items registered by a well-known name
("While initalizing proxy for org.kde.StatusNotifierItem-<pid>-1: Error: Argument two may not be
null") destroys the item: StatusNotifierItemUnregistered, gone from RegisteredStatusNotifierItems,
the icon gone from the top bar for good. The app then registers again by its unique name (the
extension watches no name for those: no race). Here a watcher of ours does the same on a private bus.
"""
from __future__ import annotations

import time

import pytest

from tests.desktop_bus import FakeWatcher, start_session_bus, stop_session_bus
from tests.desktop_x import sni_bus_name, wait_until
from tests.test_app_desktop import quit_cleanly
from tests.test_sni_desktop import start_sni

pytestmark = pytest.mark.desktop

WATCHER = "org.kde.StatusNotifierWatcher"


class DroppingWatcher(FakeWatcher):
    """Accepts registrations and lists them; `drop(name, forget)` says the item left
    (StatusNotifierItemUnregistered) and, with `forget`, takes it off its list, as GNOME's extension
    does when it destroys an item."""

    def __init__(self, address: str):
        super().__init__(address)
        self.items: list[str] = []
        self.registrations: list[str] = []
        self.senders: list[str] = []

    def answer(self, message):
        from jeepney import HeaderFields, new_error, new_method_return

        member = message.header.fields.get(HeaderFields.member)
        if member == "RegisterStatusNotifierItem":
            self.registrations.append(message.body[0])
            self.senders.append(message.header.fields.get(HeaderFields.sender))
            if message.body[0] not in self.items:
                self.items.append(message.body[0])
            return new_method_return(message)
        if member == "Get" and message.body[1] == "RegisteredStatusNotifierItems":
            return new_method_return(message, "v", (("as", list(self.items)),))
        if member == "Get" and message.body[1] == "IsStatusNotifierHostRegistered":
            return new_method_return(message, "v", (("b", True),))
        return new_error(message, "org.freedesktop.DBus.Error.UnknownMethod", "s", (member or "",))

    def drop(self, name: str, forget: bool) -> None:
        from jeepney import DBusAddress, new_signal

        with self._lock:
            if forget:
                self.items = [i for i in self.items if i != name]
            self.connection.send(new_signal(DBusAddress("/StatusNotifierWatcher", interface=WATCHER),
                                            "StatusNotifierItemUnregistered", "s", (name,)))


def test_an_item_dropped_by_the_watcher_is_registered_again_and_only_when_it_is_off_the_list(
        claude_tray_world, xvfb, desktop_workdir):
    world = claude_tray_world
    bus = start_session_bus(desktop_workdir / "bus-drops", "dbus-drops")
    watcher = DroppingWatcher(bus.address)
    watcher.start()
    try:
        app, _ = start_sni(world, xvfb, bus)
        name = sni_bus_name(app.process.pid)
        wait_until(lambda: watcher.items == [name], 10, "the first registration")
        # another item leaving, and ours "leaving" while the watcher still lists it: nothing to do
        watcher.drop("org.kde.StatusNotifierItem-1-1", forget=True)
        watcher.drop(name, forget=False)
        time.sleep(2)
        assert watcher.registrations == [name]
        # dropped for real (GNOME's extension): registered again by the unique name, said once
        watcher.drop(name, forget=True)
        wait_until(lambda: len(watcher.items) == 1, 5, "the item registered again")
        unique = watcher.senders[0]
        assert unique.startswith(":") and watcher.registrations == [name, unique] and watcher.items == [unique]
        # the watcher's own "name@path" form (GNOME) of that entry is ours too: dropped again, again back
        with watcher._lock:
            watcher.items = [f"{unique}@/StatusNotifierItem"]
        watcher.drop(f"{unique}@/StatusNotifierItem", forget=True)
        wait_until(lambda: watcher.items == [unique], 5, "the item registered a third time")
        wait_until(lambda: "dropped the icon" in world.log_path.read_text(), 5, "the log line")
        assert world.log_path.read_text().count("dropped the icon") == 2  # once per drop
        quit_cleanly(world, app)
    finally:
        watcher.stop()
        stop_session_bus(bus)
