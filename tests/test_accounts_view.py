"""One tray view from several logins' views (accounts_view, pure) and the groups that stand in for
one monitor and poller (tray_accounts): binding login, pinned login, menu sections, popups named."""
from __future__ import annotations

import json
from datetime import datetime, timezone

from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from tests.fakeapi import usage_fixture
from tray_monitor.accounts_view import AccountView, binding_account, combined_view
from tray_monitor.alerts import Notification
from tray_monitor.errors import AuthExpired
from tray_monitor.parse import parse_usage
from tray_monitor.schedule import RefreshOutcome
from tray_monitor.state import MonitorState
from tray_monitor.tray.menu import menu_entries
from tray_monitor.tray_accounts import AccountPart, MonitorGroup, NamedNotifier, PollerGroup, first_poll_offsets
from tray_monitor.view import MAX_TOOLTIP, view

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


def view_at(session: float | None, weekly: float = 30.0, problem=None):
    if session is None:
        return view(MonitorState(problem=problem), NOW)
    body = json.loads(usage_fixture("small-2026-03"))
    body["five_hour"]["utilization"] = session
    body["seven_day"]["utilization"] = weekly
    body["seven_day_sonnet"] = None
    return view(MonitorState(reading=parse_usage(body, NOW), plan="Max 5x"), NOW)


def info(v) -> list[str]:
    return [e.text for e in menu_entries(v, False) if e.is_info]


def test_one_login_is_its_own_view_untouched():
    own = view_at(40)
    assert combined_view([AccountView("default", "default", own)]) is own
    assert info(own)[0] == "Plan: Max 5x"


def test_the_icon_and_tooltip_follow_the_binding_login_and_the_menu_has_a_section_each():
    default, work = view_at(40), view_at(95)
    shown = combined_view([AccountView("default", "default", default), AccountView("work", "me@w.x", work)])
    assert shown.icon == work.icon and shown.tooltip == f"me@w.x: {work.tooltip}"
    lines = info(shown)
    assert lines[0] == "default · Max 5x" and "me@w.x · Max 5x" in lines
    assert "Plan: Max 5x" not in lines  # the header names the plan
    marked = [line for line in lines if line.endswith("in the icon")]
    assert len(marked) == 1 and lines.index(marked[0]) > lines.index("me@w.x · Max 5x")
    entries = menu_entries(shown, False)
    commands = [e.text for e in entries if e.action is not None and e.visible]
    assert commands == ["Refresh now", "Open usage page", "Usage history…", "Notifications", "Send test notification",
                        "Start at login", "Quit"]  # the shared commands once, after every section
    assert [e.text for e in entries].index("Refresh now") > [e.text for e in entries].index("me@w.x · Max 5x")


def test_a_pinned_login_is_shown_whatever_the_others_say():
    sections = [AccountView("default", "default", view_at(40)), AccountView("work", "w", view_at(95))]
    assert binding_account(sections, "default").name == "default"
    assert binding_account(sections, "nobody").name == "work"


def test_a_login_with_a_reading_beats_one_that_failed_and_the_default_wins_ties():
    expired = view_at(None, problem=AuthExpired("expired"))
    sections = [AccountView("default", "d", expired), AccountView("work", "w", view_at(10))]
    assert binding_account(sections).name == "work"
    tie = [AccountView("default", "d", view_at(50)), AccountView("work", "w", view_at(50))]
    assert binding_account(tie).name == "default"


@hypothesis_settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 150), st.text(min_size=1, max_size=80)), min_size=2, max_size=4))
def test_the_binding_login_has_the_highest_severity_then_percent_and_the_tooltip_fits(logins):
    sections = [AccountView(f"a{i}", label, view_at(percent)) for i, (percent, label) in enumerate(logins)]
    chosen = binding_account(sections)
    rank = {"normal": 0, "warning": 1, "critical": 2}
    for other in sections:
        assert (rank[chosen.view.icon.severity], chosen.view.icon.percent) >= (
            rank[other.view.icon.severity], other.view.icon.percent)
    assert len(combined_view(sections).tooltip) <= MAX_TOOLTIP


def test_a_mark_on_the_icon_when_another_login_than_the_shown_one_is_critical():
    default, work, play = view_at(40), view_at(95), view_at(10, weekly=92)
    # work binds (95 %); play's weekly at 92 % is critical too: marked.
    assert combined_view([AccountView("default", "d", default), AccountView("work", "w", work),
                          AccountView("play", "p", play)]).icon.other_critical
    # Only the shown login is critical: no mark; one login: never a mark.
    assert not combined_view([AccountView("default", "d", default), AccountView("work", "w", work)]).icon.other_critical
    assert not combined_view([AccountView("work", "w", work)]).icon.other_critical
    # The icon pinned to a calm login while another is critical: marked, and the spec is otherwise the pinned one's.
    pinned = combined_view([AccountView("default", "d", default), AccountView("work", "w", work)], "default")
    assert pinned.icon.other_critical and pinned.icon.percent == default.icon.percent
    # A login that failed (no windows) is never "critical".
    failed = view_at(None, problem=AuthExpired("expired"))
    assert not combined_view([AccountView("default", "d", default), AccountView("x", "x", failed)]).icon.other_critical


@hypothesis_settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 150), st.floats(0, 150)), min_size=2, max_size=4), st.none() | st.integers(0, 3))
def test_the_mark_is_exactly_another_login_with_a_window_critical_by_percent(logins, pin):
    from tray_monitor.view import severity_for_percent

    sections = [AccountView(f"a{i}", f"a{i}", view_at(s, weekly=w)) for i, (s, w) in enumerate(logins)]
    pinned = f"a{pin}" if pin is not None else None
    chosen = binding_account(sections, pinned)
    critical_elsewhere = any(severity_for_percent(p) == "critical" for i, (s, w) in enumerate(logins)
                             for p in (s, w) if sections[i] is not chosen)
    assert combined_view(sections, pinned).icon.other_critical == critical_elsewhere


class FakeMonitor:
    def __init__(self, v):
        self.v, self.listeners, self.events = v, [], []

    def view(self):
        return self.v

    def subscribe(self, listener):
        self.listeners.append(listener)
        return lambda: self.listeners.remove(listener)

    def handle(self, event, *more):
        self.events.append(event)


class FakePoller:
    def __init__(self, outcome):
        self.outcome, self.started, self.activity = outcome, False, 0

    def refresh(self):
        return self.outcome

    def request_refresh(self):
        return "Refreshing now."

    def activity_seen(self):
        self.activity += 1

    def start(self):
        self.started = True

    def stop(self):
        self.started = False


def test_the_groups_fan_out_to_every_login():
    a, b = FakeMonitor(view_at(40)), FakeMonitor(view_at(95))
    pa, pb = FakePoller(RefreshOutcome.COALESCED), FakePoller(RefreshOutcome.ACCEPTED)
    parts = [AccountPart("default", "default", a, pa), AccountPart("work", "w", b, pb)]
    monitors, pollers = MonitorGroup(parts), PollerGroup(parts)
    heard = []
    unsubscribe = monitors.subscribe(heard.append)
    b.listeners[0](b.v)  # the work login's view changed: the tray hears the combined one
    assert heard[0].sections and heard[0].icon == b.v.icon
    unsubscribe()
    assert a.listeners == b.listeners == []
    monitors.handle("toggled")
    assert a.events == b.events == ["toggled"]
    assert pollers.refresh() is RefreshOutcome.ACCEPTED
    assert pollers.request_refresh() == "default: Refreshing now.; w: Refreshing now."
    pollers.activity_seen()
    pollers.start()
    assert (pa.activity, pb.activity, pa.started, pb.started) == (1, 1, True, True)


def test_first_polls_are_spread_over_the_interval():
    assert first_poll_offsets(1, 120) == [0]
    assert first_poll_offsets(3, 120) == [0, 40, 80]


def test_a_logins_popups_name_it_and_never_replace_another_logins():
    sent = []

    class Inner:
        capability = "x"

        def send(self, notification):
            sent.append(notification)

    named = NamedNotifier(Inner(), "work", "me@w.x")
    named.send(Notification(key="window:five_hour", summary="Session at 90%", body="b", urgency="normal"))
    assert sent == [Notification(key="work:window:five_hour", summary="me@w.x: Session at 90%", body="b",
                                 urgency="normal")]
    assert named.capability == "x"


# ----------------------------------------------------------------------------- logins while running


class StoppablePoller(FakePoller):
    def __init__(self, outcome=RefreshOutcome.ACCEPTED):
        super().__init__(outcome)
        self.stopped = False

    def stop(self, timeout=1.0):
        self.stopped, self.started = True, False


def account(name: str):
    from pathlib import Path

    from tray_monitor.accounts import Account

    return Account(name, Path(f"/home/u/.claude-{name}"), "default" if name == "default" else "added")


def running_logins(percents: dict[str, float]):
    """A TrayLogins over fake monitors and pollers; `percents` is what each login would read."""
    from tray_monitor.tray_accounts import TrayLogins

    built: list[str] = []

    def build(acct, first_poll_in):
        built.append((acct.name, first_poll_in))
        return AccountPart(acct.name, acct.name, FakeMonitor(view_at(percents[acct.name])), StoppablePoller(), acct)

    monitors = MonitorGroup([])
    pollers = PollerGroup(monitors)
    logins = TrayLogins(build, lambda acct: f"{acct.name}@x", monitors, pollers)
    return logins, monitors, pollers, built


def test_a_login_added_while_running_is_built_started_asked_at_once_and_shown():
    logins, monitors, pollers, built = running_logins({"default": 40, "work": 95, "play": 10})
    logins.update([account("default"), account("play")], None, interval=120)
    assert built == [("default", 0), ("play", 60)]  # at start: spread over the interval
    shown = []
    monitors.subscribe(shown.append)
    pollers.start()
    reply = logins.update([account("default"), account("play"), account("work")], None)
    assert reply == "logins: default, play, work; added work"
    assert built[-1] == ("work", 0)  # a login added later asks at once
    parts = monitors.parts
    assert [p.name for p in parts] == ["default", "play", "work"] and parts[2].poller.started
    assert [p.label for p in parts] == ["default@x", "play@x", "work@x"]
    assert shown and shown[-1].icon.percent == 95 and len(shown[-1].sections) == 3  # the tray heard at once
    parts[2].monitor.listeners[0](parts[2].monitor.v)  # the new login's own views reach the tray too
    assert len(shown) == 2
    assert logins.update([account("default"), account("play"), account("work")], None) == \
        "logins: default, play, work"  # nothing changed: nothing rebuilt
    assert len(built) == 3


def test_a_removed_login_stops_polling_and_leaves_the_menu_icon_and_tooltip():
    logins, monitors, pollers, _ = running_logins({"default": 40, "work": 95})
    logins.update([account("default"), account("work")], None, interval=120)
    shown = []
    monitors.subscribe(shown.append)
    pollers.start()
    work = monitors.parts[1]
    assert logins.update([account("default")], None) == "logins: default; removed work"
    assert work.poller.stopped and work.monitor.listeners == []  # no longer heard
    alone = shown[-1]
    assert alone.sections == () and alone.icon.percent == 40 and "work" not in alone.tooltip
    assert "work@x" not in info(alone) and not alone.icon.other_critical
    assert pollers.request_refresh() == "Refreshing now."  # one login again: its sentence as it is
    assert logins.label_for("default") is None  # its popups unnamed again


def test_a_login_moved_to_another_folder_is_a_new_one():
    from dataclasses import replace as dc_replace

    logins, monitors, _, built = running_logins({"default": 40, "work": 95})
    logins.update([account("default"), account("work")], None)
    old_work = monitors.parts[1]
    moved = dc_replace(account("work"), config_dir=account("work").config_dir.with_name(".claude-job"))
    logins.update([account("default"), moved], None)
    assert monitors.parts[1] is not old_work and old_work.poller.stopped and len(built) == 3


def test_a_login_that_cannot_be_built_is_left_out_and_said_in_the_log(caplog):
    from tray_monitor.tray_accounts import TrayLogins

    def build(acct, _offset):
        if acct.name == "work":
            raise OSError("disk gone")
        return AccountPart(acct.name, acct.name, FakeMonitor(view_at(40)), StoppablePoller(), acct)

    monitors = MonitorGroup([])
    logins = TrayLogins(build, lambda acct: acct.name, monitors, PollerGroup(monitors))
    assert logins.update([account("default"), account("work")], None) == "logins: default"
    assert "could not be added" in caplog.text


def test_popups_are_named_only_while_there_are_several_logins():
    sent = []

    class Inner:
        def send(self, notification):
            sent.append(notification)

    logins, monitors, _, _ = running_logins({"default": 40, "work": 95})
    logins.update([account("default")], None)
    named = NamedNotifier(Inner(), "default", lambda: logins.label_for("default"))
    popup = Notification(key="window:five_hour", summary="Session at 90%", body="b", urgency="normal")
    named.send(popup)
    logins.update([account("default"), account("work")], None)
    named.send(popup)
    assert sent == [popup, Notification(key="default:window:five_hour", summary="default@x: Session at 90%",
                                        body="b", urgency="normal")]


def test_the_settings_files_check_sees_a_change_once(tmp_path):
    from tests.envs import temp_env
    from tests.logins import write_toml
    from tray_monitor.settings import save_preference
    from tray_monitor.tray_accounts import SettingsFilesCheck

    env = temp_env(tmp_path)
    check = SettingsFilesCheck(env)
    assert not check.changed()
    write_toml(env, 'accounts = [{ name = "work", config_dir = "~/.claude-work" }]\n')
    assert check.changed() and not check.changed()
    save_preference(env, "accounts", {"play": str(tmp_path / ".claude-play")})
    assert check.changed() and not check.changed()


@hypothesis_settings(max_examples=80, deadline=None)
@given(st.lists(st.sets(st.sampled_from(["work", "play", "side", "old"])), min_size=1, max_size=8))
def test_any_sequence_of_logins_keeps_each_subscriber_on_exactly_the_current_monitors(steps):
    """Whatever logins come and go: every subscriber hears each current login's monitor exactly
    once and no removed one's; the pollers of removed logins are stopped, current ones run."""
    percents = {"default": 40, "work": 95, "play": 10, "side": 60, "old": 91}
    logins, monitors, pollers, _ = running_logins(percents)
    logins.update([account("default")], None)
    heard: list = []
    monitors.subscribe(heard.append)
    pollers.start()
    seen_parts: dict = {}
    for names in steps:
        wanted = [account("default"), *(account(n) for n in sorted(names))]
        logins.update(wanted, None)
        parts = monitors.parts
        assert [p.name for p in parts] == ["default", *sorted(names)]
        for part in parts:
            seen_parts[part.name, id(part.monitor)] = part
            assert len(part.monitor.listeners) == 1 and part.poller.started
        for part in seen_parts.values():
            if part.monitor not in {p.monitor for p in parts}:
                assert part.monitor.listeners == [] and part.poller.stopped
        shown = heard[-1]
        assert len(shown.sections) == (len(parts) if len(parts) > 1 else 0)
        # The icon shows the fullest critical login, if any: marked when a second one is critical.
        assert shown.icon.other_critical == (sum(percents[p.name] >= 90 for p in parts) >= 2)
