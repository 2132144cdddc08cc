"""The web chat's HTTP side: a sign-in link, the page, and a small JSON API.

A personal link shows a page with a sign-in button; only the button's POST spends the
link's one-time code and starts a session, so a link scanner or a chat preview that
fetches the link cannot use it up. Sessions are server-side (`web_sessions`): logout and
removal from the roster end them at once, and they expire after a configurable idle time
while each use renews them.

Inbound acts become Interactions for the one Router; its replies are sent back through
the WebChatChannel, so the page only ever renders rows.
"""

from __future__ import annotations

import hmac
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from bot.channels.webchat import PLATFORM
from bot.channels.webchat.channel import WebChatChannel, ref_of
from bot.channels.webchat.cookies import (
    COOKIE,
    COOKIE_PATH,
    LOGIN_COOKIE,
    LOGIN_COOKIE_PATH,
    LOGIN_COOKIE_SECONDS,
    csrf_token,
    login_form_ok,
    login_form_token,
    new_login_nonce,
    session_cookie,
    token_from_cookie,
)
from bot.channels.webchat.payload import person_text
from bot.core import button_codec
from bot.core.messages import TAMPERED, Interaction, InteractionKind
from bot.core.vocabulary import Visibility
from bot.handlers.context import Reply
from bot.i18n import gettext_for
from bot.runtime import Runtime
from bot.services import chat_links
from bot.services.identities import link_identity
from bot.services.one_time_codes import CodeProblem, find_code, problem_with, redeem_code
from bot.services.web_sessions import (
    FoundSession,
    SessionKind,
    end_session,
    find_session,
    is_active,
    start_session,
)
from storage.models import Person, WebChatMessage

HERE = Path(__file__).parent
LOGIN_PURPOSE = chat_links.PURPOSE
HISTORY = 100
MAX_TEXT = 4000
VISIBILITIES = tuple(v.value for v in Visibility)
# The sign-in page's URL holds the code: never cache it, never send it on as a referrer.
PRIVATE_PAGE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}

_templates = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(["html"]),
    extensions=["jinja2.ext.i18n"],
)


def _page(template: str, locale: str, status: int = 200, **values: Any) -> HTMLResponse:
    translations = gettext_for(locale)
    _templates.install_gettext_translations(translations, newstyle=True)  # type: ignore[attr-defined]
    html = _templates.get_template(template).render(locale=locale, **values)
    return HTMLResponse(html, status_code=status, headers=PRIVATE_PAGE)


def _to_chat() -> RedirectResponse:
    return RedirectResponse("/chat/", status_code=303, headers=PRIVATE_PAGE)


def _body_problem(body: object) -> str | None:
    """Say what is wrong with the shape of an act, or None when it can be read."""
    if not isinstance(body, dict):
        return "expected a JSON object"
    for name in ("type", "text", "data"):
        if body.get(name) is not None and not isinstance(body[name], str):
            return f"{name} must be a string"
    if body.get("id") is not None and not isinstance(body["id"], str | int):
        return "id must be a string"
    message = body.get("message")
    if message is not None and (not isinstance(message, int) or isinstance(message, bool)):
        return "message must be a message id"
    visibility = body.get("visibility")
    if visibility is not None and visibility not in VISIBILITIES:
        return "visibility must be one of " + ", ".join(VISIBILITIES)
    return None


class WebChat:
    """Serve one runtime's web chat."""

    def __init__(self, runtime: Runtime, channel: WebChatChannel) -> None:
        self.runtime, self.channel = runtime, channel
        self.idle = timedelta(days=runtime.settings.webchat_idle_days)

    def routes(self) -> list[BaseRoute]:
        """Return the /chat routes."""
        return [
            Route("/chat/", self.page, methods=["GET"]),
            Route("/chat/login/{code}", self.login_page, methods=["GET"]),
            Route("/chat/login/{code}", self.login, methods=["POST"]),
            Route("/chat/logout", self.logout, methods=["POST"]),
            Route("/chat/api/messages", self.messages, methods=["GET"]),
            Route("/chat/api/act", self.act, methods=["POST"]),
            Mount("/chat/static", StaticFiles(directory=HERE / "static"), name="chat-static"),
        ]

    def _secure(self, request: Request) -> bool:
        return request.url.scheme == "https"

    async def _session_in(
        self, session: AsyncSession, request: Request, *, renew: bool = True
    ) -> FoundSession | None:
        """Return the request's live session (renewing it; the caller commits), or None."""
        token = token_from_cookie(self.runtime.secret, request.cookies.get(COOKIE))
        if token is None:
            return None
        now = self.runtime.clock.now()
        idle = self.idle if renew else None
        return await find_session(session, token, SessionKind.WEBCHAT, now, idle=idle)

    async def _signed_in(self, request: Request, *, renew: bool = True) -> FoundSession | None:
        async with self.runtime.sessions.begin() as session:
            return await self._session_in(session, request, renew=renew)

    def _set_session(self, response: Response, request: Request, cookie: str) -> None:
        response.set_cookie(
            COOKIE,
            cookie,
            max_age=int(self.idle.total_seconds()),
            path=COOKIE_PATH,
            httponly=True,
            # Lax, not Strict: a link clicked in another app must find the session.
            samesite="lax",
            secure=self._secure(request),
        )

    def _keep(self, response: Response, request: Request, found: FoundSession) -> Response:
        """Move the browser's cookie expiry along with a renewed session."""
        if found.renewed:
            self._set_session(response, request, request.cookies[COOKIE])
        return response

    async def login_page(self, request: Request) -> Response:
        """Show the sign-in button for a link; spend nothing on GET."""
        now = self.runtime.clock.now()
        code = request.path_params["code"]
        async with self.runtime.sessions.begin() as session:
            found = await self._session_in(session, request)
            row = await find_code(session, LOGIN_PURPOSE, code)
            problem = problem_with(row, now)
            owner = await session.get(Person, row.person_id) if row and row.person_id else None
        mine = owner is not None and found is not None and found.person.id == owner.id
        if found is not None and (problem is not None or mine):
            return self._keep(_to_chat(), request, found)
        if problem is None and not is_active(owner):
            problem = CodeProblem.UNKNOWN
        if problem is not None or owner is None:
            locale = owner.locale if owner else "nb"
            return _page("refused.html", locale, status=410, problem=str(problem))
        nonce = request.cookies.get(LOGIN_COOKIE) or new_login_nonce()
        token = login_form_token(self.runtime.secret, nonce, code)
        response = _page("login.html", owner.locale, action=request.url.path, token=token)
        response.set_cookie(
            LOGIN_COOKIE,
            nonce,
            max_age=LOGIN_COOKIE_SECONDS,
            path=LOGIN_COOKIE_PATH,
            httponly=True,
            samesite="lax",
            secure=self._secure(request),
        )
        return response

    async def login(self, request: Request) -> Response:
        """Spend the link's code once, start a session and open the chat."""
        now = self.runtime.clock.now()
        code = request.path_params["code"]
        form = await request.form()
        if not login_form_ok(
            self.runtime.secret, request.cookies.get(LOGIN_COOKIE), code, form.get("csrf_token")
        ):
            # A second press after the first signed in lands in the chat; nothing changes.
            signed_in = await self._signed_in(request)
            if signed_in is not None:
                return self._keep(_to_chat(), request, signed_in)
            return _page("refused.html", "nb", status=403, problem="csrf")
        async with self.runtime.sessions.begin() as session:
            found = await self._session_in(session, request)
            row = await redeem_code(session, LOGIN_PURPOSE, code, now)
            person = None
            if not isinstance(row, CodeProblem) and row.person_id is not None:
                person = await session.get(Person, row.person_id)
            if person is None or not is_active(person):
                if found is not None:
                    return self._keep(_to_chat(), request, found)
                problem = row if isinstance(row, CodeProblem) else CodeProblem.UNKNOWN
                return _page("refused.html", "nb", status=410, problem=str(problem))
            await link_identity(
                session,
                PLATFORM,
                f"person-{person.id}",
                email=person.email,
                address={"person_id": person.id},
            )
            token = await start_session(session, person, SessionKind.WEBCHAT, now, self.idle)
        response = _to_chat()
        self._set_session(response, request, session_cookie(self.runtime.secret, token))
        response.delete_cookie(LOGIN_COOKIE, path=LOGIN_COOKIE_PATH, httponly=True, samesite="lax")
        return response

    async def logout(self, request: Request) -> Response:
        """End the session on the server and in the browser."""
        cookie = request.cookies.get(COOKIE, "")
        form = await request.form()
        posted = form.get("csrf_token")
        if not cookie or not isinstance(posted, str):
            return _page("refused.html", "nb", status=403, problem="csrf")
        if not hmac.compare_digest(posted, csrf_token(self.runtime.secret, cookie)):
            return _page("refused.html", "nb", status=403, problem="csrf")
        token = token_from_cookie(self.runtime.secret, cookie)
        locale = "nb"
        async with self.runtime.sessions.begin() as session:
            found = await self._session_in(session, request)
            locale = found.person.locale if found else locale
            if token is not None:
                await end_session(session, token)
        response = _page("refused.html", locale, problem="logged_out")
        response.delete_cookie(COOKIE, path=COOKIE_PATH, httponly=True, samesite="lax")
        return response

    async def page(self, request: Request) -> Response:
        """Render the chat page for the signed-in person."""
        found = await self._signed_in(request)
        if found is None:
            return _page("refused.html", "nb", status=401, problem="signed_out")
        cookie = request.cookies[COOKIE]
        response = _page(
            "chat.html",
            found.person.locale,
            name=found.person.name,
            csrf=csrf_token(self.runtime.secret, cookie),
        )
        # Opening the page always refreshes the browser's expiry, renewed or not.
        self._set_session(response, request, cookie)
        return response

    async def messages(self, request: Request) -> Response:
        """Return the person's conversation, oldest first."""
        # The page polls this unattended, so it is not use: an open tab left alone still idles out.
        found = await self._signed_in(request, renew=False)
        if found is None:
            return JSONResponse({"error": "signed out"}, status_code=401)
        person = found.person
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
        found = await self._signed_in(request)
        if found is None:
            return JSONResponse({"error": "signed out"}, status_code=401)
        person = found.person
        if not self._csrf_ok(request):
            return JSONResponse({"error": "missing or wrong CSRF token"}, status_code=403)
        try:
            body = await request.json()
        except (ValueError, RecursionError):
            return JSONResponse({"error": "body is not JSON"}, status_code=400)
        problem = _body_problem(body)
        if problem is not None:
            return JSONResponse({"error": problem}, status_code=400)
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
        return self._keep(JSONResponse({"ok": True, "replies": len(replies)}), request, found)

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
            # PostgreSQL stores no NUL character, in text or in JSON.
            text=str(body.get("text") or "").replace("\x00", "")[:MAX_TEXT],
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
