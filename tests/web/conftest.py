"""The web page's tests: Chromium (Playwright) against a real local stack, one per module.

The browser is the system's Chromium (`/usr/bin/chromium`, which `.ci/run` installs), else one
Playwright installed; with neither the tests skip with one line saying so. Every test saves
screenshots of the states it reaches under `.data/screenshots/`.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    Playwright,
    expect,
    sync_playwright,
)

from scripts.stack.local import LocalStack, Ports
from scripts.stack.processes import REPO_ROOT

# Waits are for conditions, polled; a 2-core machine shared with other jobs can be slow.
expect.set_options(timeout=20_000)

SCREENSHOTS = REPO_ROOT / ".data" / "screenshots"
SYSTEM_CHROMIUM = ("/usr/bin/chromium", "chromium", "chromium-browser")
# Slow enough that a reload, a second tab or Stop lands in the middle of a reply; food_log waits
# for a person's approval, as in the chaos suite (tests/chaos/stack.py).
WEB_STACK_ENV = {
    "SIM_FIRST_TOKEN_MS": "100",
    "SIM_TOKENS_PER_S": "25",
    "APPROVAL_TOOLS": "food_log",
}


def chromium_executable(playwright: Playwright) -> str | None:
    """The system's Chromium, else the one Playwright installed, else None."""
    for name in SYSTEM_CHROMIUM:
        if found := shutil.which(name):
            return found
    bundled = Path(playwright.chromium.executable_path)
    return str(bundled) if bundled.exists() else None


# Module-scoped: Playwright's sync API runs an event loop of its own, closed before the
# asyncio tests of other modules run.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        executable = chromium_executable(playwright)
        if executable is None:
            pytest.skip("no Chromium: install Debian's chromium (.ci/run does) or a Playwright one")
        browser = playwright.chromium.launch(executable_path=executable)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def web_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    local = LocalStack(
        tmp_path_factory.mktemp("web-stack"),
        Ports.free(),
        workers=1,
        temporal_ui=False,
        extra_env=dict(WEB_STACK_ENV),
    )
    local.start()
    yield local
    local.stop()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    """A fresh browser profile (its own localStorage) per test."""
    context = browser.new_context(viewport={"width": 1100, "height": 760})
    context.set_default_timeout(30_000)
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


@pytest.fixture
def shots(request: pytest.FixtureRequest) -> Shots:
    return Shots(request.node.name)


class Shots:
    """Screenshots of one test, numbered in the order taken."""

    def __init__(self, test_name: str) -> None:
        self.prefix = test_name.removeprefix("test_")
        self.count = 0
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(self, page: Page, state: str) -> Path:
        self.count += 1
        path = SCREENSHOTS / f"{self.prefix}-{self.count}-{state}.png"
        page.screenshot(path=str(path))
        return path
