"""The SNI backend's outgoing messages, marshalled with no more work than each needs.

jeepney builds every message from scratch: a header object, its fields marshalled through its
generic type machinery, and the body's signature parsed again at each `serialise`. The tray sends
the same few signals over and over (a label's minute, a new title) and answers the host's
read-backs (`Get Title`, `Get ToolTip`), about 50 us each in pure Python, three times that on a
cold cache after a minute asleep. Here:
- a signal's header (path, interface, member, signature) is marshalled once, by jeepney, and only
  its body length and serial are written into a copy at each send;
- a method return's header (reply serial, destination, signature) is marshalled directly;
- each body signature is parsed once, and the body marshalled by jeepney's own types.
The bytes are jeepney's (tests/test_sni_wire.py compares them for generated messages).
`Marshalled` is what jeepney's `DBusConnection.send(message, serial)` asks of a message: a
`serialise(serial, fds)`; the connection still numbers and sends it under its lock.
"""
from __future__ import annotations

import struct
from functools import cache
from typing import Any

#: jeepney's default, and what every message here is: little-endian ("l"), protocol version 1.
_FIXED = struct.Struct("<cBBBII")
_LENGTH_AND_SERIAL = struct.Struct("<II")
_METHOD_RETURN = 2
_FIELD_REPLY_SERIAL, _FIELD_DESTINATION, _FIELD_SIGNATURE = 5, 6, 8


class Marshalled:
    """A message as bytes, but for the serial its connection gives it."""

    __slots__ = ("_head", "_body")

    def __init__(self, head: bytes, body: bytes):
        self._head = head  # the whole header, padded to 8, with body length and serial to be written
        self._body = body

    def serialise(self, serial: int | None = None, fds: Any = None) -> bytes:
        head = bytearray(self._head)
        _LENGTH_AND_SERIAL.pack_into(head, 4, len(self._body), serial or 1)
        return bytes(head) + self._body


@cache
def _body_type(signature: str):
    from jeepney.low_level import parse_signature

    return parse_signature(list(f"({signature})"))


def marshal_body(signature: str | None, body: tuple) -> bytes:
    """The body as jeepney marshals it (it starts 8-aligned, after the padded header)."""
    if not signature:
        return b""
    if signature == ITEMS_PROPERTIES_UPDATED:
        marshalled = _items_properties_updated(*body)
        if marshalled is not None:
            return marshalled
    from jeepney.low_level import Endianness

    return _body_type(signature).serialise(body, 0, Endianness.little)


#: dbusmenu's ItemsPropertiesUpdated: [(id, {property: variant})], [(id, [property])]. It goes out at
#: every countdown minute (a relabelled line), so it has a marshaller of its own.
ITEMS_PROPERTIES_UPDATED = "a(ia{sv})a(ias)"
_INT32 = struct.Struct("<i")
_UINT32 = struct.Struct("<I")
#: variant signature -> (its marshalled signature, how the value is packed, 4-aligned)
_VARIANT_VALUES = {"s": b"\x01s\x00", "b": b"\x01b\x00", "i": b"\x01i\x00"}


def _pad(out: bytearray, alignment: int) -> None:
    out += b"\0" * (-len(out) % alignment)


def _string(out: bytearray, text: str) -> None:
    """A D-Bus string at a 4-aligned position: length, UTF-8, NUL."""
    data = text.encode()
    out += _UINT32.pack(len(data)) + data + b"\0"


def _items_properties_updated(updated: list, removed: list) -> bytes | None:
    """The body for labels, enabled and check marks (string, boolean and int32 values), as D-Bus
    marshals it: arrays carry their byte length and pad to their element's alignment (structs and
    dict entries 8) even when empty. None for any other value: jeepney marshals those."""
    out = bytearray(4)
    _pad(out, 8)
    start = len(out)
    for item_id, props in updated:
        _pad(out, 8)
        out += _INT32.pack(item_id)
        at = len(out)
        out += b"\0\0\0\0"
        _pad(out, 8)
        entries = len(out)
        for name, (kind, value) in props.items():
            sig = _VARIANT_VALUES.get(kind)
            if sig is None or (kind == "s") != isinstance(value, str):
                return None
            _pad(out, 8)
            _string(out, name)
            out += sig
            _pad(out, 4)
            if kind == "s":
                _string(out, value)
            else:
                out += _INT32.pack(int(value)) if kind == "i" else _UINT32.pack(1 if value else 0)
        _UINT32.pack_into(out, at, len(out) - entries)
    _UINT32.pack_into(out, 0, len(out) - start)
    _pad(out, 4)
    at = len(out)
    out += b"\0\0\0\0"
    _pad(out, 8)
    start = len(out)
    for item_id, names in removed:
        _pad(out, 8)
        out += _INT32.pack(item_id)
        names_at = len(out)
        out += b"\0\0\0\0"
        names_start = len(out)
        for name in names:
            _pad(out, 4)
            _string(out, name)
        _UINT32.pack_into(out, names_at, len(out) - names_start)
    _UINT32.pack_into(out, at, len(out) - start)
    return bytes(out)


@cache
def _signal_head(path: str, interface: str, member: str, signature: str | None) -> bytes:
    from jeepney import DBusAddress, new_signal

    header = new_signal(DBusAddress(path, interface=interface), member, signature).header
    header.body_length = 0
    head = header.serialise(serial=1)
    return head + b"\0" * (-len(head) % 8)


def signal(path: str, interface: str, member: str, signature: str | None = None, body: tuple = ()) -> Marshalled:
    return Marshalled(_signal_head(path, interface, member, signature), marshal_body(signature, body))


def method_return(reply_serial: int, destination: str | None, signature: str | None,
                  body: tuple = ()) -> Marshalled:
    """What jeepney's `new_method_return(call, signature, body)` is for a call with that serial and
    sender (`destination`, None when the call named no sender)."""
    return Marshalled(_return_head(reply_serial, destination, signature), marshal_body(signature, body))


def _return_head(reply_serial: int, destination: str | None, signature: str | None) -> bytes:
    # The header fields: an array of (byte code, variant), each struct 8-aligned; it starts at
    # offset 16 (12 fixed bytes and the array's length), so offsets within it are the message's.
    fields = bytearray(struct.pack("<B3sI", _FIELD_REPLY_SERIAL, b"\x01u\x00", reply_serial))
    if destination is not None:
        fields += b"\0" * (-len(fields) % 8)
        name = destination.encode()
        fields += struct.pack("<B3sI", _FIELD_DESTINATION, b"\x01s\x00", len(name)) + name + b"\0"
    if signature is not None:
        fields += b"\0" * (-len(fields) % 8)
        text = signature.encode()
        fields += struct.pack("<B3sB", _FIELD_SIGNATURE, b"\x01g\x00", len(text)) + text + b"\0"
    head = _FIXED.pack(b"l", _METHOD_RETURN, 0, 1, 0, 1) + struct.pack("<I", len(fields)) + bytes(fields)
    return head + b"\0" * (-len(head) % 8)
