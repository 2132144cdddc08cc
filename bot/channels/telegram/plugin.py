"""Plug Telegram into the runtime: channel, inbound handlers, webhook route, lifecycle."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from starlette.routing import BaseRoute
from telegram import Update
from telegram.ext import Application

from bot.channels.telegram.application import (
    MAX_RETRIES,
    build_application,
    register_commands,
)
from bot.channels.telegram.channel import PLATFORM, TelegramChannel
from bot.channels.telegram.inbound import TelegramInbound
from bot.channels.telegram.onboarding import Onboarding
from bot.channels.telegram.webhook import PATH, webhook_route
from bot.handlers.registry import build_router
from bot.handlers.router import Router
from bot.runtime import Runtime

log = logging.getLogger(__name__)

ALLOWED_UPDATES = [Update.MESSAGE, Update.EDITED_MESSAGE, Update.CALLBACK_QUERY]


@dataclass
class TelegramPlugin:
    """Telegram as the runtime sees it; polling unless TELEGRAM_WEBHOOK_SECRET is set."""

    runtime: Runtime
    limits: bool = True
    max_retries: int = MAX_RETRIES
    platform: str = PLATFORM
    application: Application = field(init=False)  # type: ignore[type-arg]
    channel: TelegramChannel = field(init=False)
    inbound: TelegramInbound = field(init=False)
    _router: Router | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        runtime = self.runtime
        self.application = build_application(
            runtime.settings, limits=self.limits, max_retries=self.max_retries
        )
        self.channel = TelegramChannel(self.application.bot, runtime.secret)
        onboarding = Onboarding(runtime.sessions, runtime.clock, runtime.secret)
        self.inbound = TelegramInbound(self.channel, self.router, onboarding, runtime.secret)
        self.inbound.register(self.application)

    @property
    def webhook_secret(self) -> str | None:
        """Return the webhook secret, or None in polling mode."""
        secret = self.runtime.settings.telegram_webhook_secret
        return secret.get_secret_value() if secret is not None else None

    def router(self) -> Router:
        """Return the runtime's router, building the standard one if none was given."""
        if self.runtime.router is not None:
            return self.runtime.router
        if self._router is None:
            self._router = build_router(
                self.runtime.sessions,
                self.runtime.clock,
                self.runtime.secret,
                self.runtime.settings.conversation_policy(),
            )
        return self._router

    def routes(self) -> list[BaseRoute]:
        """Return the webhook route in webhook mode, nothing in polling mode."""
        secret = self.webhook_secret
        return [webhook_route(self.application, secret)] if secret is not None else []

    async def start(self) -> None:
        """Connect, publish the commands, then poll or register the webhook."""
        app = self.application
        await app.initialize()
        await register_commands(app.bot)
        secret = self.webhook_secret
        if secret is not None:
            url = self.runtime.settings.public_url.rstrip("/") + PATH
            await app.bot.set_webhook(url, secret_token=secret, allowed_updates=ALLOWED_UPDATES)
        else:
            assert app.updater is not None
            await app.updater.start_polling(allowed_updates=ALLOWED_UPDATES)
        await app.start()
        log.info("telegram started", extra={"mode": "webhook" if secret else "polling"})

    async def stop(self) -> None:
        """Stop polling and processing, then close the connection pool."""
        app = self.application
        if app.updater is not None and app.updater.running:
            await app.updater.stop()
        if app.running:
            await app.stop()
        await app.shutdown()


def build_plugin(runtime: Runtime) -> TelegramPlugin:
    """Return the Telegram plugin for `tenkepause run`."""
    return TelegramPlugin(runtime)
