"""Two or three fake Claude logins, each in its own config folder under a temporary HOME (never
the real ~/.claude), each with a token of its own: for the several-accounts tests (issue 15)."""
from __future__ import annotations

import uuid
from pathlib import Path

from tests.envs import temp_env
from tests.fakeapi import credentials_fixture, write_credentials
from tray_monitor.environment import Environment
from tray_monitor.settings import settings_path

#: One canary per test session and login; like test_secrets' canary, no real token format, so
#: the log's redaction cannot hide a leak.
_SESSION = uuid.uuid4().hex.upper()[:12]
TOKENS = {name: f"claude-access-ACCT{_SESSION}-{name}-" + "q" * 32 for name in ("default", "work", "play")}
FOLDERS = {"default": ".claude", "work": ".claude-work", "play": ".claude-play"}


def login(folder: Path, token: str, fixture: str = "max-linux", expires_in: float = 8 * 3600) -> Path:
    payload = credentials_fixture(fixture)
    payload["claudeAiOauth"]["accessToken"] = token
    payload["claudeAiOauth"]["refreshToken"] = token.replace("access", "refresh")
    return write_credentials(folder, payload, expires_in=expires_in)


def write_toml(env: Environment, text: str) -> None:
    path = settings_path(env)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def logins_env(root: Path, names: tuple[str, ...] = ("default", "work"), api_url: str | None = None,
               fixtures: dict[str, str] | None = None, expired: tuple[str, ...] = ()) -> Environment:
    """An environment whose HOME holds one login per name, every one but the default listed in
    settings.toml; `expired` logins have an expiresAt an hour ago."""
    environ = {"CLAUDE_TRAY_API_URL": api_url} if api_url else {}
    env = temp_env(root, environ)
    for name in names:
        login(root / FOLDERS[name], TOKENS[name], (fixtures or {}).get(name, "max-linux"),
              expires_in=-3600 if name in expired else 8 * 3600)
    extra = [f'{{ name = "{n}", config_dir = "~/{FOLDERS[n]}" }}' for n in names if n != "default"]
    if extra:
        write_toml(env, f"accounts = [{', '.join(extra)}]\n")
    return env
