"""Property tests: whatever JSON arrives, the parsers give a value or a typed MonitorError.

An exception of any other type would escape the poller's error handling and blank the display.
"""
from __future__ import annotations

import json
import math
from datetime import datetime, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fakeapi import usage_fixture
from tray_monitor.credentials import check_usable, parse_credentials, plan_label
from tray_monitor.errors import MonitorError
from tray_monitor.model import Credentials, Reading
from tray_monitor.parse import parse_usage

NOW = datetime(2026, 9, 1, 12, 0, tzinfo=timezone.utc)
FIXTURES = ["limits-2026-08", "overage", "scoped-cap-2026-09", "seed-2025-11", "small-2026-03", "unused-window"]

scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=20), children, max_size=6),
    max_leaves=40,
)
window_keys = st.sampled_from(["five_hour", "seven_day", "seven_day_opus", "seven_day_fable", "nimbus_quill",
                               "limits", "extra_usage", "spend", "tangelo"])
window_like = st.fixed_dictionaries({}, optional={
    "utilization": scalars, "percent": scalars, "resets_at": scalars | st.datetimes().map(str),
    "severity": st.sampled_from(["normal", "warning", "critical", "x"]) | scalars,
    "is_active": scalars, "locked_reason": scalars, "kind": st.sampled_from(["session", "weekly_all", "weekly_scoped", "?"]),
    "scope": json_values, "is_enabled": scalars, "monthly_limit": scalars, "used_credits": scalars,
    "decimal_places": scalars, "currency": scalars,
})
usage_like = st.dictionaries(window_keys, st.none() | window_like | st.lists(window_like, max_size=4) | json_values,
                             max_size=8)


def parses_or_typed_error(body: object) -> Reading | None:
    try:
        reading = parse_usage(body, NOW)
    except MonitorError:
        return None
    assert isinstance(reading, Reading)
    ids = [w.id for w in reading.windows]
    assert len(ids) == len(set(ids)), "a window is shown twice"
    for window in reading.windows:
        assert math.isfinite(window.percent) and window.percent >= 0
        assert window.resets_at is None or window.resets_at.tzinfo is not None
    return reading


@given(json_values)
def test_any_json_value_gives_a_reading_or_a_typed_error(body):
    parses_or_typed_error(body)


@given(usage_like)
@settings(suppress_health_check=[HealthCheck.too_slow])
def test_any_body_shaped_like_the_usage_answer_gives_a_reading_or_a_typed_error(body):
    parses_or_typed_error(body)


@given(st.sampled_from(FIXTURES), st.data())
def test_fixture_bodies_with_one_key_replaced_still_parse_or_fail_typed(name, data):
    body = json.loads(usage_fixture(name))
    key = data.draw(st.sampled_from(sorted(body)))
    body[key] = data.draw(json_values | window_like)
    parses_or_typed_error(body)


@given(st.sampled_from(FIXTURES), st.data())
def test_removing_any_key_from_a_fixture_never_raises_an_untyped_error(name, data):
    body = json.loads(usage_fixture(name))
    for key in data.draw(st.lists(st.sampled_from(sorted(body)), unique=True)):
        del body[key]
    parses_or_typed_error(body)


@given(st.sampled_from(FIXTURES), st.floats(min_value=0, max_value=1000, allow_nan=False))
def test_a_session_percent_is_kept_raw_whatever_its_size(name, percent):
    body = json.loads(usage_fixture(name))
    body.pop("limits", None)
    body["five_hour"] = {"utilization": percent, "resets_at": None}
    assert parse_usage(body, NOW).window("five_hour").percent == percent


credential_like = st.fixed_dictionaries({}, optional={
    "claudeAiOauth": st.none() | json_values | st.fixed_dictionaries({}, optional={
        "accessToken": scalars, "expiresAt": scalars, "scopes": json_values,
        "subscriptionType": scalars, "rateLimitTier": scalars}),
    "mcpOAuth": json_values,
})


@given(json_values | credential_like)
def test_any_json_value_gives_credentials_or_a_typed_error(payload):
    text = json.dumps(payload)
    try:
        creds = parse_credentials(text, "~/.claude/.credentials.json")
    except MonitorError:
        return
    assert isinstance(creds, Credentials) and creds.access_token
    plan_label(creds)
    try:
        check_usable(creds, NOW)
    except MonitorError:
        pass


@given(st.binary(max_size=200))
def test_any_bytes_give_credentials_or_a_typed_error(raw):
    try:
        parse_credentials(raw, "the macOS Keychain")
    except MonitorError:
        pass
