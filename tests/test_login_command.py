"""The "run claude" advice of a login (issue 15): plain `claude` for the default login, the
folder named in the user's shell's syntax for another one; the POSIX form is run by real shells."""
from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tray_monitor.login_command import login_command


def test_the_default_login_is_plain_claude_on_every_platform():
    assert {login_command(None, "/home/me", p) for p in ("linux", "darwin", "win32")} == {"claude"}


@pytest.mark.parametrize("folder, home, expected", [
    ("/home/me/.claude-work", "/home/me", "CLAUDE_CONFIG_DIR=~/.claude-work claude"),
    ("/home/me/.claude-work/", "/home/me/", "CLAUDE_CONFIG_DIR=~/.claude-work claude"),
    ("/srv/claude/work", "/home/me", "CLAUDE_CONFIG_DIR=/srv/claude/work claude"),
    ("/home/meg/.claude", "/home/me", "CLAUDE_CONFIG_DIR=/home/meg/.claude claude"),  # not under /home/me
    ("/home/me/my logins/work", "/home/me", "CLAUDE_CONFIG_DIR=~/'my logins/work' claude"),
    ("/tmp/it's", "/home/me", "CLAUDE_CONFIG_DIR='/tmp/it'\"'\"'s' claude"),
    ("/home/me/.claude-work", "/", "CLAUDE_CONFIG_DIR=/home/me/.claude-work claude"),
])
def test_another_login_names_its_folder_with_the_home_shortened_to_a_tilde(folder, home, expected):
    assert login_command(folder, home, "linux") == expected


@pytest.mark.parametrize("folder, home, expected", [
    (r"C:\Users\me\.claude-work", r"C:\Users\me", r'$env:CLAUDE_CONFIG_DIR="$HOME\.claude-work"; claude'),
    (r"c:\users\ME\.claude-work", r"C:\Users\me", r'$env:CLAUDE_CONFIG_DIR="$HOME\.claude-work"; claude'),
    (r"D:\claude\work", r"C:\Users\me", r'$env:CLAUDE_CONFIG_DIR="D:\claude\work"; claude'),
    (r"D:\a$b`c", r"C:\Users\me", r'$env:CLAUDE_CONFIG_DIR="D:\a`$b``c"; claude'),
])
def test_on_windows_the_advice_is_powershells(folder, home, expected):
    assert login_command(folder, home, "win32") == expected


HOME = "/home/someone"
# Folder names as a user may make them: spaces, quotes, dollars, globs, non-ASCII; never NUL or "/".
NAMES = st.text(st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="/\x00"),
                min_size=1, max_size=20).filter(lambda t: t not in (".", ".."))


@pytest.mark.skipif(sys.platform == "win32" or shutil.which("sh") is None, reason="a POSIX shell")
@settings(max_examples=40, deadline=None)
@given(name=NAMES, under_home=st.booleans())
def test_a_posix_shell_given_the_advice_sets_exactly_that_folder(name, under_home):
    folder = f"{HOME}/{name}" if under_home else f"/srv/{name}"
    command = login_command(folder, HOME, "linux")
    assert command.endswith(" claude")
    shown = command.removesuffix(" claude") + " printenv CLAUDE_CONFIG_DIR"
    done = subprocess.run(["sh", "-c", shown], capture_output=True, env={"HOME": HOME, "PATH": "/usr/bin:/bin"})
    assert done.stdout.decode("utf-8", "surrogateescape").removesuffix("\n") == folder
