"""tray_monitor.malloc_arenas: after the call, threads that allocate share the main arena."""
from __future__ import annotations

import subprocess
import sys

import pytest

from tests.desktop_x import REPO
from tray_monitor.malloc_arenas import limit_malloc_arenas

# Four threads allocate and keep 20,000 small blocks each; glibc's malloc_stats() then prints one
# "Arena N:" block per arena on stderr.
THREADS = """
import ctypes, sys, threading
from tray_monitor.malloc_arenas import limit_malloc_arenas
print(limit_malloc_arenas(sys.platform) if sys.argv[1] == "limit" else "-", flush=True)
def work():
    keep = [bytearray(200) for _ in range(20000)]
threads = [threading.Thread(target=work) for _ in range(4)]
for t in threads: t.start()
for t in threads: t.join()
ctypes.CDLL(None).malloc_stats()
"""


def arenas(mode: str) -> tuple[str, int]:
    done = subprocess.run([sys.executable, "-c", THREADS, mode], cwd=REPO, capture_output=True, text=True,
                          timeout=60, check=True)
    return done.stdout.strip(), sum(1 for line in done.stderr.splitlines() if line.startswith("Arena "))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_threads_that_allocate_share_one_arena_after_the_limit():
    said, limited = arenas("limit")
    _, free = arenas("none")
    assert said == "True"
    assert limited == 1
    assert free > 1  # the test can tell: without the limit the threads got arenas of their own


def test_other_platforms_are_left_alone():
    assert limit_malloc_arenas("darwin") is False
    assert limit_malloc_arenas("win32") is False
