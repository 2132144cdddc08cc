"""A fake Telegram Bot API: aiohttp on 127.0.0.1, port 0, at ``/bot<TOKEN>/<method>``.

It records every call, serves queued updates to ``getUpdates`` (so PTB's real polling
runs against it), builds updates the way Telegram would send them, and can be scripted
to answer like Telegram does when things go wrong: 429 with ``parameters.retry_after``,
403 "Forbidden: bot was blocked by the user", 400 "Bad Request: chat not found".
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

TOKEN = "123456:TEST-token_for-the-fake-api"
BOT_USER = {
    "id": 123456,
    "is_bot": True,
    "first_name": "Tenkepause",
    "username": "tenkepause_test_bot",
    "can_join_groups": True,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}

# Form fields that PTB sends JSON-encoded, and fields that are numbers.
_JSON_FIELDS = {
    "reply_markup",
    "commands",
    "scope",
    "allowed_updates",
    "reply_parameters",
    "link_preview_options",
    "entities",
}
_INT_FIELDS = {"chat_id", "message_id", "offset", "limit", "timeout", "reply_to_message_id"}
# Methods that post into a chat and therefore count towards Telegram's flood limits.
_CHAT_SENDS = {"sendMessage", "editMessageText", "editMessageReplyMarkup"}

ERRORS: dict[str, tuple[int, str]] = {
    "blocked": (403, "Forbidden: bot was blocked by the user"),
    "deactivated": (403, "Forbidden: user is deactivated"),
    "cannot_initiate": (403, "Forbidden: bot can't initiate conversation with a user"),
    "chat_not_found": (400, "Bad Request: chat not found"),
    "server_error": (500, "Internal Server Error"),
}


def _public(message: dict[str, Any]) -> dict[str, Any]:
    """Return a stored message without the fake's own bookkeeping keys."""
    return {k: v for k, v in message.items() if not k.startswith("_")}


@dataclass(frozen=True)
class Call:
    """One request the fake received."""

    method: str
    params: dict[str, Any]
    at: float
    status: int


@dataclass
class Rule:
    """A scripted failure: answer `method` (for `chat_id`, if given) with an error."""

    method: str
    error: str  # a key of ERRORS, or "retry_after"
    chat_id: int | None = None
    times: int | None = 1  # None = forever
    retry_after: int = 1

    def matches(self, method: str, params: dict[str, Any]) -> bool:
        """Tell whether this rule applies to the request."""
        if self.times == 0 or method != self.method:
            return False
        return self.chat_id is None or params.get("chat_id") == self.chat_id


@dataclass(frozen=True)
class FakeUser:
    """A Telegram user the tests act as."""

    id: int
    first_name: str = "Kari"
    username: str | None = None
    language_code: str | None = "nb"

    def as_json(self) -> dict[str, Any]:
        """Return the User object Telegram would send."""
        data: dict[str, Any] = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.username:
            data["username"] = self.username
        if self.language_code:
            data["language_code"] = self.language_code
        return data


@dataclass
class FakeTelegramAPI:
    """The fake server; use `async with FakeTelegramAPI() as api:` and `api.base_url`."""

    token: str = TOKEN
    poll_wait: float = 0.2  # longest a getUpdates waits for an update, so shutdown is quick
    per_second: float | None = None  # enforce Telegram's overall limit (leaky bucket) when set
    per_group_per_minute: int | None = None  # enforce the per-group limit when set
    calls: list[Call] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)
    blocked: set[int] = field(default_factory=set)
    messages: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)
    webhook: dict[str, Any] | None = None
    _updates: list[dict[str, Any]] = field(default_factory=list)
    _update_ids: Iterator[int] = field(default_factory=lambda: itertools.count(1000))
    _message_ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    _callback_ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    _bucket_level: float = 0.0
    _bucket_at: float = 0.0
    _group_sends: dict[int, deque[float]] = field(default_factory=dict)
    _changed: asyncio.Condition | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _runner: web.AppRunner | None = None
    port: int = 0

    # -- lifecycle ------------------------------------------------------------------

    async def __aenter__(self) -> FakeTelegramAPI:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        """Listen on 127.0.0.1 on a free port."""
        self._changed = asyncio.Condition()
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def base_url(self) -> str:
        """Return the value for TELEGRAM_API_URL (PTB appends the token)."""
        return f"http://127.0.0.1:{self.port}/bot"

    # -- scripting ------------------------------------------------------------------

    def fail(
        self,
        method: str,
        error: str,
        *,
        chat_id: int | None = None,
        times: int | None = 1,
        retry_after: int = 1,
    ) -> Rule:
        """Answer the next `times` calls of `method` with `error` (see ERRORS, or retry_after)."""
        if error != "retry_after" and error not in ERRORS:
            raise ValueError(f"unknown scripted error {error!r}")
        rule = Rule(method, error, chat_id, times, retry_after)
        self.rules.append(rule)
        return rule

    def block(self, chat_id: int) -> None:
        """Act as if the user of this private chat blocked the bot."""
        self.blocked.add(chat_id)

    # -- inspection -----------------------------------------------------------------

    def calls_to(self, method: str, *, ok_only: bool = True) -> list[Call]:
        """Return the calls of one method, by default only those that succeeded."""
        return [c for c in self.calls if c.method == method and (c.status == 200 or not ok_only)]

    def sent_to(self, chat_id: int) -> list[dict[str, Any]]:
        """Return the messages the bot has in a chat, oldest first, as currently shown."""
        return [m for (chat, _), m in sorted(self.messages.items()) if chat == chat_id]

    def last_sent_to(self, chat_id: int) -> dict[str, Any]:
        """Return the newest message the bot has in a chat."""
        sent = self.sent_to(chat_id)
        if not sent:
            raise AssertionError(f"the bot sent nothing to chat {chat_id}")
        return sent[-1]

    @staticmethod
    def buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
        """Return the inline buttons of a message, row by row."""
        markup = message.get("reply_markup") or {}
        return [button for row in markup.get("inline_keyboard", []) for button in row]

    async def wait_until(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        """Wait until `predicate()` holds after some call; fail the test after `timeout`."""
        assert self._changed is not None
        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait_for(predicate), timeout)
            except TimeoutError:
                raise AssertionError("the fake Bot API never saw the expected calls") from None

    def statuses(self, method: str = "sendMessage") -> dict[int, int]:
        """Return how many calls of `method` got each HTTP status."""
        counts: dict[int, int] = {}
        for call in self.calls:
            if call.method == method:
                counts[call.status] = counts.get(call.status, 0) + 1
        return counts

    def pending_updates(self) -> int:
        """Return how many queued updates no getUpdates has confirmed yet."""
        return len(self._updates)

    # -- updates, as Telegram would send them ---------------------------------------

    def queue(self, update: dict[str, Any]) -> dict[str, Any]:
        """Serve `update` to the next getUpdates; return it."""
        self._updates.append(update)
        self._notify()
        return update

    def _update(self, **body: Any) -> dict[str, Any]:
        return {"update_id": next(self._update_ids), **body}

    def _message(
        self, user: FakeUser, chat: dict[str, Any], text: str, reply_to: dict[str, Any] | None
    ) -> dict[str, Any]:
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": chat,
            "from": user.as_json(),
            "text": text,
        }
        if text.startswith("/"):
            command = text.split()[0]
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        if reply_to is not None:
            message["reply_to_message"] = _public(reply_to)
        return message

    @staticmethod
    def private_chat(user: FakeUser) -> dict[str, Any]:
        """Return the private chat of a user with the bot."""
        return {"id": user.id, "type": "private", "first_name": user.first_name}

    @staticmethod
    def group_chat(chat_id: int, title: str = "Peer group") -> dict[str, Any]:
        """Return a supergroup chat."""
        return {"id": chat_id, "type": "supergroup", "title": title}

    def text_update(
        self,
        user: FakeUser,
        text: str,
        *,
        chat: dict[str, Any] | None = None,
        reply_to: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Return an update for a text message (a command if it starts with '/')."""
        message = self._message(user, chat or self.private_chat(user), text, reply_to)
        return self._update(message=message)

    def edit_update(self, original: dict[str, Any], text: str) -> dict[str, Any]:
        """Return the edited_message update for a user's earlier message."""
        message = {**original["message"], "text": text, "edit_date": int(time.time())}
        return self._update(edited_message=message)

    def click_update(
        self, user: FakeUser, message: dict[str, Any], data: str | None = None, index: int = 0
    ) -> dict[str, Any]:
        """Return a callback_query update: `user` taps a button (or sends forged `data`)."""
        if data is None:
            data = self.buttons(message)[index]["callback_data"]
        query = {
            "id": str(next(self._callback_ids)),
            "from": user.as_json(),
            "message": _public(message),
            "chat_instance": f"ci-{message['chat']['id']}",
            "data": data,
        }
        return self._update(callback_query=query)

    def answers_to_callbacks(self) -> list[dict[str, Any]]:
        """Return the parameters of every answerCallbackQuery."""
        return [c.params for c in self.calls_to("answerCallbackQuery")]

    # -- the server -----------------------------------------------------------------

    def _notify(self) -> None:
        changed = self._changed
        if changed is None:
            return

        async def notify() -> None:
            async with changed:
                changed.notify_all()

        task = asyncio.get_running_loop().create_task(notify())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _params(request: web.Request) -> dict[str, Any]:
        if request.content_type == "application/json":
            body = await request.json()
            return dict(body or {})
        raw = dict(await request.post()) if request.can_read_body else {}
        params: dict[str, Any] = {}
        for key, value in raw.items():
            value = str(value)
            if key in _JSON_FIELDS:
                params[key] = json.loads(value)
            elif key in _INT_FIELDS and value.lstrip("-").isdigit():
                params[key] = int(value)
            else:
                params[key] = value
        return params

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await self._params(request)
        if request.match_info["token"] != self.token:
            return self._record(method, params, self._error(401, "Unauthorized"))
        response = self._scripted(method, params) or await self._answer(method, params)
        return self._record(method, params, response)

    def _record(self, method: str, params: dict[str, Any], response: web.Response) -> web.Response:
        self.calls.append(Call(method, params, time.monotonic(), response.status))
        self._notify()
        return response

    @staticmethod
    def _ok(result: Any) -> web.Response:
        return web.json_response({"ok": True, "result": result})

    @staticmethod
    def _error(status: int, description: str, **parameters: Any) -> web.Response:
        body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
        if parameters:
            body["parameters"] = parameters
        return web.json_response(body, status=status)

    def _scripted(self, method: str, params: dict[str, Any]) -> web.Response | None:
        for rule in self.rules:
            if rule.matches(method, params):
                if rule.times is not None:
                    rule.times -= 1
                if rule.error == "retry_after":
                    return self._flood(rule.retry_after)
                return self._error(*ERRORS[rule.error])
        chat_id = params.get("chat_id")
        if method in _CHAT_SENDS and chat_id in self.blocked:
            return self._error(*ERRORS["blocked"])
        if method in _CHAT_SENDS and isinstance(chat_id, int):
            return self._enforce_limits(chat_id)
        return None

    def _flood(self, retry_after: int) -> web.Response:
        return self._error(
            429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after
        )

    def _enforce_limits(self, chat_id: int) -> web.Response | None:
        now = time.monotonic()
        if self.per_second is not None:
            # A leaky bucket holding `per_second` sends, draining `per_second` a second:
            # a sender that keeps above the rate for long is refused, jitter is not.
            drained = (now - self._bucket_at) * self.per_second
            self._bucket_level, self._bucket_at = max(0.0, self._bucket_level - drained), now
            if self._bucket_level + 1 > self.per_second:
                return self._flood(1)
            self._bucket_level += 1
        if self.per_group_per_minute is not None and chat_id < 0:
            sends = self._group_sends.setdefault(chat_id, deque())
            while sends and now - sends[0] >= 60.0:
                sends.popleft()
            if len(sends) >= self.per_group_per_minute:
                return self._flood(int(60 - (now - sends[0])) + 1)
            sends.append(now)
        return None

    async def _answer(self, method: str, params: dict[str, Any]) -> web.Response:
        handler = getattr(self, f"_api_{method}", None)
        if handler is None:
            return self._error(404, f"Not Found: method {method} is not in the fake")
        result: web.Response = await handler(params)
        return result

    async def _api_getMe(self, params: dict[str, Any]) -> web.Response:
        return self._ok(BOT_USER)

    async def _api_sendMessage(self, params: dict[str, Any]) -> web.Response:
        chat_id = params["chat_id"]
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "supergroup"},
            "from": BOT_USER,
            "text": params["text"],
        }
        markup = params.get("reply_markup")
        if markup and "inline_keyboard" in markup:
            message["reply_markup"] = markup
        message["_sent_markup"] = markup  # what the bot asked for (ForceReply included)
        self.messages[(chat_id, message["message_id"])] = message
        return self._ok(_public(message))

    def _edit(self, params: dict[str, Any], **changes: Any) -> web.Response:
        key = (params.get("chat_id"), params.get("message_id"))
        message = self.messages.get(key)  # type: ignore[arg-type]
        if message is None:
            return self._error(400, "Bad Request: message to edit not found")
        updated = {**message, **{k: v for k, v in changes.items() if v is not None}}
        if "reply_markup" in changes and changes["reply_markup"] is None:
            updated.pop("reply_markup", None)
        if updated == message:
            return self._error(
                400,
                "Bad Request: message is not modified: specified new message content and "
                "reply markup are exactly the same as a current content and reply markup "
                "of the message",
            )
        updated["edit_date"] = int(time.time())
        self.messages[key] = updated  # type: ignore[index]
        return self._ok(_public(updated))

    async def _api_editMessageText(self, params: dict[str, Any]) -> web.Response:
        return self._edit(params, text=params["text"], reply_markup=params.get("reply_markup"))

    async def _api_editMessageReplyMarkup(self, params: dict[str, Any]) -> web.Response:
        return self._edit(params, reply_markup=params.get("reply_markup"))

    async def _api_answerCallbackQuery(self, params: dict[str, Any]) -> web.Response:
        return self._ok(True)

    async def _api_setMyCommands(self, params: dict[str, Any]) -> web.Response:
        return self._ok(True)

    async def _api_deleteMyCommands(self, params: dict[str, Any]) -> web.Response:
        return self._ok(True)

    async def _api_setWebhook(self, params: dict[str, Any]) -> web.Response:
        self.webhook = params
        return self._ok(True)

    async def _api_deleteWebhook(self, params: dict[str, Any]) -> web.Response:
        self.webhook = None
        if params.get("drop_pending_updates") in (True, "true", "True"):
            self._updates.clear()
        return self._ok(True)

    async def _api_getWebhookInfo(self, params: dict[str, Any]) -> web.Response:
        url = (self.webhook or {}).get("url", "")
        return self._ok({"url": url, "has_custom_certificate": False, "pending_update_count": 0})

    async def _api_getUpdates(self, params: dict[str, Any]) -> web.Response:
        offset = int(params.get("offset") or 0)
        # Telegram forgets every update below the offset: they are confirmed.
        self._updates = [u for u in self._updates if u["update_id"] >= offset]
        if not self._updates and float(params.get("timeout") or 0) > 0:
            assert self._changed is not None
            async with self._changed:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        self._changed.wait_for(lambda: bool(self._updates)), self.poll_wait
                    )
        limit = int(params.get("limit") or 100)
        return self._ok(self._updates[:limit])
