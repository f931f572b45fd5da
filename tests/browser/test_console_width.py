"""No console page is wider than the screen: every GET page, as every role that may open
it (and the public pages as a visitor), on a phone (390 px) and a laptop (1366 px).

The pages are the app's own console routes (as tests/integration/test_console_policy.py
walks them), their path ids filled with real demo objects, so each page shows real rows.
A page is measured at both widths in one visit (the viewport is resized, the layout
follows). One screenshot per failure lands in tmp_path.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import pytest
from playwright.sync_api import Page, sync_playwright

from tests.browser.conftest import CHROMIUM_ARGS, LiveWorld
from tests.console_world import console_pages
from tongka.api.app import create_app
from tongka.edge.auth import SESSION_COOKIE
from tongka.policy import allowed

pytestmark = pytest.mark.browser

WIDTHS = {"phone": (390, 844), "laptop": (1366, 768)}
# Pages that only send the caller elsewhere (to the role's home or the login page).
REDIRECTS = {"/console", "/console/"}
DOWNLOAD_SUFFIXES = {".csv", ".pdf", ".tkx"}
OVERFLOW = "document.documentElement.scrollWidth - window.innerWidth"


def _visits(live: LiveWorld) -> dict[str, list[str]]:
    """Caller name ("visitor": nobody) -> the page paths it may open, ids filled in."""
    pages = console_pages(create_app(live.settings))
    visits: dict[str, list[str]] = {"visitor": []}
    for path, action in sorted(pages.items()):
        if path in REDIRECTS:
            continue
        if action is None:
            visits["visitor"].append(live.world.path(path))
            continue
        for caller in live.world.callers:
            if allowed(caller.principal, action):
                visits.setdefault(caller.name, []).append(live.world.path(path))
    return visits


def _is_download(path: str) -> bool:
    """A file the console hands out (a statement's CSV): it has no layout to measure."""
    return PurePosixPath(path).suffix in DOWNLOAD_SUFFIXES


def _fetch(page: Page, url: str, label: str) -> list[str]:
    response = page.request.get(url)
    if response.status != 200 or "attachment" not in response.headers.get(
        "content-disposition", ""
    ):
        return [f"{label}: answered {response.status} {response.headers}, not a download"]
    return []


def _measure(page: Page, url: str, shots: Path, label: str) -> list[str]:
    if _is_download(url):
        return _fetch(page, url, label)
    response = page.goto(url)
    problems = []
    if response is None or response.status != 200:
        problems.append(f"{label}: answered {response.status if response else 'nothing'}")
    for width_name, (width, height) in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": height})
        overflow = page.evaluate(OVERFLOW)
        if overflow > 0:
            problems.append(f"{label} at {width} px: {overflow} px wider than the screen")
            slug = label.replace("/", "_").replace(" ", "-")
            page.screenshot(path=str(shots / f"{slug}-{width_name}.png"), full_page=True)
    return problems


def test_no_console_page_is_wider_than_the_screen(
    live_world: LiveWorld, chromium_path: Path, tmp_path: Path
) -> None:
    visits = _visits(live_world)
    assert sum(len(paths) for paths in visits.values()) >= 60
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium_path), args=CHROMIUM_ARGS)
        try:
            for name, paths in visits.items():
                context = browser.new_context(
                    locale="zh-CN", viewport={"width": 390, "height": 844}
                )
                if name != "visitor":
                    token = live_world.world.caller(name).token
                    context.add_cookies(
                        [{"name": SESSION_COOKIE, "value": token, "url": live_world.url}]
                    )
                page = context.new_page()
                for path in paths:
                    problems += _measure(page, live_world.url + path, tmp_path, f"{name} {path}")
                context.close()
        finally:
            browser.close()
    assert problems == [], "\n".join(problems) + f"\nscreenshots: {tmp_path}"
