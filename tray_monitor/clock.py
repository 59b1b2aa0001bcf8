"""Time, injected: wall time for display, monotonic time for scheduling."""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from typing import Protocol


class Clock(Protocol):
    """What every part that needs the time is given (SystemClock, or FakeClock in tests)."""

    def now(self) -> datetime:
        """Wall time, timezone-aware: for display and for comparing with the server's times."""
        ...

    def monotonic(self) -> float:
        """Seconds that never jump: for scheduling."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    def monotonic(self) -> float:
        return time.monotonic()


class FakeClock:
    """A clock that moves only when told to. Tests use it (the demo runs on the system clock)."""

    def __init__(self, start: datetime | None = None, monotonic: float = 1000.0):
        self._wall = start or datetime(2026, 9, 1, 12, 0, tzinfo=timezone.utc)
        self._mono = monotonic

    def now(self) -> datetime:
        return self._wall

    def monotonic(self) -> float:
        return self._mono

    def advance(self, seconds: float) -> None:
        """Time passes normally: both clocks move."""
        self._mono += seconds
        self._wall += timedelta(seconds=seconds)

    def jump_wall(self, seconds: float) -> None:
        """Only the wall clock moves (the machine slept, or the user changed the time)."""
        self._wall += timedelta(seconds=seconds)
