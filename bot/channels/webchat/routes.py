"""The web chat's HTTP side: a login link, the page, and a small JSON API.

Inbound acts become Interactions for the one Router; its replies are sent back through
the WebChatChannel, so the page only ever renders rows.
"""

from __future__ import annotations

import hmac
import uuid
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from bot.channels.webchat import PLATFORM
from bot.channels.webchat.channel import WebChatChannel, ref_of
from bot.channels.webchat.cookies import (
    COOKIE,
    MAX_AGE,
    csrf_token,
    person_from_cookie,
    session_cookie,
)
from bot.channels.webchat.payload import person_text
from bot.core import button_codec
from bot.core.messages import TAMPERED, Interaction, InteractionKind
from bot.handlers.context import Reply
from bot.i18n import gettext_for
from bot.runtime import Runtime
from bot.services import chat_links
from bot.services.identities import link_identity
from bot.services.one_time_codes import CodeProblem, redeem_code
from storage.models import Person, WebChatMessage

HERE = Path(__file__).parent
LOGIN_PURPOSE = chat_links.PURPOSE
HISTORY = 100
MAX_TEXT = 4000

_templates = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(["html"]),
    extensions=["jinja2.ext.i18n"],
)


def _page(template: str, locale: str, status: int = 200, **values: Any) -> HTMLResponse:
    translations = gettext_for(locale)
    _templates.install_gettext_translations(translations, newstyle=True)  # type: ignore[attr-defined]
    html = _templates.get_template(template).render(locale=locale, **values)
    return HTMLResponse(html, status_code=status)


class WebChat:
    """Serve one runtime's web chat."""

    def __init__(self, runtime: Runtime, channel: WebChatChannel) -> None:
        self.runtime, self.channel = runtime, channel

    def routes(self) -> list[BaseRoute]:
        """Return the /chat routes."""
        return [
            Route("/chat/", self.page, methods=["GET"]),
            Route("/chat/login/{code}", self.login, methods=["GET"]),
            Route("/chat/api/messages", self.messages, methods=["GET"]),
            Route("/chat/api/act", self.act, methods=["POST"]),
            Mount("/chat/static", StaticFiles(directory=HERE / "static"), name="chat-static"),
        ]

    async def _person(self, request: Request) -> Person | None:
        person_id = person_from_cookie(self.runtime.secret, request.cookies.get(COOKIE))
        if person_id is None:
            return None
        async with self.runtime.sessions() as session:
            return await session.get(Person, person_id)

    async def login(self, request: Request) -> Response:
        """Exchange a one-time link for a session cookie, then open the chat."""
        now = self.runtime.clock.now()
        async with self.runtime.sessions.begin() as session:
            row = await redeem_code(session, LOGIN_PURPOSE, request.path_params["code"], now)
            if isinstance(row, CodeProblem) or row.person_id is None:
                return _page("refused.html", "nb", status=400, problem=str(row))
            person = await session.get(Person, row.person_id)
            assert person is not None
            await link_identity(
                session,
                PLATFORM,
                f"person-{person.id}",
                email=person.email,
                address={"person_id": person.id},
            )
        response = RedirectResponse("/chat/", status_code=303)
        response.set_cookie(
            COOKIE,
            session_cookie(self.runtime.secret, person.id),
            max_age=MAX_AGE,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        return response

    async def page(self, request: Request) -> Response:
        """Render the chat page for the signed-in person."""
        person = await self._person(request)
        if person is None:
            return _page("refused.html", "nb", status=401, problem="signed_out")
        cookie = request.cookies[COOKIE]
        return _page(
            "chat.html",
            person.locale,
            name=person.name,
            csrf=csrf_token(self.runtime.secret, cookie),
        )

    async def messages(self, request: Request) -> Response:
        """Return the person's conversation, oldest first."""
        person = await self._person(request)
        if person is None:
            return JSONResponse({"error": "signed out"}, status_code=401)
        async with self.runtime.sessions() as session:
            rows = list(
                await session.scalars(
                    select(WebChatMessage)
                    .where(WebChatMessage.person_id == person.id)
                    .order_by(WebChatMessage.id.desc())
                    .limit(HISTORY)
                )
            )
        items = [
            {"id": r.id, "sender": r.sender, "version": r.updated_at.isoformat(), **r.body}
            for r in reversed(rows)
        ]
        return JSONResponse({"messages": items})

    def _csrf_ok(self, request: Request) -> bool:
        expected = csrf_token(self.runtime.secret, request.cookies.get(COOKIE, ""))
        return hmac.compare_digest(request.headers.get("x-csrf-token", ""), expected)

    async def act(self, request: Request) -> Response:
        """Turn a click, a form or a typed message into an Interaction and answer it."""
        person = await self._person(request)
        if person is None:
            return JSONResponse({"error": "signed out"}, status_code=401)
        if not self._csrf_ok(request):
            return JSONResponse({"error": "missing or wrong CSRF token"}, status_code=403)
        try:
            body = await request.json()
        except ValueError:
            return JSONResponse({"error": "body is not JSON"}, status_code=400)
        interaction = self._interaction(person, body)
        if interaction is None:
            return JSONResponse({"error": "unknown act; expected type text|button|submit"}, 400)
        assert self.runtime.router is not None
        replies = await self.runtime.router.handle(interaction)
        # Echoed after handling, and not at all when it answered an anonymous pulse item:
        # the conversation is stored under the person.
        if interaction.kind is InteractionKind.TEXT and not any(
            reply.conceal_input for reply in replies
        ):
            await self._echo(person.id, interaction.text)
        await self._deliver(person.id, replies)
        return JSONResponse({"ok": True, "replies": len(replies)})

    def _interaction(self, person: Person, body: dict[str, Any]) -> Interaction | None:
        kind = {
            "text": InteractionKind.TEXT,
            "button": InteractionKind.BUTTON,
            "submit": InteractionKind.SUBMIT,
        }.get(str(body.get("type")))
        if kind is None:
            return None
        action = value = ""
        if kind is not InteractionKind.TEXT:
            try:
                action, value = button_codec.decode(self.runtime.secret, str(body.get("data", "")))
            except button_codec.TamperedButton:
                action = TAMPERED
        message_id = body.get("message")
        fields = {"visibility": body["visibility"]} if body.get("visibility") else {}
        return Interaction(
            platform=PLATFORM,
            external_user=f"person-{person.id}",
            kind=kind,
            text=str(body.get("text", ""))[:MAX_TEXT],
            action=action,
            value=value,
            reply_to=ref_of(int(message_id)) if isinstance(message_id, int) else None,
            event_id=str(body.get("id") or uuid.uuid4()),
            fields=fields,
        )

    async def _echo(self, person_id: int, text: str) -> None:
        async with self.runtime.sessions.begin() as session:
            session.add(
                WebChatMessage(person_id=person_id, sender="person", body=person_text(text))
            )

    async def _deliver(self, person_id: int, replies: list[Reply]) -> None:
        for reply in replies:
            if reply.replace is not None:
                await self.channel.update(reply.replace, reply.message)
            else:
                await self.channel.send({"person_id": person_id}, reply.message)
