"""Retake the README's docs/screenshot.png: the page on a 1366×768 laptop screen, a 4 drawn on the canvas.

    python -m bench.screenshot

Starts the app on a free port, draws with Chromium as the browser test does,
and saves the visible page, no scrolling: what a visitor sees first.
"""

from pathlib import Path

from playwright.sync_api import sync_playwright

from testkit.canvas import SAMPLE_DRAWINGS
from testkit.chromium import canvas_box, draw, launch_chromium, prediction, streamlit_server, wait_idle

OUT = Path(__file__).parent.parent / "docs" / "screenshot.png"


def main() -> None:
    with streamlit_server() as url, sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_page(viewport={"width": 1366, "height": 768})
        page.goto(url)
        draw(page, SAMPLE_DRAWINGS[4], canvas_box(page))
        prediction(page).wait_for(timeout=30_000)
        page.mouse.move(1300, 740)  # off the canvas, so its toolbar hides again
        wait_idle(page)
        page.screenshot(path=OUT)
        browser.close()
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
