"""An account's Claude Code folder by its name, for `claude-tray statusline --account NAME` (fast).

The statusline runs on every turn of Claude Code: settings.py and accounts.py would cost it about
40 ms of imports. This reads the same two lists, settings.toml's `accounts` and preferences.json's
(`accounts add`), with `json`, `os`, `re` and `tomllib` only (tomllib, about 5 ms, only when
settings.toml mentions `accounts`), by the rules of `accounts.load_accounts`: a bad `accounts`
list in settings.toml counts as none, an added entry that is malformed or repeats a name or a
folder is left out.
`tests/test_account_lookup.py` holds the two equal on generated files.
"""
from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Mapping

from tray_monitor import runtime

#: settings.ACCOUNT_NAME and settings.DEFAULT_ACCOUNT (the tests keep them equal).
ACCOUNT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")
DEFAULT_ACCOUNT = "default"
SETTINGS_FILE = "settings.toml"
PREFERENCES_FILE = "preferences.json"


class UnknownAccount(Exception):
    """`--account NAME` names no account: one sentence for the user, naming those there are."""


def account_folder(name: str, environ: Mapping[str, str], platform: str | None = None) -> str:
    """The folder (a real path, as the tray compares them) of account `name`; UnknownAccount else."""
    folders = account_folders(environ, platform or sys.platform)
    if name not in folders:
        raise UnknownAccount(f"there is no account {name!r}: the accounts are {', '.join(folders)}")
    return folders[name]


def account_folders(environ: Mapping[str, str], platform: str) -> dict[str, str]:
    """Every account's folder by name, the default first, in `claude-tray accounts` order."""
    home = environ.get("HOME") or os.path.expanduser("~")
    found = {DEFAULT_ACCOUNT: _default_folder(environ, home)}
    for name, text in _settings_accounts(os.path.join(runtime.user_config_dir(environ, platform), SETTINGS_FILE)):
        folder = _expand(text, home)
        if name not in found and not _clashes(folder, found):
            found[name] = folder
    for name, value in _added_accounts(os.path.join(runtime.user_data_dir(environ, platform), PREFERENCES_FILE)):
        if name not in found and not _clashes(value, found):
            found[name] = value
    folders = {name: os.path.realpath(folder) for name, folder in found.items()}
    folders[DEFAULT_ACCOUNT] = runtime.claude_config_dir(environ)  # the statusline's rule for its own login
    return folders


def _default_folder(environ: Mapping[str, str], home: str) -> str:
    """credentials.credentials_file's folder: $CLAUDE_SECURESTORAGE_CONFIG_DIR, else $CLAUDE_CONFIG_DIR
    (either set but empty: ~/.claude), else ~/.claude."""
    for variable in ("CLAUDE_SECURESTORAGE_CONFIG_DIR", "CLAUDE_CONFIG_DIR"):
        if variable in environ:
            if not environ[variable]:
                break
            return os.path.expanduser(environ[variable])
    return os.path.join(home, ".claude")


def _expand(text: str, home: str) -> str:
    """accounts.expand_folder: `~` is the environment's home."""
    if text == "~" or text.startswith(("~/", "~" + os.sep)):
        return os.path.join(home, text[2:])
    return text


def _clashes(folder: str, found: dict[str, str]) -> bool:
    mine = os.path.normcase(os.path.normpath(folder))
    return any(os.path.normcase(os.path.normpath(other)) == mine for other in found.values())


def _settings_accounts(path: str) -> list[tuple[str, str]]:
    """settings.toml's `accounts`, all or none (settings._check_accounts)."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError:
        return []
    if b"accounts" not in data:  # no list there (logins added with `accounts add` only): no TOML parser
        return []
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised only on 3.10
        import tomli as tomllib
    try:
        value = tomllib.loads(data.decode("utf-8")).get("accounts", [])
    except (UnicodeDecodeError, tomllib.TOMLDecodeError):
        return []
    if not isinstance(value, list):
        return []
    entries: list[tuple[str, str]] = []
    for entry in value:
        if not isinstance(entry, dict) or set(entry) != {"name", "config_dir"}:
            return []
        name, folder = entry["name"], entry["config_dir"]
        if not isinstance(name, str) or not ACCOUNT_NAME.match(name) or name == DEFAULT_ACCOUNT \
                or name in (n for n, _ in entries) or not isinstance(folder, str) or not folder.strip():
            return []
        entries.append((name, folder.strip()))
    return entries


def _added_accounts(path: str) -> list[tuple[str, str]]:
    """preferences.json's `accounts` ({name: absolute folder}); an unreadable file holds none."""
    try:
        with open(path, encoding="utf-8") as handle:
            raw = json.load(handle)
    except (OSError, UnicodeDecodeError, ValueError):
        return []
    added = raw.get("accounts") if isinstance(raw, dict) else None
    if not isinstance(added, dict):
        return []
    return [(name, value) for name, value in added.items()
            if ACCOUNT_NAME.match(name) and isinstance(value, str) and os.path.isabs(value)]
