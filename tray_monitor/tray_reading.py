"""The running tray's reading, shared with every other claude-tray process (shell).

The tray side (`ReadingPublisher`, wired in app.py): after every change the current reading is
written to `reading.json` in the runtime dir (mode 0600, temporary file then rename, so a reader
never sees half a file), and the `reading` control command answers with the same document. The
file is removed when the tray quits. The content is `shared_reading.document`: windows with
their source and age, extra usage, status, message; never a token.

The file's mtime is when the usage endpoint last answered (its `endpoint_at`). A new answer that
only confirms what the file says (the same numbers: an idle poll) is not written again (building,
encoding, a temporary file and a rename cost about 0.7 ms a poll): the file's mtime is set to the
answer's time instead, so a window from the endpoint was last confirmed at max(its `fetched_at`,
the mtime). The statusline reads it so; files of older trays, written at every poll, read the same.
The file's `next_poll_at` is as of its last write (the `reading` command's answer is always current).

The other side (`fetch`): `status`, `watch` and the panel formats ask the running tray with the
`reading` command (an answer proves the tray is alive, which a file alone cannot) and use it when
it is fresh; otherwise they ask the endpoint themselves, as before.
"""
from __future__ import annotations

import logging
import os
import threading
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from tray_monitor import runtime
from tray_monitor.errors import MonitorError
from tray_monitor.model import Credentials, Reading
from tray_monitor.shared_reading import (
    BadFeed,
    SharedReading,
    document,
    reading_from_document,
    says_the_same,
    stamped,
)
from tray_monitor.view import STALE_AFTER_INTERVALS, age_text

if TYPE_CHECKING:
    from tray_monitor.environment import Environment
    from tray_monitor.monitor import Monitor
    from tray_monitor.state import MonitorState
    from tray_monitor.view import View

log = logging.getLogger("tray_monitor.tray_reading")

#: How long a command waits for the running tray's answer before asking the endpoint itself.
FETCH_TIMEOUT = 2.0


def reading_path(env: Environment) -> Path:
    return Path(env.runtime_dir) / runtime.READING_FILE_NAME


class ReadingPublisher:
    """Subscribed to the monitor: rewrites the file when the reading (not just "now") changed."""

    def __init__(self, env: Environment, monitor: Monitor):
        self._env = env
        self._monitor = monitor
        self._lock = threading.Lock()
        self._last: dict | None = None
        # What the last document was made of: the monitor state (immutable: a tick leaves the very
        # same object) and the view's status and message, the document's only other inputs.
        self._last_made_of: tuple | None = None
        self._failure_logged = False
        # Which login it is (the statusline of another login's session ignores it): resolved once,
        # not at every poll (a realpath is a few system calls; the environment does not change).
        self._config_dir = runtime.claude_config_dir(env.environ)

    def _document(self, v: View, now: datetime, state: MonitorState | None = None) -> dict:
        return {**document(state or self._monitor.state, v, now), "config_dir": self._config_dir}

    def current(self) -> str:
        """The `reading` control command's answer: the document as one JSON line."""
        now = self._env.clock.now()
        return stamped(self._document(self._monitor.view(), now), now)

    def on_view(self, v: View) -> None:
        state = self._monitor.state
        made_of = (state, v.status, v.message)
        last = self._last_made_of
        if last is not None and last[0] is state and last[1:] == made_of[1:]:
            return  # a minute tick: the countdowns moved, nothing the document holds (~0.08 ms)
        now = self._env.clock.now()
        doc = self._document(v, now, state)
        with self._lock:
            if doc == self._last:
                self._last_made_of = made_of
                return
            path = reading_path(self._env)
            if self._last is not None and says_the_same(self._last, doc):
                if doc.get("endpoint_at") == self._last.get("endpoint_at") or self._confirm(path, doc):
                    self._last, self._last_made_of = doc, made_of
                    return
            try:
                from tray_monitor.instance import _write_private, runtime_dir

                runtime_dir(self._env)
                _write_private(path, stamped(doc, now))
                self._confirm(path, doc)
            except Exception:
                if not self._failure_logged:  # every change would log it again
                    self._failure_logged = True
                    log.exception("the shared reading could not be written to %s", path)
                return  # tried again at the next view
            self._last, self._last_made_of = doc, made_of

    @staticmethod
    def _confirm(path: Path, doc: dict) -> bool:
        """Set the file's mtime to the endpoint's last answer; False when the file is not there
        (removed behind our back: it is written again) or that time is not known."""
        endpoint_at = doc.get("endpoint_at")
        if not isinstance(endpoint_at, str):
            return False
        try:
            ns = int(datetime.fromisoformat(endpoint_at).timestamp() * 1_000_000) * 1000
            os.utime(path, ns=(ns, ns))
        except (OSError, ValueError, OverflowError):
            return False
        return True

    def remove(self) -> None:
        try:
            reading_path(self._env).unlink()
        except OSError:
            pass


# ----------------------------------------------------------------------------- the readers


def fetch(env: Environment, timeout: float = FETCH_TIMEOUT, account: str | None = None) -> SharedReading | None:
    """The running tray's reading; None when no tray runs, it does not answer, or it is not one.
    `account`: the reading of that login (`reading NAME`; several logins, issue 15), else the
    default login's."""
    from tray_monitor import instance

    try:
        reply = instance.send_command(env, "reading" if account is None else f"reading {account}", timeout=timeout)
    except MonitorError as error:
        log.debug("no reading from a running tray: %s", error.message)
        return None
    if account is not None and reply.startswith("error: "):  # not a login of that tray, or an older tray
        log.debug("no reading of %r from the running tray: %s", account, reply)
        return None
    try:
        return reading_from_document(reply)
    except BadFeed as error:
        log.warning("the running tray's reading was not usable: %s", error)
        return None


def is_fresh(shared: SharedReading, now: datetime) -> bool:
    """Worth showing instead of asking the endpoint: the tray says all is well and its reading is
    younger than the staleness limit the tray itself applies."""
    age = shared.age(now)
    if shared.status != "ok" or age is None or shared.simulated:
        return False
    return age.total_seconds() <= STALE_AFTER_INTERVALS * max(shared.interval, 1.0)


def origin_text(shared: SharedReading, now: datetime) -> str:
    """ "from the running tray, 40 s ago" (seconds matter here: it is often under a minute)."""
    age = shared.age(now)
    if age is None:
        return "from the running tray"
    seconds = max(0, int(age.total_seconds()))
    when = f"{seconds} s ago" if seconds < 60 else age_text(age)
    return f"from the running tray, {when}"


def remove_stale_file(env: Environment) -> None:
    """A file left by a tray that died (the lock is free): readers must not take it for live."""
    path = reading_path(env)
    if os.path.exists(path):
        try:
            path.unlink()
        except OSError:
            pass


class TrayGone(MonitorError):
    status = "error"


class TraySource:
    """A reading source for `watch` while a tray runs: asks the tray (a local socket, no request
    to the endpoint) every few seconds. `plan` follows the tray's."""

    #: The tray is local: it may be asked this often (the endpoint never below schedule.MIN_INTERVAL).
    min_interval = 5.0

    def __init__(self, env: Environment, account: str | None = None):
        self._env = env
        self._account = account  # another login than the default: `reading NAME` (issue 15)
        self.plan: str | None = None

    def read(self) -> tuple[Reading, Credentials]:
        shared = fetch(self._env, account=self._account)
        if shared is None:
            raise TrayGone("claude-tray quit, so this view has nothing new: start `claude-tray` again, "
                           "or start `watch` again to ask the usage endpoint itself.")
        if shared.reading is None:
            raise TrayGone(shared.message or "The running claude-tray has no reading yet.")
        self.plan = shared.plan
        # No login was read here: the placeholder carries no token, only where the numbers came from.
        return shared.reading, Credentials(access_token="", source="the running claude-tray")

    def store_fingerprint(self) -> object:
        return None
