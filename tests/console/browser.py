"""Headless Chromium for the console's browser tests: Debian's `chromium` package driven by
Playwright (Playwright's own browser download is not used)."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

SCREENSHOTS = Path(__file__).parent / "screenshots"


def chromium_path() -> str:
    found = os.environ.get("LEDGERBRIDGE_CHROMIUM") or shutil.which("chromium")
    if found is None:
        message = "Debian's chromium is not installed (apt-get install -y chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)  # CI installs it (.ci/run): missing there is a failure
        pytest.skip(message)
    return found


@asynccontextmanager
async def browser_page() -> AsyncIterator[object]:
    from playwright.async_api import async_playwright

    executable = chromium_path()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=executable,
            headless=True,
            # As root (CI) Chromium's sandbox cannot start; the pages are our own.
            args=["--no-sandbox", "--disable-dev-shm-usage"],
        )
        try:
            context = await browser.new_context(
                viewport={"width": 1360, "height": 900}, accept_downloads=True
            )
            page = await context.new_page()
            page.set_default_timeout(20_000)
            yield page
        finally:
            await browser.close()


async def screenshot(page: object, name: str) -> Path:
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)  # type: ignore[attr-defined]
    return path
