"""Settings: the user's TOML file plus the menu toggles remembered across restarts.

Two layers, never mixed on disk:
- `settings.toml` in the platform config dir is the user's file. We only read it, never write it.
- `preferences.json` in the platform data dir holds what the tray menu toggled (notifications on or
  off, "Start at login" wanted). It is ours, written atomically with mode 0600, and it wins over the
  TOML for the keys it holds, because the menu click is the user's most recent word.

A missing file means defaults. A bad value means that key's default plus one warning naming the key;
a file that is not TOML means all defaults plus one warning with the line number. Never a crash.
"""
from __future__ import annotations

import json
import math
import os
import re
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised only on 3.10
    import tomli as tomllib

from tray_monitor.schedule import DEFAULT_INTERVAL, MIN_INTERVAL, clamp_interval

if TYPE_CHECKING:
    from tray_monitor.environment import Environment

SETTINGS_FILE = "settings.toml"
PREFERENCES_FILE = "preferences.json"

#: Keys the menu may remember, with the type each must have (None allowed for icon_window only).
PREFERENCE_KEYS: dict[str, tuple[type, ...]] = {
    "notifications": (bool,),
    "autostart": (bool,),  # "Start at login" wanted: lets autostart tell "removed by hand" apart
    "icon_window": (str, type(None)),
    "overflow_hint_shown": (bool,),  # Windows: the "drag me out of the ^ overflow" hint, once
    "accounts": (dict,),  # `claude-tray accounts add NAME DIR`: {name: config folder} (accounts.py)
}

_WINDOW_ID = re.compile(r"^[a-z0-9_]+$")
#: An account's name: typed on the command line and part of a file name (its 429 wait).
ACCOUNT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")
#: The login claude-tray has always read (CLAUDE_CONFIG_DIR, else ~/.claude); no other account may take it.
DEFAULT_ACCOUNT = "default"


@dataclass(frozen=True)
class Settings:
    interval: int = int(DEFAULT_INTERVAL)  # seconds between polls (schedule.DEFAULT_INTERVAL)
    thresholds: tuple[int, ...] = (75, 90, 100)  # percent levels that notify once per window cycle
    notifications: bool = True
    notify_reset: bool = True  # notify when a window that had crossed a threshold resets
    icon_window: str | None = None  # window id the icon shows; None = the binding one
    # More Claude Code logins: (name, config folder as written, `~` not yet expanded); accounts.py
    accounts: tuple[tuple[str, str], ...] = ()
    icon_account: str | None = None  # with several logins, the one the icon shows; None = the binding one
    notify_runout: bool = True  # notify once per cycle when a window is projected to run out early
    runout_lead: int = 30  # ... more than this many minutes before its reset
    runout_within: int = 60  # ... and the run-out is less than this many minutes away


_DEFAULTS = Settings()

#: One line per key for `claude-tray config` and the README.
KEY_HELP = {
    "interval": f"seconds between polls (minimum {MIN_INTERVAL})",
    "thresholds": "percent levels (1..100) that trigger a notification",
    "notifications": "desktop notifications on or off",
    "notify_reset": "notify when a window you were warned about resets",
    "icon_window": 'window shown in the icon: "auto", "five_hour", "seven_day", ...',
    "accounts": 'more logins: [{ name = "work", config_dir = "~/.claude-work" }]',
    "icon_account": 'login shown in the icon: "auto" (the binding one) or an account name',
    "notify_runout": "notify once per cycle when a limit is projected to run out well before its reset",
    "runout_lead": "minutes before the reset the run-out must come to notify (default 30)",
    "runout_within": "minutes ahead the run-out must be to notify (default 60)",
}


def settings_path(env: Environment) -> Path:
    return Path(env.config_dir) / SETTINGS_FILE


def preferences_path(env: Environment) -> Path:
    return Path(env.data_dir) / PREFERENCES_FILE


# ----------------------------------------------------------------------------- validation (pure)


def check_interval(seconds: float, subject: str) -> tuple[int, str | None]:
    """A finite interval the user gave (settings file or --interval, named by `subject`) as whole
    seconds, and the warning it deserves. The floor is schedule.clamp_interval, the one rule."""
    floor = clamp_interval(seconds)
    if floor > seconds:
        # Polling faster gets the token rate-limited (429) by the endpoint's own limiter.
        return int(floor), (
            f"{subject} is below the minimum of {MIN_INTERVAL} seconds "
            f"(the usage endpoint rate-limits fast pollers); using {int(floor)}."
        )
    return int(seconds), None


def _check_interval(value: Any, where: str) -> tuple[Any, str | None]:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return _DEFAULTS.interval, (
            f"{where}: 'interval' must be a number of seconds, got {value!r}; "
            f"using {_DEFAULTS.interval}."
        )
    return check_interval(value, f"{where}: 'interval' = {value!r}")


def _check_thresholds(value: Any, where: str) -> tuple[Any, str | None]:
    default = _DEFAULTS.thresholds
    fallback = f"using {list(default)}."
    if not isinstance(value, list):
        return default, f"{where}: 'thresholds' must be a list like [75, 90, 100]; {fallback}"
    for item in value:
        if isinstance(item, bool) or not isinstance(item, int) or not 1 <= item <= 100:
            return default, (
                f"{where}: 'thresholds' must hold whole percentages from 1 to 100, got {item!r}; "
                f"{fallback}"
            )
    return tuple(sorted(set(value))), None


def _check_bool(key: str) -> Callable[[Any, str], tuple[Any, str | None]]:
    def check(value: Any, where: str) -> tuple[Any, str | None]:
        if not isinstance(value, bool):
            default = getattr(_DEFAULTS, key)
            return default, (
                f"{where}: '{key}' must be true or false, got {value!r}; "
                f"using {str(default).lower()}."
            )
        return value, None

    return check


def _check_icon_window(value: Any, where: str) -> tuple[Any, str | None]:
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "auto")):
        return None, None
    if isinstance(value, str) and _WINDOW_ID.match(value.strip()):
        return value.strip(), None
    return None, (
        f"{where}: 'icon_window' must be \"auto\" or a window id such as \"five_hour\" or "
        f"\"seven_day\", got {value!r}; using \"auto\"."
    )


def _check_accounts(value: Any, where: str) -> tuple[Any, str | None]:
    """[{ name = "work", config_dir = "~/.claude-work" }, ...]; one bad entry means the default
    (no extra logins) and one warning naming it, as for thresholds."""
    entries: list[tuple[str, str]] = []
    problem = None
    if not isinstance(value, list):
        problem = f"must be a list like [{{ name = \"work\", config_dir = \"~/.claude-work\" }}], got {value!r}"
    for entry in value if problem is None else ():
        if not isinstance(entry, dict) or set(entry) != {"name", "config_dir"}:
            problem = f"each entry needs exactly a name and a config_dir, got {entry!r}"
        elif not isinstance(entry["name"], str) or not ACCOUNT_NAME.match(entry["name"]):
            problem = (f"an account name is letters, digits, '.', '_' or '-' (up to 32), "
                       f"got {entry['name']!r}")
        elif entry["name"] == DEFAULT_ACCOUNT or entry["name"] in (n for n, _ in entries):
            problem = f"the account name {entry['name']!r} is taken"
        elif not isinstance(entry["config_dir"], str) or not entry["config_dir"].strip():
            problem = f"config_dir of {entry['name']!r} must be a folder, got {entry['config_dir']!r}"
        else:
            entries.append((entry["name"], entry["config_dir"].strip()))
            continue
        break
    if problem is not None:
        return _DEFAULTS.accounts, f"{where}: 'accounts' {problem}; only the default login is read."
    return tuple(entries), None


def _check_icon_account(value: Any, where: str) -> tuple[Any, str | None]:
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "auto")):
        return None, None
    if isinstance(value, str) and ACCOUNT_NAME.match(value.strip()):
        return value.strip(), None
    return None, f"{where}: 'icon_account' must be \"auto\" or an account's name, got {value!r}; using \"auto\"."


def _check_minutes(key: str, value: Any, where: str) -> tuple[Any, str | None]:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 10080:
        default = getattr(_DEFAULTS, key)
        return default, f"{where}: '{key}' must be whole minutes from 1 to 10080, got {value!r}; using {default}."
    return value, None


_CHECKS = {
    "interval": _check_interval,
    "thresholds": _check_thresholds,
    "notifications": _check_bool("notifications"),
    "notify_reset": _check_bool("notify_reset"),
    "icon_window": _check_icon_window,
    "accounts": _check_accounts,
    "icon_account": _check_icon_account,
    "notify_runout": _check_bool("notify_runout"),
    "runout_lead": lambda value, where: _check_minutes("runout_lead", value, where),
    "runout_within": lambda value, where: _check_minutes("runout_within", value, where),
}


def settings_from_mapping(raw: dict, where: str) -> tuple[dict[str, Any], list[str]]:
    """Validated values for the keys present in `raw` (a parsed TOML document), plus warnings."""
    values: dict[str, Any] = {}
    warnings: list[str] = []
    for key, value in raw.items():
        check = _CHECKS.get(key)
        if check is None:
            warnings.append(
                f"{where}: unknown setting '{key}' is ignored (known settings: {', '.join(_CHECKS)})."
            )
            continue
        checked, warning = check(value, where)
        if warning:
            warnings.append(warning)
            if checked == getattr(_DEFAULTS, key):
                continue  # rejected: the default applies, and `config` should say "default"
        values[key] = checked
    return values, warnings


# ----------------------------------------------------------------------------- the files


def _read_toml(path: Path) -> tuple[dict[str, Any], list[str]]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return {}, []
    except OSError as exc:
        return {}, [f"{path}: cannot be read ({exc.strerror or exc}); using the default settings."]
    try:
        raw = tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        return {}, [f"{path}: is not UTF-8 text; using the default settings."]
    except tomllib.TOMLDecodeError as exc:
        # The message carries "(at line N, column M)": point the user at the line.
        return {}, [f"{path}: is not valid TOML ({exc}); using the default settings."]
    return settings_from_mapping(raw, str(path))


def load_preferences(env: Environment) -> tuple[dict[str, Any], list[str]]:
    """The menu toggles remembered so far. A corrupt file is ignored with one warning."""
    path = preferences_path(env)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}, []
    except (OSError, UnicodeDecodeError, ValueError):
        return {}, [f"{path}: unreadable, the remembered menu choices are ignored (delete the file to reset it)."]
    if not isinstance(raw, dict):
        return {}, [f"{path}: unreadable, the remembered menu choices are ignored (delete the file to reset it)."]
    prefs = {
        key: value
        for key, value in raw.items()
        if key in PREFERENCE_KEYS and isinstance(value, PREFERENCE_KEYS[key])
    }
    return prefs, []


def save_preference(env: Environment, key: str, value: Any) -> None:
    """Remember one menu toggle. Atomic (temp file + os.replace) so a crash never leaves half a file."""
    if key not in PREFERENCE_KEYS:
        raise ValueError(f"unknown preference {key!r}")
    if not isinstance(value, PREFERENCE_KEYS[key]):
        raise TypeError(f"preference {key!r} cannot be {value!r}")
    prefs, _ = load_preferences(env)
    prefs[key] = value
    path = preferences_path(env)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_private_file(path, json.dumps(prefs, indent=2, sort_keys=True) + "\n")


def write_private_file(path: Path, text: str) -> None:
    """Write `text` to `path` atomically, readable by the owner only (0600)."""
    fd, tmp = tempfile.mkstemp(dir=str(path.parent), prefix=f".{path.name}.", suffix=".tmp")
    try:
        if hasattr(os, "fchmod"):  # not on Windows, where the profile directory is private anyway
            os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _layers(env: Environment) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    toml_values, warnings = _read_toml(settings_path(env))
    prefs, pref_warnings = load_preferences(env)
    pref_values: dict[str, Any] = {key: prefs[key] for key in ("notifications", "icon_window") if key in prefs}
    if "icon_window" in pref_values:
        pref_values["icon_window"], warning = _check_icon_window(
            pref_values["icon_window"], str(preferences_path(env))
        )
        if warning:
            warnings.append(warning)
            del pref_values["icon_window"]
    return toml_values, pref_values, warnings + pref_warnings


def load_settings(env: Environment) -> tuple[Settings, list[str]]:
    """Settings from the TOML file with the menu's remembered toggles on top, and any warnings."""
    toml_values, pref_values, warnings = _layers(env)
    return Settings(**{**toml_values, **pref_values}), warnings


def _toml_value(value: Any) -> str:
    if value is None:
        return '"auto"'
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, tuple):
        return "[" + ", ".join(
            f"{{ name = {json.dumps(v[0])}, config_dir = {json.dumps(v[1])} }}" if isinstance(v, tuple) else str(v)
            for v in value) + "]"
    if isinstance(value, str):
        return json.dumps(value)
    return str(value)


def format_config(env: Environment, settings: Settings, warnings: list[str]) -> str:
    """What `claude-tray config` prints: where the file is, each effective value and where it came from."""
    path = settings_path(env)
    toml_values, pref_values, _ = _layers(env)
    lines = [f"settings file: {path} ({'exists' if path.exists() else 'not created; all defaults'})"]
    lines.append(f"menu choices:  {preferences_path(env)}")
    lines.append("")
    width = max(len(f.name) for f in fields(Settings))
    for f in fields(Settings):
        value = getattr(settings, f.name)
        if f.name in pref_values:
            source = "set from the menu"
        elif f.name in toml_values:
            source = "settings.toml"
        else:
            source = "default"
        lines.append(f"{f.name.ljust(width)} = {_toml_value(value):<16} # {source}; {KEY_HELP[f.name]}")
    if warnings:
        lines.append("")
        lines.extend(f"warning: {w}" for w in warnings)
    return "\n".join(lines) + "\n"
