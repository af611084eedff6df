"""Real Chromium pages drawing on a server, for the load benchmarks' check against real browsers.

Each page is a browser context of its own (its own cookies and session),
driven by Playwright's async API so that all draw at the same time: clear
the canvas, draw one of a few mouse strokes, wait for the rerun that
answers it (the page's `data-test-script-state` back to `notRunning`
after the mouse-up), count it; a stroke the page has not answered in 15 s
counts as dropped.
"""

from __future__ import annotations

import asyncio
import time

from bench.browser import SINGLE_STROKES, WATCH
from testkit.chromium import CHROMIUM, CHROMIUM_FLAGS

ANSWER_TIMEOUT_S = 15


async def _wait_answer(page, timeout_s: float) -> float | None:
    """ms from the last mouse-up to the end of the rerun answering it; None if none came in time."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        done = await page.evaluate("""() => { const m = window.__marks, up = Math.max(0, ...m.mouseup);
            const s = document.querySelector('[data-testid="stApp"]').getAttribute('data-test-script-state');
            const after = m.idle.filter(t => t > up);
            return s === 'notRunning' && after.length ? after[after.length - 1] - up : null; }""")
        if done is not None:
            return done
        await asyncio.sleep(0.05)
    return None


async def _draw(page, box, strokes):
    for stroke in strokes:
        x, y = stroke[0]
        await page.mouse.move(box["x"] + x, box["y"] + y)
        await page.mouse.down()
        for x, y in stroke[1:]:
            await page.mouse.move(box["x"] + x, box["y"] + y, steps=8)
        await page.mouse.up()


async def _clear(page):
    await page.locator("canvas.upper-canvas").first.hover()
    await page.get_by_role("button", name="Reset canvas & history").click()


async def page_visitor(
    browser,
    url: str,
    number: int,
    seconds: float,
    stats: dict,
    ready: asyncio.Barrier,
    finished: asyncio.Barrier,
    gap_s: float = 2.0,
) -> None:
    """One page drawing for `seconds` once every page is loaded, a stroke every `gap_s` or so; adds to `stats`.

    Reruns are counted as the page saw them: each time the app went back to
    "not running" (a clear is one, a stroke another, and whatever else the
    page's components ask for).
    """
    context = await browser.new_context(viewport={"width": 1440, "height": 900})
    page = await context.new_page()
    page.on("pageerror", lambda error: stats["page_errors"].append(f"page {number}: {error}"))
    await page.goto(url, timeout=120_000)
    canvas = page.locator("canvas.upper-canvas").first
    await canvas.wait_for(timeout=120_000)
    box = await canvas.bounding_box()
    await page.evaluate(WATCH)
    # A first stroke sets the session's reading up (as the protocol visitors' first strokes, left out of
    # their window too); the first run's late work (the sidebar's chart, fonts) is not a stroke's either.
    await _draw(page, box, SINGLE_STROKES[number % len(SINGLE_STROKES)])
    await _wait_answer(page, ANSWER_TIMEOUT_S)
    await asyncio.sleep(3)
    await ready.wait()
    await page.evaluate("() => { const m = window.__marks; m.mouseup.length = 0; m.idle.length = 0; }")
    until = time.monotonic() + seconds
    n = 0
    while time.monotonic() < until:
        try:
            await _clear(page)
            await _wait_answer(page, 5)
            stats["reruns"] += await page.evaluate(
                "() => { const m = window.__marks, n = m.idle.length; m.mouseup.length = 0; m.idle.length = 0; "
                "return n; }"
            )
            await _draw(page, box, SINGLE_STROKES[(number + n) % len(SINGLE_STROKES)])
            n += 1
            ms = await _wait_answer(page, ANSWER_TIMEOUT_S)
            if ms is None:
                stats["dropped"] += 1
                continue
            stats["round_trips"].append(ms)
            await asyncio.sleep(gap_s)
        except Exception as error:  # a Playwright timeout: counted, the page goes on
            stats["driver_errors"].append(str(error).splitlines()[0])
    stats["reruns"] += await page.evaluate("() => window.__marks.idle.length")
    await finished.wait()  # the server's CPU is read before any page closes: a session's end is not a stroke's
    await context.close()


def draw_in_pages(url: str, pages: int, seconds: float, cpu) -> dict:
    """`pages` Chromium pages drawing at once for `seconds`; what they saw, and `cpu()` read as they start and end.

    `cpu` (a function) is read once every page is loaded and again when they
    stop drawing: the CPU the server spent on their strokes alone.
    """
    from playwright.async_api import async_playwright

    stats = {"reruns": 0, "dropped": 0, "round_trips": [], "page_errors": [], "driver_errors": []}

    async def main():
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
            ready, finished = asyncio.Barrier(pages + 1), asyncio.Barrier(pages + 1)
            visitors = [
                asyncio.create_task(page_visitor(browser, url, n, seconds, stats, ready, finished))
                for n in range(pages)
            ]
            await ready.wait()
            stats["cpu_start"], stats["started"] = cpu(), time.monotonic()
            await finished.wait()
            stats["cpu_end"], stats["ended"] = cpu(), time.monotonic()
            await asyncio.gather(*visitors)
            await browser.close()

    asyncio.run(main())
    return stats
