"""tray/sni.py without a bus: the pixmap encoding, the dbusmenu layout and its diff, the answers to
host calls (dispatch), and which signals `show` sends. The real bus and hosts: test_sni_desktop.py."""
from __future__ import annotations

import struct
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from tests.test_tray import make_view
from tray_monitor.model import IconSpec
from tray_monitor.tray.menu import Look, MenuEntry, look_of, menu_entries
from tray_monitor.tray.sni import (
    COMMAND_IDS,
    ERR_INVALID_ARGS,
    ERR_READ_ONLY,
    ERR_UNKNOWN_METHOD,
    ERR_UNKNOWN_OBJECT,
    ERR_UNKNOWN_PROPERTY,
    ITEM_IFACE,
    ITEM_PATH,
    MENU_IFACE,
    MENU_PATH,
    PIXMAP_SIZES,
    DBusError,
    MenuItems,
    SniBackend,
    argb_pixmap,
    introspection,
    layout,
    menu_change,
    menu_items,
)

PROPS = "org.freedesktop.DBus.Properties"


# ----------------------------------------------------------------------------- pixmaps


@given(st.tuples(st.integers(0, 255), st.integers(0, 255), st.integers(0, 255), st.integers(0, 255)),
       st.integers(1, 5), st.integers(1, 5))
def test_pixmap_is_argb32_in_network_byte_order_row_by_row(rgba, width, height):
    image = Image.new("RGBA", (width, height), rgba)
    image.putpixel((0, 0), (1, 2, 3, 4))
    w, h, data = argb_pixmap(image)
    assert (w, h, len(data)) == (width, height, 4 * width * height)
    # the first pixel, read as a big-endian 32-bit word, is 0xAARRGGBB
    assert struct.unpack(">I", data[:4])[0] == (4 << 24) | (1 << 16) | (2 << 8) | 3
    if width * height > 1:
        r, g, b, a = rgba
        assert data[4:8] == bytes((a, r, g, b))


def test_pixmap_of_an_rgb_image_is_opaque():
    _w, _h, data = argb_pixmap(Image.new("RGB", (2, 1), (9, 8, 7)))
    assert data == bytes((255, 9, 8, 7)) * 2


# ----------------------------------------------------------------------------- the menu


def test_menu_items_keep_command_ids_stable_grey_info_lines_and_drop_the_hidden_default():
    items = menu_items(menu_entries(make_view(), autostart_on=False))
    labels = {i: p.get("label", ("s", "-"))[1] for i, p in items.props.items() if i}
    assert [labels[i] for i in items.order if items.props[i].get("type") != ("s", "separator")] == [
        "Plan: Max 5x", "Session (5h): 78% · resets in 2h 11m (14:00)", "Weekly: 40% · resets in 3d 4h (Fri 09:00)",
        "Extra usage: $4.20 of $50.00", "Updated 12:00", "Refresh now", "Open usage page", "Usage history…",
        "Notifications",
        "Send test notification", "Start at login", "Quit"]
    assert "Show status" not in labels.values()
    for action, item_id in COMMAND_IDS.items():
        assert items.entries[item_id].action == action and items.props[item_id]["enabled"] == ("b", True)
    assert all(items.props[i]["enabled"] == ("b", False) for i in range(1, 6))
    assert items.props[COMMAND_IDS["toggle_notifications"]]["toggle-state"] == ("i", 1)
    assert items.props[COMMAND_IDS["toggle_autostart"]]["toggle-state"] == ("i", 0)
    assert items.props[COMMAND_IDS["toggle_autostart"]]["toggle-type"] == ("s", "checkmark")
    assert items.props[0] == {"children-display": ("s", "submenu")}
    # fewer info lines (no plan, no extra usage): the commands keep their ids
    fewer = menu_items(menu_entries(make_view(plan=None, extra_usage_text=None), autostart_on=False))
    assert fewer.entries[COMMAND_IDS["quit"]].text == "Quit"


def test_a_literal_underscore_is_doubled_so_it_is_no_mnemonic():
    items = menu_items((MenuEntry("a_b"),))
    assert items.props[1]["label"] == ("s", "a__b")


def test_new_labels_or_check_marks_of_the_same_ids_are_a_property_update_anything_else_a_new_layout():
    base = menu_items(menu_entries(make_view(), autostart_on=False))
    assert menu_change(base, base) == (False, [])
    toggled = menu_items(menu_entries(make_view(notifications_enabled=False), autostart_on=True))
    assert menu_change(base, toggled) == (False, [
        (COMMAND_IDS["toggle_notifications"], {"toggle-state": ("i", 0)}),
        (COMMAND_IDS["toggle_autostart"], {"toggle-state": ("i", 1)})])
    # the countdown's minute tick: only the text of existing lines changes -> just those labels
    relabelled = menu_items(menu_entries(make_view(updated_text="Updated 12:01"), autostart_on=False))
    changed, updates = menu_change(base, relabelled)
    assert not changed and len(updates) == 1, updates
    item_id, props = updates[0]
    assert props == {"label": ("s", "Updated 12:01")} and base.props[item_id]["label"] == ("s", "Updated 12:00")
    assert relabelled.order == base.order
    # structure: a line fewer, a separator where a line was, a check mark that appears
    shorter = menu_items(menu_entries(make_view(plan=None), autostart_on=False))
    assert menu_change(base, shorter) == (True, [])
    first = base.order[0]
    as_separator = MenuItems({**base.props, first: {"type": ("s", "separator")}}, base.order)
    assert menu_change(base, as_separator) == (True, [])
    with_check = MenuItems({**base.props, first: {**base.props[first], "toggle-type": ("s", "checkmark"),
                                                  "toggle-state": ("i", 1)}}, base.order)
    assert menu_change(base, with_check) == (True, [])
    reordered = MenuItems(base.props, base.order[1:] + base.order[:1])
    assert menu_change(base, reordered) == (True, [])


LINES = st.lists(st.text(min_size=1, max_size=20).filter(lambda t: t != "-"), min_size=1, max_size=6)


@given(LINES, LINES)
def test_a_property_update_applied_to_the_old_menu_gives_the_new_one(old_lines, new_lines):
    """What a host holds after ItemsPropertiesUpdated is exactly the new menu; else we said relayout."""
    old = menu_items(tuple(MenuEntry(t) for t in old_lines) + (MenuEntry("Quit", action="quit"),))
    new = menu_items(tuple(MenuEntry(t) for t in new_lines) + (MenuEntry("Quit", action="quit"),))
    changed, updates = menu_change(old, new)
    assert changed == (len(old_lines) != len(new_lines))
    if not changed:
        held = {i: dict(p) for i, p in old.props.items()}
        for item_id, props in updates:
            held[item_id].update(props)
        assert held == new.props


def test_layout_depth_and_property_filter():
    items = menu_items(menu_entries(make_view(), autostart_on=False))
    root = layout(items, 0, 0, [])
    assert root == (0, {"children-display": ("s", "submenu")}, [])
    full = layout(items, 0, -1, ["label"])
    assert [child[1][0] for child in full[2]] == list(items.order)
    assert all(set(child[1][1]) <= {"label"} for child in full[2])
    assert all(child[0] == "(ia{sv}av)" for child in full[2])
    one = layout(items, COMMAND_IDS["quit"], -1, [])
    assert one == (COMMAND_IDS["quit"], {"label": ("s", "Quit"), "enabled": ("b", True)}, [])


# ----------------------------------------------------------------------------- the backend without a bus


class FakeConn:
    """Keeps what the backend sends as a host receives it: its bytes, parsed by jeepney."""

    def __init__(self):
        self.sent = []

    def send(self, message, serial=None):
        from jeepney import Parser

        parser = Parser()
        parser.add_data(message.serialise(serial=serial or len(self.sent) + 1))
        self.sent.append(parser.get_next_message())


def fake_render(spec: IconSpec, size: int = 64, template: bool = False, opaque: bool = False) -> Image.Image:
    return Image.new("RGBA", (size, size), (int(spec.percent or 0), 0, 0, 255))


@pytest.fixture
def backend(env_linux):
    b = SniBackend(env_linux, fake_render, bus="unix:path=/nonexistent")
    b.clicks = []
    b.on_click = b.clicks.append
    b._conn = FakeConn()
    return b


@pytest.fixture
def env_linux(tmp_path):
    from tests.envs import temp_env

    return temp_env(tmp_path, {})


def members(conn: FakeConn) -> list[str]:
    from jeepney import HeaderFields

    return [m.header.fields[HeaderFields.member] for m in conn.sent]


def test_show_sends_only_what_changed(backend):
    look = look_of(make_view(78), autostart_on=False)
    backend.show(look)
    assert members(backend._conn) == ["NewIcon", "NewAttentionIcon", "NewTitle", "NewToolTip", "LayoutUpdated"]
    backend._conn.sent.clear()
    backend.show(look)
    assert members(backend._conn) == []  # nothing changed, nothing re-sent
    backend.show(look_of(make_view(78, notifications_enabled=False), autostart_on=False))
    assert members(backend._conn) == ["ItemsPropertiesUpdated"]
    backend._conn.sent.clear()
    critical = make_view(95)
    critical = replace(critical, icon=replace(critical.icon, severity="critical"), notifications_enabled=False)
    backend.show(look_of(critical, autostart_on=False))
    # the window line changed too: the tooltip's description and the menu text (a new label of the
    # same line: no new layout), not the title
    assert members(backend._conn) == ["NewIcon", "NewAttentionIcon", "NewStatus", "NewToolTip",
                                      "ItemsPropertiesUpdated"]
    assert backend._conn.sent[2].body == ("NeedsAttention",)
    (updated,) = backend._conn.sent[4].body[0]
    assert list(updated[1]) == ["label"] and "95%" in updated[1]["label"][1], updated
    assert (backend.redraw_count, backend.menu_updates, backend.toggle_updates) == (2, 1, 2)


class GnomeMenu:
    """What GNOME's AppIndicator extension (46, dbusMenu.js) holds of our menu: on LayoutUpdated it
    reads GetLayout with only "type" and "children-display" and keeps every other property of the
    ids it already holds; new ids get all their properties by GetGroupProperties; an
    ItemsPropertiesUpdated changes (or removes) properties of ids it holds."""

    def __init__(self, backend):
        self.backend = backend
        self.held: dict[int, dict] = {}
        self.order: list[int] = []

    def read_layout(self) -> None:
        _sig, (_revision, (_root, _props, children)) = self.backend._dispatch(
            MENU_PATH, MENU_IFACE, "GetLayout", (0, -1, ["type", "children-display"]))
        self.order = [child[1][0] for child in children]
        new = []
        for _signature, (item_id, props, _kids) in children:
            if item_id in self.held:
                self.held[item_id].update(props)
            else:
                self.held[item_id] = dict(props)
                new.append(item_id)
        self.held = {i: p for i, p in self.held.items() if i in self.order}
        if new:
            _sig, (answers,) = self.backend._dispatch(MENU_PATH, MENU_IFACE, "GetGroupProperties", (new, []))
            for item_id, props in answers:
                self.held[item_id].update(props)

    def receive(self, sent) -> None:
        from jeepney import HeaderFields

        for message in sent:
            member = message.header.fields[HeaderFields.member]
            if member == "LayoutUpdated":
                self.read_layout()
            elif member == "ItemsPropertiesUpdated":
                changed, removed = message.body
                for item_id, props in changed:
                    if item_id in self.held:
                        self.held[item_id].update(props)
                for item_id, names in removed:
                    for name in names:
                        self.held.get(item_id, {}).pop(name, None)

    def menu(self) -> list[dict]:
        return [self.held[i] for i in self.order]


MENU_LINES = st.lists(st.sampled_from(["Plan: Max 5x", "Waiting for the first reading", "Session: 78%", "-",
                                       "Weekly: 40%", "Updated 12:00", "on track"]), max_size=6)


@given(MENU_LINES, st.booleans(), MENU_LINES, st.booleans())
def test_gnome_extension_holds_the_new_menu_after_any_change(old_lines, old_checked, new_lines, new_checked):
    """Found on GNOME Shell 43 (tests/manual/gnome_sni_check.py): after the first reading the top
    bar's menu still began "Waiting for the first reading", while GetLayout said "Plan: Max 5x"."""

    def entries(lines, checked):
        return tuple(MenuEntry(t) for t in lines) + (
            MenuEntry("Refresh now", action="refresh"),
            MenuEntry("Notifications", action="toggle_notifications", checked=checked),
            MenuEntry("Quit", action="quit"))

    from tray_monitor.tray.sni import SniBackend as Backend

    backend = Backend(None, fake_render, bus="unix:path=/nonexistent")
    backend._conn = FakeConn()
    look = look_of(make_view(78), autostart_on=False)
    backend.show(replace(look, menu=entries(old_lines, old_checked)))
    gnome = GnomeMenu(backend)
    gnome.read_layout()
    backend._conn.sent.clear()
    backend.show(replace(look, menu=entries(new_lines, new_checked)))
    gnome.receive(backend._conn.sent)
    assert gnome.menu() == [menu_items(entries(new_lines, new_checked)).props[i]
                            for i in menu_items(entries(new_lines, new_checked)).order]


def test_gnome_reads_every_property_it_asks_for_after_new_icon(backend):
    """GNOME's extension refreshes Icon*, IconName, IconPixmap and IconAccessibleDesc after NewIcon
    (and AttentionAccessibleDesc is the same Ayatana property for the attention icon)."""
    view = make_view(78)
    backend.show(look_of(view, autostart_on=False))
    for name in ("IconName", "IconPixmap", "IconAccessibleDesc", "AttentionAccessibleDesc"):
        backend._dispatch(ITEM_PATH, PROPS, "Get", (ITEM_IFACE, name))
    assert backend._dispatch(ITEM_PATH, PROPS, "Get", (ITEM_IFACE, "IconAccessibleDesc")) == (
        "v", (("s", view.tooltip),))


def test_a_new_spec_with_the_same_pixels_sends_no_new_icon(backend):
    backend.show(look_of(make_view(78.2), autostart_on=False))
    backend._conn.sent.clear()
    backend.show(look_of(make_view(78.4, tooltip="Claude: 78% · resets in 2h 11m"), autostart_on=False))
    assert "NewIcon" not in members(backend._conn)


def test_properties_carry_the_look(backend):
    view = make_view(78)
    backend.show(look_of(view, autostart_on=False))
    _sig, (props,) = backend._dispatch(ITEM_PATH, PROPS, "GetAll", (ITEM_IFACE,))
    assert props["Title"] == ("s", view.tooltip)
    assert props["Status"] == ("s", "Active")
    assert props["Id"] == ("s", "claude-tray")
    assert props["ToolTip"][1][2] == view.tooltip
    assert props["ToolTip"][1][3].splitlines()[0] == "Plan: Max 5x"
    assert [p[0] for p in props["IconPixmap"][1]] == list(PIXMAP_SIZES)
    assert props["AttentionIconPixmap"] == props["IconPixmap"]  # hosts that swap icons at NeedsAttention
    assert backend._dispatch(ITEM_PATH, PROPS, "GetAll", ("org.freedesktop.DBus.Properties",)) == ("a{sv}", ({},))
    assert backend._dispatch(ITEM_PATH, PROPS, "Get", (ITEM_IFACE, "Menu")) == ("v", (("o", MENU_PATH),))
    assert backend._dispatch(MENU_PATH, PROPS, "Get", (MENU_IFACE, "Version")) == ("v", (("u", 3),))


@pytest.mark.parametrize("path, iface, member, args, error", [
    (ITEM_PATH, ITEM_IFACE, "Frobnicate", (), ERR_UNKNOWN_METHOD),
    (ITEM_PATH, PROPS, "Get", (ITEM_IFACE, "Nope"), ERR_UNKNOWN_PROPERTY),
    (ITEM_PATH, PROPS, "Set", (ITEM_IFACE, "Title", ("s", "x")), ERR_READ_ONLY),
    (MENU_PATH, MENU_IFACE, "Frobnicate", (), ERR_UNKNOWN_METHOD),
    (MENU_PATH, MENU_IFACE, "Event", (999, "clicked", ("i", 0), 0), ERR_INVALID_ARGS),
    (MENU_PATH, MENU_IFACE, "EventGroup", ([(999, "clicked", ("i", 0), 0)],), ERR_INVALID_ARGS),
    (MENU_PATH, MENU_IFACE, "GetLayout", (999, -1, []), ERR_INVALID_ARGS),
    (MENU_PATH, MENU_IFACE, "GetProperty", (COMMAND_IDS["quit"], "nope"), ERR_INVALID_ARGS),
    ("/Elsewhere", ITEM_IFACE, "Activate", (0, 0), ERR_UNKNOWN_OBJECT),
])
def test_unknown_methods_properties_objects_and_menu_ids_are_errors(backend, path, iface, member, args, error):
    backend.show(look_of(make_view(), autostart_on=False))
    with pytest.raises(DBusError) as caught:
        backend._dispatch(path, iface, member, args)
    assert caught.value.name == error
    assert backend.clicks == []


def test_clicks_by_event_and_event_group_reach_the_entry_and_opened_is_no_click(backend):
    backend.show(look_of(make_view(), autostart_on=False))
    backend._dispatch(MENU_PATH, MENU_IFACE, "Event", (COMMAND_IDS["refresh"], "clicked", ("i", 0), 0))
    backend._dispatch(MENU_PATH, MENU_IFACE, "Event", (0, "opened", ("s", ""), 0))  # lxqt: the menu opened
    assert backend._dispatch(MENU_PATH, MENU_IFACE, "EventGroup", (
        [(COMMAND_IDS["quit"], "clicked", ("s", ""), 0), (999, "clicked", ("i", 0), 0)],)) == ("ai", ([999],))
    backend._dispatch(MENU_PATH, MENU_IFACE, "Event", (1, "clicked", ("i", 0), 0))  # an info line: nothing
    assert [e.action for e in backend.clicks] == ["refresh", "quit"]


def test_activate_clicks_the_default_entry_and_other_item_methods_are_answered(backend):
    backend.show(look_of(make_view(), autostart_on=False))
    for member in ("Activate", "SecondaryActivate", "ContextMenu"):
        assert backend._dispatch(ITEM_PATH, ITEM_IFACE, member, (10, 20)) == (None, ())
    assert backend._dispatch(ITEM_PATH, ITEM_IFACE, "Scroll", (1, "vertical")) == (None, ())
    assert backend._dispatch(ITEM_PATH, ITEM_IFACE, "ProvideXdgActivationToken", ("token",)) == (None, ())
    assert [e.action for e in backend.clicks] == ["show_status"]


def test_introspection_lists_both_objects_at_the_root_and_the_menu_interface():
    assert '<node name="StatusNotifierItem"/>' in introspection("/")
    assert '<node name="MenuBar"/>' in introspection("/")
    assert 'interface name="com.canonical.dbusmenu"' in introspection(MENU_PATH)
    assert '<property name="IconPixmap" type="a(iiay)"' in introspection(ITEM_PATH)


def test_a_method_call_that_fails_inside_is_answered_with_an_error(backend):
    """A bug in an answer must not leave the host waiting 25 s for a reply."""
    from jeepney import DBusAddress, MessageType, Parser, new_method_call

    call = new_method_call(DBusAddress(MENU_PATH, bus_name=":1.9", interface=MENU_IFACE), "GetLayout", "iias",
                           (0, -1, []))
    call = Parser()
    message = new_method_call(DBusAddress(MENU_PATH, bus_name=":1.9", interface=MENU_IFACE), "GetLayout", "iias",
                              (0, -1, []))
    raw = message.serialise(serial=7)
    call.add_data(raw)
    incoming = call.get_next_message()
    backend._items = None  # a broken state
    backend._handle(incoming)
    assert backend._conn.sent[-1].header.message_type == MessageType.error


def test_show_before_the_bus_is_connected_sends_nothing_and_keeps_the_look(env_linux):
    b = SniBackend(env_linux, fake_render, bus="unix:path=/nonexistent")
    b.show(Look(IconSpec(state="ok", percent=10), "t", ()))
    assert b.redraw_count == 1
    assert b._dispatch(ITEM_PATH, PROPS, "Get", (ITEM_IFACE, "Title")) == ("v", (("s", "t"),))


def test_a_failing_reply_handler_is_logged_and_the_loop_goes_on(env_linux, caplog):
    """Only a lost bus ends a connection: a bug in handling one message is logged, and the next
    message is still answered."""
    from jeepney import DBusAddress, MessageType, Parser, new_method_call, new_method_return
    from jeepney.io.threading import ReceiveStopped

    def incoming(message, serial):
        parser = Parser()
        parser.add_data(message.serialise(serial=serial))
        return parser.get_next_message()

    call = incoming(new_method_call(DBusAddress("/x", bus_name=":1.5", interface="a.b"), "Ping"), 41)
    broken_reply = incoming(new_method_return(call), 42)  # answers our serial 41
    ping = incoming(new_method_call(DBusAddress("/", bus_name=":1.5", interface="org.freedesktop.DBus.Peer"),
                                    "Ping"), 43)

    class LoopConn(FakeConn):
        outgoing_serial = iter(range(1, 100))

        def __init__(self):
            super().__init__()
            self.inbox = [broken_reply, ping]

        def receive(self, timeout=None):
            if not self.inbox:
                raise ReceiveStopped("done")
            return self.inbox.pop(0)

        def close(self):
            pass

    b = SniBackend(env_linux, fake_render, bus="unix:path=/nonexistent")
    b._start = lambda: b._pending.update({41: lambda reply: 1 / 0})
    conn = LoopConn()
    import threading

    assert b._serve(conn, threading.Thread(target=lambda: None)) is ReceiveStopped
    assert "handling a D-Bus message failed" in caplog.text
    assert conn.sent[-1].header.message_type == MessageType.method_return  # the Ping after it


def test_a_minute_later_the_same_reading_relabels_the_menu_only(backend):
    """The countdown's minute tick: the menu's window lines get new labels (ItemsPropertiesUpdated);
    the title and the tooltip read clock times and stay, so no NewTitle / NewToolTip (each had the
    host read them again over D-Bus, once a minute)."""
    from datetime import timedelta

    from tests.test_view import NOW, reading, state
    from tray_monitor.view import view

    st = state(reading=reading(), interval=300)
    backend.show(look_of(view(st, NOW), autostart_on=False))
    backend._conn.sent.clear()
    backend.show(look_of(view(st, NOW + timedelta(minutes=1)), autostart_on=False))
    assert members(backend._conn) == ["ItemsPropertiesUpdated"]
