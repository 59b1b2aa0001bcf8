"""The command that logs a Claude login in again, as every piece of advice words it (pure).

The default login's advice is plain `claude`, as it always was. Another login (issue 15) lives in
its own Claude Code config folder, and `claude` alone would log in the default one: its advice
names the folder, `CLAUDE_CONFIG_DIR=~/.claude-work claude` (POSIX shells: bash, zsh and fish all
expand a `~` right after the `=` of an assignment in front of a command), with the home folder
shortened to `~`. On Windows the form is PowerShell's, the shell of Windows Terminal and of the
Start menu's "Terminal": `$env:CLAUDE_CONFIG_DIR="$HOME\\.claude-work"; claude` (PowerShell
expands `$HOME` inside double quotes; it has no `~` there). It sets the variable for that
PowerShell window, which then is that login's window; cmd.exe users know `set`.

Only `login_command` words it; view.py, alerts.py, `status`, `accounts add` and `doctor` all
take its result (MonitorState carries it in `alert_settings.claude_command`).
"""
from __future__ import annotations

import ntpath
import posixpath
import re

DEFAULT_COMMAND = "claude"
VARIABLE = "CLAUDE_CONFIG_DIR"

#: Characters a POSIX shell takes literally in a word (shlex's own "safe" set, without `~`).
_SHELL_SAFE = re.compile(r"[\w@%+=:,./-]*", re.ASCII)


def login_command(config_dir: str | None, home: str, platform: str) -> str:
    """`claude` for the default login (`config_dir` None); for another one the command that
    starts Claude Code on its folder, in the user's shell's syntax."""
    if config_dir is None:
        return DEFAULT_COMMAND
    if platform == "win32":
        return f'$env:{VARIABLE}="{_powershell_folder(config_dir, home)}"; {DEFAULT_COMMAND}'
    return f"{VARIABLE}={_posix_folder(config_dir, home)} {DEFAULT_COMMAND}"


def _posix_folder(folder: str, home: str) -> str:
    folder = posixpath.normpath(folder)
    home = posixpath.normpath(home) if home else ""
    if home and home != "/" and folder.startswith(home + "/"):
        return "~/" + _posix_word(folder[len(home) + 1:])  # the `~` itself stays unquoted
    return _posix_word(folder)


def _posix_word(text: str) -> str:
    if _SHELL_SAFE.fullmatch(text):
        return text
    return "'" + text.replace("'", "'\"'\"'") + "'"  # shlex.quote's form, without importing shlex


def _powershell_folder(folder: str, home: str) -> str:
    folder = ntpath.normpath(folder)
    home = ntpath.normpath(home) if home else ""
    if home and folder.lower().startswith(home.lower() + "\\"):
        return "$HOME\\" + _powershell_text(folder[len(home) + 1:])
    return _powershell_text(folder)


def _powershell_text(text: str) -> str:
    """Inside PowerShell's double quotes a backtick escapes `"`, `$` and itself."""
    return re.sub(r'([`"$])', r"`\1", text)
