"""A server that answers every request with 200 and remembers it: a host that must hear nothing."""

from __future__ import annotations

from dataclasses import dataclass, field

from aiohttp import web


@dataclass
class RecordingServer:
    """aiohttp on 127.0.0.1, port 0; use `async with RecordingServer() as server`."""

    requests: list[tuple[str, str]] = field(default_factory=list)  # (method, path)
    port: int = 0
    _runner: web.AppRunner | None = None

    async def __aenter__(self) -> RecordingServer:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._record)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def url(self) -> str:
        """Return a serviceUrl naming this server."""
        return f"http://127.0.0.1:{self.port}/"

    async def _record(self, request: web.Request) -> web.Response:
        self.requests.append((request.method, request.path))
        return web.json_response({"id": "recorded"}, status=200)
