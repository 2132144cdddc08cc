"""Build the python-telegram-bot Application: API URL, rate limiter, commands."""

from __future__ import annotations

from telegram import Bot, BotCommand, BotCommandScopeAllGroupChats, BotCommandScopeDefault
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder

from bot.i18n import LOCALES, N_, gettext_for
from bot.settings import Settings

MAX_RETRIES = 3  # retries after a 429 inside PTB before the dispatcher sees RateLimited
DEFAULT_LOCALE = "nb"
TELEGRAM_PER_SECOND = 30  # Bot API FAQ: about 30 messages a second overall
TELEGRAM_GROUP_PER_MINUTE = 20  # and at most 20 a minute to one group

PRIVATE_COMMANDS: tuple[tuple[str, str], ...] = (
    ("help", N_("What I can do")),
    ("mine", N_("My latest reflections")),
    ("edit", N_("Edit my latest answer")),
    ("pause", N_("Pause prompts")),
    ("resume", N_("Resume prompts")),
    ("language", N_("Choose language")),
    ("timezone", N_("Set my time zone")),
    ("stop", N_("Unlink this Telegram account")),
)
GROUP_COMMANDS: tuple[tuple[str, str], ...] = (
    ("link", N_("Link this chat to a peer group")),
    ("help", N_("What I can do")),
)
COMMAND_NAMES = tuple(sorted({name for name, _ in PRIVATE_COMMANDS + GROUP_COMMANDS}))


def rate_limiter(*, limits: bool = True, max_retries: int = MAX_RETRIES) -> AIORateLimiter:
    """Return PTB's limiter: Telegram's 30 msg/s overall and 20 msg/min per group, or none.

    The group limit is spread evenly (one message per 3 s) rather than allowed as a burst
    of 20, so that no 60-second window ever holds more than 20 messages to one group.
    """
    if not limits:
        return AIORateLimiter(overall_max_rate=0, group_max_rate=0, max_retries=max_retries)
    return AIORateLimiter(
        overall_max_rate=TELEGRAM_PER_SECOND,
        overall_time_period=1,
        group_max_rate=1,
        group_time_period=60 / TELEGRAM_GROUP_PER_MINUTE,
        max_retries=max_retries,
    )


def build_application(
    settings: Settings,
    *,
    polling: bool | None = None,
    limits: bool = True,
    max_retries: int = MAX_RETRIES,
) -> Application:  # type: ignore[type-arg]
    """Return an Application on TELEGRAM_API_URL; polling unless a webhook secret is set."""
    if settings.telegram_bot_token is None:
        raise RuntimeError("TELEGRAM_BOT_TOKEN is not set")
    if polling is None:
        polling = settings.telegram_webhook_secret is None
    builder: ApplicationBuilder = (  # type: ignore[type-arg]
        Application.builder()
        .token(settings.telegram_bot_token.get_secret_value())
        .base_url(settings.telegram_api_url)
        .rate_limiter(rate_limiter(limits=limits, max_retries=max_retries))
    )
    if not polling:
        builder = builder.updater(None)
    return builder.build()


def _commands(commands: tuple[tuple[str, str], ...], locale: str) -> list[BotCommand]:
    _ = gettext_for(locale).gettext
    return [BotCommand(name, _(description)) for name, description in commands]


async def register_commands(bot: Bot) -> None:
    """Publish the command menus: bokmål by default, and per language."""
    for language in (None, *LOCALES):
        locale = language or DEFAULT_LOCALE
        await bot.set_my_commands(
            _commands(PRIVATE_COMMANDS, locale),
            scope=BotCommandScopeDefault(),
            language_code=language,
        )
        await bot.set_my_commands(
            _commands(GROUP_COMMANDS, locale),
            scope=BotCommandScopeAllGroupChats(),
            language_code=language,
        )
