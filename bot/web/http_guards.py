"""ASGI guards around the one HTTP server: a body-size limit and security headers.

Both are plain ASGI so that they see every route (Slack, Telegram, Teams, dashboard, web
chat, static files) before any of them reads or parses a byte of the body.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Platform payloads are a few kilobytes; Slack's largest (a modal submission) is far below.
MAX_BODY_BYTES = 1024 * 1024

# Pages need nothing from any other origin: scripts, styles and images are our own files.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "object-src 'none'"
)
# bolt's own install and OAuth result pages carry an inline style and Slack's button image.
SLACK_PAGES_POLICY = (
    "default-src 'none'; img-src https://platform.slack-edge.com; style-src 'unsafe-inline'; "
    "form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
)
HTML_HEADERS: Mapping[str, str] = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
}


class BodyTooLarge(Exception):
    """The request body passed the limit while the app was reading it."""


async def _answer(send: Send, status: int, text: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(text)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": text})


class BodyLimit:
    """Answer 413 to a body over `max_bytes`, judged by Content-Length and by counting chunks.

    A declared length over the limit is refused before a byte is read. Without one (chunked
    uploads), the body is counted as the app reads it; past the limit the app's reading
    fails, whatever it would have answered is dropped, and the client gets 413. The body is
    never buffered here, so a large post costs no more memory than one chunk.

    The 413 does not ask to close the connection: closing with unread bytes makes the kernel
    send a reset that often destroys the answer on its way. The server reads the rest and
    throws it away (bandwidth, never memory) and the client reliably sees the 413.
    """

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the app with a counted body."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared == -1:
            await _answer(send, 400, b"invalid Content-Length")
            return
        if declared is not None and declared > self.max_bytes:
            await _answer(send, 413, b"request body too large")
            return
        received, exceeded, started = 0, False, False

        async def counted() -> Message:
            nonlocal received, exceeded
            if exceeded:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    exceeded = True
                    raise BodyTooLarge
            return message

        async def guarded(message: Message) -> None:
            nonlocal started
            if exceeded:
                return  # the app's answer to a body it could not read is replaced by 413
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, guarded)
        except Exception:
            if not exceeded:
                raise
        if exceeded and not started:
            await _answer(send, 413, b"request body too large")


def _content_length(scope: Scope) -> int | None:
    """Return the declared body length, None if absent, -1 if not a number."""
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                length = int(value)
            except ValueError:
                return -1
            return length if length >= 0 else -1
    return None


class SecurityHeaders:
    """Add security headers to every HTML response, and `nosniff` to every response.

    Headers a route already set win, so a page may narrow or widen its own policy.
    """

    def __init__(self, app: ASGIApp, policy_for: Callable[[str], str] | None = None) -> None:
        self.app = app
        self.policy_for = policy_for or _policy_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the app and amend its response headers."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))

        async def amended(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                extra: dict[str, str] = {"x-content-type-options": "nosniff"}
                content_type = next((v for n, v in headers if n.lower() == b"content-type"), b"")
                if content_type.startswith(b"text/html"):
                    extra.update(HTML_HEADERS)
                    extra["content-security-policy"] = self.policy_for(path)
                for name, value in extra.items():
                    if name.encode() not in present:
                        headers.append((name.encode(), value.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, amended)


def _policy_for(path: str) -> str:
    return SLACK_PAGES_POLICY if path.startswith("/slack/") else CONTENT_SECURITY_POLICY
