"""Claude Code's OAuth login, read-only.

Pure half: `parse_credentials`, `check_usable`, `plan_label` (plain values in and out).
Shell half: `CredentialStore`, which looks where Claude Code keeps the login, in this order:
`CLAUDE_CODE_OAUTH_TOKEN`, the macOS Keychain (through `/usr/bin/security`), `.credentials.json`.

We never write Claude Code's store and never refresh a token: refresh tokens are single-use and
rotate, and a second user of one revokes the whole family and logs Claude Code out.
"""
from __future__ import annotations

import binascii
import functools
import hashlib
import json
import logging
import math
import os
import re
import stat
import subprocess
import unicodedata
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from tray_monitor.errors import AuthExpired, CredentialsNotFound, CredentialsUnreadable, ScopeMissing
from tray_monitor.model import Credentials

log = logging.getLogger("tray_monitor.credentials")

ENV_TOKEN = "CLAUDE_CODE_OAUTH_TOKEN"
KEYCHAIN_SERVICE = "Claude Code-credentials"
SECURITY_PATH = "/usr/bin/security"  # absolute: a `security` earlier on PATH must not see the token
SECURITY_NOT_FOUND = 44  # `security find-generic-password` exit status: no such item
SECURITY_TIMEOUT = 15.0  # seconds; macOS may be showing an "allow access" prompt
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
        expires_at=_epoch_millis(oauth.get("expiresAt")),
        scopes=_scopes(oauth.get("scopes")),
        subscription_type=_text(oauth.get("subscriptionType")),
        rate_limit_tier=_text(oauth.get("rateLimitTier")),
    )


def credentials_from_env_token(token: str) -> Credentials:
    """A token from CLAUDE_CODE_OAUTH_TOKEN: its scopes and expiry are unknown (None)."""
    token = token.strip()
    if not _TOKEN_CHARS.fullmatch(token):
        raise CredentialsUnreadable(
            f"{ENV_TOKEN} holds something that is not a token: unset it or set it to a Claude Code token."
        )
    return Credentials(access_token=token, source=SOURCE_ENVIRONMENT)


def check_usable(creds: Credentials, now: datetime) -> None:
    """Raise ScopeMissing or AuthExpired when a request with these credentials cannot succeed."""
    # Scope first: waiting for Claude Code to refresh a setup-token would never help.
    if not creds.has_usage_scope:
        raise ScopeMissing(scope_missing_message(creds))
    if creds.is_expired(now):  # expiresAt minus 5 minutes (Claude Code refreshes early)
        if creds.source == SOURCE_ENVIRONMENT:
            raise AuthExpired(f"The token in {ENV_TOKEN} has expired: set a new one or unset it and run `claude`.")
        raise AuthExpired("Claude Code login expired: run `claude` to refresh it.")


def scope_missing_message(creds: Credentials) -> str:
    if creds.source == SOURCE_ENVIRONMENT:
        return (f"The token in {ENV_TOKEN} cannot read usage (it lacks the {USAGE_SCOPE} scope, like "
                "`claude setup-token` tokens): unset it and log in with `claude`.")
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


def _epoch_millis(value: object) -> datetime | None:
    # expiresAt is epoch MILLISECONDS; anything else means "unknown", and the server's 401 decides.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        if not math.isfinite(value):
            return None
        return datetime.fromtimestamp(value / 1000, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None


def _scopes(value: object) -> tuple[str, ...] | None:
    if not isinstance(value, list):
        return None  # unknown: let the server decide
    return tuple(s for s in value if isinstance(s, str))


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


# -- shell half ------------------------------------------------------------------------------------


def keychain_services(environ) -> list[str]:
    """Service names to try: with CLAUDE_CONFIG_DIR, Claude Code suffixes the first 8 hex digits
    of sha256(NFC(config dir)); older versions used the plain name."""
    names = []
    config_dir = environ.get("CLAUDE_CONFIG_DIR")
    if config_dir:
        digest = hashlib.sha256(unicodedata.normalize("NFC", config_dir).encode("utf-8")).hexdigest()
        names.append(f"{KEYCHAIN_SERVICE}-{digest[:8]}")
    names.append(KEYCHAIN_SERVICE)
    return names


def credentials_file(env) -> Path:
    environ = env.environ
    for name in ("CLAUDE_SECURESTORAGE_CONFIG_DIR", "CLAUDE_CONFIG_DIR"):
        if environ.get(name):
            return Path(environ[name]).expanduser() / CREDENTIALS_FILE
    return Path(env.home) / ".claude" / CREDENTIALS_FILE


class CredentialStore:
    """Reads the login before every request; cheap when nothing changed (a stat of the file).

    Claude Code rewrites its store atomically whenever it refreshes the token, so a cached token
    would show "expired" while the user is signed in.
    """

    def __init__(self, env, run: Callable[..., subprocess.CompletedProcess] = subprocess.run,
                 security_path: str = SECURITY_PATH):
        self._env = env
        self._run = run
        self._security_path = security_path
        self._path = credentials_file(env)
        self._cache_key: object = None
        self._cached: Credentials | Exception | None = None
        self._last_source: str | None = None

    # The three places, in Claude Code's order.

    def load(self) -> Credentials:
        env_token = self._env.environ.get(ENV_TOKEN, "")
        if env_token.strip():
            self._last_source = SOURCE_ENVIRONMENT
            return credentials_from_env_token(env_token)
        if self._env.platform == "darwin":
            creds = self._load_keychain()
            if creds is not None:
                return creds
        return self._load_file()

    def fingerprint(self) -> object:
        """Changes when the store changes; holds no secret (stat values only)."""
        env_token = self._env.environ.get(ENV_TOKEN, "")
        parts: list[object] = [bool(env_token.strip())]  # fixed for the process: no need to hash it
        if self._env.platform == "darwin":
            parts.append(_stat_key(self._keychain_db()))
        parts.append(_stat_key(self._path))
        return tuple(parts)

    def describe(self) -> str:
        """Where the login is looked for, and which place answered last (for `doctor`)."""
        places = []
        if self._env.environ.get(ENV_TOKEN, "").strip():
            places.append(f"the {ENV_TOKEN} environment variable")
        if self._env.platform == "darwin":
            services = ", ".join(f"'{s}'" for s in keychain_services(self._env.environ))
            places.append(f"the macOS Keychain ({services})")
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

    # -- the macOS Keychain

    def _keychain_db(self) -> Path:
        return Path(self._env.home) / "Library" / "Keychains" / "login.keychain-db"

    def _load_keychain(self) -> Credentials | None:
        """Credentials from the Keychain, or None when no item exists (then the file is tried).

        We run `security` rather than Security.framework or `keyring`: Claude Code rewrites the
        item on every refresh, which resets its access list, and framework readers prompt again.
        """
        db_key = _stat_key(self._keychain_db())
        key = ("keychain", db_key)
        if db_key is not None and key == self._cache_key and self._cached is not None:
            return self._replay()
        account = self._env.environ.get("USER") or self._env.environ.get("LOGNAME")
        for service in keychain_services(self._env.environ):
            argv = [self._security_path, "find-generic-password", "-s", service]
            if account:
                argv += ["-a", account]
            argv.append("-w")
            try:
                result = self._run(argv, capture_output=True, timeout=SECURITY_TIMEOUT, check=False)
            except subprocess.TimeoutExpired:
                self._forget()
                raise CredentialsUnreadable(
                    "Reading the macOS Keychain timed out: allow claude-tray access when macOS asks, "
                    "or unlock the login keychain."
                ) from None
            except OSError:
                log.debug("%s cannot run; skipping the Keychain", self._security_path)
                return None
            if result.returncode == SECURITY_NOT_FOUND:
                continue
            if result.returncode != 0:
                self._forget()
                raise CredentialsUnreadable(
                    f"The macOS Keychain item '{service}' could not be read (security exited "
                    f"{result.returncode}): unlock the login keychain and allow access when asked."
                )
            self._last_source = SOURCE_KEYCHAIN
            raw = _decode_keychain_value(result.stdout)
            return self._remember(key, functools.partial(parse_credentials, raw, SOURCE_KEYCHAIN))
        return None

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
        if isinstance(self._cached, Exception):
            raise type(self._cached)(str(self._cached))
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


def _decode_keychain_value(stdout: bytes | str) -> bytes:
    """`security -w` prints the password; some versions print it hex-encoded. Decode when the
    value is not JSON but is valid hex."""
    value = stdout if isinstance(stdout, bytes) else stdout.encode("utf-8", "replace")
    value = value.strip()
    if value.startswith(b"{"):
        return value
    try:
        return binascii.unhexlify(value)
    except (binascii.Error, ValueError):
        return value  # parse_credentials reports it as not JSON
