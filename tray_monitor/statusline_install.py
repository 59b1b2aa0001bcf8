"""`claude-tray statusline install | uninstall`: point Claude Code's `statusLine` at claude-tray.

Only on that explicit command. Claude Code's `settings.json` ($CLAUDE_CONFIG_DIR, else ~/.claude)
is the user's file, so:
- every other key and the key order stay as they were (JSON objects keep their order here);
- an existing statusLine command is kept and chained: ours runs it through `--then`, so its line
  still shows after ours; `uninstall` puts the previous statusLine back exactly (it is remembered
  in claude-tray's data folder, and recovered from `--then` if that record is gone);
- a timestamped copy of the file is written next to it before any change, then the new content is
  written atomically (temporary file in the same folder, then rename) with the file's own mode;
- a file that is not a JSON object, is read-only, or sits in a folder we cannot write is refused
  with one sentence, and left untouched. Credentials are never read or touched.
"""
from __future__ import annotations

import json
import os
import shlex
import shutil
import stat
import sys
import time
from collections.abc import Mapping
from pathlib import Path

SETTINGS_FILE = "settings.json"
RECORD_FILE = "statusline-install.json"  # in claude-tray's data folder: what install replaced
BACKUP_SUFFIX = ".claude-tray-backup-"


class Refused(Exception):
    """One sentence for the user; nothing was written."""


def claude_settings_path(environ: Mapping[str, str], home: Path) -> Path:
    config_dir = environ.get("CLAUDE_CONFIG_DIR")
    return (Path(config_dir) if config_dir else home / ".claude") / SETTINGS_FILE


def our_command(options: list[str], environ: Mapping[str, str]) -> str:
    """The command line Claude Code will run: this installation's `claude-tray statusline`."""
    if getattr(sys, "frozen", False):  # the PyInstaller binary is the program itself
        program = [sys.executable]
    else:
        found = shutil.which("claude-tray", path=environ.get("PATH"))
        program = [found] if found else [sys.executable, "-m", "tray_monitor"]
    return " ".join(shlex.quote(part) for part in [*program, "statusline", *options])


def is_ours(command: object) -> bool:
    if not isinstance(command, str):
        return False
    try:
        words = shlex.split(command)
    except ValueError:
        return False
    if "statusline" not in words:
        return False
    head = words[: words.index("statusline")]
    return any(Path(w).name in ("claude-tray", "claude-tray.exe") or w == "tray_monitor" for w in head)


def chained_command(command: str) -> str | None:
    """The --then argument of one of our commands (the statusLine that was there before)."""
    try:
        words = shlex.split(command)
    except ValueError:
        return None
    for index, word in enumerate(words):
        if word == "--then" and index + 1 < len(words):
            return words[index + 1]
        if word.startswith("--then="):
            return word[len("--then="):]
    return None


# ----------------------------------------------------------------------------- file handling


def read_settings(path: Path) -> dict:
    """The settings object ({} when the file does not exist yet); Refused when unusable."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as error:
        raise Refused(f"Cannot read {path} ({error.strerror or error}); nothing was changed.") from None
    except UnicodeDecodeError:
        raise Refused(f"{path} is not UTF-8 text; nothing was changed.") from None
    if not text.strip():
        return {}
    try:
        settings = json.loads(text)
    except ValueError as error:
        raise Refused(f"{path} is not valid JSON ({error}); fix it or move it away, nothing was changed.") from None
    if not isinstance(settings, dict):
        raise Refused(f"{path} holds a JSON {type(settings).__name__}, not an object; nothing was changed.")
    return settings


def check_writable(path: Path) -> None:
    folder = path.parent
    if path.exists():
        mode = path.stat().st_mode
        # The mode bits, not os.access: root may write anything, but a read-only file is a wish.
        if not mode & stat.S_IWUSR or not os.access(path, os.W_OK):
            raise Refused(f"{path} is read-only; nothing was changed.")
    if folder.exists() and not os.access(folder, os.W_OK):
        raise Refused(f"Cannot write in {folder}; nothing was changed.")


def backup(path: Path, now: float) -> Path | None:
    if not path.exists():
        return None
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    target = path.with_name(f"{path.name}{BACKUP_SUFFIX}{stamp}")
    counter = 1
    while target.exists():  # two changes in one second keep both copies
        target = path.with_name(f"{path.name}{BACKUP_SUFFIX}{stamp}-{counter}")
        counter += 1
    shutil.copy2(path, target)
    return target


def write_atomic(path: Path, text: str) -> None:
    mode = stat.S_IMODE(path.stat().st_mode) if path.exists() else 0o600
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.claude-tray-{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise


def dump(settings: dict) -> str:
    # Claude Code writes two-space indented JSON; keep non-ASCII as it is.
    return json.dumps(settings, indent=2, ensure_ascii=False) + "\n"


# ----------------------------------------------------------------------------- install / uninstall (pure)


def installed(settings: dict, our: str) -> tuple[dict, object, bool]:
    """(new settings, the statusLine replaced or None, changed?). The statusLine keeps its place."""
    previous = settings.get("statusLine")
    if isinstance(previous, dict) and is_ours(previous.get("command")):
        return settings, None, False
    command = our
    if isinstance(previous, dict) and isinstance(previous.get("command"), str) and previous["command"].strip():
        command += " --then " + shlex.quote(previous["command"])
    entry: dict = {"type": "command", "command": command}
    if isinstance(previous, dict) and "padding" in previous:
        entry["padding"] = previous["padding"]
    new = dict(settings)
    new["statusLine"] = entry  # an existing key is updated in place: the order stays
    return new, previous, True


def uninstalled(settings: dict, record: dict | None) -> tuple[dict, bool]:
    """(new settings, changed?); Refused when the statusLine is not ours any more."""
    current = settings.get("statusLine")
    if current is None:
        return settings, False
    if not isinstance(current, dict) or not is_ours(current.get("command")):
        raise Refused("Claude Code's statusLine is not claude-tray's (it was changed since install); "
                      "left as it is.")
    new = dict(settings)
    if record is not None and "previous" in record:
        previous = record["previous"]
    else:
        then = chained_command(current["command"])
        previous = {"type": "command", "command": then} if then else None
    if previous is None:
        del new["statusLine"]
    else:
        new["statusLine"] = previous
    return new, True


# ----------------------------------------------------------------------------- the command


def _record_path(environ: Mapping[str, str]) -> Path:
    from tray_monitor.environment import Environment

    return Path(Environment.from_os(environ).data_dir) / RECORD_FILE


def _load_record(path: Path) -> dict | None:
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def main(action: str, argv: list[str], stdout, stderr, environ: Mapping[str, str]) -> int:
    from tray_monitor.statusline import OptionError, parse_options

    home = Path(environ.get("HOME") or Path.home())
    path = claude_settings_path(environ, home)
    try:
        if action == "install":
            try:
                options = parse_options(argv)
            except OptionError as error:
                raise Refused(f"{error}; nothing was changed.") from None
            if options.then is not None:
                raise Refused("--then is set by install itself from the statusLine already there; "
                              "nothing was changed.")
            passed = []
            if options.color != "auto":
                passed += ["--color", options.color]
            if options.width != 60:
                passed += ["--width", str(options.width)]
            return _install(path, passed, stdout, environ)
        if argv:
            raise Refused(f"uninstall takes no options, got {' '.join(argv)!r}; nothing was changed.")
        return _uninstall(path, stdout, environ)
    except Refused as refused:
        stderr.write(f"claude-tray: {refused}\n")
        return 1
    except OSError as error:
        stderr.write(f"claude-tray: could not write {path} ({error.strerror or error}); "
                     "the file is as it was.\n")
        return 1


def _install(path: Path, options: list[str], stdout, environ) -> int:
    settings = read_settings(path)
    new, previous, changed = installed(settings, our_command(options, environ))
    if not changed:
        stdout.write(f"claude-tray statusline is already Claude Code's statusLine in {path}.\n")
        return 0
    check_writable(path)
    saved = backup(path, time.time())
    record = _record_path(environ)
    record.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(record, json.dumps({"settings": str(path), "previous": previous}))
    write_atomic(path, dump(new))
    stdout.write(f"Claude Code's statusLine in {path} now runs `claude-tray statusline`"
                 + (" (then the previous one)" if previous is not None else "") + ".\n")
    if saved is not None:
        stdout.write(f"The previous file is saved as {saved}.\n")
    return 0


def _uninstall(path: Path, stdout, environ) -> int:
    settings = read_settings(path)
    record_path = _record_path(environ)
    record = _load_record(record_path)
    if record is not None and record.get("settings") != str(path):
        record = None  # installed into another config dir: recover from --then instead
    new, changed = uninstalled(settings, record)
    if not changed:
        stdout.write(f"Claude Code has no statusLine in {path}; nothing to undo.\n")
        return 0
    check_writable(path)
    saved = backup(path, time.time())
    write_atomic(path, dump(new))
    try:
        record_path.unlink()
    except OSError:
        pass
    restored = "the previous statusLine is back" if "statusLine" in new else "no statusLine is set"
    stdout.write(f"Removed claude-tray from Claude Code's statusLine in {path}; {restored}.\n")
    if saved is not None:
        stdout.write(f"The previous file is saved as {saved}.\n")
    return 0
