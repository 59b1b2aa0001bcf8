"""Several Claude Code logins, one per config folder (Claude Code's `CLAUDE_CONFIG_DIR`).

The default account is the login claude-tray has always read (`$CLAUDE_CONFIG_DIR`, else
`~/.claude`, and the environment token). More come from `accounts = [...]` in settings.toml and
from `claude-tray accounts add NAME DIR` (kept in preferences.json, 0600). Offer, never assume:
folders `~/.claude*` that hold a login are only listed (`accounts --discover`), never added.

Each account's `CredentialStore` is the ordinary one given an environment whose `CLAUDE_CONFIG_DIR`
is the account's folder, so the file path and the macOS Keychain's hashed service name are the
ones Claude Code uses for that folder. Tokens stay where Claude Code keeps them: read, never
copied, never refreshed. The label is the folder's own `.claude.json` `oauthAccount` (read-only).

Pure half: `merge_accounts`, `label_from_claude_json`, `suggested_name`. Shell half: the rest.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from tray_monitor.credentials import CredentialStore
from tray_monitor.errors import CredentialsNotFound, FolderMissing
from tray_monitor.settings import ACCOUNT_NAME, DEFAULT_ACCOUNT

if TYPE_CHECKING:
    from tray_monitor.environment import Environment
    from tray_monitor.model import Credentials
    from tray_monitor.settings import Settings

Origin = Literal["default", "settings", "added"]

#: Variables that name the default login only: another account's environment goes without them
#: (the environment token would otherwise be sent as every account's).
_DEFAULT_ONLY = ("CLAUDE_CODE_OAUTH_TOKEN", "CLAUDE_CODE_OAUTH_SCOPES", "CLAUDE_SECURESTORAGE_CONFIG_DIR")
CONFIG_DIR_VARIABLE = "CLAUDE_CONFIG_DIR"
CLAUDE_JSON = ".claude.json"
#: `.claude.json` also holds Claude Code's project history; a label is not worth reading more.
CLAUDE_JSON_LIMIT = 32 * 1024 * 1024


@dataclass(frozen=True)
class Account:
    name: str
    config_dir: Path
    origin: Origin

    @property
    def is_default(self) -> bool:
        return self.origin == "default"


# ----------------------------------------------------------------------------- pure half


def merge_accounts(default_dir: Path, configured: Iterable[tuple[str, Path]], added: Mapping[str, object],
                   where_added: str) -> tuple[list[Account], list[str]]:
    """The default account, then settings.toml's (already checked), then the added ones. An added
    entry that is malformed, or repeats a name or a folder, is left out with one warning each."""
    accounts = [Account(DEFAULT_ACCOUNT, default_dir, "default")]
    warnings: list[str] = []

    def clash(name: str, folder: Path) -> str | None:
        for other in accounts:
            if other.name == name:
                return f"the name {name!r} is taken"
            if _same_folder(other.config_dir, folder):
                return f"{folder} is already read as account {other.name!r}"
        return None

    for name, folder in configured:
        problem = clash(name, folder)
        if problem:
            warnings.append(f"settings.toml: account {name!r} is ignored: {problem}.")
            continue
        accounts.append(Account(name, folder, "settings"))
    for name, value in added.items():
        if not ACCOUNT_NAME.match(name) or not isinstance(value, str) or not Path(value).is_absolute():
            warnings.append(f"{where_added}: account entry {name!r} is not a name and a folder; ignored.")
            continue
        problem = clash(name, Path(value))
        if problem:
            warnings.append(f"{where_added}: account {name!r} is ignored: {problem}.")
            continue
        accounts.append(Account(name, Path(value), "added"))
    return accounts, warnings


def _same_folder(a: Path, b: Path) -> bool:
    return os.path.normcase(os.path.normpath(a)) == os.path.normcase(os.path.normpath(b))


def label_from_claude_json(raw: bytes) -> str | None:
    """`oauthAccount`'s email address, else its organisation name; None when there is neither."""
    try:
        payload = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None  # Claude Code may be halfway through rewriting it
    account = payload.get("oauthAccount") if isinstance(payload, dict) else None
    if not isinstance(account, dict):
        return None
    for key in ("emailAddress", "organizationName"):
        value = account.get(key)
        if isinstance(value, str) and value.strip() and value.isprintable():
            return value.strip()
    return None


def suggested_name(folder: Path) -> str:
    """`~/.claude-work` -> "work"; what `accounts --discover` proposes to `accounts add`."""
    name = folder.name.removeprefix(".claude").lstrip("-_.") or folder.name.lstrip(".")
    name = "".join(c if c.isalnum() or c in "._-" else "-" for c in name)[:32]
    return name if ACCOUNT_NAME.match(name) and name != DEFAULT_ACCOUNT else "other"


# ----------------------------------------------------------------------------- shell half


def default_config_dir(env: Environment) -> Path:
    """Where the default login is (the credentials module's rule: $CLAUDE_CONFIG_DIR, else ~/.claude)."""
    from tray_monitor.credentials import credentials_file

    return credentials_file(env).parent


def expand_folder(text: str, env: Environment) -> Path:
    """`~` is the user's home (the environment's, so tests never see the real one)."""
    if text == "~" or text.startswith(("~/", "~" + os.sep)):
        return Path(env.home) / text[2:]
    return Path(text)


def load_accounts(env: Environment, settings: Settings | None = None) -> tuple[list[Account], list[str]]:
    """Every account, the default first, and the warnings (settings.toml's own are the settings').
    `settings`: read afresh (a running tray re-reading its files), else the environment's."""
    from tray_monitor.settings import load_preferences, preferences_path

    if settings is None:
        settings, _ = env.loaded_settings
    configured = [(name, expand_folder(folder, env)) for name, folder in settings.accounts]
    prefs, _ = load_preferences(env)
    added = prefs.get("accounts", {})
    return merge_accounts(default_config_dir(env), configured, added, str(preferences_path(env)))


def account_env(env: Environment, account: Account) -> Environment:
    """The environment Claude Code runs in for this account: CLAUDE_CONFIG_DIR set to its folder."""
    if account.is_default:
        return env
    environ = {k: v for k, v in env.environ.items() if k not in _DEFAULT_ONLY}
    environ[CONFIG_DIR_VARIABLE] = str(account.config_dir)
    return dataclasses.replace(env, environ=environ)


def credential_store(env: Environment, account: Account, **keychain: Any) -> CredentialStore:
    """`keychain`: CredentialStore's `run` and `security_path` (tests hand in a fake `security`).
    Another login's store tells a folder that is gone (FolderMissing) from one without a login."""
    if account.is_default:
        return CredentialStore(env, **keychain)
    return AccountStore(account_env(env, account), account.config_dir, _folder_gone(env, account), **keychain)


class AccountStore(CredentialStore):
    """The credential store of a login other than the default one (its own CLAUDE_CONFIG_DIR)."""

    def __init__(self, env: Environment, folder: Path, gone: str, **keychain: Any):
        super().__init__(env, **keychain)
        self._folder = folder
        self._gone = gone  # the FolderMissing sentence

    def load(self) -> Credentials:
        try:
            return super().load()
        except CredentialsNotFound:
            if not _is_folder(self._folder):
                raise FolderMissing(self._gone) from None
            raise


def _folder_gone(env: Environment, account: Account) -> str:
    where = display_path(env, account.config_dir)
    stop = (f"claude-tray accounts remove {account.name}" if account.origin == "added"
            else f"take account {account.name!r} out of settings.toml")
    return f"{where} does not exist — log in there with {claude_command(env, account)}, or stop reading it: {stop}"


def _is_folder(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:  # an unreadable parent is not "gone": the store's own error says more
        return True


def claude_command(env: Environment, account: Account | None) -> str:
    """How this login is logged in again (login_command.py): `claude` for the default one."""
    from tray_monitor.login_command import login_command

    folder = None if account is None or account.is_default else str(account.config_dir)
    return login_command(folder, str(env.home), env.platform)


def claude_json_path(env: Environment, account: Account) -> Path:
    """Claude Code's own settings file for the folder: $CLAUDE_CONFIG_DIR/.claude.json, else ~/.claude.json."""
    if account.is_default and not env.environ.get(CONFIG_DIR_VARIABLE):
        return Path(env.home) / CLAUDE_JSON
    return account.config_dir / CLAUDE_JSON


def folder_key(account: Account) -> str:
    """8 hex digits naming the login's folder in file names (its 429 wait, alert memory, history)."""
    return hashlib.sha256(os.fsencode(os.path.normpath(account.config_dir))).hexdigest()[:8]


def account_file(path: Path, account: Account | None) -> Path:
    """One of claude-tray's files for this login: the file itself for the default login (nothing
    changes for a single login), else `<stem>-<folder key><suffix>` beside it."""
    if account is None or account.is_default:
        return path
    return path.with_name(f"{path.stem}-{folder_key(account)}{path.suffix}")


def account_label(env: Environment, account: Account) -> str:
    """The login's email or organisation as Claude Code recorded it, else the account's name."""
    try:
        with open(claude_json_path(env, account), "rb") as handle:
            raw = handle.read(CLAUDE_JSON_LIMIT + 1)
    except OSError:
        return account.name
    if len(raw) > CLAUDE_JSON_LIMIT:
        return account.name
    return label_from_claude_json(raw) or account.name


@dataclass(frozen=True)
class LoginState:
    state: str  # "logged in", "expired", "not logged in", "folder missing", "cannot read usage", "unreadable"
    plan: str | None
    ok: bool


def login_state(store: CredentialStore, now: datetime) -> LoginState:
    from tray_monitor.credentials import check_usable, plan_label
    from tray_monitor.errors import AuthExpired, MonitorError, ScopeMissing

    try:
        creds: Credentials = store.load()
    except FolderMissing:
        return LoginState("folder missing", None, False)
    except CredentialsNotFound:
        return LoginState("not logged in", None, False)
    except MonitorError:
        return LoginState("unreadable", None, False)
    plan = plan_label(creds)
    try:
        check_usable(creds, now)
    except AuthExpired:
        return LoginState("expired", plan, False)
    except ScopeMissing:
        return LoginState("cannot read usage", plan, False)
    return LoginState("logged in", plan, True)


def holds_login(env: Environment, folder: Path) -> bool:
    """Whether Claude Code has a login for this folder (its file, or on macOS its Keychain item)."""
    from tray_monitor.errors import MonitorError

    try:
        credential_store(env, Account("candidate", folder, "added")).load()
    except MonitorError:
        return False
    return True


def discover(env: Environment, accounts: list[Account]) -> list[Path]:
    """Folders `~/.claude*` holding a login that no account reads yet: candidates, never added."""
    try:
        folders = sorted(p for p in Path(env.home).glob(".claude*") if p.is_dir())
    except OSError:
        return []
    return [folder for folder in folders
            if not any(_same_folder(folder, a.config_dir) for a in accounts) and holds_login(env, folder)]


def display_path(env: Environment, path: Path) -> str:
    try:
        return "~/" + path.relative_to(Path(env.home)).as_posix()
    except ValueError:
        return str(path)


class AccountProblem(Exception):
    """`accounts add` or `remove` refused: one sentence for the user."""


def add_account(env: Environment, name: str, folder_text: str) -> Account:
    """Record an account in preferences.json (0600); the folder must exist. Returns it."""
    from tray_monitor.settings import load_preferences, save_preference

    if not ACCOUNT_NAME.match(name):
        raise AccountProblem(f"{name!r} cannot be an account name: use letters, digits, '.', '_' or '-' (up to 32).")
    folder = expand_folder(folder_text, env)
    if not folder.is_absolute():
        folder = Path(os.path.abspath(folder))
    if not folder.is_dir():
        raise AccountProblem(f"{folder} is not a folder: give the folder Claude Code uses as CLAUDE_CONFIG_DIR.")
    accounts, _ = load_accounts(env)
    for other in accounts:
        if other.name == name:
            raise AccountProblem(f"The account name {name!r} is taken; choose another or remove that one first.")
        if _same_folder(other.config_dir, folder):
            raise AccountProblem(f"{display_path(env, folder)} is already read as account {other.name!r}.")
    added = dict(load_preferences(env)[0].get("accounts", {}))
    added[name] = str(folder)
    save_preference(env, "accounts", added)
    return Account(name, folder, "added")


def remove_account(env: Environment, name: str) -> Account:
    from tray_monitor.settings import load_preferences, save_preference, settings_path

    accounts, _ = load_accounts(env)
    found = next((a for a in accounts if a.name == name), None)
    if found is None:
        raise AccountProblem(f"There is no account {name!r} (`claude-tray accounts` lists them).")
    if found.is_default:
        raise AccountProblem("The default login cannot be removed: it is the one Claude Code uses without "
                             "CLAUDE_CONFIG_DIR.")
    if found.origin == "settings":
        raise AccountProblem(f"Account {name!r} is listed in {settings_path(env)}: remove it there.")
    added = dict(load_preferences(env)[0].get("accounts", {}))
    added.pop(name, None)
    save_preference(env, "accounts", added)
    return found


# ----------------------------------------------------------------------------- `claude-tray accounts`

_ORIGIN_TEXT = {"default": "default", "settings": "settings.toml", "added": "accounts add"}


def account_table(env: Environment, accounts: list[Account]) -> list[str]:
    """One row per account: name, label, plan, login state, folder, where it was listed."""
    now = env.clock.now()
    rows = [("NAME", "LABEL", "PLAN", "LOGIN", "FOLDER", "FROM")]
    for account in accounts:
        state = login_state(credential_store(env, account), now)
        rows.append((account.name, account_label(env, account), state.plan or "-", state.state,
                     display_path(env, account.config_dir), _ORIGIN_TEXT[account.origin]))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return ["  ".join([*(cell.ljust(w) for cell, w in zip(row[:-1], widths, strict=True)), row[-1]]).rstrip()
            for row in rows]


def discovery_lines(env: Environment, candidates: list[Path]) -> list[str]:
    if not candidates:
        return ["", "No other ~/.claude* folder holds a login."]
    lines = ["", "Folders holding a login that no account reads (add one to read it too):"]
    for folder in candidates:
        lines.append(f"  claude-tray accounts add {suggested_name(folder)} {display_path(env, folder)}")
    return lines
