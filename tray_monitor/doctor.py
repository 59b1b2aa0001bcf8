"""`claude-tray doctor`: one entry per thing the tray needs: a verdict column, the check's name, a
short finding, and when something is missing the fix on its own indented line, a command or an
action that works as written (commands name the very install that runs, so they work from a clone
or a venv that is not on PATH). Wrapped at spaces to the terminal's width.

Every probe is a small function of plain inputs; the ones that touch the outside world (X, D-Bus,
`claude --version`, Python modules) are gathered in `Probes` so tests can hand in fakes or point
them at a real Xvfb / private bus. Exit status 0 when nothing needed is broken (warnings allowed).
"""
from __future__ import annotations

import importlib.util
import os
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from tray_monitor.errors import CredentialsNotFound, FolderMissing, MonitorError, RateLimited
from tray_monitor.tray.choice import SNI_WATCHER
from tray_monitor.tray.choice import xembed_tray_owned as x_tray_owned

if TYPE_CHECKING:
    from tray_monitor.accounts import Account
    from tray_monitor.credentials import CredentialStore

OK, WARN, FAIL, SKIP, INFO = "ok", "warn", "FAIL", "skip", "info"

NOTIFICATIONS = "org.freedesktop.Notifications"
PROBE_TIMEOUT = 5.0  # seconds for any one outside call: a doctor must never hang


@dataclass(frozen=True)
class Check:
    name: str
    level: str  # OK | WARN | FAIL | SKIP | INFO
    detail: str
    fix: str | None = None

    def lines(self, width: int = 80) -> list[str]:
        """The verdict, name and finding wrapped under the finding's column; then the fix on its
        own lines, indented under the name. Below NARROW columns the finding starts on a line of
        its own too. Words are never cut (a path longer than the line runs over)."""
        head = f"{self.level:<4}  {self.name:<{NAME_WIDTH}} "
        if width >= NARROW:
            out = _wrap(self.detail, width, head, " " * len(head))
        else:
            out = [head.rstrip(), *_wrap(self.detail, width, FIX_INDENT, FIX_INDENT)]
        if self.fix:
            out += _wrap(self.fix, width, FIX_INDENT + "fix: ", FIX_INDENT + "     ")
        return out


NAME_WIDTH = 13  # "notifications", "usage request"
FIX_INDENT = " " * 6  # under the name: the verdict column stays clear
NARROW = 50  # below this the finding gets lines of its own
MAX_WIDTH = 100  # long lines are not easier to read


def _wrap(text: str, width: int, first: str, rest: str) -> list[str]:
    return textwrap.wrap(text, max(width, len(first) + 1), initial_indent=first, subsequent_indent=rest,
                         break_long_words=False, break_on_hyphens=False) or [first.rstrip()]


def plain(text: str) -> str:
    """A sentence from elsewhere (errors, settings) with its Markdown backticks dropped: in a
    terminal `claude` reads as a command only to a Markdown eye, and a copied backtick breaks it."""
    return text.replace("`", "")


def split_advice(message: str, environ=None) -> tuple[str, str | None]:
    """ "No Claude Code login found in X: run `claude` and log in." -> the finding and the fix, so
    the fix gets its own line instead of being glued onto the finding. With `environ`, a
    "claude-tray <command>" in the fix becomes the command that runs this install."""
    match = re.match(r"(.+?)[:;] ((?:run|unset|set|log in|install)\b.+)$", plain(message).strip())
    if not match:
        return plain(message), None
    fix = match.group(2).rstrip(".")
    if environ is not None:
        fix = re.sub(r"\bclaude-tray(?= (?:autostart|config|status|doctor|watch|--demo)\b)",
                     lambda _: self_command(environ), fix)
    return match.group(1), fix


def self_command(environ) -> str:
    """How to run this very claude-tray, as a user can type it: "claude-tray" when that is on PATH
    and is this install, else the install's own script or `python -m tray_monitor`."""
    bin_dir = os.path.dirname(sys.executable)
    on_path = shutil.which("claude-tray", path=environ.get("PATH"))
    if on_path and os.path.dirname(os.path.realpath(on_path)) in (bin_dir, os.path.realpath(bin_dir)):
        return "claude-tray"
    script = os.path.join(bin_dir, "claude-tray" + (".exe" if sys.platform == "win32" else ""))
    if os.path.isfile(script):
        return shlex.quote(script)
    return f"{shlex.quote(sys.executable)} -m tray_monitor"


def pip_install(requirement: str) -> str:
    """A pip command for the environment claude-tray runs in (venv, pipx or system)."""
    return f"{shlex.quote(sys.executable)} -m pip install {shlex.quote(requirement)}"


# ----------------------------------------------------------------------------- outside-world probes


def bus_names_owned(address: str, names: Iterable[str]) -> dict[str, bool]:
    """Which of `names` have an owner on the D-Bus at `address` (raises if the bus is unreachable)."""
    from jeepney import DBusAddress, new_method_call
    from jeepney.io.blocking import open_dbus_connection

    bus = DBusAddress("/org/freedesktop/DBus", bus_name="org.freedesktop.DBus", interface="org.freedesktop.DBus")
    owned = {}
    with open_dbus_connection(bus=address, auth_timeout=PROBE_TIMEOUT) as connection:
        for name in names:
            reply = connection.send_and_get_reply(new_method_call(bus, "NameHasOwner", "s", (name,)),
                                                  timeout=PROBE_TIMEOUT)
            owned[name] = bool(reply.body and reply.body[0])
    return owned


def claude_version(environ, run=subprocess.run) -> str | None:
    """`claude --version`'s line (the client's helper, so both ask the same way), or None when
    Claude Code is not on PATH."""
    from tray_monitor.client import installed_claude

    found = installed_claude(environ, run)
    return None if found is None else found.description


def module_available(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def typelib_available(namespace: str, version: str) -> bool:
    """Whether GObject introspection data for `namespace` exists (no GTK initialised, no display)."""
    try:
        import gi

        gi.require_version(namespace, version)
        return True
    except (ImportError, ValueError):
        return False


def running_tray(env) -> bool:
    """Whether a claude-tray answers on the local control channel (`ping`; no request is made)."""
    from tray_monitor import instance

    try:
        instance.send_command(env, "ping")
        return True
    except MonitorError:  # not running, not responding, or no runtime dir: all "no tray to ask"
        return False


@dataclass
class Probes:
    x_tray_owned: Callable[[str], bool] = x_tray_owned
    bus_names_owned: Callable[[str, Iterable[str]], dict] = bus_names_owned
    claude_version: Callable[..., str | None] = claude_version
    module_available: Callable[[str], bool] = module_available
    typelib_available: Callable[[str, str], bool] = typelib_available
    make_autostart: Callable | None = None  # (env) -> Autostart; default tray_monitor.autostart
    running_tray: Callable[..., bool] = running_tray


# ----------------------------------------------------------------------------- the checks


def check_credentials(store, now: datetime, environ=None) -> tuple[list[Check], object | None]:
    """Found, expiry, scope, plan. Returns the checks and the credentials when they are usable."""
    from tray_monitor.credentials import check_usable, describe_source, plan_label
    from tray_monitor.fmt import format_countdown

    try:
        creds = store.load()
    except FolderMissing as error:  # another login's folder is gone: the sentence is the whole advice
        return [Check("credentials", FAIL, plain(error.message))], None
    except MonitorError as error:
        finding, fix = split_advice(error.message)
        fix = fix or "run claude in a terminal and log in"
        if isinstance(error, CredentialsNotFound):
            own = self_command(environ if environ is not None else os.environ)
            fix += f"; or try claude-tray without a login: {own} --demo"
        return [Check("credentials", FAIL, finding, fix)], None
    plan = plan_label(creds)
    found = f"found in {describe_source(creds.source)}" + (f" ({plan} plan)" if plan else "")
    checks = [Check("credentials", OK, found)]
    if creds.expires_at is None:
        checks.append(Check("expiry", INFO, "unknown for a token from the environment"))
    elif creds.is_expired(now):
        checks.append(Check("expiry", FAIL, f"the login expired at {creds.expires_at:%Y-%m-%d %H:%M} UTC",
                            "run claude in a terminal once: Claude Code refreshes the login and "
                            "claude-tray picks it up"))
    else:
        checks.append(Check("expiry", OK, f"valid for {format_countdown(creds.expires_at - now)} "
                                          "(Claude Code refreshes it while you use it)"))
    if creds.scopes is None:
        checks.append(Check("scopes", INFO, "not recorded with this token"))
    elif creds.has_usage_scope:
        checks.append(Check("scopes", OK, "include user:profile (needed to read usage)"))
    else:
        try:
            check_usable(creds, now)
        except MonitorError as error:
            checks.append(Check("scopes", FAIL, *split_advice(error.message)))
    usable = all(c.level != FAIL for c in checks)
    return checks, (creds if usable else None)


def check_claude_code(environ, probes: Probes) -> Check:
    version = probes.claude_version(environ)
    if version is None:
        return Check("claude code", WARN, "claude is not on PATH",
                     "install Claude Code (npm install -g @anthropic-ai/claude-code), then run claude "
                     "and log in; claude-tray reads that login")
    return Check("claude code", OK, version)


def check_config(env) -> Check:
    from tray_monitor.settings import settings_path

    _settings, warnings = env.loaded_settings
    path = settings_path(env)
    if warnings:
        return Check("config", WARN, plain(" ".join(warnings)),
                     f"edit {path}; {self_command(env.environ)} config shows the values in use")
    return Check("config", OK, f"{path} is valid" if path.exists() else f"no {path}: defaults in use")


def _hosts(env, probes: Probes, problems: list[str]):
    """What runs now, asked through `probes` (the same two questions the tray asks at start)."""
    from tray_monitor.tray.choice import Hosts

    sni = _bus_owned(env, SNI_WATCHER, probes, problems)
    xembed = None
    display = env.environ.get("DISPLAY")
    if display:
        try:
            xembed = bool(probes.x_tray_owned(display))
        except Exception as exc:  # Xlib raises its own error types for an unreachable display
            problems.append(f"cannot open X display {display} ({type(exc).__name__})")
    else:
        problems.append("DISPLAY is not set")
    return Hosts(sni=sni, xembed=xembed)


SNI_PANELS = ("a panel whose tray speaks StatusNotifierItem: KDE, XFCE, LXQt and waybar have one; GNOME needs "
              "the 'AppIndicator and KStatusNotifierItem Support' extension")
MENU_FIX = f"for a menu, use {SNI_PANELS}; claude-tray picks it by itself at its next start"
#: the pystray backend -> the Python module it needs
_NEEDS = {"xorg": "Xlib", "gtk": "gi", "appindicator": "gi", "darwin": "AppKit"}


def check_backend(env, probes: Probes) -> tuple[Check, str | None]:
    """The backend the tray would pick now and why: tray.choice.choose_backend, asked with the
    doctor's probes (one order, kept in one place)."""
    from tray_monitor.tray.choice import BACKEND_VARIABLE, choose_backend

    problems: list[str] = []
    choice = choose_backend(env.environ, env.platform, lambda: _hosts(env, probes, problems))
    label = choice.label
    me = self_command(env.environ)
    if choice.kind == "none":
        return Check("tray backend", FAIL, "none: no graphical session (no DISPLAY, no WAYLAND_DISPLAY, no "
                     f"{SNI_WATCHER})", f"run claude-tray inside your desktop session; {me} watch works in "
                     "any terminal"), None
    if choice.kind == "wait":
        detail = f"none yet: {choice.reason}" + (f" ({'; '.join(problems)})" if problems else "")
        return Check("tray backend", WARN, detail,
                     f"start {SNI_PANELS}, or any panel with a system tray: the icon appears when it starts "
                     f"(notifications work meanwhile; {me} watch shows your usage in a terminal)"), "wait"
    if choice.kind == "sni":
        return Check("tray backend", OK, f"sni: {choice.reason}, with a menu (no PyGObject needed)"), "sni"
    module = choice.pystray_backend
    needed = _NEEDS.get(module or "")
    if needed and not probes.module_available(needed):
        forced = BACKEND_VARIABLE if env.environ.get(BACKEND_VARIABLE) else "PYSTRAY_BACKEND"
        if env.environ.get(forced) and needed != "AppKit":
            fix = f"unset {forced}: the built-in sni backend needs neither PyGObject nor python-xlib"
        else:
            fix = f"reinstall claude-tray from your clone: {pip_install('.')}"
        what = {"Xlib": "python-xlib", "gi": "PyGObject", "AppKit": "pyobjc (AppKit)"}[needed]
        return Check("tray backend", FAIL, f"{label}: {choice.reason}, but {what} is not installed", fix), None
    if module == "xorg":
        check = Check("tray backend", WARN, f"xembed: {choice.reason}; a left click shows the status", MENU_FIX)
        return check, "xembed"
    if module in ("gtk", "appindicator", "darwin", "win32"):
        return Check("tray backend", OK, f"{label}: {choice.reason}, with a menu"), label
    return Check("tray backend", INFO, f"{label}: {choice.reason}"), label


def check_tray_host(env, backend: str | None, probes: Probes) -> Check:
    """Linux/BSD: is there a panel that will show the icon with this backend?"""
    if env.platform in ("darwin", "win32"):
        return Check("tray host", OK, "the menu bar" if env.platform == "darwin" else "the notification area")
    problems: list[str] = []
    hosts = _hosts(env, probes, problems)
    display = env.environ.get("DISPLAY")
    if backend in ("sni", "wait", None, "appindicator") and hosts.sni:
        return Check("tray host", OK, f"{SNI_WATCHER} found")
    if backend in ("xembed", "gtk", "appindicator", "wait", None) and hosts.xembed:
        return Check("tray host", OK, f"XEmbed tray (_NET_SYSTEM_TRAY) on {display}")
    if backend in ("xembed", "gtk") and hosts.sni:
        return Check("tray host", FAIL,
                     f"only a StatusNotifierWatcher ({SNI_WATCHER}), which the {backend} backend cannot use",
                     "unset CLAUDE_TRAY_BACKEND and PYSTRAY_BACKEND: the sni backend uses it")
    if backend not in ("sni", "xembed", "appindicator", "gtk", "wait", None):
        return Check("tray host", INFO, f"not checked for the {backend} backend")
    detail = "no system tray found" + (f" ({'; '.join(problems)})" if problems else "")
    if not display and not env.environ.get("WAYLAND_DISPLAY"):
        return Check("tray host", FAIL, detail, "run claude-tray inside your desktop session (no display here)")
    return Check("tray host", FAIL, detail, f"start {SNI_PANELS}, or any panel with a system tray")


def _bus_owned(env, name: str, probes: Probes, problems: list[str]) -> bool | None:
    address = env.environ.get("DBUS_SESSION_BUS_ADDRESS")
    if not address:
        problems.append("DBUS_SESSION_BUS_ADDRESS is not set")
        return None
    try:
        return probes.bus_names_owned(address, [name])[name]
    except Exception as exc:  # jeepney raises OSError, ValueError, TimeoutError, ... for a dead bus
        problems.append(f"session bus unreachable ({type(exc).__name__})")
        return None


def check_notifications(env, probes: Probes) -> Check:
    if env.platform in ("darwin", "win32"):
        return Check("notifications", INFO, "sent through the system; allow them for claude-tray in the OS settings")
    problems: list[str] = []
    owned = _bus_owned(env, NOTIFICATIONS, probes, problems)
    if owned:
        return Check("notifications", OK, f"{NOTIFICATIONS} has an owner")
    detail = "no notification daemon" + (f" ({'; '.join(problems)})" if problems else "")
    return Check("notifications", WARN, detail,
                 "start one (your desktop's own, or dunst / mako); the tray works without popups")


def check_autostart(env, probes: Probes) -> Check:
    from tray_monitor.autostart import make_autostart

    status = (probes.make_autostart or make_autostart)(env).status()
    level = {"enabled": OK, "disabled": INFO, "unavailable": INFO}.get(status.state, WARN)
    return Check("autostart", level, *split_advice(status.message, env.environ))


def check_running(env, probes: Probes) -> Check:
    if probes.running_tray(env):
        return Check("running tray", INFO, "claude-tray is running and answers; it polls the same endpoint, so "
                                           "a rate limit it met shows here too")
    return Check("running tray", INFO, "claude-tray is not running", f"start it: {self_command(env.environ)}")


def check_endpoint(env, client, creds, offline: bool, account=None) -> Check:
    """One live request with the login `creds` (of `account`, None = the default login), unless
    that login's 429 wait lasts."""
    from tray_monitor.fmt import format_countdown, format_percent

    if client is None:  # a refused CLAUDE_TRAY_API_URL: a setting to fix, found even --offline
        from tray_monitor.client import api_base_url

        try:
            api_base_url(env)
        except MonitorError as error:
            return Check("usage request", FAIL, *split_advice(error.message))
        return Check("usage request", FAIL, "no client could be built")
    if offline:
        return Check("usage request", SKIP, "--offline")
    if creds is None:
        return Check("usage request", SKIP, "no usable login (see above)")
    from datetime import timedelta

    from tray_monitor.cooldown import SharedCooldown, cooldown_path

    cooldown = SharedCooldown(cooldown_path(env, account), env.clock)
    advice = ("wait: claude-tray backs off by itself (5 min, doubling to 30); do not poll below 60 s "
              "and close other usage monitors using the same login")
    remaining = cooldown.remaining()
    if remaining is not None:  # a 429 met by the tray or an earlier command: asking now would prolong it
        return Check("usage request", WARN, "not sent: the endpoint asked claude-tray to slow down; "
                     f"asking again is fine in {format_countdown(timedelta(seconds=remaining))}", advice)
    try:
        reading = client.fetch(creds)
    except RateLimited as error:
        cooldown.remember(error)
        wait = f"; retry in {format_countdown(timedelta(seconds=error.retry_after))}" if error.retry_after else ""
        return Check("usage request", WARN, f"rate-limited by the endpoint{wait}", advice)
    except MonitorError as error:
        return Check("usage request", FAIL, *split_advice(error.message))
    shown = ", ".join(f"{w.label} {format_percent(w.percent)}" for w in reading.windows[:4]) or "no windows yet"
    return Check("usage request", OK, f"answered: {shown}")


# ----------------------------------------------------------------------------- the command


@dataclass(frozen=True)
class AccountToCheck:
    """Another login than the default (accounts.py): checked after the default's checks."""
    account: Account
    label: str
    folder: str  # as the user would type it
    store: CredentialStore


def account_header(name: str, label: str, folder: str) -> Check:
    return Check("account", INFO, f"{name}: {label} ({folder})" if label != name else f"{name} ({folder})")


def doctor_checks(env, store, client, offline: bool, probes: Probes | None = None,
                  accounts: list[AccountToCheck] | None = None, default_label: str | None = None) -> list[Check]:
    """Every check; with several logins (`accounts`, the others than the default) the default's
    login checks come under an "account" line, and each other login's follow the rest, under its own."""
    probes = probes or Probes()
    now = env.clock.now()
    checks, creds = check_credentials(store, now, env.environ)
    if accounts:
        from tray_monitor.accounts import default_config_dir, display_path

        name = "default"
        checks.insert(0, account_header(name, default_label or name, display_path(env, default_config_dir(env))))
    checks.append(check_claude_code(env.environ, probes))
    checks.append(check_config(env))
    backend_check, backend = check_backend(env, probes)
    checks.append(backend_check)
    checks.append(check_tray_host(env, backend, probes))
    checks.append(check_notifications(env, probes))
    checks.append(_guarded("autostart", lambda: check_autostart(env, probes)))
    checks.append(_guarded("running tray", lambda: check_running(env, probes)))
    checks.append(check_endpoint(env, client, creds, offline))
    for other in accounts or ():
        checks.append(account_header(other.account.name, other.label, other.folder))
        found, other_creds = check_credentials(other.store, now, env.environ)
        # `claude` alone logs in (and refreshes) the default login; this one lives in its folder.
        from tray_monitor.accounts import claude_command

        own = f"run {claude_command(env, other.account)}"
        checks += [Check(c.name, c.level, c.detail, c.fix.replace("run claude", own, 1) if c.fix else None)
                   for c in found]
        checks.append(check_endpoint(env, client, other_creds, offline, other.account))
    return agree(env, checks)


def agree(env, checks: list[Check]) -> list[Check]:
    """Make the verdicts agree with each other, and say each problem once.

    - A backend that waits for a tray host beside a tray host that is missing: one problem, told
      (with its fix) under "tray host"; the backend line points there.
    - A tray that is running and answers next to a failed tray check read as a contradiction:
      either this shell cannot see the desktop (ssh, a bare console), so the tray checks say "not
      checked" instead of failing, or it can, and then the running tray is a problem too (its
      icon has nowhere to show)."""
    by_name = {c.name: c for c in checks}
    backend, host = by_name.get("tray backend"), by_name.get("tray host")
    if backend and host and backend.level == WARN and backend.detail.startswith("none yet") and host.level == FAIL:
        waiting = Check(backend.name, WARN, "none yet: the icon appears as soon as a tray host starts (see tray host)")
        told_once = Check(host.name, FAIL, host.detail, backend.fix or host.fix)
        checks = [waiting if c is backend else told_once if c is host else c for c in checks]
        by_name = {c.name: c for c in checks}
    running = by_name.get("running tray")
    tray_failed = [c for c in checks if c.name in ("tray backend", "tray host") and c.level == FAIL]
    if running is None or not running.detail.startswith("claude-tray is running") or not tray_failed:
        return checks
    has_display = env.environ.get("DISPLAY") or env.environ.get("WAYLAND_DISPLAY")
    if env.platform not in ("darwin", "win32") and not has_display:
        unseen = Check("", SKIP, "not checked: this shell has no display; the running claude-tray has its own",
                       f"run {self_command(env.environ)} doctor in a terminal of that desktop session")
        return [Check(c.name, unseen.level, unseen.detail, unseen.fix) if c in tray_failed else c for c in checks]
    problem = Check("running tray", WARN, "claude-tray is running, but its icon has no tray host to show in "
                                          "(see tray host)", by_name["tray host"].fix)
    return [problem if c is running else c for c in checks]


def _guarded(name: str, probe: Callable[[], Check]) -> Check:
    try:
        return probe()
    except Exception as exc:  # one broken probe must not hide the others' answers
        return Check(name, WARN, f"could not be checked ({type(exc).__name__}: {exc})")


def run_doctor(env, store, client, offline: bool, probes: Probes | None = None,
               accounts: list[AccountToCheck] | None = None, default_label: str | None = None) -> int:
    from tray_monitor.terminal import console_size

    checks = doctor_checks(env, store, client, offline, probes, accounts, default_label)
    width = max(20, min(console_size(env)[0] - 1, MAX_WIDTH))  # the last column makes some consoles wrap
    for check in checks:
        print("\n".join(check.lines(width)), file=env.stdout)
    failed = [c for c in checks if c.level == FAIL]
    warned = [c for c in checks if c.level == WARN]
    if failed:
        verdict = f"{len(failed)} problem(s) to fix before claude-tray can work" + (
            f", {len(warned)} warning(s)." if warned else ".")
    else:
        verdict = "Everything claude-tray needs is in place" + (f" ({len(warned)} warning(s))." if warned else ".")
    print("\n" + "\n".join(textwrap.wrap(verdict, width)), file=env.stdout)
    return 1 if failed else 0
