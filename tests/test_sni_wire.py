"""tray/sni_wire.py: the SNI backend's messages are byte for byte what jeepney makes of them, for
the signals and replies the backend sends, with generated labels, serials and callers."""
from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from jeepney import DBusAddress, HeaderFields, Parser, new_method_call, new_method_return, new_signal

from tray_monitor.tray import sni_wire
from tray_monitor.tray.sni import ITEM_IFACE, ITEM_PATH, MENU_IFACE, MENU_PATH

TEXT = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\0"), max_size=80)
SERIAL = st.integers(1, 2**32 - 1)
ITEM_ID = st.integers(-(2**31), 2**31 - 1)
LABEL_CHANGE = st.fixed_dictionaries({"label": st.tuples(st.just("s"), TEXT)},
                                     optional={"enabled": st.tuples(st.just("b"), st.booleans()),
                                               "toggle-state": st.tuples(st.just("i"), st.integers(-1, 1))})
#: a property of another type: marshalled by jeepney
OTHER_CHANGE = st.fixed_dictionaries({"icon-data": st.tuples(st.just("ay"), st.binary(max_size=9))},
                                     optional={"label": st.tuples(st.just("s"), TEXT)})

#: (path, interface, member, signature, body) of every signal the backend sends
SIGNALS = st.one_of(
    st.tuples(st.just(ITEM_PATH), st.just(ITEM_IFACE),
              st.sampled_from(["NewIcon", "NewAttentionIcon", "NewTitle", "NewToolTip"]), st.none(), st.just(())),
    st.tuples(st.just(ITEM_PATH), st.just(ITEM_IFACE), st.just("NewStatus"), st.just("s"),
              st.tuples(st.sampled_from(["Active", "NeedsAttention"]))),
    st.tuples(st.just(MENU_PATH), st.just(MENU_IFACE), st.just("LayoutUpdated"), st.just("ui"),
              st.tuples(st.integers(0, 2**32 - 1), st.just(0))),
    st.tuples(st.just(MENU_PATH), st.just(MENU_IFACE), st.just("ItemsPropertiesUpdated"), st.just("a(ia{sv})a(ias)"),
              st.tuples(st.lists(st.tuples(ITEM_ID, st.one_of(LABEL_CHANGE, OTHER_CHANGE)), max_size=5),
                        st.lists(st.tuples(ITEM_ID, st.lists(TEXT, max_size=3)), max_size=2))),
)

#: (signature, body) of the backend's answers
ANSWERS = st.one_of(
    st.tuples(st.none(), st.just(())),
    st.tuples(st.just("v"), st.tuples(st.tuples(st.just("s"), TEXT))),
    st.tuples(st.just("v"), st.tuples(st.tuples(st.just("(sa(iiay)ss)"),
                                                st.tuples(st.just(""), st.just([]), TEXT, TEXT)))),
    st.tuples(st.just("v"), st.tuples(st.tuples(st.just("a(iiay)"), st.lists(
        st.tuples(st.integers(1, 4), st.integers(1, 4), st.binary(max_size=64)), max_size=3)))),
    st.tuples(st.just("a{sv}"), st.tuples(st.dictionaries(TEXT, st.tuples(st.just("s"), TEXT), max_size=4))),
    st.tuples(st.just("b"), st.tuples(st.booleans())),
    st.tuples(st.just("aiai"), st.tuples(st.lists(ITEM_ID, max_size=3), st.lists(ITEM_ID, max_size=3))),
)

CALLER = st.one_of(st.none(), st.from_regex(r":1\.[0-9]{1,6}", fullmatch=True),
                   st.from_regex(r"org\.[a-z]{1,12}\.[A-Za-z]{1,20}", fullmatch=True))


@given(SIGNALS, SERIAL)
def test_a_signal_is_what_jeepney_sends(signal, serial):
    path, interface, member, signature, body = signal
    expected = new_signal(DBusAddress(path, interface=interface), member, signature, body).serialise(serial)
    assert sni_wire.signal(path, interface, member, signature, body).serialise(serial) == expected


@given(st.lists(st.tuples(ITEM_ID, LABEL_CHANGE), max_size=5),
       st.lists(st.tuples(ITEM_ID, st.lists(TEXT, max_size=3)), max_size=2))
def test_labels_enabled_and_check_marks_are_marshalled_here_as_jeepney_does(updated, removed):
    """The minute's relabelling has its own marshaller (not jeepney's generic one): same bytes."""
    from jeepney.low_level import Endianness, parse_signature

    expected = parse_signature(list("(a(ia{sv})a(ias))")).serialise((updated, removed), 0, Endianness.little)
    assert sni_wire._items_properties_updated(updated, removed) == expected


@given(ANSWERS, SERIAL, SERIAL, CALLER)
def test_an_answer_is_what_jeepney_sends(answer, call_serial, serial, caller):
    signature, body = answer
    call = new_method_call(DBusAddress(ITEM_PATH, bus_name=":1.2", interface=ITEM_IFACE), "Get", "ss", ("a", "b"))
    call.header.serial = call_serial
    if caller is not None:
        call.header.fields[HeaderFields.sender] = caller
    expected = new_method_return(call, signature, body).serialise(serial)
    assert sni_wire.method_return(call_serial, caller, signature, body).serialise(serial) == expected


def test_the_same_signal_twice_differs_only_in_serial():
    """The header is marshalled once and copied: one send must not change the next."""
    first = sni_wire.signal(MENU_PATH, MENU_IFACE, "ItemsPropertiesUpdated", "a(ia{sv})a(ias)",
                            ([(1, {"label": ("s", "Session: 10%")})], []))
    second = sni_wire.signal(MENU_PATH, MENU_IFACE, "ItemsPropertiesUpdated", "a(ia{sv})a(ias)",
                             ([(1, {"label": ("s", "Session: 10% · resets in 59m")})], []))
    parsed = []
    for message, serial in ((first, 7), (second, 8), (first, 9)):
        parser = Parser()
        parser.add_data(message.serialise(serial=serial))
        parsed.append(parser.get_next_message())
    assert [m.header.serial for m in parsed] == [7, 8, 9]
    assert [m.body[0][0][1]["label"][1] for m in parsed] == ["Session: 10%", "Session: 10% · resets in 59m",
                                                             "Session: 10%"]
    assert {m.header.fields[HeaderFields.member] for m in parsed} == {"ItemsPropertiesUpdated"}
