"""`status`, `status --json`, `--account` and `doctor` with two and three logins (issue 15), each a
canary token in its own folder under a temporary HOME, against the loopback server answering per
token: per-account readings, a 429 or an expired login holding back only its own account, no token
sent as another account's, none in any output or file written."""
from __future__ import annotations

import json

import pytest

from tests.fakeapi import FakeApi, Response, error_fixture, usage_fixture
from tests.logins import FOLDERS, TOKENS, logins_env
from tests.test_doctor import healthy_probes
from tray_monitor import app
from tray_monitor.parse import parse_usage

BODIES = {"default": "small-2026-03", "work": "overage", "play": "limits-2026-08"}
SLOW_DOWN = Response(429, error_fixture("429-rate-limited.json"), {"Retry-After": "900"})
SINGLE_KEYS = {"status", "plan", "updated_at", "message", "skipped_windows", "notices", "windows", "extra_usage",
               "from_tray", "binding"}


@pytest.fixture
def api():
    with FakeApi() as server:
        server.per_token({TOKENS[n]: Response(200, usage_fixture(BODIES[n])) for n in TOKENS})
        yield server


def percents(name: str) -> list[float]:
    from datetime import datetime, timezone

    return [w.percent for w in parse_usage(json.loads(usage_fixture(BODIES[name])), datetime.now(timezone.utc)).windows]


def status(env, *, as_json=False, account=None, fmt="text") -> tuple[int, str, str]:
    code = app.status(env, as_json, fmt=fmt, account=account)
    return code, env.stdout.getvalue(), env.stderr.getvalue()


def assert_no_token_anywhere(env, *texts: str) -> None:
    written = [p.read_bytes().decode("utf-8", "replace") for root in (env.data_dir, env.config_dir, env.log_dir)
               if root.exists() for p in root.rglob("*") if p.is_file()]
    for token in TOKENS.values():
        for text in (*texts, *written):
            assert token not in text and token.split("-ACCT")[1][:12] not in text


def test_status_json_keeps_the_default_object_on_top_and_lists_every_login(api, tmp_path):
    env = logins_env(tmp_path, ("default", "work", "play"), api.url)
    (tmp_path / FOLDERS["work"] / ".claude.json").write_text(json.dumps({"oauthAccount": {"emailAddress": "w@x.y"}}))
    code, out, err = status(env, as_json=True)
    assert (code, err) == (0, "")
    data = json.loads(out)
    assert set(data) == SINGLE_KEYS | {"accounts"}
    assert [w["percent"] for w in data["windows"]] == percents("default")
    assert [a["account"] for a in data["accounts"]] == [
        {"name": "default", "label": "default", "config_dir": str(tmp_path / ".claude")},
        {"name": "work", "label": "w@x.y", "config_dir": str(tmp_path / ".claude-work")},
        {"name": "play", "label": "play", "config_dir": str(tmp_path / ".claude-play")},
    ]
    for item in data["accounts"]:
        name = item["account"]["name"]
        assert set(item) == SINGLE_KEYS | {"account"} and item["status"] == "ok"
        assert [w["percent"] for w in item["windows"]] == percents(name)
    assert {k: v for k, v in data["accounts"][0].items() if k != "account"} == {
        k: v for k, v in data.items() if k != "accounts"}
    assert [api.count(TOKENS[n]) for n in ("default", "work", "play")] == [1, 1, 1] and api.wrong_tokens == []
    assert_no_token_anywhere(env, out, err)


def test_a_single_login_prints_the_same_object_as_before_accounts(api, tmp_path):
    env = logins_env(tmp_path, ("default",), api.url)
    code, out, _ = status(env, as_json=True)
    assert code == 0 and set(json.loads(out)) == SINGLE_KEYS


def test_a_429_for_one_login_holds_back_only_that_one_across_status_runs(api, tmp_path):
    env = logins_env(tmp_path, ("default", "work", "play"), api.url)
    api.queue_for(TOKENS["play"], SLOW_DOWN)
    outputs = []
    for _ in range(3):
        run_env = logins_env(tmp_path, (), api.url)  # a new process each time: same HOME, fresh stdio
        code, out, err = status(run_env, as_json=True)
        outputs += [out, err]
        data = json.loads(out)
        assert code == 1
        assert [a["status"] for a in data["accounts"]] == ["ok", "ok", "rate_limited"]
        assert data["status"] == "ok"
    assert [api.count(TOKENS[n]) for n in ("default", "work", "play")] == [3, 3, 1]
    assert api.wrong_tokens == []
    assert_no_token_anywhere(env, *outputs)


def test_one_login_expired_while_the_other_works_in_text(api, tmp_path):
    env = logins_env(tmp_path, ("default", "work"), api.url, expired=("default",))
    code, out, err = status(env)
    assert code == 1 and err == ""
    # (a StringIO has no encoding: the ASCII forms of the typographic characters)
    assert out.startswith("Claude usage - default - expired\nLogin expired - run claude in a terminal\n\n"
                          "Claude usage - work - Max 5x\n")
    assert (api.count(TOKENS["default"]), api.count(TOKENS["work"])) == (0, 1)
    assert_no_token_anywhere(env, out, err)


def test_account_picks_one_login_and_sends_only_its_token(api, tmp_path):
    env = logins_env(tmp_path, ("default", "work", "play"), api.url)
    code, out, _ = status(env, as_json=True, account="work")
    data = json.loads(out)
    assert code == 0 and set(data) == SINGLE_KEYS | {"account"}
    assert data["account"]["name"] == "work" and [w["percent"] for w in data["windows"]] == percents("work")
    assert [api.count(TOKENS[n]) for n in ("default", "work", "play")] == [0, 1, 0]
    text_env = logins_env(tmp_path, (), api.url)
    assert status(text_env, account="play")[1].startswith("Claude usage - play - Max 5x\n")
    default_env = logins_env(tmp_path, (), api.url)
    assert set(json.loads(status(default_env, as_json=True, account="default")[1])) == SINGLE_KEYS


def test_a_panel_format_shows_the_default_login_or_the_one_named(api, tmp_path):
    env = logins_env(tmp_path, ("default", "work"), api.url)
    code, out, _ = status(env, fmt="waybar", account="work")
    assert code == 0 and f"{round(percents('work')[0])}%" in json.loads(out)["text"]
    assert [api.count(TOKENS[n]) for n in ("default", "work")] == [0, 1]


def test_an_unknown_account_is_one_sentence(api, tmp_path):
    env = logins_env(tmp_path, ("default", "work"), api.url)
    assert status(env, account="nobody") == (1, "", "claude-tray: There is no account 'nobody': the accounts are "
                                                    "default, work.\n")
    assert api.requests == []


def test_doctor_checks_every_login_each_with_its_own_token(api, tmp_path):
    env = logins_env(tmp_path, ("default", "work", "play"), api.url, expired=("play",))
    code = app.doctor(env, offline=False, probes=healthy_probes())
    out = env.stdout.getvalue()
    assert code == 1  # play's login expired
    lines = out.splitlines()
    headers = [line.split(None, 2)[2] for line in lines if line.startswith("info  account ")]
    assert headers == ["default (~/.claude)", "work (~/.claude-work)", "play (~/.claude-play)"]
    work_at = lines.index(next(line for line in lines if line.endswith("work (~/.claude-work)")))
    play_at = lines.index(next(line for line in lines if line.endswith("play (~/.claude-play)")))
    assert any("usage request" in line and "answered" in line for line in lines[work_at:play_at])
    assert any("expiry" in line and "FAIL" in line for line in lines[play_at:])
    assert [api.count(TOKENS[n]) for n in ("default", "work", "play")] == [1, 1, 0] and api.wrong_tokens == []
    assert_no_token_anywhere(env, out, env.stderr.getvalue())


def test_doctor_with_one_login_has_no_account_lines(api, tmp_path):
    env = logins_env(tmp_path, ("default",), api.url)
    app.doctor(env, offline=True, probes=healthy_probes())
    assert not [line for line in env.stdout.getvalue().splitlines() if line.startswith("info  account ")]


def test_each_logins_forecast_in_status_json_uses_its_own_history(api, tmp_path):
    """Issue 15: the forecast of every login comes from that login's own stored readings (the tray
    records one history per login), not from the current reading alone nor from another's. Work
    and play read the same 70 % two hours into the session; only work climbed steeply in its last
    hour (stored), so only its forecast sees the climb; default has its own, flat, history."""
    from datetime import datetime, timedelta, timezone

    from tray_monitor.accounts import account_file, load_accounts
    from tray_monitor.forecast_view import forecast_json, outlooks
    from tray_monitor.history import HistoryStore, history_path

    now = datetime.now(timezone.utc)
    resets = (now + timedelta(hours=3)).replace(microsecond=0)

    def payload(session: float) -> dict:
        return {"five_hour": {"utilization": session, "resets_at": resets.isoformat()},
                "seven_day": {"utilization": 30.0, "resets_at": (resets + timedelta(days=3)).isoformat()}}

    api.per_token({TOKENS[n]: Response.json(payload(70.0)) for n in TOKENS})
    env = logins_env(tmp_path, ("default", "work", "play"), api.url)
    accounts = {a.name: a for a in load_accounts(env)[0]}
    climbs = {"default": [(110, 5.0), (80, 25.0), (40, 50.0), (10, 68.0)],  # steady
              "work": [(110, 5.0), (60, 10.0), (30, 40.0), (10, 65.0)]}  # all in the last hour
    for name, points in climbs.items():
        store = HistoryStore(account_file(history_path(env), accounts[name]))
        for minutes_ago, percent in points:
            at = now - timedelta(minutes=minutes_ago)
            store.record(parse_usage(payload(percent), at))
        store.close()

    code, out, err = status(env, as_json=True)
    assert (code, err) == (0, "")
    data = json.loads(out)
    shown = {a["account"]["name"]: a["windows"][0]["forecast"] for a in data["accounts"]}
    reading = parse_usage(payload(70.0), now)

    def expected(name: str | None) -> dict:
        digest = (HistoryStore(account_file(history_path(env), accounts[name])).digest(now) if name
                  else HistoryStore(tmp_path / "none.sqlite3").digest(now))
        return forecast_json(outlooks(reading, digest, now)[0])

    def close(got: dict, want: dict) -> bool:  # `now` here and in status differ by milliseconds
        return abs(got["projected_percent"] - want["projected_percent"]) <= 0.5 and got["reason"] is None

    assert close(shown["work"], expected("work")) and close(shown["default"], expected("default"))
    assert close(shown["play"], expected(None))  # no history of its own: not work's, not default's
    assert data["windows"][0]["forecast"] == shown["default"]  # the top-level object is the default's
    # The histories differ enough that borrowing the wrong one would show.
    assert abs(shown["work"]["projected_percent"] - shown["play"]["projected_percent"]) > 5
    assert abs(shown["work"]["projected_percent"] - shown["default"]["projected_percent"]) > 5
    one = json.loads(status(logins_env(tmp_path, (), api.url), as_json=True, account="work")[1])
    assert close(one["windows"][0]["forecast"], expected("work"))  # `--account work` alone: the same
    assert [api.count(TOKENS[n]) for n in ("default", "work", "play")] == [1, 2, 1] and api.wrong_tokens == []
    assert_no_token_anywhere(env, out, err)
