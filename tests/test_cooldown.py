"""SharedCooldown: a 429's wait written down by one claude-tray process and honoured by all."""
from __future__ import annotations

import json
import logging
import stat
import sys

import pytest

from tray_monitor.clock import FakeClock
from tray_monitor.cooldown import SharedCooldown
from tray_monitor.errors import RateLimited


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def path(tmp_path):
    return tmp_path / "data" / "rate-limit.json"


def test_no_file_means_requests_are_welcome(path, clock):
    cooldown = SharedCooldown(path, clock)
    assert cooldown.remaining() is None
    cooldown.check()  # does not raise


def test_the_servers_retry_after_is_remembered_and_counts_down(path, clock):
    SharedCooldown(path, clock).remember(RateLimited("429", retry_after=120))
    other = SharedCooldown(path, clock)  # another process reading the same file
    assert other.remaining() == 120
    clock.advance(100)
    assert other.remaining() == 20
    with pytest.raises(RateLimited) as raised:
        other.check()
    assert raised.value.retry_after == 20
    clock.advance(20)
    assert other.remaining() is None


def test_without_retry_after_the_wait_is_the_pollers_first_back_off(path, clock):
    SharedCooldown(path, clock).remember(RateLimited("429"))
    assert SharedCooldown(path, clock).remaining() == 300


def test_a_huge_retry_after_is_capped_at_an_hour_like_the_poller(path, clock):
    SharedCooldown(path, clock).remember(RateLimited("429", retry_after=86400))
    assert SharedCooldown(path, clock).remaining() == 3600


def test_a_clock_set_back_voids_the_cooldown_instead_of_lengthening_it(path, clock):
    SharedCooldown(path, clock).remember(RateLimited("429", retry_after=600))
    clock.jump_wall(-3600)
    assert SharedCooldown(path, clock).remaining() is None


def test_a_sleep_past_the_end_ends_it(path, clock):
    SharedCooldown(path, clock).remember(RateLimited("429", retry_after=600))
    clock.jump_wall(3 * 3600)
    assert SharedCooldown(path, clock).remaining() is None


@pytest.mark.parametrize("text", ["", "not json", "[]", '{"since": 1}', '{"since": "x", "until": "y"}',
                                  '{"since": "2026-09-01T12:00:00", "until": "2026-09-01T13:00:00"}'])
def test_a_corrupt_file_means_no_cooldown_and_no_exception(path, clock, text):
    path.parent.mkdir(parents=True)
    path.write_text(text)
    assert SharedCooldown(path, clock).remaining() is None


def test_the_file_is_private_and_holds_only_two_times(path, clock):
    SharedCooldown(path, clock).remember(RateLimited("429 for sk-ant-oat01-SECRET", retry_after=60))
    assert set(json.loads(path.read_text())) == {"since", "until"}
    assert "SECRET" not in path.read_text()
    if sys.platform != "win32":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_an_unwritable_path_is_logged_once_and_never_raises(tmp_path, clock, caplog):
    """The folder's place is taken by a file (a way even root cannot write through)."""
    (tmp_path / "data").write_text("a file, not a folder")
    cooldown = SharedCooldown(tmp_path / "data" / "rate-limit.json", clock)
    with caplog.at_level(logging.WARNING, logger="tray_monitor.cooldown"):
        cooldown.remember(RateLimited("429", retry_after=60))
        cooldown.remember(RateLimited("429", retry_after=60))
    assert len([r for r in caplog.records if "could not remember" in r.getMessage()]) == 1
    assert cooldown.remaining() is None
