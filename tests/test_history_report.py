"""history_report.py and chart.py: `claude-tray history` and its chart, from stored readings."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from PIL import Image

from tests.envs import temp_env
from tray_monitor import app
from tray_monitor.chart import FULL_SHADE, HEIGHT, LIMIT, SERIES, THRESHOLD, WIDTH, render_chart
from tray_monitor.clock import FakeClock
from tray_monitor.history import HistoryStore, SpendRecord, WindowRecord, history_path
from tray_monitor.history_report import label_for, report_json, report_lines, summarise
from tray_monitor.model import ExtraUsage, Reading, UsageWindow

UTC = timezone.utc
NOW = datetime(2026, 3, 11, 12, 0, tzinfo=UTC)  # a Wednesday
MONDAY = datetime(2026, 3, 9, tzinfo=UTC)


def session_cycle(resets_at: datetime, climb: list[float], every: timedelta = timedelta(minutes=30)) -> list[WindowRecord]:
    start = resets_at - timedelta(hours=5)
    return [WindowRecord(start + every * i, "five_hour", p, resets_at, None) for i, p in enumerate(climb)]


def test_a_cycle_that_hit_100_says_when_and_for_how_long():
    reset = MONDAY + timedelta(hours=14)
    records = session_cycle(reset, [20, 60, 90, 100, 100])  # 100 % from 10:30 to the reset at 14:00
    report = summarise(records, [], NOW, UTC)
    (cycle,) = report.windows[0].cycles
    assert cycle.peak == 100 and cycle.hit_full_at == reset - timedelta(hours=5) + timedelta(minutes=90)
    assert cycle.at_full == timedelta(hours=3, minutes=30)
    assert not cycle.running


def test_time_at_100_stops_at_a_reading_below_it():
    reset = MONDAY + timedelta(hours=14)
    records = session_cycle(reset, [50, 100, 100, 98])  # the server corrected itself after an hour
    (cycle,) = summarise(records, [], NOW, UTC).windows[0].cycles
    assert cycle.at_full == timedelta(hours=1)


def test_the_running_cycle_counts_until_now_and_is_marked():
    reset = NOW + timedelta(hours=1)
    records = session_cycle(reset, [30, 70, 100])  # the cycle began 08:00; 100 % since 09:00, now 12:00
    (cycle,) = summarise(records, [], NOW, UTC).windows[0].cycles
    assert cycle.running and cycle.at_full == timedelta(hours=3)
    assert "*" in report_lines(summarise(records, [], NOW, UTC), UTC)[2]


def test_cycles_are_newest_first_and_limited():
    records = []
    for day in range(8):
        records += session_cycle(MONDAY - timedelta(days=7) + timedelta(days=day, hours=14), [10, 40])
    window = summarise(records, [], NOW, UTC, cycles_shown=3).windows[0]
    assert [c.resets_at.day for c in window.cycles] == [9, 8, 7]


def test_jittered_resets_are_one_cycle_and_not_started_readings_split_cycles():
    reset = MONDAY + timedelta(hours=14)
    records = session_cycle(reset, [10, 20])
    records.append(WindowRecord(reset - timedelta(hours=3), "five_hour", 30, reset + timedelta(microseconds=900), None))
    records.append(WindowRecord(reset + timedelta(minutes=1), "five_hour", 0, None, None))
    assert len(summarise(records, [], NOW, UTC).windows[0].cycles) == 1


def test_extra_usage_spent_during_a_cycle():
    reset = MONDAY + timedelta(hours=14)
    records = session_cycle(reset, [50, 100])
    spend = [SpendRecord(reset - timedelta(hours=6), True, 3.0, 50, "USD"),  # before the cycle
             SpendRecord(reset - timedelta(hours=2), True, 4.5, 50, "USD"),
             SpendRecord(reset - timedelta(hours=1), True, 5.25, 50, "USD")]
    (cycle,) = summarise(records, spend, NOW, UTC).windows[0].cycles
    assert cycle.extra_spent == 2.25 and cycle.currency == "USD"
    assert "$2.25" in "\n".join(report_lines(summarise(records, spend, NOW, UTC), UTC))


def test_limit_hits_this_week_and_last():
    records = []
    for day, peak in ((-5, 100), (-3, 100), (-2, 80), (0, 100), (1, 100), (2, 60)):  # days from Monday 9 March
        records += session_cycle(MONDAY + timedelta(days=day, hours=14), [50, peak])
    report = summarise(records, [], NOW, UTC)
    assert (report.hits_this_week, report.hits_last_week) == (2, 2)
    assert report_json(report)["limit_hits"] == {"this_week": 2, "last_week": 2}


def test_json_has_stable_keys():
    reset = MONDAY + timedelta(hours=14)
    data = report_json(summarise(session_cycle(reset, [50, 100]), [], NOW, UTC))
    (window,) = data["windows"]
    assert window["id"] == "five_hour" and window["label"] == "Current session"
    assert set(window["cycles"][0]) == {"resets_at", "running", "peak", "reached_100_at", "seconds_at_100",
                                        "extra_usage_spent", "currency"}
    json.dumps(data)


def test_labels_follow_the_window_ids():
    assert label_for("seven_day") == "Current week (all models)"
    assert label_for("seven_day_opus") == "Current week (Opus)"
    assert label_for("nimbus_quill") == "Nimbus quill"


def test_no_history_says_so():
    assert "No usage history yet" in report_lines(summarise([], [], NOW, UTC), UTC)[0]


# ------------------------------------------------------------------------------------ chart


def week_of_records() -> list[WindowRecord]:
    records = []
    for day in range(7):
        reset = NOW - timedelta(days=day, hours=1)
        records += session_cycle(reset, [10, 40, 80, 100 if day % 2 else 70, 100 if day % 2 else 75])
    records += [WindowRecord(NOW - timedelta(days=6, hours=h), "seven_day", 5 * h, NOW + timedelta(days=1), None)
                for h in range(0, 12)]
    return sorted(records, key=lambda r: r.at)


def colours(image: Image.Image) -> set[tuple[int, int, int]]:
    return {c for _, c in image.getcolors(maxcolors=1_000_000)}


def plot_colours(image: Image.Image) -> set[tuple[int, int, int]]:
    """Inside the plot area only (the legend shows every colour once)."""
    s = image.size[0] // WIDTH
    return colours(image.crop((66 * s, 66 * s, 1140 * s, 550 * s)))


def test_the_chart_has_its_size_axes_series_thresholds_and_shading():
    image = render_chart(week_of_records(), NOW, UTC)
    assert image.size == (WIDTH, HEIGHT) == (1200, 600)
    assert {SERIES[0], SERIES[1], THRESHOLD, LIMIT, FULL_SHADE} <= plot_colours(image)
    # the axes: a dark vertical line on the left and a horizontal one at the bottom of the plot
    column = [image.getpixel((64, y)) for y in range(70, 540)]
    assert sum(px == (60, 60, 60) for px in column) > 400


def test_the_chart_at_2x_is_twice_the_size_with_the_same_parts():
    image = render_chart(week_of_records(), NOW, UTC, scale=2)
    assert image.size == (2400, 1200)
    assert {SERIES[0], SERIES[1], LIMIT, FULL_SHADE} <= plot_colours(image)


def test_no_shading_without_a_period_at_100():
    records = [r for r in week_of_records() if r.percent < 100]
    image = render_chart(records, NOW, UTC)
    assert FULL_SHADE not in plot_colours(image) and SERIES[0] in plot_colours(image)


def test_an_empty_history_draws_an_empty_chart():
    image = render_chart([], NOW, UTC, days=3)
    assert image.size == (1200, 600) and SERIES[0] not in plot_colours(image)


# ------------------------------------------------------------------------------------ the command


def stored_env(tmp_path):
    env = temp_env(tmp_path, clock=FakeClock(NOW))
    store = HistoryStore(history_path(env))
    for r in week_of_records():
        store.record(Reading((UsageWindow(r.window_id, label_for(r.window_id), r.percent, r.resets_at),),
                             ExtraUsage(True, 1.0, 50, "USD", 2), r.at))
    store.close()
    return env


def test_history_command_prints_cycles_and_json(tmp_path):
    env = stored_env(tmp_path)
    assert app.history(env) == 0
    text = env.stdout.getvalue()
    assert "Current session: last 5 cycles" in text and "Limit hits:" in text
    env = stored_env(tmp_path / "j")
    assert app.history(env, as_json=True) == 0
    assert {w["id"] for w in json.loads(env.stdout.getvalue())["windows"]} == {"five_hour", "seven_day"}


def test_history_command_draws_the_chart(tmp_path):
    env = stored_env(tmp_path)
    out = tmp_path / "chart.png"
    assert app.history(env, chart=out, days=7) == 0
    with Image.open(out) as image:
        assert image.format == "PNG" and image.size == (1200, 600)
    assert app.history(env, chart=tmp_path / "missing" / "c.png") == 1
    assert "Could not write the chart" in env.stderr.getvalue()


def test_history_without_a_store_says_so(tmp_path):
    env = temp_env(tmp_path, clock=FakeClock(NOW))
    assert app.history(env) == 0
    assert "No usage history yet" in env.stdout.getvalue()
    assert not history_path(env).exists()  # reading never creates it


def test_the_menus_usage_history_draws_into_the_cache_and_opens_the_viewer(tmp_path):
    env = stored_env(tmp_path)
    opened = []
    path = app.open_history_chart(env, opener=lambda p, platform: opened.append((p, platform)))
    assert path == env.cache_path / "usage-history.png" and path.exists()
    assert opened == [(path, "linux")]
    with Image.open(path) as image:
        assert image.size == (1200, 600)


def test_the_viewer_is_the_desktops_own():
    from pathlib import Path

    from tray_monitor.viewer import open_file

    calls = []
    for platform in ("linux", "darwin"):
        assert open_file(Path("/tmp/c.png"), platform, popen=lambda cmd, **kw: calls.append(cmd))
    assert calls == [["xdg-open", "/tmp/c.png"], ["open", "/tmp/c.png"]]

    def missing(cmd, **kw):
        raise FileNotFoundError(2, "No such file", cmd[0])

    assert open_file(Path("/tmp/c.png"), "linux", popen=missing) is False
