"""Where readings come from: credentials, then one request (shell; no thread of its own).

`UsageSource.read()` is what the poller calls. The demo source (`demo.DemoSource`) has the same
two methods, `read()` and `store_fingerprint()`.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from tray_monitor.credentials import check_usable
from tray_monitor.errors import AuthExpired, RateLimited
from tray_monitor.model import Credentials, Reading
from tray_monitor.schedule import MIN_INTERVAL

if TYPE_CHECKING:
    from tray_monitor.client import UsageClient
    from tray_monitor.clock import Clock
    from tray_monitor.cooldown import SharedCooldown
    from tray_monitor.credentials import CredentialStore

log = logging.getLogger("tray_monitor.source")


class UsageSource:
    #: The real endpoint is never asked more often than this (poller.ReadingSource).
    min_interval = MIN_INTERVAL

    def __init__(self, store: CredentialStore, client: UsageClient, clock: Clock,
                 cooldown: SharedCooldown | None = None):
        self._store = store
        self._client = client
        self._clock = clock
        self._cooldown = cooldown  # cooldown.SharedCooldown: a 429 met by any claude-tray process

    def read(self) -> tuple[Reading, Credentials]:
        """One reading with the credentials that got it; raises a MonitorError otherwise.

        The store is re-read first every time (cheap when unchanged). On a 401 it is read once
        more: Claude Code may have rotated the token since, and only a changed token is worth a
        second request. Never more than two requests, never a loop. While a 429's wait lasts (met
        by this process or another one), nothing is sent: RateLimited at once.
        """
        creds = self._store.load()
        check_usable(creds, self._clock.now())
        if self._cooldown is not None:
            self._cooldown.check()
        try:
            return self._fetch(creds), creds
        except AuthExpired:
            fresh = self._store.load()
            if fresh.access_token == creds.access_token:
                raise
            log.info("the usage endpoint refused the login; Claude Code has a new token, retrying once")
        check_usable(fresh, self._clock.now())
        return self._fetch(fresh), fresh

    def _fetch(self, creds: Credentials) -> Reading:
        try:
            return self._client.fetch(creds)
        except RateLimited as error:
            if self._cooldown is not None:
                self._cooldown.remember(error)
            raise

    def store_fingerprint(self) -> object:
        """Changes when Claude Code's store changes (the poller waits for it after "expired")."""
        return self._store.fingerprint()
