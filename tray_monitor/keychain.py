"""Where Claude Code keeps its login in the macOS Keychain, read exactly as Claude Code names it (shell).

One reader chosen once (`keychain_for`): `MacKeychain` on macOS, `NoKeychain` elsewhere, so the
credential store never asks which platform it runs on.

Claude Code 2.1.332's item: a generic password, service `Claude Code-credentials`, suffixed with
`-<first 8 hex digits of sha256(NFC path)>` of CLAUDE_SECURESTORAGE_CONFIG_DIR when that is set,
else of CLAUDE_CONFIG_DIR (either set but empty: the plain name); account `$USER`, else the OS user
name, and `claude-code-user` when that name has characters outside [A-Za-z0-9._-]. A login above
about 2 KB spills into an encrypted second item `<service>-overflow-a` or `-b`.

We run `/usr/bin/security` rather than Security.framework or `keyring`: Claude Code rewrites the
item on every refresh, which resets its access list, and framework readers then prompt again.
"""
from __future__ import annotations

import binascii
import hashlib
import logging
import os
import re
import subprocess
import unicodedata
from collections.abc import Callable, Mapping
from pathlib import Path

from tray_monitor.errors import CredentialsUnreadable

log = logging.getLogger("tray_monitor.keychain")

KEYCHAIN_SERVICE = "Claude Code-credentials"
OVERFLOW_SUFFIXES = ("-overflow-a", "-overflow-b")
FALLBACK_ACCOUNT = "claude-code-user"
SECURITY_PATH = "/usr/bin/security"  # absolute: a `security` earlier on PATH must not see the token
SECURITY_NOT_FOUND = 44  # `security find-generic-password` exit status: no such item
SECURITY_TIMEOUT = 15.0  # seconds; macOS may be showing an "allow access" prompt
SECURE_STORAGE_DIR = "CLAUDE_SECURESTORAGE_CONFIG_DIR"
CONFIG_DIR = "CLAUDE_CONFIG_DIR"

_PLAIN_ACCOUNT = re.compile(r"[A-Za-z0-9._-]+")

Run = Callable[..., subprocess.CompletedProcess]


def keychain_service(environ: Mapping[str, str]) -> str:
    """The one service name Claude Code uses for these variables."""
    if SECURE_STORAGE_DIR in environ:
        directory = environ[SECURE_STORAGE_DIR]  # set but empty: the plain name, not CLAUDE_CONFIG_DIR's
    else:
        directory = environ.get(CONFIG_DIR, "")
    if not directory:
        return KEYCHAIN_SERVICE
    digest = hashlib.sha256(unicodedata.normalize("NFC", directory).encode("utf-8")).hexdigest()
    return f"{KEYCHAIN_SERVICE}-{digest[:8]}"


def keychain_account(environ: Mapping[str, str], os_user: Callable[[], str]) -> str:
    """$USER, else the OS user name; `claude-code-user` when the name is not plain."""
    name = environ.get("USER") or ""
    if not name:
        try:
            name = os_user()
        except (OSError, KeyError, ImportError):
            name = ""
    return name if _PLAIN_ACCOUNT.fullmatch(name) else FALLBACK_ACCOUNT


def os_user_name() -> str:
    """What Node's os.userInfo().username gives: the password database's name for our uid."""
    import pwd  # POSIX only; the Keychain reader exists only on macOS

    return pwd.getpwuid(os.getuid()).pw_name


class NoKeychain:
    """Not macOS: nothing to read, nothing to watch."""

    def read(self) -> bytes | None:
        return None

    def has_overflow(self) -> bool:
        return False

    def database(self) -> Path | None:
        return None

    def describe(self) -> str | None:
        return None


class MacKeychain:
    def __init__(self, environ: Mapping[str, str], home: Path, run: Run = subprocess.run,
                 security_path: str = SECURITY_PATH, os_user: Callable[[], str] = os_user_name):
        self.service = keychain_service(environ)
        self.account = keychain_account(environ, os_user)
        self._home = Path(home)
        self._run = run
        self._security_path = security_path

    def database(self) -> Path:
        """The file that changes when Claude Code rewrites the item (a cheap stat for polling)."""
        return self._home / "Library" / "Keychains" / "login.keychain-db"

    def describe(self) -> str:
        return f"the macOS Keychain ('{self.service}', account '{self.account}')"

    def read(self) -> bytes | None:
        """The main item's value (hex-decoded when `security` printed hex), or None when there is
        no such item (or no `security` tool): then the file is tried."""
        result = self._security("-s", self.service, "-a", self.account, "-w")
        if result is None or result.returncode == SECURITY_NOT_FOUND:
            return None
        if result.returncode != 0:
            raise CredentialsUnreadable(
                f"The macOS Keychain item '{self.service}' could not be read (security exited "
                f"{result.returncode}): unlock the login keychain and allow access when asked."
            )
        return decode_keychain_value(result.stdout)

    def has_overflow(self) -> bool:
        """Whether Claude Code keeps part of this login in an overflow item. Asked without `-w`:
        only the item's attributes, never its (encrypted) value."""
        for suffix in OVERFLOW_SUFFIXES:
            result = self._security("-s", self.service + suffix, "-a", self.account)
            if result is not None and result.returncode == 0:
                return True
        return False

    def _security(self, *args: str) -> subprocess.CompletedProcess | None:
        argv = [self._security_path, "find-generic-password", *args]
        try:
            return self._run(argv, capture_output=True, timeout=SECURITY_TIMEOUT, check=False)
        except subprocess.TimeoutExpired:
            raise CredentialsUnreadable(
                "Reading the macOS Keychain timed out: allow claude-tray access when macOS asks, "
                "or unlock the login keychain."
            ) from None
        except OSError:
            log.debug("%s cannot run; skipping the Keychain", self._security_path)
            return None


def keychain_for(platform: str, environ: Mapping[str, str], home: Path, run: Run = subprocess.run,
                 security_path: str = SECURITY_PATH) -> MacKeychain | NoKeychain:
    """The reader for this platform, chosen once."""
    if platform == "darwin":
        return MacKeychain(environ, home, run, security_path)
    return NoKeychain()


def decode_keychain_value(stdout: bytes | str) -> bytes:
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
