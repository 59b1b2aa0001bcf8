"""Credentials: the payload (pure half) and the read-only store (file, env token, macOS Keychain)."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import unicodedata
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import tray_monitor.credentials as credentials_module
from tests.fakeapi import credentials_fixture, fake_security_bin, write_credentials
from tray_monitor.credentials import (
    CredentialStore,
    check_usable,
    credentials_file,
    parse_credentials,
    plan_label,
)
from tray_monitor.environment import Environment
from tray_monitor.errors import AuthExpired, CredentialsNotFound, CredentialsUnreadable, ScopeMissing
from tray_monitor.keychain import MacKeychain, keychain_account, keychain_service
from tray_monitor.model import Credentials
from tray_monitor.view import problem_message

NOW = datetime(2026, 9, 1, 12, 0, tzinfo=timezone.utc)
FIXTURE_DIR = Path(__file__).parent / "fixtures" / "credentials"
MAX_TOKEN = credentials_fixture("max-linux")["claudeAiOauth"]["accessToken"]


def make_env(home: Path, platform: str = "linux", **environ: str) -> Environment:
    return Environment(environ=dict(environ), home=home, platform=platform, config_dir=home / "cfg",
                       data_dir=home / "data", log_dir=home / "log", runtime_dir=home / "run")


def raw(name: str) -> bytes:
    return (FIXTURE_DIR / f"{name}.json").read_bytes()


# -- parse_credentials: each recorded file ---------------------------------------------------------


def test_max_login_parses_token_expiry_scopes_and_plan():
    creds = parse_credentials(raw("max-linux"), "~/.claude/.credentials.json")
    assert creds.access_token == MAX_TOKEN
    assert creds.expires_at == datetime.fromtimestamp(1788781207.410, tz=timezone.utc)
    assert "user:profile" in creds.scopes
    assert creds.source == "~/.claude/.credentials.json"
    assert plan_label(creds) == "Max 5x"
    check_usable(creds, NOW)  # valid until 2026-09-07


def test_pro_login_past_its_expiry_is_expired():
    creds = parse_credentials(raw("pro-minimal"), "f")
    assert plan_label(creds) == "Pro"
    with pytest.raises(AuthExpired, match="run `claude` to refresh it"):
        check_usable(creds, NOW)


def test_setup_token_without_user_profile_scope_is_scope_missing():
    creds = parse_credentials(raw("inference-only"), "f")
    with pytest.raises(ScopeMissing, match="cannot read usage.*log in with `claude`"):
        check_usable(creds, NOW)


@pytest.mark.parametrize("name", ["empty-token", "mcp-only"])
def test_an_empty_token_or_mcp_only_file_means_not_signed_in(name):
    with pytest.raises(CredentialsNotFound, match=r"No Claude Code login found in ~/.claude/.credentials.json: run `claude` and log in\."):
        parse_credentials(raw(name), "~/.claude/.credentials.json")


# -- parse_credentials: broken payloads ------------------------------------------------------------


@pytest.mark.parametrize("payload, why", [
    (b"", "is empty"),
    (b"   \n", "is empty"),
    (b"\xff\xfe\x00{", "not UTF-8"),
    (raw("max-linux")[:120], "not valid JSON"),  # half-written
    (b"{\"claudeAiOauth\": {", "not valid JSON"),
    (b"[1, 2]", "JSON object"),
    (b"{\"claudeAiOauth\": \"sk-ant\"}", "not an object"),
    (b"{\"claudeAiOauth\": {\"accessToken\": 42}}", "not plain text"),
    (b"{\"claudeAiOauth\": {\"accessToken\": \"sk-ant oat\"}}", "not plain text"),
    (b"{\"claudeAiOauth\": {\"accessToken\": \"sk-\\nant\"}}", "not plain text"),
    (b"[" * 100000, "not valid JSON"),
])
def test_corrupt_payloads_are_unreadable_with_a_sentence_naming_the_file(payload, why):
    with pytest.raises(CredentialsUnreadable) as caught:
        parse_credentials(payload, "~/.claude/.credentials.json")
    assert why in caught.value.message
    assert "~/.claude/.credentials.json" in caught.value.message
    assert "run `claude`" in caught.value.message


def test_a_utf8_bom_and_text_input_are_accepted():
    assert parse_credentials(b"\xef\xbb\xbf" + raw("max-linux"), "f").access_token == MAX_TOKEN
    assert parse_credentials(raw("max-linux").decode(), "f").access_token == MAX_TOKEN


def test_odd_field_types_become_unknown_rather_than_errors():
    creds = parse_credentials(json.dumps({"claudeAiOauth": {
        "accessToken": "tok", "expiresAt": "soon", "scopes": "user:profile",
        "subscriptionType": 5, "rateLimitTier": ""}}), "f")
    assert (creds.expires_at, creds.scopes, creds.subscription_type, creds.rate_limit_tier) == (None, None, None, None)
    check_usable(creds, NOW)  # unknown expiry and scopes: the server decides


@pytest.mark.parametrize("expires_at, meant", [
    (1_788_264_000_000, datetime(2026, 9, 1, 12, 0, tzinfo=timezone.utc)),  # milliseconds, as documented
    (1_788_264_000, datetime(2026, 9, 1, 12, 0, tzinfo=timezone.utc)),  # seconds: below 10^11
    (1_788_264_000.5, datetime(2026, 9, 1, 12, 0, 0, 500000, tzinfo=timezone.utc)),
    (99_999_999_999, datetime(5138, 11, 16, 9, 46, 39, tzinfo=timezone.utc)),  # the last value read as seconds
    (100_000_000_000, datetime(1973, 3, 3, 9, 46, 40, tzinfo=timezone.utc)),  # the first read as milliseconds
])
def test_an_expiry_below_10_to_the_11_is_seconds_else_milliseconds(expires_at, meant):
    payload = {"claudeAiOauth": {"accessToken": "tok", "expiresAt": expires_at}}
    assert parse_credentials(json.dumps(payload), "f").expires_at == meant


def test_a_login_whose_expiry_is_written_in_seconds_is_read_and_used(fake_api, tmp_path):
    """Issue 9: read as milliseconds, a valid login said "Login expired" and nothing was sent."""
    from tray_monitor.client import UsageClient
    from tray_monitor.clock import FakeClock
    from tray_monitor.source import UsageSource

    clock = FakeClock()
    payload = credentials_fixture("max-linux")
    payload["claudeAiOauth"]["expiresAt"] = int(clock.now().timestamp()) + 8 * 3600  # seconds
    write_credentials(tmp_path / ".claude", payload, expires_in=None)
    env = Environment(environ={"CLAUDE_TRAY_API_URL": fake_api.url, "PATH": str(tmp_path / "no-bin")}, home=tmp_path,
                      platform="linux", config_dir=tmp_path / "cfg", data_dir=tmp_path / "data",
                      log_dir=tmp_path / "log", runtime_dir=tmp_path / "run", clock=clock)
    reading, creds = UsageSource(CredentialStore(env), UsageClient(env), clock).read()
    assert creds.expires_at == clock.now() + timedelta(hours=8) - timedelta(microseconds=clock.now().microsecond)
    assert reading.window("five_hour") is not None
    assert fake_api.requests[0].headers["authorization"] == f"Bearer {MAX_TOKEN}"


@given(st.one_of(st.integers(min_value=-10**20, max_value=10**20), st.floats(allow_nan=True, allow_infinity=True)))
def test_any_numeric_expiry_is_read_without_raising_seconds_below_10_to_the_11(value):
    payload = {"claudeAiOauth": {"accessToken": "tok", "expiresAt": value}}
    expires = parse_credentials(json.dumps(payload), "f").expires_at
    if expires is not None:
        seconds = value if abs(value) < 10**11 else value / 1000
        assert abs(expires.timestamp() - seconds) < 1e-3 * max(1.0, abs(seconds)) ** 0.5 + 1e-3


@pytest.mark.parametrize("expires_at", [1e300, float("inf"), True])
def test_an_out_of_range_expiry_is_unknown(expires_at):
    payload = {"claudeAiOauth": {"accessToken": "tok", "expiresAt": expires_at}}
    assert parse_credentials(json.dumps(payload), "f").expires_at is None


def test_the_token_never_appears_in_the_credentials_repr_or_str():
    creds = parse_credentials(raw("max-linux"), "f")
    assert MAX_TOKEN not in repr(creds) and MAX_TOKEN not in str(creds)


# -- expiry margin and plan label ------------------------------------------------------------------


def test_a_token_counts_as_expired_five_minutes_before_expires_at():
    def creds_expiring_in(minutes):
        return Credentials("tok", "f", expires_at=NOW + timedelta(minutes=minutes), scopes=("user:profile",))

    check_usable(creds_expiring_in(6), NOW)
    with pytest.raises(AuthExpired):
        check_usable(creds_expiring_in(4), NOW)


def test_environment_token_with_the_usage_scope_listed_and_unknown_expiry_is_usable():
    check_usable(Credentials("tok", "environment", scopes=("user:inference", "user:profile")), NOW)


def test_expired_and_scope_messages_name_the_environment_variable_for_an_env_token():
    expired = Credentials("tok", "environment", expires_at=NOW)
    with pytest.raises(AuthExpired, match="CLAUDE_CODE_OAUTH_TOKEN"):
        check_usable(expired, NOW)
    with pytest.raises(ScopeMissing, match="CLAUDE_CODE_OAUTH_TOKEN"):
        check_usable(Credentials("tok", "environment", scopes=("user:inference",)), NOW)


@pytest.mark.parametrize("subscription, tier, label", [
    ("max", "default_claude_max_20x", "Max 20x"),
    ("max", "default_claude_max_5x", "Max 5x"),
    ("max", None, "Max"),
    (None, "default_claude_max_20x", "Max 20x"),
    (None, "claude_max", "Max"),
    ("pro", "default_claude_pro", "Pro"),
    ("team", "default_claude_max_5x", "Team"),
    ("enterprise", None, "Enterprise"),
    ("team_premium", None, "Team Premium"),
    (None, None, None),
    (None, "default", None),
])
def test_plan_label_from_subscription_then_rate_limit_tier(subscription, tier, label):
    creds = Credentials("tok", "f", subscription_type=subscription, rate_limit_tier=tier)
    assert plan_label(creds) == label


# -- the file store --------------------------------------------------------------------------------


def test_no_file_means_not_signed_in_naming_the_default_path(tmp_path):
    store = CredentialStore(make_env(tmp_path))
    with pytest.raises(CredentialsNotFound) as caught:
        store.load()
    assert caught.value.message == ("No Claude Code login found in ~/.claude/.credentials.json: "
                                    "run `claude` and log in.")


def test_the_file_is_read_from_the_home_claude_directory(tmp_path):
    write_credentials(tmp_path / ".claude", "max-linux", now=NOW)
    creds = CredentialStore(make_env(tmp_path)).load()
    assert creds.access_token == MAX_TOKEN
    assert creds.source == "~/.claude/.credentials.json"
    assert creds.expires_at == NOW + timedelta(hours=8) - timedelta(microseconds=NOW.microsecond)


def test_securestorage_dir_wins_over_config_dir_which_wins_over_home(tmp_path):
    secure, config = tmp_path / "secure", tmp_path / "config"
    env = make_env(tmp_path, CLAUDE_SECURESTORAGE_CONFIG_DIR=str(secure), CLAUDE_CONFIG_DIR=str(config))
    assert credentials_file(env) == secure / ".credentials.json"
    env = make_env(tmp_path, CLAUDE_CONFIG_DIR=str(config))
    assert credentials_file(env) == config / ".credentials.json"
    write_credentials(config, "pro-minimal")
    write_credentials(tmp_path / ".claude", "max-linux")
    assert CredentialStore(env).load().subscription_type == "pro"


def test_a_path_outside_home_is_named_in_full(tmp_path, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    with pytest.raises(CredentialsNotFound, match=str(elsewhere)):
        CredentialStore(make_env(tmp_path, CLAUDE_CONFIG_DIR=str(elsewhere))).load()


def test_permission_denied_is_unreadable_with_what_to_do(tmp_path):
    path = write_credentials(tmp_path / ".claude", "max-linux")
    if os.geteuid() == 0:
        # root reads a chmod 000 file anyway: a directory in place of the file instead
        path.unlink()
        path.mkdir()
        with pytest.raises(CredentialsUnreadable, match=r"~/.claude/.credentials.json is a directory"):
            CredentialStore(make_env(tmp_path)).load()
        return
    path.chmod(0)
    try:
        with pytest.raises(CredentialsUnreadable, match=r"Cannot read ~/.claude/.credentials.json \(permission denied\)"):
            CredentialStore(make_env(tmp_path)).load()
    finally:
        path.chmod(0o600)


def test_a_directory_in_place_of_the_file_is_unreadable(tmp_path):
    (tmp_path / ".claude" / ".credentials.json").mkdir(parents=True)
    with pytest.raises(CredentialsUnreadable, match="is a directory, not a file"):
        CredentialStore(make_env(tmp_path)).load()


def test_a_file_in_place_of_the_claude_directory_is_unreadable(tmp_path):
    (tmp_path / ".claude").write_text("not a directory")
    with pytest.raises(CredentialsUnreadable, match=r"Cannot read ~/.claude/.credentials.json \(Not a directory\)"):
        CredentialStore(make_env(tmp_path)).load()


def test_a_read_error_after_opening_is_unreadable(tmp_path, monkeypatch):
    write_credentials(tmp_path / ".claude", "max-linux")

    def failing_read(fd):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(credentials_module, "_read_all", failing_read)
    with pytest.raises(CredentialsUnreadable, match=r"\(Input/output error\)"):
        CredentialStore(make_env(tmp_path)).load()


def test_a_half_written_file_is_unreadable_and_the_completed_file_is_then_picked_up(tmp_path):
    path = tmp_path / ".claude" / ".credentials.json"
    path.parent.mkdir()
    path.write_bytes(raw("max-linux")[:100])
    store = CredentialStore(make_env(tmp_path))
    with pytest.raises(CredentialsUnreadable, match="half-written"):
        store.load()
    with pytest.raises(CredentialsUnreadable):  # unchanged: the same answer, from the cache
        store.load()
    write_credentials(tmp_path / ".claude", "max-linux")
    assert store.load().access_token == MAX_TOKEN


def test_an_atomically_rewritten_file_with_a_new_token_is_picked_up(tmp_path):
    store = CredentialStore(make_env(tmp_path))
    write_credentials(tmp_path / ".claude", "max-linux")
    first = store.load()
    fingerprint = store.fingerprint()
    write_credentials(tmp_path / ".claude", "pro-minimal")
    assert store.fingerprint() != fingerprint
    second = store.load()
    assert first.access_token == MAX_TOKEN
    assert second.access_token == "sk-ant-oat01-FIXTURE-PRO-TOKEN"


def test_an_unchanged_file_is_not_read_again(tmp_path):
    """Same inode, size and mtime: the cached credentials are returned without reading."""
    path = write_credentials(tmp_path / ".claude", "max-linux")
    store = CredentialStore(make_env(tmp_path))
    store.load()
    before = os.stat(path)
    same_size_other_token = path.read_text().replace("FIXTURE-ACCESS", "FIXTURE-CHANGE")
    with open(path, "r+") as f:  # in place, so the inode stays
        f.write(same_size_other_token)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert store.load().access_token == MAX_TOKEN


def test_a_deleted_file_means_signed_out_and_a_new_one_is_found(tmp_path):
    path = write_credentials(tmp_path / ".claude", "max-linux")
    store = CredentialStore(make_env(tmp_path))
    store.load()
    path.unlink()
    with pytest.raises(CredentialsNotFound):
        store.load()
    write_credentials(tmp_path / ".claude", "max-linux")
    assert store.load().access_token == MAX_TOKEN


def test_the_store_never_writes_claude_codes_file(tmp_path):
    path = write_credentials(tmp_path / ".claude", "pro-minimal", expires_in=None)  # expired
    before = (path.read_bytes(), os.stat(path).st_mtime_ns)
    store = CredentialStore(make_env(tmp_path))
    with pytest.raises(AuthExpired):
        check_usable(store.load(), NOW)
    assert (path.read_bytes(), os.stat(path).st_mtime_ns) == before
    assert sorted(p.name for p in path.parent.iterdir()) == [".credentials.json"]


def test_fingerprint_is_stable_while_unchanged_and_holds_no_token(tmp_path):
    write_credentials(tmp_path / ".claude", "max-linux")
    store = CredentialStore(make_env(tmp_path, CLAUDE_CODE_OAUTH_TOKEN="sk-env-secret"))
    assert store.fingerprint() == store.fingerprint()
    assert "sk-env-secret" not in repr(store.fingerprint())
    assert MAX_TOKEN not in repr(store.fingerprint())


def test_describe_names_the_file_and_the_source_last_read(tmp_path):
    store = CredentialStore(make_env(tmp_path))
    assert "~/.claude/.credentials.json (missing)" in store.describe()
    write_credentials(tmp_path / ".claude", "max-linux")
    store.load()
    text = store.describe()
    assert "(present)" in text and "last read from ~/.claude/.credentials.json" in text


# -- the environment token -------------------------------------------------------------------------


def test_the_environment_token_comes_first_with_the_scopes_claude_code_oauth_scopes_lists(tmp_path):
    write_credentials(tmp_path / ".claude", "max-linux")
    store = CredentialStore(make_env(tmp_path, CLAUDE_CODE_OAUTH_TOKEN=" sk-ant-oat01-env \n",
                                     CLAUDE_CODE_OAUTH_SCOPES="user:inference user:profile,user:sessions"))
    creds = store.load()
    assert (creds.access_token, creds.source, creds.scopes, creds.expires_at) == (
        "sk-ant-oat01-env", "environment", ("user:inference", "user:profile", "user:sessions"), None)
    check_usable(creds, NOW)
    assert "CLAUDE_CODE_OAUTH_TOKEN" in store.describe()


@pytest.mark.parametrize("scopes", [None, "", "  ", "user:inference", "user:profiles", "user:inference,org:create_api_key"])
def test_an_environment_token_without_user_profile_in_its_scopes_is_refused_at_once_with_no_request(
        fake_api, tmp_path, scopes):
    """Claude Code never calls the usage endpoint with CLAUDE_CODE_OAUTH_TOKEN unless
    CLAUDE_CODE_OAUTH_SCOPES includes user:profile; neither do we (the login file is not used either)."""
    from tray_monitor.client import UsageClient
    from tray_monitor.source import UsageSource

    write_credentials(tmp_path / ".claude", "max-linux")
    environ = {"CLAUDE_CODE_OAUTH_TOKEN": "sk-ant-oat01-ENV-SECRET", "CLAUDE_TRAY_API_URL": fake_api.url}
    if scopes is not None:
        environ["CLAUDE_CODE_OAUTH_SCOPES"] = scopes
    env = make_env(tmp_path, **environ)
    with pytest.raises(ScopeMissing) as caught:
        UsageSource(CredentialStore(env), UsageClient(env), env.clock).read()
    assert caught.value.message == (
        "The token in CLAUDE_CODE_OAUTH_TOKEN cannot read usage (CLAUDE_CODE_OAUTH_SCOPES does not list "
        "user:profile, and `claude setup-token` tokens lack it): unset it and log in with `claude`.")
    assert problem_message(caught.value, None, NOW) == (
        "CLAUDE_CODE_OAUTH_TOKEN cannot read usage — unset it and log in with claude")
    assert fake_api.requests == []


def test_a_blank_environment_token_is_ignored(tmp_path):
    write_credentials(tmp_path / ".claude", "max-linux")
    assert CredentialStore(make_env(tmp_path, CLAUDE_CODE_OAUTH_TOKEN="  ")).load().access_token == MAX_TOKEN


def test_an_environment_token_with_spaces_inside_is_unreadable_without_echoing_it(tmp_path):
    store = CredentialStore(make_env(tmp_path, CLAUDE_CODE_OAUTH_TOKEN="sk-ant secret"))
    with pytest.raises(CredentialsUnreadable) as caught:
        store.load()
    assert "CLAUDE_CODE_OAUTH_TOKEN" in caught.value.message
    assert "secret" not in caught.value.message


# -- the macOS Keychain (through a fake `security`) ------------------------------------------------


def mac_env(home: Path, **environ: str) -> Environment:
    environ.setdefault("USER", "ada")
    return make_env(home, platform="darwin", **environ)


def test_keychain_item_is_read_with_the_plain_service_and_the_user_account(tmp_path):
    security = fake_security_bin(tmp_path, {"Claude Code-credentials": raw("max-linux").decode()})
    store = CredentialStore(mac_env(tmp_path), security_path=str(security.path))
    creds = store.load()
    assert creds.access_token == MAX_TOKEN and creds.source == "keychain"
    assert security.calls() == [["find-generic-password", "-s", "Claude Code-credentials", "-a", "ada", "-w"]]
    assert "last read from the macOS Keychain" in store.describe()


def hashed(directory: str) -> str:
    return "Claude Code-credentials-" + hashlib.sha256(unicodedata.normalize("NFC", directory).encode()).hexdigest()[:8]


def test_with_claude_config_dir_only_the_hashed_service_is_read(tmp_path):
    config_dir = "/Users/ada/.claude-wörk"
    assert keychain_service({"CLAUDE_CONFIG_DIR": config_dir}) == hashed(config_dir)
    security = fake_security_bin(tmp_path, {hashed(config_dir): raw("pro-minimal").decode(),
                                            "Claude Code-credentials": raw("max-linux").decode()})
    store = CredentialStore(mac_env(tmp_path, CLAUDE_CONFIG_DIR=config_dir), security_path=str(security.path))
    assert store.load().subscription_type == "pro"
    assert security.calls() == [["find-generic-password", "-s", hashed(config_dir), "-a", "ada", "-w"]]


def test_claude_securestorage_config_dir_names_the_item_and_the_file_not_claude_config_dir(tmp_path):
    secure, config = "/Users/ada/secure", "/Users/ada/config"
    security = fake_security_bin(tmp_path, {hashed(secure): raw("pro-minimal").decode(),
                                            hashed(config): raw("max-linux").decode()})
    env = mac_env(tmp_path, CLAUDE_SECURESTORAGE_CONFIG_DIR=secure, CLAUDE_CONFIG_DIR=config)
    assert CredentialStore(env, security_path=str(security.path)).load().subscription_type == "pro"
    assert [call[2] for call in security.calls()] == [hashed(secure)]
    assert credentials_file(env) == Path(secure) / ".credentials.json"


def test_claude_securestorage_config_dir_set_but_empty_means_the_plain_name_and_home_claude(tmp_path):
    config = tmp_path / "config"
    write_credentials(config, "pro-minimal")
    write_credentials(tmp_path / ".claude", "max-linux")
    security = fake_security_bin(tmp_path, {hashed(str(config)): raw("pro-minimal").decode()})
    env = mac_env(tmp_path, CLAUDE_SECURESTORAGE_CONFIG_DIR="", CLAUDE_CONFIG_DIR=str(config))
    assert keychain_service(env.environ) == "Claude Code-credentials"
    assert credentials_file(env) == tmp_path / ".claude" / ".credentials.json"
    creds = CredentialStore(env, security_path=str(security.path)).load()
    assert (creds.access_token, creds.source) == (MAX_TOKEN, "~/.claude/.credentials.json")
    assert security.calls() == [["find-generic-password", "-s", "Claude Code-credentials", "-a", "ada", "-w"]]


def test_an_empty_claude_config_dir_means_the_plain_name():
    assert keychain_service({"CLAUDE_CONFIG_DIR": ""}) == "Claude Code-credentials"
    assert keychain_service({}) == "Claude Code-credentials"


def test_the_nfd_spelling_of_a_config_dir_hashes_like_the_nfc_one():
    nfc, nfd = "/Users/ada/wörk", unicodedata.normalize("NFD", "/Users/ada/wörk")
    assert nfc != nfd
    assert keychain_service({"CLAUDE_CONFIG_DIR": nfc}) == keychain_service({"CLAUDE_CONFIG_DIR": nfd})
    assert keychain_service({"CLAUDE_SECURESTORAGE_CONFIG_DIR": nfd}) == hashed(nfc)


def test_with_a_config_dir_the_plain_item_of_another_login_is_not_read(tmp_path):
    """Claude Code 2.1.332 reads only its own name: the plain item belongs to the default login."""
    security = fake_security_bin(tmp_path, {"Claude Code-credentials": raw("max-linux").decode()})
    store = CredentialStore(mac_env(tmp_path, CLAUDE_CONFIG_DIR="/x"), security_path=str(security.path))
    with pytest.raises(CredentialsNotFound, match="No Claude Code login found in /x/.credentials.json"):
        store.load()
    assert [call[2] for call in security.calls()] == [hashed("/x")]


@pytest.mark.parametrize("user, os_user, account", [
    ("ada", "root", "ada"),
    ("ada.lovelace_1-2", "x", "ada.lovelace_1-2"),
    ("", "grace", "grace"),  # $USER empty: the OS user name
    (None, "grace", "grace"),
    ("Zoë", "x", "claude-code-user"),  # outside [A-Za-z0-9._-]
    ("ada lovelace", "x", "claude-code-user"),
    (None, "CORP\\ada", "claude-code-user"),
    (None, KeyError("no such uid"), "claude-code-user"),
])
def test_the_keychain_account_is_user_else_the_os_user_else_claude_code_user(tmp_path, user, os_user, account):
    def lookup():
        if isinstance(os_user, Exception):
            raise os_user
        return os_user

    environ = {} if user is None else {"USER": user}
    assert keychain_account(environ, lookup) == account
    security = fake_security_bin(tmp_path, {"Claude Code-credentials": raw("max-linux").decode()})
    env = make_env(tmp_path, platform="darwin", **environ)
    keychain = MacKeychain(env.environ, env.home, security_path=str(security.path), os_user=lookup)
    assert CredentialStore(env, keychain=keychain).load().access_token == MAX_TOKEN
    assert security.calls() == [["find-generic-password", "-s", "Claude Code-credentials", "-a", account, "-w"]]


MCP_ONLY = json.dumps({"mcpOAuth": {"server|abc": {"accessToken": "mcp-secret"}}})


@pytest.mark.parametrize("suffix", ["-overflow-a", "-overflow-b"])
def test_a_login_moved_into_an_overflow_item_is_named_as_unreadable_not_signed_out(tmp_path, suffix):
    security = fake_security_bin(tmp_path, {"Claude Code-credentials": MCP_ONLY,
                                            "Claude Code-credentials" + suffix: "c2VjcmV0LWVuY3J5cHRlZA=="})
    write_credentials(tmp_path / ".claude", "max-linux")  # an older file must not be taken instead
    with pytest.raises(CredentialsUnreadable) as caught:
        CredentialStore(mac_env(tmp_path), security_path=str(security.path)).load()
    assert caught.value.message == (
        "Claude Code keeps this login split between the macOS Keychain ('Claude Code-credentials', account "
        "'ada') and an encrypted overflow item, a form claude-tray cannot read yet: see your usage with "
        "/usage inside Claude Code until a claude-tray update can read it.")
    assert problem_message(caught.value, None, NOW) == (
        "Login stored in a form claude-tray cannot read yet — use /usage in Claude Code")
    assert problem_message(caught.value, None, NOW, polling=False) == caught.value.message  # `status`
    calls = security.calls()
    assert calls[0] == ["find-generic-password", "-s", "Claude Code-credentials", "-a", "ada", "-w"]
    # the overflow items are only looked up, never read (no -w: attributes, not the value)
    assert calls[1:] == [["find-generic-password", "-s", "Claude Code-credentials" + s, "-a", "ada"]
                         for s in ["-overflow-a", "-overflow-b"][: 1 if suffix == "-overflow-a" else 2]]


def test_an_item_without_a_claude_login_and_no_overflow_is_not_signed_in(tmp_path):
    security = fake_security_bin(tmp_path, {"Claude Code-credentials": MCP_ONLY})
    with pytest.raises(CredentialsNotFound, match="No Claude Code login found in the macOS Keychain"):
        CredentialStore(mac_env(tmp_path), security_path=str(security.path)).load()
    assert len(security.calls()) == 3


def test_a_login_in_the_main_item_never_asks_for_the_overflow(tmp_path):
    security = fake_security_bin(tmp_path, {"Claude Code-credentials": raw("max-linux").decode(),
                                            "Claude Code-credentials-overflow-a": "x"})
    assert CredentialStore(mac_env(tmp_path), security_path=str(security.path)).load().access_token == MAX_TOKEN
    assert len(security.calls()) == 1


def test_a_hex_encoded_keychain_value_is_decoded(tmp_path):
    security = fake_security_bin(tmp_path, {"Claude Code-credentials": raw("max-linux").decode()}, hex_encode=True)
    assert CredentialStore(mac_env(tmp_path), security_path=str(security.path)).load().access_token == MAX_TOKEN


def test_a_keychain_value_that_is_neither_json_nor_hex_is_unreadable(tmp_path):
    security = fake_security_bin(tmp_path, {"Claude Code-credentials": "garbage!"})
    with pytest.raises(CredentialsUnreadable, match="the macOS Keychain is not valid JSON"):
        CredentialStore(mac_env(tmp_path), security_path=str(security.path)).load()


def test_no_keychain_item_falls_back_to_the_file(tmp_path):
    security = fake_security_bin(tmp_path, {})
    write_credentials(tmp_path / ".claude", "max-linux")
    creds = CredentialStore(mac_env(tmp_path), security_path=str(security.path)).load()
    assert creds.source == "~/.claude/.credentials.json"
    assert len(security.calls()) == 1


def test_a_locked_keychain_is_unreadable_naming_the_item(tmp_path):
    security = fake_security_bin(tmp_path, {}, exit_code=36)
    write_credentials(tmp_path / ".claude", "max-linux")
    with pytest.raises(CredentialsUnreadable, match=r"'Claude Code-credentials' could not be read \(security exited 36\)"):
        CredentialStore(mac_env(tmp_path), security_path=str(security.path)).load()


def test_a_keychain_prompt_that_times_out_is_unreadable(tmp_path):
    def hanging_security(argv, **kwargs):
        raise subprocess.TimeoutExpired(argv, kwargs["timeout"], output=b"secret")

    with pytest.raises(CredentialsUnreadable, match="timed out") as caught:
        CredentialStore(mac_env(tmp_path), run=hanging_security).load()
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_a_missing_security_tool_falls_back_to_the_file(tmp_path):
    write_credentials(tmp_path / ".claude", "max-linux")
    store = CredentialStore(mac_env(tmp_path), security_path=str(tmp_path / "no-such-security"))
    assert store.load().source == "~/.claude/.credentials.json"


def test_the_keychain_is_asked_again_only_when_the_keychain_database_changed(tmp_path):
    database = tmp_path / "Library" / "Keychains" / "login.keychain-db"
    database.parent.mkdir(parents=True)
    database.write_bytes(b"v1")
    security = fake_security_bin(tmp_path, {"Claude Code-credentials": raw("max-linux").decode()})
    store = CredentialStore(mac_env(tmp_path), security_path=str(security.path))
    store.load()
    store.load()
    assert len(security.calls()) == 1
    fingerprint = store.fingerprint()
    database.write_bytes(b"v2 longer")
    assert store.fingerprint() != fingerprint
    store.load()
    assert len(security.calls()) == 2


def test_the_keychain_is_never_asked_on_linux(tmp_path):
    security = fake_security_bin(tmp_path, {"Claude Code-credentials": raw("max-linux").decode()})
    with pytest.raises(CredentialsNotFound):
        CredentialStore(make_env(tmp_path, USER="ada"), security_path=str(security.path)).load()
    assert security.calls() == []


def test_permission_denied_on_open_is_unreadable_even_when_running_as_root(tmp_path, monkeypatch):
    """chmod 000 does not stop root, so the refusal is simulated at os.open for this path only."""
    path = write_credentials(tmp_path / ".claude", "max-linux")
    real_open = os.open

    def refusing_open(name, *args, **kwargs):
        if Path(name) == path:
            raise PermissionError(13, "Permission denied", str(name))
        return real_open(name, *args, **kwargs)

    monkeypatch.setattr(credentials_module.os, "open", refusing_open)
    with pytest.raises(CredentialsUnreadable, match=r"\(permission denied\): make it readable by your user"):
        CredentialStore(make_env(tmp_path)).load()


def test_describe_never_raises_when_the_file_cannot_even_be_looked_at(tmp_path, monkeypatch):
    real_stat = os.stat

    def refusing_stat(name, *args, **kwargs):
        if str(name).endswith(".credentials.json"):
            raise PermissionError(13, "Permission denied")
        return real_stat(name, *args, **kwargs)

    monkeypatch.setattr(credentials_module.os, "stat", refusing_stat)
    store = CredentialStore(make_env(tmp_path))
    assert "~/.claude/.credentials.json (unreadable)" in store.describe()
    assert store.fingerprint()[-1] == ("error", 13)


def test_the_overflow_outcome_is_replayed_with_its_menu_words_while_the_keychain_is_unchanged(tmp_path):
    database = tmp_path / "Library" / "Keychains" / "login.keychain-db"
    database.parent.mkdir(parents=True)
    database.write_bytes(b"v1")
    security = fake_security_bin(tmp_path, {"Claude Code-credentials": MCP_ONLY,
                                            "Claude Code-credentials-overflow-a": "x"})
    store = CredentialStore(mac_env(tmp_path), security_path=str(security.path))
    errors = []
    for _ in range(2):
        with pytest.raises(CredentialsUnreadable) as caught:
            store.load()
        errors.append(caught.value)
    assert len(security.calls()) == 2  # the second load asked nothing
    assert errors[0].message == errors[1].message and errors[1].summary == errors[0].summary is not None
