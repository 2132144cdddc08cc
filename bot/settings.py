"""Configuration from the environment or `.env`; `.env.example` documents every field."""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.core.conversation import Policy


class Settings(BaseSettings):
    """Every setting Tenkepause reads. Environment names are given by `alias`."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    database_url: str = Field(
        "sqlite+aiosqlite:///./data/tenkepause.db", alias="TENKEPAUSE_DATABASE_URL"
    )
    http_host: str = Field("127.0.0.1", alias="TENKEPAUSE_HTTP_HOST")
    http_port: int = Field(8080, alias="TENKEPAUSE_HTTP_PORT")
    public_url: str = Field("http://127.0.0.1:8080", alias="TENKEPAUSE_PUBLIC_URL")
    secret_key: SecretStr | None = Field(None, alias="TENKEPAUSE_SECRET_KEY")
    log_level: str = Field("INFO", alias="TENKEPAUSE_LOG_LEVEL")
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
        """Return the signing key; only demo mode may run without one."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value()
        if self.demo_mode:
            return "tenkepause-demo-only-secret"
        raise RuntimeError("TENKEPAUSE_SECRET_KEY is required outside demo mode")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Load settings once per process."""
    return Settings()
