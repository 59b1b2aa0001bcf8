from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import pytest

from tests.envs import temp_env
from tray_monitor.environment import Environment
from tray_monitor.settings import (
    MIN_INTERVAL,
    Settings,
    format_config,
    load_preferences,
    load_settings,
    preferences_path,
    save_preference,
    settings_path,
)


@pytest.fixture
def env(tmp_path: Path) -> Environment:
    return temp_env(tmp_path)


def write_toml(env: Environment, text: str) -> Path:
    path = settings_path(env)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_missing_file_gives_defaults_without_warnings(env):
    assert load_settings(env) == (Settings(), [])


def test_settings_path_is_in_the_config_dir(env):
    assert settings_path(env) == env.config_dir / "settings.toml"


def test_every_key_is_read_from_the_toml_file(env):
    write_toml(
        env,
        'interval = 300\nthresholds = [50, 80]\nnotifications = false\nnotify_reset = false\n'
        'icon_window = "seven_day"\nnotify_runout = false\nrunout_lead = 45\nrunout_within = 90\n',
    )
    settings, warnings = load_settings(env)
    assert warnings == []
    assert settings == Settings(
        interval=300, thresholds=(50, 80), notifications=False, notify_reset=False, icon_window="seven_day",
        notify_runout=False, runout_lead=45, runout_within=90,
    )


def test_interval_below_minimum_is_raised_to_minimum_with_a_warning(env):
    write_toml(env, "interval = 10\n")
    settings, warnings = load_settings(env)
    assert settings.interval == MIN_INTERVAL == 60
    assert len(warnings) == 1 and "'interval'" in warnings[0] and "60" in warnings[0]


@pytest.mark.parametrize("bad", ["inf", "nan"])
def test_interval_that_is_not_a_finite_number_falls_back_to_default_with_a_warning(env, bad):
    # TOML has inf and nan; int() of either raised, so the tray did not start at all.
    write_toml(env, f"interval = {bad}\n")
    settings, warnings = load_settings(env)
    assert settings.interval == 120
    assert warnings == [f"{settings_path(env)}: 'interval' must be a number of seconds, got {bad}; using 120."]


def test_an_environment_reads_the_settings_once_for_the_command_line_and_the_app(env):
    write_toml(env, "interval = 300\n")
    first = env.loaded_settings
    write_toml(env, "interval = 90\n")
    assert env.loaded_settings is first and first[0].interval == 300


def test_interval_given_as_float_is_accepted_as_whole_seconds(env):
    write_toml(env, "interval = 90.0\n")
    assert load_settings(env) == (Settings(interval=90), [])


@pytest.mark.parametrize("bad", ['"fast"', "true", "[1]"])
def test_interval_of_wrong_type_falls_back_to_default_with_a_warning(env, bad):
    write_toml(env, f"interval = {bad}\n")
    settings, warnings = load_settings(env)
    assert settings.interval == 120
    assert len(warnings) == 1 and "'interval'" in warnings[0]


def test_thresholds_are_sorted_and_deduplicated(env):
    write_toml(env, "thresholds = [90, 50, 90, 100]\n")
    assert load_settings(env) == (Settings(thresholds=(50, 90, 100)), [])


def test_empty_thresholds_means_no_threshold_notifications(env):
    write_toml(env, "thresholds = []\n")
    assert load_settings(env) == (Settings(thresholds=()), [])


@pytest.mark.parametrize("bad", ["[0, 50]", "[50, 101]", '["80"]', "[0.5]", "[true]", "80"])
def test_bad_thresholds_fall_back_to_default_with_one_warning(env, bad):
    write_toml(env, f"thresholds = {bad}\n")
    settings, warnings = load_settings(env)
    assert settings.thresholds == (75, 90, 100)
    assert len(warnings) == 1 and "'thresholds'" in warnings[0]


@pytest.mark.parametrize("key", ["runout_lead", "runout_within"])
@pytest.mark.parametrize("bad", ["0", "10081", "1.5", "true", '"30"', "-5"])
def test_run_out_minutes_outside_1_to_10080_fall_back_to_the_default_with_one_warning(env, key, bad):
    write_toml(env, f"{key} = {bad}\n")
    settings, warnings = load_settings(env)
    assert getattr(settings, key) == getattr(Settings(), key)
    assert len(warnings) == 1 and f"'{key}'" in warnings[0] and "whole minutes" in warnings[0], warnings


@pytest.mark.parametrize("key", ["notifications", "notify_reset", "notify_runout"])
def test_non_boolean_toggle_falls_back_to_default_with_a_warning(env, key):
    write_toml(env, f'{key} = "no"\n')
    settings, warnings = load_settings(env)
    assert getattr(settings, key) is True
    assert len(warnings) == 1 and f"'{key}'" in warnings[0]


@pytest.mark.parametrize("value", ['"auto"', '""', '"AUTO"'])
def test_icon_window_auto_means_the_binding_window(env, value):
    write_toml(env, f"icon_window = {value}\n")
    assert load_settings(env) == (Settings(icon_window=None), [])


@pytest.mark.parametrize("bad", ['"Five Hour!"', "5"])
def test_bad_icon_window_falls_back_to_auto_with_a_warning(env, bad):
    write_toml(env, f"icon_window = {bad}\n")
    settings, warnings = load_settings(env)
    assert settings.icon_window is None
    assert len(warnings) == 1 and "'icon_window'" in warnings[0]


def test_unknown_key_is_ignored_with_a_warning_naming_it_and_the_rest_still_applies(env):
    write_toml(env, "intervall = 300\nthresholds = [80]\n")
    settings, warnings = load_settings(env)
    assert settings == Settings(thresholds=(80,))
    assert len(warnings) == 1 and "'intervall'" in warnings[0]


def test_toml_syntax_error_gives_all_defaults_and_one_warning_with_the_line(env):
    path = write_toml(env, "notifications = false\ninterval 300\nthresholds = [80]\n")
    settings, warnings = load_settings(env)
    assert settings == Settings()
    assert len(warnings) == 1
    assert str(path) in warnings[0] and "line 2" in warnings[0]


def test_file_that_is_not_utf8_gives_defaults_and_a_warning(env):
    path = settings_path(env)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"interval = 300 # \xff\xfe\n")
    settings, warnings = load_settings(env)
    assert settings == Settings()
    assert len(warnings) == 1 and "UTF-8" in warnings[0]


def test_unreadable_settings_path_gives_defaults_and_a_warning(env):
    settings_path(env).mkdir(parents=True)  # a directory where the file should be: read fails
    settings, warnings = load_settings(env)
    assert settings == Settings()
    assert len(warnings) == 1 and "cannot be read" in warnings[0]


def test_loading_never_rewrites_the_users_file(env):
    text = "# my notes\ninterval = 5\nbogus = 1\n"
    path = write_toml(env, text)
    before = path.stat().st_mtime_ns
    load_settings(env)
    save_preference(env, "notifications", False)
    assert path.read_text() == text and path.stat().st_mtime_ns == before


def test_menu_toggle_is_remembered_across_restarts_and_wins_over_the_toml(env):
    write_toml(env, "notifications = true\n")
    save_preference(env, "notifications", False)
    settings, warnings = load_settings(env)  # a new start reads both layers again
    assert settings.notifications is False and warnings == []


def test_remembered_icon_window_overlays_the_toml(env):
    write_toml(env, 'icon_window = "five_hour"\n')
    save_preference(env, "icon_window", "seven_day")
    assert load_settings(env)[0].icon_window == "seven_day"


def test_preferences_file_is_private_and_holds_only_the_saved_keys(env):
    save_preference(env, "autostart", True)
    save_preference(env, "notifications", False)
    path = preferences_path(env)
    assert path == env.data_dir / "preferences.json"
    assert json.loads(path.read_text()) == {"autostart": True, "notifications": False}
    if sys.platform != "win32":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["preferences.json"]  # no temp file left behind


def test_failed_preference_write_leaves_the_old_file_and_no_temp_file(env, monkeypatch):
    save_preference(env, "notifications", True)

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError):
        save_preference(env, "notifications", False)
    monkeypatch.undo()
    assert load_preferences(env) == ({"notifications": True}, [])
    assert [p.name for p in preferences_path(env).parent.iterdir()] == ["preferences.json"]


def test_saving_an_unknown_preference_is_a_programming_error(env):
    with pytest.raises(ValueError):
        save_preference(env, "colour", "red")
    with pytest.raises(TypeError):
        save_preference(env, "notifications", "yes")


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", "\xff"])
def test_corrupt_preferences_are_ignored_with_one_warning(env, content):
    path = preferences_path(env)
    path.parent.mkdir(parents=True)
    path.write_bytes(content.encode("latin-1"))
    settings, warnings = load_settings(env)
    assert settings == Settings()
    assert len(warnings) == 1 and "preferences.json" in warnings[0]


def test_preference_values_of_the_wrong_type_are_ignored(env):
    path = preferences_path(env)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"notifications": "off", "icon_window": "Bad Id", "extra": 1}))
    settings, warnings = load_settings(env)
    assert settings == Settings()
    assert len(warnings) == 1 and "'icon_window'" in warnings[0]


def test_config_output_names_the_path_each_value_and_its_source(env):
    write_toml(env, "interval = 300\nthresholds = [0]\n")
    save_preference(env, "notifications", False)
    settings, warnings = load_settings(env)
    text = format_config(env, settings, warnings)
    assert f"settings file: {settings_path(env)} (exists)" in text
    lines = {line.split("=")[0].strip(): line for line in text.splitlines() if " = " in line}
    assert "300" in lines["interval"] and "# settings.toml" in lines["interval"]
    assert "[75, 90, 100]" in lines["thresholds"] and "# default" in lines["thresholds"]
    assert "false" in lines["notifications"] and "# set from the menu" in lines["notifications"]
    assert '"auto"' in lines["icon_window"]
    assert "warning:" in text and "'thresholds'" in text


def test_config_output_says_when_the_file_does_not_exist(env):
    text = format_config(env, Settings(), [])
    assert "not created; all defaults" in text and "warning" not in text
