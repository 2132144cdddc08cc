"""A fake Slack Web API: aiohttp on 127.0.0.1, port 0; records every call.

It keeps just enough state (users, DM channels, messages, views) for slack-sdk and
slack-bolt to behave as against Slack, and can be told to fail a method with an HTTP
status and a Slack error, e.g. 429 with `Retry-After`.

It also plays Slack's side of an OAuth install (`oauth.v2.access` turns a granted code
into a workspace's bot token, once) and of Socket Mode (`apps.connections.open` returns a
websocket URL on this server, which says hello and then carries the envelopes a test
sends, recording the client's acks).
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

BOT_USER = "UBOT0001"
BOT_ID = "BBOT0001"
TEAM = "T0000001"
APP_ID = "A0000001"
JSON_ARGS = ("blocks", "view", "attachments", "metadata")
SOCKET_PATH = "/socket-mode"


@dataclass
class ApiCall:
    """One request the fake received."""

    method: str
    args: dict[str, Any]
    token: str | None


@dataclass
class Failure:
    """A scripted answer that replaces the normal one."""

    status: int = 200
    error: str = "internal_error"
    retry_after: int | None = None


@dataclass
class FakeUser:
    """A workspace member."""

    id: str
    email: str
    name: str = ""
    tz: str = "Europe/Oslo"
    locale: str = "nb-NO"
    deleted: bool = False


@dataclass(frozen=True)
class Grant:
    """What Slack hands over for one OAuth code: a workspace and its new bot token."""

    team: str
    token: str
    team_name: str = "Workspace"
    scopes: str = ""


@dataclass
class FakeSlackApi:
    """The fake Web API; `await start()` returns the base URL to give AsyncWebClient."""

    users: dict[str, FakeUser] = field(default_factory=dict)
    channels: set[str] = field(default_factory=set)
    archived: set[str] = field(default_factory=set)
    messages: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    views: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[ApiCall] = field(default_factory=list)
    failures: dict[str, deque[Failure]] = field(default_factory=dict)
    # OAuth: the app's credentials, codes Slack would issue, and which team each token is for.
    client_id: str = "1111.2222"
    client_secret: str = "fake-client-secret"
    grants: dict[str, Grant] = field(default_factory=dict)
    token_teams: dict[str, str] = field(default_factory=dict)
    # Socket Mode: open connections and what clients sent back (acks).
    sockets: list[web.WebSocketResponse] = field(default_factory=list)
    socket_received: list[dict[str, Any]] = field(default_factory=list)
    _socket_event: asyncio.Event = field(default_factory=asyncio.Event)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _runner: web.AppRunner | None = None
    url: str = ""

    # --- set-up -----------------------------------------------------------------
    def add_user(self, user_id: str, email: str, **profile: Any) -> FakeUser:
        """Add a member the API knows."""
        user = FakeUser(user_id, email, **profile)
        self.users[user_id] = user
        return user

    def add_channel(self, channel_id: str) -> None:
        """Add a public or private channel the bot is in."""
        self.channels.add(channel_id)

    def fail(
        self,
        method: str,
        *,
        status: int = 200,
        error: str = "internal_error",
        retry_after: int | None = None,
        times: int = 1,
    ) -> None:
        """Make the next `times` calls of `method` fail as scripted."""
        queue = self.failures.setdefault(method, deque())
        queue.extend(Failure(status, error, retry_after) for _ in range(times))

    def grant(self, code: str, team: str, token: str, *, scopes: str = "") -> None:
        """Let `code` be exchanged once for `token`, a bot token of workspace `team`."""
        self.grants[code] = Grant(team, token, f"Workspace {team}", scopes)

    def rate_limit(self, method: str, *, retry_after: int = 0, times: int = 1) -> None:
        """Make the next `times` calls of `method` answer 429 with `Retry-After`."""
        self.fail(method, status=429, error="ratelimited", retry_after=retry_after, times=times)

    # --- inspection ---------------------------------------------------------------
    def calls_to(self, method: str) -> list[dict[str, Any]]:
        """Return the arguments of every call to `method`, in order."""
        return [call.args for call in self.calls if call.method == method]

    def methods(self) -> list[str]:
        """Return the method of every call, in order."""
        return [call.method for call in self.calls]

    def tokens_of(self, method: str) -> list[str | None]:
        """Return the token each call to `method` was made with, in order."""
        return [call.token for call in self.calls if call.method == method]

    # --- Socket Mode ----------------------------------------------------------------
    async def wait_for_socket(self, timeout: float = 10.0) -> web.WebSocketResponse:
        """Return the newest Socket Mode connection, waiting for one to open."""
        async with asyncio.timeout(timeout):
            while not self.sockets:
                await self._socket_changed()
        return self.sockets[-1]

    async def socket_send(self, envelope: dict[str, Any]) -> None:
        """Send one envelope (events_api, interactive, slash_commands) over the socket."""
        socket = await self.wait_for_socket()
        await socket.send_json(envelope)

    async def wait_for_ack(self, envelope_id: str, timeout: float = 10.0) -> dict[str, Any]:
        """Return the client's ack of `envelope_id`, waiting for it to arrive."""
        async with asyncio.timeout(timeout):
            while True:
                for message in self.socket_received:
                    if message.get("envelope_id") == envelope_id:
                        return message
                await self._socket_changed()

    async def _socket_changed(self) -> None:
        self._socket_event.clear()
        await self._socket_event.wait()

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse(autoping=True)
        await socket.prepare(request)
        self.sockets.append(socket)
        hello = {
            "type": "hello",
            "num_connections": len(self.sockets),
            "debug_info": {"host": "fake-socket-mode", "approximate_connection_time": 3600},
            "connection_info": {"app_id": APP_ID},
        }
        await socket.send_json(hello)
        self._socket_event.set()
        try:
            async for message in socket:
                if message.type == WSMsgType.TEXT:
                    self.socket_received.append(json.loads(message.data))
                    self._socket_event.set()
        finally:
            self.sockets.remove(socket)
            self._socket_event.set()
        return socket

    # --- server -------------------------------------------------------------------
    async def start(self) -> str:
        """Serve on 127.0.0.1 on a free port and return the API base URL."""
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._handle)
        app.router.add_get(SOCKET_PATH, self._socket)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/api/"
        return self.url

    async def stop(self) -> None:
        """Stop serving (closing any Socket Mode connection first)."""
        for socket in list(self.sockets):
            await socket.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args = await _arguments(request)
        token = _token(request, args)
        self.calls.append(ApiCall(method, args, token))
        queue = self.failures.get(method)
        if queue:
            return _failure(queue.popleft())
        if method == "oauth.v2.access":  # authenticated by the app's id and secret instead
            return web.json_response(self._oauth_access(request, args))
        if method == "apps.connections.open":
            return web.json_response(self._connections_open(request, token))
        if token is None or not token.startswith(("xoxb-", "xoxp-", "xapp-")):
            return web.json_response({"ok": False, "error": "not_authed"})
        handler = self._handlers().get(method)
        if handler is None:
            return web.json_response({"ok": False, "error": "unknown_method"}, status=404)
        return web.json_response(await handler({**args, "_token": token}))

    def _handlers(self) -> dict[str, Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]]:
        return {
            "auth.test": self._auth_test,
            "api.test": self._api_test,
            "conversations.open": self._conversations_open,
            "chat.postMessage": self._post_message,
            "chat.update": self._update,
            "chat.postEphemeral": self._post_ephemeral,
            "views.open": self._views_open,
            "views.update": self._views_update,
            "views.publish": self._views_publish,
            "users.info": self._users_info,
            "users.lookupByEmail": self._lookup_by_email,
        }

    # --- methods ------------------------------------------------------------------
    def _ts(self) -> str:
        n = next(self._ids)
        return f"{1_700_000_000 + n}.{n:06d}"

    def _oauth_access(self, request: web.Request, args: dict[str, Any]) -> dict[str, Any]:
        client_id, client_secret = _basic_auth(request)
        client_id = client_id or args.get("client_id")
        client_secret = client_secret or args.get("client_secret")
        if (client_id, client_secret) != (self.client_id, self.client_secret):
            return {"ok": False, "error": "invalid_client_id"}
        grant = self.grants.pop(str(args.get("code", "")), None)
        if grant is None:  # unknown, or already exchanged
            return {"ok": False, "error": "invalid_code"}
        self.token_teams[grant.token] = grant.team
        return {
            "ok": True,
            "app_id": APP_ID,
            "authed_user": {"id": "UINSTALLER"},
            "scope": grant.scopes,
            "token_type": "bot",
            "access_token": grant.token,
            "bot_user_id": BOT_USER,
            "team": {"id": grant.team, "name": grant.team_name},
            "enterprise": None,
            "is_enterprise_install": False,
        }

    def _connections_open(self, request: web.Request, token: str | None) -> dict[str, Any]:
        if token is None or not token.startswith("xapp-"):
            return {"ok": False, "error": "invalid_auth"}
        host, port = request.host.rsplit(":", 1)
        return {"ok": True, "url": f"ws://{host}:{port}{SOCKET_PATH}?ticket={next(self._ids)}"}

    async def _auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://fake.slack.test/",
            "team": "Fake",
            "user": "tenkepause",
            "team_id": self.token_teams.get(str(args["_token"]), TEAM),
            "user_id": BOT_USER,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    async def _api_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "args": {k: v for k, v in args.items() if k != "_token"}}

    async def _conversations_open(self, args: dict[str, Any]) -> dict[str, Any]:
        users = [u for u in str(args.get("users", "")).split(",") if u]
        if not users:
            return {"ok": False, "error": "users_list_not_supplied"}
        for user_id in users:
            user = self.users.get(user_id)
            if user is None:
                return {"ok": False, "error": "user_not_found"}
            if user.deleted:
                return {"ok": False, "error": "account_inactive"}
        channel = f"D{users[0][1:]}" if len(users) == 1 else "G" + "".join(sorted(users))[:10]
        self.channels.add(channel)
        return {"ok": True, "channel": {"id": channel}}

    def _check_channel(self, channel: str) -> str | None:
        if channel in self.archived:
            return "is_archived"
        if channel not in self.channels:
            return "channel_not_found"
        return None

    async def _post_message(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = str(args.get("channel", ""))
        if (error := self._check_channel(channel)) is not None:
            return {"ok": False, "error": error}
        if not args.get("text") and not args.get("blocks"):
            return {"ok": False, "error": "no_text"}
        ts = self._ts()
        message = {
            "text": args.get("text", ""),
            "blocks": args.get("blocks", []),
            "thread_ts": args.get("thread_ts"),
            "ts": ts,
            "user": BOT_USER,
        }
        self.messages[(channel, ts)] = message
        return {"ok": True, "channel": channel, "ts": ts, "message": message}

    async def _update(self, args: dict[str, Any]) -> dict[str, Any]:
        key = (str(args.get("channel", "")), str(args.get("ts", "")))
        if key not in self.messages:
            return {"ok": False, "error": "message_not_found"}
        self.messages[key].update(text=args.get("text", ""), blocks=args.get("blocks", []))
        return {"ok": True, "channel": key[0], "ts": key[1], "text": args.get("text", "")}

    async def _post_ephemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = str(args.get("channel", ""))
        if (error := self._check_channel(channel)) is not None:
            return {"ok": False, "error": error}
        return {"ok": True, "message_ts": self._ts()}

    def _store_view(self, view: dict[str, Any], view_id: str | None = None) -> dict[str, Any]:
        n = next(self._ids)
        stored = dict(view, id=view_id or f"V{n:08d}", hash=f"{n}.hash{n}", team_id=TEAM)
        self.views[stored["id"]] = stored
        return stored

    async def _views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        if not args.get("trigger_id"):
            return {"ok": False, "error": "invalid_trigger_id"}
        view = args.get("view")
        if not isinstance(view, dict) or view.get("type") != "modal":
            return {"ok": False, "error": "invalid_arguments"}
        return {"ok": True, "view": self._store_view(view)}

    async def _views_update(self, args: dict[str, Any]) -> dict[str, Any]:
        view_id = str(args.get("view_id", ""))
        if view_id not in self.views:
            return {"ok": False, "error": "not_found"}
        return {"ok": True, "view": self._store_view(args.get("view", {}), view_id)}

    async def _views_publish(self, args: dict[str, Any]) -> dict[str, Any]:
        view = args.get("view")
        if args.get("user_id") not in self.users:
            return {"ok": False, "error": "user_not_found"}
        if not isinstance(view, dict) or view.get("type") != "home":
            return {"ok": False, "error": "invalid_arguments"}
        return {"ok": True, "view": self._store_view(view)}

    def _user_json(self, user: FakeUser) -> dict[str, Any]:
        return {
            "id": user.id,
            "team_id": TEAM,
            "name": user.name or user.id.lower(),
            "deleted": user.deleted,
            "tz": user.tz,
            "locale": user.locale,
            "profile": {"email": user.email, "real_name": user.name},
        }

    async def _users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        user = self.users.get(str(args.get("user", "")))
        if user is None:
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "user": self._user_json(user)}

    async def _lookup_by_email(self, args: dict[str, Any]) -> dict[str, Any]:
        email = str(args.get("email", "")).lower()
        for user in self.users.values():
            if user.email.lower() == email:
                return {"ok": True, "user": self._user_json(user)}
        return {"ok": False, "error": "users_not_found"}


async def _arguments(request: web.Request) -> dict[str, Any]:
    """Merge query, form and JSON arguments, decoding JSON-valued form fields."""
    args: dict[str, Any] = dict(request.query)
    if request.can_read_body:
        if request.content_type == "application/json":
            args.update(await request.json())
        else:
            args.update(await request.post())
    for key in JSON_ARGS:
        if isinstance(args.get(key), str):
            args[key] = json.loads(args[key])
    return args


def _token(request: web.Request, args: dict[str, Any]) -> str | None:
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return header.removeprefix("Bearer ")
    token = args.get("token")
    return str(token) if token else None


def _basic_auth(request: web.Request) -> tuple[str | None, str | None]:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Basic "):
        return None, None
    user, _, password = base64.b64decode(header.removeprefix("Basic ")).decode().partition(":")
    return user, password


def _failure(failure: Failure) -> web.Response:
    headers = {}
    if failure.retry_after is not None:
        headers["Retry-After"] = str(failure.retry_after)
    if failure.status >= 500:
        return web.Response(status=failure.status, text="upstream error", headers=headers)
    body = {"ok": False, "error": failure.error}
    return web.json_response(body, status=failure.status, headers=headers)
