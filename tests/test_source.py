"""UsageSource: credentials re-read before each request, one re-read after a 401, never a loop."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from tests.envs import temp_env
from tests.fakeapi import Response, error_fixture, write_credentials
from tray_monitor.client import UsageClient
from tray_monitor.clock import FakeClock
from tray_monitor.cooldown import SharedCooldown
from tray_monitor.credentials import CredentialStore
from tray_monitor.errors import AuthExpired, CredentialsNotFound, RateLimited, ScopeMissing
from tray_monitor.source import UsageSource

MAX_TOKEN_PREFIX = "sk-ant-oat01-FIXTURE-ACCESS"
PRO_TOKEN = "sk-ant-oat01-FIXTURE-PRO-TOKEN"


@pytest.fixture
def world(tmp_path, fake_api):
    """A FakeClock, a home with a Claude login directory, and a source wired to the fake API."""

    class World:
        clock = FakeClock()
        login_dir = tmp_path / ".claude"
        api = fake_api

        cooldown_file = tmp_path / "data" / "rate-limit.json"

        def source(self, **environ) -> UsageSource:
            env = temp_env(tmp_path, {"CLAUDE_TRAY_API_URL": fake_api.url, "PATH": str(tmp_path / "no-bin"),
                                      **environ}, clock=self.clock)
            cooldown = SharedCooldown(self.cooldown_file, self.clock)
            return UsageSource(CredentialStore(env), UsageClient(env), self.clock, cooldown)

        def login(self, name: str, expires_in: float = 8 * 3600) -> Path:
            return write_credentials(self.login_dir, name, expires_in=expires_in, now=self.clock.now())

        def tokens_sent(self) -> list[str]:
            return [r.headers["authorization"].removeprefix("Bearer ") for r in self.api.requests]

    return World()


def test_read_gives_the_reading_and_the_credentials_that_got_it(world):
    world.login("max-linux")
    reading, creds = world.source().read()
    assert reading.window("five_hour").percent == 48.0
    assert reading.fetched_at == world.clock.now()
    assert creds.access_token.startswith(MAX_TOKEN_PREFIX)


def test_every_read_uses_the_token_currently_in_the_store(world):
    source = world.source()
    world.login("max-linux")
    source.read()
    world.login("pro-minimal")  # Claude Code refreshed: rewritten atomically
    source.read()
    sent = world.tokens_sent()
    assert sent[0].startswith(MAX_TOKEN_PREFIX) and sent[1] == PRO_TOKEN


def test_an_expired_login_is_reported_without_a_request(world):
    world.login("max-linux", expires_in=60)  # inside the 5-minute margin
    with pytest.raises(AuthExpired, match="run `claude` to refresh it"):
        world.source().read()
    assert world.api.requests == []


def test_a_login_without_the_profile_scope_is_reported_without_a_request(world):
    world.login("inference-only")
    with pytest.raises(ScopeMissing):
        world.source().read()
    assert world.api.requests == []


def test_no_login_is_reported_without_a_request(world):
    with pytest.raises(CredentialsNotFound):
        world.source().read()
    assert world.api.requests == []


def test_a_401_with_an_unchanged_store_is_auth_expired_after_one_request(world):
    world.login("max-linux")
    world.api.respond(401, error_fixture("401-invalid-token.json"))
    with pytest.raises(AuthExpired):
        world.source().read()
    assert len(world.api.requests) == 1


def test_a_401_after_claude_code_rotated_the_token_is_retried_once_with_the_new_token(world):
    world.login("max-linux")

    def rotate_then_refuse(request):
        world.login("pro-minimal")  # Claude Code refreshed while our request was in flight
        return Response(401, error_fixture("401-invalid-token.json"))

    world.api.queue(rotate_then_refuse)
    reading, creds = world.source().read()
    assert creds.access_token == PRO_TOKEN
    assert reading.window("five_hour") is not None
    sent = world.tokens_sent()
    assert len(sent) == 2 and sent[0].startswith(MAX_TOKEN_PREFIX) and sent[1] == PRO_TOKEN


def test_a_second_401_with_the_new_token_is_auth_expired_and_never_loops(world):
    world.login("max-linux")

    def rotate_then_refuse(request):
        world.login("pro-minimal")
        return Response(401, error_fixture("401-invalid-token.json"))

    world.api.queue(rotate_then_refuse)
    world.api.default = Response(401, error_fixture("401-invalid-token.json"))
    with pytest.raises(AuthExpired):
        world.source().read()
    assert len(world.api.requests) == 2


def test_a_rotated_token_that_is_already_expired_is_not_sent(world):
    world.login("max-linux")

    def rotate_to_expired(request):
        world.login("pro-minimal", expires_in=-60)
        return Response(401, error_fixture("401-invalid-token.json"))

    world.api.queue(rotate_to_expired)
    with pytest.raises(AuthExpired):
        world.source().read()
    assert len(world.api.requests) == 1


def test_a_401_for_the_environment_token_is_not_retried(world):
    world.login("max-linux")
    world.api.respond(401, error_fixture("401-invalid-token.json"))
    with pytest.raises(AuthExpired, match="CLAUDE_CODE_OAUTH_TOKEN"):
        world.source(CLAUDE_CODE_OAUTH_TOKEN="sk-ant-oat01-env", CLAUDE_CODE_OAUTH_SCOPES="user:profile").read()
    assert world.tokens_sent() == ["sk-ant-oat01-env"]


def test_store_fingerprint_changes_when_claude_code_rewrites_its_login(world):
    world.login("max-linux")
    source = world.source()
    before = source.store_fingerprint()
    assert source.store_fingerprint() == before
    world.clock.advance(timedelta(minutes=1).total_seconds())
    world.login("pro-minimal")
    assert source.store_fingerprint() != before


def test_a_429_is_remembered_so_no_process_asks_again_before_its_retry_after(world):
    world.login("max-linux")
    world.api.queue(Response(429, error_fixture("429-rate-limited.json"), {"Retry-After": "120"}))
    with pytest.raises(RateLimited):
        world.source().read()
    assert len(world.api.requests) == 1
    # Another source (the tray, or the next `claude-tray status`) sends nothing during the wait...
    with pytest.raises(RateLimited) as raised:
        world.source().read()
    assert raised.value.retry_after == 120
    world.clock.advance(119)
    with pytest.raises(RateLimited):
        world.source().read()
    assert len(world.api.requests) == 1
    # ...and asks again once it is over.
    world.clock.advance(1)
    reading, _ = world.source().read()
    assert reading.window("five_hour") is not None
    assert len(world.api.requests) == 2


def test_a_login_problem_is_told_before_a_remembered_rate_limit(world):
    """Signed out during a cooldown: what the user must do comes first."""
    world.login("max-linux")
    world.api.queue(Response(429, error_fixture("429-rate-limited.json")))
    with pytest.raises(RateLimited):
        world.source().read()
    world.login("max-linux", expires_in=60)
    with pytest.raises(AuthExpired):
        world.source().read()
    assert len(world.api.requests) == 1
