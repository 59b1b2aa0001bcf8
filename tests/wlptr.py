"""A virtual pointer for a headless wlroots compositor (sway), for the Wayland host tests.

    python tests/wlptr.py WIDTH HEIGHT        then on stdin, one command a line:
        move X Y          absolute motion to (X, Y) on a WIDTH x HEIGHT output
        click BUTTON      press and release (272 left, 273 right)
        press BUTTON / release BUTTON

Why: sway started with WLR_LIBINPUT_NO_DEVICES=1 has a seat without a pointer, so
`swaymsg seat seat0 cursor ...` reaches no client, and ydotool needs /dev/uinput. This speaks the
Wayland wire protocol itself and creates a zwlr_virtual_pointer_v1 device; the seat has a pointer
for as long as this process runs. Prints "ready" once the device exists. Pure Python, no packages.
"""
from __future__ import annotations

import os
import socket
import struct
import sys
import time


def _pad(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 4)


def _string(text: str) -> bytes:
    data = text.encode() + b"\0"
    return struct.pack("<I", len(data)) + _pad(data)


class Wayland:
    def __init__(self, path: str):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(path)
        self.buffer = b""

    def request(self, obj: int, opcode: int, args: bytes = b"") -> None:
        self.sock.sendall(struct.pack("<II", obj, (8 + len(args)) << 16 | opcode) + args)

    def events(self):
        while True:
            while len(self.buffer) >= 8:
                obj, size_opcode = struct.unpack_from("<II", self.buffer)
                size = size_opcode >> 16
                if len(self.buffer) < size:
                    break
                body, self.buffer = self.buffer[8:size], self.buffer[size:]
                yield obj, size_opcode & 0xFFFF, body
            chunk = self.sock.recv(4096)
            if not chunk:
                raise SystemExit("wlptr: the compositor closed the connection")
            self.buffer += chunk


def _ms() -> int:
    return int(time.monotonic() * 1000) & 0xFFFFFFFF


def main(argv: list[str]) -> int:
    width, height = int(argv[0]), int(argv[1])
    # WAYLAND_DISPLAY may be an absolute path (then XDG_RUNTIME_DIR is not needed)
    wl = Wayland(os.path.join(os.environ.get("XDG_RUNTIME_DIR", ""), os.environ.get("WAYLAND_DISPLAY", "wayland-0")))
    wl.request(1, 1, struct.pack("<I", 2))  # wl_display.get_registry -> id 2
    wl.request(1, 0, struct.pack("<I", 3))  # wl_display.sync -> callback id 3
    names: dict[str, int] = {}
    for obj, opcode, body in wl.events():
        if obj == 2 and opcode == 0:  # wl_registry.global(name, interface, version)
            name, length = struct.unpack_from("<II", body)
            names[body[8:8 + length - 1].decode()] = name
        elif obj == 3:  # sync done: every global has been announced
            break
        elif obj == 1 and opcode == 0:
            raise SystemExit(f"wlptr: wayland error {body!r}")
    for interface, new_id in (("wl_seat", 4), ("zwlr_virtual_pointer_manager_v1", 5)):
        if interface not in names:
            raise SystemExit(f"wlptr: the compositor offers no {interface}")
        wl.request(2, 0, struct.pack("<I", names[interface]) + _string(interface) + struct.pack("<II", 1, new_id))
    wl.request(5, 0, struct.pack("<II", 4, 6))  # create_virtual_pointer(seat 4) -> id 6
    print("ready", flush=True)

    def button(code: int, pressed: int) -> None:
        wl.request(6, 2, struct.pack("<III", _ms(), code, pressed))  # button
        wl.request(6, 4, struct.pack("<I", _ms()))  # frame

    for line in sys.stdin:
        command = line.split()
        if not command:
            continue
        if command[0] == "move":
            wl.request(6, 1, struct.pack("<IIIII", _ms(), int(command[1]), int(command[2]), width, height))
            wl.request(6, 4, struct.pack("<I", _ms()))
        elif command[0] in ("press", "release"):
            button(int(command[1]), 1 if command[0] == "press" else 0)
        elif command[0] == "click":
            button(int(command[1]), 1)
            time.sleep(0.05)
            button(int(command[1]), 0)
        print("done", command[0], flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
