"""Signed-in browsers of the dashboard and the web chat, so a session can be revoked."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base
from storage.models.vocab import SESSION_KINDS, one_of
from storage.types import UTCDateTime


class WebSession(Base):
    """One signed-in browser; deleting the row signs it out at its next request.

    The cookie carries a random token; only its hash is stored, so a copy of the database
    holds no usable session.
    """

    __tablename__ = "web_sessions"
    __table_args__ = (one_of("kind", SESSION_KINDS, "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
