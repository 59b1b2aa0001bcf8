"""Each account polls with its own login and waits out its own 429 (issue 15), against the
loopback server answering per token: no token ever reaches the server as another account's."""
from __future__ import annotations

import pytest

from tests.fakeapi import FakeApi, Response, error_fixture, usage_fixture
from tests.logins import TOKENS, logins_env
from tray_monitor.accounts import Account, load_accounts
from tray_monitor.app import _usage_source
from tray_monitor.cooldown import COOLDOWN_FILE, cooldown_path
from tray_monitor.errors import AuthExpired, RateLimited

OK = Response(200, usage_fixture("small-2026-03"))
SLOW_DOWN = Response(429, error_fixture("429-rate-limited.json"), {"Retry-After": "600"})


@pytest.fixture
def api():
    with FakeApi() as server:
        yield server


def sources(env):
    accounts = load_accounts(env)[0]
    return {a.name: _usage_source(env, a) for a in accounts}


def test_every_login_reads_with_its_own_token(api, tmp_path):
    env = logins_env(tmp_path, ("default", "work", "play"), api.url)
    api.per_token({TOKENS[n]: OK for n in ("default", "work", "play")})
    for name, source in sources(env).items():
        reading, creds = source.read()
        assert creds.access_token == TOKENS[name] and reading.windows
    assert [api.count(TOKENS[n]) for n in ("default", "work", "play")] == [1, 1, 1]
    assert api.wrong_tokens == []


@pytest.mark.parametrize("limited", ["default", "work"])
def test_a_429_for_one_login_holds_back_only_that_one(api, tmp_path, limited):
    env = logins_env(tmp_path, ("default", "work", "play"), api.url)
    api.per_token({TOKENS[n]: SLOW_DOWN if n == limited else OK for n in ("default", "work", "play")})
    first = sources(env)
    with pytest.raises(RateLimited):
        first[limited].read()
    # Other processes (status, the tray) read the wait from the files: build the sources anew.
    for _ in range(3):
        again = sources(env)
        for name, source in again.items():
            if name == limited:
                with pytest.raises(RateLimited) as waiting:
                    source.read()
                assert 590 <= waiting.value.retry_after <= 600
            else:
                assert source.read()[1].access_token == TOKENS[name]
    counts = {n: api.count(TOKENS[n]) for n in ("default", "work", "play")}
    assert counts == {n: 1 if n == limited else 3 for n in counts}
    assert api.wrong_tokens == []
    # A single-login user's wait file keeps its name; another login's 429 never writes it.
    assert (env.data_dir / COOLDOWN_FILE).exists() == (limited == "default")


def test_one_login_expired_while_the_other_works(api, tmp_path):
    env = logins_env(tmp_path, ("default", "work"), api.url, expired=("work",))
    api.per_token({TOKENS["default"]: OK, TOKENS["work"]: OK})
    both = sources(env)
    with pytest.raises(AuthExpired):
        both["work"].read()
    assert both["default"].read()[1].access_token == TOKENS["default"]
    assert (api.count(TOKENS["default"]), api.count(TOKENS["work"])) == (1, 0)


def test_a_401_for_one_login_rereads_only_that_logins_store(api, tmp_path):
    env = logins_env(tmp_path, ("default", "work"), api.url)
    api.per_token({TOKENS["default"]: OK, TOKENS["work"]: Response(401, error_fixture("401-invalid-token.json"))})
    both = sources(env)
    with pytest.raises(AuthExpired):
        both["work"].read()
    assert both["default"].read()[1].access_token == TOKENS["default"]
    assert (api.count(TOKENS["default"]), api.count(TOKENS["work"])) == (1, 1)
    assert api.wrong_tokens == []


def test_the_wait_file_is_the_old_one_for_the_default_and_one_per_folder_otherwise(tmp_path):
    env = logins_env(tmp_path, ("default",))
    default = load_accounts(env)[0][0]
    work = Account("work", tmp_path / ".claude-work", "settings")
    renamed = Account("job", tmp_path / ".claude-work", "added")
    play = Account("play", tmp_path / ".claude-play", "settings")
    assert cooldown_path(env) == cooldown_path(env, default) == env.data_dir / "rate-limit.json"
    assert cooldown_path(env, work) == cooldown_path(env, renamed)  # the login's, not the name's
    assert len({cooldown_path(env, default), cooldown_path(env, work), cooldown_path(env, play)}) == 3
    assert cooldown_path(env, work).parent == env.data_dir
