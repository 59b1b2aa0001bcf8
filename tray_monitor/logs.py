"""Logging to a rotating file in the platform log directory (and stderr with --debug).

Every record passes through `redact`, so a token that slips into a message, an argument or a
traceback is replaced before it reaches any handler.
"""
from __future__ import annotations

import logging
import logging.handlers
import os
import re
import sys
import threading
from pathlib import Path
from typing import TextIO

LOG_FILE_NAME = "claude-tray.log"
# Anthropic OAuth access/refresh tokens and API keys: sk-ant-oat01-..., sk-ant-ort01-..., sk-ant-api03-...
_TOKEN = re.compile(r"sk-ant-[a-z]{3}\d{2}-[A-Za-z0-9_\-]+")
_BEARER = re.compile(r"(Bearer\s+)[^\s'\"]+", re.IGNORECASE)


def redact(text: str) -> str:
    return _BEARER.sub(r"\1[redacted]", _TOKEN.sub("sk-ant-[redacted]", text))


class RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def log_file(log_dir: Path) -> Path:
    return log_dir / LOG_FILE_NAME


def make_private_dirs(directory: Path) -> None:
    """Create `directory` and any missing parents 0700. mkdir(parents=True, mode=...) applies the
    mode to the last level only, which left ~/.local/state/claude-tray (above log/) at 0755."""
    missing = []
    level = Path(directory)
    while not level.exists() and level != level.parent:
        missing.append(level)
        level = level.parent
    for level in reversed(missing):
        level.mkdir(mode=0o700, exist_ok=True)


def setup_logging(log_dir: Path, debug: bool = False, stderr: TextIO | None = None) -> Path:
    """Configure the root logger once; returns the log file path."""
    make_private_dirs(log_dir)
    path = log_file(log_dir)
    # Create the file readable by the user alone before the handler opens it.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.close(fd)
    os.chmod(path, 0o600)
    formatter = RedactingFormatter("%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s")
    handler = logging.handlers.RotatingFileHandler(path, maxBytes=512 * 1024, backupCount=2, encoding="utf-8")
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    if debug:
        console = logging.StreamHandler(stderr or sys.stderr)
        console.setFormatter(formatter)
        root.addHandler(console)
    # Pillow logs every PNG chunk it reads ("STREAM b'IHDR' 16 13") at DEBUG: noise under --debug.
    logging.getLogger("PIL").setLevel(logging.INFO)
    install_thread_excepthook()
    return path


def install_thread_excepthook() -> None:
    """An exception that escapes any thread is logged (redacted), never printed as a bare traceback."""

    def hook(args: threading.ExceptHookArgs) -> None:
        if args.exc_type is SystemExit:
            return
        logging.getLogger("tray_monitor").error(
            "unhandled exception in thread %s",
            getattr(args.thread, "name", "?"),
            # exc_value may be None (the stubs want an exception there; logging copes with None)
            exc_info=(args.exc_type, args.exc_value, args.exc_traceback),  # type: ignore[arg-type]
        )

    threading.excepthook = hook
