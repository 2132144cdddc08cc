"""`POST /telegram/webhook`: verify Telegram's secret token, then process the update."""

from __future__ import annotations

import hmac
import json
import logging

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from telegram import Update
from telegram.ext import Application

log = logging.getLogger(__name__)

PATH = "/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 (a header name)


def webhook_route(application: Application, secret: str) -> Route:  # type: ignore[type-arg]
    """Return the route that feeds verified webhook updates to the PTB application."""
    if not secret.strip():
        # An empty secret would accept every call that carries no header at all.
        raise ValueError("webhook mode needs a non-empty TELEGRAM_WEBHOOK_SECRET")
    expected = secret.encode()

    async def receive(request: Request) -> Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, expected):
            log.warning("telegram webhook refused: wrong or missing secret token")
            return Response(status_code=403)
        try:
            data = json.loads(await request.body())
        except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested too deep
            return Response("invalid JSON", status_code=400)
        if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
            return Response("not an update", status_code=400)
        try:
            update = Update.de_json(data, application.bot)
        except Exception as error:  # wrongly typed fields: refuse, never a 500
            log.warning("telegram webhook refused: %s", type(error).__name__)
            return Response("not an update", status_code=400)
        # Processed before answering, so Telegram redelivers if we die half way (and the
        # router's update_id check drops the redelivery if we did not).
        await application.process_update(update)
        return Response(status_code=200)

    return Route(PATH, receive, methods=["POST"])
