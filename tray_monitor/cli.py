"""Command line: argument parsing and dispatch to `app.py` (the composition root), nothing more.

Every way out of `main` is an exit code and at most one sentence on stderr: a wrong flag gets
argparse's usage line (2), Ctrl+C ends quietly (130), and an unexpected exception is logged to the
log file and named in one sentence (the traceback reaches stderr only with --debug).
"""
from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from tray_monitor import __version__
from tray_monitor.errors import MonitorError
from tray_monitor.schedule import MIN_INTERVAL

if TYPE_CHECKING:
    from tray_monitor.environment import Environment

EXIT_INTERRUPTED = 130

log = logging.getLogger("tray_monitor.cli")


def _interval(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected whole seconds, got {text!r}") from None


def _days(text: str) -> int:
    try:
        days = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected whole days, got {text!r}") from None
    if not 1 <= days <= 90:
        raise argparse.ArgumentTypeError(f"expected 1 to 90 days (the history keeps 90), got {days}")
    return days


def build_parser() -> argparse.ArgumentParser:
    # Options accepted both before and after the command (`claude-tray --demo watch` and
    # `claude-tray watch --demo`). SUPPRESS keeps an option absent from the command's namespace
    # unless given there, so it never overwrites the value given before the command.
    shared = argparse.ArgumentParser(add_help=False)
    shared.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="log in detail, also to stderr")
    shared.add_argument("--demo", action="store_true", default=argparse.SUPPRESS,
                        help="simulated usage, no login or network needed (the tray, status and watch)")
    shared.add_argument("--interval", type=_interval, metavar="N", default=argparse.SUPPRESS,
                        help=f"seconds between polls (default from the settings file, minimum {MIN_INTERVAL})")

    parser = argparse.ArgumentParser(
        prog="claude-tray",
        description="A system-tray indicator of your Claude Code usage limits. "
        "Without a command it starts the tray icon. No Claude login yet? "
        "claude-tray --demo (or status --demo, watch --demo) shows simulated usage.",
        parents=[shared],
    )
    parser.add_argument("--version", action="version", version=f"claude-tray {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    status = commands.add_parser("status", parents=[shared], help="print the current usage once and exit")
    status.add_argument("--json", action="store_true", help="print one JSON object (stable keys) for scripts")
    status.add_argument("--format", choices=("text", "json", "waybar", "i3blocks", "polybar"), default="text",
                        help="json as --json; waybar, i3blocks, polybar: a status bar block (README)")
    status.add_argument("--fresh", action="store_true",
                        help="ask the running tray to poll now and wait (without a tray: ask the endpoint)")
    status.add_argument("--account", metavar="NAME",
                        help="only this login (`claude-tray accounts` lists them); default: every one")
    watch = commands.add_parser("watch", parents=[shared], help="a live view in the terminal, until Ctrl+C")
    watch.add_argument("--format", choices=("text", "waybar"), default="text",
                       help="waybar: one JSON line per change (waybar's continuous mode)")
    watch.add_argument("--fresh", action="store_true", help="ask the running tray to poll now first")
    watch.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                       help="colour by severity: auto (a terminal, unless NO_COLOR is set), always or never")
    watch.add_argument("--account", metavar="NAME",
                       help="only this login (`claude-tray accounts` lists them); default: every one, each in its box")
    history = commands.add_parser("history", parents=[shared],
                                  help="the last cycles of each limit: peak, time at 100 %%, extra usage; a chart")
    history.add_argument("--json", action="store_true", help="print one JSON object for scripts")
    history.add_argument("--chart", type=Path, metavar="FILE.png", help="draw the percent over time into a PNG")
    history.add_argument("--days", type=_days, default=7, metavar="N", help="days the chart covers (1-90, default 7)")
    commands.add_parser("refresh", parents=[shared], help="ask the running tray to poll now")
    commands.add_parser("quit", parents=[shared], help="ask the running tray to quit")
    autostart = commands.add_parser("autostart", parents=[shared], help="start the tray at login")
    autostart.add_argument("action", choices=("enable", "disable", "status"))
    commands.add_parser("config", parents=[shared], help="show the settings file, its values and any problems")
    accounts = commands.add_parser("accounts", parents=[shared],
                                   help="the Claude logins read (one per Claude Code config folder); add, remove")
    accounts.add_argument("--discover", action="store_true",
                          help="also list folders ~/.claude* that hold a login no account reads (never added)")
    account_actions = accounts.add_subparsers(dest="accounts_action", metavar="ACTION")
    add = account_actions.add_parser("add", help="read one more login: NAME and its CLAUDE_CONFIG_DIR folder")
    add.add_argument("name", metavar="NAME")
    add.add_argument("folder", metavar="DIR")
    remove = account_actions.add_parser("remove", help="stop reading a login added with `accounts add`")
    remove.add_argument("name", metavar="NAME")
    doctor = commands.add_parser("doctor", parents=[shared], help="check login, network, tray and notifications")
    doctor.add_argument("--offline", action="store_true", help="skip the request to the usage endpoint")
    # Normally never parsed here: launch.py sends `claude-tray statusline ...` straight to
    # statusline.py (fast start); listed so --help shows it, and reached after a leading option.
    statusline = commands.add_parser("statusline", add_help=False,
                                     help="a Claude Code statusLine command that feeds the tray "
                                     "(`claude-tray statusline --help`)")
    statusline.add_argument("statusline_args", nargs=argparse.REMAINDER)
    return parser


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    args = build_parser().parse_args(argv)
    # Defaults filled in here: set_defaults() would change the shared option objects, and so
    # let a command's absent option overwrite the one given before the command.
    for name, default in (("debug", False), ("demo", False), ("interval", None)):
        if not hasattr(args, name):
            setattr(args, name, default)
    return args


def resolve_interval(given: int | None, env: Environment, stderr: TextIO) -> int:
    """--interval, raised to the minimum with a warning; without it, the settings file's value."""
    from tray_monitor.settings import check_interval

    if given is None:
        return env.loaded_settings[0].interval  # read once: app.py prints its warnings
    interval, warning = check_interval(given, f"--interval {given}")
    if warning:
        stderr.write(f"claude-tray: {warning}\n")
    return interval


def _dispatch(args: argparse.Namespace, env: Environment) -> int:
    # Imported here, not at the top: `--version` and `--help` must not load the whole application.
    app = importlib.import_module("tray_monitor.app")
    command = args.command
    if args.demo and command not in (None, "watch", "status"):
        env.stderr.write(f"claude-tray: --demo applies to the tray, status and watch only; {command} ignores it.\n")
    if command == "statusline":
        from tray_monitor.statusline import main as statusline_main

        return statusline_main(args.statusline_args)
    if command is None:
        return app.tray(env, resolve_interval(args.interval, env, env.stderr), demo=args.demo)
    if command == "watch":
        return app.watch(env, resolve_interval(args.interval, env, env.stderr), demo=args.demo, colour=args.color,
                         fmt=args.format, fresh=args.fresh, account=args.account)
    if args.interval is not None:
        env.stderr.write("claude-tray: --interval applies to the tray and `watch` only; ignored.\n")
    if command == "status":
        return app.status(env, args.json, demo=args.demo, fmt=args.format, fresh=args.fresh, account=args.account)
    if command == "history":
        return app.history(env, as_json=args.json, chart=args.chart, days=args.days)
    if command == "refresh":
        return app.refresh(env)
    if command == "quit":
        return app.quit(env)
    if command == "autostart":
        return app.autostart(env, args.action)
    if command == "config":
        return app.config(env)
    if command == "doctor":
        return app.doctor(env, args.offline)
    if command == "accounts":
        return app.accounts(env, args.accounts_action, getattr(args, "name", None), getattr(args, "folder", None),
                            discover=args.discover)
    raise AssertionError(f"unhandled command {command!r}")  # argparse only lets known ones through


def _argparse_exit_code(code: object) -> int:
    if code is None:
        return 0
    return code if isinstance(code, int) else 1


def _build_environment() -> Environment:
    from tray_monitor.environment import Environment

    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (ssh, containers) and falls back to a
        # usable directory; a Python warning on every command would only alarm the user.
        warnings.simplefilter("ignore")
        # stdio taken now, not when environment.py was imported (tests and redirections swap them).
        return Environment.from_os(stdout=sys.stdout, stderr=sys.stderr)


def _quiet_broken_stdout() -> None:
    """stdout was closed early (`claude-tray status | head -1`): point it at devnull so Python's
    final flush does not print "Exception ignored ... BrokenPipeError"."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass  # stdout is not a real file (captured in tests): nothing will flush to a pipe


def main(argv: list[str] | None = None) -> int:
    from tray_monitor.winconsole import console_streams

    # Windows' windowed build and pythonw have no stdout/stderr: attach to the console typed into.
    sys.stdout, sys.stderr = console_streams(sys.platform, sys.stdout, sys.stderr)
    try:
        try:
            args = parse_args(argv)
        except SystemExit as done:  # --help, --version, or a usage error (already printed)
            return _argparse_exit_code(done.code)
        env = _build_environment()
        log_path = _start_logging(env, args.debug)
        try:
            return _dispatch(args, env)
        except MonitorError as error:
            # An expected problem that reached the top (a bad setting, an unusable API URL).
            env.stderr.write(f"claude-tray: {error.message}\n")
            return 1
        except BrokenPipeError:
            _quiet_broken_stdout()
            return 1
        except Exception as error:  # the last line of defence: one sentence, details in the log
            return _report_unexpected(error, env, log_path, args.debug)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


def _start_logging(env: Environment, debug: bool) -> Path | None:
    from tray_monitor.logs import setup_logging

    try:
        return setup_logging(env.log_dir, debug=debug, stderr=env.stderr)
    except OSError as error:
        # An unwritable log directory must not stop the monitor; say so once and carry on.
        env.stderr.write(f"claude-tray: cannot write the log in {env.log_dir} ({error.strerror}); logging is off.\n")
        return None


def _report_unexpected(error: Exception, env: Environment, log_path: Path | None, debug: bool) -> int:
    name = type(error).__name__
    if log_path is not None:
        # With --debug the logger also writes this record (traceback included) to stderr.
        logging.getLogger("tray_monitor").error("unexpected error", exc_info=error)
        env.stderr.write(f"claude-tray hit an unexpected error: {name}; details are in {log_path}\n")
    else:
        if debug:
            import traceback

            traceback.print_exception(type(error), error, error.__traceback__, file=env.stderr)
        env.stderr.write(f"claude-tray hit an unexpected error: {name}; run it again with --debug for details\n")
    return 1
