"""Linux and the BSDs: an XDG autostart entry, `$XDG_CONFIG_HOME/autostart/claude-tray.desktop`.

The entry follows the Desktop Entry Specification 1.5: `Exec` arguments with reserved characters are
double-quoted with `"` `` ` `` `$` `\\` backslash-escaped, `%` is written `%%`, and the value as a
whole then gets the string escapes (`\\\\`). `_read` undoes exactly that.

The start delay: `X-GNOME-Autostart-Delay` is honoured only by GNOME, while KDE starts autostart
programs before its panel is up. So the delay is in the command itself, for every desktop:
`sh -c "sleep 5; exec \\"$0\\" \\"$@\\"" /path/to/claude-tray` (the program is passed as `$0`, so
its path never has to be quoted inside a shell string). No X-GNOME delay on top, or GNOME would wait 10 s.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from tray_monitor.autostart import ENTRY_NAME, Autostart, Entry, launch_workdir
from tray_monitor.settings import write_private_file

#: Seconds to wait at login so the panel (the tray host) is up before the icon asks to dock.
START_DELAY = 5

_RESERVED = set(" \t\n\"'\\><~|&;$*?#()`")
_ESCAPED_IN_QUOTES = set('"`$\\')
_SHELL_WRAPPER = "sleep {delay}; exec \"$0\" \"$@\""


def autostart_dir(env) -> Path:
    """`$XDG_CONFIG_HOME/autostart`; the spec says to ignore a relative XDG_CONFIG_HOME."""
    config_home = env.environ.get("XDG_CONFIG_HOME", "")
    base = Path(config_home) if os.path.isabs(config_home) else Path(env.home) / ".config"
    return base / "autostart"


def quote_exec_arg(arg: str) -> str:
    arg = arg.replace("%", "%%")  # a lone % would be read as a field code (%f, %u, ...)
    if arg and not (_RESERVED & set(arg)):
        return arg
    return '"' + "".join("\\" + c if c in _ESCAPED_IN_QUOTES else c for c in arg) + '"'


def escape_value(value: str) -> str:
    return (
        value.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")
    )


def unescape_value(value: str) -> str:
    out, i = [], 0
    while i < len(value):
        c = value[i]
        if c == "\\" and i + 1 < len(value):
            out.append({"s": " ", "n": "\n", "t": "\t", "r": "\r", "\\": "\\"}.get(value[i + 1], value[i + 1]))
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def split_exec(exec_value: str) -> tuple[str, ...]:
    """An unescaped Exec value into arguments, dropping field codes (%f, %U, ...)."""
    args: list[str] = []
    current: list[str] | None = None
    quoted = False
    i = 0
    while i < len(exec_value):
        c = exec_value[i]
        if quoted:
            assert current is not None  # an opening quote starts an argument
            if c == "\\" and i + 1 < len(exec_value) and exec_value[i + 1] in _ESCAPED_IN_QUOTES:
                current.append(exec_value[i + 1])
                i += 1
            elif c == '"':
                quoted = False
            else:
                current.append(c)
        elif c == '"':
            quoted = True
            current = current if current is not None else []
        elif c in " \t":
            if current is not None:
                args.append("".join(current))
                current = None
        else:
            current = (current if current is not None else []) + [c]
        i += 1
    if current is not None:
        args.append("".join(current))
    result = []
    for arg in args:
        if len(arg) == 2 and arg[0] == "%" and arg[1] != "%":
            continue  # a field code: we never write one, a user might
        result.append(arg.replace("%%", "%"))
    return tuple(result)


def read_desktop_entry(text: str) -> dict[str, str]:
    """The keys of the [Desktop Entry] group, values unescaped (localised keys kept as written)."""
    group = None
    keys: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            group = line[1:-1]
            continue
        if group == "Desktop Entry" and "=" in line:
            key, value = line.split("=", 1)
            keys.setdefault(key.strip(), unescape_value(value.strip()))
    return keys


class XdgAutostart(Autostart):
    def __init__(self, env, command=None, delay: int = START_DELAY, icon: str | None = None, **kwargs):
        super().__init__(env, command, **kwargs)
        self.delay = delay
        self.path = autostart_dir(env) / f"{ENTRY_NAME}.desktop"
        self.location = str(self.path)
        self.icon = icon or _default_icon()

    def exec_args(self, command: tuple[str, ...]) -> tuple[str, ...]:
        if self.delay <= 0:
            return command
        return ("sh", "-c", _SHELL_WRAPPER.format(delay=int(self.delay))) + command

    def render(self, command: tuple[str, ...]) -> str:
        exec_line = " ".join(quote_exec_arg(a) for a in self.exec_args(command))
        lines = [
            "[Desktop Entry]",
            "Type=Application",
            "Version=1.5",
            "Name=Claude Tray",
            "Comment=Claude Code usage limits in the system tray",
            f"Exec={escape_value(exec_line)}",
            # Desktops skip an entry whose TryExec is gone: a moved app gives no error at login.
            f"TryExec={escape_value(command[0])}",
            f"Icon={escape_value(self.icon)}",
            "Terminal=false",
            "StartupNotify=false",
            "Categories=Utility;",
            "X-GNOME-Autostart-enabled=true",
        ]
        workdir = launch_workdir(command)
        if workdir:
            lines.append(f"Path={escape_value(workdir)}")
        return "\n".join(lines) + "\n"

    def _read(self) -> Entry | None:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except UnicodeDecodeError:
            text = self.path.read_text(encoding="utf-8", errors="replace")
        keys = read_desktop_entry(text)
        args = split_exec(keys.get("Exec", ""))
        if len(args) >= 4 and os.path.basename(args[0]) == "sh" and args[1] == "-c":
            args = args[3:]  # our delay wrapper: the program is $0
        # GNOME's startup settings turn an entry off with X-GNOME-Autostart-enabled=false; Hidden=true
        # means "deleted" for every desktop. Either way the user said no: respect it.
        active = (
            keys.get("Hidden", "false").lower() != "true"
            and keys.get("X-GNOME-Autostart-enabled", "true").lower() != "false"
        )
        return Entry(command=args, active=active)

    def _target_exists(self, program: str) -> bool:
        if not os.path.isabs(program):  # a hand-edited entry may name a program on PATH
            return shutil.which(program) is not None
        return self._exists(program)

    def _write(self, command: tuple[str, ...]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_private_file(self.path, self.render(command))

    def _remove(self) -> None:
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass


def _default_icon() -> str:
    """The app icon shipped in the package when there is one, else an icon theme name."""
    assets = Path(__file__).resolve().parent.parent / "assets"
    for name in ("claude-tray.svg", "claude-tray.png", "claude-tray-256.png"):
        if (assets / name).is_file():
            return str(assets / name)
    return ENTRY_NAME
