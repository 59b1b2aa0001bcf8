"""The `claude-tray` entry point. `claude-tray statusline` (run by Claude Code on every turn) goes
straight to its light module without loading the command line (argparse, logging, settings:
tens of milliseconds); everything else goes to `cli.main`."""
from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    # The options valid before any command (cli.py's shared ones) may come first.
    start = 0
    while start < len(args) and args[start] in ("--debug", "--demo", "--interval"):
        start += 2 if args[start] == "--interval" else 1
    if args[start:start + 1] == ["statusline"]:
        args = args[start:]
        if sys.stdout is None or sys.stderr is None:  # a windowed Windows build: see winconsole.py
            from tray_monitor.winconsole import console_streams

            sys.stdout, sys.stderr = console_streams(sys.platform, sys.stdout, sys.stderr)
        from tray_monitor.statusline import main as statusline_main

        return statusline_main(args[1:])
    from tray_monitor.cli import main as cli_main

    return cli_main(argv)
