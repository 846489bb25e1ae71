"""A real browser on the real servers: Debian's Chromium driven by Playwright, able to reach
127.0.0.1 and nothing else, every request it makes written down."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Browser, BrowserContext, Route, async_playwright

from tests.conftest import ROOT

CHROMIUM = "/usr/bin/chromium"
# Screenshots land outside git unless SCREENSHOTS_DIR says otherwise (make screenshots).
SCREENSHOTS = Path(os.environ.get("SCREENSHOTS_DIR", ROOT / ".data" / "screenshots"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    # Every host name but 127.0.0.1 fails to resolve, and no proxy can be used to get out.
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
    "--no-proxy-server",
]


@dataclass
class Traffic:
    """Every URL the browser asked for; those for another host were refused."""

    seen: list[str] = field(default_factory=list)

    def elsewhere(self) -> list[str]:
        return [url for url in self.seen if urlsplit(url).hostname not in ("127.0.0.1", None)]


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        await launched.close()


@pytest.fixture
def traffic() -> Traffic:
    return Traffic()


@pytest.fixture
async def context(browser: Browser, traffic: Traffic) -> AsyncIterator[BrowserContext]:
    """A fresh profile whose every request is recorded; only 127.0.0.1 is let through."""
    opened = await browser.new_context(viewport={"width": 1280, "height": 900})

    async def gate(route: Route) -> None:
        url = route.request.url
        traffic.seen.append(url)
        if urlsplit(url).hostname == "127.0.0.1" or url.startswith(("data:", "blob:")):
            await route.continue_()
        else:
            await route.abort("blockedbyclient")

    await opened.route("**/*", gate)
    yield opened
    await opened.close()


def screenshot_path(name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS / f"{name}.png"
