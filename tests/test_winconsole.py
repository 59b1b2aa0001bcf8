"""winconsole.console_streams: the Windows calls it makes, recorded (they cannot run here)."""
from __future__ import annotations

import io
import os
import sys

import pytest

from tray_monitor import cli
from tray_monitor.winconsole import ATTACH_PARENT_PROCESS, console_streams


class FakeKernel32:
    def __init__(self, attaches: bool | Exception):
        self.attaches = attaches
        self.calls: list[tuple] = []

    def AttachConsole(self, process_id):
        self.calls.append(("AttachConsole", process_id))
        if isinstance(self.attaches, Exception):
            raise self.attaches
        return 1 if self.attaches else 0


class Opener:
    def __init__(self):
        self.opened: list[tuple] = []

    def __call__(self, name, mode, **kwargs):
        self.opened.append((name, mode, kwargs))
        return io.StringIO()


def test_typed_into_a_console_it_attaches_to_that_console_and_writes_to_conout():
    kernel32, opener = FakeKernel32(attaches=True), Opener()
    out, err = console_streams("win32", None, None, kernel32=lambda: kernel32, opener=opener)
    assert kernel32.calls == [("AttachConsole", 0xFFFFFFFF)] and ATTACH_PARENT_PROCESS == 0xFFFFFFFF
    assert opener.opened == [("CONOUT$", "w", {"encoding": "utf-8", "errors": "replace"})]
    assert out is err and out is not None
    out.write("Session (5h) 78%")  # usable


def test_started_at_login_without_a_console_it_writes_to_devnull():
    kernel32, opener = FakeKernel32(attaches=False), Opener()
    out, err = console_streams("win32", None, None, kernel32=lambda: kernel32, opener=opener)
    assert kernel32.calls == [("AttachConsole", 0xFFFFFFFF)]
    assert opener.opened == [(os.devnull, "w", {"encoding": "utf-8"})]
    assert out is err and out is not None


@pytest.mark.parametrize("failure", [OSError("no console API"), AttributeError("WinDLL")])
def test_a_console_api_that_fails_falls_back_to_devnull_without_raising(failure):
    opener = Opener()

    def broken():
        raise failure

    out, err = console_streams("win32", None, None, kernel32=broken, opener=opener)
    assert opener.opened == [(os.devnull, "w", {"encoding": "utf-8"})] and out is not None and err is out


def test_a_stream_that_exists_is_kept_and_only_the_missing_one_is_replaced():
    """`claude-tray.exe status > out.txt`: stdout is the file; stderr (None) gets the console."""
    kernel32, opener = FakeKernel32(attaches=True), Opener()
    redirected = io.StringIO()
    out, err = console_streams("win32", redirected, None, kernel32=lambda: kernel32, opener=opener)
    assert out is redirected and err is not None and err is not redirected


@pytest.mark.parametrize("platform", ["win32", "linux", "darwin"])
def test_with_both_streams_or_off_windows_nothing_is_called(platform):
    kernel32, opener = FakeKernel32(attaches=True), Opener()
    streams = (io.StringIO(), io.StringIO())
    assert console_streams(platform, *streams, kernel32=lambda: kernel32, opener=opener) == streams
    assert kernel32.calls == [] and opener.opened == []
    if platform != "win32":  # off Windows, even missing streams are left alone (Python never does that)
        assert console_streams(platform, None, None, kernel32=lambda: kernel32, opener=opener) == (None, None)
        assert kernel32.calls == []


def test_the_real_console_api_is_absent_here_and_that_is_not_an_error():
    """On Linux ctypes has no WinDLL: the real lookup fails, and devnull is used, never a crash."""
    out, err = console_streams("win32", None, None)
    assert out is not None and out is err
    out.write("harmless")
    out.close()


def test_the_cli_replaces_missing_streams_before_anything_prints(monkeypatch):
    """`claude-tray.exe --version` from pythonw / the windowed build: the version reaches the
    console it was typed into (here: a stand-in stream) instead of vanishing or crashing."""
    console = io.StringIO()
    calls = []

    def fake_console_streams(platform, stdout, stderr):
        calls.append((platform, stdout, stderr))
        return console, console

    monkeypatch.setattr("tray_monitor.winconsole.console_streams", fake_console_streams)
    monkeypatch.setattr(sys, "stdout", None)
    monkeypatch.setattr(sys, "stderr", None)
    assert cli.main(["--version"]) == 0
    assert calls == [(sys.platform, None, None)]
    assert console.getvalue().startswith("claude-tray ")
