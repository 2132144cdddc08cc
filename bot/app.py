"""Assemble and serve a running instance: HTTP server, channels, scheduler, dispatcher."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import uvicorn
from starlette.applications import Starlette

from bot.clock import Clock, SystemClock
from bot.collector import collecting_on_the_loop
from bot.database import open_database
from bot.handlers.registry import build_router
from bot.runtime import ChannelPlugin, Runtime
from bot.settings import Settings
from bot.web.dashboard import dashboard_routes
from bot.web.server import build_app

log = logging.getLogger(__name__)

# Background services started after the server is up: each gets the runtime and a stop
# event and returns when the event is set.
BackgroundService = Callable[[Runtime, asyncio.Event], Awaitable[None]]


def enabled_plugins(runtime: Runtime) -> dict[str, ChannelPlugin]:
    """Build a plugin for every platform that has its settings; the web chat is always on."""
    from bot.channels.webchat.plugin import build_plugin as webchat

    plugins: dict[str, ChannelPlugin] = {"webchat": webchat(runtime)}
    settings = runtime.settings
    if settings.slack_enabled:
        from bot.channels.slack.plugin import build_plugin as slack

        plugins["slack"] = slack(runtime)
    if settings.telegram_enabled:
        from bot.channels.telegram.plugin import build_plugin as telegram

        plugins["telegram"] = telegram(runtime)
    if settings.teams_enabled:
        from bot.channels.teams.plugin import build_plugin as teams

        plugins["teams"] = teams(runtime)
    return plugins


def background_services() -> list[BackgroundService]:
    """Return the scheduler and the dispatcher loops."""
    from scheduler.runner import run_dispatcher, run_scheduler

    return [run_scheduler, run_dispatcher]


@asynccontextmanager
async def running(runtime: Runtime) -> AsyncIterator[None]:
    """Start plugins and background services; stop them on exit."""
    stop = asyncio.Event()
    for plugin in runtime.plugins.values():
        await plugin.start()
    tasks = [asyncio.create_task(service(runtime, stop)) for service in background_services()]
    try:
        yield
    finally:
        stop.set()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, timeout=10)
        for plugin in runtime.plugins.values():
            await plugin.stop()


def build_starlette(runtime: Runtime) -> Starlette:
    """Return the HTTP app with a lifespan that runs the whole instance."""
    app = build_app(runtime, extra_routes=dashboard_routes(runtime))

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        async with running(runtime):
            yield

    app.router.lifespan_context = lifespan
    return app


async def serve(settings: Settings, clock: Clock | None = None) -> None:
    """Run until interrupted: the one HTTP server plus everything behind it."""
    async with open_database(settings) as (engine, sessions):
        runtime = Runtime(settings, engine, sessions, clock or SystemClock())
        if settings.instance_name:
            runtime.instance = settings.instance_name
        runtime.router = build_router(
            sessions, runtime.clock, runtime.secret, settings.conversation_policy()
        )
        runtime.plugins = enabled_plugins(runtime)
        app = build_starlette(runtime)
        config = uvicorn.Config(
            app,
            host=settings.http_host,
            port=settings.http_port,
            log_level=settings.log_level.lower(),
            log_config=None,  # uvicorn's lines go through our redacting handler too
            access_log=False,
            lifespan="on",
        )
        log.info(
            "serving",
            extra={
                "url": f"http://{settings.http_host}:{settings.http_port}",
                "channels": sorted(runtime.plugins),
            },
        )
        async with collecting_on_the_loop(settings.gc_mode):
            await uvicorn.Server(config).serve()
