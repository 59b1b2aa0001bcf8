"""The typed outcomes of reading credentials and calling the usage endpoint.

Every message is one sentence a user can act on. Messages name files and URLs, never a token.
`status` is the machine-readable key used by `status --json` and the tray state.
"""
from __future__ import annotations

from tray_monitor.model import Status


class MonitorError(Exception):
    status: Status = "error"

    def __init__(self, message: str, summary: str | None = None):
        super().__init__(message)
        self.message = message
        # Shorter words for a menu line, when the generic ones for this type would mislead
        # ("Rate limited" for a proxy's 403); view.problem_message uses them.
        self.summary = summary

    def __str__(self) -> str:
        return self.message


class CredentialsNotFound(MonitorError):
    """No Claude Code login: not installed, no file, mcpOAuth only, or an empty token."""

    status = "signed_out"


class FolderMissing(CredentialsNotFound):
    """Another login's config folder (issue 15) no longer exists: its message is the whole advice
    (remove the account, or log in there again), shown as it is."""


class CredentialsUnreadable(MonitorError):
    """The store exists but cannot be read or parsed (corrupt, half-written, permission denied)."""

    status = "error"


class AuthExpired(MonitorError):
    """expiresAt has passed (minus 5 min), or the endpoint answered 401 after a re-read."""

    status = "expired"


class ScopeMissing(MonitorError):
    """The token lacks user:profile (a `claude setup-token` token); it cannot read usage."""

    status = "no_scope"


class RateLimited(MonitorError):
    status = "rate_limited"

    def __init__(self, message: str, retry_after: float | None = None, summary: str | None = None):
        super().__init__(message, summary)
        self.retry_after = retry_after  # seconds, only when the server sent a value > 0


class Transient(MonitorError):
    """5xx, timeout, DNS or connection failure: back off and try again."""


class ServerTrouble(Transient):
    """HTTP 5xx: the network is fine, the usage service is not (retried like any Transient)."""

    def __init__(self, message: str, http_status: int):
        super().__init__(message)
        self.http_status = http_status


class BadResponse(MonitorError):
    """A body that is not JSON, not an object, or holds nothing usable."""


class InBandError(BadResponse):
    """HTTP 200 with a JSON object that is not a reading (none of the known keys): an error sent
    in-band. Retried like any BadResponse; raised by `parse.parse_usage`, which owns the key list.
    (A 200 whose body is a `rate_limit_error` is a RateLimited instead, decided by the client.)"""


class ConfigError(MonitorError):
    """A bad setting or API URL that the user must fix."""
