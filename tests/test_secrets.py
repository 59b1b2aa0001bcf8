"""Secrets and trust, checked on the real `claude-tray` process (issue 6, second part).

- A canary token (helpers below; tests/test_faults.py uses them after every real-process test):
  it appears in no file the app wrote, no stdout/stderr, no notification read back from the
  daemon. The canary deliberately does NOT look like `sk-ant-oat01-...`, so the log's redaction
  regex cannot hide a leak: it must never be written in the first place.
- Claude Code's store is never written: its files' bytes, mode and mtime are unchanged.
- Plain http is refused for any non-loopback API URL (a reachable server there receives nothing);
  a loopback HTTPS server whose certificate we do not trust is refused (TLS verified; trustme).
- Files and folders the app writes (log, alert state, preferences, control socket) are the user's
  alone, even under a permissive umask (022).
"""
from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.apprun import ClaudeTrayWorld
from tests.desktop_x import REPO
from tests.fakeapi import FakeApi, Response, credentials_fixture, usage_fixture, write_credentials

#: One per test session; a token holding it looks like no real token format on purpose.
CANARY_ID = "CANARY" + uuid.uuid4().hex.upper()[:16]
#: Variables that would point a child at the real user's world (the session env may hold them).
_FOREIGN = ("CLAUDE_CODE_OAUTH_TOKEN", "CLAUDE_SECURESTORAGE_CONFIG_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
            "XAUTHORITY", "WAYLAND_DISPLAY")


# ----------------------------------------------------------------------------- canary helpers


def canary_token(n: int = 1, kind: str = "access") -> str:
    return f"claude-{kind}-{CANARY_ID}-{n:03d}-" + "q" * 40


def canary_payload(fixture: str = "max-linux", n: int = 1) -> dict:
    """A credentials fixture with every token in it replaced by canaries (empty ones stay empty)."""
    payload = credentials_fixture(fixture)
    oauth = payload.get("claudeAiOauth")
    if isinstance(oauth, dict):
        for key, kind in (("accessToken", "access"), ("refreshToken", "refresh")):
            if oauth.get(key):
                oauth[key] = canary_token(n, kind)
    for index, server in enumerate((payload.get("mcpOAuth") or {}).values()):
        if isinstance(server, dict) and server.get("accessToken"):
            server["accessToken"] = canary_token(n * 100 + index, "mcp")
    return payload


def write_login(world: ClaudeTrayWorld, fixture: str | dict = "max-linux", n: int = 1, **kwargs) -> Path:
    """Claude Code's login holding canary tokens, written as Claude Code does (temporary file,
    rename); remembers the store's exact state so `assert_store_untouched` can compare."""
    payload = canary_payload(fixture, n) if isinstance(fixture, str) else fixture
    path = write_credentials(world.claude_dir, payload, **kwargs)
    remember_store(world)
    return path


def remember_store(world: ClaudeTrayWorld) -> None:
    world.store_snapshot = store_snapshot(world.claude_dir)


def store_snapshot(directory: Path) -> dict:
    """Every entry of Claude Code's folder: bytes, mode and mtime (ns)."""
    if not directory.exists():
        return {}
    snapshot = {}
    for path in sorted(directory.rglob("*")):
        info = path.lstat()
        content = path.read_bytes() if stat.S_ISREG(info.st_mode) else None
        snapshot[str(path.relative_to(directory))] = (content, stat.S_IMODE(info.st_mode), info.st_mtime_ns)
    return snapshot


def assert_store_untouched(world: ClaudeTrayWorld) -> None:
    expected = getattr(world, "store_snapshot", {})
    assert store_snapshot(world.claude_dir) == expected, "claude-tray changed Claude Code's credential store"


def files_holding_canary(root: Path, skip: Path | None = None) -> list[str]:
    """Regular files under `root` (not following links, not under `skip`) whose bytes hold the
    canary in UTF-8 or UTF-16 (a Windows-style log would hide it from a plain byte search)."""
    needles = (CANARY_ID.encode(), CANARY_ID.encode("utf-16-le"))
    found = []
    for directory, dirnames, filenames in os.walk(root):
        here = Path(directory)
        if skip is not None and (here == skip or skip in here.parents):
            dirnames[:] = []
            continue
        for name in filenames:
            path = here / name
            if skip is not None and skip in path.parents:
                continue
            info = path.lstat()
            if not stat.S_ISREG(info.st_mode):
                continue
            data = path.read_bytes()
            if any(n in data for n in needles):
                found.append(str(path))
    return found


def assert_no_canary(world: ClaudeTrayWorld, *texts: str, daemon=None) -> None:
    """The canary is in no file under the world (its HOME and the apps' stdout/stderr logs),
    except Claude Code's own store; nor in `texts` (captured output) nor the daemon's history."""
    leaked = files_holding_canary(world.root, skip=world.claude_dir)
    assert not leaked, f"the OAuth token was written to {leaked}"
    for text in texts:
        assert CANARY_ID not in (text or ""), f"the OAuth token appeared in output: {text[:300]!r}"
    if daemon is not None:
        history = json.dumps(daemon.history())
        assert CANARY_ID not in history, "the OAuth token appeared in a desktop notification"


# ----------------------------------------------------------------------------- running the CLI


def clean_env(world: ClaudeTrayWorld, **extra: str) -> dict:
    env = world.env(**extra)
    for name in _FOREIGN:
        if name not in extra:
            env.pop(name, None)
    return env


def run_cli(world: ClaudeTrayWorld, *args: str, prefix: tuple = (), timeout: float = 60,
            **extra: str) -> subprocess.CompletedProcess:
    """`claude-tray ARGS` in the world (optionally under a wrapper such as setpriv)."""
    return subprocess.run([*prefix, sys.executable, "-m", "tray_monitor", *args], env=clean_env(world, **extra),
                          cwd=REPO, capture_output=True, text=True, timeout=timeout)


def status_json(world: ClaudeTrayWorld, prefix: tuple = (), **extra: str) -> tuple[dict, subprocess.CompletedProcess]:
    done = run_cli(world, "status", "--json", prefix=prefix, **extra)
    assert "Traceback" not in done.stderr, done.stderr
    try:
        return json.loads(done.stdout), done
    except ValueError:
        raise AssertionError(f"status --json printed no JSON: {done.stdout!r} {done.stderr!r}") from None


def make_world(root: Path, api: FakeApi) -> ClaudeTrayWorld:
    world = ClaudeTrayWorld(root, api)
    world.home.mkdir(parents=True)
    return world


def non_loopback_address() -> str | None:
    """An address of this machine that is not loopback (the route a packet to a public address
    would leave by; UDP connect sends nothing)."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("192.0.2.1", 9))  # TEST-NET-1: never answered, no packet sent by connect
        address = probe.getsockname()[0]
    except OSError:
        return None
    finally:
        probe.close()
    return None if address.startswith("127.") or address == "0.0.0.0" else address


# ----------------------------------------------------------------------------- tests


@pytest.fixture
def world(tmp_path, fake_api):
    w = make_world(tmp_path / "w", fake_api)
    yield w
    w.stop_all()


def test_plain_http_to_a_non_loopback_address_of_this_machine_is_refused_and_receives_nothing(tmp_path):
    address = non_loopback_address()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address")
    with FakeApi(host="0.0.0.0") as api:
        world = make_world(tmp_path / "w", api)
        write_login(world)
        url = f"http://{address}:{api.port}"
        # The server is reachable there: a request that was not refused would arrive.
        reach = socket.create_connection((address, api.port), timeout=5)
        reach.close()
        for command in (("status", "--json"), ("doctor",)):
            done = run_cli(world, *command, CLAUDE_TRAY_API_URL=url)
            assert done.returncode != 0
            said = " ".join((done.stdout + done.stderr).split())  # doctor wraps to the console width
            assert "CLAUDE_TRAY_API_URL" in said
            assert "not allowed" in said
            assert "Traceback" not in done.stderr
            assert_no_canary(world, done.stdout, done.stderr)
        payload = json.loads(run_cli(world, "status", "--json", CLAUDE_TRAY_API_URL=url).stdout)
        assert payload["status"] == "error" and payload["windows"] == []
        assert api.requests == []
    assert_store_untouched(world)


@pytest.mark.parametrize("url", [
    "http://example.com",
    "http://api.anthropic.com",  # the right host, but the token would travel in clear text
    "https://example.com",
    "http://127.0.0.1.nip.io:8080",  # a name that resolves to loopback is still a name on the network
    "http://10.0.0.1:80",
])
def test_any_other_api_url_is_refused_before_any_connection(world, url):
    write_login(world)
    payload, done = status_json(world, CLAUDE_TRAY_API_URL=url)
    assert done.returncode == 1
    assert payload["status"] == "error"
    assert "CLAUDE_TRAY_API_URL" in payload["message"] and "not allowed" in payload["message"]
    assert_no_canary(world, done.stdout, done.stderr)


@pytest.fixture(scope="module")
def authority():
    trustme = pytest.importorskip("trustme")
    return trustme.CA()


def test_loopback_https_with_an_untrusted_certificate_is_refused_and_the_trusted_one_works(tmp_path, authority):
    import ssl

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    authority.issue_cert("127.0.0.1").configure_cert(context)
    with FakeApi(ssl_context=context) as api:
        world = make_world(tmp_path / "w", api)
        write_login(world)
        assert api.url.startswith("https://127.0.0.1:")

        payload, done = status_json(world)
        assert done.returncode == 1
        assert payload["status"] == "error"
        assert "TLS verification failed" in payload["message"]
        # The handshake failed, so no HTTP request (and no Authorization header) was ever sent.
        assert api.requests == []
        assert_no_canary(world, done.stdout, done.stderr)

        # The same server with its authority trusted: the refusal above was about trust alone.
        ca_file = tmp_path / "ca.pem"
        authority.cert_pem.write_to_path(str(ca_file))
        payload, done = status_json(world, REQUESTS_CA_BUNDLE=str(ca_file))
        assert payload["status"] == "ok", done.stderr
        assert len(api.requests) == 1
        assert api.requests[0].headers["authorization"] == f"Bearer {canary_token(1)}"
        assert_no_canary(world, done.stdout, done.stderr)
    assert_store_untouched(world)


def _written_by_app(world: ClaudeTrayWorld) -> list[Path]:
    paths = []
    for base in (world.home / ".config", world.home / ".local", world.home / ".cache", world.home / ".run"):
        paths.extend(p for p in base.rglob("*") if "claude-tray" in str(p.relative_to(world.home)))
    return paths


@pytest.mark.desktop
def test_files_the_tray_writes_are_readable_by_the_user_alone(world, xvfb, xembed_tray, session_bus,
                                                              notification_daemon):
    """Regression: under umask 022 the first run left ~/.local/state/claude-tray at 0755 (mkdir's
    mode applies to the last level only, log/ was 0700 but its parent not) and the notification
    icon PNG at 0644. Every file and folder we create is now 0600/0700."""
    from tray_monitor.environment import Environment
    from tray_monitor.settings import save_preference

    # 80% crosses the 75% threshold: the alert state is written too.
    world.api.default = Response(200, usage_fixture("small-2026-03").replace(b"48.0", b"80.0"))
    world.with_desktop(xvfb.display, session_bus.env, "xorg")
    write_login(world)
    old_umask = os.umask(0o022)  # a permissive umask: privacy must not depend on the user's
    try:
        app = world.start_tray()
        world.wait_view(lambda v: v["status"] == "ok")
        # A menu toggle writes the preferences file; the same function the menu calls, in this world.
        env = Environment.from_os(clean_env(world), config_dir=world.home / ".config/claude-tray",
                                  data_dir=world.data_dir, log_dir=world.log_path.parent)
        save_preference(env, "notifications", False)
        while_running = {p: stat.S_IMODE(p.lstat().st_mode) for p in _written_by_app(world)}
        assert world.control("quit") == "quitting"
        assert app.wait_exit(15) == 0
    finally:
        os.umask(old_umask)

    written = _written_by_app(world)
    kinds = {p.name for p in written} | {p.name for p in while_running}
    # What a run leaves: the log, the alert state, the preferences, the runtime folder, lock and control endpoint.
    assert world.log_path in written
    assert any(p.is_relative_to(world.data_dir) and p.is_file() for p in written), kinds
    # The control endpoint: a unix socket, or (a long runtime path) a port file holding a secret.
    assert any(p.is_socket() or p.name.endswith(".port") for p in while_running), kinds
    loose = {str(p): oct(mode) for p, mode in while_running.items() if mode & 0o077}
    loose.update({str(p): oct(stat.S_IMODE(p.lstat().st_mode)) for p in written
                  if p.exists() and stat.S_IMODE(p.lstat().st_mode) & 0o077})
    assert not loose, f"readable by others: {loose}"
    assert_no_canary(world, daemon=notification_daemon)
    assert_store_untouched(world)


@pytest.mark.desktop
def test_a_full_run_with_a_rejected_login_never_writes_claude_codes_store(world, xvfb, xembed_tray, session_bus):
    """A 401 makes the app re-read the store (Claude Code may have rotated the token); reading must
    never become writing, not even a "fix" of the expired login."""
    world.with_desktop(xvfb.display, session_bus.env, "xorg")
    write_login(world)
    (world.claude_dir / "settings.json").write_text('{"theme": "dark"}')
    remember_store(world)
    world.api.queue(Response(200, usage_fixture("small-2026-03")))
    world.api.default = Response(401, (REPO / "tests/fixtures/errors/401-invalid-token.json").read_bytes())
    app = world.start_tray()
    world.wait_view(lambda v: v["status"] == "ok")
    world.control("refresh")
    world.wait_view(lambda v: v["status"] == "expired")
    assert run_cli(world, "status", "--json").returncode == 1  # the one-shot command, too
    assert world.control("quit") == "quitting"
    assert app.wait_exit(15) == 0
    assert_store_untouched(world)
    assert_no_canary(world)


def test_the_canary_check_finds_a_token_written_anywhere_in_a_world(tmp_path, fake_api):
    """The check above must be able to fail: a token in a nested log, in UTF-16 or in output."""
    world = make_world(tmp_path / "w", fake_api)
    write_login(world)
    assert_no_canary(world)  # the store itself is not counted
    nested = world.home / ".local/state/claude-tray/log/claude-tray.log.1"
    nested.parent.mkdir(parents=True)
    nested.write_text("Authorization: Bearer " + canary_token(1))
    with pytest.raises(AssertionError, match="written to"):
        assert_no_canary(world)
    nested.write_bytes(("token=" + canary_token(2)).encode("utf-16-le"))
    with pytest.raises(AssertionError, match="written to"):
        assert_no_canary(world)
    nested.unlink()
    with pytest.raises(AssertionError, match="appeared in output"):
        assert_no_canary(world, "ok", f"error: {canary_token(1)}")


def test_the_store_check_notices_a_rewrite_with_the_same_bytes(tmp_path, fake_api):
    world = make_world(tmp_path / "w", fake_api)
    path = write_login(world)
    assert_store_untouched(world)
    data = path.read_bytes()
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000))
    path.write_bytes(data)
    with pytest.raises(AssertionError, match="changed Claude Code's credential store"):
        assert_store_untouched(world)
