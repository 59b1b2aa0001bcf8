"""The endpoint's "slow down" (429), remembered for every claude-tray process of this user (shell).

The tray's poller already waits after a 429 (schedule.py). Without this file, a user who types
`claude-tray status` (or `doctor`, or runs `watch`) during that wait would send another request and
lengthen the very limit the tray is waiting out; and a 429 met by `status` would be unknown to the
tray. So whichever process meets a 429 writes when asking is fine again, and every process checks
that before it sends a request.

The wait belongs to one login: a 429 for one account never holds back another. The default account's
file is `rate-limit.json` in the data directory (as before accounts existed); another account's is
`rate-limit-<8 hex digits of sha256 of its config folder>.json`, keyed by the folder (the login)
rather than the name, so removing and re-adding an account under a new name keeps its wait.
Each holds `{"since": ISO time, "until": ISO time}`, written atomically, readable by the user
alone, holding nothing about the login. The wait is the server's Retry-After, else the poller's
first back-off (5 minutes), capped at an hour like the poller's. Wall-clock times, so it is valid
only while `since <= now < until`: a clock set back makes it void rather than an hour longer. A
missing, unreadable or corrupt file means no cooldown.
"""
from __future__ import annotations

import json
import logging
import math
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from tray_monitor.errors import RateLimited
from tray_monitor.schedule import RATE_LIMIT_FIRST_BACKOFF, RETRY_AFTER_CAP

if TYPE_CHECKING:
    from tray_monitor.accounts import Account
    from tray_monitor.clock import Clock
    from tray_monitor.environment import Environment

log = logging.getLogger("tray_monitor.cooldown")

COOLDOWN_FILE = "rate-limit.json"


def cooldown_path(env: Environment, account: Account | None = None) -> Path:
    """The wait file of `account` (None or the default account: the one file of before)."""
    from tray_monitor.accounts import account_file

    return account_file(Path(env.data_dir) / COOLDOWN_FILE, account)


class SharedCooldown:
    def __init__(self, path: Path, clock: Clock):
        self._path = Path(path)
        self._clock = clock
        self._write_failed = False

    def remaining(self) -> float | None:
        """Seconds until requests are welcome again, or None when they are welcome now."""
        try:
            data = json.loads(self._path.read_text(encoding="utf-8"))
            since = datetime.fromisoformat(data["since"])
            until = datetime.fromisoformat(data["until"])
            now = self._clock.now()
            if since.tzinfo is None or until.tzinfo is None:
                raise ValueError("naive time")
        except FileNotFoundError:
            return None
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
            log.debug("ignoring %s: %s", self._path, type(exc).__name__)
            return None
        if not since <= now < until:
            return None
        return (until - now).total_seconds()

    def check(self) -> None:
        """Raise RateLimited, without any request, while a remembered cooldown lasts."""
        remaining = self.remaining()
        if remaining is not None:
            raise RateLimited(
                "The usage endpoint asked claude-tray to slow down a moment ago; it is not asked again yet.",
                retry_after=float(math.ceil(remaining)),
            )

    def remember(self, error: RateLimited) -> None:
        """Write down the wait a 429 asked for. Never raises: a failure is logged once."""
        from tray_monitor.settings import write_private_file

        wait = error.retry_after if error.retry_after and error.retry_after > 0 else RATE_LIMIT_FIRST_BACKOFF
        now = self._clock.now()
        until = now + timedelta(seconds=min(float(wait), RETRY_AFTER_CAP))
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            write_private_file(self._path, json.dumps({"since": now.isoformat(), "until": until.isoformat()}) + "\n")
        except OSError as exc:
            if not self._write_failed:
                self._write_failed = True
                log.warning("could not remember the rate limit in %s: %s", self._path, exc.strerror or exc)
