"""Claude Code's OAuth login, read-only.

Pure half: `parse_credentials`, `check_usable`, `plan_label` (plain values in and out).
Shell half: `CredentialStore`, which looks where Claude Code keeps the login, in this order:
`CLAUDE_CODE_OAUTH_TOKEN`, the macOS Keychain (`keychain.py`, a reader chosen once), `.credentials.json`.

We never write Claude Code's store and never refresh a token: refresh tokens are single-use and
rotate, and a second user of one revokes the whole family and logs Claude Code out.
"""
from __future__ import annotations

import functools
import json
import logging
import math
import os
import re
import stat
import subprocess
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from tray_monitor.errors import AuthExpired, CredentialsNotFound, CredentialsUnreadable, MonitorError, ScopeMissing
from tray_monitor.keychain import SECURITY_PATH, MacKeychain, NoKeychain, keychain_for
from tray_monitor.model import Credentials

log = logging.getLogger("tray_monitor.credentials")

ENV_TOKEN = "CLAUDE_CODE_OAUTH_TOKEN"
ENV_SCOPES = "CLAUDE_CODE_OAUTH_SCOPES"  # Claude Code reads usage with ENV_TOKEN only when these include USAGE_SCOPE
CREDENTIALS_FILE = ".credentials.json"
USAGE_SCOPE = "user:profile"

SOURCE_ENVIRONMENT = "environment"
SOURCE_KEYCHAIN = "keychain"

# An HTTP header value: a token with anything else (newline, space, non-ASCII) is corrupt, and
# letting it reach requests would put it into an InvalidHeader exception text.
_TOKEN_CHARS = re.compile(r"[\x21-\x7e]+")


# -- pure half -------------------------------------------------------------------------------------


def parse_credentials(raw: bytes | str, source: str) -> Credentials:
    """The store's JSON payload -> Credentials. `source` names where it came from, for messages.

    Raises CredentialsNotFound (no Claude login in it: mcpOAuth only, empty token) or
    CredentialsUnreadable (not JSON, wrong types, half-written).
    """
    where = describe_source(source)
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise _unreadable(where, "is not UTF-8 text") from None
    if not raw.strip():
        raise _unreadable(where, "is empty")
    try:
        payload = json.loads(raw)
    except (ValueError, RecursionError):
        raise _unreadable(where, "is not valid JSON (half-written or corrupt)") from None
    if not isinstance(payload, dict):
        raise _unreadable(where, "does not hold a JSON object")
    oauth = payload.get("claudeAiOauth")
    if oauth is None:  # only mcpOAuth: Claude Code is installed but nobody logged in
        raise not_signed_in(where)
    if not isinstance(oauth, dict):
        raise _unreadable(where, "has a claudeAiOauth entry that is not an object")
    token = oauth.get("accessToken")
    if token is None or (isinstance(token, str) and not token.strip()):
        raise not_signed_in(where)  # Claude Code blanks the token on logout
    if not isinstance(token, str) or not _TOKEN_CHARS.fullmatch(token.strip()):
        raise _unreadable(where, "holds an access token that is not plain text")
    return Credentials(
        access_token=token.strip(),
        source=source,
        expires_at=_expiry(oauth.get("expiresAt")),
        scopes=_scopes(oauth.get("scopes")),
        subscription_type=_text(oauth.get("subscriptionType")),
        rate_limit_tier=_text(oauth.get("rateLimitTier")),
    )


def credentials_from_env_token(token: str, scopes: str | None = None) -> Credentials:
    """A token from CLAUDE_CODE_OAUTH_TOKEN, with the scopes CLAUDE_CODE_OAUTH_SCOPES lists (space
    or comma separated; none when unset, as Claude Code takes it); its expiry is unknown."""
    token = token.strip()
    if not _TOKEN_CHARS.fullmatch(token):
        raise CredentialsUnreadable(
            f"{ENV_TOKEN} holds something that is not a token: unset it or set it to a Claude Code token."
        )
    return Credentials(access_token=token, source=SOURCE_ENVIRONMENT,
                       scopes=tuple(re.split(r"[\s,]+", (scopes or "").strip())) if (scopes or "").strip() else ())


def check_usable(creds: Credentials, now: datetime) -> None:
    """Raise ScopeMissing or AuthExpired when a request with these credentials cannot succeed."""
    # Scope first: waiting for Claude Code to refresh a setup-token would never help.
    if not creds.has_usage_scope:
        raise ScopeMissing(scope_missing_message(creds), summary=scope_missing_summary(creds))
    if creds.is_expired(now):  # expiresAt minus 5 minutes (Claude Code refreshes early)
        if creds.source == SOURCE_ENVIRONMENT:
            raise AuthExpired(f"The token in {ENV_TOKEN} has expired: set a new one or unset it and run `claude`.")
        raise AuthExpired("Claude Code login expired: run `claude` to refresh it.")


def scope_missing_summary(creds: Credentials) -> str | None:
    if creds.source == SOURCE_ENVIRONMENT:
        return f"{ENV_TOKEN} cannot read usage — unset it and log in with claude"
    return None  # the menu's generic words fit a login file or Keychain item


def scope_missing_message(creds: Credentials) -> str:
    if creds.source == SOURCE_ENVIRONMENT:
        return (f"The token in {ENV_TOKEN} cannot read usage ({ENV_SCOPES} does not list {USAGE_SCOPE}, "
                "and `claude setup-token` tokens lack it): unset it and log in with `claude`.")
    return (f"This Claude Code login cannot read usage (it lacks the {USAGE_SCOPE} scope, like "
            "`claude setup-token` tokens): log in with `claude`.")


_PLAN_NAMES = {"pro": "Pro", "max": "Max", "team": "Team", "enterprise": "Enterprise", "free": "Free"}


def plan_label(creds: Credentials) -> str | None:
    """"Pro", "Max 5x", "Max 20x", "Team", ... from subscriptionType, then rateLimitTier."""
    subscription = (creds.subscription_type or "").strip().lower()
    tier = (creds.rate_limit_tier or "").strip().lower()
    multiplier = re.search(r"(?:^|_)(\d+)x$", tier)
    if subscription in ("", "max") and multiplier:
        return f"Max {multiplier.group(1)}x"  # default_claude_max_20x -> "Max 20x"
    if subscription:
        return _PLAN_NAMES.get(subscription, subscription.replace("_", " ").title())
    if "max" in tier:
        return "Max"
    return None


def not_signed_in(where: str) -> CredentialsNotFound:
    return CredentialsNotFound(f"No Claude Code login found in {where}: run `claude` and log in.")


def describe_source(source: str) -> str:
    if source == SOURCE_ENVIRONMENT:
        return ENV_TOKEN
    if source == SOURCE_KEYCHAIN:
        return "the macOS Keychain"
    return source


def _unreadable(where: str, what: str) -> CredentialsUnreadable:
    return CredentialsUnreadable(
        f"Claude Code's login in {where} {what}: run `claude` to log in again (claude-tray only reads it)."
    )


#: expiresAt below this is epoch SECONDS (10^11 s is the year 5138; 10^11 ms is March 1973).
_SECONDS_BELOW = 10**11


def _expiry(value: object) -> datetime | None:
    # expiresAt is epoch milliseconds, or seconds when below 10^11; anything else means
    # "unknown", and the server's 401 decides.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        if not math.isfinite(value):
            return None
        seconds = value if abs(value) < _SECONDS_BELOW else value / 1000
        return datetime.fromtimestamp(seconds, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None


def _scopes(value: object) -> tuple[str, ...] | None:
    if not isinstance(value, list):
        return None  # unknown: let the server decide
    return tuple(s for s in value if isinstance(s, str))


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


# -- shell half ------------------------------------------------------------------------------------


def credentials_file(env) -> Path:
    """$CLAUDE_SECURESTORAGE_CONFIG_DIR, else $CLAUDE_CONFIG_DIR, else ~/.claude. As in Claude
    Code, a CLAUDE_SECURESTORAGE_CONFIG_DIR set but empty means ~/.claude, whatever
    CLAUDE_CONFIG_DIR says (the Keychain name follows the same rule)."""
    environ = env.environ
    for name in ("CLAUDE_SECURESTORAGE_CONFIG_DIR", "CLAUDE_CONFIG_DIR"):
        if name in environ:
            if not environ[name]:
                break
            return Path(environ[name]).expanduser() / CREDENTIALS_FILE
    return Path(env.home) / ".claude" / CREDENTIALS_FILE


OVERFLOW_SUMMARY = "Login stored in a form claude-tray cannot read yet — use /usage in Claude Code"


def overflow_message(keychain: MacKeychain) -> str:
    return (f"Claude Code keeps this login split between {keychain.describe()} and an encrypted overflow "
            "item, a form claude-tray cannot read yet: see your usage with /usage inside Claude Code "
            "until a claude-tray update can read it.")


class CredentialStore:
    """Reads the login before every request; cheap when nothing changed (a stat of the file).

    Claude Code rewrites its store atomically whenever it refreshes the token, so a cached token
    would show "expired" while the user is signed in.
    """

    def __init__(self, env, run: Callable[..., subprocess.CompletedProcess] = subprocess.run,
                 security_path: str = SECURITY_PATH, keychain: MacKeychain | NoKeychain | None = None):
        self._env = env
        self._keychain = keychain if keychain is not None else keychain_for(
            env.platform, env.environ, env.home, run, security_path)
        self._path = credentials_file(env)
        self._cache_key: object = None
        self._cached: Credentials | MonitorError | None = None
        self._last_source: str | None = None

    # The three places, in Claude Code's order.

    def load(self) -> Credentials:
        env_token = self._env.environ.get(ENV_TOKEN, "")
        if env_token.strip():
            self._last_source = SOURCE_ENVIRONMENT
            return credentials_from_env_token(env_token, self._env.environ.get(ENV_SCOPES))
        creds = self._load_keychain()
        if creds is not None:
            return creds
        return self._load_file()

    def fingerprint(self) -> object:
        """Changes when the store changes; holds no secret (stat values only)."""
        env_token = self._env.environ.get(ENV_TOKEN, "")
        parts: list[object] = [bool(env_token.strip())]  # fixed for the process: no need to hash it
        database = self._keychain.database()
        if database is not None:
            parts.append(_stat_key(database))
        parts.append(_stat_key(self._path))
        return tuple(parts)

    def describe(self) -> str:
        """Where the login is looked for, and which place answered last (for `doctor`)."""
        places = []
        if self._env.environ.get(ENV_TOKEN, "").strip():
            places.append(f"the {ENV_TOKEN} environment variable")
        keychain = self._keychain.describe()
        if keychain is not None:
            places.append(keychain)
        found = _stat_key(self._path)  # never raises, unlike Path.exists() on a permission error
        state = "missing" if found is None else "unreadable" if found[0] == "error" else "present"
        places.append(f"{self._display(self._path)} ({state})")
        text = "Claude Code login looked up in " + ", then ".join(places)
        if self._last_source:
            text += f"; last read from {describe_source(self._last_source)}"
        return text + "."

    # -- the file

    def _load_file(self) -> Credentials:
        path = self._path
        where = self._display(path)
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
        except FileNotFoundError:
            self._forget()
            raise not_signed_in(where) from None
        except PermissionError:  # also what Windows says for a directory in place of the file
            self._forget()
            raise CredentialsUnreadable(
                f"Cannot read {where} (permission denied): make it readable by your user (chmod 600)."
            ) from None
        except OSError as error:
            self._forget()
            raise CredentialsUnreadable(f"Cannot read {where} ({error.strerror}): check the file.") from None
        try:
            info = os.fstat(fd)  # the file we opened, even if it is replaced meanwhile
            if stat.S_ISDIR(info.st_mode):  # Linux and macOS open a directory without complaint
                self._forget()
                raise _unreadable(where, "is a directory, not a file")
            key = ("file", info.st_mtime_ns, info.st_size, info.st_ino)
            if key == self._cache_key and self._cached is not None:
                return self._replay()
            try:
                raw = _read_all(fd)
            except OSError as error:
                raise CredentialsUnreadable(f"Cannot read {where} ({error.strerror}): check the file.") from None
        finally:
            os.close(fd)
        self._last_source = where
        return self._remember(key, lambda: parse_credentials(raw, where))

    # -- the macOS Keychain (NoKeychain elsewhere: read() is None)

    def _load_keychain(self) -> Credentials | None:
        """Credentials from the Keychain, or None when no item exists (then the file is tried)."""
        database = self._keychain.database()
        db_key = _stat_key(database) if database is not None else None
        key = ("keychain", db_key)
        if db_key is not None and key == self._cache_key and self._cached is not None:
            return self._replay()
        try:
            raw = self._keychain.read()
        except CredentialsUnreadable:
            self._forget()
            raise
        if raw is None:
            return None
        self._last_source = SOURCE_KEYCHAIN
        return self._remember(key, functools.partial(self._parse_keychain, raw))

    def _parse_keychain(self, raw: bytes) -> Credentials:
        if not _holds_claude_login(raw) and isinstance(self._keychain, MacKeychain) and self._keychain.has_overflow():
            # Above about 2 KB Claude Code moves parts of the login into an encrypted second item.
            raise CredentialsUnreadable(overflow_message(self._keychain), summary=OVERFLOW_SUMMARY)
        return parse_credentials(raw, SOURCE_KEYCHAIN)

    # -- cache: the last outcome (credentials or the typed error) for an unchanged store

    def _remember(self, key: object, parse: Callable[[], Credentials]) -> Credentials:
        try:
            creds = parse()
        except (CredentialsNotFound, CredentialsUnreadable) as error:
            self._cache_key, self._cached = key, error
            raise
        self._cache_key, self._cached = key, creds
        return creds

    def _replay(self) -> Credentials:
        if isinstance(self._cached, MonitorError):
            raise type(self._cached)(self._cached.message, self._cached.summary)
        assert self._cached is not None  # called only when the cache key matched
        return self._cached

    def _forget(self) -> None:
        self._cache_key, self._cached = None, None

    def _display(self, path: Path) -> str:
        """The path as the user would type it: ~/.claude/.credentials.json."""
        try:
            return "~/" + path.relative_to(Path(self._env.home)).as_posix()
        except ValueError:
            return str(path)


def _stat_key(path: Path) -> tuple[object, ...] | None:
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return None
    except OSError as error:
        return ("error", error.errno)
    return (info.st_mtime_ns, info.st_size, info.st_ino)


def _read_all(fd: int) -> bytes:
    chunks: list[bytes] = []
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def _holds_claude_login(raw: bytes) -> bool:
    """Whether the stored value is a JSON object with a claudeAiOauth entry."""
    try:
        payload = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return False
    return isinstance(payload, dict) and "claudeAiOauth" in payload
