"""Shared browser fixtures: Debian's chromium, headless, reaching nothing but loopback."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def require_chromium() -> None:
    """Fail in CI, skip elsewhere, when Debian's chromium is not installed."""
    if CHROMIUM.exists():
        return
    message = f"{CHROMIUM} is missing: run `make browser` (apt-get install chromium)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """Launch Debian's chromium headless, with nothing that reaches the network."""
    require_chromium()
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield launched
        finally:
            await launched.close()


async def shot(page: Page, name: str, backend: str) -> None:
    """Save a full-page screenshot as a test artefact."""
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}-{backend}.png"), full_page=True)


async def loopback_only(route: object, base: str) -> None:
    """Let the page load only from the app itself; anything else would be a CDN leak."""
    request = route.request  # type: ignore[attr-defined]
    if request.url.startswith(base) or request.url.startswith("data:"):
        await route.continue_()  # type: ignore[attr-defined]
        return
    await route.abort()  # type: ignore[attr-defined]
    pytest.fail(f"the page fetched {request.url} from outside the app")
