"""Configuration from the environment or `.env`; `.env.example` documents every field."""

from __future__ import annotations

import ipaddress
import os
import re
from datetime import timedelta
from functools import lru_cache
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.core.conversation import Policy
from bot.core.vocabulary import DEFAULT_LOCALE, Locale

DEMO_SECRET = "tenkepause-demo-only-secret"  # noqa: S105 (public on purpose: demo only)
# Keys that are published (the demo's, and ones documentation has shown) never sign in production.
KNOWN_KEYS = frozenset({DEMO_SECRET})
MIN_SECRET_BYTES = 32
MAKE_SECRET = "tenkepause secret generate"  # noqa: S105 (a command, not a secret)
# Telegram accepts 1-256 of these characters as a webhook secret token.
_TELEGRAM_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")


def is_loopback(host: str) -> bool:
    """Tell whether the HTTP server binds only to this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def local_url(host: str, port: int) -> str:
    """Return ``http://host:port``; a bind to every interface is reached on loopback."""
    bare = host.strip("[]")
    try:
        address = ipaddress.ip_address(bare)
    except ValueError:
        return f"http://{host}:{port}"
    if address.is_unspecified:
        address = ipaddress.ip_address("::1" if address.version == 6 else "127.0.0.1")
    shown = f"[{address}]" if address.version == 6 else str(address)
    return f"http://{shown}:{port}"


class Settings(BaseSettings):
    """Every setting Tenkepause reads. Environment names are given by `alias`."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
        env_ignore_empty=True,
    )

    @model_validator(mode="before")
    @classmethod
    def _blank_is_unset(cls, data: Any) -> Any:
        """Treat a blank value (a bare `NAME=` line in .env) as not set at all."""
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if not (isinstance(v, str) and not v.strip())}
        return data

    @model_validator(mode="after")
    def _derive_public_url(self) -> Settings:
        """Without TENKEPAUSE_PUBLIC_URL, send links to where this server listens."""
        if not self.public_url:
            self.public_url = local_url(self.http_host, self.http_port)
        return self

    database_url: str = Field(
        "sqlite+aiosqlite:///./data/tenkepause.db", alias="TENKEPAUSE_DATABASE_URL"
    )
    http_host: str = Field("127.0.0.1", alias="TENKEPAUSE_HTTP_HOST")
    http_port: int = Field(8080, alias="TENKEPAUSE_HTTP_PORT")
    # Unset: derived from the host and port (see `_derive_public_url`).
    public_url: str = Field("", alias="TENKEPAUSE_PUBLIC_URL")
    secret_key: SecretStr | None = Field(None, alias="TENKEPAUSE_SECRET_KEY")
    log_level: str = Field("INFO", alias="TENKEPAUSE_LOG_LEVEL")
    # The command line's language; `export --excel` writes the CSV Excel expects in it.
    locale: Locale = Field(DEFAULT_LOCALE, alias="TENKEPAUSE_LOCALE")
    instance_name: str | None = Field(None, alias="TENKEPAUSE_INSTANCE")

    # Scheduling and delivery.
    tick_seconds: float = Field(30.0, alias="TENKEPAUSE_TICK_SECONDS")
    dispatch_seconds: float = Field(1.0, alias="TENKEPAUSE_DISPATCH_SECONDS")
    dispatch_batch: int = Field(200, alias="TENKEPAUSE_DISPATCH_BATCH")
    dispatch_concurrency: int = Field(16, alias="TENKEPAUSE_DISPATCH_CONCURRENCY")
    lease_seconds: float = Field(30.0, alias="TENKEPAUSE_LEASE_SECONDS")
    # Every instance says it is alive this often; claims of one silent for 3 beats go back.
    heartbeat_seconds: float = Field(3.0, alias="TENKEPAUSE_HEARTBEAT_SECONDS", gt=0)
    # Last resort: a claim this old goes back even if its instance still beats.
    claim_timeout_seconds: float = Field(300.0, alias="TENKEPAUSE_CLAIM_TIMEOUT_SECONDS", gt=0)
    max_attempts: int = Field(8, alias="TENKEPAUSE_MAX_ATTEMPTS")
    quiet_hours: str = Field("21:00-07:00", alias="TENKEPAUSE_QUIET_HOURS")
    ignored_prompts_limit: int = Field(3, alias="TENKEPAUSE_IGNORED_PROMPTS_LIMIT")
    # "slack=1/s/chat,...": see docs; empty means each platform's defaults.
    rate_limits: str = Field("", alias="TENKEPAUSE_RATE_LIMITS")
    demo_mode: bool = Field(False, alias="TENKEPAUSE_DEMO")
    # Who runs the cyclic garbage collector: "auto" = the event loop on CPython 3.11, where
    # the interpreter's own timing crashes the process (docs/segfault.md); "loop"; "automatic".
    gc_mode: Literal["auto", "loop", "automatic"] = Field("auto", alias="TENKEPAUSE_GC_MODE")
    # Set = GET /metrics needs `Authorization: Bearer <token>`.
    metrics_token: SecretStr | None = Field(None, alias="TENKEPAUSE_METRICS_TOKEN")
    # A web chat session ends after this many days without use; each use renews it.
    webchat_idle_days: float = Field(14.0, gt=0, alias="TENKEPAUSE_WEBCHAT_IDLE_DAYS")

    # The conversation: how long plain text still answers a prompt, and an edit in progress.
    answer_window_hours: float = Field(24.0, gt=0, alias="TENKEPAUSE_ANSWER_WINDOW_HOURS")
    edit_window_minutes: float = Field(30.0, gt=0, alias="TENKEPAUSE_EDIT_WINDOW_MINUTES")

    # Slack.
    slack_bot_token: SecretStr | None = Field(None, alias="SLACK_BOT_TOKEN")
    slack_signing_secret: SecretStr | None = Field(None, alias="SLACK_SIGNING_SECRET")
    slack_app_token: SecretStr | None = Field(None, alias="SLACK_APP_TOKEN")
    slack_api_url: str = Field("https://slack.com/api/", alias="SLACK_API_URL")
    # Set = multi-workspace installs by OAuth (/slack/install); unset = one workspace, bot token.
    slack_client_id: str | None = Field(None, alias="SLACK_CLIENT_ID")
    slack_client_secret: SecretStr | None = Field(None, alias="SLACK_CLIENT_SECRET")

    # Telegram.
    telegram_bot_token: SecretStr | None = Field(None, alias="TELEGRAM_BOT_TOKEN")
    telegram_webhook_secret: SecretStr | None = Field(None, alias="TELEGRAM_WEBHOOK_SECRET")
    telegram_api_url: str = Field("https://api.telegram.org/bot", alias="TELEGRAM_API_URL")

    # Microsoft Teams (Azure Bot registration).
    teams_app_id: str | None = Field(None, alias="TEAMS_APP_ID")
    teams_app_password: SecretStr | None = Field(None, alias="TEAMS_APP_PASSWORD")
    teams_tenant_id: str | None = Field(None, alias="TEAMS_TENANT_ID")
    teams_service_url: str = Field(
        "https://smba.trafficmanager.net/teams/", alias="TEAMS_SERVICE_URL"
    )
    # The cloud's endpoints (public cloud by default; docs/teams.md lists the sovereign ones).
    teams_openid_metadata_url: str = Field(
        "https://login.botframework.com/v1/.well-known/openidconfiguration",
        alias="TEAMS_OPENID_METADATA_URL",
    )
    teams_token_authority: str = Field(
        "https://login.microsoftonline.com", alias="TEAMS_TOKEN_AUTHORITY"
    )
    teams_token_scope: str = Field(
        "https://api.botframework.com/.default", alias="TEAMS_TOKEN_SCOPE"
    )
    # Hosts an activity's serviceUrl may name when its token carries no serviceurl claim.
    teams_allowed_service_hosts: str = Field(
        "smba.trafficmanager.net,smba.onyx.prod.teams.trafficmanager.net,"
        "smba.infra.gcc.teams.microsoft.com,*.botframework.com",
        alias="TEAMS_ALLOWED_SERVICE_HOSTS",
    )

    @property
    def slack_enabled(self) -> bool:
        """Tell whether Slack is configured."""
        has_token = self.slack_bot_token is not None or self.slack_oauth_enabled
        return has_token and self.slack_signing_secret is not None

    @property
    def slack_oauth_enabled(self) -> bool:
        """Tell whether Slack workspaces install the app by OAuth (multi-workspace mode)."""
        secret = self.slack_client_secret
        return bool(self.slack_client_id) and bool(secret and secret.get_secret_value())

    @property
    def telegram_enabled(self) -> bool:
        """Tell whether Telegram is configured."""
        return self.telegram_bot_token is not None

    @property
    def teams_enabled(self) -> bool:
        """Tell whether Teams is configured."""
        return self.teams_app_id is not None

    def conversation_policy(self) -> Policy:
        """Return how long the conversation waits for text, from these settings."""
        return Policy(
            answer_window=timedelta(hours=self.answer_window_hours),
            edit_window=timedelta(minutes=self.edit_window_minutes),
        )

    def secret(self) -> str:
        """Return the signing key; only a demo bound to loopback may run without one."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value()
        if self.demo_mode and is_loopback(self.http_host):
            return DEMO_SECRET
        raise RuntimeError(self.startup_problems()[0])

    def secret_values(self) -> list[str]:
        """Return every configured secret (and the database password), to scrub from logs."""
        values = [v.get_secret_value() for v in vars(self).values() if isinstance(v, SecretStr)]
        password = urlsplit(self.database_url).password
        return [*values, *([password] if password else [])]

    def startup_problems(self) -> list[str]:
        """Return why this configuration must not serve (weak keys and secrets); [] if none."""
        problems = []
        fix = f"; make one with `{MAKE_SECRET}`"
        key = self.secret_key.get_secret_value() if self.secret_key is not None else None
        if self.demo_mode and (key is None or key in KNOWN_KEYS):
            if not is_loopback(self.http_host):
                problems.append(
                    "the demo's built-in TENKEPAUSE_SECRET_KEY works only on a loopback "
                    f"TENKEPAUSE_HTTP_HOST, not {self.http_host}{fix}"
                )
        elif key is None:
            problems.append(f"TENKEPAUSE_SECRET_KEY is required outside demo mode{fix}")
        elif key in KNOWN_KEYS:
            problems.append(f"TENKEPAUSE_SECRET_KEY is the published demo key{fix}")
        elif len(key.encode()) < MIN_SECRET_BYTES and not self.demo_mode:
            problems.append(
                f"TENKEPAUSE_SECRET_KEY is {len(key.encode())} bytes; "
                f"at least {MIN_SECRET_BYTES} are needed{fix}"
            )
        hook = self.telegram_webhook_secret
        if self.telegram_enabled and hook is not None:
            value = hook.get_secret_value()
            if len(value) < MIN_SECRET_BYTES or not _TELEGRAM_SECRET.fullmatch(value):
                problems.append(
                    f"TELEGRAM_WEBHOOK_SECRET needs {MIN_SECRET_BYTES}-256 characters of "
                    f"A-Z, a-z, 0-9, _ and -{fix}"
                )
        return problems


def drop_blank_environment() -> None:
    """Unset blank setting variables, so libraries that read the environment agree with us.

    slack-bolt reads SLACK_BOT_TOKEN, SLACK_CLIENT_ID and SLACK_CLIENT_SECRET itself; blank
    ones made it warn, and switch on its file-based OAuth store that ignores the bot token.
    """
    names = {field.alias for field in Settings.model_fields.values() if field.alias}
    for name in names:
        if name in os.environ and not os.environ[name].strip():
            del os.environ[name]


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Load settings once per process."""
    return Settings()
