"""One malloc arena for the whole tray process (Linux, glibc).

glibc gives every thread that allocates an arena of its own (up to 8 per core) and each keeps the
memory its thread freed. The tray's threads (the D-Bus loop, the poller, the control server, ...)
allocate a little once in a while and sleep: their arenas cost about 1.3 MiB of RSS and buy no
speed. `mallopt(M_ARENA_MAX, 1)` before the first thread starts keeps every allocation in the main
arena (measured in docs/benchmarks.md: -0.6 MiB RSS net of loading ctypes; the environment variable
MALLOC_ARENA_MAX=1 would save 1.4 MiB but must be set before the interpreter starts).
"""
from __future__ import annotations

import logging

log = logging.getLogger(__name__)

M_ARENA_MAX = -8  # <malloc.h>


def limit_malloc_arenas(platform: str) -> bool:
    """Call before any thread starts. True when glibc took the setting; False elsewhere (macOS,
    Windows, a C library without mallopt): nothing to do there."""
    if not platform.startswith("linux"):
        return False
    try:
        import ctypes

        return bool(ctypes.CDLL(None).mallopt(M_ARENA_MAX, 1))
    except (OSError, AttributeError) as exc:  # musl and others: no such symbol, or no libc handle
        log.debug("mallopt(M_ARENA_MAX) not available: %s", exc)
        return False
