"""The composition root: the one place that builds the adapters and wires them to the core.

Each CLI command has one function here; `cli.py` only parses arguments and calls them.
"""
from __future__ import annotations

import logging
import threading
from datetime import timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tray_monitor.environment import Environment
from tray_monitor.errors import ConfigError, MonitorError

if TYPE_CHECKING:
    from tray_monitor.settings import Settings

log = logging.getLogger("tray_monitor.app")

DEMO_INTERVAL = 5  # --demo only: the simulated source walks through its states in about a minute


# ---------------------------------------------------------------------- shared wiring

def _load_settings(env: Environment) -> Settings:
    settings, warnings = env.loaded_settings
    for warning in warnings:
        log.warning("settings: %s", warning)
        print(f"claude-tray: {warning}", file=env.stderr)
    return settings


def _usage_source(env: Environment, account=None, background: bool = False):
    """The endpoint source of one account (None: the default login): its own credential store and
    its own 429 wait, so a 429 for one login never holds back another. `background`: reads nobody
    asked for at that moment (the tray's and `watch`'s polls) leave out the spend block."""
    from tray_monitor.accounts import credential_store
    from tray_monitor.client import UsageClient
    from tray_monitor.cooldown import SharedCooldown, cooldown_path
    from tray_monitor.credentials import CredentialStore
    from tray_monitor.source import UsageSource

    store = CredentialStore(env) if account is None else credential_store(env, account)
    return UsageSource(store, UsageClient(env, background=background), env.clock,
                       SharedCooldown(cooldown_path(env, account), env.clock))


def _initial_state(settings, interval: float, notifications: bool, memory, simulated: bool = False,
                   claude_command: str = "claude"):
    """`claude_command`: how this login is logged in again (accounts.claude_command), which the
    view's advice and the login popups name."""
    from tray_monitor.alerts import AlertSettings
    from tray_monitor.state import MonitorState

    return MonitorState(
        interval=interval,
        pinned_window=settings.icon_window,
        notifications_enabled=notifications,
        alert_memory=memory,
        alert_settings=AlertSettings(thresholds=settings.thresholds, notify_reset=settings.notify_reset,
                                     notify_runout=settings.notify_runout, runout_lead=settings.runout_lead,
                                     runout_within=settings.runout_within, claude_command=claude_command),
        simulated=simulated,
    )


def _fail(env: Environment, error: MonitorError) -> int:
    print(f"claude-tray: {error.message}", file=env.stderr)
    return 1


# ---------------------------------------------------------------------- commands

def status(env: Environment, as_json: bool, demo: bool = False, fmt: str = "text", fresh: bool = False,
           account: str | None = None) -> int:
    """One reading: the running tray's when it has a fresh one (no request at all), else the
    endpoint's. `fresh` asks the running tray to poll now and waits for its answer (without a
    tray the endpoint is asked anyway). `fmt`: text, json, or a panel format (panels.FORMATS).
    With several logins (accounts.py) every one is shown, or the one `account` names; a panel
    format shows one login: the default, or `account`."""
    from tray_monitor import terminal

    as_json = as_json or fmt == "json"
    if demo:  # the demo's first step, read once: no login, no network
        return terminal.run_status(_demo_source(env), env, as_json=as_json, now=env.clock.now, simulated=True)
    try:
        accounts = _chosen_accounts(env, account)
    except MonitorError as error:
        return _no_such_account(env, error, as_json, fmt)
    if accounts[0].is_default and (len(accounts) == 1 or fmt in PANEL_FORMATS):
        return _status_default(env, as_json, fmt, fresh)  # one login: exactly as before accounts
    if len(accounts) == 1 or fmt in PANEL_FORMATS:  # another login than the default, alone
        return _status_other(env, accounts[0], as_json, fmt)
    results = [_account_status(env, a, fresh) for a in accounts]
    return terminal.print_accounts_status(results, env, as_json, env.clock.now())


def _chosen_accounts(env: Environment, name: str | None):
    """Every account (the default first), or the one named; an unknown name is a ConfigError."""
    from tray_monitor.accounts import load_accounts

    accounts, warnings = load_accounts(env)
    for warning in warnings:
        log.warning("accounts: %s", warning)
    if name is None:
        return accounts
    chosen = [a for a in accounts if a.name == name]
    if not chosen:
        names = ", ".join(a.name for a in accounts)
        raise ConfigError(f"There is no account {name!r}: the accounts are {names}.")
    return chosen


def _no_such_account(env: Environment, error: MonitorError, as_json: bool, fmt: str) -> int:
    """`--account` named no account: the sentence on stderr, exit 1; and where a script or a panel
    reads stdout, what it always gets there: the JSON object, or a panel block in the error state
    (a bar shows "Claude: error" rather than an empty module)."""
    from tray_monitor import terminal

    if as_json:
        return terminal.print_failure_json(error, env)
    if fmt in PANEL_FORMATS:
        terminal.print_panel(env, fmt, _one_shot_view(None, None, error, env.clock.now()))
    return _fail(env, error)


def _account_json(env: Environment, account) -> dict:
    from tray_monitor.accounts import account_label

    return {"name": account.name, "label": account_label(env, account), "config_dir": str(account.config_dir)}


def _account_status(env: Environment, account, fresh: bool):
    """One login's reading for `status`: the running tray's reading of that login when it has a
    fresh one (no request at all), else a request with that login's own source. Its forecast
    uses that login's own history (the tray records one per login)."""
    from tray_monitor import tray_reading
    from tray_monitor.accounts import claude_command
    from tray_monitor.credentials import plan_label
    from tray_monitor.terminal import AccountStatus

    described = _account_json(env, account)
    claude = claude_command(env, account)
    if account.is_default or (not fresh and _still_logged_in(env, account)):  # else its own request
        shared = tray_reading.fetch(env, account=None if account.is_default else account.name)
        if shared is not None and fresh:
            shared = _fresh_from_tray(env, shared)
        now = env.clock.now()
        if shared is not None and shared.reading is not None and tray_reading.is_fresh(shared, now):
            return AccountStatus(described, shared.reading, shared.plan, None, tray_reading.origin_text(shared, now),
                                 history=_history_store(env, account).digest(now))
    try:
        reading, creds = _usage_source(env, account).read()
    except MonitorError as error:
        return AccountStatus(described, None, None, error, claude=claude)
    return AccountStatus(described, reading, plan_label(creds), None,
                         history=_history_store(env, account).digest(env.clock.now()), claude=claude)


def _still_logged_in(env: Environment, account) -> bool:
    """Whether the login can still be read here (a local read, no request): a logout or a deleted
    folder is said at once, not after the tray's next poll of that login."""
    from tray_monitor.accounts import holds_login

    return holds_login(env, account.config_dir)


def _status_other(env: Environment, account, as_json: bool, fmt: str) -> int:
    """`status --account NAME` of a login other than the default: the running tray's reading of it
    when fresh (no request), else its own request."""
    from tray_monitor import terminal, tray_reading
    from tray_monitor.accounts import claude_command

    described = _account_json(env, account)
    claude = claude_command(env, account)
    shared = tray_reading.fetch(env, account=account.name) if _still_logged_in(env, account) else None
    answered = _status_from_tray(env, shared, as_json, fmt, account, account=described, claude=claude)
    if answered is not None:
        return answered
    try:
        source = _usage_source(env, account)
    except MonitorError as error:  # a bad CLAUDE_TRAY_API_URL
        if fmt in PANEL_FORMATS:
            return terminal.print_panel(env, fmt, _one_shot_view(None, None, error, env.clock.now()))
        if as_json:
            return terminal.print_failure_json(error, env, account=described, claude=claude)
        return _fail(env, error)
    if fmt in PANEL_FORMATS:
        return _panel_from_endpoint(env, source, fmt, claude)
    return terminal.run_status(source, env, as_json=as_json, now=env.clock.now, account=described,
                               history=_history_store(env, account).digest(env.clock.now()), claude=claude)


def _status_from_tray(env: Environment, shared, as_json: bool, fmt: str, login, **described) -> int | None:
    """`status` answered from the running tray's reading of a login (`login`, None for the
    default) while it is fresh: no request. None when there is no such reading."""
    from tray_monitor import terminal, tray_reading

    now = env.clock.now()
    if shared is None or shared.reading is None or not tray_reading.is_fresh(shared, now):
        return None
    origin = tray_reading.origin_text(shared, now)
    if fmt in PANEL_FORMATS:
        return terminal.print_panel(env, fmt, _shared_view(shared, now), origin)
    return terminal.run_status(_Fixed(shared.reading), env, as_json=as_json, now=now, plan=shared.plan,
                               origin=origin, history=_history_store(env, login).digest(now), **described)


def _status_default(env: Environment, as_json: bool, fmt: str, fresh: bool) -> int:
    """`status` of the default login, as it has always been."""
    from tray_monitor import terminal, tray_reading

    shared = tray_reading.fetch(env)
    if shared is not None and fresh:
        shared = _fresh_from_tray(env, shared)
    answered = _status_from_tray(env, shared, as_json, fmt, None)
    if answered is not None:
        return answered
    try:
        source = _usage_source(env, background=False)
    except MonitorError as error:  # a bad CLAUDE_TRAY_API_URL
        if fmt in PANEL_FORMATS:
            return terminal.print_panel(env, fmt, _one_shot_view(None, None, error, env.clock.now()))
        if as_json:
            return terminal.print_failure_json(error, env)
        return _fail(env, error)
    if fmt in PANEL_FORMATS:
        return _panel_from_endpoint(env, source, fmt)
    return terminal.run_status(source, env, as_json=as_json, now=env.clock.now,
                               history=_history_store(env).digest(env.clock.now()))


#: `status --format` values that print a status bar block (panels.py).
PANEL_FORMATS = ("waybar", "i3blocks", "polybar")
#: How long `status --fresh` waits for the running tray's new reading.
FRESH_WAIT = 15.0


class _Fixed:
    """A source that returns a reading already in hand (the running tray's)."""

    def __init__(self, reading):
        self._reading = reading

    def read(self):
        return self._reading, None


def _fresh_from_tray(env: Environment, shared):
    """Ask the running tray to poll now; wait (up to FRESH_WAIT) for the reading that brings."""
    import time

    from tray_monitor import instance, tray_reading
    from tray_monitor.poller import REFRESH_ACCEPTED_REPLY, REFRESH_IN_FLIGHT_REPLY

    try:
        reply = instance.send_command(env, "refresh")
    except MonitorError as error:
        env.stderr.write(f"claude-tray: {error.message}\n")
        return shared
    # Several logins: one sentence per login ("default: Refreshing now.; work: ...").
    if not any(sentence in reply for sentence in (REFRESH_ACCEPTED_REPLY, REFRESH_IN_FLIGHT_REPLY)):
        env.stderr.write(f"claude-tray: {reply}\n")  # coalesced (fresh already) or held back by a 429
        return shared
    before = shared.endpoint_at
    deadline = time.monotonic() + FRESH_WAIT
    while time.monotonic() < deadline:
        time.sleep(0.2)
        latest = tray_reading.fetch(env)
        if latest is None:
            return None  # the tray quit meanwhile: ask the endpoint
        if latest.endpoint_at != before or latest.status != "ok":
            return latest
    env.stderr.write("claude-tray: the running tray has no new answer yet; showing its last reading.\n")
    return shared


def _shared_view(shared, now):
    from tray_monitor.state import MonitorState
    from tray_monitor.view import view

    return view(MonitorState(reading=shared.reading, plan=shared.plan, interval=shared.interval,
                             next_poll_at=shared.next_poll_at), now)


def _one_shot_view(reading, plan, error, now, claude: str = "claude"):
    from tray_monitor.alerts import AlertSettings
    from tray_monitor.state import MonitorState
    from tray_monitor.view import view

    return view(MonitorState(reading=reading, plan=plan, problem=error,
                             alert_settings=AlertSettings(claude_command=claude)), now)


def _panel_from_endpoint(env: Environment, source, fmt: str, claude: str = "claude") -> int:
    from tray_monitor import terminal
    from tray_monitor.credentials import plan_label

    try:
        reading, creds = source.read()
    except MonitorError as error:
        return terminal.print_panel(env, fmt, _one_shot_view(None, None, error, env.clock.now(), claude))
    return terminal.print_panel(env, fmt, _one_shot_view(reading, plan_label(creds), None, env.clock.now(), claude))


#: `watch` with several logins: their first requests go out this many seconds apart (every box
#: fills within seconds); after that each login waits its own interval with the tray's jitter, so
#: their polls drift apart rather than go out in lockstep.
WATCH_FIRST_POLL_GAP = 3.0


def watch(env: Environment, interval: float, demo: bool = False, colour: str = "auto", fmt: str = "text",
          fresh: bool = False, account: str | None = None) -> int:
    """The live view. While a tray runs with a fresh reading it follows that tray (asked every few
    seconds over the local socket; no request to the endpoint), else it polls the endpoint itself.
    `fmt` "waybar" prints one JSON line per change (waybar's continuous mode).

    With several logins (accounts.py) each one is read as the tray reads it: its own source
    (credential store, 429 wait), monitor and poller (schedule, back-off), and shown in its own
    box; each login follows the running tray while that has a fresh reading of it (`reading NAME`).
    `account` picks one login; a panel format shows one: the default, or `account`."""
    from tray_monitor import terminal, tray_reading
    from tray_monitor.accounts import account_label
    from tray_monitor.tray_accounts import AccountPart, MonitorGroup, PollerGroup

    settings = _load_settings(env)
    if demo:
        accounts: list[Any] = [None]
    else:
        try:
            accounts = _chosen_accounts(env, account)
        except MonitorError as error:
            return _no_such_account(env, error, False, fmt)
        if fmt in PANEL_FORMATS:
            accounts = accounts[:1]
    shared = None if demo else tray_reading.fetch(env)
    several = len(accounts) > 1
    parts: list[AccountPart] = []
    notes: list[str | None] = []
    for index, chosen in enumerate(accounts):
        try:
            monitor, poller, note = _watch_login(env, settings, chosen, interval, demo, fresh, shared,
                                                 index * WATCH_FIRST_POLL_GAP, several)
        except MonitorError as error:
            return _fail(env, error)
        name = chosen.name if chosen is not None else "default"
        parts.append(AccountPart(name, account_label(env, chosen) if chosen is not None else name, monitor, poller))
        notes.append(note)
    if fmt in PANEL_FORMATS:
        return terminal.run_watch_panel(parts[0].monitor, parts[0].poller, env, threading.Event(), fmt)
    if several:
        return terminal.run_watch(MonitorGroup(parts, settings.icon_account), PollerGroup(parts), env,
                                  threading.Event(), colour=colour, notes=tuple(notes))
    alone = accounts[0]
    label = parts[0].label if alone is not None and not alone.is_default else None
    return terminal.run_watch(parts[0].monitor, parts[0].poller, env, threading.Event(), colour=colour,
                              note=notes[0], label=label)


def _watch_login(env: Environment, settings, account, interval: float, demo: bool, fresh: bool, shared,
                 first_poll_in: float, several: bool):
    """One login's monitor and poller for `watch`, and the note saying where its numbers come
    from (None: its own requests). Each login follows the running tray while that has a fresh
    reading of it (`shared`: the default login's; another's is asked by name); `several`: the
    tray's jitter on each wait, the first request after `first_poll_in` seconds. A single login
    is read exactly as before accounts."""
    from tray_monitor import tray_reading
    from tray_monitor.accounts import claude_command
    from tray_monitor.alerts import AlertMemory
    from tray_monitor.monitor import Monitor
    from tray_monitor.notifier import NullNotifier
    from tray_monitor.poller import Poller
    from tray_monitor.schedule import JITTER

    default = account is None or account.is_default
    tray_runs = shared is not None
    if not default:  # the running tray's reading of this login (`reading NAME`), unless --fresh
        shared = tray_reading.fetch(env, account=account.name) if tray_runs and not fresh else None
    if shared is not None and fresh:
        shared = _fresh_from_tray(env, shared)
    note = None
    if shared is not None and tray_reading.is_fresh(shared, env.clock.now()):
        tray_source = tray_reading.TraySource(env, None if default else account.name)
        source = tray_source
        # The reading is the tray's, so it turns stale by the tray's interval; the tray itself is
        # asked every few seconds.
        interval, ask_every = shared.interval, tray_source.min_interval
        plan_of = lambda _creds: tray_source.plan  # noqa: E731
        note = "From the running claude-tray (no request of its own)"
    else:
        source = _demo_source(env) if demo else _usage_source(env, account, background=True)
        if demo:
            interval = DEMO_INTERVAL
        ask_every = None  # the state's interval
        plan_of = None
    # The terminal view shows; the tray (if it runs) is the one that notifies.
    # Following a running tray, the tray records the history; this view must not record it twice
    # (nor another login's, which a running tray records too).
    tray_records = note is not None or (not default and tray_runs)
    history = None if demo or tray_records else _history_store(env, account)
    claude = claude_command(env, account)
    monitor = Monitor(_initial_state(settings, interval, False, AlertMemory(), simulated=demo,
                                     claude_command=claude), env.clock, NullNotifier(), None, history=history)
    timing: dict[str, Any] = {"jitter": JITTER, "first_poll_in": first_poll_in} if several else {}
    if plan_of is not None:
        poller = Poller(source, monitor, env.clock, ask_every, plan_of=plan_of, **timing)
    else:
        poller = Poller(source, monitor, env.clock, ask_every, **timing)
    return monitor, poller, note


def _tray_poller(env: Environment, source, monitor, demo: bool, first_poll_in: float = 0.0,
                 after_poll=None):
    """The tray's poller asks politely (schedule.py): jittered waits, stretched up to 10 minutes
    while Claude Code is idle (its transcripts are watched; the demo has none), at the interval of
    the monitor's state. `first_poll_in`: with several logins, this one's share of the interval
    before its first request. `after_poll`: called after each of its polls (Poller)."""
    from tray_monitor.activity import TranscriptActivity, projects_dir
    from tray_monitor.poller import Poller
    from tray_monitor.schedule import JITTER

    if demo:
        return Poller(source, monitor, env.clock)
    activity = TranscriptActivity(projects_dir(env.environ, env.home))
    return Poller(source, monitor, env.clock, jitter=JITTER, activity=activity.latest,
                  first_poll_in=first_poll_in, after_poll=after_poll)


def _history_store(env: Environment, account=None):
    """The usage history (forecast, `claude-tray history`) of one login (None: the default);
    simulated readings never go in it."""
    from tray_monitor.accounts import account_file
    from tray_monitor.history import HistoryStore, history_path

    return HistoryStore(account_file(history_path(env), account), clock=env.clock)


#: Benchmarks only (benchmarks/bench.py, issue 14's A/B): "1" runs the tray without the usage
#: history and the forecast, as it was before they existed. Not a user setting; not documented for users.
BENCH_NO_HISTORY = "CLAUDE_TRAY_BENCH_NO_HISTORY"


def _without_history(env: Environment) -> bool:
    """BENCH_NO_HISTORY set: no history store, and every forecast empty (the view and the run-out
    popup ask forecast_view.outlooks through these two modules)."""
    if env.environ.get(BENCH_NO_HISTORY) != "1":
        return False
    from tray_monitor import state, view

    for module in (state, view):
        setattr(module, "outlooks", lambda *args: ())  # noqa: B010 - a module's function, on purpose
    log.info("%s=1: no usage history, no forecast (benchmark)", BENCH_NO_HISTORY)
    return True


def _demo_source(env: Environment):
    from tray_monitor.demo import DemoSource

    return DemoSource(env.clock)


def tray(env: Environment, interval: float, demo: bool = False) -> int:
    """The tray indicator: blocks the main thread in the tray's event loop until Quit."""
    from tray_monitor import accounts as accounts_module
    from tray_monitor import instance
    from tray_monitor.accounts import account_file, account_label
    from tray_monitor.alert_store import AlertStore, alert_store_path
    from tray_monitor.autostart import make_autostart
    from tray_monitor.malloc_arenas import limit_malloc_arenas
    from tray_monitor.monitor import AlertMemoryStore, Monitor
    from tray_monitor.notifier import make_notifier
    from tray_monitor.runtime import claude_config_dir
    from tray_monitor.settings import load_settings
    from tray_monitor.shared_reading import BadFeed, parse_feed
    from tray_monitor.tray import NoGraphicalSession, TrayAdapter
    from tray_monitor.tray_accounts import (
        AccountPart,
        MonitorGroup,
        NamedNotifier,
        PollerGroup,
        SettingsFilesCheck,
        TrayLogins,
    )
    from tray_monitor.tray_controller import TrayController
    from tray_monitor.tray_reading import ReadingPublisher, remove_stale_file

    settings = _load_settings(env)
    if demo:
        interval = DEMO_INTERVAL

    lock = instance.InstanceLock(env)
    try:
        acquired = lock.acquire()
    except MonitorError as error:  # runtime directory missing or not ours
        return _fail(env, error)
    if not acquired:
        # A second start (autostart + a click on the launcher) must not add a second icon.
        try:
            instance.send_command(env, "refresh")
        except MonitorError:
            pass
        print("claude-tray is already running; asked it to refresh.", file=env.stderr)
        return 0
    # Before the first thread: one malloc arena for a process that mostly sleeps (-0.6 MiB RSS).
    limit_malloc_arenas(env.platform)

    accounts = [None] if demo else _chosen_accounts(env, None)  # the default login first
    try:  # a bad CLAUDE_TRAY_API_URL is said before any icon shows
        first_source = _demo_source(env) if demo else _usage_source(env, accounts[0], background=True)
    except MonitorError as error:
        lock.release()
        return _fail(env, error)

    autostart = make_autostart(env)
    try:
        autostart.follow()  # the login entry follows this install if it moved; never re-creates a deleted one
    except MonitorError as error:
        log.warning("autostart: %s", error)
    # bound below, once the tray and the monitor exist
    controller = TrayController(env, autostart, open_history=lambda: open_history_chart(env))

    def say(text: str) -> None:  # what the tray did at start, and a missing tray host: stderr and log
        log.info("%s", text)
        print(f"claude-tray: {text}", file=env.stderr, flush=True)

    try:
        tray_adapter = TrayAdapter(env, controller.actions(), say=say)
    except NoGraphicalSession as error:
        lock.release()
        return _fail(env, error)
    if tray_adapter.backend == "dummy":  # pystray's test backend has no event loop to run
        lock.release()
        return _fail(env, NoGraphicalSession(
            f"The pystray backend '{tray_adapter.backend}' cannot show an icon; "
            "unset PYSTRAY_BACKEND or run `claude-tray watch` in a terminal."))

    notifier = make_notifier(env, tray_icon=tray_adapter.notifier_icon)
    if demo:
        from tray_monitor.demo import DemoNotifier

        notifier = DemoNotifier(notifier)
    monitor = MonitorGroup([])
    poller = PollerGroup(monitor)

    no_history = demo or _without_history(env)

    def build_login(account, first_poll_in: float) -> AccountPart:
        """One login's own source, alert memory, history, monitor and poller (issue 15)."""
        name = account.name if account is not None else "default"
        source = first_source if account is accounts[0] else _usage_source(env, account, background=True)
        if demo:
            # Simulated windows must not leave "already notified" marks that a real run would read.
            from tray_monitor.demo import DemoAlertStore

            alert_store: AlertMemoryStore = DemoAlertStore()
        else:
            alert_store = AlertStore(account_file(alert_store_path(env), account), clock=env.clock)
        running = monitor.parts  # a login added later follows the Notifications toggle as it is now
        notifications = running[0].monitor.state.notifications_enabled if running else settings.notifications
        state = _initial_state(settings, interval, notifications, alert_store.load(), simulated=demo,
                               claude_command=accounts_module.claude_command(env, account))
        own_notifier = NamedNotifier(notifier, name, lambda: logins.label_for(name))
        account_monitor = Monitor(state, env.clock, own_notifier, alert_store,
                                  history=None if no_history else _history_store(env, account))
        account_env = env if account is None else accounts_module.account_env(env, account)
        # The default login's polls look at the settings files again (not its minute ticks)
        after_poll = recheck_accounts if account is accounts[0] and not demo else None
        return AccountPart(name, name, account_monitor,
                           _tray_poller(account_env, source, account_monitor, demo, first_poll_in, after_poll),
                           account)

    watched = SettingsFilesCheck(env)

    def recheck_accounts() -> None:
        # On the default login's thread after each of its polls (not after a minute tick: the
        # README promises an edited settings.toml at the next poll): two stat() calls, nothing
        # more unless a settings file changed.
        if watched.changed():
            reread_accounts()

    logins = TrayLogins(build_login, lambda account: account_label(env, account), monitor, poller)
    logins.update(accounts, settings.icon_account, interval)  # first polls spread over the interval
    default_monitor = monitor.parts[0].monitor
    publisher = ReadingPublisher(env, default_monitor)  # the shared reading is the default login's

    def reread_accounts() -> str:
        """settings.toml and preferences.json read again: logins added or removed while running."""
        fresh, _ = load_settings(env)
        found, warnings = accounts_module.load_accounts(env, fresh)
        for warning in warnings:
            log.warning("accounts: %s", warning)
        return logins.update(found, fresh.icon_account)

    def reading_of(name: str) -> str:
        """`reading NAME`: that login's reading, as `reading` answers the default login's (issue 15)."""
        if demo:
            return "error: this tray shows simulated usage (--demo)"
        part = next((p for p in monitor.parts if p.name == name and p.account is not None), None)
        if part is None:
            return f"error: no login {name[:40]!r} in this tray"
        if part.account.is_default:
            return publisher.current()
        return ReadingPublisher(accounts_module.account_env(env, part.account), part.monitor).current()

    def take_statusline(text: str) -> str:
        # `claude-tray statusline` hands over Claude Code's session and weekly windows.
        if demo:
            return "ignored: this tray shows simulated usage (--demo)"
        try:
            fed = parse_feed(text, env.clock.now())
        except BadFeed as error:
            return f"ignored: {error}"
        parts = monitor.parts
        if fed.config_dir is None:
            return parts[0].poller.feed_statusline(fed)
        for part in parts:  # the login whose folder it is
            account = part.account
            folder = claude_config_dir(env.environ if account is None else
                                       accounts_module.account_env(env, account).environ)
            if fed.config_dir == folder:
                return part.poller.feed_statusline(fed)
        return "ignored: the statusline of another Claude login (another config folder)"

    control = instance.ControlServer(env, {
        "refresh": poller.request_refresh,  # its reply says whether it was coalesced or held back
        "quit": controller.quit_from_control,
        "ping": lambda: "pong",
        "view": lambda: describe_tray(monitor.view(), tray_adapter, autostart),
        "autostart": tray_adapter.recheck_autostart,  # sent by `claude-tray autostart enable|disable`
        "reading": publisher.current,  # what `status`, `watch` and the panel formats show
        # sent by `claude-tray accounts add|remove`; the demo's one simulated login stays alone
        "accounts": (lambda: "ignored: this tray shows simulated usage (--demo)") if demo else reread_accounts,
    }, arg_handlers={"statusline": take_statusline, "reading": reading_of})
    controller.bind(monitor=monitor, poller=poller, notifier=notifier, tray=tray_adapter)
    monitor.subscribe(tray_adapter.show)
    remove_stale_file(env)  # left by a tray that died; we hold the lock now
    if not demo:  # simulated numbers must not reach the statusline or a panel
        default_monitor.subscribe(publisher.on_view)

    def on_ready() -> None:
        tray_adapter.show(monitor.view())
        first_run_hint(env, controller.send)
        poller.start()  # first: the icon must come alive even if the control channel fails
        try:
            control.start()
        except MonitorError as error:
            log.warning("`claude-tray refresh` and `quit` will not reach this tray: %s", error)
        log.info("claude-tray started (backend %s, interval %ss%s)", tray_adapter.backend, interval,
                 ", demo" if demo else "")

    try:
        tray_adapter.run(on_ready)
    finally:
        poller.stop()
        control.stop()
        publisher.remove()
        lock.release()
        log.info("claude-tray stopped")
    return 0


WINDOWS_OVERFLOW_HINT: dict[str, Any] = dict(  # an alerts.Notification (imported lazily)
    key="welcome",
    summary="claude-tray is running",
    body="Windows may hide new tray icons under the ^ arrow: "
         "drag the Claude icon onto the taskbar to keep it in sight.",
    urgency="low",
)


def first_run_hint(env: Environment, send) -> None:
    """Windows puts a new tray icon in the overflow area, where nobody sees it: say so, once."""
    from tray_monitor.alerts import Notification
    from tray_monitor.settings import load_preferences, save_preference

    if env.platform != "win32" or load_preferences(env)[0].get("overflow_hint_shown"):
        return
    send(Notification(**WINDOWS_OVERFLOW_HINT))
    try:
        save_preference(env, "overflow_hint_shown", True)
    except OSError as error:
        log.warning("could not remember that the tray hint was shown: %s", error)


def describe_tray(view, tray_adapter, autostart) -> str:
    """What the tray shows right now, as one JSON line (control command `view`): for fault tests,
    the benchmark and bug reports. Holds no token: the view never has one."""
    import json

    from tray_monitor.tray import menu_entries

    menu = [e.text for e in menu_entries(view, autostart.status().enabled) if e.visible and not e.is_separator]
    return json.dumps({
        "status": view.status,
        "icon": {"state": view.icon.state, "percent": view.icon.percent,
                 "weekly_percent": view.icon.weekly_percent, "severity": view.icon.severity,
                 "other_critical": view.icon.other_critical},
        "tooltip": view.tooltip,
        "menu": menu,
        # the check marks as the tray's menu holds them now (not recomputed): "Start at login", ...
        "checked": {text: checked for text, checked in tray_adapter.menu_shown if checked is not None},
        "backend": tray_adapter.backend,
        "redraws": tray_adapter.redraw_count,
    })


def history(env: Environment, as_json: bool = False, chart: Path | None = None, days: int = 7) -> int:
    """`claude-tray history`: the last cycles per window from the stored readings, or a chart."""
    import json

    from tray_monitor.history import history_path
    from tray_monitor.history_report import report_json, report_lines, summarise

    store = _history_store(env)
    now = env.clock.now()
    tz = now.astimezone().tzinfo or timezone.utc
    if chart is not None:
        from tray_monitor.chart import render_chart

        settings = _load_settings(env)
        # A week before the chart's start: the value each window had when the chart begins.
        records = store.windows(now - timedelta(days=days + 8))
        try:
            render_chart(records, now, tz, days=days, thresholds=settings.thresholds).save(chart, format="PNG")
        except OSError as error:
            return _fail(env, ConfigError(f"Could not write the chart to {chart}: {error.strerror or error}."))
        print(f"Chart of the last {days} day{'s' if days != 1 else ''} written to {chart}", file=env.stdout)
        return 0
    since = now - timedelta(days=90)
    report = summarise(store.windows(since), store.spend(since), now, tz)
    if as_json:
        print(json.dumps(report_json(report), indent=2), file=env.stdout)
    else:
        if not history_path(env).exists():
            print("No usage history yet: the tray records readings while it runs "
                  f"(kept in {history_path(env)}).", file=env.stdout)
            return 0
        print("\n".join(report_lines(report, tz)), file=env.stdout)
    return 0


CHART_FILE = "usage-history.png"


def open_history_chart(env: Environment, days: int = 7, opener: Any = None) -> Path | None:
    """The menu's "Usage history…" (on the tray's action thread, never its event thread): draw
    the chart into the cache directory and hand it to the desktop's viewer."""
    from tray_monitor.chart import render_chart
    from tray_monitor.viewer import open_file

    now = env.clock.now()
    path = env.cache_path / CHART_FILE
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        records = _history_store(env).windows(now - timedelta(days=days + 8))
        render_chart(records, now, now.astimezone().tzinfo or timezone.utc, days=days,
                     thresholds=_load_settings(env).thresholds).save(path, format="PNG")
    except OSError as error:
        log.warning("Could not draw the usage chart into %s: %s", path, error)
        return None
    (opener or open_file)(path, env.platform)
    return path


def refresh(env: Environment) -> int:
    return _control(env, "refresh")


def quit(env: Environment) -> int:  # noqa: A001 - the command's name
    return _control(env, "quit")


def _control(env: Environment, command: str) -> int:
    from tray_monitor import instance

    try:
        reply = instance.send_command(env, command)
    except MonitorError as error:
        return _fail(env, error)
    print(reply, file=env.stdout)
    return 0


def autostart(env: Environment, action: str) -> int:
    from tray_monitor.autostart import make_autostart

    entry = make_autostart(env)
    try:
        result = {"enable": entry.enable, "disable": entry.disable, "status": entry.status}[action]()
    except MonitorError as error:
        return _fail(env, error)
    print(result.describe(), file=env.stdout)
    if action != "status":
        _tell_running_tray(env, "autostart")  # its "Start at login" check mark follows at once
    return 0


def _tell_running_tray(env: Environment, command: str) -> None:
    """Best effort: no tray running (or one that does not answer) is fine."""
    from tray_monitor import instance

    try:
        instance.send_command(env, command, timeout=1.0)
    except MonitorError as error:
        log.debug("the running tray was not told %r: %s", command, error.message)


def _tell_tray_about_accounts(env: Environment) -> None:
    """A running tray reads the accounts again at once (it would notice the changed
    preferences.json at its next poll of the default login anyway)."""
    from tray_monitor import instance

    try:
        reply = instance.send_command(env, "accounts", timeout=5.0)
    except MonitorError as error:
        log.debug("the running tray was not told about the accounts: %s", error.message)
        return
    if reply.startswith("logins: "):
        print(f"The running claude-tray follows at once ({reply}).", file=env.stdout)


def config(env: Environment) -> int:
    from tray_monitor.settings import format_config

    settings, warnings = env.loaded_settings
    print(format_config(env, settings, warnings), file=env.stdout)
    return 0


def accounts(env: Environment, action: str | None, name: str | None = None, folder: str | None = None,
             discover: bool = False) -> int:
    """`claude-tray accounts [add NAME DIR | remove NAME] [--discover]`."""
    from tray_monitor import accounts as accounts_module
    from tray_monitor.accounts import AccountProblem

    _load_settings(env)  # settings.toml's warnings (a bad `accounts` entry) said once
    try:
        if action == "add":
            assert name is not None and folder is not None  # argparse requires both
            added = accounts_module.add_account(env, name, folder)
            state = accounts_module.login_state(accounts_module.credential_store(env, added), env.clock.now())
            print(f"Account {added.name!r} added: {accounts_module.display_path(env, added.config_dir)} "
                  f"({state.state}).", file=env.stdout)
            if not state.ok:
                print(f"claude-tray: to log in there, run: {accounts_module.claude_command(env, added)}",
                      file=env.stderr)
            _tell_tray_about_accounts(env)
            return 0
        if action == "remove":
            assert name is not None
            removed = accounts_module.remove_account(env, name)
            print(f"Account {removed.name!r} removed (its login in "
                  f"{accounts_module.display_path(env, removed.config_dir)} is untouched).", file=env.stdout)
            _tell_tray_about_accounts(env)
            return 0
    except AccountProblem as problem:
        print(f"claude-tray: {problem}", file=env.stderr)
        return 1
    except OSError as error:
        print(f"claude-tray: could not save the accounts ({error.strerror or error}).", file=env.stderr)
        return 1
    found, warnings = accounts_module.load_accounts(env)
    for warning in warnings:
        print(f"claude-tray: {warning}", file=env.stderr)
    print("\n".join(accounts_module.account_table(env, found)), file=env.stdout)
    if discover:
        print("\n".join(accounts_module.discovery_lines(env, accounts_module.discover(env, found))), file=env.stdout)
    return 0


def doctor(env: Environment, offline: bool, probes=None) -> int:
    """`claude-tray doctor`; `probes` (doctor.Probes) only from tests."""
    from tray_monitor.client import UsageClient
    from tray_monitor.credentials import CredentialStore
    from tray_monitor.doctor import run_doctor

    try:
        client = UsageClient(env)
    except MonitorError:
        client = None  # doctor reports the bad API URL itself
    from tray_monitor.accounts import account_label, credential_store, display_path, load_accounts
    from tray_monitor.doctor import AccountToCheck

    accounts_found, _ = load_accounts(env)
    others = [AccountToCheck(a, account_label(env, a), display_path(env, a.config_dir), credential_store(env, a))
              for a in accounts_found[1:]]
    return run_doctor(env, CredentialStore(env), client, offline=offline, probes=probes, accounts=others,
                      default_label=account_label(env, accounts_found[0]) if others else None)
