"""What a handler gets: the session, the act, who did it, and their language."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from gettext import NullTranslations

from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.conversation import Policy
from bot.core.messages import Interaction, OutMessage
from bot.i18n import gettext_for
from storage.models import Identity, Person


@dataclass(frozen=True, slots=True)
class Reply:
    """A message for the channel to send back, or to put in place of an earlier one."""

    message: OutMessage
    replace: str | None = None
    ephemeral: bool = False
    # The act's own text answered an anonymous pulse item: a channel that keeps the
    # person's messages (the web chat) must not keep this one.
    conceal_input: bool = False


@dataclass
class Context:
    """One interaction being handled inside one database transaction."""

    session: AsyncSession
    interaction: Interaction
    now: datetime
    person: Person | None = None
    identity: Identity | None = None
    secret: str = ""  # the app's secret key (keys anonymous pulse slots); never stored
    # Work to do once the transaction has committed (e.g. overwriting erased bytes).
    after_commit: list[Callable[[], Awaitable[object]]] = field(default_factory=list)
    policy: Policy = field(default_factory=Policy)

    @property
    def locale(self) -> str:
        """Return the language to answer in."""
        return self.person.locale if self.person is not None else "nb"

    @property
    def tr(self) -> NullTranslations:
        """Return the translations for the person's language."""
        return gettext_for(self.locale)

    def _(self, message: str) -> str:
        """Translate a message into the person's language."""
        return self.tr.gettext(message)

    @property
    def me(self) -> Person:
        """Return the person, for handlers that only run for known people."""
        assert self.person is not None, "handler registered as open needs no person"
        return self.person

    def say(self, text: str, *, tag: str = "notice", ephemeral: bool = False) -> list[Reply]:
        """Reply with one plain sentence."""
        return [Reply(OutMessage(text=text, locale=self.locale, tag=tag), ephemeral=ephemeral)]


Handler = Callable[[Context], Awaitable[list[Reply]]]
