"""Per-step CPU probe for benchmarks/tray_costs.py: loaded by `site` when this folder is on the
running claude-tray's PYTHONPATH and CLAUDE_TRAY_PROBE_OUT names a file.

Wraps the functions named in TARGETS when their module is imported (an import hook: nothing is
imported early) with `time.thread_time_ns` (the calling thread's CPU, no profiler): per thread and
function, the calls, the inclusive and the exclusive (minus wrapped callees) time. The poller's
`step_once` is also filed by what it did (poll, tick, nothing), the D-Bus thread's `_handle` and
`receive` by the member of the message, `_signal` by the signal sent; the cyclic garbage
collector's runs as "gc[generation]" on the thread they ran on. SIGUSR1 appends a snapshot
(one JSON line) to CLAUDE_TRAY_PROBE_OUT: the benchmark takes one before and one after a window.
Measurement only: never imported by claude-tray itself.
"""
from __future__ import annotations

import functools
import importlib.abc
import json
import os
import signal
import sys
import threading
import time

_OUT = os.environ.get("CLAUDE_TRAY_PROBE_OUT")

#: module -> names ("Class.method" or "function") wrapped after the module ran
TARGETS = {
    "tray_monitor.poller": ["Poller.step_once", "Poller._poll", "Poller._plan_next_tick", "Poller._take_statusline",
                            "Poller._check_activity", "Poller._wait_seconds"],
    "tray_monitor.monitor": ["Monitor.handle", "Monitor._carry_out", "Monitor.next_text_change", "Monitor._record"],
    "tray_monitor.state": ["step"],
    "tray_monitor.view": ["view", "next_text_change", "countdowns_only_until", "with_countdowns"],
    "tray_monitor.tray": ["TrayAdapter.show", "TrayAdapter._query_autostart", "look_of"],
    "tray_monitor.tray.menu": ["menu_entries"],
    "tray_monitor.tray.sni": ["SniBackend.show", "SniBackend._signal", "SniBackend._handle", "SniBackend._dispatch",
                              "menu_items", "menu_change", "kept_items_change", "item_properties", "argb_pixmap",
                              "SniBackend._run_due_timers"],
    "tray_monitor.tray_reading": ["ReadingPublisher.on_view"],
    "tray_monitor.tray_accounts": ["SettingsFilesCheck.changed"],
    "tray_monitor.source": ["UsageSource.read"],
    "tray_monitor.client": ["UsageClient.fetch"],
    "tray_monitor.history": ["HistoryStore.record", "HistoryStore.digest"],
    "tray_monitor.activity": ["TranscriptActivity.latest"],
    "jeepney.io.threading": ["DBusConnection.receive", "DBusConnection.send"],
    "jeepney.low_level": ["Message.serialise"],
    "jeepney.wrappers": ["new_signal", "new_method_return"],
}

_stats: dict[tuple[str, str], list[int]] = {}  # (thread, name) -> [calls, inclusive ns, exclusive ns]
_local = threading.local()
_clock = time.thread_time_ns


def _skipped() -> int:
    """CPU this thread spent in `snapshot` (a signal handler runs inside whatever call it interrupts)."""
    return getattr(_local, "skipped", 0)


def _stack() -> list:
    stack = getattr(_local, "stack", None)
    if stack is None:
        stack = _local.stack = []
    return stack


def _add(name: str, inclusive: int, exclusive: int) -> None:
    key = (threading.current_thread().name, name)
    entry = _stats.get(key)
    if entry is None:
        entry = _stats[key] = [0, 0, 0]
    entry[0] += 1
    entry[1] += inclusive
    entry[2] += exclusive


def _member(message) -> str:
    try:
        from jeepney import HeaderFields

        return str(message.header.fields.get(HeaderFields.member) or message.header.message_type.name)
    except Exception:
        return "?"


def _wrap(name: str, function, label=None):
    """`label(args, result, frame)` may rename the record (the member of a message, the kind of step)."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        stack = _stack()
        frame = [0, None]  # time in wrapped callees, a note callees may leave (step kinds)
        stack.append(frame)
        start, skipped = _clock(), _skipped()
        result = None
        try:
            result = function(*args, **kwargs)
            return result
        finally:
            elapsed = _clock() - start - (_skipped() - skipped)
            stack.pop()
            if stack:
                stack[-1][0] += elapsed
            shown = label(args, result, frame) if label else name
            _add(shown, elapsed, elapsed - frame[0])

    wrapper.__probe_wrapped__ = True
    return wrapper


def _note_outer(kind: str) -> None:
    """Mark the enclosing step_once (if any) as a poll or a tick."""
    for frame in reversed(_stack()):
        if frame[1] == "step":
            frame[1] = kind
            return


def _labels(name: str):
    if name == "SniBackend._handle":
        return lambda args, result, frame: f"{name}[{_member(args[1])}]"
    if name == "DBusConnection.receive":
        return lambda args, result, frame: f"{name}[{_member(result) if result is not None else 'none'}]"
    if name in ("SniBackend._signal", "SniBackend._dispatch"):
        return lambda args, result, frame: f"{name}[{args[3]}]"
    return None


def _install(module) -> None:
    for name in TARGETS.get(module.__name__, ()):
        owner = module
        parts = name.split(".")
        for part in parts[:-1]:
            owner = getattr(owner, part, None)
        original = getattr(owner, parts[-1], None) if owner is not None else None
        if original is None or getattr(original, "__probe_wrapped__", False):
            continue
        if name == "Poller.step_once":
            wrapped = _step_wrapper(name, original)
        else:
            wrapped = _wrap(name, original, _labels(name))
        setattr(owner, parts[-1], wrapped)


def _step_wrapper(name: str, function):

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        stack = _stack()
        frame = [0, "step"]
        stack.append(frame)
        start, skipped = _clock(), _skipped()
        try:
            return function(*args, **kwargs)
        finally:
            elapsed = _clock() - start - (_skipped() - skipped)
            stack.pop()
            if stack:
                stack[-1][0] += elapsed
            kind = frame[1] if frame[1] != "step" else "nothing"
            _add(f"{name}[{kind}]", elapsed, elapsed - frame[0])

    wrapper.__probe_wrapped__ = True
    return wrapper


def _mark_kinds(module) -> None:
    """Poller._poll marks its step a poll; Monitor.handle(Tick) marks it a tick."""
    if module.__name__ == "tray_monitor.poller":
        poll = module.Poller._poll

        @functools.wraps(poll)
        def marked_poll(*args, **kwargs):
            _note_outer("poll")
            return poll(*args, **kwargs)

        marked_poll.__probe_wrapped__ = True
        module.Poller._poll = marked_poll
    if module.__name__ == "tray_monitor.monitor":
        handle = module.Monitor.handle

        @functools.wraps(handle)
        def marked_handle(self, event, *more):
            if type(event).__name__ == "Tick":
                _note_outer("tick")
            return handle(self, event, *more)

        marked_handle.__probe_wrapped__ = True
        module.Monitor.handle = marked_handle


class _AfterImport(importlib.abc.MetaPathFinder):
    """Finds nothing itself: wraps the real loader so the module is patched after it ran."""

    def find_spec(self, fullname, path, target=None):
        if fullname not in TARGETS:
            return None
        sys.meta_path.remove(self)
        try:
            import importlib.util

            spec = importlib.util.find_spec(fullname)
        finally:
            sys.meta_path.insert(0, self)
        if spec is None or spec.loader is None:
            return None
        loader = spec.loader
        exec_module = loader.exec_module

        def patched_exec(module, __exec=exec_module):
            __exec(module)
            _install(module)
            _mark_kinds(module)

        class Loader(importlib.abc.Loader):
            def create_module(self, spec, __loader=loader):
                return __loader.create_module(spec)

            def exec_module(self, module):
                patched_exec(module)

        spec.loader = Loader()
        return spec


def snapshot(*_ignored) -> None:
    """One JSON line: every thread's native id and name, and the figures so far."""
    start = _clock()
    threads = {t.name: t.native_id for t in threading.enumerate()}
    rows = [[thread, name, *values] for (thread, name), values in list(_stats.items())]
    with open(_OUT, "a") as out:
        out.write(json.dumps({"at": time.monotonic(), "threads": threads, "rows": rows}) + "\n")
    _local.skipped = _skipped() + _clock() - start


_gc_started: dict[int, int] = {}  # thread id -> thread CPU at the start of the collection under way


def _gc_callback(phase: str, info: dict) -> None:
    """Python's cyclic garbage collector, filed as "gc[generation]" on the thread it ran on."""
    ident = threading.get_ident()
    if phase == "start":
        _gc_started[ident] = _clock()
        return
    start = _gc_started.pop(ident, None)
    if start is not None:
        elapsed = _clock() - start
        stack = _stack()
        if stack:
            stack[-1][0] += elapsed
        _add(f"gc[{info.get('generation')}]", elapsed, elapsed)


if _OUT:
    import gc

    sys.meta_path.insert(0, _AfterImport())
    signal.signal(signal.SIGUSR1, snapshot)
    gc.callbacks.append(_gc_callback)
