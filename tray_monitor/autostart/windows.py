"""Windows: the value `claude-tray` under HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Run.

The command is `"C:\\...\\pythonw.exe" -m tray_monitor` (pythonw opens no console window) or the
frozen, windowed executable. The program path is always quoted: an unquoted path with spaces in the
Run key is split at the first space.

Task Manager's "Disable" on a startup app does not touch the Run value; it writes a binary value of
the same name under ...\\Explorer\\StartupApproved\\Run whose first byte is odd (0x03) when disabled
and even (0x02) when enabled. We read that to say "turned off" and only clear it on an explicit enable.

`winreg` is imported only on win32 (in `RunKey.__init__` when none is given): tests pass a fake module.
"""
from __future__ import annotations

import subprocess

from tray_monitor.autostart import ENTRY_NAME, Autostart, Entry

RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"
APPROVED_KEY = r"Software\Microsoft\Windows\CurrentVersion\Explorer\StartupApproved\Run"


class RunKey:
    """The few registry calls autostart needs, on HKEY_CURRENT_USER (no admin rights needed)."""

    def __init__(self, winreg=None):
        if winreg is None:
            import winreg
        self.winreg = winreg

    def get(self, key_path: str, name: str):
        reg = self.winreg
        try:
            with reg.OpenKey(reg.HKEY_CURRENT_USER, key_path, 0, reg.KEY_QUERY_VALUE) as key:
                value, _type = reg.QueryValueEx(key, name)
                return value
        except FileNotFoundError:  # no such key or no such value
            return None

    def set_string(self, key_path: str, name: str, value: str) -> None:
        reg = self.winreg
        with reg.CreateKeyEx(reg.HKEY_CURRENT_USER, key_path, 0, reg.KEY_SET_VALUE) as key:
            reg.SetValueEx(key, name, 0, reg.REG_SZ, value)

    def delete(self, key_path: str, name: str) -> None:
        reg = self.winreg
        try:
            with reg.OpenKey(reg.HKEY_CURRENT_USER, key_path, 0, reg.KEY_SET_VALUE) as key:
                reg.DeleteValue(key, name)
        except FileNotFoundError:
            pass


def format_command(command: tuple[str, ...]) -> str:
    return f'"{command[0]}"' + ("" if len(command) == 1 else " " + subprocess.list2cmdline(command[1:]))


def parse_command(value: str) -> tuple[str, ...]:
    value = value.strip()
    if value.startswith('"'):
        end = value.find('"', 1)
        program, rest = (value[1:], "") if end < 0 else (value[1:end], value[end + 1:])
    else:
        program, _, rest = value.partition(" ")
    return (program, *rest.split())


class RegistryAutostart(Autostart):
    def __init__(self, env, command=None, registry: RunKey | None = None, **kwargs):
        super().__init__(env, command, **kwargs)
        self.registry = registry or RunKey()
        self.location = f"HKEY_CURRENT_USER\\{RUN_KEY}\\{ENTRY_NAME}"

    def _read(self) -> Entry | None:
        value = self.registry.get(RUN_KEY, ENTRY_NAME)
        if not isinstance(value, str) or not value.strip():
            return None
        approved = self.registry.get(APPROVED_KEY, ENTRY_NAME)
        active = not (isinstance(approved, (bytes, bytearray)) and approved[:1] and approved[0] & 1)
        return Entry(command=parse_command(value), active=active)

    def _write(self, command: tuple[str, ...]) -> None:
        self.registry.set_string(RUN_KEY, ENTRY_NAME, format_command(command))
        # An explicit enable also undoes Task Manager's "Disable" (the value is Explorer's; absent = enabled).
        if self.registry.get(APPROVED_KEY, ENTRY_NAME) is not None:
            self.registry.delete(APPROVED_KEY, ENTRY_NAME)

    def _remove(self) -> None:
        self.registry.delete(RUN_KEY, ENTRY_NAME)
